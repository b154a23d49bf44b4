import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { findKeys, pairLabels } from '../../src/hsm/keys.js';
import { Token } from '../../src/hsm/token.js';
import { Service } from '../../src/service/daemon.js';
import { StateStore } from '../../src/storage/state.js';
import { logLines, serviceFolder } from './helpers/service.js';
import { dnskeyTags, killedInCall, sh as run } from './helpers/keys.js';
import { HMS, ROOT, requireTool, verifyServiceOutput } from './helpers/run.js';
import type { throwawayToken } from './helpers/softhsm.js';

/**
 * Issue 18 part 2, a kill during `hms key import` (DP-3.1a: the keys survive a stop). The CLI
 * import (applied in-process, no service) runs under gdb, which stops it in SoftHSM's
 * C_CreateObject (a key copied in from BIND's files) or C_SetAttributeValue (a pair taken
 * over from the token is relabelled) and SIGKILLs it once the Nth call has returned, before
 * hms records anything of it. Then the import is run again, or the service starts, on the
 * same state and token: the key is recorded as the import would have recorded it (a KSK with
 * its DS seen at the parent), or put back as it was and imported again; never an orphan, a
 * duplicate or a destroyed key.
 */
const me = userInfo().username;
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
const { log, lines } = logLines();
const operator = { user: 'hms-service(test)', groups: [] };
const admin = { user: me, groups: [] };

const sh = (cmd: string, args: string[]): string => run(cmd, args, tmp);

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [HMS, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HMS_CONFIG: config } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `hms ARGS` under gdb, SIGKILLed once the `hit`th call of SoftHSM's `fn` has returned. Returns gdb's output. */
function killedAfter(fn: 'C_CreateObject' | 'C_SetAttributeValue', hit: number, args: string[]): string {
  const output = killedInCall(fn, args, { config, after: true, hit, qualified: true });
  expect(output.match(new RegExp(`hit Breakpoint 1[.\\d]*, .*${fn}`, 'g')), output).toHaveLength(hit);
  // `finish` is back in pkcs11js's wrapper: SoftHSM's call has returned
  expect(output, output).toMatch(new RegExp(`in Pkcs11::${fn}\\(`));
  expect(output, output).toMatch(/\[Inferior 1 \(process \d+\) killed\]/);
  return output;
}

interface Seen {
  /** id → label of each private key under the zone's hms label in the token */
  inToken: Record<string, string>;
  recorded: { id: string; role: string; keyTag: number; dsSeen: number | null }[];
  pending: { id: string; role: string; dsSeen: number | null | undefined }[];
  auditOk: boolean;
}

/** The zone's pairs in the token and its keys in the state (no service running). */
async function tokenAndState(zone: string): Promise<Seen> {
  const hsm = Token.open({ label: 'hms-icrash', pin: readFileSync(join(tmp, 'pin'), 'utf8') });
  const store = StateStore.open(join(tmp, 'state/hms.db'), { readonly: true });
  try {
    return {
      inToken: Object.fromEntries(findKeys(hsm, Name.parse(zone)).map((k) => [k.id.toString('hex'), k.label])),
      recorded: store.keys(zone).map((k) => ({ id: k.id, role: k.role, keyTag: k.keyTag, dsSeen: k.dsSeen })),
      pending: store.pendingKeys(zone).map((k) => ({ id: k.id, role: k.role, dsSeen: k.dsSeen })),
      auditOk: store.verifyAudit().ok,
    };
  } finally {
    store.close();
    await hsm.close();
  }
}

/** The labels of the pair under `id` (hex) in the token. */
async function labels(id: string): Promise<{ private: string | null; public: string | null }> {
  const hsm = Token.open({ label: 'hms-icrash', pin: readFileSync(join(tmp, 'pin'), 'utf8') });
  try {
    return pairLabels(hsm, id);
  } finally {
    await hsm.close();
  }
}

/** The key tags of the DNSKEYs the service signed `zone` with. */
const signedTags = (zone: string): string[] => dnskeyTags(join(tmp, `state/signed/${zone}.signed`), zone, tmp);

const tagOfFile = (base: string): string => String(Number(/\+(\d+)$/.exec(base)![1]));

beforeAll(() => {
  for (const tool of ['gdb', 'dnssec-keygen', 'dnssec-dsfromkey', 'softhsm2-util', 'openssl']) requireTool(tool);
  ({ tmp, token } = serviceFolder('hms-import-crash-', 'hms-icrash'));
  writeFileSync(join(tmp, 'zones/example.net.zone'), '$TTL 1h\n@ SOA ns1 hostmaster 1 2h 15m 30d 5m\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n');
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    `state: state/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-icrash, pin-file: pin }
service:
  data: state
zones:
  example.com: { input: zones/example.com.zone, policy: dp }
  example.net: { input: zones/example.net.zone, policy: dp }
access:
  administrators: [user:${me}]
`,
  );
});

afterAll(() => {
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('hms key import killed part way: the import completes at start, or runs again, without an orphan or a duplicate', () => {
  let ksk: string;
  let zsk: string;
  let netKsk: string;

  it("issue 18 DP-3.1a BIND files: killed once the KSK's private key is in the token, before its record: the KSK is pending with its DS-seen time", async () => {
    ksk = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '2048', '-f', 'KSK', 'example.com']);
    zsk = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '1024', 'example.com']);
    // the ZSK first (public, private), then the KSK: the 4th C_CreateObject makes the KSK's private key
    killedAfter('C_CreateObject', 4, ['key', 'import', 'example.com', join(tmp, `${zsk}.key`), join(tmp, `${ksk}.key`), '--ds-seen', '--ticket', 'CHG-18']);
    const killed = await tokenAndState('example.com.');
    expect(Object.keys(killed.inToken)).toHaveLength(2);
    expect(killed.recorded).toMatchObject([{ role: 'zsk', keyTag: Number(tagOfFile(zsk)), dsSeen: null }]);
    expect(killed.pending).toHaveLength(1);
    // what start needs to complete it as the import would have: the DS the parent serves counts as seen
    expect(killed.pending[0]?.role).toBe('ksk');
    expect(typeof killed.pending[0]?.dsSeen).toBe('number');
  }, 180_000);

  it('issue 18 DP-3.1a a pair in the token, killed after its private key was relabelled: the import run again puts the labels back and takes it over once', async () => {
    sh('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ods-ksk.pem']);
    sh('softhsm2-util', ['--import', join(tmp, 'ods-ksk.pem'), '--token', 'hms-icrash', '--label', 'ods-ksk', '--id', 'c0ffee01', '--pin', token.pin]);
    const args = ['key', 'import', 'example.net', '--label', 'ods-ksk', '--role', 'ksk', '--ds-seen', '--ticket', 'CHG-18'];
    killedAfter('C_SetAttributeValue', 1, args);
    // the private key under hms's label, the public one still under the old signer's
    expect(await labels('c0ffee01')).toEqual({ private: 'hms:example.net.:ksk:c0ffee01', public: 'ods-ksk' });

    const again = cli([...args, '--json']);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    const imported = (JSON.parse(again.stdout) as { keys: { id: string; keyTag: number }[] }).keys;
    expect(imported.map((k) => k.id)).toEqual(['c0ffee01']);
    netKsk = String(imported[0]!.keyTag);
    expect(await labels('c0ffee01')).toEqual({ private: 'hms:example.net.:ksk:c0ffee01', public: 'hms:example.net.:ksk:c0ffee01' });
    const seen = await tokenAndState('example.net.');
    expect(seen.inToken).toEqual({ c0ffee01: 'hms:example.net.:ksk:c0ffee01' });
    expect(seen.recorded.map((k) => [k.id, k.role, k.keyTag, typeof k.dsSeen])).toEqual([['c0ffee01', 'ksk', imported[0]!.keyTag, 'number']]);
    expect(seen.pending).toEqual([]);
  }, 180_000);

  it("issue 18 DP-3.1a a pair in the token, killed once both halves carry hms's label, before its record: pending, not an orphan", async () => {
    sh('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', 'ods-zsk.pem']);
    sh('softhsm2-util', ['--import', join(tmp, 'ods-zsk.pem'), '--token', 'hms-icrash', '--label', 'ods-zsk', '--id', 'c0ffee02', '--pin', token.pin]);
    killedAfter('C_SetAttributeValue', 2, ['key', 'import', 'example.net', '--label', 'ods-zsk', '--role', 'zsk', '--ticket', 'CHG-18']);
    expect(await labels('c0ffee02')).toEqual({ private: 'hms:example.net.:zsk:c0ffee02', public: 'hms:example.net.:zsk:c0ffee02' });
    const killed = await tokenAndState('example.net.');
    expect(killed.recorded.map((k) => k.id)).toEqual(['c0ffee01']);
    expect(killed.pending).toMatchObject([{ id: 'c0ffee02', role: 'zsk', dsSeen: null }]);
  }, 180_000);

  it('issue 18 DP-3.1a DP-2.5d start completes both imports: no orphan alarm, the KSKs keep their DS seen, the zones sign with the imported DNSKEY sets only', async () => {
    lines.length = 0;
    const service = await Service.start({ configFile: config, log, operator, backoffMs: 3_600_000 });
    try {
      expect(
        lines.filter((l) => l.alarm === true),
        JSON.stringify(lines.filter((l) => l.msg !== 'audit')),
      ).toEqual([]);
      const settled = lines.filter((l) => /recorded as intended when hms stopped/.test(String(l.msg)));
      expect(settled.map((l) => [l.zone, l.role]).sort()).toEqual([
        ['example.com.', 'ksk'],
        ['example.net.', 'zsk'],
      ]);
      expect(settled.map((l) => l.msg)).toEqual(
        Array(2).fill('a key recorded as intended when hms stopped had been made in the HSM: recorded now from the token'),
      );
      const ask = (op: string, params: Record<string, unknown>) => service.authority.submit({ op, params, ticket: null }, admin);
      for (const zone of ['example.com.', 'example.net.']) {
        const listed = (await ask('key.list', { zone })).result as { orphans: unknown[]; pending: unknown[] };
        expect(listed.orphans).toEqual([]);
        expect(listed.pending).toEqual([]);
        // the zone's run done before the stop (a stop abandons a run still signing)
        await service.resign(zone, 'signed before the stop');
      }
    } finally {
      await service.stop();
    }
    // the same DNSKEY sets as before the move: BIND's two keys, the two pairs taken over; no key made
    expect(signedTags('example.com')).toEqual([tagOfFile(ksk), tagOfFile(zsk)].sort());
    const net = await tokenAndState('example.net.');
    expect(signedTags('example.net')).toEqual(net.recorded.map((k) => String(k.keyTag)).sort());
    expect(signedTags('example.net')).toContain(netKsk);
    expect(verifyServiceOutput(join(tmp, 'state'))).toEqual([]);

    const com = await tokenAndState('example.com.');
    for (const s of [com, net]) {
      expect(Object.keys(s.inToken).sort()).toEqual(s.recorded.map((k) => k.id).sort());
      expect(s.pending).toEqual([]);
      expect(s.auditOk).toBe(true);
      // DS seen kept by the settlement: no DS change is asked of the registrar
      expect(typeof s.recorded.find((k) => k.role === 'ksk')!.dsSeen).toBe('number');
    }
    expect(net.recorded.map((k) => [k.id, k.role]).sort()).toEqual([
      ['c0ffee01', 'ksk'],
      ['c0ffee02', 'zsk'],
    ]);

    // run again, the import is refused as held: no duplicate
    const again = cli(['key', 'import', 'example.com', join(tmp, `${ksk}.key`), '--ds-seen', '--ticket', 'CHG-18']);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(new RegExp(`key ${tagOfFile(ksk)} is in the state of zone example\\.com\\. already`));
    expect(Object.keys((await tokenAndState('example.com.')).inToken)).toHaveLength(2);
  }, 240_000);
});

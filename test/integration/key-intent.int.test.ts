import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { destroyObjects, findKeyPair, findKeys } from '../../src/hsm/keys.js';
import { Token } from '../../src/hsm/token.js';
import { Service } from '../../src/service/daemon.js';
import { StateStore } from '../../src/storage/state.js';
import { logLines, serviceFolder } from './helpers/service.js';
import { killedInCall } from './helpers/keys.js';
import { HMS, ROOT, requireTool, verifyServiceOutput } from './helpers/run.js';
import type { throwawayToken } from './helpers/softhsm.js';

/**
 * A kill in the window of making a key: `hms key rollover` (applied in-process, no service)
 * runs under gdb, which stops it in C_GenerateKeyPair and SIGKILLs it, either before the
 * token makes the pair or right after C_GenerateKeyPair returns, before hms records anything
 * of the call. Then the service starts on the same state and token. No key pool (key-pool: 0):
 * with one, the roll takes a pair from the pool (its kill: key-pool.int.test.ts).
 */
const ZONE = 'example.com.';
const me = userInfo().username;
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
const { log, lines } = logLines();
const operator = { user: 'hms-service(test)', groups: [] };
const admin = { user: me, groups: [] };

beforeAll(async () => {
  requireTool('gdb');
  ({ tmp, token } = serviceFolder('hms-key-intent-', 'hms-intent'));
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    `state: state/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-intent, pin-file: pin, key-pool: 0 }
service:
  data: state
zones:
  example.com: { input: zones/example.com.zone, policy: dp }
access:
  administrators: [user:${me}]
`,
  );
  // the zone's first keys and version
  const first = await Service.start({ configFile: config, log, operator });
  // its run done before the stop (a stop abandons a run still signing)
  await first.resign(ZONE, 'the first version, before the stop');
  await first.stop();
});

afterAll(() => {
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

/**
 * `hms key rollover example.com --ksk` (or `--zsk`) under gdb, SIGKILLed at C_GenerateKeyPair: `before` at
 * the first call into it (pkcs11js's or SoftHSM's), nothing made; `after` once that call has
 * returned (the pair is in the token), before any JavaScript runs again. Returns gdb's output.
 */
function killedRollover(when: 'before' | 'after', role: 'ksk' | 'zsk' = 'ksk'): string {
  const output = killedInCall('C_GenerateKeyPair', ['key', 'rollover', 'example.com', `--${role}`, '--ticket', 'CHG-9'], { config, after: when === 'after' });
  expect(output, output).toMatch(/hit Breakpoint 1[.\d]*, .*C_GenerateKeyPair/);
  expect(output, output).toMatch(/\[Inferior 1 \(process \d+\) killed\]/);
  return output;
}

/** The ids of the zone's key pairs in the token, and of its keys in the state (no service running). */
async function tokenAndState(): Promise<{ inToken: string[]; recorded: string[]; pending: string[]; auditOk: boolean }> {
  const hsm = Token.open({ label: 'hms-intent', pin: readFileSync(join(tmp, 'pin'), 'utf8') });
  const store = StateStore.open(join(tmp, 'state/hms.db'), { readonly: true });
  try {
    return {
      inToken: findKeys(hsm, Name.parse(ZONE))
        .map((k) => k.id.toString('hex'))
        .sort(),
      recorded: store
        .keys(ZONE)
        .map((k) => k.id)
        .sort(),
      pending: store.pendingKeys(ZONE).map((k) => k.id),
      auditOk: store.verifyAudit().ok,
    };
  } finally {
    store.close();
    await hsm.close();
  }
}

/** `hms key list example.com` through the CLI (no service running): its lines. */
function keyList(): string[] {
  const r = spawnSync(process.execPath, [HMS, 'key', 'list', 'example.com'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, HMS_CONFIG: config },
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split('\n');
}

/** Starts the service on the killed run's state: no orphan alarm, the keys listed as the state has them, a version signed and valid. */
async function restart(): Promise<{
  settled: Record<string, unknown>[];
  keys: { id: string; keyTag: number; role: string }[];
  signed: string;
  audit: { action: string; comment: string | null }[];
}> {
  lines.length = 0;
  const service = await Service.start({ configFile: config, log, operator, backoffMs: 3_600_000 });
  try {
    expect(
      lines.filter((l) => l.alarm === true),
      JSON.stringify(lines.filter((l) => l.msg !== 'audit')),
    ).toEqual([]);
    const settled = lines.filter((l) => /recorded as intended when hms stopped/.test(String(l.msg)));
    const ask = (op: string, params: Record<string, unknown>) => service.authority.submit({ op, params, ticket: null }, admin);
    const listed = (await ask('key.list', { zone: ZONE })).result as {
      keys: { id: string; keyTag: number; role: string }[];
      orphans: unknown[];
      pending: unknown[];
    };
    expect(listed.orphans).toEqual([]);
    expect(listed.pending).toEqual([]);
    await service.resign(ZONE, 'test');
    const audit = ((await ask('audit.log', { zone: ZONE })).result as { records: { action: string; comment: string | null }[] }).records;
    return { settled, keys: listed.keys, signed: readFileSync(join(tmp, 'state/signed/example.com.signed'), 'utf8').replace(/\s+/g, ''), audit };
  } finally {
    await service.stop();
  }
}

describe('keys are recorded as intended before they are made (a kill in between leaves no orphan)', () => {
  it('DP-4.1 OPS-7 killed before the token made the pair: the pending key is dropped at start, nothing made in its place unasked, token and state agree', async () => {
    const before = await tokenAndState();
    killedRollover('before');
    const killed = await tokenAndState();
    expect(killed.inToken).toEqual(before.inToken);
    expect(killed.pending).toHaveLength(1);
    const intended = killed.pending[0]!;
    expect(keyList().filter((l) => /PENDING|ORPHAN/.test(l))).toEqual([
      expect.stringMatching(
        new RegExp(`^KSK\\t-\\tPENDING\\trecorded as intended, not as made \\(hms stopped in between; not in the token\\): .*\\tid ${intended}\\t`),
      ),
    ]);

    const { settled, keys, audit } = await restart();
    expect(settled).toMatchObject([
      {
        level: 40,
        zone: ZONE,
        role: 'ksk',
        id: intended,
        keyTag: null,
        removed: 0,
        msg: 'a key recorded as intended when hms stopped had not been made whole in the HSM: dropped',
      },
    ]);
    expect(keys.map((k) => k.id).sort()).toEqual(before.recorded);
    expect(verifyServiceOutput(join(tmp, 'state'))).toEqual([]);
    const mine = audit.filter((r) => JSON.stringify(r).includes(intended));
    expect(mine.map((r) => [r.action, r.comment])).toEqual([
      ['key.pending', expect.stringMatching(/^KSK roll: \d+ is replaced \(double-KSK\)$/)],
      ['key.pending.drop', 'not in the token: hms stopped before the key was made'],
    ]);

    const after = await tokenAndState();
    expect(after.inToken).toEqual(before.inToken);
    expect(after.recorded).toEqual(before.recorded);
    expect(after.pending).toEqual([]);
    expect(after.auditOk).toBe(true);
  }, 180_000);

  it('DP-4.1 OPS-7 killed right after C_GenerateKeyPair returned: the pending key is completed from the token at start, no orphan alarm, token and state agree, the zone signs with it', async () => {
    const before = await tokenAndState();
    killedRollover('after');
    const killed = await tokenAndState();
    // the token holds one pair more than the state records as made: the state knows it as pending
    expect(killed.inToken).toHaveLength(before.inToken.length + 1);
    const made = killed.inToken.find((id) => !before.inToken.includes(id))!;
    expect(killed.recorded).toEqual(before.recorded);
    expect(killed.pending).toEqual([made]);
    expect(keyList().filter((l) => /PENDING|ORPHAN/.test(l))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^KSK\\t\\d+\\tPENDING\\trecorded as intended, not as made \\(hms stopped in between; in the token\\): .*\\tid ${made}\\tlabel hms:example.com.:ksk:${made}$`,
        ),
      ),
    ]);

    const { settled, keys, signed, audit } = await restart();
    expect(settled).toMatchObject([
      {
        level: 40,
        zone: ZONE,
        role: 'ksk',
        id: made,
        msg: 'a key recorded as intended when hms stopped had been made in the HSM: recorded now from the token',
      },
    ]);
    const key = keys.find((k) => k.id === made);
    expect(key).toMatchObject({ role: 'ksk', keyTag: settled[0]!.keyTag });
    // the double-KSK roll goes on: the new KSK is in the signed version, which passes the three validators
    const hsm = Token.open({ label: 'hms-intent', pin: readFileSync(join(tmp, 'pin'), 'utf8') });
    try {
      const pair = findKeys(hsm, Name.parse(ZONE)).find((k) => k.id.toString('hex') === made)!;
      expect(signed).toContain(Buffer.from(pair.dnskey.subarray(4)).toString('base64'));
    } finally {
      await hsm.close();
    }
    expect(verifyServiceOutput(join(tmp, 'state'))).toEqual([]);
    // audited: intended (by the killed run), then recorded at start; then re-timed once the version carrying it is
    // seen served, which may come after restart() returns on a busy machine
    const mine = audit.filter((r) => r.action.startsWith('key.') && JSON.stringify(r).includes(made));
    expect(mine.map((r) => r.action).slice(0, 2)).toEqual(['key.pending', 'key.put']);
    expect(mine.slice(2).map((r) => r.action)).toEqual(mine.length > 2 ? ['key.put'] : []);
    expect(mine[1]!.comment).toMatch(/made in the HSM before a stop, recorded afterwards from the token$/);

    const after = await tokenAndState();
    expect(after.inToken).toEqual(after.recorded);
    expect(after.recorded).toContain(made);
    expect(after.pending).toEqual([]);
    expect(after.auditOk).toBe(true);
    const listed = keyList();
    expect(listed.filter((l) => /PENDING|ORPHAN/.test(l))).toEqual([]);
    expect(listed).toHaveLength(after.recorded.length);
  }, 180_000);

  it('DP-4.1 OPS-7 half a pair in the token (a stop inside C_GenerateKeyPair: SoftHSM stores the public half first) is removed at start and the pending key dropped', async () => {
    const before = await tokenAndState();
    killedRollover('after', 'zsk');
    const killed = await tokenAndState();
    const intended = killed.pending[0]!;
    // what a stop between SoftHSM's two object writes leaves: the public half alone
    const hsm = Token.open({ label: 'hms-intent', pin: readFileSync(join(tmp, 'pin'), 'utf8') });
    try {
      const { key } = findKeyPair(hsm, intended);
      destroyObjects(hsm, [key!.privateKey]);
      expect(findKeyPair(hsm, intended)).toMatchObject({ key: undefined, objects: [expect.anything()] });
    } finally {
      await hsm.close();
    }

    const { settled, keys } = await restart();
    expect(settled).toMatchObject([
      { zone: ZONE, id: intended, keyTag: null, removed: 1, msg: 'a key recorded as intended when hms stopped had not been made whole in the HSM: dropped' },
    ]);
    expect(keys.map((k) => k.id).sort()).toEqual(before.recorded);
    const left = Token.open({ label: 'hms-intent', pin: readFileSync(join(tmp, 'pin'), 'utf8') });
    try {
      expect(findKeyPair(left, intended).objects).toEqual([]);
    } finally {
      await left.close();
    }
    const after = await tokenAndState();
    expect(after.inToken).toEqual(after.recorded);
    expect(after.recorded).toEqual(before.recorded);
    expect(after.pending).toEqual([]);
  }, 180_000);

  it('DP-4.1 a key change asked again after the kill settles the pending key first: the roll it made is under way, none is started twice', async () => {
    killedRollover('after', 'zsk');
    const made = (await tokenAndState()).pending[0]!;
    const again = spawnSync(process.execPath, [HMS, 'key', 'rollover', 'example.com', '--zsk', '--ticket', 'CHG-10'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, HMS_CONFIG: config },
    });
    expect(again.stderr).toMatch(/a ZSK roll is under way already \(\d+ follows \d+\)/);
    expect(again.status).not.toBe(0);
    const after = await tokenAndState();
    expect(after.pending).toEqual([]);
    expect(after.recorded).toContain(made);
    expect(after.inToken).toEqual(after.recorded);
    expect(keyList().filter((l) => /PENDING|ORPHAN/.test(l))).toEqual([]);
  }, 180_000);
});

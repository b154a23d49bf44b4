import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { deleteKey, findKeys } from '../../src/hsm/keys.js';
import { Token } from '../../src/hsm/token.js';
import { Service } from '../../src/service/daemon.js';
import { loadZoneFile } from '../../src/service/load-zone.js';
import { printZone } from '../../src/zone/print.js';
import { logLines, serviceFolder } from './helpers/service.js';
import { throwawayToken, unrecordedKey } from './helpers/softhsm.js';
import { ROOT, verifyServiceOutput, verifySignedZone } from './helpers/run.js';

/**
 * The service in-process with its clock injected: signatures that run short while signing
 * fails do not go unnoticed (OPS-7).
 */
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
const { log, lines } = logLines();
const operator = { user: 'hms-service(test)', groups: [] };

/** A configuration of the service with its state and data in `folder`, serving `zones` (YAML lines under zones:). */
function writeServiceConfig(file: string, folder: string, zones: string, extra = ''): void {
  writeFileSync(
    file,
    `state: ${folder}/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-clock, pin-file: pin }
service:
  data: ${folder}
  alarm-validity: 7d
zones:
${zones}${extra}`,
  );
}

/** A small zone: SOA, two NS (one in the zone, with its address), a www address. */
function smallZone(origin: string, mailbox: string): string {
  return `$TTL 3600
@ SOA ns1.${origin} ${mailbox} 1 7200 900 2592000 300
@ NS ns1
@ NS ns2.example.net.
ns1 A 192.0.2.53
www A 192.0.2.54
`;
}

beforeAll(() => {
  ({ tmp, token } = serviceFolder('hms-service-clock-', 'hms-clock'));
  config = join(tmp, 'hms.yaml');
  writeServiceConfig(config, 'state', '  example.com: { input: zones/example.com.zone, policy: dp }\n');
});

// every signed version the service leaves behind passes dnssec-verify, ldns-verify-zone and kzonecheck
afterEach(() => {
  expect([...verifyServiceOutput(join(tmp, 'state')), ...verifyServiceOutput(join(tmp, 'both'))]).toEqual([]);
});

afterAll(() => {
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('the service with its clock injected', () => {
  it('OPS-7 DP-4.4b when re-signing fails for days, an alarm says the served signatures expire soon', async () => {
    const start = Math.floor(Date.now() / 1000);
    let now = start;
    const first = await Service.start({ configFile: config, log, operator, now: () => now });
    const signed = await first.resign('example.com.', 'test');
    expect(signed.serial).toBeGreaterThan(2026112201);
    expect(signed.expires).toBe(start - 3600 + 32 * 86400);
    await first.stop();

    // 27 days later the HSM PIN file has been opened to others: signing is refused
    chmodSync(join(tmp, 'pin'), 0o644);
    now = start + 27 * 86400;
    lines.length = 0;
    const second = await Service.start({ configFile: config, log, operator, now: () => now, backoffMs: 3_600_000 });
    try {
      await expect(second.resign('example.com.', 'test')).rejects.toThrow(/PIN file .* is readable by others/);
      const status = second.status()[0]!;
      expect(status.serial).toBe(signed.serial);
      expect(status.failures).toBeGreaterThan(0);
      const alarms = lines.filter((l) => l.alarm === true);
      expect(alarms.map((l) => l.msg)).toContain('ALARM: the HSM failed; the last good signed version stays served');
      expect(alarms.find((l) => l.msg === 'ALARM: the served signatures expire soon')).toMatchObject({
        zone: 'example.com.',
        serial: signed.serial,
        hoursLeft: 5 * 24 - 1,
      });
      expect(JSON.stringify(lines)).not.toContain(token.pin);
      // issue 19: each reaches the alarm sinks (the log, by default) once, and clears after a good re-sign
      const raised = lines.filter((l) => String(l.msg).startsWith('ALARM raised: '));
      expect(raised.map((l) => [l.alarmKey, l.severity])).toEqual([
        ['signatures.expiring/example.com.', 'warning'],
        ['hsm.failed/example.com.', 'critical'],
      ]);
      expect(raised[0]!.msg).toMatch(/^ALARM raised: zone example\.com\.: the served signatures \(serial \d+\) expire at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      chmodSync(join(tmp, 'pin'), 0o600);
      // signed at the real time again: the validators of afterEach check the output against it
      now = Math.floor(Date.now() / 1000);
      await second.resign('example.com.', 'the PIN file mended');
      expect(lines.filter((l) => String(l.msg).startsWith('ALARM cleared: ')).map((l) => l.alarmKey)).toEqual([
        'signatures.expiring/example.com.',
        'hsm.failed/example.com.',
      ]);
      expect(second.alarms.active()).toEqual([]);
    } finally {
      await second.stop();
      chmodSync(join(tmp, 'pin'), 0o600);
    }
  });

  it("DP-4.6a a child zone served here gets its DS into the parent: the parent is signed again when the child's keys change", async () => {
    writeFileSync(join(tmp, 'zones/skole.example.com.zone'), smallZone('skole.example.com.', 'hostmaster.example.com.'));
    // a state of its own: the first test's keys were made at today's time, this one starts a day back
    const both = join(tmp, 'both.yaml');
    writeFileSync(
      both,
      readFileSync(config, 'utf8').replaceAll('state/', 'both/').replace('data: state', 'data: both') +
        '  skole.example.com: { input: zones/skole.example.com.zone, policy: dp }\n',
    );
    lines.length = 0;
    // a day back, so that the versions made a day later are valid by the validators' clock
    let now = Math.floor(Date.now() / 1000) - 86400;
    const service = await Service.start({ configFile: both, log, operator, now: () => now });
    try {
      await service.resign('skole.example.com.', 'test');
      // the child's new keys ask for the parent to be signed again; its KSK is not known everywhere yet, so no DS yet
      for (
        let i = 0;
        i < 100 &&
        !lines.some(
          (l) =>
            l.msg === 'zone signed and published' &&
            l.zone === 'example.com.' &&
            String(l.reasons).includes('the keys of the child zone skole.example.com. changed'),
        );
        i++
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(
        lines.some((l) => l.msg === 'zone signed and published' && l.zone === 'example.com.' && String(l.reasons).includes('skole.example.com.')),
        JSON.stringify(lines.filter((l) => l.msg !== 'audit').map((l) => [l.zone, l.msg, l.reasons, l.reason])),
      ).toBe(true);
      now += 86400;
      await service.resign('example.com.', 'test');
      const child = readFileSync(join(tmp, 'both/signed/skole.example.com.signed'), 'utf8');
      const ksk = /^skole\.example\.com\.\s+\d+\s+IN\s+DNSKEY\s+257 3 8 /m.test(child);
      expect(ksk).toBe(true);
      const parent = join(tmp, 'both/signed/example.com.signed');
      const ds = readFileSync(parent, 'utf8')
        .split('\n')
        .filter((l) => /^skole\.example\.com\.\s+\d+\s+IN\s+DS\s/.test(l));
      expect(ds.length).toBeGreaterThan(0);
      expect(ds.join('\n')).not.toMatch(/\sDS\s+12345 /);
      // served as it was written (the input read once, the child's DS edited in, the signed
      // version kept compactly while signing): record for record what the file holds (the
      // records of an RRset as the signer handed them out, the file read back in canonical order)
      const served = service.served('example.com.');
      expect(served).toBeDefined();
      expect([...printZone(served!)].sort()).toEqual([...printZone(loadZoneFile(parent, Name.parse('example.com.')))].sort());
      expect(verifySignedZone('example.com', parent).trim().split('\n')).toEqual(['PASS dnssec-verify', 'PASS ldns-verify-zone', 'PASS kzonecheck']);
      expect(verifySignedZone('skole.example.com', join(tmp, 'both/signed/skole.example.com.signed')).trim().split('\n')).toEqual([
        'PASS dnssec-verify',
        'PASS ldns-verify-zone',
        'PASS kzonecheck',
      ]);
    } finally {
      await service.stop();
    }
  });

  it('one writer: a second service on the same state is refused, naming the holder; the lock goes with the first', async () => {
    const first = await Service.start({ configFile: config, log, operator });
    try {
      await expect(Service.start({ configFile: config, log, operator, lockWaitMs: 500 })).rejects.toThrow(
        new RegExp(`another hms holds the state \\(${process.pid} hms run\\); one service per state file`),
      );
    } finally {
      await first.stop();
    }
    const again = await Service.start({ configFile: config, log, operator, lockWaitMs: 500 });
    await again.stop();
  });

  it('OPS-7 the temporary files that killed runs left are removed at start, and nothing else', async () => {
    // a pid of no process: one that has ended
    const dead = spawnSync('true').pid;
    expect(() => process.kill(dead, 0)).toThrow();
    const withOutput = join(tmp, 'output.yaml');
    writeFileSync(withOutput, readFileSync(config, 'utf8').replace('policy: dp }', 'policy: dp, output: out/example.com.zone }'));
    const big = Buffer.alloc(1 << 20, 0x41);
    const leftovers = [
      `state/signed/example.com.signed.hms-tmp-${dead}`,
      `state/journal/example.com.journal.hms-tmp-${dead}`,
      `state/upstream/example.net.zone.hms-tmp-${dead}`,
      // as hms named them before, in its own folders
      `state/signed/example.com.signed.tmp-${dead}`,
      `out/example.com.zone.hms-tmp-${dead}`,
      `zones/example.com.zone.hms-tmp-${dead}`,
    ];
    const others = [
      'state/signed/notes.txt',
      'state/signed/example.com.signed.tmp-x1',
      'state/journal/tmp-AbC123',
      // the pattern, but beside no file hms writes
      `out/other.zone.hms-tmp-${dead}`,
      // the earlier name outside hms's folders
      `out/example.com.zone.tmp-${dead}`,
      'out/example.com.zone.bak',
    ];
    for (const f of [...leftovers, ...others]) {
      mkdirSync(dirname(join(tmp, f)), { recursive: true });
      writeFileSync(join(tmp, f), big);
    }
    lines.length = 0;
    const service = await Service.start({ configFile: withOutput, log, operator });
    try {
      expect(leftovers.filter((f) => existsSync(join(tmp, f)))).toEqual([]);
      expect(others.filter((f) => !existsSync(join(tmp, f)) || readFileSync(join(tmp, f)).length !== big.length)).toEqual([]);
      expect(lines.find((l) => l.msg === 'removed the temporary files of earlier runs')).toMatchObject({
        files: leftovers.length,
        bytes: leftovers.length * big.length,
      });
    } finally {
      await service.stop();
      for (const f of others) rmSync(join(tmp, f));
    }
  });

  it('OPS-7 a token that cannot be read is an HSM alarm saying so, not keys missing: no rollover advice, the last version stays served', async () => {
    const service = await Service.start({ configFile: config, log, operator, backoffMs: 3_600_000 });
    const tokens = join(token.dir, 'tokens');
    try {
      const signed = await service.resign('example.com.', 'test');
      // the token's store gone from under the open token: SoftHSM then lists no objects, without an error
      renameSync(tokens, `${tokens}.away`);
      mkdirSync(tokens);
      lines.length = 0;
      const failed = await service.resign('example.com.', 'test').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failed).toBeInstanceOf(Error);
      const message = (failed as Error).message;
      expect(message).toMatch(/^C_GetTokenInfo \(token hms-clock\): CKR_\w+ \(the token is unreachable: its keys cannot be listed\)$/);
      expect(message).not.toMatch(/missing|emergency|rollover/);
      const alarms = lines.filter((l) => l.alarm === true);
      expect(alarms.map((l) => l.msg)).toContain('ALARM: the HSM failed; the last good signed version stays served');
      expect(
        alarms.every((l) => !/missing|emergency|rollover/.test(String(l.reason))),
        JSON.stringify(alarms),
      ).toBe(true);
      expect(service.status()[0]).toMatchObject({ serial: signed.serial });
      // the token back: signing goes on with the same keys
      rmSync(tokens, { recursive: true });
      renameSync(`${tokens}.away`, tokens);
      const again = await service.resign('example.com.', 'test');
      expect(again.serial).toBeGreaterThan(signed.serial!);
    } finally {
      await service.stop();
      if (existsSync(`${tokens}.away`)) {
        rmSync(tokens, { recursive: true, force: true });
        renameSync(`${tokens}.away`, tokens);
      }
    }
  });

  it('DP-4.1 a key missing from the HSM at start is an alarm, and no key is made in its place', async () => {
    const first = await Service.start({ configFile: config, log, operator });
    const signed = await first.resign('example.com.', 'test');
    await first.stop();
    const token = Token.open({ label: 'hms-clock', pin: readFileSync(join(tmp, 'pin'), 'utf8') });
    try {
      const keys = findKeys(token, Name.parse('example.com.'));
      const zsk = keys.filter((k) => k.role === 'zsk');
      expect(zsk.length).toBeGreaterThan(0);
      for (const k of zsk) deleteKey(token, k);
      lines.length = 0;
      const second = await Service.start({ configFile: config, log, operator, backoffMs: 3_600_000 });
      try {
        await expect(second.resign('example.com.', 'test')).rejects.toThrow(
          /ALARM: zone example\.com\.: key\(s\) ZSK \d+ .* recorded but missing from token hms-clock; no key is made in their place/,
        );
        expect(lines.some((l) => l.alarm === true && /missing from token/.test(String(l.reason)))).toBe(true);
        expect(second.status()[0]).toMatchObject({ serial: signed.serial });
        expect(findKeys(token, Name.parse('example.com.')).filter((k) => k.role === 'zsk')).toEqual([]);
      } finally {
        await second.stop();
      }
    } finally {
      await token.close();
    }
  });

  it('DP-4.1 OPS-7 a key made in the HSM but never recorded (killed between generateKey and putKey) is alarmed at start, listed as an orphan, never signs, and hms key purge removes it', async () => {
    // a state and a zone of their own (the token is shared: the other tests' example.com. keys would be orphans here), and an administrator
    writeFileSync(join(tmp, 'zones/orphan.example.zone'), smallZone('orphan.example.', 'hostmaster.orphan.example.'));
    const own = join(tmp, 'orphans.yaml');
    writeServiceConfig(own, 'orphans', '  orphan.example: { input: zones/orphan.example.zone, policy: dp }\n', 'access:\n  administrators: [user:admin]\n');
    const admin = { user: 'admin', groups: [] };
    const first = await Service.start({ configFile: own, log, operator });
    await first.resign('orphan.example.', 'test');
    await first.stop();
    // what a kill between Keeper.apply's generateKey and putKey leaves: a KSK in the token under the zone's label, no record
    const orphan = await unrecordedKey('hms-clock', readFileSync(join(tmp, 'pin'), 'utf8'), 'orphan.example.', 'ksk');
    const id = orphan.id.toString('hex');
    const publicKey = (k: { dnskey: Uint8Array }): string => Buffer.from(k.dnskey.subarray(4)).toString('base64');
    let signedFlat = '';
    lines.length = 0;
    const service = await Service.start({ configFile: own, log, operator, backoffMs: 3_600_000 });
    try {
      const alarm = lines.find((l) => l.alarm === true && l.zone === 'orphan.example.' && /orphans/.test(String(l.msg)));
      expect(alarm, JSON.stringify(lines.filter((l) => l.msg !== 'audit'))).toMatchObject({
        msg: 'ALARM: the token holds keys the state does not record (orphans); they are not used for signing',
        orphans: [{ keyTag: orphan.keyTag, role: 'ksk', id, label: `hms:orphan.example.:ksk:${id}` }],
      });
      expect(String(alarm!.reason)).toContain(`KSK ${orphan.keyTag} in the token, not in the state`);
      // the service went on: it serves and signs, with the recorded keys only
      const signed = await service.resign('orphan.example.', 'test');
      expect(signed.serial).toBeGreaterThan(0);
      signedFlat = readFileSync(join(tmp, 'orphans/signed/orphan.example.signed'), 'utf8').replace(/\s+/g, '');
      expect(signedFlat).not.toContain(publicKey(orphan));
      expect(verifyServiceOutput(join(tmp, 'orphans'))).toEqual([]);

      const ask = (op: string, params: Record<string, unknown>, ticket: string | null = null) => service.authority.submit({ op, params, ticket }, admin);
      const listed = (await ask('key.list', { zone: 'orphan.example.' })).result as {
        keys: { keyTag: number; id: string }[];
        orphans: Record<string, unknown>[];
      };
      expect(listed.orphans).toEqual([{ role: 'ksk', keyTag: orphan.keyTag, algorithm: 8, state: 'ORPHAN', id, label: `hms:orphan.example.:ksk:${id}` }]);
      expect(listed.keys.map((k) => k.id)).not.toContain(id);
      const recorded = listed.keys[0]!.keyTag;

      // purge: a ticket needed; without yes nothing goes; a recorded key is refused
      await expect(ask('key.purge', { zone: 'orphan.example.', keyTag: orphan.keyTag, yes: true })).rejects.toThrow(
        /--ticket: removing a key from the HSM needs a ticket/,
      );
      const dry = await ask('key.purge', { zone: 'orphan.example.', keyTag: orphan.keyTag, yes: false }, 'CHG-17');
      expect(dry.result).toMatchObject({ purged: false, key: { keyTag: orphan.keyTag, id } });
      if (recorded !== orphan.keyTag) {
        await expect(ask('key.purge', { zone: 'orphan.example.', keyTag: recorded, yes: true }, 'CHG-17')).rejects.toThrow(
          new RegExp(`key ${recorded} is recorded in the state .*: it is no orphan, and hms key purge removes orphans only`),
        );
      }
      const orphansListed = async (): Promise<unknown[]> => ((await ask('key.list', { zone: 'orphan.example.' })).result as { orphans: unknown[] }).orphans;
      expect(await orphansListed()).toHaveLength(1);
      expect(service.alarms.active().map((a) => a.key)).toContain('hsm.orphans/orphan.example.');
      const purged = await ask('key.purge', { zone: 'orphan.example.', keyTag: orphan.keyTag, yes: true }, 'CHG-17');
      expect(purged.result).toMatchObject({ purged: true, key: { keyTag: orphan.keyTag, id } });
      expect(await orphansListed()).toEqual([]);
      // the orphan alarm raised at start is cleared at once, not at the next start (OPS-3)
      expect(service.alarms.active().filter((a) => a.key === 'hsm.orphans/orphan.example.')).toEqual([]);
      expect(lines.some((l) => l.zone === 'orphan.example.' && /^ALARM cleared: zone orphan\.example\.: the token holds keys/.test(String(l.msg)))).toBe(true);
      const audit = (await ask('audit.log', { zone: 'orphan.example.' })).result as { records: { action: string }[] };
      expect(audit.records.filter((r) => r.action === 'key.purge')).toMatchObject([
        { actor: 'admin', ticket: 'CHG-17', before: { keyTag: orphan.keyTag, role: 'ksk', id, label: `hms:orphan.example.:ksk:${id}` }, after: null },
      ]);
    } finally {
      await service.stop();
    }
    // gone from the token; the recorded keys stay
    const after = Token.open({ label: 'hms-clock', pin: readFileSync(join(tmp, 'pin'), 'utf8') });
    try {
      const left = findKeys(after, Name.parse('orphan.example.'));
      expect(left.map((k) => k.id.toString('hex'))).not.toContain(id);
      expect(left.length).toBeGreaterThan(0);
      // the recorded keys are the ones the zone was signed with while the orphan was there
      for (const k of left) expect(signedFlat).toContain(publicKey(k));
    } finally {
      await after.close();
    }
  });
});

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HMS, ROOT, verifySignedZone } from './helpers/run.js';
import { tokenWithFastPolicies, unrecordedKey } from './helpers/softhsm.js';

/**
 * The key lifecycle through the CLI, as operators use it: a zone added, a KSK roll started by
 * one person, its DS steps confirmed by that person and approved by another, all in the audit
 * trail. The policy is the DP policy with the waiting times shrunk to seconds, so that the
 * roll runs in the test's time. Two persons are played through sudo's SUDO_USER, which hms
 * believes only when it runs as root (as CI does).
 */
const me = userInfo().username;
const root = process.getuid?.() === 0;
let hsm: ReturnType<typeof tokenWithFastPolicies>;
let config: string;

function cli(args: string[], as?: string): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF!, HMS_CONFIG: config, SUDO_USER: as ?? '' };
  const r = spawnSync(process.execPath, [HMS, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  hsm = tokenWithFastPolicies('hms-keys');
  config = join(hsm.dir, 'hms.yaml');
  writeFileSync(
    config,
    `state: state/state.db
policies: [fast.yaml, ${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-keys, pin-file: pin }
access:
  administrators: [user:${me}]
  operators: [user:alice]
  approvers: [user:alice, user:bob]
  auditors: [user:audrey]
`,
  );
});
afterAll(() => hsm?.dispose());

describe('the key lifecycle through the CLI', () => {
  it('DP-4.3b DP-4.7d OPS-2 a KSK roll waits for the DS, approved by a second person, and all of it is audited', { timeout: 120_000 }, async () => {
    const input = join(ROOT, 'examples/zones/example.com.zone');
    const added = cli(['zone', 'add', 'example.com', '--input', input, '--policy', 'fast', '--ticket', 'CHG-1', '--json']);
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    const zone = JSON.parse(added.stdout) as { keys: { role: string; keyTag: number }[]; waiting: { kind: string }[] };
    expect(zone.keys.map((k) => k.role).sort()).toEqual(['ksk', 'zsk']);
    expect(zone.waiting.map((g) => g.kind)).toEqual(['ds-seen']);
    const first = zone.keys.find((k) => k.role === 'ksk')!.keyTag;

    // the timeline of a fresh zone: the ZSK rolls 90 days out, the KSK never by itself
    const timeline = cli(['key', 'timeline', 'example.com', '--until', new Date(Date.now() + 100 * 86400_000).toISOString(), '--json']);
    expect(timeline.status, timeline.stderr).toBe(0);
    const events = (JSON.parse(timeline.stdout) as { events: { at: string; what: string }[] }).events;
    const zskRoll = events.find((e) => e.what.startsWith('new ZSK published'))!;
    expect(Math.round((Date.parse(zskRoll.at) - Date.now()) / 86400_000)).toBe(90);
    expect(events.at(-1)!.what).toMatch(/^KSK: no automatic roll/);

    // the zone signed as its policy says: SOA EXPIRE and DNSKEY TTL forced, CDS for the KSK, all three validators agree
    const signedFile = join(hsm.dir, 'example.com.signed');
    const signed = cli(['zone', 'sign', 'example.com', '--out', signedFile, '--json']);
    expect(signed.status, signed.stderr).toBe(0);
    expect(verifySignedZone('example.com', signedFile)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    const text = readFileSync(signedFile, 'latin1');
    expect(text).toMatch(/^example\.com\.\t\d+\tIN\tSOA\t\S+ \S+ \d+ \d+ \d+ 2592000 300$/m);
    expect(text).toMatch(new RegExp(`^example\\.com\\.\\t1\\tIN\\tCDS\\t${first} 8 2 `, 'm'));
    expect(text).toMatch(/^example\.com\.\t1\tIN\tDNSKEY\t257 /m);

    if (!root) return; // playing two persons needs root (SUDO_USER); CI runs as root

    // the first DS: submitted to the parent, seen there, approved by a second person
    await new Promise((r) => setTimeout(r, 1500));
    const firstSeen = cli(['ds', 'seen', 'example.com', '--keytag', String(first), '--ticket', 'CHG-1', '--json'], 'alice');
    expect(firstSeen.status, firstSeen.stderr).toBe(0);
    expect(cli(['approve', (JSON.parse(firstSeen.stdout) as { request: string }).request], 'bob').status).toBe(0);
    // OPS-3 the parent holds that DS now: no update re-adds it, and the export says there is nothing to submit
    const held = cli(['ds', 'export', 'example.com', '--format', 'epp'], 'alice');
    expect(held.status, held.stderr).toBe(0);
    expect(held.stdout).toBe('');
    expect(held.stderr).toBe(`example.com.: nothing to submit now: the parent holds DS ${first} as the state knows it, and no change is due\n`);

    // an auditor may read but not roll
    expect(cli(['key', 'rollover', 'example.com', '--ksk'], 'audrey').status).toBe(4);
    const rolled = cli(['key', 'rollover', 'example.com', '--ksk', '--ticket', 'CHG-2'], 'alice');
    expect(rolled.status, rolled.stderr).toBe(0);
    expect(rolled.stdout).toMatch(/next: from .*: export the new DS .*hms ds seen/);
    const second = Number(/new key (\d+)/.exec(rolled.stdout)![1]);

    // the new DS may be confirmed only once its DNSKEY is known everywhere (Ipub: 1 s here)
    await new Promise((r) => setTimeout(r, 1500));
    const epp = cli(['ds', 'export', 'example.com', '--format', 'epp'], 'alice');
    expect(epp.stdout).toMatch(new RegExp(`<secDNS:rem>[\\s\\S]*<secDNS:keyTag>${first}<[\\s\\S]*<secDNS:add>[\\s\\S]*<secDNS:keyTag>${second}<`));
    const seen = cli(['ds', 'seen', 'example.com', '--keytag', String(second), '--ticket', 'CHG-2', '--json'], 'alice');
    expect(seen.status, seen.stderr).toBe(0);
    const seenId = (JSON.parse(seen.stdout) as { request: string }).request;
    // the same person cannot approve their own request
    const own = cli(['approve', seenId], 'alice');
    expect(own.status).toBe(4);
    expect(own.stderr).toMatch(/alice made this request and cannot approve it; a second person must \(DP-4.7d\)/);
    expect(cli(['approve', seenId, '--ticket', 'CHG-2'], 'bob').status).toBe(0);
    // the old key stays until its DS is withdrawn too
    let keys = JSON.parse(cli(['key', 'list', 'example.com', '--json'], 'alice').stdout) as { keys: { keyTag: number; remove: string }[] };
    expect(keys.keys.find((k) => k.keyTag === first)!.remove).toBe('-');
    const withdraw = cli(['ds', 'withdraw', 'example.com', '--keytag', String(first), '--ticket', 'CHG-2', '--json'], 'alice');
    expect(withdraw.status, withdraw.stderr).toBe(0);
    const approved = cli(['approve', (JSON.parse(withdraw.stdout) as { request: string }).request, '--ticket', 'CHG-2'], 'bob');
    expect(approved.status, approved.stderr).toBe(0);
    keys = JSON.parse(cli(['key', 'list', 'example.com', '--json'], 'alice').stdout) as { keys: { keyTag: number; remove: string }[] };
    expect(keys.keys.find((k) => k.keyTag === first)!.remove).not.toBe('-');

    // DP-2.4b DP-2.4d every step is in the chained audit trail, with who and the ticket
    expect(cli(['audit', 'verify'], 'audrey').status).toBe(0);
    const log = JSON.parse(cli(['audit', 'log', '--zone', 'example.com.', '--json'], 'audrey').stdout) as
      { records?: { actor: string; ticket: string | null }[] } | { actor: string; ticket: string | null }[];
    const records = Array.isArray(log) ? log : log.records!;
    expect(records.some((r) => r.actor === 'alice' && r.ticket === 'CHG-2')).toBe(true);
    expect(records.some((r) => r.actor === 'bob')).toBe(true);
  });

  it('OPS-3 DP-4.7a ds export under the DP policy: nothing before the new DNSKEY is known everywhere (from when, said), sha1 refused', () => {
    const input = join(hsm.dir, 'example.net.zone');
    writeFileSync(input, '$TTL 10\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n');
    const added = cli(['zone', 'add', 'example.net', '--input', input, '--policy', 'dp', '--ticket', 'CHG-3', '--json']);
    expect(added.status, added.stderr).toBe(0);
    const ksk = (JSON.parse(added.stdout) as { keys: { role: string; keyTag: number }[] }).keys.find((k) => k.role === 'ksk')!.keyTag;
    for (const format of ['ds', 'dnskey', 'epp']) {
      const r = cli(['ds', 'export', 'example.net', '--format', format]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout, format).toBe('');
      expect(r.stderr).toMatch(
        new RegExp(
          `^example\\.net\\.: nothing to submit now: from \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ, submit DS ${ksk} \\(once the new DNSKEY is known to every resolver\\)\\n$`,
        ),
      );
    }
    const json = cli(['ds', 'export', 'example.net', '--json']);
    expect(json.status, json.stderr).toBe(0);
    const j = JSON.parse(json.stdout) as { parent: number[]; wanted: number[]; add: number[]; records: string | null; nextFrom: string };
    expect([j.parent, j.wanted, j.add, j.records]).toEqual([[], [], [], null]);
    // the DP policy: Ipub is the propagation delay, the DNSKEY TTL (1 h) and the margin
    expect(Date.parse(j.nextFrom) - Date.now()).toBeGreaterThan(3600_000 - 60_000);
    const sha1 = cli(['ds', 'export', 'example.net', '--digest', 'sha1']);
    expect(sha1.status).toBe(2);
    expect(sha1.stderr).toMatch(/--digest sha1: policy 'dp' does not list SHA-1 \(its parent\.ds-digests: sha256\)/);
  });

  it('DP-4.1 an orphan key through the CLI: hms key list marks it ORPHAN, hms key purge says what it would remove without --yes, removes it with', async () => {
    const input = join(hsm.dir, 'orphan.example.zone');
    writeFileSync(input, '$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 2592000 300\n@ NS ns1\n@ NS ns2.example.net.\nns1 A 192.0.2.53\n');
    expect(cli(['zone', 'add', 'orphan.example', '--input', input, '--policy', 'fast', '--ticket', 'CHG-2']).status).toBe(0);
    // what a kill between making a key and recording it leaves
    const orphan = await unrecordedKey('hms-keys', hsm.pin, 'orphan.example.', 'zsk');
    const id = orphan.id.toString('hex');
    const list = cli(['key', 'list', 'orphan.example']);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toContain(
      `ZSK\t${orphan.keyTag}\tORPHAN\tin the token, not in the state: not used for signing\tid ${id}\tlabel hms:orphan.example.:zsk:${id}\n`,
    );
    expect(list.stdout.split('\n').filter((l) => l !== '')).toHaveLength(3);
    const dry = cli(['key', 'purge', 'orphan.example', '--keytag', String(orphan.keyTag), '--ticket', 'CHG-3']);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(
      `orphan.example.: would remove orphan ZSK ${orphan.keyTag} (id ${id}, label hms:orphan.example.:zsk:${id}) from the HSM; nothing removed: run again with --yes\n`,
    );
    expect(cli(['key', 'list', 'orphan.example']).stdout).toContain('ORPHAN');
    const done = cli(['key', 'purge', 'orphan.example', '--keytag', String(orphan.keyTag), '--ticket', 'CHG-3', '--yes']);
    expect(done.status, done.stderr).toBe(0);
    expect(done.stdout).toBe(`orphan.example.: orphan ZSK ${orphan.keyTag} (id ${id}, label hms:orphan.example.:zsk:${id}) removed from the HSM by ${me}\n`);
    const after = JSON.parse(cli(['key', 'list', 'orphan.example', '--json']).stdout) as { keys: unknown[]; orphans: unknown[] };
    expect(after).toMatchObject({ keys: [{}, {}], orphans: [] });
  });
});

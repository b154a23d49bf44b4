import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HMS, requireTool, ROOT, verifySignedZone } from './helpers/run.js';
import { tokenWithFastPolicies } from './helpers/softhsm.js';

/**
 * The zone and its parent, through the CLI as operators use it: going insecure and back
 * (DP-4.7b/c, DP-2.5b), a child's DS in a parent signed here (DP-4.6), and the automatic DS
 * check against real `named` servers for a parent zone signed by hms (another state file).
 * Waiting times are seconds (the `fast` policy). Two persons are played through SUDO_USER,
 * which hms believes only as root (as CI runs).
 */
const me = userInfo().username;
const root = process.getuid?.() === 0;
let hsm: ReturnType<typeof tokenWithFastPolicies>;
const children: ChildProcess[] = [];

type Result = { status: number | null; stdout: string; stderr: string };
function cli(config: string, args: string[], as?: string): Result {
  const env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF!, HMS_CONFIG: config, SUDO_USER: as ?? '' };
  const r = spawnSync(process.execPath, [HMS, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const json = <T>(r: Result): T => {
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const request = (r: Result): string => json<{ request: string }>(r).request;
const keyList = (config: string, zone: string): { role: string; keyTag: number; remove: string; dsSeen: string; dsWithdrawn: string }[] =>
  json<{ keys: { role: string; keyTag: number; remove: string; dsSeen: string; dsWithdrawn: string }[] }>(cli(config, ['key', 'list', zone, '--json'], 'alice'))
    .keys;

function config(name: string): string {
  const file = join(hsm.dir, `${name}.yaml`);
  writeFileSync(
    file,
    `state: state/${name}.db
policies: [fast.yaml]
hsm: { token: hms-parent, pin-file: pin }
access:
  administrators: [user:${me}]
  operators: [user:alice]
  approvers: [user:alice, user:bob]
  auditors: [user:audrey]
  zones:
    example.com:
      operators: [user:carol]
`,
  );
  return file;
}

beforeAll(() => {
  hsm = tokenWithFastPolicies('hms-parent');
  writeFileSync(
    join(hsm.dir, 'skole.zone'),
    `$TTL 1h
$ORIGIN skole.example.com.
@   SOA ns1 hostmaster 1 2h 15m 30d 5m
    NS  ns1
    NS  ns2.example.net.
ns1 A   192.0.2.53
www A   192.0.2.80
`,
  );
  writeFileSync(
    join(hsm.dir, 'org.zone'),
    `$TTL 1h
$ORIGIN example.org.
@   SOA ns1 hostmaster 1 2h 15m 30d 5m
    NS  ns1
ns1 A   192.0.2.1
www A   192.0.2.80
`,
  );
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  hsm?.dispose();
});

describe('going insecure and back', () => {
  it(
    'DP-4.7b DP-4.7c DP-2.5b RFC 8078: decided, approved by a second person, CDS/CDNSKEY DELETE, unsigned only a DS TTL after the withdrawal, then a new chain of trust',
    { timeout: 180_000 },
    async () => {
      if (!root) return;
      const cfg = config('insecure');
      const out = join(hsm.dir, 'example.org.signed');
      const text = (): string => readFileSync(out, 'latin1');
      const sign = (as = 'alice'): Result => cli(cfg, ['zone', 'sign', 'example.org', '--out', out], as);
      const added = json<{ keys: { role: string; keyTag: number }[] }>(
        cli(cfg, ['zone', 'add', 'example.org', '--input', join(hsm.dir, 'org.zone'), '--policy', 'slow-parent', '--json']),
      );
      const k1 = added.keys.find((k) => k.role === 'ksk')!.keyTag;
      await sleep(1200);
      expect(
        cli(cfg, ['approve', request(cli(cfg, ['ds', 'seen', 'example.org', '--keytag', String(k1), '--ticket', 'CHG-8', '--json'], 'alice'))], 'bob').status,
      ).toBe(0);

      // DP-4.7c the decision procedure: what will happen, then a second person's approval
      const decided = cli(cfg, ['zone', 'insecure', 'example.org', '--ticket', 'CHG-9'], 'alice');
      expect(decided.status, decided.stderr).toBe(0);
      expect(decided.stdout).toMatch(new RegExp(`DS at the parent now: ${k1}\\. What will happen:`));
      expect(decided.stdout).toMatch(/CDS and CDNSKEY DELETE \(RFC 8078 section 4\)/);
      expect(decided.stdout).toMatch(/the keys are removed and the zone is served unsigned/);
      const id = /request (R-\w+) waits for a second person/.exec(decided.stdout)![1]!;
      expect(cli(cfg, ['zone', 'insecure', 'example.org', '--ticket', 'CHG-9'], 'alice').stderr).toMatch(/waits for approval already/);
      expect(sign().status).toBe(0);
      expect(text()).toMatch(new RegExp(`\\tCDS\\t${k1} 8 2 `)); // nothing changes before the approval
      expect(cli(cfg, ['approve', id], 'alice').status).toBe(4);
      const approved = cli(cfg, ['approve', id, '--ticket', 'CHG-9'], 'bob');
      expect(approved.status, approved.stderr).toBe(0);
      expect(approved.stdout).toMatch(new RegExp(`still waiting, from .*: going insecure: withdraw the DS of KSK ${k1}`));

      // RFC 8078 section 4: the DELETE records, signed, and the zone still passes the three validators
      const signed = sign();
      expect(signed.stdout).toMatch(/CDS\/CDNSKEY DELETE \(going insecure\)/);
      expect(text()).toMatch(/^example\.org\.\t1\tIN\tCDS\t0 0 0 00$/m);
      expect(text()).toMatch(/^example\.org\.\t1\tIN\tCDNSKEY\t0 3 0 AA==$/m);
      expect(text()).toMatch(/\tRRSIG\tCDS 8 2 /);
      expect(verifySignedZone('example.org', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
      const epp = cli(cfg, ['ds', 'export', 'example.org', '--format', 'epp'], 'alice').stdout;
      expect(epp).toMatch(new RegExp(`<secDNS:rem>[\\s\\S]*<secDNS:keyTag>${k1}<`));
      expect(epp).not.toMatch(/<secDNS:add>/);

      // withdrawn and approved: still signed until the DS has left every cache
      const w = request(cli(cfg, ['ds', 'withdraw', 'example.org', '--keytag', String(k1), '--ticket', 'CHG-9', '--json'], 'alice'));
      expect(cli(cfg, ['approve', w], 'bob').status).toBe(0);
      const withdrawnAt = Date.now();
      expect(keyList(cfg, 'example.org').every((k) => k.remove !== '-')).toBe(true);
      const tooLate = cli(cfg, ['zone', 'secure', 'example.org'], 'alice');
      expect(tooLate.status).toBe(2);
      expect(tooLate.stderr).toMatch(
        new RegExp(
          `the DS of ${k1} is withdrawn at the parent; the zone finishes going insecure at .*restarts the chain of trust with new keys \\(DP-2\\.5b\\)`,
        ),
      );
      expect(sign().stdout).toMatch(/, CDS\/CDNSKEY DELETE/); // still signed while a cache may hold the DS (15 s: the CLI calls since take seconds under load)
      await sleep(Math.max(0, withdrawnAt + 15_500 - Date.now()));
      const unsigned = sign();
      expect(unsigned.stdout).toMatch(/insecure, written UNSIGNED/);
      expect(text()).not.toMatch(/\t(RRSIG|DNSKEY|NSEC3|CDS|CDNSKEY)\t/);
      expect(text()).toMatch(/^example\.org\.\t3600\tIN\tSOA\t.* 2592000 300$/m);

      // DP-2.5b back: new keys, signed at once, CDS for the new KSK, and the first DS to submit
      const back = json<{ keys: { role: string; keyTag: number }[]; waiting: { kind: string; keyTag: number }[] }>(
        cli(cfg, ['zone', 'secure', 'example.org', '--ticket', 'CHG-10', '--json'], 'alice'),
      );
      const k2 = back.keys.find((k) => k.role === 'ksk')!.keyTag;
      expect(back.waiting).toMatchObject([{ kind: 'ds-seen', keyTag: k2 }]);
      expect(sign().status).toBe(0);
      expect(text()).toMatch(new RegExp(`\\tCDS\\t${k2} 8 2 `));
      expect(verifySignedZone('example.org', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');

      // every step audited, with who and the ticket
      const log = json<
        | { action: string; actor: string; ticket: string | null; comment: string | null }[]
        | { records: { action: string; actor: string; ticket: string | null; comment: string | null }[] }
      >(cli(cfg, ['audit', 'log', '--zone', 'example.org.', '--json'], 'audrey'));
      const records = Array.isArray(log) ? log : log.records;
      expect(records.some((r) => r.actor === 'alice' && r.action === 'request.add' && r.ticket === 'CHG-9')).toBe(true);
      expect(records.some((r) => r.actor === 'bob' && r.action === 'zone.update' && /going insecure \(DP-4\.7b\)/.test(r.comment ?? ''))).toBe(true);
      expect(records.some((r) => r.actor === 'alice' && r.action === 'zone.update' && r.ticket === 'CHG-10')).toBe(true);
      expect(cli(cfg, ['audit', 'verify'], 'audrey').status).toBe(0);
    },
  );

  it('DP-4.7c going insecure is undone before any DS is withdrawn', { timeout: 60_000 }, () => {
    if (!root) return;
    const cfg = config('undo');
    expect(cli(cfg, ['zone', 'add', 'example.org', '--input', join(hsm.dir, 'org.zone'), '--policy', 'fast']).status).toBe(0);
    const id = /request (R-\w+)/.exec(cli(cfg, ['zone', 'insecure', 'example.org', '--ticket', 'CHG-11'], 'alice').stdout)![1]!;
    expect(cli(cfg, ['approve', id], 'bob').status).toBe(0);
    const undone = cli(cfg, ['zone', 'secure', 'example.org', '--ticket', 'CHG-11'], 'alice');
    expect(undone.status, undone.stderr).toBe(0);
    const out = join(hsm.dir, 'undo.signed');
    expect(cli(cfg, ['zone', 'sign', 'example.org', '--out', out], 'alice').status).toBe(0);
    expect(readFileSync(out, 'latin1')).not.toMatch(/CDS\t0 0 0 00/);
  });
});

describe('a child zone signed here gets its DS in the parent signed here', () => {
  it(
    "DP-4.6a DP-4.6b DP-4.6c the parent holds the child's DS, follows its KSK roll, and only someone authorised for the child changes it",
    { timeout: 180_000 },
    async () => {
      if (!root) return;
      const cfg = config('child');
      const out = join(hsm.dir, 'example.com.signed');
      const child = json<{ keys: { role: string; keyTag: number }[] }>(
        cli(cfg, ['zone', 'add', 'skole.example.com', '--input', join(hsm.dir, 'skole.zone'), '--policy', 'fast', '--json']),
      );
      expect(cli(cfg, ['zone', 'add', 'example.com', '--input', join(ROOT, 'examples/zones/example.com.zone'), '--policy', 'fast']).status).toBe(0);
      const k1 = child.keys.find((k) => k.role === 'ksk')!.keyTag;
      await sleep(1200);
      const first = cli(cfg, ['zone', 'sign', 'example.com', '--out', out], 'alice');
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`child skole\\.example\\.com\\.: DS ${k1}; now published: ${k1}`));
      let text = readFileSync(out, 'latin1');
      expect(text).toMatch(new RegExp(`^skole\\.example\\.com\\.\\t1\\tIN\\tDS\\t${k1} 8 2 [0-9A-F]+$`, 'm'));
      expect(text).not.toMatch(/\tDS\t12345 /); // the file's own DS for the child is replaced
      expect(text).toMatch(/^skole\.example\.com\.\t1\tIN\tRRSIG\tDS 8 3 /m);
      expect(verifySignedZone('example.com', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
      expect(keyList(cfg, 'skole.example.com').find((k) => k.keyTag === k1)!.dsSeen).not.toBe('-');

      // the child's KSK roll: its new DS replaces the old in the parent once the new DNSKEY is known
      const rolled = cli(cfg, ['key', 'rollover', 'skole.example.com', '--ksk', '--ticket', 'CHG-12'], 'alice');
      expect(rolled.status, rolled.stderr).toBe(0);
      const k2 = Number(/new key (\d+)/.exec(rolled.stdout)![1]);
      await sleep(1200);
      // DP-4.6c carol operates example.com only: the child's DS change is held back when she signs
      const held = cli(cfg, ['zone', 'sign', 'example.com', '--out', out], 'carol');
      expect(held.status, held.stderr).toBe(0);
      expect(held.stdout).toMatch(
        new RegExp(`child skole\\.example\\.com\\.: DS ${k1}; its changes held back: carol may not act for skole\\.example\\.com\\.`),
      );
      const second = cli(cfg, ['zone', 'sign', 'example.com', '--out', out], 'alice');
      expect(second.stdout).toMatch(new RegExp(`child skole\\.example\\.com\\.: DS ${k2}; now published: ${k2}; now withdrawn: ${k1}`));
      text = readFileSync(out, 'latin1');
      expect(text).toMatch(new RegExp(`\\tDS\\t${k2} 8 2 `));
      expect(text).not.toMatch(new RegExp(`\\tDS\\t${k1} 8 2 `));
      expect(verifySignedZone('example.com', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
      const keys = keyList(cfg, 'skole.example.com');
      expect(keys.find((k) => k.keyTag === k1)!.dsWithdrawn).not.toBe('-');
      expect(keys.find((k) => k.keyTag === k1)!.remove).not.toBe('-'); // the child's roll goes on by itself
      const log = json<{ actor: string; comment: string | null }[] | { records: { actor: string; comment: string | null }[] }>(
        cli(cfg, ['audit', 'log', '--zone', 'skole.example.com.', '--json'], 'audrey'),
      );
      const records = Array.isArray(log) ? log : log.records;
      expect(records.filter((r) => /published in the parent zone example\.com\., serial \d+, signed here \(DP-4\.6a\)/.test(r.comment ?? '')).length).toBe(2);
      expect(records.some((r) => /withdrawn from the parent zone example\.com\..*\(DP-4\.6b\)/.test(r.comment ?? ''))).toBe(true);
    },
  );
});

describe('the automatic parent DS check against real name servers', () => {
  const ports = [0, 0];
  let dir: string;

  /** Starts (or restarts) named number `i` serving the parent zone file `file`; bounded in time. */
  async function serve(i: number, file: string): Promise<void> {
    const old = children[i];
    if (old !== undefined && old.exitCode === null) {
      const gone = new Promise((r) => old.once('exit', r));
      old.kill('SIGTERM');
      await Promise.race([gone, sleep(10_000)]);
    }
    const d = join(dir, `named${i}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'example.com.zone'), readFileSync(file));
    writeFileSync(
      join(d, 'named.conf'),
      `options {
  directory "${d}";
  pid-file "${d}/named.pid";
  listen-on port ${ports[i]} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
zone "example.com" { type primary; file "${d}/example.com.zone"; };
`,
    );
    const log = join(d, 'named.log');
    const fd = openSync(log, 'w');
    const child = spawn('named', ['-g', '-c', join(d, 'named.conf')], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    children[i] = child;
    for (const until = Date.now() + 30_000; ;) {
      const text = readFileSync(log, 'utf8');
      if (/all zones loaded/.test(text) && /\brunning\b/.test(text)) return;
      if (child.exitCode !== null || Date.now() > until) throw new Error(`named ${i} did not start:\n${text}`);
      await sleep(100);
    }
  }

  it(
    "issue 4 item 4 DP-4.7d hms ds check validates every parent server's answer, needs them to agree, and files the DS steps for a person to approve",
    { timeout: 240_000 },
    async () => {
      if (!root) return;
      requireTool('named');
      dir = hsm.dir;
      ports[0] = 20000 + Math.floor(Math.random() * 30000);
      ports[1] = ports[0] + 1;
      const childCfg = config('check-child');
      const parentCfg = config('check-parent');
      const parentInput = join(hsm.dir, 'parent-input.zone');
      const parentOut = join(hsm.dir, 'parent.signed');
      const base = readFileSync(join(ROOT, 'examples/zones/example.com.zone'), 'utf8').replace(/^\s+DS\s+12345 .*$/m, '');
      const publish = async (ds: string, which: number[]): Promise<void> => {
        writeFileSync(
          parentInput,
          base +
            ds
              .split('\n')
              .filter((l) => l !== '')
              .map((l) => `${l}\n`)
              .join(''),
        );
        const s = cli(parentCfg, ['zone', 'sign', 'example.com', '--out', parentOut], 'alice');
        expect(s.status, s.stderr).toBe(0);
        for (const i of which) await serve(i, parentOut);
      };
      const check = (): Result => cli(childCfg, ['ds', 'check', 'skole.example.com', '--json'], 'alice');
      type Check = {
        agree: boolean;
        servers: { server: string; ds: string[]; problem: string | null }[];
        served: number[];
        filed: { id: string; kind: string; keyTag: number }[];
        notes: string[];
      };

      const child = json<{ keys: { role: string; keyTag: number }[] }>(
        cli(childCfg, [
          'zone',
          'add',
          'skole.example.com',
          '--input',
          join(hsm.dir, 'skole.zone'),
          '--policy',
          'fast',
          '--parent-server',
          `127.0.0.1:${ports[0]}`,
          '--parent-server',
          `127.0.0.1:${ports[1]}`,
          '--json',
        ]),
      );
      const k1 = child.keys.find((k) => k.role === 'ksk')!.keyTag;
      writeFileSync(parentInput, base);
      expect(cli(parentCfg, ['zone', 'add', 'example.com', '--input', parentInput, '--policy', 'fast']).status).toBe(0);
      await publish('', [0, 1]);
      await sleep(1200);

      // no DS yet: the NSEC3 denial validates at both servers, nothing is filed
      let c = json<Check>(check());
      expect(c.servers.map((s) => [s.problem, s.ds])).toEqual([
        [null, []],
        [null, []],
      ]);
      expect(c.agree).toBe(true);
      expect(c.filed).toEqual([]);
      expect(c.notes).toEqual([`ds-seen ${k1}: the parent does not show it yet`]);

      // the DS at one server only: they disagree, exit 6, nothing filed
      const ds1 = cli(childCfg, ['ds', 'export', 'skole.example.com'], 'alice').stdout;
      expect(ds1).toMatch(new RegExp(`^skole\\.example\\.com\\.\\tIN\\tDS\\t${k1} 8 2 `));
      await publish(ds1, [0]);
      const split = check();
      expect(split.status).toBe(6);
      expect((JSON.parse(split.stdout) as Check).filed).toEqual([]);

      // both: the check files the ds-seen request as the check; a person approves it
      await serve(1, parentOut);
      c = json<Check>(check());
      expect(c.agree).toBe(true);
      expect(c.servers[0]!.ds).toEqual([ds1.split('\t').at(-1)!.trim()]);
      expect(c.filed).toMatchObject([{ kind: 'ds-seen', keyTag: k1 }]);
      expect(json<Check>(check()).notes).toEqual([`ds-seen ${k1}: request ${c.filed[0]!.id} waits for approval`]);
      const approved = cli(childCfg, ['approve', c.filed[0]!.id, '--json'], 'bob');
      expect(approved.status, approved.stderr).toBe(0);
      expect(keyList(childCfg, 'skole.example.com').find((k) => k.keyTag === k1)!.dsSeen).not.toBe('-');

      // a KSK roll: the parent swaps the DS; the check files both steps
      const rolled = cli(childCfg, ['key', 'rollover', 'skole.example.com', '--ksk', '--ticket', 'CHG-13'], 'alice');
      const k2 = Number(/new key (\d+)/.exec(rolled.stdout)![1]);
      await sleep(1200);
      const ds2 = cli(childCfg, ['ds', 'export', 'skole.example.com'], 'alice').stdout;
      await publish(ds2, [0, 1]);
      c = json<Check>(check());
      expect(c.served).toEqual([k2]);
      expect(c.filed.map((f) => [f.kind, f.keyTag])).toEqual([
        ['ds-seen', k2],
        ['ds-withdrawn', k1],
      ]);
      for (const f of c.filed) expect(cli(childCfg, ['approve', f.id], 'bob').status).toBe(0);
      expect(keyList(childCfg, 'skole.example.com').find((k) => k.keyTag === k1)!.remove).not.toBe('-');
      const log = json<{ actor: string; action: string }[] | { records: { actor: string; action: string }[] }>(
        cli(childCfg, ['audit', 'log', '--zone', 'skole.example.com.', '--json'], 'audrey'),
      );
      const records = Array.isArray(log) ? log : log.records;
      expect(records.filter((r) => r.actor === 'hms:ds-check' && r.action === 'request.add').length).toBe(3);
    },
  );
});

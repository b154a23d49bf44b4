import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { highPort, namedPrimaryConf, startDaemon, type Daemon, NAMED_RUNNING } from './helpers/daemons.js';
import { sh as run } from './helpers/keys.js';
import { HMS, requireTool } from './helpers/run.js';
import { tokenWithFastPolicies } from './helpers/softhsm.js';

/**
 * Issue 18 part 2 (DP-3.1a, DP-4.7a): hms key import asks the parent for the DS of each KSK it
 * takes (--parent-server), validated as hms ds check does. The parent is a real BIND serving
 * a signed `test.` zone with the DS of shop.test's KSK. A KSK whose DS the parent validly does
 * not serve is refused before anything is written; a parent that cannot be asked is a
 * warning, and the import goes on on the operator's --ds-seen.
 */
const me = userInfo().username;
let hsm: ReturnType<typeof tokenWithFastPolicies>;
let config: string;
let dir: string;
const daemons: Daemon[] = [];
let parentPort: number;

const sh = (cmd: string, args: string[]): string => run(cmd, args, dir);

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF!, HMS_CONFIG: config };
  const r = spawnSync(process.execPath, [HMS, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const zone = (name: string): string => {
  const file = join(dir, `${name}.zone`);
  writeFileSync(file, '$TTL 1h\n@ SOA ns1 hostmaster 1 2h 15m 30d 5m\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n');
  return file;
};

/** hms key import of `keyFiles` into `zoneName` (added with its input and the fast policy), with --ds-seen, asking `parentServer`. */
const importing = (zoneName: string, keyFiles: string[], parentServer: string, ...more: string[]): ReturnType<typeof cli> =>
  cli([
    'key',
    'import',
    zoneName,
    ...keyFiles,
    '--ds-seen',
    '--parent-server',
    parentServer,
    '--input',
    zone(zoneName),
    '--policy',
    'fast',
    '--ticket',
    'CHG-18',
    ...more,
  ]);

let ksk: string;
let zsk: string;

beforeAll(async () => {
  for (const tool of ['named', 'dnssec-keygen', 'dnssec-signzone', 'dnssec-dsfromkey']) requireTool(tool);
  hsm = tokenWithFastPolicies('hms-iparent');
  dir = join(hsm.dir, 'work');
  mkdirSync(join(dir, 'parent'), { recursive: true });
  config = join(hsm.dir, 'hms.yaml');
  writeFileSync(
    config,
    `state: state/state.db
policies: [fast.yaml]
hsm: { token: hms-iparent, pin-file: pin }
access:
  administrators: [user:${me}]
`,
  );
  // the child's keys (the signer it leaves), and the parent test. signed by BIND with the child's DS
  ksk = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '2048', '-f', 'KSK', 'shop.test']);
  zsk = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '1024', 'shop.test']);
  const ds = sh('dnssec-dsfromkey', ['-2', `${ksk}.key`]);
  const parentZone = join(dir, 'parent/test.zone');
  writeFileSync(parentZone, `$TTL 1h\n@ SOA ns1 hostmaster 1 2h 15m 30d 5m\n  NS ns1\nns1 A 192.0.2.53\nshop NS ns1.shop\nns1.shop A 192.0.2.1\n${ds}\n`);
  sh('dnssec-keygen', ['-q', '-a', 'ECDSAP256SHA256', '-f', 'KSK', '-K', 'parent', 'test']);
  sh('dnssec-keygen', ['-q', '-a', 'ECDSAP256SHA256', '-K', 'parent', 'test']);
  sh('dnssec-signzone', ['-S', '-K', 'parent', '-o', 'test', '-f', 'parent/test.signed', parentZone]);
  parentPort = highPort();
  await startDaemon(
    'named',
    [
      '-g',
      '-c',
      namedPrimaryConf(join(dir, 'named'), {
        zone: 'test',
        port: parentPort,
        zoneFile: join(dir, 'parent/test.signed'),
        secret: 'cGFyZW50LXRlc3Qtc2VjcmV0LWtleS0wMTIzNDU2Nzg=',
      }),
    ],
    NAMED_RUNNING,
    { registry: daemons },
  );
}, 120_000);

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGTERM');
  hsm?.dispose();
});

describe("hms key import checks the parent's DS of the KSK it takes", () => {
  it('issue 18 DP-4.7a a KSK whose DS the parent does not serve is refused, naming the DS it does serve; nothing written', () => {
    const stranger = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '2048', '-f', 'KSK', '-K', 'parent', 'shop.test']);
    const r = importing('shop.test', [join(dir, 'parent', `${stranger}.key`), join(dir, `${zsk}.key`)], `127.0.0.1:${parentPort}`);
    expect(r.status).not.toBe(0);
    const tag = Number(/\+(\d+)$/.exec(ksk)![1]);
    expect(r.stderr).toMatch(
      new RegExp(`key \\d+ is a KSK, and the parent \\(127\\.0\\.0\\.1:${parentPort}\\) serves no DS of it \\(DS of key tags ${tag}\\): .*nothing imported`),
    );
    expect(JSON.parse(cli(['zone', 'list', '--json']).stdout)).toEqual({ zones: [] });
  }, 120_000);

  it("issue 18 DP-3.1a DP-4.7a the KSK whose DS the parent serves is imported, said so, and the parent's server kept for hms ds check", () => {
    const r = importing('shop.test', [join(dir, `${ksk}.key`), join(dir, `${zsk}.key`)], `127.0.0.1:${parentPort}`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`KSK \\d+ imported from .*\\n  its DS is served by the parent \\(127\\.0\\.0\\.1:${parentPort}\\), validated\\n`));
    // hms ds check asks the same server: the KSK's DS is served
    const check = cli(['ds', 'check', 'shop.test', '--json']);
    expect(check.status, check.stderr).toBe(0);
    const tag = Number(/\+(\d+)$/.exec(ksk)![1]);
    expect(JSON.parse(check.stdout)).toMatchObject({ agree: true, served: [tag], foreign: [] });
  }, 120_000);

  it('issue 18 DP-3.1a a parent that cannot be asked is a warning: the import goes on on --ds-seen', () => {
    const k = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '2048', '-f', 'KSK', 'far.test']);
    // a closed port on loopback: refused at once
    const r = importing('far.test', [join(dir, `${k}.key`)], '127.0.0.1:9', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [key] = (JSON.parse(r.stdout) as { keys: { role: string; parent: string }[] }).keys;
    expect(key!.role).toBe('ksk');
    expect(key!.parent).toMatch(/^WARNING: the parent's DS was not checked: 127\.0\.0\.1:9: /);
  }, 120_000);
});

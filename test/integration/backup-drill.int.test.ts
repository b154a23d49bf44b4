import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/storage/migrations.js';
import { highPort, startNamedSecondary, type Daemon, startHmsRun } from './helpers/daemons.js';
import { HMS, requireTool, ROOT, runAsync, verifyServiceOutput, type RunResult } from './helpers/run.js';
import { loopbackServiceConfig } from './helpers/service.js';
import { throwawayToken } from './helpers/softhsm.js';

/**
 * Issue 18 part 1, the drill (DP-2.5d, DP-3.1a): site A signs and serves example.com with
 * `hms run`; `hms backup create` (a request to the running service) backs it up; site A is
 * lost; `hms backup restore` puts the state, the audit checkpoint and the SoftHSM token into a
 * second data folder and a second, empty token folder; `hms run` there signs with the same
 * DNSKEY set (no rollover) and a serial above the last one site A served, and delv validates a
 * secondary of site B from the DS of site A's KSK. Before the restore, the refusals:
 * a tampered file, a missing file, a newer state schema, a restore onto an existing state.
 */
const SECRET = 'YmFja3VwLWRyaWxsLXNlY3JldC1mb3ItdHNpZy0zMi1v';
const KEY = `hmac-sha256:xfr-key:${SECRET}`;
const LABEL = 'hms-drill';
let tmp: string | undefined;
let token: ReturnType<typeof throwawayToken> | undefined;
const daemons: Daemon[] = [];

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

/** A site's folder: the configuration on `port`, the PIN, the TSIG secret and the zone's input. */
function site(dir: string, port: number, pin: string): string {
  mkdirSync(join(dir, 'zones'), { recursive: true });
  writeFileSync(join(dir, 'pin'), pin, { mode: 0o600 });
  writeFileSync(join(dir, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(dir, 'zones/example.com.zone'));
  writeFileSync(join(dir, 'hms.yaml'), loopbackServiceConfig({ token: LABEL, listen: `127.0.0.1:${port}` }));
  return join(dir, 'hms.yaml');
}

/** A SoftHSM configuration whose token folder is `dir/tokens`, empty: the second site's HSM. */
function emptySoftHsm(dir: string): string {
  mkdirSync(join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  return join(dir, 'softhsm2.conf');
}

const hms = (args: readonly string[]): Promise<RunResult> => runAsync('node', [HMS, ...args], { timeoutMs: 60_000 });

async function dig(port: number, args: readonly string[]): Promise<string> {
  const r = await runAsync('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', '-y', KEY, ...args], { timeoutMs: 15_000 });
  return r.stdout;
}
const serial = async (port: number): Promise<number> => Number((await dig(port, ['+short', 'example.com', 'SOA'])).trim().split(/\s+/)[2]);
const dnskeys = async (port: number): Promise<string[]> =>
  (await dig(port, ['+nocmd', '+nostats', 'example.com', 'AXFR']))
    .split('\n')
    .filter((l) => /^\S+\s+\d+\s+IN\s+DNSKEY\s/.test(l))
    .map((l) => l.replace(/\s+/g, ' '))
    .sort();

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
/** A copy of the backup `from` with `change` applied and the manifest's hashes made to fit again (a forger's work). */
function forged(from: string, to: string, change: (dir: string) => void, rehash: 'no' | 'hashes' | 'hashes-and-schema'): string {
  cpSync(from, to, { recursive: true });
  change(to);
  if (rehash !== 'no') {
    const m = JSON.parse(readFileSync(join(to, 'manifest.json'), 'utf8')) as { files: Record<string, { sha256: string; size: number }>; schemaVersion: number };
    m.files = {};
    const files = (readdirSync(to, { recursive: true }) as string[]).filter((f) => f !== 'manifest.json' && statSync(join(to, f)).isFile());
    for (const f of files) m.files[f] = { sha256: sha(join(to, f)), size: statSync(join(to, f)).size };
    if (rehash === 'hashes-and-schema') m.schemaVersion = SCHEMA_VERSION + 1;
    writeFileSync(join(to, 'manifest.json'), JSON.stringify(m));
  }
  return to;
}

describe('issue 18: backup, restore and the site switch drill', () => {
  it(
    'DP-2.5d DP-3.1a a backup of a running service restored at a second site signs there with the same DNSKEY set and a higher serial; bad backups are refused before anything is written',
    { timeout: 240_000 },
    async () => {
      for (const tool of ['dig', 'delv', 'named', 'dnssec-dsfromkey']) requireTool(tool);
      tmp = mkdtempSync(join(tmpdir(), 'hms-backup-drill-'));
      token = throwawayToken(LABEL);
      const siteAConf = process.env.SOFTHSM2_CONF!;
      const [portA, portB] = [highPort(), highPort()];
      const configA = site(join(tmp, 'a'), portA, token.pin);
      const a = await startHmsRun(configA, /zone signed and published/, {
        env: process.env,
        registry: daemons,
        timeoutMs: 60_000,
      });
      const keysA = await dnskeys(portA);
      expect(keysA.length).toBeGreaterThanOrEqual(2);

      // the backup, through the running service
      const backup = join(tmp, 'backup');
      const made = await hms(['backup', 'create', backup, '--config', configA]);
      expect(made.stderr).toBe('');
      expect(made.stdout).toMatch(/backup made by the running service: \d+ files, state schema \d+, zones example\.com\./);
      expect(made.stdout).toMatch(/SoftHSM token files are in it/);
      expect(statSync(backup).mode & 0o777).toBe(0o700);
      const manifest = JSON.parse(readFileSync(join(backup, 'manifest.json'), 'utf8')) as {
        files: Record<string, unknown>;
        zones: { name: string; keys: { tag: number }[] }[];
        schemaVersion: number;
      };
      expect(manifest.schemaVersion).toBe(SCHEMA_VERSION);
      for (const f of Object.keys(manifest.files)) expect(statSync(join(backup, f)).mode & 0o777, f).toBe(0o600);
      // no secret in it: not the PIN, not the TSIG secret
      expect(Object.keys(manifest.files).some((f) => /pin|secret/.test(f))).toBe(false);
      for (const f of Object.keys(manifest.files)) {
        const text = readFileSync(join(backup, f), 'latin1');
        expect(text.includes(token.pin), f).toBe(false);
        expect(text.includes(SECRET), f).toBe(false);
      }
      expect(manifest.zones[0]!.keys.map((k) => k.tag).length).toBe(keysA.length);
      const verified = await hms(['backup', 'verify', backup, '--config', configA]);
      expect(verified.stderr).toBe('');
      expect(verified.stdout).toMatch(/every key the state records \(\d+\) is in the token copy/);
      // the manifest's digest, printed and kept in the audit trail, vouches for the manifest itself
      const manifestSha = /manifest SHA-256 ([0-9a-f]{64})/.exec(made.stdout)![1]!;
      expect(verified.stdout).toContain(`manifest SHA-256 ${manifestSha}`);
      expect((await hms(['audit', 'log', '--config', configA, '--json'])).stdout).toContain(manifestSha);

      // the DS the parent holds: from site A's KSK, before the switch
      writeFileSync(join(tmp, 'dnskey-a'), `${keysA.join('\n')}\n`);
      const dsA = await runAsync('dnssec-dsfromkey', ['-2', '-f', join(tmp, 'dnskey-a'), 'example.com'], { timeoutMs: 20_000 });
      const [, , , tag, alg, digestType, ...digest] = dsA.stdout.trim().split('\n')[0]!.split(/\s+/);
      expect(Number(tag), dsA.stdout + dsA.stderr).toBeGreaterThan(0);

      // site A is lost: its last served serial is what site B must exceed
      const lastA = await serial(portA);
      expect(lastA).toBeGreaterThan(0);
      await a.stop('SIGKILL');

      // the refusals, at site B, before anything is written
      const siteB = join(tmp, 'b');
      const configB = site(siteB, portB, token.pin);
      process.env.SOFTHSM2_CONF = emptySoftHsm(join(tmp, 'hsm-b'));
      try {
        const tampered = forged(
          backup,
          join(tmp, 'tampered'),
          (d) => writeFileSync(join(d, 'config/hms.yaml'), `${readFileSync(join(d, 'config/hms.yaml'), 'utf8')}# changed\n`),
          'no',
        );
        let r = await hms(['backup', 'restore', tampered, '--config', configB]);
        expect(r.status).toBe(3);
        expect(r.stderr).toMatch(/config\/hms\.yaml: changed since the backup was made \(SHA-256 differs from the manifest\)/);
        expect(existsSync(join(siteB, 'state/hms.db'))).toBe(false);
        expect(existsSync(join(tmp, 'hsm-b/tokens')) && readFileSync(join(tmp, 'hsm-b/softhsm2.conf')).length > 0).toBe(true);

        const missing = forged(
          backup,
          join(tmp, 'missing'),
          (d) => {
            unlinkSync(join(d, 'audit/checkpoint'));
            writeFileSync(join(d, 'audit/extra'), 'x');
          },
          'no',
        );
        r = await hms(['backup', 'verify', missing]);
        expect(r.status).toBe(3);
        expect(r.stderr).toMatch(/audit\/checkpoint: missing; audit\/extra: not in the manifest/);

        const newer = forged(
          backup,
          join(tmp, 'newer'),
          (d) => {
            const db = new Database(join(d, 'state/hms.db'));
            db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
            db.close();
          },
          'hashes-and-schema',
        );
        r = await hms(['backup', 'restore', newer, '--config', configB]);
        expect(r.status).toBe(3);
        expect(r.stderr).toMatch(new RegExp(`state schema version ${SCHEMA_VERSION + 1}, this hms knows up to ${SCHEMA_VERSION}`));
        expect(existsSync(join(siteB, 'state/hms.db'))).toBe(false);

        // a token copy without the key objects, the manifest's hashes made to fit: the keys are missing
        const keyless = forged(
          backup,
          join(tmp, 'keyless'),
          (d) => {
            const folder = join(d, 'token', readdirSync(join(d, 'token'))[0]!);
            for (const f of readdirSync(folder).filter((x) => x.endsWith('.object') && x !== 'token.object')) unlinkSync(join(folder, f));
          },
          'hashes',
        );
        r = await hms(['backup', 'restore', keyless, '--config', configB]);
        expect(r.status).toBe(3);
        expect(r.stderr).toMatch(/the token copy lacks keys the state records: example\.com\. (ksk|zsk|csk) tag \d+/);
        expect(existsSync(join(siteB, 'state/hms.db'))).toBe(false);

        // a configuration with another token label: another configuration
        const other = join(siteB, 'other.yaml');
        writeFileSync(other, readFileSync(configB, 'utf8').replace(`token: ${LABEL}`, 'token: hms-other'));
        r = await runAsync('node', [HMS, 'backup', 'restore', backup, '--config', other], { timeoutMs: 60_000 });
        expect(r.status).toBe(3);
        expect(r.stderr).toMatch(/the backup is of token hms-drill, .*other\.yaml uses hms-other/);
        expect(existsSync(join(siteB, 'state/hms.db'))).toBe(false);
        const otherZones = join(siteB, 'other-zones.yaml');
        writeFileSync(otherZones, readFileSync(configB, 'utf8').replace('  example.com: {', '  example.net: {'));
        r = await runAsync('node', [HMS, 'backup', 'restore', backup, '--config', otherZones], { timeoutMs: 60_000 });
        expect(r.status).toBe(3);
        expect(r.stderr).toMatch(/the backup holds zones .*other-zones\.yaml does not serve: example\.com\./);
        expect(existsSync(join(siteB, 'state/hms.db'))).toBe(false);

        // the restore, then hms run at site B with its own token folder
        r = await hms(['backup', 'restore', backup, '--config', configB]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/restored .*b\/state\/hms\.db/);
        // a second restore finds the state and the token there, and writes nothing
        r = await hms(['backup', 'restore', backup, '--config', configB]);
        expect(r.status).toBe(3);
        expect(r.stderr).toMatch(/a state file exists already/);

        const audit = await hms(['audit', 'verify', '--config', configB]);
        expect(audit.stderr).toBe('');
        const b = await startHmsRun(configB, /zone signed and published/, {
          env: { ...process.env },
          registry: daemons,
          timeoutMs: 60_000,
        });
        expect(await dnskeys(portB)).toEqual(keysA);
        expect(await serial(portB)).toBeGreaterThan(lastA);
        expect(b.output()).not.toMatch(/missing from the HSM|generat/i);
        // a secondary of site B, and delv validating its answers from site A's DS
        const namedPort = highPort();
        await startNamedSecondary(
          join(tmp, 'named'),
          {
            zone: 'example.com',
            port: namedPort,
            source: '127.0.0.1',
            primary: { address: '127.0.0.1', port: portB },
            secret: SECRET,
          },
          { registry: daemons, timeoutMs: 30_000 },
        );
        const anchors = join(tmp, 'anchors.conf');
        writeFileSync(anchors, `trust-anchors {\n  example.com. static-ds ${tag} ${alg} ${digestType} "${digest.join('')}";\n};\n`);
        for (const type of ['SOA', 'DNSKEY']) {
          const v = await runAsync('delv', ['-a', anchors, '+root=example.com', '@127.0.0.1', '-p', String(namedPort), 'example.com', type], {
            timeoutMs: 20_000,
          });
          expect(v.stdout + v.stderr, type).toMatch(new RegExp(`; fully validated\\s+example\\.com\\.\\s+\\d+\\s+IN\\s+${type}`));
        }
        await b.stop('SIGTERM');
        // without a running service the CLI makes the backup itself, under the state's lock
        const again = await hms(['backup', 'create', join(tmp, 'backup-b'), '--config', configB]);
        expect(again.stderr).toBe('');
        expect(again.stdout).toMatch(/backup made: \d+ files/);
        expect((await hms(['backup', 'verify', join(tmp, 'backup-b'), '--config', configB])).stdout).toMatch(
          /every key the state records \(\d+\) is in the token copy/,
        );
        expect(verifyServiceOutput(join(tmp, 'a/state'))).toEqual([]);
        expect(verifyServiceOutput(join(siteB, 'state'))).toEqual([]);
      } finally {
        process.env.SOFTHSM2_CONF = siteAConf;
      }
    },
  );
});

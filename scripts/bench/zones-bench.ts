/**
 * Many small zones in one `hms run` (issue 20 item 1): what the service costs per zone.
 *   node dist/scripts/bench/zones-bench.js [--zones 200] [--hms PATH/dist/src/cli/main.js] [--keep]
 * In a temporary folder: a SoftHSM token of its own, `zones` zones of 6 records each (SOA, two
 * NS, two A, a TXT), the DP policy (every field its default) and one listed secondary (whose
 * NOTIFY port answers nothing). `hms run` is started with no keys and no signed versions, and
 * timed until every zone has logged 'zone signed and published'; then, 2 s later, the service's
 * RSS (VmRSS), peak (VmHWM), threads (Threads:) and open descriptors (/proc/PID/fd). `--hms`
 * picks the build measured, so that an older tree runs the same measurement. Figures, not goals:
 * the exit code is 0 when every zone was signed within the time allowed (30 min), else 1.
 * Figures of 2026-12-06 (2 cores shared with five other jobs, load 4-17: the times are the
 * host's, not hms's), RSS / threads / fds after all are signed: 30 zones 500-511 MiB / 71 / 284
 * before the shared pool, 121-124 MiB / 13 / 55-57 with it (42-60 s and 44-45 s, taking turns;
 * at load 4: 518 MiB / 71 / 274 in 14.9 s before, 136 MiB / 13 / 38 in 10.7 s with it);
 * 50 zones 747 MiB / 111 / 456 before, 139 MiB / 13 / 83 with it; 200 zones 332 MiB / 13 / 232
 * (issue 20's figures before: 2,772 MiB / 411 / 1,694). Start to all signed is the keys being
 * made one after the other (issue 20 item 3), not the signing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const ROOT = join(import.meta.dirname, '../../..');
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at < 0 ? undefined : args[at + 1];
};
const ZONES = Number(option('zones') ?? 200);
const HMS = resolve(option('hms') ?? join(ROOT, 'dist/src/cli/main.js'));
const TIMEOUT_MS = 1_800_000;
if (!Number.isInteger(ZONES) || ZONES < 1) throw new Error('--zones takes a whole number of at least 1');
if (!existsSync(HMS)) throw new Error(`${HMS} is missing: build that tree first (npm run build)`);

/** Threads, VmRSS and VmHWM (MiB) of a process, and its open descriptors. */
function usage(pid: number): { rssMiB: number; peakMiB: number; threads: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return {
    rssMiB: Math.round(field('VmRSS') / 1024),
    peakMiB: Math.round(field('VmHWM') / 1024),
    threads: field('Threads'),
    fds: readdirSync(`/proc/${pid}/fd`).length,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'hms-zones-bench-'));
const env: NodeJS.ProcessEnv = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm2.conf') };
mkdirSync(join(dir, 'tokens'));
writeFileSync(env.SOFTHSM2_CONF!, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
const pin = randomBytes(8).toString('hex');
// the token initialised by the measured tree, in a process of its own; the PIN through the environment
const init = spawnSync(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `import { initToken } from ${JSON.stringify(join(HMS, '../../hsm/token-init.js'))};
    if (!initToken({ label: 'hms-bench', soPin: process.env.SO_PIN, pin: process.env.PIN })) process.exit(3);`,
  ],
  { env: { ...env, PIN: pin, SO_PIN: randomBytes(8).toString('hex') }, encoding: 'utf8', timeout: 60_000 },
);
if (init.status !== 0) throw new Error(`token init: ${init.stderr || init.error?.message}`);
writeFileSync(join(dir, 'pin'), pin, { mode: 0o600 });
writeFileSync(join(dir, 'xfr.secret'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
mkdirSync(join(dir, 'zones'));
mkdirSync(join(dir, 'state'), { mode: 0o700 });
const names = Array.from({ length: ZONES }, (_, i) => `z${i}.bench.example.`);
for (const name of names)
  writeFileSync(
    join(dir, 'zones', `${name}zone`),
    `$ORIGIN ${name}\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 3600\n@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n@ TXT "zone ${name}"\n`,
  );
writeFileSync(join(dir, 'policy.yaml'), 'policies:\n  bench:\n    description: the DP policy (every field its default)\n');
const port = 20000 + Math.floor(Math.random() * 30000);
writeFileSync(
  join(dir, 'hms.yaml'),
  `state: state/hms.db
policies: [policy.yaml]
hsm: { token: hms-bench, pin-file: pin }
access:
  administrators: [user:${userInfo().username}]
service:
  listen: ["127.0.0.1:${port}"]
  data: state
  resign: "17 3 1 1 *"
tsig-keys:
  xfr-key: { algorithm: hmac-sha256, secret-file: xfr.secret }
secondaries:
  s1: { address: 127.0.0.4, notify: "127.0.0.4:9", key: xfr-key }
zones:
${names.map((n) => `  ${n}: { input: zones/${n}zone, policy: bench, secondaries: [s1] }`).join('\n')}
`,
);

const log = join(dir, 'hms.log');
const out = openSync(log, 'a');
const started = performance.now();
const child = spawn(process.execPath, [HMS, 'run', '--config', join(dir, 'hms.yaml')], { cwd: dir, env, stdio: ['ignore', out, out] });
closeSync(out);
const exited = new Promise<void>((done) => child.on('exit', () => done()));
let signed = 0;
let worst = { rssMiB: 0, peakMiB: 0, threads: 0, fds: 0 };
let ok = false;
try {
  while (performance.now() - started < TIMEOUT_MS && child.exitCode === null) {
    await delay(250);
    signed = new Set([...readFileSync(log, 'utf8').matchAll(/"zone":"([^"]+)"[^\n]*"msg":"zone signed and published"/g)].map((m) => m[1])).size;
    const u = usage(child.pid!);
    worst = { rssMiB: Math.max(worst.rssMiB, u.rssMiB), peakMiB: u.peakMiB, threads: Math.max(worst.threads, u.threads), fds: Math.max(worst.fds, u.fds) };
    if (signed === ZONES) break;
  }
  const seconds = (performance.now() - started) / 1000;
  ok = signed === ZONES;
  await delay(2000);
  const after = usage(child.pid!);
  console.log(
    JSON.stringify({
      zones: ZONES,
      signed,
      startToAllSignedS: Math.round(seconds * 10) / 10,
      after,
      mostSeenWhileSigning: { threads: worst.threads, fds: worst.fds, rssMiB: worst.rssMiB },
      load: loadavg().map((l) => Math.round(l * 100) / 100),
      hms: HMS,
    }),
  );
} finally {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
  if (ok && !args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
process.exitCode = ok ? 0 : 1;

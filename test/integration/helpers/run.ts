import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../../..');
export const HMS = join(ROOT, 'dist/src/cli/main.js');

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion, bounded in time; never through a shell. */
export function run(cmd: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd ?? ROOT,
    encoding: 'latin1',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the built `hms` binary (npm test builds it first). */
export function hms(args: readonly string[], cwd?: string): RunResult {
  return run(process.execPath, [HMS, ...args], cwd === undefined ? {} : { cwd });
}

/** Fails loudly when a tool that the set-up installs is missing: no silent skips. */
export function requireTool(name: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name} is not installed: run scripts/setup first`);
}

/**
 * The validator script: the project's copy of ../shared/tools/verify-signed-zone (the same
 * three validators and output), so that a clone needs nothing beside it.
 */
export const VERIFY_SIGNED_ZONE = join(ROOT, 'scripts/verify-signed-zone');

/** dnssec-verify, ldns-verify-zone and kzonecheck on a signed zone file: their PASS/FAIL lines. */
export function verifySignedZone(origin: string, file: string): string {
  for (const tool of ['dnssec-verify', 'ldns-verify-zone', 'kzonecheck']) requireTool(tool);
  return run(VERIFY_SIGNED_ZONE, [origin, file]).stdout;
}

/**
 * As run, without blocking the event loop: for clients of a server that runs in the test
 * process itself.
 */
export function runAsync(cmd: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const settings = {
      cwd: ROOT,
      encoding: 'latin1' as const,
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 256 * 1024 * 1024,
      ...(options.env === undefined ? {} : { env: options.env }),
    };
    execFile(cmd, args, settings, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(new Error(`${cmd}: ${error.message}`, { cause: error }));
      else resolve({ status: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}

/**
 * Checks every signed version a service left in its data folder (`<data>/signed/ZONE.signed`)
 * with dnssec-verify, ldns-verify-zone and kzonecheck; returns a line per zone for a failure.
 */
export function verifyServiceOutput(dataDir: string): string[] {
  const dir = join(dataDir, 'signed');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.signed'))
    .flatMap((f) => {
      const zone = f.slice(0, -'.signed'.length);
      const result = verifySignedZone(zone, join(dir, f)).trim();
      return result === 'PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck' ? [] : [`${zone}: ${result}`];
    });
}

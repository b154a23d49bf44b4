import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HMS } from './run.js';

/** Runs `cmd` in `cwd`; its output, trimmed; a throw naming the command when it fails. */
export function sh(cmd: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The key tags of the DNSKEY records at the apex of a zone file, sorted as text (dnssec-dsfromkey computes them; `cwd` takes a scratch file). */
export function dnskeyTags(file: string, zone: string, cwd: string): string[] {
  const lines = readFileSync(file, 'latin1')
    .split('\n')
    .filter((l) => new RegExp(`^${zone.replace(/\./g, '\\.')}\\.\\s+\\d+\\s+IN\\s+DNSKEY\\s`).test(l));
  writeFileSync(join(cwd, 'dnskeys.tmp'), `${lines.join('\n')}\n`);
  return sh('dnssec-dsfromkey', ['-A', '-2', '-f', 'dnskeys.tmp', zone], cwd)
    .split('\n')
    .map((l) => l.split(/\s+/)[3]!)
    .sort();
}

/**
 * `hms ARGS` (HMS_CONFIG `config`) under gdb, SIGKILLed at a PKCS#11 call `fn`: at its `hit`th
 * call, before it runs (`after: false`), or once that call has returned (`after: true`),
 * before any JavaScript runs again. `qualified`: only the module's exported C function
 * (SoftHSM's), not pkcs11js's wrapper of the same name, so that each call is one hit.
 * Returns gdb's output (stdout and stderr).
 */
export function killedInCall(
  fn: string,
  args: readonly string[],
  o: { readonly config: string; readonly after: boolean; readonly hit?: number; readonly qualified?: boolean },
): string {
  const skip = Array.from({ length: (o.hit ?? 1) - 1 }, () => ['-ex', 'continue']).flat();
  const stop = o.after ? ['-ex', 'delete', '-ex', 'finish', '-ex', 'kill'] : ['-ex', 'kill'];
  const r = spawnSync(
    'gdb',
    [
      '-q',
      '-batch',
      '-nx',
      '-ex',
      'set breakpoint pending on',
      '-ex',
      'handle SIGUSR1 SIGUSR2 SIGPIPE nostop noprint pass',
      '-ex',
      `break ${o.qualified === true ? '-qualified ' : ''}${fn}`,
      '-ex',
      'run',
      ...skip,
      ...stop,
      '--args',
      process.execPath,
      HMS,
      ...args,
    ],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HMS_CONFIG: o.config } },
  );
  return `${r.stdout}${r.stderr}`;
}

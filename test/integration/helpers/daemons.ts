import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect } from 'vitest';
import { knotSecondaryConf, type KnotSecondaryOptions } from '../../../scripts/lab/configs.js';
import { HMS, verifyServiceOutput } from './run.js';

/** A port in the high range (servers of ours listen on port 0 where they can). */
export function highPort(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

/**
 * named's line once every zone is loaded and it serves: `… running` alone at the end of a line.
 * (`/running/` would match "running on Linux" at its very start, before any zone is loaded.)
 */
export const NAMED_RUNNING = /\d\d:\d\d:\d\d\.\d+ running$/m;

/** A server process with its output so far; `waitFor` resolves once a pattern shows (bounded). */
export interface Daemon {
  readonly child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a server process and resolves once `ready` shows in its output; bounded in time. */
export async function startDaemon(
  cmd: string,
  args: readonly string[],
  ready: RegExp,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; registry?: Daemon[] } = {},
): Promise<Daemon> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  let text = '';
  const listeners = new Set<() => void>();
  const seen = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout.on('data', seen);
  child.stderr.on('data', seen);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      for (const l of listeners) l();
      resolve(code);
    }),
  );
  const daemon: Daemon = {
    child,
    output: () => text,
    waitFor: (pattern, timeoutMs = 30_000, from = 0) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(text.slice(from))) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(text);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`${cmd} exited (${child.exitCode ?? child.signalCode}) before '${pattern.source}':\n${text.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${cmd}: no '${pattern.source}' within ${timeoutMs} ms:\n${text.slice(-4000)}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return child.exitCode;
    },
  };
  options.registry?.push(daemon);
  await daemon.waitFor(ready, options.timeoutMs ?? 30_000);
  return daemon;
}

/** Starts `hms run --config config` and resolves once `ready` shows in its log (60 s unless told). */
export function startHmsRun(
  config: string,
  ready: RegExp,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; registry?: Daemon[] } = {},
): Promise<Daemon> {
  return startDaemon('node', [HMS, 'run', '--config', config], ready, { timeoutMs: 60_000, ...options });
}

/**
 * The hooks of a test file that runs `hms run` in the folder `test().tmp`: after each test,
 * every signed version left in its `state` folder passes dnssec-verify, ldns-verify-zone and
 * kzonecheck; after all, every server in `daemons` is stopped, the token dropped and the
 * folder removed.
 */
export function afterServiceTests(daemons: readonly Daemon[], test: () => { tmp: string | undefined; token: { dispose(): void } | undefined }): void {
  afterEach(() => {
    expect([...verifyServiceOutput(join(test().tmp!, 'state'))]).toEqual([]);
  });
  afterAll(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    const { tmp, token } = test();
    token?.dispose();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });
}

export interface NamedSecondaryOptions {
  zone: string;
  port: number;
  source: string;
  primary: { address: string; port: number };
  secret: string;
  allowNotify?: boolean;
  querylog?: boolean;
}

/**
 * A BIND 9 secondary of `zone` on 127.0.0.1:`port`, transferring from `primary` with TSIG
 * hmac-sha256 from the source address `source`. It accepts NOTIFY from the primary's address
 * (`allow-notify`), or with `allowNotify: false` as BIND does by default: from its primaries
 * only. `querylog` logs every query it answers, with the client's address.
 */
export function namedSecondaryConf(dir: string, o: NamedSecondaryOptions): string {
  return writeNamedConf(
    dir,
    o.port,
    `  query-source address ${o.source};${o.querylog === true ? '\n  querylog yes;' : ''}
  transfer-source ${o.source};
  notify-source ${o.source};
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { any; };
};
controls { };
key "xfr-key" { algorithm hmac-sha256; secret "${o.secret}"; };
zone "${o.zone}" {
  type secondary;
  primaries { ${o.primary.address} port ${o.primary.port} key "xfr-key"; };${o.allowNotify === false ? '' : `\n  allow-notify { ${o.primary.address}; };`}
  file "${dir}/${o.zone}.zone";
};
`,
  );
}

export { knotSecondaryConf };

/** Starts a Knot DNS secondary (knotSecondaryConf) in `dir` and waits for its first AXFR from the primary. */
export function startKnotSecondary(dir: string, o: KnotSecondaryOptions, options: { registry: Daemon[]; timeoutMs?: number }): Promise<Daemon> {
  return startDaemon('knotd', ['-c', knotSecondaryConf(dir, o)], /AXFR, incoming, remote [\d.:]+@\d+.*finished/, options);
}

/** Starts a BIND 9 secondary (namedSecondaryConf) in `dir` and waits for its first transfer of the zone. */
export function startNamedSecondary(
  dir: string,
  o: NamedSecondaryOptions,
  options: { registry: Daemon[]; timeoutMs?: number; debugLevel?: number },
): Promise<Daemon> {
  const zone = o.zone.replace(/\./g, '\\.');
  const debug = options.debugLevel === undefined ? [] : ['-d', String(options.debugLevel)];
  return startDaemon(
    'named',
    ['-g', ...debug, '-c', namedSecondaryConf(dir, o)],
    new RegExp(`transfer of '${zone}/IN' from [\\d.:]+#\\d+: Transfer status: success`),
    options,
  );
}

/**
 * A BIND 9 primary of `zone` (from `zoneFile`) on 127.0.0.1:`port`: transfers and dynamic
 * updates with the TSIG key `up-key` (hmac-sha256) only; NOTIFY only to `notify`, if given.
 */
export function namedPrimaryConf(
  dir: string,
  o: { zone: string; port: number; zoneFile: string; secret: string; notify?: { address: string; port: number } },
): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(o.zoneFile, join(dir, `${o.zone}.zone`));
  return writeNamedConf(
    dir,
    o.port,
    `  recursion no;
  notify ${o.notify === undefined ? 'no' : 'explicit'};
};
controls { };
key "up-key" { algorithm hmac-sha256; secret "${o.secret}"; };
zone "${o.zone}" {
  type primary;
  file "${dir}/${o.zone}.zone";
  allow-transfer { key "up-key"; };
  allow-update { key "up-key"; };${o.notify === undefined ? '' : `\n  also-notify { ${o.notify.address} port ${o.notify.port} key "up-key"; };`}
};
`,
  );
}

/** A BIND 9 authoritative server on 127.0.0.1:`port` for `zones` (each loaded from its file as it is: signed or not), answering anyone. */
export function namedAuthoritativeConf(dir: string, o: { port: number; zones: readonly { name: string; file: string }[] }): string {
  return writeNamedConf(
    dir,
    o.port,
    `  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
${o.zones.map((z) => `zone "${z.name}" { type primary; file "${z.file}"; };`).join('\n')}
`,
  );
}

/**
 * A BIND 9 validating resolver on 127.0.0.1:`port` for loopback clients: it forwards every
 * question to `forwarder` (no root, no Internet) and validates from the trust anchors given as
 * DS records (`zone. IN DS tag alg digest-type hex`, as `hms sign` prints them); names under
 * no anchor are insecure.
 */
export function namedResolverConf(dir: string, o: { port: number; forwarder: { address: string; port: number }; anchors: readonly string[] }): string {
  const anchors = o.anchors.map((ds) => {
    const [owner, , , tag, alg, digestType, ...digest] = ds.split(/\s+/);
    return `  ${owner} static-ds ${tag} ${alg} ${digestType} "${digest.join('')}";`;
  });
  return writeNamedConf(
    dir,
    o.port,
    `  recursion yes;
  allow-recursion { 127.0.0.1; };
  allow-query { 127.0.0.1; };
  forwarders { ${o.forwarder.address} port ${o.forwarder.port}; };
  forward only;
  dnssec-validation yes;
  notify no;
};
controls { };
trust-anchors {
${anchors.join('\n')}
};
`,
  );
}

/** Writes `dir`/named.conf: named's own files in `dir`, listening on 127.0.0.1:`port` only, then `rest` (more options, closing the block). */
export function writeNamedConf(dir: string, port: number, rest: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'named.conf');
  writeFileSync(
    file,
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
${rest}`,
  );
  return file;
}

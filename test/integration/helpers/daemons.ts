import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A server process started by a test: its output so far, a wait for a line, and a stop. */
export interface Daemon {
  readonly child: ChildProcess;
  /** Everything it has written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the output once `pattern` shows in it; rejects after `timeoutMs` or when it exits. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): void;
}

/** A port in the high range for a server a test starts (our own servers listen on port 0). */
export function highPort(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

/** Starts a server process (never through a shell); stop it in afterAll. */
export function startDaemon(cmd: string, args: readonly string[]): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const seen = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    for (const l of [...listeners]) l();
  };
  child.stdout.on('data', seen);
  child.stderr.on('data', seen);
  child.on('exit', () => {
    for (const l of [...listeners]) l();
  });
  return {
    child,
    output: () => output,
    waitFor: (pattern, timeoutMs = 30_000) => new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error === undefined) resolve(output);
        else reject(error);
      };
      const check = (): void => {
        if (pattern.test(output)) done();
        else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`${cmd} exited (${child.exitCode ?? child.signalCode}) before '${pattern.source}':\n${output}`));
      };
      const timer = setTimeout(() => done(new Error(`${cmd}: no '${pattern.source}' within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      listeners.add(check);
      check();
    }),
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Where a secondary listens and transfers from, and the primary it takes the zone from. */
export interface SecondarySetup {
  /** A folder of its own (created here). */
  readonly dir: string;
  /** Its listening port (on `listen`). */
  readonly port: number;
  readonly listen: string;
  /** The address its transfers come from (the one our ACL lists). */
  readonly source: string;
  readonly primaryPort: number;
  /** The hmac-sha256 secret of the key `xfr-key`. */
  readonly secret: string;
  readonly zone: string;
  /** named's debug level (`-d`): 3 logs which kind of transfer it asks for. */
  readonly debugLevel?: number;
}

/** Starts BIND 9 `named` as a secondary of 127.0.0.1 (TSIG `xfr-key`), in the foreground, logging to stderr. */
export function startNamedSecondary(s: SecondarySetup): Daemon {
  mkdirSync(s.dir, { recursive: true });
  writeFileSync(join(s.dir, 'named.conf'), `options {
  directory "${s.dir}";
  pid-file "${s.dir}/named.pid";
  listen-on port ${s.port} { ${s.listen}; };
  listen-on-v6 { none; };
  query-source address ${s.source};
  transfer-source ${s.source};
  notify-source ${s.source};
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
key "xfr-key" { algorithm hmac-sha256; secret "${s.secret}"; };
zone "${s.zone}" {
  type secondary;
  primaries { 127.0.0.1 port ${s.primaryPort} key "xfr-key"; };
  file "${s.dir}/${s.zone}.zone";
  masterfile-format text;
  allow-transfer { key "xfr-key"; };
};
`);
  return startDaemon('named', ['-g', ...(s.debugLevel === undefined ? [] : ['-d', String(s.debugLevel)]), '-c', join(s.dir, 'named.conf')]);
}

/** Starts Knot DNS `knotd` as a secondary of 127.0.0.1 (TSIG `xfr-key`), logging to stderr. */
export function startKnotSecondary(s: SecondarySetup): Daemon {
  mkdirSync(s.dir, { recursive: true });
  writeFileSync(join(s.dir, 'knot.conf'), `server:
    rundir: "${s.dir}"
    listen: ${s.listen}@${s.port}
log:
  - target: stderr
    any: info
database:
    storage: "${s.dir}"
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: ${s.secret}
remote:
  - id: hms
    address: 127.0.0.1@${s.primaryPort}
    via: ${s.source}
    key: xfr-key
acl:
  - id: from-hms
    address: 127.0.0.1
    key: xfr-key
    action: [notify, transfer]
template:
  - id: default
    storage: "${s.dir}"
zone:
  - domain: ${s.zone}
    master: hms
    acl: from-hms
`);
  return startDaemon('knotd', ['-c', join(s.dir, 'knot.conf')]);
}

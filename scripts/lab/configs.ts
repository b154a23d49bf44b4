/**
 * The configuration files of a lab on loopback, written once for the tests, the crash search
 * and the benchmarks: `hms run`'s configuration and a Knot DNS secondary's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** The repository (the scripts also run from dist/). */
export const REPOSITORY = join(import.meta.dirname, '../..').replace(/\/dist$/, '');

export interface LabSecondary {
  readonly address: string;
  /** Where its NOTIFY goes, `address:port`. */
  readonly notify: string;
  readonly key?: string;
}

export interface HmsConfigOptions {
  /** The SoftHSM token's label; its PIN is in the file `pin` beside the configuration. */
  readonly token: string;
  /** Where the transfer server listens, `address:port`. */
  readonly listen: string;
  /** The policy files (default: the repository's kasp/default.yaml). */
  readonly policies?: readonly string[];
  /** The lines under `access:` (default: the user running this as administrator). */
  readonly access?: string;
  /** Lines added under `service:` (e.g. `  control: ctl/hms.sock`). */
  readonly service?: string;
  /** TSIG keys by name, each with its secret file (default: xfr-key in xfr.secret). */
  readonly tsigKeys?: Readonly<Record<string, string>>;
  /** The secondaries by name (default: test-client on 127.0.0.1, its NOTIFY to port 9). */
  readonly secondaries?: Readonly<Record<string, LabSecondary>>;
  /** The example zone's line: its name, input file and policy; `false` leaves it out. */
  readonly example?: { readonly zone: string; readonly input: string; readonly policy: string } | false;
  /** Lines added under `zones:`. */
  readonly zones?: string;
}

/** `hms run`'s configuration for a lab: state in state/hms.db, signed versions under state/. */
export function hmsConfig(o: HmsConfigOptions): string {
  const policies = o.policies ?? [join(REPOSITORY, 'kasp/default.yaml')];
  const keys = o.tsigKeys ?? { 'xfr-key': 'xfr.secret' };
  const secondaries = o.secondaries ?? { 'test-client': { address: '127.0.0.1', notify: '127.0.0.1:9' } };
  const example = o.example ?? { zone: 'example.com', input: 'zones/example.com.zone', policy: 'dp' };
  const lines = [
    'state: state/hms.db',
    `policies: [${policies.join(', ')}]`,
    `hsm: { token: ${o.token}, pin-file: pin }`,
    'access:',
    (o.access ?? `  administrators: [user:${userInfo().username}]`).replace(/\n$/, ''),
    'service:',
    `  listen: ["${o.listen}"]`,
    '  data: state',
    ...(o.service === undefined ? [] : [o.service.replace(/\n$/, '')]),
    'tsig-keys:',
    ...Object.entries(keys).map(([name, file]) => `  ${name}: { algorithm: hmac-sha256, secret-file: ${file} }`),
    'secondaries:',
    ...Object.entries(secondaries).map(([name, s]) => `  ${name}: { address: ${s.address}, notify: "${s.notify}", key: ${s.key ?? 'xfr-key'} }`),
    'zones:',
    ...(example === false ? [] : [`  ${example.zone}: { input: ${example.input}, policy: ${example.policy} }`]),
  ];
  return `${lines.join('\n')}\n${o.zones ?? ''}`;
}

export interface KnotSecondaryOptions {
  readonly zone: string;
  /** Where it listens and transfers from. */
  readonly address: string;
  readonly port: number;
  readonly primary: { readonly address: string; readonly port: number };
  /** The hmac-sha256 secret of xfr-key, base64. */
  readonly secret: string;
  /** Its log level on stderr (default info). */
  readonly logLevel?: 'debug' | 'info' | 'notice' | 'warning' | 'error';
  /** Keep the zone in memory only: no zone file, no journal of its own (default false). */
  readonly memoryOnly?: boolean;
  /** Let 127.0.0.0/8 transfer the zone from it (default true). */
  readonly transferOut?: boolean;
}

/**
 * A Knot DNS secondary of `zone` on `address`@`port` in `dir`, transferring from `primary`
 * with TSIG hmac-sha256 and accepting NOTIFY from it. Returns the configuration file.
 */
export function knotSecondaryConf(dir: string, o: KnotSecondaryOptions): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'knot.conf');
  const transferOut = o.transferOut ?? true;
  writeFileSync(
    file,
    `server:
    rundir: "${dir}"
    listen: ${o.address}@${o.port}
log:
  - target: stderr
    any: ${o.logLevel ?? 'info'}
database:
    storage: "${dir}"
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: ${o.secret}
remote:
  - id: hms
    address: ${o.primary.address}@${o.primary.port}
    via: ${o.address}
    key: xfr-key
acl:
  - id: notify-from-hms
    address: ${o.primary.address}
    key: xfr-key
    action: notify
${
  transferOut
    ? `  - id: transfer-out
    address: 127.0.0.0/8
    action: transfer
`
    : ''
}template:
  - id: default
    storage: "${dir}"
zone:
  - domain: ${o.zone}
    master: hms
    acl: ${transferOut ? '[notify-from-hms, transfer-out]' : 'notify-from-hms'}
${
  o.memoryOnly === true
    ? `    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
`
    : ''
}`,
  );
  return file;
}

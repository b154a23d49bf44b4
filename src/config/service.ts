import { isIP } from 'node:net';
import { validate as validCron } from 'node-cron';
import type { Seconds } from '../common/clock.js';
import { quote, SignerError } from '../common/errors.js';
import { Name } from '../dns/name.js';
import { DEFAULT_ZONE_INPUT_LIMITS, type ZoneInputLimits } from '../dns/zonefile/parser.js';
import { makeTsigKey, parseTsigAlgorithm, type TsigKey } from '../dns/tsig.js';
import type { MapReader } from '../kasp/fields.js';
import { MAX_SECRET_OCTETS, readRegularTextFile } from '../files/regular-file.js';
import { readAlarmSinks, readMetricsListen, type AlarmSinkSettings } from './alarms.js';

/** An address and port, as written `127.0.0.1:53`, `[::1]:53` or a bare address (port 53). */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * A public secondary: the address it transfers from and the TSIG key it signs with (DP-3.2b,
 * DP-3.5a), and where its NOTIFY goes (`notify`; default the address, port 53).
 */
export interface Secondary {
  readonly name: string;
  readonly address: string;
  readonly key: string;
  readonly notify: Endpoint;
}

/** Where a zone's unsigned data comes from: a file, or an upstream primary by AXFR/IXFR. */
export type ZoneInput = { readonly kind: 'file'; readonly file: string } | { readonly kind: 'primary'; readonly primary: Endpoint; readonly key: string };

export interface ServiceZone {
  readonly name: string;
  readonly input: ZoneInput;
  readonly policy: string;
  /** The secondaries this zone goes to, by name. */
  readonly secondaries: readonly string[];
  /** Also write the signed zone here (optional). */
  readonly output?: string;
  /** The parent's name servers the automatic DS check asks (`hms ds check`; docs/parent.md). */
  readonly parentServers: readonly string[];
}

/**
 * The addresses the service's own requests leave from, one per address family: NOTIFY, the
 * SOA checks of the secondaries, the parent DS checks, and transfers from an upstream primary.
 * A family left out: the kernel chooses by its routes.
 */
export interface SourceAddresses {
  readonly ipv4?: string;
  readonly ipv6?: string;
}

/** What `hms run` needs beyond the CLI's settings. */
export interface ServiceConfig {
  /** Where the transfer server listens (UDP and TCP on each). */
  readonly listen: readonly Endpoint[];
  /** Where requests leave from (`source`; default the listen address when a family has exactly one). */
  readonly source: SourceAddresses;
  /** The service's own files: the signed versions, the journals, the control socket. */
  readonly data: string;
  /** The control socket `hms zone resign|reload` and `hms reload` talk to. */
  readonly control: string;
  /** The re-sign schedule, a cron expression (DP-4.4b: daily). */
  readonly resign: string;
  /** The zones' daily re-signs start over this long after the schedule fires, each at its own place (`resign-spread`). */
  readonly resignSpread: Seconds;
  /** Raise an alarm while the served signatures have less than this left (OPS-7). */
  readonly alarmValidity: Seconds;
  /** How many versions the IXFR journal keeps. */
  readonly journalVersions: number;
  /** How many octets of diffs the IXFR journal of each zone keeps (the oldest versions go first). */
  readonly journalBytes: number;
  /** The caps and timeouts of TCP peers of the transfer server, and how often refusals are summed up. */
  readonly transferLimits: TransferLimitSettings;
  /** What one zone's input may hold: octets over all its files, line length, $INCLUDE depth. */
  readonly zoneInput: ZoneInputLimits;
  readonly tsigKeys: readonly TsigKey[];
  readonly secondaries: readonly Secondary[];
  readonly zones: readonly ServiceZone[];
  /** Where alarms go (`alarms`; default the log) and the Prometheus endpoint (`metrics-listen`; default none): issue 19. */
  readonly alarms: readonly AlarmSinkSettings[];
  readonly metricsListen?: Endpoint;
  /** The monitor of the secondaries (issue 19): how often, how long each question may take, its thresholds. */
  readonly monitor: MonitorSettings;
}

/**
 * The `monitor-*` fields of the service section: the interval of the monitor inside `hms run`
 * (0: off), the bound on each question, the port the zone's NS set is asked at, and when a
 * serial lag, the smallest RRSIG validity left and a clock's skew warn and are critical (seconds).
 */
export interface MonitorSettings {
  readonly interval: Seconds;
  readonly timeoutMs: number;
  readonly nsPort: number;
  readonly serialLagWarning: Seconds;
  readonly serialLagCritical: Seconds;
  readonly validityWarning: Seconds;
  readonly validityCritical: Seconds;
  readonly clockWarning: Seconds;
  readonly clockCritical: Seconds;
}

function readMonitorSettings(s: MapReader): MonitorSettings {
  const pair = (name: string, warning: number, critical: number, worseAbove: boolean): [number, number] => {
    const w = s.duration(`monitor-${name}-warning`, warning);
    const c = s.duration(`monitor-${name}-critical`, critical);
    if (worseAbove ? c < w : c > w)
      s.complain(`monitor-${name}-critical`, `${c} s is ${worseAbove ? 'below' : 'above'} monitor-${name}-warning (${w} s): critical is the worse of the two`);
    return [w, c];
  };
  const interval = s.duration('monitor-interval', 300);
  const timeout = s.duration('monitor-timeout', 3);
  if (timeout < 1 || timeout > 60) s.complain('monitor-timeout', `expected from 1 s to 60 s, found ${timeout} s`);
  const [serialLagWarning, serialLagCritical] = pair('serial-lag', 1800, 6 * 3600, true);
  const [validityWarning, validityCritical] = pair('validity', 7 * 86400, 2 * 86400, false);
  const [clockWarning, clockCritical] = pair('clock', 30, 300, true);
  return {
    interval,
    timeoutMs: timeout * 1000,
    nsPort: s.integer('monitor-ns-port', 53, 1, 65535),
    serialLagWarning,
    serialLagCritical,
    validityWarning,
    validityCritical,
    clockWarning,
    clockCritical,
  };
}

/**
 * `tcp-max-clients`, `tcp-max-clients-per-address`, `tcp-idle-timeout`, `tcp-io-timeout` and
 * `refusal-log-interval` of the service section (issue 17 item 3; the names are Knot's).
 */
export interface TransferLimitSettings {
  readonly maxClients: number;
  readonly maxClientsPerAddress: number;
  readonly idleTimeoutMs: number;
  readonly ioTimeoutMs: number;
  readonly refusalLogIntervalMs: number;
}

/** Reads `host:port`, `[v6]:port` or a bare address; undefined when it is neither. */
export function parseEndpoint(text: string, defaultPort = 53): Endpoint | undefined {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(text);
  const [address, port] = v6 !== null ? [v6[1]!, v6[2]] : v4 !== null ? [v4[1]!, v4[2]] : isIP(text) === 6 ? [text, undefined] : ['', undefined];
  if (isIP(address) === 0) return undefined;
  const n = port === undefined ? defaultPort : Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) return undefined;
  return { address, port: n };
}

/** `0.0.0.0` or `::`: any address, which leaves the choice to the kernel. */
function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || /^[0:]+$/.test(address);
}

/**
 * `service.source`: an address per family, checked to be of that family. A family not written
 * takes the listen address when exactly one of that family is listened on (a secondary may
 * take NOTIFY only from the address it transfers from); `0.0.0.0` or `::` leaves it to the kernel.
 */
function readSource(r: MapReader, listen: readonly Endpoint[]): SourceAddresses {
  const pick = (key: 'ipv4' | 'ipv6', family: 4 | 6): string | undefined => {
    const text = r.string(key, '');
    if (r.has(key)) {
      if (isIP(text) === family) return isUnspecified(text) ? undefined : text;
      r.complain(key, `${quote(text)} is not an IPv${family} address (an address only: requests leave from any free port)`);
      return undefined;
    }
    const own = listen.filter((e) => isIP(e.address) === family);
    return own.length === 1 && !isUnspecified(own[0]!.address) ? own[0]!.address : undefined;
  };
  const ipv4 = pick('ipv4', 4);
  const ipv6 = pick('ipv6', 6);
  r.finish();
  return { ...(ipv4 === undefined ? {} : { ipv4 }), ...(ipv6 === undefined ? {} : { ipv6 }) };
}

/** The source addresses as the start of the service logs them: each family's address, or who chooses. */
export function describeSource(source: SourceAddresses): { ipv4: string; ipv6: string } {
  return { ipv4: source.ipv4 ?? 'chosen by the kernel', ipv6: source.ipv6 ?? 'chosen by the kernel' };
}

/**
 * A TSIG secret from its own file (base64, one line): the file must be readable by its owner
 * only, like the PIN file. The secret never appears in a message.
 */
function readSecret(file: string): string {
  return readRegularTextFile(file, 'TSIG secret file', MAX_SECRET_OCTETS, ({ mode }) => {
    if ((mode & 0o077) !== 0) throw new SignerError('CONFIG', `${file} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
  }).trim();
}

/** Reads the service sections of the configuration; problems go to the reader's list. */
export function readServiceConfig(r: MapReader, path: (p: string) => string, stateFile: string, readSecrets = true): ServiceConfig {
  const s = r.sub('service');
  const listen = s.strings('listen').flatMap((text) => {
    const e = parseEndpoint(text);
    if (e === undefined) s.complain('listen', `${quote(text)} is not ADDRESS, ADDRESS:PORT or [IPv6]:PORT`);
    return e === undefined ? [] : [e];
  });
  const source = readSource(s.sub('source'), listen);
  const data = path(s.string('data', stateFile.replace(/\/[^/]*$/, '') || '.'));
  const control = path(s.string('control', `${data}/hms.sock`));
  const resign = s.string('resign', '17 3 * * *');
  if (!validCron(resign)) s.complain('resign', `${quote(resign)} is not a cron expression (minute hour day month weekday)`);
  const resignSpread = s.duration('resign-spread', 3600);
  if (resignSpread >= 86400) s.complain('resign-spread', `${resignSpread} s: the daily re-signs must start within a day (at most 23h59m59s)`);
  const alarm = s.duration('alarm-validity', 7 * 86400);
  const journalVersions = s.integer('journal-versions', 30, 1, 10_000);
  const journalBytes = s.size('journal-size', 256 * 1024 ** 2, 64 * 1024, 4 * 1024 ** 3);
  const transferLimits = readTransferLimits(s);
  const monitor = readMonitorSettings(s);
  const zoneInput: ZoneInputLimits = {
    maxOctets: s.size('zone-input-max-size', DEFAULT_ZONE_INPUT_LIMITS.maxOctets, 1024, 2 ** 50),
    maxLine: s.size('zone-input-max-line', DEFAULT_ZONE_INPUT_LIMITS.maxLine, 1024, 2 ** 30),
    maxIncludeDepth: s.integer('zone-input-max-include-depth', DEFAULT_ZONE_INPUT_LIMITS.maxIncludeDepth, 0, 100),
  };
  const alarms = readAlarmSinks(s);
  const metricsListen = readMetricsListen(s);
  s.finish();

  const tsigKeys: TsigKey[] = [];
  /** Every key written, good or refused: a refused key is reported once, where it is written. */
  const declared = new Set<string>();
  const known = (key: string): boolean => declared.has(key.toLowerCase().replace(/\.$/, ''));
  for (const { name, reader } of r.keys('tsig-keys')) {
    declared.add(name.toLowerCase().replace(/\.$/, ''));
    const algorithm = reader.string('algorithm', 'hmac-sha256');
    const secretFile = reader.has('secret-file') ? path(reader.string('secret-file', '')) : undefined;
    if (reader.has('secret'))
      reader.complain('secret', 'a TSIG secret is never written in the configuration: put it in a file only its owner can read (secret-file)');
    reader.field('secret');
    try {
      if (secretFile === undefined) {
        parseTsigAlgorithm(algorithm);
        reader.complain('secret-file', 'missing: the file holding the base64 secret');
      } else if (!readSecrets) {
        parseTsigAlgorithm(algorithm);
      } else {
        tsigKeys.push(makeTsigKey(name, algorithm, readSecret(secretFile)));
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      reader.complain(
        /algorithm/i.test(message) ? 'algorithm' : 'secret-file',
        secretFile !== undefined && !/algorithm/i.test(message) && !message.startsWith(secretFile) ? `${secretFile}: ${message}` : message,
      );
    }
    reader.finish();
  }

  const secondaries: Secondary[] = [];
  for (const { name, reader } of r.keys('secondaries')) {
    const address = reader.string('address', '');
    const at = isIP(address) === 0 ? undefined : address;
    const notifyText = reader.string('notify', '');
    const notify = notifyText === '' ? (at === undefined ? undefined : { address: at, port: 53 }) : parseEndpoint(notifyText);
    const key = reader.string('key', '');
    if (at === undefined) reader.complain('address', 'expected a single IP address (the one it transfers from)');
    if (notify === undefined && notifyText !== '') reader.complain('notify', `${quote(notifyText)} is not ADDRESS, ADDRESS:PORT or [IPv6]:PORT`);
    if (key === '') reader.complain('key', `missing: every transfer is TSIG-signed (DP-3.5a); name a key from tsig-keys`);
    else if (!known(key)) reader.complain('key', `no TSIG key ${quote(key)} in tsig-keys`);
    reader.finish();
    if (at !== undefined && notify !== undefined) secondaries.push({ name, address: at, key, notify });
  }

  const zones: ServiceZone[] = [];
  for (const { name, reader } of r.keys('zones')) {
    let origin: string;
    try {
      origin = Name.parse(name.endsWith('.') ? name : `${name}.`)
        .toLowerCase()
        .toString();
    } catch {
      reader.complain('input', `${quote(name)} is not a domain name`);
      continue;
    }
    const policy = reader.string('policy', 'dp');
    let input: ZoneInput | undefined;
    if (reader.has('input') === reader.has('primary')) reader.complain('input', 'give either input (a zone file) or primary (an upstream server), one of them');
    if (reader.has('input')) input = { kind: 'file', file: path(reader.string('input', '')) };
    const p = reader.sub('primary');
    if (reader.has('primary')) {
      const at = parseEndpoint(p.string('address', ''), p.integer('port', 53, 1, 65535));
      const key = p.string('key', '');
      if (at === undefined) p.complain('address', 'expected a single IP address');
      if (key === '' || !known(key)) p.complain('key', `name a TSIG key from tsig-keys: transfers from the primary are TSIG-signed too`);
      if (at !== undefined) input = { kind: 'primary', primary: at, key };
    }
    p.finish();
    const names = reader.has('secondaries') ? reader.strings('secondaries') : secondaries.map((x) => x.name);
    for (const n of names) if (!secondaries.some((x) => x.name === n)) reader.complain('secondaries', `no secondary ${quote(n)} in secondaries`);
    const output = reader.has('output') ? path(reader.string('output', '')) : undefined;
    const parentServers = reader.strings('parent-servers');
    for (const text of parentServers)
      if (parseEndpoint(text) === undefined) reader.complain('parent-servers', `${quote(text)} is not ADDRESS, ADDRESS:PORT or [IPv6]:PORT`);
    reader.finish();
    if (input !== undefined) zones.push({ name: origin, input, policy, secondaries: names, parentServers, ...(output === undefined ? {} : { output }) });
  }
  return {
    listen,
    source,
    data,
    control,
    resign,
    resignSpread,
    alarmValidity: alarm,
    journalVersions,
    journalBytes,
    transferLimits,
    zoneInput,
    tsigKeys,
    secondaries,
    zones,
    alarms,
    ...(metricsListen === undefined ? {} : { metricsListen }),
    monitor,
  };
}

/** The TCP caps and timeouts (defaults as the transfer server's: 256, 16, 10 s, 2 s, 60 s). */
function readTransferLimits(s: MapReader): TransferLimitSettings {
  const seconds = (key: string, fallback: number, min: number, max: number): number => {
    const value = s.duration(key, fallback);
    if (value >= min && value <= max) return value * 1000;
    s.complain(key, `expected from ${min} s to ${max} s, found ${value} s`);
    return fallback * 1000;
  };
  const maxClients = s.integer('tcp-max-clients', 256, 1, 100_000);
  return {
    maxClients,
    maxClientsPerAddress: s.integer('tcp-max-clients-per-address', Math.min(16, maxClients), 1, maxClients),
    idleTimeoutMs: seconds('tcp-idle-timeout', 10, 1, 3600),
    ioTimeoutMs: seconds('tcp-io-timeout', 2, 1, 600),
    refusalLogIntervalMs: seconds('refusal-log-interval', 60, 0, 86_400),
  };
}

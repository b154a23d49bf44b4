import { isMap, isScalar } from 'yaml';
import { quote } from '../common/errors.js';
import type { SyslogTarget } from '../enforcer/audit-witness.js';
import { MapReader, report, type FieldNode } from '../kasp/fields.js';
import { parseServer } from './audit.js';
import { parseEndpoint, type Endpoint } from './service.js';

/**
 * Where alarms go (`service.alarms`, a list; issue 19 item 3), each item one sink:
 *
 *     alarms:
 *       - log: {}
 *       - syslog: { server: logs.example.net:514, protocol: tcp, facility: local3 }
 *       - command: { run: [/usr/local/bin/page, --team, dns], timeout: 10s }
 *       - webhook: { url: https://hooks.example.net/hms, timeout: 10s }
 *
 * Left out: the log only. The sinks themselves are src/audit/alarm-sinks.ts.
 */
export type AlarmSinkSettings =
  | { readonly kind: 'log' }
  | { readonly kind: 'syslog'; readonly target: SyslogTarget; readonly facility: string; readonly timeoutMs: number }
  | { readonly kind: 'command'; readonly run: readonly string[]; readonly timeoutMs: number }
  | { readonly kind: 'webhook'; readonly url: string; readonly timeoutMs: number };

const KINDS = ['log', 'syslog', 'command', 'webhook'] as const;
const FACILITIES = /^(kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local[0-7])$/;
const DEFAULT_TIMEOUT = 10;
const MAX_TIMEOUT = 300;

/** `timeout` of a sink: from 1 s to 5 min, default 10 s; in milliseconds. */
function timeoutOf(r: MapReader): number {
  const value = r.duration('timeout', DEFAULT_TIMEOUT);
  if (value >= 1 && value <= MAX_TIMEOUT) return value * 1000;
  r.complain('timeout', `expected from 1 s to ${MAX_TIMEOUT} s, found ${value} s`);
  return DEFAULT_TIMEOUT * 1000;
}

function readSink(r: MapReader, item: FieldNode): AlarmSinkSettings | undefined {
  const written = r.map.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '?'));
  const kind = KINDS.find((k) => written.length === 1 && written[0] === k);
  if (kind === undefined) {
    report(
      r.scope,
      item,
      `expected one of ${KINDS.map((k) => `${k}: {...}`).join(', ')} (one per list item), found ${written.map((w) => quote(w)).join(', ') || 'an empty map'}`,
    );
    return undefined;
  }
  const f = r.field(kind)!;
  const s = isMap(f.node) ? MapReader.of(r.scope, f)! : undefined;
  if (s === undefined) {
    report(r.scope, f, `expected a map of settings (${kind}: {} for the defaults)`);
    return undefined;
  }
  let sink: AlarmSinkSettings | undefined;
  if (kind === 'log') sink = { kind };
  else if (kind === 'syslog') {
    let target: SyslogTarget = { kind: 'local' };
    if (s.has('server')) {
      const text = s.string('server', '');
      const server = parseServer(text);
      if (server === undefined) s.complain('server', `${quote(text)} is not HOST, HOST:PORT or [IPv6]:PORT`);
      const protocol = s.choice('protocol', 'udp', ['udp', 'tcp'] as const);
      if (server !== undefined) target = { kind: 'server', ...server, protocol };
    } else if (s.has('protocol')) s.complain('protocol', 'a protocol needs a server (left out: the local syslog)');
    const facility = s.string('facility', 'daemon');
    if (!FACILITIES.test(facility)) s.complain('facility', `${quote(facility)} is not a syslog facility (daemon, local0 ... local7, ...)`);
    sink = { kind, target, facility, timeoutMs: timeoutOf(s) };
  } else if (kind === 'command') {
    const run = s.strings('run');
    if (run.length === 0 || run[0] === '') s.complain('run', 'give the command as a list: [program, argument, ...] (it runs without a shell)');
    else if (!run[0]!.startsWith('/')) s.complain('run', `${quote(run[0]!)}: give the program's absolute path`);
    sink = { kind, run, timeoutMs: timeoutOf(s) };
  } else {
    const text = s.string('url', '');
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
      s.complain('url', text === '' ? 'missing: the http:// or https:// address the alarms are POSTed to' : `${quote(text)} is not an http:// or https:// URL`);
    sink = { kind, url: text, timeoutMs: timeoutOf(s) };
  }
  s.finish();
  return sink;
}

/** Reads `alarms` of the service section; problems go to the reader's list with their line. */
export function readAlarmSinks(s: MapReader): AlarmSinkSettings[] {
  const problemsBefore = s.scope.problems.list.length;
  const sinks = s.list('alarms', (item) => {
    if (!isMap(item.node)) {
      report(s.scope, item, `expected a map such as {log: {}}, {syslog: {server: HOST:PORT}}, {command: {run: [...]}} or {webhook: {url: ...}}`);
      return undefined;
    }
    return readSink(new MapReader(s.scope, item.node, item.path, item.at), item);
  });
  if (sinks === undefined) return [{ kind: 'log' }];
  if (sinks.length === 0 && s.scope.problems.list.length === problemsBefore)
    s.complain('alarms', 'an empty list: name at least one sink (log: {} for the log)');
  return sinks;
}

/** Reads `metrics-listen` (ADDRESS:PORT, [IPv6]:PORT; default port 9153); undefined: no metrics endpoint (the default). */
export function readMetricsListen(s: MapReader): Endpoint | undefined {
  if (!s.has('metrics-listen')) {
    s.field('metrics-listen');
    return undefined;
  }
  const text = s.string('metrics-listen', '');
  const at = parseEndpoint(text, 9153);
  if (at === undefined) s.complain('metrics-listen', `${quote(text)} is not ADDRESS, ADDRESS:PORT or [IPv6]:PORT (an internal address: 127.0.0.1:9153)`);
  return at;
}

import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { AlarmEvent, AlarmSink } from '../common/alarms.js';
import { isoSeconds } from '../common/clock.js';
import type { SyslogTarget } from '../enforcer/audit-witness.js';

/**
 * The sinks alarms go to (issue 19 item 3): the log, syslog (RFC 5424, to a remote collector:
 * the separate log system of DK-16), a command and a webhook. Each delivers one event and
 * rejects when it could not; the AlarmBoard reports that and the other sinks still hear.
 * Every delivery is bounded in time.
 */

/** How long a command, logger(1) or a webhook may take by default. */
export const DEFAULT_SINK_TIMEOUT_MS = 10_000;

/** The event as the command and the webhook receive it: JSON, times in UTC. */
export function alarmEventJson(event: AlarmEvent): Record<string, unknown> {
  const a = event.alarm;
  return {
    state: event.state,
    key: a.key,
    severity: a.severity,
    ...(a.zone === undefined ? {} : { zone: a.zone }),
    ...(a.server === undefined ? {} : { server: a.server }),
    message: a.message,
    at: isoSeconds(event.at),
    ...(event.raisedFor === undefined ? {} : { raisedFor: event.raisedFor }),
    ...(a.details === undefined ? {} : { details: a.details }),
  };
}

/**
 * Runs `argv` (no shell) with `stdin` on its standard input, bounded: killed after `timeoutMs`.
 * Rejects when it cannot start, exits other than 0, or is killed, with its standard error.
 */
export function runBounded(argv: readonly string[], o: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: o.timeoutMs,
      killSignal: 'SIGKILL',
      ...(o.env === undefined ? {} : { env: o.env }),
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 2000) stderr += d;
    });
    // a command that does not read its input closes the pipe: that is no failure of ours
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.stdin ?? '');
    child.on('error', (e) => reject(new Error(`${argv[0]} did not start: ${e.message}`)));
    child.on('close', (code, signal) => {
      const said = stderr.trim() === '' ? '' : `: ${stderr.trim().slice(0, 500)}`;
      if (signal !== null) reject(new Error(`${argv[0]} was stopped (${signal}${signal === 'SIGKILL' ? `, after ${o.timeoutMs} ms at most` : ''})${said}`));
      else if (code !== null && code > 0) reject(new Error(`${argv[0]} exited ${code}${said}`));
      else if (code === 0) resolve();
      // a negative code is a start that failed: 'error' has said so
    });
  });
}

/** Syslog facilities by name (RFC 5424 section 6.2.1), as logger(1) takes them. */
export const SYSLOG_FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;
export type SyslogFacility = (typeof SYSLOG_FACILITIES)[number];

/** The APP-NAME of alarm lines, and their SD-ID (32473 is the enterprise number RFC 5612 sets aside for examples and private use). */
export const ALARM_SYSLOG_TAG = 'hms-alarm';
export const ALARM_SD_ID = 'hmsAlarm@32473';

/** A value inside an SD-PARAM: `"`, `\` and `]` escaped with a backslash (RFC 5424 section 6.3.3). */
export function sdValue(text: string): string {
  return text.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/**
 * logger(1)'s arguments for an alarm event: RFC 5424 (`--rfc5424`), its timestamp in UTC (the
 * process runs with TZ=UTC), the severity crit for a critical alarm raised, warning for a
 * warning, notice for a clear; MSGID the state; the structured data names the alarm, its
 * state and severity, the zone and the server.
 */
export function alarmLoggerArguments(target: SyslogTarget, facility: SyslogFacility, event: AlarmEvent): string[] {
  const a = event.alarm;
  const level = event.state === 'cleared' ? 'notice' : a.severity === 'critical' ? 'crit' : 'warning';
  const args = ['--rfc5424', '--tag', ALARM_SYSLOG_TAG, `--id=${process.pid}`, '--priority', `${facility}.${level}`, '--msgid', event.state];
  if (target.kind === 'server') args.push('--server', target.host, '--port', String(target.port), target.protocol === 'tcp' ? '--tcp' : '--udp');
  const params: [string, string | undefined][] = [
    ['key', a.key],
    ['state', event.state],
    ['severity', a.severity],
    ['zone', a.zone],
    ['server', a.server],
    ['raisedFor', event.raisedFor === undefined ? undefined : String(event.raisedFor)],
  ];
  args.push('--sd-id', ALARM_SD_ID);
  for (const [name, value] of params) if (value !== undefined) args.push('--sd-param', `${name}="${sdValue(value)}"`);
  const prefix = event.state === 'cleared' ? 'cleared' : a.severity === 'critical' ? 'CRITICAL' : 'WARNING';
  args.push('--', `${prefix}: ${a.message}`);
  return args;
}

/**
 * Syslog in RFC 5424 through util-linux logger(1), as the audit copy goes (src/audit/syslog.ts):
 * to a collector by UDP or TCP, or to the local syslog. The message holds no secret.
 */
export function syslogAlarmSink(target: SyslogTarget, facility: SyslogFacility, timeoutMs = DEFAULT_SINK_TIMEOUT_MS): AlarmSink {
  return {
    name: target.kind === 'server' ? `syslog ${target.host}:${target.port}/${target.protocol}` : 'syslog (local)',
    deliver: (event) =>
      runBounded(['logger', ...alarmLoggerArguments(target, facility, event)], { timeoutMs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC' } }),
  };
}

/** The environment a command is given: the event as HMS_ALARM_* variables, PATH and nothing else of ours. */
export function alarmEnvironment(event: AlarmEvent): NodeJS.ProcessEnv {
  const a = event.alarm;
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TZ: 'UTC',
    HMS_ALARM_STATE: event.state,
    HMS_ALARM_KEY: a.key,
    HMS_ALARM_SEVERITY: a.severity,
    HMS_ALARM_ZONE: a.zone ?? '',
    HMS_ALARM_SERVER: a.server ?? '',
    HMS_ALARM_MESSAGE: a.message,
    HMS_ALARM_AT: isoSeconds(event.at),
  };
}

/** A command (argv, no shell): the event as JSON on its standard input and in HMS_ALARM_* variables; killed after `timeoutMs`. */
export function commandAlarmSink(argv: readonly string[], timeoutMs = DEFAULT_SINK_TIMEOUT_MS): AlarmSink {
  return {
    name: `command ${argv[0]}`,
    deliver: (event) => runBounded(argv, { stdin: `${JSON.stringify(alarmEventJson(event))}\n`, env: alarmEnvironment(event), timeoutMs }),
  };
}

/**
 * A webhook: the event as JSON in an HTTP(S) POST, answered 2xx within `timeoutMs`. The sink
 * is named by the URL's origin only: its path may hold a token.
 */
export function webhookAlarmSink(url: string, timeoutMs = DEFAULT_SINK_TIMEOUT_MS): AlarmSink {
  const name = `webhook ${new URL(url).origin}`;
  return {
    name,
    async deliver(event) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'hms' },
          body: JSON.stringify(alarmEventJson(event)),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'error',
        });
      } catch (e) {
        const why = e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e instanceof Error ? causeOf(e) : String(e);
        throw new Error(`${name}: ${why}`);
      }
      // the body is read (bounded by the same signal) so that the connection is released
      await response.arrayBuffer().catch(() => undefined);
      if (response.status < 200 || response.status > 299) throw new Error(`${name}: answered HTTP ${response.status} ${response.statusText}`);
    },
  };
}

/** fetch's TypeError says "fetch failed"; the reason is its cause. */
function causeOf(e: Error): string {
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
}

/**
 * The AlarmBoard's `onSinkError`, rate-limited per sink: the first failure is logged at once,
 * later ones at most one line per `intervalMs`, counting those not logged. A sink that keeps
 * failing never floods the log.
 */
export function sinkErrorReporter(log: Logger, intervalMs = 60_000, nowMs: () => number = Date.now): (sink: string, event: AlarmEvent, error: unknown) => void {
  const last = new Map<string, { at: number; unlogged: number }>();
  return (sink, event, error) => {
    const now = nowMs();
    const seen = last.get(sink);
    if (seen !== undefined && now - seen.at < intervalMs) {
      seen.unlogged++;
      return;
    }
    last.set(sink, { at: now, unlogged: 0 });
    log.error(
      {
        sink,
        alarmKey: event.alarm.key,
        state: event.state,
        reason: error instanceof Error ? error.message : String(error),
        ...(seen === undefined || seen.unlogged === 0 ? {} : { notLogged: seen.unlogged }),
      },
      'alarm, a sink failed; the other sinks still hear',
    );
  };
}

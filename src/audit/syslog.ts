import { spawn } from 'node:child_process';
import type { AuditRecord, AuditSink } from '../enforcer/audit-chain.js';
import { formatSyslogMessage, type SyslogTarget } from '../enforcer/audit-witness.js';

/** The tag (APP-NAME) and priority of the lines; authpriv keeps them out of world-readable logs. */
export const SYSLOG_TAG = 'hms-audit';
const PRIORITY = 'authpriv.notice';
const TIMEOUT_MS = 10_000;

/** logger(1)'s arguments for a target; the messages go on its standard input, a line each. */
export function loggerArguments(target: SyslogTarget): string[] {
  const args = ['--tag', SYSLOG_TAG, '--priority', PRIORITY];
  if (target.kind === 'server') args.push('--server', target.host, '--port', String(target.port), target.protocol === 'tcp' ? '--tcp' : '--udp');
  return args;
}

/**
 * Sends each committed record's seq, hash, time, action, zone and actor to syslog through
 * util-linux logger(1): Node cannot open the datagram socket /dev/log itself, and logger
 * speaks to it, or to a server, as the system's own tools do. No shell; the message is one
 * argument after `--`, and holds no before/after value, so never a secret. logger runs on
 * its own: the record has committed already, so a failure is reported to `onError`, never
 * thrown, and a CLI that exits at once does not take the message with it. `onDelivered` hears
 * of each copy that logger(1) took (the service clears its alarm of an earlier failure).
 */
export function syslogSink(target: SyslogTarget, onError: (message: string) => void, onDelivered?: () => void): AuditSink {
  const args = loggerArguments(target);
  return (record: AuditRecord) => {
    const child = spawn('logger', [...args, '--', formatSyslogMessage(record)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: TIMEOUT_MS });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (e) => onError(`audit, syslog: logger(1) did not start for record ${record.seq}: ${e.message}`));
    child.on('close', (code, signal) => {
      // a negative code is a start that failed: 'error' has said so
      if (code !== null && code > 0) onError(`audit, syslog: logger(1) failed for record ${record.seq} (exit ${code}): ${stderr.trim()}`);
      else if (signal !== null) onError(`audit, syslog: logger(1) was stopped for record ${record.seq} (${signal})`);
      else if (code === 0) onDelivered?.();
    });
  };
}

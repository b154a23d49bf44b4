import { syslogSink } from '../audit/syslog.js';
import type { HmsConfig } from '../config/config.js';
import type { AuditRecord, AuditSink } from '../enforcer/audit-chain.js';
import { StateStore } from '../storage/state.js';

/**
 * Opens the state for a writer with the audit trail's outside copies (DP-2.4d, DP-2.4e):
 * the checkpoint file of the configuration, syslog when configured, and `logSink` (the
 * structured log) when given. Every writer opens the state this way, so no change escapes
 * the copies. A syslog failure is reported by `onSyslogError` (default: a process warning on
 * stderr); the change it records has committed already. `onSyslogDelivered` hears of each copy
 * delivered.
 */
export function openStateForWriting(
  config: HmsConfig,
  logSink?: AuditSink,
  onSyslogError: (message: string) => void = (message) => process.emitWarning(message),
  onSyslogDelivered?: () => void,
): StateStore {
  const sinks: AuditSink[] = [];
  if (logSink !== undefined) sinks.push(logSink);
  if (config.audit.syslog !== null) sinks.push(syslogSink(config.audit.syslog, onSyslogError, onSyslogDelivered));
  const auditSink =
    sinks.length === 0
      ? undefined
      : (record: AuditRecord): void => {
          for (const sink of sinks) sink(record);
        };
  return StateStore.open(config.state, { checkpoint: config.audit.checkpoint, ...(auditSink === undefined ? {} : { auditSink }) });
}

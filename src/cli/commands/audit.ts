import type { Command } from 'commander';
import { canonicalJson } from '../../common/canonical-json.js';
import { isoSeconds, parseUtcTime, type UnixSeconds } from '../../common/clock.js';
import { AuditChainError, UsageError } from '../../common/errors.js';
import { defaultCheckpointPath } from '../../config/audit.js';
import type { AuditRecord } from '../../enforcer/audit-chain.js';
import { verifyAuditTrail, type AuditCopySource, type AuditTrailReport } from '../../service/audit-verify.js';
import { StateStore } from '../../storage/state.js';
import { out, outJson } from '../output.js';
import { perform } from '../request.js';
import { stateOption, statePath, stateSource } from '../state-file.js';

/** `--since`: an ISO 8601 date or time; without a zone designator it is UTC, never local time. */
export function parseSince(text: string): UnixSeconds {
  const at = parseUtcTime(text);
  if (at === undefined) throw new UsageError(`--since: '${text}' is not an ISO 8601 date or time (2025-01-31 or 2025-01-31T12:00Z)`);
  return at;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function formatRecord(r: AuditRecord): string[] {
  const why = [r.ticket === null ? '' : ` ticket ${r.ticket}`, r.comment === null ? '' : ` "${r.comment}"`].join('');
  const lines = [`${r.seq} ${isoSeconds(r.at)} ${r.actor} ${r.action} ${r.zone ?? '-'}${why}`];
  if (r.before !== null) lines.push(`    before ${canonicalJson(r.before)}`);
  if (r.after !== null) lines.push(`    after  ${canonicalJson(r.after)}`);
  return lines;
}

/** The state comes from the configuration (no --state, no HMS_STATE): the command is a request then. */
function fromConfiguration(opts: { state?: string; config?: string }): boolean {
  return opts.state === undefined && (process.env.HMS_STATE ?? '') === '' && (opts.config ?? process.env.HMS_CONFIG ?? '') !== '';
}

function printVerification(result: AuditTrailReport & { file: string }, json: boolean): void {
  if (json) {
    outJson(result);
    return;
  }
  for (const w of result.warnings) out(`warning: ${result.file}: ${w}`);
  const head = result.head === undefined ? '' : `; last record ${result.head.seq}, hash ${result.head.hash}`;
  const copies = result.copies.filter((c) => c.exists).map((c) => `${c.file} (${c.compared} line(s))`);
  const vouched = copies.length === 0 ? '' : `; outside copies agree up to record ${result.confirmedUpTo}: ${copies.join(', ')}`;
  out(`${result.file}: audit chain whole: ${result.checked} record(s) checked${head}${vouched}`);
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail: who changed what, when, under which ticket (DP-2.4)');

  stateOption(
    audit
      .command('verify')
      .description(
        'walk the hash chain of the audit trail and compare it with its copies outside the state (the checkpoint file, log files); exits 4 naming the first edited, missing or reordered record (DP-2.4d)',
      )
      .option(
        '--checkpoint <file>',
        "the checkpoint file (default: the configuration's audit.checkpoint, else <state folder>-audit/<state file>.checkpoint); repeat for rotated ones",
        collect,
        [],
      )
      .option('--log <file>', "a log file holding audit lines (hms's JSON log, or syslog lines tagged hms-audit); repeat for more", collect, [])
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: { state?: string; config?: string; checkpoint: string[]; log: string[]; json?: boolean }) => {
    if (fromConfiguration(opts) && opts.checkpoint.length === 0 && opts.log.length === 0) {
      // through the running service (or as a request here): an auditor needs no access to the state
      const { answer } = await perform(opts, 'audit.verify', {});
      printVerification(answer.result as unknown as AuditTrailReport & { file: string }, opts.json === true);
      return;
    }
    const { path, config } = stateSource(opts);
    const sources: AuditCopySource[] = [
      ...(opts.checkpoint.length > 0
        ? opts.checkpoint.map((file) => ({ file, kind: 'checkpoint' as const, explicit: true }))
        : [{ file: config?.audit.checkpoint ?? defaultCheckpointPath(path), kind: 'checkpoint' as const, explicit: false }]),
      ...opts.log.map((file) => ({ file, kind: 'log' as const, explicit: true })),
    ];
    const store = StateStore.open(path, { readonly: true });
    let result: AuditTrailReport;
    try {
      result = verifyAuditTrail(store, sources);
    } finally {
      store.close();
    }
    // a bad record goes out as an error: main.ts prints it (or {error} with --json) and exits 4
    if (result.firstBad !== undefined) throw new AuditChainError(path, result.firstBad, result.checked);
    printVerification({ file: path, ...result }, opts.json === true);
  });

  stateOption(
    audit
      .command('log')
      .description('list audit records, oldest first')
      .option('--zone <zone>', 'only records of this zone (with the trailing dot)')
      .option('--since <time>', 'only records at or after this ISO 8601 time (UTC unless it says otherwise)')
      .option('--json', 'print the records as JSON'),
  ).action(async (opts: { state?: string; config?: string; zone?: string; since?: string; json?: boolean }) => {
    const since = opts.since === undefined ? undefined : parseSince(opts.since);
    const zone = opts.zone === undefined ? undefined : opts.zone.toLowerCase().replace(/\.?$/, '.');
    let records: AuditRecord[];
    if (fromConfiguration(opts)) {
      const { answer } = await perform(opts, 'audit.log', { ...(zone === undefined ? {} : { zone }), ...(since === undefined ? {} : { since }) });
      records = answer.result.records as AuditRecord[];
    } else {
      const store = StateStore.open(statePath(opts, zone ?? null), { readonly: true });
      try {
        records = store.auditLog({ ...(zone === undefined ? {} : { zone }), ...(since === undefined ? {} : { since }) });
      } finally {
        store.close();
      }
    }
    if (opts.json) {
      outJson(records);
      return;
    }
    for (const r of records) for (const line of formatRecord(r)) out(line);
  });
}

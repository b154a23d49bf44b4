import { UsageError } from '../common/errors.js';

/** How log lines are written: `json` for machines (pino's lines), `pretty` for people on a terminal. */
export type LogFormat = 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** Reads `--log-format`. */
export function parseLogFormat(text: string, what = '--log-format'): LogFormat {
  if (text === 'json' || text === 'pretty') return text;
  throw new UsageError(`${what}: '${text}' is not json or pretty`);
}

const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Readonly<Record<string, string>> = {
  TRACE: '\x1b[90m',
  DEBUG: '\x1b[36m',
  INFO: '\x1b[32m',
  WARN: '\x1b[33m',
  ERROR: '\x1b[31m',
  FATAL: '\x1b[35m',
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** Fields of every pino line that the pretty line shows in its own place or not at all. */
const FRAME = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** A field's value longer than this is cut in a pretty line (the JSON log keeps it whole). */
const MAX_VALUE = 300;

export interface PrettyOptions {
  /** ANSI colours for the level (a terminal that wants them). */
  readonly color?: boolean;
}

/**
 * One pino JSON line as one readable line, without its newline: the time in UTC (ISO 8601,
 * `Z`), the level, the message, then the fields as `key=value`, `zone` first. An audit record
 * (`msg: 'audit'`) shows what names it (action, zone, actor, seq, ticket) and not its
 * before/after values; a progress line reads as a sentence. Whatever is redacted in the JSON
 * line is redacted here: this reads that line, after pino's redaction.
 */
export function formatPrettyLine(line: string | Readonly<Record<string, unknown>>, options: PrettyOptions = {}): string {
  let record: Readonly<Record<string, unknown>>;
  if (typeof line === 'string') {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return oneLine(line.trimEnd());
      record = parsed as Record<string, unknown>;
    } catch {
      return oneLine(line.trimEnd());
    }
  } else record = line;
  const time = typeof record.time === 'string' ? record.time : typeof record.time === 'number' ? new Date(record.time).toISOString() : '-';
  const label = (typeof record.level === 'number' ? LEVELS[record.level] : undefined) ?? (typeof record.level === 'string' ? record.level.toUpperCase() : '-');
  const level = options.color === true ? `${COLORS[label] ?? ''}${label.padEnd(5)}${RESET}` : label.padEnd(5);
  const msg = typeof record.msg === 'string' ? record.msg : '';
  const [text, shown] = describe(msg, record);
  const fields: string[] = [];
  const keys = Object.keys(record).filter((k) => !FRAME.has(k) && !shown.has(k));
  if (keys.includes('zone')) keys.unshift(...keys.splice(keys.indexOf('zone'), 1));
  for (const k of keys) fields.push(`${k}=${formatValue(record[k])}`);
  const head = options.color === true ? `${DIM}${time}${RESET}` : time;
  return [head, level, oneLine(text), ...fields].join(' ');
}

/** The message, and the fields it already tells. */
function describe(msg: string, r: Readonly<Record<string, unknown>>): [string, Set<string>] {
  if (msg === 'audit' && isRecord(r.audit)) {
    const a = r.audit;
    const parts = [
      `audit ${formatValue(a.action ?? r.action ?? null)}`,
      `zone=${formatValue(a.zone ?? r.zone ?? null)}`,
      `actor=${formatValue(a.actor ?? null)}`,
    ];
    parts.push(`seq=${formatValue(a.seq ?? null)}`);
    if (typeof a.ticket === 'string' && a.ticket !== '') parts.push(`ticket=${formatValue(a.ticket)}`);
    return [parts.join(' '), new Set(['audit', 'zone', 'action'])];
  }
  if (msg === 'signing progress') return [describeProgress(r), new Set(Object.keys(r))];
  return [msg, new Set()];
}

function describeProgress(r: Readonly<Record<string, unknown>>): string {
  const n = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en-US') : '-');
  const zone = typeof r.zone === 'string' ? `${r.zone}: ` : '';
  if (r.phase === 'reading') return `signing progress ${zone}reading, ${n(r.recordsRead)} records read`;
  const left = typeof r.secondsLeft === 'number' ? `, ${formatDuration(r.secondsLeft)} left` : '';
  return `signing progress ${zone}${n(r.percent)}%, ${n(r.recordsRead)}/${n(r.recordsTotal)} records read, ${n(r.signatures)} signatures, ${n(r.signaturesPerSecond)}/s${left}`;
}

/** A duration as people read it: `45s`, `3m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A value as it reads after `key=`: bare when that is unambiguous, else as JSON (on one line). */
function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=\\]+$/.test(v) ? v : cut(JSON.stringify(v));
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  // an error pino serialised ({type, message, stack}): its message
  if (isRecord(v) && typeof v.message === 'string' && typeof v.stack === 'string') return cut(JSON.stringify(v.message));
  return cut(JSON.stringify(v) ?? typeof v);
}

function cut(text: string): string {
  return text.length <= MAX_VALUE ? text : `${text.slice(0, MAX_VALUE - 1)}…`;
}

/** Line breaks written as `\n`, so that an event stays one line. */
function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n');
}

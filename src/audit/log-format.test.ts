import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../enforcer/audit-chain.js';
import { formatDuration, formatPrettyLine, parseLogFormat } from './log-format.js';
import { auditSink, createLogger, REDACT_PATHS } from './logger.js';

const dir = mkdtempSync(join(tmpdir(), 'hms-log-format-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Lines a logger of `format` writes to a file of its own while `write` runs. */
function logged(format: 'json' | 'pretty', write: (log: ReturnType<typeof createLogger>) => void): string[] {
  const file = join(dir, `log-${++files}`);
  const log = createLogger({ destination: file, format });
  write(log);
  log.flush();
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

const AUDIT: AuditRecord = {
  seq: 42,
  prevHash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
  at: 1_764_000_000,
  actor: 'alice',
  action: 'key.generate',
  zone: 'example.com.',
  ticket: 'CHG-7',
  comment: 'a comment\nover two lines',
  before: { keys: Array.from({ length: 50 }, (_, i) => ({ keyTag: i, state: 'active' })) },
  after: { keys: [{ keyTag: 1, state: 'active' }], pin: '1234', secret: 'c2VjcmV0' },
};

describe('pretty log lines (issue 19: logs people can read)', () => {
  it('DK-16 one line per event: UTC time with Z, level, message, zone first, then the fields', () => {
    const [line, ...rest] = logged('pretty', (log) =>
      log.child({ zone: 'example.com.' }).warn({ serial: 2026120601, server: '127.0.0.1:53', reason: 'refused\nby the peer' }, 'secondary, stale serial'),
    );
    expect(rest).toEqual([]);
    expect(line).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}secondary, stale serial zone=example\.com\. serial=2026120601 server=127\.0\.0\.1:53 reason="refused\\nby the peer"$/,
    );
    expect(line).not.toContain('pid=');
    expect(line).not.toContain('hostname=');
  });

  it('DK-16 the time is the JSON line time, in UTC whatever the host time zone', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const line = formatPrettyLine('{"level":30,"time":"2026-11-22T12:00:00.000Z","msg":"x"}');
      expect(line).toBe('2026-11-22T12:00:00.000Z INFO  x');
      // a numeric time (pino's default epoch milliseconds) is printed in UTC as well
      expect(formatPrettyLine({ level: 50, time: Date.UTC(2026, 10, 22, 12), msg: 'y' })).toBe('2026-11-22T12:00:00.000Z ERROR y');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('an audit record is one short line: action, zone, actor, seq, ticket; not its before/after values', () => {
    const [line, ...rest] = logged('pretty', (log) => auditSink(log)(AUDIT));
    expect(rest).toEqual([]);
    expect(line).toMatch(/Z INFO {2}audit key\.generate zone=example\.com\. actor=alice seq=42 ticket=CHG-7$/);
    expect(line!.length).toBeLessThan(120);
    // the JSON line keeps the whole record
    const [json] = logged('json', (log) => auditSink(log)(AUDIT));
    expect((JSON.parse(json!) as { audit: AuditRecord }).audit.before).toEqual(AUDIT.before);
  });

  it('a progress line reads as a sentence', () => {
    const line = formatPrettyLine({
      level: 30,
      time: '2026-11-22T12:00:00.000Z',
      msg: 'signing progress',
      zone: 'bench.example.',
      phase: 'signing',
      recordsRead: 412_000,
      recordsTotal: 1_000_000,
      signatures: 380_112,
      signaturesPerSecond: 7600,
      percent: 41,
      secondsLeft: 80,
      elapsedSeconds: 50,
    });
    expect(line).toBe(
      '2026-11-22T12:00:00.000Z INFO  signing progress bench.example.: 41%, 412,000/1,000,000 records read, 380,112 signatures, 7,600/s, 1m20s left',
    );
    expect(formatPrettyLine({ level: 30, time: 't', msg: 'signing progress', zone: 'z.', phase: 'reading', recordsRead: 1200 })).toBe(
      't INFO  signing progress z.: reading, 1,200 records read',
    );
  });

  it('errors show their message, long values are cut, colours only when asked, and a line that is not JSON passes', () => {
    const [line] = logged('pretty', (log) => log.error({ err: new Error('boom'), blob: { text: 'x'.repeat(1000) } }, 'failed'));
    expect(line).toMatch(/ERROR failed err="boom" blob=\{"text":"x+…$/);
    expect(line!.length).toBeLessThan(400);
    expect(line).not.toContain('\x1b[');
    expect(formatPrettyLine({ level: 40, time: 't', msg: 'm' }, { color: true })).toBe('\x1b[2mt\x1b[0m \x1b[33mWARN \x1b[0m m');
    expect(formatPrettyLine('not json\nat all\n')).toBe('not json\\nat all');
  });

  it('DP-3.1b a secret at any redaction path stays out of JSON and pretty lines alike', () => {
    const secret = 'S3cr3t-value-0123456789';
    // an object with the secret at each path of REDACT_PATHS (a wildcard stands for any name)
    for (const path of REDACT_PATHS) {
      const parts = path.split('.').map((p) => (p === '*' ? 'anything' : p));
      const fields: Record<string, unknown> = {};
      let at = fields;
      for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
      at[parts.at(-1)!] = secret;
      for (const format of ['json', 'pretty'] as const) {
        const lines = logged(format, (log) => log.info(fields, parts[0] === 'audit' ? 'audit' : 'an event'));
        expect(lines, `${format} ${path}`).toHaveLength(1);
        expect(lines[0], `${format} ${path}`).not.toContain(secret);
      }
    }
    // and the audit sink's own lines, in both formats
    for (const format of ['json', 'pretty'] as const) {
      const [line] = logged(format, (log) => auditSink(log)(AUDIT));
      expect(line).not.toContain('1234');
      expect(line).not.toContain('c2VjcmV0');
    }
  });

  it('JSON unless asked otherwise when the log goes to a file (pretty is for a terminal)', () => {
    const file = join(dir, 'default-format');
    const log = createLogger({ destination: file });
    log.info({ zone: 'example.com.' }, 'an event');
    log.flush();
    const line = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, zone: 'example.com.', msg: 'an event' });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('parses --log-format and writes durations as people read them', () => {
    expect(parseLogFormat('json')).toBe('json');
    expect(parseLogFormat('pretty')).toBe('pretty');
    expect(() => parseLogFormat('text')).toThrow("--log-format: 'text' is not json or pretty");
    expect([0, 45, 185, 3600 * 2 + 125].map(formatDuration)).toEqual(['0s', '45s', '3m05s', '2h02m']);
  });
});

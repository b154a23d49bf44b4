import type { SignProgress } from '../dnssec/sign-zone.js';
import { formatDuration } from './log-format.js';

/** The stream a status line is drawn on: a terminal (process.stderr when it is one). */
export interface TerminalStream {
  write(text: string): unknown;
  readonly columns?: number;
}

const CLEAR_LINE = '\r\x1b[2K';

/**
 * One line at the bottom of a terminal, redrawn in place (a progress bar). Whatever else is
 * written to the same terminal goes through `around`, which takes the line away, writes, and
 * draws it again, so that log lines scroll above it and are never cut.
 */
export class StatusLine {
  private text = '';

  constructor(private readonly stream: TerminalStream) {}

  /** A status line on stderr when stderr is a terminal; else none. */
  static onStderr(): StatusLine | undefined {
    return process.stderr.isTTY ? new StatusLine(process.stderr) : undefined;
  }

  show(text: string): void {
    // a terminal of unknown size (a pseudo terminal never sized says 0 columns) is taken as 80 wide
    const columns = this.stream.columns ?? 0;
    const width = (columns >= 20 ? columns : 80) - 1;
    this.text = text.length > width ? text.slice(0, width) : text;
    this.stream.write(`${CLEAR_LINE}${this.text}`);
  }

  clear(): void {
    if (this.text === '') return;
    this.text = '';
    this.stream.write(CLEAR_LINE);
  }

  /** Runs `write` (something else written to the same terminal) with the line out of its way. */
  around(write: () => void): void {
    if (this.text === '') return write();
    this.stream.write(CLEAR_LINE);
    write();
    this.stream.write(this.text);
  }
}

/** A log line: fields and message (pino's `log.info(fields, msg)`). */
export type LogLine = (fields: Record<string, unknown>, msg: string) => void;

export interface ProgressOptions {
  /** Fields of every line (`zone`, unless the logger has it already). */
  readonly fields?: Readonly<Record<string, unknown>>;
  /** What the bar begins with (default `fields.zone`). */
  readonly label?: string;
  /** Where the progress lines go (`msg: 'signing progress'`); none: no lines. */
  readonly log?: LogLine;
  /** A line in the log every this many milliseconds (default 5000). */
  readonly everyMs?: number;
  /** A progress bar drawn in place on a terminal; none: no bar. */
  readonly bar?: StatusLine;
  /** The bar redrawn every this many milliseconds (default 1000, or everyMs if less); it first shows after as long. */
  readonly barEveryMs?: number;
  /** Milliseconds of a monotonic clock (default performance.now); tests move their own. */
  readonly now?: () => number;
  /** Call tick on a timer (default yes; tests call it themselves). */
  readonly timer?: boolean;
}

/** What a progress line says (the log line's fields besides `fields`). */
export interface ProgressReport {
  readonly phase: 'reading' | 'signing';
  readonly recordsRead: number;
  readonly recordsTotal?: number;
  readonly signatures?: number;
  /** Signatures a second since signing started. */
  readonly signaturesPerSecond?: number;
  readonly percent?: number;
  /** Null until there is enough to tell. */
  readonly secondsLeft?: number | null;
  readonly elapsedSeconds: number;
}

export const DEFAULT_PROGRESS_MS = 5000;
const DEFAULT_BAR_MS = 1000;
const BAR_WIDTH = 20;

/**
 * Reports how far a long signing has got, from counters the signer moves (SignZoneOptions.
 * progress, once a batch) and a clock read here, at the edge: a log line every few seconds and
 * a bar redrawn in place on a terminal. Reading the counters costs the signer nothing; `tick`
 * (on a timer, or called by a test with its own clock) does the reporting.
 */
export class SigningProgress {
  private readonly now: () => number;
  private readonly everyMs: number;
  private readonly barEveryMs: number;
  private readonly startedAt: number;
  private signingAt: number | undefined;
  private lastLogAt: number;
  private lastBarAt: number;
  private read = 0;
  private isReading = false;
  private counts: SignProgress | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? (() => performance.now());
    this.everyMs = options.everyMs ?? DEFAULT_PROGRESS_MS;
    this.barEveryMs = options.barEveryMs ?? Math.min(DEFAULT_BAR_MS, this.everyMs);
    this.startedAt = this.lastLogAt = this.lastBarAt = this.now();
    if (options.timer !== false && (options.log !== undefined || options.bar !== undefined)) {
      const every = options.bar === undefined ? this.everyMs : Math.min(this.everyMs, this.barEveryMs);
      this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(every, 1000)));
      this.timer.unref();
    }
  }

  /** Records read from the input before signing (a zone file being read). */
  reading(records: number): void {
    this.read = records;
    this.isReading = true;
  }

  /**
   * The input is read; checks and keys come before the signer starts. Nothing is reported
   * meanwhile (a short command stays silent however long its keys take to make).
   */
  preparing(): void {
    this.isReading = false;
  }

  /** The signer's counters (pass as SignZoneOptions.progress). */
  readonly update = (counts: SignProgress): void => {
    this.signingAt ??= this.now();
    this.counts = counts;
  };

  /** Writes a log line and redraws the bar when each is due (once reading or signing has begun). */
  tick(): void {
    // nothing to tell before the zone is read or signed (a caller preparing keys meanwhile)
    const now = this.now();
    if (!this.isReading && this.counts === undefined) {
      this.lastLogAt = this.lastBarAt = now; // the first line an interval after there is one
      return;
    }
    if (this.options.log !== undefined && now - this.lastLogAt >= this.everyMs) {
      this.lastLogAt = now;
      this.options.log({ ...this.options.fields, ...this.report(now) }, 'signing progress');
    }
    if (this.options.bar !== undefined && now - this.lastBarAt >= this.barEveryMs) {
      this.lastBarAt = now;
      this.options.bar.show(this.barText(this.report(now)));
    }
  }

  /** How far it has got at `now` (milliseconds of the same clock). */
  report(now: number): ProgressReport {
    const elapsedSeconds = round1((now - this.startedAt) / 1000);
    const c = this.counts;
    if (c === undefined || this.signingAt === undefined) return { phase: 'reading', recordsRead: this.read, elapsedSeconds };
    const seconds = (now - this.signingAt) / 1000;
    const fraction = c.namesTotal > 0 ? Math.min(1, c.names / c.namesTotal) : 0;
    const done = c.names >= c.namesTotal && c.recordsRead >= c.recordsTotal;
    return {
      phase: 'signing',
      recordsRead: c.recordsRead,
      recordsTotal: c.recordsTotal,
      signatures: c.signatures,
      signaturesPerSecond: seconds > 0 ? Math.round(c.signatures / seconds) : 0,
      percent: done ? 100 : Math.min(99, Math.floor(fraction * 100)),
      // from the pace so far; nothing to tell before a hundredth is done
      secondsLeft: done ? 0 : fraction >= 0.01 && seconds > 0 ? Math.round((seconds * (1 - fraction)) / fraction) : null,
      elapsedSeconds,
    };
  }

  /** Stops the timer and takes the bar away. */
  finish(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.options.bar?.clear();
  }

  private barText(r: ProgressReport): string {
    const label = this.options.label ?? this.options.fields?.zone;
    const zone = typeof label === 'string' ? `${label} ` : '';
    if (r.phase === 'reading') return `${zone}reading: ${short(r.recordsRead)} records`;
    const filled = Math.round(((r.percent ?? 0) / 100) * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
    // the most telling first: a narrow terminal cuts the end
    const left = typeof r.secondsLeft === 'number' ? ` ${formatDuration(r.secondsLeft)} left,` : '';
    return `${zone}${bar} ${r.percent ?? 0}%${left} ${short(r.signaturesPerSecond ?? 0)} signatures/s, ${short(r.recordsRead)}/${short(r.recordsTotal ?? 0)} records read, ${short(r.signatures ?? 0)} signatures`;
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** 950, 12.3k, 1.2M. */
function short(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

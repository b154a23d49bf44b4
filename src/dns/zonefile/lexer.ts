import { ZoneSyntaxError } from '../../common/errors.js';
import type { Token } from '../rdata/tokens.js';

/** One logical entry of a master file: a record or a directive, parentheses joined. */
export interface Entry {
  readonly tokens: Token[];
  /** The entry's first line starts with white space: the owner is the previous one. */
  readonly ownerOmitted: boolean;
  readonly line: number;
}

const SPACE = 0x20;
const TAB = 0x09;
const SEMICOLON = 0x3b;
const OPEN = 0x28;
const CLOSE = 0x29;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CR = 0x0d;

/** Returned by nextOrPause between entries after more text was read: the caller may let others run. */
export const PAUSE: unique symbol = Symbol('pause');

/**
 * What one zone's input may hold: octets read over all its files, the longest line or entry
 * (parentheses joined), and how deep `$INCLUDE`s nest. Shared by every lexer of one parse.
 */
export interface InputBudget {
  /** Octets that may still be read, over every file of the zone; below zero is refused. */
  left: number;
  readonly maxOctets: number;
  readonly maxLine: number;
}

/** An input budget with no limit (the text is in memory already). */
export const unlimited = (): InputBudget => ({ left: Infinity, maxOctets: Infinity, maxLine: Infinity });

/**
 * Splits master-file text (RFC 1035 section 5.1) into entries. The text arrives in chunks,
 * one character per octet (latin1), and is consumed line by line, so a large file is never
 * held whole. Errors name the file, line and column.
 */
export class EntryLexer {
  private text = '';
  private pos = 0;
  private done = false;
  private lineNo = 0;
  private lineStart = 0;
  private lineEnd = 0;
  private readonly chunks: Iterator<string>;
  /** A chunk was read since the last PAUSE. */
  private pulled = false;

  constructor(
    chunks: Iterable<string>,
    private readonly file: string,
    private readonly budget: InputBudget = unlimited(),
  ) {
    this.chunks = chunks[Symbol.iterator]();
  }

  /** Stops reading the source early (closes a file being read). */
  close(): void {
    this.chunks.return?.();
  }

  private fail(line: number, col: number, reason: string, near?: string, code: 'ZONE_SYNTAX' | 'INPUT_REFUSED' = 'ZONE_SYNTAX'): never {
    throw new ZoneSyntaxError({ file: this.file, line, col }, reason, near, code);
  }

  private tooLong(what: string): never {
    this.fail(
      this.lineNo + 1,
      1,
      `${what} is longer than ${this.budget.maxLine} octets, the longest a line or record may be (service.zone-input-max-line)`,
      undefined,
      'INPUT_REFUSED',
    );
  }

  /**
   * Finds the next line, [lineStart, lineEnd) in `text` without its line end; false at the end.
   * A line longer than the budget's maxLine is refused as soon as that many octets are read,
   * and so is the text past the budget's octets.
   */
  private nextLine(): boolean {
    for (;;) {
      const nl = this.text.indexOf('\n', this.pos);
      if (nl - this.pos > this.budget.maxLine || (nl < 0 && this.text.length - this.pos > this.budget.maxLine)) this.tooLong(`line ${this.lineNo + 1}`);
      if (nl >= 0) {
        this.lineStart = this.pos;
        this.lineEnd = nl > this.pos && this.text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        this.pos = nl + 1;
        return true;
      }
      if (!this.done) {
        const next = this.chunks.next();
        if (next.done === true) {
          this.done = true;
        } else {
          this.budget.left -= next.value.length;
          if (this.budget.left < 0) {
            this.fail(
              this.lineNo + 1,
              1,
              `the zone's input is larger than ${this.budget.maxOctets} octets, the most read of one zone over all its files (service.zone-input-max-size)`,
              undefined,
              'INPUT_REFUSED',
            );
          }
          this.text = this.text.slice(this.pos) + next.value;
          this.pos = 0;
          this.pulled = true;
        }
        continue;
      }
      if (this.pos >= this.text.length) return false;
      this.lineStart = this.pos;
      this.pos = this.text.length;
      this.lineEnd = this.text.charCodeAt(this.pos - 1) === CR ? this.pos - 1 : this.pos;
      return true;
    }
  }

  /** The next entry, or undefined at the end of the text (see nextOrPause). */
  next(): Entry | undefined {
    for (;;) {
      const entry = this.nextOrPause();
      if (entry !== PAUSE) return entry;
    }
  }

  /**
   * The next entry, undefined at the end of the text, or PAUSE between entries once a chunk
   * was read since the last PAUSE: a reader that must not hold the event loop long lets it turn
   * there (then at most a chunk and an entry are read between two turns).
   */
  nextOrPause(): Entry | undefined | typeof PAUSE {
    const tokens: Token[] = [];
    let depth = 0;
    let parenLine = 0;
    let parenCol = 0;
    let entryLine = 0;
    let ownerOmitted = false;
    /** Octets of the lines of an entry within parentheses so far. */
    let entryOctets = 0;
    for (;;) {
      if (depth === 0 && tokens.length === 0 && this.pulled) {
        this.pulled = false;
        return PAUSE;
      }
      if (!this.nextLine()) {
        if (depth > 0) this.fail(parenLine, parenCol, "unbalanced '(': no ')' before the end of the file", '(');
        return undefined;
      }
      const lineNo = ++this.lineNo;
      const text = this.text;
      const s = this.lineStart;
      const e = this.lineEnd;
      const startsBlank = e > s && (text.charCodeAt(s) === SPACE || text.charCodeAt(s) === TAB);
      if (depth > 0) {
        entryOctets += e - s + 1;
        if (entryOctets > this.budget.maxLine)
          this.fail(
            parenLine,
            parenCol,
            `the record in parentheses is longer than ${this.budget.maxLine} octets, the longest a line or record may be (service.zone-input-max-line)`,
            '(',
            'INPUT_REFUSED',
          );
      } else {
        entryOctets = e - s + 1;
      }
      let i = s;
      while (i < e) {
        const c = text.charCodeAt(i);
        if (c === SPACE || c === TAB) {
          i++;
          continue;
        }
        if (c === SEMICOLON) break;
        if (tokens.length === 0 && depth === 0) {
          entryLine = lineNo;
          ownerOmitted = startsBlank;
        }
        if (c === OPEN) {
          if (depth > 0) this.fail(lineNo, i - s + 1, `nested '(' (the one open since line ${parenLine})`, '(');
          depth = 1;
          parenLine = lineNo;
          parenCol = i - s + 1;
          i++;
        } else if (c === CLOSE) {
          if (depth === 0) this.fail(lineNo, i - s + 1, "unbalanced ')': no '(' is open", ')');
          depth = 0;
          i++;
        } else if (c === QUOTE) {
          let j = i + 1;
          while (j < e && text.charCodeAt(j) !== QUOTE) j += text.charCodeAt(j) === BACKSLASH ? 2 : 1;
          if (j >= e) this.fail(lineNo, i - s + 1, 'unterminated quoted string', text.slice(i, Math.min(e, i + 20)));
          tokens.push({ text: text.slice(i + 1, j), quoted: true, line: lineNo, col: i - s + 1 });
          i = j + 1;
        } else {
          let j = i;
          while (j < e) {
            const d = text.charCodeAt(j);
            if (d === BACKSLASH) j += 2;
            else if (d === SPACE || d === TAB || d === SEMICOLON || d === OPEN || d === CLOSE || d === QUOTE) break;
            else j++;
          }
          if (j > e) j = e;
          tokens.push({ text: text.slice(i, j), quoted: false, line: lineNo, col: i - s + 1 });
          i = j;
        }
      }
      if (depth === 0 && tokens.length > 0) return { tokens, ownerOmitted, line: entryLine };
    }
  }
}

/** The entries of a text, one by one (convenience over EntryLexer). */
export function* lexEntries(chunks: Iterable<string>, file: string): Generator<Entry> {
  const lexer = new EntryLexer(chunks, file, unlimited());
  try {
    for (let entry = lexer.next(); entry !== undefined; entry = lexer.next()) yield entry;
  } finally {
    lexer.close();
  }
}

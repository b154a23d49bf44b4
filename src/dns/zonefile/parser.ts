import { quote, SignerError, ZoneSyntaxError } from '../../common/errors.js';
import { Name } from '../name.js';
import { ByteWriter, Slab } from '../bytes.js';
import { parseRdataInto } from '../rdata/index.js';
import { type ParseContext, RdataTokens, type Token } from '../rdata/tokens.js';
import { META_TYPES, parseClass, parseType, RRType, typeToString } from '../types.js';
import { looksLikeTtl, parseTtl } from '../ttl.js';
import { EntryLexer, PAUSE, type Entry, type InputBudget } from './lexer.js';

export { PAUSE } from './lexer.js';

/** One record as read from a master file, with where it came from. */
export interface ZoneRecord {
  readonly owner: Name;
  readonly ttl: number;
  readonly type: number;
  readonly rdata: Uint8Array;
  readonly file: string;
  readonly line: number;
}

/**
 * A parsed record. Its RDATA sits in a shared block (a Slab) rather than in an object of its
 * own: a million-record zone then needs a few hundred bytes less per record. Records are
 * made as object literals with this prototype (see makeRecord).
 */
class ParsedRecord implements ZoneRecord {
  declare readonly owner: Name;
  declare readonly ttl: number;
  declare readonly type: number;
  declare readonly file: string;
  declare readonly line: number;
  declare private readonly block: Uint8Array;
  declare private readonly start: number;
  declare private readonly end: number;

  get rdata(): Uint8Array {
    return this.block.subarray(this.start, this.end);
  }
}

/**
 * An object literal with ParsedRecord's prototype, not `new ParsedRecord`: V8 pretenures
 * long-lived objects made at a literal site, which halves the garbage collector's work on a
 * million-record zone (measured: 1.0 s less on 1M records).
 */
function makeRecord(owner: Name, ttl: number, type: number, block: Uint8Array, start: number, end: number, file: string, line: number): ZoneRecord {
  return { __proto__: ParsedRecord.prototype, owner, ttl, type, block, start, end, file, line } as unknown as ZoneRecord;
}

/** Master-file text delivered in chunks (one character per octet), and its file name for errors. */
export interface ZoneSource {
  readonly file: string;
  /** Identifies the file for `$INCLUDE` loop detection (e.g. its device and inode). */
  readonly id: string;
  /** The text; its iterator's `return()` closes the file, read or not. */
  readonly chunks: Iterable<string>;
}

/**
 * What one zone's input may hold (docs/configuration.md, service.zone-input-*): the octets of
 * all its files together, the longest line or record (parentheses joined), and how deep
 * `$INCLUDE`s nest (each level holds a file open, so this bounds the open files too).
 */
export interface ZoneInputLimits {
  readonly maxOctets: number;
  readonly maxLine: number;
  readonly maxIncludeDepth: number;
}

/**
 * Generous for any zone hms signs: 4 GiB of text is some 40 million records; a line of 1 MiB
 * holds the largest RDATA (65535 octets) written as \DDD with room to spare; BIND and Knot
 * nest includes a few levels at most in practice.
 */
export const DEFAULT_ZONE_INPUT_LIMITS: ZoneInputLimits = { maxOctets: 4 * 2 ** 30, maxLine: 2 ** 20, maxIncludeDepth: 20 };

/**
 * Opens the file an `$INCLUDE` names. `path` is as written; the resolver decides where it is
 * relative to (hms: the including file's folder). It throws when the file cannot be opened.
 */
export type IncludeResolver = (path: string, fromFile: string) => ZoneSource;

export interface ParseOptions {
  readonly origin: Name;
  /** TTL for records that give none when no `$TTL` came before. */
  readonly defaultTtl?: number;
  /** Without a resolver, `$INCLUDE` is an error. */
  readonly include?: IncludeResolver;
  /** Default: no limit on the octets and lines, DEFAULT_ZONE_INPUT_LIMITS' include depth. */
  readonly limits?: ZoneInputLimits;
}

/** One file being read: the outer zone file or an `$INCLUDE`d one. */
interface Frame {
  readonly source: ZoneSource;
  readonly lexer: EntryLexer;
  origin: Name;
  /** `{ origin }` for the RDATA parsers, made again only when the origin changes. */
  context: ParseContext;
  lastOwner: Name | undefined;
  lastOwnerText: string;
  lastOwnerOrigin: Name | undefined;
}

/**
 * Reads an RFC 1035 master file: `$ORIGIN`, `$TTL`, `$INCLUDE`, parentheses, comments,
 * quoted strings, `@`, relative names, omitted owner, TTL and class, TTL units, class IN only.
 * `next()` returns one record at a time; the first problem stops the parse with a
 * ZoneSyntaxError that gives `file:line:col`.
 */
export class ZoneFileParser {
  private readonly writer = new ByteWriter(4096);
  private readonly slab = new Slab();
  private readonly frames: Frame[] = [];
  private dollarTtl: number | undefined;
  private lastTtl: number | undefined;
  private readonly budget: InputBudget;
  private readonly maxIncludeDepth: number;

  constructor(
    source: ZoneSource,
    private readonly options: ParseOptions,
  ) {
    this.lastTtl = options.defaultTtl;
    const limits = options.limits;
    this.budget = { left: limits?.maxOctets ?? Infinity, maxOctets: limits?.maxOctets ?? Infinity, maxLine: limits?.maxLine ?? Infinity };
    this.maxIncludeDepth = limits?.maxIncludeDepth ?? DEFAULT_ZONE_INPUT_LIMITS.maxIncludeDepth;
    this.push(source, options.origin, undefined);
  }

  private push(source: ZoneSource, origin: Name, owner: Name | undefined): void {
    this.frames.push({
      source,
      lexer: new EntryLexer(source.chunks, source.file, this.budget),
      origin,
      context: { origin },
      lastOwner: owner,
      lastOwnerText: '',
      lastOwnerOrigin: undefined,
    });
  }

  /** Closes every file still open (after an error, or when the caller stops early). */
  close(): void {
    for (const f of this.frames) f.lexer.close();
    this.frames.length = 0;
  }

  /** The next record, or undefined at the end of the zone. */
  next(): ZoneRecord | undefined {
    for (;;) {
      const record = this.nextOrPause();
      if (record !== PAUSE) return record;
    }
  }

  /**
   * The next record, undefined at the end of the zone, or PAUSE after more text was read (at
   * most a chunk and a record since the last PAUSE): where an asynchronous reader yields.
   */
  nextOrPause(): ZoneRecord | undefined | typeof PAUSE {
    for (;;) {
      const frame = this.frames[this.frames.length - 1];
      if (frame === undefined) return undefined;
      const entry = frame.lexer.nextOrPause();
      if (entry === PAUSE) return PAUSE;
      if (entry === undefined) {
        this.frames.pop();
        continue;
      }
      const record = this.entry(frame, entry);
      if (record !== undefined) return record;
    }
  }

  /** A record, or undefined for a directive. */
  private entry(frame: Frame, entry: Entry): ZoneRecord | undefined {
    const tokens = entry.tokens;
    const first = tokens[0]!;
    const file = frame.source.file;
    let at: Token = first;
    try {
      if (!entry.ownerOmitted && !first.quoted && first.text.startsWith('$')) {
        this.directive(frame, tokens, (t) => {
          at = t;
        });
        return undefined;
      }

      // owner
      let index = 0;
      let owner: Name;
      if (entry.ownerOmitted) {
        if (frame.lastOwner === undefined) throw new SignerError('ZONE_SYNTAX', 'record with no owner name and no previous owner');
        owner = frame.lastOwner;
      } else {
        if (first.quoted) throw new SignerError('ZONE_SYNTAX', 'an owner name cannot be quoted');
        if (frame.lastOwner !== undefined && first.text === frame.lastOwnerText && frame.lastOwnerOrigin === frame.origin) {
          owner = frame.lastOwner;
        } else {
          owner = Name.parse(first.text, frame.origin);
          frame.lastOwnerText = first.text;
          frame.lastOwnerOrigin = frame.origin;
        }
        frame.lastOwner = owner;
        index = 1;
      }

      // [TTL] [class] type, TTL and class in either order
      let ttl: number | undefined;
      let rrclass: number | undefined;
      let classToken: Token | undefined;
      let type: number | undefined;
      for (;;) {
        const t = tokens[index];
        if (t === undefined) throw new SignerError('ZONE_SYNTAX', 'missing record type');
        at = t;
        if (t.quoted) throw new SignerError('ZONE_SYNTAX', `expected a TTL, class or type, not a quoted string`);
        if (ttl === undefined && looksLikeTtl(t.text)) {
          ttl = parseTtl(t.text);
        } else if (rrclass === undefined && (rrclass = parseClass(t.text)) !== undefined) {
          classToken = t;
        } else {
          type = parseType(t.text);
          if (type === undefined) throw new SignerError('ZONE_SYNTAX', `unknown record type ${quote(t.text)}`);
          index++;
          break;
        }
        index++;
      }
      if (classToken !== undefined && rrclass !== 1) {
        at = classToken;
        throw new SignerError('ZONE_SYNTAX', `class ${classToken.text.toUpperCase()} is not supported: hms serves class IN only`);
      }
      if (META_TYPES.has(type)) throw new SignerError('ZONE_SYNTAX', `type ${typeToString(type)} cannot appear in a zone file`);

      const reader = new RdataTokens(tokens, at, index);
      const w = this.writer;
      w.reset();
      try {
        parseRdataInto(type, reader, frame.context, w);
      } catch (e) {
        if (reader.current !== undefined) at = reader.current;
        throw e;
      }

      if (ttl !== undefined) {
        this.lastTtl = ttl;
      } else if (this.dollarTtl !== undefined) {
        ttl = this.dollarTtl;
      } else if (this.lastTtl !== undefined) {
        ttl = this.lastTtl;
      } else if (type === RRType.SOA) {
        // BIND's rule: with no $TTL and no TTL given, the SOA takes its MINIMUM field
        const rdata = w.view();
        const m = rdata.length - 4;
        ttl = ((rdata[m]! << 24) >>> 0) + ((rdata[m + 1]! << 16) | (rdata[m + 2]! << 8) | rdata[m + 3]!);
        this.lastTtl = ttl;
      } else {
        throw new SignerError('ZONE_SYNTAX', 'record has no TTL, and no $TTL or earlier TTL applies');
      }

      const start = this.slab.store(w);
      return makeRecord(owner, ttl, type, this.slab.block, start, start + w.length, file, entry.line);
    } catch (e) {
      if (e instanceof ZoneSyntaxError || !(e instanceof SignerError)) throw e;
      const code = e.code === 'ZONE_INCLUDE' || e.code === 'INPUT_REFUSED' ? e.code : 'ZONE_SYNTAX';
      throw new ZoneSyntaxError({ file, line: at.line, col: at.col }, e.message, at.text, code);
    }
  }

  /** `$ORIGIN`, `$TTL` or `$INCLUDE`; `point` is told which token an error is about. */
  private directive(frame: Frame, tokens: readonly Token[], point: (t: Token) => void): void {
    const first = tokens[0]!;
    const directive = first.text.toUpperCase();
    if (directive === '$ORIGIN') {
      const at = need(tokens, 1, 'a domain name after $ORIGIN');
      point(at);
      frame.origin = Name.parse(at.text, frame.origin);
      frame.context = { origin: frame.origin };
      noMore(tokens, 2, '$ORIGIN');
      return;
    }
    if (directive === '$TTL') {
      const at = need(tokens, 1, 'a TTL after $TTL');
      point(at);
      this.dollarTtl = parseTtl(at.text);
      noMore(tokens, 2, '$TTL');
      return;
    }
    if (directive !== '$INCLUDE') throw new SignerError('ZONE_SYNTAX', `unknown or unsupported directive ${first.text}`);
    const pathToken = need(tokens, 1, 'a file name after $INCLUDE');
    if (tokens[2] !== undefined) point(tokens[2]);
    const includeOrigin = tokens[2] === undefined ? frame.origin : Name.parse(tokens[2].text, frame.origin);
    noMore(tokens, 3, '$INCLUDE');
    point(pathToken);
    if (this.options.include === undefined) throw new SignerError('ZONE_INCLUDE', '$INCLUDE is not allowed here');
    // each level holds its file open: the depth bounds the open files too
    if (this.frames.length > this.maxIncludeDepth) {
      throw new SignerError(
        'INPUT_REFUSED',
        `$INCLUDE nested deeper than ${this.maxIncludeDepth} files (service.zone-input-max-include-depth): ${this.frames[0]!.source.file} -> ... -> ${frame.source.file}`,
      );
    }
    let included: ZoneSource;
    try {
      included = this.options.include(pathToken.text, frame.source.file);
    } catch (e) {
      const code = e instanceof SignerError && e.code === 'INPUT_REFUSED' ? 'INPUT_REFUSED' : 'ZONE_INCLUDE';
      throw new SignerError(code, `cannot read included file ${quote(pathToken.text)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const loopAt = this.frames.findIndex((f) => f.source.id === included.id);
    if (loopAt >= 0) {
      included.chunks[Symbol.iterator]().return?.();
      const chain = [...this.frames.slice(loopAt).map((f) => f.source.file), included.file].join(' -> ');
      throw new SignerError('ZONE_INCLUDE', `$INCLUDE loop: ${chain}`);
    }
    this.push(included, includeOrigin, frame.lastOwner);
  }
}

/** The records of a zone file, one by one (convenience over ZoneFileParser). */
export function* parseZoneFile(source: ZoneSource, options: ParseOptions): Generator<ZoneRecord> {
  const parser = new ZoneFileParser(source, options);
  try {
    for (let r = parser.next(); r !== undefined; r = parser.next()) yield r;
  } finally {
    parser.close();
  }
}

function need(tokens: readonly Token[], i: number, what: string): Token {
  const t = tokens[i];
  if (t === undefined) throw new SignerError('ZONE_SYNTAX', `missing ${what}`);
  return t;
}

function noMore(tokens: readonly Token[], from: number, directive: string): void {
  if (tokens.length > from) throw new SignerError('ZONE_SYNTAX', `unexpected ${quote(tokens[from]!.text)} after ${directive}`);
}

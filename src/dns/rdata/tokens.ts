import { quote, ValueError } from '../../common/errors.js';
import type { Name } from '../name.js';

/** One token of presentation text, with escapes still in it (names need them raw). */
export interface Token {
  readonly text: string;
  readonly quoted: boolean;
  readonly line: number;
  readonly col: number;
}

/** What rdata parsing needs to know besides the tokens. */
export interface ParseContext {
  readonly origin: Name | null;
}

/** The rdata tokens of one record, read front to back by the field parsers. */
export class RdataTokens {
  private index: number;
  /** The token the last error refers to (for file:line:col). */
  current: Token | undefined;

  /** Reads `tokens` from `start`; `last` is what errors point at when there is no token left. */
  constructor(
    private readonly tokens: readonly Token[],
    last?: Token,
    start = 0,
  ) {
    this.index = start;
    this.current = tokens[start] ?? last;
  }

  get done(): boolean {
    return this.index >= this.tokens.length;
  }

  peek(): Token | undefined {
    return this.tokens[this.index];
  }

  next(what: string): Token {
    const t = this.tokens[this.index];
    if (t === undefined) throw new ValueError(`missing ${what}`);
    this.index++;
    this.current = t;
    return t;
  }

  /** All remaining tokens (possibly none). */
  rest(): Token[] {
    const out = this.tokens.slice(this.index);
    if (out.length > 0) this.current = out[0];
    this.index = this.tokens.length;
    return out;
  }
}

/** Decodes `\X` and `\DDD` escapes in a token into octets (a latin1 string). */
export function unescapeText(text: string): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    if (i + 1 >= text.length) throw new ValueError('dangling backslash');
    const d1 = text.charCodeAt(i + 1);
    if (d1 >= 48 && d1 <= 57) {
      const ddd = text.slice(i + 1, i + 4);
      if (!/^\d{3}$/.test(ddd)) throw new ValueError(`bad \\DDD escape ${quote(`\\${ddd}`)}`);
      const v = Number(ddd);
      if (v > 255) throw new ValueError(`escape '\\${ddd}' is over 255`);
      out += String.fromCharCode(v);
      i += 3;
    } else {
      out += text[i + 1];
      i += 1;
    }
  }
  return out;
}

/** Presentation form of a character-string: quoted, with `"` and `\` escaped, other octets as \DDD. */
export function quoteText(octets: Uint8Array): string {
  let out = '"';
  for (const c of octets) {
    if (c === 0x22 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\${c.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}

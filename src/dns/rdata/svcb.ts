import { quote, ValueError, WireFormatError } from '../../common/errors.js';
import { ByteReader, toBase64 } from '../bytes.js';
import { Name } from '../name.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './addresses.js';
import type { RdataCodec } from './codec.js';
import { quoteText, type RdataTokens, type Token, unescapeText } from './tokens.js';

/**
 * SVCB and HTTPS (RFC 9460): SvcPriority, TargetName, then SvcParams in strictly increasing
 * key order. Keys: mandatory(0), alpn(1), no-default-alpn(2), port(3), ipv4hint(4), ech(5),
 * ipv6hint(6), dohpath(7, RFC 9461), ohttp(8, RFC 9540) and the generic `keyNNNNN`.
 *
 * The printed form is one that BIND 9.18 and ldns 1.8 both read back; so ohttp, which
 * neither knows by name, is printed as `key8`.
 */

const MANDATORY = 0;
const ALPN = 1;
const NO_DEFAULT_ALPN = 2;
const PORT = 3;
const IPV4HINT = 4;
const ECH = 5;
const IPV6HINT = 6;
const DOHPATH = 7;
const OHTTP = 8;

const KEYS_BY_NAME = new Map<string, number>([
  ['mandatory', MANDATORY],
  ['alpn', ALPN],
  ['no-default-alpn', NO_DEFAULT_ALPN],
  ['port', PORT],
  ['ipv4hint', IPV4HINT],
  ['ech', ECH],
  ['ipv6hint', IPV6HINT],
  ['dohpath', DOHPATH],
  ['ohttp', OHTTP],
]);
/** Names printed; any other key (ohttp included) is printed as keyNNNNN. */
const PRINTED_NAMES = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint', 'dohpath'];

function keyName(key: number): string {
  return PRINTED_NAMES[key] ?? `key${key}`;
}

/** The label errors use for a key: its RFC name where it has one. */
function keyLabel(key: number): string {
  return key === OHTTP ? 'ohttp' : keyName(key);
}

function parseKey(text: string, where: string): number {
  const named = KEYS_BY_NAME.get(text);
  if (named !== undefined) return named;
  const m = /^key(0|[1-9]\d{0,4})$/.exec(text);
  if (m !== null && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new ValueError(`${where}: ${quote(text)} is not a known key or keyNNNNN (0 to 65535, no leading zeros)`);
}

function decode(raw: string, label: string): string {
  try {
    return unescapeText(raw);
  } catch (e) {
    if (e instanceof ValueError) throw new ValueError(`${label}: ${e.message} in ${quote(raw)}`);
    throw e;
  }
}

function octets(latin1: string): Uint8Array {
  return Buffer.from(latin1, 'latin1');
}

/** A comma-separated list where `\,` and `\\` stand for a comma and a backslash (RFC 9460 A.1). */
function splitValueList(text: string, label: string): string[] {
  const items: string[] = [];
  let item = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      const next = text[i + 1];
      if (next !== ',' && next !== '\\') throw new ValueError(`${label}: only '\\,' and '\\\\' may be escaped in a value list`);
      item += next;
      i++;
    } else if (ch === ',') {
      items.push(item);
      item = '';
    } else {
      item += ch;
    }
  }
  items.push(item);
  if (items.some((it) => it.length === 0)) throw new ValueError(`${label}: empty item in value list`);
  return items;
}

/** RFC 3629 UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
function isUtf8(b: Uint8Array): boolean {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return false;
    let cp = n === 0 ? c : c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n === 2 && cp < 0x800) || (n === 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

/**
 * RFC 9461 dohpath: a relative URI template (RFC 6570) that starts with '/', is UTF-8 and
 * has a variable named "dns". Checked as BIND 9.18 checks it, so that BIND reads what we print.
 */
function dohpathProblem(b: Uint8Array): string | undefined {
  if (b.length === 0 || b[0] !== 0x2f) return "must start with '/'";
  if (!isUtf8(b)) return 'is not UTF-8';
  const s = Buffer.from(b).toString('latin1');
  let dns = false;
  let i = 0;
  const hex = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
  while (i < s.length) {
    const ch = s[i]!;
    if (ch === '%') {
      if (!hex(s[i + 1]) || !hex(s[i + 2])) return 'has a bad percent-encoding';
      i += 3;
    } else if (ch === '{') {
      i++;
      if ('+#./;?&'.includes(s[i] ?? '}')) i++;
      else if ('=!@|'.includes(s[i] ?? '}')) return 'uses a reserved template operator';
      for (;;) {
        let name = '';
        while (i < s.length && /[A-Za-z0-9_%]/.test(s[i]!)) {
          if (s[i] === '%') {
            if (!hex(s[i + 1]) || !hex(s[i + 2])) return 'has a bad percent-encoding';
            name += s.slice(i, i + 3);
            i += 3;
          } else {
            name += s[i++];
          }
        }
        if (name === '') return 'has a template expression with an empty or bad variable name';
        if (name === 'dns') dns = true;
        if (s[i] === '*') i++;
        else if (s[i] === ':') {
          const m = /^[1-9]\d{0,3}/.exec(s.slice(i + 1));
          if (m === null) return 'has a bad prefix length in a template expression';
          i += 1 + m[0].length;
        }
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          break;
        }
        return 'has an unterminated or malformed template expression';
      }
    } else {
      i++;
    }
  }
  return dns ? undefined : "has no 'dns' template variable";
}

function parseBase64(text: string, label: string): Uint8Array {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new ValueError(`${label}: ${quote(text)} is not valid base64`);
  }
  return Buffer.from(text, 'base64');
}

function listOf(text: string, label: string, size: number, one: (item: string) => Uint8Array): Uint8Array {
  const items = splitValueList(text, label);
  const out = new Uint8Array(items.length * size);
  items.forEach((item, i) => {
    try {
      out.set(one(item), i * size);
    } catch (e) {
      if (e instanceof ValueError) throw new ValueError(`${label}: ${e.message}`);
      throw e;
    }
  });
  return out;
}

/** A SvcParamValue from presentation; `raw` is the text after '=' with escapes, undefined without '='. */
function parseValue(key: number, raw: string | undefined): Uint8Array {
  const label = `SVCB ${keyLabel(key)}`;
  const text = raw === undefined ? '' : decode(raw, label);
  const needsValue = key <= IPV6HINT && key !== NO_DEFAULT_ALPN;
  if (needsValue && text.length === 0) throw new ValueError(`${label}: missing value`);
  switch (key) {
    case MANDATORY: {
      const keys = splitValueList(text, label).map((k) => parseKey(k, label));
      if (keys.includes(MANDATORY)) throw new ValueError(`${label}: must not list 'mandatory' itself`);
      const sorted = [...keys].sort((a, b) => a - b);
      const out = new Uint8Array(sorted.length * 2);
      sorted.forEach((k, i) => {
        if (i > 0 && sorted[i - 1] === k) throw new ValueError(`${label}: ${quote(keyName(k))} is listed twice`);
        out[2 * i] = k >> 8;
        out[2 * i + 1] = k & 0xff;
      });
      return out;
    }
    case ALPN: {
      const ids = splitValueList(text, label);
      const long = ids.find((id) => id.length > 255);
      if (long !== undefined) throw new ValueError(`${label}: ALPN id over 255 octets`);
      return octets(ids.map((id) => String.fromCharCode(id.length) + id).join(''));
    }
    case NO_DEFAULT_ALPN:
    case OHTTP:
      if (text.length > 0) throw new ValueError(`${label}: takes no value (got ${quote(raw ?? '')})`);
      return new Uint8Array(0);
    case PORT: {
      if (!/^\d+$/.test(text) || Number(text) > 0xffff) throw new ValueError(`${label}: ${quote(text)} is not a port number (0 to 65535)`);
      return Uint8Array.of(Number(text) >> 8, Number(text) & 0xff);
    }
    case IPV4HINT:
      return listOf(text, label, 4, parseIpv4);
    case IPV6HINT:
      return listOf(text, label, 16, parseIpv6);
    case ECH:
      return parseBase64(text, label);
    case DOHPATH: {
      const b = octets(text);
      const problem = dohpathProblem(b);
      if (problem !== undefined) throw new ValueError(`${label}: ${quote(raw ?? '')} ${problem}`);
      return b;
    }
    default:
      return octets(text);
  }
}

/** Reads one `key[=value]` parameter (a quoted value may follow `key=` as its own token). */
function readParam(r: RdataTokens, t: Token): { key: number; raw: string | undefined } {
  if (t.quoted) throw new ValueError(`SVCB parameter: unexpected quoted string ${quote(t.text)} (write key="value")`);
  const eq = t.text.indexOf('=');
  const key = parseKey(eq < 0 ? t.text : t.text.slice(0, eq), 'SVCB parameter key');
  if (eq < 0) return { key, raw: undefined };
  let raw = t.text.slice(eq + 1);
  const next = r.peek();
  if (raw === '' && next !== undefined && next.quoted && next.line === t.line && next.col === t.col + t.text.length) {
    raw = r.next('SVCB parameter value').text;
  }
  return { key, raw };
}

function checkConsistency(priority: number, keys: readonly number[], mandatory: readonly number[], fail: (msg: string) => never): void {
  if (priority === 0 && keys.length > 0) fail('AliasMode (priority 0) takes no parameters');
  for (const k of mandatory) if (!keys.includes(k)) fail(`mandatory lists ${quote(keyName(k))}, which is not present`);
  if (keys.includes(NO_DEFAULT_ALPN) && !keys.includes(ALPN)) fail("'no-default-alpn' needs 'alpn'");
}

function readU16s(v: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < v.length; i += 2) out.push((v[i]! << 8) | v[i + 1]!);
  return out;
}

/** An ALPN id inside the quoted alpn value: `,` and `\` take a second level of escaping. */
function escapeAlpnId(id: Uint8Array): string {
  let out = '';
  for (const c of id) {
    if (c === 0x2c) out += '\\\\,';
    else if (c === 0x5c) out += '\\\\\\\\';
    else if (c === 0x22) out += '\\"';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\${String(c).padStart(3, '0')}`;
  }
  return out;
}

/** A SvcParamValue from wire to its text (without `key=`); undefined for a bare key. */
function formatValue(key: number, v: Uint8Array, at: number): string | undefined {
  const bad = (what: string): never => {
    throw new WireFormatError(`SVCB ${keyLabel(key)}: ${what}`, at);
  };
  const n = v.length;
  switch (key) {
    case MANDATORY: {
      if (n === 0 || n % 2 !== 0) bad(`length ${n} is not a positive multiple of 2`);
      const keys = readU16s(v);
      keys.forEach((k, i) => {
        if (k === MANDATORY) bad("lists 'mandatory' itself");
        if (i > 0 && k <= keys[i - 1]!) bad('keys are not in strictly increasing order');
      });
      return keys.map(keyName).join(',');
    }
    case ALPN: {
      if (n === 0) bad('empty');
      const ids: string[] = [];
      for (let i = 0; i < n;) {
        const len = v[i]!;
        if (len === 0) bad('empty ALPN id');
        if (i + 1 + len > n) bad('ALPN id runs past the value');
        ids.push(escapeAlpnId(v.subarray(i + 1, i + 1 + len)));
        i += 1 + len;
      }
      return `"${ids.join(',')}"`;
    }
    case NO_DEFAULT_ALPN:
    case OHTTP:
      if (n !== 0) bad(`value must be empty (has ${n} octets)`);
      return undefined;
    case PORT:
      if (n !== 2) bad(`length ${n} is not 2`);
      return String((v[0]! << 8) | v[1]!);
    case IPV4HINT:
    case IPV6HINT: {
      const size = key === IPV4HINT ? 4 : 16;
      if (n === 0 || n % size !== 0) bad(`length ${n} is not a positive multiple of ${size}`);
      const out: string[] = [];
      for (let i = 0; i < n; i += size) {
        const a = v.subarray(i, i + size);
        out.push(size === 4 ? formatIpv4(a) : formatIpv6(a));
      }
      return out.join(',');
    }
    case ECH:
      if (n === 0) bad('empty');
      return toBase64(v);
    case DOHPATH: {
      const problem = dohpathProblem(v);
      if (problem !== undefined) bad(problem);
      return quoteText(v);
    }
    default:
      return n === 0 ? undefined : quoteText(v);
  }
}

export const svcbCodec: RdataCodec = {
  parse(r, ctx, w) {
    const pt = r.next('SVCB priority');
    if (pt.quoted || !/^\d+$/.test(pt.text) || Number(pt.text) > 0xffff) {
      throw new ValueError(`SVCB priority: ${quote(pt.text)} is not a number from 0 to 65535`);
    }
    const priority = Number(pt.text);
    const target = Name.parse(r.next('SVCB target name').text, ctx.origin);
    const params = new Map<number, Uint8Array>();
    while (!r.done) {
      const t = r.next('SVCB parameter');
      const { key, raw } = readParam(r, t);
      r.current = t;
      if (params.has(key)) throw new ValueError(`SVCB parameter ${quote(keyLabel(key))} appears twice`);
      const value = parseValue(key, raw);
      if (value.length > 0xffff) throw new ValueError(`SVCB ${keyLabel(key)}: value over 65535 octets`);
      params.set(key, value);
    }
    const keys = [...params.keys()].sort((a, b) => a - b);
    const mandatory = readU16s(params.get(MANDATORY) ?? new Uint8Array(0));
    checkConsistency(priority, keys, mandatory, (msg) => {
      throw new ValueError(`SVCB: ${msg}`);
    });
    w.u16(priority);
    w.name(target);
    for (const k of keys) {
      const v = params.get(k)!;
      w.u16(k);
      w.u16(v.length);
      w.bytes(v);
    }
  },

  format(rdata) {
    const d = new ByteReader(rdata);
    const priority = d.u16('SVCB priority');
    const target = d.name();
    const parts = [String(priority), target.toString()];
    const keys: number[] = [];
    let mandatory: number[] = [];
    while (d.remaining > 0) {
      const at = d.pos;
      const key = d.u16('SVCB parameter key');
      const len = d.u16('SVCB parameter length');
      const value = d.bytes(len, `SVCB ${keyLabel(key)} value`);
      const last = keys[keys.length - 1];
      if (last !== undefined && key <= last) {
        throw new WireFormatError(`SVCB parameter keys not in strictly increasing order (${keyName(key)} after ${keyName(last)})`, at);
      }
      keys.push(key);
      const text = formatValue(key, value, at);
      if (key === MANDATORY) mandatory = readU16s(value);
      parts.push(text === undefined ? keyName(key) : `${keyName(key)}=${text}`);
    }
    checkConsistency(priority, keys, mandatory, (msg) => {
      throw new WireFormatError(`SVCB: ${msg}`);
    });
    return parts.join(' ');
  },

  /** RFC 9460 section 2.2: the TargetName is not lowercased (SVCB is not in RFC 4034 6.2's list). */
  canonical: (rdata) => rdata,
};

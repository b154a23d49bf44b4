import { quote, ValueError, WireFormatError } from '../../common/errors.js';
import { ByteWriter, toHex } from '../bytes.js';
import { typeToString } from '../types.js';
import { codecFor } from './registry.js';
import type { ParseContext, RdataTokens } from './tokens.js';

export { codecFor } from './registry.js';
export { RdataTokens, type Token, type ParseContext } from './tokens.js';

/**
 * Reads a record's RDATA from presentation tokens. The RFC 3597 generic form
 * (`\# 4 0A0B0C0D`) works for every type; for a type hms knows, generic data must also be
 * valid data of that type.
 */
export function parseRdata(type: number, r: RdataTokens, ctx: ParseContext): Uint8Array {
  const w = new ByteWriter(64);
  parseRdataInto(type, r, ctx, w);
  return w.finish();
}

/** As parseRdata, appending to a writer the caller reuses (the zone-file parser's hot path). */
export function parseRdataInto(type: number, r: RdataTokens, ctx: ParseContext, w: ByteWriter): void {
  const first = r.peek();
  const codec = codecFor(type);
  if (first !== undefined && !first.quoted && first.text === '\\#') {
    r.next('\\#');
    const rdata = parseGeneric(r);
    if (codec !== undefined) {
      try {
        codec.format(rdata);
      } catch (e) {
        if (e instanceof WireFormatError) {
          throw new ValueError(`generic RDATA is not valid ${typeToString(type)} data: ${e.message}`);
        }
        throw e;
      }
    }
    w.bytes(rdata);
    return;
  }
  if (codec === undefined) {
    throw new ValueError(`type ${typeToString(type)} must be written in the RFC 3597 generic form (\\# length hex)`);
  }
  const start = w.length;
  codec.parse(r, ctx, w);
  if (w.length - start > 0xffff) throw new ValueError('RDATA over 65535 octets');
}

function parseGeneric(r: RdataTokens): Uint8Array {
  const lenToken = r.next('generic RDATA length');
  if (!/^\d+$/.test(lenToken.text) || Number(lenToken.text) > 0xffff) {
    throw new ValueError(`generic RDATA length ${quote(lenToken.text)} is not a number from 0 to 65535`);
  }
  const length = Number(lenToken.text);
  const hex = r
    .rest()
    .map((t) => t.text)
    .join('');
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new ValueError('generic RDATA is not an even number of hex digits');
  if (hex.length / 2 !== length) {
    r.current = lenToken;
    throw new ValueError(`generic RDATA length ${length} disagrees with its data (${hex.length / 2} octets)`);
  }
  return Buffer.from(hex, 'hex');
}

/** Presentation form of RDATA: the type's own form where hms knows it, else RFC 3597. */
export function formatRdata(type: number, rdata: Uint8Array): string {
  const codec = codecFor(type);
  return codec === undefined ? formatGeneric(rdata) : codec.format(rdata);
}

export function formatGeneric(rdata: Uint8Array): string {
  return rdata.length === 0 ? '\\# 0' : `\\# ${rdata.length} ${toHex(rdata)}`;
}

/** RFC 4034 section 6.2 canonical RDATA. */
export function canonicalRdata(type: number, rdata: Uint8Array): Uint8Array {
  const codec = codecFor(type);
  return codec === undefined ? rdata : codec.canonical(rdata);
}

/** Checks wire RDATA of a known type; returns the error message or undefined. */
export function checkRdata(type: number, rdata: Uint8Array): string | undefined {
  const codec = codecFor(type);
  if (codec === undefined) return undefined;
  try {
    codec.format(rdata);
    return undefined;
  } catch (e) {
    if (e instanceof WireFormatError) return e.message;
    throw e;
  }
}

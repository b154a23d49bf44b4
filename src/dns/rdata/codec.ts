import { quote, ValueError, WireFormatError } from '../../common/errors.js';
import { ByteReader, type ByteWriter } from '../bytes.js';
import type { Field } from './fields.js';
import type { ParseContext, RdataTokens } from './tokens.js';

/** How one record type's RDATA goes between presentation text and wire form. */
export interface RdataCodec {
  /** Reads the presentation tokens into wire-form RDATA, appended to `w`. */
  parse(r: RdataTokens, ctx: ParseContext, w: ByteWriter): void;
  /** Wire to presentation; throws WireFormatError on malformed RDATA. */
  format(rdata: Uint8Array): string;
  /** RFC 4034 section 6.2 canonical form (embedded names lowercased where the RFC says so). */
  canonical(rdata: Uint8Array): Uint8Array;
}

/** A codec made of a fixed sequence of fields (most types). */
export function fieldCodec(fields: readonly Field[]): RdataCodec {
  /** The canonical form changes nothing after the last field it lowercases. */
  const lastLowered = fields.findLastIndex((f) => f.lowerInCanonical === true);
  return {
    parse(r, ctx, w) {
      for (const f of fields) f.parse(r, w, ctx);
      if (!r.done) throw new ValueError(`unexpected data after the record (${quote(r.peek()?.text ?? '')})`);
    },
    format(rdata) {
      const d = new ByteReader(rdata);
      const parts = fields.map((f) => f.format(d));
      if (d.remaining !== 0) throw new WireFormatError(`${d.remaining} octets of trailing data`, d.pos);
      return parts.join(' ');
    },
    canonical(rdata) {
      if (lastLowered < 0) return rdata;
      const d = new ByteReader(rdata);
      let copy: Uint8Array | undefined;
      for (let k = 0; k <= lastLowered; k++) {
        const f = fields[k]!;
        const start = d.pos;
        if (f.skip !== undefined) f.skip(d);
        else f.format(d);
        if (f.lowerInCanonical) {
          for (let i = start; i < d.pos; i++) {
            const c = rdata[i]!;
            if (c >= 0x41 && c <= 0x5a) {
              copy ??= Uint8Array.from(rdata);
              // label length octets are below 64, so only letters are touched
              copy[i] = c | 0x20;
            }
          }
        }
      }
      return copy ?? rdata;
    },
  };
}

import { ByteWriter } from '../../src/dns/bytes.js';
import { Name } from '../../src/dns/name.js';
import type { RdataCodec } from '../../src/dns/rdata/codec.js';
import { RdataTokens, type Token } from '../../src/dns/rdata/tokens.js';
import { lexEntries } from '../../src/dns/zonefile/lexer.js';

/** The origin relative names in test RDATA are completed with. */
export const TEST_ORIGIN = Name.parse('example.com.');

/** The tokens of a line of presentation text, as the zone-file lexer makes them. */
export function tokensOf(text: string): Token[] {
  return [...lexEntries([text], 'test')].flatMap((e) => e.tokens);
}

/** Parses presentation RDATA with one codec into owned wire bytes. */
export function parseWith(codec: RdataCodec, text: string): Uint8Array {
  const w = new ByteWriter(64);
  codec.parse(new RdataTokens(tokensOf(text)), { origin: TEST_ORIGIN }, w);
  return w.finish();
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

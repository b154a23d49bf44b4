import { describe, expect, it } from 'vitest';
import { WireFormatError } from '../common/errors.js';
import { decodeMessage, uncompressedRdata } from './message.js';
import { Name } from './name.js';
import { RRType } from './types.js';

/** A response with one question (example.com) and one answer whose RDATA is given in hex. */
function response(type: number, rdataHex: string): Uint8Array {
  const rdata = Buffer.from(rdataHex, 'hex');
  const head = Buffer.from('123484000001000100000000076578616d706c6503636f6d0000060001', 'hex');
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0); // owner: a pointer to the question name
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(1, 4);
  rr.writeUInt32BE(300, 6);
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rr, rdata]);
}

describe('uncompressedRdata (RFC 3597 section 4)', () => {
  const wire = Name.parse('example.com.').toBytes();

  it('writes out the compressed names of MX, SOA and SRV in full, and leaves other types alone', () => {
    const mx = response(RRType.MX, '000a' + '046d61696cc00c');
    const [mxRecord] = decodeMessage(mx).records;
    expect(Buffer.from(uncompressedRdata(mx, mxRecord!)).toString('hex')).toBe('000a046d61696c' + Buffer.from(wire).toString('hex'));
    const soa = response(RRType.SOA, 'c00c' + 'c00c' + '00000007'.repeat(5));
    expect(uncompressedRdata(soa, decodeMessage(soa).records[0]!).length).toBe(2 * wire.length + 20);
    const srv = response(RRType.SRV, '000100020035' + 'c00c');
    expect(uncompressedRdata(srv, decodeMessage(srv).records[0]!).length).toBe(6 + wire.length);
    const txt = response(RRType.TXT, '03c00c00');
    expect(Buffer.from(uncompressedRdata(txt, decodeMessage(txt).records[0]!)).toString('hex')).toBe('03c00c00');
  });

  it('refuses RDATA that does not hold what its type says', () => {
    const short = response(RRType.SOA, 'c00c' + 'c00c' + '00000007');
    expect(() => uncompressedRdata(short, decodeMessage(short).records[0]!)).toThrow(WireFormatError);
    const long = response(RRType.NS, 'c00c' + 'ff');
    expect(() => uncompressedRdata(long, decodeMessage(long).records[0]!)).toThrow(/1 octet\(s\) after the RDATA of type 2/);
  });
});

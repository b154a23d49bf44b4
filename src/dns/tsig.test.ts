import { describe, expect, it } from 'vitest';
import { TsigError } from '../common/errors.js';
import { ByteWriter } from './bytes.js';
import { decodeMessage, encodeResponse, Rcode } from './message.js';
import { Name } from './name.js';
import { appendUnsignedTsig, makeTsigKey, signMessage, TSIG_ALGORITHMS, TsigRcode, verifyMessage, type TsigKey } from './tsig.js';
import { RRType } from './types.js';

/**
 * Queries signed by BIND 9's dig (`dig example.com SOA -y ALG:NAME:SECRET`), recorded from the
 * wire: the MACs come from a second implementation.
 */
const DIG_QUERIES: { readonly alg: string; readonly name: string; readonly secret: string; readonly time: number; readonly hex: string }[] = [
  {
    alg: 'hmac-sha256',
    name: 'xfr-key',
    time: 0x6b043831,
    secret: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMzItb2N0ZXRzISE=',
    hex: '18fc01200001000000000002076578616d706c6503636f6d000006000100002904d000000000000c000a00087f38e5178acd26d1077866722d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b043831012c0020e9ca73571834bb99491b5331e9c6166428b13fc84a0b06ac6acdcae8bd4fd05b18fc00000000',
  },
  {
    alg: 'hmac-sha1',
    name: 'Key.Example',
    time: 0x6b043832,
    secret: 'AAECAwQFBgcICQ==',
    hex: '557d01200001000000000002076578616d706c6503636f6d000006000100002904d000000000000c000a000840634b839a6c9048036b6579076578616d706c650000fa00ff00000000002f09686d61632d736861310000006b043832012c0014df630de280ef8ed128640b7495e7ff660cfe2aef557d00000000',
  },
  {
    alg: 'hmac-sha512',
    name: 'k512',
    time: 0x6b043833,
    secret: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMzItb2N0ZXRzISE=',
    hex: 'eb1401200001000000000002076578616d706c6503636f6d000006000100002904d000000000000c000a00087ec092d79d0f89ec046b3531320000fa00ff00000000005d0b686d61632d7368613531320000006b043833012c0040fa3e218ac867d7fad168a129ec849ec7a1ceb7c1c2ffe95a4a8f255d676c0b3277eba420a19aa6469c26de789f2a456c0b9aab37e782aa3d426ca1e49c5ec918eb1400000000',
  },
];

function query(id = 0x1234): Uint8Array {
  const w = new ByteWriter();
  w.u16(id);
  w.u16(0);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  w.name(Name.parse('example.com.'));
  w.u16(RRType.AXFR);
  w.u16(1);
  return w.finish();
}

const KEY = makeTsigKey('xfr-key', 'hmac-sha256', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMzItb2N0ZXRzISE=');
const byName = (keys: TsigKey[]) => (name: Name) => keys.find((k) => k.name.equals(name));
const NOW = 1_795_438_641;

describe('TSIG (RFC 8945)', () => {
  for (const q of DIG_QUERIES) {
    it(`accepts a query signed by dig with ${q.alg} (a MAC from a second implementation)`, () => {
      const key = makeTsigKey(q.name, q.alg, q.secret);
      const msg = Buffer.from(q.hex, 'hex');
      const DIG_TIME = q.time;
      expect(verifyMessage(msg, byName([key]), { now: DIG_TIME + 10 })?.status).toBe('ok');
      const flipped = Buffer.from(msg);
      flipped[2]! ^= 1; // the RD flag
      expect(verifyMessage(flipped, byName([key]), { now: DIG_TIME })?.status).toBe('BADSIG');
      expect(verifyMessage(msg, byName([{ ...key, secret: Buffer.from('other') }]), { now: DIG_TIME })?.status).toBe('BADSIG');
      expect(verifyMessage(msg, byName([key]), { now: DIG_TIME + 301 })?.status).toBe('BADTIME');
      expect(verifyMessage(msg, byName([key]), { now: DIG_TIME - 301 })?.status).toBe('BADTIME');
      expect(verifyMessage(msg, byName([]), { now: DIG_TIME })?.status).toBe('BADKEY');
    });
  }

  it('signs and verifies with every algorithm; ARCOUNT counts the TSIG record', () => {
    for (const alg of TSIG_ALGORITHMS) {
      const key = makeTsigKey('k.example.', alg, 'AAECAwQFBgcICQoLDA0ODw==');
      const { message, mac } = signMessage(query(), key, { now: NOW });
      expect(decodeMessage(message).header.arcount).toBe(1);
      const v = verifyMessage(message, byName([key]), { now: NOW });
      expect(v?.status).toBe('ok');
      expect(Buffer.from(v!.tsig!.mac)).toEqual(Buffer.from(mac));
    }
  });

  it('a message without TSIG verifies as undefined', () => {
    expect(verifyMessage(query(), byName([KEY]), { now: NOW })).toBeUndefined();
  });

  it('a key of the same name and another algorithm is BADKEY', () => {
    const signed = signMessage(query(), KEY, { now: NOW }).message;
    expect(verifyMessage(signed, byName([{ ...KEY, algorithm: 'hmac-sha512' }]), { now: NOW })?.status).toBe('BADKEY');
  });

  it('a response covers the request MAC; a multi-message response chains each MAC (RFC 8945 section 5.3.1)', () => {
    const request = signMessage(query(), KEY, { now: NOW });
    const messages = [0, 1, 2].map(() => encodeResponse({ id: 0x1234, opcode: 0, rcode: 0, isAuthoritative: true, isRecursionDesired: false }, undefined, []));
    let prior = request.mac;
    const signed: Uint8Array[] = [];
    messages.forEach((m, i) => {
      const s = signMessage(m, KEY, { now: NOW, priorMac: prior, isTimersOnly: i > 0 });
      signed.push(s.message);
      prior = s.mac;
    });
    prior = request.mac;
    signed.forEach((m, i) => {
      const v = verifyMessage(m, byName([KEY]), { now: NOW, priorMac: prior, isTimersOnly: i > 0 });
      expect(v?.status).toBe('ok');
      prior = v!.tsig!.mac;
    });
    // out of order, or without the request MAC, the chain breaks
    expect(verifyMessage(signed[2]!, byName([KEY]), { now: NOW, priorMac: request.mac, isTimersOnly: true })?.status).toBe('BADSIG');
    expect(verifyMessage(signed[0]!, byName([KEY]), { now: NOW })?.status).toBe('BADSIG');
  });

  it('a MAC after unsigned messages of a stream covers them too (RFC 8945 section 5.3.1)', () => {
    const request = signMessage(query(), KEY, { now: NOW });
    const message = (n: number): Uint8Array =>
      encodeResponse({ id: 0x1234, opcode: 0, rcode: n, isAuthoritative: true, isRecursionDesired: false }, undefined, []);
    const first = signMessage(message(0), KEY, { now: NOW, priorMac: request.mac });
    const between = [message(1), message(2)];
    const last = signMessage(message(3), KEY, { now: NOW, priorMac: first.mac, isTimersOnly: true, unsignedBefore: between });
    const check = (unsignedBefore: Uint8Array[]) =>
      verifyMessage(last.message, byName([KEY]), { now: NOW, priorMac: first.mac, isTimersOnly: true, unsignedBefore })?.status;
    expect(check(between)).toBe('ok');
    expect(check([between[0]!])).toBe('BADSIG');
    expect(check([])).toBe('BADSIG');
  });

  it('a BADKEY answer carries the TSIG error and no MAC', () => {
    const request = verifyMessage(signMessage(query(), KEY, { now: NOW }).message, byName([]), { now: NOW })!;
    const answer = appendUnsignedTsig(
      encodeResponse({ id: 0x1234, opcode: 0, rcode: Rcode.NOTAUTH, isAuthoritative: false, isRecursionDesired: false }, undefined, []),
      request.tsig!,
      TsigRcode.BADKEY,
      NOW,
    );
    const v = verifyMessage(answer, byName([KEY]), { now: NOW, priorMac: request.tsig!.mac });
    expect(v?.status).toBe('BADSIG');
    expect(v?.tsig?.error).toBe(TsigRcode.BADKEY);
    expect(v?.tsig?.mac.length).toBe(0);
  });

  it('a TSIG record that is not the last record is FORMERR', () => {
    const signed = signMessage(query(), KEY, { now: NOW }).message;
    const w = new ByteWriter();
    w.bytes(signed);
    w.setU16(10, 2);
    w.u8(0);
    w.u16(RRType.A);
    w.u16(1);
    w.u32(0);
    w.u16(4);
    w.u32(0x7f000001);
    expect(verifyMessage(w.finish(), byName([KEY]), { now: NOW })?.status).toBe('FORMERR');
  });

  it('DP-3.5c DP-4.2b refuses HMAC-MD5 and unknown algorithms when a key is read', () => {
    expect(() => makeTsigKey('k', 'hmac-md5', 'AAAA')).toThrow(TsigError);
    expect(() => makeTsigKey('k', 'HMAC-MD5.SIG-ALG.REG.INT.', 'AAAA')).toThrow(/DP-3\.5c/);
    expect(() => makeTsigKey('k', 'hmac-sha3', 'AAAA')).toThrow(/unknown TSIG algorithm/);
    expect(() => makeTsigKey('k', 'hmac-sha256', 'not base64!')).toThrow(/not base64/);
  });
});

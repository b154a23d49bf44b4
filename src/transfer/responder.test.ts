import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../dns/bytes.js';
import { decodeMessage, Opcode, Rcode } from '../dns/message.js';
import { Name } from '../dns/name.js';
import { makeTsigKey, signMessage, TsigRcode, verifyMessage, type TsigKey } from '../dns/tsig.js';
import { RRType } from '../dns/types.js';
import { memoryIncludes, textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';
import { respond, type ResponderOptions, type TransferEvent } from './responder.js';

const ORIGIN = Name.parse('example.com.');
const NOW = 1_795_438_641;
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMzItb2N0ZXRzISE=');
const OTHER = makeTsigKey('other-key', 'hmac-sha512', 'AAECAwQFBgcICQoLDA0ODw==');

function zone(extra = 0): Zone {
  const lines = ['@ 3600 IN SOA ns1 hostmaster 7 7200 900 2592000 300', '@ 3600 IN NS ns1', 'ns1 3600 IN A 192.0.2.1'];
  for (let i = 0; i < extra; i++) lines.push(`h${i} 3600 IN TXT "${'x'.repeat(200)}"`);
  const b = new ZoneBuilder(ORIGIN);
  for (const r of parseZoneFile(textSource('t.zone', lines.join('\n') + '\n'), { origin: ORIGIN, include: memoryIncludes({}) })) b.add(r);
  return b.freeze();
}

function options(z: Zone, events: TransferEvent[] = [], now = NOW): ResponderOptions {
  return {
    zones: (name) => (name.equals(ORIGIN) ? z : undefined),
    keys: [KEY, OTHER],
    acl: [{ address: '127.0.0.1', key: 'xfr-key' }, { address: '127.0.0.5', key: 'other-key' }],
    now: () => now,
    log: (e) => events.push(e),
  };
}

function request(type: number, opts: { opcode?: number; name?: string; id?: number } = {}): Uint8Array {
  const w = new ByteWriter();
  w.u16(opts.id ?? 0x4242);
  w.u16((opts.opcode ?? 0) << 11);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(0);
  w.name(Name.parse(opts.name ?? 'example.com.'));
  w.u16(type);
  w.u16(1);
  return w.finish();
}

const byName = (keys: TsigKey[]) => (name: Name) => keys.find((k) => k.name.equals(name));

describe('transfer responder', () => {
  it('DP-3.5a answers an AXFR in messages each signed and chained to the one before (RFC 5936, RFC 8945 section 5.3.1)', () => {
    const z = zone(300);
    const signed = signMessage(request(RRType.AXFR), KEY, { now: NOW });
    const out = [...respond(signed.message, '127.0.0.1', 'tcp', options(z))];
    expect(out.length).toBeGreaterThan(3);
    let prior = signed.mac;
    const types: number[] = [];
    out.forEach((m, i) => {
      expect(m.length).toBeLessThanOrEqual(16 * 1024);
      const v = verifyMessage(m, byName([KEY]), { now: NOW, priorMac: prior, isTimersOnly: i > 0 });
      expect(v?.status).toBe('ok');
      prior = v!.tsig!.mac;
      const h = v!.decoded.header;
      expect(h.isAuthoritative && !h.isTruncated && h.rcode === 0 && h.id === 0x4242).toBe(true);
      expect(m[3]! & 0x80).toBe(0); // RA never set
      types.push(...v!.decoded.records.filter((r) => r.type !== RRType.TSIG).map((r) => r.type));
    });
    expect(types[0]).toBe(RRType.SOA);
    expect(types[types.length - 1]).toBe(RRType.SOA);
    expect(types.length).toBe(z.recordCount + 1);
  });

  it('answers SOA over UDP and NOTIFY with a NOTIFY response, signed', () => {
    const z = zone();
    const soa = signMessage(request(RRType.SOA), KEY, { now: NOW });
    const [answer] = [...respond(soa.message, '127.0.0.1', 'udp', options(z))];
    const v = verifyMessage(answer!, byName([KEY]), { now: NOW, priorMac: soa.mac })!;
    expect(v.status).toBe('ok');
    expect(v.decoded.records.map((r) => r.type)).toEqual([RRType.SOA, RRType.TSIG]);
    const notify = signMessage(request(RRType.SOA, { opcode: Opcode.NOTIFY }), KEY, { now: NOW });
    const [reply] = [...respond(notify.message, '127.0.0.1', 'udp', options(z))];
    const n = verifyMessage(reply!, byName([KEY]), { now: NOW, priorMac: notify.mac })!;
    expect(n.status).toBe('ok');
    expect(n.decoded.header.opcode).toBe(Opcode.NOTIFY);
    expect(n.decoded.header.rcode).toBe(Rcode.NOERROR);
  });

  const rcodeOf = (m: Uint8Array | undefined): number => decodeMessage(m!).header.rcode;

  it('DP-3.2b DP-3.5a refuses without TSIG, from an unlisted address, with a key not listed for the address', () => {
    const z = zone();
    const events: TransferEvent[] = [];
    expect(rcodeOf([...respond(request(RRType.AXFR), '127.0.0.1', 'tcp', options(z, events))][0])).toBe(Rcode.REFUSED);
    const signed = signMessage(request(RRType.AXFR), KEY, { now: NOW }).message;
    expect(rcodeOf([...respond(signed, '127.0.0.2', 'tcp', options(z, events))][0])).toBe(Rcode.REFUSED);
    const wrongPair = signMessage(request(RRType.AXFR), OTHER, { now: NOW }).message;
    expect(rcodeOf([...respond(wrongPair, '127.0.0.1', 'tcp', options(z, events))][0])).toBe(Rcode.REFUSED);
    expect(events.map((e) => e.reason)).toEqual(['no TSIG', 'address not listed', 'key not listed for this address']);
  });

  it('answers BADKEY and BADSIG with NOTAUTH and an unsigned TSIG, BADTIME signed with the server time (RFC 8945 section 5.2)', () => {
    const z = zone();
    const unknown = signMessage(request(RRType.AXFR), makeTsigKey('nobody', 'hmac-sha256', 'AAAA'), { now: NOW }).message;
    const [badKey] = [...respond(unknown, '127.0.0.1', 'tcp', options(z))];
    const bk = verifyMessage(badKey!, byName([KEY]), { now: NOW })!;
    expect([bk.decoded.header.rcode, bk.tsig?.error, bk.tsig?.mac.length]).toEqual([Rcode.NOTAUTH, TsigRcode.BADKEY, 0]);
    const wrongSecret = signMessage(request(RRType.AXFR), { ...KEY, secret: Buffer.from('wrong') }, { now: NOW }).message;
    const [badSig] = [...respond(wrongSecret, '127.0.0.1', 'tcp', options(z))];
    const bs = verifyMessage(badSig!, byName([KEY]), { now: NOW })!;
    expect([bs.decoded.header.rcode, bs.tsig?.error, bs.tsig?.mac.length]).toEqual([Rcode.NOTAUTH, TsigRcode.BADSIG, 0]);
    const old = signMessage(request(RRType.AXFR), KEY, { now: NOW - 3600 });
    const [badTime] = [...respond(old.message, '127.0.0.1', 'tcp', options(z))];
    const bt = verifyMessage(badTime!, byName([KEY]), { now: NOW - 3600, priorMac: old.mac })!;
    expect(bt.status).toBe('ok');
    expect([bt.decoded.header.rcode, bt.tsig?.error, bt.tsig?.timeSigned]).toEqual([Rcode.NOTAUTH, TsigRcode.BADTIME, NOW - 3600]);
    expect(Buffer.from(bt.tsig!.otherData).readUIntBE(0, 6)).toBe(NOW);
  });

  it('refuses AXFR over UDP, other types, and zones not served; never answers a response', () => {
    const z = zone();
    const ask = (type: number, name?: string, transport: 'udp' | 'tcp' = 'udp') =>
      rcodeOf([...respond(signMessage(request(type, name === undefined ? {} : { name }), KEY, { now: NOW }).message, '127.0.0.1', transport, options(z))][0]);
    expect(ask(RRType.AXFR)).toBe(Rcode.REFUSED);
    expect(ask(RRType.A)).toBe(Rcode.REFUSED);
    expect(ask(RRType.SOA, 'example.org.')).toBe(Rcode.REFUSED);
    expect(ask(RRType.AXFR, 'example.org.', 'tcp')).toBe(Rcode.NOTAUTH);
    expect(ask(RRType.SOA, 'www.example.com.')).toBe(Rcode.REFUSED);
    const response = signMessage(request(RRType.SOA), KEY, { now: NOW }).message;
    response[2]! |= 0x80;
    expect([...respond(response, '127.0.0.1', 'udp', options(z))]).toEqual([]);
  });

  it('never throws on random bytes, whoever sends them (fuzz)', () => {
    const z = zone();
    const signed = signMessage(request(RRType.AXFR), KEY, { now: NOW }).message;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('127.0.0.1', '127.0.0.9'), (bytes, peer) => {
        for (const out of respond(bytes, peer, 'udp', options(z))) expect(out.length).toBeGreaterThanOrEqual(12);
      }),
      { numRuns: 2000 },
    );
    // and on a signed request with one octet changed anywhere
    fc.assert(
      fc.property(fc.nat(signed.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const m = Buffer.from(signed);
        m[at]! ^= x;
        for (const out of respond(m, '127.0.0.1', 'tcp', options(z))) expect(out.length).toBeGreaterThanOrEqual(12);
      }),
      { numRuns: 2000 },
    );
  });
});

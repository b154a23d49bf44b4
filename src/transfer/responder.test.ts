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
import { smallZone, zoneFromLines } from '../../test/helpers/zones.js';
import { encodeRequest } from './client.js';
import { typeToString } from '../dns/types.js';
import { diffZones, soaRecord, soaSerial } from '../zone/diff.js';
import type { IxfrSource } from './ixfr.js';
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
    acl: [
      { address: '127.0.0.1', key: 'xfr-key' },
      { address: '127.0.0.5', key: 'other-key' },
    ],
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

const rcodeOf = (m: Uint8Array | undefined): number => decodeMessage(m!).header.rcode;

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

  it('DP-3.2b a secondary gets only the zones listed for it; an upstream primary may only NOTIFY, and its NOTIFY is passed on', () => {
    const z = zone();
    const notified: string[] = [];
    const o: ResponderOptions = {
      ...options(z),
      acl: [
        { address: '127.0.0.1', key: 'xfr-key', zones: ['example.net.'] },
        { address: '127.0.0.5', key: 'other-key', notifyOnly: true, zones: ['example.com.'] },
      ],
      onNotify: (name, peer, key) => notified.push(`${name.toString()} ${peer} ${key}`),
    };
    const ask = (type: number, key: TsigKey, peer: string, opcode = 0) => [
      ...respond(signMessage(request(type, { opcode }), key, { now: NOW }).message, peer, 'tcp', o),
    ];
    expect(rcodeOf(ask(RRType.AXFR, KEY, '127.0.0.1')[0])).toBe(Rcode.REFUSED);
    expect(rcodeOf(ask(RRType.SOA, KEY, '127.0.0.1')[0])).toBe(Rcode.REFUSED);
    expect(rcodeOf(ask(RRType.AXFR, OTHER, '127.0.0.5')[0])).toBe(Rcode.REFUSED);
    expect(rcodeOf(ask(RRType.SOA, OTHER, '127.0.0.5')[0])).toBe(Rcode.REFUSED);
    expect(notified).toEqual([]);
    expect(rcodeOf(ask(RRType.SOA, OTHER, '127.0.0.5', Opcode.NOTIFY)[0])).toBe(Rcode.NOERROR);
    expect(notified).toEqual(['example.com. 127.0.0.5 other-key.']);
    // our own secondary's NOTIFY is answered and passed on to nobody
    const all: ResponderOptions = { ...o, acl: [{ address: '127.0.0.1', key: 'xfr-key' }] };
    expect(rcodeOf([...respond(signMessage(request(RRType.SOA, { opcode: Opcode.NOTIFY }), KEY, { now: NOW }).message, '127.0.0.1', 'udp', all)][0])).toBe(
      Rcode.NOERROR,
    );
    expect(notified).toHaveLength(1);
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

describe('transfer responder, IXFR (RFC 1995)', () => {
  const versions = [1, 2, 3].map((s) => smallZone(ORIGIN, s, [`v 300 IN TXT "version ${s}"`, ...(s === 3 ? ['new 300 IN A 192.0.2.3'] : [])]));
  const journal: IxfrSource = {
    diffsFrom: (from, current) =>
      current !== 3
        ? undefined
        : from === 1
          ? [diffZones(versions[0]!, versions[1]!), diffZones(versions[1]!, versions[2]!)]
          : from === 2
            ? [diffZones(versions[1]!, versions[2]!)]
            : undefined,
  };
  const withJournal = (z: Zone, events: TransferEvent[] = []): ResponderOptions => ({ ...options(z, events), journal: () => journal });

  function ixfr(serial: number): { message: Uint8Array; mac: Uint8Array } {
    const soa = soaRecord(smallZone(ORIGIN, serial));
    return signMessage(encodeRequest(0x4242, { name: ORIGIN, type: RRType.IXFR, class: 1 }, { authority: [soa] }), KEY, { now: NOW });
  }

  /** The records of a signed response stream, checked message by message; each as `TYPE serial?`. */
  function records(out: readonly Uint8Array[], requestMac: Uint8Array): string[] {
    let prior = requestMac;
    return out.flatMap((m, i) => {
      const v = verifyMessage(m, byName([KEY]), { now: NOW, priorMac: prior, isTimersOnly: i > 0 })!;
      expect(v.status).toBe('ok');
      prior = v.tsig!.mac;
      expect(v.decoded.header.rcode).toBe(Rcode.NOERROR);
      return v.decoded.records.filter((r) => r.type !== RRType.TSIG).map((r) => (r.type === RRType.SOA ? `SOA ${soaSerial(r.rdata)}` : typeToString(r.type)));
    });
  }

  it("issue 5 item 4 sends over TCP only the diffs from the secondary's serial, version by version, every message signed", () => {
    const events: TransferEvent[] = [];
    const request = ixfr(1);
    const out = [...respond(request.message, '127.0.0.1', 'tcp', withJournal(versions[2]!, events))];
    expect(records(out, request.mac)).toEqual(['SOA 3', 'SOA 1', 'TXT', 'SOA 2', 'TXT', 'SOA 2', 'TXT', 'SOA 3', 'A', 'TXT', 'SOA 3']);
    expect(events.at(-1)).toMatchObject({ msg: 'transfer, IXFR sent', fromSerial: 1, serial: 3, messages: 1, zone: 'example.com.', key: 'xfr-key.' });
  });

  it('answers the SOA alone to a secondary that is current or ahead', () => {
    for (const serial of [3, 4]) {
      const request = ixfr(serial);
      for (const transport of ['udp', 'tcp'] as const) {
        expect(records([...respond(request.message, '127.0.0.1', transport, withJournal(versions[2]!))], request.mac)).toEqual(['SOA 3']);
      }
    }
  });

  it('falls back to the whole zone over TCP when the journal does not reach back, or there is none', () => {
    for (const opts of [withJournal(versions[2]!), options(versions[2]!)]) {
      const request = ixfr(opts.journal === undefined ? 2 : 0);
      const got = records([...respond(request.message, '127.0.0.1', 'tcp', opts)], request.mac);
      expect(got[0]).toBe('SOA 3');
      expect(got[1]).not.toMatch(/^SOA/);
      expect(got.at(-1)).toBe('SOA 3');
      expect(got).toHaveLength(versions[2]!.recordCount + 1);
    }
  });

  it('RFC 1995 section 2: over UDP sends the diffs when they fit, else the SOA alone (the secondary then asks over TCP)', () => {
    // names short enough for a diff to fit in 512 octets uncompressed
    const E = Name.parse('e.');
    const short = [1, 2].map((s) => zoneFromLines(E, [`@ 60 IN SOA n h ${s} 1 1 1 1`, '@ 60 IN NS n', 'n 60 IN A 192.0.2.1', `v 60 IN TXT "${s}"`]));
    const shortJournal = { zones: (n: Name) => (n.equals(E) ? short[1] : undefined), journal: () => ({ diffsFrom: () => [diffZones(short[0]!, short[1]!)] }) };
    const ask = signMessage(encodeRequest(0x4242, { name: E, type: RRType.IXFR, class: 1 }, { authority: [soaRecord(short[0]!)] }), KEY, { now: NOW });
    const [fits] = [...respond(ask.message, '127.0.0.1', 'udp', { ...options(short[1]!), ...shortJournal })];
    expect(fits!.length).toBeLessThanOrEqual(512);
    expect(records([fits!], ask.mac)).toEqual(['SOA 2', 'SOA 1', 'TXT', 'SOA 2', 'TXT', 'SOA 2']);
    const events: TransferEvent[] = [];
    const old = ixfr(2);
    const big = [...respond(old.message, '127.0.0.1', 'udp', withJournal(versions[2]!, events))];
    expect(records(big, old.mac)).toEqual(['SOA 3']);
    expect(events.at(-1)).toMatchObject({ msg: 'transfer, IXFR over UDP answered with the SOA', reason: 'the diffs do not fit' });
    const none = [...respond(ixfr(0).message, '127.0.0.1', 'udp', withJournal(versions[2]!, events))];
    expect(none).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ reason: 'no diffs from that serial' });
  });

  it('never throws on a signed IXFR request with one octet changed anywhere (fuzz)', () => {
    const signed = ixfr(1).message;
    fc.assert(
      fc.property(fc.nat(signed.length - 1), fc.integer({ min: 1, max: 255 }), fc.constantFrom('udp' as const, 'tcp' as const), (at, x, transport) => {
        const m = Buffer.from(signed);
        m[at]! ^= x;
        for (const out of respond(m, '127.0.0.1', transport, withJournal(versions[2]!))) expect(out.length).toBeGreaterThanOrEqual(12);
      }),
      { numRuns: 1000 },
    );
  });

  it('answers FORMERR to an IXFR without the SOA in its authority section, and refuses IXFR to the unlisted', () => {
    const bare = signMessage(request(RRType.IXFR), KEY, { now: NOW });
    expect(rcodeOf([...respond(bare.message, '127.0.0.1', 'tcp', withJournal(versions[2]!))][0])).toBe(Rcode.FORMERR);
    expect(rcodeOf([...respond(ixfr(1).message, '127.0.0.2', 'tcp', withJournal(versions[2]!))][0])).toBe(Rcode.REFUSED);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTransferServer, type TransferServer } from './server.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';
import { connect } from 'node:net';
import { encodeRequest, query, transferStream } from './client.js';
import { decodeMessage, Rcode } from '../dns/message.js';
import { Name } from '../dns/name.js';
import { makeTsigKey, signMessage } from '../dns/tsig.js';
import { RRType } from '../dns/types.js';
import { memoryIncludes, textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';

const ORIGIN = Name.parse('example.com.');
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMzItb2N0ZXRzISE=');
const WRONG = makeTsigKey('xfr-key', 'hmac-sha256', 'AAECAwQFBgcICQoLDA0ODw==');

function zone(extra: number): Zone {
  const lines = ['@ 3600 IN SOA ns1 hostmaster 7 7200 900 2592000 300', '@ 3600 IN NS ns1', 'ns1 3600 IN A 192.0.2.1'];
  for (let i = 0; i < extra; i++) lines.push(`h${i} 3600 IN TXT "${'x'.repeat(200)}"`);
  const b = new ZoneBuilder(ORIGIN);
  for (const r of parseZoneFile(textSource('t.zone', lines.join('\n') + '\n'), { origin: ORIGIN, include: memoryIncludes({}) })) b.add(r);
  return b.freeze();
}

describe('DNS client against the transfer server on loopback', () => {
  let server: TransferServer;
  const z = zone(300);
  beforeAll(async () => {
    server = await startTransferServer({
      listen: [{ address: '127.0.0.1', port: 0 }],
      zones: (n) => (n.equals(ORIGIN) ? z : undefined),
      keys: [KEY],
      acl: [{ address: '127.0.0.1', key: 'xfr-key' }],
    });
  });
  afterAll(async () => server.close());
  const at = () => server.addresses[0]!;
  const soa = { name: ORIGIN, type: RRType.SOA, class: 1 };

  it('asks for the SOA with TSIG over UDP and over TCP, and checks the signed answer', async () => {
    for (const tcp of [false, true]) {
      const a = await query(at(), soa, { tsig: KEY, tcp, timeoutMs: 2000 });
      expect(a.transport).toBe(tcp ? 'tcp' : 'udp');
      expect(a.decoded.header.rcode).toBe(Rcode.NOERROR);
      expect(a.decoded.records.filter((r) => r.type === RRType.SOA)).toHaveLength(1);
    }
  });

  it('refuses an answer it cannot trust: unsigned, or signed with another secret', async () => {
    await expect(query(at(), soa, { timeoutMs: 2000 })).resolves.toMatchObject({ decoded: { header: { rcode: Rcode.REFUSED } } });
    await expect(query(at(), soa, { tsig: WRONG, timeoutMs: 2000 })).rejects.toThrow(/BADSIG/);
  });

  it('reads a multi-message AXFR with every MAC chained, SOA first and last', async () => {
    const records: number[] = [];
    let soas = 0;
    const messages = await transferStream(
      at(),
      { name: ORIGIN, type: RRType.AXFR, class: 1 },
      (m) => {
        for (const r of m.records) if (r.type !== RRType.TSIG) records.push(r.type);
        soas += m.records.filter((r) => r.type === RRType.SOA).length;
        return soas < 2;
      },
      { tsig: KEY, timeoutMs: 5000 },
    );
    expect(messages.length).toBeGreaterThan(1);
    expect(records[0]).toBe(RRType.SOA);
    expect(records.at(-1)).toBe(RRType.SOA);
    expect(records).toHaveLength(z.recordCount + 1);
  });

  it('issue 17 item 8 large AXFRs to a slow reader (the socket often full) leave no listeners behind: no MaxListenersExceededWarning', async () => {
    const big = zone(5000);
    const large = await startTransferServer({
      listen: [{ address: '127.0.0.1', port: 0 }],
      zones: (n) => (n.equals(ORIGIN) ? big : undefined),
      keys: [KEY],
      acl: [{ address: '127.0.0.1', key: 'xfr-key' }],
    });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    const transfers = 30;
    try {
      // one connection, the AXFRs asked at once, read slowly: the server's writes wait for the socket many times
      const request = signMessage(encodeRequest(1, { name: ORIGIN, type: RRType.AXFR, class: 1 }), KEY, { now: Math.floor(Date.now() / 1000) }).message;
      const frame = Buffer.alloc(2 + request.length);
      frame.writeUInt16BE(request.length, 0);
      frame.set(request, 2);
      const socket = connect(large.addresses[0]!.port, '127.0.0.1');
      const soas = await new Promise<number>((resolve, reject) => {
        let pending = Buffer.alloc(0);
        let seen = 0;
        const timer = setTimeout(() => reject(new Error(`${seen} SOA records after 30 s`)), 30_000);
        socket.on('error', reject);
        socket.on('connect', () => {
          for (let i = 0; i < transfers; i++) socket.write(frame);
          socket.pause();
          setTimeout(() => socket.resume(), 100);
        });
        socket.on('data', (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
            const length = pending.readUInt16BE(0);
            seen += decodeMessage(pending.subarray(2, 2 + length)).records.filter((r) => r.type === RRType.SOA).length;
            pending = pending.subarray(2 + length);
          }
          if (seen >= 2 * transfers) {
            clearTimeout(timer);
            resolve(seen);
            return;
          }
          socket.pause();
          setTimeout(() => socket.resume(), 1);
        });
      });
      socket.destroy();
      expect(soas).toBe(2 * transfers);
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
      expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await large.close();
    }
  }, 30_000);

  it('gives up after the timeout when nobody answers', async () => {
    const t = Date.now();
    await expect(query({ address: '127.0.0.1', port: 9 }, soa, { timeoutMs: 300 })).rejects.toThrow(/no answer over UDP within 300 ms|ECONNREFUSED|ICMP/);
    expect(Date.now() - t).toBeLessThan(2000);
  });
});

describe('the source address requests leave from (issue 16)', () => {
  let server: TransferServer;
  const z = zone(300);
  const soa = { name: ORIGIN, type: RRType.SOA, class: 1 };
  // this server answers 127.0.0.5 and ::1 only: 127.0.0.1, the kernel's choice on loopback, is refused
  beforeAll(async () => {
    server = await startTransferServer({
      listen: [
        { address: '127.0.0.1', port: 0 },
        { address: '::1', port: 0 },
      ],
      zones: (n) => (n.equals(ORIGIN) ? z : undefined),
      keys: [KEY],
      acl: [
        { address: '127.0.0.5', key: 'xfr-key' },
        { address: '::1', key: 'xfr-key' },
      ],
    });
  });
  afterAll(async () => server.close());
  const v4 = () => server.addresses[0]!;
  const v6 = () => server.addresses[1]!;

  it("sends UDP and TCP queries and reads a transfer from the source address of the server's family", async () => {
    await expect(query(v4(), soa, { tsig: KEY, timeoutMs: 2000 })).rejects.toThrow(/the answer \(rcode 5\) is not TSIG-signed/);
    for (const tcp of [false, true]) {
      const a = await query(v4(), soa, { tsig: KEY, tcp, timeoutMs: 2000, source: { ipv4: '127.0.0.5', ipv6: '::1' } });
      expect([a.transport, a.decoded.header.rcode]).toEqual([tcp ? 'tcp' : 'udp', Rcode.NOERROR]);
    }
    let soas = 0;
    await transferStream(
      v4(),
      { name: ORIGIN, type: RRType.AXFR, class: 1 },
      (m) => {
        expect(m.header.rcode).toBe(Rcode.NOERROR);
        soas += m.records.filter((r) => r.type === RRType.SOA).length;
        return soas < 2;
      },
      { tsig: KEY, timeoutMs: 5000, source: { ipv4: '127.0.0.5' } },
    );
    expect(soas).toBe(2);
    // an IPv6 server is asked from the IPv6 source (here: the kernel's, ::1); the IPv4 one is not used
    const a = await query(v6(), soa, { tsig: KEY, timeoutMs: 2000, source: { ipv4: '192.0.2.1' } });
    expect(a.decoded.header.rcode).toBe(Rcode.NOERROR);
  });

  it('a source address that is not on this host is an error naming it, over UDP, TCP and for a transfer', async () => {
    const source = { ipv4: '192.0.2.1' };
    const named = new RegExp(
      `^127\\.0\\.0\\.1:${v4().port}: cannot send from the source address 192\\.0\\.2\\.1 \\(EADDRNOTAVAIL: not an address of this host\\)$`,
    );
    await expect(query(v4(), soa, { tsig: KEY, timeoutMs: 2000, source })).rejects.toThrow(named);
    await expect(query(v4(), soa, { tsig: KEY, tcp: true, timeoutMs: 2000, source })).rejects.toThrow(named);
    await expect(transferStream(v4(), { name: ORIGIN, type: RRType.AXFR, class: 1 }, () => true, { tsig: KEY, timeoutMs: 2000, source })).rejects.toThrow(
      named,
    );
  });
});

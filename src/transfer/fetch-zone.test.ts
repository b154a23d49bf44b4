import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smallZone } from '../../test/helpers/zones.js';
import { Name } from '../dns/name.js';
import { makeTsigKey } from '../dns/tsig.js';
import { diffZones } from '../zone/diff.js';
import { printZone } from '../zone/print.js';
import type { Zone } from '../zone/zone.js';
import { fetchZone, type FetchEvent } from './fetch-zone.js';
import { respond, type ResponderOptions } from './responder.js';
import { startTransferServer, type TransferServer } from './server.js';

const ORIGIN = Name.parse('example.com.');
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMzItb2N0ZXRzISE=');
const WRONG = makeTsigKey('xfr-key', 'hmac-sha256', 'AAECAwQFBgcICQoLDA0ODw==');

/** Version `serial`: a big TXT set so that a whole zone takes several messages, and one record per version. */
function version(serial: number): Zone {
  const lines = Array.from({ length: 200 }, (_, i) => `h${i} 300 IN TXT "${'x'.repeat(150)}"`);
  return smallZone(ORIGIN, serial, [...lines, `v 300 IN TXT "version ${serial}"`, `mx 300 IN MX 10 mail${serial}`]);
}

const v = [1, 2, 3].map(version);
const text = (z: Zone): string[] => [...printZone(z)];

describe('fetchZone against our transfer server on loopback (the primary)', () => {
  let server: TransferServer;
  let hasJournal = true;
  beforeAll(async () => {
    server = await startTransferServer({
      listen: [{ address: '127.0.0.1', port: 0 }],
      zones: (n) => (n.equals(ORIGIN) ? v[2] : undefined),
      keys: [KEY],
      acl: [{ address: '127.0.0.1', key: 'xfr-key' }],
      journal: () =>
        hasJournal
          ? { diffsFrom: (from) => (from === 1 ? [diffZones(v[0]!, v[1]!), diffZones(v[1]!, v[2]!)] : from === 2 ? [diffZones(v[1]!, v[2]!)] : undefined) }
          : undefined,
    });
  });
  afterAll(async () => server.close());
  const primary = () => server.addresses[0]!;

  it('issue 5 item 2: takes the whole zone by AXFR when it holds none, in several TSIG-checked messages', async () => {
    const events: FetchEvent[] = [];
    const got = await fetchZone(primary(), ORIGIN, { tsig: KEY, timeoutMs: 5000, log: (e) => events.push(e) });
    expect(got.status).toBe('transferred');
    if (got.status !== 'transferred') return;
    expect([got.method, got.serial, got.messages > 1]).toEqual(['AXFR', 3, true]);
    expect(text(got.zone)).toEqual(text(v[2]!));
    expect(events.at(-1)).toMatchObject({ msg: 'inbound, AXFR finished', zone: 'example.com.', serial: 3 });
  });

  it("says unchanged when the primary's serial is not newer (RFC 1982), without a transfer", async () => {
    await expect(fetchZone(primary(), ORIGIN, { tsig: KEY, currentSerial: 3 })).resolves.toEqual({ status: 'unchanged', serial: 3 });
    await expect(fetchZone(primary(), ORIGIN, { tsig: KEY, current: v[2]! })).resolves.toEqual({ status: 'unchanged', serial: 3 });
    await expect(fetchZone(primary(), ORIGIN, { tsig: KEY, currentSerial: 2 ** 31 })).resolves.toEqual({ status: 'unchanged', serial: 2 ** 31 });
  });

  it('applies an IXFR to the zone it holds, from one or more versions back', async () => {
    for (const from of [v[0]!, v[1]!]) {
      const got = await fetchZone(primary(), ORIGIN, { tsig: KEY, current: from, timeoutMs: 5000 });
      expect(got).toMatchObject({ status: 'transferred', method: 'IXFR', serial: 3, messages: 1 });
      if (got.status === 'transferred') expect(text(got.zone)).toEqual(text(v[2]!));
    }
  });

  it('takes the whole zone when the primary answers IXFR with it, or its diffs do not apply', async () => {
    hasJournal = false;
    try {
      const got = await fetchZone(primary(), ORIGIN, { tsig: KEY, current: v[0]!, timeoutMs: 5000 });
      expect(got).toMatchObject({ status: 'transferred', method: 'AXFR', serial: 3 });
      if (got.status === 'transferred') expect(text(got.zone)).toEqual(text(v[2]!));
    } finally {
      hasJournal = true;
    }
    const events: FetchEvent[] = [];
    const otherOne = smallZone(ORIGIN, 1, ['v 300 IN TXT "something else"']);
    const got = await fetchZone(primary(), ORIGIN, { tsig: KEY, current: otherOne, timeoutMs: 5000, log: (e) => events.push(e) });
    expect(got).toMatchObject({ status: 'transferred', method: 'AXFR', serial: 3 });
    expect(events.find((e) => e.msg === 'inbound, IXFR does not apply, asking for AXFR')?.reason).toMatch(
      /IXFR from 127\.0\.0\.1#\d+: deletes .* which the zone does not hold/,
    );
  });

  it('DP-3.5a fails, naming the primary, when the TSIG does not check, and gives no zone', async () => {
    await expect(fetchZone(primary(), ORIGIN, { tsig: WRONG, timeoutMs: 2000 })).rejects.toThrow(
      /127\.0\.0\.1:\d+: the server refused our TSIG with BADSIG \(16\): our MAC does not check there, so its secret for key xfr-key\. \(hmac-sha256\) differs from ours/,
    );
    // a key the server does not know: its refusal says so, naming the key (the old text was 'TSIG is BADSIG (the server says error 17)')
    await expect(fetchZone(primary(), ORIGIN, { tsig: makeTsigKey('other-key', 'hmac-sha256', 'AAECAwQFBgcICQoLDA0ODw=='), timeoutMs: 2000 })).rejects.toThrow(
      /127\.0\.0\.1:\d+: the server refused our TSIG with BADKEY \(17\): it does not know key other-key\. \(hmac-sha256\)/,
    );
    await expect(fetchZone(primary(), Name.parse('example.org.'), { tsig: KEY, timeoutMs: 2000 })).rejects.toThrow(
      /127\.0\.0\.1#\d+: zone example\.org\.: the SOA query was answered with REFUSED/,
    );
  });

  it('issue 16 asks the SOA and takes the IXFR from the source address, which a primary may insist on', async () => {
    const strict = await startTransferServer({
      listen: [{ address: '127.0.0.1', port: 0 }],
      zones: (n) => (n.equals(ORIGIN) ? v[2] : undefined),
      keys: [KEY],
      acl: [{ address: '127.0.0.5', key: 'xfr-key' }],
      journal: () => ({ diffsFrom: (from) => (from === 2 ? [diffZones(v[1]!, v[2]!)] : undefined) }),
    });
    try {
      await expect(fetchZone(strict.addresses[0]!, ORIGIN, { tsig: KEY, current: v[1]!, timeoutMs: 2000 })).rejects.toThrow(
        /the answer \(rcode 5\) is not TSIG-signed/,
      );
      const got = await fetchZone(strict.addresses[0]!, ORIGIN, { tsig: KEY, current: v[1]!, timeoutMs: 5000, source: { ipv4: '127.0.0.5' } });
      expect(got).toMatchObject({ status: 'transferred', method: 'IXFR', serial: 3 });
    } finally {
      await strict.close();
    }
  });
});

/**
 * A primary that answers over UDP and TCP on one port with what our responder makes for
 * `zone`, its TCP messages edited by `edit` (cut short, changed) before they are sent.
 */
async function startOddPrimary(zone: Zone, edit: (messages: Uint8Array[]) => Uint8Array[]): Promise<{ port: number; close: () => Promise<void> }> {
  const options: ResponderOptions = {
    zones: (n) => (n.equals(ORIGIN) ? zone : undefined),
    keys: [KEY],
    acl: [{ address: '127.0.0.1', key: 'xfr-key' }],
    now: () => Math.floor(Date.now() / 1000),
  };
  const tcp = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      const request = chunk.subarray(2, 2 + chunk.readUInt16BE(0));
      for (const m of edit([...respond(request, '127.0.0.1', 'tcp', options)])) {
        const frame = Buffer.alloc(2 + m.length);
        frame.writeUInt16BE(m.length, 0);
        frame.set(m, 2);
        socket.write(frame);
      }
      socket.end();
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as { port: number }).port;
  const udp = createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    for (const out of respond(msg, rinfo.address, 'udp', options)) udp.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => udp.bind(port, '127.0.0.1', resolve));
  return {
    port,
    close: async () => {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}

describe('fetchZone from a primary that breaks off or sends nonsense', () => {
  const cases: [string, Zone, (m: Uint8Array[]) => Uint8Array[], RegExp][] = [
    ['breaks off after the first message', v[2]!, (m) => m.slice(0, 1), /AXFR failed: 127\.0\.0\.1:\d+: the connection closed before the answer was complete/],
    ['leaves a message out', v[2]!, (m) => [m[0]!, ...m.slice(2)], /AXFR failed: .*TSIG is BADSIG/],
    [
      'sends a record outside the zone',
      smallZone(ORIGIN, 3, ['www.example.org. 300 IN A 192.0.2.9']),
      (m) => m,
      /AXFR from 127\.0\.0\.1#\d+: record 4 \(www\.example\.org\.\/A\) is outside the zone/,
    ],
    ['changes one octet of a record', v[2]!, (m) => m.map((x, i) => (i === 1 ? Buffer.from(x).fill(0x41, 100, 101) : x)), /AXFR failed: .*TSIG is BADSIG/],
  ];
  for (const [what, zone, edit, error] of cases) {
    it(`a primary that ${what} is an error naming it, never a zone`, async () => {
      const primary = await startOddPrimary(zone, edit);
      try {
        await expect(fetchZone({ address: '127.0.0.1', port: primary.port }, ORIGIN, { tsig: KEY, currentSerial: 0, timeoutMs: 2000 })).rejects.toThrow(error);
      } finally {
        await primary.close();
      }
    });
  }
});

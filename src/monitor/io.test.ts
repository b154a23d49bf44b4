import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smallZone } from '../../test/helpers/zones.js';
import { Name } from '../dns/name.js';
import { decodeMessage, encodeResponse } from '../dns/message.js';
import { makeTsigKey, signMessage, TsigRcode, verifyMessage } from '../dns/tsig.js';
import { RRType } from '../dns/types.js';
import { query } from '../transfer/client.js';
import { startTransferServer, type TransferServer } from '../transfer/server.js';
import { checkZone } from './checks.js';
import { networkIo } from './io.js';
import { DEFAULT_THRESHOLDS, type Target } from './types.js';

const ORIGIN = Name.parse('example.com.');
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMzItb2N0ZXRzISE=');

/** A UDP socket on loopback that reads questions and answers each with `reply` (nothing: silent). */
async function udpPeer(reply: ((question: Buffer) => Buffer) | undefined): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    if (reply !== undefined) socket.send(reply(msg), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

describe("the monitor's network IO (every wait bounded, every failure a finding)", () => {
  let server: TransferServer;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    server = await startTransferServer({
      listen: [{ address: '127.0.0.1', port: 0 }],
      zones: (n) => (n.equals(ORIGIN) ? smallZone(ORIGIN, 7) : undefined),
      keys: [KEY],
      acl: [{ address: '127.0.0.1', key: 'xfr-key' }],
    });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server.close();
  });

  it("DP-2.9e the server's time is read from its TSIG BADTIME answer when our clock is two hours off", async () => {
    const realNow = Math.floor(Date.now() / 1000);
    const a = await query(server.addresses[0]!, { name: ORIGIN, type: RRType.SOA, class: 1 }, { tsig: KEY, timeoutMs: 2000, now: () => realNow - 7200 });
    expect(a.tsig?.error).toBe(TsigRcode.BADTIME);
    const od = a.tsig!.otherData;
    const theirs = od[0]! * 2 ** 40 + od[1]! * 2 ** 32 + new DataView(od.buffer, od.byteOffset + 2, 4).getUint32(0);
    expect(Math.abs(theirs - realNow)).toBeLessThanOrEqual(2);
  });

  it('DP-2.9e a server that signs its answer with its own clock two hours ahead (a fudge wider than ours) is CRITICAL with the skew', async () => {
    const zone = smallZone(ORIGIN, 7);
    const soa = zone.soa!;
    // it takes our request (its fudge is wide), and signs the answer with its own time
    const skewed = await udpPeer((q) => {
      const realNow = Math.floor(Date.now() / 1000);
      const question = decodeMessage(q).questions[0]!;
      const records = question.type === RRType.SOA ? [{ owner: ORIGIN, type: RRType.SOA, ttl: 3600, rdata: soa.records[0]!.rdata }] : [];
      const answer = encodeResponse({ id: q.readUInt16BE(0), opcode: 0, rcode: 0, isAuthoritative: true, isRecursionDesired: false }, question, records);
      const request = verifyMessage(q, () => KEY, { now: realNow });
      if (request === undefined) return Buffer.from(answer);
      return Buffer.from(signMessage(answer, KEY, { now: realNow + 7200, priorMac: request.tsig!.mac }).message);
    });
    sockets.push(skewed);
    const target: Target = { label: 'skewed', address: '127.0.0.1', port: skewed.address().port, key: KEY };
    const io = networkIo({ timeoutMs: 1000, source: {} });
    const reply = await io.ask(target, ORIGIN, RRType.SOA, { tsig: KEY, anyTime: true });
    expect(reply.tsig?.error).toBe(0);
    // without anyTime the answer is refused as any client refuses it
    await expect(io.ask(target, ORIGIN, RRType.SOA, { tsig: KEY })).rejects.toThrow(
      /skewed|127\.0\.0\.1:\d+: (the answer's TSIG is BADTIME|the server refused our TSIG with BADTIME \(18\))/,
    );
    const facts = {
      zone: ORIGIN,
      serial: 7,
      signedAt: null,
      anchors: [],
      nodataType: RRType.RP,
      targets: [target],
      unresolved: [],
      parent: { servers: [], published: [], atParent: [] },
    };
    const findings = await checkZone(facts, io, () => Math.floor(Date.now() / 1000), DEFAULT_THRESHOLDS);
    const clock = findings.find((f) => f.check === 'clock')!;
    expect(clock).toMatchObject({
      server: 'skewed',
      status: 'CRITICAL',
      message: expect.stringMatching(/^its clock is 2 h 0 min ahead of ours \(skew 7\d{3} s, from its TSIG answer\)$/) as unknown,
    });
    expect(Math.abs(clock.value! - 7200)).toBeLessThanOrEqual(2);
  });

  it('a server that is silent, or answers garbage, is a CRITICAL finding within the timeout, naming it', async () => {
    const silent = await udpPeer(undefined);
    const garbage = await udpPeer((q) => Buffer.concat([q.subarray(0, 2), Buffer.from([0x84, 0, 0, 1, 0, 9, 0, 0, 0, 0, 1, 2, 3])]));
    sockets.push(silent, garbage);
    const target = (label: string, s: Socket): Target => ({ label, address: '127.0.0.1', port: s.address().port });
    const facts = {
      zone: ORIGIN,
      serial: 7,
      signedAt: null,
      anchors: [],
      nodataType: RRType.RP,
      targets: [target('silent', silent), target('garbage', garbage)],
      unresolved: [{ label: 'ns2.example.net.', problem: 'ns2.example.net.: no address found (queryA ENOTFOUND ns2.example.net)' }],
      parent: { servers: [], published: [], atParent: [] },
    };
    const started = Date.now();
    const findings = await checkZone(facts, networkIo({ timeoutMs: 500, source: {} }), () => Math.floor(Date.now() / 1000), DEFAULT_THRESHOLDS);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(findings).toMatchObject([
      { server: 'ns2.example.net.', check: 'answer', status: 'CRITICAL', message: expect.stringMatching(/no address found/) as unknown },
      {
        server: 'silent',
        check: 'answer',
        status: 'CRITICAL',
        message: expect.stringMatching(/^no usable answer: 127\.0\.0\.1:\d+: no answer over UDP within 500 ms$/) as unknown,
      },
      {
        server: 'garbage',
        check: 'answer',
        status: 'CRITICAL',
        message: expect.stringMatching(/^no usable answer: 127\.0\.0\.1:\d+: malformed answer/) as unknown,
      },
    ]);
  });
});

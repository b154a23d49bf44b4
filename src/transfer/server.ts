import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { UnixSeconds } from '../common/clock.js';
import { TransferError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import type { TsigKey } from '../dns/tsig.js';
import type { Zone } from '../zone/zone.js';
import type { IxfrSource } from './ixfr.js';
import { respond, type AclEntry, type ResponderOptions, type TransferEvent, type Transport } from './responder.js';

export type { AclEntry, TransferEvent } from './responder.js';

export interface TransferServerOptions {
  /** Where to listen, UDP and TCP on each; port 0 picks a free port (the same for both). */
  readonly listen: readonly { readonly address: string; readonly port: number }[];
  /** The signed zone currently published under a name. */
  readonly zones: (name: Name) => Zone | undefined;
  readonly keys: readonly TsigKey[];
  readonly acl: readonly AclEntry[];
  /** The clock (default the system's); tests skew it to see BADTIME. */
  readonly now?: () => UnixSeconds;
  readonly log?: (event: TransferEvent) => void;
  /** A TCP connection with nothing to do is closed after this long (default 10 s). */
  readonly idleTimeoutMs?: number;
  /** The journal of a zone's signed versions, for IXFR (none: IXFR gets the whole zone). */
  readonly journal?: (name: Name) => IxfrSource | undefined;
  /** A NOTIFY from a `notifyOnly` peer (an upstream primary) was accepted. */
  readonly onNotify?: (zone: Name, peer: string, key: string) => void;
}

export interface TransferServer {
  /** The addresses actually listened on (ports filled in). */
  readonly addresses: readonly { readonly address: string; readonly port: number }[];
  close(): Promise<void>;
}

/**
 * Starts the zone-output server (DP-3.2, DP-3.5): SOA over UDP and TCP, AXFR over TCP, IXFR
 * (RFC 1995) from the journal over TCP and, when it fits, UDP, NOTIFY answers, every answer
 * TSIG-signed, everyone not listed refused.
 */
export async function startTransferServer(options: TransferServerOptions): Promise<TransferServer> {
  for (const entry of options.acl) {
    if (isIP(entry.address) === 0) throw new TransferError(`transfer ACL: '${entry.address}' is not a single IP address`);
  }
  const responder: ResponderOptions = {
    zones: options.zones,
    keys: options.keys,
    acl: options.acl,
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.journal === undefined ? {} : { journal: options.journal }),
    ...(options.onNotify === undefined ? {} : { onNotify: options.onNotify }),
  };
  const idleMs = options.idleTimeoutMs ?? 10_000;
  const tcpServers: Server[] = [];
  const udpSockets: UdpSocket[] = [];
  const connections = new Set<Socket>();
  const addresses: { address: string; port: number }[] = [];
  const close = async (): Promise<void> => {
    for (const c of connections) c.destroy();
    await Promise.all([
      ...tcpServers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      ...udpSockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ]);
  };
  try {
    for (const where of options.listen) {
      const tcp = createServer((socket) => serveConnection(socket, responder, idleMs, connections));
      tcpServers.push(tcp);
      await listening(tcp, (done) => tcp.listen(where.port, where.address, done));
      const bound = tcp.address();
      const port = typeof bound === 'object' && bound !== null ? bound.port : where.port;
      const udp = createSocket(isIP(where.address) === 6 ? 'udp6' : 'udp4');
      udpSockets.push(udp);
      udp.on('message', (msg, rinfo) => {
        for (const out of safeRespond(msg, rinfo.address, 'udp', responder)) udp.send(out, rinfo.port, rinfo.address);
      });
      udp.on('error', (e) => options.log?.({ msg: 'transfer, UDP error', peer: '', transport: 'udp', reason: e.message }));
      await listening(udp, (done) => udp.bind(port, where.address, done));
      addresses.push({ address: where.address, port });
    }
  } catch (e) {
    await close();
    throw new TransferError(`transfer server: cannot listen: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return { addresses, close };
}

/** Starts listening (a TCP server or a UDP socket); rejects with the first error. */
function listening(target: Server | UdpSocket, start: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    target.once('error', reject);
    start(() => {
      target.off('error', reject);
      resolve();
    });
  });
}

/** IPv4 peers on a dual-stack socket show as `::ffff:a.b.c.d`; the ACL lists them plainly. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** The responder's answers; an unexpected failure is logged and the request dropped, never a crash. */
function* safeRespond(msg: Uint8Array, peer: string, transport: Transport, options: ResponderOptions): Generator<Uint8Array> {
  const from = plainAddress(peer);
  try {
    yield* respond(msg, from, transport, options);
  } catch (e) {
    options.log?.({ msg: 'transfer, internal error', peer: from, transport, reason: e instanceof Error ? e.message : String(e) });
  }
}

/** One TCP connection: 2-octet length framing, requests one after another, an idle timeout. */
function serveConnection(socket: Socket, options: ResponderOptions, idleMs: number, connections: Set<Socket>): void {
  connections.add(socket);
  socket.setTimeout(idleMs, () => socket.destroy());
  socket.on('close', () => connections.delete(socket));
  socket.on('error', () => socket.destroy());
  const peer = socket.remoteAddress ?? '';
  let pending = Buffer.alloc(0);
  let queue = Promise.resolve();
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      const request = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      queue = queue.then(() => answerOnTcp(socket, request, peer, options));
    }
  });
}

async function answerOnTcp(socket: Socket, request: Uint8Array, peer: string, options: ResponderOptions): Promise<void> {
  for (const out of safeRespond(request, peer, 'tcp', options)) {
    if (socket.destroyed) return;
    const frame = Buffer.allocUnsafe(2 + out.length);
    frame.writeUInt16BE(out.length, 0);
    frame.set(out, 2);
    if (!socket.write(frame)) await writable(socket);
  }
}

/**
 * Waits until the socket takes more ('drain') or is gone ('close'), then removes both
 * listeners: a 'close' listener left behind by every full socket buffer piled up during a
 * large AXFR until Node warned (MaxListenersExceededWarning, issue 17 item 8).
 */
function writable(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

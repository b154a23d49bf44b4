import type { Socket } from 'node:net';
import { MAX_QUEUED_OCTETS, MAX_QUEUED_REQUESTS, type ConnectionRefusal, type TransferLimits } from './tcp-clients.js';

export interface ConnectionOptions {
  readonly peer: string;
  /** The peer's address is in the ACL: it may ask one request after another. */
  readonly listed: boolean;
  readonly limits: () => TransferLimits;
  /** The answers to one request (none: it is dropped). */
  readonly answer: (request: Uint8Array) => Iterable<Uint8Array>;
  readonly refuse: ConnectionRefusal;
  readonly closed: () => void;
}

const EMPTY = Buffer.alloc(0);
/** How long one answer's messages are sent before other work gets a turn (ms). */
const TURN_MS = 20;

/**
 * One TCP connection (RFC 7766: 2-octet length framing, requests one after another), bounded
 * in time and memory whatever the peer does:
 * - a message must be whole within `ioTimeoutMs` of its first octet (a byte every few seconds
 *   keeps nothing open); with nothing under way the connection is closed after `idleTimeoutMs`;
 * - at most a few requests are read ahead of their answers; while they wait, or while the socket
 *   holds answers the peer has not read, nothing more is read (the peer's own TCP window then
 *   stops it), and a peer that reads nothing for `idleTimeoutMs` is closed;
 * - an address not listed gets its one answer (REFUSED: there is nothing else for it), then
 *   the connection closes.
 */
export function serveConnection(socket: Socket, o: ConnectionOptions): void {
  let pending: Buffer = EMPTY;
  /** When the first octet of the message in `pending` came. */
  let begun = 0;
  const queue: Buffer[] = [];
  let queuedOctets = 0;
  let answering = false;
  /** The socket holds more than it takes: waiting for 'drain'. */
  let blocked = false;
  let paused = false;
  let finishing = false;
  let served = 0;
  let timer: NodeJS.Timeout | undefined;

  const close = (reason: string): void => {
    o.refuse(o.peer, 'transfer, connection closed', reason);
    socket.destroy();
  };

  /** The one deadline that applies now. */
  const arm = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (socket.destroyed || finishing) return;
    const { idleTimeoutMs, ioTimeoutMs } = o.limits();
    let ms: number;
    let reason: string;
    if (blocked) [ms, reason] = [idleTimeoutMs, `its answers not read for ${idleTimeoutMs / 1000} s`];
    else if (answering || queue.length > 0) return;
    else if (pending.length > 0) [ms, reason] = [begun + ioTimeoutMs - Date.now(), `no whole message within ${ioTimeoutMs / 1000} s of its first octet`];
    else if (served === 0) [ms, reason] = [idleTimeoutMs, `idle: no message within ${idleTimeoutMs / 1000} s`];
    else {
      // a secondary done with its transfers: closed as Knot and BIND close theirs, not counted
      ms = idleTimeoutMs;
      reason = '';
    }
    timer = setTimeout(() => (reason === '' ? socket.destroy() : close(reason)), Math.max(0, ms));
  };

  /** Takes the whole messages that fit in the queue, then reads on or stops reading. */
  const pump = (): void => {
    if (socket.destroyed || finishing) return;
    while (pending.length >= 2 && queue.length < MAX_QUEUED_REQUESTS && queuedOctets < MAX_QUEUED_OCTETS) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      // a copy: the request no longer holds the whole chunk it came in
      const request = Buffer.from(pending.subarray(2, 2 + length));
      queue.push(request);
      queuedOctets += request.length;
      pending = pending.length === 2 + length ? EMPTY : pending.subarray(2 + length);
      begun = Date.now();
    }
    const stop = blocked || queue.length >= MAX_QUEUED_REQUESTS || queuedOctets >= MAX_QUEUED_OCTETS;
    if (stop && !paused) {
      paused = true;
      socket.pause();
    } else if (!stop && paused) {
      paused = false;
      // what is left of a message waited while reading stopped: its time starts again
      begun = Date.now();
      socket.resume();
    }
    arm();
    if (!answering && queue.length > 0) void work();
  };

  const work = async (): Promise<void> => {
    answering = true;
    try {
      while (queue.length > 0 && !socket.destroyed && !finishing) {
        const request = queue.shift()!;
        queuedOctets -= request.length;
        pump();
        let turned = performance.now();
        for (const out of o.answer(request)) {
          if (socket.destroyed) return;
          // a long transfer lets the event loop turn every TURN_MS: the socket on loopback
          // seldom says "full", and an IXFR read from the journal answered nothing else for 3.3 s
          if (performance.now() - turned > TURN_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            if (socket.destroyed) return;
            turned = performance.now();
          }
          const frame = Buffer.allocUnsafe(2 + out.length);
          frame.writeUInt16BE(out.length, 0);
          frame.set(out, 2);
          if (!socket.write(frame)) {
            blocked = true;
            pump();
            await writable(socket);
            blocked = false;
            arm();
          }
        }
        served++;
        if (!o.listed) return finish();
      }
    } finally {
      answering = false;
      if (!finishing) pump();
    }
  };

  /** The answer is sent, nothing more is read: closed once it is out (or when the peer will not take it). */
  const finish = (): void => {
    finishing = true;
    queue.length = 0;
    pending = EMPTY;
    clearTimeout(timer);
    socket.pause();
    socket.end();
    timer = setTimeout(() => socket.destroy(), o.limits().ioTimeoutMs);
  };

  socket.on('data', (chunk: Buffer) => {
    if (finishing) return;
    if (pending.length === 0) begun = Date.now();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    pump();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    clearTimeout(timer);
    o.closed();
  });
  arm();
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

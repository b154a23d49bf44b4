import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Name } from '../../../src/dns/name.js';
import type { TsigKey } from '../../../src/dns/tsig.js';
import { signMessage } from '../../../src/dns/tsig.js';
import { RRType } from '../../../src/dns/types.js';
import { encodeRequest } from '../../../src/transfer/client.js';

/**
 * The floods of issue 17 item 3, as clients of a transfer server on 127.0.0.1: many TCP
 * connections from loopback addresses of their own (127.0.x.y, none of them listed), each
 * watched until the server closes it.
 */

/** One flood connection: when it connected and when the server closed it (if it did). */
export interface FloodSocket {
  readonly socket: Socket;
  readonly source: string;
  connected: boolean;
  closedAt: number | undefined;
}

/** `count` addresses 127.`third`.0.1, 127.`third`.0.2 ... 127.`third`.0.250, 127.`third`.1.1 ... (none of them in an ACL). */
export function loopbackAddresses(third: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.${third}.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

/**
 * Opens `count` connections to 127.0.0.1:`port`, from `sources` in turn, at most 200 opening at
 * once; resolves when each has connected or failed (a refused connection counts as closed).
 */
export async function openConnections(port: number, sources: readonly string[], count: number): Promise<FloodSocket[]> {
  const all: FloodSocket[] = [];
  for (let start = 0; start < count; start += 200) {
    const batch = Array.from({ length: Math.min(200, count - start) }, (_, i) => {
      const source = sources[(start + i) % sources.length]!;
      const socket = connect({ host: '127.0.0.1', port, localAddress: source });
      const f: FloodSocket = { socket, source, connected: false, closedAt: undefined };
      all.push(f);
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      socket.on('close', () => (f.closedAt ??= Date.now()));
      return new Promise<void>((resolve) => {
        socket.once('connect', () => {
          f.connected = true;
          resolve();
        });
        socket.once('close', () => resolve());
      });
    });
    await Promise.all(batch);
  }
  return all;
}

/** How many of them the server holds open now. */
export function stillOpen(sockets: readonly FloodSocket[]): number {
  return sockets.filter((s) => s.closedAt === undefined && s.connected).length;
}

/** Waits until `done()` or `ms` passes; returns whether it was done. */
export async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 100));
  return done();
}

/** A framed SOA query for `zone` (unsigned: an unlisted peer's), `id` as given. */
export function framedQuery(zone: string, type: number = RRType.SOA, key?: TsigKey): Buffer {
  let request = encodeRequest(0x1234, { name: Name.parse(zone.endsWith('.') ? zone : `${zone}.`), type, class: 1 });
  if (key !== undefined) request = signMessage(request, key, { now: Math.floor(Date.now() / 1000) }).message;
  const frame = Buffer.alloc(2 + request.length);
  frame.writeUInt16BE(request.length, 0);
  frame.set(request, 2);
  return frame;
}

/**
 * Trickles `message` into every socket, one octet each `everyMs` (round the message again and
 * again); returns the function that stops it.
 */
export function trickle(sockets: readonly FloodSocket[], message: Buffer, everyMs: number): () => void {
  let at = 0;
  const timer = setInterval(() => {
    const octet = message.subarray(at % message.length, (at % message.length) + 1);
    at++;
    for (const s of sockets) if (s.closedAt === undefined && s.connected) s.socket.write(octet);
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * Writes `message` again and again into a connection whose answers are never read (the
 * socket is paused), as fast as the server takes them, until `stop()`; returns the octets
 * the server took so far and the stop.
 */
export function pipelineWithoutReading(f: FloodSocket, message: Buffer): { sent(): number; stop(): void } {
  let sent = 0;
  let stopped = false;
  const block = Buffer.concat(Array.from({ length: Math.max(1, Math.floor(16_384 / message.length)) }, () => message));
  f.socket.pause();
  const more = (): void => {
    while (!stopped && f.closedAt === undefined && !f.socket.destroyed) {
      sent += block.length;
      if (!f.socket.write(block)) {
        f.socket.once('drain', more);
        return;
      }
    }
  };
  if (f.connected) more();
  else f.socket.once('connect', more);
  return { sent: () => sent, stop: () => (stopped = true) };
}

/** The resident memory of a process now and its peak so far, in MB (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

/** Samples a process's RSS every 200 ms until stopped; returns the largest seen. */
export function sampleRss(pid: number): () => number {
  let max = memoryOf(pid).rss;
  const timer = setInterval(() => {
    try {
      max = Math.max(max, memoryOf(pid).rss);
    } catch {
      // the process is gone: the test says so
    }
  }, 200);
  return () => {
    clearInterval(timer);
    return max;
  };
}

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { getSystemErrorMap } from 'node:util';
import type { UnixSeconds } from '../common/clock.js';
import { TransferError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import type { TsigKey } from '../dns/tsig.js';
import type { ZoneVersion } from '../zone/version.js';
import type { IxfrSource } from './ixfr.js';
import { RefusalCounter, type RefusalSummary } from './refusals.js';
import { respond, type AclEntry, type ResponderOptions, type TransferEvent, type Transport } from './responder.js';
import { DEFAULT_TRANSFER_LIMITS, TcpClients, type TransferLimits } from './tcp-clients.js';
import { serveConnection } from './tcp-connection.js';

export type { AclEntry, TransferEvent } from './responder.js';
export type { RefusalSummary } from './refusals.js';
export { DEFAULT_TRANSFER_LIMITS, type TransferLimits } from './tcp-clients.js';

/** The events that are refusals: counted, and logged as a summary per interval. */
const REFUSALS = new Set(['transfer, refused', 'transfer, malformed', 'transfer, dropped', 'transfer, connection refused', 'transfer, connection closed']);

export interface TransferServerOptions {
  /** Where to listen, UDP and TCP on each; port 0 picks a free port (the same for both). */
  readonly listen: readonly { readonly address: string; readonly port: number }[];
  /** The signed zone currently published under a name. */
  readonly zones: (name: Name) => ZoneVersion | undefined;
  readonly keys: readonly TsigKey[];
  readonly acl: readonly AclEntry[];
  /** The clock (default the system's); tests skew it to see BADTIME. */
  readonly now?: () => UnixSeconds;
  /** What happened: each transfer served; each refusal too, unless `logRefusals` takes them. */
  readonly log?: (event: TransferEvent) => void;
  /** Every event, refusals included, as it happens (the metrics count them; nothing is logged here). */
  readonly observe?: (event: TransferEvent) => void;
  /** The refusals, counted: one summary per `limits.refusalLogIntervalMs` at most (issue 17 item 3). */
  readonly logRefusals?: (summary: RefusalSummary) => void;
  /** The caps and timeouts of TCP peers, and how often refusals are summed up (DEFAULT_TRANSFER_LIMITS). */
  readonly limits?: Partial<TransferLimits>;
  /** The journal of a zone's signed versions, for IXFR (none: IXFR gets the whole zone). */
  readonly journal?: (name: Name) => IxfrSource | undefined;
  /** A NOTIFY from a `notifyOnly` peer (an upstream primary) was accepted. */
  readonly onNotify?: (zone: Name, peer: string, key: string) => void;
}

export interface TransferServer {
  /** The addresses actually listened on (ports filled in). */
  readonly addresses: readonly { readonly address: string; readonly port: number }[];
  /**
   * New listen addresses, keys and ACL without a moment deaf (a reload): an address listed
   * before keeps its sockets, a new one is bound first; only when every new one is bound do
   * the keys and the ACL change and the addresses no longer listed close. When one cannot be
   * bound, nothing changes and the TransferError names it and why (EADDRINUSE, EADDRNOTAVAIL).
   */
  reconfigure(settings: TransferSettings): Promise<void>;
  close(): Promise<void>;
}

/** What a reload may change in a running transfer server. */
export type TransferSettings = Pick<TransferServerOptions, 'listen' | 'keys' | 'acl' | 'limits'>;

/** One listen address: its TCP server, its UDP socket, and the connections TCP took. */
interface Listener {
  /** The address and port as configured (port 0 stays 0: the same entry keeps its sockets). */
  readonly entry: string;
  readonly address: string;
  readonly port: number;
  readonly tcp: Server;
  readonly udp: UdpSocket;
  readonly connections: Set<Socket>;
}

/**
 * Starts the zone-output server (DP-3.2, DP-3.5): SOA over UDP and TCP, AXFR over TCP, IXFR
 * (RFC 1995) from the journal over TCP and, when it fits, UDP, NOTIFY answers, every answer
 * TSIG-signed, everyone not listed refused.
 */
export async function startTransferServer(options: TransferServerOptions): Promise<TransferServer> {
  let settings: Pick<ResponderOptions, 'keys' | 'acl'> & { limits: TransferLimits } = {
    keys: options.keys,
    acl: checkedAcl(options.acl),
    limits: { ...DEFAULT_TRANSFER_LIMITS, ...options.limits },
  };
  const interval = settings.limits.refusalLogIntervalMs;
  const counter = interval > 0 && options.logRefusals !== undefined ? new RefusalCounter(interval, options.logRefusals) : undefined;
  const log = (event: TransferEvent): void => {
    options.observe?.(event);
    if (counter !== undefined && REFUSALS.has(event.msg)) counter.add(event.peer, event.msg.replace(/^transfer, /, ''), event.reason);
    else options.log?.(event);
  };
  const clients = new TcpClients(
    () => settings.limits,
    (peer, msg, reason) => log({ msg, peer, transport: 'tcp', reason }),
  );
  const responder: ResponderOptions = {
    zones: options.zones,
    // read at each request: a reconfigure applies to the connections already open too
    get keys() {
      return settings.keys;
    },
    get acl() {
      return settings.acl;
    },
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
    log,
    ...(options.journal === undefined ? {} : { journal: options.journal }),
    ...(options.onNotify === undefined ? {} : { onNotify: options.onNotify }),
  };
  let listeners: Listener[] = [];

  const accept = (socket: Socket, connections: Set<Socket>): void => {
    const peer = plainAddress(socket.remoteAddress ?? '');
    const listed = settings.acl.some((a) => a.address === peer);
    if (!clients.admit(socket, peer, listed)) return;
    connections.add(socket);
    serveConnection(socket, {
      peer,
      listed,
      limits: () => settings.limits,
      refuse: (p, msg, reason) => log({ msg, peer: p, transport: 'tcp', reason }),
      answer: (request) => safeRespond(request, peer, 'tcp', responder),
      closed: () => {
        connections.delete(socket);
        clients.remove(socket);
      },
    });
  };

  const bind = async (where: { readonly address: string; readonly port: number }): Promise<Listener> => {
    const connections = new Set<Socket>();
    const tcp = createServer((socket) => accept(socket, connections));
    await listening(tcp, (done) => tcp.listen(where.port, where.address, done)).catch((e: unknown) => {
      throw cannotListen(where, 'tcp', e);
    });
    const bound = tcp.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : where.port;
    const udp = createSocket(isIP(where.address) === 6 ? 'udp6' : 'udp4');
    udp.on('message', (msg, rinfo) => {
      for (const out of safeRespond(msg, rinfo.address, 'udp', responder)) udp.send(out, rinfo.port, rinfo.address);
    });
    try {
      await listening(udp, (done) => udp.bind(port, where.address, done));
    } catch (e) {
      udp.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      throw cannotListen({ address: where.address, port }, 'udp', e);
    }
    udp.on('error', (e) => options.log?.({ msg: 'transfer, UDP error', peer: '', transport: 'udp', reason: e.message }));
    return { entry: endpoint(where), address: where.address, port, tcp, udp, connections };
  };

  const reconfigure = async (next: TransferSettings): Promise<void> => {
    const acl = checkedAcl(next.acl);
    const fresh: Listener[] = [];
    try {
      for (const where of next.listen) {
        const entry = endpoint(where);
        if (!listeners.some((l) => l.entry === entry) && !fresh.some((l) => l.entry === entry)) fresh.push(await bind(where));
      }
    } catch (e) {
      await Promise.all(fresh.map(release));
      throw e;
    }
    settings = { keys: next.keys, acl, limits: { ...DEFAULT_TRANSFER_LIMITS, ...next.limits } };
    const wanted = new Set(next.listen.map(endpoint));
    const gone = listeners.filter((l) => !wanted.has(l.entry));
    listeners = [...listeners.filter((l) => wanted.has(l.entry)), ...fresh];
    await Promise.all(gone.map(release));
  };

  await reconfigure(options);
  return {
    get addresses() {
      return listeners.map(({ address, port }) => ({ address, port }));
    },
    reconfigure,
    close: async () => {
      const all = listeners;
      listeners = [];
      await Promise.all(all.map(release));
      counter?.flush();
    },
  };
}

/** The ACL, each entry a single IP address. */
function checkedAcl(acl: readonly AclEntry[]): readonly AclEntry[] {
  for (const entry of acl) {
    if (isIP(entry.address) === 0) throw new TransferError(`transfer ACL: '${entry.address}' is not a single IP address`);
  }
  return acl;
}

/** An address and port as the configuration writes them: `192.0.2.1:53`, `[2001:db8::1]:53`. */
export function endpoint(where: { readonly address: string; readonly port: number }): string {
  return isIP(where.address) === 6 ? `[${where.address}]:${where.port}` : `${where.address}:${where.port}`;
}

/** `transfer server: cannot listen on 127.0.0.1:5353/tcp: EADDRINUSE (address already in use)`. */
function cannotListen(where: { readonly address: string; readonly port: number }, transport: Transport, e: unknown): TransferError {
  const error = e as NodeJS.ErrnoException;
  const why =
    typeof error.errno === 'number' && error.code !== undefined
      ? `${error.code} (${getSystemErrorMap().get(error.errno)?.[1] ?? error.message})`
      : error.message;
  return new TransferError(`transfer server: cannot listen on ${endpoint(where)}/${transport}: ${why}`, { cause: e });
}

/** Closes a listen address: its open connections are cut, its sockets closed. */
async function release(listener: Listener): Promise<void> {
  for (const c of listener.connections) c.destroy();
  await Promise.all([new Promise<void>((resolve) => listener.tcp.close(() => resolve())), new Promise<void>((resolve) => listener.udp.close(() => resolve()))]);
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

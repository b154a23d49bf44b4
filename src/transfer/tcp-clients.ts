import type { Socket } from 'node:net';

/**
 * What a TCP peer may hold (issue 17 item 3; Knot's tcp-max-clients, tcp-idle-timeout,
 * tcp-io-timeout). 20,000 connections trickling a byte every 5 s used to be held for ever,
 * until the descriptors ran out and the listed secondary and the control socket were refused.
 */
export interface TransferLimits {
  /** TCP connections open at once, from everyone (over all listen addresses). */
  readonly maxClients: number;
  /** TCP connections open at once from one address, listed or not. */
  readonly maxClientsPerAddress: number;
  /**
   * A connection with nothing under way (no message begun, no answer being sent) is closed
   * after this long; so is one whose answers are not read (its socket takes nothing more) for
   * this long.
   */
  readonly idleTimeoutMs: number;
  /** A message whose first octet came must be whole within this, however its octets trickle. */
  readonly ioTimeoutMs: number;
  /** At most one summary line of the refusals per this long; 0 logs each refusal as it happens. */
  readonly refusalLogIntervalMs: number;
}

export const DEFAULT_TRANSFER_LIMITS: TransferLimits = {
  maxClients: 256,
  maxClientsPerAddress: 16,
  idleTimeoutMs: 10_000,
  ioTimeoutMs: 2_000,
  refusalLogIntervalMs: 60_000,
};

/** Requests read ahead of their answers on one connection: beyond these, reading stops. */
export const MAX_QUEUED_REQUESTS = 8;
export const MAX_QUEUED_OCTETS = 65_536;

/** A refusal at the connection level: the peer and why. */
export type ConnectionRefusal = (peer: string, msg: 'transfer, connection refused' | 'transfer, connection closed', reason: string) => void;

/**
 * The TCP connections of every listen address, with the caps. An address over its own cap is
 * refused. At the total cap, a listed secondary still gets in: the oldest connection of an
 * address not listed (which can only ever get REFUSED) is closed to make room; anyone else is
 * refused. A flood of strangers thus never locks out the secondaries.
 */
export class TcpClients {
  /** In the order they came: the first unlisted one is the oldest. */
  private readonly open = new Map<Socket, { readonly peer: string; readonly listed: boolean }>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: () => TransferLimits,
    private readonly refuse: ConnectionRefusal,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** Takes a new connection, or closes it (and counts why); true when taken. */
  admit(socket: Socket, peer: string, listed: boolean): boolean {
    const { maxClients, maxClientsPerAddress } = this.limits();
    const mine = this.perAddress.get(peer) ?? 0;
    if (mine >= maxClientsPerAddress) return this.turnAway(socket, peer, `over the limit per address (${maxClientsPerAddress})`);
    if (this.open.size >= maxClients) {
      const victim = listed ? this.oldestUnlisted() : undefined;
      if (victim === undefined) return this.turnAway(socket, peer, `over the connection limit (${maxClients})`);
      this.refuse(this.open.get(victim)!.peer, 'transfer, connection closed', 'room made for a listed secondary');
      this.remove(victim);
      victim.destroy();
    }
    this.open.set(socket, { peer, listed });
    this.perAddress.set(peer, mine + 1);
    return true;
  }

  /** A connection closed (idempotent). */
  remove(socket: Socket): void {
    const c = this.open.get(socket);
    if (c === undefined) return;
    this.open.delete(socket);
    const left = (this.perAddress.get(c.peer) ?? 1) - 1;
    if (left === 0) this.perAddress.delete(c.peer);
    else this.perAddress.set(c.peer, left);
  }

  private oldestUnlisted(): Socket | undefined {
    for (const [socket, c] of this.open) if (!c.listed) return socket;
    return undefined;
  }

  private turnAway(socket: Socket, peer: string, reason: string): false {
    this.refuse(peer, 'transfer, connection refused', reason);
    socket.destroy();
    return false;
  }
}

import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRANSFER_LIMITS, TcpClients } from './tcp-clients.js';

describe('TcpClients (issue 17 item 3: TCP connections capped in total and per address)', () => {
  const limits = { ...DEFAULT_TRANSFER_LIMITS, maxClients: 4, maxClientsPerAddress: 2 };
  const setup = () => {
    const refused: string[] = [];
    const clients = new TcpClients(
      () => limits,
      (peer, msg, reason) => refused.push(`${peer} ${msg}: ${reason}`),
    );
    return { clients, refused };
  };

  it('refuses an address over its own cap, listed or not, and anyone over the total when only listed ones hold it', () => {
    const { clients, refused } = setup();
    const a = [new Socket(), new Socket(), new Socket()];
    expect(a.map((s) => clients.admit(s, '192.0.2.1', true))).toEqual([true, true, false]);
    expect(a[2]!.destroyed).toBe(true);
    expect(clients.admit(new Socket(), '192.0.2.2', true)).toBe(true);
    expect(clients.admit(new Socket(), '192.0.2.2', true)).toBe(true);
    expect(clients.admit(new Socket(), '192.0.2.3', true)).toBe(false);
    expect(clients.admit(new Socket(), '198.51.100.1', false)).toBe(false);
    expect(refused).toEqual([
      '192.0.2.1 transfer, connection refused: over the limit per address (2)',
      '192.0.2.3 transfer, connection refused: over the connection limit (4)',
      '198.51.100.1 transfer, connection refused: over the connection limit (4)',
    ]);
    clients.remove(a[0]!);
    clients.remove(a[0]!);
    expect(clients.size).toBe(3);
    expect(clients.admit(new Socket(), '192.0.2.1', true)).toBe(true);
  });

  it('at the total cap a listed secondary takes the place of the oldest connection of an address not listed; a stranger is refused', () => {
    const { clients, refused } = setup();
    const strangers = [new Socket(), new Socket(), new Socket(), new Socket()];
    strangers.forEach((s, i) => expect(clients.admit(s, `198.51.100.${i % 2}`, false)).toBe(true));
    expect(clients.admit(new Socket(), '198.51.100.9', false)).toBe(false);
    expect(clients.admit(new Socket(), '192.0.2.1', true)).toBe(true);
    expect(strangers.map((s) => s.destroyed)).toEqual([true, false, false, false]);
    expect(clients.size).toBe(4);
    expect(refused).toEqual([
      '198.51.100.9 transfer, connection refused: over the connection limit (4)',
      '198.51.100.0 transfer, connection closed: room made for a listed secondary',
    ]);
    // the stranger's address has a place again
    expect(clients.admit(new Socket(), '198.51.100.0', true)).toBe(true);
  });
});

import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TRANSFER_LIMITS } from './tcp-clients.js';
import { serveConnection } from './tcp-connection.js';

let server: Server | undefined;
let client: Socket | undefined;

afterEach(async () => {
  client?.destroy();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** Busy for `ms` of the event loop's time, as building one message of a long answer is. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('one TCP connection of the transfer server', () => {
  it('OPS-7 a long answer lets the event loop turn while it is sent (an IXFR from the journal held every other answer for 3.3 s)', async () => {
    // 200 small messages, each 1 ms to make: on loopback the kernel takes every write at once,
    // so the socket never says "full"; the answer must still make way for other work
    const events: string[] = [];
    let started!: () => void;
    const answering = new Promise<void>((resolve) => (started = resolve));
    function* answer(): Generator<Uint8Array> {
      started();
      for (let i = 0; i < 200; i++) {
        busy(1);
        yield new Uint8Array(100);
      }
      events.push('answer sent');
    }
    server = createServer((socket) =>
      serveConnection(socket, {
        peer: '127.0.0.1',
        listed: true,
        limits: () => DEFAULT_TRANSFER_LIMITS,
        answer,
        refuse: () => undefined,
        closed: () => undefined,
      }),
    );
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    let received = 0;
    const all = new Promise<void>((resolve) => {
      client = createConnection(port, '127.0.0.1', () => client!.write(Buffer.from([0, 1, 0])));
      client.on('data', (chunk) => {
        received += chunk.length;
        if (received >= 200 * 102) resolve();
      });
    });
    await answering;
    // other work, asked for once the answer has begun: it must come before the answer ends
    setImmediate(() => events.push('other work'));
    await all;
    expect(events).toEqual(['other work', 'answer sent']);
  });
});

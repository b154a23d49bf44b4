import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { HmsMetrics } from './metrics.js';

/** The metrics endpoint as it listens (the port filled in). */
export interface MetricsServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** How long a client has for its whole request, and for each read or write after it; and how many may be connected. */
const REQUEST_TIMEOUT_MS = 5_000;
const IDLE_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 16;

/**
 * Serves GET /metrics (the Prometheus text format) on an internal address (`metrics-listen`),
 * nothing else: other paths 404, other methods 405. Bounded: a request must arrive within 5 s,
 * a connection idle (a client that does not read) for 10 s is closed, at most 16 are open.
 */
export async function startMetricsServer(where: { readonly address: string; readonly port: number }, metrics: HmsMetrics): Promise<MetricsServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    metrics.text().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (e: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`the metrics could not be collected: ${e instanceof Error ? e.message : String(e)}\n`);
      },
    );
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = REQUEST_TIMEOUT_MS;
  server.maxHeadersCount = 50;
  server.maxConnections = MAX_CONNECTIONS;
  server.setTimeout(IDLE_TIMEOUT_MS, (socket) => socket.destroy());
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

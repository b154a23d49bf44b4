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
export interface MetricsServerLimits {
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
}
export const METRICS_SERVER_LIMITS: MetricsServerLimits = { requestTimeoutMs: 5_000, idleTimeoutMs: 10_000, maxConnections: 16 };

/**
 * Serves GET /metrics (the Prometheus text format) on an internal address (`metrics-listen`),
 * nothing else: other paths 404, other methods 405. Bounded: a request must arrive within 5 s,
 * a connection idle (a client that does not read) for 10 s is closed, at most 16 are open
 * (METRICS_SERVER_LIMITS).
 */
export async function startMetricsServer(
  where: { readonly address: string; readonly port: number },
  metrics: HmsMetrics,
  limits: MetricsServerLimits = METRICS_SERVER_LIMITS,
): Promise<MetricsServer> {
  const sockets = new Set<Socket>();
  // the request timeout is checked this often (Node's default: every 30 s)
  const checking = Math.max(100, Math.min(1000, limits.requestTimeoutMs / 2));
  const server: Server = createServer({ connectionsCheckingInterval: checking }, (request, response) => {
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
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.requestTimeoutMs;
  server.maxHeadersCount = 50;
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleTimeoutMs, (socket) => socket.destroy());
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

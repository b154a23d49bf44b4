import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { ERROR_CODES, type ErrorCode } from '../common/error-codes.js';
import { SignerError } from '../common/errors.js';
import type { ServiceRequest } from './operations.js';
import { peerCredentials, type PeerCredentials } from './os.js';

export type ControlResponse = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string; readonly code: string };

/** The longest request line taken (a request is a few hundred octets). */
const MAX_REQUEST = 65_536;

/**
 * The running service's control socket: a Unix socket (mode 0660; its group is that of its
 * folder when the folder is setgid, else the service's), one JSON request line per connection
 * and one JSON answer. Who asks is what the kernel recorded when the peer connected
 * (SO_PEERCRED), handed to `handle` beside the request; nothing in the request names the caller.
 * A request that is not read whole within 10 s, or is longer than 64 KiB, is dropped unanswered.
 */
export async function startControlServer(path: string, handle: (request: ServiceRequest, peer: PeerCredentials) => Promise<unknown>): Promise<Server> {
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new SignerError('IO', `${path}: exists and is not a socket; not replacing it`);
    // a socket left by a service that died; a running one would answer
    if (await answers(path)) throw new SignerError('USAGE', `${path}: another hms service is running here`);
    unlinkSync(path);
  }
  const server = createServer((socket) => {
    let buffer = '';
    let peer: PeerCredentials;
    try {
      peer = peerCredentials(socket);
    } catch {
      socket.destroy();
      return;
    }
    socket.setEncoding('utf8');
    // the request must come at once; the answer may take as long as a signing
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    const onData = (chunk: string): void => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) {
        if (buffer.length > MAX_REQUEST) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.setTimeout(0);
      const line = buffer.slice(0, end);
      buffer = '';
      void (async () => {
        let response: ControlResponse;
        try {
          let request: ServiceRequest;
          try {
            request = JSON.parse(line) as ServiceRequest;
          } catch {
            throw new SignerError('USAGE', 'the request is not one line of JSON');
          }
          if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new SignerError('USAGE', 'the request is not a JSON object');
          response = { ok: true, result: await handle(request, peer) };
        } catch (e) {
          response = { ok: false, error: e instanceof Error ? e.message : String(e), code: e instanceof SignerError ? e.code : 'INTERNAL' };
        }
        // the caller may be gone (a lost connection): what was applied stays applied, audited
        if (!socket.destroyed) socket.end(`${JSON.stringify(response)}\n`);
      })();
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o660);
  return server;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The service is not there to ask (no socket, or nobody listening on it). */
export class NoServiceError extends SignerError {
  constructor(path: string, reason: string) {
    super('IO', `${path}: no hms service answers (${reason})`);
  }
}

/**
 * Sends one request to the running service and returns its result; an error it reports is
 * thrown with its code. A socket that is not there or not listened on is a NoServiceError.
 */
export function askService(path: string, request: ServiceRequest, timeoutMs = 600_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let data = '';
    let connected = false;
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new SignerError('IO', `${path}: the service did not answer within ${Math.round(timeoutMs / 1000)} s`));
    });
    socket.once('connect', () => (connected = true));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (!connected && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) reject(new NoServiceError(path, e.code));
      else if (e.code === 'EACCES')
        reject(
          new SignerError('PERMISSION', `${path}: permission denied: the control socket is for the service's operators (its group; docs/configuration.md)`),
        );
      else reject(new SignerError('IO', `${path}: cannot reach the service (${e.code ?? e.message})`));
    });
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.length > 64 * 1024 * 1024) socket.destroy(new Error('answer too long'));
    });
    socket.on('end', () => {
      let response: ControlResponse;
      try {
        response = JSON.parse(data) as ControlResponse;
      } catch {
        reject(new SignerError('IO', `${path}: the service gave no answer`));
        return;
      }
      if (response.ok) resolve(response.result);
      else reject(new SignerError(response.code in ERROR_CODES ? (response.code as ErrorCode) : 'IO', response.error));
    });
    socket.write(`${JSON.stringify(request)}\n`);
  });
}

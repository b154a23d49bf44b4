import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { ERROR_CODES, type ErrorCode } from '../common/error-codes.js';
import { SignerError } from '../common/errors.js';

/** A request on the control socket: one JSON line. `who` is the operator the CLI checked. */
export interface ControlRequest {
  readonly op: 'resign' | 'reload-zone' | 'reload' | 'status';
  readonly zone?: string;
  readonly who: string;
}

export type ControlResponse = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string; readonly code: string };

/**
 * The running service's control socket (a Unix socket in its data folder, mode 0660: the
 * service's user and group). The CLI checks the operator's role from the configuration before
 * it asks, and names the operator, who is then written to the log and the audit trail.
 */
export async function startControlServer(path: string, handle: (request: ControlRequest) => Promise<unknown>): Promise<Server> {
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new SignerError('IO', `${path}: exists and is not a socket; not replacing it`);
    // a socket left by a service that died; a running one would answer
    if (await answers(path)) throw new SignerError('USAGE', `${path}: another hms service is running here`);
    unlinkSync(path);
  }
  const server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(600_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) {
        if (buffer.length > 65536) socket.destroy();
        return;
      }
      const line = buffer.slice(0, end);
      buffer = '';
      void (async () => {
        let response: ControlResponse;
        try {
          const request = JSON.parse(line) as ControlRequest;
          response = { ok: true, result: await handle(request) };
        } catch (e) {
          response = { ok: false, error: e instanceof Error ? e.message : String(e), code: e instanceof SignerError ? e.code : 'INTERNAL' };
        }
        socket.end(`${JSON.stringify(response)}\n`);
      })();
    });
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

/** Sends one request to the running service and returns its result; an error it reports is thrown with its code. */
export function askService(path: string, request: ControlRequest, timeoutMs = 600_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let data = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new SignerError('IO', `${path}: the service did not answer within ${Math.round(timeoutMs / 1000)} s`));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => reject(new SignerError('IO', `${path}: cannot reach the service (${e.code ?? e.message}): is hms run going?`)));
    socket.on('data', (chunk: string) => (data += chunk));
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

import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askService, NoServiceError, startControlServer } from '../../src/service/control.js';
import { operation } from '../../src/service/operations.js';
import type { PeerCredentials } from '../../src/service/os.js';
import { lockHolder, tryLockState } from '../../src/service/state-lock.js';

/**
 * The control socket and the request catalogue on their own: who asks is the kernel's word,
 * bad requests get a clear refusal in bounded time and memory, and the state's lock admits one
 * writer. The whole path, with a running service and OS accounts, is one-writer.int.test.ts.
 */
let dir: string;
let server: Server;
const seen: { request: unknown; peer: PeerCredentials }[] = [];
const finished: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hms-control-'));
  server = await startControlServer(join(dir, 'hms.sock'), async (request, peer) => {
    seen.push({ request, peer });
    // a slow request: the caller may be gone before it is done
    if (request.op === 'slow') await new Promise((r) => setTimeout(r, 300));
    finished.push(request.op);
    return { echo: request.op };
  });
});

afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes raw bytes to the socket and reads what comes back until the service closes (bounded). */
function raw(bytes: string | Buffer): Promise<{ text: string; closed: 'end' | 'reset' }> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(dir, 'hms.sock'));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no end within 15 s'));
    }, 15_000);
    socket.on('data', (c) => (text += c.toString('utf8')));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve({ text, closed: 'end' });
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve({ text, closed: 'reset' });
    });
    socket.write(bytes);
  });
}

describe('the control socket', () => {
  it("DP-2.7a hands the handler the peer's uid and pid from the kernel, whatever the request says", async () => {
    const result = await askService(join(dir, 'hms.sock'), { op: 'zone.list', params: {}, who: 'somebody-else', user: 'root', sudoUser: 'root' } as never);
    expect(result).toEqual({ echo: 'zone.list' });
    const last = seen.at(-1)!;
    expect(last.peer.uid).toBe(process.getuid!());
    expect(last.peer.pid).toBe(process.pid);
  });

  it('OPS-6 answers a line that is not JSON, or not an object, with a usage error', async () => {
    const a = await raw('this is not json\n');
    expect(JSON.parse(a.text)).toMatchObject({ ok: false, code: 'USAGE', error: 'the request is not one line of JSON' });
    const b = await raw('[1,2,3]\n');
    expect(JSON.parse(b.text)).toMatchObject({ ok: false, code: 'USAGE', error: 'the request is not a JSON object' });
  });

  it('OPS-6 drops a request longer than 64 KiB without reading it all', async () => {
    const before = seen.length;
    const r = await raw(Buffer.alloc(200 * 1024, 0x61));
    expect(r.text).toBe('');
    expect(seen.length).toBe(before);
  });

  it('OPS-6 drops a request that does not arrive whole within 10 s', { timeout: 20_000 }, async () => {
    const started = Date.now();
    const r = await raw('{"op": "zone.list"');
    expect(r.text).toBe('');
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
  });

  it('a request whose caller is gone before the answer is still applied whole', async () => {
    const socket = connect(join(dir, 'hms.sock'));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('{"op":"slow","params":{}}\n');
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 600));
    expect(finished).toContain('slow');
  });

  it('says no service answers when there is no socket, so the CLI applies the request itself', async () => {
    await expect(askService(join(dir, 'none.sock'), { op: 'zone.list', params: {} })).rejects.toBeInstanceOf(NoServiceError);
  });
});

describe('the request catalogue', () => {
  it('OPS-6 DP-2.8b refuses an unknown request and bad parameters, naming them', () => {
    expect(() => operation('key.destroy-everything')).toThrow(/unknown request 'key.destroy-everything' \(known: zone.add, /);
    expect(() => operation('__proto__')).toThrow(/unknown request/);
    expect(() => operation('key.rollover').parse({ zone: 'example.com', role: 'csk' })).toThrow('say which key: --ksk or --zsk');
    expect(() => operation('key.rollover').parse({ zone: 42, role: 'ksk' })).toThrow("request: 'zone' must be a non-empty string");
    expect(() => operation('key.rollover').parse({ zone: 'bad..name', role: 'ksk' })).toThrow(/^zone: /);
    expect(() => operation('ds.seen').parse({ zone: 'example.com', keyTag: 'x1' })).toThrow("--keytag: 'x1' is not a number");
    expect(() => operation('zone.add').parse({ zone: 'example.com', input: 'f', policy: 'dp', parentServers: 'not a list' })).toThrow(
      "request: 'parentServers' must be a list of at most 64 strings",
    );
    expect(() => operation('ds.check').parse({ zone: 'example.com', timeoutMs: 3_600_000 })).toThrow(
      '--timeout: 3600000 is not between 1 and 60000 milliseconds',
    );
    expect(operation('key.rollover').parse({ zone: 'Example.COM', role: 'zsk' })).toEqual({ zone: 'example.com.', role: 'zsk', emergency: false });
  });

  it('holds every change to a role and reads to the read role', () => {
    for (const name of [
      'zone.add',
      'zone.remove',
      'zone.set',
      'zone.restore',
      'zone.insecure',
      'zone.secure',
      'key.rollover',
      'ds.seen',
      'ds.withdraw',
      'ds.check',
      'approve',
      'reload',
    ]) {
      expect(operation(name).writes, name).toBe(true);
      expect(operation(name).permission, name).not.toBe('read');
    }
    for (const name of ['key.list', 'key.timeline', 'audit.log', 'audit.verify', 'zone.status', 'zone.history', 'zone.diff', 'zone.list'])
      expect(operation(name).permission, name).toBe('read');
  });
});

describe("the state's lock", () => {
  it('admits one writer; the second is told who holds it; a released lock can be taken again', () => {
    const state = join(dir, 'state', 'hms.db');
    const first = tryLockState(state, 'hms run');
    expect(first).toBeDefined();
    expect(tryLockState(state, 'hms key rollover by alice')).toBeUndefined();
    expect(lockHolder(state)).toBe(`${process.pid} hms run`);
    first!.release();
    const again = tryLockState(state, 'hms approve by bob');
    expect(again).toBeDefined();
    again!.release();
  });
});

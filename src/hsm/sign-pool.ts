import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { SignatureSink } from '../dnssec/signer.js';
import { HsmError } from './errors.js';

/**
 * The code each signing thread runs (a script, so that it needs no build step of its own and
 * runs the same from the sources under test and from dist/). It loads the same PKCS#11 module
 * (C_Initialize with CKF_OS_LOCKING_OK; CKR_CRYPTOKI_ALREADY_INITIALIZED is expected, the
 * main thread initialised it), opens its own session (the login of the main thread holds for
 * every session of the process, PKCS#11 v2.40 section 2.6.7) and signs batches with the
 * blocking C_SignInit/C_Sign: a whole core per session, and no round trip through the main
 * thread per signature.
 *
 * Each thread signs with a session copy of each key (C_CopyObject with CKA_TOKEN false): a
 * private key object inside the token, as sensitive and unextractable as the key it copies
 * (PKCS#11 v2.40 section 4.4.1: a copy can only tighten them), gone with the session or when
 * the key is removed from the pool. SoftHSM reads and re-checks a token object's file for
 * every C_SignInit under that object's lock, which the two sessions then wait on; with a
 * copy each session has its own object in memory: 10-15% more RSA-1024 signatures a second
 * on 2 cores, and about 70% more ECDSA P-256. A token that refuses the copy is signed with
 * the key itself.
 */
const WORKER_CODE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const pkcs11js = process.getBuiltinModule('node:module').createRequire(workerData.pkcs11js)('pkcs11js');
const p = new pkcs11js.PKCS11();
let session;
let fn = 'load';
try {
  p.load(workerData.module);
  fn = 'C_Initialize';
  try { p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }); } catch (e) { if (e.code !== 0x191) throw e; }
  fn = 'C_OpenSession';
  session = p.C_OpenSession(Buffer.from(workerData.slot), pkcs11js.CKF_SERIAL_SESSION);
  parentPort.postMessage({ ready: true });
} catch (e) {
  parentPort.postMessage({ fatal: { fn, code: typeof e.code === 'number' ? e.code : undefined, message: String(e.message) } });
}
const keys = new Map();
const release = (k) => { if (k.copy) { try { p.C_DestroyObject(session, k.handle); } catch {} } };
parentPort.on('message', (m) => {
  if (m.close) {
    for (const k of keys.values()) release(k);
    try { p.C_CloseSession(session); } catch {}
    parentPort.close();
    return;
  }
  if (m.key !== undefined) {
    let handle = Buffer.from(m.handle);
    let copy = false;
    try {
      handle = p.C_CopyObject(session, handle, [{ type: pkcs11js.CKA_TOKEN, value: false }]);
      copy = true;
    } catch {}
    keys.set(m.key, { handle, copy, mechanism: { mechanism: m.mechanism } });
    return;
  }
  if (m.remove !== undefined) {
    const k = keys.get(m.remove);
    if (k !== undefined) release(k);
    keys.delete(m.remove);
    return;
  }
  const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const out = Buffer.from(new ArrayBuffer(m.count * m.size));
  const ends = new Uint32Array(m.count);
  let at = 0;
  let start = 0;
  for (let i = 0; i < m.count; i++) {
    const key = keys.get(m.keyIds[i]);
    let step = 'C_SignInit';
    try {
      // CKR_KEY_HANDLE_INVALID: a request that came after its key was removed
      if (key === undefined) throw Object.assign(new Error('the key was removed from the signing threads'), { code: 0x60 });
      p.C_SignInit(session, key.mechanism, key.handle);
      step = 'C_Sign';
      at += p.C_Sign(session, data.subarray(start, m.ends[i]), out.subarray(at, at + m.size)).length;
    } catch (e) {
      parentPort.postMessage({ id: m.id, error: { fn: step, code: typeof e.code === 'number' ? e.code : undefined, message: String(e.message) } });
      return;
    }
    ends[i] = at;
    start = m.ends[i];
  }
  const result = new Uint8Array(out.buffer, 0, at);
  // the signatures go over without a copy; the input buffer goes back, for a later batch
  parentPort.postMessage({ id: m.id, out: result, ends, data: m.data }, [out.buffer, ends.buffer, m.data.buffer]);
});
`;

/**
 * Requests for one message to a thread: their signing inputs end to end (copied in as each
 * request is made, so that a caller may reuse its buffer), their keys, and who waits.
 */
interface Batch {
  readonly data: Uint8Array;
  used: number;
  readonly ends: Uint32Array;
  readonly keyIds: Uint32Array;
  count: number;
  size: number;
  /** Who waits for each signature, and the slot it gave (Signer.signTo). */
  readonly sinks: SignatureSink[];
  readonly slots: Uint32Array;
}

interface Thread {
  readonly worker: Worker;
  readonly batches: Map<number, Batch>;
}

type Reply =
  | { ready: true }
  | { fatal: { fn: string; code?: number; message: string } }
  | { id: number; error: { fn: string; code?: number; message: string } }
  | { id: number; out: Uint8Array; ends: Uint32Array; data: Uint8Array };

/** Signatures sent to a thread in one message, and batches a thread holds at once. */
const BATCH = 64;
const IN_FLIGHT = 2;
/** Room for a batch's signing inputs (larger for an RRset that does not fit). */
const BATCH_BYTES = 32 * 1024;

/**
 * Signs on worker threads, one PKCS#11 session each. Requests made in the same turn of the
 * event loop are gathered into batches, and every thread has up to two batches so that it
 * never waits for the main thread. Measured on SoftHSM with 2 cores: RSA-1024 about 6.7k
 * signatures/s with two threads, against 3.8k/s for pkcs11js's asynchronous C_Sign, whose
 * C_SignInit runs on the main thread.
 */
export class SigningPool {
  private readonly threads: Thread[] = [];
  /** The batch requests go into, and those closed and waiting for a thread. */
  private filling: Batch | undefined;
  private readonly waiting: Batch[] = [];
  /** Input buffers back from the threads. */
  private readonly spare: ArrayBuffer[] = [];
  private nextKey = 0;
  private readonly live = new Set<number>();
  private nextBatch = 0;
  private flushing = false;
  private failure: HsmError | undefined;

  private constructor(private readonly where: string) {}

  /** Starts `count` threads on the module's slot and waits until each has its session. */
  static async start(modulePath: string, slot: Buffer, where: string, count: number): Promise<SigningPool> {
    const pool = new SigningPool(where);
    const pkcs11js = createRequire(import.meta.url).resolve('pkcs11js');
    const ready: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const worker = new Worker(WORKER_CODE, { eval: true, workerData: { module: modulePath, slot: Uint8Array.from(slot), pkcs11js } });
      const thread: Thread = { worker, batches: new Map() };
      pool.threads.push(thread);
      ready.push(new Promise((resolve, reject) => {
        worker.once('message', (m: Reply) => {
          if ('fatal' in m) reject(new HsmError(m.fatal.fn, where, m.fatal.code, m.fatal.code === undefined ? m.fatal.message : undefined));
          else resolve();
          worker.on('message', (reply: Reply) => pool.receive(thread, reply));
        });
        worker.once('error', reject);
      }));
      worker.on('error', (e) => pool.fail(e.message));
      worker.on('exit', () => pool.fail('the thread ended'));
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /**
   * Makes a key known to every thread (each makes its session copy); the result names it in
   * `sign` until `removeKey`.
   */
  addKey(handle: Buffer, mechanism: number): number {
    const key = this.nextKey++;
    this.live.add(key);
    for (const t of this.threads) t.worker.postMessage({ key, handle: Uint8Array.from(handle), mechanism });
    return key;
  }

  /** Forgets a key of `addKey`: the threads destroy their copies once what was asked of it is signed. */
  removeKey(key: number): void {
    if (!this.live.delete(key)) return;
    for (const t of this.threads) t.worker.postMessage({ remove: key });
  }

  /**
   * Signs `data` with a key of `addKey`; `size` is the largest signature the key makes. `data`
   * is copied before this returns.
   */
  sign(keyId: number, data: Uint8Array, size: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => this.signTo(keyId, data, size, { signed: (_, signature) => resolve(signature), failed: reject }, 0));
  }

  /** As sign, for Signer.signTo: the signature goes to `sink` (with `slot`), not to a promise of its own. */
  signTo(keyId: number, data: Uint8Array, size: number, sink: SignatureSink, slot: number): void {
    if (this.failure !== undefined) {
      const failure = this.failure;
      queueMicrotask(() => sink.failed(failure));
      return;
    }
    if (!this.live.has(keyId)) {
      // CKR_KEY_HANDLE_INVALID: the key was removed from the pool
      const error = new HsmError('C_SignInit', this.where, 0x60, 'the key was removed from the signing threads');
      queueMicrotask(() => sink.failed(error));
      return;
    }
    let batch = this.filling;
    if (batch === undefined || batch.count === BATCH || batch.used + data.length > batch.data.length) {
      if (batch !== undefined) this.waiting.push(batch);
      batch = this.filling = this.newBatch(data.length);
    }
    batch.data.set(data, batch.used);
    batch.used += data.length;
    batch.ends[batch.count] = batch.used;
    batch.keyIds[batch.count] = keyId;
    batch.slots[batch.count] = slot;
    batch.sinks.push(sink);
    batch.count++;
    if (size > batch.size) batch.size = size;
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        this.dispatch();
      });
    }
  }

  private newBatch(bytes: number): Batch {
    const buffer = bytes <= BATCH_BYTES ? this.spare.pop() ?? new ArrayBuffer(BATCH_BYTES) : new ArrayBuffer(bytes);
    return { data: new Uint8Array(buffer), used: 0, ends: new Uint32Array(BATCH), keyIds: new Uint32Array(BATCH), count: 0, size: 0, sinks: [], slots: new Uint32Array(BATCH) };
  }

  /** Hands waiting batches, then the one being filled, to threads with room. */
  private dispatch(): void {
    for (;;) {
      let thread: Thread | undefined;
      for (const t of this.threads) if (t.batches.size < IN_FLIGHT && (thread === undefined || t.batches.size < thread.batches.size)) thread = t;
      if (thread === undefined) return;
      let batch = this.waiting.shift();
      if (batch === undefined && this.filling !== undefined && this.filling.count > 0) {
        batch = this.filling;
        this.filling = undefined;
      }
      if (batch === undefined) return;
      const id = this.nextBatch++;
      thread.batches.set(id, batch);
      const { data, ends, keyIds, count, size } = batch;
      thread.worker.postMessage({ id, data, ends, keyIds, count, size }, [data.buffer as ArrayBuffer, ends.buffer as ArrayBuffer, keyIds.buffer as ArrayBuffer]);
    }
  }

  private receive(thread: Thread, m: Reply): void {
    if (!('id' in m)) return;
    const batch = thread.batches.get(m.id);
    if (batch === undefined) return;
    thread.batches.delete(m.id);
    if ('error' in m) {
      const error = new HsmError(m.error.fn, this.where, m.error.code, m.error.code === undefined ? m.error.message : undefined);
      for (const sink of batch.sinks) sink.failed(error);
    } else {
      if (m.data.byteLength === BATCH_BYTES && this.spare.length < 2 * IN_FLIGHT * this.threads.length) this.spare.push(m.data.buffer as ArrayBuffer);
      let start = 0;
      for (let i = 0; i < batch.count; i++) {
        batch.sinks[i]!.signed(batch.slots[i]!, m.out.subarray(start, m.ends[i]));
        start = m.ends[i]!;
      }
    }
    this.dispatch();
  }

  /** A thread died: everything waiting fails, and so does every later request (retryable). */
  private fail(detail: string): void {
    if (this.failure !== undefined) return;
    // CKR_DEVICE_ERROR: retryable, a new pool may work
    this.failure = new HsmError('signing thread', this.where, 0x30, detail);
    const batches = [...this.threads.flatMap((t) => [...t.batches.values()]), ...this.waiting.splice(0), ...(this.filling === undefined ? [] : [this.filling])];
    for (const t of this.threads) t.batches.clear();
    this.filling = undefined;
    for (const batch of batches) for (const sink of batch.sinks) sink.failed(this.failure);
  }

  /** Closes every thread's session and ends the threads. */
  async close(): Promise<void> {
    this.failure ??= new HsmError('sign', this.where, 0xb0, 'the signing pool is closed');
    await Promise.all(this.threads.map(async (t) => {
      const exited = new Promise((resolve) => t.worker.once('exit', resolve));
      t.worker.postMessage({ close: true });
      const timer = setTimeout(() => void t.worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
    }));
  }
}

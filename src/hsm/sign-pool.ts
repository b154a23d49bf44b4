import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { SignatureSink } from '../dnssec/signer.js';
import { SignerError } from '../common/errors.js';
import { HsmError } from './errors.js';
import { FairQueue, type Urgency } from './fair-queue.js';
import { PKCS11_WORKER_START } from './worker-start.js';

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
${PKCS11_WORKER_START}const keys = new Map();
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
  readonly lane: SigningLane;
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
 * Whose signatures a request is: a zone's run (its name, and how urgent it is). Batches hold
 * one lane's requests only, so that one zone's failure (a key gone, a drop) fails none of
 * another's, and the pool serves the lanes in turn (FairQueue). A lane lives for one run.
 */
export class SigningLane {
  /** Set when the lane was dropped: its requests fail with this. */
  dropped: SignerError | undefined;

  constructor(
    readonly name: string,
    readonly urgency: Urgency,
  ) {}
}

/** The lane of a caller that names none (`hms sign`, tests): one zone at a time. */
const DEFAULT_LANE = new SigningLane('', 'requested');

/**
 * Signs on worker threads, one PKCS#11 session each: one pool per token, shared by every zone
 * of the service (issue 20). Requests made in the same turn of the event loop are gathered
 * into batches, one lane's each, and every thread has up to two batches so that it never waits
 * for the main thread; the batches wait in a FairQueue (lanes in turn, due before requested).
 * Measured on SoftHSM with 2 cores: RSA-1024 about 6.7k signatures/s with two threads, against
 * 3.8k/s for pkcs11js's asynchronous C_Sign, whose C_SignInit runs on the main thread.
 */
export class SigningPool {
  private readonly threads: Thread[] = [];
  /** The batch each lane's requests go into (queued already, at the end of its lane), and every batch waiting for a thread. */
  private readonly filling = new Map<SigningLane, Batch>();
  private readonly waiting = new FairQueue<SigningLane, Batch>();
  /** Lanes open (between `lane` and `endLane`), by name: `drop` finds them. */
  private readonly lanes = new Map<string, Set<SigningLane>>();
  /** Waiting for no lane to be open (whenIdle). */
  private readonly idleWaiters: (() => void)[] = [];
  /** Keys kept by the threads across runs (`cachedKey`), by the token object's handle. */
  private readonly cache = new Map<string, number>();
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
   * As addKey, the threads' session copies kept for later runs: the same token object (by
   * handle) and mechanism give the same key until `forgetObject` (the object destroyed).
   */
  cachedKey(handle: Buffer, mechanism: number): number {
    const name = `${handle.toString('hex')}/${mechanism}`;
    let key = this.cache.get(name);
    if (key === undefined || !this.live.has(key)) {
      key = this.addKey(handle, mechanism);
      this.cache.set(name, key);
    }
    return key;
  }

  /** A token object is destroyed: the threads drop their copies of it, if they keep any. */
  forgetObject(handle: Buffer): void {
    const prefix = `${handle.toString('hex')}/`;
    for (const [name, key] of this.cache)
      if (name.startsWith(prefix)) {
        this.cache.delete(name);
        this.removeKey(key);
      }
  }

  /** Keys whose session copies the threads keep across runs. */
  get cachedKeys(): number {
    return this.cache.size;
  }

  /** Opens a lane for one run of zone `name` (see SigningLane); `endLane` closes it. */
  lane(name: string, urgency: Urgency): SigningLane {
    const lane = new SigningLane(name, urgency);
    let open = this.lanes.get(name);
    if (open === undefined) this.lanes.set(name, (open = new Set()));
    open.add(lane);
    return lane;
  }

  /** The run is over: the lane is forgotten (a zone at rest costs the pool nothing). */
  endLane(lane: SigningLane): void {
    const open = this.lanes.get(lane.name);
    open?.delete(lane);
    if (open?.size === 0) this.lanes.delete(lane.name);
    if (this.lanes.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * Resolves once no lane is open (no zone's run is signing), or after `timeoutMs`: the token
   * is then reset without cutting another zone's signing short (Keeper.resetHsm).
   */
  whenIdle(timeoutMs: number): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const at = this.idleWaiters.indexOf(done);
        if (at >= 0) this.idleWaiters.splice(at, 1);
        resolve();
      }, timeoutMs);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
    });
  }

  /**
   * The zone is no longer served: the requests of its open lanes that no thread has taken yet
   * fail with `why` (a SignerError, not an HSM failure: the token is fine), as does every later
   * one; the other zones' work goes on.
   */
  drop(name: string, why: string): void {
    for (const lane of this.lanes.get(name) ?? []) {
      lane.dropped ??= new SignerError('USAGE', why);
      const batches = this.waiting.drop(lane);
      this.filling.delete(lane);
      for (const batch of batches) for (const sink of batch.sinks) sink.failed(lane.dropped);
    }
  }

  /** Signature batches waiting for a thread (for tests and metrics). */
  get queued(): number {
    return this.waiting.size;
  }

  /** The signing threads. */
  get size(): number {
    return this.threads.length;
  }

  /**
   * Signs `data` with a key of `addKey`; `size` is the largest signature the key makes. `data`
   * is copied before this returns.
   */
  sign(keyId: number, data: Uint8Array, size: number, lane: SigningLane = DEFAULT_LANE): Promise<Uint8Array> {
    return new Promise((resolve, reject) => this.signTo(keyId, data, size, { signed: (_, signature) => resolve(signature), failed: reject }, 0, lane));
  }

  /** As sign, for Signer.signTo: the signature goes to `sink` (with `slot`), not to a promise of its own. */
  signTo(keyId: number, data: Uint8Array, size: number, sink: SignatureSink, slot: number, lane: SigningLane = DEFAULT_LANE): void {
    const refused = this.failure ?? lane.dropped;
    if (refused !== undefined) {
      queueMicrotask(() => sink.failed(refused));
      return;
    }
    if (!this.live.has(keyId)) {
      // CKR_KEY_HANDLE_INVALID: the key was removed from the pool
      const error = new HsmError('C_SignInit', this.where, 0x60, 'the key was removed from the signing threads');
      queueMicrotask(() => sink.failed(error));
      return;
    }
    let batch = this.filling.get(lane);
    if (batch === undefined || batch.count === BATCH || batch.used + data.length > batch.data.length) {
      batch = this.newBatch(lane, data.length);
      this.filling.set(lane, batch);
      this.waiting.push(lane, lane.urgency, batch);
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

  private newBatch(lane: SigningLane, bytes: number): Batch {
    const buffer = bytes <= BATCH_BYTES ? this.spare.pop() ?? new ArrayBuffer(BATCH_BYTES) : new ArrayBuffer(bytes);
    return { lane, data: new Uint8Array(buffer), used: 0, ends: new Uint32Array(BATCH), keyIds: new Uint32Array(BATCH), count: 0, size: 0, sinks: [], slots: new Uint32Array(BATCH) };
  }

  /** Hands waiting batches to threads with room, lanes in turn (a batch being filled is closed as it goes). */
  private dispatch(): void {
    for (;;) {
      let thread: Thread | undefined;
      for (const t of this.threads) if (t.batches.size < IN_FLIGHT && (thread === undefined || t.batches.size < thread.batches.size)) thread = t;
      if (thread === undefined) return;
      const batch = this.waiting.next()?.item;
      if (batch === undefined) return;
      if (this.filling.get(batch.lane) === batch) this.filling.delete(batch.lane);
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
    const batches = [...this.threads.flatMap((t) => [...t.batches.values()]), ...this.waiting.clear()];
    for (const t of this.threads) t.batches.clear();
    this.filling.clear();
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

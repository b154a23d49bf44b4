import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type pkcs11js from 'pkcs11js';
import { HsmError } from './errors.js';
import type { KeyPairTemplates } from './keys.js';
import { PKCS11_WORKER_START } from './worker-start.js';

/**
 * The code of the key-making thread (a script, as the signing threads': it runs the same from
 * the sources under test and from dist/). It opens a session of its own (the main thread's
 * login holds for every session of the process) and makes each key pair asked of it with the
 * blocking C_GenerateKeyPair as session objects (CKA_TOKEN false): the long part of making a
 * key (an RSA-2048 pair: 0.1 to 0.8 s of SoftHSM) runs here, off the event loop, and touches
 * no token object, so it never races the main thread's token objects (softhsm/SoftHSMv2#573,
 * see generateKey). The main thread then copies the pair to the token (storeSessionPair).
 */
const WORKER_CODE = `
${PKCS11_WORKER_START}const asTemplate = (t) => [{ type: pkcs11js.CKA_TOKEN, value: false }, ...t.map((a) => ({ type: a.type, value: a.value instanceof Uint8Array ? Buffer.from(a.value) : a.value }))];
parentPort.on('message', (m) => {
  if (m.close) {
    try { p.C_CloseSession(session); } catch {}
    parentPort.close();
    return;
  }
  try {
    const pair = p.C_GenerateKeyPair(session, { mechanism: m.mechanism }, asTemplate(m.publicTmpl), asTemplate(m.privateTmpl));
    parentPort.postMessage({ id: m.id, privateKey: Uint8Array.from(pair.privateKey), publicKey: Uint8Array.from(pair.publicKey) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: { fn: 'C_GenerateKeyPair', code: typeof e.code === 'number' ? e.code : undefined, message: String(e.message) } });
  }
});
`;

type Reply =
  | { ready: true }
  | { fatal: { fn: string; code?: number; message: string } }
  | { id: number; error: { fn: string; code?: number; message: string } }
  | { id: number; privateKey: Uint8Array; publicKey: Uint8Array };

/** A key pair made as session objects of the key-making thread's session (handles valid in every session of the process). */
export interface SessionPair {
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
}

interface Job {
  readonly id: number;
  readonly templates: KeyPairTemplates;
  readonly resolve: (pair: SessionPair) => void;
  readonly reject: (e: Error) => void;
}

/**
 * One thread of its own that makes key pairs (issue 20 item 3), not a job of the signing
 * pool: a key takes a signing thread's whole core for 0.1 to 2 s, which would hold up the
 * batches of every zone signing behind it; one thread also bounds what making keys takes of
 * the host (a core), however many are asked for. Urgent requests (a zone that waits for its
 * key) go before the key pool's refill, each in the order asked.
 */
export class KeyMaker {
  private readonly urgent: Job[] = [];
  private readonly background: Job[] = [];
  private busy: Job | undefined;
  private nextId = 0;
  private failure: HsmError | undefined;
  private ended = false;

  private constructor(
    private readonly worker: Worker,
    private readonly where: string,
  ) {}

  static async start(modulePath: string, slot: Buffer, where: string): Promise<KeyMaker> {
    const pkcs11jsPath = createRequire(import.meta.url).resolve('pkcs11js');
    const worker = new Worker(WORKER_CODE, { eval: true, workerData: { module: modulePath, slot: Uint8Array.from(slot), pkcs11js: pkcs11jsPath } });
    const maker = new KeyMaker(worker, where);
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (m: Reply) => {
          if ('fatal' in m) reject(new HsmError(m.fatal.fn, where, m.fatal.code, m.fatal.code === undefined ? m.fatal.message : undefined));
          else resolve();
          worker.on('message', (reply: Reply) => maker.receive(reply));
        });
        worker.once('error', reject);
      });
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    worker.on('error', (e) => maker.fail(e.message));
    worker.on('exit', () => {
      maker.ended = true;
      maker.fail('the key-making thread ended');
    });
    return maker;
  }

  /** Requests waiting or being made. */
  get pending(): number {
    return this.urgent.length + this.background.length + (this.busy === undefined ? 0 : 1);
  }

  /** Makes a key pair as session objects; `urgent` ones go before the others. */
  make(templates: KeyPairTemplates, urgent: boolean): Promise<SessionPair> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      (urgent ? this.urgent : this.background).push({ id: this.nextId++, templates, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.busy !== undefined) return;
    const job = this.urgent.shift() ?? this.background.shift();
    if (job === undefined) return;
    this.busy = job;
    const { mechanism, publicTmpl, privateTmpl } = job.templates;
    this.worker.postMessage({ id: job.id, mechanism, publicTmpl: plain(publicTmpl), privateTmpl: plain(privateTmpl) });
  }

  private receive(m: Reply): void {
    const job = this.busy;
    if (!('id' in m) || job === undefined || m.id !== job.id) return;
    this.busy = undefined;
    if ('error' in m) job.reject(new HsmError(m.error.fn, this.where, m.error.code, m.error.code === undefined ? m.error.message : undefined));
    else job.resolve({ privateKey: Buffer.from(m.privateKey), publicKey: Buffer.from(m.publicKey) });
    this.next();
  }

  private fail(detail: string): void {
    if (this.failure !== undefined) return;
    // CKR_DEVICE_ERROR: retryable, a new thread may work
    this.failure = new HsmError('key-making thread', this.where, 0x30, detail);
    for (const job of [...(this.busy === undefined ? [] : [this.busy]), ...this.urgent.splice(0), ...this.background.splice(0)]) job.reject(this.failure);
    this.busy = undefined;
  }

  /** Ends the thread (its session, and any pair it made that was not stored, with it). */
  async close(): Promise<void> {
    if (this.ended) return;
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.fail('the key-making thread is closed');
    this.worker.postMessage({ close: true });
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** A template as the thread gets it (structured clone: a Buffer arrives as a Uint8Array, made a Buffer again there). */
function plain(t: pkcs11js.Template): { type: number; value: unknown }[] {
  return t.map((a) => ({ type: a.type, value: a.value }));
}

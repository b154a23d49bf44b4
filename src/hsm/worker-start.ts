/**
 * The start of every PKCS#11 worker thread's code (the signing pool's threads, the key pool's
 * maker): pkcs11js loaded from the main thread's copy, the module loaded and initialised with
 * CKF_OS_LOCKING_OK (CKR_CRYPTOKI_ALREADY_INITIALIZED tolerated: the process shares one
 * initialisation), a session opened on the slot; `ready` or `fatal` (the function that failed)
 * posted back. It leaves `parentPort`, `workerData`, `pkcs11js`, `p` and `session` to the code
 * that follows it.
 */
export const PKCS11_WORKER_START = `const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
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
`;

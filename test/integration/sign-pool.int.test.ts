import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignerError } from '../../src/common/errors.js';
import { Name } from '../../src/dns/name.js';
import { Algorithm } from '../../src/dnssec/algorithms.js';
import type { SignatureSink } from '../../src/dnssec/signer.js';
import { verifySignature } from '../../src/dnssec/verify-signature.js';
import { HsmError } from '../../src/hsm/errors.js';
import { deleteKey, generateKey, hsmSigner, type HsmKey } from '../../src/hsm/keys.js';
import type { SigningPool } from '../../src/hsm/sign-pool.js';
import { Token } from '../../src/hsm/token.js';
import { throwawayToken } from './helpers/softhsm.js';

/**
 * The token's one signing pool, shared by every zone of the service (issue 20 item 1), on a
 * real SoftHSM token: started once however many zones ask at once, its threads as configured,
 * the zones' signatures in lanes taken in turn (due before requested), one zone's failure or
 * removal touching no other's signatures, and the threads' key copies kept until the key goes.
 */
const hsm = throwawayToken('hms-pool');
const CKM_SHA256_RSA_PKCS = 0x40;
let token: Token;
let pool: SigningPool;
let key: HsmKey;
let other: HsmKey;

beforeAll(async () => {
  token = Token.open({ label: 'hms-pool', pin: hsm.pin, sessions: 1, signingThreads: 2 });
  key = generateKey(token, Name.parse('a.pool.example.'), 'zsk', { algorithm: Algorithm.RSASHA256, bits: 1024 });
  other = generateKey(token, Name.parse('b.pool.example.'), 'zsk', { algorithm: Algorithm.RSASHA256, bits: 1024 });
  pool = await token.startSigningThreads();
});
afterAll(async () => {
  await token?.close();
  hsm.dispose();
});

/** A sink that records the order signatures arrive in, by tag. */
function recorder(order: string[], tag: string, failures: unknown[] = []): SignatureSink {
  return { signed: () => void order.push(tag), failed: (e) => void failures.push(e) };
}

/** Waits until `n` entries are in `list` (bounded). */
async function until(list: readonly unknown[], n: number): Promise<void> {
  for (let waited = 0; list.length < n; waited += 10) {
    if (waited > 60_000) throw new Error(`only ${list.length} of ${n} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the signing pool shared by every zone (issue 20)', () => {
  it('is started once however many zones ask at once, with the threads the configuration says', async () => {
    const second = Token.open({ label: 'hms-pool', pin: hsm.pin, sessions: 1, signingThreads: 3 });
    try {
      // 20 zones' runs ask for the threads in the same turn: one pool, not one each
      const pools = await Promise.all(Array.from({ length: 20 }, () => second.startSigningThreads()));
      expect(new Set(pools).size).toBe(1);
      expect(pools[0]!.size).toBe(3);
      expect(second.signingPool).toBe(pools[0]);
    } finally {
      await second.close();
    }
  });

  it('serves the zones in turn: a few signatures asked after a big zone queued thousands come long before its end', async () => {
    const big = pool.lane('big.example.', 'requested');
    const small = pool.lane('small.example.', 'requested');
    const id = pool.cachedKey(key.privateKey, CKM_SHA256_RSA_PKCS);
    const order: string[] = [];
    const data = randomBytes(100);
    for (let i = 0; i < 3000; i++) pool.signTo(id, data, 512, recorder(order, 'big'), i, big);
    for (let i = 0; i < 10; i++) pool.signTo(id, data, 512, recorder(order, 'small'), i, small);
    await until(order, 3010);
    // the small zone's batch waits for the batches the threads took at once (2 threads, 2 batches of 64 each), then one more of the big zone's at most
    expect(order.lastIndexOf('small')).toBeLessThan(400);
    pool.endLane(big);
    pool.endLane(small);
  });

  it('DP-4.4b signs a due zone before a requested one queued earlier', async () => {
    const asked = pool.lane('asked.example.', 'requested');
    const due = pool.lane('due.example.', 'due');
    const id = pool.cachedKey(key.privateKey, CKM_SHA256_RSA_PKCS);
    const order: string[] = [];
    const data = randomBytes(100);
    for (let i = 0; i < 2000; i++) pool.signTo(id, data, 512, recorder(order, 'asked'), i, asked);
    for (let i = 0; i < 1000; i++) pool.signTo(id, data, 512, recorder(order, 'due'), i, due);
    await until(order, 3000);
    expect(order.lastIndexOf('due')).toBeLessThan(1400);
    pool.endLane(asked);
    pool.endLane(due);
  });

  it('OPS-7 a zone whose key fails in the HSM fails alone: the signatures of a zone asked in the same turn are made and verify', async () => {
    const bad = pool.lane('bad.example.', 'requested');
    const good = pool.lane('good.example.', 'requested');
    // a public key where a private key is wanted: C_SignInit fails on the thread
    const wrong = pool.addKey(key.publicKey, CKM_SHA256_RSA_PKCS);
    const badSigner = { sign: (d: Uint8Array) => pool.sign(wrong, d, 512, bad) };
    const goodSigner = hsmSigner(token, other, good);
    const data = Array.from({ length: 200 }, () => randomBytes(60));
    const results = await Promise.allSettled(data.flatMap((d) => [badSigner.sign(d), goodSigner.sign(d)]));
    const badOnes = results.filter((_, i) => i % 2 === 0);
    const goodOnes = results.filter((_, i) => i % 2 === 1);
    expect(badOnes.every((r) => r.status === 'rejected' && r.reason instanceof HsmError)).toBe(true);
    goodOnes.forEach((r, i) => {
      expect(r.status, `signature ${i} of the good zone`).toBe('fulfilled');
      expect(verifySignature(other.dnskey, data[i]!, (r as PromiseFulfilledResult<Uint8Array>).value)).toBe(true);
    });
    pool.removeKey(wrong);
    pool.endLane(bad);
    pool.endLane(good);
  });

  it('drops a zone removed while its signatures are queued: they fail as no longer served (not an HSM failure), the other zone is signed whole', async () => {
    const gone = pool.lane('gone.example.', 'requested');
    const stays = pool.lane('stays.example.', 'requested');
    const id = pool.cachedKey(key.privateKey, CKM_SHA256_RSA_PKCS);
    const order: string[] = [];
    const failures: unknown[] = [];
    const data = randomBytes(80);
    for (let i = 0; i < 2000; i++) pool.signTo(id, data, 512, recorder(order, 'gone', failures), i, gone);
    for (let i = 0; i < 500; i++) pool.signTo(id, data, 512, recorder(order, 'stays', failures), i, stays);
    pool.drop('gone.example.', 'zone gone.example. is no longer served');
    expect(pool.queued).toBeLessThanOrEqual(8);
    // what no thread had taken failed at once; a later request of the dropped run fails too
    pool.signTo(id, data, 512, recorder(order, 'gone', failures), 0, gone);
    await until(order, 500);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(order.filter((t) => t === 'stays')).toHaveLength(500);
    expect(order.filter((t) => t === 'gone').length).toBe(0);
    expect(failures).toHaveLength(2001);
    for (const f of failures) {
      expect(f).toBeInstanceOf(SignerError);
      expect(f).not.toBeInstanceOf(HsmError);
      expect((f as SignerError).message).toBe('zone gone.example. is no longer served');
    }
    pool.endLane(gone);
    pool.endLane(stays);
  });

  it("keeps the threads' copies of a key from run to run, and drops them when the key is destroyed", async () => {
    const extra = generateKey(token, Name.parse('c.pool.example.'), 'zsk', { algorithm: Algorithm.RSASHA256, bits: 1024 });
    const before = pool.cachedKeys;
    const lane = pool.lane('c.pool.example.', 'requested');
    const first = hsmSigner(token, extra, lane);
    const data = randomBytes(50);
    expect(verifySignature(extra.dnskey, data, await first.sign(data))).toBe(true);
    first.release!();
    // a second run signs with the same copies: no new key in the pool
    const second = hsmSigner(token, extra, lane);
    expect(pool.cachedKeys).toBe(before + 1);
    expect(verifySignature(extra.dnskey, data, await second.sign(data))).toBe(true);
    deleteKey(token, extra);
    expect(pool.cachedKeys).toBe(before);
    const error = await second.sign(data).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as HsmError).message).toMatch(/CKR_KEY_HANDLE_INVALID \(the key was removed from the signing threads\)/);
    pool.endLane(lane);
  });
});

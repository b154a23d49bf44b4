import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { Algorithm } from '../../src/dnssec/algorithms.js';
import { signZone } from '../../src/dnssec/sign-zone.js';
import { verifySignature } from '../../src/dnssec/verify-signature.js';
import { HsmError } from '../../src/hsm/errors.js';
import { deleteKey, findKeys, generateKey, hsmSigner, type HsmKey } from '../../src/hsm/keys.js';
import { readPin } from '../../src/hsm/pin.js';
import { Token } from '../../src/hsm/token.js';
import { initToken } from '../../src/hsm/token-init.js';
import { loadZoneFile } from '../../src/service/load-zone.js';
import { printZone } from '../../src/zone/print.js';
import { HMS, ROOT, run, verifySignedZone } from './helpers/run.js';
import { spawnSync } from 'node:child_process';

/**
 * A throwaway SoftHSM token (Knot's test_dnssec_keystore_pkcs11 idea): keys made in it, never
 * extractable, signing through several sessions at once, and zones signed with its keys that
 * dnssec-verify, ldns-verify-zone and kzonecheck accept.
 */
const zone = Name.parse('example.com.');
const PIN = randomBytes(8).toString('hex');
let tmp: string;
let token: Token;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hms-softhsm-'));
  mkdirSync(join(tmp, 'tokens'));
  writeFileSync(join(tmp, 'softhsm2.conf'), `directories.tokendir = ${join(tmp, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = join(tmp, 'softhsm2.conf');
  expect(initToken({ label: 'hms-test', soPin: randomBytes(8).toString('hex'), pin: PIN })).toBe(true);
  token = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
});
afterAll(async () => {
  await token?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the HSM key store (SoftHSM2)', () => {
  it('refuses a wrong PIN as a fatal (not retryable) C_Login error', async () => {
    await token.close();
    let error: unknown;
    try {
      Token.open({ label: 'hms-test', pin: 'wrong-pin' });
    } catch (e) {
      error = e;
    } finally {
      token = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
    }
    expect(error).toBeInstanceOf(HsmError);
    expect((error as HsmError).message).toBe('C_Login (token hms-test): CKR_PIN_INCORRECT');
    expect((error as HsmError).retryable).toBe(false);
    expect((error as HsmError).message).not.toContain('wrong-pin');
  });

  it('DP-3.1b reads the PIN from a file only its owner can read', () => {
    const file = join(tmp, 'pin');
    writeFileSync(file, `${PIN}\n`, { mode: 0o644 });
    expect(() => readPin({ file })).toThrow(/readable by others \(mode 644\)/);
    rmSync(file);
    writeFileSync(file, `${PIN}\n`, { mode: 0o600 });
    expect(readPin({ file })).toBe(PIN);
    expect(() => readPin({ env: 'HMS_TEST_NO_SUCH_PIN' })).toThrow(/set HMS_TEST_NO_SUCH_PIN/);
  });

  it('DP-3.1d DP-3.1f keys are made in the token, sensitive and never extractable', () => {
    const rsa = generateKey(token, zone, 'ksk', { algorithm: Algorithm.RSASHA256, bits: 2048 });
    const ec = generateKey(token, zone, 'zsk', { algorithm: Algorithm.ECDSAP256SHA256 });
    for (const key of [rsa, ec]) {
      const [extractable, sensitive, isToken] = token.pkcs11.C_GetAttributeValue(token.control, key.privateKey, [
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_TOKEN },
      ]);
      expect(extractable!.value[0]).toBe(0);
      expect(sensitive!.value[0]).toBe(1);
      expect(isToken!.value[0]).toBe(1);
    }
    expect(() => token.pkcs11.C_GetAttributeValue(token.control, rsa.privateKey, [{ type: pkcs11js.CKA_PRIVATE_EXPONENT }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    expect(() => token.pkcs11.C_GetAttributeValue(token.control, ec.privateKey, [{ type: pkcs11js.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    expect(rsa.dnskey[1]).toBe(1); // KSK: SEP flag
    expect(ec.dnskey[1]).toBe(0);
    const found = findKeys(token, zone)
      .map((k) => k.keyTag)
      .sort();
    expect(found).toEqual([rsa.keyTag, ec.keyTag].sort());
    expect(findKeys(token, Name.parse('other.example.'))).toEqual([]);
    deleteKey(token, rsa);
    deleteKey(token, ec);
    expect(findKeys(token, zone)).toEqual([]);
  });

  it('DP-3.1e keys are made for signing only: no decrypt, unwrap or derive; the public half verifies only', () => {
    const p = token.pkcs11;
    const flag = (a: pkcs11js.Attribute): number => (a.value as Buffer)[0]!;
    for (const spec of [{ algorithm: Algorithm.RSASHA256, bits: 1024 }, { algorithm: Algorithm.ECDSAP256SHA256 }, { algorithm: Algorithm.ED25519 }]) {
      const key = generateKey(token, zone, 'zsk', spec);
      try {
        const priv = p
          .C_GetAttributeValue(token.control, key.privateKey, [
            { type: pkcs11js.CKA_SIGN },
            { type: pkcs11js.CKA_DECRYPT },
            { type: pkcs11js.CKA_UNWRAP },
            { type: pkcs11js.CKA_DERIVE },
            { type: pkcs11js.CKA_SENSITIVE },
            { type: pkcs11js.CKA_EXTRACTABLE },
          ])
          .map(flag);
        expect({ algorithm: spec.algorithm, priv }).toEqual({ algorithm: spec.algorithm, priv: [1, 0, 0, 0, 1, 0] });
        const pub = p
          .C_GetAttributeValue(token.control, key.publicKey, [
            { type: pkcs11js.CKA_VERIFY },
            { type: pkcs11js.CKA_ENCRYPT },
            { type: pkcs11js.CKA_WRAP },
            { type: pkcs11js.CKA_DERIVE },
          ])
          .map(flag);
        expect({ algorithm: spec.algorithm, pub }).toEqual({ algorithm: spec.algorithm, pub: [1, 0, 0, 0] });
        if (spec.algorithm === Algorithm.RSASHA256) {
          // the token refuses to use the key for anything but signing (today's keys: both calls succeed)
          expect(() => p.C_DecryptInit(token.control, { mechanism: pkcs11js.CKM_RSA_PKCS }, key.privateKey)).toThrow(/CKR_KEY_FUNCTION_NOT_PERMITTED/);
          expect(() => p.C_EncryptInit(token.control, { mechanism: pkcs11js.CKM_RSA_PKCS }, key.publicKey)).toThrow(/CKR_KEY_FUNCTION_NOT_PERMITTED/);
        }
      } finally {
        deleteKey(token, key);
      }
    }
  });

  it('DP-3.5 signs many at once through the session pool; every signature verifies from the DNSKEY alone', async () => {
    for (const spec of [{ algorithm: Algorithm.RSASHA256, bits: 1024 }, { algorithm: Algorithm.ECDSAP256SHA256 }, { algorithm: Algorithm.ED25519 }]) {
      const key = generateKey(token, zone, 'zsk', spec);
      const signer = hsmSigner(token, key);
      const data = Array.from({ length: 40 }, (_, i) => randomBytes(50 + i));
      const signatures = await Promise.all(data.map((d) => signer.sign(d)));
      signatures.forEach((sig, i) => expect(verifySignature(key.dnskey, data[i]!, sig), `${spec.algorithm} #${i}`).toBe(true));
      deleteKey(token, key);
    }
  });

  it('DP-3.5 signs on a thread per session: many requests, each signature verifies; a lost key stops with the CKR', async () => {
    const threaded = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
    try {
      await threaded.startSigningThreads();
      for (const spec of [{ algorithm: Algorithm.RSASHA256, bits: 1024 }, { algorithm: Algorithm.ECDSAP256SHA256 }, { algorithm: Algorithm.ED25519 }]) {
        const key = generateKey(threaded, zone, 'zsk', spec);
        const signer = hsmSigner(threaded, key);
        // more than a batch per thread, of many sizes; a few larger than a batch's room (32 KiB)
        const data = Array.from({ length: 300 }, (_, i) => randomBytes(i % 97 === 96 ? 40_000 + i : 20 + (i % 200)));
        const signatures = await Promise.all(data.map((d) => signer.sign(d)));
        signatures.forEach((sig, i) => expect(verifySignature(key.dnskey, data[i]!, sig), `${spec.algorithm} #${i}`).toBe(true));
        // released, the signer signs no more
        signer.release!();
        const released = await signer.sign(data[0]!).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((released as HsmError).message).toBe('C_SignInit (token hms-test): CKR_KEY_HANDLE_INVALID (the key was removed from the signing threads)');
        expect((released as HsmError).retryable).toBe(false);
        deleteKey(threaded, key);
        // the object is gone (no copy can be made of it): the thread reports the PKCS#11 function and CKR, not retryable
        const error = await hsmSigner(threaded, key)
          .sign(data[0]!)
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).toBeInstanceOf(HsmError);
        expect((error as HsmError).message).toMatch(/^C_SignInit \(token hms-test\): CKR_(KEY|OBJECT)_HANDLE_INVALID$/);
        expect((error as HsmError).retryable).toBe(false);
      }
    } finally {
      await threaded.close();
    }
    // the threads are gone, and so are their requests
    await expect(threaded.startSigningThreads()).rejects.toThrow(/closed/);
  });

  it('DP-3.1d makes keys for several zones at once while keys are listed and others sign: every key is whole (softhsm/SoftHSMv2#573)', async () => {
    const threaded = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
    const zones = ['a.race.example.', 'b.race.example.', 'c.race.example.'].map((z) => Name.parse(z));
    const made: HsmKey[] = [];
    try {
      await threaded.startSigningThreads();
      const signingKey = generateKey(threaded, zones[0]!, 'zsk', { algorithm: Algorithm.RSASHA256, bits: 1024 });
      made.push(signingKey);
      const signer = hsmSigner(threaded, signingKey);
      let listing = true;
      let lists = 0;
      const lister = (async () => {
        for (; listing; lists++) {
          findKeys(threaded);
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const data = randomBytes(100);
      const signatures = Promise.all(Array.from({ length: 400 }, () => signer.sign(data)));
      // as the service's zone runs do: each its own chain of work, interleaved on the main thread
      const outcomes = await Promise.allSettled(
        zones.flatMap((z) =>
          [0, 1, 2, 3].map((round) =>
            new Promise((resolve) => setImmediate(resolve)).then(() =>
              generateKey(threaded, z, round % 2 === 0 ? 'zsk' : 'ksk', { algorithm: Algorithm.RSASHA256, bits: 1024 }),
            ),
          ),
        ),
      );
      listing = false;
      await lister;
      for (const sig of await signatures) expect(verifySignature(signingKey.dnskey, data, sig)).toBe(true);
      signer.release!();
      for (const o of outcomes) if (o.status === 'fulfilled') made.push(o.value);
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason))).toEqual([]);
      expect(lists).toBeGreaterThan(0);
      // each key is there once, whole: it signs, and its signature verifies
      const found = findKeys(threaded).filter((k) => k.zone.endsWith('race.example.'));
      expect(found.map((k) => k.label).sort()).toEqual(made.map((k) => k.label).sort());
      for (const k of found) {
        const each = hsmSigner(threaded, k);
        expect(verifySignature(k.dnskey, data, await each.sign(data))).toBe(true);
        each.release!();
      }
    } finally {
      for (const k of made) deleteKey(threaded, k);
      await threaded.close();
    }
  });

  it('DP-3.1d the signing threads sign with session copies of a key: private, sensitive, unextractable, gone on release', async () => {
    const threaded = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
    const copies = (): Buffer[] => {
      const p = threaded.pkcs11;
      p.C_FindObjectsInit(threaded.control, [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      ]);
      try {
        return p.C_FindObjects(threaded.control, 16);
      } finally {
        p.C_FindObjectsFinal(threaded.control);
      }
    };
    try {
      await threaded.startSigningThreads();
      const key = generateKey(threaded, zone, 'zsk', { algorithm: Algorithm.RSASHA256, bits: 1024 });
      const signer = hsmSigner(threaded, key);
      const data = randomBytes(100);
      expect(verifySignature(key.dnskey, data, await signer.sign(data))).toBe(true);
      // one in each thread's session; the second thread may make its copy a moment later on a busy machine
      const ready = Date.now() + 5000;
      while (copies().length < 2 && Date.now() < ready) await new Promise((resolve) => setTimeout(resolve, 20));
      const made = copies();
      expect(made.length).toBe(2);
      expect(findKeys(threaded, zone).map((k) => k.keyTag)).toEqual([key.keyTag]); // the key, not its copies
      const [id] = threaded.pkcs11.C_GetAttributeValue(threaded.control, key.privateKey, [{ type: pkcs11js.CKA_ID }]);
      for (const copy of made) {
        const [extractable, sensitive, isPrivate, copyId] = threaded.pkcs11.C_GetAttributeValue(threaded.control, copy, [
          { type: pkcs11js.CKA_EXTRACTABLE },
          { type: pkcs11js.CKA_SENSITIVE },
          { type: pkcs11js.CKA_PRIVATE },
          { type: pkcs11js.CKA_ID },
        ]);
        expect([extractable!.value[0], sensitive!.value[0], isPrivate!.value[0]]).toEqual([0, 1, 1]);
        expect(copyId!.value).toEqual(id!.value);
        expect(() => threaded.pkcs11.C_GetAttributeValue(threaded.control, copy, [{ type: pkcs11js.CKA_PRIVATE_EXPONENT }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      }
      // release: each thread destroys its copy (a message it reads in turn)
      signer.release!();
      const until = Date.now() + 5000;
      while (copies().length > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(copies()).toEqual([]);
      deleteKey(threaded, key);
    } finally {
      await threaded.close();
    }
  });

  it('a zone signed with HSM keys passes dnssec-verify, ldns-verify-zone and kzonecheck', async () => {
    const keys: HsmKey[] = [
      generateKey(token, zone, 'ksk', { algorithm: Algorithm.RSASHA256, bits: 2048 }),
      generateKey(token, zone, 'zsk', { algorithm: Algorithm.RSASHA256, bits: 1024 }),
    ];
    try {
      const unsigned = loadZoneFile(join(ROOT, 'examples/zones/example.com.zone'), zone);
      // the validators judge signatures by this machine's clock
      const now = Math.floor(Date.now() / 1000);
      const signed = await signZone(unsigned, {
        keys: keys.map((k) => ({ signer: hsmSigner(token, k), role: k.role })),
        denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
        inception: now - 3600,
        expiration: now - 3600 + 32 * 86400,
      });
      const file = join(tmp, 'signed.zone');
      writeFileSync(file, [...printZone(signed)].join('\n') + '\n', 'latin1');
      expect(verifySignedZone('example.com', file)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    } finally {
      for (const k of keys) deleteKey(token, k);
    }
  });
});

describe('hms sign and hms key list (the CLI over the HSM)', () => {
  const cli = (args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [HMS, ...args], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF!, HMS_TOKEN: 'hms-test', HMS_PIN: PIN, ...env },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const input = join(ROOT, 'examples/zones/example.com.zone');

  it('makes a KSK and a ZSK the first time, reuses them after, writes a zone the validators accept', async () => {
    await token.close(); // the CLI opens the token itself
    try {
      const out = join(tmp, 'cli.signed');
      // dated by this machine's clock, by which the validators judge the signatures
      const first = cli(['sign', '--origin', 'example.com', '--in', input, '--out', out]);
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(/KSK \d+ algorithm 8 \(new\)/);
      const ds = first.stdout.split('\n').find((l) => l.includes('\tDS\t'))!;
      expect(verifySignedZone('example.com', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
      const second = cli([
        'sign',
        '--origin',
        'example.com',
        '--in',
        input,
        '--out',
        out,
        '--denial',
        'nsec',
        '--now',
        new Date(Date.now() + 3600_000).toISOString(),
        '--json',
      ]);
      expect(second.status).toBe(0);
      expect(verifySignedZone('example.com', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
      const result = JSON.parse(second.stdout) as { ds: string[]; serial: number };
      expect(result.ds).toEqual([ds]);
      const list = cli(['key', 'list', '--origin', 'example.com', '--json']);
      expect((JSON.parse(list.stdout) as { keys: unknown[] }).keys).toHaveLength(2);
    } finally {
      token = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
    }
  });

  it('signs while it reads the zone file once the zone has keys: the same signed zone, which the validators accept', async () => {
    await token.close();
    try {
      // records enough for the signing threads to be ready before the file is read, in few RRsets
      const input = join(tmp, 'ahead.zone');
      const lines = ['$TTL 3600', '@ SOA ns1 hostmaster 1 7200 900 1209600 300', '@ NS ns1', 'ns1 A 192.0.2.53'];
      for (let i = 0; i < 10000; i++) for (let j = 1; j <= 4; j++) lines.push(`h${i} A 192.0.${j}.${i % 250}`);
      writeFileSync(input, lines.join('\n') + '\n');
      const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
      const sign = (out: string): { signatures: number; signedAhead: number } => {
        const r = cli(['sign', '--origin', 'ahead.example', '--in', input, '--out', out, '--now', now, '--json']);
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as { signatures: number; signedAhead: number };
      };
      const first = sign(join(tmp, 'ahead-1.signed'));
      expect(first.signedAhead).toBe(0); // its keys were made after the file was read
      const second = sign(join(tmp, 'ahead-2.signed'));
      expect(second.signedAhead).toBeGreaterThan(0);
      expect(second.signatures).toBe(first.signatures);
      expect(readFileSync(join(tmp, 'ahead-2.signed')).equals(readFileSync(join(tmp, 'ahead-1.signed')))).toBe(true); // RSA: the same signatures
      expect(verifySignedZone('ahead.example', join(tmp, 'ahead-2.signed'))).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    } finally {
      token = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
    }
  });

  it('hms hsm test checks the token and reports signatures per second for each algorithm', async () => {
    await token.close();
    try {
      const r = cli(['hsm', 'test', '--seconds', '0.2', '--json']);
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { results: { algorithm: string; signaturesPerSecond: number; verified: boolean }[] };
      expect(result.results.map((x) => x.algorithm)).toEqual(['RSASHA256', 'RSASHA256', 'ECDSAP256SHA256', 'ED25519']);
      for (const x of result.results) {
        expect(x.verified).toBe(true);
        expect(x.signaturesPerSecond).toBeGreaterThan(0);
      }
    } finally {
      token = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
    }
    expect(findKeys(token, Name.parse('hsm-test.invalid.'))).toEqual([]);
  });

  it("a SoftHSM configuration it cannot use is named with what is wrong with it, not SoftHSM's bare CKR_GENERAL_ERROR", () => {
    const dir = mkdtempSync(join(tmpdir(), 'hms-softhsm-conf-'));
    try {
      const conf = (name: string, text: string): string => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const cases: [string, RegExp][] = [
        [join(dir, 'missing.conf'), /SoftHSM's configuration SOFTHSM2_CONF=.*missing\.conf cannot be read \(ENOENT\); bash scripts\/setup writes one/],
        [
          conf('relative.conf', 'directories.tokendir = tokens\nobjectstore.backend = file\n'),
          /directories\.tokendir in .*relative\.conf is 'tokens', a relative path: SoftHSM needs an absolute one/,
        ],
        [conf('gone.conf', `directories.tokendir = ${join(dir, 'gone')}\n`), /directories\.tokendir in .*gone\.conf \(.*gone\) cannot be used \(ENOENT\)/],
      ];
      for (const [file, message] of cases) {
        const r = cli(['sign', '--origin', 'example.com', '--in', input, '--out', join(dir, 'out')], { SOFTHSM2_CONF: file });
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/C_Initialize \(.*softhsm.*\): CKR_GENERAL_ERROR \(/);
        expect(r.stderr).toMatch(message);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses DP breaches and bad PIN sources before it touches anything', async () => {
    await token.close();
    try {
      const out = join(tmp, 'never.signed');
      expect(cli(['sign', '--origin', 'example.com', '--in', input, '--out', out, '--nsec3-iterations', '11']).status).toBe(2);
      const pinFile = join(tmp, 'open-pin');
      writeFileSync(pinFile, PIN, { mode: 0o644 });
      const open = cli(['key', 'list', '--origin', 'example.com', '--pin-file', pinFile], { HMS_PIN: '' });
      expect(open.status).toBe(5);
      expect(open.stderr).toMatch(/readable by others/);
      expect(open.stderr).not.toContain(PIN);
      const wrong = cli(['key', 'list', '--origin', 'example.com'], { HMS_PIN: 'not-the-pin' });
      expect(wrong.status).toBe(5);
      expect(wrong.stderr).toBe('hms: C_Login (token hms-test): CKR_PIN_INCORRECT\n');
      expect(run('sh', ['-c', `test -e '${out}'`]).status).toBe(1);
    } finally {
      token = Token.open({ label: 'hms-test', pin: PIN, sessions: 2 });
    }
  });
});

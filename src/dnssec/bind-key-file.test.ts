import { createECDH, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { readBindKey } from './bind-key-file.js';
import { keyTag } from './key-tag.js';

const zone = Name.parse('example.com.');
const b64 = (b: Buffer): string => b.toString('base64');

/** A P-256 key as BIND writes it: the `.key` line and the `.private` fields. */
function ecdsaFiles(flags = 257): { key: string; priv: string; d: Buffer; pub: Buffer } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const pub = ecdh.getPublicKey().subarray(1);
  const d = ecdh.getPrivateKey();
  return {
    key: `; This is a key-signing key, keyid 1, for example.com.\nexample.com. IN DNSKEY ${flags} 3 13 ${b64(pub)}\n`,
    priv: `Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: ${b64(d)}\nCreated: 20261206000000\n`,
    d,
    pub,
  };
}

function rsaFiles(): { key: string; priv: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 65537 });
  const j = privateKey.export({ format: 'jwk' });
  const f = (x: string | undefined): string => b64(Buffer.from(x!, 'base64url'));
  const n = Buffer.from(j.n!, 'base64url');
  const e = Buffer.from(j.e!, 'base64url');
  const rdataKey = Buffer.concat([Buffer.from([e.length]), e, n]);
  return {
    key: `example.com. 3600 IN DNSKEY 256 3 8 ${b64(rdataKey)}\n`,
    priv: [
      'Private-key-format: v1.3',
      'Algorithm: 8 (RSASHA256)',
      `Modulus: ${f(j.n)}`,
      `PublicExponent: ${f(j.e)}`,
      `PrivateExponent: ${f(j.d)}`,
      `Prime1: ${f(j.p)}`,
      `Prime2: ${f(j.q)}`,
      `Exponent1: ${f(j.dp)}`,
      `Exponent2: ${f(j.dq)}`,
      `Coefficient: ${f(j.qi)}`,
      '',
    ].join('\n'),
  };
}

describe('BIND key files (hms key import)', () => {
  it('reads an ECDSA P-256 pair: flags, algorithm, key tag, and the private scalar', () => {
    const f = ecdsaFiles();
    const k = readBindKey(zone, 'K.key', f.key, 'K.private', f.priv);
    expect([k.flags, k.algorithm, k.bits]).toEqual([257, 13, 256]);
    expect(k.keyTag).toBe(keyTag(k.dnskey));
    expect(k.privateKey.kind === 'ec' && k.privateKey.privateKey.equals(f.d)).toBe(true);
  });

  it('reads an RSA pair, its fields checked against the DNSKEY', () => {
    const f = rsaFiles();
    const k = readBindKey(zone, 'K.key', f.key, 'K.private', f.priv);
    expect([k.flags, k.algorithm, k.bits]).toEqual([256, 8, 1024]);
  });

  it('reads an Ed25519 pair from its 32-byte seed', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const k = readBindKey(
      zone,
      'K.key',
      `example.com. IN DNSKEY 257 3 15 ${b64(pub)}\n`,
      'K.private',
      `Private-key-format: v1.3\nAlgorithm: 15 (ED25519)\nPrivateKey: ${b64(seed)}\n`,
    );
    expect(k.publicKey.equals(pub)).toBe(true);
  });

  it('issue 18 reads RSASHA512, ECDSA P-384 and Ed448 pairs (DP-3.1a: a zone moves in with its keys whatever their algorithm)', () => {
    const rsa = rsaFiles();
    const r = readBindKey(
      zone,
      'K.key',
      rsa.key.replace(' 3 8 ', ' 3 10 '),
      'K.private',
      rsa.priv.replace('Algorithm: 8 (RSASHA256)', 'Algorithm: 10 (RSASHA512)'),
    );
    expect([r.algorithm, r.bits, r.privateKey.kind]).toEqual([10, 1024, 'rsa']);

    const ecdh = createECDH('secp384r1');
    ecdh.generateKeys();
    const pub = ecdh.getPublicKey().subarray(1);
    const p384 = readBindKey(
      zone,
      'K.key',
      `example.com. IN DNSKEY 257 3 14 ${b64(pub)}\n`,
      'K.private',
      `Private-key-format: v1.3\nAlgorithm: 14 (ECDSAP384SHA384)\nPrivateKey: ${b64(ecdh.getPrivateKey())}\n`,
    );
    expect([p384.algorithm, p384.bits, p384.keyTag]).toEqual([14, 384, keyTag(p384.dnskey)]);
    expect(p384.publicKey).toEqual(pub);

    const { privateKey, publicKey } = generateKeyPairSync('ed448');
    const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const edPub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const ed = readBindKey(
      zone,
      'K.key',
      `example.com. IN DNSKEY 256 3 16 ${b64(edPub)}\n`,
      'K.private',
      `Private-key-format: v1.3\nAlgorithm: 16 (ED448)\nPrivateKey: ${b64(seed)}\n`,
    );
    expect([ed.algorithm, ed.bits, ed.privateKey.kind, seed.length]).toEqual([16, 456, 'eddsa', 57]);
    // the other Ed448 key's public half: not the halves of one key
    const other = Buffer.from(generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' }).x!, 'base64url');
    expect(() =>
      readBindKey(
        zone,
        'K.key',
        `example.com. IN DNSKEY 256 3 16 ${b64(other)}\n`,
        'K.private',
        `Private-key-format: v1.3\nAlgorithm: 16 (ED448)\nPrivateKey: ${b64(seed)}\n`,
      ),
    ).toThrow(/^K\.private:3: its key is not the one in K\.key/);
  });

  it('refuses halves of two keys, naming the .private and its line', () => {
    const a = ecdsaFiles();
    const b = ecdsaFiles();
    expect(() => readBindKey(zone, 'Ka.key', a.key, 'Kb.private', b.priv)).toThrow(/^Kb\.private:3: its key is not the one in Ka\.key/);
  });

  it('refuses an RSA .private whose primes do not make its modulus', () => {
    const f = rsaFiles();
    const other = rsaFiles()
      .priv.split('\n')
      .find((l) => l.startsWith('Prime2:'))!;
    const priv = f.priv
      .split('\n')
      .map((l) => (l.startsWith('Prime2:') ? other : l))
      .join('\n');
    expect(() => readBindKey(zone, 'K.key', f.key, 'K.private', priv)).toThrow(/^K\.private:7: Prime1 times Prime2 is not the Modulus/);
  });

  it('refuses a bad line, a missing field, another owner, a revoked key, an algorithm hms does not import', () => {
    const f = ecdsaFiles();
    expect(() => readBindKey(zone, 'K.key', f.key, 'K.private', f.priv.replace('Created:', 'Created'))).toThrow(/^K\.private:4: not a "Name: value" line/);
    expect(() => readBindKey(zone, 'K.key', f.key, 'K.private', f.priv.replace(/PrivateKey: .*\n/, ''))).toThrow(/^K\.private: no 'PrivateKey:' field/);
    expect(() => readBindKey(zone, 'K.key', f.key.replace('example.com. IN', 'www.example.com. IN'), 'K.private', f.priv)).toThrow(
      /^K\.key:2: the DNSKEY is owned by www\.example\.com\./,
    );
    expect(() => readBindKey(zone, 'K.key', ecdsaFiles(385).key, 'K.private', f.priv)).toThrow(/^K\.key:2: DNSKEY flags 385/);
    // issue 18: an algorithm hms does not sign with is refused by name, with the reason
    expect(() => readBindKey(zone, 'K.key', f.key.replace(' 3 13 ', ' 3 5 '), 'K.private', f.priv)).toThrow(
      /^K\.key:2: algorithm 5 \(RSASHA1\): RSASHA1 uses SHA-1 \(RFC 8624: must not sign\); hms imports RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519, ED448$/,
    );
    expect(() => readBindKey(zone, 'K.key', f.key.replace(' 3 13 ', ' 3 12 '), 'K.private', f.priv)).toThrow(
      /^K\.key:2: algorithm 12 \(ECC-GOST\): ECC-GOST is deprecated/,
    );
    expect(() => readBindKey(zone, 'K.key', f.key.replace(' 3 13 ', ' 3 253 '), 'K.private', f.priv)).toThrow(
      /^K\.key:2: algorithm 253 \(algorithm 253\): algorithm 253 is not one hms signs with/,
    );
    // the halves of one key are checked whatever the curve: a P-256 .private under an algorithm-14 .key
    expect(() => readBindKey(zone, 'K.key', f.key.replace(' 3 13 ', ' 3 14 '), 'K.private', f.priv.replace('Algorithm: 13', 'Algorithm: 14'))).toThrow(
      /^K\.private:3: a P-384 private key is 48 bytes, not 32/,
    );
    expect(() => readBindKey(zone, 'K.key', f.key, 'K.private', f.priv.replace('Algorithm: 13', 'Algorithm: 8'))).toThrow(/^K\.private:2: algorithm 8/);
    expect(() => readBindKey(zone, 'K.key', `${f.key}${f.key}`, 'K.private', f.priv)).toThrow(/^K\.key:4: holds 2 record\(s\)/);
  });
});

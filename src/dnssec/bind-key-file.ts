import { createECDH, createPrivateKey, createPublicKey } from 'node:crypto';
import { SignerError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import { memoryIncludes, textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { RRType } from '../dns/types.js';
import { Algorithm, algorithmName, refusalOf } from './algorithms.js';
import { keyTag } from './key-tag.js';

/** The private half of a key as BIND's `.private` file holds it (RFC-less "Private-key-format: v1.x"). */
export type BindPrivateKey =
  | {
      readonly kind: 'rsa';
      readonly modulus: Buffer;
      readonly publicExponent: Buffer;
      readonly privateExponent: Buffer;
      readonly prime1: Buffer;
      readonly prime2: Buffer;
      readonly exponent1: Buffer;
      readonly exponent2: Buffer;
      readonly coefficient: Buffer;
    }
  /** ECDSA (P-256, P-384): the scalar d, and the uncompressed point; EdDSA (Ed25519, Ed448): the seed (32, 57 bytes), and the public key. */
  | { readonly kind: 'ec' | 'eddsa'; readonly privateKey: Buffer; readonly publicKey: Buffer };

/** A key pair read from BIND's `K<zone>+<alg>+<tag>.key` and `.private`, checked to agree. */
export interface BindKey {
  readonly flags: number;
  readonly algorithm: number;
  /** The DNSKEY RDATA of the `.key` file. */
  readonly dnskey: Uint8Array;
  readonly keyTag: number;
  /** The public key as it is in the DNSKEY (after flags, protocol, algorithm). */
  readonly publicKey: Buffer;
  readonly privateKey: BindPrivateKey;
  /** RSA modulus size in bits; the curve's for the others (256, 384, 256, 456). */
  readonly bits: number;
}

/** The algorithms whose keys hms takes from BIND's files: those it signs with in the HSM (src/hsm/keys.ts). */
const IMPORTABLE: readonly number[] = [
  Algorithm.RSASHA256,
  Algorithm.RSASHA512,
  Algorithm.ECDSAP256SHA256,
  Algorithm.ECDSAP384SHA384,
  Algorithm.ED25519,
  Algorithm.ED448,
];

/** ECDSA curves (node's names, scalar bytes) and EdDSA curves (PKCS#8 prefix of the seed, seed bytes) by DNSSEC algorithm. */
const ECDSA = new Map<number, { readonly curve: string; readonly bytes: number; readonly name: string }>([
  [Algorithm.ECDSAP256SHA256, { curve: 'prime256v1', bytes: 32, name: 'P-256' }],
  [Algorithm.ECDSAP384SHA384, { curve: 'secp384r1', bytes: 48, name: 'P-384' }],
]);
const EDDSA = new Map<number, { readonly pkcs8: string; readonly bytes: number; readonly name: string }>([
  [Algorithm.ED25519, { pkcs8: '302e020100300506032b657004220420', bytes: 32, name: 'Ed25519' }],
  [Algorithm.ED448, { pkcs8: '3047020100300506032b6571043b0439', bytes: 57, name: 'Ed448' }],
]);

const bad = (file: string, line: number | null, what: string): SignerError =>
  new SignerError('DNSSEC', `${file}${line === null ? '' : `:${line}`}: ${what}`, { details: { file, ...(line === null ? {} : { line }) } });

/**
 * Reads a BIND key pair for `zone`: the `.key` file's DNSKEY (owned by the zone apex, one
 * record) and the `.private` file's fields, and checks that they are halves of one key (the
 * `.private` public part, or the public key worked out from its private part, is the
 * DNSKEY's). Errors name the file and line.
 */
export function readBindKey(zone: Name, keyFile: string, keyText: string, privateFile: string, privateText: string): BindKey {
  const records = [...parseZoneFile(textSource(keyFile, keyText), { origin: zone, defaultTtl: 3600, include: memoryIncludes({}) })];
  const dnskeys = records.filter((r) => r.type === RRType.DNSKEY);
  if (dnskeys.length !== 1 || records.length !== 1)
    throw bad(keyFile, records[1]?.line ?? null, `holds ${records.length} record(s), ${dnskeys.length} DNSKEY: a BIND .key file holds one DNSKEY record`);
  const rr = dnskeys[0]!;
  if (!rr.owner.equals(zone)) throw bad(keyFile, rr.line, `the DNSKEY is owned by ${rr.owner.toString()}, not the zone ${zone.toString()}`);
  const dnskey = rr.rdata;
  const flags = (dnskey[0]! << 8) | dnskey[1]!;
  const algorithm = dnskey[3]!;
  if (flags !== 256 && flags !== 257)
    throw bad(keyFile, rr.line, `DNSKEY flags ${flags}: only a zone key (256) or a secure entry point (257) is imported (no revoked key)`);
  if (!IMPORTABLE.includes(algorithm))
    throw bad(
      keyFile,
      rr.line,
      `algorithm ${algorithm} (${algorithmName(algorithm)}): ${refusalOf(algorithm) ?? 'not imported'}; hms imports ${IMPORTABLE.map(algorithmName).join(', ')}`,
    );
  const publicKey = Buffer.from(dnskey.subarray(4));
  const fields = privateFields(privateFile, privateText);
  const field = (name: string): Buffer => {
    const f = fields.get(name);
    if (f === undefined) throw bad(privateFile, null, `no '${name}:' field`);
    return f.value;
  };
  const lineOf = (name: string): number => fields.get(name)!.line;
  const algLine = fields.get('Algorithm');
  if (algLine === undefined) throw bad(privateFile, null, "no 'Algorithm:' field");
  const privateAlgorithm = Number(/^(\d+)/.exec(algLine.text)?.[1]);
  if (privateAlgorithm !== algorithm)
    throw bad(privateFile, algLine.line, `algorithm ${algLine.text}, but ${keyFile} has algorithm ${algorithm}: not the halves of one key`);
  const mismatch = (name: string): SignerError =>
    bad(privateFile, lineOf(name), `its key is not the one in ${keyFile} (key tag ${keyTag(dnskey)}): not the halves of one key`);
  let privateKey: BindPrivateKey;
  let bits: number;
  const ecdsa = ECDSA.get(algorithm);
  const eddsa = EDDSA.get(algorithm);
  if (algorithm === Algorithm.RSASHA256 || algorithm === Algorithm.RSASHA512) {
    const rsa = {
      kind: 'rsa' as const,
      modulus: field('Modulus'),
      publicExponent: field('PublicExponent'),
      privateExponent: field('PrivateExponent'),
      prime1: field('Prime1'),
      prime2: field('Prime2'),
      exponent1: field('Exponent1'),
      exponent2: field('Exponent2'),
      coefficient: field('Coefficient'),
    };
    const expLength = publicKey[0] === 0 ? publicKey.readUInt16BE(1) : publicKey[0]!;
    const expAt = publicKey[0] === 0 ? 3 : 1;
    const exponent = publicKey.subarray(expAt, expAt + expLength);
    const modulus = publicKey.subarray(expAt + expLength);
    if (!unsigned(rsa.publicExponent).equals(unsigned(exponent))) throw mismatch('PublicExponent');
    if (!unsigned(rsa.modulus).equals(unsigned(modulus))) throw mismatch('Modulus');
    if (big(rsa.prime1) * big(rsa.prime2) !== big(rsa.modulus))
      throw bad(privateFile, lineOf('Prime2'), 'Prime1 times Prime2 is not the Modulus: the file is damaged');
    privateKey = rsa;
    bits = unsigned(rsa.modulus).length * 8;
  } else if (ecdsa !== undefined) {
    const d = field('PrivateKey');
    if (d.length !== ecdsa.bytes) throw bad(privateFile, lineOf('PrivateKey'), `a ${ecdsa.name} private key is ${ecdsa.bytes} bytes, not ${d.length}`);
    const ecdh = createECDH(ecdsa.curve);
    let point: Buffer;
    try {
      ecdh.setPrivateKey(d);
      point = ecdh.getPublicKey();
    } catch (e) {
      throw bad(privateFile, lineOf('PrivateKey'), `not a ${ecdsa.name} private key (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!point.subarray(1).equals(publicKey)) throw mismatch('PrivateKey');
    privateKey = { kind: 'ec', privateKey: d, publicKey: point };
    bits = ecdsa.bytes * 8;
  } else {
    const curve = eddsa!;
    const seed = field('PrivateKey');
    if (seed.length !== curve.bytes) throw bad(privateFile, lineOf('PrivateKey'), `an ${curve.name} private key is ${curve.bytes} bytes, not ${seed.length}`);
    const der = Buffer.concat([Buffer.from(curve.pkcs8, 'hex'), seed]);
    const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
    const pub = Buffer.from(jwk.x!, 'base64url');
    if (!pub.equals(publicKey)) throw mismatch('PrivateKey');
    privateKey = { kind: 'eddsa', privateKey: seed, publicKey: pub };
    bits = curve.bytes * 8;
  }
  return { flags, algorithm, dnskey, keyTag: keyTag(dnskey), publicKey, privateKey, bits };
}

interface Field {
  readonly text: string;
  readonly value: Buffer;
  readonly line: number;
}

/** The `Name: value` lines of a `.private` file (base64 values decoded; text kept for Algorithm and the dates). */
function privateFields(file: string, text: string): Map<string, Field> {
  const fields = new Map<string, Field>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m === null) throw bad(file, i + 1, 'not a "Name: value" line of a BIND .private file');
    const [, name, value] = m as unknown as [string, string, string];
    if (i === 0 && name !== 'Private-key-format') throw bad(file, 1, "the first line is not 'Private-key-format: v1.x': not a BIND .private file");
    if (name === 'Private-key-format' && !/^v1\.[0-9]+$/.test(value.trim())) throw bad(file, i + 1, `format ${value.trim()}: hms reads v1.x`);
    if (fields.has(name)) throw bad(file, i + 1, `'${name}:' twice`);
    const base64 = /^[A-Za-z0-9+/]+=*$/.test(value.trim());
    fields.set(name, { text: value.trim(), value: base64 ? Buffer.from(value.trim(), 'base64') : Buffer.alloc(0), line: i + 1 });
  }
  if (!fields.has('Private-key-format')) throw bad(file, null, 'empty: not a BIND .private file');
  return fields;
}

function unsigned(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

const big = (b: Buffer): bigint => BigInt(`0x${b.toString('hex') || '0'}`);

import { createHash, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { SignerError } from '../common/errors.js';
import { ByteWriter } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import { Algorithm, algorithmName, checkSigningAlgorithm } from '../dnssec/algorithms.js';
import type { BindPrivateKey } from '../dnssec/bind-key-file.js';
import { keyTag } from '../dnssec/key-tag.js';
import { dnskeyFlags, type KeyRole, type SignatureSink, type Signer } from '../dnssec/signer.js';
import { HsmError, pkcs11Call, toHsmError } from './errors.js';
import { KeyIndex, type Indexed } from './key-index.js';
import type { Token } from './token.js';
import type { SigningLane } from './sign-pool.js';

// PKCS#11 3.0 values pkcs11js does not name
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
/** DER OIDs for CKA_EC_PARAMS: P-256 (1.2.840.10045.3.1.7), P-384 (1.3.132.0.34), Ed25519 (1.3.101.112), Ed448 (1.3.101.113). */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
const P384_PARAMS = Buffer.from('06052b81040022', 'hex');
const ED25519_PARAMS = Buffer.from('06032b6570', 'hex');
const ED448_PARAMS = Buffer.from('06032b6571', 'hex');

/**
 * The curve keys by DNSSEC algorithm: their CKA_EC_PARAMS, key type, and the length of the
 * public key in the DNSKEY (RFC 6605: x|y; RFC 8080: the EdDSA public key).
 */
const CURVES = new Map<number, { readonly params: Buffer; readonly edwards: boolean; readonly publicBytes: number }>([
  [Algorithm.ECDSAP256SHA256, { params: P256_PARAMS, edwards: false, publicBytes: 64 }],
  [Algorithm.ECDSAP384SHA384, { params: P384_PARAMS, edwards: false, publicBytes: 96 }],
  [Algorithm.ED25519, { params: ED25519_PARAMS, edwards: true, publicBytes: 32 }],
  [Algorithm.ED448, { params: ED448_PARAMS, edwards: true, publicBytes: 57 }],
]);

/**
 * How hms signs with each algorithm in the HSM: the mechanism, the digest hms computes first
 * (CKM_ECDSA signs a digest; the others hash inside the token), the largest signature. RSA
 * is 512 bytes at most (4096 bits, DP-4.1c); ECDSA r|s as RFC 6605 wants; EdDSA as RFC 8080.
 */
const SIGNING = new Map<number, { readonly mechanism: number; readonly digest: string | null; readonly size: number }>([
  [Algorithm.RSASHA256, { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS, digest: null, size: 512 }],
  [Algorithm.RSASHA512, { mechanism: pkcs11js.CKM_SHA512_RSA_PKCS, digest: null, size: 512 }],
  [Algorithm.ECDSAP256SHA256, { mechanism: pkcs11js.CKM_ECDSA, digest: 'sha256', size: 64 }],
  [Algorithm.ECDSAP384SHA384, { mechanism: pkcs11js.CKM_ECDSA, digest: 'sha384', size: 96 }],
  [Algorithm.ED25519, { mechanism: CKM_EDDSA, digest: null, size: 64 }],
  [Algorithm.ED448, { mechanism: CKM_EDDSA, digest: null, size: 114 }],
]);

export interface KeySpec {
  readonly algorithm: number;
  /** RSA modulus size (1024 to 4096); ignored for the others. */
  readonly bits?: number;
}

/** A key pair in the token, tied to its zone and role by its label (`hms:<zone>:<role>:<id>`). */
export interface HsmKey {
  readonly id: Buffer;
  readonly label: string;
  readonly zone: string;
  readonly role: KeyRole;
  readonly algorithm: number;
  readonly dnskey: Uint8Array;
  readonly keyTag: number;
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
}

const LABEL_PREFIX = 'hms:';

/** The label of the zone's key pair with CKA_ID `id`: `hms:<zone>:<role>:<id in hex>`. */
export function keyLabel(zone: Name, role: KeyRole, id: Buffer): string {
  return `${LABEL_PREFIX}${zone.toLowerCase().toString()}:${role}:${id.toString('hex')}`;
}

/**
 * Generates a key pair inside the token (DP-3.1d): CKA_TOKEN, CKA_PRIVATE and CKA_SENSITIVE
 * true, CKA_EXTRACTABLE false, so the private key never leaves it (DP-3.1f); and for signing
 * only (DP-3.1e): the private key signs (CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE false), the public
 * key verifies (CKA_ENCRYPT, CKA_WRAP false), so the token refuses any other use of them.
 *
 * The call blocks (C_GenerateKeyPair, not its threadpool form): SoftHSM 2.6's file object
 * store is not safe while a token object is made and another thread makes one or lists the
 * token's objects (softhsm/SoftHSMv2#573). Run from the thread pool, 30 of 60 keys made three
 * zones at a time failed with CKR_GENERAL_ERROR or CKR_TEMPLATE_INCONSISTENT, and made one at
 * a time while the main thread listed keys, 51 of 180 failed and the lists missed keys. So
 * hms makes, finds and destroys token objects on the main thread only, one call after
 * another; the signing threads only copy a key into their sessions and sign with the copy
 * (30 rounds of that while keys were made and listed: no failure). An RSA-2048 key takes 0.1
 * to 0.8 s of SoftHSM, an RSA-4096 key 1 to 2 s: too long for the service's event loop, so the
 * service makes its keys ahead on a thread of its own as session objects, which touch no token
 * object (KeyMaker, KeyPool), and stores them in the token on the main thread (storeSessionPair);
 * this call remains for `hms sign`, the CLI in-process and a key pool that cannot be used.
 *
 * `id`: the CKA_ID to give the pair (16 random bytes if not given). The service chooses it and
 * records the key as intended before this call (Keeper.apply), so that a stop during or after
 * it leaves a record to settle, never an unknown key.
 */
export function generateKey(token: Token, zone: Name, role: KeyRole, spec: KeySpec, id: Buffer = randomBytes(16)): HsmKey {
  const label = keyLabel(zone, role, id);
  const made = keyPairTemplates(spec, role);
  const common = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
  ];
  const pair = pkcs11Call('C_GenerateKeyPair', token.where, () =>
    token.pkcs11.C_GenerateKeyPair(token.control, { mechanism: made.mechanism }, [...common, ...made.publicTmpl], [...common, ...made.privateTmpl]),
  );
  indexMade(token, [
    { handle: pair.publicKey, private: false, label, id },
    { handle: pair.privateKey, private: true, label, id },
  ]);
  return withAlgorithm(describeKey(token, pair.privateKey, pair.publicKey), made.algorithm);
}

/** How a key pair of `spec` is made: the mechanism and the attributes of each half, without CKA_TOKEN, CKA_LABEL and CKA_ID (generateKey, KeyMaker). */
export interface KeyPairTemplates {
  readonly algorithm: number;
  readonly mechanism: number;
  readonly publicTmpl: pkcs11js.Template;
  readonly privateTmpl: pkcs11js.Template;
}

/**
 * The templates of generateKey (DP-3.1d-f): the public half verifies only (SoftHSM sets
 * CKA_ENCRYPT, CKA_WRAP true if not told), the private half signs only, sensitive and not
 * extractable. An RSA key without `bits` is 1024 bits for a ZSK, 2048 for the others.
 */
export function keyPairTemplates(spec: KeySpec, role: KeyRole = 'ksk'): KeyPairTemplates {
  const algorithm = checkSigningAlgorithm(spec.algorithm);
  const verifyOnly = [
    { type: pkcs11js.CKA_VERIFY, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_WRAP, value: false },
  ];
  if (algorithm === Algorithm.RSASHA256 || algorithm === Algorithm.RSASHA512) {
    const bits = spec.bits ?? (role === 'zsk' ? 1024 : 2048);
    if (bits < 1024 || bits > 4096) throw new SignerError('DNSSEC', `RSA key size ${bits} is outside 1024 to 4096 (DP-4.1b, DP-4.1c)`);
    return {
      algorithm,
      mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN,
      publicTmpl: [...verifyOnly, { type: pkcs11js.CKA_MODULUS_BITS, value: bits }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }],
      privateTmpl: [...SIGN_ONLY_PRIVATE],
    };
  }
  const curve = CURVES.get(algorithm);
  if (curve === undefined) throw new SignerError('DNSSEC', `hms makes no keys of algorithm ${algorithm} in the HSM yet`);
  return {
    algorithm,
    mechanism: curve.edwards ? CKM_EC_EDWARDS_KEY_PAIR_GEN : pkcs11js.CKM_EC_KEY_PAIR_GEN,
    publicTmpl: [
      ...verifyOnly,
      { type: pkcs11js.CKA_EC_PARAMS, value: curve.params },
      ...(curve.edwards ? [{ type: pkcs11js.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }] : []),
    ],
    privateTmpl: [...SIGN_ONLY_PRIVATE],
  };
}

/**
 * The key pool's kind of a key (hsm key-pool): what the token's key material is, whatever
 * its role or DNSSEC algorithm: `rsa<bits>` (RSASHA256 and RSASHA512 alike), `ecdsap256`,
 * `ecdsap384`, `ed25519`, `ed448`.
 */
export function poolKind(spec: KeySpec, role: KeyRole = 'ksk'): string {
  const algorithm = checkSigningAlgorithm(spec.algorithm);
  if (algorithm === Algorithm.RSASHA256 || algorithm === Algorithm.RSASHA512) return `rsa${spec.bits ?? (role === 'zsk' ? 1024 : 2048)}`;
  const kinds = new Map<number, string>([
    [Algorithm.ECDSAP256SHA256, 'ecdsap256'],
    [Algorithm.ECDSAP384SHA384, 'ecdsap384'],
    [Algorithm.ED25519, 'ed25519'],
    [Algorithm.ED448, 'ed448'],
  ]);
  const kind = kinds.get(algorithm);
  if (kind === undefined) throw new SignerError('DNSSEC', `hms makes no keys of algorithm ${algorithm} in the HSM yet`);
  return kind;
}

/** The KeySpec that makes keys of a pool kind (poolKind's inverse). */
export function poolSpec(kind: string): KeySpec {
  const rsa = /^rsa(\d+)$/.exec(kind);
  if (rsa !== null) return { algorithm: Algorithm.RSASHA256, bits: Number(rsa[1]) };
  const algorithm = { ecdsap256: Algorithm.ECDSAP256SHA256, ecdsap384: Algorithm.ECDSAP384SHA384, ed25519: Algorithm.ED25519, ed448: Algorithm.ED448 }[kind];
  if (algorithm === undefined) throw new SignerError('HSM', `'${kind}' is no kind of key hms keeps in its key pool`);
  return { algorithm };
}

/**
 * The label of a key pair in the key pool: `hms-pool:<kind>:<id in hex>`. Not under `hms:`, so
 * a pool key is no zone's key (findKeys never lists it: it never signs and is no orphan)
 * until it is taken (adoptKey gives it the zone's label).
 */
export const POOL_LABEL_PREFIX = 'hms-pool:';

export function poolLabel(kind: string, id: Buffer): string {
  return `${POOL_LABEL_PREFIX}${kind}:${id.toString('hex')}`;
}

/**
 * Stores a key pair made as session objects (KeyMaker, on its own thread) in the token under
 * `label` and `id`: each half copied to a token object (C_CopyObject keeps every attribute,
 * CKA_LOCAL, CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE included: the copy is as the key
 * was made), the public half first, then the session objects destroyed. On the main thread:
 * hms makes, finds and destroys token objects there only (see generateKey). A stop between
 * the two copies leaves half a pair under `label`, which its owner removes (KeyPool.scan).
 */
export function storeSessionPair(token: Token, pair: { readonly privateKey: Buffer; readonly publicKey: Buffer }, label: string, id: Buffer, algorithm: number): HsmKey {
  const onToken = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
  ];
  try {
    const publicKey = pkcs11Call('C_CopyObject', token.where, () => token.pkcs11.C_CopyObject(token.control, pair.publicKey, onToken));
    indexMade(token, [{ handle: publicKey, private: false, label, id }]);
    const privateKey = pkcs11Call('C_CopyObject', token.where, () => token.pkcs11.C_CopyObject(token.control, pair.privateKey, onToken));
    indexMade(token, [{ handle: privateKey, private: true, label, id }]);
    return withAlgorithm(describeKey(token, privateKey, publicKey), algorithm);
  } finally {
    for (const o of [pair.privateKey, pair.publicKey]) {
      try {
        token.pkcs11.C_DestroyObject(token.control, o);
      } catch {
        // a session object: gone with its session at the latest
      }
    }
  }
}

/** The key pool's pairs in the token (KeyPool.scan): by CKA_ID (hex), their kind, and the halves under the pool's label. */
export function findPoolObjects(token: Token): Map<string, { readonly kind: string; readonly objects: Buffer[]; privates: number; publics: number }> {
  const out = new Map<string, { kind: string; objects: Buffer[]; privates: number; publics: number }>();
  for (const o of tokenIndex(token, true).values()) {
    if (!o.label.startsWith(POOL_LABEL_PREFIX)) continue;
    const [kind, id] = o.label.slice(POOL_LABEL_PREFIX.length).split(':');
    if (kind === undefined || id === undefined) continue;
    let entry = out.get(id);
    if (entry === undefined) out.set(id, (entry = { kind, objects: [], privates: 0, publics: 0 }));
    entry.objects.push(o.handle);
    if (o.private) entry.privates++;
    else entry.publics++;
  }
  return out;
}

/**
 * Imports a key pair made elsewhere (hms key import, from BIND's files) as token objects with
 * the attributes generateKey gives (DP-3.1e, DP-3.1f): the private key sensitive, not
 * extractable, for signing only, under hms's label and the CKA_ID `id` the caller recorded as
 * pending first. (CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE are false, as PKCS#11 says
 * of a key that was once outside a token: its old copies are the operator's to destroy.)
 */
export function importKey(token: Token, zone: Name, role: KeyRole, algorithm: number, key: BindPrivateKey, id: Buffer): HsmKey {
  const label = keyLabel(zone, role, id);
  const common = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
  ];
  let keyType: number;
  let publicParts: pkcs11js.Template;
  let privateParts: pkcs11js.Template;
  if (key.kind === 'rsa') {
    keyType = pkcs11js.CKK_RSA;
    publicParts = [{ type: pkcs11js.CKA_MODULUS, value: key.modulus }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: key.publicExponent }];
    privateParts = [...publicParts,
      { type: pkcs11js.CKA_PRIVATE_EXPONENT, value: key.privateExponent },
      { type: pkcs11js.CKA_PRIME_1, value: key.prime1 }, { type: pkcs11js.CKA_PRIME_2, value: key.prime2 },
      { type: pkcs11js.CKA_EXPONENT_1, value: key.exponent1 }, { type: pkcs11js.CKA_EXPONENT_2, value: key.exponent2 },
      { type: pkcs11js.CKA_COEFFICIENT, value: key.coefficient }];
  } else {
    const curve = CURVES.get(algorithm);
    if (curve === undefined || curve.edwards !== (key.kind === 'eddsa')) throw new SignerError('DNSSEC', `hms imports no ${key.kind} key of algorithm ${algorithm}`);
    keyType = curve.edwards ? CKK_EC_EDWARDS : pkcs11js.CKK_EC;
    const params = { type: pkcs11js.CKA_EC_PARAMS, value: curve.params };
    publicParts = [params, { type: pkcs11js.CKA_EC_POINT, value: Buffer.concat([Buffer.from([0x04, key.publicKey.length]), key.publicKey]) }];
    privateParts = [params, { type: pkcs11js.CKA_VALUE, value: key.privateKey }];
  }
  const publicTmpl: pkcs11js.Template = [
    ...common,
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
    { type: pkcs11js.CKA_VERIFY, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_WRAP, value: false },
    ...publicParts,
  ];
  const privateTmpl: pkcs11js.Template = [
    ...common,
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
    ...SIGN_ONLY_PRIVATE,
    ...privateParts,
  ];
  // the public half first, as C_GenerateKeyPair in SoftHSM: a stop between leaves half a pair, which settlePending removes
  const publicKey = pkcs11Call('C_CreateObject', token.where, () => token.pkcs11.C_CreateObject(token.control, publicTmpl));
  indexMade(token, [{ handle: publicKey, private: false, label, id }]);
  const privateKey = pkcs11Call('C_CreateObject', token.where, () => token.pkcs11.C_CreateObject(token.control, privateTmpl));
  indexMade(token, [{ handle: privateKey, private: true, label, id }]);
  return withAlgorithm(describeKey(token, privateKey, publicKey), algorithm);
}

/**
 * The key as a key of `algorithm`: a token's RSA key serves RSASHA256 and RSASHA512 alike (the
 * hash is the mechanism's, not the key's), so the DNSKEY (and key tag) of an RSA key comes
 * from the algorithm its record gives; describeKey takes RSASHA256. Any other difference
 * between the token's key and the record is refused.
 */
export function withAlgorithm(key: HsmKey, algorithm: number): HsmKey {
  if (key.algorithm === algorithm) return key;
  const rsa: readonly number[] = [Algorithm.RSASHA256, Algorithm.RSASHA512];
  if (!rsa.includes(key.algorithm) || !rsa.includes(algorithm))
    throw new SignerError('HSM', `key ${key.label}: the token holds a ${algorithmName(key.algorithm)} key, not one of ${algorithmName(algorithm)}`);
  const dnskey = Uint8Array.from(key.dnskey);
  dnskey[3] = algorithm;
  return { ...key, algorithm, dnskey, keyTag: keyTag(dnskey) };
}

/** What hms asks of a private key it signs with (DP-3.1e, DP-3.1f); hms key import --label/--id warns of each a key lacks. */
const SIGN_ONLY_PRIVATE = [
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: true },
  { type: pkcs11js.CKA_EXTRACTABLE, value: false },
  { type: pkcs11js.CKA_SIGN, value: true },
  { type: pkcs11js.CKA_DECRYPT, value: false },
  { type: pkcs11js.CKA_UNWRAP, value: false },
  { type: pkcs11js.CKA_DERIVE, value: false },
] as const;

/**
 * A key pair another signer left in the token (OpenDNSSEC, Knot: hms key import --label or
 * --id), taken over for `zone` and `role`: both halves are found by the private key's label
 * or CKA_ID and described as they will be under hms's label (`hms:<zone>:<role>:<id>`, so
 * findKeys lists them; the CKA_ID stays), then `accept`ed (a throw leaves the token as it
 * was), then `record`ed with their labels before (the caller records the key as pending, so
 * that a stop during or after the relabel is settled at start, never an orphan), then
 * relabelled, the private key first. `problems` lists what the private key allows beyond
 * signing, or lets out (it is taken over all the same: the token's policy is the operator's;
 * hms warns).
 */
export function adoptKey(
  token: Token,
  zone: Name,
  role: KeyRole,
  by: { readonly label?: string; readonly id?: Buffer },
  accept: (key: HsmKey) => void,
  record: (key: HsmKey, formerLabels: readonly [string, string]) => void,
  /** For an RSA pair: RSASHA256 or RSASHA512 (the token does not tell; the zone's policy does). */
  rsaAlgorithm: number = Algorithm.RSASHA256,
): { readonly key: HsmKey; readonly problems: readonly string[] } {
  const what = by.label !== undefined ? `label '${by.label}'` : `id ${by.id!.toString('hex')}`;
  const matches = (o: Indexed): boolean => (by.label !== undefined ? o.label === by.label : o.id === by.id!.toString('hex'));
  // from the index, each object read from the token; listed anew unless one pair is found (a key another program made just now)
  const find = (index: TokenIndex): { privates: Indexed[]; publics: Indexed[] } => {
    const privates = [...index.values()].filter((o) => o.private && matches(o));
    for (const o of privates) labelOf(token, o.handle);
    const publics = privates.length === 1 ? index.underId(false, privates[0]!.id) : [];
    for (const o of publics) labelOf(token, o.handle);
    token.ensureReachable();
    return { privates, publics };
  };
  let found = lookUp(token, find);
  if (found.privates.length !== 1 || found.publics.length !== 1) found = lookUp(token, find, true);
  const { privates, publics: publicObjects } = found;
  if (privates.length !== 1) throw new SignerError('HSM', `token ${token.where}: ${privates.length === 0 ? 'no private key' : `${privates.length} private keys`} with ${what}: one is needed`);
  const handle = privates[0]!.handle;
  const id = Buffer.from(privates[0]!.id, 'hex');
  if (id.length === 0) throw new SignerError('HSM', `token ${token.where}: the private key with ${what} has no CKA_ID: its public key cannot be told`);
  const publics = publicObjects.map((o) => o.handle);
  if (publics.length !== 1) throw new SignerError('HSM', `token ${token.where}: ${publics.length} public keys with id ${id.toString('hex')} (the private key's, ${what}): one is needed`);
  const problems: string[] = [];
  const attrs = pkcs11Call('C_GetAttributeValue', token.where, () => token.pkcs11.C_GetAttributeValue(token.control, handle, SIGN_ONLY_PRIVATE.map((a) => ({ type: a.type }))));
  SIGN_ONLY_PRIVATE.forEach((want, i) => {
    const has = attrs[i]!.value[0] === 1;
    if (has !== want.value) problems.push(`${ATTRIBUTE_NAMES.get(want.type) ?? want.type} is ${String(has)}`);
  });
  if (problems.some((p) => p.startsWith('CKA_SIGN '))) throw new SignerError('HSM', `token ${token.where}: the private key with ${what} may not sign (CKA_SIGN false)`);
  const objects = [handle, publics[0]!] as const;
  const former = objects.map((o) => labelOf(token, o).toString('hex')) as unknown as readonly [string, string];
  const label = keyLabel(zone, role, id);
  // described (and checked) as it will be under hms's label, before anything is written
  const described = describeKey(token, handle, publics[0]!, label);
  const key = described.algorithm === Algorithm.RSASHA256 && rsaAlgorithm === Algorithm.RSASHA512 ? withAlgorithm(described, rsaAlgorithm) : described;
  accept(key);
  record(key, former);
  for (const o of objects) setLabel(token, o, label);
  return { key, problems };
}

/**
 * Puts back the labels a pair under CKA_ID `id` had before adoptKey relabelled it (a stop
 * came before its record was completed): `former` is adoptKey's [private, public], in hex.
 * Returns how many objects were relabelled; nothing is destroyed (the pair is the operator's).
 */
export function restoreLabels(token: Token, id: string, former: readonly [string, string]): number {
  const cka = Buffer.from(id, 'hex');
  let n = 0;
  [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY].forEach((cls, i) => {
    const want = Buffer.from(former[i]!, 'hex');
    for (const o of findObjects(token, token.control, [{ type: pkcs11js.CKA_CLASS, value: cls }, { type: pkcs11js.CKA_TOKEN, value: true }, { type: pkcs11js.CKA_ID, value: cka }])) {
      if (labelOf(token, o).equals(want)) continue;
      setLabel(token, o, want);
      n++;
    }
  });
  token.ensureReachable();
  return n;
}

/** The labels of the private and the public key under CKA_ID `id` (hex), each null when the token has none or several. */
export function pairLabels(token: Token, id: string): { readonly private: string | null; readonly public: string | null } {
  const cka = Buffer.from(id, 'hex');
  const one = (cls: number): string | null => {
    const found = findObjects(token, token.control, [{ type: pkcs11js.CKA_CLASS, value: cls }, { type: pkcs11js.CKA_TOKEN, value: true }, { type: pkcs11js.CKA_ID, value: cka }]);
    return found.length === 1 ? labelOf(token, found[0]!).toString('utf8') : null;
  };
  const out = { private: one(pkcs11js.CKO_PRIVATE_KEY), public: one(pkcs11js.CKO_PUBLIC_KEY) };
  token.ensureReachable();
  return out;
}

function labelOf(token: Token, o: Buffer): Buffer {
  return pkcs11Call('C_GetAttributeValue', token.where, () => token.pkcs11.C_GetAttributeValue(token.control, o, [{ type: pkcs11js.CKA_LABEL }]))[0]!.value;
}

function setLabel(token: Token, o: Buffer, label: Buffer | string): void {
  pkcs11Call('C_SetAttributeValue', token.where, () => token.pkcs11.C_SetAttributeValue(token.control, o, [{ type: pkcs11js.CKA_LABEL, value: label }]));
  indexes.get(token)?.relabel(o, Buffer.from(label).toString('utf8'));
}

/**
 * The token's key objects by handle, with their labels and CKA_IDs (KeyIndex), as this process
 * listed, made, relabelled or destroyed them (issue 20). SoftHSM's C_FindObjectsInit checks
 * every object of the token against its file, whatever the template: 13 ms with 880 objects,
 * some 90 ms with the 6,000 of 1,000 zones. A zone's keys are looked up several times a run,
 * so looking them up by listing made a re-sign of 100 small zones take 42 s of its 51 in
 * C_FindObjects, and grew with zones × objects. While hms runs it is the one writer of the
 * token's keys: what it makes, relabels and destroys goes through this module, which keeps the
 * index. What another program does is seen thus: a zone's key is read from the token again
 * when it was last read more than KEY_CHECK_MS before, and an object that is gone fails that
 * (CKR_OBJECT_HANDLE_INVALID): the index is listed again and the lookup made once more, so a
 * removed key is not reported present; an object another program made is seen when the index
 * is listed again, at most INDEX_MAX_AGE_MS after the last listing, and by every listing of
 * all the keys (findKeys without a zone: hms key list, the orphan report).
 */
const INDEX_MAX_AGE_MS = 60_000;
/** A run looks its zone's keys up several times within a second: they are read from the token once. */
const KEY_CHECK_MS = 2_000;
type TokenIndex = KeyIndex<HsmKey>;
const indexes = new WeakMap<Token, TokenIndex>();

/** The token's index, listed anew when there is none, it is older than INDEX_MAX_AGE_MS, or `fresh`. Labels and ids already known are not read again. */
function tokenIndex(token: Token, fresh = false): TokenIndex {
  const had = indexes.get(token);
  if (had !== undefined && !fresh && performance.now() - had.listedAt < INDEX_MAX_AGE_MS) return had;
  const objects: Indexed[] = [];
  for (const cls of [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]) {
    // token objects only: not the signing threads' session copies (see SigningPool)
    for (const handle of findObjects(token, token.control, [{ type: pkcs11js.CKA_CLASS, value: cls }, { type: pkcs11js.CKA_TOKEN, value: true }])) {
      let seen = had?.get(handle);
      if (seen === undefined) {
        const [label, id] = pkcs11Call('C_GetAttributeValue', token.where, () =>
          token.pkcs11.C_GetAttributeValue(token.control, handle, [{ type: pkcs11js.CKA_LABEL }, { type: pkcs11js.CKA_ID }]),
        );
        seen = { handle, private: cls === pkcs11js.CKO_PRIVATE_KEY, label: label!.value.toString('utf8'), id: id!.value.toString('hex') };
      }
      objects.push(seen);
    }
  }
  // an empty or short list from a token that is gone is no proof that keys are missing
  token.ensureReachable();
  const index = new KeyIndex<HsmKey>(performance.now(), objects, had);
  indexes.set(token, index);
  return index;
}

/** Objects this process made in the token, into its index (none yet: the first lookup lists them). */
function indexMade(token: Token, made: readonly { readonly handle: Buffer; readonly private: boolean; readonly label: string; readonly id: Buffer }[]): void {
  const index = indexes.get(token);
  if (index === undefined) return;
  for (const o of made) index.add({ handle: o.handle, private: o.private, label: o.label, id: o.id.toString('hex') });
}

/**
 * `look` over the token's index; when a handle it read is gone from the token (another
 * program removed the object), once more over an index listed anew.
 */
function lookUp<T>(token: Token, look: (index: TokenIndex) => T, fresh = false): T {
  try {
    return look(tokenIndex(token, fresh));
  } catch (e) {
    if (fresh || !(e instanceof HsmError) || (e.ckr !== CKR_OBJECT_HANDLE_INVALID && e.ckr !== CKR_KEY_HANDLE_INVALID)) throw e;
    return look(tokenIndex(token, true));
  }
}

const CKR_KEY_HANDLE_INVALID = 0x60;
const CKR_OBJECT_HANDLE_INVALID = 0x82;

const ATTRIBUTE_NAMES = new Map<number, string>([
  [pkcs11js.CKA_PRIVATE, 'CKA_PRIVATE'], [pkcs11js.CKA_SENSITIVE, 'CKA_SENSITIVE'], [pkcs11js.CKA_EXTRACTABLE, 'CKA_EXTRACTABLE'],
  [pkcs11js.CKA_SIGN, 'CKA_SIGN'], [pkcs11js.CKA_DECRYPT, 'CKA_DECRYPT'], [pkcs11js.CKA_UNWRAP, 'CKA_UNWRAP'], [pkcs11js.CKA_DERIVE, 'CKA_DERIVE'],
]);

/**
 * Every hms key in the token (listed anew), or those of one zone (from the index, each key read
 * from the token); an HsmError when the token cannot be read (Token.ensureReachable).
 */
export function findKeys(token: Token, zone?: Name): HsmKey[] {
  const prefix = zone === undefined ? LABEL_PREFIX : `${LABEL_PREFIX}${zone.toLowerCase().toString()}:`;
  return lookUp(
    token,
    (index) => {
      const out: HsmKey[] = [];
      const at = performance.now();
      for (const o of index.privatesUnder(prefix)) {
        const kept = index.describedOf(o.handle);
        const [pub] = index.underId(false, o.id);
        if (pub === undefined) throw new HsmError('C_FindObjects', token.where, undefined, `key ${o.label} has no public key object`);
        if (kept !== undefined && at - kept.checkedAt < KEY_CHECK_MS) {
          out.push(kept.key);
          continue;
        }
        // read from the token: a key another program removed is not reported present
        labelOf(token, o.handle);
        const key = kept?.key ?? describeKey(token, o.handle, pub.handle);
        if (kept !== undefined) labelOf(token, pub.handle);
        index.keepDescribed(o.handle, key, at);
        out.push(key);
      }
      // a token whose store is gone lists nothing and reads what it read before: asked every time
      token.ensureReachable();
      return out;
    },
    zone === undefined,
  );
}

/**
 * The token objects with CKA_ID `id` (hex): `key`, the pair, when the token holds exactly one
 * private and one public key under it; `objects`, every token key object under it (a stop
 * inside C_GenerateKeyPair may leave one half: SoftHSM stores the public key first).
 */
export function findKeyPair(token: Token, id: string): { readonly key: HsmKey | undefined; readonly objects: readonly Buffer[] } {
  const cka = Buffer.from(id, 'hex');
  const of = (cls: number): Buffer[] => findObjects(token, token.control, [{ type: pkcs11js.CKA_CLASS, value: cls }, { type: pkcs11js.CKA_TOKEN, value: true }, { type: pkcs11js.CKA_ID, value: cka }]);
  const privates = of(pkcs11js.CKO_PRIVATE_KEY);
  const publics = of(pkcs11js.CKO_PUBLIC_KEY);
  // nothing found in a token that is gone is no proof that the key was not made
  token.ensureReachable();
  const key = privates.length === 1 && publics.length === 1 ? describeKey(token, privates[0]!, publics[0]!) : undefined;
  return { key, objects: [...privates, ...publics] };
}

/** Removes token objects (findKeyPair's `objects`). */
export function destroyObjects(token: Token, objects: readonly Buffer[]): void {
  for (const o of objects) {
    // the signing threads' session copies of a key go with it
    token.signingPool?.forgetObject(o);
    indexes.get(token)?.remove(o);
    pkcs11Call('C_DestroyObject', token.where, () => token.pkcs11.C_DestroyObject(token.control, o));
  }
}

/** Removes a key pair from the token. */
export function deleteKey(token: Token, key: HsmKey): void {
  destroyObjects(token, [key.privateKey, key.publicKey]);
}

function findObjects(token: Token, session: Buffer, template: pkcs11js.Template): Buffer[] {
  const pkcs11 = token.pkcs11;
  pkcs11Call('C_FindObjectsInit', token.where, () => pkcs11.C_FindObjectsInit(session, template));
  try {
    const out: Buffer[] = [];
    for (;;) {
      const batch = pkcs11Call('C_FindObjects', token.where, () => pkcs11.C_FindObjects(session, 64));
      if (batch.length === 0) return out;
      out.push(...batch);
    }
  } finally {
    pkcs11.C_FindObjectsFinal(session);
  }
}

/** The pair as hms sees it; `asLabel`: as it would be under that label (adoptKey, before it relabels). */
function describeKey(token: Token, privateKey: Buffer, publicKey: Buffer, asLabel?: string): HsmKey {
  const pkcs11 = token.pkcs11;
  const session = token.control;
  const attrs = pkcs11Call('C_GetAttributeValue', token.where, () => pkcs11.C_GetAttributeValue(session, publicKey, [
    { type: pkcs11js.CKA_LABEL }, { type: pkcs11js.CKA_ID }, { type: pkcs11js.CKA_KEY_TYPE },
  ]));
  const label = asLabel ?? attrs[0]!.value.toString('utf8');
  const id = attrs[1]!.value;
  const keyType = attrs[2]!.value.readUInt32LE(0);
  // hms:<zone>:<role>:<id>; the zone may hold ':' itself, so read from both ends
  const idAt = label.lastIndexOf(':');
  const roleAt = label.lastIndexOf(':', idAt - 1);
  const zone = label.slice(LABEL_PREFIX.length, roleAt);
  const role = label.slice(roleAt + 1, idAt);
  let algorithm: number;
  let publicBytes: Uint8Array;
  if (keyType === pkcs11js.CKK_RSA) {
    const [n, e] = pkcs11Call('C_GetAttributeValue', token.where, () =>
      pkcs11.C_GetAttributeValue(session, publicKey, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]));
    const exp = stripZeros(e!.value);
    const w = new ByteWriter(3 + exp.length + n!.value.length);
    if (exp.length < 256) w.u8(exp.length);
    else {
      w.u8(0);
      w.u16(exp.length);
    }
    w.bytes(exp);
    w.bytes(stripZeros(n!.value));
    publicBytes = w.finish();
    algorithm = Algorithm.RSASHA256;
  } else {
    const [point, params] = pkcs11Call('C_GetAttributeValue', token.where, () =>
      pkcs11.C_GetAttributeValue(session, publicKey, [{ type: pkcs11js.CKA_EC_POINT }, { type: pkcs11js.CKA_EC_PARAMS }]));
    const raw = derOctetString(point!.value);
    const edwards = keyType === CKK_EC_EDWARDS;
    const found = [...CURVES].find(([, c]) => c.edwards === edwards && c.params.equals(params!.value));
    if (found === undefined)
      throw new HsmError('C_GetAttributeValue', token.where, undefined, `key ${label}: a curve hms does not sign with (CKA_EC_PARAMS ${params!.value.toString('hex')})`);
    const [alg, curve] = found;
    algorithm = alg;
    if (edwards) publicBytes = raw;
    else {
      if (raw[0] !== 0x04 || raw.length !== curve.publicBytes + 1) throw new HsmError('C_GetAttributeValue', token.where, undefined, `key ${label}: not an uncompressed point of its curve`);
      publicBytes = raw.subarray(1);
    }
  }
  const w = new ByteWriter(4 + publicBytes.length);
  w.u16(dnskeyFlags(role as KeyRole));
  w.u8(3);
  w.u8(algorithm);
  w.bytes(publicBytes);
  const dnskey = w.finish();
  return { id, label, zone, role: role as KeyRole, algorithm, dnskey, keyTag: keyTag(dnskey), privateKey, publicKey };
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** CKA_EC_POINT is a DER OCTET STRING around the point (most modules; some give it bare). */
function derOctetString(b: Buffer): Buffer {
  if (b[0] !== 0x04) return b;
  let len = b[1]!;
  let at = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | b[2 + i]!;
    at = 2 + n;
  }
  return at + len === b.length ? b.subarray(at) : b;
}

/**
 * A Signer over an HSM key (RSA: CKM_SHA256_RSA_PKCS; ECDSA: CKM_ECDSA over our SHA-256
 * digest, giving r|s as RFC 6605 wants; Ed25519: CKM_EDDSA). With the token's signing threads
 * started, signatures go to them in batches (each thread signs with a session copy of the key,
 * which `release` destroys); otherwise every signature takes a session of the
 * token's pool and pkcs11js's asynchronous C_Sign. Either way as many are in flight as there
 * are sessions. With a `lane` (the service: one zone's run in the token's shared pool) the
 * signatures queue in that lane, and the threads keep their copies of the key for later runs
 * (until the key is destroyed, destroyObjects): `release` then frees nothing.
 */
export function hsmSigner(token: Token, key: HsmKey, lane?: SigningLane): Signer {
  const how = SIGNING.get(key.algorithm);
  if (how === undefined) throw new SignerError('DNSSEC', `key ${key.label}: hms signs no ${algorithmName(key.algorithm)} in the HSM`);
  const { mechanism, size, digest } = how;
  const input = (data: Uint8Array): Uint8Array => (digest === null ? data : createHash(digest).update(data).digest());
  const pool = token.signingPool;
  const keyId = lane === undefined ? pool?.addKey(key.privateKey, mechanism) : pool?.cachedKey(key.privateKey, mechanism);
  return {
    dnskey: key.dnskey,
    algorithm: key.algorithm,
    keyTag: key.keyTag,
    ...(pool === undefined ? {} : {
      release: () => {
        if (lane === undefined) pool.removeKey(keyId!);
      },
      signTo: (data: Uint8Array, sink: SignatureSink, slot: number) => pool.signTo(keyId!, input(data), size, sink, slot, lane),
    }),
    sign: pool !== undefined ? (data) => pool.sign(keyId!, input(data), size, lane) : (data) => {
      const copy = Buffer.from(input(data)); // read now: the caller may reuse its buffer
      return token.withSession(async (session) => {
        try {
          token.pkcs11.C_SignInit(session, { mechanism }, key.privateKey);
          return await token.pkcs11.C_SignAsync(session, copy, Buffer.alloc(size));
        } catch (e) {
          throw toHsmError('C_Sign', token.where, e);
        }
      });
    },
  };
}

import { isScalar } from 'yaml';
import { SignerError } from '../common/errors.js';
import { Algorithm, checkSigningAlgorithm, DigestType, type AlgorithmNumber, type DigestTypeNumber } from '../dnssec/algorithms.js';
import type { KeyRole } from '../dnssec/signer.js';
import { DEFAULTS } from './defaults.js';
import { report, type FieldNode, type MapReader } from './fields.js';
import type { DenialPolicy, KeyPolicy, ParentPolicy, RolloverPolicy, SignaturePolicy, SoaPolicy, TtlPolicy, ZoneTiming } from './policy.js';

// Readers of each section of a policy. Each takes the section's MapReader, returns the section
// with defaults filled in, and reports what is wrong; none stops at the first problem.

/** Whether a value mentions MD5; such values are reported once by the file-wide scan (DP-4.2b). */
export function mentionsMd5(text: string): boolean {
  return /md5/i.test(text);
}

/** Mnemonics of algorithms hms refuses, so that the refusal can say why (dnssec/algorithms.ts). */
const REFUSED_MNEMONICS: Readonly<Record<string, number>> = {
  DSA: 3,
  RSASHA1: 5,
  'DSA-NSEC3-SHA1': 6,
  'RSASHA1-NSEC3-SHA1': 7,
  'ECC-GOST': 12,
};

/** Key sizes of the curve algorithms: fixed by the algorithm (RFC 6605, RFC 8080). */
const CURVE_BITS: Readonly<Partial<Record<number, number>>> = {
  [Algorithm.ECDSAP256SHA256]: 256,
  [Algorithm.ECDSAP384SHA384]: 384,
  [Algorithm.ED25519]: 256,
  [Algorithm.ED448]: 456,
};

/** RSA key sizes RFC 5702 allows (sections 2.1 and 2.2). */
const RSA_BITS: Readonly<Partial<Record<number, readonly [number, number]>>> = {
  [Algorithm.RSASHA256]: [512, 4096],
  [Algorithm.RSASHA512]: [1024, 4096],
};

export function isRsa(algorithm: number): boolean {
  return RSA_BITS[algorithm] !== undefined;
}

/** An algorithm by IANA mnemonic (`RSASHA256`, any case) or number; undefined when refused. */
function readAlgorithm(r: MapReader, field: FieldNode): AlgorithmNumber | undefined {
  const v = isScalar(field.node) ? field.node.value : undefined;
  let n: number | undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255) n = v;
  if (typeof v === 'string') {
    if (mentionsMd5(v)) return undefined;
    const upper = v.toUpperCase();
    n = (Algorithm as Readonly<Record<string, number>>)[upper] ?? REFUSED_MNEMONICS[upper];
  }
  if (n === undefined) {
    report(r.scope, field, `expected an algorithm (${Object.keys(Algorithm).join(', ')}, or its number), found ${String(v)}`);
    return undefined;
  }
  if (n === 1) {
    report(r.scope, field, 'RSAMD5 (algorithm 1) uses MD5, which hms never allows', 'DP-4.2b');
    return undefined;
  }
  try {
    return checkSigningAlgorithm(n);
  } catch (e) {
    if (!(e instanceof SignerError)) throw e;
    report(r.scope, field, e.message);
    return undefined;
  }
}

/** One key role: `algorithm`, `bits`, `lifetime` (`manual` or `never`: rolled by hand). */
function readKey(r: MapReader, role: KeyRole): KeyPolicy {
  const field = r.field('algorithm');
  const algorithm = (field === undefined ? undefined : readAlgorithm(r, field)) ?? DEFAULTS.algorithm;
  const rsa = RSA_BITS[algorithm];
  let bits = rsa === undefined ? CURVE_BITS[algorithm]! : DEFAULTS.rsaBits[role];
  if (r.has('bits')) {
    const written = r.integer('bits', bits, 1, 65535);
    if (rsa !== undefined && (written < rsa[0] || written > rsa[1])) {
      r.complain('bits', `${written} is outside ${rsa[0]} to ${rsa[1]}, the sizes RFC 5702 allows for this algorithm`);
    } else if (rsa === undefined && written !== bits) {
      r.complain('bits', `keys of this algorithm are ${bits} bits (leave 'bits' out)`);
    } else {
      bits = written;
    }
  }
  const lifetime = r.duration<null>('lifetime', DEFAULTS.lifetime[role], { manual: null, never: null });
  r.finish();
  return { role, algorithm, bits, lifetime };
}

/** `keys`: a `ksk` and a `zsk`, or a `csk` alone; all of one algorithm. */
export function readKeys(r: MapReader): KeyPolicy[] {
  const isCsk = r.has('csk');
  for (const other of isCsk ? ['ksk', 'zsk'] : []) {
    if (r.field(other) !== undefined) r.complain(other, 'a policy has a csk, or a ksk and a zsk, not both');
  }
  const roles: KeyRole[] = isCsk ? ['csk'] : ['ksk', 'zsk'];
  const keys = roles.map((role) => readKey(r.sub(role), role));
  r.finish();
  const [first, second] = keys;
  if (first !== undefined && second !== undefined && first.algorithm !== second.algorithm) {
    // RFC 4035 section 2.2: every algorithm in the DNSKEY RRset signs every RRset, so a
    // KSK of another algorithm would have to sign the whole zone as well.
    r.complain('zsk', 'the ksk and the zsk must use one algorithm (RFC 4035 section 2.2)');
  }
  return keys;
}

export function readRollover(r: MapReader): RolloverPolicy {
  const zsk = r.choice('zsk', DEFAULTS.rollover.zsk, ['pre-publication']);
  const ksk = r.choice('ksk', DEFAULTS.rollover.ksk, ['double-ksk', 'double-ds']);
  r.finish();
  return { zsk, ksk };
}

export function readSignatures(r: MapReader): SignaturePolicy {
  const d = DEFAULTS.signatures;
  const validity = r.duration('validity', d.validity);
  const resignInterval = r.duration('resign-interval', d.resignInterval);
  if (resignInterval === 0) r.complain('resign-interval', 'must be longer than 0');
  const refresh = r.duration<'always'>('refresh', d.refresh, { always: 'always' });
  const inceptionOffset = r.duration('inception-offset', d.inceptionOffset);
  const jitter = r.duration('jitter', d.jitter);
  r.finish();
  return { validity, resignInterval, refresh, inceptionOffset, jitter };
}

const NSEC3_FIELDS = ['iterations', 'salt-length', 'resalt', 'opt-out'];

export function readDenial(r: MapReader): DenialPolicy {
  const d = DEFAULTS.denial;
  const type = r.choice('type', d.type, ['nsec', 'nsec3']);
  if (type === 'nsec') {
    for (const f of NSEC3_FIELDS) if (r.has(f)) r.complain(f, "applies to type 'nsec3' only");
  }
  // RFC 5155 section 10.3 caps iterations at 2500 (for 4096-bit keys)
  const iterations = r.integer('iterations', d.iterations, 0, 2500);
  const saltLength = r.integer('salt-length', d.saltLength, 0, 255);
  const resalt = r.duration<null>('resalt', d.resalt, { never: null });
  const optOut = r.boolean('opt-out', d.optOut);
  r.finish();
  return type === 'nsec' ? { type } : { type, iterations, saltLength, resalt, optOut };
}

export function readTtl(r: MapReader): TtlPolicy {
  const dnskey = r.duration('dnskey', DEFAULTS.ttl.dnskey);
  const nsec3param = r.duration('nsec3param', DEFAULTS.ttl.nsec3param);
  r.finish();
  return { dnskey, nsec3param };
}

export function readSoa(r: MapReader): SoaPolicy {
  const d = DEFAULTS.soa;
  const keep = { keep: null };
  const ttl = r.duration<null>('ttl', d.ttl, keep);
  const refresh = r.duration<null>('refresh', d.refresh, keep);
  const retry = r.duration<null>('retry', d.retry, keep);
  const expire = r.duration('expire', d.expire);
  const minimum = r.duration('minimum', d.minimum);
  // the serial must move at every re-sign, or secondaries never fetch the new signatures
  const serial = r.choice('serial', d.serial, ['unixtime', 'datecounter', 'counter']);
  r.finish();
  return { ttl, refresh, retry, expire, minimum, serial };
}

export function readZoneTiming(r: MapReader): ZoneTiming {
  const d = DEFAULTS.zone;
  const propagationDelay = r.duration('propagation-delay', d.propagationDelay);
  const publishSafety = r.duration('publish-safety', d.publishSafety);
  const retireSafety = r.duration('retire-safety', d.retireSafety);
  r.finish();
  return { propagationDelay, publishSafety, retireSafety };
}

const DIGEST_NAMES: Readonly<Record<string, DigestTypeNumber>> = {
  'SHA-1': DigestType.SHA1,
  SHA1: DigestType.SHA1,
  'SHA-256': DigestType.SHA256,
  SHA256: DigestType.SHA256,
  'SHA-384': DigestType.SHA384,
  SHA384: DigestType.SHA384,
};

/** A DS digest type by name (`SHA-256`) or number; undefined when refused. */
function readDigest(r: MapReader, field: FieldNode): DigestTypeNumber | undefined {
  const v = isScalar(field.node) ? field.node.value : undefined;
  if (typeof v === 'string' && mentionsMd5(v)) return undefined;
  const n = typeof v === 'string' ? DIGEST_NAMES[v.toUpperCase()] : ([1, 2, 4] as const).find((t) => t === v);
  if (n !== undefined) return n;
  if (v === 3 || (typeof v === 'string' && /gost/i.test(v))) {
    report(r.scope, field, 'GOST digests are deprecated (RFC 8624 section 3.3)');
  } else {
    report(r.scope, field, `expected a DS digest type (SHA-256, SHA-384, SHA-1, or 2, 4, 1), found ${String(v)}`);
  }
  return undefined;
}

export function readParent(r: MapReader): ParentPolicy {
  const d = DEFAULTS.parent;
  const propagationDelay = r.duration('propagation-delay', d.propagationDelay);
  const dsTtl = r.duration('ds-ttl', d.dsTtl);
  const publishSafety = r.duration('publish-safety', d.publishSafety);
  const retireSafety = r.duration('retire-safety', d.retireSafety);
  const cds = r.boolean('cds', d.cds);
  const cdnskey = r.boolean('cdnskey', d.cdnskey);
  let refused = false;
  const written = r.list('ds-digests', (item) => {
    const digest = readDigest(r, item);
    if (digest === undefined) refused = true;
    return digest;
  });
  let dsDigests: readonly DigestTypeNumber[] = d.dsDigests;
  if (written !== undefined && !refused) {
    if (written.length === 0) r.complain('ds-digests', 'needs at least one digest type');
    else if (new Set(written).size !== written.length) r.complain('ds-digests', 'names a digest type twice');
    else dsDigests = written;
  }
  r.finish();
  return { propagationDelay, dsTtl, publishSafety, retireSafety, cds, cdnskey, dsDigests };
}

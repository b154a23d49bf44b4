import type { Seconds } from '../common/clock.js';
import type { SerialPolicy } from '../dns/serial.js';
import type { AlgorithmNumber, DigestTypeNumber } from '../dnssec/algorithms.js';
import type { KeyRole } from '../dnssec/signer.js';

/**
 * A key and signing policy (KASP), fully resolved: every field has its value (the file's, or
 * the default of defaults.ts), every duration is in seconds. The timing names follow RFC 7583
 * ("DNSSEC Key Rollover Timing Considerations"); its symbols are given where one exists.
 */
export interface Policy {
  /** The policy's name: its key under `policies:` in the file. */
  readonly name: string;
  readonly description: string;
  /** The compliance profile the policy is held to (profiles.ts). */
  readonly profile: ProfileName;
  /** Either a KSK and a ZSK, or a single CSK; all of one algorithm (RFC 4035 section 2.2). */
  readonly keys: readonly KeyPolicy[];
  readonly rollover: RolloverPolicy;
  readonly signatures: SignaturePolicy;
  readonly denial: DenialPolicy;
  readonly ttl: TtlPolicy;
  readonly soa: SoaPolicy;
  readonly zone: ZoneTiming;
  readonly parent: ParentPolicy;
  /** Where the policy and each field given in the file stand, for messages. */
  readonly source: PolicySource;
}

/** The compliance profiles: DP (the Kalmar county DNSSEC Policy) or RFC 9276 alone. */
export type ProfileName = 'dp' | 'rfc9276';
export const PROFILE_NAMES: readonly ProfileName[] = ['dp', 'rfc9276'];

export interface KeyPolicy {
  readonly role: KeyRole;
  readonly algorithm: AlgorithmNumber;
  /** Key size in bits; fixed by the curve for ECDSA and EdDSA. */
  readonly bits: number;
  /**
   * Lifetime (RFC 7583 "Lkey"): from the moment the key becomes active until its successor
   * does. `null`: the key is rolled by hand (the operator triggers it, DP-4.3b).
   */
  readonly lifetime: Seconds | null;
}

export type ZskRolloverMethod = 'pre-publication';
export type KskRolloverMethod = 'double-ksk' | 'double-ds';

export interface RolloverPolicy {
  /** RFC 7583 section 3.2: the successor DNSKEY is published first, then signs. */
  readonly zsk: ZskRolloverMethod;
  /**
   * RFC 7583 section 3.3: double-KSK publishes the successor DNSKEY, then swaps the DS;
   * double-DS publishes the successor's DS at the parent first, then swaps the DNSKEY.
   * A CSK rolls the same way.
   */
  readonly ksk: KskRolloverMethod;
}

export interface SignaturePolicy {
  /** RRSIG expiration minus inception (DP-4.4a: 32 days). */
  readonly validity: Seconds;
  /** Time between two re-signs of the whole zone (DP-4.4b: daily). */
  readonly resignInterval: Seconds;
  /**
   * At a re-sign, a signature is re-made when it has less than this much validity left;
   * `'always'`: every signature is re-made at every re-sign.
   */
  readonly refresh: Seconds | 'always';
  /** Inception is set this far before the signing time, for validators with slow clocks. */
  readonly inceptionOffset: Seconds;
  /** Expirations are moved earlier by up to this much, so that they do not all fall at once. */
  readonly jitter: Seconds;
}

export type DenialPolicy =
  | { readonly type: 'nsec' }
  | {
      readonly type: 'nsec3';
      /** Extra hash iterations (DP-4.2c: at most 10; RFC 9276: 0). */
      readonly iterations: number;
      /** Salt length in octets; 0: no salt (RFC 9276). */
      readonly saltLength: number;
      /** Time between new salts (DP-4.2d: at most a year); `null`: never. */
      readonly resalt: Seconds | null;
      /** Opt-out (RFC 5155 section 6): insecure delegations are left out of the chain. */
      readonly optOut: boolean;
    };

export interface TtlPolicy {
  /** TTL of the DNSKEY RRset (RFC 7583 "TTLkey"; DP-4.5b: at most an hour). */
  readonly dnskey: Seconds;
  /** TTL of the NSEC3PARAM record. */
  readonly nsec3param: Seconds;
}

/**
 * The SOA values the policy forces on the signed zone. `null`: the zone file's value is kept.
 * The NSEC and NSEC3 TTL follows RFC 9077: the lower of MINIMUM and the SOA TTL.
 */
export interface SoaPolicy {
  readonly ttl: Seconds | null;
  readonly refresh: Seconds | null;
  readonly retry: Seconds | null;
  /** How long a secondary that cannot reach us goes on serving the zone (DP-4.5c: 30 days). */
  readonly expire: Seconds;
  /** The negative-caching TTL (DP-4.5d: at most an hour). */
  readonly minimum: Seconds;
  /** How the serial moves at each change and re-sign; it always moves, so `keep` is refused. */
  readonly serial: Exclude<SerialPolicy, 'keep'>;
}

/** Timing of our own zone (RFC 7583 section 2). */
export interface ZoneTiming {
  /**
   * RFC 7583 "Dprp": from publishing a version on the hidden master until every secondary
   * serves it (NOTIFY, transfer, a failed first try).
   */
  readonly propagationDelay: Seconds;
  /** RFC 7583 "Ipub" safety margin added before a new DNSKEY is relied on. */
  readonly publishSafety: Seconds;
  /** RFC 7583 "Iret" safety margin added before a retired key is removed. */
  readonly retireSafety: Seconds;
}

/** The parent zone and the DS there (RFC 7583 section 3.3, RFC 7344). */
export interface ParentPolicy {
  /** RFC 7583 "Dprp" of the parent: from the DS being submitted until all its servers serve it. */
  readonly propagationDelay: Seconds;
  /** RFC 7583 "TTLds": the TTL the parent gives our DS. */
  readonly dsTtl: Seconds;
  /** Safety margin added before a new DS is relied on. */
  readonly publishSafety: Seconds;
  /** Safety margin added before an old DS's key is removed. */
  readonly retireSafety: Seconds;
  /** Publish CDS records for the KSKs (RFC 7344; DP-4.7a where the parent reads them). */
  readonly cds: boolean;
  /** Publish CDNSKEY records for the KSKs (RFC 7344). */
  readonly cdnskey: boolean;
  /** Digest types of the DS exported for the registrar and of CDS; SHA-1 only when listed. */
  readonly dsDigests: readonly DigestTypeNumber[];
}

/** A place in a policy file, 1-based. */
export interface SourcePosition {
  readonly line: number;
  readonly col: number;
}

export interface PolicySource {
  readonly file: string;
  /** Where the policy's name stands. */
  readonly at: SourcePosition;
  /** Where each field given in the file stands, by its path (`keys.zsk.bits`). */
  readonly fields: Readonly<Record<string, SourcePosition>>;
}

/**
 * Where a field of a policy stands in its file: the field itself, else the nearest enclosing
 * field written there, else the policy's name (a field left to its default).
 */
export function fieldPosition(policy: Policy, field: string): SourcePosition {
  for (let path = field; path !== ''; path = path.replace(/(\.[^.[]*|\[\d+\])$|^[^.[]*$/, '')) {
    const at = policy.source.fields[path];
    if (at !== undefined) return at;
  }
  return policy.source.at;
}

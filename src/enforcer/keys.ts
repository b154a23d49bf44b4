import type { UnixSeconds } from '../common/clock.js';
import type { KeyRole } from '../dnssec/signer.js';

/**
 * What the enforcer knows of a key: who it is, and the moments of its life (RFC 7583
 * section 2). Its state is never stored: it is worked out from these times and `now`
 * (keyState), so that a record read back after a crash says the same as before it.
 * `null` is "not decided yet": a time the planner or an operator's confirmation sets later.
 */
export interface KeyRecord {
  /** The key's CKA_ID in the HSM, as hex: what ties the record to the HSM object. */
  readonly id: string;
  readonly role: KeyRole;
  readonly algorithm: number;
  readonly bits: number;
  readonly keyTag: number;
  /** DNSKEY RDATA (the public key), so that the zone can be signed without the HSM listing keys. */
  readonly dnskey: Uint8Array;
  readonly created: UnixSeconds;
  /**
   * The DNSKEY is in the zone from here (RFC 7583 "Tpub"). `null`: not yet decided (a
   * double-DS successor, published once its DS is seen at the parent and cached everywhere).
   */
  readonly publish: UnixSeconds | null;
  /**
   * The key signs the zone's data from here (Tact): a ZSK or a CSK. A KSK (and a CSK) signs
   * the DNSKEY RRset from `publish` until `remove`: a signature by a key that resolvers do
   * not know yet is harmless beside one they do.
   */
  readonly active: UnixSeconds | null;
  /** The key stops signing the zone's data here (Tret): its successor has taken over. */
  readonly retire: UnixSeconds | null;
  /** The DNSKEY leaves the zone here (Trem). */
  readonly remove: UnixSeconds | null;
  /** KSK and CSK: the operator confirmed, and a second person approved, that the parent serves our DS. */
  readonly dsSeen: UnixSeconds | null;
  /** KSK and CSK: confirmed and approved that the parent no longer serves our DS. */
  readonly dsWithdrawn: UnixSeconds | null;
  /** The key it follows in a roll, if any. */
  readonly successorOf: string | null;
  /** Rolled out in an emergency (DP-2.5a): believed compromised. */
  readonly compromised: boolean;
}

export type KeyState = 'generated' | 'published' | 'ready' | 'active' | 'retired' | 'removed';

/** The parent serves (or may serve) the key's DS: confirmed seen, not yet confirmed withdrawn. */
export const dsAtParent = (k: KeyRecord): boolean => k.role !== 'zsk' && k.dsSeen !== null && k.dsWithdrawn === null;

/** The roles that sign the DNSKEY RRset, and those that sign everything else. */
export const signsDnskey = (k: KeyRecord): boolean => k.role !== 'zsk';
export const signsData = (k: KeyRecord): boolean => k.role !== 'ksk';

/** A key's state at `now`, from its times; `readyAfter` is its DNSKEY's propagation interval (Ipub). */
export function keyState(k: KeyRecord, now: UnixSeconds, readyAfter: number): KeyState {
  if (k.remove !== null && now >= k.remove) return 'removed';
  if (k.retire !== null && now >= k.retire) return 'retired';
  if (k.active !== null && now >= k.active) return 'active';
  if (k.publish === null || now < k.publish) return 'generated';
  return now >= k.publish + readyAfter ? 'ready' : 'published';
}

const within = (from: UnixSeconds | null, to: UnixSeconds | null, t: UnixSeconds): boolean => from !== null && t >= from && (to === null || t < to);

/**
 * What the zone and its parent hold at `t`, by key tag: the DNSKEYs published, the keys that
 * sign the DNSKEY RRset, the keys that sign the rest, and the DS the parent serves.
 */
export interface KeyView {
  readonly dnskeys: readonly KeyRecord[];
  readonly dnskeySigners: readonly KeyRecord[];
  readonly dataSigners: readonly KeyRecord[];
  readonly ds: readonly KeyRecord[];
}

export function keysAt(keys: readonly KeyRecord[], t: UnixSeconds): KeyView {
  const dnskeys = keys.filter((k) => within(k.publish, k.remove, t));
  return {
    dnskeys,
    dnskeySigners: dnskeys.filter(signsDnskey),
    dataSigners: keys.filter((k) => signsData(k) && within(k.active, k.retire ?? k.remove, t)),
    ds: keys.filter((k) => signsDnskey(k) && within(k.dsSeen, k.dsWithdrawn, t)),
  };
}

import type { KeyRole } from '../dnssec/signer.js';
import type { KeyRecord } from './keys.js';

/** A key pair the token holds under a zone's label (`hms:<zone>:<role>:<id>`), as reconcile needs it. */
export interface TokenKey {
  /** CKA_ID in hex. */
  readonly id: string;
  readonly role: KeyRole;
  readonly keyTag: number;
  readonly algorithm: number;
  readonly label: string;
}

export interface Reconciliation<T extends TokenKey = TokenKey> {
  /** Records whose HSM object is gone: an alarm, never a reason to make a new key silently. */
  readonly missing: readonly KeyRecord[];
  /**
   * Token keys under the zone's label that no record claims (a kill between making a key and
   * recording it, a key made by hand): alarmed and listed, never used for signing, removed
   * only by an administrator (hms key purge). Sorted by key tag, then id.
   */
  readonly orphans: readonly T[];
  /** Token keys whose id a pending key claims (recorded as intended, not yet as made): no orphans, and no keys to sign with. */
  readonly pending: readonly T[];
}

/**
 * Holds the zone's key records against the keys the token holds under the zone's label, at
 * start and before signing. Pass the records whose HSM object should exist (every record the
 * state keeps for the zone: a key removed on purpose has lost its record). Ids compare without
 * regard to the case of their hex digits. `pendingIds`: the ids of the zone's pending keys
 * (recorded as intended before they were made), which claim a token key without making it a
 * key of the zone.
 */
export function reconcile<T extends TokenKey>(records: readonly KeyRecord[], inToken: readonly T[], pendingIds: readonly string[] = []): Reconciliation<T> {
  const inHsm = new Set(inToken.map((k) => k.id.toLowerCase()));
  const recorded = new Set(records.map((k) => k.id.toLowerCase()));
  const intended = new Set(pendingIds.map((id) => id.toLowerCase()));
  const unrecorded = inToken.filter((k) => !recorded.has(k.id.toLowerCase()));
  return {
    missing: records.filter((k) => !inHsm.has(k.id.toLowerCase())),
    orphans: unrecorded
      .filter((k) => !intended.has(k.id.toLowerCase()))
      .sort((a, b) => a.keyTag - b.keyTag || (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : 1)),
    pending: unrecorded.filter((k) => intended.has(k.id.toLowerCase())),
  };
}

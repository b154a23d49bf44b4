import type { KeyRecord } from './keys.js';

export interface Reconciliation {
  /** Records whose HSM object is gone: an alarm, never a reason to make a new key silently. */
  readonly missing: readonly KeyRecord[];
  /** HSM objects no record claims (a half-finished generation, another tool's key): reported, not deleted. */
  readonly unknownInHsm: readonly string[];
}

/**
 * Holds the key records against the CKA_IDs (hex) the HSM lists, at start and before signing.
 * Pass the records whose HSM object should exist (a key removed on purpose has lost its record).
 * Ids compare without regard to the case of their hex digits.
 */
export function reconcile(records: readonly KeyRecord[], hsmIds: ReadonlySet<string>): Reconciliation {
  const inHsm = new Set([...hsmIds].map((id) => id.toLowerCase()));
  const recorded = new Set(records.map((k) => k.id.toLowerCase()));
  return {
    missing: records.filter((k) => !inHsm.has(k.id.toLowerCase())),
    unknownInHsm: [...hsmIds].filter((id) => !recorded.has(id.toLowerCase())).sort(),
  };
}

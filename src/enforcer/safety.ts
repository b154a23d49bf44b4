import type { Seconds, UnixSeconds } from '../common/clock.js';
import { keysAt, type KeyRecord, type KeyView } from './keys.js';

/** How long each kind of data may outlive its version: the TTL plus the propagation delay. */
export interface CacheTimes {
  /** DNSKEY RRset and its RRSIG: zone Dprp + TTLkey. */
  readonly dnskey: Seconds;
  /** The zone's other RRSIGs: zone Dprp + the largest TTL in the zone. */
  readonly signatures: Seconds;
  /** The parent's DS RRset: parent Dprp + TTLds. */
  readonly ds: Seconds;
}

/**
 * The RFC 7583 safety property at `t`: a validating resolver holding any DNSKEY RRset, DS
 * RRset or RRSIG that was served within its TTL (plus the propagation delay) still validates
 * the zone, whichever mix of cached and fresh data it holds. `times` are the moments the keys'
 * view changes (every key time, and the DS confirmations); the view between two of them is
 * fixed. Returns what breaks, or nothing.
 *
 * A resolver validates when: some DS it holds matches a key that signs the DNSKEY RRset it
 * holds; and some key of that DNSKEY RRset made a signature it holds over the data. So for
 * every DS version, DNSKEY version and signature version a cache may hold together at `t`,
 * both must meet.
 */
export function checkSafety(keys: readonly KeyRecord[], cache: CacheTimes, t: UnixSeconds): string[] {
  const changes = [
    ...new Set(keys.flatMap((k) => [k.publish, k.active, k.retire, k.remove, k.dsSeen, k.dsWithdrawn]).filter((x): x is number => x !== null && x <= t)),
  ].sort((a, b) => a - b);
  // the versions served before t: each from one change to the next (the last until t)
  const versions: { from: UnixSeconds; to: UnixSeconds; view: KeyView }[] = changes.map((from, i) => ({
    from,
    to: changes[i + 1] ?? t,
    view: keysAt(keys, from),
  }));
  const now = keysAt(keys, t);
  // served until `to` (by a late secondary until `to` + Dprp) and cached for a TTL after that: gone from `to` + life on
  const cached = (life: Seconds): KeyView[] => [now, ...versions.filter((v) => v.to + life > t).map((v) => v.view)];
  const dsSets = cached(cache.ds);
  const dnskeySets = cached(cache.dnskey);
  const sigSets = cached(cache.signatures);
  const ids = (ks: readonly KeyRecord[]): string => ks.map((k) => k.keyTag).join(',') || 'none';
  const problems: string[] = [];
  for (const ds of dsSets) {
    if (ds.ds.length === 0) continue; // an insecure delegation: nothing to validate
    for (const dnskey of dnskeySets) {
      if (!dnskey.dnskeySigners.some((k) => ds.ds.includes(k))) {
        problems.push(`DS {${ids(ds.ds)}} with the DNSKEY RRset signed by {${ids(dnskey.dnskeySigners)}}: no DS matches a key that signs it`);
      }
      for (const sigs of sigSets) {
        if (!sigs.dataSigners.some((k) => dnskey.dnskeys.includes(k))) {
          problems.push(`DNSKEY RRset {${ids(dnskey.dnskeys)}} with signatures by {${ids(sigs.dataSigners)}}: no signature by a key it holds`);
        }
      }
    }
  }
  return [...new Set(problems)];
}

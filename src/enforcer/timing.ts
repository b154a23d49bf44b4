import type { Seconds } from '../common/clock.js';
import type { Policy } from '../kasp/policy.js';

/** What the timings need of the zone itself. */
export interface ZoneFacts {
  /**
   * The largest TTL of the signed zone: how long a signature may sit in a cache (TTLsig). The
   * TTLs the policy forces (SOA, NSEC/NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY) count, not the
   * input's alone: zoneFacts (zone-facts.ts) works it out.
   */
  readonly maxTtl: Seconds;
}

/**
 * The waiting times of RFC 7583 (section 3), from a policy and the zone:
 *
 * - `publish` (Ipub): from a DNSKEY entering the zone until every resolver that holds the
 *   DNSKEY RRset holds it too: Dprp + TTLkey + the publish safety margin. A new ZSK signs
 *   only after it, and a new KSK's DS is submitted only after it.
 * - `retireZsk` (Iret): from a ZSK's last signature leaving the zone until no cache holds
 *   one: Dsgn + Dprp + TTLsig + the retire safety margin. Dsgn is 0 here: every re-sign
 *   re-makes every signature with the active keys, so the first version after the switch
 *   holds none of the old key's.
 * - `retireKsk`: from the parent's DS set changing (confirmed seen) until no resolver holds
 *   the old one: the parent's Dprp + TTLds + the parent's retire safety margin.
 * - `dsReady`: from a new DS confirmed seen at the parent until every resolver that holds
 *   the zone's DS RRset holds it too: the parent's Dprp + TTLds + the parent's publish safety
 *   margin. A double-DS successor's DNSKEY replaces the old one only after it (RFC 7583
 *   section 3.3.2).
 */
export interface Timings {
  readonly publish: Seconds;
  readonly retireZsk: Seconds;
  readonly retireKsk: Seconds;
  readonly dsReady: Seconds;
}

export function timings(policy: Policy, zone: ZoneFacts): Timings {
  return {
    publish: policy.zone.propagationDelay + policy.ttl.dnskey + policy.zone.publishSafety,
    retireZsk: policy.zone.propagationDelay + zone.maxTtl + policy.zone.retireSafety,
    retireKsk: policy.parent.propagationDelay + policy.parent.dsTtl + policy.parent.retireSafety,
    dsReady: policy.parent.propagationDelay + policy.parent.dsTtl + policy.parent.publishSafety,
  };
}

import type { Seconds } from '../common/clock.js';
import { RRType } from '../dns/types.js';
import { minTtl } from '../dnssec/rrsig.js';
import type { SignZoneOptions } from '../dnssec/sign-zone.js';
import type { Policy } from '../kasp/policy.js';
import type { Zone } from '../zone/zone.js';
import type { ZoneFacts } from './timing.js';

/** What the facts need of the unsigned input: its SOA TTL and the largest TTL of its other RRsets. */
export interface InputTtls {
  readonly soaTtl: Seconds;
  /** The largest TTL any other RRset gets when signed (each RRset takes the lowest TTL of its records). */
  readonly maxTtl: Seconds;
}

/** The SOA fields and TTLs a policy forces on the signed zone: what a managed zone is signed with. */
export type PolicySigning = Required<Pick<SignZoneOptions, 'soa' | 'dnskeyTtl' | 'nsec3paramTtl'>>;

export function policySigning(policy: Policy): PolicySigning {
  const soa = policy.soa;
  return {
    soa: {
      expire: soa.expire,
      minimum: soa.minimum,
      ...(soa.ttl === null ? {} : { ttl: soa.ttl }),
      ...(soa.refresh === null ? {} : { refresh: soa.refresh }),
      ...(soa.retry === null ? {} : { retry: soa.retry }),
    },
    dnskeyTtl: policy.ttl.dnskey,
    nsec3paramTtl: policy.ttl.nsec3param,
  };
}

/** The TTLs of an unsigned zone that the facts depend on (read once per input). */
export function inputTtls(zone: Zone): InputTtls {
  let maxTtl = 0;
  for (const set of zone.rrsets()) if (set.type !== RRType.SOA) maxTtl = Math.max(maxTtl, minTtl(set.records));
  return { soaTtl: zone.soa?.records[0]?.ttl ?? 0, maxTtl };
}

/**
 * The facts of a zone as its policy signs it: the largest TTL of the *signed* zone, which is
 * how long a signature by one of its keys may sit in a cache (RFC 7583 TTLsig). The input's
 * RRsets keep their TTL (the lowest of their records); the SOA takes the policy's TTL, the
 * NSEC or NSEC3 records min(SOA MINIMUM, SOA TTL) (RFC 9077), NSEC3PARAM and DNSKEY (and
 * CDS and CDNSKEY beside it) the policy's; `childDsTtls` are the TTLs of the DS records of
 * child zones signed here that the signer adds to the input (DP-4.6a).
 */
export function zoneFacts(input: InputTtls, policy: Policy, childDsTtls: readonly Seconds[] = []): ZoneFacts {
  const forced = policySigning(policy);
  const soaTtl = forced.soa.ttl ?? input.soaTtl;
  const denialTtl = Math.min(forced.soa.minimum ?? soaTtl, soaTtl);
  const ttls = [input.maxTtl, soaTtl, denialTtl, forced.dnskeyTtl, ...(policy.denial.type === 'nsec3' ? [forced.nsec3paramTtl] : []), ...childDsTtls];
  return { maxTtl: Math.max(...ttls) };
}

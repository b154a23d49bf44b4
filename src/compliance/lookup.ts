import type { Name } from '../dns/name.js';

/**
 * What a validating lookup found: `secure` (the answer validated from a trust anchor: the AD
 * bit of a trusted resolver, or our own validator), `insecure` (an answer proven or taken as
 * unsigned), `bogus` (the data is there but does not validate). `rcode` is the answer's
 * (NOERROR, NXDOMAIN); `rdatas` the records of the type asked (none: no data).
 */
export type Security = 'secure' | 'insecure' | 'bogus';

export type LookupResult =
  | { readonly kind: 'answer'; readonly security: Security; readonly rcode: number; readonly rdatas: readonly Uint8Array[] }
  /** No usable answer in time (silence, garbage, REFUSED, SERVFAIL that is not a validation failure). */
  | { readonly kind: 'failed'; readonly problem: string };

/**
 * The port through which the compliance checks ask about what lies outside a zone (MX targets
 * in other zones, their TLSA, the zone's own chain of trust): a name and a type, answered with
 * the validation status. Every implementation bounds each lookup in time and reports a server
 * that does not answer as `failed`, never by throwing.
 */
export interface ValidatingLookup {
  /** Who answers, for the report (`resolver 127.0.0.1:53`). */
  readonly source: string;
  lookup(name: Name, type: number): Promise<LookupResult>;
}

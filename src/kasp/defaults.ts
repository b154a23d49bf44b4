import { Algorithm, DigestType } from '../dnssec/algorithms.js';
import type { KeyRole } from '../dnssec/signer.js';
import type { KskRolloverMethod, ProfileName, ZskRolloverMethod } from './policy.js';

const HOUR = 3600;
const DAY = 86400;

/**
 * The value of every field a policy file leaves out. They are the DP policy's own values, so
 * an empty policy is the DP policy (kasp/default.yaml writes them all out); where DP says
 * nothing they follow current practice (RFC 9276, RFC 8624, RFC 7583).
 */
export const DEFAULTS = {
  profile: 'dp' as ProfileName,
  description: '',
  algorithm: Algorithm.RSASHA256,
  /** RSA key sizes by role (DP-4.1b, DP-4.1c); a CSK signs the DNSKEY RRset, so it gets the KSK's. */
  rsaBits: { ksk: 2048, zsk: 1024, csk: 2048 } as Readonly<Record<KeyRole, number>>,
  /** The KSK (and a CSK) is rolled by hand (DP-4.3b); the ZSK every 90 days (DP-4.3c). */
  lifetime: { ksk: null, zsk: 90 * DAY, csk: null } as Readonly<Record<KeyRole, number | null>>,
  rollover: { zsk: 'pre-publication' as ZskRolloverMethod, ksk: 'double-ksk' as KskRolloverMethod },
  signatures: {
    validity: 32 * DAY, // DP-4.4a
    resignInterval: DAY, // DP-4.4b
    refresh: 'always' as const,
    inceptionOffset: HOUR,
    jitter: 0,
  },
  denial: {
    type: 'nsec3' as const, // DP-4.2a recommends NSEC3 for every zone
    iterations: 0, // DP-4.2c, RFC 9276
    saltLength: 8,
    resalt: 365 * DAY, // DP-4.2d
    optOut: false,
  },
  ttl: { dnskey: HOUR, nsec3param: HOUR }, // DP-4.5b
  soa: {
    ttl: null,
    refresh: null,
    retry: null,
    expire: 30 * DAY, // DP-4.5c
    minimum: HOUR, // DP-4.5d
    serial: 'unixtime' as const,
  },
  zone: { propagationDelay: HOUR, publishSafety: HOUR, retireSafety: HOUR },
  parent: {
    propagationDelay: HOUR,
    dsTtl: DAY,
    publishSafety: HOUR,
    retireSafety: HOUR,
    cds: true,
    cdnskey: true,
    dsDigests: [DigestType.SHA256],
  },
} as const;

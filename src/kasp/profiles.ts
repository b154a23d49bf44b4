import type { Seconds } from '../common/clock.js';
import type { PolicyProblem } from '../common/errors.js';
import { Algorithm, algorithmName, DigestType } from '../dnssec/algorithms.js';
import { formatDuration as d } from './format.js';
import { fieldPosition, type KeyPolicy, type Policy, type ProfileName } from './policy.js';
import { isRsa } from './sections.js';

/** A rule of a compliance profile that a policy breaks (error) or strains (warning). */
export interface ComplianceFinding extends PolicyProblem {
  readonly severity: 'error' | 'warning';
  readonly policy: string;
  readonly field: string;
  readonly requirement: string;
}

const HOUR = 3600;
const DAY = 86400;

/** The DP values (REQUIREMENTS.md, DP section 4). */
const DP = {
  algorithms: [Algorithm.RSASHA256, Algorithm.ECDSAP256SHA256, Algorithm.ED25519] as readonly number[], // DP-4.1a
  kskRsaBits: 2048, // DP-4.1b
  zskRsaBits: 1024, // DP-4.1c
  maxIterations: 10, // DP-4.2c
  maxResalt: 365 * DAY, // DP-4.2d
  maxZskLifetime: 92 * DAY, // DP-4.3c: three months, the longest of which has 92 days
  validity: 32 * DAY, // DP-4.4a
  maxResignInterval: DAY, // DP-4.4b
  maxDnskeyTtl: HOUR, // DP-4.5b
  expire: 2592000, // DP-4.5c
  maxMinimum: HOUR, // DP-4.5d
} as const;

/**
 * The smallest validity any signature has left, at any moment, in a version of the zone a
 * secondary may serve after its last successful refresh; the secondary goes on serving that
 * version until SOA EXPIRE has passed since the refresh.
 *
 * A signature made at time t has inception t − offset and expiration inception + validity,
 * less up to the jitter: it leaves the signer with V = validity − offset − jitter to run. It
 * stays in the newest version until a re-sign re-makes it: the next re-sign when every
 * signature is re-made (`refresh: always`), else the first re-sign at which less than
 * `refresh` is left, so it may have only `refresh` left one re-sign interval before that. The
 * newest version reaches every secondary within the zone's propagation delay. So:
 *
 *   remaining = min(V, refresh) − resign interval − zone propagation delay
 *
 * A secondary that refreshed at t0 holds signatures with at least `remaining` left at t0 and
 * serves them until t0 + EXPIRE: they stay valid all that time only if remaining > EXPIRE.
 */
export function smallestRemainingValidity(p: Policy): Seconds {
  const s = p.signatures;
  const fresh = s.validity - s.inceptionOffset - s.jitter;
  const kept = s.refresh === 'always' ? fresh : Math.min(fresh, s.refresh);
  return kept - s.resignInterval - p.zone.propagationDelay;
}

/** How `smallestRemainingValidity` came out, for messages. */
function remainingExplained(p: Policy): string {
  const s = p.signatures;
  const kept = s.refresh === 'always' ? '' : `, at most refresh ${d(s.refresh)},`;
  return (
    `${d(smallestRemainingValidity(p))} (validity ${d(s.validity)} − inception-offset ${d(s.inceptionOffset)} − jitter ${d(s.jitter)}${kept} − ` +
    `resign-interval ${d(s.resignInterval)} − zone propagation-delay ${d(p.zone.propagationDelay)})`
  );
}

type Add = (severity: 'error' | 'warning', field: string, requirement: string, message: string) => void;

/**
 * Holds a policy to a compliance profile and returns every rule it breaks, each naming the
 * field (and where it stands in the file) and the requirement ID. `dp` is the Kalmar county
 * DNSSEC Policy (DP-4.1 to DP-4.5); `rfc9276` holds NSEC3 to RFC 9276 only. Both check that
 * signatures cannot run out between re-signs (OPS-7) and warn of SHA-1 DS digests.
 */
export function checkCompliance(policy: Policy, profile: ProfileName = policy.profile): ComplianceFinding[] {
  const findings: ComplianceFinding[] = [];
  const add: Add = (severity, field, requirement, message) => {
    findings.push({ file: policy.source.file, ...fieldPosition(policy, field), policy: policy.name, field, requirement, message, severity });
  };
  checkCommon(policy, add);
  if (profile === 'dp') checkDp(policy, add);
  else checkRfc9276(policy, add);
  return findings;
}

function checkCommon(p: Policy, add: Add): void {
  const remaining = smallestRemainingValidity(p);
  if (remaining <= 0) {
    add('error', 'signatures.validity', 'OPS-7', `signatures may expire before they are re-made: the smallest remaining validity is ${remainingExplained(p)}`);
  }
  if (p.parent.dsDigests.includes(DigestType.SHA1)) {
    add('warning', 'parent.ds-digests', 'RFC 8624 3.3', 'SHA-1 DS digests are listed: publish them only for a parent that takes nothing else');
  }
}

function keyField(k: KeyPolicy, name: string): string {
  return `keys.${k.role}.${name}`;
}

function checkDpKey(k: KeyPolicy, add: Add): void {
  const role = k.role.toUpperCase();
  // RSAMD5 (DP-4.2b) and the other algorithms hms never signs with are refused as the file
  // is read (sections.ts), so a Policy cannot hold them.
  if (!DP.algorithms.includes(k.algorithm)) {
    add(
      'error',
      keyField(k, 'algorithm'),
      'DP-4.1a',
      `${algorithmName(k.algorithm)} is not one of the policy's algorithms (RSASHA256, ECDSAP256SHA256, ED25519)`,
    );
  }
  if (isRsa(k.algorithm)) {
    const least = k.role === 'zsk' ? DP.zskRsaBits : DP.kskRsaBits;
    if (k.bits < least)
      add('error', keyField(k, 'bits'), k.role === 'zsk' ? 'DP-4.1c' : 'DP-4.1b', `${k.bits} is below ${least}, the least size of an RSA ${role}`);
    if (k.bits > 4096) add('error', keyField(k, 'bits'), 'DP-4.1a', `${k.bits} is over 4096, the largest RSA key RFC 5702 allows and validators take`);
  }
  if (k.role !== 'ksk') {
    // DP-4.3c: the key that signs the zone data is rolled every three months, automatically
    if (k.lifetime === null)
      add(
        'error',
        keyField(k, 'lifetime'),
        'DP-4.3c',
        `the ${role} must be rolled automatically, at most every three months (${d(DP.maxZskLifetime)}), not by hand`,
      );
    else if (k.lifetime > DP.maxZskLifetime)
      add('error', keyField(k, 'lifetime'), 'DP-4.3c', `${d(k.lifetime)} is over three months (${d(DP.maxZskLifetime)})`);
  }
}

function checkDp(p: Policy, add: Add): void {
  for (const k of p.keys) checkDpKey(k, add);

  const n = p.denial;
  if (n.type === 'nsec') {
    add('warning', 'denial.type', 'DP-4.2a', 'NSEC3 is recommended for every zone');
  } else {
    if (n.iterations > DP.maxIterations) add('error', 'denial.iterations', 'DP-4.2c', `${n.iterations} is over ${DP.maxIterations} (RFC 9276 recommends 0)`);
    if (n.saltLength > 0 && n.resalt === null)
      add('error', 'denial.resalt', 'DP-4.2d', 'a salt is used, so it must be changed at least once a year; resalt is never');
    else if (n.saltLength > 0 && n.resalt !== null && n.resalt > DP.maxResalt)
      add('error', 'denial.resalt', 'DP-4.2d', `${d(n.resalt)} is over a year (${d(DP.maxResalt)})`);
  }

  const s = p.signatures;
  if (s.validity !== DP.validity) add('error', 'signatures.validity', 'DP-4.4a', `${d(s.validity)} is not the policy's ${d(DP.validity)}`);
  if (s.resignInterval > DP.maxResignInterval)
    add('error', 'signatures.resign-interval', 'DP-4.4b', `${d(s.resignInterval)} is longer than a day: the zone must be re-signed daily`);

  // DP-4.5a: a secondary that can no longer refresh must drop the zone (SOA EXPIRE) before
  // any signature it serves expires; see smallestRemainingValidity for the reasoning.
  const remaining = smallestRemainingValidity(p);
  if (remaining <= p.soa.expire) {
    const field = p.soa.expire > DP.expire ? 'soa.expire' : s.refresh !== 'always' ? 'signatures.refresh' : 'signatures.resign-interval';
    add(
      'error',
      field,
      'DP-4.5a',
      `SOA EXPIRE ${d(p.soa.expire)} must be below the smallest remaining signature validity a secondary may serve, ` +
        `${remainingExplained(p)}; re-make every signature at a daily re-sign`,
    );
  }
  if (p.ttl.dnskey > DP.maxDnskeyTtl) add('error', 'ttl.dnskey', 'DP-4.5b', `${d(p.ttl.dnskey)} is over ${d(DP.maxDnskeyTtl)}`);
  if (p.soa.expire !== DP.expire) add('error', 'soa.expire', 'DP-4.5c', `${d(p.soa.expire)} is not 30 days (${DP.expire} s)`);
  // DP-4.5d: NSEC3 TTL = SOA MINIMUM (RFC 9077: the lower of it and the SOA TTL), at most an hour
  if (p.soa.minimum > DP.maxMinimum) add('error', 'soa.minimum', 'DP-4.5d', `${d(p.soa.minimum)} is over ${d(DP.maxMinimum)}; it is the NSEC3 TTL`);
}

function checkRfc9276(p: Policy, add: Add): void {
  const n = p.denial;
  if (n.type !== 'nsec3') return;
  if (n.iterations > 0) add('error', 'denial.iterations', 'RFC 9276 3.1', `${n.iterations} extra iterations: RFC 9276 asks for 0`);
  if (n.saltLength > 0) add('error', 'denial.salt-length', 'RFC 9276 3.1', `a ${n.saltLength}-octet salt: RFC 9276 asks for none`);
  if (n.optOut) add('warning', 'denial.opt-out', 'RFC 9276 3.1', 'opt-out is for very large zones of mostly insecure delegations');
}

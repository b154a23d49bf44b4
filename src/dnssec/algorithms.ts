import { SignerError } from '../common/errors.js';

/** DNSSEC signing algorithms hms signs with (DP-4.1a): IETF-standard, widely validated. */
export const Algorithm = {
  RSASHA256: 8,
  RSASHA512: 10,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
  ED448: 16,
} as const;

export type AlgorithmNumber = (typeof Algorithm)[keyof typeof Algorithm];

const NAMES = new Map<number, string>(Object.entries(Algorithm).map(([k, v]) => [v, k]));

/** Algorithms that are refused outright, with the reason (DP-4.2b: nothing that uses MD5). */
const REFUSED = new Map<number, string>([
  [1, 'RSAMD5 uses MD5 (DP-4.2b, RFC 6725)'],
  [3, 'DSA is deprecated (RFC 8624)'],
  [5, 'RSASHA1 uses SHA-1 (RFC 8624: must not sign)'],
  [6, 'DSA-NSEC3-SHA1 is deprecated (RFC 8624)'],
  [7, 'RSASHA1-NSEC3-SHA1 uses SHA-1 (RFC 8624: must not sign)'],
  [12, 'ECC-GOST is deprecated (RFC 8624)'],
]);

/** The mnemonics of the algorithms hms refuses (IANA), so that a refusal names what it refuses. */
const REFUSED_NAMES = new Map<number, string>([
  [1, 'RSAMD5'],
  [3, 'DSA'],
  [5, 'RSASHA1'],
  [6, 'DSA-NSEC3-SHA1'],
  [7, 'RSASHA1-NSEC3-SHA1'],
  [12, 'ECC-GOST'],
]);

export function algorithmName(n: number): string {
  return NAMES.get(n) ?? REFUSED_NAMES.get(n) ?? `algorithm ${n}`;
}

/** Why hms does not sign with algorithm `n` (RFC 8624, DP-4.2b), or null when it does. */
export function refusalOf(n: number): string | null {
  if (NAMES.has(n)) return null;
  return REFUSED.get(n) ?? `${algorithmName(n)} is not one hms signs with (${[...NAMES.values()].join(', ')})`;
}

/** Throws unless hms may sign with the algorithm (DP-4.1a, DP-4.2b). */
export function checkSigningAlgorithm(n: number): AlgorithmNumber {
  const refused = REFUSED.get(n);
  if (refused !== undefined) throw new SignerError('DNSSEC', `algorithm ${n} refused: ${refused}`);
  if (!NAMES.has(n)) throw new SignerError('DNSSEC', `algorithm ${n} is not one hms signs with (${[...NAMES.values()].join(', ')})`);
  return n as AlgorithmNumber;
}

/** DS digest types (IANA): SHA-1 only when asked (RFC 8624), never GOST. */
export const DigestType = { SHA1: 1, SHA256: 2, SHA384: 4 } as const;
export type DigestTypeNumber = (typeof DigestType)[keyof typeof DigestType];

export const DIGEST_HASH: Readonly<Record<DigestTypeNumber, string>> = { 1: 'sha1', 2: 'sha256', 4: 'sha384' };

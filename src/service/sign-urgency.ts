import type { UnixSeconds } from '../common/clock.js';
import type { Urgency } from '../hsm/fair-queue.js';
import type { SignaturePolicy } from '../kasp/policy.js';

/**
 * How urgent a zone's run is in the token's shared signing pool (issue 20): `due` when nothing
 * is served yet, when the re-sign interval since the last signing has passed, or when the
 * served signatures have no more than the policy's `refresh` left; else `requested` (an input
 * change, an operator's request), which takes its turns behind the due zones' signatures (one batch
 * after every DUE_RUN due ones: never starved, see FairQueue).
 */
export function signingUrgency(
  served: { readonly serial: number | null; readonly expires: UnixSeconds | null },
  lastSigned: UnixSeconds | null,
  signatures: SignaturePolicy,
  now: UnixSeconds,
): Urgency {
  if (served.serial === null || lastSigned === null) return 'due';
  if (now >= lastSigned + signatures.resignInterval) return 'due';
  if (served.expires !== null && typeof signatures.refresh === 'number' && served.expires - now <= signatures.refresh) return 'due';
  return 'requested';
}

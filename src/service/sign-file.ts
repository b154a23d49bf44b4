import type { UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import { signZoneTo, type SignSummary, type SignZoneOptions } from '../dnssec/sign-zone.js';
import { ZoneVerifier } from '../dnssec/verify-zone.js';
import { AtomicZoneFile } from '../storage/zone-files.js';
import { printNodeText } from '../zone/print.js';
import type { Zone } from '../zone/zone.js';

/**
 * Signs a zone into a file: each name is checked by the verifier and printed into a
 * temporary file as the signer hands it out; the file takes the place of `out` only if the
 * verifier found nothing, so a zone that fails is never published (OPS-7).
 */
export async function signZoneToFile(zone: Zone, options: SignZoneOptions, out: string, now: UnixSeconds): Promise<SignSummary> {
  const file = AtomicZoneFile.open(out);
  const verifier = new ZoneVerifier(zone.origin, now);
  let summary: SignSummary;
  try {
    summary = await signZoneTo(zone, options, (node) => {
      verifier.node(node);
      const text = printNodeText(node.rrsets);
      if (text !== '') file.line(text);
    });
  } catch (e) {
    file.abort();
    throw e;
  }
  const problems = verifier.finish();
  if (problems.length > 0) {
    file.abort();
    throw new SignerError('DNSSEC', `zone ${zone.origin.toString()}: the signed zone does not verify; nothing was written\n${problems.map((p) => `${p.owner}${p.type === undefined ? '' : `/${p.type}`}: ${p.message}`).join('\n')}`);
  }
  file.commit();
  return summary;
}

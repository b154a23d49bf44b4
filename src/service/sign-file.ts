import type { UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import { signZoneTo, type SignSummary, type SignZoneOptions } from '../dnssec/sign-zone.js';
import { ZoneVerifier } from '../dnssec/verify-zone.js';
import type { ServedFile, ServedFileWriter } from '../storage/served-file.js';
import { AtomicZoneFile } from '../storage/zone-files.js';
import { printNodeTo } from '../zone/print.js';
import type { Zone } from '../zone/zone.js';

/**
 * Signs a zone into a file: each name is checked by the verifier and printed into a
 * temporary file as the signer hands it out; the file takes the place of `out` only if the
 * verifier found nothing, so a zone that fails is never published (OPS-7). With `served`, every
 * name written goes to the served version's compact file as well (storage/served-file.ts),
 * committed with the text file (before it, naming its stamp) and returned. `beforeCommit` runs
 * once the zone has verified and before it takes the place of `out` (a caller records the
 * serial there, so that no serial is ever on disk before it is recorded); if it throws,
 * nothing is written.
 */
export async function signZoneToFile(
  zone: Zone,
  options: SignZoneOptions,
  out: string,
  now: UnixSeconds,
  served?: ServedFileWriter,
  beforeCommit?: () => void,
): Promise<SignSummary & { readonly served?: ServedFile }> {
  let file: AtomicZoneFile;
  try {
    file = AtomicZoneFile.open(out);
  } catch (e) {
    served?.abort();
    throw e;
  }
  const verifier = new ZoneVerifier(zone.origin, now);
  let summary: SignSummary;
  try {
    summary = await signZoneTo(zone, options, (node) => {
      verifier.node(node);
      printNodeTo(node.rrsets, file);
      // the served version's compact file too, for a caller that serves it (no second read of the text)
      served?.node(node);
    });
  } catch (e) {
    file.abort();
    served?.abort();
    throw e;
  }
  const problems = verifier.finish();
  if (problems.length > 0) {
    file.abort();
    served?.abort();
    throw new SignerError(
      'DNSSEC',
      `zone ${zone.origin.toString()}: the signed zone does not verify; nothing was written\n${problems.map((p) => `${p.owner}${p.type === undefined ? '' : `/${p.type}`}: ${p.message}`).join('\n')}`,
    );
  }
  let version: ServedFile | undefined;
  try {
    beforeCommit?.();
    // the compact file first, naming the text file it mirrors: a stop between the two leaves
    // it naming another, and the text file is then the one served from (pipeline.resume)
    if (served !== undefined) version = served.commit(file.stamp());
  } catch (e) {
    file.abort();
    served?.abort();
    throw e;
  }
  try {
    file.commit();
  } catch (e) {
    version?.release();
    throw e;
  }
  return version === undefined ? summary : { ...summary, served: version };
}

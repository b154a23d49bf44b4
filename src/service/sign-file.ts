import type { UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import { signZoneTo, type SignSummary, type SignZoneOptions } from '../dnssec/sign-zone.js';
import { ZoneVerifier } from '../dnssec/verify-zone.js';
import { AtomicZoneFile } from '../storage/zone-files.js';
import { printNodeTo } from '../zone/print.js';
import type { Zone, ZoneBuilder } from '../zone/zone.js';

/**
 * Signs a zone into a file: each name is checked by the verifier and printed into a
 * temporary file as the signer hands it out; the file takes the place of `out` only if the
 * verifier found nothing, so a zone that fails is never published (OPS-7). With `keep`, every
 * record written is added to it as well (its records name `out`, line 0). `beforeCommit` runs
 * once the zone has verified and before it takes the place of `out` (a caller records the
 * serial there, so that no serial is ever on disk before it is recorded); if it throws,
 * nothing is written.
 */
export async function signZoneToFile(
  zone: Zone,
  options: SignZoneOptions,
  out: string,
  now: UnixSeconds,
  keep?: ZoneBuilder,
  beforeCommit?: () => void,
): Promise<SignSummary> {
  const file = AtomicZoneFile.open(out);
  const verifier = new ZoneVerifier(zone.origin, now);
  let summary: SignSummary;
  try {
    summary = await signZoneTo(zone, options, (node) => {
      verifier.node(node);
      printNodeTo(node.rrsets, file);
      // the signed zone in memory too, for a caller that serves it (no second read of the file)
      if (keep !== undefined)
        for (const set of node.rrsets)
          for (const r of set.records) keep.add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata, file: out, line: 0 });
    });
  } catch (e) {
    file.abort();
    throw e;
  }
  const problems = verifier.finish();
  if (problems.length > 0) {
    file.abort();
    throw new SignerError(
      'DNSSEC',
      `zone ${zone.origin.toString()}: the signed zone does not verify; nothing was written\n${problems.map((p) => `${p.owner}${p.type === undefined ? '' : `/${p.type}`}: ${p.message}`).join('\n')}`,
    );
  }
  try {
    beforeCommit?.();
  } catch (e) {
    file.abort();
    throw e;
  }
  file.commit();
  return summary;
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../common/errors.js';
import { checkZoneCompliance, worstStatus, type ItemStatus, type ZoneCompliance } from '../compliance/check-zone.js';
import type { ValidatingLookup } from '../compliance/lookup.js';
import type { HmsConfig } from '../config/config.js';
import { parseEndpoint, type Endpoint } from '../config/service.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { isLoopback, ResolverLookup } from '../transfer/validating-resolver.js';
import { readZoneFile, SIGNED_FILE_LIMITS } from './load-zone.js';

export interface ComplianceRun {
  readonly lookup: string;
  readonly status: ItemStatus;
  readonly zones: readonly ZoneCompliance[];
}

/**
 * The validating lookup of `hms check compliance`: the resolver given (`--resolver`), else the
 * configuration's `compliance.resolver`. Its AD bit is believed over loopback only, or when
 * the configuration says `trust-ad: true` (the path to it is protected some other way).
 */
export function resolverLookup(config: HmsConfig, given?: string): ValidatingLookup {
  const c = config.compliance;
  let resolver: Endpoint | null = c.resolver;
  if (given !== undefined) {
    resolver = parseEndpoint(given) ?? null;
    if (resolver === null) throw new UsageError(`--resolver ${given}: not ADDRESS, ADDRESS:PORT or [IPv6]:PORT`);
  }
  if (resolver === null) throw new UsageError(`no validating resolver: give --resolver ADDR[:PORT] or set compliance.resolver in ${config.file}`);
  if (!isLoopback(resolver.address) && !c.trustAd)
    throw new UsageError(
      `resolver ${resolver.address}: its AD bit is trusted only on this host (127.0.0.1, ::1); set compliance.trust-ad: true in ${config.file} if the path to it is protected`,
    );
  return new ResolverLookup(resolver, { timeoutMs: c.timeoutMs, source: config.service.source });
}

/**
 * Checks the configured zones (all, or `only`) as they are served: the signed version in the
 * service's data folder (`<data>/signed/<zone>signed`), else the zone's input file (the
 * zone is then not signed here yet, a DK-18 finding).
 */
export async function checkConfiguredZones(config: HmsConfig, lookup: ValidatingLookup, only?: string): Promise<ComplianceRun> {
  const wanted = only === undefined ? undefined : Name.parse(only.endsWith('.') ? only : `${only}.`).key;
  const zones = config.service.zones.filter((z) => wanted === undefined || Name.parse(z.name).key === wanted);
  if (only !== undefined && zones.length === 0) throw new UsageError(`zone ${only} is not in ${config.file}`);
  const results: ZoneCompliance[] = [];
  for (const z of zones) {
    const origin = Name.parse(z.name);
    const signedPath = join(config.service.data, 'signed', `${z.name}signed`);
    if (existsSync(signedPath)) {
      const zone = await readZoneFile(signedPath, origin, { limits: SIGNED_FILE_LIMITS });
      const signed =
        zone.rrset(origin, RRType.DNSKEY) !== undefined ? true : { reason: `the version served (${signedPath}) carries no DNSKEY: the zone is insecure` };
      results.push(await checkZoneCompliance(zone, lookup, { signed, source: signedPath }));
    } else if (z.input.kind === 'file') {
      const zone = await readZoneFile(z.input.file, origin, { limits: config.service.zoneInput });
      results.push(
        await checkZoneCompliance(zone, lookup, { signed: { reason: `no signed version in ${signedPath} yet (hms run signs it)` }, source: z.input.file }),
      );
    } else {
      results.push({
        zone: z.name,
        source: signedPath,
        status: 'unknown',
        items: [
          {
            requirement: 'DK-18',
            status: 'unknown',
            subject: z.name,
            message: `no signed version in ${signedPath} yet, and the input comes from an upstream primary`,
          },
        ],
      });
    }
  }
  return { lookup: lookup.source, status: worstStatus(results.map((r) => r.status)), zones: results };
}

import { join } from 'node:path';
import type { UnixSeconds } from '../common/clock.js';
import type { ServiceConfig } from '../config/service.js';
import { Name } from '../dns/name.js';
import { formatRdata } from '../dns/rdata/index.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { RRType } from '../dns/types.js';
import { DigestType } from '../dnssec/algorithms.js';
import { makeDs } from '../dnssec/ds.js';
import { sameRdatas } from '../dnssec/verify-answer.js';
import { dsAtParent, signsDnskey, type KeyRecord } from '../enforcer/keys.js';
import { lookupAddresses } from '../monitor/io.js';
import type { Target, ZoneFacts } from '../monitor/types.js';
import type { ZoneVersion } from '../zone/version.js';
import { parseServer } from './parent-check.js';

/** Where the service keeps a zone's signed version (what it serves; pipeline.ts writes it). */
export function signedFileOf(service: ServiceConfig, zone: string): string {
  return join(service.data, 'signed', `${zone}signed`);
}

/** Types looked for, in order, for the NODATA question: the first the apex does not hold. */
const NODATA_TYPES = [RRType.RP, RRType.HINFO, 29 /* LOC */, 35 /* NAPTR */];

export interface PublishedZone {
  /** The signed version served (held readable by the caller while the facts are gathered). */
  readonly signed: ZoneVersion;
  /** When it was signed (null: not known). */
  readonly signedAt: UnixSeconds | null;
  /** The zone's key records from the state. */
  readonly keys: readonly KeyRecord[];
  /** The parent's name servers stored with the zone. */
  readonly parentServers: readonly string[];
}

/**
 * What the monitor checks a zone against, from what is published: the serial and when it was
 * made, the DS the chain starts from (the keys the state records at the parent; before any is,
 * the keys that sign the DNSKEY RRset, whose DS hms would submit), the secondaries listed for
 * it (asked with their TSIG key at their NOTIFY address) and its NS set (in-zone glue, else
 * the system's resolver; asked at `monitor-ns-port`), and the parent's servers.
 */
export async function monitorFacts(service: ServiceConfig, zoneName: string, p: PublishedZone): Promise<ZoneFacts> {
  const apex = p.signed.origin;
  const published = p.signed.rrset(apex, RRType.DNSKEY)?.records.map((r) => r.rdata) ?? [];
  const isPublished = (k: KeyRecord): boolean => published.some((d) => sameRdatas([d], [k.dnskey]));
  const atParent = p.keys.filter((k) => dsAtParent(k) && isPublished(k));
  const anchorKeys = atParent.length > 0 ? atParent : p.keys.filter((k) => signsDnskey(k) && isPublished(k));
  const anchors = anchorKeys.map((k) => makeDs(apex, k.dnskey, DigestType.SHA256));
  const apexTypes = new Set(p.signed.get(apex)?.rrsets.map((s) => s.type) ?? []);
  const nodataType = NODATA_TYPES.find((t) => !apexTypes.has(t)) ?? 65280;

  const zone = service.zones.find((z) => z.name === zoneName);
  const targets: Target[] = service.secondaries
    .filter((s) => zone?.secondaries.includes(s.name) === true)
    .map((s) => {
      const key = service.tsigKeys.find((k) => k.name.equals(Name.parse(`${s.key}.`)));
      return { label: `${s.name} ${s.notify.address}@${s.notify.port}`, address: s.notify.address, port: s.notify.port, ...(key === undefined ? {} : { key }) };
    });
  const unresolved: { label: string; problem: string }[] = [];
  const port = service.monitor.nsPort;
  for (const r of p.signed.rrset(apex, RRType.NS)?.records ?? []) {
    const ns = Name.decode(r.rdata, 0, false).name;
    let addresses: string[];
    if (ns.isSubdomainOf(apex)) {
      addresses = [RRType.A, RRType.AAAA].flatMap((t) => p.signed.rrset(ns, t)?.records.map((g) => formatRdata(t, g.rdata)) ?? []);
      if (addresses.length === 0) {
        unresolved.push({ label: ns.toString(), problem: `the NS target ${ns.toString()} is in the zone and has no address there` });
        continue;
      }
    } else {
      try {
        addresses = await lookupAddresses(ns, service.monitor.timeoutMs);
      } catch (e) {
        unresolved.push({ label: ns.toString(), problem: e instanceof Error ? e.message : String(e) });
        continue;
      }
    }
    for (const address of addresses) {
      const same = targets.findIndex((t) => t.address === address && t.port === port);
      if (same >= 0) targets[same] = { ...targets[same]!, label: `${targets[same]!.label.split(' ')[0]!}/${ns.toString()} ${address}@${port}` };
      else targets.push({ label: `${ns.toString()} ${address}@${port}`, address, port });
    }
  }
  const parentServers = p.parentServers.map((text) => {
    const s = parseServer(text);
    return { label: `parent ${text}`, address: s.address, port: s.port };
  });
  return {
    zone: apex,
    serial: decodeSoa(p.signed.soa!.records[0]!.rdata).serial,
    signedAt: p.signedAt,
    anchors,
    nodataType,
    targets,
    unresolved,
    parent: { servers: parentServers, published, atParent: atParent.map((k) => k.dnskey) },
  };
}

import type { Name } from '../dns/name.js';
import { targetName } from '../dns/rdata/extract.js';
import { formatRdata } from '../dns/rdata/index.js';
import { Rcode } from '../dns/message.js';
import { RRType, typeToString } from '../dns/types.js';
import type { Zone } from '../zone/zone.js';
import type { LookupResult, ValidatingLookup } from './lookup.js';
import { authoritativeNodes, below, dkimSelectors, DMARC_PREFIX, mailDomains, parseDmarc, parseSpf, SPF_PREFIX, txtRecords } from './mail-records.js';

/**
 * `hms check compliance` on one zone: DK-17, DK-18, DK-19, DK-20, DK-23 and DP-3.3, each as
 * a list of items that name what was looked at and what was found. The zone's own records
 * answer what they can; what lies outside (its chain of trust, MX targets in other zones and
 * their TLSA, name servers' addresses elsewhere) is asked through the validating lookup.
 */

/** Nagios order: worse statuses are greater. */
export type ItemStatus = 'met' | 'warning' | 'not-met' | 'unknown';
const RANK: Record<ItemStatus, number> = { met: 0, warning: 1, unknown: 2, 'not-met': 3 };

export interface ComplianceItem {
  readonly requirement: string;
  readonly status: ItemStatus;
  /** The name looked at. */
  readonly subject: string;
  readonly message: string;
}

export interface ZoneCompliance {
  readonly zone: string;
  /** Where the zone's records came from (the signed version served, or the input). */
  readonly source: string;
  readonly status: ItemStatus;
  readonly items: readonly ComplianceItem[];
}

export interface ZoneComplianceOptions {
  /** The records were read from a version signed here; else why not (unsigned input, going insecure). */
  readonly signed: true | { readonly reason: string };
  readonly source: string;
}

/** The worst of some statuses (met for none). */
export function worstStatus(statuses: Iterable<ItemStatus>): ItemStatus {
  let worst: ItemStatus = 'met';
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

export async function checkZoneCompliance(zone: Zone, lookup: ValidatingLookup, options: ZoneComplianceOptions): Promise<ZoneCompliance> {
  const items: ComplianceItem[] = [];
  const add = (requirement: string, status: ItemStatus, subject: Name | string, message: string): void => {
    items.push({ requirement, status, subject: subject.toString(), message });
  };
  const cache = new Map<string, Promise<LookupResult>>();
  const ask = (name: Name, type: number): Promise<LookupResult> => {
    const key = `${name.key}/${type}`;
    let p = cache.get(key);
    if (p === undefined) cache.set(key, (p = lookup.lookup(name, type)));
    return p;
  };
  const via = lookup.source;

  checkDotDk(zone, add);
  await checkDnssec(zone, options, ask, via, add);
  await checkMailGateways(zone, ask, via, add);
  checkMailPolicies(zone, add);
  await checkNameServers(zone, ask, via, add);
  return { zone: zone.origin.toString(), source: options.source, status: worstStatus(items.map((i) => i.status)), items };
}

type Add = (requirement: string, status: ItemStatus, subject: Name | string, message: string) => void;
type Ask = (name: Name, type: number) => Promise<LookupResult>;

/** DK-17: the zone is under .dk. */
function checkDotDk(zone: Zone, add: Add): void {
  const labels = zone.origin.labels();
  const tld = labels[labels.length - 1]?.toLowerCase();
  if (tld === 'dk') add('DK-17', 'met', zone.origin, 'registered under .dk');
  else add('DK-17', 'not-met', zone.origin, `under .${tld ?? ''}, not .dk`);
}

/** What a lookup said, in words: `secure NOERROR 2 records`. */
function said(r: LookupResult, type: number): string {
  if (r.kind === 'failed') return r.problem;
  const rcode =
    r.rcode === Rcode.NXDOMAIN ? 'NXDOMAIN' : r.rcode === Rcode.NOERROR ? (r.rdatas.length === 0 ? `no ${typeToString(type)}` : '') : `rcode ${r.rcode}`;
  const records = r.rdatas.length === 0 ? '' : r.rdatas.map((d) => `${typeToString(type)} ${formatRdata(type, d)}`).join(', ');
  return `${r.security}${rcode === '' ? '' : ` ${rcode}`}${records === '' ? '' : `: ${records}`}`;
}

/** DK-18: the zone validates from the lookup's trust anchors, and every delegation in it has a DS. */
async function checkDnssec(zone: Zone, options: ZoneComplianceOptions, ask: Ask, via: string, add: Add): Promise<void> {
  const apex = zone.origin;
  if (options.signed !== true) add('DK-18', 'not-met', apex, `not signed here: ${options.signed.reason}`);
  const r = await ask(apex, RRType.SOA);
  if (r.kind === 'failed') add('DK-18', 'unknown', apex, `SOA through ${via}: ${r.problem}`);
  else if (r.security === 'secure') add('DK-18', 'met', apex, `SOA validates through ${via} (secure)`);
  else if (r.security === 'bogus') add('DK-18', 'not-met', apex, `SOA through ${via} is bogus: it does not validate`);
  else add('DK-18', 'not-met', apex, `SOA through ${via} is insecure: no chain of trust reaches the zone (is its DS at the parent?)`);
  checkDelegations(zone, add);
}

/** DK-18 in the zone's records: every delegation carries a DS. */
function checkDelegations(zone: Zone, add: Add): void {
  for (const { node, isCut } of authoritativeNodes(zone)) {
    if (!isCut) continue;
    const ds = node.rrsets.find((s) => s.type === RRType.DS);
    if (ds === undefined) add('DK-18', 'not-met', node.name, 'delegated without a DS: the subdomain is not signed (or its DS is not published here)');
    else add('DK-18', 'met', node.name, `delegated with DS ${ds.records.map((x) => formatRdata(RRType.DS, x.rdata).split(' ')[0]).join(', ')}`);
  }
}

/** DK-19 (the MX targets are in signed zones) and DK-20 (each has a usable, validated TLSA for port 25). */
async function checkMailGateways(zone: Zone, ask: Ask, via: string, add: Add): Promise<void> {
  const targets = new Map<string, Name>();
  for (const d of mailDomains(zone)) for (const t of d.targets) targets.set(t.key, t);
  if (targets.size === 0) {
    const msg = 'no inbound mail gateway (no MX records, or null MX only)';
    add('DK-19', 'met', zone.origin, msg);
    add('DK-20', 'met', zone.origin, msg);
    return;
  }
  for (const target of targets.values()) {
    let r = await ask(target, RRType.A);
    let type: number = RRType.A;
    if (r.kind === 'answer' && r.rcode === Rcode.NOERROR && r.rdatas.length === 0) {
      r = await ask(target, RRType.AAAA);
      type = RRType.AAAA;
    }
    if (r.kind === 'failed') add('DK-19', 'unknown', target, `through ${via}: ${r.problem}`);
    else if (r.security !== 'secure')
      add('DK-19', 'not-met', target, `the mail gateway's address is ${said(r, type)} through ${via}: not in a validated signed zone`);
    else if (r.rdatas.length === 0) add('DK-19', 'not-met', target, `the mail gateway has no address (${said(r, type)} through ${via})`);
    else add('DK-19', 'met', target, `${said(r, type)} through ${via}`);

    const tlsaName = below(target, '_25', '_tcp');
    const t = await ask(tlsaName, RRType.TLSA);
    if (t.kind === 'failed') add('DK-20', 'unknown', tlsaName, `through ${via}: ${t.problem}`);
    else if (t.security !== 'secure') add('DK-20', 'not-met', tlsaName, `${said(t, RRType.TLSA)} through ${via}: DANE needs a validated TLSA RRset`);
    else if (t.rdatas.length === 0)
      add('DK-20', 'not-met', tlsaName, `no TLSA for the mail gateway ${target.toString()} (${said(t, RRType.TLSA)} through ${via})`);
    else {
      const problems = t.rdatas.map((d) => `${formatRdata(RRType.TLSA, d)}: ${tlsaProblem(d) ?? 'usable'}`);
      const usable = t.rdatas.filter((d) => tlsaProblem(d) === undefined).length;
      const status: ItemStatus = usable === t.rdatas.length ? 'met' : usable > 0 ? 'warning' : 'not-met';
      add('DK-20', status, tlsaName, `secure through ${via}, ${usable} of ${t.rdatas.length} usable: ${problems.join('; ')}`);
    }
  }
}

/**
 * Why a TLSA record cannot authenticate an SMTP server (RFC 7672 section 3.1.3: only DANE-TA(2)
 * and DANE-EE(3)), or undefined when it can: selector 0 or 1, matching type 0, 1 (SHA-256,
 * 32 octets) or 2 (SHA-512, 64 octets).
 */
export function tlsaProblem(rdata: Uint8Array): string | undefined {
  if (rdata.length < 4) return 'too short';
  const [usage, selector, matching] = [rdata[0]!, rdata[1]!, rdata[2]!];
  const data = rdata.length - 3;
  if (usage === 0 || usage === 1)
    return `usage ${usage} (PKIX-${usage === 0 ? 'TA' : 'EE'}) is not used for SMTP (RFC 7672 section 3.1.3): use 3 (DANE-EE) or 2 (DANE-TA)`;
  if (usage !== 2 && usage !== 3) return `usage ${usage} is not defined`;
  if (selector > 1) return `selector ${selector} is not defined`;
  if (matching > 2) return `matching type ${matching} is not defined`;
  if (matching === 1 && data !== 32) return `a SHA-256 digest has 32 octets, not ${data}`;
  if (matching === 2 && data !== 64) return `a SHA-512 digest has 64 octets, not ${data}`;
  return undefined;
}

/**
 * DK-23 from the zone's records: DMARC with p=reject for the apex and for every name with MX
 * (its own `_dmarc` record, else the apex's sp= or p=, RFC 7489 section 6.6.3); SPF ending in
 * `-all` there and on every MX target in the zone; DKIM keys for each of those domains whose
 * SPF lets any host send.
 */
function checkMailPolicies(zone: Zone, add: Add): void {
  const apex = zone.origin;
  const domains = new Map<string, Name>([[apex.key, apex]]);
  const hosts = new Map<string, Name>();
  for (const d of mailDomains(zone)) {
    domains.set(d.owner.key, d.owner);
    for (const t of d.targets) if (t.isSubdomainOf(apex) && !domains.has(t.key)) hosts.set(t.key, t);
  }
  for (const key of domains.keys()) hosts.delete(key);
  const apexDmarc = txtRecords(zone, apex.child('_dmarc'), DMARC_PREFIX);
  const dkim = dkimSelectors(zone);

  for (const domain of domains.values()) {
    // DMARC
    const own = txtRecords(zone, domain.child('_dmarc'), DMARC_PREFIX);
    const isApex = domain.equals(apex);
    const records = own.length > 0 || isApex ? own : apexDmarc;
    const at = (own.length > 0 || isApex ? domain : apex).child('_dmarc');
    if (records.length === 0) add('DK-23', 'not-met', domain, `no DMARC record (TXT v=DMARC1 at ${at.toString()})`);
    else if (records.length > 1)
      add('DK-23', 'not-met', domain, `${records.length} DMARC records at ${at.toString()}: receivers ignore them all (RFC 7489 section 6.6.3)`);
    else {
      const tags = parseDmarc(records[0]!);
      const inherited = own.length === 0 && !isApex;
      const policy = inherited ? (tags.get('sp') ?? tags.get('p')) : tags.get('p');
      const which = inherited ? (tags.has('sp') ? 'sp' : 'p') : 'p';
      const pct = Number(tags.get('pct') ?? '100');
      if (policy?.toLowerCase() !== 'reject') add('DK-23', 'not-met', domain, `DMARC ${which}=${policy ?? '(none)'} at ${at.toString()}, not reject`);
      else if (pct < 100) add('DK-23', 'warning', domain, `DMARC ${which}=reject at ${at.toString()}, but for pct=${pct}% of the mail only`);
      else add('DK-23', 'met', domain, `DMARC ${which}=reject at ${at.toString()}`);
    }
    const spf = checkSpf(zone, domain, add);
    // DKIM where mail is sent
    if (spf === undefined) continue;
    const selectors = dkim.get(domain.key) ?? [];
    if (!spf.sends) add('DK-23', 'met', domain, 'sends no mail (SPF authorises no host): no DKIM key needed');
    else if (selectors.length === 0)
      add('DK-23', 'not-met', domain, `sends mail (SPF authorises hosts) but has no DKIM key (TXT with p= at SELECTOR._domainkey.${domain.toString()})`);
    else add('DK-23', 'met', domain, `DKIM keys at ${selectors.join(', ')}`);
  }
  for (const host of hosts.values()) checkSpf(zone, host, add);
}

/** SPF at `name`: exactly one record, ending in `-all`; returns it when there is one. */
function checkSpf(zone: Zone, name: Name, add: Add): ReturnType<typeof parseSpf> | undefined {
  const records = txtRecords(zone, name, SPF_PREFIX);
  if (records.length === 0) {
    add('DK-23', 'not-met', name, 'no SPF record (TXT "v=spf1 ... -all")');
    return undefined;
  }
  if (records.length > 1) {
    add('DK-23', 'not-met', name, `${records.length} SPF records: a receiver takes none of them (RFC 7208 section 4.5)`);
    return undefined;
  }
  const spf = parseSpf(records[0]!);
  if (spf.all === '-') add('DK-23', 'met', name, `SPF "${records[0]!}"`);
  else if (spf.all === null && spf.redirect !== null)
    add('DK-23', 'warning', name, `SPF "${records[0]!}" ends with the record of ${spf.redirect}: check that it ends in -all`);
  else add('DK-23', 'not-met', name, `SPF "${records[0]!}" ends ${spf.all === null ? 'without an all term' : `in ${spf.all}all`}, not -all`);
  return spf;
}

/**
 * DP-3.3: at least two name servers at the apex (DP-3.3a; their networks, the AS, are not
 * told by DNS and stay a manual item of the DPS report), and at least two with an IPv6
 * address (DP-3.3b): from the zone's records for those inside it, asked for the others.
 */
async function checkNameServers(zone: Zone, ask: Ask, via: string, add: Add): Promise<void> {
  const apex = zone.origin;
  const ns = checkNameServerCount(zone, add);
  const withV6: string[] = [];
  const unknown: string[] = [];
  for (const server of ns) {
    if (server.isSubdomainOf(apex)) {
      if ((zone.rrset(server, RRType.AAAA)?.records.length ?? 0) > 0) withV6.push(server.toString());
      continue;
    }
    const r = await ask(server, RRType.AAAA);
    if (r.kind === 'failed') unknown.push(`${server.toString()} (${r.problem})`);
    else if (r.rdatas.length > 0) withV6.push(server.toString());
  }
  if (withV6.length >= 2) add('DP-3.3b', 'met', apex, `${withV6.length} name servers with IPv6: ${withV6.join(', ')}`);
  else if (withV6.length + unknown.length >= 2)
    add('DP-3.3b', 'unknown', apex, `${withV6.length} with IPv6 (${withV6.join(', ') || 'none'}); not answered through ${via}: ${unknown.join(', ')}`);
  else
    add(
      'DP-3.3b',
      'not-met',
      apex,
      `${withV6.length} name server${withV6.length === 1 ? '' : 's'} with IPv6 (${withV6.join(', ') || 'none'}): at least two are required`,
    );
}

/** DP-3.3a: at least two name servers at the apex; returns them. */
function checkNameServerCount(zone: Zone, add: Add): Name[] {
  const apex = zone.origin;
  const ns = zone.rrset(apex, RRType.NS)?.records.map((r) => targetName(RRType.NS, r.rdata)!) ?? [];
  const list = ns.map((n) => n.toString()).join(', ');
  if (ns.length >= 2) add('DP-3.3a', 'met', apex, `${ns.length} name servers: ${list} (that they stand on two networks is for the operator to show)`);
  else add('DP-3.3a', 'not-met', apex, `${ns.length} name server${ns.length === 1 ? '' : 's'} (${list || 'none'}): at least two are required`);
  return ns;
}

/**
 * What the zone's records alone decide, with no lookup: DK-17, DK-18 for its delegations,
 * DK-23 and DP-3.3a (`hms report dps` reads these from the versions served).
 */
export function checkZoneRecords(zone: Zone): ComplianceItem[] {
  const items: ComplianceItem[] = [];
  const add: Add = (requirement, status, subject, message) => items.push({ requirement, status, subject: subject.toString(), message });
  checkDotDk(zone, add);
  checkDelegations(zone, add);
  checkMailPolicies(zone, add);
  checkNameServerCount(zone, add);
  return items;
}

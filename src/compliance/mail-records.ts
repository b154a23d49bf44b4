import { Name } from '../dns/name.js';
import { targetName } from '../dns/rdata/extract.js';
import { RRType } from '../dns/types.js';
import type { RRset, Zone, ZoneNode } from '../zone/zone.js';

/**
 * What a zone's own data says about its mail (DK-23) and its delegations (DK-18): read from
 * the records alone, with no lookup. Names below a delegation are not the zone's and are left out.
 */

/** The nodes the zone is authoritative for, and the delegation points (not what lies below them). */
export function* authoritativeNodes(zone: Zone): Generator<{ node: ZoneNode; isCut: boolean }> {
  let cut: Name | undefined;
  for (const node of zone.nodes) {
    if (!node.name.isSubdomainOf(zone.origin)) continue;
    if (cut !== undefined && node.name.isSubdomainOf(cut)) continue;
    cut = undefined;
    const isCut = !node.name.equals(zone.origin) && node.rrsets.some((s) => s.type === RRType.NS);
    if (isCut) cut = node.name;
    yield { node, isCut };
  }
}

/** The text of a TXT record: its character-strings joined (RFC 7208 section 3.3, RFC 7489 section 6.3). */
export function txtText(rdata: Uint8Array): string {
  const parts: string[] = [];
  for (let at = 0; at < rdata.length;) {
    const length = rdata[at]!;
    parts.push(new TextDecoder('latin1').decode(rdata.subarray(at + 1, at + 1 + length)));
    at += 1 + length;
  }
  return parts.join('');
}

/** The TXT texts at a name that begin with `prefix` (case-insensitive, then a space, `;` or the end). */
export function txtRecords(zone: Zone, name: Name, prefix: RegExp): string[] {
  const set = zone.rrset(name, RRType.TXT);
  return set === undefined ? [] : set.records.map((r) => txtText(r.rdata)).filter((t) => prefix.test(t));
}

export const SPF_PREFIX = /^v=spf1(\s|$)/i;
export const DMARC_PREFIX = /^v=DMARC1\s*(;|$)/i;

/** One MX RRset: its owner and targets; `isNullMx` for `MX 0 .` (RFC 7505: accepts no mail). */
export interface MailDomain {
  readonly owner: Name;
  readonly targets: readonly Name[];
  readonly isNullMx: boolean;
  readonly set: RRset;
}

/** Every MX RRset of the zone the zone is authoritative for. */
export function mailDomains(zone: Zone): MailDomain[] {
  const found: MailDomain[] = [];
  for (const { node, isCut } of authoritativeNodes(zone)) {
    if (isCut) continue;
    const set = node.rrsets.find((s) => s.type === RRType.MX);
    if (set === undefined) continue;
    const targets = set.records.map((r) => targetName(RRType.MX, r.rdata)!);
    found.push({ owner: node.name, targets: targets.filter((t) => !t.isRoot), isNullMx: targets.every((t) => t.isRoot), set });
  }
  return found;
}

/** An SPF record read far enough for DK-23: how it ends, and whether it lets any host send. */
export interface SpfPolicy {
  /** The qualifier of the `all` term (`-`, `~`, `?`, `+`), or null without one. */
  readonly all: string | null;
  /** A `redirect=` modifier: the result comes from another domain's record. */
  readonly redirect: string | null;
  /** Some mechanism besides `all` may pass: the domain sends mail. */
  readonly sends: boolean;
}

export function parseSpf(text: string): SpfPolicy {
  let all: string | null = null;
  let redirect: string | null = null;
  let sends = false;
  for (const term of text.trim().split(/\s+/).slice(1)) {
    const m = /^([-~?+]?)([a-z0-9]+)([:=/].*)?$/i.exec(term);
    if (m === null) continue;
    const [, qualifier, word, rest] = m;
    const name = word!.toLowerCase();
    if (rest?.startsWith('=') === true) {
      if (name === 'redirect') {
        redirect = rest.slice(1);
        sends = true;
      }
      continue;
    }
    if (name === 'all') all = qualifier === '' ? '+' : qualifier!;
    else if (qualifier !== '-') sends = true;
  }
  return { all, redirect, sends };
}

/** A DMARC record's tags (RFC 7489 section 6.3), lower-case names. */
export function parseDmarc(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return tags;
}

/**
 * The DKIM key records of the zone by the domain they sign for: `<selector>._domainkey.<domain>`
 * with a TXT holding a key (`p=` not empty), or a CNAME to a provider's; keyed by the domain's `key`.
 */
export function dkimSelectors(zone: Zone): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const { node, isCut } of authoritativeNodes(zone)) {
    const labels = node.name.labels();
    const at = labels.findIndex((l) => l.toLowerCase() === '_domainkey');
    if (isCut || at < 1) continue;
    const hasKey =
      node.rrsets.some((s) => s.type === RRType.CNAME) ||
      (zone.rrset(node.name, RRType.TXT)?.records ?? []).some((r) => /(^|;)\s*p=[A-Za-z0-9+/]/.test(txtText(r.rdata)));
    if (!hasKey) continue;
    const domain = Name.fromLabels(labels.slice(at + 1)).key;
    found.set(domain, [...(found.get(domain) ?? []), node.name.toString()]);
  }
  return found;
}

/** The name below `domain` with `labels` in front (`_25._tcp.<mx>`). */
export function below(domain: Name, ...labels: string[]): Name {
  return labels.reduceRight((n, label) => n.child(label), domain);
}

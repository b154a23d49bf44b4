import type { Name } from '../dns/name.js';
import { formatRdata } from '../dns/rdata/index.js';
import { RRType } from '../dns/types.js';
import type { DigestTypeNumber } from '../dnssec/algorithms.js';
import { makeDs } from '../dnssec/ds.js';
import { dsAtParent, type KeyRecord } from './keys.js';

export type DsFormat = 'ds' | 'dnskey' | 'epp';
export const DS_FORMATS: readonly DsFormat[] = ['ds', 'dnskey', 'epp'];

/** What the parent should hold, and what it should no longer hold. */
export interface DsChange {
  readonly add: readonly KeyRecord[];
  readonly remove: readonly KeyRecord[];
}

/**
 * The DS (or DNSKEY) records for the registrar (OPS-3, DP-4.7a): `ds` and `dnskey` as
 * master-file lines of the keys to add, `epp` as an EPP <domain:update> with the secDNS-1.1
 * extension (RFC 5910 section 5.2.5): the DS of the keys to remove in <secDNS:rem>, those to
 * add in <secDNS:add>, each with every digest type asked for.
 */
export function exportDs(zone: Name, change: DsChange, format: DsFormat, digestTypes: readonly DigestTypeNumber[]): string {
  const owner = zone.toString();
  if (format === 'dnskey') return change.add.map((k) => `${owner}\tIN\tDNSKEY\t${formatRdata(RRType.DNSKEY, k.dnskey)}\n`).join('');
  const ds = (keys: readonly KeyRecord[]): Uint8Array[] => keys.flatMap((k) => digestTypes.map((d) => makeDs(zone, k.dnskey, d)));
  if (format === 'ds') return ds(change.add).map((r) => `${owner}\tIN\tDS\t${formatRdata(RRType.DS, r)}\n`).join('');
  const dsData = (r: Uint8Array, indent: string): string => {
    const hex = Buffer.from(r.subarray(4)).toString('hex').toUpperCase();
    return `${indent}<secDNS:dsData>\n`
      + `${indent}  <secDNS:keyTag>${(r[0]! << 8) | r[1]!}</secDNS:keyTag>\n`
      + `${indent}  <secDNS:alg>${r[2]}</secDNS:alg>\n`
      + `${indent}  <secDNS:digestType>${r[3]}</secDNS:digestType>\n`
      + `${indent}  <secDNS:digest>${hex}</secDNS:digest>\n`
      + `${indent}</secDNS:dsData>\n`;
  };
  const section = (tag: string, records: Uint8Array[]): string =>
    records.length === 0 ? '' : `        <secDNS:${tag}>\n${records.map((r) => dsData(r, '          ')).join('')}        </secDNS:${tag}>\n`;
  // the domain name as the registry knows it: no trailing dot, escapes are not expected there
  const domain = owner === '.' ? '.' : owner.slice(0, -1);
  return '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    + '<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">\n'
    + '  <command>\n'
    + '    <update>\n'
    + '      <domain:update xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">\n'
    + `        <domain:name>${xmlText(domain)}</domain:name>\n`
    + '      </domain:update>\n'
    + '    </update>\n'
    + '    <extension>\n'
    + '      <secDNS:update xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">\n'
    + section('rem', ds(change.remove))
    + section('add', ds(change.add))
    + '      </secDNS:update>\n'
    + '    </extension>\n'
    + '  </command>\n'
    + '</epp>\n';
}

function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The DS change a zone's keys call for at `now`: add the KSKs (and CSKs) whose DS is not yet
 * confirmed at the parent (a double-DS successor at once, any other once its DNSKEY is known
 * everywhere: `readyAfter`, Ipub); remove those superseded by a key that is published and
 * known everywhere, while their DS is still there. Going insecure (DP-4.7b): remove them all.
 */
export function dsChange(keys: readonly KeyRecord[], now: number, readyAfter: number, insecure = false): DsChange {
  const ksks = keys.filter((k) => k.role !== 'zsk' && (k.remove === null || k.remove > now || dsAtParent(k)));
  if (insecure) return { add: [], remove: ksks.filter(dsAtParent) };
  const ready = (k: KeyRecord): boolean => k.publish !== null && now >= k.publish + readyAfter;
  const superseded = new Set(ksks.filter((k) => k.successorOf !== null && ready(k)).map((k) => k.successorOf));
  const hasSuccessor = new Set(ksks.map((k) => k.successorOf));
  return {
    add: ksks.filter((k) => !hasSuccessor.has(k.id) && k.dsSeen === null && (k.publish === null || ready(k))),
    remove: ksks.filter((k) => superseded.has(k.id) && dsAtParent(k)),
  };
}

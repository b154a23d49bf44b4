import { isoSeconds, type Seconds, type UnixSeconds } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import { formatRdata } from '../dns/rdata/index.js';
import { RRType } from '../dns/types.js';
import { DigestType, type DigestTypeNumber } from '../dnssec/algorithms.js';
import { makeDs } from '../dnssec/ds.js';
import type { Policy } from '../kasp/policy.js';
import { dsAtParent, type KeyRecord } from './keys.js';
import { timings, type ZoneFacts } from './timing.js';

export type DsFormat = 'ds' | 'dnskey' | 'epp';
export const DS_FORMATS: readonly DsFormat[] = ['ds', 'dnskey', 'epp'];

/** What the parent should hold, and what it should no longer hold. */
export interface DsChange {
  readonly add: readonly KeyRecord[];
  readonly remove: readonly KeyRecord[];
}

/**
 * The DS (or DNSKEY) records for the registrar (OPS-3, DP-4.7a): `ds` and `dnskey` as
 * master-file lines of the keys to add (the DNSKEY with its TTL, `dnskeyTtl`, so that
 * `dnssec-dsfromkey -f` reads them), `epp` as an EPP <domain:update> with the secDNS-1.1
 * extension (RFC 5910 section 5.2.5): the DS of the keys to remove in <secDNS:rem>, those to
 * add in <secDNS:add>, each with every digest type asked for.
 */
export function exportDs(zone: Name, change: DsChange, format: DsFormat, digestTypes: readonly DigestTypeNumber[], dnskeyTtl: Seconds): string {
  const owner = zone.toString();
  if (format === 'dnskey') return change.add.map((k) => `${owner}\t${dnskeyTtl}\tIN\tDNSKEY\t${formatRdata(RRType.DNSKEY, k.dnskey)}\n`).join('');
  const ds = (keys: readonly KeyRecord[]): Uint8Array[] => keys.flatMap((k) => digestTypes.map((d) => makeDs(zone, k.dnskey, d)));
  if (format === 'ds')
    return ds(change.add)
      .map((r) => `${owner}\tIN\tDS\t${formatRdata(RRType.DS, r)}\n`)
      .join('');
  const dsData = (r: Uint8Array, indent: string): string => {
    const hex = Buffer.from(r.subarray(4)).toString('hex').toUpperCase();
    return (
      `${indent}<secDNS:dsData>\n` +
      `${indent}  <secDNS:keyTag>${(r[0]! << 8) | r[1]!}</secDNS:keyTag>\n` +
      `${indent}  <secDNS:alg>${r[2]}</secDNS:alg>\n` +
      `${indent}  <secDNS:digestType>${r[3]}</secDNS:digestType>\n` +
      `${indent}  <secDNS:digest>${hex}</secDNS:digest>\n` +
      `${indent}</secDNS:dsData>\n`
    );
  };
  const section = (tag: string, records: Uint8Array[]): string =>
    records.length === 0 ? '' : `        <secDNS:${tag}>\n${records.map((r) => dsData(r, '          ')).join('')}        </secDNS:${tag}>\n`;
  // the domain name as the registry knows it: no trailing dot, escapes are not expected there
  const domain = owner === '.' ? '.' : owner.slice(0, -1);
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' +
    '<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">\n' +
    '  <command>\n' +
    '    <update>\n' +
    '      <domain:update xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">\n' +
    `        <domain:name>${xmlText(domain)}</domain:name>\n` +
    '      </domain:update>\n' +
    '    </update>\n' +
    '    <extension>\n' +
    '      <secDNS:update xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">\n' +
    section('rem', ds(change.remove)) +
    section('add', ds(change.add)) +
    '      </secDNS:update>\n' +
    '    </extension>\n' +
    '  </command>\n' +
    '</epp>\n'
  );
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

const DIGESTS: Readonly<Record<string, DigestTypeNumber>> = { sha1: DigestType.SHA1, sha256: DigestType.SHA256, sha384: DigestType.SHA384 };
const digestName = (d: DigestTypeNumber): string => Object.keys(DIGESTS).find((n) => DIGESTS[n] === d) ?? String(d);

/**
 * The digest types of an export: the policy's (`parent.ds-digests`), or the one asked for;
 * SHA-1 only when the policy lists it (RFC 8624: a DS with SHA-1 must not be made otherwise).
 */
export function exportDigests(policy: Policy, asked: string | undefined): DigestTypeNumber[] {
  const listed = policy.parent.dsDigests;
  if (asked === undefined) return [...listed];
  const d = DIGESTS[asked.toLowerCase()];
  if (d === undefined) throw new UsageError(`--digest: '${asked}' is not sha256 or sha384`);
  if (d === DigestType.SHA1 && !listed.includes(d)) {
    throw new UsageError(
      `--digest sha1: policy '${policy.name}' does not list SHA-1 (its parent.ds-digests: ${listed.map(digestName).join(', ')}); SHA-1 DS records are made only when the policy lists them (RFC 8624)`,
    );
  }
  return [d];
}

/** What may be submitted to the parent now, worked out from the zone's keys (OPS-3, DP-4.7a/b). */
export interface DsSubmission {
  /** The DS the parent holds as the state knows it: keys confirmed seen and not confirmed withdrawn. */
  readonly parent: readonly KeyRecord[];
  /** The DS set the parent should hold once this submission is done. */
  readonly wanted: readonly KeyRecord[];
  /** The update that turns `parent` into `wanted`: what may be submitted now. */
  readonly change: DsChange;
  /** From when the next change may be submitted, if one waits for time (null: none does). */
  readonly nextFrom: UnixSeconds | null;
  /** What to tell the operator: what to do now, or why there is nothing to submit. */
  readonly note: string;
}

export interface DsSubmissionInput {
  readonly policy: Policy;
  readonly keys: readonly KeyRecord[];
  readonly zone: ZoneFacts;
  readonly now: UnixSeconds;
  /** The zone is going insecure (DP-4.7b): every DS is to go. */
  readonly insecure: boolean;
}

/**
 * The DS submission a zone's keys allow at `now`: only what may be submitted now (a new
 * KSK's DS once its DNSKEY is known everywhere, an old DS once its successor's is), as the
 * update from the parent's DS set as the state knows it to the wanted one. When nothing may
 * be submitted, the note says so, and from when the next change may be.
 */
export function planDsSubmission(input: DsSubmissionInput): DsSubmission {
  const { keys, now, insecure } = input;
  const readyAfter = timings(input.policy, input.zone).publish;
  const parent = keys.filter(dsAtParent);
  const change = dsChange(keys, now, readyAfter, insecure);
  const wanted = [...parent.filter((k) => !change.remove.includes(k)), ...change.add];
  const tags = (ks: readonly KeyRecord[]): string => ks.map((k) => k.keyTag).join(', ');
  const what = (c: DsChange): string =>
    [c.add.length > 0 ? `submit DS ${tags(c.add)}` : '', c.remove.length > 0 ? `withdraw DS ${tags(c.remove)}` : ''].filter((x) => x !== '').join(' and ');
  if (change.add.length + change.remove.length > 0) {
    return {
      parent,
      wanted,
      change,
      nextFrom: null,
      note: `${what(change)} at the parent${insecure ? ' (going insecure, DP-4.7b)' : ''}; then confirm each (hms ds seen / hms ds withdraw ZONE --keytag N --ticket T)`,
    };
  }
  // nothing now: the first time a waiting key's DNSKEY is known everywhere and the change it allows
  const later = [...new Set(keys.flatMap((k) => (k.publish !== null && k.publish + readyAfter > now ? [k.publish + readyAfter] : [])))].sort((a, b) => a - b);
  for (const at of later) {
    const next = dsChange(keys, at, readyAfter, insecure);
    if (next.add.length + next.remove.length > 0) {
      return {
        parent,
        wanted,
        change,
        nextFrom: at,
        note: `nothing to submit now: from ${isoSeconds(at)}, ${what(next)} (once the new DNSKEY is known to every resolver)`,
      };
    }
  }
  return {
    parent,
    wanted,
    change,
    nextFrom: null,
    note: `nothing to submit now: the parent holds ${parent.length === 0 ? 'no DS' : `DS ${tags(parent)}`} as the state knows it, and no change is due`,
  };
}

/**
 * The records of a submission in `format`, for stdout: `ds` and `dnskey` list the keys to
 * add (a withdrawal alone prints nothing there), `epp` the whole update; empty when nothing
 * may be submitted now.
 */
export function formatDsSubmission(zone: Name, s: DsSubmission, format: DsFormat, digestTypes: readonly DigestTypeNumber[], dnskeyTtl: Seconds): string {
  const count = format === 'epp' ? s.change.add.length + s.change.remove.length : s.change.add.length;
  return count === 0 ? '' : exportDs(zone, s.change, format, digestTypes, dnskeyTtl);
}

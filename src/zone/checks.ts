import type { FindingCode } from '../common/error-codes.js';
import type { Name } from '../dns/name.js';
import { decodeSoa, targetName } from '../dns/rdata/extract.js';
import { DNSSEC_TYPES, RRType, typeToString } from '../dns/types.js';
import type { Finding, Severity } from './findings.js';
import type { RRset, Zone, ZoneNode } from './zone.js';

export interface CheckOptions {
  /** The zone is signed: DNSSEC records are expected, not an error. */
  readonly signed?: boolean;
  /** TTLs above this are reported (default one week). */
  readonly maxTtl?: number;
}

const ADDRESS_TYPES = new Set<number>([RRType.A, RRType.AAAA]);
/** Types that may stand beside a CNAME (RFC 2181 section 10.1, RFC 4035 section 2.5). */
const CNAME_COMPANIONS = new Set<number>([RRType.CNAME, RRType.RRSIG, RRType.NSEC]);

/**
 * Checks a zone and returns every finding (DP-2.8a, OPS-6): the apex SOA and NS, CNAME and
 * DNAME rules, data outside the zone or below a delegation, glue, DS placement, DNSSEC data
 * in unsigned input, TTL consistency and range, duplicates. Errors block publication;
 * warnings do not.
 */
export function checkZone(zone: Zone, options: CheckOptions = {}): Finding[] {
  const findings: Finding[] = [];
  const maxTtl = options.maxTtl ?? 604800;
  const origin = zone.origin;
  const add = (code: FindingCode, severity: Severity, owner: Name, set: RRset | undefined, message: string): void => {
    const rr = set?.records[0];
    findings.push({
      code,
      severity,
      owner: owner.toString(),
      message,
      ...(set === undefined ? {} : { type: typeToString(set.type) }),
      ...(rr === undefined ? {} : { file: rr.file, line: rr.line }),
    });
  };

  // The apex
  const soa = zone.soa;
  if (soa === undefined) {
    add('SOA_MISSING', 'error', origin, undefined, 'the zone has no SOA record at its apex');
  } else if (soa.records.length > 1) {
    add('SOA_MULTIPLE', 'error', origin, soa, `the apex has ${soa.records.length} SOA records; exactly one is allowed`);
  } else {
    checkSoaTimers(soa, origin, add);
  }
  const apexNs = zone.rrset(origin, RRType.NS);
  if (apexNs === undefined) add('NS_APEX_MISSING', 'error', origin, undefined, 'the apex has no NS records');

  // Walk in canonical order: everything below a name follows it directly, so one pass finds
  // delegations and what lies below them.
  const cuts: ZoneNode[] = [];
  let cut: ZoneNode | undefined;
  let dname: ZoneNode | undefined;
  const belowCut: { node: ZoneNode; cut: ZoneNode }[] = [];
  // with no CNAME in the zone, no target can be an alias
  const aliasRoles = new Map<number, string>(
    zone.types.has(RRType.CNAME)
      ? [
          [RRType.NS, 'name server'],
          [RRType.MX, 'mail exchange'],
          [RRType.SRV, 'SRV target'],
        ]
      : [],
  );
  for (const node of zone.nodes) {
    const name = node.name;
    const sets = node.rrsets;
    for (const set of sets) checkRRset(zone, set, maxTtl, aliasRoles, add);
    if (!name.isSubdomainOf(origin)) {
      for (const set of sets) add('OUT_OF_ZONE', 'error', name, set, `owner is outside the zone ${origin.toString()}`);
      continue;
    }
    if (cut !== undefined && !name.isSubdomainOf(cut.name)) cut = undefined;
    if (dname !== undefined && !name.isSubdomainOf(dname.name)) dname = undefined;
    if (cut !== undefined) {
      belowCut.push({ node, cut });
      continue;
    }
    if (dname !== undefined) {
      add('DNAME_WITH_CHILDREN', 'error', name, sets[0], `name lies below the DNAME at ${dname.name.toString()} (RFC 6672 section 2.4)`);
      continue;
    }
    const isApex = name.equals(origin);
    const ns = sets.find((s) => s.type === RRType.NS);
    if (ns !== undefined && !isApex) {
      cut = node;
      cuts.push(node);
      if (name.isWildcard) add('WILDCARD_NS', 'warning', name, ns, 'a wildcard owns NS records (RFC 4592 section 4.2)');
    }
    if (sets.some((s) => s.type === RRType.DNAME)) dname = node;
    checkNode(name, sets, isApex, ns !== undefined && !isApex, options, add);
  }

  // Name servers: every in-zone target needs addresses; below a cut they must be glue.
  const cutKeys = new Set(cuts.map((c) => c.name.key));
  const findCut = (target: Name): Name | undefined => {
    for (let n: Name | null = target; n !== null && !n.equals(origin); n = n.parent()) {
      if (cutKeys.has(n.key)) return n;
    }
    return undefined;
  };
  const glue = new Set<string>();
  const nsSets: RRset[] = [];
  if (apexNs !== undefined) nsSets.push(apexNs);
  for (const c of cuts) nsSets.push(c.rrsets.find((s) => s.type === RRType.NS)!);
  for (const ns of nsSets) {
    for (const rr of ns.records) {
      const target = targetName(RRType.NS, rr.rdata)!;
      if (!target.isSubdomainOf(origin)) continue;
      const hasAddress = zone.get(target)?.rrsets.some((s) => ADDRESS_TYPES.has(s.type)) ?? false;
      const targetCut = findCut(target);
      if (hasAddress) {
        if (targetCut !== undefined) glue.add(target.key);
        continue;
      }
      const where = { ...ns, records: [rr] };
      if (targetCut !== undefined) {
        add(
          'GLUE_MISSING',
          'error',
          ns.owner,
          where,
          `name server ${target.toString()} lies inside the delegation ${targetCut.toString()} but has no glue (A/AAAA)`,
        );
      } else {
        add('NS_TARGET_MISSING', 'error', ns.owner, where, `name server ${target.toString()} is inside the zone but has no A or AAAA records`);
      }
    }
  }
  const atCut = new Set<number>([RRType.NS, RRType.DS, RRType.RRSIG, RRType.NSEC]);
  for (const c of cuts) {
    for (const set of c.rrsets) {
      if (atCut.has(set.type) || (ADDRESS_TYPES.has(set.type) && glue.has(c.name.key))) continue;
      add('BELOW_CUT', 'error', c.name, set, 'data at a delegation point that is not NS, DS or glue');
    }
  }
  for (const { node, cut: c } of belowCut) {
    for (const set of node.rrsets) {
      if (ADDRESS_TYPES.has(set.type) && glue.has(node.name.key)) continue;
      add('BELOW_CUT', 'error', node.name, set, `data below the delegation point ${c.name.toString()} that is not glue`);
    }
  }

  // Duplicates
  for (const dup of zone.duplicates) {
    add(
      'DUPLICATE_RECORD',
      'warning',
      dup.owner,
      { owner: dup.owner, type: dup.type, records: [dup] },
      `duplicate of the record at ${dup.first.file}:${dup.first.line}; it is ignored`,
    );
  }

  findings.sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0));
  return findings;
}

type Add = (code: FindingCode, severity: Severity, owner: Name, set: RRset | undefined, message: string) => void;

/** Per RRset: NS, MX and SRV targets that are aliases; TTLs that differ or are too long. */
function checkRRset(zone: Zone, set: RRset, maxTtl: number, aliasRoles: ReadonlyMap<number, string>, add: Add): void {
  const records = set.records;
  const role = aliasRoles.get(set.type);
  if (role !== undefined) {
    for (const rr of records) {
      const target = targetName(set.type, rr.rdata)!;
      if (zone.rrset(target, RRType.CNAME) !== undefined) {
        add(
          'TARGET_IS_ALIAS',
          'warning',
          set.owner,
          { ...set, records: [rr] },
          `${role} ${target.toString()} is an alias (CNAME); RFC 2181 section 10.3 forbids it`,
        );
      }
    }
  }
  const firstTtl = records[0]!.ttl;
  if (records.length > 1 && records.some((r) => r.ttl !== firstTtl)) {
    const ttls = [...new Set(records.map((r) => r.ttl))];
    add('TTL_MISMATCH', 'warning', set.owner, set, `the records of this RRset have different TTLs (${ttls.join(', ')}); RFC 2181 section 5.2`);
  }
  const over = records.find((r) => r.ttl > maxTtl);
  if (over !== undefined) add('TTL_RANGE', 'warning', set.owner, { ...set, records: [over] }, `TTL ${over.ttl} is over ${maxTtl}`);
}

function checkNode(name: Name, sets: readonly RRset[], isApex: boolean, isCut: boolean, options: CheckOptions, add: Add): void {
  for (const set of sets) {
    if (set.type === RRType.SOA && !isApex) add('SOA_NOT_AT_APEX', 'error', name, set, 'an SOA record may stand only at the zone apex');
    if (set.type === RRType.DS && !isCut) {
      add(
        'DS_NOT_AT_CUT',
        'error',
        name,
        set,
        isApex ? 'a DS record belongs in the parent zone, not at this apex' : 'a DS record stands where there is no delegation (NS)',
      );
    }
    if (!options.signed && DNSSEC_TYPES.has(set.type)) {
      add('DNSSEC_IN_INPUT', 'error', name, set, `${typeToString(set.type)} records are made by the signer and must not be in the unsigned input`);
    }
  }
  const cname = sets.find((s) => s.type === RRType.CNAME);
  if (cname !== undefined) {
    if (cname.records.length > 1) add('CNAME_MULTIPLE', 'error', name, cname, `${cname.records.length} CNAME records at one name; only one is allowed`);
    const others = sets.filter((s) => !CNAME_COMPANIONS.has(s.type));
    if (others.length > 0) {
      add('CNAME_AND_OTHER', 'error', name, cname, `a CNAME cannot stand beside other data (${others.map((s) => typeToString(s.type)).join(', ')})`);
    }
  }
}

function checkSoaTimers(soa: RRset, origin: Name, add: Add): void {
  const f = decodeSoa(soa.records[0]!.rdata);
  const problems: string[] = [];
  if (f.retry >= f.refresh) problems.push(`retry (${f.retry}) is not below refresh (${f.refresh})`);
  if (f.expire <= f.refresh + f.retry) problems.push(`expire (${f.expire}) is not above refresh + retry`);
  if (problems.length > 0) add('SOA_TIMERS', 'warning', origin, soa, problems.join('; '));
}

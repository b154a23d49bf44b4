import type { UnixSeconds } from '../common/clock.js';
import type { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { serialGreater } from '../dns/serial.js';
import { TsigRcode } from '../dns/tsig.js';
import { RRType, typeToString } from '../dns/types.js';
import { verifyRRset } from '../dnssec/verify-answer.js';
import { checkNodata, checkNxdomain } from '../dnssec/verify-denial.js';
import { denialOf, fetchParentDs, isDsOf, rrsetOf } from './parent-ds.js';
import type { CheckName, Finding, MonitorIo, MonitorStatus, MonitorThresholds, Rec, Reply, Target, ZoneFacts } from './types.js';

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The worst of the states: CRITICAL, then WARNING, then UNKNOWN, then OK (as Nagios plugins rank them). */
export function worst(statuses: Iterable<MonitorStatus>): MonitorStatus {
  const rank: Record<MonitorStatus, number> = { OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3 };
  let w: MonitorStatus = 'OK';
  for (const s of statuses) if (rank[s] > rank[w]) w = s;
  return w;
}

/** WARNING past `warning`, CRITICAL past `critical` (a value that grows worse: lag, skew). */
function above(value: number, warning: number, critical: number): MonitorStatus {
  return value > critical ? 'CRITICAL' : value > warning ? 'WARNING' : 'OK';
}

/** A human duration: `3 d 4 h`, `12 min`, `40 s`. */
export function duration(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  const sign = seconds < 0 ? '-' : '';
  if (s >= 86400) return `${sign}${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  if (s >= 3600) return `${sign}${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 120) return `${sign}${Math.floor(s / 60)} min`;
  return `${sign}${s} s`;
}

/** The RRSIG expiration farthest in the past or nearest in the future among the records (RFC 4034 section 3.1.5). */
function earliestExpiration(records: readonly Rec[]): UnixSeconds | null {
  let earliest: number | null = null;
  for (const r of records) {
    if (r.type !== RRType.RRSIG || r.rdata.length < 12) continue;
    const e = ((r.rdata[8]! << 24) >>> 0) + (r.rdata[9]! << 16) + (r.rdata[10]! << 8) + r.rdata[11]!;
    if (earliest === null || e < earliest) earliest = e;
  }
  return earliest;
}

/** The NXDOMAIN question: a name below the apex no zone of ours holds. */
export function absentName(zone: Name, now: UnixSeconds): Name {
  return zone.child(`hms-monitor-${now.toString(36)}-nx`);
}

/**
 * The checks of one server of a zone (DP-2.9a-e): its SOA serial against the one published,
 * with the lag; SOA, NS and DNSKEY validated from the zone's DS; an NXDOMAIN and a NODATA
 * proven by their NSEC3 (or NSEC); the smallest RRSIG validity it serves (AXFR with the zone's
 * key where it allows it, else the answers asked); its clock, from the time in its TSIG-signed
 * answer. Never throws: what goes wrong is a finding naming the server.
 */
export async function checkServer(facts: ZoneFacts, target: Target, io: MonitorIo, now: () => UnixSeconds, t: MonitorThresholds): Promise<Finding[]> {
  const zone = facts.zone.toString();
  const findings: Finding[] = [];
  const add = (check: CheckName, status: MonitorStatus, message: string, value?: number): void => {
    findings.push({ zone, server: target.label, check, status, message, ...(value === undefined ? {} : { value }) });
  };
  const seen: Rec[] = [];
  const ask = async (name: Name, type: number): Promise<Reply> => {
    const r = await io.ask(target, name, type);
    seen.push(...r.answer, ...r.authority);
    return r;
  };

  // the SOA: it answers, with authority (else it is lame), and its serial (DP-2.9d)
  let soaReply: Reply;
  try {
    soaReply = await ask(facts.zone, RRType.SOA);
  } catch (e) {
    add('answer', 'CRITICAL', `no usable answer: ${reason(e)}`);
    return findings;
  }
  if (soaReply.rcode !== 0 || !soaReply.authoritative) {
    add('answer', 'CRITICAL', `lame: answers ${zone} SOA with rcode ${soaReply.rcode}${soaReply.authoritative ? '' : ', not authoritative'}`);
    return findings;
  }
  const soa = rrsetOf(soaReply.answer, facts.zone, RRType.SOA);
  let served: number;
  try {
    if (soa.rdatas.length !== 1) throw new Error(`${soa.rdatas.length} SOA records in the answer`);
    served = decodeSoa(soa.rdatas[0]!).serial;
  } catch (e) {
    add('answer', 'CRITICAL', `garbage: the SOA answer cannot be read (${reason(e)})`);
    return findings;
  }
  add('answer', 'OK', `answers with authority`);
  checkSerial(facts, served, now(), t, add);

  // SOA, NS and DNSKEY validated from the DS (DP-2.9b)
  const at = now();
  let dnskeys: readonly Uint8Array[] | undefined;
  try {
    const keyReply = await ask(facts.zone, RRType.DNSKEY);
    const ns = rrsetOf((await ask(facts.zone, RRType.NS)).answer, facts.zone, RRType.NS);
    const keys = rrsetOf(keyReply.answer, facts.zone, RRType.DNSKEY);
    const anchored = keys.rdatas.filter((k) => facts.anchors.some((ds) => isDsOf(facts.zone, k, ds)));
    const problems: string[] = [];
    if (anchored.length === 0) problems.push(`no DNSKEY served matches the zone's DS (${keys.rdatas.length} DNSKEY served)`);
    else {
      const v = verifyRRset(keys, facts.zone, anchored, at);
      if ('problem' in v) problems.push(v.problem);
      else dnskeys = keys.rdatas;
    }
    if (dnskeys !== undefined) {
      for (const set of [soa, ns]) {
        if (set.rdatas.length === 0) problems.push(`no ${typeToString(set.type)} in the answer`);
        const v = verifyRRset(set, facts.zone, dnskeys, at);
        if ('problem' in v) problems.push(v.problem);
      }
    }
    if (problems.length === 0) add('positive', 'OK', `SOA, NS and DNSKEY validate from the DS`);
    else add('positive', 'CRITICAL', `bogus: ${problems.join('; ')}`);
  } catch (e) {
    add('positive', 'CRITICAL', `SOA, NS and DNSKEY not checked: ${reason(e)}`);
  }

  // an NXDOMAIN and a NODATA, proven (DP-2.9c)
  if (dnskeys === undefined) add('negative', 'UNKNOWN', 'not checked: its DNSKEY RRset does not validate');
  else {
    const problems: string[] = [];
    try {
      const nx = absentName(facts.zone, at);
      const r = await ask(nx, RRType.A);
      if (r.rcode !== 3) problems.push(`${nx.toString()}/A: rcode ${r.rcode}, not NXDOMAIN`);
      else {
        const p = checkNxdomain(nx, facts.zone, denialOf(r.authority), dnskeys, at);
        if (p !== undefined) problems.push(`NXDOMAIN ${nx.toString()}: ${p}`);
      }
      const nodata = await ask(facts.zone, facts.nodataType);
      const type = typeToString(facts.nodataType);
      if (nodata.rcode !== 0 || nodata.answer.some((x) => x.type === facts.nodataType)) problems.push(`${zone}/${type}: rcode ${nodata.rcode}, not NODATA`);
      else {
        const p = checkNodata(facts.zone, facts.nodataType, facts.zone, denialOf(nodata.authority), dnskeys, at);
        if (p !== undefined) problems.push(`NODATA ${zone}/${type}: ${p}`);
      }
      if (problems.length === 0) add('negative', 'OK', `NXDOMAIN and NODATA proven (${type} at the apex)`);
      else add('negative', 'CRITICAL', `bogus: ${problems.join('; ')}`);
    } catch (e) {
      add('negative', 'CRITICAL', `NXDOMAIN and NODATA not checked: ${[...problems, reason(e)].join('; ')}`);
    }
  }

  // the smallest RRSIG validity it serves (DP-2.9a): the whole zone where it gives it
  let records: readonly Rec[] = seen;
  let how = 'in the answers asked';
  if (target.key !== undefined) {
    try {
      records = await io.transfer(target, facts.zone, target.key);
      how = `in its AXFR (${records.length} records)`;
    } catch (e) {
      how = `in the answers asked (no AXFR: ${reason(e)})`;
    }
  }
  const expires = earliestExpiration(records);
  if (expires === null) add('rrsig-validity', 'CRITICAL', `no RRSIG ${how}`);
  else {
    const left = expires - now();
    const status = left <= t.validityCritical ? 'CRITICAL' : left <= t.validityWarning ? 'WARNING' : 'OK';
    add('rrsig-validity', status, `the first RRSIG ${how} expires in ${duration(left)}${left <= 0 ? ' (expired)' : ''}`, left);
  }

  // its clock, from the time in its TSIG-signed answer (DP-2.9e)
  if (target.key !== undefined) await checkClock(facts, target, io, now, t, add);
  return findings;
}

function checkSerial(
  facts: ZoneFacts,
  served: number,
  now: UnixSeconds,
  t: MonitorThresholds,
  add: (c: CheckName, s: MonitorStatus, m: string, v?: number) => void,
): void {
  if (served === facts.serial) return add('serial', 'OK', `serves serial ${served}, the one published`, 0);
  if (serialGreater(served, facts.serial))
    return add('serial', 'WARNING', `serves serial ${served}, newer than the ${facts.serial} published here (another primary?)`);
  if (facts.signedAt === null) return add('serial', 'WARNING', `serves serial ${served}, not the ${facts.serial} published (when it was made is not known)`);
  const lag = Math.max(0, now - facts.signedAt);
  add(
    'serial',
    above(lag, t.serialLagWarning, t.serialLagCritical),
    `serves serial ${served}, not the ${facts.serial} published ${duration(lag)} ago (lag ${lag} s)`,
    lag,
  );
}

async function checkClock(
  facts: ZoneFacts,
  target: Target,
  io: MonitorIo,
  now: () => UnixSeconds,
  t: MonitorThresholds,
  add: (c: CheckName, s: MonitorStatus, m: string, v?: number) => void,
): Promise<void> {
  let r: Reply;
  const before = now();
  try {
    r = await io.ask(target, facts.zone, RRType.SOA, { tsig: target.key!, anyTime: true });
  } catch (e) {
    return add('clock', 'UNKNOWN', `its clock cannot be read: ${reason(e)}`);
  }
  const after = now();
  if (r.tsig === undefined) return add('clock', 'UNKNOWN', 'its clock cannot be read: the answer is not TSIG-signed');
  // with BADTIME the server signs with our time and gives its own in Other Data (RFC 8945 section 5.2.3)
  const od = r.tsig.otherData;
  const theirs =
    r.tsig.error === TsigRcode.BADTIME && od.length === 6
      ? od[0]! * 2 ** 40 + od[1]! * 2 ** 32 + ((od[2]! << 24) >>> 0) + (od[3]! << 16) + (od[4]! << 8) + od[5]!
      : r.tsig.timeSigned;
  // our time when it answered lies between the request and the answer: the skew is what falls outside that
  const skew = theirs > after ? theirs - after : theirs < before ? theirs - before : 0;
  add(
    'clock',
    above(Math.abs(skew), t.clockWarning, t.clockCritical),
    skew === 0
      ? `its clock agrees with ours (TSIG time ${theirs})`
      : `its clock is ${duration(Math.abs(skew))} ${skew > 0 ? 'ahead of' : 'behind'} ours (skew ${skew} s, from its TSIG${r.tsig.error === TsigRcode.BADTIME ? ' BADTIME' : ''} answer)`,
    skew,
  );
}

/**
 * The DS at the parent against the keys: each parent server's DS, validated, must match a key
 * the zone publishes (else the chain of trust is broken) and the keys the state records there.
 */
export async function checkParent(facts: ZoneFacts, io: MonitorIo, now: () => UnixSeconds): Promise<Finding[]> {
  const zone = facts.zone.toString();
  const findings: Finding[] = [];
  for (const server of facts.parent.servers) {
    const add = (status: MonitorStatus, message: string): void => void findings.push({ zone, server: server.label, check: 'parent-ds', status, message });
    let ds: Uint8Array[];
    try {
      ds = (await fetchParentDs((name, type) => io.ask(server, name, type), facts.zone, now())).ds;
    } catch (e) {
      add('CRITICAL', `the DS cannot be read and validated: ${reason(e)}`);
      continue;
    }
    const tags = (keys: readonly Uint8Array[]): string => keys.map((k) => String((k[0]! << 8) | k[1]!)).join(', ');
    const matching = ds.filter((r) => facts.parent.published.some((k) => isDsOf(facts.zone, k, r)));
    const foreign = ds.filter((r) => !matching.includes(r));
    const missing = facts.parent.atParent.filter((k) => !ds.some((r) => isDsOf(facts.zone, k, r)));
    if (ds.length === 0 && facts.parent.atParent.length === 0)
      add('OK', 'no DS (validated denial): the zone is not yet secure at the parent, as the state records');
    else if (ds.length === 0) add('CRITICAL', `no DS (validated denial), but the state records the DS of ${facts.parent.atParent.length} key(s) there`);
    else if (matching.length === 0) add('CRITICAL', `DS ${tags(ds)}: none matches a key the zone publishes; the chain of trust is broken`);
    else if (foreign.length > 0 || missing.length > 0)
      add(
        'WARNING',
        `DS ${tags(ds)}${foreign.length > 0 ? `; DS ${tags(foreign)} match no key of the zone` : ''}${missing.length > 0 ? `; ${missing.length} key(s) recorded at the parent are not there` : ''}`,
      );
    else add('OK', `DS ${tags(ds)} match the zone's keys`);
  }
  return findings;
}

/** Every check of one zone: each server (unresolved NS targets as findings), then the parent; bounded by `io`'s timeouts. */
export async function checkZone(facts: ZoneFacts, io: MonitorIo, now: () => UnixSeconds, t: MonitorThresholds): Promise<Finding[]> {
  const zone = facts.zone.toString();
  const unresolved: Finding[] = facts.unresolved.map((u) => ({ zone, server: u.label, check: 'answer', status: 'CRITICAL', message: u.problem }));
  const perServer = await Promise.all(facts.targets.map((target) => checkServer(facts, target, io, now, t)));
  return [...unresolved, ...perServer.flat(), ...(await checkParent(facts, io, now))];
}

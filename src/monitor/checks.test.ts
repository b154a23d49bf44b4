import { beforeAll, describe, expect, it } from 'vitest';
import { softwareKey } from '../../test/helpers/software-signer.js';
import { smallZone, zoneFromLines } from '../../test/helpers/zones.js';
import { formatRdata } from '../dns/rdata/index.js';
import { AlarmBoard, type AlarmEvent } from '../common/alarms.js';
import { TransferError } from '../common/errors.js';
import { Name } from '../dns/name.js';
import { makeTsigKey, TsigRcode } from '../dns/tsig.js';
import { RRType } from '../dns/types.js';
import { Algorithm, DigestType } from '../dnssec/algorithms.js';
import { makeDs } from '../dnssec/ds.js';
import { signZone, type Denial } from '../dnssec/sign-zone.js';
import { cmp, covers, nsec3Fields } from '../dnssec/verify-answer.js';
import type { Zone } from '../zone/zone.js';
import { checkParent, checkZone, worst } from './checks.js';
import { alarmKey, applyAlarms, pluginOutput, summarize } from './monitor.js';
import { DEFAULT_THRESHOLDS, type Finding, type MonitorIo, type Rec, type Reply, type Target, type ZoneFacts } from './types.js';

const APEX = Name.parse('example.com.');
const NOW = 1_800_000_000;
const DAY = 86400;
const KSK = softwareKey(Algorithm.ED25519, 'ksk');
const ZSK = softwareKey(Algorithm.ED25519, 'zsk');
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', 'c2VydmljZS10ZXN0LXNlY3JldC1mb3ItdHNpZy0zMi1v');
const SECONDARY: Target = { label: 'bind 192.0.2.53@53', address: '192.0.2.53', port: 53, key: KEY };
const T = DEFAULT_THRESHOLDS;

async function signedZone(serial: number, o: { expiration?: number; denial?: Denial } = {}): Promise<Zone> {
  return signZone(smallZone(APEX, serial, ['www 3600 IN A 192.0.2.80']), {
    keys: [KSK, ZSK],
    denial: o.denial ?? { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
    inception: NOW - 3600,
    expiration: o.expiration ?? NOW + 30 * DAY,
  });
}

const recs = (zone: Zone, owner: Name, type: number): Rec[] => {
  const set = zone.rrset(owner, type);
  const sigs = zone.rrset(owner, RRType.RRSIG)?.records.filter((r) => ((r.rdata[0]! << 8) | r.rdata[1]!) === type) ?? [];
  return [
    ...(set?.records.map((r) => ({ owner, type, ttl: r.ttl, rdata: r.rdata })) ?? []),
    ...sigs.map((r) => ({ owner, type: RRType.RRSIG, ttl: r.ttl, rdata: r.rdata })),
  ];
};

/** What an authoritative server answers from a signed zone: the RRset, or SOA and the NSEC3 (NSEC) proof. */
function authority(zone: Zone, name: Name, type: number): Reply {
  if (!name.isSubdomainOf(zone.origin)) return { rcode: 5, authoritative: false, answer: [], authority: [] };
  const soa = recs(zone, zone.origin, RRType.SOA);
  const nsec3 = [...zone.rrsets()].filter((s) => s.type === RRType.NSEC3);
  const nsec = [...zone.rrsets()].filter((s) => s.type === RRType.NSEC);
  const v3 = nsec3.map((s) => ({ owner: s.owner, own: s.owner.labels()[0]!.toLowerCase(), f: nsec3Fields(s.records[0]!.rdata) }));
  const matching = (n: Name): Rec[] => v3.filter((v) => v.own === v.f.hashOf(n)).flatMap((v) => recs(zone, v.owner, RRType.NSEC3));
  const covering = (n: Name): Rec[] =>
    v3
      .filter((v) => {
        const h = v.f.hashOf(n);
        return covers(cmp(v.own, h), cmp(h, v.f.nextText), cmp(v.f.nextText, v.own));
      })
      .flatMap((v) => recs(zone, v.owner, RRType.NSEC3));
  const nsecCovering = (n: Name): Rec[] =>
    nsec
      .filter((s) => {
        const next = Name.decode(s.records[0]!.rdata, 0, false).name;
        return covers(s.owner.compare(n), n.compare(next), next.compare(s.owner));
      })
      .flatMap((s) => recs(zone, s.owner, RRType.NSEC));
  if (zone.get(name) !== undefined) {
    const answer = recs(zone, name, type);
    if (answer.length > 0) return { rcode: 0, authoritative: true, answer, authority: [] };
    return { rcode: 0, authoritative: true, answer: [], authority: [...soa, ...(v3.length > 0 ? matching(name) : recs(zone, name, RRType.NSEC))] };
  }
  const proof =
    v3.length > 0
      ? [...matching(zone.origin), ...covering(name), ...covering(zone.origin.child('*'))]
      : [...nsecCovering(name), ...nsecCovering(zone.origin.child('*'))];
  return { rcode: 3, authoritative: true, answer: [], authority: [...soa, ...proof] };
}

interface Behaviour {
  zone?: Zone;
  /** Seconds its clock is off. */
  skew?: number;
  /** It answers a signed request off by more than the fudge with BADTIME (as BIND and Knot do). */
  badtime?: boolean;
  axfr?: boolean;
  edit?: (name: Name, type: number, reply: Reply) => Reply;
  fail?: Error;
}

/** A server that answers from a signed zone, as told. */
function io(servers: Record<string, Behaviour>, clock = (): number => NOW): MonitorIo {
  return {
    ask(target, name, type, o = {}) {
      const b = servers[target.label]!;
      if (b.fail !== undefined) return Promise.reject(b.fail);
      let reply = authority(b.zone!, name, type);
      if (b.edit !== undefined) reply = b.edit(name, type, reply);
      if (o.tsig !== undefined) {
        const theirs = clock() + (b.skew ?? 0);
        const badtime = b.badtime === true && Math.abs(b.skew ?? 0) > 300;
        const od = new Uint8Array(6);
        new DataView(od.buffer).setUint16(0, Math.floor(theirs / 2 ** 32));
        new DataView(od.buffer).setUint32(2, theirs >>> 0);
        reply = badtime
          ? { rcode: 9, authoritative: false, answer: [], authority: [], tsig: { timeSigned: clock(), error: TsigRcode.BADTIME, otherData: od } }
          : { ...reply, tsig: { timeSigned: theirs, error: 0, otherData: new Uint8Array(0) } };
      }
      return Promise.resolve(reply);
    },
    transfer(target) {
      const b = servers[target.label]!;
      if (b.axfr !== true) return Promise.reject(new TransferError(`${target.label}: AXFR answered with rcode 5`));
      const all: Rec[] = [];
      for (const s of b.zone!.rrsets()) for (const r of s.records) all.push({ owner: s.owner, type: s.type, ttl: r.ttl, rdata: r.rdata });
      return Promise.resolve(all);
    },
  };
}

let published: Zone;
let older: Zone;

function facts(targets: readonly Target[], signedAt = NOW - 60): ZoneFacts {
  return {
    zone: APEX,
    serial: 2026120602,
    signedAt,
    anchors: [makeDs(APEX, KSK.signer.dnskey, DigestType.SHA256)],
    nodataType: RRType.RP,
    targets,
    unresolved: [],
    parent: { servers: [], published: [KSK.signer.dnskey, ZSK.signer.dnskey], atParent: [] },
  };
}

const byCheck = (findings: readonly Finding[], server = SECONDARY.label): Record<string, Finding> =>
  Object.fromEntries(findings.filter((f) => f.server === server).map((f) => [f.check, f]));

beforeAll(async () => {
  published = await signedZone(2026120602);
  older = await signedZone(2026120601);
});

describe('the monitor of a secondary (issue 19 item 1)', () => {
  it('DP-2.9a DP-2.9b DP-2.9c DP-2.9d DP-2.9e a secondary serving the published zone is OK on every check, each naming it', async () => {
    const findings = await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, axfr: true } }), () => NOW, T);
    const c = byCheck(findings);
    expect(Object.keys(c).sort()).toEqual(['answer', 'clock', 'negative', 'positive', 'rrsig-validity', 'serial']);
    for (const f of findings) expect(f, f.message).toMatchObject({ status: 'OK', zone: 'example.com.', server: SECONDARY.label });
    expect(c.serial!.value).toBe(0);
    expect(c['rrsig-validity']!.message).toMatch(/in its AXFR \(\d+ records\) expires in 30 d/);
    expect(c['rrsig-validity']!.value).toBe(30 * DAY);
    expect(c.clock!.value).toBe(0);
    expect(c.negative!.message).toMatch(/NXDOMAIN and NODATA proven/);
  });

  it('DP-2.9c DP-2.9b an NSEC-signed zone is proven and validated too', async () => {
    const nsecZone = await signedZone(2026120602, { denial: { kind: 'nsec' } });
    const c = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: nsecZone } }), () => NOW, T));
    expect(c.negative).toMatchObject({ status: 'OK' });
    expect(c.positive).toMatchObject({ status: 'OK' });
  });

  it('DP-2.9d an old serial is a WARNING with the lag since the published one was made, CRITICAL past the larger threshold', async () => {
    const warn = byCheck(await checkZone(facts([SECONDARY], NOW - 4000), io({ [SECONDARY.label]: { zone: older } }), () => NOW, T));
    expect(warn.serial).toMatchObject({ status: 'WARNING', value: 4000 });
    expect(warn.serial!.message).toMatch(/serves serial 2026120601, not the 2026120602 published 1 h 6 min ago \(lag 4000 s\)/);
    const crit = byCheck(await checkZone(facts([SECONDARY], NOW - 7 * 3600), io({ [SECONDARY.label]: { zone: older } }), () => NOW, T));
    expect(crit.serial).toMatchObject({ status: 'CRITICAL', value: 7 * 3600 });
    // just published: the lag is within the warning threshold
    const fresh = byCheck(await checkZone(facts([SECONDARY], NOW - 30), io({ [SECONDARY.label]: { zone: older } }), () => NOW, T));
    expect(fresh.serial).toMatchObject({ status: 'OK', value: 30 });
  });

  it('DP-2.9b a tampered signature or a DNSKEY set the DS does not reach is CRITICAL, bogus', async () => {
    const tamper = (name: Name, type: number, reply: Reply): Reply => ({
      ...reply,
      answer: reply.answer.map((r) =>
        r.type === RRType.RRSIG && type === RRType.SOA ? { ...r, rdata: Uint8Array.from(r.rdata).fill(0x55, r.rdata.length - 8) } : r,
      ),
    });
    const c = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, edit: tamper } }), () => NOW, T));
    expect(c.positive).toMatchObject({ status: 'CRITICAL' });
    expect(c.positive!.message).toMatch(/^bogus: example\.com\.\/SOA: RRSIG \d+ does not verify/);

    const strange = await signZone(smallZone(APEX, 2026120602), {
      keys: [softwareKey(Algorithm.ED25519, 'csk')],
      denial: { kind: 'nsec' },
      inception: NOW - 3600,
      expiration: NOW + 30 * DAY,
    });
    const d = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: strange } }), () => NOW, T));
    expect(d.positive!.message).toMatch(/bogus: no DNSKEY served matches the zone's DS/);
    expect(d.negative).toMatchObject({ status: 'UNKNOWN' });
  });

  it('DP-2.9c a negative answer without its NSEC3 proof, or a name that should not exist answered, is CRITICAL', async () => {
    const strip = (_n: Name, _t: number, reply: Reply): Reply => ({ ...reply, authority: reply.authority.filter((r) => r.type !== RRType.NSEC3) });
    const c = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, edit: strip } }), () => NOW, T));
    expect(c.negative).toMatchObject({ status: 'CRITICAL' });
    expect(c.negative!.message).toMatch(/NXDOMAIN hms-monitor-\S+\.example\.com\.: no NSEC or NSEC3 proves/);
    expect(c.negative!.message).toMatch(/NODATA example\.com\.\/RP: no NSEC or NSEC3 proves/);
    // a wildcard-like answer to the name that is not there
    const answered = (n: Name, t: number, reply: Reply): Reply => (t === RRType.A && reply.rcode === 3 ? { ...reply, rcode: 0 } : reply);
    const w = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, edit: answered } }), () => NOW, T));
    expect(w.negative!.message).toMatch(/rcode 0, not NXDOMAIN/);
    // the closest encloser's NSEC3 left out of the NXDOMAIN proof
    const apexHash = nsec3Fields(published.rrset([...published.rrsets()].find((r) => r.type === RRType.NSEC3)!.owner, RRType.NSEC3)!.records[0]!.rdata).hashOf(
      APEX,
    );
    const noEncloser = (n: Name, t: number, reply: Reply): Reply =>
      reply.rcode === 3 ? { ...reply, authority: reply.authority.filter((r) => r.owner.labels()[0]!.toLowerCase() !== apexHash) } : reply;
    const x = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, edit: noEncloser } }), () => NOW, T));
    expect(x.negative).toMatchObject({
      status: 'CRITICAL',
      message: expect.stringMatching(/NXDOMAIN \S+: no NSEC3 matches a closest encloser|NXDOMAIN \S+: no NSEC or NSEC3 proves/) as unknown,
    });
    expect(x.negative).toMatchObject({ status: 'CRITICAL' });
  });

  it('DP-2.9a signatures running out warn, then are critical; without AXFR the answers asked are measured', async () => {
    const soon = await signedZone(2026120602, { expiration: NOW + 5 * DAY });
    const w = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: soon, axfr: true } }), () => NOW, T));
    expect(w['rrsig-validity']).toMatchObject({ status: 'WARNING', value: 5 * DAY });
    const sooner = await signedZone(2026120602, { expiration: NOW + DAY });
    const c = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: sooner } }), () => NOW, T));
    expect(c['rrsig-validity']).toMatchObject({ status: 'CRITICAL', value: DAY });
    expect(c['rrsig-validity']!.message).toMatch(/in the answers asked \(no AXFR: bind 192\.0\.2\.53@53: AXFR answered with rcode 5\) expires in 1 d 0 h/);
  });

  it('DP-2.9e a clock two hours off is CRITICAL with the skew, from a signed answer or a BADTIME one; a small one is OK', async () => {
    for (const badtime of [false, true]) {
      const c = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, skew: 7200, badtime } }), () => NOW, T));
      expect(c.clock, String(badtime)).toMatchObject({ status: 'CRITICAL', value: 7200 });
      expect(c.clock!.message).toMatch(/its clock is 2 h 0 min ahead of ours \(skew 7200 s/);
    }
    const behind = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, skew: -45 } }), () => NOW, T));
    expect(behind.clock).toMatchObject({ status: 'WARNING', value: -45 });
    const fine = byCheck(await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, skew: 2 } }), () => NOW, T));
    expect(fine.clock).toMatchObject({ status: 'OK', value: 2 });
  });

  it('a server that does not answer, answers garbage, or is lame is one CRITICAL finding naming it, never a throw', async () => {
    const down = await checkZone(
      facts([SECONDARY]),
      io({ [SECONDARY.label]: { fail: new TransferError('192.0.2.53:53: no answer over UDP within 3000 ms') } }),
      () => NOW,
      T,
    );
    expect(down).toEqual([
      {
        zone: 'example.com.',
        server: SECONDARY.label,
        check: 'answer',
        status: 'CRITICAL',
        message: 'no usable answer: 192.0.2.53:53: no answer over UDP within 3000 ms',
      },
    ]);
    const lame = await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: smallZone('example.org.', 1) } }), () => NOW, T);
    expect(lame).toMatchObject([{ check: 'answer', status: 'CRITICAL', message: 'lame: answers example.com. SOA with rcode 5, not authoritative' }]);
    const garbage = (n: Name, t: number, reply: Reply): Reply => ({
      ...reply,
      answer: reply.answer.map((r) => (r.type === RRType.SOA ? { ...r, rdata: Uint8Array.of(1, 2, 3) } : r)),
    });
    const g = await checkZone(facts([SECONDARY]), io({ [SECONDARY.label]: { zone: published, edit: garbage } }), () => NOW, T);
    expect(g).toMatchObject([{ check: 'answer', status: 'CRITICAL', message: expect.stringMatching(/^garbage: the SOA answer cannot be read/) as unknown }]);
    // every other server is still checked
    const other: Target = { label: 'ns2.example.com. 192.0.2.2@53', address: '192.0.2.2', port: 53 };
    const both = await checkZone(
      facts([SECONDARY, other]),
      io({ [SECONDARY.label]: { fail: new TransferError('down') }, [other.label]: { zone: published } }),
      () => NOW,
      T,
    );
    expect(both.filter((f) => f.server === other.label && f.status === 'OK').map((f) => f.check)).toEqual([
      'answer',
      'serial',
      'positive',
      'negative',
      'rrsig-validity',
    ]);
  });

  it('the plugin output, perfdata and state, and the alarms raised once and cleared when fixed', async () => {
    const bad = await checkZone(facts([SECONDARY], NOW - 4000), io({ [SECONDARY.label]: { zone: older, skew: 7200 } }), () => NOW, T);
    const run = summarize(NOW, bad);
    expect(run.status).toBe('CRITICAL');
    const text = pluginOutput(run, T);
    expect(text.split('\n')[0]).toMatch(
      /^HMS MONITOR CRITICAL - example\.com\. bind 192\.0\.2\.53@53 clock: its clock is 2 h 0 min ahead of ours .* \| serial_lag=4000s;1800;21600 rrsig_min_validity=2592000s;604800:;172800: clock_skew=7200s;-30:30;-300:300$/,
    );
    expect(text).toMatch(/\nWARNING example\.com\. bind 192\.0\.2\.53@53 serial: serves serial 2026120601/);
    expect(worst(['OK', 'UNKNOWN', 'WARNING'])).toBe('WARNING');
    expect(summarize(NOW, []).status).toBe('UNKNOWN');

    const events: AlarmEvent[] = [];
    let now = NOW;
    const board = new AlarmBoard(
      [{ name: 'test', deliver: (e) => (events.push(e), Promise.resolve()) }],
      () => now,
      () => undefined,
    );
    applyAlarms(run, board);
    applyAlarms(run, board);
    expect(events.map((e) => [e.state, e.alarm.key, e.alarm.severity])).toEqual([
      ['raised', `monitor.serial/example.com./${SECONDARY.label}`, 'warning'],
      ['raised', `monitor.clock/example.com./${SECONDARY.label}`, 'critical'],
    ]);
    now += 300;
    const good = summarize(
      now,
      await checkZone(
        facts([SECONDARY]),
        io({ [SECONDARY.label]: { zone: published } }, () => now),
        () => now,
        T,
      ),
    );
    applyAlarms(good, board);
    expect(events.slice(2).map((e) => [e.state, e.alarm.key, e.raisedFor])).toEqual([
      ['cleared', alarmKey(bad.find((f) => f.check === 'serial')!), 300],
      ['cleared', alarmKey(bad.find((f) => f.check === 'clock')!), 300],
    ]);
    expect(board.active()).toEqual([]);
  });

  it("the DS at the parent, validated from the parent's DNSKEY, against the keys: matching, none of ours (broken chain), none at all", async () => {
    const parentKey = softwareKey(Algorithm.ED25519, 'csk');
    const parentZone = async (ds: readonly Uint8Array[]): Promise<Zone> =>
      signZone(
        zoneFromLines('com.', [
          '@ 3600 IN SOA a.gtld hostmaster 1 7200 900 2592000 300',
          '@ 3600 IN NS a.gtld',
          'a.gtld 3600 IN A 192.0.2.9',
          'example 3600 IN NS ns1.example',
          'ns1.example 3600 IN A 192.0.2.1',
          ...ds.map((d) => `example 3600 IN DS ${formatRdata(RRType.DS, d)}`),
        ]),
        {
          keys: [parentKey],
          denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
          inception: NOW - 3600,
          expiration: NOW + 30 * DAY,
        },
      );
    const parent: Target = { label: 'parent 192.0.2.9@53', address: '192.0.2.9', port: 53 };
    const withParent = (atParent: Uint8Array[]): ZoneFacts => ({
      ...facts([]),
      parent: { servers: [parent], published: [KSK.signer.dnskey, ZSK.signer.dnskey], atParent },
    });
    const ours = makeDs(APEX, KSK.signer.dnskey, DigestType.SHA256);
    const foreign = makeDs(APEX, softwareKey(Algorithm.ED25519, 'ksk').signer.dnskey, DigestType.SHA256);
    const at = async (ds: Uint8Array[], atParent: Uint8Array[]): Promise<Finding[]> =>
      checkParent(withParent(atParent), io({ [parent.label]: { zone: await parentZone(ds) } }), () => NOW);
    expect(await at([ours], [KSK.signer.dnskey])).toMatchObject([
      { server: parent.label, check: 'parent-ds', status: 'OK', message: `DS ${KSK.signer.keyTag} match the zone's keys` },
    ]);
    expect(await at([ours, foreign], [KSK.signer.dnskey])).toMatchObject([
      { status: 'WARNING', message: expect.stringMatching(/match no key of the zone/) as unknown },
    ]);
    expect(await at([foreign], [KSK.signer.dnskey])).toMatchObject([
      { status: 'CRITICAL', message: expect.stringMatching(/none matches a key the zone publishes; the chain of trust is broken/) as unknown },
    ]);
    expect(await at([], [])).toMatchObject([{ status: 'OK', message: expect.stringMatching(/^no DS \(validated denial\)/) as unknown }]);
    expect(await at([], [KSK.signer.dnskey])).toMatchObject([
      { status: 'CRITICAL', message: expect.stringMatching(/but the state records the DS of 1 key/) as unknown },
    ]);
    // a parent server that answers a forged DS
    const forged = (n: Name, t: number, reply: Reply): Reply => ({
      ...reply,
      answer: reply.answer.map((r) => (r.type === RRType.DS ? { ...r, rdata: foreign } : r)),
    });
    const bogus = await checkParent(withParent([KSK.signer.dnskey]), io({ [parent.label]: { zone: await parentZone([ours]), edit: forged } }), () => NOW);
    expect(bogus).toMatchObject([
      { status: 'CRITICAL', message: expect.stringMatching(/the DS cannot be read and validated: the DS RRset does not validate/) as unknown },
    ]);
  });
});

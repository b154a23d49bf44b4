import type { UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { nextSerial, serialGreater } from '../dns/serial.js';
import { DNSSEC_TYPES, RRType } from '../dns/types.js';
import { makeDs } from '../dnssec/ds.js';
import { withSoaFields, type Denial, type SignProgress, type SignSummary, type SignZoneOptions } from '../dnssec/sign-zone.js';
import type { SigningKey } from '../dnssec/signer.js';
import { childDs, childDsAsIs, type ChildDs } from '../enforcer/child-ds.js';
import { keysAt, type KeyRecord } from '../enforcer/keys.js';
import { timings } from '../enforcer/timing.js';
import { policySigning } from '../enforcer/zone-facts.js';
import type { Urgency } from '../hsm/fair-queue.js';
import type { SigningLane, SigningPool } from '../hsm/sign-pool.js';
import type { Token } from '../hsm/token.js';
import type { Presigned } from '../dnssec/presign.js';
import { findKeys, hsmSigner, withAlgorithm } from '../hsm/keys.js';
import { checkZone } from '../zone/checks.js';
import { hasErrors, ZoneCheckError } from '../zone/findings.js';
import type { Acting, Keeper } from './keeper.js';
import { AtomicZoneFile } from '../storage/zone-files.js';
import { printNode } from '../zone/print.js';
import { ServedFileWriter, servedFileOf, type ServedFile } from '../storage/served-file.js';
import type { ZoneVersion } from '../zone/version.js';
import type { RRsetView, Zone } from '../zone/zone.js';
import { editZone, loadZoneFile, type ZoneEdit } from './load-zone.js';
import type { AheadOptions } from './read-ahead.js';
import { signZoneToFile } from './sign-file.js';

export interface SignedVersion extends SignSummary {
  readonly zone: string;
  readonly serial: number;
  readonly out: string;
  readonly keys: readonly { readonly role: string; readonly keyTag: number; readonly signs: string }[];
  /** `signed`, or `unsigned` once the zone has gone insecure (DP-4.7b). */
  readonly status: 'signed' | 'unsigned';
  /** CDS/CDNSKEY DELETE published (going insecure, RFC 8078 section 4). */
  readonly cdsDelete: boolean;
  /** The DS of child zones signed here, as this version holds them (DP-4.6a/b). */
  readonly children: readonly ChildDsReport[];
}

export interface ChildDsReport {
  readonly zone: string;
  readonly keyTags: readonly number[];
  readonly seen: readonly number[];
  readonly withdrawn: readonly number[];
  /** The child's DS changes were held back: the person signing is not authorised for the child (DP-4.6c). */
  readonly heldBack: boolean;
}

export interface SignManagedOptions {
  /**
   * May the one signing change the DS of this child zone (DP-4.6c)? Default: yes (the
   * service acts on the child's own key events). The CLI asks the access table.
   */
  readonly mayChangeChildDs?: (child: string) => boolean;
  /** The zone's input as the caller has just read from `file` and checked (checkZone, no errors); used when it is the zone's input file, else the input is read. */
  readonly input?: { readonly file: string; readonly zone: Zone };
  /**
   * Given the signed version as written, in its compact file beside `out` (a signed version
   * only; storage/served-file.ts), so that a caller serving it need not read the file back.
   * The caller owns the hold on it (ServedFile.release).
   */
  readonly written?: (version: ServedFile) => void;
  /**
   * The serial of the version served now (the signed file on disk), if any: the new serial
   * follows it as well as the state's, should the file ever be ahead of the state.
   */
  readonly served?: number | null;
  /**
   * The signed version served now: with a policy whose `signatures.refresh` is a duration,
   * its signatures that have more than that left over what did not change are kept.
   */
  readonly previous?: ZoneVersion;
  /** Told how far the signing has got (SignZoneOptions.progress). */
  readonly progress?: (progress: SignProgress) => void;
  /** How urgent this run's signatures are in the token's shared signing pool (default `requested`; see FairQueue). */
  readonly urgency?: Urgency;
  /** Why the zone is no longer to be signed, if it is not (removed from the service meanwhile): the run ends before any signature. */
  readonly dropped?: () => string | undefined;
  /**
   * The run's signing set up before its input was read (signingAhead), and the signatures
   * made ahead while it was read: its lane and keys are used, and it is closed here.
   */
  readonly ahead?: { readonly run: SigningAhead; readonly presigned: Presigned };
}

/** A run's signing, set up before its input is read so that the input is signed ahead as it is read (readSigningAhead). */
export interface SigningAhead {
  /** What the read signs ahead with: the keys that sign the zone data now, the policy's times. */
  readonly options: AheadOptions;
  readonly token: Token;
  /** The run's lane in the token's shared pool. */
  readonly lane: SigningLane;
  /** The signers of `options.keys`, by key record id (signManagedZone takes them for the keys that sign in the end). */
  readonly keys: ReadonlyMap<string, SigningKey>;
  /** The lane is ended (once; signManagedZone does it, and a run that fails before calls it). */
  close(): void;
}

/**
 * Sets up the signing of a run of a managed zone before its input is read, as signManagedZone
 * will sign at `at` unless a due key event changes its keys: the lane in the token's pool, the
 * keys that sign the zone data as the key records stand, the times as the policy says. None
 * for a zone not managed yet or without such a key, with a policy that keeps signatures
 * (`signatures.refresh` a duration: most are not made again), or when the HSM cannot be used
 * now (the run's signing step reports that). Never throws.
 */
export async function signingAhead(keeper: Keeper, zoneName: string, at: UnixSeconds, urgency: () => Urgency): Promise<SigningAhead | undefined> {
  let pool: SigningPool | undefined;
  let lane: SigningLane | undefined;
  try {
    const zone = keeper.store.getZone(zoneName);
    if (zone === undefined) return undefined;
    const policy = keeper.policy(zone.policy);
    if (policy.signatures.refresh !== 'always') return undefined;
    const view = keysAt(keeper.keys(zone), at);
    const data = view.dnskeys.filter((k) => view.dataSigners.includes(k));
    if (data.length === 0) return undefined;
    const token = keeper.hsm();
    pool = await token.startSigningThreads();
    const inHsm = new Map(findKeys(token, Name.parse(zone.name)).map((k) => [k.id.toString('hex'), k]));
    const open = (lane = pool.lane(zone.name, urgency()));
    const keys = new Map<string, SigningKey>();
    for (const record of data) {
      const key = inHsm.get(record.id);
      if (key === undefined) continue;
      const role = view.dnskeySigners.includes(record) ? 'csk' : 'zsk';
      keys.set(record.id, { signer: hsmSigner(token, withAlgorithm(key, record.algorithm), open), role });
    }
    const inception = at - policy.signatures.inceptionOffset;
    let closed = false;
    return {
      options: { times: { inception, expiration: inception + policy.signatures.validity, jitter: policy.signatures.jitter }, keys: [...keys.values()] },
      token,
      lane: open,
      keys,
      close: () => {
        if (closed) return;
        closed = true;
        for (const k of keys.values()) k.signer.release?.();
        pool!.endLane(open);
      },
    };
  } catch {
    if (lane !== undefined) pool!.endLane(lane);
    return undefined;
  }
}

/**
 * Signs a managed zone as its policy and its keys say at `acting.at` (the zone pipeline's
 * sign step): the planner's due actions first, then the input read and checked, every
 * published DNSKEY in the DNSKEY RRset, the keys that sign now signing, the SOA fields and
 * TTLs the policy forces, NSEC3 with the zone's current salt, CDS/CDNSKEY for the keys whose
 * DS the parent should hold (when the policy publishes them; DELETE while going insecure),
 * the DS of its child zones managed here, and the serial moved on. The result is verified
 * as it is written and replaces `out` only when nothing is wrong. A zone that has gone
 * insecure is written unsigned. Child DS that enter or leave with this version are recorded
 * seen or withdrawn once it is written (DP-4.6a/b), each with its audit record.
 */
export async function signManagedZone(keeper: Keeper, zoneName: string, acting: Acting, out: string, options: SignManagedOptions = {}): Promise<SignedVersion> {
  // the keys the plan makes are made (or taken from the key pool) off the event loop first
  await keeper.prepareKeys(zoneName, acting.at);
  const p = keeper.enforce(zoneName, acting);
  const zone = keeper.zone(zoneName);
  const policy = keeper.policy(zone.policy);
  const origin = Name.parse(zone.name);
  const now = acting.at;
  const children = childrenDs(keeper, zone.name, now, options.mayChangeChildDs ?? (() => true));
  const given = options.input?.file === zone.input ? options.input.zone : undefined;
  const input =
    given === undefined
      ? loadZoneFile(zone.input, origin, children.edit, keeper.config.service.zoneInput)
      : children.edit === undefined
        ? given
        : editZone(given, children.edit);
  // the caller's zone was checked as it was read; a zone read or edited here is checked now
  if (input !== given) {
    const findings = checkZone(input);
    if (hasErrors(findings)) throw new ZoneCheckError(zone.name, findings);
  }
  const inputSerial = decodeSoa(input.soa!.records[0]!.rdata).serial;
  // after every serial recorded and the one served: a serial is never used for two versions
  const serial = nextSerial(policy.soa.serial, latestSerial(zone.lastSerial ?? inputSerial, options.served ?? null), now);
  // the SOA fields and TTLs the policy forces: the same as the zone's facts (timings) assume
  const forced = policySigning(policy);
  const soa = forced.soa;
  // The serial and the time are recorded, in a transaction of their own, before the file that
  // carries them takes the place of `out`: a crash in between leaves the state's serial ahead
  // of the one on disk (the next version moves past it), never behind one that may be served.
  const reserve = (what: string) => (): void => {
    keeper.store.updateZone(
      zone.name,
      { lastSerial: serial, lastSigned: now },
      { actor: acting.who.user, ticket: acting.ticket, comment: acting.comment ?? `${what}, serial ${serial}, to be written to ${out}`, at: now },
    );
  };
  // the child DS that entered or left with this version, once it is written
  const record = (): void => {
    keeper.store.transaction(() => recordChildren(keeper, zone.name, serial, children.reports, acting));
    // a child whose DS moved goes on with its roll (the old key's removal scheduled, audited)
    for (const c of children.reports) if (c.ds.seen.length + c.ds.withdrawn.length > 0) keeper.enforce(c.zone, acting);
  };

  if (p.status === 'unsigned') {
    options.ahead?.run.close();
    writeUnsigned(input, serial, soa, out, reserve('unsigned (insecure, DP-4.7b)'));
    record();
    return {
      nodes: input.nodes.length,
      records: input.recordCount,
      signatures: 0,
      zone: zone.name,
      serial,
      out,
      keys: [],
      status: 'unsigned',
      cdsDelete: false,
      children: children.reports.map((c) => c.report),
    };
  }

  const records = keeper.keys(zone);
  const view = keysAt(records, now);
  const token = keeper.hsm();
  // the token's one pool, every zone's signatures in it; this run's in a lane of its own
  const pool = await token.startSigningThreads();
  // set up before the input was read (on this token: not reset since)
  const ahead = options.ahead?.run.token === token ? options.ahead : undefined;
  if (ahead === undefined) options.ahead?.run.close();
  const inHsm = new Map(findKeys(token, origin).map((k) => [k.id.toString('hex'), k]));
  const signing: { record: KeyRecord; role: SigningKey['role'] }[] = [];
  for (const k of view.dnskeys) {
    const dnskey = view.dnskeySigners.includes(k);
    const data = view.dataSigners.includes(k);
    if (dnskey || data) signing.push({ record: k, role: dnskey && data ? 'csk' : dnskey ? 'ksk' : 'zsk' });
  }
  if (!signing.some((k) => k.role !== 'zsk') || !signing.some((k) => k.role !== 'ksk')) {
    throw new SignerError(
      'DNSSEC',
      `zone ${zone.name}: no key signs the ${signing.some((k) => k.role !== 'zsk') ? 'zone data' : 'DNSKEY RRset'} at ${new Date(now * 1000).toISOString()}`,
    );
  }

  const denial: Denial =
    policy.denial.type === 'nsec'
      ? { kind: 'nsec' }
      : { kind: 'nsec3', iterations: policy.denial.iterations, salt: Buffer.from(zone.saltHex ?? '', 'hex'), optOut: policy.denial.optOut };
  const ready = timings(policy, keeper.facts(zone)).publish;
  // the DS the parent should hold: a successor's once it is known everywhere (or its DS is there), else the current key's
  const ksks = view.dnskeySigners;
  const known = (k: KeyRecord): boolean => k.dsSeen !== null || (k.publish !== null && now >= k.publish + ready);
  const cdsKeys = ksks.filter((k) => !ksks.some((n) => n.successorOf === k.id && known(n)) && (k.successorOf === null || known(k)));
  const cdsDelete = p.status === 'going-insecure';
  const inception = now - policy.signatures.inceptionOffset;

  let summary: SignSummary & { readonly served?: ServedFile };
  let keys: SigningKey[] = [];
  const lane = ahead?.run.lane ?? pool.lane(zone.name, options.urgency ?? 'requested');
  // removed while it read its input or waited for the pool: the lane is dropped before its first request
  const dropped = options.dropped?.();
  if (dropped !== undefined) lane.dropped ??= new SignerError('USAGE', dropped);
  try {
    keys = signing.map(({ record, role }) => {
      // the signer that signed ahead, when it signs in the end as it was expected to
      const given = ahead?.run.keys.get(record.id);
      if (given !== undefined && given.role === role && given.signer.algorithm === record.algorithm) return given;
      const key = inHsm.get(record.id);
      // keys() found it a moment ago: the token changed in between (another process, a reset)
      if (key === undefined)
        throw new SignerError(
          'HSM',
          `zone ${zone.name}: ${record.role.toUpperCase()} ${record.keyTag} (id ${record.id}) is recorded but no longer found in ${token.where}`,
        );
      return { signer: hsmSigner(token, withAlgorithm(key, record.algorithm), lane), role };
    });
    summary = await signZoneToFile(
      input,
      {
        keys,
        dnskeys: view.dnskeys.map((k) => k.dnskey),
        dnskeyTtl: forced.dnskeyTtl,
        nsec3paramTtl: forced.nsec3paramTtl,
        denial,
        inception,
        expiration: inception + policy.signatures.validity,
        serial,
        soa,
        // the input is read for this run only: its names are let go as they are signed
        consume: true,
        ...(policy.signatures.jitter > 0 ? { jitter: policy.signatures.jitter } : {}),
        ...(policy.signatures.refresh !== 'always' && options.previous !== undefined
          ? { keep: { previous: options.previous, refresh: policy.signatures.refresh, now } }
          : {}),
        ...(options.progress === undefined ? {} : { progress: options.progress }),
        ...(ahead === undefined ? {} : { presigned: ahead.presigned }),
        ...(policy.parent.cds || policy.parent.cdnskey || cdsDelete
          ? { cds: { digestTypes: policy.parent.dsDigests, dnskeys: cdsKeys.map((k) => k.dnskey), delete: cdsDelete } }
          : {}),
      },
      out,
      now,
      options.written === undefined ? undefined : ServedFileWriter.open(servedFileOf(out), origin),
      reserve(cdsDelete ? 'signed with CDS/CDNSKEY DELETE (going insecure, DP-4.7b)' : 'signed'),
    );
  } finally {
    // the threads keep their copies of the keys for the next run (until a key is destroyed); the lane goes
    const given = new Set(ahead?.run.keys.values());
    for (const k of keys) if (!given.has(k)) k.signer.release?.();
    if (ahead === undefined) pool.endLane(lane);
    else ahead.run.close();
  }
  const { served, ...signedSummary } = summary;
  if (served !== undefined) options.written!(served);
  record();
  return {
    ...signedSummary,
    zone: zone.name,
    serial,
    out,
    status: 'signed',
    cdsDelete,
    children: children.reports.map((c) => c.report),
    keys: keys.map((k) => ({ role: k.role, keyTag: k.signer.keyTag, signs: k.role === 'ksk' ? 'DNSKEY' : k.role === 'zsk' ? 'data' : 'DNSKEY and data' })),
  };
}

/** The later of two serials in RFC 1982 terms (`b` when there is none). */
function latestSerial(a: number, b: number | null): number {
  return b !== null && serialGreater(b, a) ? b : a;
}

interface ChildRecord {
  readonly zone: string;
  readonly ds: ChildDs;
  readonly report: ChildDsReport;
}

/**
 * The DS of the managed zones whose closest managed ancestor is `parent` (DP-4.6a): each
 * child's DS as its keys and plan say, with its policy's digests and DS TTL, in place of any
 * DS the parent's file has at the child's apex.
 */
function childrenDs(keeper: Keeper, parent: string, now: UnixSeconds, may: (child: string) => boolean): { edit: ZoneEdit | undefined; reports: ChildRecord[] } {
  const parentName = Name.parse(parent);
  const zones = keeper.store.zonesBelow(parent).map((z) => ({ row: z, name: Name.parse(z.name) }));
  const managed = new Set(zones.map((z) => z.name.key));
  // no managed zone between the child and `parent`
  const closest = (n: Name): boolean => {
    for (let up = n.parent(); up !== null && !up.equals(parentName); up = up.parent()) if (managed.has(up.key)) return false;
    return true;
  };
  const reports: ChildRecord[] = [];
  const add: ZoneEdit['add'][number][] = [];
  for (const { row, name } of zones) {
    if (!closest(name)) continue;
    const policy = keeper.policy(row.policy);
    const keys = keeper.keys(row);
    const wanted = childDs(keys, keeper.plan(row, now), now);
    const allowed = wanted.seen.length + wanted.withdrawn.length === 0 || may(row.name);
    const ds = allowed ? wanted : childDsAsIs(keys);
    for (const k of ds.serve)
      for (const d of policy.parent.dsDigests)
        add.push({
          owner: name,
          type: RRType.DS,
          ttl: policy.parent.dsTtl,
          rdata: makeDs(name, k.dnskey, d),
          file: `(DS of ${row.name}, key ${k.keyTag})`,
          line: 0,
        });
    reports.push({
      zone: row.name,
      ds,
      report: {
        zone: row.name,
        keyTags: ds.serve.map((k) => k.keyTag),
        seen: ds.seen.map((k) => k.keyTag),
        withdrawn: ds.withdrawn.map((k) => k.keyTag),
        heldBack: !allowed,
      },
    });
  }
  if (reports.length === 0) return { edit: undefined, reports };
  const childNames = reports.map((r) => Name.parse(r.zone));
  return { edit: { add, drop: (owner, type) => type === RRType.DS && childNames.some((c) => c.equals(owner)) }, reports };
}

/** Records the child DS that entered or left the parent with the version just written (DP-4.6a/b). */
function recordChildren(keeper: Keeper, parent: string, serial: number, children: readonly ChildRecord[], acting: Acting): void {
  for (const c of children) {
    const keys = keeper.store.keys(c.zone);
    for (const [list, field, req] of [
      [c.ds.seen, 'dsSeen', 'DP-4.6a'],
      [c.ds.withdrawn, 'dsWithdrawn', 'DP-4.6b'],
    ] as const) {
      for (const k of list) {
        const now = keys.find((x) => x.id === k.id)!;
        keeper.store.putKey(
          c.zone,
          { ...now, [field]: acting.at },
          {
            actor: acting.who.user,
            ticket: acting.ticket,
            at: acting.at,
            comment: `DS of ${k.role.toUpperCase()} ${k.keyTag} ${field === 'dsSeen' ? 'published in' : 'withdrawn from'} the parent zone ${parent}, serial ${serial}, signed here (${req})`,
          },
        );
      }
    }
  }
}

/** The zone unsigned: its DNSSEC records left out, the SOA as the policy says, written atomically (`beforeCommit` just before it replaces `out`). */
function writeUnsigned(input: Zone, serial: number, soa: NonNullable<SignZoneOptions['soa']>, out: string, beforeCommit: () => void): void {
  const file = AtomicZoneFile.open(out);
  try {
    for (const node of input.nodes) {
      const rrsets = node.rrsets
        .filter((set) => !DNSSEC_TYPES.has(set.type))
        .map((set): RRsetView =>
          set.type !== RRType.SOA
            ? set
            : {
                owner: set.owner,
                type: set.type,
                records: [{ ttl: soa.ttl ?? set.records[0]!.ttl, rdata: withSoaFields(set.records[0]!.rdata, serial, soa) }],
              },
        );
      for (const line of printNode(rrsets)) file.line(line);
    }
    beforeCommit();
  } catch (e) {
    file.abort();
    throw e;
  }
  file.commit();
}

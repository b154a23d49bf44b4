import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import type { KeyRole } from '../dnssec/signer.js';
import type { KeyPolicy, Policy } from '../kasp/policy.js';
import { dsAtParent, keyState, signsData, signsDnskey, type KeyRecord } from './keys.js';
import { timings, type Timings, type ZoneFacts } from './timing.js';

/** A new key to make in the HSM, with the times it gets. */
export interface Generate {
  readonly kind: 'generate';
  readonly role: KeyRole;
  readonly algorithm: number;
  readonly bits: number;
  /** When its DNSKEY enters the zone; null: once its DS is seen (a double-DS successor). */
  readonly publish: UnixSeconds | null;
  /** When it starts signing the zone's data (ZSK, CSK); null for a KSK. */
  readonly active: UnixSeconds | null;
  readonly successorOf: string | null;
  readonly compromised: false;
  readonly reason: string;
}

/** Times set on a key that exists. */
export interface Schedule {
  readonly kind: 'schedule';
  readonly keyId: string;
  readonly publish?: UnixSeconds;
  readonly active?: UnixSeconds;
  readonly retire?: UnixSeconds;
  readonly remove?: UnixSeconds;
  readonly compromised?: true;
  readonly reason: string;
}

/** A new NSEC3 salt (DP-4.2d). */
export interface Resalt {
  readonly kind: 'resalt';
  readonly reason: string;
}

export type Action = Generate | Schedule | Resalt;

/** The times a `schedule` action sets, as a patch of the key record. */
export function scheduled(a: Schedule): Partial<Pick<KeyRecord, 'publish' | 'active' | 'retire' | 'remove'>> {
  return {
    ...(a.publish === undefined ? {} : { publish: a.publish }),
    ...(a.active === undefined ? {} : { active: a.active }),
    ...(a.retire === undefined ? {} : { retire: a.retire }),
    ...(a.remove === undefined ? {} : { remove: a.remove }),
  };
}

/** A step only people can take: the roll waits here until it is confirmed and approved (DP-4.7d). */
export interface Gate {
  readonly kind: 'ds-seen' | 'ds-withdrawn';
  readonly keyId: string;
  readonly keyTag: number;
  /** From when the step may be taken (before it, it would break validation). */
  readonly from: UnixSeconds;
  readonly what: string;
}

export interface Plan {
  /** What is due now; apply them all, then plan again. */
  readonly actions: readonly Action[];
  /** Steps waiting for operators. */
  readonly gates: readonly Gate[];
  /** The next time something falls due by itself (null: nothing, until an operator acts). */
  readonly next: UnixSeconds | null;
  /**
   * `signed`: the zone has its keys; `going-insecure`: it publishes CDS/CDNSKEY DELETE and
   * waits for its DS to go (DP-4.7b); `unsigned`: its keys are gone and it is served unsigned.
   */
  readonly status: ZoneStatus;
}

export type ZoneStatus = 'signed' | 'going-insecure' | 'unsigned';

export interface PlanInput {
  readonly policy: Policy;
  readonly keys: readonly KeyRecord[];
  readonly zone: ZoneFacts;
  readonly now: UnixSeconds;
  /** When the NSEC3 salt in use was made (for the re-salt); undefined: no salt yet. */
  readonly saltCreated?: UnixSeconds;
  /** Going insecure (DP-4.7b): when the approved decision took effect; undefined: the zone stays secure. */
  readonly insecureSince?: UnixSeconds;
}

const isLive = (k: KeyRecord, now: UnixSeconds): boolean => k.remove === null || k.remove > now;
const live = (keys: readonly KeyRecord[], now: UnixSeconds): KeyRecord[] => keys.filter((k) => isLive(k, now));

/** The key `current` follows, while that roll is not over: its predecessor still published, or its DS still at the parent. */
function rollingFrom(current: KeyRecord, keys: readonly KeyRecord[], now: UnixSeconds): KeyRecord | undefined {
  const p = keys.find((k) => k.id === current.successorOf);
  return p !== undefined && (isLive(p, now) || dsAtParent(p)) ? p : undefined;
}

/** The rolls under way among `keys` at `now`, as 'KSK 22 follows 11' (empty: none). */
export function rollsUnderWay(keys: readonly KeyRecord[], now: UnixSeconds): string[] {
  return live(keys, now).flatMap((k) => {
    const p = rollingFrom(k, keys, now);
    return p === undefined ? [] : [`${k.role.toUpperCase()} ${k.keyTag} follows ${p.keyTag}`];
  });
}

/**
 * The enforcer's planner (RFC 7583, RFC 6781; DP-4.3): a pure function of the policy, the
 * keys, the zone's TTLs and `now`. It returns what is due now, what waits for people, and
 * when to ask again. Nothing here reads a clock or touches the HSM: the caller makes the
 * keys the actions ask for, records the times, and plans again.
 *
 * - A zone without the policy's keys gets them (a KSK and a ZSK, or a CSK), signing at once.
 * - A ZSK with a lifetime is rolled by pre-publication (RFC 7583 section 3.2.1) by itself:
 *   its successor is published Ipub before the lifetime ends, takes over signing at the end,
 *   and the old DNSKEY goes Iret later (DP-4.3c).
 * - A KSK (or CSK) roll is started by an operator (startRollover, DP-4.3b), or by its
 *   lifetime when the policy gives one. The double-KSK roll then waits for two people's
 *   confirmation that the parent serves the new DS and no longer the old one; the old key
 *   goes only after the parent's DS TTL has passed since both. Double-DS (RFC 7583 section
 *   3.3.2): the new DS first; once it is seen, the DNSKEYs swap after the parent's DS TTL,
 *   and the old DS may go once the new DNSKEY RRset is known everywhere.
 * - Going insecure (`insecureSince`, DP-4.7b): see planInsecure. A zone whose keys are all
 *   gone while going insecure is `unsigned`; with the decision undone it gets new keys.
 * - A policy change on a live zone applies through the next transition: a new key size or
 *   lifetime with the next roll (or an operator's roll at once), a new denial type at the
 *   next signing (with a salt made first); an algorithm change or a change between KSK+ZSK
 *   and CSK is refused with the reason.
 */
export function plan(input: PlanInput): Plan {
  const { policy, now } = input;
  const t = timings(policy, input.zone);
  const keys = live(input.keys, now);
  if (input.insecureSince !== undefined) return planInsecure(input, input.insecureSince, t);
  const actions: Action[] = [];
  const gates: Gate[] = [];
  const times: UnixSeconds[] = [];
  refuseAlgorithmChange(policy, keys);

  for (const kp of policy.keys) {
    const mine = keys.filter((k) => k.role === kp.role);
    if (mine.length === 0) {
      actions.push(generate(kp, now, null, `the zone has no ${kp.role.toUpperCase()}`, kp.role === 'ksk' ? null : now));
      continue;
    }
    // the newest key of the role is the current one; a roll is under way while its predecessor is not done
    const current = newest(mine);
    const predecessor = rollingFrom(current, input.keys, now);
    if (predecessor === undefined && kp.lifetime !== null) {
      const start = (current.active ?? current.publish ?? current.created) + kp.lifetime - (kp.role === 'ksk' ? 0 : t.publish);
      if (now >= start) {
        actions.push(...startRollover({ policy, keys: input.keys, zone: input.zone, now }, kp.role, false).actions);
        continue;
      }
      times.push(start);
    }
    if (!signsDnskey(current)) continue;
    const KSK = kp.role.toUpperCase();
    if (current.publish === null) {
      // double-DS (RFC 7583 section 3.3.2): the new DS first; the DNSKEYs swap once every cache can hold it
      if (current.dsSeen === null) {
        gates.push({
          kind: 'ds-seen',
          keyId: current.id,
          keyTag: current.keyTag,
          from: current.created,
          what: `submit the DS of ${KSK} ${current.keyTag} to the parent beside the DS of ${predecessor?.keyTag ?? 'the current key'} (keep both), then confirm it is served (hms ds seen)`,
        });
      } else {
        const at = current.dsSeen + t.dsReady;
        actions.push({
          kind: 'schedule',
          keyId: current.id,
          publish: at,
          reason: `double-DS: the parent serves the DS of ${current.keyTag}; its DNSKEY enters the zone once every cache can hold that DS`,
        });
        if (predecessor !== undefined && predecessor.remove === null) {
          actions.push({
            kind: 'schedule',
            keyId: predecessor.id,
            retire: at,
            remove: at,
            reason: `double-DS: ${current.keyTag} replaces it in the DNSKEY RRset`,
          });
        }
      }
      continue;
    }
    if (current.dsSeen === null) {
      gates.push({
        kind: 'ds-seen',
        keyId: current.id,
        keyTag: current.keyTag,
        from: current.publish + t.publish,
        what: `submit the DS of ${KSK} ${current.keyTag} to the parent, then confirm it is served (hms ds seen)`,
      });
    }
    if (predecessor === undefined) continue;
    if (predecessor.remove !== null && predecessor.remove === current.publish) {
      // double-DS, after the swap: the old DS may go once no cache holds the old DNSKEY RRset
      if (dsAtParent(predecessor)) {
        gates.push({
          kind: 'ds-withdrawn',
          keyId: predecessor.id,
          keyTag: predecessor.keyTag,
          from: current.publish + t.publish,
          what: `withdraw the DS of ${KSK} ${predecessor.keyTag} at the parent, then confirm it is gone (hms ds withdraw)`,
        });
      }
      continue;
    }
    if (predecessor.remove !== null) continue;
    if (dsAtParent(predecessor)) {
      gates.push({
        kind: 'ds-withdrawn',
        keyId: predecessor.id,
        keyTag: predecessor.keyTag,
        from: current.publish + t.publish,
        what: `withdraw the DS of ${KSK} ${predecessor.keyTag} at the parent, then confirm it is gone (hms ds withdraw)`,
      });
    }
    const confirmed = current.dsSeen !== null && (predecessor.dsSeen === null || predecessor.dsWithdrawn !== null);
    if (confirmed) {
      const at = Math.max(current.dsSeen, predecessor.dsWithdrawn ?? 0) + t.retireKsk;
      // a CSK also signed the data until its retire: it stays until those signatures have left every cache too (Iret)
      const dataGone = signsData(predecessor) && predecessor.retire !== null ? predecessor.retire + t.retireZsk : at;
      actions.push({
        kind: 'schedule',
        keyId: predecessor.id,
        ...(predecessor.retire === null ? { retire: at } : {}),
        remove: Math.max(at, dataGone),
        reason: `the parent serves the DS of ${current.keyTag} only; the old DS${dataGone > at ? ' and the old signatures have' : ' has'} left every cache by then`,
      });
    }
  }

  planResalt(input, actions, times);
  return finish(keys, actions, gates, times, now, 'signed');
}

/**
 * Going insecure (DP-4.7b, RFC 8078 section 4): the zone publishes CDS/CDNSKEY DELETE and
 * stays signed while its DS is withdrawn at the parent (each withdrawal confirmed and
 * approved by a second person, DP-4.7d); its keys go, and the zone is served unsigned, only
 * once no cache can hold any of its DS (the parent's Dprp + TTLds + margin after the last).
 */
function planInsecure(input: PlanInput, since: UnixSeconds, t: Timings): Plan {
  const { now } = input;
  const keys = live(input.keys, now);
  if (keys.length === 0) return { actions: [], gates: [], next: null, status: 'unsigned' };
  const actions: Action[] = [];
  const gates: Gate[] = [];
  const times: UnixSeconds[] = [];
  const atParent = input.keys.filter(dsAtParent);
  for (const k of atParent) {
    gates.push({
      kind: 'ds-withdrawn',
      keyId: k.id,
      keyTag: k.keyTag,
      from: since,
      what: `going insecure: withdraw the DS of ${k.role.toUpperCase()} ${k.keyTag} at the parent (the zone publishes CDS/CDNSKEY DELETE), then confirm it is gone (hms ds withdraw); the zone is signed ${hours(t.retireKsk)} after the last DS is gone`,
    });
  }
  if (atParent.length === 0) {
    const at = Math.max(since, ...input.keys.map((k) => k.dsWithdrawn ?? 0)) + t.retireKsk;
    for (const k of keys) {
      if (k.remove !== null && k.remove <= at) continue;
      actions.push({
        kind: 'schedule',
        keyId: k.id,
        ...(signsData(k) && (k.retire === null || k.retire > at) ? { retire: at } : {}),
        remove: at,
        reason: 'going insecure (DP-4.7b): no cache holds a DS of the zone by then; from then the zone is served unsigned',
      });
    }
  }
  planResalt(input, actions, times);
  return finish(keys, actions, gates, times, now, 'going-insecure');
}

function planResalt(input: PlanInput, actions: Action[], times: UnixSeconds[]): void {
  const denial = input.policy.denial;
  if (denial.type !== 'nsec3' || denial.saltLength === 0) return;
  if (input.saltCreated === undefined) actions.push({ kind: 'resalt', reason: 'no NSEC3 salt yet' });
  else if (denial.resalt !== null) {
    const due = input.saltCreated + denial.resalt;
    if (input.now >= due) actions.push({ kind: 'resalt', reason: `the salt is ${Math.floor((input.now - input.saltCreated) / 86400)} days old (DP-4.2d)` });
    else times.push(due);
  }
}

function finish(keys: readonly KeyRecord[], actions: Action[], gates: Gate[], times: UnixSeconds[], now: UnixSeconds, status: ZoneStatus): Plan {
  for (const k of keys) for (const at of [k.publish, k.active, k.retire, k.remove]) if (at !== null && at > now) times.push(at);
  for (const g of gates) if (g.from > now) times.push(g.from);
  return { actions, gates, next: times.length === 0 ? null : Math.min(...times), status };
}

export interface Rollover {
  readonly actions: readonly Action[];
  /** What the operator must do next, and from when. */
  readonly next: string;
  /** For an emergency roll: what it breaks, said plainly. */
  readonly risk?: string;
}

/**
 * Starts a roll of the zone's `role` key now (DP-4.3b; DP-2.5a with `emergency`). A normal
 * roll keeps every resolver validating; an emergency roll gives up some of that to stop
 * trusting a compromised key at once, and says what.
 */
export function startRollover(input: Omit<PlanInput, 'saltCreated'>, role: 'ksk' | 'zsk' | 'csk', emergency: boolean): Rollover {
  const { policy, now } = input;
  const t = timings(policy, input.zone);
  const keys = live(input.keys, now);
  const kp = policy.keys.find((k) => k.role === role);
  if (kp === undefined) throw new SignerError('POLICY', `policy '${policy.name}' has no ${role.toUpperCase()}`);
  const mine = keys.filter((k) => k.role === role);
  if (mine.length === 0) throw new SignerError('POLICY', `the zone has no ${role.toUpperCase()} to roll`);
  const current = newest(mine);
  const predecessor = rollingFrom(current, input.keys, now);
  if (predecessor !== undefined && !emergency) {
    throw new SignerError('POLICY', `a ${role.toUpperCase()} roll is under way already (${current.keyTag} follows ${predecessor.keyTag})`);
  }
  const ready = now + t.publish;
  if (role === 'zsk') {
    if (emergency) {
      return {
        actions: [
          generate(kp, now, current.id, `emergency ZSK roll: ${current.keyTag} is believed compromised`, now),
          { kind: 'schedule', keyId: current.id, retire: now, remove: now, compromised: true, reason: 'compromised: no longer signs or is published' },
        ],
        next: 'nothing: the new ZSK signs at once and the old one is gone from the next version',
        risk: `resolvers that fetched the DNSKEY RRset in the last ${hours(t.publish)} (until ${isoSeconds(ready)}) do not know the new ZSK, and fail to validate this zone's answers until their copy expires`,
      };
    }
    return {
      actions: [
        generate(kp, now, current.id, `ZSK roll: ${current.keyTag} is replaced by pre-publication`, ready),
        {
          kind: 'schedule',
          keyId: current.id,
          retire: ready,
          remove: ready + t.retireZsk,
          reason: 'pre-publication: the successor signs once every resolver knows it',
        },
      ],
      next: `nothing: the new ZSK signs from ${isoSeconds(ready)}, and ${current.keyTag} leaves at ${isoSeconds(ready + t.retireZsk)}`,
    };
  }
  if (policy.rollover.ksk === 'double-ds' && !emergency) {
    // RFC 7583 section 3.3.2: the new DS first, then the DNSKEYs swap; the DS steps confirmed by two people
    if (role === 'csk') {
      throw new SignerError(
        'POLICY',
        `policy '${policy.name}' asks for a double-DS roll of a CSK: a CSK also signs the zone's data, and swapping it at once would leave resolvers with signatures by a key they do not know; set rollover.ksk: double-ksk for a CSK`,
      );
    }
    return {
      actions: [generate(kp, now, current.id, `KSK roll: ${current.keyTag} is replaced (double-DS: the new DS first)`, null, null)],
      next:
        `now: export the new DS (hms ds export ZONE) and submit it to the registrar beside DS ${current.keyTag} (keep both); ` +
        'when the parent serves it, confirm with hms ds seen ZONE --keytag NEW --ticket T, approved by a second person (hms approve); ' +
        `the new DNSKEY replaces ${current.keyTag} ${hours(t.dsReady)} after that, and ${hours(t.publish)} later DS ${current.keyTag} may be withdrawn (hms ds withdraw ZONE --keytag ${current.keyTag} --ticket T, approved)`,
    };
  }
  // KSK or CSK: double-KSK (an emergency roll always: the old DS goes soonest), the DS swap confirmed by two people
  const actions: Action[] = [
    generate(kp, now, current.id, `${role.toUpperCase()} roll: ${current.keyTag} is replaced (double-KSK)`, role === 'csk' ? (emergency ? now : ready) : null),
  ];
  if (role === 'csk') actions.push({ kind: 'schedule', keyId: current.id, retire: emergency ? now : ready, reason: 'the new CSK takes over signing the data' });
  if (emergency) actions.push({ kind: 'schedule', keyId: current.id, compromised: true, reason: 'believed compromised' });
  return {
    actions,
    next:
      `from ${isoSeconds(ready)}: export the new DS (hms ds export ZONE) and submit it to the registrar, replacing DS ${current.keyTag}; ` +
      `when the parent serves it, confirm with hms ds seen ZONE --keytag NEW --ticket T and hms ds withdraw ZONE --keytag ${current.keyTag} --ticket T, each approved by a second person (hms approve); ` +
      `${current.keyTag} is removed ${hours(t.retireKsk)} after both`,
    ...(emergency
      ? {
          risk: `the parent still points at ${current.keyTag} until its DS is withdrawn: whoever holds that key can sign answers resolvers accept until then. Withdraw it at once; resolvers that cached the old DS keep trusting it for up to ${hours(t.retireKsk)}, and those that see the new DS before ${isoSeconds(ready)} may fail to validate`,
        }
      : {}),
  };
}

/** Refuses to plan a policy whose algorithm differs from the keys': an algorithm roll is not done half-way. */
function refuseAlgorithmChange(policy: Policy, keys: readonly KeyRecord[]): void {
  for (const k of keys) {
    const kp = policy.keys.find((p) => p.role === k.role);
    if (kp === undefined) {
      throw new SignerError(
        'POLICY',
        `policy '${policy.name}' has no ${k.role.toUpperCase()}, but the zone has ${k.role.toUpperCase()} ${k.keyTag}: changing between KSK+ZSK and CSK is not supported on a live zone`,
      );
    }
    if (kp.algorithm !== k.algorithm) {
      throw new SignerError(
        'POLICY',
        `policy '${policy.name}' wants algorithm ${kp.algorithm} for the ${k.role.toUpperCase()}, but key ${k.keyTag} is algorithm ${k.algorithm}: an algorithm roll (RFC 6781 section 4.1.4) is not supported; the change is refused and the keys stay as they are`,
      );
    }
  }
}

function generate(
  kp: KeyPolicy,
  now: UnixSeconds,
  successorOf: string | null,
  reason: string,
  active: UnixSeconds | null,
  publish: UnixSeconds | null = now,
): Generate {
  return { kind: 'generate', role: kp.role, algorithm: kp.algorithm, bits: kp.bits, publish, active, successorOf, compromised: false, reason };
}

/** The newest key: the last made (a double-DS successor is newest before it is published). */
function newest(keys: readonly KeyRecord[]): KeyRecord {
  return keys.reduce((a, b) => (b.created > a.created || (b.created === a.created && (b.publish ?? Infinity) > (a.publish ?? Infinity)) ? b : a));
}

function hours(seconds: number): string {
  return seconds % 86400 === 0 ? `${seconds / 86400} days` : `${Math.round(seconds / 360) / 10} hours`;
}

/** The state of every key at `now`, for listings and timelines. */
export function describeKeys(
  policy: Policy,
  keys: readonly KeyRecord[],
  zone: ZoneFacts,
  now: UnixSeconds,
): { key: KeyRecord; state: ReturnType<typeof keyState> }[] {
  const t = timings(policy, zone);
  return keys.map((key) => ({ key, state: keyState(key, now, t.publish) }));
}

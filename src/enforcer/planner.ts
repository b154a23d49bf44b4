import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import type { KeyRole } from '../dnssec/signer.js';
import type { KeyPolicy, Policy } from '../kasp/policy.js';
import { keyState, signsDnskey, type KeyRecord } from './keys.js';
import { timings, type ZoneFacts } from './timing.js';

/** A new key to make in the HSM, with the times it gets. */
export interface Generate {
  readonly kind: 'generate';
  readonly role: KeyRole;
  readonly algorithm: number;
  readonly bits: number;
  readonly publish: UnixSeconds;
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
}

export interface PlanInput {
  readonly policy: Policy;
  readonly keys: readonly KeyRecord[];
  readonly zone: ZoneFacts;
  readonly now: UnixSeconds;
  /** When the NSEC3 salt in use was made (for the re-salt); undefined: no salt yet. */
  readonly saltCreated?: UnixSeconds;
}

const live = (keys: readonly KeyRecord[], now: UnixSeconds): KeyRecord[] => keys.filter((k) => k.remove === null || k.remove > now);

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
 *   goes only after the parent's DS TTL has passed since both.
 */
export function plan(input: PlanInput): Plan {
  const { policy, now } = input;
  const t = timings(policy, input.zone);
  const keys = live(input.keys, now);
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
    // the newest key of the role is the current one; a roll is under way while it has a predecessor still here
    const current = newest(mine);
    const predecessor = mine.find((k) => k.id === current.successorOf);
    if (predecessor === undefined && kp.lifetime !== null) {
      const start = (current.active ?? current.publish) + kp.lifetime - (kp.role === 'ksk' ? 0 : t.publish);
      if (now >= start) {
        actions.push(...startRollover({ policy, keys, zone: input.zone, now }, kp.role, false).actions);
        continue;
      }
      times.push(start);
    }
    if (signsDnskey(current)) {
      if (current.dsSeen === null) {
        gates.push({ kind: 'ds-seen', keyId: current.id, keyTag: current.keyTag, from: current.publish + t.publish,
          what: `submit the DS of ${kp.role.toUpperCase()} ${current.keyTag} to the parent, then confirm it is served (hms ds seen)` });
      }
      if (predecessor !== undefined && predecessor.remove === null) {
        if (predecessor.dsSeen !== null && predecessor.dsWithdrawn === null) {
          gates.push({ kind: 'ds-withdrawn', keyId: predecessor.id, keyTag: predecessor.keyTag, from: current.publish + t.publish,
            what: `withdraw the DS of ${kp.role.toUpperCase()} ${predecessor.keyTag} at the parent, then confirm it is gone (hms ds withdraw)` });
        }
        const confirmed = current.dsSeen !== null && (predecessor.dsSeen === null || predecessor.dsWithdrawn !== null);
        if (confirmed) {
          const at = Math.max(current.dsSeen, predecessor.dsWithdrawn ?? 0) + t.retireKsk;
          actions.push({ kind: 'schedule', keyId: predecessor.id, ...(predecessor.retire === null ? { retire: at } : {}), remove: at,
            reason: `the parent serves the DS of ${current.keyTag} only; the old DS has left every cache by then` });
        }
      }
    }
  }

  const denial = policy.denial;
  if (denial.type === 'nsec3' && denial.saltLength > 0) {
    if (input.saltCreated === undefined) actions.push({ kind: 'resalt', reason: 'no NSEC3 salt yet' });
    else if (denial.resalt !== null) {
      const due = input.saltCreated + denial.resalt;
      if (now >= due) actions.push({ kind: 'resalt', reason: `the salt is ${Math.floor((now - input.saltCreated) / 86400)} days old (DP-4.2d)` });
      else times.push(due);
    }
  }

  for (const k of keys) for (const at of [k.active, k.retire, k.remove]) if (at !== null && at > now) times.push(at);
  for (const g of gates) if (g.from > now) times.push(g.from);
  return { actions, gates, next: times.length === 0 ? null : Math.min(...times) };
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
  if (mine.some((k) => k.id === current.successorOf) && !emergency) {
    throw new SignerError('POLICY', `a ${role.toUpperCase()} roll is under way already (${current.keyTag} follows ${mine.find((k) => k.id === current.successorOf)!.keyTag})`);
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
        { kind: 'schedule', keyId: current.id, retire: ready, remove: ready + t.retireZsk, reason: 'pre-publication: the successor signs once every resolver knows it' },
      ],
      next: `nothing: the new ZSK signs from ${isoSeconds(ready)}, and ${current.keyTag} leaves at ${isoSeconds(ready + t.retireZsk)}`,
    };
  }
  // KSK or CSK: double-KSK, the DS swap confirmed by two people
  if (policy.rollover.ksk !== 'double-ksk') {
    throw new SignerError('POLICY', `policy '${policy.name}' asks for a ${policy.rollover.ksk} KSK roll; hms carries out double-KSK only (RFC 7583 section 3.3.1) for now: set rollover.ksk: double-ksk`);
  }
  const actions: Action[] = [generate(kp, now, current.id, `${role.toUpperCase()} roll: ${current.keyTag} is replaced (double-KSK)`, role === 'csk' ? (emergency ? now : ready) : null)];
  if (role === 'csk') actions.push({ kind: 'schedule', keyId: current.id, retire: emergency ? now : ready, reason: 'the new CSK takes over signing the data' });
  if (emergency) actions.push({ kind: 'schedule', keyId: current.id, compromised: true, reason: 'believed compromised' });
  return {
    actions,
    next: `from ${isoSeconds(ready)}: export the new DS (hms ds export ZONE) and submit it to the registrar, replacing DS ${current.keyTag}; `
      + `when the parent serves it, confirm with hms ds seen ZONE --keytag NEW --ticket T and hms ds withdraw ZONE --keytag ${current.keyTag} --ticket T, each approved by a second person (hms approve); `
      + `${current.keyTag} is removed ${hours(t.retireKsk)} after both`,
    ...(emergency ? { risk: `the parent still points at ${current.keyTag} until its DS is withdrawn: whoever holds that key can sign answers resolvers accept until then. Withdraw it at once; resolvers that cached the old DS keep trusting it for up to ${hours(t.retireKsk)}, and those that see the new DS before ${isoSeconds(ready)} may fail to validate` } : {}),
  };
}

/** Refuses to plan a policy whose algorithm differs from the keys': an algorithm roll is not done half-way. */
function refuseAlgorithmChange(policy: Policy, keys: readonly KeyRecord[]): void {
  for (const k of keys) {
    const kp = policy.keys.find((p) => p.role === k.role);
    if (kp === undefined) {
      throw new SignerError('POLICY', `policy '${policy.name}' has no ${k.role.toUpperCase()}, but the zone has ${k.role.toUpperCase()} ${k.keyTag}: changing between KSK+ZSK and CSK is not supported on a live zone`);
    }
    if (kp.algorithm !== k.algorithm) {
      throw new SignerError('POLICY', `policy '${policy.name}' wants algorithm ${kp.algorithm} for the ${k.role.toUpperCase()}, but key ${k.keyTag} is algorithm ${k.algorithm}: an algorithm roll (RFC 6781 section 4.1.4) is not supported; the change is refused and the keys stay as they are`);
    }
  }
}

function generate(kp: KeyPolicy, now: UnixSeconds, successorOf: string | null, reason: string, active: UnixSeconds | null): Generate {
  return { kind: 'generate', role: kp.role, algorithm: kp.algorithm, bits: kp.bits, publish: now, active, successorOf, compromised: false, reason };
}

function newest(keys: readonly KeyRecord[]): KeyRecord {
  return keys.reduce((a, b) => (b.publish > a.publish || (b.publish === a.publish && b.created > a.created) ? b : a));
}

function hours(seconds: number): string {
  return seconds % 86400 === 0 ? `${seconds / 86400} days` : `${Math.round(seconds / 360) / 10} hours`;
}

/** The state of every key at `now`, for listings and timelines. */
export function describeKeys(policy: Policy, keys: readonly KeyRecord[], zone: ZoneFacts, now: UnixSeconds): { key: KeyRecord; state: ReturnType<typeof keyState> }[] {
  const t = timings(policy, zone);
  return keys.map((key) => ({ key, state: keyState(key, now, t.publish) }));
}

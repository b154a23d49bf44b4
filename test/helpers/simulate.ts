import type { UnixSeconds } from '../../src/common/clock.js';
import { keysAt, type KeyRecord, type KeyView } from '../../src/enforcer/keys.js';
import { plan, startRollover, type Action, type Generate } from '../../src/enforcer/planner.js';
import { checkSafety, type CacheTimes } from '../../src/enforcer/safety.js';
import type { ZoneFacts } from '../../src/enforcer/timing.js';
import type { Policy } from '../../src/kasp/policy.js';

export interface MadeKey {
  readonly id: string;
  readonly keyTag: number;
  readonly dnskey: Uint8Array;
}

export interface SimulationOptions {
  readonly policy: Policy;
  readonly zone: ZoneFacts;
  readonly start: UnixSeconds;
  readonly days: number;
  /** Days (from start) on which an operator starts a KSK roll (a CSK roll under a CSK policy). */
  readonly kskRolls: readonly number[];
  /** How long after a DS step may be taken the operators confirm it (and a second person approves). */
  readonly operatorDelay: number;
  /** Makes a key (in the HSM, or a stand-in). */
  readonly makeKey: (g: Generate, now: UnixSeconds) => Promise<MadeKey>;
  /** Days (from start) on which the zone's decision to go insecure takes effect, and on which it is taken back to secure. */
  readonly insecure?: { readonly from: number; readonly back: number };
  /**
   * How long each kind of data may outlive its version, when the caller knows it better than
   * the zone facts (from a zone actually signed); default: worked out from the policy and `zone`.
   */
  readonly cache?: CacheTimes;
  /** Called for every version whose keys differ from the one before. */
  readonly onVersion?: (now: UnixSeconds, view: KeyView, keys: readonly KeyRecord[]) => Promise<void>;
}

export interface SimulationLog {
  readonly keys: readonly KeyRecord[];
  readonly events: readonly { readonly at: UnixSeconds; readonly what: string }[];
  readonly safety: readonly string[];
  readonly versions: number;
}

/**
 * Runs a zone through `days` under a policy with the clock injected: plans, applies what is
 * due (making keys through `makeKey`), lets the operators start KSK rolls and confirm the DS
 * steps, and checks the RFC 7583 safety property at every change and just before it.
 */
export async function simulate(o: SimulationOptions): Promise<SimulationLog> {
  const keys: KeyRecord[] = [];
  const events: { at: UnixSeconds; what: string }[] = [];
  const safety: string[] = [];
  const end = o.start + o.days * 86400;
  const cache = o.cache ?? {
    dnskey: o.policy.zone.propagationDelay + o.policy.ttl.dnskey,
    signatures: o.policy.zone.propagationDelay + o.zone.maxTtl,
    ds: o.policy.parent.propagationDelay + o.policy.parent.dsTtl,
  };
  const rolls = o.kskRolls.map((d) => o.start + d * 86400);
  let saltCreated: UnixSeconds | undefined;
  let insecureSince: UnixSeconds | undefined;
  const insecureAt = o.insecure === undefined ? [] : [o.start + o.insecure.from * 86400, o.start + o.insecure.back * 86400];
  let previous = '';
  let versions = 0;
  let now = o.start;
  const apply = async (actions: readonly Action[]): Promise<void> => {
    for (const a of actions) {
      if (a.kind === 'generate') {
        const made = await o.makeKey(a, now);
        keys.push({
          ...made,
          role: a.role,
          algorithm: a.algorithm,
          bits: a.bits,
          created: now,
          publish: a.publish,
          active: a.active,
          retire: null,
          remove: null,
          dsSeen: null,
          dsWithdrawn: null,
          successorOf: a.successorOf,
          compromised: false,
        });
        events.push({ at: now, what: `generate ${a.role} ${made.keyTag}: ${a.reason}` });
      } else if (a.kind === 'schedule') {
        const i = keys.findIndex((k) => k.id === a.keyId);
        keys[i] = {
          ...keys[i]!,
          ...(a.publish === undefined ? {} : { publish: a.publish }),
          ...(a.retire === undefined ? {} : { retire: a.retire }),
          ...(a.remove === undefined ? {} : { remove: a.remove }),
          ...(a.compromised ? { compromised: true } : {}),
        };
        events.push({
          at: now,
          what: `schedule ${keys[i].role} ${keys[i].keyTag}: ${a.publish === undefined ? '' : `publish ${a.publish} `}retire ${a.retire ?? '-'} remove ${a.remove ?? '-'}`,
        });
      } else {
        saltCreated = now;
        events.push({ at: now, what: `resalt: ${a.reason}` });
      }
    }
  };
  for (let guard = 0; now <= end && guard < 10_000; guard++) {
    if (rolls.length > 0 && rolls[0]! <= now) {
      rolls.shift();
      const role = o.policy.keys.some((k) => k.role === 'csk') ? 'csk' : 'ksk';
      const r = startRollover({ policy: o.policy, keys, zone: o.zone, now }, role, false);
      events.push({ at: now, what: `operator starts a ${role.toUpperCase()} roll; next: ${r.next}` });
      await apply(r.actions);
    }
    if (insecureAt.length > 0 && insecureAt[0]! <= now) {
      insecureSince = insecureSince === undefined ? now : undefined;
      events.push({ at: now, what: insecureAt.length === 2 ? 'operators decide to go insecure' : 'operators take the zone back to secure' });
      insecureAt.shift();
    }
    const input = (): Parameters<typeof plan>[0] => ({
      policy: o.policy,
      keys,
      zone: o.zone,
      now,
      ...(saltCreated === undefined ? {} : { saltCreated }),
      ...(insecureSince === undefined ? {} : { insecureSince }),
    });
    let p = plan(input());
    while (p.actions.length > 0) {
      await apply(p.actions);
      p = plan(input());
    }
    if (p.status === 'unsigned' && events.at(-1)?.what !== 'unsigned') events.push({ at: now, what: 'unsigned' });
    // the operators confirm each DS step a while after it may be taken
    const confirmAt: UnixSeconds[] = [];
    for (const g of p.gates) {
      const at = g.from + o.operatorDelay;
      if (at > now) {
        confirmAt.push(at);
        continue;
      }
      const i = keys.findIndex((k) => k.id === g.keyId);
      keys[i] = { ...keys[i]!, ...(g.kind === 'ds-seen' ? { dsSeen: now } : { dsWithdrawn: now }) };
      events.push({ at: now, what: `${g.kind} ${g.keyTag} confirmed and approved` });
    }
    if (p.gates.some((g) => g.from + o.operatorDelay <= now)) continue; // plan again at the same time
    const view = keysAt(keys, now);
    const shape = JSON.stringify([view.dnskeys, view.dnskeySigners, view.dataSigners, view.ds].map((ks) => ks.map((k) => k.id)));
    if (shape !== previous) {
      previous = shape;
      versions++;
      await o.onVersion?.(now, view, keys);
    }
    for (const at of [now - 1, now]) for (const s of checkSafety(keys, cache, at)) safety.push(`${new Date(at * 1000).toISOString()}: ${s}`);
    const next = [p.next, rolls[0], insecureAt[0], ...confirmAt].filter((x): x is number => x !== null && x !== undefined && x > now);
    if (next.length === 0) break;
    now = Math.min(...next);
  }
  return { keys, events, safety, versions };
}

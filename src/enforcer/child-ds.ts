import type { UnixSeconds } from '../common/clock.js';
import { dsAtParent, type KeyRecord } from './keys.js';
import type { Plan } from './planner.js';

/** A child zone's DS in its parent, when both are signed here (DP-4.6a, DP-4.6b). */
export interface ChildDs {
  /** The keys whose DS the parent's next version holds. */
  readonly serve: readonly KeyRecord[];
  /** Keys whose DS enters the parent with this version: recorded seen once it is signed. */
  readonly seen: readonly KeyRecord[];
  /** Keys whose DS leaves the parent with this version: recorded withdrawn once it is signed. */
  readonly withdrawn: readonly KeyRecord[];
}

/**
 * What the parent should serve of a child's DS at `now`, from the child's keys and its plan:
 * the DS confirmed at the parent stay, those the child's plan asks to withdraw (a roll's old
 * key, going insecure) leave, and those it waits to see (a new KSK known everywhere, a
 * double-DS successor, a restarted chain of trust) enter. The DS set changes only through
 * the child's own key events, made by people authorised for the child zone (DP-4.6c).
 */
export function childDs(keys: readonly KeyRecord[], plan: Pick<Plan, 'gates'>, now: UnixSeconds): ChildDs {
  const due = (kind: 'ds-seen' | 'ds-withdrawn'): Set<string> => new Set(plan.gates.filter((g) => g.kind === kind && g.from <= now).map((g) => g.keyId));
  const toSee = due('ds-seen');
  const toWithdraw = due('ds-withdrawn');
  const seen = keys.filter((k) => toSee.has(k.id));
  const withdrawn = keys.filter((k) => toWithdraw.has(k.id));
  return { serve: [...keys.filter((k) => dsAtParent(k) && !toWithdraw.has(k.id)), ...seen], seen, withdrawn };
}

/** The DS set as the parent serves it now, unchanged (a person not authorised for the child, DP-4.6c). */
export function childDsAsIs(keys: readonly KeyRecord[]): ChildDs {
  return { serve: keys.filter(dsAtParent), seen: [], withdrawn: [] };
}

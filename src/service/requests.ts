import { isoSeconds } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { dsAtParent, signsDnskey, type KeyRecord } from '../enforcer/keys.js';
import { rollsUnderWay, type Plan } from '../enforcer/planner.js';
import { timings } from '../enforcer/timing.js';
import type { RequestRow } from '../enforcer/ports.js';
import type { Acting, Keeper } from './keeper.js';

/** A DS step at the parent that waits for a second person's approval (DP-4.7d). */
export type DsStep = 'ds-seen' | 'ds-withdrawn';

const audit = (acting: Acting, actor = acting.who.user): { actor: string; ticket: string | null; comment: string | null; at: number } => ({
  actor,
  ticket: acting.ticket,
  comment: acting.comment,
  at: acting.at,
});

/** A zone's KSK (or CSK) by key tag: published, or its DS still at the parent. */
export function kskByTag(keys: readonly KeyRecord[], tag: number, now: number): KeyRecord | undefined {
  return keys.find((k) => k.keyTag === tag && signsDnskey(k) && (k.remove === null || k.remove > now || dsAtParent(k)));
}

/**
 * Files a request that the parent serves (`ds-seen`) or no longer serves (`ds-withdrawn`)
 * the DS of key `keyTag`; it takes effect when a second person approves it (DP-4.7d). Only a
 * step the zone's plan waits for, and only from when it may be taken; a second request for
 * a step already pending is refused. `requestedBy` is the person, or the automatic check.
 */
export function requestDsStep(
  keeper: Keeper,
  zoneName: string,
  step: DsStep,
  keyTag: number,
  acting: Acting,
  ticket: string,
  requestedBy = acting.who.user,
): string {
  const z = keeper.zone(zoneName);
  const keys = keeper.keys(z);
  const k = kskByTag(keys, keyTag, acting.at);
  if (k === undefined) throw new UsageError(`zone ${z.name} has no KSK with tag ${keyTag}`);
  const verb = step === 'ds-seen' ? 'seen' : 'withdrawn';
  const gate = keeper.plan(z, acting.at).gates.find((g) => g.keyId === k.id && g.kind === step);
  if (gate === undefined) throw new UsageError(`zone ${z.name}: nothing waits for the DS of ${keyTag} to be ${verb}`);
  if (gate.from > acting.at)
    throw new UsageError(
      `zone ${z.name}: the DS of ${keyTag} may be ${step === 'ds-seen' ? 'submitted' : 'withdrawn'} only from ${isoSeconds(gate.from)}, when every resolver knows the DNSKEY RRset it needs`,
    );
  const pending = keeper.store.listRequests({ zone: z.name, status: 'pending' }).find((r) => r.kind === step && r.keyTag === keyTag);
  if (pending !== undefined)
    throw new UsageError(`zone ${z.name}: request ${pending.id} (${step} ${keyTag}, by ${pending.requestedBy}) waits for approval already`);
  return keeper.store.addRequest(
    { zone: z.name, kind: step, keyTag, payload: { keyId: k.id }, requestedBy, requestedAt: acting.at, ticket },
    audit(acting, requestedBy),
  );
}

/** What going insecure will do, step by step: the decision procedure's facts (DP-4.7c). */
export interface InsecureDecision {
  readonly zone: string;
  /** The DS the parent serves now, by key tag. */
  readonly dsAtParent: readonly number[];
  readonly steps: readonly string[];
}

/**
 * The decision procedure before a zone's DS is withdrawn for good (DP-4.7c): works out and
 * states what going insecure does, refuses when it cannot be done cleanly now, and files the
 * decision as a request that takes effect only when a second person approves it (DP-4.7d).
 */
export function requestInsecure(keeper: Keeper, zoneName: string, acting: Acting, ticket: string): { id: string; decision: InsecureDecision } {
  const z = keeper.zone(zoneName);
  if (z.insecureSince !== null) throw new UsageError(`zone ${z.name} is going insecure already (approved ${isoSeconds(z.insecureSince)})`);
  const pending = keeper.store.listRequests({ zone: z.name, status: 'pending' }).find((r) => r.kind === 'insecure');
  if (pending !== undefined)
    throw new UsageError(`zone ${z.name}: request ${pending.id} to go insecure (by ${pending.requestedBy}) waits for approval already`);
  const keys = keeper.keys(z);
  const rolls = rollsUnderWay(keys, acting.at);
  if (rolls.length > 0) throw new UsageError(`zone ${z.name}: a key roll is under way (${rolls.join(', ')}); let it finish before going insecure`);
  const t = timings(keeper.policy(z.policy), keeper.facts(z));
  const ds = keys.filter(dsAtParent);
  const hours = (s: number): string => `${Math.round(s / 360) / 10} hours`;
  const decision: InsecureDecision = {
    zone: z.name,
    dsAtParent: ds.map((k) => k.keyTag),
    steps: [
      `a second person approves this request (hms approve ID); until then nothing changes`,
      `from the approval the zone publishes CDS and CDNSKEY DELETE (RFC 8078 section 4) and stays signed`,
      ds.length === 0
        ? 'no DS of the zone is confirmed at the parent: make sure the registrar holds none (hms ds export --format epp)'
        : `withdraw DS ${ds.map((k) => k.keyTag).join(', ')} at the registrar (hms ds export ZONE --format epp), then confirm each is gone (hms ds withdraw ZONE --keytag N --ticket T), each approved by a second person`,
      `${hours(t.retireKsk)} after the last DS is gone (the parent's propagation delay, DS TTL and margin), the keys are removed and the zone is served unsigned: resolvers no longer validate its answers`,
      'until a DS is withdrawn the decision can be undone with hms zone secure ZONE; afterwards hms zone secure restarts the chain of trust with new keys once the zone is unsigned (DP-2.5b)',
    ],
  };
  const id = keeper.store.addRequest(
    { zone: z.name, kind: 'insecure', keyTag: null, payload: decision, requestedBy: acting.who.user, requestedAt: acting.at, ticket },
    audit(acting),
  );
  return { id, decision };
}

/**
 * Approves a request made by someone else (DP-4.7d; the store refuses the requester's own)
 * and carries it out: a DS step recorded on its key, or the decision to go insecure taking
 * effect; then the zone's due key events are applied. Returns the zone's plan after it.
 */
export function approveRequest(keeper: Keeper, id: string, acting: Acting): { request: RequestRow; done: string; plan: Plan } {
  const r = keeper.store.getRequest(id);
  if (r === undefined) throw new UsageError(`no request ${id}`);
  const a = audit(acting);
  let done = '';
  keeper.store.transaction(() => {
    keeper.store.approveRequest(id, acting.who.user, acting.at, a);
    if (r.kind === 'insecure') {
      keeper.store.updateZone(
        r.zone,
        { insecureSince: acting.at },
        { ...a, comment: `going insecure (DP-4.7b), requested by ${r.requestedBy} (${r.id}): CDS/CDNSKEY DELETE from now` },
      );
      done = 'going insecure: CDS/CDNSKEY DELETE from the next version; withdraw the DS at the parent';
      return;
    }
    if (r.kind !== 'ds-seen' && r.kind !== 'ds-withdrawn') throw new UsageError(`request ${r.id}: hms does not know what to do for a '${r.kind}' request`);
    const payload = r.payload as { keyId: string };
    const k = keeper.store.keys(r.zone).find((x) => x.id === payload.keyId);
    if (k === undefined) throw new UsageError(`request ${r.id}: its key is gone`);
    keeper.store.putKey(r.zone, r.kind === 'ds-seen' ? { ...k, dsSeen: acting.at } : { ...k, dsWithdrawn: acting.at }, {
      ...a,
      comment: `${r.kind} ${k.keyTag}, requested by ${r.requestedBy} (${r.id})`,
    });
    done = `${r.kind} ${k.keyTag} recorded`;
  });
  const plan = keeper.enforce(r.zone, acting);
  return { request: keeper.store.getRequest(id)!, done, plan };
}

/**
 * Takes a zone back to secure (DP-2.5b): before any DS is withdrawn, the decision to go
 * insecure is undone (the CDS/CDNSKEY DELETE leaves the next version); once the zone is
 * unsigned, new keys are made and the chain of trust restarts (their DS to submit, seen and
 * approved as for a first DS). In between, while the zone waits for a withdrawn DS to leave
 * the caches, it is refused: those keys' DS cannot come back.
 */
export function goSecure(keeper: Keeper, zoneName: string, acting: Acting): Plan {
  const z = keeper.zone(zoneName);
  const a = audit(acting);
  const pending = keeper.store.listRequests({ zone: z.name, status: 'pending' }).filter((r) => r.kind === 'insecure');
  if (z.insecureSince === null && pending.length === 0) throw new UsageError(`zone ${z.name} is not going insecure: nothing to undo`);
  if (z.insecureSince !== null) {
    const since = z.insecureSince;
    const withdrawn = keeper
      .keys(z)
      .filter((k) => signsDnskey(k) && (k.remove === null || k.remove > acting.at) && k.dsWithdrawn !== null && k.dsWithdrawn >= since);
    if (withdrawn.length > 0) {
      const gone = Math.max(...withdrawn.map((k) => k.remove ?? 0));
      throw new UsageError(
        `zone ${z.name}: the DS of ${withdrawn.map((k) => k.keyTag).join(', ')} is withdrawn at the parent; the zone finishes going insecure${gone > 0 ? ` at ${isoSeconds(gone)}` : ''}, then hms zone secure restarts the chain of trust with new keys (DP-2.5b)`,
      );
    }
  }
  keeper.store.transaction(() => {
    for (const r of pending) keeper.store.rejectRequest(r.id, acting.who.user, acting.at, `undone by ${acting.who.user} (hms zone secure)`, a);
    if (z.insecureSince !== null) keeper.store.updateZone(z.name, { insecureSince: null }, { ...a, comment: a.comment ?? 'back to secure (DP-2.5b)' });
  });
  return keeper.enforce(z.name, acting);
}

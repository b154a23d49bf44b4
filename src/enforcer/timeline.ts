import { isoSeconds } from '../common/clock.js';
import type { KeyRecord } from './keys.js';
import { plan, scheduled, type Action, type PlanInput } from './planner.js';

const iso = (t: number | null): string => (t === null ? '-' : isoSeconds(t));

/**
 * The coming events of a zone's keys, worked out with the planner on a copy of the keys:
 * automatic steps by their dates, manual gates where the roll would wait for people.
 */
export function timeline(
  policy: PlanInput['policy'],
  start: readonly KeyRecord[],
  zone: PlanInput['zone'],
  from: number,
  until: number,
  saltCreated: number | null,
): { at: string; what: string }[] {
  const keys = [...start];
  const events: { at: string; what: string }[] = [];
  let salt = saltCreated ?? undefined;
  let now = from;
  let n = 0;
  const apply = (actions: readonly Action[]): void => {
    for (const a of actions) {
      if (a.kind === 'generate') {
        const id = `future-${n++}`;
        keys.push({
          id,
          role: a.role,
          algorithm: a.algorithm,
          bits: a.bits,
          keyTag: 0,
          dnskey: new Uint8Array(),
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
        events.push({
          at: iso(now),
          what: `new ${a.role.toUpperCase()} ${a.publish === null ? 'made (its DS first; published once the parent serves it)' : 'published'}${a.active === null ? '' : `, signs from ${iso(a.active)}`}: ${a.reason}`,
        });
      } else if (a.kind === 'schedule') {
        const i = keys.findIndex((k) => k.id === a.keyId);
        const k = keys[i]!;
        keys[i] = { ...k, ...scheduled(a) };
        const tag = k.keyTag === 0 ? 'the new key' : String(k.keyTag);
        events.push({
          at: iso(now),
          what: `${k.role.toUpperCase()} ${tag}: ${a.publish === undefined ? '' : `published ${iso(a.publish)}, `}${a.retire === undefined ? '' : `stops signing ${iso(a.retire)}, `}${a.remove === undefined ? '' : `removed ${iso(a.remove)}`}`,
        });
      } else {
        salt = now;
        events.push({ at: iso(now), what: `new NSEC3 salt: ${a.reason}` });
      }
    }
  };
  const seenGates = new Set<string>();
  for (let guard = 0; now <= until && guard < 1000; guard++) {
    const p = plan({ policy, keys, zone, now, ...(salt === undefined ? {} : { saltCreated: salt }) });
    apply(p.actions);
    if (p.actions.length > 0) continue;
    for (const g of p.gates) {
      const key = `${g.kind}:${g.keyId}`;
      if (seenGates.has(key)) continue;
      seenGates.add(key);
      events.push({ at: iso(Math.max(g.from, now)), what: `MANUAL (${g.kind}): ${g.what}; the roll waits until it is confirmed and approved` });
    }
    if (p.next === null || p.next > until) break;
    now = p.next;
  }
  for (const kp of policy.keys)
    if (kp.lifetime === null)
      events.push({
        at: '-',
        what: `${kp.role.toUpperCase()}: no automatic roll (rolled by an operator: hms key rollover --${kp.role === 'zsk' ? 'zsk' : 'ksk'})`,
      });
  return events;
}

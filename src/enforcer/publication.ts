import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import type { KeyRecord } from './keys.js';
import type { Schedule } from './planner.js';

/**
 * The keys whose DNSKEY is in the new version and was not in the one served before: they
 * entered the DNSKEY RRset with it. Matched by their DNSKEY RDATA; with no earlier version,
 * every key in the new one entered.
 */
export function keysEntering(keys: readonly KeyRecord[], before: readonly Uint8Array[] | undefined, after: readonly Uint8Array[]): KeyRecord[] {
  const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  return keys.filter((k) => after.some((d) => same(d, k.dnskey)) && !(before ?? []).some((d) => same(d, k.dnskey)));
}

/**
 * RFC 7583's intervals start when a record can be in caches, and a resolver finds it only
 * once the public secondaries serve it, not when the hidden master signed it. When every
 * secondary is seen serving the version at `servedAt`, a key that entered the DNSKEY RRset
 * with it (signed at `signedAt`) counts as published from `servedAt`: its publish time, and
 * every later event of its roll (its activation, its predecessor's retirement and removal)
 * move by the same delay. Times at or before `signedAt` happened as the version shows them,
 * and stay. Pure: returns the actions to apply, none when nothing moves.
 */
export function confirmPublication(keys: readonly KeyRecord[], entered: readonly KeyRecord[], signedAt: UnixSeconds, servedAt: UnixSeconds): Schedule[] {
  const actions: Schedule[] = [];
  const reason = `DNSKEY served by every secondary from ${isoSeconds(servedAt)}: the roll's next steps count from then`;
  for (const k of entered) {
    if (k.publish === null || k.publish >= servedAt) continue;
    const delay = servedAt - k.publish;
    const later = (t: UnixSeconds | null): UnixSeconds | undefined => (t !== null && t > signedAt ? t + delay : undefined);
    const move = (x: KeyRecord, publish?: UnixSeconds): Schedule | undefined => {
      const times = { publish, active: later(x.active), retire: later(x.retire), remove: later(x.remove) };
      const set = Object.fromEntries(Object.entries(times).filter(([, v]) => v !== undefined)) as Partial<Schedule>;
      return Object.keys(set).length === 0 ? undefined : { kind: 'schedule', keyId: x.id, ...set, reason };
    };
    actions.push(move(k, servedAt)!);
    const predecessor = keys.find((x) => x.id === k.successorOf);
    const p = predecessor === undefined ? undefined : move(predecessor);
    if (p !== undefined) actions.push(p);
  }
  return actions;
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simulate } from '../../test/helpers/simulate.js';
import { loadPolicies } from '../kasp/load.js';
import type { Policy } from '../kasp/policy.js';
import { keysAt, keyState, type KeyRecord } from './keys.js';
import { plan, startRollover } from './planner.js';
import { checkSafety } from './safety.js';
import { timings } from './timing.js';

const ROOT = join(import.meta.dirname, '../..');
const DP = loadPolicies(readFileSync(join(ROOT, 'kasp/default.yaml'), 'utf8'), 'kasp/default.yaml').policies[0]!;
const ZONE = { maxTtl: 86400 };
const START = Date.UTC(2027, 0, 1) / 1000;
const DAY = 86400;

let tags = 1000;
const stand = (): Promise<{ id: string; keyTag: number; dnskey: Uint8Array }> => {
  const tag = tags++;
  return Promise.resolve({ id: `k${tag}`, keyTag: tag, dnskey: new Uint8Array([tag >> 8, tag & 0xff]) });
};

function key(over: Partial<KeyRecord> & Pick<KeyRecord, 'id' | 'role'>): KeyRecord {
  return { algorithm: 8, bits: 1024, keyTag: 1, dnskey: new Uint8Array(), created: START, publish: START, active: START, retire: null, remove: null,
    dsSeen: null, dsWithdrawn: null, successorOf: null, compromised: false, ...over };
}

describe('the planner (RFC 7583, DP-4.3)', () => {
  it('a fresh zone gets a KSK and a ZSK at once, and waits for the DS to be seen', () => {
    const p = plan({ policy: DP, keys: [], zone: ZONE, now: START });
    expect(p.actions.map((a) => a.kind === 'generate' && `${a.role} ${a.bits} active ${a.active === null ? '-' : a.active - START}`)).toEqual(['ksk 2048 active -', 'zsk 1024 active 0', false]);
    expect(p.actions[2]).toEqual({ kind: 'resalt', reason: 'no NSEC3 salt yet' });
  });

  it('DP-4.3c rolls the ZSK by itself so that the successor signs when the lifetime ends; DP-4.3b the KSK has no automatic roll', () => {
    const t = timings(DP, ZONE);
    const keys = [key({ id: 'ksk', role: 'ksk', active: null, dsSeen: START }), key({ id: 'zsk', role: 'zsk' })];
    const p = plan({ policy: DP, keys, zone: ZONE, now: START + DAY, saltCreated: START });
    expect(p.actions).toEqual([]);
    expect(p.gates).toEqual([]);
    expect(p.next).toBe(START + 90 * DAY - t.publish);
    const due = plan({ policy: DP, keys, zone: ZONE, now: p.next!, saltCreated: START });
    expect(due.actions).toMatchObject([
      { kind: 'generate', role: 'zsk', publish: p.next, active: START + 90 * DAY, successorOf: 'zsk' },
      { kind: 'schedule', keyId: 'zsk', retire: START + 90 * DAY, remove: START + 90 * DAY + t.retireZsk },
    ]);
  });

  it('DP-4.3b a KSK roll waits for the new DS to be seen and the old withdrawn before the old key goes', () => {
    const t = timings(DP, ZONE);
    const old = key({ id: 'old', role: 'ksk', active: null, dsSeen: START, keyTag: 11 });
    const zsk = key({ id: 'zsk', role: 'zsk' });
    const now = START + 10 * DAY;
    const roll = startRollover({ policy: DP, keys: [old, zsk], zone: ZONE, now }, 'ksk', false);
    expect(roll.next).toMatch(/^from 2027-01-11T0\d:00:00Z: export the new DS .*hms ds seen .*hms ds withdraw ZONE --keytag 11/);
    const fresh = key({ id: 'new', role: 'ksk', active: null, publish: now, created: now, successorOf: 'old', keyTag: 22 });
    const waiting = plan({ policy: DP, keys: [old, fresh, zsk], zone: ZONE, now: now + DAY, saltCreated: START });
    expect(waiting.actions).toEqual([]);
    expect(waiting.gates.map((g) => [g.kind, g.keyTag, g.from])).toEqual([['ds-seen', 22, now + t.publish], ['ds-withdrawn', 11, now + t.publish]]);
    // only the new DS seen: still waiting for the old one's withdrawal
    const seen = { ...fresh, dsSeen: now + 2 * DAY };
    expect(plan({ policy: DP, keys: [old, seen, zsk], zone: ZONE, now: now + 2 * DAY, saltCreated: START }).actions).toEqual([]);
    const both = plan({ policy: DP, keys: [{ ...old, dsWithdrawn: now + 3 * DAY }, seen, zsk], zone: ZONE, now: now + 3 * DAY, saltCreated: START });
    expect(both.actions).toMatchObject([{ kind: 'schedule', keyId: 'old', retire: now + 3 * DAY + t.retireKsk, remove: now + 3 * DAY + t.retireKsk }]);
  });

  it('DP-2.5a an emergency ZSK roll says plainly what it risks', () => {
    const keys = [key({ id: 'ksk', role: 'ksk', active: null, dsSeen: START }), key({ id: 'zsk', role: 'zsk', keyTag: 7 })];
    const r = startRollover({ policy: DP, keys, zone: ZONE, now: START + DAY }, 'zsk', true);
    expect(r.actions).toMatchObject([{ kind: 'generate', active: START + DAY }, { kind: 'schedule', keyId: 'zsk', retire: START + DAY, remove: START + DAY, compromised: true }]);
    expect(r.risk).toMatch(/do not know the new ZSK, and fail to validate/);
  });

  it('refuses a double-DS KSK roll it does not carry out yet, saying what to set', () => {
    const doubleDs: Policy = { ...DP, rollover: { ...DP.rollover, ksk: 'double-ds' } };
    const keys = [key({ id: 'ksk', role: 'ksk', active: null, dsSeen: START }), key({ id: 'zsk', role: 'zsk' })];
    expect(() => startRollover({ policy: doubleDs, keys, zone: ZONE, now: START + DAY }, 'ksk', false)).toThrow(/double-KSK only .* set rollover\.ksk: double-ksk/);
  });

  it('refuses a policy change it cannot carry out, and says why', () => {
    const ecdsa: Policy = { ...DP, keys: DP.keys.map((k) => ({ ...k, algorithm: 13, bits: 256 })) };
    const keys = [key({ id: 'ksk', role: 'ksk', active: null }), key({ id: 'zsk', role: 'zsk' })];
    expect(() => plan({ policy: ecdsa, keys, zone: ZONE, now: START })).toThrow(/algorithm roll .* is not supported; the change is refused/);
  });

  it('states come from the times alone', () => {
    const k = key({ id: 'z', role: 'zsk', publish: 100, active: 200, retire: 300, remove: 400 });
    expect([50, 100, 150, 200, 300, 400].map((t) => keyState(k, t, 50))).toEqual(['generated', 'published', 'ready', 'active', 'retired', 'removed']);
  });

  it('the safety check finds a ZSK that signs before resolvers know it', () => {
    const ksk = key({ id: 'ksk', role: 'ksk', active: null, dsSeen: START });
    const a = key({ id: 'a', role: 'zsk', retire: START + DAY, remove: START + DAY });
    const b = key({ id: 'b', role: 'zsk', publish: START + DAY, active: START + DAY, successorOf: 'a' });
    const cache = { dnskey: 7200, signatures: 90000, ds: 90000 };
    expect(checkSafety([ksk, a, b], cache, START + DAY + 60).length).toBeGreaterThan(0);
    expect(keysAt([ksk, a, b], START + DAY).dataSigners.map((k) => k.id)).toEqual(['b']);
  });

  it('two years under kasp/default.yaml: 8 ZSK rolls, 2 operator KSK rolls, safe at every step', async () => {
    const log = await simulate({ policy: DP, zone: ZONE, start: START, days: 730, kskRolls: [200, 560], operatorDelay: DAY, makeKey: stand });
    const generated = (role: string): number => log.events.filter((e) => e.what.startsWith(`generate ${role}`)).length;
    expect(generated('zsk')).toBe(1 + 8);
    expect(generated('ksk')).toBe(1 + 2);
    expect(log.safety).toEqual([]);
    // every ZSK signs for its 90 days, and each new one is ready before it signs
    const zsks = log.keys.filter((k) => k.role === 'zsk');
    for (const [i, k] of zsks.entries()) {
      if (i > 0) expect(k.active! - k.publish).toBe(timings(DP, ZONE).publish);
      if (k.retire !== null) expect(k.retire - k.active!).toBe(90 * DAY);
    }
    // the old KSKs left only after their DS was withdrawn and the new one seen
    for (const k of log.keys.filter((x) => x.role === 'ksk' && x.remove !== null)) {
      const next = log.keys.find((x) => x.successorOf === k.id)!;
      expect(k.remove!).toBeGreaterThanOrEqual(Math.max(k.dsWithdrawn!, next.dsSeen!) + timings(DP, ZONE).retireKsk);
    }
    // DP-4.2d: the first salt, then a new one every 365 days
    expect(log.events.filter((e) => e.what.startsWith('resalt')).map((e) => (e.at - START) / DAY)).toEqual([0, 365, 730]);
  });
});

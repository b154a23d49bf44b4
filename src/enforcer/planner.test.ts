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
  return {
    algorithm: 8,
    bits: 1024,
    keyTag: 1,
    dnskey: new Uint8Array(),
    created: START,
    publish: START,
    active: START,
    retire: null,
    remove: null,
    dsSeen: null,
    dsWithdrawn: null,
    successorOf: null,
    compromised: false,
    ...over,
  };
}

describe('the planner (RFC 7583, DP-4.3)', () => {
  it('a fresh zone gets a KSK and a ZSK at once, and waits for the DS to be seen', () => {
    const p = plan({ policy: DP, keys: [], zone: ZONE, now: START });
    expect(p.actions.map((a) => a.kind === 'generate' && `${a.role} ${a.bits} active ${a.active === null ? '-' : a.active - START}`)).toEqual([
      'ksk 2048 active -',
      'zsk 1024 active 0',
      false,
    ]);
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
    expect(waiting.gates.map((g) => [g.kind, g.keyTag, g.from])).toEqual([
      ['ds-seen', 22, now + t.publish],
      ['ds-withdrawn', 11, now + t.publish],
    ]);
    // only the new DS seen: still waiting for the old one's withdrawal
    const seen = { ...fresh, dsSeen: now + 2 * DAY };
    expect(plan({ policy: DP, keys: [old, seen, zsk], zone: ZONE, now: now + 2 * DAY, saltCreated: START }).actions).toEqual([]);
    const both = plan({ policy: DP, keys: [{ ...old, dsWithdrawn: now + 3 * DAY }, seen, zsk], zone: ZONE, now: now + 3 * DAY, saltCreated: START });
    expect(both.actions).toMatchObject([{ kind: 'schedule', keyId: 'old', retire: now + 3 * DAY + t.retireKsk, remove: now + 3 * DAY + t.retireKsk }]);
  });

  it('DP-2.5a an emergency ZSK roll says plainly what it risks', () => {
    const keys = [key({ id: 'ksk', role: 'ksk', active: null, dsSeen: START }), key({ id: 'zsk', role: 'zsk', keyTag: 7 })];
    const r = startRollover({ policy: DP, keys, zone: ZONE, now: START + DAY }, 'zsk', true);
    expect(r.actions).toMatchObject([
      { kind: 'generate', active: START + DAY },
      { kind: 'schedule', keyId: 'zsk', retire: START + DAY, remove: START + DAY, compromised: true },
    ]);
    expect(r.risk).toMatch(/do not know the new ZSK, and fail to validate/);
  });

  it('RFC 7583 section 3.3.2 double-DS: the new DS first, the DNSKEYs swap TTLds after it is seen, then the old DS goes', () => {
    const doubleDs: Policy = { ...DP, rollover: { ...DP.rollover, ksk: 'double-ds' } };
    const t = timings(doubleDs, ZONE);
    const old = key({ id: 'old', role: 'ksk', active: null, dsSeen: START, keyTag: 11 });
    const zsk = key({ id: 'zsk', role: 'zsk' });
    const now = START + 10 * DAY;
    const roll = startRollover({ policy: doubleDs, keys: [old, zsk], zone: ZONE, now }, 'ksk', false);
    expect(roll.actions).toMatchObject([{ kind: 'generate', role: 'ksk', publish: null, active: null, successorOf: 'old' }]);
    expect(roll.next).toMatch(/^now: export the new DS .*beside DS 11 \(keep both\).*replaces 11 .*hms ds withdraw ZONE --keytag 11/);
    const fresh = key({ id: 'new', role: 'ksk', active: null, publish: null, created: now, successorOf: 'old', keyTag: 22 });
    // the new DS may be submitted at once; nothing else happens until it is seen
    const waiting = plan({ policy: doubleDs, keys: [old, fresh, zsk], zone: ZONE, now, saltCreated: START });
    expect(waiting.actions).toEqual([]);
    expect(waiting.gates.map((g) => [g.kind, g.keyTag, g.from])).toEqual([['ds-seen', 22, now]]);
    expect(keysAt([old, fresh, zsk], now).dnskeys.map((k) => k.id)).toEqual(['old', 'zsk']);
    // seen: the DNSKEYs swap once every cache can hold the new DS
    const seenAt = now + DAY;
    const seen = { ...fresh, dsSeen: seenAt };
    const swap = plan({ policy: doubleDs, keys: [old, seen, zsk], zone: ZONE, now: seenAt, saltCreated: START });
    expect(swap.actions).toMatchObject([
      { kind: 'schedule', keyId: 'new', publish: seenAt + t.dsReady },
      { kind: 'schedule', keyId: 'old', remove: seenAt + t.dsReady },
    ]);
    const published = { ...seen, publish: seenAt + t.dsReady };
    const gone = { ...old, retire: seenAt + t.dsReady, remove: seenAt + t.dsReady };
    expect(keysAt([gone, published, zsk], seenAt + t.dsReady).dnskeySigners.map((k) => k.id)).toEqual(['new']);
    // the old DS may go once no cache holds the old DNSKEY RRset; a second roll waits until it has
    const after = plan({ policy: doubleDs, keys: [gone, published, zsk], zone: ZONE, now: seenAt + t.dsReady, saltCreated: START });
    expect(after.gates.map((g) => [g.kind, g.keyTag, g.from])).toEqual([['ds-withdrawn', 11, seenAt + t.dsReady + t.publish]]);
    expect(() => startRollover({ policy: doubleDs, keys: [gone, published, zsk], zone: ZONE, now: seenAt + t.dsReady + t.publish }, 'ksk', false)).toThrow(
      /roll is under way already \(22 follows 11\)/,
    );
    const done = plan({
      policy: doubleDs,
      keys: [{ ...gone, dsWithdrawn: seenAt + 3 * DAY }, published, zsk],
      zone: ZONE,
      now: seenAt + 3 * DAY,
      saltCreated: START,
    });
    expect(done.actions).toEqual([]);
    expect(done.gates).toEqual([]);
  });

  it('refuses a double-DS roll of a CSK, saying why', () => {
    const csk: Policy = { ...DP, keys: [{ ...DP.keys[0]!, role: 'csk' }], rollover: { ...DP.rollover, ksk: 'double-ds' } };
    const keys = [key({ id: 'csk', role: 'csk', dsSeen: START })];
    expect(() => startRollover({ policy: csk, keys, zone: ZONE, now: START + DAY }, 'csk', false)).toThrow(
      /CSK also signs the zone's data, .*set rollover\.ksk: double-ksk for a CSK/,
    );
  });

  it('DP-4.7b going insecure: CDS DELETE, the DS withdrawn and approved, and only a DS TTL and margins later the keys go', () => {
    const t = timings(DP, ZONE);
    const ksk = key({ id: 'ksk', role: 'ksk', active: null, dsSeen: START, keyTag: 11 });
    const zsk = key({ id: 'zsk', role: 'zsk' });
    const since = START + 10 * DAY;
    const going = plan({ policy: DP, keys: [ksk, zsk], zone: ZONE, now: since, saltCreated: START, insecureSince: since });
    expect(going.status).toBe('going-insecure');
    expect(going.actions).toEqual([]);
    expect(going.gates.map((g) => [g.kind, g.keyTag, g.from])).toEqual([['ds-withdrawn', 11, since]]);
    // a ZSK lifetime ending meanwhile starts no roll, and no key is made
    expect(plan({ policy: DP, keys: [ksk, zsk], zone: ZONE, now: START + 100 * DAY, saltCreated: START, insecureSince: since }).actions).toEqual([]);
    const withdrawnAt = since + 2 * DAY;
    const withdrawn = { ...ksk, dsWithdrawn: withdrawnAt };
    const p = plan({ policy: DP, keys: [withdrawn, zsk], zone: ZONE, now: withdrawnAt, saltCreated: START, insecureSince: since });
    expect(p.gates).toEqual([]);
    expect(p.actions).toMatchObject([
      { kind: 'schedule', keyId: 'ksk', remove: withdrawnAt + t.retireKsk },
      { kind: 'schedule', keyId: 'zsk', retire: withdrawnAt + t.retireKsk, remove: withdrawnAt + t.retireKsk },
    ]);
    const removed = [
      { ...withdrawn, remove: withdrawnAt + t.retireKsk },
      { ...zsk, retire: withdrawnAt + t.retireKsk, remove: withdrawnAt + t.retireKsk },
    ];
    expect(plan({ policy: DP, keys: removed, zone: ZONE, now: withdrawnAt + t.retireKsk - 1, saltCreated: START, insecureSince: since }).status).toBe(
      'going-insecure',
    );
    const unsigned = plan({ policy: DP, keys: removed, zone: ZONE, now: withdrawnAt + t.retireKsk, saltCreated: START, insecureSince: since });
    expect(unsigned).toEqual({ actions: [], gates: [], next: null, status: 'unsigned' });
    // the RFC 7583 property holds throughout; removing the keys as the DS is withdrawn would break it
    const cache = {
      dnskey: DP.zone.propagationDelay + DP.ttl.dnskey,
      signatures: DP.zone.propagationDelay + ZONE.maxTtl,
      ds: DP.parent.propagationDelay + DP.parent.dsTtl,
    };
    for (const at of [since, withdrawnAt, withdrawnAt + t.retireKsk - 1, withdrawnAt + t.retireKsk]) expect(checkSafety(removed, cache, at)).toEqual([]);
    const early = [
      { ...withdrawn, remove: withdrawnAt + 60 },
      { ...zsk, retire: withdrawnAt + 60, remove: withdrawnAt + 60 },
    ];
    expect(checkSafety(early, cache, withdrawnAt + 120)).not.toEqual([]);
    // DP-2.5b back to secure: with the decision undone, an unsigned zone gets new keys and waits for its DS
    const back = plan({ policy: DP, keys: removed, zone: ZONE, now: withdrawnAt + 30 * DAY, saltCreated: START });
    expect(back.actions.filter((a) => a.kind === 'generate').map((a) => a.kind === 'generate' && a.role)).toEqual(['ksk', 'zsk']);
  });

  it('refuses a policy change it cannot carry out, and says why', () => {
    const ecdsa: Policy = { ...DP, keys: DP.keys.map((k) => ({ ...k, algorithm: 13, bits: 256 })) };
    const keys = [key({ id: 'ksk', role: 'ksk', active: null }), key({ id: 'zsk', role: 'zsk' })];
    expect(() => plan({ policy: ecdsa, keys, zone: ZONE, now: START })).toThrow(/algorithm roll .* is not supported; the change is refused/);
  });

  it('a policy change on a live zone: a new ZSK size comes with the next roll, NSEC to NSEC3 gets a salt at once, a lifetime change moves the next roll', () => {
    const t = timings(DP, ZONE);
    const keys = [key({ id: 'ksk', role: 'ksk', active: null, dsSeen: START, bits: 2048 }), key({ id: 'zsk', role: 'zsk' })];
    const bigger: Policy = { ...DP, keys: DP.keys.map((k) => (k.role === 'zsk' ? { ...k, bits: 2048 } : k)) };
    const now = START + DAY;
    expect(plan({ policy: bigger, keys, zone: ZONE, now, saltCreated: START }).actions).toEqual([]);
    expect(plan({ policy: bigger, keys, zone: ZONE, now: START + 90 * DAY - t.publish, saltCreated: START }).actions).toMatchObject([
      { kind: 'generate', role: 'zsk', bits: 2048 },
      { kind: 'schedule', keyId: 'zsk' },
    ]);
    // or at once, by an operator's roll
    expect(startRollover({ policy: bigger, keys, zone: ZONE, now }, 'zsk', false).actions).toMatchObject([
      { kind: 'generate', bits: 2048, active: now + t.publish },
      { kind: 'schedule', keyId: 'zsk', retire: now + t.publish },
    ]);
    const nsec: Policy = { ...DP, denial: { type: 'nsec' } };
    expect(plan({ policy: nsec, keys, zone: ZONE, now }).actions).toEqual([]);
    expect(plan({ policy: DP, keys, zone: ZONE, now }).actions).toEqual([{ kind: 'resalt', reason: 'no NSEC3 salt yet' }]);
    const shorter: Policy = { ...DP, keys: DP.keys.map((k) => (k.role === 'zsk' ? { ...k, lifetime: 30 * DAY } : k)) };
    expect(plan({ policy: shorter, keys, zone: ZONE, now, saltCreated: START }).next).toBe(START + 30 * DAY - t.publish);
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
      if (i > 0) expect(k.active! - k.publish!).toBe(timings(DP, ZONE).publish);
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

  it('RFC 7583 section 3.3.2 two years with double-DS KSK rolls: safe at every step, the old KSK gone only after the swap', async () => {
    const doubleDs: Policy = { ...DP, rollover: { ...DP.rollover, ksk: 'double-ds' } };
    const log = await simulate({ policy: doubleDs, zone: ZONE, start: START, days: 730, kskRolls: [200, 560], operatorDelay: DAY, makeKey: stand });
    expect(log.safety).toEqual([]);
    const ksks = log.keys.filter((k) => k.role === 'ksk');
    expect(ksks.length).toBe(3);
    for (const k of ksks.filter((x) => x.successorOf !== null)) {
      const old = ksks.find((x) => x.id === k.successorOf)!;
      // DS first, DNSKEY after the DS TTL, old DNSKEY out at the swap, old DS withdrawn after the new DNSKEY is known
      expect(k.publish! - k.dsSeen!).toBe(timings(doubleDs, ZONE).dsReady);
      expect(old.remove).toBe(k.publish);
      expect(old.dsWithdrawn!).toBeGreaterThanOrEqual(k.publish! + timings(doubleDs, ZONE).publish);
    }
  });

  it('DP-4.7b DP-2.5b going insecure and back within a simulation: safe at every step, unsigned in between', async () => {
    const log = await simulate({
      policy: DP,
      zone: ZONE,
      start: START,
      days: 200,
      kskRolls: [],
      operatorDelay: DAY,
      makeKey: stand,
      insecure: { from: 50, back: 120 },
    });
    expect(log.safety).toEqual([]);
    const first = log.keys.filter((k) => k.created === START);
    const t = timings(DP, ZONE);
    const withdrawn = first.find((k) => k.role === 'ksk')!.dsWithdrawn!;
    for (const k of first) expect(k.remove).toBe(withdrawn + t.retireKsk);
    expect(log.events.some((e) => e.what === 'unsigned')).toBe(true);
    const second = log.keys.filter((k) => k.created === START + 120 * DAY);
    expect(second.map((k) => k.role).sort()).toEqual(['ksk', 'zsk']);
    expect(second.find((k) => k.role === 'ksk')!.dsSeen).not.toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { DUE_RUN, FairQueue, type Urgency } from './fair-queue.js';

/** A fake job: its zone and its number within the zone. */
type Job = string;

function queue(lanes: Record<string, { urgency: Urgency; jobs: number }>): FairQueue<string, Job> {
  const q = new FairQueue<string, Job>();
  for (const [lane, { urgency, jobs }] of Object.entries(lanes)) for (let i = 0; i < jobs; i++) q.push(lane, urgency, `${lane}${i}`);
  return q;
}

function drain(q: FairQueue<string, Job>): Job[] {
  const out: Job[] = [];
  for (let n = q.next(); n !== undefined; n = q.next()) out.push(n.item);
  return out;
}

describe('the signing pool queue (issue 20: zones in turn, due before requested)', () => {
  it('takes one job from each zone in turn, each zone in its own order', () => {
    const q = queue({ big: { urgency: 'requested', jobs: 5 }, a: { urgency: 'requested', jobs: 1 }, b: { urgency: 'requested', jobs: 2 } });
    expect(q.size).toBe(8);
    expect(drain(q)).toEqual(['big0', 'a0', 'b0', 'big1', 'b1', 'big2', 'big3', 'big4']);
    expect(q.size).toBe(0);
    expect(q.next()).toBeUndefined();
  });

  it('a zone of a million records does not hold a thousand small ones back: each small one is served within its first turn', () => {
    const q = new FairQueue<string, Job>();
    for (let i = 0; i < 10_000; i++) q.push('huge', 'requested', `huge${i}`);
    for (let z = 0; z < 1000; z++) q.push(`small${z}`, 'requested', `small${z}`);
    const order = drain(q);
    // the 1,000 small zones' jobs all come within the first 1,001 taken (the huge zone gives one meanwhile)
    const lastSmall = Math.max(...order.map((j, i) => (j.startsWith('small') ? i : -1)));
    expect(lastSmall).toBe(1000);
    expect(order.filter((j) => j.startsWith('huge'))).toEqual(Array.from({ length: 10_000 }, (_, i) => `huge${i}`));
  });

  it('DP-4.4b a due re-sign comes before every requested one, even one queued earlier', () => {
    const q = queue({ asked: { urgency: 'requested', jobs: 3 }, due1: { urgency: 'due', jobs: 2 }, due2: { urgency: 'due', jobs: 1 } });
    expect(drain(q)).toEqual(['due10', 'due20', 'due11', 'asked0', 'asked1', 'asked2']);
  });

  it('OPS-7 due work does not starve a requested change: one requested item after every DUE_RUN due ones while both wait', () => {
    const q = queue({ daily: { urgency: 'due', jobs: 100 }, other: { urgency: 'due', jobs: 100 }, asked: { urgency: 'requested', jobs: 3 } });
    const order = drain(q);
    expect(order.indexOf('asked0')).toBe(DUE_RUN);
    expect(order.indexOf('asked1')).toBe(2 * DUE_RUN + 1);
    expect(order.indexOf('asked2')).toBe(3 * DUE_RUN + 2);
    // the due work keeps its order and its turns
    expect(order.filter((j) => j.startsWith('daily'))).toEqual(Array.from({ length: 100 }, (_, i) => `daily${i}`));
    expect(order.slice(0, DUE_RUN)).toEqual(['daily0', 'other0', 'daily1', 'other1', 'daily2', 'other2', 'daily3', 'other3']);
  });

  it('a zone that becomes due (more work pushed as due) moves ahead of the requested ones', () => {
    const q = queue({ a: { urgency: 'requested', jobs: 2 }, b: { urgency: 'requested', jobs: 2 } });
    q.push('b', 'due', 'b2');
    expect(drain(q)).toEqual(['b0', 'b1', 'b2', 'a0', 'a1']);
  });

  it('OPS-7 a failing job stalls no other zone: its zone is dropped, the others are served in turn to the end', () => {
    const q = queue({ a: { urgency: 'requested', jobs: 3 }, bad: { urgency: 'requested', jobs: 3 }, c: { urgency: 'due', jobs: 2 } });
    const done: Job[] = [];
    const failed: Job[] = [];
    for (let n = q.next(); n !== undefined; n = q.next()) {
      try {
        if (n.item === 'bad1') throw new Error('CKR_KEY_HANDLE_INVALID');
        done.push(n.item);
      } catch {
        // the zone's run fails: what it still has queued goes with it
        failed.push(n.item, ...q.drop(n.lane));
      }
    }
    expect(failed).toEqual(['bad1', 'bad2']);
    expect(done).toEqual(['c0', 'c1', 'a0', 'bad0', 'a1', 'a2']);
    expect(q.size).toBe(0);
  });

  it('a zone removed while queued is dropped whole (oldest first), the others keep their turns, and an unknown zone drops nothing', () => {
    const q = queue({ a: { urgency: 'requested', jobs: 2 }, gone: { urgency: 'requested', jobs: 3 }, c: { urgency: 'requested', jobs: 2 } });
    expect(q.next()!.item).toBe('a0');
    expect(q.drop('gone')).toEqual(['gone0', 'gone1', 'gone2']);
    expect(q.size).toBe(3);
    expect(q.drop('gone')).toEqual([]);
    expect(q.drop('never')).toEqual([]);
    expect(drain(q)).toEqual(['c0', 'a1', 'c1']);
  });

  it('keeps nothing for a zone without work: a lane comes back at the end of the turns', () => {
    const q = queue({ a: { urgency: 'requested', jobs: 1 }, b: { urgency: 'requested', jobs: 2 } });
    expect(q.next()!.item).toBe('a0');
    q.push('a', 'requested', 'a1');
    expect(drain(q)).toEqual(['b0', 'a1', 'b1']);
  });

  it('clear takes every job out', () => {
    const q = queue({ a: { urgency: 'due', jobs: 2 }, b: { urgency: 'requested', jobs: 1 } });
    expect(q.clear().sort()).toEqual(['a0', 'a1', 'b0']);
    expect(q.size).toBe(0);
    expect(q.next()).toBeUndefined();
  });
});

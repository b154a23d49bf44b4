import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RefusalCounter, type RefusalSummary } from './refusals.js';

describe('RefusalCounter (issue 17 item 3: refusals counted, not logged one by one)', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('logs the first refusal at once, then at most one summary a minute with the counts by reason and the top peers', () => {
    const out: RefusalSummary[] = [];
    const counter = new RefusalCounter(60_000, (s) => out.push(s));
    counter.add('192.0.2.1', 'refused', 'address not listed');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ refused: 1, reasons: { 'refused: address not listed': 1 }, peers: [{ peer: '192.0.2.1', count: 1 }], addresses: 1 });
    for (let i = 0; i < 10_000; i++) counter.add(`198.51.100.${i % 7}`, 'connection refused', 'over the connection limit (256)');
    for (let i = 0; i < 3; i++) counter.add('192.0.2.9', 'refused', `BADTIME (signed ${i}, now 99, fudge 300)`);
    vi.advanceTimersByTime(59_999);
    expect(out).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(out).toHaveLength(2);
    const second = out[1]!;
    expect(second.refused).toBe(10_003);
    // the figures in a reason would make every line a reason of its own
    expect(second.reasons).toEqual({ 'connection refused: over the connection limit': 10_000, 'refused: BADTIME': 3 });
    expect(second.peers).toHaveLength(5);
    expect(second.peers[0]!.count).toBe(1429);
    expect(second.addresses).toBe(8);
    // nothing more, nothing logged
    vi.advanceTimersByTime(600_000);
    expect(out).toHaveLength(2);
  });

  it('keeps its memory bounded: distinct peers and reasons beyond a few thousand are counted as other; flush at stop logs what is left', () => {
    const out: RefusalSummary[] = [];
    const counter = new RefusalCounter(60_000, (s) => out.push(s));
    counter.add('192.0.2.1', 'refused', 'address not listed');
    for (let i = 0; i < 20_000; i++) counter.add(`10.${i >> 16}.${(i >> 8) & 0xff}.${i & 0xff}`, 'malformed', `offset ${i}`);
    counter.flush();
    const last = out[1]!;
    expect(last.refused).toBe(20_000);
    expect(Object.keys(last.reasons)).toHaveLength(32);
    expect(last.reasons.other).toBe(20_000 - 31);
    expect(last.addresses).toBe(4095);
    counter.flush();
    expect(out).toHaveLength(2);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { resignOffset, Triggers } from './triggers.js';

describe('Triggers: the daily re-sign schedule', () => {
  it('DK-16 reads the cron expression in UTC, whatever the host time zone', async () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    const triggers = new Triggers({ zones: () => [], daily: () => undefined, poll: () => undefined, hourly: () => undefined });
    try {
      triggers.start('17 3 * * *', 3_600_000);
      expect(triggers.nextDailyAt()?.toISOString()).toMatch(/T03:17:00\.000Z$/);
      await triggers.reschedule('5 22 * * *');
      expect(triggers.nextDailyAt()?.toISOString()).toMatch(/T22:05:00\.000Z$/);
    } finally {
      await triggers.stop();
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe('Triggers: a daily run reached late', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('DP-4.4b still runs when the event loop reaches it minutes late (a busy or suspended host), once; node-cron alone dropped it after 1 s', async () => {
    vi.useFakeTimers({ now: new Date('2027-03-01T03:16:59Z') });
    const fired: string[] = [];
    const triggers = new Triggers({
      zones: () => ['example.com.'],
      daily: () => fired.push(new Date().toISOString()),
      poll: () => undefined,
      hourly: () => undefined,
    });
    triggers.start('17 3 * * *', 3_600_000);
    try {
      // the clock moves on 13 minutes while no timer runs (the loop blocked), then the timers run
      vi.setSystemTime(new Date('2027-03-01T03:30:00Z'));
      await vi.advanceTimersByTimeAsync(2000);
      expect(fired).toEqual(['2027-03-01T03:30:01.000Z']);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(fired).toHaveLength(1);
      expect(triggers.nextDailyAt()?.toISOString()).toBe('2027-03-02T03:17:00.000Z');
    } finally {
      await triggers.stop();
    }
  });
});

describe('Triggers: the daily re-signs spread over resign-spread (issue 20 item 4)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('DP-4.4b every zone is re-signed once a day, each at its own place within the spread, the same place every day', async () => {
    vi.useFakeTimers();
    const zones = Array.from({ length: 1000 }, (_, i) => `zone${i}.example.`);
    const fired: { zone: string; at: number }[] = [];
    const triggers = new Triggers({
      zones: () => zones,
      daily: (zone) => fired.push({ zone, at: Date.now() }),
      poll: () => undefined,
      hourly: () => undefined,
    });
    triggers.start('17 3 * * *', 3_600_000, 3600);
    try {
      const start = Date.now();
      triggers.fireDaily();
      await vi.advanceTimersByTimeAsync(3600 * 1000);
      expect(fired.map((f) => f.zone).sort()).toEqual([...zones].sort());
      const offsets = fired.map((f) => (f.at - start) / 1000);
      for (const [i, f] of fired.entries()) expect(offsets[i]).toBe(resignOffset(f.zone, 3600));
      // spread: no minute of the hour holds more than a tenth of the zones, and the places differ
      const perMinute = new Map<number, number>();
      for (const o of offsets) perMinute.set(Math.floor(o / 60), (perMinute.get(Math.floor(o / 60)) ?? 0) + 1);
      expect(Math.max(...perMinute.values())).toBeLessThan(100);
      expect(new Set(offsets).size).toBeGreaterThan(800);
      expect(resignOffset('Zone7.Example.', 3600)).toBe(resignOffset('zone7.example.', 3600));
    } finally {
      await triggers.stop();
    }
  });

  it('with no spread every zone starts at once; a stop drops the re-signs still waiting for their place', async () => {
    vi.useFakeTimers();
    const fired: string[] = [];
    const handlers = {
      zones: () => ['a.example.', 'b.example.', 'c.example.'],
      daily: (zone: string) => fired.push(zone),
      poll: () => undefined,
      hourly: () => undefined,
    };
    const now = new Triggers(handlers);
    now.start('17 3 * * *', 3_600_000, 0);
    now.fireDaily();
    expect(fired).toEqual(['a.example.', 'b.example.', 'c.example.']);
    await now.stop();

    fired.length = 0;
    const later = new Triggers(handlers);
    later.start('17 3 * * *', 3_600_000, 86_399);
    later.fireDaily();
    await later.stop();
    await vi.advanceTimersByTimeAsync(86_400 * 1000);
    expect(fired.length).toBeLessThan(3);
  });
});

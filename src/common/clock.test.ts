import { describe, expect, it } from 'vitest';
import { isoSeconds, parseUtcTime } from './clock.js';

describe('times read and written in UTC (DK-16)', () => {
  it('DK-16 a time without a zone designator is UTC, whatever the host time zone', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const noon = Date.UTC(2026, 10, 22, 12) / 1000;
      expect(parseUtcTime('2026-11-22T12:00:00')).toBe(noon);
      expect(parseUtcTime('2026-11-22T12:00')).toBe(noon);
      expect(parseUtcTime('2026-11-22 12:00:00.75')).toBe(noon);
      expect(parseUtcTime('2026-11-22T12:00:00Z')).toBe(noon);
      expect(parseUtcTime('2026-11-22T13:00:00+01:00')).toBe(noon);
      expect(parseUtcTime('2026-11-22')).toBe(noon - 12 * 3600);
      expect(isoSeconds(noon)).toBe('2026-11-22T12:00:00Z');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('refuses what is no ISO 8601 time', () => {
    for (const text of ['', 'tomorrow', '22/11/2026', '2026-11-22T25:00', '1764000000']) expect(parseUtcTime(text), text).toBeUndefined();
  });
});

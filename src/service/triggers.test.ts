import { describe, expect, it } from 'vitest';
import { Triggers } from './triggers.js';

describe('Triggers: the daily re-sign schedule', () => {
  it('DK-16 reads the cron expression in UTC, whatever the host time zone', async () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    const triggers = new Triggers({ daily: () => undefined, poll: () => undefined, hourly: () => undefined });
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

import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Service } from '../../src/service/daemon.js';
import { throwawayToken } from './helpers/softhsm.js';
import { ROOT } from './helpers/run.js';

/**
 * The service in-process with its clock injected: signatures that run short while signing
 * fails do not go unnoticed (OPS-7).
 */
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
const lines: Record<string, unknown>[] = [];
const log = pino({ level: 'info' }, new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
}));
const operator = { user: 'hms-service(test)', groups: [] };

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hms-service-clock-'));
  token = throwawayToken('hms-clock');
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  mkdirSync(join(tmp, 'zones'));
  copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(tmp, 'zones/example.com.zone'));
  config = join(tmp, 'hms.yaml');
  writeFileSync(config, `state: state/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-clock, pin-file: pin }
service:
  data: state
  alarm-validity: 7d
zones:
  example.com: { input: zones/example.com.zone, policy: dp }
`);
});

afterAll(() => {
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('the service with its clock injected', () => {
  it('OPS-7 DP-4.4b when re-signing fails for days, an alarm says the served signatures expire soon', async () => {
    const start = Math.floor(Date.now() / 1000);
    let now = start;
    const first = await Service.start({ configFile: config, log, operator, now: () => now });
    const signed = await first.resign('example.com.', 'test');
    expect(signed.serial).toBeGreaterThan(2026112201);
    expect(signed.expires).toBe(start - 3600 + 32 * 86400);
    await first.stop();

    // 27 days later the HSM PIN file has been opened to others: signing is refused
    chmodSync(join(tmp, 'pin'), 0o644);
    now = start + 27 * 86400;
    lines.length = 0;
    const second = await Service.start({ configFile: config, log, operator, now: () => now, backoffMs: 3_600_000 });
    try {
      await expect(second.resign('example.com.', 'test')).rejects.toThrow(/PIN file .* is readable by others/);
      const status = second.status()[0]!;
      expect(status.serial).toBe(signed.serial);
      expect(status.failures).toBeGreaterThan(0);
      const alarms = lines.filter((l) => l.alarm === true);
      expect(alarms.map((l) => l.msg)).toContain('ALARM: the HSM failed; the last good signed version stays served');
      expect(alarms.find((l) => l.msg === 'ALARM: the served signatures expire soon')).toMatchObject({ zone: 'example.com.', serial: signed.serial, hoursLeft: 5 * 24 - 1 });
      expect(JSON.stringify(lines)).not.toContain(token.pin);
    } finally {
      await second.stop();
      chmodSync(join(tmp, 'pin'), 0o600);
    }
  });
});

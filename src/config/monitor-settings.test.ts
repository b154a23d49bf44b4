import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';

const FILE = join('/nonexistent', 'hms.yaml');
const parse = (lines: string): ReturnType<typeof parseConfig>['service']['monitor'] =>
  parseConfig(`state: state/hms.db\npolicies: [kasp/default.yaml]\nservice:\n  listen: ["127.0.0.1:5300"]\n${lines}`, FILE, { secrets: false }).service.monitor;

describe('the monitor settings of the service section (issue 19, DP-2.9)', () => {
  it('DP-2.9a DP-2.9d DP-2.9e defaults: every 5 minutes, 3 s a question, port 53, lag 30 min / 6 h, validity 7 d / 2 d, clock 30 s / 5 min', () => {
    expect(parse('')).toEqual({
      interval: 300,
      timeoutMs: 3000,
      nsPort: 53,
      serialLagWarning: 1800,
      serialLagCritical: 21600,
      validityWarning: 604800,
      validityCritical: 172800,
      clockWarning: 30,
      clockCritical: 300,
    });
  });

  it('takes durations, 0 turns the monitor off, and refuses a critical threshold milder than its warning, naming the file and line', () => {
    expect(parse('  monitor-interval: 0\n  monitor-serial-lag-warning: 1m\n  monitor-ns-port: 5353\n')).toMatchObject({
      interval: 0,
      serialLagWarning: 60,
      nsPort: 5353,
    });
    expect(() => parse('  monitor-validity-warning: 2d\n  monitor-validity-critical: 3d\n')).toThrow(
      /hms\.yaml:\d+.*monitor-validity-critical.*259200 s is above monitor-validity-warning \(172800 s\)/s,
    );
    expect(() => parse('  monitor-clock-warning: 5m\n  monitor-clock-critical: 1m\n')).toThrow(/monitor-clock-critical.*below monitor-clock-warning/s);
    expect(() => parse('  monitor-timeout: 2m\n')).toThrow(/monitor-timeout.*expected from 1 s to 60 s, found 120 s/s);
  });
});

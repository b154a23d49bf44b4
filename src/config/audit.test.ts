import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { defaultCheckpointPath } from './audit.js';
import { parseConfig } from './config.js';

const BASE = 'state: /var/lib/hms/hms.db\npolicies: [/etc/hms/kasp/default.yaml]\n';

function problems(text: string): string {
  try {
    parseConfig(text, '/etc/hms/hms.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('no problem found');
}

describe('the audit section of the configuration', () => {
  it("DP-2.4d keeps the checkpoint beside the state's folder by default, never in it", () => {
    expect(parseConfig(BASE, '/etc/hms/hms.yaml').audit).toEqual({ checkpoint: '/var/lib/hms-audit/hms.db.checkpoint', syslog: null });
    expect(defaultCheckpointPath('/srv/signer/state/hms.db')).toBe('/srv/signer/state-audit/hms.db.checkpoint');
  });

  it("DP-2.4e reads the checkpoint and the syslog target, relative paths from the file's folder", () => {
    expect(parseConfig(`${BASE}audit:\n  checkpoint: ../../var/log/hms/audit.checkpoint\n  syslog: true\n`, '/etc/hms/hms.yaml').audit).toEqual({
      checkpoint: '/var/log/hms/audit.checkpoint',
      syslog: { kind: 'local' },
    });
    expect(parseConfig(`${BASE}audit:\n  syslog: false\n`, '/etc/hms/hms.yaml').audit.syslog).toBeNull();
    expect(parseConfig(`${BASE}audit:\n  syslog: { server: "[2001:db8::5]:6514", protocol: tcp }\n`, '/etc/hms/hms.yaml').audit.syslog).toEqual({
      kind: 'server',
      host: '2001:db8::5',
      port: 6514,
      protocol: 'tcp',
    });
    expect(parseConfig(`${BASE}audit:\n  syslog: { server: logs.example.net }\n`, '/etc/hms/hms.yaml').audit.syslog).toEqual({
      kind: 'server',
      host: 'logs.example.net',
      port: 514,
      protocol: 'udp',
    });
  });

  it("DP-2.4d refuses a checkpoint inside the state's folder, naming the file and line", () => {
    expect(problems(`${BASE}audit:\n  checkpoint: /var/lib/hms/log/audit.checkpoint\n`)).toMatch(
      /\/etc\/hms\/hms\.yaml:4:3: .*audit\.checkpoint.*\/var\/lib\/hms\/log\/audit\.checkpoint is inside the state's folder \/var\/lib\/hms/,
    );
    expect(problems(`${BASE}audit:\n  checkpoint: ../../var/lib/hms/audit.checkpoint\n`)).toMatch(/hms\.yaml:4:3: .*inside the state's folder/);
  });

  it('names a bad syslog setting with its line', () => {
    const message = problems(`${BASE}audit:\n  syslog:\n    server: "not a host!"\n    protocol: tls\n  sislog: true\n`);
    expect(message).toMatch(/hms\.yaml:5:5: .*audit\.syslog\.server.*'not a host!' is not HOST/);
    expect(message).toMatch(/hms\.yaml:6:5: .*audit\.syslog\.protocol.*'tls' is not udp or tcp/);
    expect(message).toMatch(/hms\.yaml:7:3: .*audit\.sislog.*unknown field/);
    expect(problems(`${BASE}audit:\n  syslog: yes please\n`)).toMatch(/hms\.yaml:4:3: .*audit\.syslog.*expected true, false or a map/);
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, PermissionError } from '../common/errors.js';
import { authorize, rolesOf } from './access.js';
import { parseConfig } from './config.js';

const GOOD = `state: /var/lib/hms/hms.db
policies: [/etc/hms/kasp/default.yaml]
hsm:
  token: hms
  pin-file: /etc/hms/pin
access:
  administrators: [user:root]
  operators: [group:hms-ops]
  approvers: [user:bob, user:carol]
  auditors: [group:audit]
  zones:
    example.com:
      operators: [user:alice]
`;

describe('the hms configuration', () => {
  it('reads the signing threads of the HSM (issue 20), a whole number from 1 to 256', () => {
    const c = parseConfig(GOOD.replace('  pin-file: /etc/hms/pin\n', '  pin-file: /etc/hms/pin\n  signing-threads: 6\n'), '/etc/hms/hms.yaml');
    expect(c.hsm).toEqual({ token: 'hms', pinFile: '/etc/hms/pin', signingThreads: 6 });
    expect(() => parseConfig(GOOD.replace('  pin-file: /etc/hms/pin\n', '  pin-file: /etc/hms/pin\n  signing-threads: 0\n'), '/etc/hms/hms.yaml')).toThrow(
      /hms\.yaml:6:.*signing-threads/,
    );
  });

  it('reads the size of the key pool (issue 20 item 3), a whole number from 0 to 10000', () => {
    const c = parseConfig(GOOD.replace('  pin-file: /etc/hms/pin\n', '  pin-file: /etc/hms/pin\n  key-pool: 0\n'), '/etc/hms/hms.yaml');
    expect(c.hsm).toEqual({ token: 'hms', pinFile: '/etc/hms/pin', keyPool: 0 });
    expect(parseConfig(GOOD, '/etc/hms/hms.yaml').hsm.keyPool).toBeUndefined();
    expect(() => parseConfig(GOOD.replace('  pin-file: /etc/hms/pin\n', '  pin-file: /etc/hms/pin\n  key-pool: -1\n'), '/etc/hms/hms.yaml')).toThrow(
      /hms\.yaml:6:.*key-pool/,
    );
  });

  it('reads state, policies, the HSM and the roles', () => {
    const c = parseConfig(GOOD, '/etc/hms/hms.yaml');
    expect(c.state).toBe('/var/lib/hms/hms.db');
    expect(c.hsm).toEqual({ token: 'hms', pinFile: '/etc/hms/pin' });
    expect(c.access.all.approver).toEqual([
      { kind: 'user', name: 'bob' },
      { kind: 'user', name: 'carol' },
    ]);
    expect([...c.access.zones.keys()]).toEqual(['example.com.']);
  });

  it('names file, line and field of every problem, and refuses a PIN written in it', () => {
    const bad = 'policies: [kasp/default.yaml]\nhsm:\n  pin: 1234\n  tokn: hms\naccess:\n  operators: [alice]\n';
    let error: unknown;
    try {
      parseConfig(bad, 'hms.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/hms\.yaml:3:3: .*hsm\.pin.*never written in the configuration/);
    expect(message).toMatch(/hms\.yaml:4:3: .*hsm\.tokn.*unknown field/);
    expect(message).toMatch(/hms\.yaml:6:3: .*access\.operators.*'alice' is not user:NAME or group:NAME/);
    expect(message).not.toContain('1234');
  });
});

describe('DP-2.8b roles per zone, by user or group', () => {
  const c = parseConfig(GOOD, '/etc/hms/hms.yaml');
  it('gives roles from every-zone and single-zone tables', () => {
    expect(rolesOf(c.access, { user: 'alice', groups: [] }, 'example.com.')).toEqual(['operator']);
    expect(rolesOf(c.access, { user: 'alice', groups: [] }, 'example.org.')).toEqual([]);
    expect(rolesOf(c.access, { user: 'dave', groups: ['hms-ops', 'audit'] }, 'example.org.')).toEqual(['operator', 'auditor']);
  });
  it('refuses an action the roles do not allow, saying which role it needs', () => {
    expect(() => authorize(c.access, { user: 'alice', groups: [] }, 'key.roll', 'example.org.')).toThrow(PermissionError);
    expect(() => authorize(c.access, { user: 'alice', groups: [] }, 'approve', 'example.com.')).toThrow(
      /alice may not approve for example\.com\.: that needs the role approver \(has: operator\)/,
    );
    expect(authorize(c.access, { user: 'bob', groups: [] }, 'approve', 'example.com.')).toEqual(['approver']);
    expect(() => authorize(c.access, { user: 'eve', groups: ['audit'] }, 'zone.manage', null)).toThrow(PermissionError);
  });
});

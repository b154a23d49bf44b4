import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hms, ROOT } from './helpers/run.js';

const KASP = join(ROOT, 'test/fixtures/kasp');

describe('hms policy check', () => {
  it('DP-4.1 to DP-4.5 passes kasp/default.yaml with exit 0 and prints its resolved values', () => {
    const r = hms(['policy', 'check', 'kasp/default.yaml']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("policy 'dp' (profile dp)");
    expect(r.stdout).toContain('keys.ksk: RSASHA256 (8) 2048 bits, lifetime manual');
    expect(r.stdout).toContain('keys.zsk: RSASHA256 (8) 1024 bits, lifetime 90d');
    expect(r.stdout).toMatch(/signatures: validity 32d, resign-interval 1d, refresh always/);
    expect(r.stdout).toMatch(/soa: expire 30d, minimum 1h/);
    expect(r.stdout).toMatch(/kasp\/default\.yaml: 1 policy\(ies\), 0 warning\(s\): OK\n$/);
  });

  it('prints the resolved policies as JSON with --json', () => {
    const r = hms(['policy', 'check', 'kasp/default.yaml', '--json']);
    expect(r.status).toBe(0);
    const parsed = JSON.parse(r.stdout) as { ok: boolean; policies: { name: string; signatures: { validity: number }; soa: { expire: number } }[] };
    expect(parsed.ok).toBe(true);
    expect(parsed.policies.map((p) => [p.name, p.signatures.validity, p.soa.expire])).toEqual([['dp', 2764800, 2592000]]);
  });

  it('DP-4.1c refuses a 512-bit ZSK with exit 3, naming file, line, field and requirement', () => {
    const r = hms(['policy', 'check', 'zsk-512.yaml'], KASP);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("zsk-512.yaml:8:9: policy 'weak' keys.zsk.bits: 512 is below 1024, the least size of an RSA ZSK (DP-4.1c)");
  });

  it('DP-4.5a and DP-4.4b list every problem of a 3-day re-sign, and --json gives them with their places', () => {
    const r = hms(['policy', 'check', 'resign-3d.yaml'], KASP);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^hms: resign-3d\.yaml: 2 problem\(s\) in the policy file\n/);
    expect(r.stderr).toMatch(/resign-3d\.yaml:7:7: .*\(DP-4\.4b\)\n/);
    expect(r.stderr).toMatch(/resign-3d\.yaml:7:7: .*28d22h.*\(DP-4\.5a\)\n/);
    const json = hms(['policy', 'check', 'resign-3d.yaml', '--json'], KASP);
    expect(json.status).toBe(3);
    const parsed = JSON.parse(json.stdout) as { error: { code: string; details: { problems: { line: number; field: string; requirement: string }[] } } };
    expect(parsed.error.code).toBe('POLICY');
    expect(parsed.error.details.problems.map((p) => [p.line, p.field, p.requirement])).toEqual([
      [7, 'signatures.resign-interval', 'DP-4.4b'],
      [7, 'signatures.resign-interval', 'DP-4.5a'],
    ]);
  });

  it('OPS-6 names an unknown field with file and line, and exits 3', () => {
    const r = hms(['policy', 'check', 'unknown-field.yaml'], KASP);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("unknown-field.yaml:4:7: policy 'typo' signatures.validty: unknown field");
  });

  it('names a policy file it cannot read, and exits 1; exits 2 without a file', () => {
    const r = hms(['policy', 'check', 'no-such.yaml'], KASP);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('hms: no-such.yaml: cannot read the policy file (ENOENT)\n');
    expect(hms(['policy', 'check']).status).toBe(2);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPolicyProblem, PolicyError } from '../common/errors.js';
import { formatDuration } from './format.js';
import { loadPolicies } from './load.js';
import { parsePolicies } from './parse.js';
import type { Policy } from './policy.js';
import { checkCompliance, smallestRemainingValidity } from './profiles.js';

const ROOT = join(import.meta.dirname, '../..');

/** The messages loading a fixture gives: every problem, of reading and of the profile. */
function refusals(fixture: string): string[] {
  const file = `test/fixtures/kasp/${fixture}`;
  try {
    loadPolicies(readFileSync(join(ROOT, file), 'utf8'), file);
  } catch (e) {
    if (e instanceof PolicyError) return e.problems.map(formatPolicyProblem);
    throw e;
  }
  return [];
}

function policyOf(yaml: string): Policy {
  return parsePolicies(yaml, 'inline.yaml')[0]!;
}

describe("profile 'dp'", () => {
  it('DP-4.1 to DP-4.5 kasp/default.yaml passes, with no warning', () => {
    const { policies, warnings } = loadPolicies(readFileSync(join(ROOT, 'kasp/default.yaml'), 'utf8'), 'kasp/default.yaml');
    expect(policies.map((p) => p.name)).toEqual(['dp']);
    expect(warnings).toEqual([]);
    expect(checkCompliance(policies[0]!, 'dp')).toEqual([]);
  });

  it('DP-4.1c refuses a 512-bit ZSK, naming file, line, field and requirement', () => {
    expect(refusals('zsk-512.yaml')).toEqual([
      "test/fixtures/kasp/zsk-512.yaml:8:9: policy 'weak' keys.zsk.bits: 512 is below 1024, the least size of an RSA ZSK (DP-4.1c)",
    ]);
  });

  it('DP-4.2c refuses 11 NSEC3 iterations, naming file, line, field and requirement', () => {
    expect(refusals('nsec3-iterations-11.yaml')).toEqual([
      "test/fixtures/kasp/nsec3-iterations-11.yaml:6:7: policy 'slow' denial.iterations: 11 is over 10 (RFC 9276 recommends 0) (DP-4.2c)",
    ]);
  });

  it('DP-4.5b refuses a DNSKEY TTL of 2 hours, naming file, line, field and requirement', () => {
    expect(refusals('dnskey-ttl-2h.yaml')).toEqual(["test/fixtures/kasp/dnskey-ttl-2h.yaml:5:7: policy 'long-ttl' ttl.dnskey: 2h is over 1h (DP-4.5b)"]);
  });

  it('DP-4.5c refuses SOA EXPIRE 33 days, naming file, line, field and requirement (and DP-4.5a with it)', () => {
    const lines = refusals('soa-expire-33d.yaml');
    expect(lines).toContain("test/fixtures/kasp/soa-expire-33d.yaml:5:7: policy 'late-expire' soa.expire: 33d is not 30 days (2592000 s) (DP-4.5c)");
    expect(lines.filter((l) => l.endsWith('(DP-4.5a)'))).toHaveLength(1);
    expect(lines).toHaveLength(2);
  });

  it('DP-4.2b refuses HMAC-MD5 anywhere and RSAMD5 keys, naming file, line, field and requirement', () => {
    expect(refusals('hmac-md5.yaml')).toEqual([
      "test/fixtures/kasp/hmac-md5.yaml:7:11: policy 'md5-digest' parent.ds-digests[1]: 'HMAC-MD5' uses MD5, which hms never allows (DP-4.2b)",
    ]);
    expect(refusals('rsamd5.yaml')).toEqual([
      "test/fixtures/kasp/rsamd5.yaml:6:20: policy 'old' keys.ksk.algorithm: 'RSAMD5' uses MD5, which hms never allows (DP-4.2b)",
      "test/fixtures/kasp/rsamd5.yaml:9:20: policy 'old' keys.zsk.algorithm: 'RSAMD5' uses MD5, which hms never allows (DP-4.2b)",
    ]);
  });

  it('DP-4.5a passes 32-day signatures all re-made daily under a 30-day EXPIRE: 30d22h remain', () => {
    const p = policyOf('policies:\n  p: {}\n');
    expect(formatDuration(smallestRemainingValidity(p))).toBe('30d22h');
    expect(checkCompliance(p, 'dp')).toEqual([]);
  });

  it('DP-4.5a refuses a 3-day re-sign (28d22h remain, below 30d), with the sum in the message', () => {
    const lines = refusals('resign-3d.yaml');
    expect(lines).toContain(
      "test/fixtures/kasp/resign-3d.yaml:7:7: policy 'lazy' signatures.resign-interval: SOA EXPIRE 30d must be below the smallest remaining " +
        'signature validity a secondary may serve, 28d22h (validity 32d − inception-offset 1h − jitter 0 − resign-interval 3d − ' +
        'zone propagation-delay 1h); re-make every signature at a daily re-sign (DP-4.5a)',
    );
    expect(lines.some((l) => l.endsWith('(DP-4.4b)'))).toBe(true);
  });

  it('DP-4.5a refuses a daily re-sign that re-makes only signatures with under 31 days left', () => {
    expect(refusals('refresh-31d.yaml')).toEqual([
      expect.stringMatching(/^test\/fixtures\/kasp\/refresh-31d\.yaml:6:7: policy 'thrifty' signatures\.refresh: .* 29d23h .*\(DP-4\.5a\)$/),
    ]);
  });

  it('DP-4.5a counts the jitter and the zone propagation delay', () => {
    expect(checkCompliance(policyOf('policies:\n  p:\n    signatures: { jitter: 20h }\n'), 'dp').map((f) => f.requirement)).toEqual([]);
    expect(checkCompliance(policyOf('policies:\n  p:\n    signatures: { jitter: 22h }\n'), 'dp').map((f) => f.requirement)).toEqual(['DP-4.5a']);
    expect(checkCompliance(policyOf('policies:\n  p:\n    zone: { propagation-delay: 23h }\n'), 'dp').map((f) => f.requirement)).toEqual(['DP-4.5a']);
  });

  it('DP-4.1a DP-4.1b DP-4.2d DP-4.3c DP-4.4a DP-4.4b DP-4.5d name each broken rule at its field', () => {
    const p = policyOf(`policies:
  p:
    keys:
      ksk: { algorithm: RSASHA512, bits: 1024 }
      zsk: { algorithm: RSASHA512, lifetime: 120d }
    signatures: { validity: 30d, resign-interval: 2d }
    denial: { resalt: 400d }
    soa: { minimum: 2h, expire: 20d }
`);
    const found = checkCompliance(p, 'dp').map((f) => `${f.line}:${f.col} ${f.field} ${f.requirement}`);
    expect(found).toEqual([
      '4:14 keys.ksk.algorithm DP-4.1a',
      '4:36 keys.ksk.bits DP-4.1b',
      '5:14 keys.zsk.algorithm DP-4.1a',
      '5:36 keys.zsk.lifetime DP-4.3c',
      '7:15 denial.resalt DP-4.2d',
      '6:19 signatures.validity DP-4.4a',
      '6:34 signatures.resign-interval DP-4.4b',
      '8:25 soa.expire DP-4.5c',
      '8:12 soa.minimum DP-4.5d',
    ]);
  });

  it('DP-4.3c refuses a ZSK rolled by hand; DP-4.2d a salt never changed; DP-4.2a warns of NSEC', () => {
    const manual = policyOf('policies:\n  p:\n    keys:\n      zsk: { lifetime: manual }\n    denial: { resalt: never }\n');
    expect(checkCompliance(manual, 'dp').map((f) => f.requirement)).toEqual(['DP-4.3c', 'DP-4.2d']);
    const nsec = checkCompliance(policyOf('policies:\n  p:\n    denial: { type: nsec }\n'), 'dp');
    expect(nsec.map((f) => [f.severity, f.requirement])).toEqual([['warning', 'DP-4.2a']]);
  });

  it('names a field left to its default by the policy it belongs to', () => {
    const p = { ...policyOf('policies:\n  p:\n    profile: dp\n'), ttl: { dnskey: 7200, nsec3param: 3600 } };
    expect(checkCompliance(p, 'dp')).toMatchObject([{ line: 2, col: 3, field: 'ttl.dnskey', requirement: 'DP-4.5b' }]);
  });
});

describe("profile 'rfc9276'", () => {
  it('passes a CSK policy with NSEC3 without salt or extra iterations', () => {
    const { policies, warnings } = loadPolicies(readFileSync(join(ROOT, 'test/fixtures/kasp/rfc9276.yaml'), 'utf8'), 'rfc9276.yaml');
    expect(policies.map((p) => [p.name, p.profile])).toEqual([
      ['csk', 'rfc9276'],
      ['plain-nsec', 'rfc9276'],
    ]);
    expect(warnings).toEqual([]);
  });

  it('RFC 9276 refuses extra iterations and a salt, and warns of opt-out; DP-4.2c allows them', () => {
    const p = policyOf('policies:\n  p:\n    denial: { iterations: 5, salt-length: 4, opt-out: true }\n');
    expect(checkCompliance(p, 'rfc9276').map((f) => [f.severity, f.field, f.requirement])).toEqual([
      ['error', 'denial.iterations', 'RFC 9276 3.1'],
      ['error', 'denial.salt-length', 'RFC 9276 3.1'],
      ['warning', 'denial.opt-out', 'RFC 9276 3.1'],
    ]);
    expect(checkCompliance(p, 'dp')).toEqual([]);
  });
});

describe('every profile', () => {
  it('OPS-7 refuses signatures that may expire before they are re-made', () => {
    const p = policyOf('profile: rfc9276\npolicies:\n  p:\n    denial: { salt-length: 0 }\n    signatures: { validity: 1d, resign-interval: 1d }\n');
    expect(checkCompliance(p).map((f) => [f.field, f.requirement])).toEqual([['signatures.validity', 'OPS-7']]);
  });

  it('warns of SHA-1 DS digests, listed explicitly (RFC 8624)', () => {
    const p = policyOf('policies:\n  p:\n    parent: { ds-digests: [SHA-256, SHA-1] }\n');
    expect(checkCompliance(p).map((f) => [f.severity, f.requirement])).toEqual([['warning', 'RFC 8624 3.3']]);
  });
});

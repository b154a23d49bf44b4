import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPolicyProblem, PolicyError, type PolicyProblem } from '../common/errors.js';
import { parsePolicies, readPolicyFile } from './parse.js';
import type { Policy } from './policy.js';

const ROOT = join(import.meta.dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures/kasp');

/** The problems reading a fixture gives (before any profile). */
function problemsOf(fixture: string): PolicyProblem[] {
  const file = `test/fixtures/kasp/${fixture}`;
  return [...readPolicyFile(readFileSync(join(FIXTURES, fixture), 'utf8'), file).problems];
}

function policyOf(text: string): Policy {
  const [policy] = parsePolicies(text, 'inline.yaml');
  return policy!;
}

describe('parsePolicies: kasp/default.yaml', () => {
  const text = readFileSync(join(ROOT, 'kasp/default.yaml'), 'utf8');

  it('reads the DP policy with every value resolved', () => {
    const [dp, ...rest] = parsePolicies(text, 'kasp/default.yaml');
    expect(rest).toEqual([]);
    expect(dp!.name).toBe('dp');
    expect(dp!.profile).toBe('dp');
    expect(dp!.keys).toEqual([
      { role: 'ksk', algorithm: 8, bits: 2048, lifetime: null },
      { role: 'zsk', algorithm: 8, bits: 1024, lifetime: 90 * 86400 },
    ]);
    expect(dp!.rollover).toEqual({ zsk: 'pre-publication', ksk: 'double-ksk' });
    expect(dp!.signatures).toEqual({ validity: 32 * 86400, resignInterval: 86400, refresh: 'always', inceptionOffset: 3600, jitter: 0 });
    expect(dp!.denial).toEqual({ type: 'nsec3', iterations: 0, saltLength: 8, resalt: 365 * 86400, optOut: false });
    expect(dp!.ttl).toEqual({ dnskey: 3600, nsec3param: 3600 });
    expect(dp!.soa).toEqual({ ttl: null, refresh: null, retry: null, expire: 2592000, minimum: 3600, serial: 'unixtime' });
    expect(dp!.parent.dsDigests).toEqual([2]);
    expect(dp!.source.fields['keys.zsk.bits']).toEqual({ line: 27, col: 9 });
  });

  it('an empty policy gets the same values: the defaults are the DP policy', () => {
    const [dp] = parsePolicies(text, 'kasp/default.yaml');
    const empty = policyOf('policies:\n  dp: {}\n');
    const values = (p: Policy): unknown => ({ ...p, description: '', source: undefined });
    expect(values(empty)).toEqual(values(dp!));
  });
});

describe('parsePolicies: values', () => {
  it('reads durations in seconds and with units, and manual or never lifetimes', () => {
    const p = policyOf(`policies:
  p:
    keys:
      ksk: { lifetime: never }
      zsk: { lifetime: 7776000 }
    signatures: { resign-interval: 12h, refresh: 1w2d, jitter: 1h30m }
    denial: { type: nsec3, salt-length: 0, resalt: never }
`);
    expect(p.keys.map((k) => k.lifetime)).toEqual([null, 7776000]);
    expect(p.signatures).toMatchObject({ resignInterval: 43200, refresh: 9 * 86400, jitter: 5400 });
    expect(p.denial).toMatchObject({ saltLength: 0, resalt: null });
  });

  it('reads a CSK of a curve algorithm, with its fixed size', () => {
    const p = policyOf('policies:\n  c:\n    keys:\n      csk: { algorithm: ed25519 }\n');
    expect(p.keys).toEqual([{ role: 'csk', algorithm: 15, bits: 256, lifetime: null }]);
  });

  it('takes the file-level profile unless a policy names its own', () => {
    const ps = parsePolicies('profile: rfc9276\npolicies:\n  a: {}\n  b: { profile: dp }\n', 'x.yaml');
    expect(ps.map((p) => [p.name, p.profile])).toEqual([
      ['a', 'rfc9276'],
      ['b', 'dp'],
    ]);
  });

  it('reads DS digest types by name or number', () => {
    expect(policyOf('policies:\n  p:\n    parent: { ds-digests: [sha-384, 2, SHA-1] }\n').parent.dsDigests).toEqual([4, 2, 1]);
  });
});

describe('parsePolicies refuses bad files, naming file, line and field (OPS-6)', () => {
  it('OPS-6 an unknown field (a typo) names file:line and the field', () => {
    const [p, ...rest] = problemsOf('unknown-field.yaml');
    expect(rest).toEqual([]);
    expect(formatPolicyProblem(p!)).toMatch(
      /^test\/fixtures\/kasp\/unknown-field\.yaml:4:7: policy 'typo' signatures\.validty: unknown field \(expected one of: validity, /,
    );
  });

  it('OPS-6 a duplicate key names file:line and the field', () => {
    expect(problemsOf('duplicate-key.yaml').map(formatPolicyProblem)).toEqual([
      "test/fixtures/kasp/duplicate-key.yaml:5:7: policy 'twice' ttl.dnskey: written twice in one map",
    ]);
  });

  it('OPS-6 wrong types name file:line and the field, every one of them', () => {
    expect(problemsOf('wrong-type.yaml').map(formatPolicyProblem)).toEqual([
      "test/fixtures/kasp/wrong-type.yaml:5:9: policy 'wrong' keys.zsk.bits: expected a whole number from 1 to 65535, found large",
      "test/fixtures/kasp/wrong-type.yaml:7:7: policy 'wrong' parent.cds: expected true or false, found yes",
    ]);
  });

  it('OPS-6 a bad duration names file:line and the field', () => {
    const [p] = problemsOf('bad-duration.yaml');
    expect(formatPolicyProblem(p!)).toMatch(
      /^test\/fixtures\/kasp\/bad-duration\.yaml:5:9: policy 'fuzzy' keys\.zsk\.lifetime: expected a duration .* found 3 months$/,
    );
  });

  it('DP-4.2b refuses HMAC-MD5 anywhere, naming file, line, field and requirement', () => {
    expect(problemsOf('hmac-md5.yaml').map(formatPolicyProblem)).toEqual([
      "test/fixtures/kasp/hmac-md5.yaml:7:11: policy 'md5-digest' parent.ds-digests[1]: 'HMAC-MD5' uses MD5, which hms never allows (DP-4.2b)",
    ]);
    // in a field hms does not know, too: both the field and the MD5 are reported
    const text = 'policies:\n  p:\n    tsig-algorithm: hmac-md5\n';
    const problems = readPolicyFile(text, 't.yaml').problems.map(formatPolicyProblem);
    expect(problems).toContain("t.yaml:3:21: policy 'p' tsig-algorithm: 'hmac-md5' uses MD5, which hms never allows (DP-4.2b)");
    expect(problems.some((m) => m.startsWith("t.yaml:3:5: policy 'p' tsig-algorithm: unknown field"))).toBe(true);
  });

  it('DP-4.2b refuses RSAMD5 keys, by name or number, naming file, line, field and requirement', () => {
    expect(problemsOf('rsamd5.yaml').map(formatPolicyProblem)).toEqual([
      "test/fixtures/kasp/rsamd5.yaml:6:20: policy 'old' keys.ksk.algorithm: 'RSAMD5' uses MD5, which hms never allows (DP-4.2b)",
      "test/fixtures/kasp/rsamd5.yaml:9:20: policy 'old' keys.zsk.algorithm: 'RSAMD5' uses MD5, which hms never allows (DP-4.2b)",
    ]);
    const [p] = readPolicyFile('policies:\n  p:\n    keys:\n      ksk: { algorithm: 1 }\n', 'n.yaml').problems;
    expect(formatPolicyProblem(p!)).toBe("n.yaml:4:14: policy 'p' keys.ksk.algorithm: RSAMD5 (algorithm 1) uses MD5, which hms never allows (DP-4.2b)");
  });

  it('refuses algorithms hms never signs with, and RSA sizes outside RFC 5702', () => {
    const text = `policies:
  p:
    keys:
      ksk: { algorithm: RSASHA1, bits: 8192 }
      zsk: { algorithm: ECDSAP256SHA256, bits: 1024 }
`;
    expect(readPolicyFile(text, 'a.yaml').problems.map(formatPolicyProblem)).toEqual([
      "a.yaml:4:14: policy 'p' keys.ksk.algorithm: algorithm 5 refused: RSASHA1 uses SHA-1 (RFC 8624: must not sign)",
      "a.yaml:4:34: policy 'p' keys.ksk.bits: 8192 is outside 512 to 4096, the sizes RFC 5702 allows for this algorithm",
      "a.yaml:5:7: policy 'p' keys.zsk: the ksk and the zsk must use one algorithm (RFC 4035 section 2.2)",
      "a.yaml:5:42: policy 'p' keys.zsk.bits: keys of this algorithm are 256 bits (leave 'bits' out)",
    ]);
  });

  it('collects every problem of every policy, not only the first', () => {
    const text = `policies:
  a:
    soa: { expire: soon, serial: keep }
    denial: { type: nsec, iterations: 0 }
  b:
    keys: { csk: {}, ksk: {} }
    colour: blue
`;
    const lines = readPolicyFile(text, 'm.yaml').problems.map(formatPolicyProblem);
    expect(lines).toEqual([
      expect.stringMatching(/^m\.yaml:3:12: policy 'a' soa\.expire: expected a duration/),
      "m.yaml:3:26: policy 'a' soa.serial: expected 'unixtime' or 'datecounter' or 'counter', found keep",
      "m.yaml:4:27: policy 'a' denial.iterations: applies to type 'nsec3' only",
      "m.yaml:6:22: policy 'b' keys.ksk: a policy has a csk, or a ksk and a zsk, not both",
      expect.stringMatching(/^m\.yaml:7:5: policy 'b' colour: unknown field/),
    ]);
    expect(() => parsePolicies(text, 'm.yaml')).toThrow(PolicyError);
  });

  it('names the place of a YAML syntax error, and of a file with no policies', () => {
    expect(readPolicyFile('policies:\n  a:\n    keys: [1, 2\n', 's.yaml').problems[0]).toMatchObject({ file: 's.yaml', line: 4 });
    expect(readPolicyFile('', 'e.yaml').problems.map(formatPolicyProblem)).toEqual(['e.yaml:1:1: expected a map with a `policies:` field']);
    expect(readPolicyFile('profile: dp\n', 'e.yaml').problems.map(formatPolicyProblem)).toEqual([
      'e.yaml:1:1: no `policies:` field: the file defines no policy',
    ]);
    expect(readPolicyFile('policies:\n  a: {}\n  a: {}\n', 'd.yaml').problems.map(formatPolicyProblem)).toEqual([
      "d.yaml:3:3: policy 'a' a second policy of this name",
    ]);
  });

  it('throws one PolicyError with code POLICY that carries every problem', () => {
    try {
      parsePolicies(readFileSync(join(FIXTURES, 'wrong-type.yaml'), 'utf8'), 'wrong-type.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      const error = e as PolicyError;
      expect(error.code).toBe('POLICY');
      expect(error.problems).toHaveLength(2);
      expect(error.message.split('\n')).toHaveLength(3);
    }
  });
});

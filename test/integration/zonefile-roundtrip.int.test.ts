import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hms, requireTool, ROOT, run } from './helpers/run.js';

const ZONES = join(ROOT, 'test/fixtures/zones');
const INVALID = join(ROOT, 'test/fixtures/invalid');
let tmp: string;

beforeAll(() => {
  requireTool('ldns-read-zone');
  requireTool('named-checkzone');
  tmp = mkdtempSync(join(tmpdir(), 'hms-roundtrip-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** ldns does not implement $INCLUDE: give it the included text inline, with the same origins. */
function flattenForLdns(file: string, origin: string): string {
  const text = readFileSync(file, 'latin1');
  return text.replace(/^\$INCLUDE\s+(\S+)(?:\s+(\S+))?.*$/gm, (_m, path: string, inner?: string) => {
    const included = readFileSync(join(ZONES, path), 'latin1');
    const innerOrigin = inner === undefined ? origin : inner.endsWith('.') ? inner : `${inner}.${origin}`;
    return `$ORIGIN ${innerOrigin}\n${included}\n$ORIGIN ${origin}`;
  });
}

function ldnsCanonical(file: string): string {
  const r = run('ldns-read-zone', ['-z', '-c', file]);
  expect(r.stderr, `ldns-read-zone ${file}`).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('zone print round trip through ldns-read-zone -z -c', () => {
  it('prints the corpus so that ldns reads exactly what it reads from the original', () => {
    const original = join(ZONES, 'corpus.zone');
    const flat = join(tmp, 'corpus.flat.zone');
    writeFileSync(flat, flattenForLdns(original, 'corpus.example.'), 'latin1');
    const printed = hms(['zone', 'print', original, '--origin', 'corpus.example']);
    expect(printed.stderr).toBe('');
    expect(printed.status).toBe(0);
    const ours = join(tmp, 'corpus.printed.zone');
    writeFileSync(ours, printed.stdout, 'latin1');
    const expected = ldnsCanonical(flat);
    expect(expected.split('\n').length).toBeGreaterThan(60);
    expect(ldnsCanonical(ours)).toBe(expected);
  });

  it('prints something BIND reads as the same zone (named-checkzone -D)', () => {
    const printed = hms(['zone', 'print', join(ZONES, 'corpus.zone'), '--origin', 'corpus.example']);
    const ours = join(tmp, 'corpus.bind.zone');
    writeFileSync(ours, printed.stdout, 'latin1');
    const dump = (file: string, cwd: string): string => {
      const r = run('named-checkzone', ['-q', '-D', '-k', 'ignore', '-i', 'none', '-o', '-', 'corpus.example', file], { cwd });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      return r.stdout;
    };
    expect(dump(ours, tmp)).toBe(dump(join(ZONES, 'corpus.zone'), ZONES));
  });

  it('prints in canonical order with the SOA first, and printing its own output changes nothing', () => {
    const first = hms(['zone', 'print', join(ZONES, 'corpus.zone'), '--origin', 'corpus.example']).stdout;
    expect(first.split('\n')[0]).toMatch(/^corpus\.example\.\t3600\tIN\tSOA\t/);
    const file = join(tmp, 'again.zone');
    writeFileSync(file, first, 'latin1');
    expect(hms(['zone', 'print', file, '--origin', 'corpus.example']).stdout).toBe(first);
  });
});

/** Each invalid zone: the file and line the error must name, and what it must say. */
const INVALID_CASES: [string, string, RegExp][] = [
  ['two-soa.zone', 'two-soa.zone:2', /SOA_MULTIPLE/],
  ['cname-and-data.zone', 'cname-and-data.zone:6', /CNAME_AND_OTHER/],
  ['bad-address.zone', 'bad-address.zone:5:7', /'192\.0\.2\.256' is not an IPv4 address/],
  ['unbalanced-paren.zone', 'unbalanced-paren.zone:5:9', /unbalanced '\('/],
  ['unterminated-string.zone', 'unterminated-string.zone:5:9', /unterminated quoted string/],
  ['long-label.zone', 'long-label.zone:5:1', /label over 63 octets/],
  ['ttl-over-max.zone', 'ttl-over-max.zone:5:5', /TTL 2147483648 is over 2\^31-1/],
  ['missing-glue.zone', 'missing-glue.zone:5', /GLUE_MISSING/],
  ['below-cut.zone', 'below-cut.zone:6', /BELOW_CUT/],
  ['out-of-zone.zone', 'out-of-zone.zone:5', /OUT_OF_ZONE/],
  ['include-loop.zone', 'include-loop-b.inc:2:10', /\$INCLUDE loop/],
  ['class-chaos.zone', 'class-chaos.zone:5:9', /class CH is not supported/],
  ['generic-length.zone', 'generic-length.zone:5:18', /generic RDATA length 5 disagrees with its data \(4 octets\)/],
];

describe('hms zone check refuses invalid zones, naming file and line', () => {
  for (const [file, where, what] of INVALID_CASES) {
    it(`OPS-6 DP-2.8a ${file}`, () => {
      const r = hms(['zone', 'check', file, '--origin', 'example.com'], INVALID);
      expect(r.status).toBe(3);
      const output = r.stdout + r.stderr;
      expect(output).toContain(where);
      expect(output).toMatch(what);
      const json = hms(['zone', 'check', file, '--origin', 'example.com', '--json'], INVALID);
      expect(json.status).toBe(3);
      const parsed = JSON.parse(json.stdout) as { error?: { code: string }; ok?: boolean };
      expect(parsed.error !== undefined || parsed.ok === false).toBe(true);
    });
  }

  it('passes a valid zone with exit 0 and says OK', () => {
    const r = hms(['zone', 'check', join(ZONES, 'corpus.zone'), '--origin', 'corpus.example']);
    expect(r.stdout).toMatch(/0 error\(s\).*OK/);
    expect(r.status).toBe(0);
  });

  it('refuses to print a zone with errors', () => {
    const r = hms(['zone', 'print', 'below-cut.zone', '--origin', 'example.com'], INVALID);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/below-cut\.zone:6: error: www\.sub\.example\.com\.\/TXT/);
  });

  it('OPS-6 a 1 MB bad token is quoted as a short excerpt that still names file:line:col, text and --json; a 10 MB line is refused by its length', () => {
    // a token as long as a line may be (service.zone-input-max-line, 1 MiB by default)
    const cases: [string, string, RegExp][] = [
      [`www ${'X'.repeat(1_000_000)} 192.0.2.2`, 'huge.zone:5:5:', /unknown record type 'X{40}\.\.\.' \(1000000 characters\)/],
      [`www A ${'1'.repeat(1_000_000)}`, 'huge.zone:5:7:', /'1{40}\.\.\.' \(1000000 characters\) is not an IPv4 address/],
      [`${'y'.repeat(1_000_000)} A 192.0.2.2`, 'huge.zone:5:1:', /name over 255 octets in 'y{40}\.\.\.'/],
      [`www ${'X'.repeat(10_000_000)} 192.0.2.2`, 'huge.zone:5:1:', /line 5 is longer than 1048576 octets/],
    ];
    for (const [line, where, what] of cases) {
      writeFileSync(join(tmp, 'huge.zone'), `$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 2592000 300\n@ NS ns1\nns1 A 192.0.2.1\n${line}\n`);
      const r = hms(['zone', 'check', 'huge.zone', '--origin', 'example.com'], tmp);
      expect(r.status).toBe(3);
      expect(r.stdout.length + r.stderr.length).toBeLessThan(300);
      expect(r.stdout + r.stderr).toContain(where);
      expect(r.stdout + r.stderr).toMatch(what);
      const json = hms(['zone', 'check', 'huge.zone', '--origin', 'example.com', '--json'], tmp);
      expect(json.status).toBe(3);
      expect(json.stdout.length + json.stderr.length).toBeLessThan(1000);
      expect(json.stdout).toContain(where);
    }
  });

  it('names a zone file it cannot read, and exits 1', () => {
    const r = hms(['zone', 'check', 'no-such.zone', '--origin', 'example.com'], INVALID);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('hms: no-such.zone: cannot read the zone file (ENOENT)\n');
  });

  it('stops quietly when its reader goes away (hms zone print | head -1)', () => {
    const r = run('sh', [
      '-c',
      `'${process.execPath}' '${join(ROOT, 'dist/src/cli/main.js')}' zone print '${join(ZONES, 'corpus.zone')}' --origin corpus.example | head -1`,
    ]);
    expect(r.stdout).toMatch(/^corpus\.example\.\t3600\tIN\tSOA\t/);
    expect(r.stderr).toBe('');
  });

  it('exits 2 on a usage error', () => {
    expect(hms(['zone', 'check', 'x.zone']).status).toBe(2);
    expect(hms(['zone', 'check', 'x.zone', '--origin', 'a..b']).status).toBe(2);
  });
});

import { linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZoneSyntaxError } from '../common/errors.js';
import { Name } from '../dns/name.js';
import { DEFAULT_ZONE_INPUT_LIMITS, ZoneFileParser } from '../dns/zonefile/parser.js';
import { AtomicZoneFile, includeRelativeToFile, openZoneFile, writeZoneFileAtomically } from './zone-files.js';

describe('AtomicZoneFile (OPS-7: a reader sees the old file or the whole new one)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hms-zone-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every line whole, across its buffer, with lines longer than the buffer, latin1 as read', () => {
    const path = join(dir, 'z.signed');
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) lines.push(`n${i}.example.\t3600\tIN\tTXT\t"${'x'.repeat(i % 97)}\\255"`);
    lines.splice(7000, 0, `big.example.\t3600\tIN\tTXT\t${'"a" '.repeat(100000)}`);
    lines.push('caf\u00e9.example.\t3600\tIN\tA\t192.0.2.1');
    writeZoneFileAtomically(path, lines);
    expect(readFileSync(path, 'latin1')).toBe(`${lines.join('\n')}\n`);
    expect(readdirSync(dir)).toEqual(['z.signed']);
  });

  it('writes lines a piece at a time, and octets in base64 exactly as Buffer does, across its buffer', () => {
    const path = join(dir, 'z.signed');
    const file = AtomicZoneFile.open(path);
    let expected = '';
    for (let i = 0; i < 6000; i++) {
      // every length mod 3, and signatures of RSA-1024 to RSA-4096 sizes and beyond the buffer
      const octets = Uint8Array.from({ length: i === 3000 ? 200000 : (i * 7) % 530 }, (_, k) => (k * 31 + i) & 0xff);
      file.text(`n${i}.example.\t3600\tIN\tRRSIG\t`);
      file.base64(octets);
      file.endLine();
      expected += `n${i}.example.\t3600\tIN\tRRSIG\t${Buffer.from(octets).toString('base64')}\n`;
    }
    file.commit();
    expect(readFileSync(path, 'latin1')).toBe(expected);
  });

  it('a file of many MB, synced in the background as it is written, is whole after commit or gone after abort, no descriptor left open', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const line = `n.example.\t3600\tIN\tTXT\t"${'y'.repeat(200)}"`;
    for (const end of ['commit', 'abort'] as const) {
      const path = join(dir, `${end}.signed`);
      const file = AtomicZoneFile.open(path);
      for (let i = 0; i < 120_000; i++) file.line(`${i}${line}`); // 26 MB: three background syncs
      expect(fds()).toBe(before + 2); // the file, and the descriptor of its syncs
      if (end === 'commit') file.commit();
      else file.abort();
      const until = Date.now() + 5000;
      while (fds() > before && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(fds()).toBe(before);
    }
    const text = readFileSync(join(dir, 'commit.signed'), 'latin1');
    expect(text.length).toBe(120_000 * (line.length + 1) + [...Array(120_000).keys()].reduce((n, i) => n + String(i).length, 0));
    expect(text.endsWith(`119999${line}\n`)).toBe(true);
    expect(readdirSync(dir)).toEqual(['commit.signed']);
  });

  it('abort leaves the old file as it was and no temporary file', () => {
    const path = join(dir, 'z.signed');
    writeFileSync(path, 'old\n');
    const file = AtomicZoneFile.open(path);
    for (let i = 0; i < 50000; i++) file.line(`line ${i}`);
    expect(readdirSync(dir).length).toBe(2);
    file.abort();
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['z.signed']);
  });
});

describe('openZoneFile and includeRelativeToFile (issue 17: bounded zone input)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hms-zone-input-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const openFds = (): number => readdirSync('/proc/self/fd').length;

  it('OPS-6 1000 nested $INCLUDEs end at the depth limit with the including file and line, holding one descriptor a level, all closed after', () => {
    for (let i = 0; i < 1000; i++) writeFileSync(join(dir, `f${i}.zone`), `; level ${i}\n${i === 999 ? '' : `$INCLUDE f${i + 1}.zone\n`}`);
    writeFileSync(join(dir, 'zone.db'), '$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 2592000 300\n@ NS ns1\nns1 A 192.0.2.1\n$INCLUDE f0.zone\n');
    const before = openFds();
    let most = 0;
    const parser = new ZoneFileParser(openZoneFile(join(dir, 'zone.db')), {
      origin: Name.parse('example.com.'),
      limits: DEFAULT_ZONE_INPUT_LIMITS,
      include: (path, from) => {
        most = Math.max(most, openFds() - before);
        return includeRelativeToFile(path, from);
      },
    });
    let error: unknown;
    try {
      while (parser.next() !== undefined);
    } catch (e) {
      error = e;
    } finally {
      parser.close();
    }
    expect(error).toBeInstanceOf(ZoneSyntaxError);
    expect((error as ZoneSyntaxError).code).toBe('INPUT_REFUSED');
    expect((error as ZoneSyntaxError).message).toMatch(new RegExp(`^${join(dir, 'f19.zone')}:2:10: \\$INCLUDE nested deeper than 20 files`));
    expect(most).toBeLessThanOrEqual(DEFAULT_ZONE_INPUT_LIMITS.maxIncludeDepth + 1);
    expect(openFds()).toBe(before);
  });

  it('OPS-6 a file $INCLUDEd by a second name (a hard link) is an include loop; its descriptor is closed', () => {
    writeFileSync(join(dir, 'a.zone'), '$INCLUDE b.zone\n');
    linkSync(join(dir, 'a.zone'), join(dir, 'b.zone'));
    const before = openFds();
    const parser = new ZoneFileParser(openZoneFile(join(dir, 'a.zone')), { origin: Name.parse('example.com.'), include: includeRelativeToFile });
    expect(() => parser.next()).toThrow(/\$INCLUDE loop: .*a\.zone -> .*b\.zone/);
    parser.close();
    expect(openFds()).toBe(before);
  });
});

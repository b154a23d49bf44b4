import { describe, expect, it } from 'vitest';
import { ZoneSyntaxError } from '../../common/errors.js';
import { Name } from '../name.js';
import { formatRdata } from '../rdata/index.js';
import { typeToString } from '../types.js';
import { memoryIncludes, textSource } from './memory-source.js';
import { DEFAULT_ZONE_INPUT_LIMITS, parseZoneFile, PAUSE, ZoneFileParser, type ZoneInputLimits, type ZoneRecord } from './parser.js';

const origin = Name.parse('example.com.');

function parse(text: string, files: Record<string, string> = {}, chunkSize?: number): ZoneRecord[] {
  return [...parseZoneFile(textSource('zone.db', text, chunkSize), { origin, include: memoryIncludes(files) })];
}

function show(records: ZoneRecord[]): string[] {
  return records.map((r) => `${r.owner.toString()} ${r.ttl} ${typeToString(r.type)} ${formatRdata(r.type, r.rdata)}`);
}

function syntaxError(text: string, files: Record<string, string> = {}): ZoneSyntaxError {
  try {
    parse(text, files);
  } catch (e) {
    if (e instanceof ZoneSyntaxError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('parseZoneFile', () => {
  it('reads $ORIGIN, $TTL, @, relative names, omitted owner, TTL and class', () => {
    const text = [
      '$TTL 1h',
      '@ IN SOA ns1 hostmaster ( 1 ; serial',
      '   2h 15m 30d 5m )',
      '  NS ns1',
      '  IN 300 NS ns2.other.net.',
      'ns1 A 192.0.2.1',
      '$ORIGIN sub',
      'www 60 IN A 192.0.2.2',
      '  AAAA 2001:db8::2',
    ].join('\n');
    expect(show(parse(text))).toEqual([
      'example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 1 7200 900 2592000 300',
      'example.com. 3600 NS ns1.example.com.',
      'example.com. 300 NS ns2.other.net.',
      'ns1.example.com. 3600 A 192.0.2.1',
      'www.sub.example.com. 60 A 192.0.2.2',
      'www.sub.example.com. 3600 AAAA 2001:db8::2',
    ]);
  });

  it('uses the last explicit TTL when there is no $TTL (RFC 1035)', () => {
    const records = parse('a 120 A 192.0.2.1\nb A 192.0.2.2\n');
    expect(records.map((r) => r.ttl)).toEqual([120, 120]);
  });

  it('gives the SOA its MINIMUM when no TTL is known at all', () => {
    expect(parse('@ SOA ns h 1 2 3 4 77\n')[0]!.ttl).toBe(77);
  });

  it('reads TTL units and refuses a TTL over 2^31-1 (RFC 2181)', () => {
    expect(parse('a 1h30m A 192.0.2.1\nb 1W2d A 192.0.2.1')[1]!.ttl).toBe(777600);
    expect(parse('a 2147483647 A 192.0.2.1')[0]!.ttl).toBe(2147483647);
    const e = syntaxError('a 2147483648 A 192.0.2.1');
    expect(e.message).toMatch(/^zone\.db:1:3: TTL 2147483648 is over 2\^31-1/);
  });

  it('handles comments and semicolons inside quotes', () => {
    const records = parse('a 60 TXT "x;y" ; a comment\n; only a comment\n\n');
    expect(show(records)).toEqual(['a.example.com. 60 TXT "x;y"']);
  });

  it('is not disturbed by chunk boundaries or CRLF line ends', () => {
    const text = '$TTL 60\r\n@ SOA ns h ( 1 2\r\n 3 4 5 )\r\nwww A 192.0.2.1\r\nwww TXT "a b c"\r\n';
    const whole = show(parse(text));
    for (const size of [1, 2, 3, 7]) expect(show(parse(text, {}, size))).toEqual(whole);
  });

  it('follows $INCLUDE with its own origin and returns to the parent origin', () => {
    const records = parse('$TTL 60\n$INCLUDE inc.db sub\nwww A 192.0.2.9\n', { 'inc.db': 'host A 192.0.2.1\n' });
    expect(show(records)).toEqual(['host.sub.example.com. 60 A 192.0.2.1', 'www.example.com. 60 A 192.0.2.9']);
    expect(records[0]!.file).toBe('inc.db');
    expect(records[0]!.line).toBe(1);
  });

  it('detects an $INCLUDE loop and names the file and line', () => {
    const e = syntaxError('$TTL 60\n$INCLUDE a.db\n', { 'a.db': 'x A 192.0.2.1\n$INCLUDE b.db\n', 'b.db': '\n$INCLUDE a.db\n' });
    expect(e.code).toBe('ZONE_INCLUDE');
    expect(e.message).toBe("b.db:2:10: $INCLUDE loop: a.db -> b.db -> a.db (near 'a.db')");
  });

  it('reports a missing include file at the $INCLUDE line', () => {
    const e = syntaxError('$TTL 60\n\n$INCLUDE nothere.db\n');
    expect(e.message).toMatch(/^zone\.db:3:10: cannot read included file 'nothere\.db'/);
  });

  const errors: [string, string, RegExp][] = [
    ['class other than IN', '$TTL 60\na CH TXT "x"\n', /^zone\.db:2:3: class CH is not supported/],
    ['unbalanced (', '$TTL 60\n@ SOA ns h ( 1 2 3 4 5\nwww A 192.0.2.1\n', /^zone\.db:2:12: unbalanced '\(': no '\)' before the end/],
    ['unbalanced )', '$TTL 60\nwww A 192.0.2.1 )\n', /^zone\.db:2:17: unbalanced '\)'/],
    ['unterminated string', '$TTL 60\n\nwww TXT "abc\n', /^zone\.db:3:9: unterminated quoted string/],
    ['bad address', '$TTL 60\nwww A 192.0.2.300\n', /^zone\.db:2:7: '192\.0\.2\.300' is not an IPv4 address/],
    ['label over 63', `$TTL 60\n${'x'.repeat(64)} A 192.0.2.1\n`, /^zone\.db:2:1: label over 63 octets/],
    ['unknown type', '$TTL 60\nwww BOGUS 1\n', /^zone\.db:2:5: unknown record type 'BOGUS'/],
    ['generic length', '$TTL 60\nwww TYPE65534 \\# 3 0A0B\n', /^zone\.db:2:18: generic RDATA length 3 disagrees/],
    ['meta type', '$TTL 60\nwww AXFR\n', /type AXFR cannot appear/],
    ['no TTL', 'www A 192.0.2.1\n', /^zone\.db:1:5: record has no TTL/],
    ['blank owner first', '$TTL 60\n  A 192.0.2.1\n', /^zone\.db:2:3: record with no owner/],
    ['unknown directive', '$GENERATE 1-2 a$ A 1.2.3.$\n', /^zone\.db:1:1: unknown or unsupported directive \$GENERATE/],
    ['missing rdata', '$TTL 60\nwww MX 10\n', /^zone\.db:2:8: missing exchange/],
  ];
  for (const [what, text, re] of errors) {
    it(`refuses ${what} with file:line:col`, () => {
      expect(syntaxError(text).message).toMatch(re);
    });
  }
});

describe('parseZoneFile on arbitrary input (property)', () => {
  it('throws nothing but ZoneSyntaxError, whatever the text', async () => {
    const fc = (await import('fast-check')).default;
    const alphabet = fc.constantFrom(...'abc.@$();"\\ \t\n0123456789\x00\xff'.split(''), ' A ', ' TXT ', ' IN ', ' SOA ', ' MX ', '$TTL', '$ORIGIN', '\\#');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 60 }), (parts) => {
        try {
          parse(parts.join(''));
        } catch (e) {
          expect(e).toBeInstanceOf(ZoneSyntaxError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('errors quote input as a short excerpt (issue 17)', () => {
  it('OPS-6 a 1 MB bad token gives an error under 300 characters that names file:line:col', () => {
    const huge = 'X'.repeat(1_000_000);
    for (const line of [
      `www ${huge} 192.0.2.2`,
      `www A ${huge}`,
      `${huge} A 192.0.2.2`,
      `www MX 10 ${'a.'.repeat(500_000)}`,
      `www TXT "${huge}`,
      `$INCLUDE ${huge}`,
      `$TTL 1 ${huge}`,
    ]) {
      const e = syntaxError(`$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 2592000 300\n${line}\n`);
      expect(e.message.length, line.slice(0, 20)).toBeLessThan(300);
      expect(e.message).toMatch(/^zone\.db:3:\d+: /);
      expect(JSON.stringify(e.toJSON()).length).toBeLessThan(1000);
    }
  });
});

describe('input limits (issue 17: bounded input)', () => {
  const head = '$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 2592000 300\n@ NS ns1\nns1 A 192.0.2.1\n';
  const limited = (text: string, limits: Partial<ZoneInputLimits>, files: Record<string, string> = {}): ZoneRecord[] => [
    ...parseZoneFile(textSource('zone.db', text, 1 << 16), { origin, include: memoryIncludes(files), limits: { ...DEFAULT_ZONE_INPUT_LIMITS, ...limits } }),
  ];
  const refusal = (f: () => unknown): ZoneSyntaxError => {
    try {
      f();
    } catch (e) {
      if (e instanceof ZoneSyntaxError) return e;
      throw e;
    }
    throw new Error('no error');
  };

  it('OPS-6 a TXT of 65535 octets written as \\DDD on one line fits the default line length', () => {
    // 257 strings of 254 octets, each with its length octet: 65535 octets, some 262,000 characters
    const strings = Array.from({ length: 257 }, () => `"${'\\255'.repeat(254)}"`);
    const records = limited(`${head}big TXT ${strings.join(' ')}\n`, {});
    expect(records[3]!.rdata.length).toBe(65535);
  });

  it('OPS-6 a line longer than the limit is refused with file:line, without reading the rest', () => {
    // the line never ends: a source that would run for ever (as /dev/zero would) is stopped at the limit
    function* endless(): Generator<string> {
      yield head;
      for (;;) yield 'x'.repeat(1 << 16);
    }
    const e = refusal(() => [
      ...parseZoneFile({ file: 'zone.db', id: 'zone.db', chunks: endless() }, { origin, limits: { ...DEFAULT_ZONE_INPUT_LIMITS, maxLine: 1 << 20 } }),
    ]);
    expect(e.code).toBe('INPUT_REFUSED');
    expect(e.message).toMatch(/^zone\.db:5:1: line 5 is longer than 1048576 octets/);
  });

  it('OPS-6 a record within parentheses longer than the limit is refused at its open parenthesis', () => {
    const e = refusal(() => limited(`${head}big TXT (\n${`"${'a'.repeat(200)}"\n`.repeat(100)})\n`, { maxLine: 4096 }));
    expect(e.code).toBe('INPUT_REFUSED');
    expect(e.message).toMatch(/^zone\.db:5:9: the record in parentheses is longer than 4096 octets/);
  });

  it('OPS-6 the octets of a zone count over every $INCLUDEd file together', () => {
    const part = Array.from({ length: 100 }, (_, i) => `h${i} A 192.0.2.${i}\n`).join('');
    const files = { a: part, b: part, c: part };
    const main = `${head}$INCLUDE a\n$INCLUDE b\n$INCLUDE c\n`;
    const maxOctets = main.length + 2.5 * part.length;
    expect(limited(`${head}$INCLUDE a\n$INCLUDE b\n`, { maxOctets }, files)).toHaveLength(203);
    const e = refusal(() => limited(main, { maxOctets }, files));
    expect(e.code).toBe('INPUT_REFUSED');
    expect(e.message).toMatch(new RegExp(`^c:1:1: the zone's input is larger than ${maxOctets} octets`));
  });

  it('OPS-6 $INCLUDEs nested deeper than the limit are refused naming the including file and line, before the next is opened', () => {
    const opened: string[] = [];
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) files[`f${i}`] = `; file ${i}\n$INCLUDE f${i + 1}\n`;
    const include = memoryIncludes(files);
    const e = refusal(() => [
      ...parseZoneFile(textSource('zone.db', `${head}$INCLUDE f0\n`), {
        origin,
        limits: { ...DEFAULT_ZONE_INPUT_LIMITS, maxIncludeDepth: 20 },
        include: (path, from) => {
          opened.push(path);
          return include(path, from);
        },
      }),
    ]);
    expect(e.code).toBe('INPUT_REFUSED');
    expect(e.message).toMatch(/^f19:2:10: \$INCLUDE nested deeper than 20 files .*zone\.db -> \.\.\. -> f19 \(near 'f20'\)/);
    expect(opened).toHaveLength(20);
  });

  it('nextOrPause pauses between entries after each chunk read, even where no record is (comments only)', () => {
    const comments = `; ${'c'.repeat(100)}\n`.repeat(2000);
    const parser = new ZoneFileParser(textSource('zone.db', `${head}${comments}last A 192.0.2.9\n`, 4096), { origin });
    let pauses = 0;
    const records: ZoneRecord[] = [];
    for (let r = parser.nextOrPause(); r !== undefined; r = parser.nextOrPause()) {
      if (r === PAUSE) pauses++;
      else records.push(r);
    }
    expect(records).toHaveLength(4);
    // 200 kB of text in 4 kB chunks: a pause after each
    expect(pauses).toBeGreaterThanOrEqual(49);
  });
});

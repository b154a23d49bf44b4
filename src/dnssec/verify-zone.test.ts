import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { memoryIncludes, textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ZoneBuilder, type Zone } from '../zone/zone.js';
import { softwareKey } from '../../test/helpers/software-signer.js';
import { Algorithm } from './algorithms.js';
import { signZone, type Denial } from './sign-zone.js';
import { verifyZone } from './verify-zone.js';
import { printNode, printNodeText, printZone } from '../zone/print.js';
import { verifySignedZone } from '../../test/integration/helpers/run.js';

const origin = Name.parse('corpus.example.');
// the validators below judge signatures by this machine's clock
const NOW = Math.floor(Date.now() / 3600_000) * 3600;
const ZONES = join(import.meta.dirname, '../../test/fixtures/zones');

function load(text: string): Zone {
  const b = new ZoneBuilder(origin);
  const files = { 'corpus-include.zone': readFileSync(join(ZONES, 'corpus-include.zone'), 'latin1') };
  for (const r of parseZoneFile(textSource('z', text), { origin, include: memoryIncludes(files) })) b.add(r);
  return b.freeze();
}

/** The signed zone as text, with one edit, read back. */
function edited(zone: Zone, edit: (lines: string[]) => string[]): Zone {
  return load(edit([...printZone(zone)]).join('\n'));
}

/** A record line with one character of its base64 signature changed (in the middle: the last ones may be padding bits). */
function flip(line: string): string {
  const at = line.length - 12;
  return `${line.slice(0, at)}${line[at] === 'A' ? 'B' : 'A'}${line.slice(at + 1)}`;
}

const keys = [softwareKey(Algorithm.ECDSAP256SHA256, 'ksk'), softwareKey(Algorithm.ECDSAP256SHA256, 'zsk')];
const signed = new Map<string, Zone>();

beforeAll(async () => {
  const unsigned = load(readFileSync(join(ZONES, 'corpus.zone'), 'latin1'));
  const denials: [string, Denial][] = [
    ['nsec', { kind: 'nsec' }],
    ['nsec3', { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false }],
    ['optout', { kind: 'nsec3', iterations: 1, salt: Uint8Array.of(1, 2), optOut: true }],
  ];
  for (const [name, denial] of denials) {
    signed.set(name, await signZone(unsigned, { keys, denial, inception: NOW - 3600, expiration: NOW + 32 * 86400 }));
  }
});

describe('verifyZone: the check before a signed zone is written', () => {
  it('finds nothing wrong in what signZone made (NSEC, NSEC3, NSEC3 opt-out), and neither do dnssec-verify, ldns-verify-zone and kzonecheck', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'hms-verify-'));
    try {
      for (const [name, zone] of signed) {
        expect(verifyZone(zone, NOW), name).toEqual([]);
        const file = join(tmp, `${name}.zone`);
        writeFileSync(file, [...printZone(zone)].join('\n') + '\n', 'latin1');
        expect(verifySignedZone('corpus.example', file), name).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('RFC 4035 section 2.3: an address at a delegation point is no type of its NSEC or NSEC3 bitmap, in the signer and in the verifier', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'hms-verify-'));
    try {
      const unsigned = load(
        '$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\nsub NS ns.sub\nsub A 192.0.2.41\nns.sub A 192.0.2.40\n' +
          'sec NS ns.sub\nsec DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE4A8B5E3C3E0A4E0D0A0B0C0D\nsec AAAA 2001:db8::41\n',
      );
      for (const denial of [{ kind: 'nsec' }, { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false }] satisfies Denial[]) {
        const zone = await signZone(unsigned, { keys, denial, inception: NOW - 3600, expiration: NOW + 32 * 86400 });
        const text = [...printZone(zone)];
        // NSEC: the bitmaps of sub and sec; NSEC3: those of the two hashes with NS
        const bitmaps = text
          .map((l) => l.split('\t'))
          .filter((f) => f[3] === (denial.kind === 'nsec' ? 'NSEC' : 'NSEC3'))
          .map((f) => f[4]!.split(' ').slice(denial.kind === 'nsec' ? 1 : 5))
          .filter((t) => t.includes('NS') && !t.includes('SOA'))
          .map((t) => t.sort().join(' '));
        expect(bitmaps.sort(), denial.kind).toEqual(denial.kind === 'nsec' ? ['DS NS NSEC RRSIG', 'NS NSEC RRSIG'] : ['DS NS RRSIG', 'NS']);
        expect(verifyZone(zone, NOW), denial.kind).toEqual([]);
        const file = join(tmp, `${denial.kind}.zone`);
        writeFileSync(file, text.join('\n') + '\n', 'latin1');
        expect(verifySignedZone('corpus.example', file), denial.kind).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('catches a flipped signature byte', () => {
    const zone = edited(signed.get('nsec3')!, (lines) => lines.map((l) => (/^www\.corpus\.example\.\t\d+\tIN\tRRSIG\tCNAME /.test(l) ? flip(l) : l)));
    expect(verifyZone(zone, NOW).map((p) => p.message)).toEqual([expect.stringMatching(/does not verify/)]);
  });

  it('RSA signatures, checked in batches: a good zone passes, and each flipped signature is named (owner and type), not its batch', async () => {
    const unsigned = load(readFileSync(join(ZONES, 'corpus.zone'), 'latin1'));
    const rsa = await signZone(unsigned, {
      keys: [softwareKey(Algorithm.RSASHA256, 'ksk'), softwareKey(Algorithm.RSASHA256, 'zsk')],
      denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
      inception: NOW - 3600,
      expiration: NOW + 32 * 86400,
    });
    expect(verifyZone(rsa, NOW)).toEqual([]);
    const tmp = mkdtempSync(join(tmpdir(), 'hms-verify-rsa-'));
    try {
      const file = join(tmp, 'rsa.zone');
      writeFileSync(file, [...printZone(rsa)].join('\n') + '\n', 'latin1');
      expect(verifySignedZone('corpus.example', file)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const targets = [
      /^www\.corpus\.example\.\t\d+\tIN\tRRSIG\tCNAME /,
      /^corpus\.example\.\t\d+\tIN\tRRSIG\tDNSKEY /,
      /^[0-9a-v]{32}\.corpus\.example\.\t\d+\tIN\tRRSIG\tNSEC3 /,
    ];
    const zone = edited(rsa, (lines) => {
      let nsec3Flipped = false;
      return lines.map((l) => {
        if (targets[2]!.test(l)) {
          if (nsec3Flipped) return l;
          nsec3Flipped = true;
          return flip(l);
        }
        return targets.slice(0, 2).some((t) => t.test(l)) ? flip(l) : l;
      });
    });
    const problems = verifyZone(zone, NOW);
    expect(problems.map((p) => `${p.type} ${p.message.replace(/\d+/, 'N')}`).sort()).toEqual([
      'CNAME RRSIG by key N does not verify',
      'DNSKEY RRSIG by key N does not verify',
      'NSEC3 RRSIG by key N does not verify',
    ]);
    expect(problems.map((p) => p.owner)).toContain('www.corpus.example.');
  });

  it('catches a missing NSEC3 and a broken ring', () => {
    let removed = '';
    const zone = edited(signed.get('nsec3')!, (lines) =>
      lines.filter((l) => {
        if (removed === '' && /\tNSEC3\t/.test(l)) {
          removed = l;
          return false;
        }
        return !(removed !== '' && l.startsWith(removed.split('\t')[0]!) && /\tRRSIG\tNSEC3 /.test(l));
      }),
    );
    const messages = verifyZone(zone, NOW).map((p) => p.message);
    expect(messages.some((m) => /no NSEC3 for the name/.test(m))).toBe(true);
    expect(messages.some((m) => /next hash/.test(m))).toBe(true);
  });

  it('catches an NSEC3 whose bitmap lies and an NSEC3 that is the hash of no name', () => {
    const zone = edited(signed.get('optout')!, (lines) => {
      const nsec3 = lines.findIndex((l) => /\tNSEC3\t.* A /.test(l));
      const stray = lines[nsec3]!.replace(/^[0-9a-v]{32}\./, '00000000000000000000000000000000.');
      return [...lines.map((l, i) => (i === nsec3 ? l.replace(/ A /, ' ') : l)), stray];
    });
    const messages = verifyZone(zone, NOW).map((p) => p.message);
    expect(messages).toContainEqual(expect.stringMatching(/^NSEC3 bitmap for .* does not match the types at the name$/));
    expect(messages).toContain('NSEC3 for no name of the zone');
    expect(messages).toContainEqual(expect.stringMatching(/^NSEC3 next hash [0-9A-V]{32} should be 0{32}$/));
  });

  it('catches a signature by a key that is not in the DNSKEY RRset (wrong key tag)', () => {
    const tags = keys.map((k) => k.signer.keyTag);
    let other = (tags[1]! + 1) % 65536;
    while (tags.includes(other)) other = (other + 1) % 65536;
    const zone = edited(signed.get('nsec')!, (lines) =>
      lines.map((l) => l.replace(/^(ns1\.corpus\.example\.\t\d+\tIN\tRRSIG\tA \d+ \d+ \d+ \d+ \d+ )\d+/, `$1${other}`)),
    );
    expect(verifyZone(zone, NOW).map((p) => p.message)).toEqual([expect.stringMatching(new RegExp(`RRSIG by key ${other}.*no such DNSKEY`))]);
  });

  it('catches an NSEC whose bitmap lies, and signatures out of their validity', () => {
    const zone = edited(signed.get('nsec')!, (lines) => lines.map((l) => (/^mail\.corpus\.example\.\t\d+\tIN\tNSEC\t/.test(l) ? l.replace(/ AAAA/, '') : l)));
    expect(verifyZone(zone, NOW).some((p) => p.message === 'NSEC bitmap does not match the types at the name')).toBe(true);
    expect(verifyZone(signed.get('nsec')!, NOW + 40 * 86400).length).toBeGreaterThan(10);
    expect(signed.get('nsec')!.rrset(origin, RRType.DNSKEY)!.records).toHaveLength(2);
  });
});

describe('printNodeText: printNodeTo, the printer a signer writes with, into a string', () => {
  it('writes every name of a signed zone as printNode does (RRSIG and NSEC3 texts made once and shared)', () => {
    for (const [name, zone] of signed) {
      for (const node of zone.nodes) expect(printNodeText(node.rrsets), `${name} ${node.name.toString()}`).toBe([...printNode(node.rrsets)].join('\n'));
    }
  });
});

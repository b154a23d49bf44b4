import { describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { formatRdata } from '../dns/rdata/index.js';
import { RRType } from '../dns/types.js';
import { buildNsec3Chain, buildNsecChain, type ChainName } from './denial.js';

const apex = Name.parse('example.');
const names: ChainName[] = [
  { name: apex, types: [RRType.NS, RRType.SOA], isDelegation: false },
  { name: Name.parse('a.example.'), types: [RRType.NS, RRType.DS], isDelegation: true },
  { name: Name.parse('b.example.'), types: [RRType.NS], isDelegation: true },
  { name: Name.parse('x.y.w.example.'), types: [RRType.MX], isDelegation: false },
];

describe('denial chains', () => {
  it('NSEC: a ring in canonical order; RRSIG listed even at an insecure delegation', () => {
    const chain = buildNsecChain(names).map((r) => `${r.owner.toString()} ${formatRdata(RRType.NSEC, r.rdata)}`);
    expect(chain).toEqual([
      'example. a.example. NS SOA RRSIG NSEC',
      'a.example. b.example. NS DS RRSIG NSEC',
      'b.example. x.y.w.example. NS RRSIG NSEC',
      'x.y.w.example. example. MX RRSIG NSEC',
    ]);
  });

  it('DP-4.2a NSEC3 (RFC 5155 section 7.1): empty non-terminals hashed, NSEC3PARAM at the apex', () => {
    const chain = buildNsec3Chain(apex, names, { iterations: 0, salt: new Uint8Array(0), optOut: false });
    // apex, a, b, x.y.w and the empty non-terminals y.w and w
    expect(chain).toHaveLength(6);
    const bitmaps = chain.map((r) => formatRdata(RRType.NSEC3, r.rdata).split(' ').slice(5).join(' ')).sort();
    expect(bitmaps).toEqual(['', '', 'MX RRSIG', 'NS', 'NS DS RRSIG', 'NS SOA RRSIG NSEC3PARAM']);
    // a ring: every next hash is some record's owner
    const owners = new Set(chain.map((r) => r.owner.labels()[0]!.toUpperCase()));
    for (const r of chain) expect(owners.has(formatRdata(RRType.NSEC3, r.rdata).split(' ')[4]!)).toBe(true);
  });

  it('NSEC3 opt-out leaves insecure delegations out and sets the flag', () => {
    const chain = buildNsec3Chain(apex, names, { iterations: 0, salt: new Uint8Array(0), optOut: true });
    expect(chain).toHaveLength(5);
    for (const r of chain) expect(formatRdata(RRType.NSEC3, r.rdata).split(' ')[1]).toBe('1');
  });
});

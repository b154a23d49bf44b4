import { describe, expect, it } from 'vitest';
import { softwareKey } from '../../test/helpers/software-signer.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { Algorithm, DigestType } from './algorithms.js';
import { buildNsec3Chain, buildNsecChain } from './denial.js';
import { encodeBase32Hex } from '../dns/rdata/base32hex.js';
import { makeDs } from './ds.js';
import { nsec3Hash } from './nsec3-hash.js';
import { encodeRrsigHeader, rrsigLabels, signingInput } from './rrsig.js';
import type { SigningKey } from './signer.js';
import { bitmapTypes, checkNoDs, verifyRRset, type AnswerRRset } from './verify-answer.js';

const PARENT = Name.parse('example.com.');
const CHILD = Name.parse('skole.example.com.');
const NOW = 1_800_000_000;
const KEY = softwareKey(Algorithm.ECDSAP256SHA256, 'csk');

async function signed(owner: Name, type: number, rdatas: Uint8Array[], key: SigningKey = KEY, at = NOW): Promise<AnswerRRset> {
  const header = encodeRrsigHeader({
    typeCovered: type,
    algorithm: key.signer.algorithm,
    labels: rrsigLabels(owner),
    originalTtl: 3600,
    expiration: at + 86400,
    inception: at - 3600,
    keyTag: key.signer.keyTag,
    signer: PARENT,
  });
  const signature = await key.signer.sign(signingInput(header, rrsigLabels(owner), owner, type, 3600, rdatas));
  return { owner, type, rdatas, rrsigs: [Uint8Array.from([...header, ...signature])] };
}

describe("validating a parent's answer (the automatic DS check)", () => {
  it('accepts a DS RRset signed by a key of the DNSKEY RRset, and names what is wrong otherwise', async () => {
    const ds = [makeDs(CHILD, softwareKey(Algorithm.ECDSAP256SHA256, 'ksk').signer.dnskey, DigestType.SHA256)];
    const set = await signed(CHILD, RRType.DS, ds);
    expect(verifyRRset(set, PARENT, [KEY.signer.dnskey], NOW)).toEqual({ keyTag: KEY.signer.keyTag });
    // a changed DS, a stranger's key, an expired signature, a different signer: each refused
    const forged = { ...set, rdatas: [Uint8Array.from(ds[0]!).fill(7, 4)] };
    expect(verifyRRset(forged, PARENT, [KEY.signer.dnskey], NOW)).toEqual({
      problem: expect.stringMatching(/skole\.example\.com\.\/DS: RRSIG \d+ does not verify/) as unknown,
    });
    expect(verifyRRset(set, PARENT, [softwareKey(Algorithm.ECDSAP256SHA256, 'csk').signer.dnskey], NOW)).toMatchObject({
      problem: expect.stringMatching(/no such zone key/) as unknown,
    });
    expect(verifyRRset(set, PARENT, [KEY.signer.dnskey], NOW + 2 * 86400)).toMatchObject({ problem: expect.stringMatching(/not valid now/) as unknown });
    expect(verifyRRset(set, Name.parse('com.'), [KEY.signer.dnskey], NOW)).toMatchObject({
      problem: expect.stringMatching(/RRSIG by example\.com\., not com\./) as unknown,
    });
    expect(verifyRRset({ ...set, rrsigs: [] }, PARENT, [KEY.signer.dnskey], NOW)).toEqual({ problem: 'skole.example.com./DS: no RRSIG' });
  });

  it('RFC 4035 section 5.4 proves no DS by a signed NSEC at the delegation without DS, and not with DS in it', async () => {
    const names = [
      { name: PARENT, types: [RRType.NS, RRType.SOA], isDelegation: false },
      { name: CHILD, types: [RRType.NS], isDelegation: true },
      { name: Name.parse('www.example.com.'), types: [RRType.A], isDelegation: false },
    ];
    const nsec = buildNsecChain(names).find((r) => r.owner.equals(CHILD))!;
    expect([...bitmapTypes(nsec.rdata.subarray(Name.parse('www.example.com.').length))].sort((a, b) => a - b)).toEqual([RRType.NS, RRType.RRSIG, RRType.NSEC]);
    const set = await signed(CHILD, RRType.NSEC, [nsec.rdata]);
    expect(checkNoDs(CHILD, [set], PARENT, [KEY.signer.dnskey], NOW)).toBeUndefined();
    const withDs = buildNsecChain(names.map((n) => (n.name.equals(CHILD) ? { ...n, types: [RRType.NS, RRType.DS] } : n))).find((r) => r.owner.equals(CHILD))!;
    expect(checkNoDs(CHILD, [await signed(CHILD, RRType.NSEC, [withDs.rdata])], PARENT, [KEY.signer.dnskey], NOW)).toMatch(
      /the NSEC at skole\.example\.com\. lists DS/,
    );
    expect(checkNoDs(CHILD, [{ ...set, rrsigs: [] }], PARENT, [KEY.signer.dnskey], NOW)).toMatch(/no RRSIG/);
    expect(checkNoDs(CHILD, [], PARENT, [KEY.signer.dnskey], NOW)).toMatch(/no NSEC or NSEC3 proves/);
  });

  it('RFC 5155 section 8.6 proves no DS by the NSEC3 matching the delegation', async () => {
    const params = { iterations: 0, salt: Uint8Array.of(0xab, 0xcd), optOut: false };
    const chain = buildNsec3Chain(
      PARENT,
      [
        { name: PARENT, types: [RRType.NS, RRType.SOA], isDelegation: false },
        { name: CHILD, types: [RRType.NS], isDelegation: true },
      ],
      params,
    );
    const sets = await Promise.all(chain.map((r) => signed(r.owner, RRType.NSEC3, [r.rdata])));
    expect(checkNoDs(CHILD, sets, PARENT, [KEY.signer.dnskey], NOW)).toBeUndefined();
    // without the matching NSEC3, the apex's neither matches nor covers with opt-out
    const childHash = encodeBase32Hex(nsec3Hash(CHILD, params.salt, 0)).toLowerCase();
    const others = sets.filter((x) => x.owner.labels()[0]!.toLowerCase() !== childHash);
    expect(others.length).toBe(1);
    expect(checkNoDs(CHILD, others, PARENT, [KEY.signer.dnskey], NOW)).toMatch(/no NSEC or NSEC3 proves that skole\.example\.com\. has no DS/);
  });
});

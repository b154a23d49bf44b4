import { createPrivateKey, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { formatRdata, parseRdata } from '../dns/rdata/index.js';
import { encodeBase32Hex } from '../dns/rdata/base32hex.js';
import { RdataTokens } from '../dns/rdata/tokens.js';
import { RRType } from '../dns/types.js';
import { hex, tokensOf } from '../../test/helpers/rdata.js';
import { checkSigningAlgorithm, DigestType } from './algorithms.js';
import { makeDs } from './ds.js';
import { keyTag } from './key-tag.js';
import { nsec3Hash } from './nsec3-hash.js';
import { decodeRrsig, encodeRrsigHeader, signingInput } from './rrsig.js';
import { verifySignature } from './verify-signature.js';

const origin = Name.parse('example.com.');
const rdata = (type: number, text: string): Uint8Array => parseRdata(type, new RdataTokens(tokensOf(text)), { origin });

/** The DNSKEY of RFC 4034 section 5.4 and RFC 4509 section 2.3. */
const DSKEY = rdata(
  RRType.DNSKEY,
  `256 3 5 ( AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/
  2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvx
  egXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9Xzc
  nOf+EPbtG9DMBmADjFDc2w/rljwvFw== )`,
);
const DSKEY_OWNER = Name.parse('dskey.example.com.');

describe('DNSSEC primitives', () => {
  it('RFC 4034 section 5.4: key tag 60485', () => {
    expect(keyTag(DSKEY)).toBe(60485);
  });

  it('RFC 4034 section 5.4: SHA-1 DS of dskey.example.com.', () => {
    expect(formatRdata(RRType.DS, makeDs(DSKEY_OWNER, DSKEY, DigestType.SHA1))).toBe('60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118');
  });

  it('RFC 4509 section 2.3: SHA-256 DS of dskey.example.com.', () => {
    expect(formatRdata(RRType.DS, makeDs(DSKEY_OWNER, DSKEY, DigestType.SHA256))).toBe(
      '60485 5 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A',
    );
  });

  it('the DS digest covers the owner in canonical (lowercase) form', () => {
    const upper = makeDs(Name.parse('DSKEY.Example.COM.'), DSKEY, DigestType.SHA256);
    expect(hex(upper)).toBe(hex(makeDs(DSKEY_OWNER, DSKEY, DigestType.SHA256)));
  });

  it('RFC 5155 appendix A: NSEC3 hashes with salt aabbccdd and 12 iterations', () => {
    const salt = Buffer.from('aabbccdd', 'hex');
    const vectors: [string, string][] = [
      ['example', '0p9mhaveqvm6t7vbl5lop2u3t2rp3tom'],
      ['a.example', '35mthgpgcu1qg68fab165klnsnk3dpvl'],
      ['ai.example', 'gjeqe526plbf1g8mklp59enfd789njgi'],
      ['ns1.example', '2t7b4g4vsa5smi47k61mv5bv1a22bojr'],
      ['ns2.example', 'q04jkcevqvmu85r014c7dkba38o0ji5r'],
      ['w.example', 'k8udemvp1j2f7eg6jebps17vp3n8i58h'],
      ['*.w.example', 'r53bq7cc2uvmubfu5ocmm6pers9tk9en'],
      ['x.w.example', 'b4um86eghhds6nea196smvmlo4ors995'],
      ['y.w.example', 'ji6neoaepv8b5o6k4ev33abha8ht9fgc'],
      ['x.y.w.example', '2vptu5timamqttgl4luu9kg21e0aor3s'],
      ['xx.example', 't644ebqk9bibcna874givr6joj62mlhv'],
    ];
    for (const [name, hash] of vectors) {
      expect(encodeBase32Hex(nsec3Hash(Name.parse(`${name}.`), salt, 12)).toLowerCase(), name).toBe(hash);
    }
    expect(encodeBase32Hex(nsec3Hash(Name.parse('EXAMPLE.'), salt, 12)).toLowerCase()).toBe('0p9mhaveqvm6t7vbl5lop2u3t2rp3tom');
  });

  it('NSEC3 hashes without salt (RFC 9276), of names with octets past ASCII too, as ldns-nsec3-hash gives them', () => {
    const h = (name: string, salt: string, iterations: number): string =>
      encodeBase32Hex(nsec3Hash(Name.parse(name), Buffer.from(salt, 'hex'), iterations)).toLowerCase();
    expect(h('example.', '', 0)).toBe('3msev9usmd4br9s97v51r2tdvmr9iqo1');
    // "café" in UTF-8: octets 0xc3 0xa9, which a UTF-8 reading of the name as text would garble
    expect(h('caf\\195\\169.example.', '', 0)).toBe('260kktvmk4km905is7tkhajq69oerqej');
    expect(h('CAF\\195\\169.Example.', '', 0)).toBe('260kktvmk4km905is7tkhajq69oerqej');
    expect(h('caf\\195\\169.example.', '', 3)).toBe('0n22hmpai241bsgsh9nqs6vgmtkisp5r');
    expect(h('caf\\195\\169.example.', 'aabbccdd', 1)).toBe('hvrgv4diusnn2g790ekveetebdeeq6er');
  });

  it('DP-4.2b DP-4.1a refuses RSAMD5 and SHA-1 signing algorithms, accepts RSASHA256', () => {
    expect(() => checkSigningAlgorithm(1)).toThrow(/RSAMD5 uses MD5 \(DP-4\.2b/);
    expect(() => checkSigningAlgorithm(5)).toThrow(/SHA-1/);
    expect(() => checkSigningAlgorithm(99)).toThrow(/not one hms signs with/);
    expect(checkSigningAlgorithm(8)).toBe(8);
    expect(checkSigningAlgorithm(13)).toBe(13);
    expect(checkSigningAlgorithm(15)).toBe(15);
  });
});

describe('RFC 8080 section 6.1 (Ed25519), with erratum 4935', () => {
  const owner = Name.parse('example.com.');
  const dnskey = rdata(RRType.DNSKEY, '257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=');
  const mx = rdata(RRType.MX, '10 mail.example.com.');
  const header = encodeRrsigHeader({
    typeCovered: RRType.MX,
    algorithm: 15,
    labels: 2,
    originalTtl: 3600,
    expiration: 1440021600,
    inception: 1438207200,
    keyTag: 3613,
    signer: owner,
  });
  const data = signingInput(header, 2, owner, RRType.MX, 3600, [mx]);
  // the erratum's signature; Ed25519 is deterministic, so signing again must give it exactly
  const expected = 'oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==';

  it('key tag 3613 and the DS of the example', () => {
    expect(keyTag(dnskey)).toBe(3613);
    expect(formatRdata(RRType.DS, makeDs(owner, dnskey, DigestType.SHA256))).toBe('3613 15 2 3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B');
  });

  it('the RRSIG signing input of the MX example, octet for octet', () => {
    expect(hex(data)).toBe(
      '000f0f0200000e1055d4fc6055b94ce00e1d076578616d706c6503636f6d00076578616d706c6503636f6d00' +
        '000f000100000e100014000a046d61696c076578616d706c6503636f6d00',
    );
  });

  it('signing with the example private key gives the published signature, and it verifies from the DNSKEY', () => {
    const seed = Buffer.from('ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=', 'base64');
    const key = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: Buffer.from(dnskey.subarray(4)).toString('base64url') },
      format: 'jwk',
    });
    expect(sign(null, data, key).toString('base64')).toBe(expected);
    expect(verifySignature(dnskey, data, Buffer.from(expected, 'base64'))).toBe(true);
    const tampered = Buffer.from(expected, 'base64');
    tampered[10]! ^= 1;
    expect(verifySignature(dnskey, data, tampered)).toBe(false);
  });
});

describe('RFC 6605 section 6 (ECDSA P-256 and P-384)', () => {
  const zone = Name.parse('example.net.');
  const www = Name.parse('www.example.net.');
  const a = rdata(RRType.A, '192.0.2.1');
  const cases = [
    {
      name: '6.1 P-256',
      tag: 55648,
      text: '257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==',
      rrsig:
        'A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==',
    },
    {
      name: '6.2 P-384',
      tag: 10771,
      text: '257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40',
      rrsig:
        'A 14 3 3600 20100909102025 20100812102025 10771 example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: key tag, and the published RRSIG verifies (and not once tampered)`, () => {
      const dnskey = rdata(RRType.DNSKEY, c.text);
      expect(keyTag(dnskey)).toBe(c.tag);
      const rrsig = rdata(RRType.RRSIG, c.rrsig);
      const sig = decodeRrsig(rrsig);
      const data = signingInput(rrsig.subarray(0, rrsig.length - sig.signature.length), sig.labels, www, RRType.A, sig.originalTtl, [a]);
      expect(verifySignature(dnskey, data, sig.signature)).toBe(true);
      const tampered = Uint8Array.from(sig.signature);
      tampered[5]! ^= 1;
      expect(verifySignature(dnskey, data, tampered)).toBe(false);
    });
  }

  it('6.1: the SHA-256 DS of the P-256 key', () => {
    expect(formatRdata(RRType.DS, makeDs(zone, rdata(RRType.DNSKEY, cases[0]!.text), DigestType.SHA256))).toBe(
      '55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17',
    );
  });
});

describe('RFC 5702 section 6.1 (RSA/SHA-256)', () => {
  it('key tag 9033, and the published RRSIG over www.example.net. A verifies (and not once tampered)', () => {
    const dnskey = rdata(RRType.DNSKEY, '256 3 8 AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=');
    expect(keyTag(dnskey)).toBe(9033);
    const rrsig = rdata(
      RRType.RRSIG,
      'A 8 3 3600 20300101000000 20000101000000 9033 example.net. kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg==',
    );
    const sig = decodeRrsig(rrsig);
    expect([sig.inception, sig.expiration]).toEqual([946684800, 1893456000]);
    const data = signingInput(rrsig.subarray(0, rrsig.length - sig.signature.length), 3, Name.parse('www.example.net.'), RRType.A, 3600, [
      rdata(RRType.A, '192.0.2.91'),
    ]);
    expect(verifySignature(dnskey, data, sig.signature)).toBe(true);
    const other = signingInput(rrsig.subarray(0, rrsig.length - sig.signature.length), 3, Name.parse('www.example.net.'), RRType.A, 3600, [
      rdata(RRType.A, '192.0.2.92'),
    ]);
    expect(verifySignature(dnskey, other, sig.signature)).toBe(false);
  });
});

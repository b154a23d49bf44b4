import { RRType } from '../types.js';
import type { RdataCodec } from './codec.js';
import { fieldCodec } from './codec.js';
import {
  ALGORITHM_NAMES,
  base64ToEnd,
  caaTag,
  charString,
  charStrings,
  eui,
  hashedOwner,
  hexToEnd,
  ilnp64,
  interval32,
  ipv4,
  ipv6,
  name,
  octetsToEnd,
  salt,
  time32,
  typeBitmap,
  typeCovered,
  u16,
  u32,
  u8,
} from './fields.js';
import { locCodec } from './loc.js';
import { svcbCodec } from './svcb.js';

const CERT_TYPES: Readonly<Record<string, number>> = {
  PKIX: 1,
  SPKI: 2,
  PGP: 3,
  IPKIX: 4,
  ISPKI: 5,
  IPGP: 6,
  ACPKIX: 7,
  IACPKIX: 8,
  URI: 253,
  OID: 254,
};

const DS_FIELDS = [u16('key tag'), u8('algorithm', ALGORITHM_NAMES), u8('digest type'), hexToEnd('digest')];
const DNSKEY_FIELDS = [u16('flags'), u8('protocol'), u8('algorithm', ALGORITHM_NAMES), base64ToEnd('public key')];
const TLSA_FIELDS = [u8('usage'), u8('selector'), u8('matching type'), hexToEnd('certificate association data')];

/**
 * The types hms reads and writes in presentation form. Names that RFC 4034 section 6.2 (as
 * amended by RFC 6840 section 5.1: not NSEC) lowercases in canonical form are marked `true`.
 * Any other type is handled in the RFC 3597 generic form.
 */
const CODECS = new Map<number, RdataCodec>([
  [RRType.A, fieldCodec([ipv4()])],
  [RRType.NS, fieldCodec([name('name server', true)])],
  [RRType.CNAME, fieldCodec([name('target', true)])],
  [
    RRType.SOA,
    fieldCodec([
      name('primary name server', true),
      name('responsible mailbox', true),
      u32('serial'),
      interval32('refresh'),
      interval32('retry'),
      interval32('expire'),
      interval32('minimum'),
    ]),
  ],
  [RRType.MB, fieldCodec([name('mailbox host', true)])],
  [RRType.MG, fieldCodec([name('mail group member', true)])],
  [RRType.MR, fieldCodec([name('new mailbox', true)])],
  [RRType.PTR, fieldCodec([name('target', true)])],
  [RRType.HINFO, fieldCodec([charString('CPU'), charString('OS')])],
  [RRType.MINFO, fieldCodec([name('responsible mailbox', true), name('error mailbox', true)])],
  [RRType.MX, fieldCodec([u16('preference'), name('exchange', true)])],
  [RRType.TXT, fieldCodec([charStrings('text')])],
  [RRType.RP, fieldCodec([name('mailbox', true), name('TXT name', true)])],
  [RRType.AFSDB, fieldCodec([u16('subtype'), name('host', true)])],
  [RRType.AAAA, fieldCodec([ipv6()])],
  [RRType.LOC, locCodec],
  [RRType.SRV, fieldCodec([u16('priority'), u16('weight'), u16('port'), name('target', true)])],
  [RRType.NAPTR, fieldCodec([u16('order'), u16('preference'), charString('flags'), charString('services'), charString('regexp'), name('replacement', true)])],
  [RRType.KX, fieldCodec([u16('preference'), name('exchanger', true)])],
  [RRType.CERT, fieldCodec([u16('certificate type', CERT_TYPES), u16('key tag'), u8('algorithm', ALGORITHM_NAMES), base64ToEnd('certificate')])],
  [RRType.DNAME, fieldCodec([name('target', true)])],
  [RRType.DS, fieldCodec(DS_FIELDS)],
  [RRType.CDS, fieldCodec(DS_FIELDS)],
  [RRType.SSHFP, fieldCodec([u8('algorithm'), u8('fingerprint type'), hexToEnd('fingerprint')])],
  [
    RRType.RRSIG,
    fieldCodec([
      typeCovered(),
      u8('algorithm', ALGORITHM_NAMES),
      u8('labels'),
      u32('original TTL'),
      time32('signature expiration'),
      time32('signature inception'),
      u16('key tag'),
      name("signer's name", true),
      base64ToEnd('signature'),
    ]),
  ],
  [RRType.NSEC, fieldCodec([name('next domain name', false), typeBitmap()])],
  [RRType.DNSKEY, fieldCodec(DNSKEY_FIELDS)],
  [RRType.CDNSKEY, fieldCodec(DNSKEY_FIELDS)],
  [RRType.DHCID, fieldCodec([base64ToEnd('DHCID data')])],
  [RRType.NSEC3, fieldCodec([u8('hash algorithm'), u8('flags'), u16('iterations'), salt(), hashedOwner(), typeBitmap()])],
  [RRType.NSEC3PARAM, fieldCodec([u8('hash algorithm'), u8('flags'), u16('iterations'), salt()])],
  [RRType.TLSA, fieldCodec(TLSA_FIELDS)],
  [RRType.SMIMEA, fieldCodec(TLSA_FIELDS)],
  [RRType.OPENPGPKEY, fieldCodec([base64ToEnd('public key')])],
  [RRType.CSYNC, fieldCodec([u32('SOA serial'), u16('flags'), typeBitmap()])],
  [RRType.ZONEMD, fieldCodec([u32('serial'), u8('scheme'), u8('hash algorithm'), hexToEnd('digest')])],
  [RRType.SVCB, svcbCodec],
  [RRType.HTTPS, svcbCodec],
  [RRType.SPF, fieldCodec([charStrings('text')])],
  [RRType.NID, fieldCodec([u16('preference'), ilnp64('node ID')])],
  [RRType.L32, fieldCodec([u16('preference'), ipv4('locator')])],
  [RRType.L64, fieldCodec([u16('preference'), ilnp64('locator')])],
  [RRType.LP, fieldCodec([u16('preference'), name('FQDN', false)])],
  [RRType.EUI48, fieldCodec([eui(6)])],
  [RRType.EUI64, fieldCodec([eui(8)])],
  [RRType.URI, fieldCodec([u16('priority'), u16('weight'), octetsToEnd('target')])],
  [RRType.CAA, fieldCodec([u8('flags'), caaTag(), octetsToEnd('value')])],
]);

/** The codec for a type, or undefined when the type is handled only in generic form. */
export function codecFor(type: number): RdataCodec | undefined {
  return CODECS.get(type);
}

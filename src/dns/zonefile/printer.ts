import type { Name } from '../name.js';
import { codecFor, formatRdata } from '../rdata/index.js';
import { typeToString } from '../types.js';

/**
 * One record as a master-file line: absolute owner, TTL, class, type, RDATA, tab-separated.
 * Types hms has no codec for are written as `TYPEnnn \# len hex` (RFC 3597), which every
 * master-file reader accepts.
 */
export function formatRecord(owner: Name, ttl: number, type: number, rdata: Uint8Array): string {
  return `${recordPrefix(owner, type)(ttl)}${formatRdata(type, rdata)}`;
}

/** Everything of a record's line before its RDATA, for many records of one RRset. */
export function recordPrefix(owner: Name, type: number): (ttl: number) => string {
  const ownerText = owner.toString();
  const typeText = codecFor(type) === undefined ? `TYPE${type}` : typeToString(type);
  return (ttl) => `${ownerText}\t${ttl}\tIN\t${typeText}\t`;
}

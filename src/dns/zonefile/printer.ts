import type { Name } from '../name.js';
import { codecFor } from '../rdata/index.js';
import { typeToString } from '../types.js';

/**
 * Everything of a record's master-file line before its RDATA (absolute owner, TTL, class,
 * type, tab-separated), for the records of one RRset. Types hms has no codec for are written
 * as `TYPEnnn` with RDATA in the RFC 3597 form, which every master-file reader accepts.
 */
export function recordPrefix(owner: Name, type: number): (ttl: number) => string {
  const ownerText = owner.toString();
  const typeText = codecFor(type) === undefined ? `TYPE${type}` : typeToString(type);
  return (ttl) => `${ownerText}\t${ttl}\tIN\t${typeText}\t`;
}

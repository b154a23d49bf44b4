import type { Name } from '../name.js';
import { codecFor } from '../rdata/index.js';
import { typeToString } from '../types.js';

/**
 * Everything of a record's master-file line before its RDATA (absolute owner, TTL, class,
 * type, tab-separated), for the records of one RRset. Types hms has no codec for are written
 * as `TYPEnnn` with RDATA in the RFC 3597 form, which every master-file reader accepts.
 * `ownerText` is the owner's presentation form, when the caller has it already.
 */
export function recordPrefix(owner: Name, type: number, ownerText = owner.toString()): (ttl: number) => string {
  return (ttl) => recordPrefixText(ownerText, type, ttl);
}

/** recordPrefix's text for one record, made at once. */
export function recordPrefixText(ownerText: string, type: number, ttl: number): string {
  const typeText = codecFor(type) === undefined ? `TYPE${type}` : typeToString(type);
  return `${ownerText}\t${ttl}\tIN\t${typeText}\t`;
}

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DigestTable } from './digest-table.js';

const digest = (i: number): Uint8Array => createHash('sha1').update(String(i)).digest();

describe('DigestTable', () => {
  it('finds each digest added, as it grows past its first size, and only those', () => {
    const table = new DigestTable(20, 4);
    for (let i = 0; i < 5000; i++) expect(table.add(digest(i))).toBe(i);
    expect(table.size).toBe(5000);
    for (let i = 0; i < 5000; i++) expect(table.find(digest(i))).toBe(i);
    for (let i = 5000; i < 6000; i++) expect(table.find(digest(i))).toBe(-1);
    expect(Buffer.from(table.key(1234)).equals(Buffer.from(digest(1234)))).toBe(true);
  });

  it('reads a digest at an offset, and tells digests that differ only in their last octet apart', () => {
    const table = new DigestTable(20);
    const a = new Uint8Array(20);
    const b = Uint8Array.from(a);
    b[19] = 1;
    table.add(a);
    const padded = new Uint8Array(25);
    padded.set(b, 5);
    expect(table.find(padded, 5)).toBe(-1);
    expect(table.add(padded, 5)).toBe(1);
    expect(table.find(b)).toBe(1);
    expect(table.find(a)).toBe(0);
  });
});

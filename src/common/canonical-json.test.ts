import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and leaves no white space', () => {
    expect(canonicalJson({ b: 1, a: { d: [true, null], c: 'x' } })).toBe('{"a":{"c":"x","d":[true,null]},"b":1}');
  });

  it('gives the same bytes after a parse and a second write', () => {
    const value = { z: 'é\u0000"', n: -0.5, big: 1e21, list: [{ y: 2, x: 1 }], empty: {} };
    const once = canonicalJson(value);
    expect(canonicalJson(JSON.parse(once))).toBe(once);
  });

  it('leaves out members whose value is undefined, as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
  });

  it('refuses what JSON cannot hold faithfully, naming the place', () => {
    expect(() => canonicalJson({ a: [1, NaN] })).toThrow('$.a[1] is NaN');
    expect(() => canonicalJson({ key: new Uint8Array(2) })).toThrow('$.key is not a plain object');
    expect(() => canonicalJson([undefined])).toThrow('$[0] is undefined');
    expect(() => canonicalJson(10n)).toThrow('bigint');
  });
});

import { describe, expect, it } from 'vitest';
import type { KeyRecord } from './keys.js';
import { reconcile, type TokenKey } from './reconcile.js';

const key = (id: string): KeyRecord => ({
  id,
  role: 'zsk',
  algorithm: 8,
  bits: 1024,
  keyTag: 1,
  dnskey: new Uint8Array(4),
  created: 0,
  publish: 0,
  active: 0,
  retire: null,
  remove: null,
  dsSeen: null,
  dsWithdrawn: null,
  successorOf: null,
  compromised: false,
});
const inToken = (id: string, keyTag = 1): TokenKey => ({ id, role: 'ksk', keyTag, algorithm: 8, label: `hms:example.com.:ksk:${id}` });

describe('reconcile', () => {
  it('finds nothing when records and HSM agree (hex case aside)', () => {
    expect(reconcile([key('0a1b'), key('ff')], [inToken('0A1B'), inToken('ff')])).toEqual({ missing: [], orphans: [], pending: [] });
  });

  it('reports a key whose HSM object is gone, as the record itself, so the caller can raise the alarm', () => {
    const gone = key('beef');
    expect(reconcile([key('0a1b'), gone], [inToken('0a1b')]).missing).toEqual([gone]);
  });

  it('DP-4.1 reports the token keys no record claims as orphans, whole (tag, role, label), by key tag', () => {
    const a = inToken('c3', 40000);
    const b = inToken('a2', 12);
    expect(reconcile([key('01')], [inToken('01'), a, b]).orphans).toEqual([b, a]);
  });

  it('DP-4.1 a token key a pending key claims (recorded as intended before it was made) is no orphan, and no recorded key', () => {
    const made = inToken('D00D', 7);
    const stray = inToken('0bad', 9);
    expect(reconcile([key('01')], [inToken('01'), made, stray], ['d00d', 'abcd'])).toEqual({ missing: [], orphans: [stray], pending: [made] });
  });
});

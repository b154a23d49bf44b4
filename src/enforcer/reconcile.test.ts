import { describe, expect, it } from 'vitest';
import type { KeyRecord } from './keys.js';
import { reconcile } from './reconcile.js';

const key = (id: string): KeyRecord => ({
  id, role: 'zsk', algorithm: 8, bits: 1024, keyTag: 1, dnskey: new Uint8Array(4), created: 0, publish: 0,
  active: 0, retire: null, remove: null, dsSeen: null, dsWithdrawn: null, successorOf: null, compromised: false,
});

describe('reconcile', () => {
  it('finds nothing when records and HSM agree (hex case aside)', () => {
    expect(reconcile([key('0a1b'), key('ff')], new Set(['0A1B', 'ff']))).toEqual({ missing: [], unknownInHsm: [] });
  });

  it('reports a key whose HSM object is gone, as the record itself, so the caller can raise the alarm', () => {
    const gone = key('beef');
    expect(reconcile([key('0a1b'), gone], new Set(['0a1b'])).missing).toEqual([gone]);
  });

  it('lists HSM objects that no record claims, sorted, without judging them', () => {
    expect(reconcile([key('01')], new Set(['01', 'c3', 'a2'])).unknownInHsm).toEqual(['a2', 'c3']);
  });
});

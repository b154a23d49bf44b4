import { describe, expect, it } from 'vitest';
import { nextSerial, serialGreater } from './serial.js';

const NOW = Date.UTC(2026, 10, 22, 15) / 1000;

describe('SOA serials (RFC 1982)', () => {
  it('compares in serial arithmetic, across the wrap', () => {
    expect(serialGreater(2, 1)).toBe(true);
    expect(serialGreater(1, 2 ** 32 - 1)).toBe(true);
    expect(serialGreater(2 ** 31 + 5, 1)).toBe(false);
    expect(serialGreater(7, 7)).toBe(false);
  });

  it('moves forward under every policy but keep', () => {
    expect(nextSerial('datecounter', 2026112104, NOW)).toBe(2026112200);
    expect(nextSerial('datecounter', 2026112205, NOW)).toBe(2026112206);
    expect(nextSerial('unixtime', 5, NOW)).toBe(NOW);
    expect(nextSerial('unixtime', NOW + 10, NOW)).toBe(NOW + 11);
    expect(nextSerial('counter', 2 ** 32 - 1, NOW)).toBe(0);
    expect(nextSerial('keep', 42, NOW)).toBe(42);
  });
});

import type { UnixSeconds } from '../common/clock.js';
import { quote, ValueError } from '../common/errors.js';

export type SerialPolicy = 'unixtime' | 'datecounter' | 'counter' | 'keep';

/** RFC 1982 serial arithmetic: is `a` after `b`? */
export function serialGreater(a: number, b: number): boolean {
  return a !== b && ((a > b && a - b < 2 ** 31) || (a < b && b - a > 2 ** 31));
}

/**
 * The next SOA serial under a policy. Anything but `keep` always moves forward in RFC 1982
 * terms: when the policy's value would not be after the current serial, current + 1 is used.
 */
export function nextSerial(policy: SerialPolicy, current: number, now: UnixSeconds): number {
  const plusOne = (current + 1) % 2 ** 32;
  let wanted: number;
  switch (policy) {
    case 'keep':
      return current;
    case 'counter':
      return plusOne;
    case 'unixtime':
      wanted = Math.floor(now) % 2 ** 32;
      break;
    case 'datecounter': {
      const d = new Date(now * 1000);
      wanted = (d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate()) * 100;
      break;
    }
    default:
      throw new ValueError(`unknown serial policy ${quote(String(policy))}`);
  }
  return serialGreater(wanted, current) ? wanted : plusOne;
}

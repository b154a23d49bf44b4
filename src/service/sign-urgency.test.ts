import { describe, expect, it } from 'vitest';
import type { SignaturePolicy } from '../kasp/policy.js';
import { signingUrgency } from './sign-urgency.js';

const DAY = 86_400;
const policy: SignaturePolicy = { validity: 32 * DAY, resignInterval: DAY, refresh: 'always', inceptionOffset: 3600, jitter: 0 };
const now = 1_800_000_000;

describe('how urgent a zone is in the shared signing pool (issue 20)', () => {
  it('due when nothing is served or the zone was never signed', () => {
    expect(signingUrgency({ serial: null, expires: null }, null, policy, now)).toBe('due');
    expect(signingUrgency({ serial: 5, expires: now + 30 * DAY }, null, policy, now)).toBe('due');
  });

  it('DP-4.4b due once the re-sign interval since the last signing has passed, requested before', () => {
    const served = { serial: 5, expires: now + 31 * DAY };
    expect(signingUrgency(served, now - DAY, policy, now)).toBe('due');
    expect(signingUrgency(served, now - DAY + 1, policy, now)).toBe('requested');
  });

  it('due when the served signatures have no more than the refresh time left', () => {
    const refresh = { ...policy, refresh: 10 * DAY, resignInterval: 30 * DAY };
    expect(signingUrgency({ serial: 5, expires: now + 10 * DAY }, now - 3600, refresh, now)).toBe('due');
    expect(signingUrgency({ serial: 5, expires: now + 10 * DAY + 1 }, now - 3600, refresh, now)).toBe('requested');
  });
});

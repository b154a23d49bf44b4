import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDpsReport } from '../compliance/dps.js';
import { readDpsFacts } from './dps-facts.js';

const ROOT = join(import.meta.dirname, '../..');
// the example's configuration, policy and zone, without the state a run of `npm run example` leaves in the repository
const COPY = mkdtempSync(join(tmpdir(), 'hms-dps-'));
cpSync(join(ROOT, 'examples/hms.yaml'), join(COPY, 'examples/hms.yaml'));
cpSync(join(ROOT, 'examples/zones'), join(COPY, 'examples/zones'), { recursive: true });
cpSync(join(ROOT, 'kasp/default.yaml'), join(COPY, 'kasp/default.yaml'));
afterAll(() => rmSync(COPY, { recursive: true, force: true }));

describe('hms report dps on the example configuration', () => {
  it('DP-5.1 reads examples/hms.yaml and kasp/default.yaml: the DP-4 policy items met with their lines, the example zone outside .dk not', () => {
    const facts = readDpsFacts(join(COPY, 'examples/hms.yaml'), 1_796_000_000);
    expect(facts.policies.map((p) => p.name)).toEqual(['dp']);
    expect(facts.zones.map((z) => z.name)).toEqual(['example.com.']);
    expect(facts.listen).toEqual(['127.0.0.1:5300']);
    const entries = buildDpsReport(facts);
    const byId = new Map(entries.map((e) => [e.id, e]));
    for (const id of ['DP-4.1a', 'DP-4.1b', 'DP-4.1c', 'DP-4.2c', 'DP-4.3c', 'DP-4.4a', 'DP-4.4b', 'DP-4.5a', 'DP-4.5b', 'DP-4.5c', 'DP-4.5d']) {
      expect(byId.get(id)?.status, id).toBe('met');
      expect(byId.get(id)!.evidence[0], id).toMatch(/^policy dp: .*kasp\/default\.yaml:\d+\)/);
    }
    expect(byId.get('DP-4.4a')!.evidence[0]).toMatch(/signature validity 32d/);
    expect(byId.get('DP-3.2a')).toMatchObject({ status: 'met', evidence: ['listens on internal addresses only: 127.0.0.1:5300 (service.listen)'] });
    expect(byId.get('DK-17')).toMatchObject({ status: 'not-met', evidence: ['not under .dk: example.com.'] });
    expect(byId.get('DP-2.4e')!.status).toBe('not-met');
    // DK-18 DK-23 DP-3.3a from the example zone's records (no signed version: its input)
    expect(byId.get('DK-18')!.evidence).toContain('delegated subdomains: skole.example.com.: delegated with DS 12345');
    expect(byId.get('DK-23')).toMatchObject({
      status: 'not-met',
      evidence: [
        'example.com.: sends mail (SPF authorises hosts) but has no DKIM key (TXT with p= at SELECTOR._domainkey.example.com.)',
        'mail.example.com.: no SPF record (TXT "v=spf1 ... -all")',
      ],
    });
    expect(byId.get('DP-3.3a')).toMatchObject({
      status: 'manual',
      evidence: [expect.stringMatching(/^example\.com\.: 2 name servers: ns1\.example\.com\., ns2\.example\.net\. /)],
    });
  });
});

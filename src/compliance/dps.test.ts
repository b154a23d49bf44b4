import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPolicyFile } from '../kasp/parse.js';
import { buildDpsReport, formatDpsMarkdown, isInternalAddress, type DpsEntry, type DpsFacts } from './dps.js';

const DEFAULT = join(import.meta.dirname, '../../kasp/default.yaml');
const NOW = 1_796_000_000;

/** The facts of a deployment like examples/hms.yaml, with a managed, signed zone whose DS the parent serves. */
function facts(over: Partial<DpsFacts> = {}): DpsFacts {
  return {
    now: NOW,
    configFile: '/etc/hms/hms.yaml',
    stateFile: '/var/lib/hms/hms.db',
    auditRecords: 12,
    policies: readPolicyFile(readFileSync(DEFAULT, 'utf8'), DEFAULT).policies,
    zones: [
      {
        name: 'kalmar.dk.',
        policy: 'dp',
        secondaries: ['ns1'],
        keys: [
          { role: 'ksk', algorithm: 8, bits: 2048, keyTag: 11111, state: 'active', dsSeen: true },
          { role: 'zsk', algorithm: 8, bits: 1024, keyTag: 22222, state: 'active', dsSeen: false },
        ],
        lastSigned: NOW - 3600,
        insecure: false,
        records: [
          { requirement: 'DK-18', status: 'met', subject: 'skole.kalmar.dk.', message: 'delegated with DS 12345' },
          { requirement: 'DK-23', status: 'met', subject: 'kalmar.dk.', message: 'DMARC p=reject at _dmarc.kalmar.dk.' },
          { requirement: 'DP-3.3a', status: 'met', subject: 'kalmar.dk.', message: '2 name servers: ns1.kalmar.dk., ns2.kalmar.dk.' },
        ],
        recordsFrom: '/var/lib/hms/signed/kalmar.dk.signed',
      },
    ],
    tsigKeys: [{ name: 'xfr-key.', algorithm: 'hmac-sha256' }],
    secondaries: [{ name: 'ns1', address: '10.0.0.2', key: 'xfr-key' }],
    listen: ['10.0.0.1:53'],
    resign: '17 3 * * *',
    alarmValidity: 7 * 86400,
    monitor: { interval: 300, validityWarning: 7 * 86400, serialLagWarning: 1800, clockWarning: 30 },
    hsm: { module: '/usr/lib/vendor/libpkcs11.so', token: 'hms', pinFile: '/etc/hms/pin', pinFileMode: 0o100600 },
    audit: { checkpoint: '/var/lib/hms-audit/hms.db.checkpoint', syslog: 'tcp://logs.kalmar.dk:514' },
    access: { administrator: ['group:hms-admin'], operator: ['group:hms-ops'], approver: ['group:hms-approve'], auditor: [] },
    resolver: '127.0.0.1:53',
    ...over,
  };
}

const entry = (entries: readonly DpsEntry[], id: string): DpsEntry => entries.find((e) => e.id === id)!;

describe('hms report dps', () => {
  it('DP-5.1 a deployment by the DP policy: the technical items are met with their evidence, none not met', () => {
    const entries = buildDpsReport(facts());
    expect(entries.filter((e) => e.status === 'not-met')).toEqual([]);
    expect(entries.every((e) => e.evidence.length > 0)).toBe(true);
    expect(entry(entries, 'DP-4.1b').evidence).toEqual([
      `policy dp: KSK RSASHA256 2048 bits (${DEFAULT}:21)`,
      'keys in the state: kalmar.dk. KSK 11111 RSASHA256 2048 bits (active)',
    ]);
    expect(entry(entries, 'DP-4.4a').evidence[0]).toMatch(/^policy dp: signature validity 32d \(.*default\.yaml:\d+\)$/);
    expect(entry(entries, 'DP-3.5b')).toMatchObject({ status: 'met', evidence: ['TSIG keys: xfr-key. hmac-sha256'] });
    expect(entry(entries, 'DK-18').status).toBe('met');
    expect(entry(entries, 'DP-3.4').status).toBe('manual');
    expect(entry(entries, 'DP-2.9b').evidence[0]).toMatch(/^hms run checks SOA, NS and DNSKEY .* every 5m \(service\.monitor-interval; check positive\)/);
    const off = buildDpsReport(facts({ monitor: { ...facts().monitor, interval: 0 } }));
    expect(['DP-2.9a', 'DP-2.9b', 'DP-2.9c', 'DP-2.9d', 'DP-2.9e'].map((id) => entry(off, id).status)).toEqual([
      'manual',
      'manual',
      'manual',
      'manual',
      'manual',
    ]);
  });

  it('DP-4.1b DP-4.1c a key in the state below the policy size is not met, naming the zone and key', () => {
    const f = facts();
    const zone = { ...f.zones[0]!, keys: [{ role: 'ksk', algorithm: 8, bits: 1024, keyTag: 33333, state: 'active', dsSeen: true }] };
    const e = entry(buildDpsReport({ ...f, zones: [zone] }), 'DP-4.1b');
    expect(e.status).toBe('not-met');
    expect(e.evidence[0]).toBe('key in the state: kalmar.dk. KSK 33333 RSASHA256 1024 bits (active): below 2048 bits');
  });

  it('DP-4.4a DP-4.5a a policy held to another profile is held to DP here, with the file and line', () => {
    const text = readFileSync(DEFAULT, 'utf8').replace('profile: dp', 'profile: rfc9276').replace('validity: 32d', 'validity: 14d');
    const policies = readPolicyFile(text, 'other.yaml').policies;
    const entries = buildDpsReport(facts({ policies }));
    const e = entry(entries, 'DP-4.4a');
    expect(e.status).toBe('not-met');
    expect(e.evidence[0]).toMatch(/^policy dp at other\.yaml:\d+: signatures\.validity: 14d is not the policy's 32d$/);
  });

  it('DP-3.1b DP-2.4e DP-3.2a DP-2.8b DP-4.7d DK-17: a readable PIN file, local syslog, a public address, no approvers, a zone outside .dk', () => {
    const f = facts({
      hsm: { ...facts().hsm, pinFileMode: 0o100644 },
      audit: { checkpoint: '/c', syslog: 'local' },
      listen: ['192.0.2.1:53', '[fd00::1]:53'],
      access: { ...facts().access, approver: [] },
      zones: [{ ...facts().zones[0]!, name: 'kalmar.se.' }],
    });
    const entries = buildDpsReport(f);
    const notMet = entries.filter((e) => e.status === 'not-met').map((e) => `${e.id}: ${e.evidence[0]!}`);
    expect(notMet).toEqual([
      'DP-2.4e: audit.syslog in /etc/hms/hms.yaml is the local syslog: no log system outside the signer receives the records',
      'DP-2.8b: no approvers in /etc/hms/hms.yaml (access.approvers)',
      'DP-3.1b: hsm.pin-file /etc/hms/pin has mode 644: others can read it',
      'DP-3.2a: listens on addresses outside the internal network: 192.0.2.1:53 (service.listen)',
      'DP-4.7d: no approvers configured: no DS change can be approved',
      'DK-17: not under .dk: kalmar.se.',
    ]);
  });

  it('DK-18 a zone whose DS the parent does not serve, or with no keys, is not met', () => {
    const z = facts().zones[0]!;
    const noDs = buildDpsReport(facts({ zones: [{ ...z, keys: z.keys!.map((k) => ({ ...k, dsSeen: false })) }] }));
    expect(entry(noDs, 'DK-18').evidence[0]).toBe('no DS confirmed at the parent (hms ds seen): kalmar.dk.');
    const none = buildDpsReport(facts({ zones: [{ ...z, keys: null }] }));
    expect(entry(none, 'DK-18').evidence[0]).toBe('not signed (no active key, or going insecure): kalmar.dk.');
  });

  it("DK-18 DK-23 DP-3.3a the items of the zones' records decide, naming the record", () => {
    const z = facts().zones[0]!;
    const records = [
      { requirement: 'DK-18', status: 'not-met' as const, subject: 'skole.kalmar.dk.', message: 'delegated without a DS' },
      { requirement: 'DK-23', status: 'not-met' as const, subject: 'kalmar.dk.', message: 'DMARC p=none at _dmarc.kalmar.dk., not reject' },
      { requirement: 'DK-23', status: 'warning' as const, subject: 'shop.kalmar.dk.', message: 'pct=50' },
      { requirement: 'DP-3.3a', status: 'not-met' as const, subject: 'kalmar.dk.', message: '1 name server (ns1.kalmar.dk.): at least two are required' },
    ];
    const entries = buildDpsReport(facts({ zones: [{ ...z, records }] }));
    expect(entry(entries, 'DK-18')).toMatchObject({
      status: 'not-met',
      evidence: [expect.stringMatching(/^delegated subdomains without a DS: skole\.kalmar\.dk\.: delegated without a DS$/), expect.anything()],
    });
    expect(entry(entries, 'DK-23')).toMatchObject({ status: 'not-met', evidence: ['kalmar.dk.: DMARC p=none at _dmarc.kalmar.dk., not reject'] });
    expect(entry(entries, 'DP-3.3a')).toMatchObject({ status: 'not-met', evidence: ['kalmar.dk.: 1 name server (ns1.kalmar.dk.): at least two are required'] });
    const unread = buildDpsReport(facts({ zones: [{ ...z, records: null, recordsFrom: '/z: cannot read the zone file (ENOENT)' }] }));
    expect(entry(unread, 'DK-23')).toMatchObject({
      status: 'manual',
      evidence: [expect.stringMatching(/^no zone could be read/), 'not read: kalmar.dk. (/z: cannot read the zone file (ENOENT))'],
    });
  });

  it('DP-3.2a internal addresses: loopback, RFC 1918, link-local, unique local', () => {
    expect(['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.1', '192.168.1.1', '169.254.1.1', '::1', 'fd12::1', 'fe80::1'].every(isInternalAddress)).toBe(
      true,
    );
    expect(['172.32.0.1', '192.0.2.1', '2001:db8::1', '8.8.8.8'].some(isInternalAddress)).toBe(false);
  });

  it('OPS-8 the Markdown has a summary row and a section per requirement', () => {
    const f = facts();
    const entries = buildDpsReport(f);
    const lines = formatDpsMarkdown(f, entries);
    expect(lines).toContain('| DP-4.1b | KSK RSA/SHA-256 of at least 2048 bits | met |');
    expect(lines).toContain('## DP-3.4 All clocks synchronised to trusted time sources: manual');
    expect(lines.filter((l) => l.startsWith('## ')).length).toBe(entries.length);
  });
});

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { highPort, namedAuthoritativeConf, namedResolverConf, startDaemon, type Daemon, NAMED_RUNNING } from './helpers/daemons.js';
import { HMS, requireTool, ROOT, run, runAsync, verifySignedZone } from './helpers/run.js';
import { loopbackServiceConfig } from './helpers/service.js';
import { throwawayToken } from './helpers/softhsm.js';

/**
 * `hms check compliance` (DK-17, DK-18, DK-19, DK-20, DK-23, DP-3.3) on zones signed by `hms
 * sign` with keys in a throwaway SoftHSM token, served by a BIND authoritative server on
 * loopback and asked through a BIND validating resolver on loopback that holds each zone's DS
 * as its trust anchor: one zone that meets every rule, and one zone per rule that breaks it.
 */

const TLSA_EE = '3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const DKIM_KEY =
  'MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB';

interface Variant {
  /** `MX` target (default `mail`, in the zone). */
  mx?: string;
  tlsa?: string;
  dmarc?: string;
  /** ns2 has an IPv6 address. */
  ns2v6?: boolean;
  /** The delegation `child` carries a DS. */
  childDs?: boolean;
}

/** A zone with two name servers (IPv6 both), a mail gateway with DANE, DMARC reject, SPF -all and DKIM, and a signed delegation; a variant breaks one part. */
function zoneText(v: Variant = {}): string {
  return `$TTL 3600
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
@ NS ns2
ns1 A 192.0.2.1
ns1 AAAA 2001:db8::1
ns2 A 192.0.2.2
${v.ns2v6 === false ? '' : 'ns2 AAAA 2001:db8::2\n'}@ MX 10 ${v.mx ?? 'mail'}
mail A 192.0.2.25
mail TXT "v=spf1 a -all"
_25._tcp.mail TLSA ${v.tlsa ?? TLSA_EE}
@ TXT "v=spf1 mx -all"
_dmarc TXT "${v.dmarc ?? 'v=DMARC1; p=reject; rua=mailto:dmarc@example.dk'}"
sel1._domainkey TXT "v=DKIM1; k=rsa; " "p=${DKIM_KEY}"
child NS ns.child
ns.child A 192.0.2.53
${v.childDs === false ? '' : 'child DS 12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n'}`;
}

/** Each zone, what breaks in it, and the requirements it must then fail (DANE needs DNSSEC: a gateway in an unsigned zone fails DK-20 too). */
const ZONES: { zone: string; variant: Variant; breaks: string[] }[] = [
  { zone: 'good.dk', variant: {}, breaks: [] },
  { zone: 'dk17.example', variant: {}, breaks: ['DK-17'] },
  { zone: 'dk18.dk', variant: { childDs: false }, breaks: ['DK-18'] },
  { zone: 'dk19.dk', variant: { mx: 'mx.plain.dk.' }, breaks: ['DK-19', 'DK-20'] },
  { zone: 'dk20.dk', variant: { tlsa: '1 0 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' }, breaks: ['DK-20'] },
  { zone: 'dk23.dk', variant: { dmarc: 'v=DMARC1; p=none' }, breaks: ['DK-23'] },
  { zone: 'dp33.dk', variant: { ns2v6: false }, breaks: ['DP-3.3b'] },
  // signed, then the gateway's address altered in the served file: its answer does not validate
  { zone: 'bogus.dk', variant: {}, breaks: ['DK-19'] },
];
/** An unsigned zone (no trust anchor reaches it) holding the mail gateway of dk19.dk. */
const PLAIN = `$TTL 3600
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
mx A 192.0.2.26
_25._tcp.mx TLSA ${TLSA_EE}
`;

interface Item {
  requirement: string;
  status: string;
  subject: string;
  message: string;
}
interface Run {
  lookup: string;
  status: string;
  zones: { zone: string; status: string; items: Item[] }[];
}

let tmp: string;
let token: ReturnType<typeof throwawayToken>;
const daemons: Daemon[] = [];
let resolverPort: number;
let authPort: number;

function hmsRun(args: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string; ms: number } {
  const started = Date.now();
  const r = run(process.execPath, [HMS, ...args], { cwd: tmp, timeoutMs });
  return { ...r, ms: Date.now() - started };
}

function config(resolver: string, timeoutMs = 2000): string {
  const file = join(tmp, `hms-${resolver.replace(/\W/g, '-')}.yaml`);
  writeFileSync(
    file,
    `state: state/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-compliance, pin-file: pin }
service:
  listen: ["127.0.0.1:${highPort()}"]
  data: state
compliance:
  resolver: "${resolver}"
  timeout-ms: ${timeoutMs}
zones:
${ZONES.map((z) => `  ${z.zone}: { input: zones/${z.zone}.zone, policy: dp }`).join('\n')}
`,
  );
  return file;
}

beforeAll(async () => {
  for (const tool of ['named', 'dnssec-verify', 'ldns-verify-zone', 'kzonecheck']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-compliance-'));
  token = throwawayToken('hms-compliance');
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  for (const dir of ['zones', 'state/signed', 'auth', 'resolver']) mkdirSync(join(tmp, dir), { recursive: true });
  const anchors: string[] = [];
  for (const { zone, variant } of ZONES) {
    const input = join(tmp, 'zones', `${zone}.zone`);
    const signed = join(tmp, 'state/signed', `${zone}.signed`);
    writeFileSync(input, zoneText(variant));
    const r = run(
      process.execPath,
      [HMS, 'sign', '--origin', zone, '--in', input, '--out', signed, '--token', 'hms-compliance', '--pin-file', join(tmp, 'pin'), '--json'],
      {
        cwd: tmp,
        timeoutMs: 120_000,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(verifySignedZone(zone, signed)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    anchors.push(...(JSON.parse(r.stdout) as { ds: string[] }).ds);
  }
  const bogus = join(tmp, 'state/signed/bogus.dk.signed');
  const text = readFileSync(bogus, 'latin1');
  expect(text).toMatch(/^mail\.bogus\.dk\.\t3600\tIN\tA\t192\.0\.2\.25$/m);
  writeFileSync(bogus, text.replace(/^(mail\.bogus\.dk\.\t3600\tIN\tA\t)192\.0\.2\.25$/m, '$1192.0.2.99'));
  writeFileSync(join(tmp, 'zones/plain.dk.zone'), PLAIN);

  authPort = highPort();
  resolverPort = highPort();
  const authConf = namedAuthoritativeConf(join(tmp, 'auth'), {
    port: authPort,
    zones: [
      ...ZONES.map((z) => ({ name: z.zone, file: join(tmp, 'state/signed', `${z.zone}.signed`) })),
      { name: 'plain.dk', file: join(tmp, 'zones/plain.dk.zone') },
    ],
  });
  const resolverConf = namedResolverConf(join(tmp, 'resolver'), { port: resolverPort, forwarder: { address: '127.0.0.1', port: authPort }, anchors });
  await Promise.all([
    startDaemon('named', ['-g', '-c', authConf], NAMED_RUNNING, { registry: daemons }),
    startDaemon('named', ['-g', '-c', resolverConf], NAMED_RUNNING, { registry: daemons }),
  ]);
}, 240_000);

afterAll(async () => {
  for (const d of daemons) await d.stop();
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

const failing = (z: { items: Item[] }): string[] => [...new Set(z.items.filter((i) => i.status !== 'met').map((i) => i.requirement))].sort();

describe('hms check compliance through a validating resolver (BIND on loopback)', () => {
  let all: Run;
  let exit: number | null;

  beforeAll(() => {
    const r = hmsRun(['check', 'compliance', '--config', config(`127.0.0.1:${resolverPort}`), '--json']);
    expect(r.stderr).toBe('');
    exit = r.status;
    all = JSON.parse(r.stdout) as Run;
  });

  it('DK-17 DK-18 DK-19 DK-20 DK-23 DP-3.3 a zone that meets every rule is OK (exit 0), each rule shown with its evidence', () => {
    const r = hmsRun(['check', 'compliance', 'good.dk', '--config', config(`127.0.0.1:${resolverPort}`)]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^COMPLIANCE OK: 1 zone\(s\), 0 CRITICAL, 0 UNKNOWN, 0 WARNING, \d+ OK$/m);
    expect(r.status).toBe(0);
    const good = all.zones.find((z) => z.zone === 'good.dk.')!;
    expect(good.status).toBe('met');
    expect([...new Set(good.items.map((i) => i.requirement))].sort()).toEqual(['DK-17', 'DK-18', 'DK-19', 'DK-20', 'DK-23', 'DP-3.3a', 'DP-3.3b']);
    const said = (req: string, subject: string): string =>
      good.items
        .filter((i) => i.requirement === req && i.subject === subject)
        .map((i) => i.message)
        .join(' | ');
    expect(said('DK-18', 'good.dk.')).toBe(`SOA validates through resolver 127.0.0.1:${resolverPort} (secure)`);
    expect(said('DK-18', 'child.good.dk.')).toBe('delegated with DS 12345');
    expect(said('DK-19', 'mail.good.dk.')).toBe(`secure: A 192.0.2.25 through resolver 127.0.0.1:${resolverPort}`);
    expect(said('DK-20', '_25._tcp.mail.good.dk.')).toMatch(/^secure through .*, 1 of 1 usable: 3 1 1 0123456789abcdef/i);
    expect(said('DK-23', 'good.dk.')).toContain('DMARC p=reject at _dmarc.good.dk.');
    expect(said('DK-23', 'good.dk.')).toContain('DKIM keys at sel1._domainkey.good.dk.');
    expect(said('DP-3.3b', 'good.dk.')).toBe('2 name servers with IPv6: ns1.good.dk., ns2.good.dk.');
  });

  for (const { zone, breaks } of ZONES.filter((z) => z.breaks.length > 0)) {
    it(`${breaks.join(' ')} ${zone} breaks ${breaks.join(' and ')} only, and says where`, () => {
      const z = all.zones.find((x) => x.zone === `${zone}.`)!;
      expect(z.status).toBe('not-met');
      expect(failing(z)).toEqual(breaks);
    });
  }

  it('DK-19 names the gateway in an unsigned zone and the one whose answer is bogus', () => {
    const items = all.zones.flatMap((z) => z.items).filter((i) => i.requirement === 'DK-19' && i.status === 'not-met');
    expect(items.map((i) => `${i.subject} ${i.message.split(' through ')[0]!}`).sort()).toEqual([
      "mail.bogus.dk. the mail gateway's address is bogus: A 192.0.2.99",
      "mx.plain.dk. the mail gateway's address is insecure: A 192.0.2.26",
    ]);
  });

  it('DK-18 DK-20 DK-23 DP-3.3b the findings name the record that breaks the rule', () => {
    const message = (zone: string, req: string): string[] =>
      all.zones
        .find((z) => z.zone === zone)!
        .items.filter((i) => i.requirement === req && i.status !== 'met')
        .map((i) => `${i.subject}: ${i.message}`);
    expect(message('dk18.dk.', 'DK-18')).toEqual(['child.dk18.dk.: delegated without a DS: the subdomain is not signed (or its DS is not published here)']);
    expect(message('dk20.dk.', 'DK-20')[0]).toMatch(
      /^_25\._tcp\.mail\.dk20\.dk\.: secure through .*, 0 of 1 usable: 1 0 1 .*usage 1 \(PKIX-EE\) is not used for SMTP/,
    );
    expect(message('dk23.dk.', 'DK-23')).toEqual(['dk23.dk.: DMARC p=none at _dmarc.dk23.dk., not reject']);
    expect(message('dp33.dk.', 'DP-3.3b')).toEqual(['dp33.dk.: 1 name server with IPv6 (ns1.dp33.dk.): at least two are required']);
  });

  it('every zone at once: CRITICAL, exit 2 (Nagios)', () => {
    expect(all.status).toBe('not-met');
    expect(exit).toBe(2);
    expect(all.zones.map((z) => z.zone)).toEqual(ZONES.map((z) => `${z.zone}.`));
  });

  it('DK-18 DK-19 DK-20 a resolver that does not answer is UNKNOWN (exit 3), bounded in time, naming it', () => {
    const silent = `127.0.0.1:${highPort()}`;
    const r = hmsRun(['check', 'compliance', 'good.dk', '--config', config(silent, 300), '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(3);
    const run = JSON.parse(r.stdout) as Run;
    const unknown = run.zones[0]!.items.filter((i) => i.status === 'unknown');
    expect(unknown.map((i) => i.requirement).sort()).toEqual(['DK-18', 'DK-19', 'DK-20']);
    expect(unknown[0]!.message).toContain(`resolver ${silent}`);
    expect(r.ms).toBeLessThan(15_000);
  });

  it('DK-18 DK-19 DK-20 a server that does not recurse, or answers garbage, is UNKNOWN naming it, never a crash', async () => {
    const lame = hmsRun(['check', 'compliance', 'good.dk', '--config', config(`127.0.0.1:${authPort}`, 500), '--json']);
    expect(lame.stderr).toBe('');
    expect(lame.status).toBe(3);
    const items = (JSON.parse(lame.stdout) as Run).zones[0]!.items.filter((i) => i.status === 'unknown');
    expect(items[0]!.message).toBe(
      `SOA through resolver 127.0.0.1:${authPort}: resolver 127.0.0.1:${authPort}: good.dk./SOA: not a recursive resolver (RA clear)`,
    );

    // a UDP server that answers every question with 7 octets of junk
    const junk = createSocket('udp4');
    await new Promise<void>((resolve) => junk.bind(0, '127.0.0.1', resolve));
    junk.on('message', (_msg, peer) => junk.send(Buffer.from('garbage'), peer.port, peer.address));
    try {
      const port = junk.address().port;
      const r = await runAsync(process.execPath, [HMS, 'check', 'compliance', 'good.dk', '--config', config(`127.0.0.1:${port}`, 500), '--json']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(3);
      const garbled = (JSON.parse(r.stdout) as Run).zones[0]!.items.filter((i) => i.status === 'unknown');
      expect(garbled.map((i) => i.requirement).sort()).toEqual(['DK-18', 'DK-19', 'DK-20']);
      expect(garbled[0]!.message).toContain(`resolver 127.0.0.1:${port}: good.dk./SOA: `);
    } finally {
      junk.close();
    }
  });

  it('refuses a resolver off this host unless the configuration trusts its AD bit', () => {
    const r = hmsRun(['check', 'compliance', '--config', config(`127.0.0.1:${resolverPort}`), '--resolver', '192.0.2.53']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/resolver 192\.0\.2\.53: its AD bit is trusted only on this host/);
  });
});

describe('hms report dps on a managed zone', () => {
  it('DP-5.1 DP-4.1b DP-3.5b DK-18 the keys made in the HSM and the TSIG key are the evidence; a DS not yet seen is not met (exit 4)', () => {
    const dir = join(tmp, 'dps');
    mkdirSync(join(dir, 'zones'), { recursive: true });
    copyFileSync(join(tmp, 'pin'), join(dir, 'pin'));
    writeFileSync(join(dir, 'xfr.secret'), 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==\n', { mode: 0o600 });
    copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(dir, 'zones/example.com.zone'));
    const cfg = join(dir, 'hms.yaml');
    writeFileSync(cfg, loopbackServiceConfig({ token: 'hms-compliance', listen: `127.0.0.1:${highPort()}` }));
    const add = run(process.execPath, [HMS, 'zone', 'add', 'example.com', '--input', 'zones/example.com.zone', '--policy', 'dp', '--config', cfg], {
      cwd: dir,
      timeoutMs: 120_000,
    });
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);

    const r = run(process.execPath, [HMS, 'report', 'dps', '--config', cfg, '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(4);
    const report = JSON.parse(r.stdout) as { summary: Record<string, number>; requirements: { id: string; status: string; evidence: string[] }[] };
    const entry = (id: string): { status: string; evidence: string[] } => report.requirements.find((e) => e.id === id)!;
    expect(report.requirements.length).toBeGreaterThan(60);
    expect(entry('DP-4.1b').status).toBe('met');
    expect(entry('DP-4.1b').evidence[1]).toMatch(/^keys in the state: example\.com\. KSK \d+ RSASHA256 2048 bits \((published|ready|active)\)/);
    expect(entry('DP-3.5b')).toEqual({ id: 'DP-3.5b', title: 'TSIG with an HMAC-SHA algorithm', status: 'met', evidence: ['TSIG keys: xfr-key. hmac-sha256'] });
    expect(entry('DK-18')).toMatchObject({
      status: 'not-met',
      evidence: ['no DS confirmed at the parent (hms ds seen): example.com.', 'delegated subdomains: skole.example.com.: delegated with DS 12345'],
    });
    expect(entry('DP-2.4b').evidence[0]).toMatch(/^every change is an audit record .*: [1-9]\d* records in /);

    const md = run(process.execPath, [HMS, 'report', 'dps', '--config', cfg], { cwd: dir });
    expect(md.status).toBe(4);
    expect(md.stdout).toContain('| DP-4.1b | KSK RSA/SHA-256 of at least 2048 bits | met |');
    expect(md.stdout).toMatch(/^## DK-18 DNSSEC on every domain, delegated subdomains included: NOT MET$/m);
  });
});

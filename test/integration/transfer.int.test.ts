import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { makeTsigKey } from '../../src/dns/tsig.js';
import { Algorithm } from '../../src/dnssec/algorithms.js';
import { signZone } from '../../src/dnssec/sign-zone.js';
import { verifyZone } from '../../src/dnssec/verify-zone.js';
import { loadZoneFile } from '../../src/service/load-zone.js';
import { startTransferServer, type TransferEvent, type TransferServer } from '../../src/transfer/server.js';
import type { Zone } from '../../src/zone/zone.js';
import { softwareKey } from '../helpers/software-signer.js';
import { highPort, knotSecondaryConf, namedSecondaryConf, startDaemon, type Daemon } from './helpers/daemons.js';
import { requireTool, ROOT, runAsync, verifySignedZone } from './helpers/run.js';

/**
 * The zone-output server against real clients: dig for the refusals, BIND and Knot as
 * secondaries. Loopback addresses and high ports only; every server is stopped in afterAll.
 */
const ORIGIN = Name.parse('example.com.');
const SECRET = 'aG1zLXRyYW5zZmVyLXRlc3Qtc2VjcmV0LTMyLW9jdGV0cw==';
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', SECRET);
const OTHER_SECRET = 'b3RoZXItc2VjcmV0LW9mLWFub3RoZXIta2V5LTMyLW9jdA==';

let tmp: string;
let signed: Zone;
let server: TransferServer;
let skewed: TransferServer;
let port: number;
let skewedPort: number;
const events: TransferEvent[] = [];
const daemons: Daemon[] = [];

beforeAll(async () => {
  for (const tool of ['dig', 'kdig', 'named', 'knotd']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-transfer-'));
  const unsigned = loadZoneFile(join(ROOT, 'examples/zones/example.com.zone'), ORIGIN);
  const now = Math.floor(Date.now() / 1000);
  signed = await signZone(unsigned, {
    keys: [softwareKey(Algorithm.RSASHA256, 'ksk'), softwareKey(Algorithm.RSASHA256, 'zsk')],
    denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
    inception: now - 3600,
    expiration: now + 32 * 86400,
    dnskeyTtl: 3600,
  });
  expect(verifyZone(signed, now)).toEqual([]);
  const common = {
    zones: (name: Name) => (name.equals(ORIGIN) ? signed : undefined),
    keys: [KEY, makeTsigKey('other-key', 'hmac-sha256', OTHER_SECRET)],
    acl: [
      { address: '127.0.0.1', key: 'xfr-key' },
      { address: '127.0.0.3', key: 'xfr-key' },
      { address: '127.0.0.4', key: 'xfr-key' },
    ],
  };
  server = await startTransferServer({ ...common, listen: [{ address: '127.0.0.1', port: 0 }], log: (e) => events.push(e) });
  port = server.addresses[0]!.port;
  skewed = await startTransferServer({ ...common, listen: [{ address: '127.0.0.1', port: 0 }], now: () => Math.floor(Date.now() / 1000) + 3600 });
  skewedPort = skewed.addresses[0]!.port;
});

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  await server?.close();
  await skewed?.close();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

async function dig(args: readonly string[], p = port): Promise<string> {
  const r = await runAsync('dig', [`@127.0.0.1`, '-p', String(p), '+tries=1', '+time=3', ...args], { timeoutMs: 20_000 });
  return r.stdout + r.stderr;
}

/** The records of dig's AXFR output, the closing SOA left out. */
function transferredRecords(out: string): string[] {
  const lines = out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';') && !/\sTSIG\s/.test(l));
  return lines.slice(0, -1);
}

describe('transfer server with dig', () => {
  it('DP-3.5a DP-3.5b an AXFR signed with hmac-sha256 succeeds, and the transferred zone passes the three validators', async () => {
    const out = await dig(['example.com', 'AXFR', '-y', `hmac-sha256:xfr-key:${SECRET}`]);
    expect(out).not.toMatch(/Transfer failed|Couldn't verify|tsig verify failure/i);
    const records = transferredRecords(out);
    expect(records.length).toBe(signed.recordCount);
    const file = join(tmp, 'axfr.zone');
    writeFileSync(file, records.join('\n') + '\n');
    expect(verifySignedZone('example.com', file).trim().split('\n')).toEqual(['PASS dnssec-verify', 'PASS ldns-verify-zone', 'PASS kzonecheck']);
  });

  it('answers a signed SOA query over UDP and TCP, with no recursion offered', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const out = await dig(['example.com', 'SOA', transport, '-y', `hmac-sha256:xfr-key:${SECRET}`]);
      expect(out).toMatch(/status: NOERROR/);
      expect(out).toMatch(/flags: qr aa[^;]*;/);
      expect(out).not.toMatch(/flags:[^;]* ra[ ;]/);
      expect(out).toMatch(/example\.com\.\s+\d+\s+IN\s+SOA/);
    }
  });

  it('DP-3.5a refuses an AXFR without TSIG', async () => {
    const out = await dig(['example.com', 'AXFR']);
    expect(out).toMatch(/Transfer failed/);
    expect(events.some((e) => e.reason === 'no TSIG' && e.msg === 'transfer, refused')).toBe(true);
    expect(out).not.toMatch(/\bRRSIG\b/);
  });

  // RFC 8945 section 5.2: NOTAUTH with the TSIG error in an unsigned TSIG record (MAC size 0)
  const TSIG_FAILURES: [string, string, string][] = [
    ['a wrong secret (BADSIG)', `xfr-key:${OTHER_SECRET}`, 'BADSIG'],
    ['an unknown key name (BADKEY)', `nobody-key:${SECRET}`, 'BADKEY'],
  ];
  for (const [what, key, error] of TSIG_FAILURES) {
    it(`DP-3.5a refuses an AXFR with ${what}`, async () => {
      const out = await dig(['example.com', 'AXFR', '-y', `hmac-sha256:${key}`]);
      expect(out).toMatch(new RegExp(`${key.split(':')[0]!}\\.\\s+0\\s+ANY\\s+TSIG\\s+hmac-sha256\\. \\d+ 300 0 \\d+ ${error} 0`));
      expect(out).toMatch(/Transfer failed/);
      expect(out).not.toMatch(/\bRRSIG\b/);
      expect(events.some((e) => e.reason === error)).toBe(true);
    });
  }

  it('DP-3.2b refuses an AXFR from an address not listed, even with the right key', async () => {
    const out = await dig(['-b', '127.0.0.2', 'example.com', 'AXFR', '-y', `hmac-sha256:xfr-key:${SECRET}`]);
    // unsigned: an unlisted address learns nothing, not even whether its key was good
    expect(out).toMatch(/expected a TSIG/);
    expect(out).toMatch(/Transfer failed/);
    expect(out).not.toMatch(/\bRRSIG\b/);
    expect(events.some((e) => e.reason === 'address not listed')).toBe(true);
  });

  it('DP-3.2b refuses a key that is known but not the one listed for the address', async () => {
    const out = await dig(['example.com', 'AXFR', '-y', `hmac-sha256:other-key:${OTHER_SECRET}`]);
    expect(out).toMatch(/Transfer failed/);
    expect(out).not.toMatch(/Couldn't verify/);
    expect(events.some((e) => e.reason === 'key not listed for this address')).toBe(true);
    expect(out).not.toMatch(/\bRRSIG\b/);
  });

  it('DP-3.5a refuses a request signed outside the fudge (BADTIME, the server clock an hour ahead)', async () => {
    const out = await dig(['example.com', 'AXFR', '-y', `hmac-sha256:xfr-key:${SECRET}`], skewedPort);
    // dig checked our signature on the answer, then saw the error: the clocks differ
    expect(out).toMatch(/clocks are unsynchronized/);
    expect(out).toMatch(/TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ BADTIME 6 /);
    expect(out).not.toMatch(/\bRRSIG\b/);
  });
});

describe('transfer server with real secondaries', () => {
  it('DP-3.5a a BIND 9 secondary transfers the zone with TSIG and serves it with its signatures', async () => {
    const p2 = highPort();
    const conf = namedSecondaryConf(join(tmp, 'named'), {
      zone: 'example.com',
      port: p2,
      source: '127.0.0.3',
      primary: { address: '127.0.0.1', port },
      secret: SECRET,
    });
    const log = (
      await startDaemon('named', ['-g', '-c', conf], /transfer of 'example\.com\/IN' from 127\.0\.0\.1#\d+: Transfer status: success/, { registry: daemons })
    ).output();
    expect(log).toMatch(/TSIG xfr-key/);
    // named listens only on addresses it finds on an interface: 127.0.0.1 here, its own port
    const answer = (
      await runAsync('dig', ['@127.0.0.1', '-p', String(p2), '+tries=2', '+time=3', '+dnssec', '+norec', 'example.com', 'SOA'], { timeoutMs: 20_000 })
    ).stdout;
    expect(answer).toMatch(/status: NOERROR/);
    expect(answer).toMatch(/IN\s+RRSIG\s+SOA 8 2 /);
  });

  it('DP-3.5a a Knot DNS secondary transfers the zone with TSIG and serves it with its signatures', async () => {
    const p3 = highPort();
    const conf = knotSecondaryConf(join(tmp, 'knot'), {
      zone: 'example.com',
      address: '127.0.0.4',
      port: p3,
      primary: { address: '127.0.0.1', port },
      secret: SECRET,
    });
    await startDaemon('knotd', ['-c', conf], /AXFR, incoming, remote 127\.0\.0\.1@\d+.*finished/, { registry: daemons });
    const answer = (
      await runAsync('kdig', ['@127.0.0.4', '-p', String(p3), '+retry=2', '+time=3', '+dnssec', '+norec', 'example.com', 'SOA'], { timeoutMs: 20_000 })
    ).stdout;
    expect(answer).toMatch(/status: NOERROR/);
    expect(answer).toMatch(/IN\s+RRSIG\s+SOA 8 2 /);
  });
});

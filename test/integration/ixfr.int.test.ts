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
import { Journal } from '../../src/transfer/journal.js';
import { notifySecondaries, type NotifyEvent } from '../../src/transfer/notify.js';
import { startTransferServer, type TransferEvent, type TransferServer } from '../../src/transfer/server.js';
import { soaRecord } from '../../src/zone/diff.js';
import { ZoneBuilder, type Zone } from '../../src/zone/zone.js';
import { softwareKey } from '../helpers/software-signer.js';
import { highPort, knotSecondaryConf, namedSecondaryConf, startDaemon, type Daemon } from './helpers/daemons.js';
import { requireTool, ROOT, runAsync, verifySignedZone } from './helpers/run.js';

/**
 * IXFR out (RFC 1995) and NOTIFY (RFC 1996) against real secondaries: our server with a
 * journal serves a signed zone to BIND 9 and Knot DNS (TSIG hmac-sha256); a new signed version
 * reaches both by NOTIFY and IXFR. Loopback addresses and high ports; everything is stopped in
 * afterAll.
 */
const ORIGIN = Name.parse('example.com.');
const SECRET = 'aG1zLWl4ZnItdGVzdC1zZWNyZXQtb2YtMzItb2N0ZXRzIQ==';
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', SECRET);
const DIG_KEY = `hmac-sha256:xfr-key:${SECRET}`;

let tmp: string;
let server: TransferServer;
let port: number;
let journal: Journal;
let current: Zone;
const versions: Zone[] = [];
const events: TransferEvent[] = [];
const daemons: Daemon[] = [];
let named: Daemon;
let knot: Daemon;
let namedPort: number;
let knotPort: number;

const keys = [softwareKey(Algorithm.RSASHA256, 'ksk'), softwareKey(Algorithm.RSASHA256, 'zsk')];
const now = Math.floor(Date.now() / 1000);
const FIRST_SERIAL = 2026112201;

/** The example zone with `extra` records added, signed at `serial` (real clock, same keys and dates each time). */
async function signedVersion(serial: number, extra: readonly { owner: string; type: number; rdata: Uint8Array }[]): Promise<Zone> {
  const input = loadZoneFile(join(ROOT, 'examples/zones/example.com.zone'), ORIGIN);
  const b = new ZoneBuilder(ORIGIN);
  for (const set of input.rrsets())
    for (const r of set.records) b.add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata, file: r.file, line: r.line });
  extra.forEach((r, i) => b.add({ owner: Name.parse(r.owner), type: r.type, ttl: 300, rdata: r.rdata, file: 'test', line: i + 1 }));
  const signed = await signZone(b.freeze(), {
    keys,
    denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
    inception: now - 3600,
    expiration: now + 32 * 86400,
    dnskeyTtl: 3600,
    serial,
  });
  expect(verifyZone(signed, now)).toEqual([]);
  return signed;
}

const A = 1;
const address = (last: number): Uint8Array => Uint8Array.of(192, 0, 2, last);

/** Publishes the next version: the journal records the step, then the server serves it. */
async function publish(next: Zone): Promise<void> {
  await journal.addVersion(current, next);
  current = next;
  versions.push(next);
}

beforeAll(async () => {
  for (const tool of ['dig', 'kdig', 'named', 'knotd']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-ixfr-'));
  journal = Journal.open({ file: join(tmp, 'example.com.journal'), origin: ORIGIN, maxVersions: 2 });
  current = await signedVersion(FIRST_SERIAL, []);
  versions.push(current);
  server = await startTransferServer({
    listen: [{ address: '127.0.0.1', port: 0 }],
    zones: (name) => (name.equals(ORIGIN) ? current : undefined),
    journal: (name) => (name.equals(ORIGIN) ? journal : undefined),
    keys: [KEY],
    acl: [
      { address: '127.0.0.1', key: 'xfr-key' },
      { address: '127.0.0.3', key: 'xfr-key' },
      { address: '127.0.0.4', key: 'xfr-key' },
    ],
    log: (e) => events.push(e),
  });
  port = server.addresses[0]!.port;
  namedPort = highPort();
  knotPort = highPort();
  const primary = { address: '127.0.0.1', port };
  const namedConf = namedSecondaryConf(join(tmp, 'named'), { zone: 'example.com', port: namedPort, source: '127.0.0.3', primary, secret: SECRET });
  const knotConf = knotSecondaryConf(join(tmp, 'knot'), { zone: 'example.com', address: '127.0.0.4', port: knotPort, primary, secret: SECRET });
  // named's debug level 3 logs which kind of transfer it asks for and gets
  [named, knot] = await Promise.all([
    startDaemon('named', ['-g', '-d', '3', '-c', namedConf], /transfer of 'example\.com\/IN' from 127\.0\.0\.1#\d+: Transfer status: success/, {
      registry: daemons,
    }),
    startDaemon('knotd', ['-c', knotConf], /AXFR, incoming, remote 127\.0\.0\.1@\d+.*finished/, { registry: daemons }),
  ]);
});

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  await server?.close();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

async function dig(args: readonly string[], at = port, host = '127.0.0.1'): Promise<string> {
  const r = await runAsync('dig', [`@${host}`, '-p', String(at), '+tries=1', '+time=5', ...args], { timeoutMs: 30_000 });
  return r.stdout + r.stderr;
}

/** The records of dig's transfer output (no comments, no TSIG). */
function records(out: string): string[] {
  return out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';') && !/\sTSIG\s/.test(l));
}

/** A secondary's copy by AXFR, checked by the three validators. */
async function verifyCopy(name: string, host: string, at: number): Promise<void> {
  const out = await dig(['example.com', 'AXFR'], at, host);
  expect(out, name).not.toMatch(/Transfer failed|Couldn't verify/);
  const file = join(tmp, `${name}.zone`);
  writeFileSync(file, records(out).slice(0, -1).join('\n') + '\n');
  expect(records(out).length, name).toBe(current.recordCount + 1);
  expect(verifySignedZone('example.com', file).trim().split('\n'), name).toEqual(['PASS dnssec-verify', 'PASS ldns-verify-zone', 'PASS kzonecheck']);
}

describe('IXFR and NOTIFY with real secondaries', () => {
  it('issue 5 items 3 and 4: a new signed version reaches BIND and Knot by NOTIFY and IXFR, and the serial check confirms it', async () => {
    await publish(await signedVersion(FIRST_SERIAL + 1, [{ owner: 'new.example.com.', type: A, rdata: address(99) }]));
    const notes: NotifyEvent[] = [];
    const reports = await notifySecondaries(
      ORIGIN,
      soaRecord(current),
      [
        { address: '127.0.0.1', port: namedPort, key: KEY },
        { address: '127.0.0.4', port: knotPort, key: KEY },
      ],
      { timeoutMs: 2000, checkDeadlineMs: 20_000, checkIntervalMs: 200, log: (e) => notes.push(e) },
    );
    for (const r of reports) {
      expect(r, r.secondary).toMatchObject({ isAcknowledged: true, notifyTries: 1, isCurrent: true, serial: FIRST_SERIAL + 1 });
      expect(r.lagMs).toBeLessThan(20_000);
    }
    expect(notes.filter((e) => e.msg === 'notify, secondary current')).toHaveLength(2);
    // the secondaries' own logs say the transfer was incremental
    await named.waitFor(new RegExp(`requesting IXFR for serial ${FIRST_SERIAL}[\\s\\S]*got incremental response`));
    expect(named.output()).toMatch(new RegExp(`Transfer completed: .*\\(serial ${FIRST_SERIAL + 1}\\)`));
    await knot.waitFor(/IXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
    expect(knot.output()).not.toMatch(/fallback to AXFR/);
    const sent = events.filter((e) => e.msg === 'transfer, IXFR sent');
    expect(sent.map((e) => e.peer).sort()).toEqual(['127.0.0.3', '127.0.0.4']);
    expect(sent.every((e) => e.fromSerial === FIRST_SERIAL && e.serial === FIRST_SERIAL + 1)).toBe(true);
    await verifyCopy('named', '127.0.0.1', namedPort);
    await verifyCopy('knot', '127.0.0.4', knotPort);
  });

  it('RFC 1995: dig IXFR=serial with TSIG gets only the diff, opened and closed by the new SOA', async () => {
    const out = await dig(['example.com', `IXFR=${FIRST_SERIAL}`, '-y', DIG_KEY]);
    expect(out).not.toMatch(/Transfer failed|Couldn't verify/);
    const got = records(out);
    const serials = got.filter((l) => /\sIN\s+SOA\s/.test(l)).map((l) => Number(l.split(/\s+/)[6]));
    expect(serials).toEqual([FIRST_SERIAL + 1, FIRST_SERIAL, FIRST_SERIAL + 1, FIRST_SERIAL + 1]);
    expect(got.some((l) => /^new\.example\.com\.\s+300\s+IN\s+A\s+192\.0\.2\.99$/.test(l))).toBe(true);
    expect(got.length).toBeLessThan(current.recordCount / 2);
  });

  it('RFC 1995 section 4: an IXFR from a serial older than the journal gets the whole zone', async () => {
    await publish(await signedVersion(FIRST_SERIAL + 2, [{ owner: 'new.example.com.', type: A, rdata: address(100) }]));
    await publish(await signedVersion(FIRST_SERIAL + 3, [{ owner: 'new.example.com.', type: A, rdata: address(101) }]));
    expect(journal.serials).toEqual({ oldest: FIRST_SERIAL + 1, newest: FIRST_SERIAL + 3 });
    const out = await dig(['example.com', `IXFR=${FIRST_SERIAL}`, '-y', DIG_KEY]);
    expect(out).not.toMatch(/Transfer failed|Couldn't verify/);
    expect(records(out)).toHaveLength(current.recordCount + 1);
    expect(events.at(-1)).toMatchObject({ msg: 'transfer, IXFR answered with the whole zone', fromSerial: FIRST_SERIAL, serial: FIRST_SERIAL + 3 });
    // while from a serial the journal reaches, the two diffs come
    const diff = records(await dig(['example.com', `IXFR=${FIRST_SERIAL + 1}`, '-y', DIG_KEY]));
    expect(diff.filter((l) => /\sIN\s+SOA\s/.test(l))).toHaveLength(6);
  });

  it('RFC 1995 section 2: over UDP, an IXFR that does not fit gets the SOA alone', async () => {
    const out = await dig(['example.com', `IXFR=${FIRST_SERIAL + 1}`, '+notcp', '-y', DIG_KEY]);
    expect(
      records(out)
        .filter((l) => /\sIN\s+SOA\s/.test(l))
        .map((l) => Number(l.split(/\s+/)[6])),
    ).toEqual([FIRST_SERIAL + 3]);
  });
});

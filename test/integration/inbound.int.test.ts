import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { makeTsigKey } from '../../src/dns/tsig.js';
import { loadZoneFile } from '../../src/service/load-zone.js';
import { fetchZone, type FetchEvent } from '../../src/transfer/fetch-zone.js';
import { printZone } from '../../src/zone/print.js';
import type { Zone } from '../../src/zone/zone.js';
import { highPort, namedPrimaryConf, startDaemon, type Daemon, NAMED_RUNNING } from './helpers/daemons.js';
import { requireTool, ROOT, runAsync } from './helpers/run.js';

/**
 * The inbound side (issue 5 item 2) against a real upstream primary: BIND 9 `named` on
 * loopback serving the unsigned example zone with TSIG hmac-sha256, changed by a dynamic
 * update (nsupdate) so that it has a journal to answer IXFR from.
 */
const ORIGIN = Name.parse('example.com.');
const SECRET = 'aG1zLWluYm91bmQtdGVzdC1zZWNyZXQtMzItb2N0ZXRzIQ==';
const KEY = makeTsigKey('up-key', 'hmac-sha256', SECRET);
const WRONG = makeTsigKey('up-key', 'hmac-sha256', 'b3RoZXItc2VjcmV0LW9mLWFub3RoZXIta2V5LTMyLW9jdA==');
const INPUT = join(ROOT, 'examples/zones/example.com.zone');
const SERIAL = 2026112201;

let tmp: string;
let named: Daemon;
let primary: { address: string; port: number };
let first: Zone;

beforeAll(async () => {
  for (const tool of ['named', 'nsupdate']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-inbound-'));
  primary = { address: '127.0.0.1', port: highPort() };
  const conf = namedPrimaryConf(join(tmp, 'named'), { zone: 'example.com', port: primary.port, zoneFile: INPUT, secret: SECRET });
  named = await startDaemon('named', ['-g', '-c', conf], NAMED_RUNNING);
  expect(named.output()).toMatch(/zone example\.com\/IN: loaded serial 2026112201/);
});

afterAll(async () => {
  await named?.stop('SIGKILL');
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

const text = (z: Zone): string[] => [...printZone(z)];

describe('fetchZone from a BIND 9 primary with TSIG', () => {
  it('issue 5 item 2: takes the zone by AXFR, every message TSIG-checked, the same records as the file', async () => {
    const events: FetchEvent[] = [];
    const got = await fetchZone(primary, ORIGIN, { tsig: KEY, timeoutMs: 10_000, log: (e) => events.push(e) });
    expect(got).toMatchObject({ status: 'transferred', method: 'AXFR', serial: SERIAL });
    if (got.status !== 'transferred') return;
    first = got.zone;
    expect(text(got.zone)).toEqual(text(loadZoneFile(INPUT, ORIGIN)));
    expect(events.at(-1)).toMatchObject({ msg: 'inbound, AXFR finished', primary: `127.0.0.1#${primary.port}`, serial: SERIAL });
  });

  it('says unchanged when the primary has no newer serial', async () => {
    await expect(fetchZone(primary, ORIGIN, { tsig: KEY, current: first })).resolves.toEqual({ status: 'unchanged', serial: SERIAL });
  });

  it('applies an IXFR after a change on the primary (RFC 1995)', async () => {
    const update = join(tmp, 'update.txt');
    writeFileSync(
      update,
      [
        `server 127.0.0.1 ${primary.port}`,
        'zone example.com',
        'update add new.example.com. 300 IN A 192.0.2.77',
        'update delete www.example.com. AAAA',
        'send',
        '',
      ].join('\n'),
    );
    // the key goes in a file, not on the command line (DP-3.1b: no secrets in argv)
    const keyFile = join(tmp, 'up-key.conf');
    writeFileSync(keyFile, `key "up-key" { algorithm hmac-sha256; secret "${SECRET}"; };\n`, { mode: 0o600 });
    const r = await runAsync('nsupdate', ['-k', keyFile, update], { timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    const got = await fetchZone(primary, ORIGIN, { tsig: KEY, current: first, timeoutMs: 10_000 });
    expect(got).toMatchObject({ status: 'transferred', method: 'IXFR', serial: SERIAL + 1 });
    if (got.status !== 'transferred') return;
    const lines = text(got.zone);
    expect(lines.some((l) => /^new\.example\.com\.\s+300\s+IN\s+A\s+192\.0\.2\.77$/.test(l))).toBe(true);
    expect(lines.some((l) => /^www\.example\.com\.\s+\d+\s+IN\s+AAAA/.test(l))).toBe(false);
    expect(lines.length).toBe(text(first).length);
    // the same zone as a fresh AXFR gives
    const whole = await fetchZone(primary, ORIGIN, { tsig: KEY, timeoutMs: 10_000 });
    expect(whole.status === 'transferred' && text(whole.zone)).toEqual(lines);
  });

  it('DP-3.5a fails with the primary and the reason when the key is wrong, and gives no zone', async () => {
    await expect(fetchZone(primary, ORIGIN, { tsig: WRONG, timeoutMs: 5000 })).rejects.toThrow(
      /127\.0\.0\.1:\d+: the server refused our TSIG with BADSIG \(16\): our MAC does not check there/,
    );
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hmsConfig } from '../../scripts/lab/configs.js';
import { Name } from '../../src/dns/name.js';
import { loadZoneFile } from '../../src/service/load-zone.js';
import { ServedFile, fileStamp } from '../../src/storage/served-file.js';
import { printZone } from '../../src/zone/print.js';
import { afterServiceTests, highPort, startHmsRun, type Daemon } from './helpers/daemons.js';
import { HMS, requireTool, runAsync, verifySignedZone } from './helpers/run.js';
import { serviceFolder } from './helpers/service.js';

/**
 * Issue 20 item 2b: `hms run` keeps each served version compactly, in a file beside the signed
 * text file (state/signed/ZONE.signed.wire), and serves SOA, AXFR and IXFR from it. An AXFR
 * is record for record what the signed text file holds and passes the three validators; a
 * compact file damaged while hms was stopped is never served: the start logs it, naming the
 * file, serves the text file's version and writes the compact file again. Loopback, a high
 * port; the service is stopped after the tests (afterServiceTests also validates every signed
 * file it left).
 */
const SECRET = 'c2VydmVkLXRlc3Qtc2VjcmV0LW9mLTMyLW9jdGV0cyE=';
const DIG_KEY = `hmac-sha256:xfr-key:${SECRET}`;
const ORIGIN = Name.parse('example.com.');
let tmp: string;
let token: { dispose(): void } | undefined;
let config: string;
let port: number;
let service: Daemon;
const daemons: Daemon[] = [];

const signedText = (): string => join(tmp, 'state/signed/example.com.signed');
const compact = (): string => `${signedText()}.wire`;
const start = (ready: RegExp): Promise<Daemon> => startHmsRun(config, ready, { registry: daemons, timeoutMs: 120_000 });

async function dig(args: readonly string[]): Promise<string> {
  const r = await runAsync('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=10', '-y', DIG_KEY, ...args], { timeoutMs: 60_000 });
  return r.stdout + r.stderr;
}

/** An AXFR of the zone from hms, written as a zone file (the closing SOA and the TSIG records left out): its path. */
async function axfrToFile(name: string): Promise<string> {
  const out = (await dig(['example.com', 'AXFR', '+nocomments', '+nostats', '+nocmd']))
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(';') && l.split(/\s+/)[3] !== 'TSIG');
  expect(out.length).toBeGreaterThan(10);
  expect(out[0]).toMatch(/^example\.com\.\s+\d+\s+IN\s+SOA\s/);
  expect(out.at(-1)).toBe(out[0]);
  const file = join(tmp, name);
  writeFileSync(file, `${out.slice(0, -1).join('\n')}\n`);
  return file;
}

/** The AXFR served is, record for record, the signed text file, and passes the three validators. */
async function expectAxfrIsSignedFile(name: string): Promise<void> {
  const file = await axfrToFile(name);
  expect([...printZone(loadZoneFile(file, ORIGIN))]).toEqual([...printZone(loadZoneFile(signedText(), ORIGIN))]);
  expect(verifySignedZone('example.com', file).trim().split('\n')).toEqual(['PASS dnssec-verify', 'PASS ldns-verify-zone', 'PASS kzonecheck']);
}

beforeAll(async () => {
  requireTool('dig');
  ({ tmp, token } = serviceFolder('hms-served-', 'hms-served'));
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  port = highPort();
  config = join(tmp, 'hms.yaml');
  writeFileSync(config, hmsConfig({ token: 'hms-served', listen: `127.0.0.1:${port}` }));
  service = await start(/zone signed and published/);
}, 180_000);

afterServiceTests(daemons, () => ({ tmp, token }));

describe('served versions kept compactly in hms run (issue 20 item 2b)', () => {
  it('issue 20 item 2b DP-3.5a an AXFR of the served version is what the signed file holds, before and after a re-sign, and passes dnssec-verify, ldns-verify-zone and kzonecheck', async () => {
    expect(readFileSync(compact()).subarray(0, 8).toString('latin1')).toBe('HMSSRV01');
    await expectAxfrIsSignedFile('axfr-1.zone');
    const before = readFileSync(signedText(), 'utf8');
    const r = await runAsync('node', [HMS, 'zone', 'resign', 'example.com', '--config', config], { timeoutMs: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(signedText(), 'utf8')).not.toBe(before);
    await expectAxfrIsSignedFile('axfr-2.zone');
    // the compact file mirrors the text file now on disk
    const v = ServedFile.open(compact(), ORIGIN, fileStamp(signedText()));
    v.check();
    v.release();
  }, 240_000);

  it('issue 20 item 2b a compact file damaged while hms was stopped is never served: the start logs it naming the file, serves the signed text file, and writes the compact file again', async () => {
    expect(await service.stop()).toBe(0);
    const bytes = readFileSync(compact());
    const at = Math.floor(bytes.length / 3);
    bytes[at] = bytes[at]! ^ 0x55;
    writeFileSync(compact(), bytes);
    service = await start(/zone resumed: the signed version on disk is current/);
    const warning = service
      .output()
      .split('\n')
      .find((l) => l.includes('the compact served version cannot be used'));
    expect(warning).toBeDefined();
    const logged = JSON.parse(warning!) as { file: string; reason: string };
    expect(logged.file).toBe(compact());
    expect(logged.reason).toMatch(new RegExp(`^${compact().replace(/\./g, '\\.')}: block \\d+ \\(offset \\d+\\) does not match its checksum`));
    await expectAxfrIsSignedFile('axfr-3.zone');
    const v = ServedFile.open(compact(), ORIGIN, fileStamp(signedText()));
    v.check();
    v.release();
    // started again, the compact file written at the last start is used as it is
    expect(await service.stop()).toBe(0);
    service = await start(/zone resumed: the signed version on disk is current/);
    expect(service.output()).not.toMatch(/the compact served version cannot be used/);
    await expectAxfrIsSignedFile('axfr-4.zone');
  }, 300_000);
});

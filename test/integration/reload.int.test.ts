import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterServiceTests, highPort, type Daemon, startHmsRun } from './helpers/daemons.js';
import { loopbackServiceConfig } from './helpers/service.js';
import { throwawayToken } from './helpers/softhsm.js';
import { HMS, requireTool, ROOT, runAsync } from './helpers/run.js';

/**
 * Issue 17 item 1: a reload (`hms reload` or SIGHUP) whose listen address cannot be bound, a
 * port in use or an address this host does not carry, is refused as a whole: the running
 * transfer server keeps answering on its old address, the old configuration stays, and the
 * refusal names the address and the reason. A reload to a free address moves the service
 * there. `hms run` on 127.0.0.1, a high port, dig as the secondary; every server is stopped.
 */
const SECRET = 'cmVsb2FkLXRlc3Qtc2VjcmV0LWZvci10c2lnLTMyLW9j';
const KEY = `hmac-sha256:xfr-key:${SECRET}`;
let tmp: string | undefined;
let token: ReturnType<typeof throwawayToken> | undefined;
let config: string;
let service: Daemon;
let blocker: Server | undefined;
const daemons: Daemon[] = [];
let oldPort: number;

/** A documentation address (RFC 5737) that no interface of this host carries. */
function foreignAddress(): string {
  const own = new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)));
  const address = ['192.0.2.1', '198.51.100.1', '203.0.113.1'].find((a) => !own.has(a));
  if (address === undefined) throw new Error('every RFC 5737 test address is on this host: none to test an unbindable address with');
  return address;
}

function writeConfig(listen: string, { orgSecondaries = ['test-client'], withOrg = false } = {}): void {
  const org = withOrg ? `  example.org: { input: zones/example.org.zone, policy: dp, secondaries: [${orgSecondaries.join(', ')}] }\n` : '';
  writeFileSync(config, loopbackServiceConfig({ token: 'hms-reload', listen, zones: org }));
}

const hms = (args: readonly string[]) => runAsync('node', [HMS, ...args, '--config', config], { timeoutMs: 30_000 });

/** dig against hms on `port` from 127.0.0.1, TSIG-signed; bounded to a few seconds. */
async function dig(port: number, args: readonly string[]): Promise<string> {
  const r = await runAsync('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', '-y', KEY, ...args], { timeoutMs: 15_000 });
  return r.stdout + r.stderr;
}

/** The SOA serial served on `port` over UDP (NaN when nothing answers). */
async function soaSerial(port: number, zone = 'example.com'): Promise<number> {
  const out = await dig(port, ['+short', zone, 'SOA']);
  return Number(out.trim().split('\n')[0]!.split(/\s+/)[2]);
}

/** The records of an AXFR over TCP on `port` (without the TSIG records). */
async function axfr(port: number, zone = 'example.com'): Promise<string[]> {
  const out = await dig(port, [zone, 'AXFR']);
  return out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';') && !/\sTSIG\s/.test(l));
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A line of the service's log that holds every one of `parts` (regular expressions), in any order. */
const logLine = (...parts: string[]): RegExp => new RegExp(`^${parts.map((p) => `(?=.*${p})`).join('')}`, 'm');

/** Both checks on the address the service must still answer on. */
async function expectServed(port: number): Promise<void> {
  expect(await soaSerial(port)).toBeGreaterThan(2026112200);
  expect((await axfr(port)).length).toBeGreaterThan(40);
}

beforeAll(async () => {
  requireTool('dig');
  tmp = mkdtempSync(join(tmpdir(), 'hms-reload-'));
  token = throwawayToken('hms-reload');
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  mkdirSync(join(tmp, 'zones'));
  copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(tmp, 'zones/example.com.zone'));
  writeFileSync(
    join(tmp, 'zones/example.org.zone'),
    readFileSync(join(ROOT, 'examples/zones/example.com.zone'), 'utf8').replaceAll('example.com', 'example.org'),
  );
  config = join(tmp, 'hms.yaml');
  oldPort = highPort();
  writeConfig(`127.0.0.1:${oldPort}`);
  service = await startHmsRun(config, /zone signed and published/, {
    env: process.env,
    registry: daemons,
    timeoutMs: 60_000,
  });
}, 120_000);

afterServiceTests(daemons, () => ({ tmp, token }));

afterAll(async () => {
  if (blocker !== undefined) await new Promise<void>((resolve) => blocker!.close(() => resolve()));
});

/** A TCP listener of the test's own on 127.0.0.1: the port hms is then asked to move to is in use. */
async function occupiedPort(): Promise<number> {
  blocker = createServer();
  await new Promise<void>((resolve, reject) => {
    blocker!.once('error', reject);
    blocker!.listen(0, '127.0.0.1', resolve);
  });
  return (blocker.address() as { port: number }).port;
}

describe('issue 17 item 1 a reload binds the new listen addresses before it lets the old go', () => {
  it('OPS-7 a reload to a port in use or to an address not on this host is refused naming the address; the old address still answers SOA and AXFR with TSIG; the old configuration stays whole', async () => {
    await expectServed(oldPort);
    const busy = await occupiedPort();
    const foreign = foreignAddress();
    for (const [listen, reason] of [
      [`127.0.0.1:${busy}`, 'EADDRINUSE'],
      [`${foreign}:${highPort()}`, 'EADDRNOTAVAIL'],
    ] as const) {
      // a zone added in the same change: the refusal keeps the old configuration whole
      writeConfig(listen, { withOrg: true });
      const from = service.output().length;
      const r = await hms(['reload']);
      expect(r.status, r.stdout).toBe(6);
      await expectServed(oldPort);
      expect(r.stderr).toContain(listen);
      expect(r.stderr).toContain(reason);
      expect(r.stderr).toMatch(/reload refused/);
      await service.waitFor(logLine('reload refused', escape(listen), reason), 10_000, from);
      expect(service.output().slice(from)).not.toMatch(/configuration reloaded/);
      // SIGHUP: the same refusal, in the log only
      const hup = service.output().length;
      service.child.kill('SIGHUP');
      await service.waitFor(logLine('reload refused', escape(listen), reason), 10_000, hup);
      expect(service.output().slice(hup)).not.toMatch(/configuration reloaded/);
      await expectServed(oldPort);
      const status = await hms(['zone', 'status', '--json']);
      expect((JSON.parse(status.stdout) as { zone: string }[]).map((z) => z.zone)).toEqual(['example.com.']);
      expect(Number.isNaN(await soaSerial(oldPort, 'example.org'))).toBe(true);
    }
    // the configuration as it was: a reload finds nothing to change
    writeConfig(`127.0.0.1:${oldPort}`);
    const same = await hms(['reload']);
    expect(same.status, same.stderr).toBe(0);
    expect(same.stdout.trim()).toBe('reloaded: nothing changed');
    await expectServed(oldPort);
  });

  it('OPS-7 a reload to a free port serves there and no longer on the old one; a reload that keeps the address and changes the ACL applies it', async () => {
    const newPort = highPort();
    writeConfig(`127.0.0.1:${newPort}`, { withOrg: true });
    const from = service.output().length;
    const r = await hms(['reload']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/example\.org\.: added/);
    await service.waitFor(/"zone":"example\.org\.".*zone signed and published/, 60_000, from);
    await expectServed(newPort);
    expect(await soaSerial(newPort, 'example.org')).toBeGreaterThan(2026112200);
    // nothing listens on the old port any more: UDP and TCP are refused
    expect(await dig(oldPort, ['+short', 'example.com', 'SOA'])).toMatch(/connection refused|timed out|no servers could be reached/);
    expect(await dig(oldPort, ['example.com', 'AXFR'])).toMatch(/connection refused|timed out|no servers could be reached/);
    // the same address, a narrower ACL: example.org is no longer for 127.0.0.1, example.com still is
    writeConfig(`127.0.0.1:${newPort}`, { withOrg: true, orgSecondaries: [] });
    const again = await hms(['reload']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/transfer server/);
    await expectServed(newPort);
    expect(await dig(newPort, ['example.org', 'AXFR'])).toMatch(/Transfer failed|REFUSED|NOTAUTH/);
  });
});

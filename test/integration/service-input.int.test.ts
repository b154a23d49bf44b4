import { closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterServiceTests, highPort, type Daemon, startHmsRun } from './helpers/daemons.js';
import { loopbackServiceConfig } from './helpers/service.js';
import { throwawayToken } from './helpers/softhsm.js';
import { HMS, requireTool, ROOT, run, runAsync } from './helpers/run.js';

/**
 * Issue 17 item 2: a zone whose input `$INCLUDE`s /dev/zero or a FIFO that nobody writes to
 * froze the whole service (read for ever, or blocked in open()), and `hms zone check` of it ran
 * for minutes. Now such input is refused at once naming the file and line of the `$INCLUDE`,
 * while the service's other zone keeps answering; SIGTERM stops it in bounded time. `hms run`
 * on 127.0.0.1, a high port, dig as the secondary; every server is stopped.
 */
const SECRET = 'aW5wdXQtdGVzdC1zZWNyZXQtZm9yLXRzaWctMzItb2N0';
let tmp: string | undefined;
let token: ReturnType<typeof throwawayToken> | undefined;
let config: string;
let port: number;
let service: Daemon;
const daemons: Daemon[] = [];

/** The zone file of `zone`: an apex, then at line 5 an `$INCLUDE` of `include`. */
function badZone(zone: string, include: string): string {
  const file = join(tmp!, `zones/${zone}.zone`);
  writeFileSync(file, `$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 2592000 300\n@ NS ns1\nns1 A 192.0.2.1\n$INCLUDE ${include}\nwww A 192.0.2.2\n`);
  return file;
}

function writeConfig(zones: readonly string[] = []): void {
  writeFileSync(
    config,
    loopbackServiceConfig({
      token: 'hms-input',
      listen: `127.0.0.1:${port}`,
      zones: zones.map((z) => `  ${z}: { input: zones/${z}.zone, policy: dp }\n`).join(''),
    }),
  );
}

/** The SOA serial of example.com over UDP, and how long the answer took (NaN: none within 2 s). */
async function soa(): Promise<{ serial: number; ms: number }> {
  const start = Date.now();
  const r = await runAsync(
    'dig',
    ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', '-y', `hmac-sha256:xfr-key:${SECRET}`, '+short', 'example.com', 'SOA'],
    { timeoutMs: 10_000 },
  );
  return { serial: Number(r.stdout.trim().split('\n')[0]!.split(/\s+/)[2]), ms: Date.now() - start };
}

/** example.com keeps answering, each answer within a second: 10 queries over some 3 s. */
async function expectPromptAnswers(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const { serial, ms } = await soa();
    expect(serial, `query ${i}`).toBeGreaterThan(2026112200);
    expect(ms, `query ${i}`).toBeLessThan(1000);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Reloads the configuration by SIGHUP (a client would wait on a blocked service) and waits for it. */
async function reloadWith(zones: readonly string[]): Promise<number> {
  writeConfig(zones);
  const from = service.output().length;
  service.child.kill('SIGHUP');
  await service.waitFor(/configuration reloaded/, 10_000, from);
  return from;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

beforeAll(async () => {
  requireTool('dig');
  requireTool('mkfifo');
  tmp = mkdtempSync(join(tmpdir(), 'hms-input-'));
  token = throwawayToken('hms-input');
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  mkdirSync(join(tmp, 'zones'));
  copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(tmp, 'zones/example.com.zone'));
  expect(run('mkfifo', [join(tmp, 'zones/nobody-writes.fifo')]).status).toBe(0);
  badZone('fifo.example', 'nobody-writes.fifo');
  badZone('zero.example', '/dev/zero');
  config = join(tmp, 'hms.yaml');
  port = highPort();
  writeConfig();
  service = await startHmsRun(config, /zone signed and published/, {
    env: process.env,
    registry: daemons,
    timeoutMs: 60_000,
  });
}, 120_000);

afterServiceTests(daemons, () => ({ tmp, token }));

describe('issue 17 item 2 zone input that never ends or never opens is refused; the other zones keep being served', () => {
  it('OPS-6 OPS-7 a zone that $INCLUDEs a FIFO nobody writes to is refused naming the file and line; example.com keeps answering', async () => {
    const from = await reloadWith(['fifo.example']);
    try {
      await expectPromptAnswers();
      await service.waitFor(
        new RegExp(
          `"zone":"fifo\\.example\\.".*fifo\\.example\\.zone:5:10: cannot read included file 'nobody-writes\\.fifo': ${escape(join(tmp!, 'zones/nobody-writes.fifo'))}: the zone file is refused: it is a FIFO`,
        ),
        10_000,
        from,
      );
    } finally {
      // a service blocked in open() (the old code) is let go: a writer comes and leaves at once
      try {
        closeSync(openSync(join(tmp!, 'zones/nobody-writes.fifo'), constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: nobody has it open for reading, as it should be
      }
    }
  }, 60_000);

  it('OPS-6 OPS-7 a zone that $INCLUDEs /dev/zero is refused naming the file and line; example.com keeps answering', async () => {
    const from = await reloadWith(['fifo.example', 'zero.example']);
    await expectPromptAnswers();
    await service.waitFor(
      new RegExp(
        `"zone":"zero\\.example\\.".*zero\\.example\\.zone:5:10: cannot read included file '/dev/zero': /dev/zero: the zone file is refused: it is a character device`,
      ),
      10_000,
      from,
    );
    const status = await runAsync('node', [HMS, 'zone', 'status', '--json', '--config', config], { timeoutMs: 15_000 });
    expect(status.status, status.stderr).toBe(0);
    const zones = JSON.parse(status.stdout) as { zone: string; lastError: string | null }[];
    expect(zones.find((z) => z.zone === 'zero.example.')?.lastError).toMatch(/zero\.example\.zone:5:10: .*character device/);
  }, 60_000);

  it('OPS-6 hms zone check of the same files ends at once with the error naming file and line (exit 3)', async () => {
    for (const [zone, reason] of [
      ['fifo.example', /nobody-writes\.fifo: the zone file is refused: it is a FIFO/],
      ['zero.example', /\/dev\/zero: the zone file is refused: it is a character device/],
    ] as const) {
      const file = join(tmp!, `zones/${zone}.zone`);
      const r = await runAsync('node', [HMS, 'zone', 'check', '--origin', zone, file], { timeoutMs: 15_000 });
      expect(r.status, `${zone}: ${r.stderr.slice(0, 300)}`).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`${escape(file)}:5:10: cannot read included file`));
      expect(r.stderr).toMatch(reason);
      expect(r.stderr.length).toBeLessThan(1000);
    }
  }, 60_000);

  it('OPS-7 SIGTERM stops the service in bounded time', async () => {
    const start = Date.now();
    await service.stop('SIGTERM');
    expect(service.child.signalCode, 'the service had to be killed').not.toBe('SIGKILL');
    expect(Date.now() - start).toBeLessThan(8000);
  }, 30_000);
});

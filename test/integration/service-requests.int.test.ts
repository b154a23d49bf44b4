import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateZone } from '../../scripts/bench/zone-generator.js';
import { afterServiceTests, highPort, startHmsRun, type Daemon } from './helpers/daemons.js';
import { HMS, runAsync } from './helpers/run.js';
import { loopbackServiceConfig, serviceFolder } from './helpers/service.js';

/**
 * Issue 20 item 4: operators' requests while a big zone signs. The service takes changes one
 * at a time (one writer), but what a change then waits for, its zone's run, is outside that
 * queue: `hms zone resign` of a small zone is answered while a big zone's re-sign, asked for
 * first, is still signing (on the old code the small one's answer waited for the big one's
 * whole run). SIGTERM while the big zone signs stops the service at once, the run ended
 * unfinished (the old code finished it first). And a zone removed by a reload while its run is
 * under way ends that run as no longer served: no signing alarm, no retry, and the reload does
 * not wait for a signing.
 * Every signed version passes the three validators (afterServiceTests).
 */
const SECRET = 'cmVxdWVzdHMtdGVzdC1zZWNyZXQtb2YtMzItb2N0ZXRzISE=';
const BIG = 'big.requests.example';
const BIG_PATTERN = BIG.replace(/\./g, '\\.');
let tmp: string;
let token: { dispose(): void; pin: string } | undefined;
let config: string;
let listen: string;
let service: Daemon;
const daemons: Daemon[] = [];

const configText = (withBig: boolean): string =>
  loopbackServiceConfig({ token: 'hms-req', listen, zones: withBig ? `  ${BIG}: { input: zones/${BIG}.zone, policy: dp }\n` : '' });

beforeAll(async () => {
  ({ tmp, token } = serviceFolder('hms-req-', 'hms-req'));
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  await generateZone(join(tmp, 'zones', `${BIG}.zone`), BIG, 50_000);
  config = join(tmp, 'hms.yaml');
  listen = `127.0.0.1:${highPort()}`;
  writeFileSync(config, configText(true));
  service = await startHmsRun(config, new RegExp(`"zone":"${BIG_PATTERN}\\."[^\\n]*"msg":"zone signed and published"`), {
    registry: daemons,
    timeoutMs: 240_000,
  });
  await service.waitFor(/"zone":"example\.com\."[^\n]*"msg":"zone signed and published"/, 60_000);
}, 300_000);

afterServiceTests(daemons, () => ({ tmp, token }));

describe("operators' requests while a big zone signs (issue 20 item 4)", () => {
  it('DP-2.8b a resign of a small zone is answered while the big zone, asked for first, still signs', async () => {
    const from = service.output().length;
    let bigDone = false;
    const big = runAsync('node', [HMS, 'zone', 'resign', `${BIG}.`, '--config', config], { timeoutMs: 240_000 }).finally(() => (bigDone = true));
    // the big zone's run (some 50,000 signatures) is under way before the small one is asked for
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(bigDone).toBe(false);
    const small = await runAsync('node', [HMS, 'zone', 'resign', 'example.com.', '--config', config], { timeoutMs: 240_000 });
    expect(small.status, small.stdout + small.stderr).toBe(0);
    // answered while the big zone's run is still under way
    expect(bigDone).toBe(false);
    expect(service.output().slice(from)).not.toMatch(new RegExp(`"zone":"${BIG_PATTERN}\\."[^\\n]*"msg":"zone signed and published"`));
    const r = await big;
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 300_000);

  it('OPS-7 SIGTERM while the big zone signs: the run ends unfinished and the service stops at once, nothing half-written; the next start serves the last version', async () => {
    const from = service.output().length;
    const big = runAsync('node', [HMS, 'zone', 'resign', `${BIG}.`, '--config', config], { timeoutMs: 240_000 });
    await service.waitFor(new RegExp(`"zone":"${BIG_PATTERN}\\."[^\\n]*"msg":"signing progress"`), 60_000, from);
    const t0 = performance.now();
    // a clean exit (0), not the helper's SIGKILL 10 s on: the old code finished the run first
    expect(await service.stop('SIGTERM')).toBe(0);
    const stopSeconds = (performance.now() - t0) / 1000;
    await big;
    const log = service.output().slice(from);
    expect(log).toMatch(new RegExp(`"zone":"${BIG_PATTERN}\\."[^\\n]*"reason":"the service is stopping[^\\n]*"msg":"run ended unfinished"`));
    expect(log).not.toMatch(new RegExp(`"zone":"${BIG_PATTERN}\\."[^\\n]*("msg":"zone signed and published"|signing failed|the HSM failed|ALARM)`));
    expect(log).toMatch(/"msg":"service stopped"/);
    expect(stopSeconds).toBeLessThan(10);
    // no temporary file left beside the signed versions; the next start serves the last one
    expect(readdirSync(join(tmp, 'state', 'signed')).filter((f) => f.includes('hms-tmp'))).toEqual([]);
    service = await startHmsRun(config, new RegExp(`"zone":"${BIG_PATTERN}\\."[^\\n]*"msg":"zone (resumed|signed and published)`), {
      registry: daemons,
      timeoutMs: 240_000,
    });
  }, 300_000);

  it('OPS-7 a zone removed by a reload while its run is under way: the run ends as no longer served, with no signing alarm, and the reload does not wait for it', async () => {
    const from = service.output().length;
    const big = runAsync('node', [HMS, 'zone', 'resign', `${BIG}.`, '--config', config], { timeoutMs: 240_000 });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    writeFileSync(config, configText(false));
    const reload = await runAsync('node', [HMS, 'reload', '--config', config], { timeoutMs: 60_000 });
    expect(reload.status, reload.stdout + reload.stderr).toBe(0);
    expect(reload.stdout + reload.stderr).toMatch(/no longer served/);
    const r = await big;
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no longer served/);
    const log = service.output().slice(from);
    expect(log).toMatch(new RegExp(`"zone":"${BIG_PATTERN}\\."[^\\n]*"reason":"zone ${BIG_PATTERN}\\. is no longer served[^\\n]*"msg":"run ended unfinished"`));
    expect(log).not.toMatch(new RegExp(`"zone":"${BIG_PATTERN}\\."[^\\n]*(signing failed|the HSM failed|"msg":"ALARM raised)`));
  }, 300_000);
});

import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { appendFileSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmsConfig } from '../../scripts/lab/configs.js';
import { afterServiceTests, highPort, startHmsRun, type Daemon } from './helpers/daemons.js';
import { waitUntil } from './helpers/floods.js';
import { HMS, requireTool, ROOT, runAsync } from './helpers/run.js';
import { serviceFolder } from './helpers/service.js';

/**
 * Issue 19 items 2 and 3 through `hms run`: the metrics endpoint on 127.0.0.5 scraped and its
 * text parsed by Prometheus's own parser (python3-prometheus-client), and an alarm (a zone
 * input made bad, then good again) raised and cleared once each at a syslog collector
 * (RFC 5424 over UDP), a webhook and a command.
 */
const SECRET = 'c2VydmljZS10ZXN0LXNlY3JldC1mb3ItdHNpZy0zMi1v';
const METRICS_ADDRESS = '127.0.0.5';
const daemons: Daemon[] = [];
let folder: ReturnType<typeof serviceFolder> | undefined;
let service: Daemon;
let hmsPort: number;
let metricsPort: number;
const syslogLines: string[] = [];
const hookBodies: Record<string, unknown>[] = [];
let commandOut: string;
let startedAt: number;
let config: string;
/** The service's configuration with the metrics on `port`, and `more` alarm sinks. */
let configText: (port: number, more?: string) => string;

const closers: (() => unknown)[] = [];

afterServiceTests(daemons, () => ({ tmp: folder?.tmp, token: folder?.token }));
afterAll(async () => {
  for (const close of closers) await close();
});

/** Prometheus's own parser of the text format: family name, type and samples, as JSON. */
const PARSE = `
import sys, json, math
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    # NaN and the infinities are valid values (an event-loop lag not measured yet): JSON has no word for them
    out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value if math.isfinite(s.value) else str(s.value)] for s in f.samples]}
print(json.dumps(out))
`;
type Families = Record<string, { type: string; samples: [string, Record<string, string>, number | string][] }>;

async function scrape(): Promise<Families> {
  const response = await fetch(`http://${METRICS_ADDRESS}:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(response.status).toBe(200);
  const parsed = spawnSync('/usr/bin/python3', ['-c', PARSE], { input: await response.text(), encoding: 'utf8', timeout: 30_000 });
  expect(parsed.status, parsed.stderr).toBe(0);
  return JSON.parse(parsed.stdout) as Families;
}

/** The value of the sample `name` with `labels` (all of them given), or undefined. */
function value(families: Families, family: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = families[family];
  const s = f?.samples.find(
    ([n, l]) => n === name && Object.keys(labels).length === Object.keys(l).length && Object.entries(labels).every(([k, v]) => l[k] === v),
  );
  return s === undefined ? undefined : Number(s[2]);
}

function listen(server: Server, address: string): Promise<number> {
  return new Promise((resolve) => server.listen(0, address, () => resolve((server.address() as AddressInfo).port)));
}

/** A webhook on 127.0.0.1 that keeps the JSON bodies POSTed to it in `bodies`; its port. Closed after the tests. */
async function webhook(bodies: Record<string, unknown>[]): Promise<number> {
  const hook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  closers.push(() => {
    hook.closeAllConnections();
    return new Promise((r) => hook.close(r));
  });
  return listen(hook, '127.0.0.1');
}

beforeAll(async () => {
  requireTool('dig');
  requireTool('logger');
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import prometheus_client.parser'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`python3-prometheus-client is not installed: run scripts/setup first (${probe.stderr.trim()})`);
  folder = serviceFolder('hms-metrics-', 'hms-metrics');
  const { tmp } = folder;
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  // the collector (RFC 5424 over UDP), the webhook and the command's file
  const collector = createSocket('udp4');
  collector.on('message', (m) => syslogLines.push(m.toString('utf8')));
  await new Promise<void>((r) => collector.bind(0, '127.0.0.1', r));
  const hookPort = await webhook(hookBodies);
  closers.push(() => collector.close());
  commandOut = join(tmp, 'alarms.jsonl');
  const append = `let s='';process.stdin.on('data',d=>s+=d).on('end',()=>require('fs').appendFileSync(${JSON.stringify(commandOut)},s))`;
  [hmsPort, metricsPort] = [highPort(), highPort()];
  config = join(tmp, 'hms.yaml');
  configText = (port: number, more = ''): string =>
    hmsConfig({
      token: 'hms-metrics',
      listen: `127.0.0.1:${hmsPort}`,
      service: `  metrics-listen: "${METRICS_ADDRESS}:${port}"
  alarms:
    - log: {}
    - syslog: { server: "127.0.0.1:${collector.address().port}", protocol: udp, facility: local3 }
    - webhook: { url: "http://127.0.0.1:${hookPort}/hooks/hms", timeout: 5s }
    - command: { run: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(append)}], timeout: 5s }${more}`,
    });
  writeFileSync(config, configText(metricsPort));
  startedAt = Math.floor(Date.now() / 1000);
  service = await startHmsRun(config, /zone signed and published/, {
    env: { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF },
    registry: daemons,
    timeoutMs: 90_000,
  });
}, 120_000);

describe('hms run: metrics and alarms (issue 19)', () => {
  it('DP-2.9a serves /metrics on its internal address, parsed by the Prometheus parser: RRSIG expiry ~32 days, signatures, keys, transfers and refusals per secondary, process metrics', async () => {
    expect(service.output()).toMatch(
      new RegExp(`"address":"${METRICS_ADDRESS.replace(/\./g, '\\.')}","port":${metricsPort}.*"msg":"metrics, serving /metrics"`),
    );
    // one AXFR by the listed secondary, TSIG-signed; one query without TSIG, refused
    const axfr = await runAsync('dig', [
      '@127.0.0.1',
      '-p',
      String(hmsPort),
      '+tries=1',
      '+time=5',
      '-y',
      `hmac-sha256:xfr-key:${SECRET}`,
      'example.com',
      'AXFR',
    ]);
    expect(axfr.stdout).toMatch(/XFR size: \d+ records/);
    await runAsync('dig', ['@127.0.0.1', '-p', String(hmsPort), '+tries=1', '+time=3', 'example.com', 'SOA']);

    const m = await scrape();
    const zone = { zone: 'example.com.' };
    expect(m.hms_rrsig_expiry_seconds!.type).toBe('gauge');
    const expiry = value(m, 'hms_rrsig_expiry_seconds', 'hms_rrsig_expiry_seconds', zone)!;
    // DP-4.4a: 32 days of validity, the inception an hour back
    expect(Math.abs(expiry - (32 * 86400 - 3600 - (Math.floor(Date.now() / 1000) - startedAt)))).toBeLessThan(600);
    expect(m.hms_signatures!.type).toBe('counter');
    expect(value(m, 'hms_signatures', 'hms_signatures_total', zone)).toBeGreaterThan(10);
    expect(value(m, 'hms_last_sign_duration_seconds', 'hms_last_sign_duration_seconds', zone)).toBeGreaterThan(0);
    expect(Math.abs(value(m, 'hms_last_sign_timestamp_seconds', 'hms_last_sign_timestamp_seconds', zone)! - startedAt)).toBeLessThan(120);
    expect(value(m, 'hms_zone_serial', 'hms_zone_serial', zone)).toBeGreaterThan(2026000000);
    // as hms key list shows them: the new KSK published (its DS not yet seen at the parent), the ZSK active
    expect(value(m, 'hms_keys', 'hms_keys', { ...zone, role: 'ksk', state: 'published' })).toBe(1);
    expect(value(m, 'hms_keys', 'hms_keys', { ...zone, role: 'ksk', state: 'active' })).toBe(0);
    expect(value(m, 'hms_keys', 'hms_keys', { ...zone, role: 'zsk', state: 'active' })).toBe(1);
    expect(value(m, 'hms_next_key_event_timestamp_seconds', 'hms_next_key_event_timestamp_seconds', zone)).toBeGreaterThan(startedAt);
    expect(value(m, 'hms_hsm_sessions', 'hms_hsm_sessions')).toBeGreaterThan(0);
    expect(value(m, 'hms_transfers', 'hms_transfers_total', { server: 'test-client', type: 'axfr' })).toBe(1);
    expect(value(m, 'hms_transfer_refusals', 'hms_transfer_refusals_total', { server: 'test-client', reason: 'refused' })).toBe(1);
    expect(value(m, 'hms_alarms', 'hms_alarms', { severity: 'critical' })).toBe(0);
    expect(m.process_cpu_seconds!.type).toBe('counter');
    expect(value(m, 'process_resident_memory_bytes', 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('DK-16 a zone input made bad raises one alarm at the syslog collector, the webhook and the command, and a good one clears it, once each', async () => {
    const input = join(folder!.tmp, 'zones/example.com.zone');
    const good = readFileSync(input, 'utf8');
    const from = service.output().length;
    appendFileSync(input, 'broken.example.com. 3600 IN A 192.0.2.300\n');
    await service.waitFor(/input refused; the last good signed version stays served/, 30_000, from);
    const raisedEverywhere = () =>
      syslogLines.some((l) => / hms-alarm \d+ raised /.test(l)) && hookBodies.some((b) => b.state === 'raised') && existsSync(commandOut);
    expect(await waitUntil(raisedEverywhere, 20_000), JSON.stringify({ syslogLines, hookBodies })).toBe(true);
    const during = await scrape();
    expect(value(during, 'hms_alarms', 'hms_alarms', { severity: 'warning' })).toBe(1);
    expect(value(during, 'hms_sign_failures', 'hms_sign_failures_total', { zone: 'example.com.', stage: 'input' })).toBeGreaterThanOrEqual(1);

    copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), input);
    expect(readFileSync(input, 'utf8')).toBe(good);
    const cleared = () =>
      syslogLines.some((l) => / cleared /.test(l)) && hookBodies.some((b) => b.state === 'cleared') && readFileSync(commandOut, 'utf8').includes('"cleared"');
    expect(await waitUntil(cleared, 60_000), JSON.stringify({ syslogLines, hookBodies })).toBe(true);
    // the file is watched every 2 s and retried: still one raise and one clear each
    await new Promise((r) => setTimeout(r, 3000));

    const rfc5424 = /^<(\d+)>1 (\S+) \S+ hms-alarm (\d+) (raised|cleared) \[timeQuality [^\]]*\]\[hmsAlarm@32473 ([^\]]*)\] (.*)$/s;
    expect(syslogLines.map((l) => rfc5424.exec(l)?.[4])).toEqual(['raised', 'cleared']);
    const [raisedLine, clearedLine] = syslogLines.map((l) => rfc5424.exec(l)!);
    expect(Number(raisedLine![1])).toBe(19 * 8 + 4); // local3.warning
    expect(Number(clearedLine![1])).toBe(19 * 8 + 5); // local3.notice
    expect(raisedLine![2]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00$/); // UTC
    expect(Number(raisedLine![3])).toBe(service.child.pid);
    expect(raisedLine![5]).toBe('key="zone.input/example.com." state="raised" severity="warning" zone="example.com."');
    expect(raisedLine![6]).toMatch(
      /^WARNING: zone example\.com\.: input .*example\.com\.zone refused: .*192\.0\.2\.300.*; the last good signed version stays served$/,
    );
    expect(clearedLine![5]).toMatch(/^key="zone\.input\/example\.com\." state="cleared" severity="warning" zone="example\.com\." raisedFor="\d+"$/);

    expect(hookBodies.map((b) => [b.state, b.key, b.severity, b.zone])).toEqual([
      ['raised', 'zone.input/example.com.', 'warning', 'example.com.'],
      ['cleared', 'zone.input/example.com.', 'warning', 'example.com.'],
    ]);
    const commanded = readFileSync(commandOut, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(commanded.map((b) => [b.state, b.key])).toEqual([
      ['raised', 'zone.input/example.com.'],
      ['cleared', 'zone.input/example.com.'],
    ]);
    const after = await scrape();
    expect(value(after, 'hms_alarms', 'hms_alarms', { severity: 'warning' })).toBe(0);
    expect(value(after, 'hms_alarm_events', 'hms_alarm_events_total', { severity: 'warning', state: 'raised' })).toBe(1);
    expect(value(after, 'hms_alarm_events', 'hms_alarm_events_total', { severity: 'warning', state: 'cleared' })).toBe(1);
    expect(service.output()).toMatch(/"msg":"ALARM cleared: zone example\.com\.: input .* accepted"/);
  });

  it('OPS-3 hms reload takes new alarm sinks and a new metrics address: a webhook added hears the alarm raised now, the metrics move, and the sinks kept hear nothing twice', async () => {
    const input = join(folder!.tmp, 'zones/example.com.zone');
    const from = service.output().length;
    const hooked = hookBodies.length;
    appendFileSync(input, 'broken.example.com. 3600 IN A 192.0.2.300\n');
    await service.waitFor(/input refused; the last good signed version stays served/, 30_000, from);
    expect(await waitUntil(() => hookBodies.length > hooked, 20_000)).toBe(true);
    // a second webhook, and the metrics on another port, by a reload
    const added: Record<string, unknown>[] = [];
    const addedPort = await webhook(added);
    const movedPort = highPort();
    writeFileSync(config, configText(movedPort, `\n    - webhook: { url: "http://127.0.0.1:${addedPort}/added", timeout: 5s }`));
    const reload = await runAsync('node', [HMS, 'reload', '--config', config], { timeoutMs: 60_000 });
    expect(reload.status, reload.stdout + reload.stderr).toBe(0);
    expect(reload.stdout).toContain(`metrics: served on ${METRICS_ADDRESS}:${movedPort}`);
    expect(reload.stdout).toContain('alarms: sent to log, syslog, webhook, command, webhook');
    expect(await waitUntil(() => added.length > 0, 20_000)).toBe(true);
    expect(added[0]).toMatchObject({ state: 'raised', key: 'zone.input/example.com.', zone: 'example.com.' });
    // the metrics are on the new port only
    await expect(fetch(`http://${METRICS_ADDRESS}:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    metricsPort = movedPort;
    expect(value(await scrape(), 'hms_alarms', 'hms_alarms', { severity: 'warning' })).toBe(1);
    // the fix is heard by both webhooks; the first heard the raise once only
    copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), input);
    expect(await waitUntil(() => added.some((b) => b.state === 'cleared') && hookBodies.slice(hooked).some((b) => b.state === 'cleared'), 60_000)).toBe(true);
    expect(hookBodies.slice(hooked).map((b) => b.state)).toEqual(['raised', 'cleared']);
    expect(added.map((b) => b.state)).toEqual(['raised', 'cleared']);
  });
});

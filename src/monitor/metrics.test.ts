import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alarm } from '../common/alarms.js';
import type { KeyRecord } from '../enforcer/keys.js';
import { HmsMetrics } from './metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';

const NOW = 1_800_000_000;
const DAY = 86400;

function key(role: KeyRecord['role'], keyTag: number, times: Partial<KeyRecord>): KeyRecord {
  return {
    id: String(keyTag),
    role,
    algorithm: 8,
    bits: 2048,
    keyTag,
    dnskey: new Uint8Array(),
    created: NOW - 100 * DAY,
    publish: null,
    active: null,
    retire: null,
    remove: null,
    dsSeen: null,
    dsWithdrawn: null,
    successorOf: null,
    compromised: false,
    ...times,
  };
}

function metrics(alarms: Alarm[] = []): { m: HmsMetrics; setNow: (t: number) => void } {
  let now = NOW;
  const m = new HmsMetrics({
    now: () => now,
    zones: () => [
      { zone: 'example.com.', serial: 2026120601, signedAt: NOW - 3600, expires: NOW + 31 * DAY },
      { zone: 'never.example.', serial: null, signedAt: null, expires: null },
    ],
    alarms: () => alarms,
    hsmSessions: () => 4,
  });
  return { m, setNow: (t) => (now = t) };
}

/** The samples of one family, `name{labels} value` each. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe('the metrics of the service (issue 19 item 2)', () => {
  it('DP-2.9a gives the seconds until the first RRSIG expiry per zone, worked out at each scrape, and the serial and the last signing', async () => {
    const { m, setNow } = metrics();
    let text = await m.text();
    expect(samples(text, 'hms_rrsig_expiry_seconds')).toEqual([`hms_rrsig_expiry_seconds{zone="example.com."} ${31 * DAY}`]);
    expect(samples(text, 'hms_zone_serial')).toEqual(['hms_zone_serial{zone="example.com."} 2026120601']);
    expect(samples(text, 'hms_last_sign_timestamp_seconds')).toEqual([`hms_last_sign_timestamp_seconds{zone="example.com."} ${NOW - 3600}`]);
    expect(text).toMatch(/^# TYPE hms_rrsig_expiry_seconds gauge$/m);
    setNow(NOW + 32 * DAY);
    text = await m.text();
    expect(samples(text, 'hms_rrsig_expiry_seconds')).toEqual([`hms_rrsig_expiry_seconds{zone="example.com."} ${-DAY}`]);
  });

  it('counts signatures and failures, keeps the last run time, and gives the key states from their times and the next key event', async () => {
    const { m, setNow } = metrics();
    m.recordSign('example.com.', { seconds: 1.5, signatures: 40 });
    m.recordSign('example.com.', { seconds: 0.25, signatures: 2 });
    m.recordFailure('example.com.', 'hsm');
    m.recordFailure('example.com.', 'input');
    const ksk = key('ksk', 1, { publish: NOW - 50 * DAY, active: NOW - 50 * DAY });
    const zsk = key('zsk', 2, { publish: NOW - 50 * DAY, active: NOW - 40 * DAY, retire: NOW + DAY, remove: NOW + 10 * DAY });
    const next = key('zsk', 3, { publish: NOW - 3600 });
    const gone = key('zsk', 4, { publish: NOW - 99 * DAY, active: NOW - 98 * DAY, retire: NOW - 60 * DAY, remove: NOW - 50 * DAY });
    m.recordKeys('example.com.', [ksk, zsk, next, gone], 2 * 3600, NOW + DAY);
    let text = await m.text();
    expect(samples(text, 'hms_signatures_total')).toEqual(['hms_signatures_total{zone="example.com."} 42']);
    expect(samples(text, 'hms_last_sign_duration_seconds')).toEqual(['hms_last_sign_duration_seconds{zone="example.com."} 0.25']);
    expect(samples(text, 'hms_sign_failures_total').sort()).toEqual([
      'hms_sign_failures_total{zone="example.com.",stage="hsm"} 1',
      'hms_sign_failures_total{zone="example.com.",stage="input"} 1',
    ]);
    expect(samples(text, 'hms_hsm_errors_total')).toEqual(['hms_hsm_errors_total 1']);
    expect(samples(text, 'hms_hsm_sessions')).toEqual(['hms_hsm_sessions 4']);
    expect(samples(text, 'hms_next_key_event_timestamp_seconds')).toEqual([`hms_next_key_event_timestamp_seconds{zone="example.com."} ${NOW + DAY}`]);
    const nonZero = (t: string) => samples(t, 'hms_keys').filter((l) => !l.endsWith(' 0'));
    expect(nonZero(text).sort()).toEqual([
      'hms_keys{zone="example.com.",role="ksk",state="active"} 1',
      'hms_keys{zone="example.com.",role="zsk",state="active"} 1',
      'hms_keys{zone="example.com.",role="zsk",state="published"} 1',
    ]);
    expect(samples(text, 'hms_keys')).toContain('hms_keys{zone="example.com.",role="ksk",state="retired"} 0');
    // two days on: the old ZSK is retired, the new one ready (its DNSKEY has been out longer than 2 h)
    setNow(NOW + 2 * DAY);
    text = await m.text();
    expect(nonZero(text).sort()).toEqual([
      'hms_keys{zone="example.com.",role="ksk",state="active"} 1',
      'hms_keys{zone="example.com.",role="zsk",state="ready"} 1',
      'hms_keys{zone="example.com.",role="zsk",state="retired"} 1',
    ]);
    m.forget('example.com.');
    text = await m.text();
    expect(samples(text, 'hms_keys')).toEqual([]);
    expect(samples(text, 'hms_signatures_total')).toEqual([]);
  });

  it('counts transfers and refusals per secondary, what the monitor saw per server, and the alarms raised and their events', async () => {
    const raised: Alarm[] = [
      { key: 'a', severity: 'critical', message: 'x' },
      { key: 'b', severity: 'warning', message: 'y' },
      { key: 'c', severity: 'warning', message: 'z' },
    ];
    const { m } = metrics(raised);
    for (const msg of ['transfer, AXFR sent', 'transfer, IXFR sent', 'transfer, IXFR sent', 'transfer, notify answered']) m.recordTransferEvent('ns1', msg);
    m.recordTransferEvent('unlisted', 'transfer, refused');
    m.recordTransferEvent('ns1', 'transfer, connection closed');
    // as the monitor's run hands them over (Monitor.listen)
    const server1 = { zone: 'example.com.', server: 'ns1 192.0.2.1@53', status: 'OK' as const, message: '' };
    const server2 = { zone: 'example.com.', server: 'ns2 192.0.2.2@53', message: '' };
    m.recordMonitorRun([
      { ...server1, check: 'answer' },
      { ...server1, check: 'rrsig-validity', value: 20 * DAY },
      { ...server1, check: 'serial', value: 0 },
      { ...server1, check: 'clock', value: -2 },
      { ...server2, check: 'answer', status: 'OK' },
      { ...server2, check: 'serial', status: 'WARNING', value: 600 },
    ]);
    const sink = m.alarmSink();
    await sink.deliver({ state: 'raised', at: NOW, alarm: raised[0]! });
    await sink.deliver({ state: 'cleared', at: NOW, alarm: raised[0]! });
    const text = await m.text();
    expect(samples(text, 'hms_transfers_total').sort()).toEqual([
      'hms_transfers_total{server="ns1",type="axfr"} 1',
      'hms_transfers_total{server="ns1",type="ixfr"} 2',
    ]);
    expect(samples(text, 'hms_transfer_refusals_total').sort()).toEqual([
      'hms_transfer_refusals_total{server="ns1",reason="connection-closed"} 1',
      'hms_transfer_refusals_total{server="unlisted",reason="refused"} 1',
    ]);
    expect(samples(text, 'hms_server_rrsig_expiry_seconds')).toEqual([
      `hms_server_rrsig_expiry_seconds{zone="example.com.",server="ns1 192.0.2.1@53"} ${20 * DAY}`,
    ]);
    expect(samples(text, 'hms_server_serial_lag_seconds')).toEqual([
      'hms_server_serial_lag_seconds{zone="example.com.",server="ns1 192.0.2.1@53"} 0',
      'hms_server_serial_lag_seconds{zone="example.com.",server="ns2 192.0.2.2@53"} 600',
    ]);
    expect(samples(text, 'hms_server_clock_skew_seconds')).toEqual(['hms_server_clock_skew_seconds{zone="example.com.",server="ns1 192.0.2.1@53"} -2']);
    expect(samples(text, 'hms_server_check_ok')).toEqual([
      'hms_server_check_ok{zone="example.com.",server="ns1 192.0.2.1@53"} 1',
      'hms_server_check_ok{zone="example.com.",server="ns2 192.0.2.2@53"} 0',
    ]);
    expect(samples(text, 'hms_alarms')).toEqual(['hms_alarms{severity="warning"} 2', 'hms_alarms{severity="critical"} 1']);
    expect(samples(text, 'hms_alarm_events_total').sort()).toEqual([
      'hms_alarm_events_total{severity="critical",state="cleared"} 1',
      'hms_alarm_events_total{severity="critical",state="raised"} 1',
    ]);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });
});

describe('the metrics endpoint', () => {
  const limits = { requestTimeoutMs: 300, idleTimeoutMs: 300, maxConnections: 4 };

  it('serves GET /metrics in the text format, nothing else', async () => {
    const server = await startMetricsServer({ address: '127.0.0.1', port: 0 }, metrics().m, limits);
    servers.push(server);
    const base = `http://127.0.0.1:${server.port}`;
    const ok = await fetch(`${base}/metrics`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await ok.text()).toMatch(/^hms_rrsig_expiry_seconds\{zone="example\.com\."\} \d+$/m);
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('closes a client that sends its request too slowly, and one that never asks', async () => {
    const server = await startMetricsServer({ address: '127.0.0.1', port: 0 }, metrics().m, limits);
    servers.push(server);
    const closedAfter = (trickle: boolean): Promise<number> =>
      new Promise((resolve) => {
        const started = Date.now();
        const socket = connect(server.port, '127.0.0.1');
        let timer: NodeJS.Timeout | undefined;
        socket.on('connect', () => {
          if (!trickle) return;
          const bytes = [...'GET /metrics HTTP/1.1\r\nHost: x\r\n'];
          timer = setInterval(() => socket.write(bytes.shift() ?? 'X'), 50);
        });
        socket.on('error', () => undefined);
        // read, or the end the server sends is never seen
        socket.resume();
        socket.on('close', () => {
          clearInterval(timer);
          resolve(Date.now() - started);
        });
      });
    const [silent, slow] = await Promise.all([closedAfter(false), closedAfter(true)]);
    expect(silent).toBeLessThan(3000);
    expect(slow).toBeLessThan(3000);
  });
});

import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlarmEvent } from '../common/alarms.js';
import { AlarmBoard } from '../common/alarms.js';
import { commandAlarmSink, sinkErrorReporter, syslogAlarmSink, webhookAlarmSink } from './alarm-sinks.js';

const AT = 1_796_000_000; // 2026-11-29T...Z
const RAISED: AlarmEvent = {
  state: 'raised',
  at: AT,
  alarm: {
    key: 'monitor.serial/example.com./ns1',
    severity: 'critical',
    zone: 'example.com.',
    server: 'ns1 [192.0.2.1]@53 "old"',
    message: 'ns1 serves serial 5, 7 is published',
    details: { serial: 5 },
  },
};
const CLEARED: AlarmEvent = { state: 'cleared', at: AT + 90, raisedFor: 90, alarm: { ...RAISED.alarm, message: 'ns1 serves serial 7' } };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** An RFC 5424 line cut into its fields (section 6): PRI, VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID, SD, MSG. */
function parse5424(line: string) {
  const m = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ((?:\[(?:[^\]\\]|\\.)*\])+|-) ?(.*)$/s.exec(line);
  expect(m, line).not.toBeNull();
  const [, pri, timestamp, host, app, procid, msgid, sd, msg] = m!;
  const elements = new Map<string, Record<string, string>>();
  for (const e of sd!.matchAll(/\[([^ \]]+)((?: [^=]+="(?:[^"\\]|\\.)*")*)\]/g)) {
    const params: Record<string, string> = {};
    for (const p of e[2]!.matchAll(/ ([^=]+)="((?:[^"\\]|\\.)*)"/g)) params[p[1]!] = p[2]!.replace(/\\(.)/g, '$1');
    elements.set(e[1]!, params);
  }
  return { facility: Math.floor(Number(pri) / 8), severity: Number(pri) % 8, timestamp: timestamp!, host, app, procid, msgid, sd: elements, msg };
}

function udpCollector(): Promise<{ port: number; next: () => Promise<string> }> {
  const socket = createSocket('udp4');
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  socket.on('message', (m) => {
    const l = m.toString('utf8');
    const w = waiters.shift();
    if (w === undefined) lines.push(l);
    else w(l);
  });
  cleanups.push(() => socket.close());
  return new Promise((resolve) =>
    socket.bind(0, '127.0.0.1', () =>
      resolve({
        port: socket.address().port,
        next: () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r))),
      }),
    ),
  );
}

describe('the syslog alarm sink (RFC 5424 through logger(1), DK-16)', () => {
  it('DK-16 sends a raise and a clear over UDP to a collector: UTC time, APP-NAME, PROCID, MSGID, structured data with zone, server, severity, state', async () => {
    const collector = await udpCollector();
    const sink = syslogAlarmSink({ kind: 'server', host: '127.0.0.1', port: collector.port, protocol: 'udp' }, 'local3', 5000);
    expect(sink.name).toBe(`syslog 127.0.0.1:${collector.port}/udp`);
    const before = Date.now();
    await sink.deliver(RAISED);
    const raised = parse5424(await collector.next());
    expect(raised.facility).toBe(19); // local3
    expect(raised.severity).toBe(2); // crit
    expect(raised.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$/);
    expect(Math.abs(Date.parse(raised.timestamp) - before)).toBeLessThan(10_000);
    expect(raised.host).toBe(hostname());
    expect(raised.app).toBe('hms-alarm');
    expect(raised.procid).toBe(String(process.pid));
    expect(raised.msgid).toBe('raised');
    expect(raised.sd.get('hmsAlarm@32473')).toEqual({
      key: 'monitor.serial/example.com./ns1',
      state: 'raised',
      severity: 'critical',
      zone: 'example.com.',
      server: 'ns1 [192.0.2.1]@53 "old"',
    });
    expect(raised.msg).toBe('CRITICAL: ns1 serves serial 5, 7 is published');

    await sink.deliver({ ...CLEARED, alarm: { ...CLEARED.alarm, severity: 'warning' } });
    const cleared = parse5424(await collector.next());
    expect(cleared.severity).toBe(5); // notice
    expect(cleared.msgid).toBe('cleared');
    expect(cleared.sd.get('hmsAlarm@32473')).toMatchObject({ state: 'cleared', severity: 'warning', raisedFor: '90' });
    expect(cleared.msg).toBe('cleared: ns1 serves serial 7');
  });

  it('DK-16 sends over TCP, one line per event, and fails when no collector listens', async () => {
    const received: string[] = [];
    const server = createServer((socket) => socket.setEncoding('utf8').on('data', (d: string) => received.push(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as AddressInfo).port;
    await syslogAlarmSink({ kind: 'server', host: '127.0.0.1', port, protocol: 'tcp' }, 'daemon', 5000).deliver(RAISED);
    for (let i = 0; i < 50 && !received.join('').includes('\n'); i++) await new Promise((r) => setTimeout(r, 20));
    const line = received.join('').split('\n')[0]!;
    const got = parse5424(line);
    expect([got.facility, got.severity, got.msgid]).toEqual([3, 2, 'raised']);
    expect(got.sd.get('hmsAlarm@32473')?.zone).toBe('example.com.');

    await new Promise<void>((r) => server.close(() => r()));
    await expect(syslogAlarmSink({ kind: 'server', host: '127.0.0.1', port, protocol: 'tcp' }, 'daemon', 5000).deliver(RAISED)).rejects.toThrow(
      /logger exited \d+/,
    );
  });
});

describe('the command alarm sink', () => {
  it('runs the command without a shell, the event as JSON on its input and in HMS_ALARM_* variables, and nothing else of our environment', async () => {
    process.env.HMS_TEST_NOT_PASSED = 'secret-ish';
    cleanups.push(() => delete process.env.HMS_TEST_NOT_PASSED);
    const dir = mkdtempSync(join(tmpdir(), 'hms-alarm-command-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'seen.json');
    const script = `let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const env=Object.fromEntries(Object.entries(process.env).filter(([k])=>k.startsWith('HMS_')));require('fs').writeFileSync(process.argv[1],JSON.stringify({input:JSON.parse(s),env,argv:process.argv.slice(2)}))})`;
    await commandAlarmSink([process.execPath, '-e', script, out, 'a b', `$(touch ${dir}/shell)`], 5000).deliver(RAISED);
    const seen = JSON.parse(readFileSync(out, 'utf8')) as { input: unknown; env: Record<string, string>; argv: string[] };
    expect(seen.argv).toEqual(['a b', `$(touch ${dir}/shell)`]);
    expect(existsSync(join(dir, 'shell'))).toBe(false);
    expect(seen.input).toEqual({
      state: 'raised',
      key: 'monitor.serial/example.com./ns1',
      severity: 'critical',
      zone: 'example.com.',
      server: 'ns1 [192.0.2.1]@53 "old"',
      message: 'ns1 serves serial 5, 7 is published',
      at: new Date(AT * 1000).toISOString().replace(/\.000Z$/, 'Z'),
      details: { serial: 5 },
    });
    expect(seen.env).toEqual({
      HMS_ALARM_STATE: 'raised',
      HMS_ALARM_KEY: 'monitor.serial/example.com./ns1',
      HMS_ALARM_SEVERITY: 'critical',
      HMS_ALARM_ZONE: 'example.com.',
      HMS_ALARM_SERVER: 'ns1 [192.0.2.1]@53 "old"',
      HMS_ALARM_MESSAGE: 'ns1 serves serial 5, 7 is published',
      HMS_ALARM_AT: new Date(AT * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    });
  });

  it('rejects a command that exits other than 0 (with what it said), that cannot start, and kills one that overruns its time', async () => {
    await commandAlarmSink([process.execPath, '-e', 'process.stdin.resume()'], 5000).deliver(CLEARED);
    await expect(commandAlarmSink([process.execPath, '-e', 'console.error("pager down"); process.exit(3)'], 5000).deliver(RAISED)).rejects.toThrow(
      /exited 3: pager down/,
    );
    await expect(commandAlarmSink(['/nonexistent/page-oncall'], 5000).deliver(RAISED)).rejects.toThrow(/\/nonexistent\/page-oncall did not start: .*ENOENT/);
    const started = Date.now();
    await expect(commandAlarmSink([process.execPath, '-e', 'setTimeout(() => {}, 60000)'], 300).deliver(RAISED)).rejects.toThrow(
      /was stopped \(SIGKILL, after 300 ms at most\)/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('the webhook alarm sink', () => {
  async function hook(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
    const server = createHttpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => answer(req, res, body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('POSTs the event as JSON and resolves on a 2xx answer', async () => {
    const got: { method?: string; type?: string; path?: string; body?: unknown }[] = [];
    const base = await hook((req, res, body) => {
      got.push({ method: req.method!, type: req.headers['content-type']!, path: req.url!, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
    const sink = webhookAlarmSink(`${base}/hooks/T0KEN?x=1`, 5000);
    expect(sink.name).toBe(`webhook ${base}`);
    await sink.deliver(CLEARED);
    expect(got).toEqual([
      {
        method: 'POST',
        type: 'application/json',
        path: '/hooks/T0KEN?x=1',
        body: expect.objectContaining({ state: 'cleared', key: RAISED.alarm.key, raisedFor: 90, message: 'ns1 serves serial 7' }) as unknown,
      },
    ]);
  });

  it('rejects an answer other than 2xx, naming the origin and not the path; and a hook that does not answer in time', async () => {
    const failing = await hook((_req, res) => res.writeHead(503, 'Service Unavailable').end('busy'));
    const e = await webhookAlarmSink(`${failing}/hooks/T0KEN`, 5000)
      .deliver(RAISED)
      .catch((x: Error) => x);
    expect(String(e)).toMatch(/webhook http:\/\/127\.0\.0\.1:\d+: answered HTTP 503 Service Unavailable/);
    expect(String(e)).not.toContain('T0KEN');
    const silent = await hook(() => undefined);
    const started = Date.now();
    await expect(webhookAlarmSink(`${silent}/x`, 300).deliver(RAISED)).rejects.toThrow(/no answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(webhookAlarmSink(`http://127.0.0.1:${port}/x`, 2000).deliver(RAISED)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('the webhook alarm sink over https', () => {
  it('verifies the certificate of the hook: one the system does not trust is a failure naming why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hms-alarm-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(made.status, made.stderr).toBe(0);
    let posted = 0;
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
      posted++;
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    await expect(webhookAlarmSink(url, 5000).deliver(RAISED)).rejects.toThrow(/webhook https:\/\/127\.0\.0\.1:\d+: fetch failed: self[- ]signed certificate/);
    expect(posted).toBe(0);
  });
});

describe('sinks together', () => {
  it('a failing sink is logged once a minute at most and never stops the others', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _e, done) {
          for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
          done();
        },
      }),
    );
    let nowMs = 0;
    let now = AT;
    const delivered: string[] = [];
    const board = new AlarmBoard(
      [
        { name: 'broken', deliver: () => Promise.reject(new Error('down')) },
        { name: 'counter', deliver: (e) => (delivered.push(`${e.state} ${e.alarm.key}`), Promise.resolve()) },
      ],
      () => now,
      sinkErrorReporter(log, 60_000, () => nowMs),
    );
    for (let i = 0; i < 5; i++) {
      board.raise({ ...RAISED.alarm, key: `k${i}` });
      nowMs += 10_000;
      await new Promise((r) => setImmediate(r));
    }
    nowMs += 20_000;
    now += 30;
    board.clear('k0');
    await new Promise((r) => setImmediate(r));
    expect(delivered).toEqual(['raised k0', 'raised k1', 'raised k2', 'raised k3', 'raised k4', 'cleared k0']);
    const failures = lines.filter((l) => l.msg === 'alarm, a sink failed; the other sinks still hear');
    expect(failures).toEqual([
      expect.objectContaining({ sink: 'broken', alarmKey: 'k0', state: 'raised', reason: 'down' }),
      expect.objectContaining({ sink: 'broken', alarmKey: 'k0', state: 'cleared', notLogged: 4 }),
    ]);
  });
});

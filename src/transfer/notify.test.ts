import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { smallZone } from '../../test/helpers/zones.js';
import { RunSlots } from '../common/run-slots.js';
import { decodeHeader, Opcode } from '../dns/message.js';
import { Name } from '../dns/name.js';
import { makeTsigKey } from '../dns/tsig.js';
import { soaRecord } from '../zone/diff.js';
import type { Zone } from '../zone/zone.js';
import { notifySecondaries, type NotifyEvent, type NotifyOptions, type SecondaryReport } from './notify.js';
import { respond, type ResponderOptions } from './responder.js';
import { startTransferServer, type TransferServer } from './server.js';

const ORIGIN = Name.parse('example.com.');
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', 'c2VjcmV0LXNlY3JldC1zZWNyZXQtMzItb2N0ZXRzISE=');
const WRONG = makeTsigKey('xfr-key', 'hmac-sha256', 'AAECAwQFBgcICQoLDA0ODw==');
const OLD = smallZone(ORIGIN, 1);
const NEW = smallZone(ORIGIN, 2);

/** A fake monotonic clock: `sleep` moves it on at once and records each wait. */
function fakeTime(): Pick<NotifyOptions, 'elapsedMs' | 'sleep'> & { waits: number[] } {
  let t = 0;
  const waits: number[] = [];
  return {
    waits,
    elapsedMs: () => t,
    sleep: (ms) => {
      waits.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/**
 * A secondary played by our own transfer server (it answers NOTIFY and SOA with TSIG, from
 * `primary` only): it serves OLD, and NEW from the moment it has answered a NOTIFY when `takesNews`.
 */
async function secondary(takesNews: boolean, primary = '127.0.0.1'): Promise<TransferServer> {
  let zone: Zone = OLD;
  const server = await startTransferServer({
    listen: [{ address: '127.0.0.1', port: 0 }],
    zones: () => zone,
    keys: [KEY],
    acl: [{ address: primary, key: 'xfr-key' }],
    log: (e) => {
      if (takesNews && e.msg === 'transfer, notify answered') zone = NEW;
    },
  });
  stops.push(() => server.close());
  return server;
}

/** A secondary over UDP only that drops the first `drop` NOTIFYs, then answers as our responder does. */
async function lossySecondary(drop: number): Promise<{ port: number; notifies: () => number }> {
  const options: ResponderOptions = {
    zones: () => NEW,
    keys: [KEY],
    acl: [{ address: '127.0.0.1', key: 'xfr-key' }],
    now: () => Math.floor(Date.now() / 1000),
  };
  const socket: Socket = createSocket('udp4');
  let notifies = 0;
  socket.on('message', (msg, rinfo) => {
    if (decodeHeader(msg).opcode === Opcode.NOTIFY && ++notifies <= drop) return;
    for (const out of respond(msg, rinfo.address, 'udp', options)) socket.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  stops.push(() => new Promise((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port, notifies: () => notifies };
}

describe('NOTIFY sender and serial check (RFC 1996)', () => {
  it('issue 5 item 3: a secondary acknowledges, then serves the new serial; the report and events say so', async () => {
    const s = await secondary(true);
    const events: NotifyEvent[] = [];
    const reported: SecondaryReport[] = [];
    const time = fakeTime();
    const [report] = await notifySecondaries(ORIGIN, soaRecord(NEW), [{ ...s.addresses[0]!, key: KEY }], {
      ...time,
      log: (e) => events.push(e),
      onReport: (r) => reported.push(r),
    });
    expect(report).toMatchObject({ isAcknowledged: true, notifyTries: 1, serial: 2, isCurrent: true, lagMs: 0, errors: [], key: 'xfr-key.' });
    expect(reported).toEqual([report]);
    expect(events.map((e) => e.msg)).toEqual(['notify, acknowledged', 'notify, secondary current']);
    expect(events[1]).toMatchObject({ zone: 'example.com.', serial: 2, seenSerial: 2, secondary: `127.0.0.1#${s.addresses[0]!.port}` });
  });

  it('retries with doubling waits until the NOTIFY is acknowledged', async () => {
    const s = await lossySecondary(2);
    const time = fakeTime();
    const [report] = await notifySecondaries(ORIGIN, soaRecord(NEW), [{ address: '127.0.0.1', port: s.port, key: KEY }], { ...time, timeoutMs: 200 });
    expect(report).toMatchObject({ isAcknowledged: true, notifyTries: 3, isCurrent: true, serial: 2 });
    expect(report!.errors).toEqual(['NOTIFY: 127.0.0.1:' + s.port + ': no answer over UDP within 200 ms']);
    expect(time.waits).toEqual([1000, 2000]);
    expect(s.notifies()).toBe(3);
  });

  it('gives up after the tries and the deadline, and reports why: no answer, a wrong key, a serial that stays behind', async () => {
    const behind = await secondary(false);
    const silent = await lossySecondary(Infinity);
    const time = fakeTime();
    const events: NotifyEvent[] = [];
    const reports = await notifySecondaries(
      ORIGIN,
      soaRecord(NEW),
      [
        { address: '127.0.0.1', port: silent.port, key: KEY },
        { ...behind.addresses[0]!, key: WRONG },
        { ...behind.addresses[0]!, key: KEY },
      ],
      { ...time, tries: 3, timeoutMs: 150, checkDeadlineMs: 3000, checkIntervalMs: 1000, log: (e) => events.push(e) },
    );
    expect(reports[0]).toMatchObject({ isAcknowledged: false, notifyTries: 3, isCurrent: true });
    expect(reports[0]!.errors).toEqual([`NOTIFY: 127.0.0.1:${silent.port}: no answer over UDP within 150 ms`]);
    expect(reports[1]).toMatchObject({ isAcknowledged: false, notifyTries: 3, isCurrent: false });
    expect(reports[1]!.serial).toBeUndefined();
    expect(reports[1]!.errors.join('\n')).toMatch(/^NOTIFY: .*refused our TSIG with BADSIG \(16\).*\nSOA query: .*refused our TSIG with BADSIG \(16\)/);
    expect(reports[2]).toMatchObject({ isAcknowledged: true, notifyTries: 1, serial: 1, isCurrent: false, errors: [] });
    expect(reports[2]!.lagMs).toBeUndefined();
    expect(events.filter((e) => e.msg === 'notify, gave up')).toHaveLength(2);
    // the secondaries are worked on side by side: their events interleave
    expect(
      events
        .filter((e) => e.msg === 'notify, secondary behind')
        .map((e) => String(e.seenSerial))
        .sort(),
    ).toEqual(['1', 'undefined']);
  });

  it('issue 20: queries to one secondary go a few at a time, shared by every announcement; a silent secondary delays only its own', async () => {
    const silent = await lossySecondary(Infinity); // answers SOA queries, never a NOTIFY
    const live = await lossySecondary(0);
    const most = new Map<number, number>();
    const slots = new Map<number, RunSlots>();
    const slotsOf = (s: { port: number }): RunSlots => {
      let out = slots.get(s.port);
      if (out === undefined) {
        let now = 0;
        const counted = new RunSlots(3);
        const run = counted.run.bind(counted);
        counted.run = async (fn) =>
          run(async () => {
            most.set(s.port, Math.max(most.get(s.port) ?? 0, ++now));
            try {
              return await fn();
            } finally {
              now--;
            }
          });
        slots.set(s.port, (out = counted));
      }
      return out;
    };
    const done: { port: string; at: number }[] = [];
    const announcements = Array.from({ length: 24 }, () =>
      notifySecondaries(
        ORIGIN,
        soaRecord(NEW),
        [
          { address: '127.0.0.1', port: silent.port, key: KEY },
          { address: '127.0.0.1', port: live.port, key: KEY },
        ],
        {
          ...fakeTime(),
          tries: 2,
          timeoutMs: 50,
          checkDeadlineMs: 1,
          slots: slotsOf,
          onReport: (r) => done.push({ port: r.secondary, at: performance.now() }),
        },
      ),
    );
    const reports = await Promise.all(announcements);
    expect(reports.map((r) => r[0])).toEqual(Array(24).fill(expect.objectContaining({ isAcknowledged: false, notifyTries: 2 })));
    expect(reports.map((r) => r[1])).toEqual(Array(24).fill(expect.objectContaining({ isAcknowledged: true, isCurrent: true })));
    expect(most.get(silent.port)).toBe(3);
    expect(most.get(live.port)).toBeLessThanOrEqual(3);
    expect(silent.notifies()).toBe(48);
    // every announcement to the live secondary was done before the silent one's were (24 × 2 NOTIFYs unanswered for 50 ms, 3 at a time)
    const lastLive = Math.max(...done.filter((d) => d.port.endsWith(`#${live.port}`)).map((d) => d.at));
    const lastSilent = Math.max(...done.filter((d) => d.port.endsWith(`#${silent.port}`)).map((d) => d.at));
    expect(lastLive).toBeLessThan(lastSilent);
  });

  it('issue 20: a stop sends none of the queries still waiting their turn, so it does not wait for the queue', async () => {
    const silent = await lossySecondary(Infinity);
    const slots = new RunSlots(2);
    const stop = new AbortController();
    const announcements = Array.from({ length: 20 }, () =>
      notifySecondaries(ORIGIN, soaRecord(NEW), [{ address: '127.0.0.1', port: silent.port, key: KEY }], {
        tries: 5,
        timeoutMs: 100,
        retryDelayMs: 10,
        signal: stop.signal,
        slots: () => slots,
      }),
    );
    setTimeout(() => stop.abort(), 150);
    const reports = (await Promise.all(announcements)).map((r) => r[0]!);
    // 20 × 5 NOTIFYs of 100 ms, 2 at a time, would take 5 s; the stop came after 150 ms
    expect(silent.notifies()).toBeLessThanOrEqual(6);
    expect(reports.every((r) => !r.isAcknowledged)).toBe(true);
    expect(reports.filter((r) => r.errors.some((e) => e.includes('not sent: the service is stopping'))).length).toBeGreaterThanOrEqual(14);
  });

  it('issue 16 sends the NOTIFY and the SOA checks from the source address; one that cannot be bound is reported per secondary', async () => {
    const s = await secondary(true, '127.0.0.5');
    const target = [{ ...s.addresses[0]!, key: KEY }];
    const [fromKernel] = await notifySecondaries(ORIGIN, soaRecord(NEW), target, { ...fakeTime(), tries: 1, timeoutMs: 500, checkDeadlineMs: 0 });
    expect(fromKernel).toMatchObject({ isAcknowledged: false, isCurrent: false });
    const [report] = await notifySecondaries(ORIGIN, soaRecord(NEW), target, { ...fakeTime(), source: { ipv4: '127.0.0.5' } });
    expect(report).toMatchObject({ isAcknowledged: true, notifyTries: 1, serial: 2, isCurrent: true, errors: [] });
    const events: NotifyEvent[] = [];
    const [unbound] = await notifySecondaries(ORIGIN, soaRecord(NEW), target, {
      ...fakeTime(),
      tries: 2,
      checkDeadlineMs: 1000,
      source: { ipv4: '192.0.2.1' },
      log: (e) => events.push(e),
    });
    const why = `127.0.0.1:${s.addresses[0]!.port}: cannot send from the source address 192.0.2.1 (EADDRNOTAVAIL: not an address of this host)`;
    expect(unbound).toMatchObject({ isAcknowledged: false, notifyTries: 2, isCurrent: false, errors: [`NOTIFY: ${why}`, `SOA query: ${why}`] });
    expect(events.find((e) => e.msg === 'notify, gave up')).toMatchObject({ secondary: `127.0.0.1#${s.addresses[0]!.port}`, reason: why });
  });
});

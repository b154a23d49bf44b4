import { describe, expect, it } from 'vitest';
import { AlarmBoard, type AlarmEvent, type AlarmSink } from './alarms.js';

function recorder(): { sink: AlarmSink; events: AlarmEvent[] } {
  const events: AlarmEvent[] = [];
  return { events, sink: { name: 'test', deliver: (e) => (events.push(e), Promise.resolve()) } };
}

describe('AlarmBoard', () => {
  it('tells the sinks of a raise once, of a change, and of the clear with how long it was up', () => {
    let now = 1000;
    const { sink, events } = recorder();
    const board = new AlarmBoard(
      [sink],
      () => now,
      () => undefined,
    );
    const alarm = { key: 'monitor.serial/example.com/ns1', severity: 'warning' as const, zone: 'example.com', message: 'ns1 serves 5, 7 is published' };
    board.raise(alarm);
    now += 60;
    board.raise(alarm);
    board.raise(alarm);
    expect(events.map((e) => e.state)).toEqual(['raised']);
    board.raise({ ...alarm, severity: 'critical' });
    expect(events.map((e) => `${e.state}:${e.alarm.severity}`)).toEqual(['raised:warning', 'raised:critical']);
    expect(board.active()).toHaveLength(1);
    now += 40;
    board.clear(alarm.key, 'ns1 serves 7');
    board.clear(alarm.key);
    expect(events).toHaveLength(3);
    expect(events[2]).toMatchObject({ state: 'cleared', raisedFor: 100, alarm: { message: 'ns1 serves 7' } });
    expect(board.active()).toHaveLength(0);
  });

  it('OPS-3 takes new sinks at a reload: a sink kept hears nothing twice, a new one hears first of what is raised now (as raised when it was), a sink removed hears no more', () => {
    let now = 1000;
    const kept = recorder();
    const removed = recorder();
    const added = recorder();
    const board = new AlarmBoard(
      [kept.sink, removed.sink],
      () => now,
      () => undefined,
    );
    const alarm = { key: 'zone.input/example.com.', severity: 'warning' as const, zone: 'example.com.', message: 'input refused' };
    board.raise(alarm);
    now += 30;
    board.useSinks([kept.sink, added.sink], new Set([added.sink]));
    expect(kept.events.map((e) => e.state)).toEqual(['raised']);
    expect(added.events).toEqual([{ state: 'raised', alarm, at: 1000 }]);
    board.clear(alarm.key);
    expect(kept.events.map((e) => e.state)).toEqual(['raised', 'cleared']);
    expect(added.events.map((e) => e.state)).toEqual(['raised', 'cleared']);
    expect(removed.events.map((e) => e.state)).toEqual(['raised']);
    expect(board.sinkList).toEqual([kept.sink, added.sink]);
  });

  it('a failing sink is reported and the others still hear', async () => {
    const { sink, events } = recorder();
    const failures: string[] = [];
    const failing: AlarmSink = { name: 'webhook', deliver: () => Promise.reject(new Error('connection refused')) };
    const board = new AlarmBoard(
      [failing, sink],
      () => 0,
      (name, _e, error) => failures.push(`${name}: ${(error as Error).message}`),
    );
    board.raise({ key: 'k', severity: 'critical', message: 'm' });
    await new Promise((r) => setImmediate(r));
    expect(events).toHaveLength(1);
    expect(failures).toEqual(['webhook: connection refused']);
  });
});

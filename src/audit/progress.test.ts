import { describe, expect, it } from 'vitest';
import type { SignProgress } from '../dnssec/sign-zone.js';
import { SigningProgress, StatusLine } from './progress.js';

/** A clock the test moves (milliseconds). */
function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A terminal that keeps what is written to it. */
function terminal(columns = 120): { written: string[]; write(text: string): void; columns: number } {
  const written: string[] = [];
  return { written, columns, write: (text) => void written.push(text) };
}

const counts = (p: Partial<SignProgress>): SignProgress => ({ recordsRead: 0, recordsTotal: 1000, names: 0, namesTotal: 500, records: 0, signatures: 0, ...p });

describe('SigningProgress: how far a long signing has got (issue 19)', () => {
  it('writes a line every interval of its clock, with records read, signatures, rate, percent and time left', () => {
    const c = clock();
    const lines: [Record<string, unknown>, string][] = [];
    const p = new SigningProgress({ fields: { zone: 'example.com.' }, log: (f, m) => lines.push([f, m]), everyMs: 5000, now: c.now, timer: false });
    c.advance(5000);
    p.tick();
    expect(lines).toEqual([]); // neither reading nor signing yet: nothing to tell
    p.reading(300);
    c.advance(4999);
    p.tick();
    expect(lines).toEqual([]); // not yet 5 s
    c.advance(1);
    p.tick();
    expect(lines).toEqual([[{ zone: 'example.com.', phase: 'reading', recordsRead: 300, elapsedSeconds: 10 }, 'signing progress']]);
    // read: silent while the keys are made
    p.preparing();
    c.advance(7000);
    p.tick();
    expect(lines).toHaveLength(1);
    // signing starts (the signer's first report), then 10 s pass with a quarter of the names done
    p.update(counts({}));
    c.advance(10_000);
    p.update(counts({ recordsRead: 250, names: 125, signatures: 2000 }));
    p.tick();
    expect(lines[1]).toEqual([
      {
        zone: 'example.com.',
        phase: 'signing',
        recordsRead: 250,
        recordsTotal: 1000,
        signatures: 2000,
        signaturesPerSecond: 200,
        percent: 25,
        secondsLeft: 30, // a quarter in 10 s: three quarters in 30 s
        elapsedSeconds: 27,
      },
      'signing progress',
    ]);
    // a tick before the next interval writes nothing
    c.advance(4000);
    p.tick();
    expect(lines).toHaveLength(2);
    c.advance(1000);
    p.update(counts({ recordsRead: 500, names: 250, signatures: 3000 }));
    p.tick();
    expect(lines[2]![0]).toMatchObject({ signaturesPerSecond: 200, percent: 50, secondsLeft: 15 });
    // done: 100 %, nothing left
    p.update(counts({ recordsRead: 1000, names: 500, signatures: 6000 }));
    c.advance(5000);
    p.tick();
    expect(lines[3]![0]).toMatchObject({ percent: 100, secondsLeft: 0 });
    p.finish();
  });

  it('tells no time left before a hundredth is done, and never 100 % before the end', () => {
    const c = clock();
    const p = new SigningProgress({ now: c.now, timer: false });
    p.update(counts({}));
    c.advance(3000);
    p.update(counts({ names: 4, signatures: 10 }));
    expect(p.report(c.now())).toMatchObject({ percent: 0, secondsLeft: null, signaturesPerSecond: 3 });
    p.update(counts({ names: 499, recordsRead: 1000, signatures: 900 }));
    expect(p.report(c.now())).toMatchObject({ percent: 99 });
  });

  it('draws a bar in place on a terminal, first after its interval, and takes it away at the end', () => {
    const c = clock();
    const tty = terminal();
    const p = new SigningProgress({ fields: { zone: 'example.com.' }, bar: new StatusLine(tty), barEveryMs: 1000, everyMs: 5000, now: c.now, timer: false });
    p.update(counts({}));
    c.advance(500);
    p.tick();
    expect(tty.written).toEqual([]); // a short signing shows nothing
    c.advance(500);
    p.update(counts({ names: 250, recordsRead: 500, signatures: 1500 }));
    p.tick();
    expect(tty.written).toEqual(['\r\x1b[2Kexample.com. [##########----------] 50% 1s left, 1.5k signatures/s, 500/1.0k records read, 1.5k signatures']);
    p.finish();
    expect(tty.written.at(-1)).toBe('\r\x1b[2K');
  });

  it('a status line fits the terminal, and keeps out of the way of other lines', () => {
    const tty = terminal(30);
    const line = new StatusLine(tty);
    line.around(() => tty.write('log line 1\n')); // no line shown: written as it is
    line.show('x'.repeat(100));
    expect(tty.written.at(-1)).toBe(`\r\x1b[2K${'x'.repeat(29)}`);
    line.around(() => tty.write('log line 2\n'));
    expect(tty.written.slice(-3)).toEqual(['\r\x1b[2K', 'log line 2\n', 'x'.repeat(29)]);
    line.clear();
    line.clear();
    expect(tty.written.slice(-2)).toEqual(['x'.repeat(29), '\r\x1b[2K']);
    expect(tty.written.slice(0, 1)).toEqual(['log line 1\n']);
  });
});

import { describe, expect, it } from 'vitest';
import { RunSlots } from './run-slots.js';

describe('RunSlots (issue 20 item 4)', () => {
  it('runs at most its limit at once, the others in the order they came', async () => {
    const slots = new RunSlots(2);
    const started: number[] = [];
    const finish: (() => void)[] = [];
    let most = 0;
    let now = 0;
    const runs = [0, 1, 2, 3, 4].map((i) =>
      slots.run(async () => {
        started.push(i);
        most = Math.max(most, ++now);
        await new Promise<void>((resolve) => (finish[i] = resolve));
        now--;
        return i;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    expect(slots.queued).toBe(3);
    finish[1]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2]);
    for (const i of [0, 2, 3, 4]) {
      await new Promise((resolve) => setImmediate(resolve));
      finish[i]?.();
    }
    for (let i = 0; i < 5 && started.length < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      for (const f of finish) f?.();
    }
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  it('frees the slot of a run that fails', async () => {
    const slots = new RunSlots(1);
    await expect(slots.run(() => Promise.reject(new Error('input refused')))).rejects.toThrow('input refused');
    expect(await slots.run(() => Promise.resolve('next'))).toBe('next');
  });
});

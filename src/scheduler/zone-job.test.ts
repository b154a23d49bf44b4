import { afterEach, describe, expect, it, vi } from 'vitest';
import { ZoneJob, type RunOutcome } from './zone-job.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A pipeline that records its runs and can be held open. */
function recorder(outcomes: RunOutcome[] = []) {
  const runs: string[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const work = async (reasons: readonly string[]): Promise<RunOutcome> => {
    runs.push([...reasons]);
    if (hold) await new Promise<void>((r) => (release = r));
    return outcomes.shift() ?? { ok: true };
  };
  return {
    runs,
    work,
    holdNext: () => (hold = true),
    release: () => {
      hold = false;
      release?.();
    },
  };
}

describe('ZoneJob: one run at a time per zone, retries with backoff (OPS-7)', () => {
  it('folds the triggers that come in during a run into one next run', async () => {
    const r = recorder();
    const job = new ZoneJob('example.com.', r.work);
    r.holdNext();
    const first = job.trigger('daily re-sign');
    await Promise.resolve();
    const second = job.trigger('input changed');
    const third = job.trigger('hms zone resign');
    r.release();
    await Promise.all([first, second, third]);
    expect(r.runs).toEqual([['daily re-sign'], ['input changed', 'hms zone resign']]);
    expect(job.busy).toBe(false);
  });

  it('retries a failure that may pass after 30 s, 60 s, 120 s ... and stops retrying after a success', async () => {
    vi.useFakeTimers();
    const hsmDown = new Error('C_Sign: CKR_DEVICE_REMOVED');
    const r = recorder([{ ok: false, retry: true, error: hsmDown }, { ok: false, retry: true, error: hsmDown }, { ok: true }]);
    const delays: number[] = [];
    const job = new ZoneJob('example.com.', r.work, { onRetry: (_, ms) => delays.push(ms) });
    await job.trigger('daily re-sign');
    expect(job.failureCount).toBe(1);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(r.runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(r.runs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(r.runs).toHaveLength(3);
    expect(delays).toEqual([30_000, 60_000]);
    expect(job.failureCount).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * 3_600_000);
    expect(r.runs).toHaveLength(3);
    await job.stop();
  });

  it('does not retry a failure that waits for a person (a bad input file)', async () => {
    vi.useFakeTimers();
    const r = recorder([{ ok: false, retry: false, error: new Error('zone.db:7: bad address') }]);
    const job = new ZoneJob('example.com.', r.work);
    const outcome = await job.trigger('input changed');
    expect(outcome.ok).toBe(false);
    await vi.advanceTimersByTimeAsync(5 * 3_600_000);
    expect(r.runs).toHaveLength(1);
  });

  it("runs at the planner's next event, an earlier request replacing a later one, long waits in steps of a day", async () => {
    vi.useFakeTimers({ now: 0 });
    const r = recorder();
    const job = new ZoneJob('example.com.', r.work);
    job.at(40 * 86_400_000, 'ZSK roll');
    job.at(3 * 86_400_000, 'DS may be submitted');
    await vi.advanceTimersByTimeAsync(3 * 86_400_000 - 1000);
    expect(r.runs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.runs).toEqual([['DS may be submitted']]);
    job.at(40 * 86_400_000, 'ZSK roll');
    await vi.advanceTimersByTimeAsync(36 * 86_400_000);
    expect(r.runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1 * 86_400_000);
    expect(r.runs).toEqual([['DS may be submitted'], ['ZSK roll']]);
  });

  it('after stop() takes no more work and answers triggers with a refusal', async () => {
    const r = recorder();
    const job = new ZoneJob('example.com.', r.work);
    await job.stop();
    const o = await job.trigger('late');
    expect(o.ok).toBe(false);
    expect(r.runs).toHaveLength(0);
  });
});

import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { expect } from 'vitest';

/**
 * How the property-based fuzz tests run. In CI (no variable set) each property runs the small
 * count its test gives, so the whole of a fuzz file takes a few seconds. `HMS_FUZZ_RUNS=N`
 * (scripts/fuzz) runs each property N times instead (a property split over many record types
 * shares the N among them), checks the time each case takes, and appends one JSON line per
 * property (runs, seed, slowest case, time) to the file `HMS_FUZZ_REPORT` names.
 * `HMS_FUZZ_SEED` replays a run with the seed a failure printed.
 */
const LONG_RUNS = process.env['HMS_FUZZ_RUNS'] === undefined ? undefined : Number(process.env['HMS_FUZZ_RUNS']);
if (LONG_RUNS !== undefined && !(Number.isInteger(LONG_RUNS) && LONG_RUNS > 0)) {
  throw new Error(`HMS_FUZZ_RUNS must be a positive whole number (got ${process.env['HMS_FUZZ_RUNS']})`);
}
const SEED = process.env['HMS_FUZZ_SEED'] === undefined ? undefined : Number(process.env['HMS_FUZZ_SEED']);
const REPORT = process.env['HMS_FUZZ_REPORT'];

/** The generous bound on one case in the long runs: a hang or a blow-up, not a speed target. */
const CASE_LIMIT_MS = 2000;

export const isLongFuzz = LONG_RUNS !== undefined;

/**
 * Checks a property: `ciRuns` cases in CI, `HMS_FUZZ_RUNS * share` in the long runs. Fails the
 * test with fast-check's report (seed, path, shrunk counterexample).
 */
export function fuzz<Ts extends [unknown, ...unknown[]]>(
  label: string,
  arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => void,
  options: { readonly ciRuns: number; readonly share?: number },
): void {
  const numRuns = LONG_RUNS === undefined ? options.ciRuns : Math.max(1, Math.ceil(LONG_RUNS * (options.share ?? 1)));
  let slowest = 0;
  const timed = (...args: Ts): void => {
    if (!isLongFuzz) {
      predicate(...args);
      return;
    }
    const start = performance.now();
    predicate(...args);
    slowest = Math.max(slowest, performance.now() - start);
  };
  const property = fc.property(...arbitraries, timed);
  const started = performance.now();
  const details = fc.check(property, { numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });
  const elapsed = performance.now() - started;
  if (REPORT !== undefined) {
    appendFileSync(
      REPORT,
      `${JSON.stringify({
        property: label,
        runs: details.numRuns,
        seed: details.seed,
        failed: details.failed,
        slowestCaseMs: Math.round(slowest * 10) / 10,
        seconds: Math.round(elapsed / 100) / 10,
        rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
      })}\n`,
    );
  }
  if (details.failed) throw new Error(`${label}: ${fc.defaultReportMessage(details) ?? 'failed'}`);
  if (isLongFuzz) expect(slowest, `${label}: the slowest case (ms)`).toBeLessThan(CASE_LIMIT_MS);
}

/**
 * The crash-safety search (issue 17, item 2), as scripts/crash-search runs it: for each
 * scenario, a traced run without a kill gives the calls; the points are chosen from them (every
 * rename, fsync, fdatasync and unlink of a lab file, before and after; the first, middle and
 * last write to each lab file; `random` more from a PRNG seeded with `seed`), and each point is
 * run in a lab of its own: killed there, restarted, checked, re-signed, checked again (lab.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { choosePoints, describeCall, firing, Lab, parseTrace, prng, scenarios, type Figures, type Outcome, type Point, type ScenarioName } from './lab.js';

export interface SearchOptions {
  readonly scenarios: readonly ScenarioName[];
  readonly seed: number;
  /** Random points per scenario, beside the deterministic ones. */
  readonly random: number;
  /** At most this many points per scenario (the deterministic ones first, evenly spread); all without it. */
  readonly limit?: number;
  /** Told each outcome as it comes. */
  readonly progress?: (o: Outcome) => void;
}

export interface ScenarioResult {
  readonly scenario: ScenarioName;
  /** Failures of the traced run without a kill (and its restart): the scenario itself. */
  readonly baseline: readonly string[];
  readonly calls: number;
  readonly outcomes: readonly Outcome[];
}

/** Every `limit`-th of the points, evenly spread, so that a short run still covers the whole step. */
function spread<T>(all: readonly T[], limit: number | undefined): T[] {
  if (limit === undefined || all.length <= limit) return [...all];
  return Array.from({ length: limit }, (_, i) => all[Math.floor((i * all.length) / limit)]!);
}

/** Kill, restart, check, re-sign, check: one point in a copy of `base`. */
async function tryPoint(scenario: ScenarioName, base: Lab, point: Point): Promise<Outcome> {
  const lab = new Lab(base);
  const log = join(lab.dir, 'kill.trace');
  try {
    const run = await scenarios[scenario].step(lab, log, point);
    // the kill comes during the step or never: a run that made fewer such calls than the traced one is stopped
    const ended = await Promise.race([lab.service!.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    const killed = ended !== null && (ended.signal === 'SIGKILL' || ended.code === 137);
    if (ended !== null && !killed) lab.fail(`hms run ended by itself during the step (${JSON.stringify(ended)}): ${lab.service!.text.slice(-1500)}`);
    await lab.stop();
    await run.stop();
    const hit = firing(parseTrace(readFileSync(log, 'utf8')), point.syscall, point.n);
    if (await lab.recover(`${scenario} ${killed ? 'killed' : 'not reached, stopped'} ${point.what}`)) {
      // the scenario goes on: a re-sign through the restarted service
      const r = lab.cli(['zone', 'resign', 'example.com']);
      if (r.status !== 0) lab.fail(`the re-sign after the restart: ${r.stdout}${r.stderr}`);
      lab.checks(`${scenario} killed ${point.what}, re-signed after the restart`);
    }
    return {
      scenario,
      point,
      hit: hit === undefined ? null : describeCall(hit.line, lab.dir),
      killed,
      restarts: lab.restarts,
      failures: lab.failures,
      figures: { ...lab.figures },
    };
  } finally {
    await lab.dispose();
  }
}

export async function search(options: SearchOptions): Promise<ScenarioResult[]> {
  const next = prng(options.seed);
  const results: ScenarioResult[] = [];
  for (const scenario of options.scenarios) {
    const base = new Lab();
    try {
      await scenarios[scenario].prepare(base);
      // the traced run without a kill: the calls, and the scenario's own soundness
      const lab = new Lab(base);
      let calls: ReturnType<typeof parseTrace> = [];
      let points: Point[] = [];
      let baseline: string[] = [];
      try {
        const log = join(lab.dir, 'enumerate.trace');
        const run = await scenarios[scenario].step(lab, log, undefined);
        if (!lab.service!.alive) lab.fail(`the traced run without a kill ended: ${lab.service!.text.slice(-1500)}`);
        lab.checks(`${scenario} traced without a kill`);
        await lab.stop();
        await run.stop();
        calls = parseTrace(readFileSync(log, 'utf8'));
        if (calls.length === 0) lab.fail('the trace holds no call');
        const chosen = choosePoints(calls, lab.dir, options.random, next);
        points = spread(chosen, options.limit);
        baseline = [...lab.failures];
      } finally {
        await lab.dispose();
      }
      const outcomes: Outcome[] = [];
      for (const p of points) {
        const o = await tryPoint(scenario, base, p);
        outcomes.push(o);
        options.progress?.(o);
      }
      results.push({ scenario, baseline, calls: calls.length, outcomes });
    } finally {
      await base.dispose();
    }
  }
  return results;
}

/** The figures over every outcome. */
export function totals(results: readonly ScenarioResult[]): Figures & { points: number; restarts: number; killed: number; pointsWithFailures: number } {
  const t = {
    points: 0,
    restarts: 0,
    killed: 0,
    pointsWithFailures: 0,
    lostKeys: 0,
    orphanKeys: 0,
    reusedSerials: 0,
    lowerSerials: 0,
    invalidVersions: 0,
    integrityFailures: 0,
    auditFailures: 0,
    versionsChecked: 0,
  };
  for (const o of results.flatMap((r) => r.outcomes)) {
    t.points++;
    t.restarts += o.restarts;
    if (o.killed) t.killed++;
    if (o.failures.length > 0) t.pointsWithFailures++;
    for (const k of Object.keys(o.figures) as (keyof Figures)[]) t[k] += o.figures[k];
  }
  return t;
}

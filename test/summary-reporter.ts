import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one closing line that any CI reads, `vitest: N passed, N failed, N skipped`, after
 * vitest's own report; a run that collected no test fails.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    if (passed + failed === 0) {
      process.stdout.write('vitest: no test ran\n');
      process.exitCode = 1;
    }
  }
}

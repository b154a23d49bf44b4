#!/usr/bin/env -S node --max-semi-space-size=64
// The `hms` binary. It sets the exit code and ends the process once stdout and stderr have
// taken all they were given (process.exit never cuts output still queued on a pipe).
//
// --max-semi-space-size=64 (MiB; V8's default is 16 on 64-bit): signing makes short-lived
// objects for every signature and keeps a window of names in flight; with semi-spaces four
// times as large the young generation is collected a quarter as often, and hms's own CPU per
// signature fell from 12.0-13.2% of the signing threads' to 10.2-11.1% on a 100k-record zone
// (32 and 128 did less). Fixed at 48 (--min-semi-space-size=48 as well) looked a little
// better on 100k records in-process, but signed 1M records slower in the benchmark's own
// turns with the bare loop: 85.0% and 84.3% of the loop's rate against 87.5% and 85.6%
// with this flag, round for round. The flag changes nothing but the collector's sizing; run
// through `node dist/src/cli/main.js` hms works the same, only slower to sign. The benchmark
// runs hms with the flags of this line.
import { main } from './program.js';
import { setExitCode } from './output.js';

// A reader that goes away (`hms zone print ... | head`) is no error of ours: stop quietly,
// as command-line tools do on SIGPIPE.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  throw e;
});

setExitCode(await main(process.argv.slice(2)));

// The command is done, everything it started awaited. Left to itself node would now tear
// the heap down object by object before the process ends: 80-120 ms after reading a
// 100k-record zone, more for a larger one, added to every command's run. Exit at once.
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit();

function drained(stream: NodeJS.WriteStream): Promise<void> {
  return stream.writableLength === 0 ? Promise.resolve() : new Promise((resolve) => stream.once('drain', resolve));
}

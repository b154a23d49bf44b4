#!/usr/bin/env -S node --min-semi-space-size=48 --max-semi-space-size=48
// The `hms` binary. It sets the exit code and ends the process once stdout and stderr have
// taken all they were given (process.exit never cuts output still queued on a pipe).
//
// --min-semi-space-size=48 --max-semi-space-size=48 (MiB; by default V8 starts small and
// grows to 16 on 64-bit): signing makes short-lived objects for every signature and keeps a
// window of names in flight. Larger semi-spaces collect the young generation less often: with a
// maximum of 64, hms's own CPU per signature fell from 12.0-13.2% of the signing threads' to
// 10.2-11.1% on a 100k-record zone (a maximum of 32 or 128 did less). A fixed size does
// better still: V8 then never resizes the young generation, and marks the old one less often
// (one full collection while signing 100k records instead of three to six; how much of the
// window it promotes varied from run to run). Main thread and V8's helper threads together,
// as a share of the signing threads' CPU, over 5-10 runs each: 12.7% with a maximum of 64,
// 12.1% fixed at 32, 11.8% fixed at 48; on 1M records, one run each, 10.7% and 10.6%. The
// flags change nothing but the collector's sizing; run through `node dist/src/cli/main.js`
// hms works the same, only slower to sign. The benchmark runs hms with the flags of this line.
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

#!/usr/bin/env node
// The `hms` binary. It sets the exit code and lets stdout drain; nothing here calls process.exit
// while output may still be queued on a pipe.
import { main } from './program.js';
import { setExitCode } from './output.js';

// A reader that goes away (`hms zone print ... | head`) is no error of ours: stop quietly,
// as command-line tools do on SIGPIPE.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  throw e;
});

setExitCode(await main(process.argv.slice(2)));

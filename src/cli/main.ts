#!/usr/bin/env node
// The `hms` binary. It sets the exit code and lets stdout drain; nothing here calls process.exit
// while output may still be queued on a pipe.
import { main } from './program.js';
import { setExitCode } from './output.js';

setExitCode(await main(process.argv.slice(2)));

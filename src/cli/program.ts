import { Command, CommanderError } from 'commander';
import { EXIT } from '../common/error-codes.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerHsmCommands } from './commands/hsm.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerParentCommands } from './commands/parent.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerServiceCommands } from './commands/service.js';
import { registerSignCommands } from './commands/sign.js';
import { registerZoneCommands } from './commands/zone.js';
import { exitCodeFor, reportError } from './output.js';

/** Builds the `hms` program; exported so that tests can run commands in-process. */
export function buildProgram(): Command {
  const program = new Command('hms')
    .description('hms: a hidden-master DNSSEC signer with its keys in a PKCS#11 HSM')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerZoneCommands(program);
  registerPolicyCommands(program);
  registerSignCommands(program);
  registerHsmCommands(program);
  registerAuditCommands(program);
  registerKeyCommands(program);
  registerServiceCommands(program);
  registerParentCommands(program);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE;
    }
    reportError(error, json);
    return exitCodeFor(error);
  }
}

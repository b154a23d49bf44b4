import { Command, CommanderError } from 'commander';
import { EXIT } from '../common/error-codes.js';
import { addLogOptions, withoutLogOptions } from './log-options.js';
import { exitCodeFor, reportError } from './output.js';

type Register = (program: Command) => void;

/** The command modules, in the order `hms --help` lists what they add. */
const MODULES = {
  zone: async (): Promise<Register> => (await import('./commands/zone.js')).registerZoneCommands,
  policy: async (): Promise<Register> => (await import('./commands/policy.js')).registerPolicyCommands,
  sign: async (): Promise<Register> => (await import('./commands/sign.js')).registerSignCommands,
  hsm: async (): Promise<Register> => (await import('./commands/hsm.js')).registerHsmCommands,
  audit: async (): Promise<Register> => (await import('./commands/audit.js')).registerAuditCommands,
  keys: async (): Promise<Register> => (await import('./commands/keys.js')).registerKeyCommands,
  service: async (): Promise<Register> => (await import('./commands/service.js')).registerServiceCommands,
  parent: async (): Promise<Register> => (await import('./commands/parent.js')).registerParentCommands,
  backup: async (): Promise<Register> => (await import('./commands/backup.js')).registerBackupCommands,
  monitor: async (): Promise<Register> => (await import('./commands/monitor.js')).registerMonitorCommands,
} as const;
type ModuleName = keyof typeof MODULES;

/**
 * Commands that one module makes whole: they start without loading the rest (the service, the
 * state store, YAML, the logger and the scheduler), about 0.2 s of every `hms sign` and
 * `hms zone check`. Any other command, help and a mistyped name load every module.
 */
const ALONE: Readonly<Record<string, ModuleName>> = {
  sign: 'sign',
  'zone check': 'zone',
  'zone print': 'zone',
  hsm: 'hsm',
  policy: 'policy',
  audit: 'audit',
  monitor: 'monitor',
};

/**
 * Builds the `hms` program: for `argv` (the command line, without node and the script) the
 * modules its command needs, else every command.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const [top, sub] = withoutLogOptions(argv ?? []);
  const words = top === undefined || top.startsWith('-') ? undefined : sub === undefined || sub.startsWith('-') ? [top] : [top, sub];
  const alone = words === undefined ? undefined : (ALONE[words.join(' ')] ?? ALONE[words[0]!]);
  if (alone !== undefined) {
    const program = await programOf([alone]);
    // the module makes the command (and the subcommand asked for); else load them all
    const cmd = program.commands.find((c) => c.name() === words![0]);
    if (cmd !== undefined && (words!.length === 1 || cmd.commands.length === 0 || cmd.commands.some((c) => c.name() === words![1]))) return program;
  }
  return programOf(Object.keys(MODULES) as ModuleName[]);
}

async function programOf(modules: readonly ModuleName[]): Promise<Command> {
  const program = addLogOptions(
    new Command('hms')
      .description('hms: a hidden-master DNSSEC signer with its keys in a PKCS#11 HSM')
      .version('0.1.0')
      .showHelpAfterError('(run with --help for usage)')
      .exitOverride(),
  );
  const registers = await Promise.all(modules.map((m) => MODULES[m]()));
  for (const register of registers) register(program);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await (await buildProgram(argv)).parseAsync([...argv], { from: 'user' });
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

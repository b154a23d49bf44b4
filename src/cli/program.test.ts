import { describe, expect, it } from 'vitest';
import { buildProgram } from './program.js';

const names = (c: { commands: readonly { name(): string }[] }): string[] => c.commands.map((x) => x.name());

describe('buildProgram: a command loads the modules it needs', () => {
  it('hms sign and hms zone check start without the service, the state store and their libraries', async () => {
    expect(names(await buildProgram(['sign', '--origin', 'example.com.']))).toEqual(['sign', 'key']);
    const check = await buildProgram(['zone', 'check', 'x.zone', '--origin', 'example.com.']);
    expect(names(check)).toEqual(['zone']);
    expect(names(check.commands[0]!)).toContain('check');
  });

  it('the global log options in front of the command keep that: hms --log-format json sign loads the sign module only', async () => {
    expect(names(await buildProgram(['--log-format', 'json', '--progress-interval', '1', 'sign', '--origin', 'example.com.']))).toEqual(['sign', 'key']);
    expect(names(await buildProgram(['--log-format=pretty', 'sign']))).toEqual(['sign', 'key']);
    const program = await buildProgram(['--log-format', 'pretty', 'run']);
    expect(program.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--log-format', '--progress-interval']));
  });

  it('every other command, help, and a mistyped name get the whole program', async () => {
    const all = names(await buildProgram([]));
    expect(all).toEqual(expect.arrayContaining(['zone', 'policy', 'sign', 'key', 'hsm', 'audit', 'ds', 'approve', 'run', 'reload']));
    for (const argv of [['--help'], ['zone', 'status'], ['zone', '--help'], ['zone', 'chekc'], ['sing'], ['run', '--config', 'x.yaml']]) {
      expect(names(await buildProgram(argv)), argv.join(' ')).toEqual(all);
    }
    // zone status is made by the service module, beside zone check from the zone module
    const zone = (await buildProgram(['zone', 'status'])).commands.find((c) => c.name() === 'zone')!;
    expect(names(zone)).toEqual(expect.arrayContaining(['check', 'print', 'status', 'resign', 'history']));
  });
});

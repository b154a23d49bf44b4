import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import { out } from '../output.js';
import { changing, outAnswer, perform, reportServed, type Common } from '../request.js';
import { group, zoneName } from './keys.js';

type Row = Record<string, unknown>;

/**
 * The zone and its parent: going insecure and back (DP-4.7b/c, DP-2.5b), the parent's name
 * servers, and the automatic DS check.
 */
export function registerParentCommands(program: Command): void {
  const zone = group(program, 'zone', 'zones: files, checks, and the zones hms manages');
  changing(
    zone
      .command('set')
      .description("change what hms keeps for a managed zone: the parent's name servers for hms ds check (administrator)")
      .argument('<zone>', 'the zone apex')
      .requiredOption('--parent-server <addr...>', 'the name servers of the parent zone, ADDR[:PORT] each; replaces the list (none: give "")'),
  ).action(async (name: string, opts: Common & { parentServer: string[] }) => {
    const done = await perform(opts, 'zone.set', { zone: zoneName(name), parentServers: opts.parentServer });
    const r = done.answer.result;
    if (opts.json) return outAnswer(done);
    out(`${String(r.zone)}: parent servers ${(r.parentServers as string[]).join(', ') || 'none'}`);
  });

  changing(
    zone
      .command('insecure')
      .description("decide to take the zone insecure (DP-4.7b/c): shows what will happen and files the decision for a second person's approval (operator)")
      .argument('<zone>', 'the zone apex'),
  ).action(async (name: string, opts: Common) => {
    if (opts.ticket === undefined) throw new UsageError('--ticket: going insecure changes the DS at the parent and needs a ticket (DP-2.4f, DP-4.7c)');
    const done = await perform(opts, 'zone.insecure', { zone: zoneName(name) });
    const r = done.answer.result;
    if (opts.json) return outAnswer(done);
    out(`${String(r.zone)}: going insecure. DS at the parent now: ${(r.dsAtParent as number[]).join(', ') || 'none confirmed'}. What will happen:`);
    (r.steps as string[]).forEach((step, i) => out(`  ${i + 1}. ${step}`));
    out(`request ${String(r.request)} waits for a second person: hms approve ${String(r.request)}`);
  });

  changing(
    zone
      .command('secure')
      .description('undo going insecure before the DS is withdrawn, or restart the chain of trust of an unsigned zone with new keys (DP-2.5b) (operator)')
      .argument('<zone>', 'the zone apex'),
  ).action(async (name: string, opts: Common) => {
    const done = await perform(opts, 'zone.secure', { zone: zoneName(name) });
    const r = done.answer.result;
    if (opts.json) return outAnswer(done);
    out(`${String(r.zone)}: secure again; keys ${(r.keys as Row[]).map((k) => `${String(k.role).toUpperCase()} ${String(k.keyTag)}`).join(', ')}`);
    reportServed(done);
  });

  const ds = group(program, 'ds', 'the DS at the parent (DP-4.7): export, and confirmations approved by a second person');
  changing(
    ds
      .command('check')
      .description("ask the parent's name servers for the zone's DS, validate the answers, and file the DS steps they show (approved by a person)")
      .argument('<zone>', 'the zone apex')
      .option('--timeout <ms>', 'how long to wait for each answer', '3000'),
  ).action(async (name: string, opts: Common & { timeout: string }) => {
    if (!/^\d+$/.test(opts.timeout)) throw new UsageError(`--timeout: '${opts.timeout}' is not a number of milliseconds`);
    const done = await perform(opts, 'ds.check', { zone: zoneName(name), timeoutMs: Number(opts.timeout) });
    const r = done.answer.result as Row & {
      servers: { server: string; signer: string | null; ds: string[]; problem: string | null }[];
      filed: Row[];
      notes: string[];
      served: number[];
      foreign: string[];
    };
    if (opts.json) outAnswer(done);
    else {
      for (const s of r.servers)
        out(
          `${s.server}\t${s.problem === null ? `${s.signer ?? ''}: ${s.ds.length === 0 ? 'no DS (validated denial)' : s.ds.join(' | ')}` : `PROBLEM: ${s.problem}`}`,
        );
      out(
        `${zoneName(name)}: ${r.agree === true ? `the servers agree; our keys served: ${r.served.join(', ') || 'none'}` : 'the servers do NOT agree'}${r.foreign.length > 0 ? `; DS matching no key of ours: ${r.foreign.join(' | ')}` : ''}`,
      );
      for (const f of r.filed)
        out(`filed ${String(f.id)} (${String(f.kind)} ${String(f.keyTag)}): waits for a person's approval (hms approve ${String(f.id)})`);
      for (const n of r.notes) out(`  ${n}`);
    }
    if (r.agree !== true) process.exitCode = 6;
  });
}

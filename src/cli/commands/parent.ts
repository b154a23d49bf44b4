import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import { checkParentDs } from '../../service/parent-check.js';
import { goSecure, requestInsecure } from '../../service/requests.js';
import { out, outJson } from '../output.js';
import { asOperator, changing, group, iso, parentServers, zoneName, type Common } from './keys.js';

/**
 * The zone and its parent: going insecure and back (DP-4.7b/c, DP-2.5b), the parent's name
 * servers, and the automatic DS check.
 */
export function registerParentCommands(program: Command): void {
  const zone = group(program, 'zone', 'zones: files, checks, and the zones hms manages');
  changing(zone.command('set').description('change what hms keeps for a managed zone: the parent\'s name servers for hms ds check (administrator)')
    .argument('<zone>', 'the zone apex')
    .requiredOption('--parent-server <addr...>', 'the name servers of the parent zone, ADDR[:PORT] each; replaces the list (none: give "")'))
    .action(async (name: string, opts: Common & { parentServer: string[] }) => {
      const apex = zoneName(name);
      await asOperator(opts, 'zone.manage', apex, (keeper, acting) => {
        keeper.zone(apex);
        const servers = parentServers(opts.parentServer.filter((s) => s !== ''));
        const z = keeper.store.updateZone(apex, { parentServers: servers }, { actor: acting.who.user, ticket: acting.ticket, comment: acting.comment ?? 'parent servers set', at: acting.at });
        if (opts.json) outJson({ zone: apex, parentServers: z.parentServers });
        else out(`${apex}: parent servers ${z.parentServers.join(', ') || 'none'}`);
      });
    });

  changing(zone.command('insecure').description('decide to take the zone insecure (DP-4.7b/c): shows what will happen and files the decision for a second person\'s approval (operator)')
    .argument('<zone>', 'the zone apex'))
    .action(async (name: string, opts: Common) => {
      const apex = zoneName(name);
      if (opts.ticket === undefined) throw new UsageError('--ticket: going insecure changes the DS at the parent and needs a ticket (DP-2.4f, DP-4.7c)');
      await asOperator(opts, 'ds.request', apex, (keeper, acting) => {
        const { id, decision } = requestInsecure(keeper, apex, acting, opts.ticket!);
        if (opts.json) outJson({ request: id, ...decision });
        else {
          out(`${apex}: going insecure. DS at the parent now: ${decision.dsAtParent.join(', ') || 'none confirmed'}. What will happen:`);
          decision.steps.forEach((step, i) => out(`  ${i + 1}. ${step}`));
          out(`request ${id} waits for a second person: hms approve ${id}`);
        }
      });
    });

  changing(zone.command('secure').description('undo going insecure before the DS is withdrawn, or restart the chain of trust of an unsigned zone with new keys (DP-2.5b) (operator)')
    .argument('<zone>', 'the zone apex'))
    .action(async (name: string, opts: Common) => {
      const apex = zoneName(name);
      await asOperator(opts, 'key.roll', apex, (keeper, acting) => {
        const p = goSecure(keeper, apex, acting);
        if (opts.json) outJson({ zone: apex, status: p.status, keys: keeper.store.keys(apex).filter((k) => k.remove === null).map((k) => ({ role: k.role, keyTag: k.keyTag })), waiting: p.gates });
        else {
          out(`${apex}: secure again; keys ${keeper.store.keys(apex).filter((k) => k.remove === null).map((k) => `${k.role.toUpperCase()} ${k.keyTag}`).join(', ')}`);
          for (const g of p.gates) out(`  next, from ${iso(g.from)}: ${g.what}`);
        }
      });
    });

  const ds = group(program, 'ds', 'the DS at the parent (DP-4.7): export, and confirmations approved by a second person');
  changing(ds.command('check').description('ask the parent\'s name servers for the zone\'s DS, validate the answers, and file the DS steps they show (approved by a person)')
    .argument('<zone>', 'the zone apex')
    .option('--timeout <ms>', 'how long to wait for each answer', '3000'))
    .action(async (name: string, opts: Common & { timeout: string }) => {
      const apex = zoneName(name);
      const timeoutMs = Number(opts.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError(`--timeout: '${opts.timeout}' is not a number of milliseconds`);
      const r = await asOperator(opts, 'ds.request', apex, (keeper, acting) => checkParentDs(keeper, apex, acting, { timeoutMs }));
      if (opts.json) outJson(r);
      else {
        for (const s of r.servers) out(`${s.server}\t${s.problem === null ? `${s.signer ?? ''}: ${s.ds.length === 0 ? 'no DS (validated denial)' : s.ds.join(' | ')}` : `PROBLEM: ${s.problem}`}`);
        out(`${apex}: ${r.agree ? `the servers agree; our keys served: ${r.served.join(', ') || 'none'}` : 'the servers do NOT agree'}${r.foreign.length > 0 ? `; DS matching no key of ours: ${r.foreign.join(' | ')}` : ''}`);
        for (const f of r.filed) out(`filed ${f.id} (${f.kind} ${f.keyTag}): waits for a person's approval (hms approve ${f.id})`);
        for (const n of r.notes) out(`  ${n}`);
      }
      if (!r.agree) process.exitCode = 6;
    });
}

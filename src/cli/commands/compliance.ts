import type { Command } from 'commander';
import type { ItemStatus } from '../../compliance/check-zone.js';
import { EXIT } from '../../common/error-codes.js';
import { loadConfig } from '../../config/config.js';
import { out, outJson, setExitCode } from '../output.js';
import { configPath } from '../request.js';
import { group } from './keys.js';

/** Nagios/Icinga plugin exit codes, as `hms monitor` gives them: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
const NAGIOS: Record<ItemStatus, number> = { met: 0, warning: 1, 'not-met': 2, unknown: 3 };
const WORD: Record<ItemStatus, string> = { met: 'OK', warning: 'WARNING', 'not-met': 'CRITICAL', unknown: 'UNKNOWN' };

/** `hms check compliance` (DK-17..DK-23, DP-3.3) and `hms report dps` (DP-5.1, OPS-8): docs/compliance.md. */
export function registerComplianceCommands(program: Command): void {
  const check = group(program, 'check', 'checks of what is served, for people and monitoring systems (Nagios exit codes)');
  check
    .command('compliance')
    .description(
      'check the zones as served against DK-17, DK-18, DK-19, DK-20, DK-23 and DP-3.3, asking a validating resolver about what lies outside them; exit 0 OK, 1 WARNING, 2 CRITICAL (a requirement not met), 3 UNKNOWN (could not tell)',
    )
    .argument('[zone]', 'one zone of the configuration (default: every zone)')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--resolver <addr>', 'the validating resolver, ADDR[:PORT] (default: compliance.resolver of the configuration)')
    .option('--json', 'print the result as JSON')
    .action(async (zone: string | undefined, opts: { config?: string; resolver?: string; json?: boolean }) => {
      const { checkConfiguredZones, resolverLookup } = await import('../../service/compliance-check.js');
      const config = loadConfig(configPath(opts), { secrets: false });
      const run = await checkConfiguredZones(config, resolverLookup(config, opts.resolver), zone);
      setExitCode(NAGIOS[run.status]);
      if (opts.json) return outJson(run);
      for (const z of run.zones) {
        out(`${z.zone} ${WORD[z.status]} (${z.source}, through ${run.lookup})`);
        for (const i of z.items) out(`  ${WORD[i.status].padEnd(8)} ${i.requirement.padEnd(7)} ${i.subject}: ${i.message}`);
      }
      const counts = (['not-met', 'unknown', 'warning', 'met'] as const).map(
        (s) => `${run.zones.flatMap((z) => z.items).filter((i) => i.status === s).length} ${WORD[s]}`,
      );
      out(`COMPLIANCE ${WORD[run.status]}: ${run.zones.length} zone(s), ${counts.join(', ')}`);
    });

  const report = group(program, 'report', 'reports from the running configuration');
  report
    .command('dps')
    .description(
      'each DP and DK requirement with met, not met or manual and the evidence, read from the configuration, the policies, the state and its keys (DP-5.1); Markdown, or JSON; exits 4 when a requirement is not met',
    )
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const { buildDpsReport, formatDpsMarkdown } = await import('../../compliance/dps.js');
      const { readDpsFacts } = await import('../../service/dps-facts.js');
      const facts = readDpsFacts(configPath(opts), Math.floor(Date.now() / 1000));
      const entries = buildDpsReport(facts);
      if (entries.some((e) => e.status === 'not-met')) setExitCode(EXIT.POLICY);
      if (opts.json) {
        const count = (s: string): number => entries.filter((e) => e.status === s).length;
        return outJson({
          generatedAt: new Date(facts.now * 1000).toISOString(),
          config: facts.configFile,
          state: facts.stateFile,
          summary: { met: count('met'), notMet: count('not-met'), manual: count('manual') },
          requirements: entries,
        });
      }
      for (const line of formatDpsMarkdown(facts, entries)) out(line);
    });
}

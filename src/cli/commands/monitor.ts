import type { Command } from 'commander';
import { SignerError } from '../../common/errors.js';
import { authorize } from '../../config/access.js';
import { loadConfig } from '../../config/config.js';
import { currentOperator } from '../../config/identity.js';
import { Name } from '../../dns/name.js';
import { networkIo } from '../../monitor/io.js';
import { PLUGIN_EXIT, pluginOutput, runMonitor, summarize, type MonitorRun } from '../../monitor/monitor.js';
import type { Finding, MonitorThresholds, ZoneFacts } from '../../monitor/types.js';
import { loadZoneFile, SIGNED_FILE_LIMITS } from '../../service/load-zone.js';
import { monitorFacts, signedFileOf } from '../../service/monitor-facts.js';
import { StateStore } from '../../storage/state.js';
import { out, outJson } from '../output.js';
import { configPath } from '../request.js';

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * `hms monitor [ZONE]`: the checks of every secondary and NS of the zones (DP-2.9a-e) once, as
 * a Nagios/Icinga plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, one line with perfdata
 * and a line per finding, or JSON. It reads the configuration, the state (read-only) and the
 * signed versions on disk; a running service is neither needed nor disturbed.
 */
export function registerMonitorCommands(program: Command): void {
  program
    .command('monitor')
    .description('check what every secondary and name server of the zones serves (DP-2.9a-e); Nagios/Icinga exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN')
    .argument('[zone]', 'one zone (default: every zone of the configuration)')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--json', 'print the run as JSON')
    .action(async (zone: string | undefined, opts: { config?: string; json?: boolean }) => {
      let run: MonitorRun;
      let thresholds: MonitorThresholds;
      try {
        const config = loadConfig(configPath(opts));
        const name =
          zone === undefined
            ? null
            : Name.parse(zone.endsWith('.') ? zone : `${zone}.`)
                .toLowerCase()
                .toString();
        authorize(config.access, currentOperator(), 'read', name);
        const service = config.service;
        thresholds = service.monitor;
        const zones = service.zones.filter((z) => name === null || z.name === name);
        if (name !== null && zones.length === 0) throw new SignerError('USAGE', `zone ${name} is not in ${config.file}`);
        const facts: ZoneFacts[] = [];
        const missing: Finding[] = [];
        const store = StateStore.open(config.state, { readonly: true });
        try {
          for (const z of zones) {
            const row = store.getZone(z.name);
            let signed;
            try {
              signed = loadZoneFile(signedFileOf(service, z.name), Name.parse(z.name), undefined, SIGNED_FILE_LIMITS);
            } catch (e) {
              missing.push({ zone: z.name, server: 'hms', check: 'answer', status: 'UNKNOWN', message: `no signed version to check against: ${reason(e)}` });
              continue;
            }
            facts.push(
              await monitorFacts(service, z.name, {
                signed,
                signedAt: row?.lastSigned ?? null,
                keys: row === undefined ? [] : store.keys(z.name),
                parentServers: row?.parentServers ?? [],
              }),
            );
          }
        } finally {
          store.close();
        }
        const now = (): number => Math.floor(Date.now() / 1000);
        const checked = await runMonitor(facts, networkIo({ timeoutMs: service.monitor.timeoutMs, source: service.source }), now, service.monitor);
        run = summarize(checked.at, [...missing, ...checked.findings]);
      } catch (e) {
        if (opts.json === true) outJson({ status: 'UNKNOWN', error: e instanceof SignerError ? e.toJSON() : { code: 'INTERNAL', message: reason(e) } });
        else out(`HMS MONITOR UNKNOWN - ${reason(e)}`);
        process.exitCode = PLUGIN_EXIT.UNKNOWN;
        return;
      }
      if (opts.json === true) outJson({ ...run, at: new Date(run.at * 1000).toISOString(), exit: PLUGIN_EXIT[run.status], thresholds });
      else out(pluginOutput(run, thresholds));
      process.exitCode = PLUGIN_EXIT[run.status];
    });
}

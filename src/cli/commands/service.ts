import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { isoSeconds } from '../../common/clock.js';
import { UsageError } from '../../common/errors.js';
import { createLogger } from '../../audit/logger.js';
import { StatusLine } from '../../audit/progress.js';
import { startControlServer } from '../../service/control.js';
import { Service, type ZoneStatus } from '../../service/daemon.js';
import { logChoice } from '../log-options.js';
import { out, outJson } from '../output.js';
import { changing, common, configPath, outAnswer, perform, reportServed, type Common } from '../request.js';
import { group, zoneName } from './keys.js';

function showStatus(s: ZoneStatus): string {
  const t = (x: number | null): string => (x === null ? '-' : isoSeconds(x));
  return `${s.zone}\tserial ${s.serial ?? '-'}\tsigned ${t(s.signedAt)}\texpires ${t(s.expires)}${s.busy ? '\tworking' : ''}${s.failures > 0 ? `\t${s.failures} failure(s): ${s.lastError ?? ''}` : ''}`;
}

function showOne({ answer }: { answer: { result: Record<string, unknown> } }, opts: Common): void {
  const status = answer.result.status as ZoneStatus;
  if (opts.json) outJson(status);
  else out(showStatus(status));
}

export function registerServiceCommands(program: Command): void {
  program
    .command('run')
    .description(
      "run the signer service: sign every configured zone daily and on change, roll keys on time, serve the secondaries, and apply operators' requests from the control socket (SIGTERM stops, SIGHUP reloads)",
    )
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .action(async (opts: Common & { logLevel: string }, cmd: Command) => {
      const configFile = configPath(opts);
      // the log on stdout: pretty on a terminal, JSON elsewhere (--log-format says otherwise); a
      // long signing's bar on stderr when that is a terminal, with the log's lines kept above it
      const { format, progressMs } = logChoice(cmd);
      const bar = StatusLine.onStderr();
      const log = createLogger({ level: opts.logLevel, ...(format === undefined ? {} : { format }), ...(bar === undefined ? {} : { statusLine: bar }) });
      const service = await Service.start({
        configFile,
        log,
        operator: { user: `hms-service(${userInfo().username})`, groups: [] },
        signingProgress: { everyMs: progressMs, ...(bar === undefined ? {} : { bar }) },
      });
      const control = await startControlServer(service.controlPath, (request, peer) => service.handle(request, peer));
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info({ signal }, 'stopping');
          control.close();
          void service.stop().then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
        process.on('SIGHUP', () => void service.reload().catch(() => undefined));
      });
    });

  common(
    program
      .command('reload')
      .description('make the running service read its configuration again (as SIGHUP); a bad configuration is refused and the running one kept'),
  ).action(async (opts: Common) => {
    const { answer } = await perform(opts, 'reload', {});
    const changes = answer.result.changes as string[];
    if (opts.json) outJson({ changes });
    else out(changes.length === 0 ? 'reloaded: nothing changed' : `reloaded:\n${changes.map((c) => `  ${c}`).join('\n')}`);
  });

  const zone = group(program, 'zone', 'zones: files, checks, and the zones hms manages');
  common(
    zone
      .command('resign')
      .description(
        'sign the zone now in the running service and publish it; --all: every zone it serves, side by side, answering once all are asked (hms zone status follows them) (operator)',
      )
      .argument('[zone]', 'the zone apex')
      .option('--all', 'every zone the service serves'),
  ).action(async (z: string | undefined, opts: Common & { all?: true }) => {
    if ((z === undefined) === (opts.all === undefined)) throw new UsageError('hms zone resign: name one zone, or --all');
    if (z !== undefined) return showOne(await perform(opts, 'zone.resign', { zone: zoneName(z) }), opts);
    const { answer } = await perform(opts, 'zone.resign-all', {});
    const zones = answer.result.zones as string[];
    if (opts.json) outJson(answer.result);
    else out(`${zones.length} zones asked to re-sign now; hms zone status shows each one's serial and failures`);
  });
  common(zone.command('reload').description("read the zone's input again now in the running service (operator)").argument('<zone>', 'the zone apex')).action(
    async (z: string, opts: Common) => showOne(await perform(opts, 'zone.reload', { zone: zoneName(z) }), opts),
  );
  common(zone.command('status').description('what the running service serves: serial, signing time, earliest signature expiration, failures')).action(
    async (opts: Common) => {
      const { answer } = await perform(opts, 'zone.status', {});
      const status = answer.result.zones as ZoneStatus[];
      if (opts.json) outJson(status);
      else for (const s of status) out(showStatus(s));
    },
  );

  common(zone.command('history').description("the revisions of the zone's input (DP-2.6a), newest first").argument('<zone>', 'the zone apex')).action(
    async (z: string, opts: Common) => {
      const { answer } = await perform(opts, 'zone.history', { zone: zoneName(z) });
      const revisions = answer.result.revisions as {
        rev: number;
        at: number;
        serial: number;
        records: number;
        actor: string;
        source: string;
        sha256: string;
      }[];
      if (opts.json) outJson(answer.result);
      else
        for (const r of revisions)
          out(`${r.rev}\t${isoSeconds(r.at)}\tserial ${r.serial}\t${r.records} records\t${r.actor}\t${r.source}\tsha256 ${r.sha256.slice(0, 16)}`);
    },
  );

  common(
    zone
      .command('diff')
      .description('the records that differ between two revisions (DP-2.6b)')
      .argument('<zone>', 'the zone apex')
      .argument('<rev1>', 'the older revision')
      .argument('<rev2>', 'the newer revision'),
  ).action(async (z: string, rev1: string, rev2: string, opts: Common) => {
    const { answer } = await perform(opts, 'zone.diff', { zone: zoneName(z), from: rev1, to: rev2 });
    const d = answer.result as { removed: string[]; added: string[] };
    if (opts.json) outJson(answer.result);
    else for (const line of [...d.removed.map((l) => `-${l}`), ...d.added.map((l) => `+${l}`)]) out(line);
  });

  changing(
    zone
      .command('restore')
      .description("make an earlier revision the zone's input again (DP-2.6c); the running service signs it as a new version at once (operator, audited)")
      .argument('<zone>', 'the zone apex')
      .argument('<rev>', 'the revision to restore'),
  ).action(async (z: string, rev: string, opts: Common) => {
    const done = await perform(opts, 'zone.restore', { zone: zoneName(z), rev });
    const r = done.answer.result;
    if (opts.json) return outAnswer(done);
    out(`${String(r.zone)}: revision ${String(r.restored)} written to ${String(r.input)} by ${done.answer.by}`);
    reportServed(done);
  });
}

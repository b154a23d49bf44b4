import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { isoSeconds } from '../../common/clock.js';
import { UsageError } from '../../common/errors.js';
import { createLogger } from '../../audit/logger.js';
import { authorize, type Action } from '../../config/access.js';
import { loadConfig, type HmsConfig } from '../../config/config.js';
import { currentOperator } from '../../config/identity.js';
import { Name } from '../../dns/name.js';
import { writeZoneFileAtomically } from '../../storage/zone-files.js';
import { StateStore } from '../../storage/state.js';
import { openStateForWriting } from '../../service/audit-outputs.js';
import { askService, startControlServer, type ControlRequest } from '../../service/control.js';
import { Service, type ZoneStatus } from '../../service/daemon.js';
import { diffTexts } from '../../service/revisions.js';
import { memoryIncludes, textSource } from '../../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../../dns/zonefile/parser.js';
import { out, outJson } from '../output.js';
import { configPath, group } from './keys.js';
import { parseOrigin } from './zone.js';

interface Opts {
  config?: string;
  json?: boolean;
  ticket?: string;
  comment?: string;
}

const zoneName = (text: string): string => parseOrigin(text).toLowerCase().toString();

/** The configuration, and the operator checked for `action` on `zone`. */
function checked(opts: Opts, action: Action, zone: string | null): { config: HmsConfig; user: string } {
  const config = loadConfig(configPath(opts));
  const who = currentOperator();
  authorize(config.access, who, action, zone);
  return { config, user: who.user };
}

function showStatus(s: ZoneStatus): string {
  const t = (x: number | null): string => (x === null ? '-' : isoSeconds(x));
  return `${s.zone}\tserial ${s.serial ?? '-'}\tsigned ${t(s.signedAt)}\texpires ${t(s.expires)}${s.busy ? '\tworking' : ''}${s.failures > 0 ? `\t${s.failures} failure(s): ${s.lastError ?? ''}` : ''}`;
}

/** Asks the running service (its control socket) on behalf of the checked operator. */
async function ask(opts: Opts, action: Action, request: Omit<ControlRequest, 'who'>): Promise<unknown> {
  const { config, user } = checked(opts, action, request.zone ?? null);
  return askService(config.service.control, { ...request, who: user });
}

export function registerServiceCommands(program: Command): void {
  program.command('run')
    .description('run the signer service: sign every configured zone daily and on change, roll keys on time, serve the secondaries (SIGTERM stops, SIGHUP reloads)')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .action(async (opts: Opts & { logLevel: string }) => {
      const configFile = configPath(opts);
      const log = createLogger({ level: opts.logLevel });
      const service = await Service.start({ configFile, log, operator: { user: `hms-service(${userInfo().username})`, groups: [] } });
      const control = await startControlServer(loadConfig(configFile).service.control, async (request) => {
        log.info({ op: request.op, zone: request.zone, who: request.who }, 'control request');
        switch (request.op) {
          case 'resign': return service.resign(request.zone ?? '', request.who);
          case 'reload-zone': return service.reloadZone(request.zone ?? '', request.who);
          case 'reload': return service.reload();
          case 'status': return service.status();
          default: throw new UsageError(`unknown control request '${String(request.op)}'`);
        }
      });
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

  program.command('reload')
    .description('make the running service read its configuration again (as SIGHUP); a bad configuration is refused and the running one kept')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: Opts) => {
      const changes = await ask(opts, 'zone.manage', { op: 'reload' }) as string[];
      if (opts.json) outJson({ changes });
      else out(changes.length === 0 ? 'reloaded: nothing changed' : `reloaded:\n${changes.map((c) => `  ${c}`).join('\n')}`);
    });

  const zone = group(program, 'zone', 'zones: files, checks, and the zones hms manages');
  for (const [name, op, what] of [['resign', 'resign', 'sign the zone now in the running service and publish it (operator)'], ['reload', 'reload-zone', 'read the zone\'s input again now in the running service (operator)']] as const) {
    zone.command(name).description(what)
      .argument('<zone>', 'the zone apex')
      .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
      .option('--json', 'print the result as JSON')
      .action(async (z: string, opts: Opts) => {
        const status = await ask(opts, 'zone.data', { op, zone: zoneName(z) }) as ZoneStatus;
        if (opts.json) outJson(status);
        else out(showStatus(status));
      });
  }
  zone.command('status').description('what the running service serves: serial, signing time, earliest signature expiration, failures')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: Opts) => {
      const status = await ask(opts, 'read', { op: 'status' }) as ZoneStatus[];
      if (opts.json) outJson(status);
      else for (const s of status) out(showStatus(s));
    });

  zone.command('history').description('the revisions of the zone\'s input (DP-2.6a), newest first')
    .argument('<zone>', 'the zone apex')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--json', 'print the result as JSON')
    .action((z: string, opts: Opts) => {
      const apex = zoneName(z);
      const { config } = checked(opts, 'read', apex);
      const store = StateStore.open(config.state, { readonly: true });
      try {
        const revisions = store.revisions(apex);
        if (opts.json) outJson({ zone: apex, revisions });
        else for (const r of revisions) out(`${r.rev}\t${isoSeconds(r.at)}\tserial ${r.serial}\t${r.records} records\t${r.actor}\t${r.source}\tsha256 ${r.sha256.slice(0, 16)}`);
      } finally {
        store.close();
      }
    });

  zone.command('diff').description('the records that differ between two revisions (DP-2.6b)')
    .argument('<zone>', 'the zone apex')
    .argument('<rev1>', 'the older revision')
    .argument('<rev2>', 'the newer revision')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--json', 'print the result as JSON')
    .action((z: string, rev1: string, rev2: string, opts: Opts) => {
      const apex = zoneName(z);
      const { config } = checked(opts, 'read', apex);
      const store = StateStore.open(config.state, { readonly: true });
      try {
        const [a, b] = [rev1, rev2].map((r) => revisionText(store, apex, r));
        const d = diffTexts(a!, b!);
        if (opts.json) outJson({ zone: apex, from: Number(rev1), to: Number(rev2), ...d });
        else for (const line of [...d.removed.map((l) => `-${l}`), ...d.added.map((l) => `+${l}`)]) out(line);
      } finally {
        store.close();
      }
    });

  zone.command('restore').description('make an earlier revision the zone\'s input again (DP-2.6c); the running service signs it as a new version (operator, audited)')
    .argument('<zone>', 'the zone apex')
    .argument('<rev>', 'the revision to restore')
    .requiredOption('--ticket <id>', 'the ticket or change number this is done under (DP-2.4f)')
    .option('--comment <text>', 'why, for the audit trail')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
    .option('--json', 'print the result as JSON')
    .action((z: string, rev: string, opts: Opts) => {
      const apex = zoneName(z);
      const { config, user } = checked(opts, 'zone.data', apex);
      const served = config.service.zones.find((s) => s.name === apex);
      if (served?.input.kind === 'primary') throw new UsageError(`zone ${apex} comes from the primary ${served.input.primary.address}: restore it there`);
      const store = openStateForWriting(config);
      try {
        const row = store.getZone(apex);
        const file = served?.input.kind === 'file' ? served.input.file : row?.input;
        if (file === undefined) throw new UsageError(`zone ${apex} is neither configured nor managed here`);
        const text = revisionText(store, apex, rev);
        // the text is read as a zone before it replaces the input (it was accepted once; this makes sure)
        for (const _ of parseZoneFile(textSource(`revision ${rev}`, text), { origin: Name.parse(apex), include: memoryIncludes({}) })) void _;
        const at = Math.floor(Date.now() / 1000);
        store.record('zone.restore', apex, { input: file }, { input: file, revision: Number(rev) }, { actor: user, at, ticket: opts.ticket ?? null, comment: opts.comment ?? null });
        writeZoneFileAtomically(file, text.split('\n').filter((l) => l !== ''));
        if (opts.json) outJson({ zone: apex, restored: Number(rev), input: file });
        else out(`${apex}: revision ${rev} written to ${file}; the running service signs it as the next version`);
      } finally {
        store.close();
      }
    });
}

function revisionText(store: StateStore, zone: string, rev: string): string {
  const n = Number(rev);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`'${rev}' is not a revision number (hms zone history ${zone})`);
  const text = store.revisionText(zone, n);
  if (text === undefined) throw new UsageError(`zone ${zone} has no revision ${n} (hms zone history ${zone})`);
  return text;
}

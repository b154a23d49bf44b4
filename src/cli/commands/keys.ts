import type { Command } from 'commander';
import { isoSeconds } from '../../common/clock.js';
import { UsageError } from '../../common/errors.js';
import { authorize, rolesOf, type Action as Permission } from '../../config/access.js';
import { loadConfig } from '../../config/config.js';

import { currentOperator } from '../../config/identity.js';
import { DS_FORMATS, exportDigests, formatDsSubmission, planDsSubmission, type DsFormat } from '../../enforcer/ds-export.js';
import { keyState, type KeyRecord } from '../../enforcer/keys.js';
import { plan, startRollover, type Action } from '../../enforcer/planner.js';
import { timings } from '../../enforcer/timing.js';
import { Keeper, type Acting } from '../../service/keeper.js';
import { loadZoneFile } from '../../service/load-zone.js';
import { parseServer } from '../../service/parent-check.js';
import { approveRequest, requestDsStep } from '../../service/requests.js';
import { signManagedZone } from '../../service/sign-managed.js';
import { checkZone } from '../../zone/checks.js';
import { hasErrors, ZoneCheckError } from '../../zone/findings.js';
import { out, outJson } from '../output.js';
import { parseOrigin } from './zone.js';

export interface Common {
  config?: string;
  json?: boolean;
  ticket?: string;
  comment?: string;
}

/** A command group (`zone`, `key`), made once and shared by the files that add to it. */
export function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

/** The configuration file: `--config`, else HMS_CONFIG; a usage error without either. */
export function configPath(opts: { config?: string }): string {
  const path = opts.config ?? process.env.HMS_CONFIG;
  if (path === undefined || path === '') throw new UsageError('no configuration: give --config FILE or set HMS_CONFIG');
  return path;
}

/**
 * Opens the keeper as the current operator, checks the permission for the zone (given, or
 * found by `zoneOf` once the state is open), runs `fn`, closes.
 */
export async function asOperator<T>(opts: Common, permission: Permission, zone: string | null | ((k: Keeper) => string), fn: (k: Keeper, acting: Acting) => Promise<T> | T): Promise<T> {
  const config = loadConfig(configPath(opts));
  const who = currentOperator();
  if (typeof zone !== 'function') authorize(config.access, who, permission, zone);
  const keeper = Keeper.open(config);
  try {
    if (typeof zone === 'function') authorize(config.access, who, permission, zone(keeper));
    return await fn(keeper, { who, at: Math.floor(Date.now() / 1000), ticket: opts.ticket ?? null, comment: opts.comment ?? null });
  } finally {
    await keeper.close();
  }
}

export const common = (cmd: Command): Command => cmd
  .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
  .option('--json', 'print the result as JSON');
export const changing = (cmd: Command): Command => common(cmd)
  .option('--ticket <id>', 'the ticket or change number this is done under (DP-2.4f)')
  .option('--comment <text>', 'why, for the audit trail');

/** `--parent-server` values, each checked; stored as written. */
export function parentServers(list: readonly string[] | undefined): string[] {
  for (const text of list ?? []) parseServer(text);
  return [...(list ?? [])];
}

export const iso = (t: number | null): string => (t === null ? '-' : isoSeconds(t));
export const zoneName = (text: string): string => parseOrigin(text).toLowerCase().toString();

function describeKey(k: KeyRecord, now: number, readyAfter: number): Record<string, unknown> {
  return {
    role: k.role, keyTag: k.keyTag, algorithm: k.algorithm, bits: k.bits, state: keyState(k, now, readyAfter), id: k.id,
    publish: iso(k.publish), active: iso(k.active), retire: iso(k.retire), remove: iso(k.remove), dsSeen: iso(k.dsSeen), dsWithdrawn: iso(k.dsWithdrawn),
    ...(k.compromised ? { compromised: true } : {}),
  };
}

/** `hms key list ZONE` with a configuration: the zone's keys as the state has them, checked against the HSM. */
export async function listZoneKeys(name: string, opts: Common): Promise<void> {
  const apex = zoneName(name);
  await asOperator(opts, 'read', apex, (keeper, acting) => {
    const z = keeper.zone(apex);
    const t = timings(keeper.policy(z.policy), keeper.facts(z));
    const keys = keeper.keys(z).map((k) => describeKey(k, acting.at, t.publish));
    if (opts.json) outJson({ zone: apex, keys });
    else for (const k of keys) out(`${String(k.role).toUpperCase()}\t${String(k.keyTag)}\t${String(k.state)}\tpublish ${String(k.publish)}\tactive ${String(k.active)}\tretire ${String(k.retire)}\tremove ${String(k.remove)}`);
  });
}

export function registerKeyCommands(program: Command): void {
  const zone = group(program, 'zone', 'zones: files, checks, and the zones hms manages');
  changing(zone.command('add').description('manage a zone: its keys are made in the HSM at once (administrator)')
    .argument('<zone>', 'the zone apex')
    .requiredOption('--input <file>', 'the unsigned zone file')
    .requiredOption('--policy <name>', 'the key and signing policy (kasp/)')
    .option('--parent-server <addr...>', 'a name server of the parent zone, ADDR[:PORT], for hms ds check (repeatable)'))
    .action(async (name: string, opts: Common & { input: string; policy: string; parentServer?: string[] }) => {
      const apex = zoneName(name);
      await asOperator(opts, 'zone.manage', apex, (keeper, acting) => {
        keeper.policy(opts.policy);
        const data = loadZoneFile(opts.input, parseOrigin(apex));
        const findings = checkZone(data);
        if (hasErrors(findings)) throw new ZoneCheckError(apex, findings);
        if (keeper.store.getZone(apex) !== undefined) throw new UsageError(`zone ${apex} is managed already`);
        keeper.store.addZone({ name: apex, policy: opts.policy, input: opts.input, added: acting.at, saltHex: null, saltCreated: null, lastSerial: null, lastSigned: null, insecureSince: null, parentServers: parentServers(opts.parentServer) },
          { actor: acting.who.user, ticket: acting.ticket, comment: acting.comment, at: acting.at });
        const p = keeper.enforce(apex, acting);
        const keys = keeper.store.keys(apex);
        const ready = timings(keeper.policy(opts.policy), keeper.facts(keeper.zone(apex))).publish;
        if (opts.json) outJson({ zone: apex, policy: opts.policy, keys: keys.map((k) => describeKey(k, acting.at, ready)), waiting: p.gates });
        else {
          out(`${apex}: added under policy ${opts.policy}`);
          for (const k of keys) out(`  ${k.role.toUpperCase()} ${k.keyTag} (algorithm ${k.algorithm}, ${k.bits} bits)`);
          for (const g of p.gates) out(`  next, from ${iso(g.from)}: ${g.what}`);
        }
      });
    });

  common(zone.command('list').description('the zones hms manages'))
    .action(async (opts: Common) => {
      await asOperator(opts, 'read', null, (keeper) => {
        const zones = keeper.store.listZones();
        if (opts.json) outJson({ zones });
        else for (const z of zones) out(`${z.name}\tpolicy ${z.policy}\t${z.input}`);
      });
    });

  changing(zone.command('remove').description('stop managing a zone; its keys stay in the HSM (administrator)')
    .argument('<zone>', 'the zone apex'))
    .action(async (name: string, opts: Common) => {
      const apex = zoneName(name);
      await asOperator(opts, 'zone.manage', apex, (keeper, acting) => {
        keeper.zone(apex);
        const keys = keeper.store.keys(apex);
        const audit = { actor: acting.who.user, ticket: acting.ticket, comment: acting.comment, at: acting.at };
        // the records go with the zone, in one transaction; the HSM objects stay
        keeper.store.transaction(() => {
          for (const k of keys) keeper.store.deleteKey(apex, k.id, audit);
          keeper.store.removeZone(apex, audit);
        });
        out(`${apex}: no longer managed; its ${keys.length} key(s) stay in the HSM (labels hms:${apex}:...)`);
      });
    });

  changing(zone.command('sign').description('sign a managed zone as its policy and keys say now (due key events first), verify it, write it atomically (operator)')
    .argument('<zone>', 'the zone apex')
    .requiredOption('--out <file>', 'the signed zone file (replaced only when the new version verifies)'))
    .action(async (name: string, opts: Common & { out: string }) => {
      const apex = zoneName(name);
      await asOperator(opts, 'key.roll', apex, async (keeper, acting) => {
        // DP-4.6c: a child zone's DS changes only when the one signing may act for the child
        const mayChangeChildDs = (child: string): boolean => rolesOf(keeper.config.access, acting.who, child).some((r) => r === 'administrator' || r === 'operator');
        const v = await signManagedZone(keeper, apex, acting, opts.out, { mayChangeChildDs });
        if (opts.json) outJson(v);
        else {
          out(v.status === 'unsigned' ? `${apex}: insecure, written UNSIGNED, serial ${v.serial}, ${v.records} records, to ${v.out}`
            : `${apex}: signed, serial ${v.serial}, ${v.records} records (${v.signatures} signatures), keys ${v.keys.map((k) => `${k.keyTag} (${k.signs})`).join(', ')}${v.cdsDelete ? ', CDS/CDNSKEY DELETE (going insecure)' : ''}, written to ${v.out}`);
          for (const c of v.children) {
            out(`  child ${c.zone}: DS ${c.keyTags.join(', ') || 'none'}${c.seen.length > 0 ? `; now published: ${c.seen.join(', ')}` : ''}${c.withdrawn.length > 0 ? `; now withdrawn: ${c.withdrawn.join(', ')}` : ''}${c.heldBack ? `; its changes held back: ${acting.who.user} may not act for ${c.zone} (DP-4.6c)` : ''}`);
          }
        }
      });
    });

  const key = group(program, 'key', 'keys in the HSM and their lifecycle');
  changing(key.command('rollover').description('start a key roll (KSK: operator-triggered, DP-4.3b; --emergency: compromised key, DP-2.5a)')
    .argument('<zone>', 'the zone apex')
    .option('--ksk', 'roll the KSK (or the CSK)')
    .option('--zsk', 'roll the ZSK')
    .option('--emergency', 'the key is believed compromised: replace it at once, at a risk the command states'))
    .action(async (name: string, opts: Common & { ksk?: boolean; zsk?: boolean; emergency?: boolean }) => {
      if (opts.ksk === opts.zsk) throw new UsageError('say which key: --ksk or --zsk');
      const apex = zoneName(name);
      await asOperator(opts, 'key.roll', apex, (keeper, acting) => {
        const z = keeper.zone(apex);
        const policy = keeper.policy(z.policy);
        const role = opts.zsk ? 'zsk' : policy.keys.some((k) => k.role === 'csk') ? 'csk' : 'ksk';
        const roll = startRollover({ policy, keys: keeper.keys(z), zone: keeper.facts(z), now: acting.at }, role, opts.emergency === true);
        const made = keeper.apply(z, roll.actions, acting);
        if (opts.json) outJson({ zone: apex, role, new: made.map((k) => k.keyTag), next: roll.next, ...(roll.risk === undefined ? {} : { risk: roll.risk }) });
        else {
          out(`${apex}: ${role.toUpperCase()} roll started${opts.emergency ? ' (EMERGENCY)' : ''}; new key ${made.map((k) => k.keyTag).join(', ')}`);
          if (roll.risk !== undefined) out(`RISK: ${roll.risk}`);
          out(`next: ${roll.next}`);
        }
      });
    });

  common(key.command('timeline').description('every coming key event with its date, the manual steps included')
    .argument('<zone>', 'the zone apex')
    .option('--until <date>', 'how far to look (default: two years on)'))
    .action(async (name: string, opts: Common & { until?: string }) => {
      const apex = zoneName(name);
      await asOperator(opts, 'read', apex, (keeper, acting) => {
        const z = keeper.zone(apex);
        const until = opts.until === undefined ? acting.at + 2 * 365 * 86400 : Date.parse(opts.until) / 1000;
        if (Number.isNaN(until)) throw new UsageError(`--until: '${opts.until ?? ''}' is not a date`);
        const events = timeline(keeper.policy(z.policy), keeper.keys(z), keeper.facts(z), acting.at, until, z.saltCreated);
        if (opts.json) outJson({ zone: apex, from: iso(acting.at), until: iso(until), events });
        else for (const e of events) out(`${e.at}\t${e.what}`);
      });
    });

  const ds = group(program, 'ds', 'the DS at the parent (DP-4.7): export, and confirmations approved by a second person');
  common(ds.command('export').description('what may be submitted to the registrar now: DS or DNSKEY records of the keys to add, or an EPP secDNS-1.1 update (add and rem); says so, and from when, when nothing may')
    .argument('<zone>', 'the zone apex')
    .option('--format <format>', 'ds, dnskey or epp', 'ds')
    .option('--digest <type>', 'sha256 or sha384 (sha1 only if the policy lists it); default: the policy\'s ds-digests'))
    .action(async (name: string, opts: Common & { format: string; digest?: string }) => {
      if (!(DS_FORMATS as readonly string[]).includes(opts.format)) throw new UsageError(`--format: '${opts.format}' is not ds, dnskey or epp`);
      const apex = zoneName(name);
      await asOperator(opts, 'ds.export', apex, (keeper, acting) => {
        const z = keeper.zone(apex);
        const policy = keeper.policy(z.policy);
        const digests = exportDigests(policy, opts.digest);
        const s = planDsSubmission({ policy, keys: keeper.keys(z), zone: keeper.facts(z), now: acting.at, insecure: z.insecureSince !== null });
        const records = formatDsSubmission(parseOrigin(apex), s, opts.format as DsFormat, digests, policy.ttl.dnskey);
        const tags = (ks: readonly KeyRecord[]): number[] => ks.map((k) => k.keyTag);
        if (opts.json) {
          outJson({ zone: apex, format: opts.format, parent: tags(s.parent), wanted: tags(s.wanted), add: tags(s.change.add), remove: tags(s.change.remove), records: records === '' ? null : records, nextFrom: s.nextFrom === null ? null : iso(s.nextFrom), note: s.note });
        } else {
          process.stdout.write(records);
          process.stderr.write(`${apex}: ${s.note}\n`);
        }
      });
    });

  for (const kind of ['seen', 'withdraw'] as const) {
    changing(ds.command(kind).description(kind === 'seen'
      ? 'confirm that the parent serves the DS of a key (takes effect when a second person approves)'
      : 'confirm that the parent no longer serves the DS of a key (takes effect when a second person approves)')
      .argument('<zone>', 'the zone apex')
      .requiredOption('--keytag <n>', 'the key tag of the DS'))
      .action(async (name: string, opts: Common & { keytag: string }) => {
        const apex = zoneName(name);
        if (opts.ticket === undefined) throw new UsageError('--ticket: a DS change at the parent needs a ticket (DP-2.4f, DP-4.7d)');
        await asOperator(opts, 'ds.request', apex, (keeper, acting) => {
          const tag = Number(opts.keytag);
          if (!Number.isInteger(tag)) throw new UsageError(`--keytag: '${opts.keytag}' is not a key tag`);
          const step = kind === 'seen' ? 'ds-seen' : 'ds-withdrawn';
          const id = requestDsStep(keeper, apex, step, tag, acting, opts.ticket!);
          if (opts.json) outJson({ zone: apex, request: id, kind: step, keyTag: tag });
          else out(`${apex}: request ${id} (${step} ${tag}) waits for a second person: hms approve ${id}`);
        });
      });
  }

  changing(program.command('approve').description('approve a request made by another person (DP-4.7d); it takes effect at once')
    .argument('<request>', 'the request ID'))
    .action(async (id: string, opts: Common) => {
      const requestZone = (k: Keeper): string => {
        const r = k.store.getRequest(id);
        if (r === undefined) throw new UsageError(`no request ${id}`);
        return r.zone;
      };
      await asOperator(opts, 'approve', requestZone, (keeper, acting) => {
        const { request: r, done, plan: p } = approveRequest(keeper, id, acting);
        if (opts.json) outJson({ request: r.id, zone: r.zone, kind: r.kind, approvedBy: acting.who.user, status: p.status, waiting: p.gates });
        else {
          out(`${r.id}: approved by ${acting.who.user}; ${done} for ${r.zone}`);
          for (const g of p.gates) out(`  still waiting, from ${iso(g.from)}: ${g.what}`);
        }
      });
    });
}

/**
 * The coming events of a zone's keys, worked out with the planner on a copy of the keys:
 * automatic steps by their dates, manual gates where the roll would wait for people.
 */
export function timeline(policy: Parameters<typeof plan>[0]['policy'], start: readonly KeyRecord[], zone: Parameters<typeof plan>[0]['zone'], from: number, until: number, saltCreated: number | null): { at: string; what: string }[] {
  const keys = [...start];
  const events: { at: string; what: string }[] = [];
  let salt = saltCreated ?? undefined;
  let now = from;
  let n = 0;
  const apply = (actions: readonly Action[]): void => {
    for (const a of actions) {
      if (a.kind === 'generate') {
        const id = `future-${n++}`;
        keys.push({ id, role: a.role, algorithm: a.algorithm, bits: a.bits, keyTag: 0, dnskey: new Uint8Array(), created: now, publish: a.publish, active: a.active, retire: null, remove: null, dsSeen: null, dsWithdrawn: null, successorOf: a.successorOf, compromised: false });
        events.push({ at: iso(now), what: `new ${a.role.toUpperCase()} ${a.publish === null ? 'made (its DS first; published once the parent serves it)' : 'published'}${a.active === null ? '' : `, signs from ${iso(a.active)}`}: ${a.reason}` });
      } else if (a.kind === 'schedule') {
        const i = keys.findIndex((k) => k.id === a.keyId);
        const k = keys[i]!;
        keys[i] = { ...k, ...(a.publish === undefined ? {} : { publish: a.publish }), ...(a.retire === undefined ? {} : { retire: a.retire }), ...(a.remove === undefined ? {} : { remove: a.remove }) };
        const tag = k.keyTag === 0 ? 'the new key' : String(k.keyTag);
        events.push({ at: iso(now), what: `${k.role.toUpperCase()} ${tag}: ${a.publish === undefined ? '' : `published ${iso(a.publish)}, `}${a.retire === undefined ? '' : `stops signing ${iso(a.retire)}, `}${a.remove === undefined ? '' : `removed ${iso(a.remove)}`}` });
      } else {
        salt = now;
        events.push({ at: iso(now), what: `new NSEC3 salt: ${a.reason}` });
      }
    }
  };
  const seenGates = new Set<string>();
  for (let guard = 0; now <= until && guard < 1000; guard++) {
    const p = plan({ policy, keys, zone, now, ...(salt === undefined ? {} : { saltCreated: salt }) });
    apply(p.actions);
    if (p.actions.length > 0) continue;
    for (const g of p.gates) {
      const key = `${g.kind}:${g.keyId}`;
      if (seenGates.has(key)) continue;
      seenGates.add(key);
      events.push({ at: iso(Math.max(g.from, now)), what: `MANUAL (${g.kind}): ${g.what}; the roll waits until it is confirmed and approved` });
    }
    if (p.next === null || p.next > until) break;
    now = p.next;
  }
  for (const kp of policy.keys) if (kp.lifetime === null) events.push({ at: '-', what: `${kp.role.toUpperCase()}: no automatic roll (rolled by an operator: hms key rollover --${kp.role === 'zsk' ? 'zsk' : 'ksk'})` });
  return events;
}

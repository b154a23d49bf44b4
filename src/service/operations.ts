import { isoSeconds, parseUtcTime } from '../common/clock.js';
import { statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { AuditChainError, PermissionError, SignerError, UsageError } from '../common/errors.js';
import { rolesOf, type Action as Permission } from '../config/access.js';
import type { HmsConfig } from '../config/config.js';
import { Name } from '../dns/name.js';
import { memoryIncludes, textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { DS_FORMATS, exportDigests, formatDsSubmission, planDsSubmission, type DsFormat } from '../enforcer/ds-export.js';
import { keyState, type KeyRecord } from '../enforcer/keys.js';
import type { RevisionRepository } from '../enforcer/ports.js';
import { startRollover } from '../enforcer/planner.js';
import { timeline } from '../enforcer/timeline.js';
import { timings } from '../enforcer/timing.js';
import { writeZoneFileAtomically } from '../storage/zone-files.js';
import { checkZone } from '../zone/checks.js';
import { hasErrors, ZoneCheckError } from '../zone/findings.js';
import { verifyAuditTrail } from './audit-verify.js';
import { createBackup, manifestDigest } from './backup.js';
import type { Acting, Keeper, OrphanKey, PendingSeen } from './keeper.js';
import { loadZoneFile } from './load-zone.js';
import { checkParentDs, parentDs, parseServer } from './parent-check.js';
import { approveRequest, goSecure, requestDsStep, requestInsecure, type DsStep } from './requests.js';
import { diffTexts } from './revisions.js';
import { importKeys } from './key-import.js';
import { signManagedZone } from './sign-managed.js';

/**
 * Every operator action, as one request: what it needs (its parameters, checked here), the
 * role it needs for which zone (DP-2.8b), and what it does. The running service applies them
 * one at a time from its control socket; without a service the CLI applies the same request
 * in-process under the state's lock (`Authority`). An operation that changes what a zone
 * serves names the zone in `publish`: the service signs, publishes and NOTIFYs it at once.
 */
export interface Operation<P = unknown> {
  /** The permission the caller needs, for the zone `zoneOf` gives (null: every zone). */
  readonly permission: Permission;
  /** Does it change the state? Reads go through the service too, but need no lock. */
  readonly writes: boolean;
  /** Only the running service can do it (it acts on what the service serves). */
  readonly serviceOnly?: true;
  /** Checks the request's parameters: a UsageError naming the one that is wrong. */
  parse(params: Params): P;
  zoneOf(p: P, keeper: Keeper): string | null;
  apply(ctx: OperationContext, p: P, acting: Acting): Promise<Applied> | Applied;
}

/** What an operation needs: the state and HSM, the configuration, and the service when it runs. */
export interface OperationContext {
  readonly keeper: Keeper;
  readonly config: HmsConfig;
  /** The running service's own actions; undefined in the CLI's in-process mode. */
  readonly service?: ServiceActions;
  /**
   * The uid the kernel gave for a request from the socket; undefined in-process, where the
   * caller's own process reads and writes. A file the service opens for a caller must be one
   * the caller could read: the service's account reads more than its operators may.
   */
  readonly callerUid?: number;
}

/** What only the running service can do for a request. */
export interface ServiceActions {
  resign(zone: string, reason: string): Promise<unknown>;
  reload(): Promise<string[]>;
  status(): readonly { readonly zone: string }[];
  /** The zone's keys in the token changed outside a run (an orphan purged): its orphan alarm is checked again. */
  tokenChanged(zone: string): void;
}

export interface Applied {
  readonly result: Record<string, unknown>;
  /** Zones whose served version this changes: signed, published and NOTIFYed at once. */
  readonly publish?: readonly string[];
  /**
   * What the request waits for once its change is made (a zone's run): done after the
   * requests' write queue lets the next change through, its value the answer's result. A
   * zone's runs are one at a time by its own job; another zone's request never waits for it.
   */
  readonly after?: () => Promise<Record<string, unknown>>;
}

export type Params = Readonly<Record<string, unknown>>;

/** A request as the CLI sends it; who sends it is the kernel's word, never a field here. */
export interface ServiceRequest {
  readonly op: string;
  readonly params: Params;
  readonly ticket?: string | null;
  readonly comment?: string | null;
  /** The CLI's SUDO_USER: believed only when the peer is root (sudo runs it). */
  readonly sudoUser?: string;
}

const text = (p: Params, name: string): string => {
  const v = p[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`request: '${name}' must be a non-empty string`);
  if (v.length > 4096) throw new UsageError(`request: '${name}' is longer than 4096 characters`);
  return v;
};
const optionalText = (p: Params, name: string): string | undefined => (p[name] === undefined || p[name] === null ? undefined : text(p, name));
const flag = (p: Params, name: string): boolean => {
  const v = p[name] ?? false;
  if (typeof v !== 'boolean') throw new UsageError(`request: '${name}' must be true or false`);
  return v;
};
const texts = (p: Params, name: string): string[] => {
  const v = p[name] ?? [];
  if (!Array.isArray(v) || v.length > 64 || !v.every((x) => typeof x === 'string' && x.length <= 300))
    throw new UsageError(`request: '${name}' must be a list of at most 64 strings`);
  return v as string[];
};
const integer = (p: Params, name: string, what: string): number => {
  const v = p[name];
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new UsageError(`${what}: '${String(v)}' is not a number`);
  return n;
};

/** A zone apex as given (`example.com` or `example.com.`), lower-cased with its trailing dot. */
export function zoneParam(p: Params, name = 'zone'): string {
  const t = text(p, name);
  try {
    return Name.parse(t.endsWith('.') ? t : `${t}.`, null)
      .toLowerCase()
      .toString();
  } catch (e) {
    throw new UsageError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * A file the service reads for a caller over the socket: a regular file the caller owns, or
 * one everybody may read. Otherwise the service's account would read it for them (the PIN, a
 * TSIG secret) and its error messages could quote it.
 */
function readableByCaller(file: string, uid: number): void {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    throw new SignerError('IO', `${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (!st.isFile() || (st.uid !== uid && (st.mode & 0o004) === 0)) {
    throw new PermissionError(`${file}: the service reads a file for you only when it is a regular file that is yours or readable by everyone`, { file, uid });
  }
}

function ownerOf(dir: string): number | undefined {
  try {
    return statSync(dir).uid;
  } catch {
    return undefined;
  }
}

const auditOf = (acting: Acting): { actor: string; ticket: string | null; comment: string | null; at: number } => ({
  actor: acting.who.user,
  ticket: acting.ticket,
  comment: acting.comment,
  at: acting.at,
});

const needTicket = (acting: Acting, why: string): string => {
  if (acting.ticket === null || acting.ticket === '') throw new UsageError(`--ticket: ${why} (DP-2.4f)`);
  return acting.ticket;
};

/** A key as the CLI shows it: role, tag, state and times. */
export function describeKey(k: KeyRecord, now: number, readyAfter: number): Record<string, unknown> {
  const iso = (t: number | null): string => (t === null ? '-' : isoSeconds(t));
  return {
    role: k.role,
    keyTag: k.keyTag,
    algorithm: k.algorithm,
    bits: k.bits,
    state: keyState(k, now, readyAfter),
    id: k.id,
    publish: iso(k.publish),
    active: iso(k.active),
    retire: iso(k.retire),
    remove: iso(k.remove),
    dsSeen: iso(k.dsSeen),
    dsWithdrawn: iso(k.dsWithdrawn),
    ...(k.compromised ? { compromised: true } : {}),
  };
}

/** A key in the token that the state does not record (Keeper.reconciled), as the CLI shows it. */
function describeOrphan(o: OrphanKey): Record<string, unknown> {
  return { role: o.role, keyTag: o.keyTag, algorithm: o.algorithm, state: 'ORPHAN', id: o.id, label: o.label };
}

/** A key recorded as intended and not as made (a stop in between), as the CLI shows it: settled at the next start or key change. */
function describePending(k: PendingSeen): Record<string, unknown> {
  return { role: k.role, keyTag: k.keyTag, algorithm: k.algorithm, state: 'PENDING', inToken: k.keyTag !== null, id: k.id, label: k.label };
}

function revisionText(store: RevisionRepository, zone: string, rev: number): string {
  if (!Number.isInteger(rev) || rev < 1) throw new UsageError(`'${rev}' is not a revision number (hms zone history ${zone})`);
  const t = store.revisionText(zone, rev);
  if (t === undefined) throw new UsageError(`zone ${zone} has no revision ${rev} (hms zone history ${zone})`);
  return t;
}

const op = <P>(o: Operation<P>): Operation => o;
const heldOf = (kinds: readonly { kind: string; held: number }[]): Record<string, number> => Object.fromEntries(kinds.map((k) => [k.kind, k.held]));
const isRole = (r: string | undefined): r is 'ksk' | 'zsk' | 'csk' => r === 'ksk' || r === 'zsk' || r === 'csk';

/** `ds seen` and `ds withdraw`: a DS step at the parent, filed for a second person's approval (DP-4.7d). */
function dsStep(step: DsStep): Operation {
  return op({
    permission: 'ds.request',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p), keyTag: integer(p, 'keyTag', '--keytag') }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p, acting) => {
      const id = requestDsStep(keeper, p.zone, step, p.keyTag, acting, needTicket(acting, 'a DS change at the parent needs a ticket, DP-4.7d'));
      return { result: { zone: p.zone, request: id, kind: step, keyTag: p.keyTag } };
    },
  });
}

/** `zone resign` and `zone reload`: a run of the zone's pipeline now in the service (it reads the input either way). */
function runNow(command: 'resign' | 'reload'): Operation {
  return op({
    permission: 'zone.data',
    writes: true,
    serviceOnly: true,
    parse: (p) => ({ zone: zoneParam(p) }),
    zoneOf: (p) => p.zone,
    apply: ({ service }, p, acting) => ({
      result: {},
      after: async () => ({ status: await service!.resign(p.zone, `hms zone ${command} by ${acting.who.user}`) }),
    }),
  });
}

/**
 * `zone resign --all`: every served zone's pipeline run asked now, as one request through the
 * one writer; the runs go side by side (the token's one signing pool takes their signatures in
 * turn) after the answer, which does not wait for them: with many zones that is longer than a
 * client waits, and the writer is free meanwhile. A run that fails is logged and alarmed as
 * any run; `hms zone status` shows each zone's serial and failures.
 */
const resignAll = op({
  permission: 'zone.data',
  writes: true,
  serviceOnly: true,
  parse: () => ({}),
  zoneOf: () => null,
  apply: ({ service }, _p, acting) => {
    const zones = service!.status().map((s) => s.zone);
    for (const z of zones) void service!.resign(z, `hms zone resign --all by ${acting.who.user}`).catch(() => undefined);
    return { result: { zones } };
  },
});

/** The catalogue: every request the control socket takes, by name. */
export const OPERATIONS: Readonly<Record<string, Operation>> = {
  'zone.add': op({
    permission: 'zone.manage',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p), input: text(p, 'input'), policy: text(p, 'policy'), parentServers: texts(p, 'parentServers') }),
    zoneOf: (p) => p.zone,
    apply: async ({ keeper, callerUid }, p, acting) => {
      keeper.policy(p.policy);
      for (const s of p.parentServers) parseServer(s);
      if (callerUid !== undefined) readableByCaller(p.input, callerUid);
      const data = loadZoneFile(p.input, Name.parse(p.zone), undefined, keeper.config.service.zoneInput);
      const findings = checkZone(data);
      if (hasErrors(findings)) throw new ZoneCheckError(p.zone, findings);
      if (keeper.store.getZone(p.zone) !== undefined) throw new UsageError(`zone ${p.zone} is managed already`);
      keeper.store.addZone(
        {
          name: p.zone,
          policy: p.policy,
          input: p.input,
          added: acting.at,
          saltHex: null,
          saltCreated: null,
          lastSerial: null,
          lastSigned: null,
          insecureSince: null,
          parentServers: p.parentServers,
        },
        auditOf(acting),
      );
      await keeper.prepareKeys(p.zone, acting.at);
      const plan = keeper.enforce(p.zone, acting);
      const ready = timings(keeper.policy(p.policy), keeper.facts(keeper.zone(p.zone))).publish;
      return {
        result: { zone: p.zone, policy: p.policy, keys: keeper.store.keys(p.zone).map((k) => describeKey(k, acting.at, ready)), waiting: plan.gates },
        publish: [p.zone],
      };
    },
  }),

  'zone.list': op({
    permission: 'read',
    writes: false,
    parse: () => ({}),
    zoneOf: () => null,
    apply: ({ keeper }) => ({ result: { zones: keeper.store.listZones() } }),
  }),

  'zone.remove': op({
    permission: 'zone.manage',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p) }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper, config }, p, acting) => {
      keeper.zone(p.zone);
      // the service would manage it again at its next run, with new keys: a DS at the parent would then match none
      if (config.service.zones.some((z) => z.name === p.zone))
        throw new UsageError(
          `zone ${p.zone} is served by the service (zones in ${config.file}): take it out of the configuration and reload (hms reload) first`,
        );
      const keys = keeper.store.keys(p.zone);
      const audit = auditOf(acting);
      // the records go with the zone, in one transaction; the HSM objects stay
      keeper.store.transaction(() => {
        for (const k of keys) keeper.store.deleteKey(p.zone, k.id, audit);
        keeper.store.removeZone(p.zone, audit);
      });
      return { result: { zone: p.zone, keys: keys.length } };
    },
  }),

  'zone.set': op({
    permission: 'zone.manage',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p), parentServers: texts(p, 'parentServers').filter((s) => s !== '') }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p, acting) => {
      keeper.zone(p.zone);
      for (const s of p.parentServers) parseServer(s);
      const z = keeper.store.updateZone(p.zone, { parentServers: p.parentServers }, { ...auditOf(acting), comment: acting.comment ?? 'parent servers set' });
      return { result: { zone: p.zone, parentServers: z.parentServers } };
    },
  }),

  'zone.sign': op({
    permission: 'key.roll',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p), out: text(p, 'out') }),
    zoneOf: (p) => p.zone,
    apply: async ({ keeper, callerUid }, p, acting) => {
      // the service would write wherever its own account may: it signs the zones it serves itself
      if (callerUid !== undefined)
        throw new UsageError(
          `hms zone sign writes a file as the one who runs it: with hms run going, the service signs the zones it serves (hms zone resign ${p.zone}); stop it to sign ${p.zone} here`,
        );
      // DP-4.6c: a child zone's DS changes only when the one signing may act for the child
      const mayChangeChildDs = (child: string): boolean =>
        rolesOf(keeper.config.access, acting.who, child).some((r) => r === 'administrator' || r === 'operator');
      const v = await signManagedZone(keeper, p.zone, acting, p.out, { mayChangeChildDs });
      return { result: { ...v } };
    },
  }),

  'zone.insecure': op({
    permission: 'ds.request',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p) }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p, acting) => {
      const { id, decision } = requestInsecure(
        keeper,
        p.zone,
        acting,
        needTicket(acting, 'going insecure changes the DS at the parent and needs a ticket, DP-4.7c'),
      );
      return { result: { request: id, ...decision } };
    },
  }),

  'zone.secure': op({
    permission: 'key.roll',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p) }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p, acting) => {
      const plan = goSecure(keeper, p.zone, acting);
      const keys = keeper.store
        .keys(p.zone)
        .filter((k) => k.remove === null)
        .map((k) => ({ role: k.role, keyTag: k.keyTag }));
      return { result: { zone: p.zone, status: plan.status, keys, waiting: plan.gates }, publish: [p.zone] };
    },
  }),

  'zone.restore': op({
    permission: 'zone.data',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p), rev: integer(p, 'rev', 'revision') }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper, config }, p, acting) => {
      needTicket(acting, 'restoring a revision needs a ticket');
      const served = config.service.zones.find((s) => s.name === p.zone);
      if (served?.input.kind === 'primary') throw new UsageError(`zone ${p.zone} comes from the primary ${served.input.primary.address}: restore it there`);
      const row = keeper.store.getZone(p.zone);
      const file = served?.input.kind === 'file' ? served.input.file : row?.input;
      if (file === undefined) throw new UsageError(`zone ${p.zone} is neither configured nor managed here`);
      const t = revisionText(keeper.store, p.zone, p.rev);
      // the text is read as a zone before it replaces the input (it was accepted once; this makes sure)
      for (const _ of parseZoneFile(textSource(`revision ${p.rev}`, t), { origin: Name.parse(p.zone), include: memoryIncludes({}) })) void _;
      keeper.store.record('zone.restore', p.zone, { input: file }, { input: file, revision: p.rev }, auditOf(acting));
      writeZoneFileAtomically(
        file,
        t.split('\n').filter((l) => l !== ''),
      );
      return { result: { zone: p.zone, restored: p.rev, input: file }, publish: served === undefined ? [] : [p.zone] };
    },
  }),

  'zone.history': op({
    permission: 'read',
    writes: false,
    parse: (p) => ({ zone: zoneParam(p) }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p) => ({ result: { zone: p.zone, revisions: keeper.store.revisions(p.zone) } }),
  }),

  'zone.diff': op({
    permission: 'read',
    writes: false,
    parse: (p) => ({ zone: zoneParam(p), from: integer(p, 'from', 'revision'), to: integer(p, 'to', 'revision') }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p) => ({
      result: { zone: p.zone, from: p.from, to: p.to, ...diffTexts(revisionText(keeper.store, p.zone, p.from), revisionText(keeper.store, p.zone, p.to)) },
    }),
  }),

  'zone.resign': runNow('resign'),
  'zone.reload': runNow('reload'),
  'zone.resign-all': resignAll,

  'zone.status': op({
    permission: 'read',
    writes: false,
    serviceOnly: true,
    parse: () => ({}),
    zoneOf: () => null,
    apply: ({ service }) => ({ result: { zones: service!.status() } }),
  }),

  reload: op({
    permission: 'zone.manage',
    writes: true,
    serviceOnly: true,
    parse: () => ({}),
    zoneOf: () => null,
    apply: async ({ service }) => ({ result: { changes: await service!.reload() } }),
  }),

  'backup.create': op({
    permission: 'zone.manage',
    writes: true,
    parse: (p) => ({ dir: text(p, 'dir') }),
    zoneOf: () => null,
    apply: async (ctx, p, acting) => {
      if (!isAbsolute(p.dir)) throw new UsageError(`backup folder ${p.dir}: give an absolute path`);
      // the service's account writes it: only into a folder the caller owns
      if (ctx.callerUid !== undefined && ctx.callerUid !== 0 && ownerOf(dirname(p.dir)) !== ctx.callerUid) {
        throw new PermissionError(`${dirname(p.dir)}: the service makes a backup for you only in a folder that is yours`, { file: p.dir, uid: ctx.callerUid });
      }
      const m = await createBackup({ config: ctx.config, backupState: (path) => ctx.keeper.backupState(path) }, p.dir, new Date(acting.at * 1000));
      const summary = {
        dir: p.dir,
        manifestSha256: manifestDigest(p.dir),
        files: Object.keys(m.files).length,
        schemaVersion: m.schemaVersion,
        zones: m.zones.map((z) => z.name),
        hsm: m.hsm,
      };
      ctx.keeper.store.record('backup.create', null, null, summary, auditOf(acting));
      return { result: summary };
    },
  }),
  'audit.log': op({
    permission: 'read',
    writes: false,
    parse: (p) => {
      const since = p.since === undefined ? undefined : integer(p, 'since', '--since');
      return { zone: p.zone === undefined ? undefined : zoneParam(p), since };
    },
    zoneOf: (p) => p.zone ?? null,
    apply: ({ keeper }, p) => ({
      result: { records: keeper.store.auditLog({ ...(p.zone === undefined ? {} : { zone: p.zone }), ...(p.since === undefined ? {} : { since: p.since }) }) },
    }),
  }),

  'audit.verify': op({
    permission: 'read',
    writes: false,
    parse: () => ({}),
    zoneOf: () => null,
    apply: ({ keeper, config }) => {
      const report = verifyAuditTrail(keeper.store, [{ file: config.audit.checkpoint, kind: 'checkpoint', explicit: false }]);
      // a bad record goes out as an error: the CLI prints it (or {error} with --json) and exits 4
      if (report.firstBad !== undefined) throw new AuditChainError(config.state, report.firstBad, report.checked);
      return { result: { file: config.state, ...report } };
    },
  }),

  'key.list': op({
    permission: 'read',
    writes: false,
    parse: (p) => ({ zone: zoneParam(p) }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p, acting) => {
      const z = keeper.zone(p.zone);
      const t = timings(keeper.policy(z.policy), keeper.facts(z));
      const { records, orphans, pending } = keeper.checked(z);
      return {
        result: {
          zone: p.zone,
          keys: records.map((k) => describeKey(k, acting.at, t.publish)),
          orphans: orphans.map(describeOrphan),
          pending: pending.map(describePending),
        },
      };
    },
  }),

  // issue 20 item 3: the HSM's key pool, what it holds and its target; filled before many zones are added
  'key.pool': op({
    permission: 'read',
    writes: false,
    parse: () => ({}),
    zoneOf: () => null,
    apply: ({ keeper }) => ({ result: { kinds: keeper.keyPool().status() } }),
  }),

  'key.pool.fill': op({
    permission: 'zone.manage',
    writes: true,
    parse: (p) => ({ count: p.count === undefined || p.count === null ? undefined : integer(p, 'count', '--count') }),
    zoneOf: () => null,
    // the keys are made on the pool's own thread: the wait is outside the requests' write queue (Applied.after)
    apply: ({ keeper }, p, acting) => ({
      result: {},
      after: async () => {
        const pool = keeper.keyPool();
        const before = pool.status();
        const started = performance.now();
        const made = await pool.fill(p.count);
        const now = pool.status();
        keeper.store.record(
          'key.pool.fill',
          null,
          { held: heldOf(before) },
          { held: heldOf(now), made },
          {
            ...auditOf(acting),
            comment: acting.comment ?? `key pool filled${p.count === undefined ? ' to its size' : ` to ${p.count} of each kind`}`,
          },
        );
        return { made, seconds: Math.round((performance.now() - started) / 100) / 10, kinds: now };
      },
    }),
  }),

  'key.purge': op({
    permission: 'zone.manage',
    writes: true,
    parse: (p) => ({ zone: zoneParam(p), keyTag: integer(p, 'keyTag', '--keytag'), id: optionalText(p, 'id')?.toLowerCase(), yes: flag(p, 'yes') }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper, service }, p, acting) => {
      needTicket(acting, 'removing a key from the HSM needs a ticket');
      const recorded = keeper.store.keys(p.zone).filter((k) => k.keyTag === p.keyTag && (p.id === undefined || k.id.toLowerCase() === p.id));
      const { orphans } = keeper.reconciled(p.zone);
      const found = orphans.filter((o) => o.keyTag === p.keyTag && (p.id === undefined || o.id === p.id));
      if (found.length === 0) {
        if (recorded.length > 0) {
          throw new UsageError(
            `zone ${p.zone}: key ${p.keyTag} is recorded in the state (${recorded.map((k) => `${k.role.toUpperCase()}, id ${k.id}`).join('; ')}): it is no orphan, and hms key purge removes orphans only; a recorded key leaves by its roll (hms key rollover, hms key timeline)`,
          );
        }
        throw new UsageError(
          `zone ${p.zone}: token ${keeper.config.hsm.token} holds no orphan key ${p.keyTag}${p.id === undefined ? '' : ` with id ${p.id}`} (hms key list ${p.zone} lists the orphans)`,
        );
      }
      if (found.length > 1)
        throw new UsageError(
          `zone ${p.zone}: ${found.length} orphan keys have the key tag ${p.keyTag} (ids ${found.map((o) => o.id).join(', ')}): name one with --id`,
        );
      const orphan = found[0]!;
      if (p.yes) {
        keeper.purgeOrphan(p.zone, orphan, acting);
        service?.tokenChanged(p.zone);
      }
      return { result: { zone: p.zone, purged: p.yes, key: describeOrphan(orphan) } };
    },
  }),

  'key.import': op({
    permission: 'zone.manage',
    writes: true,
    parse: (p) => {
      const role = optionalText(p, 'role');
      if (role !== undefined && !isRole(role)) throw new UsageError(`--role: '${role}' is not ksk, zsk or csk`);
      const keyFiles = texts(p, 'keyFiles');
      const labels = texts(p, 'labels');
      const ids = texts(p, 'ids');
      if (keyFiles.length > 0 && labels.length + ids.length > 0) throw new UsageError('give BIND key files or --label/--id, not both');
      return {
        zone: zoneParam(p),
        keyFiles,
        labels,
        ids,
        role: isRole(role) ? role : undefined,
        dsSeen: flag(p, 'dsSeen'),
        dnskeys: optionalText(p, 'dnskeys'),
        input: optionalText(p, 'input'),
        policy: optionalText(p, 'policy'),
        parentServers: texts(p, 'parentServers').map((s) => (parseServer(s), s)),
      };
    },
    zoneOf: (p) => p.zone,
    apply: async ({ keeper, callerUid }, p, acting) => {
      needTicket(acting, 'taking keys into the HSM and the state needs a ticket');
      // the parent's DS, asked before anything is written: the servers given, else those the zone has
      const servers = p.parentServers.length > 0 ? p.parentServers : (keeper.store.getZone(p.zone)?.parentServers ?? []);
      const parent =
        servers.length === 0
          ? undefined
          : { servers, ...(await parentDs(servers, p.zone, acting.at, { timeoutMs: 3000, source: keeper.config.service.source })) };
      const r = importKeys(
        keeper,
        {
          zone: p.zone,
          source: p.keyFiles.length > 0 ? { kind: 'files', keyFiles: p.keyFiles } : { kind: 'token', labels: p.labels, ids: p.ids },
          ...(p.role === undefined ? {} : { role: p.role }),
          dsSeen: p.dsSeen,
          ...(p.dnskeys === undefined ? {} : { dnskeys: p.dnskeys }),
          ...(parent === undefined ? {} : { parentDs: parent }),
          ...(p.input === undefined ? {} : { input: p.input }),
          ...(p.policy === undefined ? {} : { policy: p.policy }),
          readable: (file) => {
            if (callerUid !== undefined) readableByCaller(file, callerUid);
          },
        },
        acting,
      );
      return {
        result: { zone: p.zone, added: r.added, keys: r.keys, fromFiles: p.keyFiles.length > 0 },
        publish: keeper.config.service.zones.some((z) => z.name === p.zone) ? [p.zone] : [],
      };
    },
  }),

  'key.timeline': op({
    permission: 'read',
    writes: false,
    parse: (p) => ({ zone: zoneParam(p), until: optionalText(p, 'until') }),
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p, acting) => {
      const z = keeper.zone(p.zone);
      // DK-16: a time without a zone designator is UTC
      const until = p.until === undefined ? acting.at + 2 * 365 * 86400 : parseUtcTime(p.until);
      if (until === undefined) throw new UsageError(`--until: '${p.until ?? ''}' is not an ISO 8601 date or time (UTC unless it says otherwise)`);
      const events = timeline(keeper.policy(z.policy), keeper.keys(z), keeper.facts(z), acting.at, until, z.saltCreated);
      return { result: { zone: p.zone, from: isoSeconds(acting.at), until: isoSeconds(until), events } };
    },
  }),

  'key.rollover': op({
    permission: 'key.roll',
    writes: true,
    parse: (p) => {
      const role = text(p, 'role');
      if (role !== 'ksk' && role !== 'zsk') throw new UsageError('say which key: --ksk or --zsk');
      return { zone: zoneParam(p), role, emergency: flag(p, 'emergency') };
    },
    zoneOf: (p) => p.zone,
    apply: async ({ keeper }, p, acting) => {
      const z = keeper.zone(p.zone);
      const policy = keeper.policy(z.policy);
      const role = p.role === 'zsk' ? 'zsk' : policy.keys.some((k) => k.role === 'csk') ? 'csk' : 'ksk';
      const rollNow = (): ReturnType<typeof startRollover> => {
        keeper.settlePending(p.zone, acting);
        return startRollover({ policy, keys: keeper.keys(keeper.zone(p.zone)), zone: keeper.facts(z), now: acting.at }, role, p.emergency);
      };
      // its new key made (or taken from the key pool) off the event loop; then the roll planned again, as the zone is now
      await keeper.prepareKeys(p.zone, acting.at, rollNow().actions);
      const roll = rollNow();
      const made = keeper.apply(keeper.zone(p.zone), roll.actions, acting);
      return {
        result: {
          zone: p.zone,
          role,
          emergency: p.emergency,
          new: made.map((k) => k.keyTag),
          next: roll.next,
          ...(roll.risk === undefined ? {} : { risk: roll.risk }),
        },
        publish: [p.zone],
      };
    },
  }),

  'ds.export': op({
    permission: 'ds.export',
    writes: false,
    parse: (p) => {
      const format = optionalText(p, 'format') ?? 'ds';
      if (!(DS_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format: '${format}' is not ds, dnskey or epp`);
      return { zone: zoneParam(p), format: format as DsFormat, digest: optionalText(p, 'digest') };
    },
    zoneOf: (p) => p.zone,
    apply: ({ keeper }, p, acting) => {
      const z = keeper.zone(p.zone);
      const policy = keeper.policy(z.policy);
      const digests = exportDigests(policy, p.digest);
      const s = planDsSubmission({ policy, keys: keeper.keys(z), zone: keeper.facts(z), now: acting.at, insecure: z.insecureSince !== null });
      const records = formatDsSubmission(Name.parse(p.zone), s, p.format, digests, policy.ttl.dnskey);
      const tags = (ks: readonly KeyRecord[]): number[] => ks.map((k) => k.keyTag);
      return {
        result: {
          zone: p.zone,
          format: p.format,
          parent: tags(s.parent),
          wanted: tags(s.wanted),
          add: tags(s.change.add),
          remove: tags(s.change.remove),
          records: records === '' ? null : records,
          nextFrom: s.nextFrom === null ? null : isoSeconds(s.nextFrom),
          note: s.note,
        },
      };
    },
  }),

  'ds.seen': dsStep('ds-seen'),
  'ds.withdraw': dsStep('ds-withdrawn'),

  'ds.check': op({
    permission: 'ds.request',
    writes: true,
    parse: (p) => {
      const timeoutMs = p.timeoutMs === undefined ? 3000 : integer(p, 'timeoutMs', '--timeout');
      if (timeoutMs <= 0 || timeoutMs > 60_000) throw new UsageError(`--timeout: ${timeoutMs} is not between 1 and 60000 milliseconds`);
      return { zone: zoneParam(p), timeoutMs };
    },
    zoneOf: (p) => p.zone,
    apply: async ({ keeper }, p, acting) => ({ result: { ...(await checkParentDs(keeper, p.zone, acting, { timeoutMs: p.timeoutMs })) } }),
  }),

  approve: op({
    permission: 'approve',
    writes: true,
    parse: (p) => ({ id: text(p, 'id') }),
    zoneOf: (p, keeper) => {
      const r = keeper.store.getRequest(p.id);
      if (r === undefined) throw new UsageError(`no request ${p.id}`);
      return r.zone;
    },
    apply: ({ keeper }, p, acting) => {
      const { request: r, done, plan } = approveRequest(keeper, p.id, acting);
      return {
        result: {
          request: r.id,
          zone: r.zone,
          kind: r.kind,
          approvedBy: acting.who.user,
          requestedBy: r.requestedBy,
          done,
          status: plan.status,
          waiting: plan.gates,
        },
        publish: [r.zone],
      };
    },
  }),
};

/** The operation a request names, or a UsageError listing the known ones. */
export function operation(name: string): Operation {
  const o = Object.hasOwn(OPERATIONS, name) ? OPERATIONS[name] : undefined;
  if (o === undefined) throw new UsageError(`unknown request '${name.slice(0, 64)}' (known: ${Object.keys(OPERATIONS).join(', ')})`);
  return o;
}

import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import type { HmsConfig } from '../config/config.js';
import type { Operator } from '../config/access.js';
import { Name } from '../dns/name.js';
import type { AuditSink } from '../enforcer/audit-chain.js';
import type { KeyRecord } from '../enforcer/keys.js';
import { plan, scheduled, type Action, type Plan } from '../enforcer/planner.js';
import { reconcile, type TokenKey } from '../enforcer/reconcile.js';
import type { ZoneFacts } from '../enforcer/timing.js';
import { inputTtls, zoneFacts, type InputTtls } from '../enforcer/zone-facts.js';
import { KeyPool, type PoolEvent } from '../hsm/key-pool.js';
import {
  adoptKey,
  deleteKey,
  destroyObjects,
  findKeyPair,
  findKeys,
  generateKey,
  keyLabel,
  pairLabels,
  POOL_LABEL_PREFIX,
  poolKind,
  restoreLabels,
  withAlgorithm,
  type HsmKey,
} from '../hsm/keys.js';
import { readPin } from '../hsm/pin.js';
import { Token } from '../hsm/token.js';
import type { Policy } from '../kasp/policy.js';
import type { PendingKey, StatePorts, ZoneRow } from '../enforcer/ports.js';
import type { StateStore } from '../storage/state.js';
import { openStateForWriting } from './audit-outputs.js';
import { loadZoneFile } from './load-zone.js';
import type { Zone } from '../zone/zone.js';
import { loadPolicyFile } from './load-policy.js';

/** A key the token holds under a zone's label that the state does not record (Keeper.reconciled). */
export interface OrphanKey extends TokenKey {
  readonly key: HsmKey;
}

/** A pending key (recorded as intended, not as made) as the token holds it: its key tag when the token holds its pair, else null. */
export interface PendingSeen extends PendingKey {
  readonly keyTag: number | null;
}

/** What start made of a pending key (Keeper.settlePending). */
export interface SettledKey {
  readonly pending: PendingKey;
  /** completed: the token held its pair, recorded now; dropped: the token held none (or half of one, removed). */
  readonly outcome: 'completed' | 'dropped';
  readonly keyTag: number | null;
  /** Token objects under its id removed (half a pair). */
  readonly removed: number;
}

/** Who acts, when, and why: what every change records in the audit trail (DP-2.4b, DP-2.4f). */
export interface Acting {
  readonly who: Operator;
  readonly at: UnixSeconds;
  readonly ticket: string | null;
  readonly comment: string | null;
}

/**
 * Keeps the zones' keys: the state file, the policies and the HSM together. It applies the
 * planner's actions (keys made in the HSM, times recorded, every change audited in the same
 * transaction) and refuses to go on when a recorded key is missing from the HSM: that is an
 * alarm, never a reason to make a new key silently.
 */
export class Keeper {
  private token: Token | undefined;
  /** The key pool of the token (issue 20 item 3), read on first use; `poolEvents` set: making keys ahead (the service). */
  private pool: KeyPool | undefined;
  private poolEvents: ((e: PoolEvent) => void) | undefined;
  /** The input's TTLs by zone and input file: the input is read once per keeper, not per plan. */
  private readonly inputsRead = new Map<string, InputTtls>();

  private constructor(
    private currentConfig: HmsConfig,
    private readonly state: StateStore,
    /** Read on first use: a request that needs no policy (the audit trail) needs no policy file. */
    private policies: ReadonlyMap<string, Policy> | undefined,
  ) {}

  /** The zones, keys, requests, revisions and audit trail, through the enforcer's ports (enforcer/ports.ts). */
  get store(): StatePorts {
    return this.state;
  }

  get config(): HmsConfig {
    return this.currentConfig;
  }

  /** `onSyslogError`: where a failed syslog copy of an audit record is reported (default: a process warning); `onSyslogDelivered`: told of each copy delivered. */
  static open(
    config: HmsConfig,
    options: { readonly auditSink?: AuditSink; readonly onSyslogError?: (message: string) => void; readonly onSyslogDelivered?: () => void } = {},
  ): Keeper {
    return new Keeper(config, openStateForWriting(config, options.auditSink, options.onSyslogError, options.onSyslogDelivered), undefined);
  }

  /**
   * Takes a new configuration (a service reload): the policies are read again, and the zone
   * facts forgotten. The state file and the HSM stay open; a change of either needs a restart.
   */
  reload(config: HmsConfig): void {
    this.policies = readPolicies(config);
    this.currentConfig = config;
    this.inputsRead.clear();
    this.pool?.setTargets(this.poolTargets());
  }

  /** Takes the zone's TTLs from its input as just read (the service reads the input once per run). */
  noteInput(zone: ZoneRow, data: Zone): void {
    this.inputsRead.set(`${zone.name}\0${zone.input}`, inputTtls(data));
  }

  /**
   * Closes the HSM after a failure: the next use opens it again (a lost session or device,
   * OPS-7). The token's signing pool is shared by every zone (issue 20), so the close waits
   * until no other zone's run is signing (at most `idleTimeoutMs`): one zone's failure, such
   * as a recorded key missing from the token, never fails the others' runs in flight. Where
   * the token itself is gone, their runs fail on their own and end the wait.
   */
  async resetHsm(idleTimeoutMs = 600_000): Promise<void> {
    await this.token?.signingPool?.whenIdle(idleTimeoutMs);
    const token = this.token;
    const pool = this.pool;
    this.token = undefined;
    this.pool = undefined;
    await pool?.close();
    try {
      await token?.close();
    } catch {
      // the token is gone already: nothing to close
    }
  }

  /** The zone's signatures waiting in the token's signing pool, if it is open, fail with `why` (a zone no longer served, issue 20); what the key pool promised it is released. */
  dropSigning(zone: string, why: string): void {
    this.token?.signingPool?.drop(zone, why);
    // the key pool's pairs promised to its run are the pool's again
    this.pool?.release(zone);
  }

  /** An online copy of the state file to `path` (DP-2.5d: hms backup create). */
  backupState(path: string): Promise<void> {
    return this.state.backup(path);
  }

  async close(): Promise<void> {
    this.poolEvents = undefined;
    await this.pool?.close();
    await this.token?.close();
    this.state.close();
  }

  /**
   * The token's key pool (issue 20 item 3): its pairs read from the token on first use, its
   * target per kind of key the policies of the zones here use (hsm.key-pool each).
   */
  keyPool(): KeyPool {
    const token = this.hsm();
    if (this.pool === undefined) {
      this.pool = KeyPool.open(token, this.poolTargets(), (e) => this.poolEvents?.(e));
      if (this.poolEvents !== undefined)
        void this.pool.startMaking().catch((e: unknown) => this.poolEvents?.({ kind: 'failed', key: '*', reason: e instanceof Error ? e.message : String(e) }));
    }
    return this.pool;
  }

  /**
   * Makes keys ahead from now on (the service): the key-making thread started, the pool
   * refilled in the background, and a zone's run waits for its new keys off the event loop
   * (prepareKeys). `onEvent` hears what the pool does.
   */
  async startKeyPool(onEvent: (e: PoolEvent) => void): Promise<void> {
    this.poolEvents = onEvent;
    await this.keyPool().startMaking();
  }

  /** The kinds of key the policies of the configured and managed zones make, each with the configured pool size. */
  private poolTargets(): Map<string, number> {
    const size = this.config.hsm.keyPool ?? DEFAULT_KEY_POOL;
    const names = new Set([...this.config.service.zones.map((z) => z.policy), ...this.store.listZones().map((z) => z.policy)]);
    const targets = new Map<string, number>();
    for (const name of names) {
      let policy: Policy;
      try {
        policy = this.policy(name);
      } catch {
        continue; // a zone whose policy is gone fails its own runs
      }
      for (const k of policy.keys) targets.set(poolKind({ algorithm: k.algorithm, bits: k.bits }, k.role), size);
    }
    return targets;
  }

  /**
   * Before a zone's keys change (its run, a roll): the keys the plan will make are made now,
   * or taken from the pool, off the event loop, and promised to the zone, so that apply takes
   * them without making a key on the event loop. Nothing without the key-making thread (the
   * CLI in-process: apply makes them as before).
   */
  async prepareKeys(zoneName: string, at: UnixSeconds, actions?: readonly Action[]): Promise<void> {
    if (this.poolEvents === undefined) return;
    const zone = this.store.getZone(zoneName);
    if (zone === undefined) return;
    const wanted = actions ?? this.plan(zone, at).actions;
    const kinds = wanted.flatMap((a) => (a.kind === 'generate' ? [poolKind({ algorithm: a.algorithm, bits: a.bits }, a.role)] : []));
    if (kinds.length > 0) await this.keyPool().reserve(zoneName, kinds);
  }

  policy(name: string): Policy {
    this.policies ??= readPolicies(this.config);
    const p = this.policies.get(name);
    if (p === undefined) throw new SignerError('POLICY', `no policy named '${name}' in ${this.config.policies.join(', ')}`);
    return p;
  }

  zone(name: string): ZoneRow {
    const z = this.store.getZone(name);
    if (z === undefined) throw new SignerError('USAGE', `zone ${name} is not managed here (hms zone list)`);
    return z;
  }

  /** The PKCS#11 sessions open now (0 while the HSM is not open). */
  hsmSessions(): number {
    return this.token?.openSessions ?? 0;
  }

  /** The HSM, opened on first use with the configured token and PIN. */
  hsm(): Token {
    if (this.token === undefined) {
      const pin = readPin(this.config.hsm.pinFile === undefined ? {} : { file: this.config.hsm.pinFile });
      // one pool of signing threads for every zone (issue 20): as many as the configuration says, else one per core
      const signingThreads = this.config.hsm.signingThreads ?? availableParallelism();
      this.token = Token.open({
        ...(this.config.hsm.module === undefined ? {} : { module: this.config.hsm.module }),
        label: this.config.hsm.token,
        pin,
        signingThreads,
      });
    }
    return this.token;
  }

  /**
   * The zone's facts for the timings: the largest TTL of the zone as its policy signs it (the
   * input read once), the DS of the managed zones below it included (zoneFacts).
   */
  facts(zone: ZoneRow): ZoneFacts {
    const key = `${zone.name}\0${zone.input}`;
    let input = this.inputsRead.get(key);
    if (input === undefined) {
      input = inputTtls(loadZoneFile(zone.input, Name.parse(zone.name), undefined, this.config.service.zoneInput));
      this.inputsRead.set(key, input);
    }
    const below = this.store.zonesBelow(zone.name);
    return zoneFacts(
      input,
      this.policy(zone.policy),
      below.map((z) => this.policy(z.policy).parent.dsTtl),
    );
  }

  /**
   * The zone's key records, checked against the HSM: an alarm when the token lists fine but
   * lacks a recorded key. A token that cannot be opened, logged in to or read is an HsmError
   * from Token.open or findKeys (the token unreachable), never this alarm.
   */
  keys(zone: ZoneRow): KeyRecord[] {
    return this.checked(zone).records;
  }

  /** keys(), with the orphans and the pending keys beside them (hms key list). */
  checked(zone: ZoneRow): { records: KeyRecord[]; orphans: readonly OrphanKey[]; pending: readonly PendingSeen[] } {
    const { records, missing, orphans, pending } = this.reconciled(zone.name);
    if (missing.length > 0) {
      throw new SignerError(
        'HSM',
        `ALARM: zone ${zone.name}: key(s) ${missing.map((k) => `${k.role.toUpperCase()} ${k.keyTag} (id ${k.id})`).join(', ')} recorded but missing from token ${this.config.hsm.token}; ` +
          'no key is made in their place: restore the HSM from its backup, or roll the key by hand (hms key rollover --emergency)',
      );
    }
    return { records, orphans, pending };
  }

  /**
   * The zone's records held against the token's keys under the zone's label (`hms:<zone>:`):
   * the records missing from the token, and the orphans, keys the token holds that no record
   * claims (a key made by hand, or by an hms that made keys before recording them). Orphans
   * never sign; an administrator removes them (purgeOrphan). A key the token holds for a
   * pending key is no orphan: it is listed with the pending key (settlePending settles it).
   * The zone need not be managed yet.
   */
  reconciled(zone: string): { records: KeyRecord[]; missing: readonly KeyRecord[]; orphans: readonly OrphanKey[]; pending: readonly PendingSeen[] } {
    const records = this.store.keys(zone);
    const intended = this.store.pendingKeys(zone);
    const inToken = findKeys(this.hsm(), Name.parse(zone)).map((key) => ({
      id: key.id.toString('hex'),
      role: key.role,
      keyTag: key.keyTag,
      algorithm: key.algorithm,
      label: key.label,
      key,
    }));
    const { missing, orphans, pending } = reconcile(
      records,
      inToken,
      intended.map((p) => p.id),
    );
    const tagOf = (id: string): number | null => pending.find((k) => k.id.toLowerCase() === id.toLowerCase())?.keyTag ?? null;
    return { records, missing, orphans, pending: intended.map((p) => ({ ...p, keyTag: tagOf(p.id) })) };
  }

  /**
   * Settles the zone's pending keys, those recorded as intended whose making was not recorded
   * (a stop between the two, or an HSM failure in C_GenerateKeyPair), against the token: a
   * whole pair under the recorded id and label is what hms made for it, and its record is
   * completed from the token's public key, as apply would have; no pair (or half of one,
   * removed: SoftHSM stores the public half first) and the pending key is dropped. Each is
   * audited. A token that cannot be read is an HsmError and nothing is settled.
   */
  settlePending(zone: string, acting: Acting): SettledKey[] {
    const settled: SettledKey[] = [];
    const audit = { actor: acting.who.user, ticket: acting.ticket, at: acting.at };
    for (const p of this.store.pendingKeys(zone)) {
      const { key, objects } = findKeyPair(this.hsm(), p.id);
      if (p.formerLabels !== undefined && p.formerLabels !== null) {
        // a pair taken over from the token (hms key import --label/--id): the operator's, never destroyed
        settled.push(this.settleAdopted(zone, p, p.formerLabels, key, acting));
        continue;
      }
      if (key !== undefined && key.label === p.label) {
        this.store.completePendingKey(zone, keyRecordOf(p, key), {
          ...audit,
          comment: `${p.reason ?? 'key made'}; made in the HSM before a stop, recorded afterwards from the token`,
        });
        settled.push({ pending: p, outcome: 'completed', keyTag: key.keyTag, removed: 0 });
        continue;
      }
      // the objects under the id are hms's own (the id is 16 random bytes it chose): what a stop inside C_GenerateKeyPair left
      destroyObjects(this.hsm(), objects);
      this.store.dropPendingKey(zone, p.id, {
        ...audit,
        comment:
          objects.length === 0
            ? 'not in the token: hms stopped before the key was made'
            : `not whole in the token: ${objects.length} object(s) under its id removed`,
      });
      settled.push({ pending: p, outcome: 'dropped', keyTag: null, removed: objects.length });
    }
    return settled;
  }

  /**
   * A pending key that is a pair taken over from the token, left by a stop around its relabel
   * (importKeys): both halves under hms's label, and it is recorded as the import would have
   * (its DS-seen time kept); else the labels it had are put back and the row dropped, so that
   * the import can be run again. Never an orphan, never a destroyed key.
   */
  private settleAdopted(zone: string, p: PendingKey, former: readonly [string, string], key: HsmKey | undefined, acting: Acting): SettledKey {
    const audit = { actor: acting.who.user, ticket: acting.ticket, at: acting.at };
    const labels = pairLabels(this.hsm(), p.id);
    if (key !== undefined && labels.private === p.label && labels.public === p.label) {
      this.store.completePendingKey(zone, keyRecordOf(p, key), {
        ...audit,
        comment: `${p.reason ?? 'key taken over'}; relabelled in the HSM before a stop, recorded afterwards from the token`,
      });
      return { pending: p, outcome: 'completed', keyTag: key.keyTag, removed: 0 };
    }
    const relabelled = restoreLabels(this.hsm(), p.id, former);
    // a pair taken from the key pool goes back to it; the zone's next plan takes one again
    const pooled = Buffer.from(former[0], 'hex').toString('utf8');
    const fromPool = pooled.startsWith(POOL_LABEL_PREFIX);
    if (fromPool) this.pool?.returned(pooled.slice(POOL_LABEL_PREFIX.length).split(':')[0]!, p.id);
    this.store.dropPendingKey(zone, p.id, {
      ...audit,
      comment: fromPool
        ? `not taken from the key pool whole before a stop: its pool labels put back (${relabelled} object(s)), the pair is the pool's again`
        : `not taken over whole before a stop: its former labels put back (${relabelled} object(s)); run hms key import again`,
    });
    return { pending: p, outcome: 'dropped', keyTag: null, removed: 0 };
  }

  /**
   * Removes an orphan from the token (hms key purge): audited first, so that no key leaves
   * the token unaudited (a purge that then fails leaves the orphan, and is run again). The
   * caller found it with reconciled(); it is looked up again here, so a key recorded since is
   * never removed.
   */
  purgeOrphan(zone: string, orphan: OrphanKey, acting: Acting): void {
    const again = this.reconciled(zone).orphans.find((o) => o.id === orphan.id);
    if (again === undefined)
      throw new SignerError('USAGE', `zone ${zone}: key ${orphan.keyTag} (id ${orphan.id}) is no orphan in token ${this.config.hsm.token} now`);
    this.store.record('key.purge', zone, { keyTag: again.keyTag, role: again.role, algorithm: again.algorithm, id: again.id, label: again.label }, null, {
      actor: acting.who.user,
      ticket: acting.ticket,
      comment: acting.comment ?? 'orphan key removed from the token',
      at: acting.at,
    });
    deleteKey(this.hsm(), again.key);
  }

  /** The zone's plan at `now` (the keys checked against the HSM), nothing applied. */
  plan(zone: ZoneRow, now: UnixSeconds): Plan {
    return plan({
      policy: this.policy(zone.policy),
      keys: this.keys(zone),
      zone: this.facts(zone),
      now,
      ...(zone.saltCreated === null ? {} : { saltCreated: zone.saltCreated }),
      ...(zone.insecureSince === null ? {} : { insecureSince: zone.insecureSince }),
    });
  }

  /** Plans the zone at `acting.at` and applies what is due, until nothing more is; returns the last plan. */
  enforce(zoneName: string, acting: Acting): Plan {
    // a key recorded as intended before a stop is settled first: the plan counts it if it was made
    this.settlePending(zoneName, acting);
    for (let round = 0; round < 8; round++) {
      const zone = this.zone(zoneName);
      const p = this.plan(zone, acting.at);
      if (p.actions.length === 0) return p;
      this.apply(zone, p.actions, acting);
    }
    throw new SignerError('DNSSEC', `zone ${zoneName}: the plan does not settle`);
  }

  /**
   * Applies planner or rollover actions. A key is recorded as intended first (its CKA_ID and
   * label chosen and committed, audited), then made in the HSM under that id, then its record
   * completed (key tag, public key) in one transaction: a stop in between leaves a pending key
   * that start settles (settlePending), never a key the state does not know.
   */
  apply(zone: ZoneRow, actions: readonly Action[], acting: Acting): KeyRecord[] {
    const made: KeyRecord[] = [];
    const audit = { actor: acting.who.user, ticket: acting.ticket, comment: acting.comment, at: acting.at };
    if (actions.some((a) => a.kind === 'generate') && this.store.pendingKeys(zone.name).length > 0) {
      // the actions were planned without a key that may have been made: settle, and have them planned again
      const completed = this.settlePending(zone.name, acting).filter((k) => k.outcome === 'completed');
      if (completed.length > 0) {
        throw new SignerError(
          'DNSSEC',
          `zone ${zone.name}: ${completed.map((k) => `${k.pending.role.toUpperCase()} ${String(k.keyTag)}`).join(', ')}, recorded as intended before a stop, was made in the HSM and is recorded now; the key change was planned without it: ask again`,
        );
      }
    }
    for (const a of actions) {
      if (a.kind === 'generate') {
        const token = this.hsm();
        const name = Name.parse(zone.name);
        const pooled = this.keyPool().take(zone.name, poolKind({ algorithm: a.algorithm, bits: a.bits }, a.role));
        if (pooled !== undefined) {
          made.push(this.takePooled(zone, a, pooled, acting));
          continue;
        }
        const id = randomBytes(16);
        const pending = pendingOf(a, id.toString('hex'), keyLabel(name, a.role, id), acting.at);
        this.store.addPendingKey(zone.name, pending, { ...audit, comment: a.reason });
        const record = keyRecordOf(pending, generateKey(token, name, a.role, { algorithm: a.algorithm, bits: a.bits }, id));
        this.store.completePendingKey(zone.name, record, { ...audit, comment: a.reason });
        made.push(record);
      } else if (a.kind === 'schedule') {
        const old = this.store.keys(zone.name).find((k) => k.id === a.keyId);
        if (old === undefined) throw new SignerError('DNSSEC', `zone ${zone.name}: no key ${a.keyId}`);
        this.store.putKey(
          zone.name,
          {
            ...old,
            ...scheduled(a),
            ...(a.compromised ? { compromised: true } : {}),
          },
          { ...audit, comment: a.reason },
        );
      } else {
        const policy = this.policy(zone.policy);
        const length = policy.denial.type === 'nsec3' ? policy.denial.saltLength : 0;
        this.store.updateZone(zone.name, { saltHex: randomBytes(length).toString('hex'), saltCreated: acting.at }, { ...audit, comment: a.reason });
      }
    }
    return made;
  }

  /**
   * A generate action met with a pair of the key pool (`id`, hex): taken over as key import
   * takes over a pair in the token (adoptKey), so that one mechanism settles a stop part way:
   * recorded as pending with its pool labels first (audited), then given the zone's label,
   * then its record completed (audited as a key made now is, the pool named). A stop before
   * the record is completed is settled at start (settleAdopted: the labels put back, the key
   * the pool's again, or the record completed when both halves carry the zone's label).
   */
  private takePooled(zone: ZoneRow, a: Extract<Action, { kind: 'generate' }>, id: string, acting: Acting): KeyRecord {
    const audit = { actor: acting.who.user, ticket: acting.ticket, at: acting.at };
    const comment = `${a.reason}; taken from the key pool`;
    let pending: PendingKey | undefined;
    const { key } = adoptKey(
      this.hsm(),
      Name.parse(zone.name),
      a.role,
      { id: Buffer.from(id, 'hex') },
      () => {},
      (k, former) => {
        pending = { ...pendingOf(a, k.id.toString('hex'), k.label, acting.at), formerLabels: former };
        this.store.addPendingKey(zone.name, pending, { ...audit, comment });
      },
      a.algorithm,
    );
    const record = keyRecordOf(pending!, key);
    this.store.completePendingKey(zone.name, record, { ...audit, comment });
    return record;
  }
}

/** Pairs of each kind of key the key pool keeps ready (hsm.key-pool), unless configured. */
export const DEFAULT_KEY_POOL = 10;

/** The pending key a generate action intends: `id` and `label` its pair's, its times the action's. */
function pendingOf(a: Extract<Action, { kind: 'generate' }>, id: string, label: string, at: UnixSeconds): PendingKey {
  return {
    id,
    label,
    role: a.role,
    algorithm: a.algorithm,
    bits: a.bits,
    created: at,
    publish: a.publish,
    active: a.active,
    successorOf: a.successorOf,
    reason: a.reason,
  };
}

/** The record of a pending key once its pair is made: what was intended, with the pair's key tag and DNSKEY. */
function keyRecordOf(p: PendingKey, made: HsmKey): KeyRecord {
  // an RSA key's DNSKEY as the algorithm intended (RSASHA256 or RSASHA512: the token does not tell)
  const key = withAlgorithm(made, p.algorithm);
  return {
    id: p.id,
    role: p.role,
    algorithm: p.algorithm,
    bits: p.bits,
    keyTag: key.keyTag,
    dnskey: key.dnskey,
    created: p.created,
    publish: p.publish,
    active: p.active,
    retire: null,
    remove: null,
    dsSeen: p.dsSeen ?? null,
    dsWithdrawn: null,
    successorOf: p.successorOf,
    compromised: false,
  };
}

function readPolicies(config: HmsConfig): Map<string, Policy> {
  const policies = new Map<string, Policy>();
  for (const file of config.policies) for (const p of loadPolicyFile(file).policies) policies.set(p.name, p);
  return policies;
}

import type { UnixSeconds } from '../common/clock.js';
import type { KeyRole } from '../dnssec/signer.js';
import type { AuditRecord, AuditVerification } from './audit-chain.js';
import type { KeyRecord } from './keys.js';

/**
 * The ports the enforcer and the service record their work through (ARCHITECTURE.md): the
 * zones and their keys (KeyRepository), the requests that wait for a second person
 * (RequestRepository), the revisions of the zones' inputs (RevisionRepository) and the audit
 * trail (AuditTrail). storage/state.ts implements them all in one SQLite file; nothing beyond
 * the storage ring knows that. Every change takes an AuditContext and is audited with it, in
 * the same transaction.
 */

/** Who makes a change, when, and why: every change writes it to the audit trail (DP-2.4b, DP-2.4f). */
export interface AuditContext {
  readonly actor: string;
  readonly ticket?: string | null;
  readonly comment?: string | null;
  readonly at: UnixSeconds;
}

/** A zone the signer looks after. */
export interface ZoneRow {
  /** Lowercase, with the trailing dot. */
  readonly name: string;
  /** The name of its key and signing policy. */
  readonly policy: string;
  /** The unsigned zone file's path. */
  readonly input: string;
  readonly added: UnixSeconds;
  readonly saltHex: string | null;
  readonly saltCreated: UnixSeconds | null;
  readonly lastSerial: number | null;
  readonly lastSigned: UnixSeconds | null;
  /**
   * Going insecure (DP-4.7b): when the approved decision took effect. From then the zone
   * publishes CDS/CDNSKEY DELETE (RFC 8078 section 4), its DS is withdrawn, and its keys go
   * once no cache can hold the DS. `null`: the zone is (or is becoming) secure.
   */
  readonly insecureSince: UnixSeconds | null;
  /** The parent's name servers the automatic DS check asks: `address` or `address:port` (`[v6]:port`). */
  readonly parentServers: readonly string[];
}

export type ZonePatch = Partial<Omit<ZoneRow, 'name'>>;

/**
 * A key recorded as intended before it is made in the HSM: the CKA_ID (hex) and label chosen
 * for it, and what the planner decided for it. It is no key record: nothing plans, signs or
 * exports with it. Making the pair turns it into one (completePendingKey); a pending key left
 * by a stop in between is settled at start against the token.
 */
export interface PendingKey {
  readonly id: string;
  readonly label: string;
  readonly role: KeyRole;
  readonly algorithm: number;
  readonly bits: number;
  readonly created: UnixSeconds;
  readonly publish: UnixSeconds | null;
  readonly active: UnixSeconds | null;
  readonly successorOf: string | null;
  /** Why it is made (the planner's reason), for the audit record of its completion. */
  readonly reason: string | null;
  /** A KSK/CSK imported with its DS at the parent (hms key import --ds-seen): the DS-seen time its record gets. */
  readonly dsSeen?: UnixSeconds | null;
  /**
   * A pair taken over from the token (hms key import --label/--id): its private and public
   * key's labels before hms relabelled them (hex), put back when a stop came before both were.
   */
  readonly formerLabels?: readonly [string, string] | null;
}

export interface KeyRepository {
  getZone(name: string): ZoneRow | undefined;
  listZones(): ZoneRow[];
  /** The zones below `name`, not itself. */
  zonesBelow(name: string): ZoneRow[];
  addZone(z: ZoneRow, audit: AuditContext): void;
  updateZone(name: string, patch: ZonePatch, audit: AuditContext): ZoneRow;
  /** Removes a zone that has no keys left. */
  removeZone(name: string, audit: AuditContext): void;
  keys(zone: string): KeyRecord[];
  putKey(zone: string, k: KeyRecord, audit: AuditContext): void;
  deleteKey(zone: string, id: string, audit: AuditContext): void;
  /** The zone's keys recorded as intended and not recorded as made (keys() never lists them). */
  pendingKeys(zone: string): PendingKey[];
  /** Records a key as intended, before it is made in the HSM (audited as key.pending). */
  addPendingKey(zone: string, k: PendingKey, audit: AuditContext): void;
  /** The pending key `k.id` was made: its record takes the pending row's place, in one transaction (audited as key.put). */
  completePendingKey(zone: string, k: KeyRecord, audit: AuditContext): void;
  /** The pending key was not made (or only half of it, removed): its row goes (audited as key.pending.drop). */
  dropPendingKey(zone: string, id: string, audit: AuditContext): void;
  /** Runs `fn` as one transaction: every change in it, and its audit records, or none. */
  transaction<T>(fn: () => T): T;
}

export type RequestStatus = 'pending' | 'approved' | 'rejected';

/** A change that waits for a second person's approval (DP-4.7d): a DS seen or withdrawn at the parent ... */
export interface RequestInput {
  readonly zone: string;
  readonly kind: 'ds-seen' | 'ds-withdrawn' | 'child-ds' | (string & {});
  readonly keyTag: number | null;
  /** What is to be done, as JSON. */
  readonly payload: unknown;
  readonly requestedBy: string;
  readonly requestedAt: UnixSeconds;
  readonly ticket: string;
}

export interface RequestRow extends RequestInput {
  /** `R-` and the sequence in Crockford base32, e.g. `R-000C`: short, and read aloud without doubt. */
  readonly id: string;
  readonly status: RequestStatus;
  readonly decidedBy: string | null;
  readonly decidedAt: UnixSeconds | null;
  /** Why it was rejected. */
  readonly reason: string | null;
}

export interface RequestRepository {
  addRequest(r: RequestInput, audit: AuditContext): string;
  getRequest(id: string): RequestRow | undefined;
  listRequests(filter?: { zone?: string; status?: RequestStatus }): RequestRow[];
  /** Refuses the requester's own approval (DP-4.7d). */
  approveRequest(id: string, by: string, at: UnixSeconds, audit: AuditContext): RequestRow;
  rejectRequest(id: string, by: string, at: UnixSeconds, reason: string, audit: AuditContext): RequestRow;
}

/** A zone input to keep as a revision. */
export interface RevisionInput {
  readonly source: string;
  readonly serial: number;
  readonly records: number;
  readonly sha256: string;
  readonly text: string;
}

/** A revision as listed: everything but the text. */
export interface RevisionRow {
  readonly zone: string;
  readonly rev: number;
  readonly at: UnixSeconds;
  readonly actor: string;
  readonly source: string;
  readonly serial: number;
  readonly records: number;
  readonly sha256: string;
}

export interface AuditContext {
  readonly actor: string;
  readonly ticket?: string | null;
  readonly comment?: string | null;
  readonly at: UnixSeconds;
}

export interface RevisionRepository {
  addRevision(zone: string, r: RevisionInput, audit: AuditContext): RevisionRow;
  revisions(zone: string, limit?: number): RevisionRow[];
  revisionText(zone: string, rev: number): string | undefined;
}

export interface AuditTrail {
  /** An audited change that is not a row of its own (a restored revision). */
  record(action: string, zone: string | null, before: unknown, after: unknown, audit: AuditContext): void;
  auditLog(filter?: { zone?: string; since?: UnixSeconds }): AuditRecord[];
  verifyAudit(): AuditVerification;
  /** The newest record's seq (0: none). */
  lastAuditSeq(): number;
  auditHashOf(seq: number): Pick<AuditRecord, 'seq' | 'at' | 'hash'> | undefined;
}

/** Everything the state holds, as the service sees it. */
export type StatePorts = KeyRepository & RequestRepository & RevisionRepository & AuditTrail;

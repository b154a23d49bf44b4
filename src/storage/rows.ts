import type { KeyRole } from '../dnssec/signer.js';
import type { KeyRecord } from '../enforcer/keys.js';
import type { PendingKey, RequestRow, RequestStatus, ZoneRow } from '../enforcer/ports.js';

export type { RequestInput, RequestRow, RequestStatus, ZonePatch, ZoneRow } from '../enforcer/ports.js';

export interface ZoneDbRow {
  name: string;
  policy: string;
  input: string;
  added: number;
  salt_hex: string | null;
  salt_created: number | null;
  last_serial: number | null;
  last_signed: number | null;
  insecure_since: number | null;
  parent_servers: string;
}

export const zoneFromDb = (r: ZoneDbRow): ZoneRow => ({
  name: r.name,
  policy: r.policy,
  input: r.input,
  added: r.added,
  saltHex: r.salt_hex,
  saltCreated: r.salt_created,
  lastSerial: r.last_serial,
  lastSigned: r.last_signed,
  insecureSince: r.insecure_since,
  parentServers: JSON.parse(r.parent_servers) as string[],
});

export const zoneToDb = (z: ZoneRow): ZoneDbRow => ({
  name: z.name,
  policy: z.policy,
  input: z.input,
  added: z.added,
  salt_hex: z.saltHex,
  salt_created: z.saltCreated,
  last_serial: z.lastSerial,
  last_signed: z.lastSigned,
  insecure_since: z.insecureSince,
  parent_servers: JSON.stringify(z.parentServers),
});

export interface KeyDbRow {
  id: string;
  zone: string;
  role: string;
  algorithm: number;
  bits: number;
  key_tag: number;
  dnskey: Uint8Array;
  created: number;
  publish: number | null;
  active: number | null;
  retire: number | null;
  remove: number | null;
  ds_seen: number | null;
  ds_withdrawn: number | null;
  successor_of: string | null;
  compromised: number;
}

export const keyFromDb = (r: KeyDbRow): KeyRecord => ({
  id: r.id,
  role: r.role as KeyRole,
  algorithm: r.algorithm,
  bits: r.bits,
  keyTag: r.key_tag,
  // better-sqlite3 hands back a Buffer: give the caller the plain bytes it stored
  dnskey: new Uint8Array(r.dnskey),
  created: r.created,
  publish: r.publish,
  active: r.active,
  retire: r.retire,
  remove: r.remove,
  dsSeen: r.ds_seen,
  dsWithdrawn: r.ds_withdrawn,
  successorOf: r.successor_of,
  compromised: r.compromised === 1,
});

export const keyToDb = (zone: string, k: KeyRecord): KeyDbRow => ({
  id: k.id,
  zone,
  role: k.role,
  algorithm: k.algorithm,
  bits: k.bits,
  key_tag: k.keyTag,
  dnskey: k.dnskey,
  created: k.created,
  publish: k.publish,
  active: k.active,
  retire: k.retire,
  remove: k.remove,
  ds_seen: k.dsSeen,
  ds_withdrawn: k.dsWithdrawn,
  successor_of: k.successorOf,
  compromised: k.compromised ? 1 : 0,
});

export interface PendingKeyDbRow {
  id: string;
  zone: string;
  label: string;
  role: string;
  algorithm: number;
  bits: number;
  created: number;
  publish: number | null;
  active: number | null;
  successor_of: string | null;
  reason: string | null;
  ds_seen: number | null;
  former_labels: string | null;
}

export const pendingKeyFromDb = (r: PendingKeyDbRow): PendingKey => ({
  id: r.id,
  label: r.label,
  role: r.role as KeyRole,
  algorithm: r.algorithm,
  bits: r.bits,
  created: r.created,
  publish: r.publish,
  active: r.active,
  successorOf: r.successor_of,
  reason: r.reason,
  dsSeen: r.ds_seen,
  formerLabels: r.former_labels === null ? null : (JSON.parse(r.former_labels) as [string, string]),
});

export const pendingKeyToDb = (zone: string, k: PendingKey): PendingKeyDbRow => ({
  id: k.id,
  zone,
  label: k.label,
  role: k.role,
  algorithm: k.algorithm,
  bits: k.bits,
  created: k.created,
  publish: k.publish,
  active: k.active,
  successor_of: k.successorOf,
  reason: k.reason,
  ds_seen: k.dsSeen ?? null,
  former_labels: k.formerLabels === undefined || k.formerLabels === null ? null : JSON.stringify(k.formerLabels),
});

/** A key record as the audit trail shows it: the DNSKEY in base64, everything else as is. */
export const keyForAudit = (k: KeyRecord): Record<string, unknown> => ({ ...k, dnskey: Buffer.from(k.dnskey).toString('base64') });

export interface RequestDbRow {
  id: string;
  zone: string;
  kind: string;
  key_tag: number | null;
  payload: string;
  requested_by: string;
  requested_at: number;
  ticket: string;
  status: string;
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
}

export const requestFromDb = (r: RequestDbRow): RequestRow => ({
  id: r.id,
  zone: r.zone,
  kind: r.kind,
  keyTag: r.key_tag,
  payload: JSON.parse(r.payload) as unknown,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  ticket: r.ticket,
  status: r.status as RequestStatus,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  reason: r.reason,
});

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function formatRequestId(seq: number): string {
  let text = '';
  for (let n = seq; n > 0; n = Math.floor(n / 32)) text = CROCKFORD[n % 32]! + text;
  return `R-${text.padStart(4, '0')}`;
}

/** Reads an id as typed: any case, and O for 0, I or L for 1 (Crockford). */
export function normalizeRequestId(typed: string): string {
  const body = typed.trim().toUpperCase().replace(/^R-?/, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return `R-${body}`;
}

export interface AuditDbRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  zone: string | null;
  ticket: string | null;
  comment: string | null;
  before_json: string;
  after_json: string;
  prev_hash: string;
  hash: string;
}

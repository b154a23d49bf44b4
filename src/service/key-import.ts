import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignerError, UsageError } from '../common/errors.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { memoryIncludes, textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { algorithmName } from '../dnssec/algorithms.js';
import { readBindKey, type BindKey } from '../dnssec/bind-key-file.js';
import { keyTag } from '../dnssec/key-tag.js';
import type { KeyRole } from '../dnssec/signer.js';
import type { KeyRecord } from '../enforcer/keys.js';
import type { PendingKey } from '../enforcer/ports.js';
import { timings } from '../enforcer/timing.js';
import { adoptKey, destroyObjects, findKeyPair, importKey, keyLabel, type HsmKey } from '../hsm/keys.js';
import type { Acting, Keeper } from './keeper.js';
import { loadZoneFile } from './load-zone.js';
import { isDsOf } from '../monitor/parent-ds.js';

/** Where the keys come from: BIND's files, or pairs already in the token (OpenDNSSEC, Knot). */
export type ImportSource =
  | { readonly kind: 'files'; readonly keyFiles: readonly string[] }
  | { readonly kind: 'token'; readonly labels: readonly string[]; readonly ids: readonly string[] };

export interface ImportRequest {
  readonly zone: string;
  readonly source: ImportSource;
  /** The role of every key imported (default: from the DNSKEY flags, 257 KSK, 256 ZSK). */
  readonly role?: KeyRole;
  /** The operator states that the parent serves the DS of the KSK/CSK imported (hms ds check, dig DS). */
  readonly dsSeen: boolean;
  /**
   * The DS the parent serves (parentDs, asked of --parent-server before the import): a KSK/CSK
   * whose DS the parent validly does not serve is refused; `problem` (the parent not reachable,
   * not validating) is a warning on each KSK/CSK imported.
   */
  readonly parentDs?: { readonly servers: readonly string[] } & ({ readonly ds: readonly Uint8Array[] } | { readonly problem: string });
  /** The zone's DNSKEY set as now published (a file of DNSKEY records): every key imported must be in it. */
  readonly dnskeys?: string;
  /** For a zone not managed yet: its input file and policy. */
  readonly input?: string;
  readonly policy?: string;
  /** Checks that the caller may read a file (the service reads it for them). */
  readonly readable: (file: string) => void;
}

export interface ImportedKey {
  readonly role: KeyRole;
  readonly keyTag: number;
  readonly algorithm: number;
  readonly id: string;
  readonly label: string;
  readonly from: string;
  readonly problems: readonly string[];
  /** A KSK/CSK with --parent-server: whether the parent serves its DS, or why that was not told (a warning). */
  readonly parent: string | null;
}

const roleOfFlags = (flags: number): KeyRole => (flags === 257 ? 'ksk' : 'zsk');

/**
 * hms key import: takes a zone's keys from the signer it leaves, so that the parent's DS
 * stays. Each key is recorded as a pending key first (its CKA_ID and label chosen and
 * committed), then put in the token (copied from BIND's files, or an existing pair relabelled),
 * then recorded as published and active since the policy's propagation time (it has been
 * served by the old signer), a KSK/CSK with its DS seen when the operator says so (--ds-seen:
 * it is the DS the parent serves now). A stop in between leaves a pending key that start
 * settles against the token. Everything is checked before anything is written.
 */
export function importKeys(keeper: Keeper, req: ImportRequest, acting: Acting): { readonly keys: readonly ImportedKey[]; readonly added: boolean } {
  const apex = Name.parse(req.zone);
  // an import (or a key change) a stop cut short is settled first: completed keys are then refused as held, dropped ones imported again
  if (keeper.store.getZone(req.zone) !== undefined) keeper.settlePending(req.zone, acting);
  let row = keeper.store.getZone(req.zone);
  const served = keeper.config.service.zones.find((z) => z.name === req.zone);
  const input = req.input ?? row?.input ?? (served?.input.kind === 'file' ? served.input.file : undefined);
  const policyName = req.policy ?? row?.policy ?? served?.policy;
  if (input === undefined || policyName === undefined) throw new UsageError(`zone ${req.zone} is not managed here: give its --input and --policy`);
  const policy = keeper.policy(policyName);
  const wanted = req.dnskeys === undefined ? undefined : publishedDnskeys(apex, req.dnskeys, req.readable);

  // read and check every key before anything is written
  type Planned = { readonly role: KeyRole; readonly from: string; readonly bind?: BindKey; readonly label?: string; readonly id?: Buffer };
  const planned: Planned[] = [];
  if (req.source.kind === 'files') {
    for (const keyFile of req.source.keyFiles) {
      if (!keyFile.endsWith('.key')) throw new UsageError(`${keyFile}: give BIND's .key file (its .private beside it)`);
      const privateFile = `${keyFile.slice(0, -'.key'.length)}.private`;
      req.readable(keyFile);
      req.readable(privateFile);
      const bind = readBindKey(apex, keyFile, readText(keyFile), privateFile, readText(privateFile));
      const role = req.role ?? roleOfFlags(bind.flags);
      if ((role === 'zsk') !== (bind.flags === 256))
        throw new UsageError(`${keyFile}: DNSKEY flags ${bind.flags} do not fit the role ${role.toUpperCase()} (257 for a KSK or CSK, 256 for a ZSK)`);
      planned.push({ role, from: keyFile, bind });
    }
  } else {
    if (req.role === undefined) throw new UsageError('--role: say the role of the key(s) in the token (ksk, zsk or csk)');
    for (const label of req.source.labels) planned.push({ role: req.role, from: `label '${label}'`, label });
    for (const id of req.source.ids) {
      if (!/^([0-9a-fA-F]{2})+$/.test(id)) throw new UsageError(`--id: '${id}' is not a CKA_ID in hex`);
      planned.push({ role: req.role, from: `id ${id.toLowerCase()}`, id: Buffer.from(id, 'hex') });
    }
  }
  if (planned.length === 0) throw new UsageError('no key to import: give the .key files, or --label / --id');
  const recorded =
    row === undefined ? [] : [...keeper.store.keys(req.zone), ...keeper.store.pendingKeys(req.zone).map((p) => ({ ...p, keyTag: null, dnskey: null }))];
  const check = (what: string, role: KeyRole, algorithm: number, dnskey: Uint8Array): void => {
    const tag = keyTag(dnskey);
    const same = recorded.find((k) => k.dnskey !== null && Buffer.from(k.dnskey).equals(Buffer.from(dnskey)));
    if (same !== undefined)
      throw new UsageError(`${what}: key ${tag} is in the state of zone ${req.zone} already (${same.role.toUpperCase()}, id ${same.id}): nothing imported`);
    if (wanted !== undefined && !wanted.some((w) => Buffer.from(w).equals(Buffer.from(dnskey)))) {
      throw new SignerError(
        'DNSSEC',
        `${what}: key ${tag} (${algorithmName(algorithm)}) is not among the DNSKEYs the zone publishes in ${req.dnskeys!} (key tags ${wanted.map((w) => keyTag(w)).join(', ')}): nothing imported`,
      );
    }
    // a second key of a role would be published beside the first, and the planner would retire one of them: the set the parent trusts would change
    const holder = row === undefined ? undefined : keeper.store.keys(req.zone).find((k) => k.role === role && k.remove === null);
    if (holder !== undefined)
      throw new UsageError(
        `${what}: zone ${req.zone} has a ${role.toUpperCase()} already (${holder.keyTag}, id ${holder.id}): import every key of the zone in one command, before hms makes any (a zone the service serves has them: take it out of the configuration first)`,
      );
    const inPolicy = policy.keys.find((k) => k.role === role);
    if (inPolicy === undefined)
      throw new UsageError(
        `${what}: policy ${policy.name} has no ${role.toUpperCase()} (${policy.keys.map((k) => k.role.toUpperCase()).join(' and ')}): give --role, or a policy that fits the zone's keys`,
      );
    if (inPolicy.algorithm !== algorithm)
      throw new UsageError(
        `${what}: key ${tag} is ${algorithmName(algorithm)}, policy ${policy.name}'s ${role.toUpperCase()} is ${algorithmName(inPolicy.algorithm)}: the next signing would roll the algorithm; use a policy with the zone's algorithm`,
      );
    const parent = req.parentDs;
    if (role !== 'zsk' && parent !== undefined && 'ds' in parent && !parent.ds.some((d) => isDsOf(apex, dnskey, d)))
      throw new SignerError(
        'DNSSEC',
        `${what}: key ${tag} is a ${role.toUpperCase()}, and the parent (${parent.servers.join(', ')}) serves no DS of it (${parent.ds.length === 0 ? 'no DS at all' : `DS of key tags ${parent.ds.map((d) => (d[0]! << 8) | d[1]!).join(', ')}`}): a zone moves in with the keys whose DS the parent serves; nothing imported`,
      );
    if (role !== 'zsk' && !req.dsSeen) {
      throw new UsageError(
        `${what}: key ${tag} is a ${role.toUpperCase()}: say --ds-seen once you have checked that the parent serves its DS (dig DS ${req.zone} at the parent, or hms ds check); hms records it as seen, so that no DS change is asked of the registrar`,
      );
    }
  };
  for (const p of planned) if (p.bind !== undefined) check(p.from, p.role, p.bind.algorithm, p.bind.dnskey);
  const tags = planned.filter((p) => p.bind !== undefined).map((p) => p.bind!.keyTag);
  if (new Set(tags).size !== tags.length) throw new UsageError(`the same key is given twice (key tags ${tags.join(', ')})`);

  const audit = { actor: acting.who.user, ticket: acting.ticket, at: acting.at };
  let added = false;
  if (row === undefined) {
    // the zone is read (and must load) before it is added; its keys come from the import, not from the planner
    loadZoneFile(input, apex, undefined, keeper.config.service.zoneInput);
    keeper.store.addZone(
      {
        name: req.zone,
        policy: policyName,
        input,
        added: acting.at,
        saltHex: null,
        saltCreated: null,
        lastSerial: null,
        lastSigned: null,
        insecureSince: null,
        parentServers: req.parentDs?.servers ?? [],
      },
      { ...audit, comment: acting.comment ?? 'added by hms key import' },
    );
    row = keeper.zone(req.zone);
    added = true;
  }
  // served by the old signer long enough: published and active since the propagation time before now
  const since = acting.at - timings(policy, keeper.facts(row)).publish;
  const token = keeper.hsm();
  const out: ImportedKey[] = [];
  for (const p of planned) {
    const inPolicy = policy.keys.find((k) => k.role === p.role)!;
    const newId = p.bind !== undefined ? randomBytes(16) : undefined;
    let key: HsmKey;
    let problems: readonly string[] = [];
    let pending: PendingKey | undefined;
    const comment = acting.comment ?? `imported from ${p.from}`;
    // recorded as pending before the token is written: a stop then leaves a row that settlePending completes (its DS-seen time kept) or drops
    const intend = (id: string, label: string, algorithm: number, bits: number, formerLabels: readonly [string, string] | null): PendingKey => {
      const k: PendingKey = {
        id,
        label,
        role: p.role,
        algorithm,
        bits,
        created: acting.at,
        publish: since,
        active: since,
        successorOf: null,
        reason: `imported from ${p.from}`,
        dsSeen: p.role === 'zsk' ? null : since,
        formerLabels,
      };
      keeper.store.addPendingKey(req.zone, k, { ...audit, comment });
      return k;
    };
    if (p.bind !== undefined) {
      pending = intend(newId!.toString('hex'), keyLabel(apex, p.role, newId!), p.bind.algorithm, p.bind.bits, null);
      key = importKey(token, apex, p.role, p.bind.algorithm, p.bind.privateKey, newId!);
      if (!Buffer.from(key.dnskey).equals(Buffer.from(p.bind.dnskey))) {
        destroyObjects(token, findKeyPair(token, pending.id).objects);
        keeper.store.dropPendingKey(req.zone, pending.id, { ...audit, comment: 'the token made another DNSKEY of it: removed' });
        throw new SignerError(
          'HSM',
          `${p.from}: the token gives key ${key.keyTag}, not ${p.bind.keyTag}, for the imported key: removed from the token, nothing recorded`,
        );
      }
    } else {
      ({ key, problems } = adoptKey(
        token,
        apex,
        p.role,
        p.label !== undefined ? { label: p.label } : { id: p.id! },
        (k) => check(p.from, p.role, k.algorithm, k.dnskey),
        (k, former) => {
          pending = intend(k.id.toString('hex'), k.label, k.algorithm, inPolicy.bits, former);
        },
        inPolicy.algorithm,
      ));
    }
    const record: KeyRecord = {
      id: key.id.toString('hex'),
      role: p.role,
      algorithm: key.algorithm,
      bits: p.bind?.bits ?? inPolicy.bits,
      keyTag: key.keyTag,
      dnskey: key.dnskey,
      created: acting.at,
      publish: since,
      active: since,
      retire: null,
      remove: null,
      dsSeen: pending!.dsSeen ?? null,
      dsWithdrawn: null,
      successorOf: null,
      compromised: false,
    };
    keeper.store.completePendingKey(req.zone, record, { ...audit, comment: `${comment}${problems.length > 0 ? `; WARNING: ${problems.join(', ')}` : ''}` });
    const parent =
      req.parentDs === undefined || p.role === 'zsk'
        ? null
        : 'ds' in req.parentDs
          ? `its DS is served by the parent (${req.parentDs.servers.join(', ')}), validated`
          : `WARNING: the parent's DS was not checked: ${req.parentDs.problem}`;
    out.push({ role: p.role, keyTag: key.keyTag, algorithm: key.algorithm, id: record.id, label: key.label, from: p.from, problems, parent });
  }
  return { keys: out, added };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new SignerError('IO', `${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** The DNSKEY records at the apex in a zone file (the zone as it is served now, or dig DNSKEY's answer). */
function publishedDnskeys(apex: Name, file: string, readable: (file: string) => void): Uint8Array[] {
  readable(file);
  const out: Uint8Array[] = [];
  for (const r of parseZoneFile(textSource(file, readText(file)), { origin: apex, defaultTtl: 3600, include: memoryIncludes({}) })) {
    if (r.type === RRType.DNSKEY && r.owner.equals(apex)) out.push(r.rdata);
  }
  if (out.length === 0) throw new UsageError(`${file}: no DNSKEY record of ${apex.toString()} in it`);
  return out;
}

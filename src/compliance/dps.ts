import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import { algorithmName } from '../dnssec/algorithms.js';
import { formatDuration as d } from '../kasp/format.js';
import { fieldPosition, type Policy } from '../kasp/policy.js';
import { checkCompliance } from '../kasp/profiles.js';
import type { ComplianceItem } from './check-zone.js';
import { REQUIREMENTS } from './requirements.js';

/**
 * `hms report dps` (DP-5.1, OPS-8): each DP and DK requirement held against what runs, from
 * facts the caller reads (configuration, policies, keys and state). `met` and `not-met` come
 * with the evidence that decided them; `manual` items are the operator's to show, with what
 * hms offers for them.
 */
export type DpsStatus = 'met' | 'not-met' | 'manual';

export interface DpsEntry {
  readonly id: string;
  readonly title: string;
  readonly status: DpsStatus;
  readonly evidence: readonly string[];
}

export interface DpsKey {
  readonly role: string;
  readonly algorithm: number;
  readonly bits: number;
  readonly keyTag: number;
  /** generated, published, ready, active, retired (removed keys are left out). */
  readonly state: string;
  readonly dsSeen: boolean;
}

export interface DpsZone {
  readonly name: string;
  readonly policy: string;
  readonly secondaries: readonly string[];
  /** The keys the state records (null: the state does not manage the zone yet). */
  readonly keys: readonly DpsKey[] | null;
  readonly lastSigned: UnixSeconds | null;
  readonly insecure: boolean;
  /** What the zone's records decide (DK-17, DK-18 delegations, DK-23, DP-3.3a: `checkZoneRecords`), read from `recordsFrom`; null when no version could be read. */
  readonly records: readonly ComplianceItem[] | null;
  readonly recordsFrom: string;
}

export interface DpsFacts {
  readonly now: UnixSeconds;
  readonly configFile: string;
  readonly stateFile: string;
  /** Audit records in the state (null: no state file). */
  readonly auditRecords: number | null;
  readonly policies: readonly Policy[];
  readonly zones: readonly DpsZone[];
  /** The TSIG keys and their algorithms (null: the secret files are not readable by this user, so they were not read). */
  readonly tsigKeys: readonly { readonly name: string; readonly algorithm: string }[] | null;
  readonly secondaries: readonly { readonly name: string; readonly address: string; readonly key: string }[];
  readonly listen: readonly string[];
  readonly resign: string;
  readonly alarmValidity: number;
  /** The monitor inside `hms run` (service.monitor-*): its interval (0: off) and thresholds, seconds. */
  readonly monitor: {
    readonly interval: number;
    readonly validityWarning: number;
    readonly serialLagWarning: number;
    readonly clockWarning: number;
  };
  readonly hsm: { readonly module: string; readonly token: string; readonly pinFile: string | null; readonly pinFileMode: number | null };
  readonly audit: { readonly checkpoint: string; readonly syslog: string | null };
  readonly access: Readonly<Record<'administrator' | 'operator' | 'approver' | 'auditor', readonly string[]>>;
  readonly resolver: string | null;
}

type Verdict = { status: DpsStatus; evidence: string[] };
const met = (...evidence: string[]): Verdict => ({ status: 'met', evidence });
const notMet = (...evidence: string[]): Verdict => ({ status: 'not-met', evidence });
const manual = (...evidence: string[]): Verdict => ({ status: 'manual', evidence });

/** The policies the zones use (every policy when no zone is configured). */
function usedPolicies(f: DpsFacts): Policy[] {
  const names = new Set(f.zones.map((z) => z.policy));
  const used = f.policies.filter((p) => names.has(p.name));
  return used.length > 0 ? used : [...f.policies];
}

const at = (p: Policy, field: string): string => `${p.source.file}:${fieldPosition(p, field).line}`;

/** A policy-held requirement: not met where the DP profile finds an error, else the values with where they stand. */
function byPolicy(
  f: DpsFacts,
  id: string,
  show: (p: Policy) => string,
  keyCheck?: { roles: readonly string[]; problem: (k: DpsKey) => string | undefined },
): Verdict {
  const policies = usedPolicies(f);
  if (policies.length === 0) return notMet('no policy is loaded');
  const errors = policies.flatMap((p) =>
    checkCompliance(p, 'dp')
      .filter((c) => c.requirement === id && c.severity === 'error')
      .map((c) => `policy ${p.name} at ${c.file}:${c.line}: ${c.field}: ${c.message}`),
  );
  const keys: string[] = [];
  const badKeys: string[] = [];
  if (keyCheck !== undefined) {
    for (const z of f.zones) {
      for (const k of (z.keys ?? []).filter((x) => keyCheck.roles.includes(x.role))) {
        const problem = keyCheck.problem(k);
        const line = `${z.name} ${k.role.toUpperCase()} ${k.keyTag} ${algorithmName(k.algorithm)} ${k.bits} bits (${k.state})`;
        if (problem === undefined) keys.push(line);
        else badKeys.push(`${line}: ${problem}`);
      }
    }
  }
  const shown = policies.map((p) => `policy ${p.name}: ${show(p)}`);
  const keyLine = keys.length > 0 ? [`keys in the state: ${keys.join('; ')}`] : [];
  if (errors.length > 0 || badKeys.length > 0) return notMet(...errors, ...badKeys.map((k) => `key in the state: ${k}`), ...shown);
  return met(...shown, ...keyLine);
}

/** The items of one requirement from the zones' records, as `subject: message`: those not met, the others, and the zones not read. */
function recordItems(f: DpsFacts, id: string): { failed: string[]; passed: string[]; unread: string[] } {
  const failed: string[] = [];
  const passed: string[] = [];
  const unread: string[] = [];
  for (const z of f.zones) {
    if (z.records === null) {
      unread.push(`${z.name} (${z.recordsFrom})`);
      continue;
    }
    for (const i of z.records.filter((x) => x.requirement === id)) {
      const line = `${i.subject}: ${i.message}${i.status === 'warning' ? ' (warning)' : ''}`;
      (i.status === 'not-met' ? failed : passed).push(line);
    }
  }
  return { failed, passed, unread };
}

/** DP-2.9: the monitor of every secondary and NS (docs/monitoring.md): met while it runs inside `hms run`. */
function monitored(f: DpsFacts, check: string, what: string, more: readonly string[] = []): Verdict {
  if (f.monitor.interval === 0)
    return manual(`service.monitor-interval is 0: the monitor inside hms run is off; hms monitor (check ${check}: ${what}) must run from a monitoring system`);
  return met(
    `hms run checks ${what} every ${d(f.monitor.interval)} (service.monitor-interval; check ${check}), raising and clearing alarms; hms monitor for Nagios/Icinga`,
    ...more,
  );
}

const isRsa = (alg: number): boolean => alg === 8 || alg === 10;

/** Addresses no one outside reaches: loopback, RFC 1918, link-local, unique local (IPv6 fc00::/7). */
export function isInternalAddress(address: string): boolean {
  if (/^(127\.|10\.|192\.168\.|169\.254\.)/.test(address)) return true;
  const m = /^172\.(\d+)\./.exec(address);
  if (m !== null && Number(m[1]) >= 16 && Number(m[1]) <= 31) return true;
  const a = address.toLowerCase();
  return a === '::1' || /^f[cd][0-9a-f]{2}:/.test(a) || /^fe[89ab][0-9a-f]:/.test(a);
}

const RULES: Record<string, (f: DpsFacts) => Verdict> = {
  'DP-1.2a': () => manual('hms keeps no registrar register: keep it beside the DPS'),
  'DP-2.2': (f) =>
    f.access.administrator.length > 0
      ? met(`administrators: ${f.access.administrator.join(', ')} (${f.configFile}, access)`, `operators: ${f.access.operator.join(', ') || 'none'}`)
      : notMet(`no administrators in ${f.configFile} (access.administrators)`),
  'DP-2.4a': () =>
    manual('alarms and failures go to the log (and syslog when configured); an incident register with what, who and when is kept by the operator'),
  'DP-2.4b': (f) =>
    f.auditRecords === null
      ? notMet(`no state file at ${f.stateFile}: no audit trail yet`)
      : met(`every change is an audit record (who from the kernel, what, when, ticket): ${f.auditRecords} records in ${f.stateFile}`),
  'DP-2.4c': () => manual('every use of hms that changes something is audited with the OS user; logins to the host are logged by the OS (PAM, auth log)'),
  'DP-2.4d': (f) =>
    met(
      `the audit trail is hash-chained; each record's hash goes to the checkpoint ${f.audit.checkpoint}${f.audit.syslog === null ? '' : ` and to syslog (${f.audit.syslog})`}; hms audit verify compares them`,
    ),
  'DP-2.4e': (f) =>
    f.audit.syslog !== null && f.audit.syslog !== 'local'
      ? met(`audit records go to the remote syslog ${f.audit.syslog} (audit.syslog); its retention of 12 months is set there`)
      : notMet(
          `audit.syslog in ${f.configFile} ${f.audit.syslog === 'local' ? 'is the local syslog' : 'is not set'}: no log system outside the signer receives the records`,
        ),
  'DP-2.4f': () => met('every changing command takes --ticket and --comment, kept in the audit record'),
  'DP-2.5a': () => met('hms key rollover ZONE --ksk|--zsk --emergency replaces a compromised key at once'),
  'DP-2.5b': () => met('hms zone secure ZONE restarts the chain of trust with new keys'),
  'DP-2.5c': () => met('hms key rollover ZONE --ksk: a KSK roll with the DS steps approved by a second person'),
  'DP-2.5d': () => manual("hms backup create / verify / restore (docs/operations.md); the other site and its drill are the operator's"),
  'DP-2.6a': () => met('every accepted input is kept as a revision in the state (hms zone history)'),
  'DP-2.6b': () => met('hms zone diff ZONE REV1 REV2'),
  'DP-2.6c': () => met('hms zone restore ZONE REV --ticket T'),
  'DP-2.7a': () => met('the caller is the OS user the kernel names on the control socket (peer credentials), never a name in the request'),
  'DP-2.7b': () => manual("users and groups come from the host's name service (PAM/SSSD: LDAP, Kerberos); its setup is the operator's"),
  'DP-2.8a': () =>
    met('every input is checked (hms zone check findings), every signed version validated before it is published; a refused input keeps the last good version'),
  'DP-2.8b': (f) =>
    f.access.approver.length > 0
      ? met(
          `roles in ${f.configFile}: approvers ${f.access.approver.join(', ')}, operators ${f.access.operator.join(', ') || 'none'}; per-zone tables in access.zones`,
        )
      : notMet(`no approvers in ${f.configFile} (access.approvers)`),
  'DP-2.9a': (f) =>
    monitored(f, 'rrsig-validity', `the first RRSIG expiry each server serves, warning at ${d(f.monitor.validityWarning)} left`, [
      `and an alarm while the signatures served here have less than ${d(f.alarmValidity)} left (service.alarm-validity)`,
    ]),
  'DP-2.9b': (f) => monitored(f, 'positive', "SOA, NS and DNSKEY from every server, validated from the DS by hms's own validator"),
  'DP-2.9c': (f) => monitored(f, 'negative', 'an NXDOMAIN and a NODATA answer from every server, with their NSEC/NSEC3 proofs validated'),
  'DP-2.9d': (f) => monitored(f, 'serial', `each server's serial against the one published, warning after ${d(f.monitor.serialLagWarning)}`),
  'DP-2.9e': (f) => monitored(f, 'clock', `each secondary's clock from its TSIG-signed answers, warning past ${d(f.monitor.clockWarning)}`),
  'DP-3.1a': () =>
    manual(
      "hms backup create DIR copies the state and the SoftHSM token files with a manifest; keeping it at a separate, access-controlled site is the operator's",
    ),
  'DP-3.1b': (f) => {
    if (f.hsm.pinFile === null) return manual("the PIN comes from HMS_PIN (hsm.pin-file not set): who holds it is the operator's");
    if (f.hsm.pinFileMode === null) return notMet(`hsm.pin-file ${f.hsm.pinFile} does not exist`);
    if ((f.hsm.pinFileMode & 0o077) !== 0)
      return notMet(`hsm.pin-file ${f.hsm.pinFile} has mode ${(f.hsm.pinFileMode & 0o777).toString(8)}: others can read it`);
    return met(`the PIN is in ${f.hsm.pinFile}, mode ${(f.hsm.pinFileMode & 0o777).toString(8)}; it is never logged (redacted)`);
  },
  'DP-3.1c': () => manual("changing the token PIN when an administrator leaves is the operator's (the HSM's own tool)"),
  'DP-3.1d': () =>
    met('hms makes every key inside the HSM (C_GenerateKeyPair); keys brought in by hms key import were made elsewhere and are in the audit trail'),
  'DP-3.1e': () => met('keys are made for signing only (CKA_SIGN; no decrypt, unwrap, derive), labelled hms:<zone>:<role>:<id>'),
  'DP-3.1f': (f) =>
    /softhsm/i.test(f.hsm.module)
      ? manual(
          `the module is SoftHSM2 (${f.hsm.module}): its private objects are encrypted with a key derived from the PIN; a hardware HSM keeps them off the disk`,
        )
      : met(`private keys stay in the HSM ${f.hsm.module} (token ${f.hsm.token}), sensitive and not extractable`),
  'DP-3.1g': (f) => met(`PKCS#11 module ${f.hsm.module}, token ${f.hsm.token}`),
  'DP-3.2a': (f) => {
    const outside = f.listen.filter((l) => !isInternalAddress(l.replace(/^\[|\]?:\d+$/g, '')));
    return outside.length === 0
      ? met(`listens on internal addresses only: ${f.listen.join(', ') || 'none'} (service.listen)`)
      : notMet(`listens on addresses outside the internal network: ${outside.join(', ')} (service.listen)`);
  },
  'DP-3.2b': (f) =>
    met(
      `SOA, AXFR and IXFR are answered only to the secondaries listed, TSIG-signed; everyone else is refused: ${f.secondaries.map((s) => `${s.name} ${s.address}`).join(', ') || 'no secondaries'}`,
    ),
  'DP-3.2c': () => manual("the firewall around the signer is the operator's: only the secondaries in, NOTIFY and DNS out"),
  'DP-3.3a': (f) => {
    const r = recordItems(f, 'DP-3.3a');
    if (r.failed.length > 0) return notMet(...r.failed);
    return manual(...r.passed, ...r.unread.map((z) => `not read: ${z}`));
  },
  'DP-3.3b': (f) => manual(`hms check compliance counts each zone's name servers with IPv6${f.resolver === null ? '' : ` (resolver ${f.resolver})`}`),
  'DP-3.4': () => manual("clock synchronisation (NTP/chrony with trusted sources) is the host's; every time hms writes is UTC"),
  'DP-3.5a': (f) =>
    f.secondaries.length === 0
      ? notMet('no secondaries configured')
      : met(`every secondary transfers with its TSIG key (unsigned requests are refused): ${f.secondaries.map((s) => `${s.name} key ${s.key}`).join(', ')}`),
  'DP-3.5b': (f) => {
    if (f.tsigKeys === null) return manual('the TSIG secret files are not readable by this user; hms run refuses any algorithm but HMAC-SHA');
    const bad = f.tsigKeys.filter((k) => !/^hmac-sha/.test(k.algorithm));
    const all = f.tsigKeys.map((k) => `${k.name} ${k.algorithm}`).join(', ') || 'no TSIG keys';
    return bad.length === 0 ? met(`TSIG keys: ${all}`) : notMet(`not HMAC-SHA: ${bad.map((k) => k.name).join(', ')}`);
  },
  'DP-3.5c': (f) =>
    f.tsigKeys?.some((k) => /md5/i.test(k.algorithm)) === true
      ? notMet('an HMAC-MD5 key is configured')
      : met('HMAC-MD5 is refused as the configuration is read'),
  'DP-4.1a': (f) =>
    byPolicy(
      f,
      'DP-4.1a',
      (p) => p.keys.map((k) => `${k.role.toUpperCase()} ${algorithmName(k.algorithm)} (${at(p, `keys.${k.role}.algorithm`)})`).join(', '),
      {
        roles: ['ksk', 'zsk', 'csk'],
        problem: (k) => (![8, 13, 15].includes(k.algorithm) ? `${algorithmName(k.algorithm)} is not one of the policy's algorithms` : undefined),
      },
    ),
  'DP-4.1b': (f) =>
    byPolicy(
      f,
      'DP-4.1b',
      (p) =>
        p.keys
          .filter((k) => k.role !== 'zsk')
          .map((k) => `${k.role.toUpperCase()} ${algorithmName(k.algorithm)} ${k.bits} bits (${at(p, `keys.${k.role}.bits`)})`)
          .join(', '),
      { roles: ['ksk', 'csk'], problem: (k) => (isRsa(k.algorithm) && k.bits < 2048 ? 'below 2048 bits' : undefined) },
    ),
  'DP-4.1c': (f) =>
    byPolicy(
      f,
      'DP-4.1c',
      (p) =>
        p.keys
          .filter((k) => k.role !== 'ksk')
          .map((k) => `${k.role.toUpperCase()} ${algorithmName(k.algorithm)} ${k.bits} bits (${at(p, `keys.${k.role}.bits`)})`)
          .join(', '),
      { roles: ['zsk', 'csk'], problem: (k) => (isRsa(k.algorithm) && k.bits < 1024 ? 'below 1024 bits' : undefined) },
    ),
  'DP-4.2a': (f) => byPolicy(f, 'DP-4.2a', (p) => `denial ${p.denial.type.toUpperCase()} (${at(p, 'denial.type')})`),
  'DP-4.2b': (f) => {
    const tsig = f.tsigKeys?.some((k) => /md5/i.test(k.algorithm)) === true;
    return tsig
      ? notMet('an HMAC-MD5 TSIG key is configured')
      : met('RSAMD5 keys and HMAC-MD5 TSIG are refused wherever they are read; DS digests are SHA-256/384 (SHA-1 only where a policy lists it)');
  },
  'DP-4.2c': (f) =>
    byPolicy(f, 'DP-4.2c', (p) => (p.denial.type === 'nsec3' ? `NSEC3 iterations ${p.denial.iterations} (${at(p, 'denial.iterations')})` : 'NSEC')),
  'DP-4.2d': (f) =>
    byPolicy(f, 'DP-4.2d', (p) =>
      p.denial.type !== 'nsec3' || p.denial.saltLength === 0
        ? 'no salt'
        : `salt ${p.denial.saltLength} octets, changed every ${p.denial.resalt === null ? 'never' : d(p.denial.resalt)} (${at(p, 'denial.resalt')})`,
    ),
  'DP-4.3a': (f) =>
    met(
      "hms key list and hms key timeline show every key's times and the coming events",
      ...usedPolicies(f).map(
        (p) =>
          `policy ${p.name}: ${p.keys.map((k) => `${k.role.toUpperCase()} lifetime ${k.lifetime === null ? 'rolled by hand' : d(k.lifetime)}`).join(', ')}`,
      ),
    ),
  'DP-4.3b': () => met('hms key rollover ZONE --ksk (and --emergency) triggers a KSK roll; the tool says what to do next and when'),
  'DP-4.3c': (f) =>
    byPolicy(f, 'DP-4.3c', (p) =>
      p.keys
        .filter((k) => k.role !== 'ksk')
        .map((k) => `${k.role.toUpperCase()} lifetime ${k.lifetime === null ? 'rolled by hand' : d(k.lifetime)} (${at(p, `keys.${k.role}.lifetime`)})`)
        .join(', '),
    ),
  'DP-4.4a': (f) => byPolicy(f, 'DP-4.4a', (p) => `signature validity ${d(p.signatures.validity)} (${at(p, 'signatures.validity')})`),
  'DP-4.4b': (f) => {
    const v = byPolicy(f, 'DP-4.4b', (p) => `re-sign interval ${d(p.signatures.resignInterval)} (${at(p, 'signatures.resign-interval')})`);
    const daily = /^\S+ \S+ \* \* \*$/.test(f.resign);
    if (!daily) return notMet(`service.resign "${f.resign}" does not run every day`, ...v.evidence);
    return { status: v.status, evidence: [...v.evidence, `service.resign "${f.resign}" (daily)`] };
  },
  'DP-4.5a': (f) =>
    byPolicy(f, 'DP-4.5a', (p) => `SOA EXPIRE ${d(p.soa.expire)} below the signature validity ${d(p.signatures.validity)} (${at(p, 'soa.expire')})`),
  'DP-4.5b': (f) => byPolicy(f, 'DP-4.5b', (p) => `DNSKEY TTL ${d(p.ttl.dnskey)} (${at(p, 'ttl.dnskey')})`),
  'DP-4.5c': (f) => byPolicy(f, 'DP-4.5c', (p) => `SOA EXPIRE ${p.soa.expire} s (${at(p, 'soa.expire')})`),
  'DP-4.5d': (f) =>
    byPolicy(f, 'DP-4.5d', (p) => `SOA MINIMUM ${d(p.soa.minimum)}, the NSEC/NSEC3 TTL (lower of it and the SOA TTL) (${at(p, 'soa.minimum')})`),
  'DP-4.6a': (f) => {
    const names = new Set(f.zones.map((z) => z.name));
    const children = f.zones.filter((z) => names.has(z.name.slice(z.name.indexOf('.') + 1)));
    return met(
      `the DS of a child zone managed here is put in its parent's signed zone at each signing${children.length === 0 ? '' : `: ${children.map((z) => z.name).join(', ')}`}`,
    );
  },
  'DP-4.6b': () => met("a child zone going insecure (hms zone insecure) or removed takes its DS out of the parent's zone"),
  'DP-4.6c': () => manual("who may change a child zone is set per zone in access.zones; that they are authorised for the child is the operator's"),
  'DP-4.7a': (f) =>
    met(
      'hms ds export ZONE (DS, DNSKEY, EPP secDNS-1.1)',
      ...usedPolicies(f).map(
        (p) => `policy ${p.name}: CDS ${p.parent.cds ? 'yes' : 'no'}, CDNSKEY ${p.parent.cdnskey ? 'yes' : 'no'} (${at(p, 'parent.cds')})`,
      ),
    ),
  'DP-4.7b': () => met('hms zone insecure ZONE: CDS/CDNSKEY DELETE, the DS withdrawn, the keys kept until no cache holds the DS'),
  'DP-4.7c': () => met('hms zone insecure prints what will happen and files the decision for a second person (docs/parent.md)'),
  'DP-4.7d': (f) =>
    f.access.approver.length > 0
      ? met(`every DS change waits for an approver other than the requester (hms approve): approvers ${f.access.approver.join(', ')}`)
      : notMet('no approvers configured: no DS change can be approved'),
  'DP-5.1': (f) => met(`this report, generated ${isoSeconds(f.now)} from ${f.configFile}, the policies, the state ${f.stateFile} and the keys it records`),
  'DK-16': (f) =>
    manual(
      `every time hms logs is UTC, from the host clock${f.audit.syslog === null ? '' : `; records go to syslog ${f.audit.syslog}`}; keeping the logs 12 months is set in the log system`,
    ),
  'DK-17': (f) => {
    const outside = f.zones.filter((z) => !/\.dk\.$/i.test(z.name));
    if (f.zones.length === 0) return manual('no zones configured');
    return outside.length === 0
      ? met(`every zone is under .dk: ${f.zones.map((z) => z.name).join(', ')}`)
      : notMet(`not under .dk: ${outside.map((z) => z.name).join(', ')}`);
  },
  'DK-18': (f) => {
    const unsigned = f.zones.filter((z) => z.insecure || (z.keys ?? []).filter((k) => k.state === 'active').length === 0);
    const dsLess = f.zones.filter((z) => !unsigned.includes(z) && !(z.keys ?? []).some((k) => k.dsSeen));
    const records = recordItems(f, 'DK-18');
    const delegations =
      records.failed.length > 0
        ? `delegated subdomains without a DS: ${records.failed.join('; ')}`
        : `delegated subdomains: ${records.passed.length === 0 ? 'none' : records.passed.join('; ')}${records.unread.length === 0 ? '' : `; not read: ${records.unread.join(', ')}`}`;
    if (unsigned.length > 0) return notMet(`not signed (no active key, or going insecure): ${unsigned.map((z) => z.name).join(', ')}`, delegations);
    if (dsLess.length > 0) return notMet(`no DS confirmed at the parent (hms ds seen): ${dsLess.map((z) => z.name).join(', ')}`, delegations);
    if (records.failed.length > 0)
      return notMet(delegations, `every zone is signed with a DS confirmed at the parent: ${f.zones.map((z) => z.name).join(', ')}`);
    return met(`every zone is signed with a DS confirmed at the parent: ${f.zones.map((z) => z.name).join(', ')}`, delegations);
  },
  'DK-19': (f) =>
    manual(`hms check compliance asks a validating resolver${f.resolver === null ? ' (compliance.resolver)' : ` (${f.resolver})`} about every MX target`),
  'DK-20': (f) =>
    manual(`hms check compliance asks a validating resolver${f.resolver === null ? ' (compliance.resolver)' : ` (${f.resolver})`} for every MX target's TLSA`),
  'DK-23': (f) => {
    const r = recordItems(f, 'DK-23');
    const unread = r.unread.length === 0 ? [] : [`not read: ${r.unread.join(', ')}`];
    if (r.failed.length > 0) return notMet(...r.failed, ...unread);
    if (r.passed.length === 0) return manual('no zone could be read: hms check compliance reads DMARC, SPF and DKIM from the zones', ...unread);
    return { status: unread.length === 0 ? 'met' : 'manual', evidence: [...r.passed, ...unread] };
  },
};

/** Every requirement of REQUIREMENTS with its status and evidence. */
export function buildDpsReport(f: DpsFacts): DpsEntry[] {
  return REQUIREMENTS.map((r) => {
    const rule = RULES[r.id];
    if (rule === undefined) throw new RangeError(`no rule for ${r.id}`);
    const v = rule(f);
    return { id: r.id, title: r.title, status: v.status, evidence: v.evidence };
  });
}

/** The IDs the report has a rule for (a test holds them to REQUIREMENTS). */
export const DPS_RULE_IDS: readonly string[] = Object.keys(RULES);

const WORD: Record<DpsStatus, string> = { met: 'met', 'not-met': 'NOT MET', manual: 'manual' };

/** The report as Markdown: a summary table, then each requirement with its evidence. */
export function formatDpsMarkdown(f: DpsFacts, entries: readonly DpsEntry[]): string[] {
  const count = (s: DpsStatus): number => entries.filter((e) => e.status === s).length;
  const lines = [
    '# DNSSEC practice statement: the running configuration (DP-5.1)',
    '',
    `Generated ${isoSeconds(f.now)} from ${f.configFile} and the state ${f.stateFile}.`,
    `${count('met')} met, ${count('not-met')} not met, ${count('manual')} manual.`,
    '',
    '| ID | Requirement | Status |',
    '|---|---|---|',
    ...entries.map((e) => `| ${e.id} | ${e.title} | ${WORD[e.status]} |`),
    '',
  ];
  for (const e of entries) {
    lines.push(`## ${e.id} ${e.title}: ${WORD[e.status]}`, '');
    for (const ev of e.evidence) lines.push(`- ${ev.replace(/\|/g, '\\|')}`);
    lines.push('');
  }
  return lines;
}

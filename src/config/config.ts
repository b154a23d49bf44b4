import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, LineCounter, parseDocument, type Node } from 'yaml';
import { ConfigError, quote } from '../common/errors.js';
import { MAX_CONFIG_OCTETS, readRegularTextFile } from '../files/regular-file.js';
import { duplicateKeys, MapReader, offsetOf, Problems, type Scope } from '../kasp/fields.js';
import { Name } from '../dns/name.js';
import { readAuditConfig, type AuditConfig } from './audit.js';
import { readComplianceConfig, type ComplianceConfig } from './compliance.js';
import { parsePrincipal, ROLES, type Access, type Principal, type Role, type RoleTable } from './access.js';
import { readServiceConfig, type ServiceConfig } from './service.js';

/**
 * The hms configuration (YAML; `--config`, else HMS_CONFIG): where the state lives, the
 * policy files, the HSM, and who may do what. Paths are relative to the file's folder.
 * Secrets are never in it: the PIN is in a file of its own (hsm.pin-file) or in HMS_PIN.
 */
export interface HmsConfig {
  readonly file: string;
  /** The SQLite state file. */
  readonly state: string;
  /** Policy files (kasp/). */
  readonly policies: readonly string[];
  /** `signingThreads`: the service's signing threads, shared by every zone (default: one per core). */
  readonly hsm: {
    readonly module?: string;
    readonly token: string;
    readonly pinFile?: string;
    readonly signingThreads?: number;
    /** Key pairs made ahead per kind of key the zones' policies use (issue 20 item 3; default Keeper's DEFAULT_KEY_POOL). */
    readonly keyPool?: number;
  };
  readonly access: Access;
  /** The audit trail's copies outside the state: the checkpoint file and syslog (DP-2.4d, DP-2.4e). */
  readonly audit: AuditConfig;
  /** What `hms run` serves: zones, secondaries, TSIG keys, listen addresses (docs/configuration.md). */
  readonly service: ServiceConfig;
  /** The validating resolver of `hms check compliance` (docs/compliance.md). */
  readonly compliance: ComplianceConfig;
}

/** Reads and checks a configuration file; every problem is reported at once with file:line:col. */
/**
 * `secrets: false` (the CLI as a client of the running service): the TSIG secret files are not
 * read, and the configuration holds no TSIG keys; an operator's CLI needs no access to them.
 */
export interface LoadOptions {
  readonly secrets?: boolean;
}

export function loadConfig(path: string, options: LoadOptions = {}): HmsConfig {
  return parseConfig(readRegularTextFile(path, 'configuration', MAX_CONFIG_OCTETS), path, options);
}

export function parseConfig(text: string, file: string, options: LoadOptions = {}): HmsConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const problems = new Problems(file, lines);
  for (const e of [...doc.errors, ...doc.warnings]) problems.add(e.pos[0], e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  for (const d of duplicateKeys(doc)) problems.add(d.at, `${quote(d.key)} is written twice in one map`);
  const top = doc.contents as Node | null;
  if (problems.list.length > 0 || !isMap(top)) {
    if (problems.list.length === 0) problems.add(offsetOf(top), 'expected a map of settings (state, policies, hsm, access)');
    throw new ConfigError(file, problems.list);
  }
  const scope: Scope = { problems, fields: {} };
  const r = new MapReader(scope, top, '', offsetOf(top));
  const base = dirname(resolve(file));
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const state = path(r.string('state', 'state/hms.db'));
  const policies = r.strings('policies').map(path);
  const hsmReader = r.sub('hsm');
  const module = hsmReader.has('module') ? path(hsmReader.string('module', '')) : undefined;
  const token = hsmReader.string('token', 'hms');
  const pinFile = hsmReader.has('pin-file') ? path(hsmReader.string('pin-file', '')) : undefined;
  if (hsmReader.has('pin'))
    hsmReader.complain('pin', 'a PIN is never written in the configuration: put it in a file only its owner can read (pin-file) or in HMS_PIN');
  hsmReader.field('pin');
  const signingThreads = hsmReader.has('signing-threads') ? hsmReader.integer('signing-threads', 1, 1, 256) : undefined;
  const keyPool = hsmReader.has('key-pool') ? hsmReader.integer('key-pool', 0, 0, 10_000) : undefined;
  hsmReader.finish();
  const accessReader = r.sub('access');
  const all = roleTable(accessReader);
  const zones = new Map<string, RoleTable>();
  for (const { name, reader } of accessReader.keys('zones')) {
    try {
      zones.set(
        Name.parse(name.endsWith('.') ? name : `${name}.`)
          .toLowerCase()
          .toString(),
        roleTable(reader),
      );
      reader.finish();
    } catch {
      accessReader.complain('zones', `${quote(name)} is not a domain name`);
    }
  }
  accessReader.finish();
  const service = readServiceConfig(r, path, state, options.secrets !== false);
  const audit = readAuditConfig(r, path, state);
  const compliance = readComplianceConfig(r);
  r.finish();
  if (policies.length === 0 && !r.has('policies')) r.complain('policies', 'no policy files: list at least one (kasp/default.yaml)');
  if (problems.list.length > 0) throw new ConfigError(file, problems.list);
  return {
    file,
    state,
    policies,
    hsm: {
      ...(module === undefined ? {} : { module }),
      token,
      ...(pinFile === undefined ? {} : { pinFile }),
      ...(signingThreads === undefined ? {} : { signingThreads }),
      ...(keyPool === undefined ? {} : { keyPool }),
    },
    access: { all, zones },
    audit,
    service,
    compliance,
  };
}

function roleTable(r: MapReader): RoleTable {
  const table = {} as Record<Role, Principal[]>;
  for (const role of ROLES) {
    const key = `${role}s`;
    table[role] = r.strings(key).flatMap((text) => {
      const p = parsePrincipal(text);
      if (p === undefined) r.complain(key, `${quote(text)} is not user:NAME or group:NAME`);
      return p === undefined ? [] : [p];
    });
  }
  return table;
}

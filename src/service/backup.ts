import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SignerError } from '../common/errors.js';
import type { HmsConfig } from '../config/config.js';
import { findModule } from '../hsm/token.js';
import { readPin } from '../hsm/pin.js';
import { StateStore } from '../storage/state.js';
import { SCHEMA_VERSION } from '../storage/migrations.js';

/**
 * Backups of the signer (DP-2.5d, DP-3.1a): the state (an online SQLite backup), the
 * configuration and policy files, the audit checkpoint, and the HSM part: SoftHSM's token
 * files, or a named step (the HSM vendor's own backup) that the manifest records as not done
 * here. A manifest lists every file with its SHA-256; verify and restore check it first.
 * Secrets are never copied: not the PIN file, not the TSIG secret files.
 */
export const MANIFEST = 'manifest.json';
export const BACKUP_FORMAT = 1;
const HMS_VERSION = '0.1.0';

export interface BackupManifest {
  readonly format: number;
  readonly hmsVersion: string;
  readonly createdAt: string;
  readonly schemaVersion: number;
  readonly config: string;
  readonly zones: readonly {
    readonly name: string;
    readonly keys: readonly { readonly id: string; readonly tag: number; readonly role: string; readonly algorithm: number }[];
  }[];
  readonly hsm: {
    readonly token: string;
    /** `softhsm`: the token's files are under `token/`; `manual`: the vendor's backup is a step of its own. */
    readonly kind: 'softhsm' | 'manual';
    readonly copied: boolean;
    readonly step?: string;
    readonly tokenFolder?: string;
  };
  readonly secrets: 'not-included';
  readonly files: Readonly<Record<string, { readonly sha256: string; readonly size: number }>>;
}

/** What a backup needs from the running signer: the state (an online copy) and the configuration. */
export interface BackupSource {
  readonly config: HmsConfig;
  backupState(path: string): Promise<void>;
}

const backupError = (message: string, details: Record<string, unknown> = {}): SignerError => new SignerError('BACKUP', message, { details });

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = join(dir, e.name);
      if (e.isDirectory()) return listFiles(p, base);
      return e.isFile() ? [relative(base, p).split(sep).join('/')] : [];
    })
    .sort();
}

/** SoftHSM's token folder, from its configuration (SOFTHSM2_CONF or the usual places). */
export function softhsmTokenDir(): string {
  const conf = [process.env.SOFTHSM2_CONF, '/etc/softhsm/softhsm2.conf', '/etc/softhsm2.conf'].find(
    (p): p is string => p !== undefined && p !== '' && existsSync(p),
  );
  if (conf === undefined) throw backupError("SoftHSM's configuration was not found (SOFTHSM2_CONF, /etc/softhsm/softhsm2.conf)");
  const line = readFileSync(conf, 'utf8')
    .split('\n')
    .map((l) => /^\s*directories\.tokendir\s*=\s*(.+?)\s*$/.exec(l))
    .find((m) => m !== null);
  if (line === undefined || line === null) throw backupError(`${conf}: no directories.tokendir`);
  return line[1]!;
}

/** The folder of the token labelled `label` in SoftHSM's token folder `tokenDir`, if any. */
export function softhsmTokenFolder(tokenDir: string, label: string): string | undefined {
  if (!existsSync(tokenDir)) return undefined;
  const padded = Buffer.from(label.padEnd(32, ' '), 'utf8');
  for (const e of readdirSync(tokenDir, { withFileTypes: true })) {
    const object = join(tokenDir, e.name, 'token.object');
    if (e.isDirectory() && existsSync(object) && readFileSync(object).includes(padded)) return join(tokenDir, e.name);
  }
  return undefined;
}

const isSoftHsm = (config: HmsConfig): boolean => /softhsm/i.test(basename(findModule(config.hsm.module)));

/**
 * Copies a token folder as one consistent picture: SoftHSM writes its object files in place
 * while hms makes or deletes a key, so the copy is taken again until the files hashed before
 * and after it are the same (lock files left out).
 */
function copyTokenConsistently(from: string, to: string): void {
  const picture = (): string =>
    listFiles(from)
      .filter((f) => !f.endsWith('.lock'))
      .map((f) => `${f}:${sha256(join(from, f))}`)
      .join('\n');
  for (let attempt = 0; attempt < 10; attempt++) {
    const before = picture();
    rmSync(to, { recursive: true, force: true });
    mkdirSync(to, { recursive: true, mode: 0o700 });
    for (const f of listFiles(from).filter((x) => !x.endsWith('.lock'))) {
      mkdirSync(dirname(join(to, f)), { recursive: true, mode: 0o700 });
      copyFileSync(join(from, f), join(to, f));
    }
    if (picture() === before) return;
  }
  throw backupError(`${from}: the token's files kept changing while they were copied (10 attempts); try again when no key is being made`);
}

/** The checkpoint lines up to the state copy's last audit record: the copy and its checkpoint agree. */
function checkpointUpTo(checkpoint: string, lastSeq: number): string {
  if (!existsSync(checkpoint)) return '';
  return readFileSync(checkpoint, 'utf8')
    .split('\n')
    .filter((l) => l !== '' && (JSON.parse(l) as { seq: number }).seq <= lastSeq)
    .map((l) => `${l}\n`)
    .join('');
}

function tightenModes(dir: string): void {
  chmodSync(dir, 0o700);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) tightenModes(p);
    else chmodSync(p, 0o600);
  }
}

/**
 * `hms backup create DIR`: DIR must not exist or be empty. The state is copied first, then
 * the token: every key the state copy records was made before it, so it is in the token copy.
 */
export async function createBackup(source: BackupSource, dir: string, now: Date): Promise<BackupManifest> {
  const { config } = source;
  if (existsSync(dir) && readdirSync(dir).length > 0) throw backupError(`${dir}: not empty; a backup goes into a new folder`, { dir });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'state'), { mode: 0o700 });
  const stateCopy = join(dir, 'state', basename(config.state));
  await source.backupState(stateCopy);
  // one file, no -wal or -shm beside it: the copy is read (and verified) without writing
  const rw = new Database(stateCopy, { fileMustExist: true });
  try {
    rw.pragma('journal_mode = DELETE');
  } finally {
    rw.close();
  }
  const copy = new Database(stateCopy, { readonly: true, fileMustExist: true });
  let zones: BackupManifest['zones'];
  let lastSeq: number;
  let schemaVersion: number;
  try {
    schemaVersion = (copy.prepare('SELECT version FROM schema_version').get() as { version: number }).version;
    lastSeq = (copy.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM audit').get() as { s: number }).s;
  } finally {
    copy.close();
  }
  const store = StateStore.open(stateCopy, { readonly: true });
  try {
    zones = store
      .listZones()
      .map((z) => ({ name: z.name, keys: store.keys(z.name).map((k) => ({ id: k.id, tag: k.keyTag, role: k.role, algorithm: k.algorithm })) }));
  } finally {
    store.close();
  }
  mkdirSync(join(dir, 'audit'), { mode: 0o700 });
  writeFileSync(join(dir, 'audit', 'checkpoint'), checkpointUpTo(config.audit.checkpoint, lastSeq), { mode: 0o600 });
  mkdirSync(join(dir, 'config', 'policies'), { recursive: true, mode: 0o700 });
  copyFileSync(config.file, join(dir, 'config', basename(config.file)));
  config.policies.forEach((p, i) => copyFileSync(p, join(dir, 'config', 'policies', `${i}-${basename(p)}`)));
  let hsm: BackupManifest['hsm'];
  if (isSoftHsm(config)) {
    const folder = softhsmTokenFolder(softhsmTokenDir(), config.hsm.token);
    if (folder === undefined) throw backupError(`no SoftHSM token labelled ${config.hsm.token} in ${softhsmTokenDir()}`);
    copyTokenConsistently(folder, join(dir, 'token', basename(folder)));
    hsm = { token: config.hsm.token, kind: 'softhsm', copied: true, tokenFolder: basename(folder) };
  } else {
    hsm = {
      token: config.hsm.token,
      kind: 'manual',
      copied: false,
      step: `back up token ${config.hsm.token} with the HSM vendor's own tool (key backup or cloning to a backup HSM), and keep its record with this backup: not done here`,
    };
  }
  tightenModes(dir);
  const files: Record<string, { sha256: string; size: number }> = {};
  for (const f of listFiles(dir)) files[f] = { sha256: sha256(join(dir, f)), size: statSync(join(dir, f)).size };
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    hmsVersion: HMS_VERSION,
    createdAt: now.toISOString(),
    schemaVersion,
    config: basename(config.file),
    zones,
    hsm,
    secrets: 'not-included',
    files,
  };
  writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

/** The SHA-256 of a backup's manifest: kept in the audit trail, it vouches for the manifest's hashes. */
export function manifestDigest(dir: string): string {
  return sha256(join(dir, MANIFEST));
}

export interface Verified {
  readonly manifest: BackupManifest;
  /** What was checked, for the operator. */
  readonly checked: readonly string[];
}

function readManifest(dir: string): BackupManifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw backupError(`${file}: no manifest: not a backup made by hms backup create, or incomplete`, { file });
  let m: BackupManifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as BackupManifest;
  } catch (e) {
    throw backupError(`${file}: not JSON (${e instanceof Error ? e.message : String(e)})`, { file });
  }
  if (m.format !== BACKUP_FORMAT || typeof m.files !== 'object' || m.files === null || typeof m.hsm !== 'object' || !Array.isArray(m.zones)) {
    throw backupError(`${file}: not a backup manifest of format ${BACKUP_FORMAT}`, { file });
  }
  return m;
}

/**
 * `hms backup verify DIR`: every file against the manifest (changed, missing, extra), the
 * state copy's integrity and schema version, and, for a SoftHSM token copy and when `pin` is
 * given, every key the state records present in the copied token. Throws naming every problem.
 */
export function verifyBackup(dir: string, options: { readonly pin?: string; readonly module?: string } = {}): Verified {
  const m = readManifest(dir);
  const problems: string[] = [];
  const present = new Set(listFiles(dir).filter((f) => f !== MANIFEST));
  for (const [f, want] of Object.entries(m.files)) {
    if (!present.has(f)) problems.push(`${f}: missing`);
    else if (sha256(join(dir, f)) !== want.sha256) problems.push(`${f}: changed since the backup was made (SHA-256 differs from the manifest)`);
    present.delete(f);
  }
  for (const f of present) problems.push(`${f}: not in the manifest`);
  if (problems.length > 0) throw backupError(`${dir}: the backup does not match its manifest: ${problems.join('; ')}`, { dir, problems });
  const checked = [`${Object.keys(m.files).length} files match the manifest`];
  const stateFile = Object.keys(m.files).find((f) => f.startsWith('state/'));
  if (stateFile === undefined) throw backupError(`${dir}: the manifest lists no state file`, { dir });
  if (m.schemaVersion > SCHEMA_VERSION)
    throw backupError(`${join(dir, stateFile)}: state schema version ${m.schemaVersion}, this hms knows up to ${SCHEMA_VERSION}: restore it with a newer hms`, {
      dir,
      version: m.schemaVersion,
    });
  const db = new Database(join(dir, stateFile), { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw backupError(`${join(dir, stateFile)}: SQLite integrity check failed: ${String(integrity)}`, { dir });
    const version = (db.prepare('SELECT version FROM schema_version').get() as { version: number }).version;
    if (version > SCHEMA_VERSION)
      throw backupError(`${join(dir, stateFile)}: state schema version ${version}, this hms knows up to ${SCHEMA_VERSION}: restore it with a newer hms`, {
        dir,
        version,
      });
    if (version !== m.schemaVersion) throw backupError(`${join(dir, stateFile)}: schema version ${version}, the manifest says ${m.schemaVersion}`, { dir });
  } finally {
    db.close();
  }
  checked.push(`the state copy passes SQLite's integrity check, schema version ${m.schemaVersion}`);
  if (m.hsm.kind === 'softhsm' && options.pin !== undefined) {
    const missing = missingTokenKeys(dir, m, options.pin, options.module);
    if (missing.length > 0) throw backupError(`${dir}: the token copy lacks keys the state records: ${missing.join(', ')}`, { dir, missing });
    checked.push(`every key the state records (${m.zones.reduce((n, z) => n + z.keys.length, 0)}) is in the token copy`);
  } else if (m.hsm.kind === 'softhsm') {
    checked.push('the token copy was not opened (no PIN given): its keys were not checked');
  } else {
    checked.push(`HSM: ${m.hsm.step ?? 'the vendor backup'}`);
  }
  checked.push(`manifest SHA-256 ${manifestDigest(dir)} (compare with the backup.create record of the audit trail)`);
  return { manifest: m, checked };
}

/**
 * The keys recorded in the manifest that the copied token lacks: the copy (itself copied to a
 * temporary folder, SoftHSM writes lock files) is opened by a child process with a
 * softhsm2.conf of its own, since SoftHSM reads its configuration once per process.
 */
function missingTokenKeys(dir: string, m: BackupManifest, pin: string, module?: string): string[] {
  const tmp = mkdtempSync(join(tmpdir(), 'hms-backup-verify-'));
  try {
    const tokens = join(tmp, 'tokens');
    mkdirSync(tokens, { mode: 0o700 });
    copyTokenConsistently(join(dir, 'token', m.hsm.tokenFolder!), join(tokens, m.hsm.tokenFolder!));
    writeFileSync(join(tmp, 'softhsm2.conf'), `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`, { mode: 0o600 });
    const probe = join(dirname(fileURLToPath(import.meta.url)), 'backup-probe.js');
    const r = spawnSync(process.execPath, [probe, m.hsm.token, ...(module === undefined ? [] : [module])], {
      env: { ...process.env, SOFTHSM2_CONF: join(tmp, 'softhsm2.conf'), HMS_BACKUP_PIN: pin },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0)
      throw backupError(`${dir}: the token copy could not be opened: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? 'no output'}`, { dir });
    const found = new Set(JSON.parse(r.stdout) as string[]);
    return m.zones.flatMap((z) => z.keys.filter((k) => !found.has(k.id)).map((k) => `${z.name} ${k.role} tag ${k.tag} (id ${k.id})`));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Where a restore writes: the target site's configuration (state, audit checkpoint, token label). */
export interface RestoreTarget {
  readonly config: HmsConfig;
}

/**
 * `hms backup restore DIR`: verifies the backup first (the token copy too, with the target's
 * PIN), refuses a backup of another configuration (other zones, another token label) and an
 * existing state, checkpoint or token, then writes the state, the checkpoint and the token.
 * The configuration and policy files stay in DIR/config for the operator to install.
 */
export function restoreBackup(dir: string, target: RestoreTarget): { restored: string[]; verified: Verified } {
  const { config } = target;
  const pin = readPin(config.hsm.pinFile === undefined ? {} : { file: config.hsm.pinFile });
  const verified = verifyBackup(dir, { pin, ...(config.hsm.module === undefined ? {} : { module: config.hsm.module }) });
  const m = verified.manifest;
  const zonesHere = config.service.zones.map((z) => z.name).sort();
  const zonesThere = m.zones.map((z) => z.name).sort();
  if (m.hsm.token !== config.hsm.token) throw backupError(`${dir}: the backup is of token ${m.hsm.token}, ${config.file} uses ${config.hsm.token}`, { dir });
  const unknown = zonesThere.filter((z) => !zonesHere.includes(z));
  if (unknown.length > 0)
    throw backupError(
      `${dir}: the backup holds zones ${config.file} does not serve: ${unknown.join(', ')}; restore with the configuration the backup was made with (${join(dir, 'config', m.config)})`,
      { dir, unknown },
    );
  if (existsSync(config.state))
    throw backupError(`${config.state}: a state file exists already; a restore writes only onto a fresh host`, { path: config.state });
  if (existsSync(config.audit.checkpoint) && statSync(config.audit.checkpoint).size > 0)
    throw backupError(`${config.audit.checkpoint}: an audit checkpoint exists already; a restore writes only onto a fresh host`, {
      path: config.audit.checkpoint,
    });
  let tokenTarget: string | undefined;
  if (m.hsm.kind === 'softhsm') {
    const tokenDir = softhsmTokenDir();
    if (softhsmTokenFolder(tokenDir, config.hsm.token) !== undefined)
      throw backupError(`${tokenDir}: holds a token labelled ${config.hsm.token} already; a restore writes only into a fresh token folder`, { tokenDir });
    tokenTarget = join(tokenDir, m.hsm.tokenFolder!);
    if (existsSync(tokenTarget)) throw backupError(`${tokenTarget}: exists already`, { tokenTarget });
  }
  const stateFile = Object.keys(m.files).find((f) => f.startsWith('state/'))!;
  const restored: string[] = [];
  mkdirSync(dirname(config.state), { recursive: true, mode: 0o700 });
  copyFileSync(join(dir, stateFile), config.state);
  chmodSync(config.state, 0o600);
  restored.push(config.state);
  mkdirSync(dirname(config.audit.checkpoint), { recursive: true, mode: 0o750 });
  copyFileSync(join(dir, 'audit', 'checkpoint'), config.audit.checkpoint);
  chmodSync(config.audit.checkpoint, 0o640);
  restored.push(config.audit.checkpoint);
  if (tokenTarget !== undefined) {
    copyTokenConsistently(join(dir, 'token', m.hsm.tokenFolder!), tokenTarget);
    restored.push(tokenTarget);
  }
  return { restored, verified };
}

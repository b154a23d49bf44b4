import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { readPin } from '../../hsm/pin.js';
import { restoreBackup, verifyBackup, type Verified } from '../../service/backup.js';
import { out, outJson } from '../output.js';
import { changing, common, configPath, outAnswer, perform } from '../request.js';

function printVerified(dir: string, v: Verified): void {
  out(`${dir}: backup of ${v.manifest.createdAt} (hms ${v.manifest.hmsVersion}, zones ${v.manifest.zones.map((z) => z.name).join(', ') || 'none'}) verified:`);
  for (const c of v.checked) out(`  ${c}`);
}

/** `hms backup create|verify|restore` (DP-2.5d, DP-3.1a; docs/operations.md). */
export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('back up the state, configuration, audit checkpoint and token; verify and restore a backup (DP-2.5d)');

  changing(
    backup
      .command('create <dir>')
      .description(
        'make a backup in the new folder DIR (mode 0700, files 0600) with a manifest of SHA-256 hashes; through the running service when it runs; the PIN and TSIG secrets are not included',
      ),
  ).action(async (dir: string, opts: { config?: string; json?: boolean; ticket?: string; comment?: string }) => {
    const done = await perform(opts, 'backup.create', { dir: resolve(dir) });
    if (opts.json === true) {
      outAnswer(done);
      return;
    }
    const r = done.answer.result as {
      dir: string;
      manifestSha256: string;
      files: number;
      schemaVersion: number;
      zones: string[];
      hsm: { kind: string; copied: boolean; step?: string };
    };
    out(
      `${r.dir}: backup made${done.viaService ? ' by the running service' : ''}: ${r.files} files, state schema ${r.schemaVersion}, zones ${r.zones.join(', ') || 'none'}`,
    );
    out(`  manifest SHA-256 ${r.manifestSha256} (in the audit trail: hms backup verify prints it to compare)`);
    out(
      r.hsm.copied ? "  HSM: the SoftHSM token files are in it, encrypted by SoftHSM under the token's PINs" : `  HSM, a step of its own: ${r.hsm.step ?? ''}`,
    );
    out('  not in it: the user PIN and the TSIG secrets; keep them apart (docs/operations.md)');
  });

  common(
    backup
      .command('verify <dir>')
      .description(
        "check every file of a backup against its manifest, the state copy's integrity and schema version, and (with a PIN) that the token copy holds every recorded key",
      )
      .option('--pin-file <file>', "the user PIN, to open the token copy (default: the configuration's hsm.pin-file, else HMS_PIN when set)"),
  ).action((dir: string, opts: { config?: string; json?: boolean; pinFile?: string }) => {
    const config = opts.config ?? process.env.HMS_CONFIG;
    const pinFile = opts.pinFile ?? (config === undefined || config === '' ? undefined : loadConfig(config, { secrets: false }).hsm.pinFile);
    const pin = pinFile !== undefined ? readPin({ file: pinFile }) : (process.env.HMS_PIN ?? '') !== '' ? readPin({}) : undefined;
    const v = verifyBackup(resolve(dir), pin === undefined ? {} : { pin });
    if (opts.json === true) outJson({ dir: resolve(dir), manifest: v.manifest, checked: v.checked });
    else printVerified(resolve(dir), v);
  });

  common(
    backup
      .command('restore <dir>')
      .description(
        'restore a verified backup onto a fresh host: the state, the audit checkpoint and the SoftHSM token, at the places the configuration (--config) names; refuses to overwrite any of them',
      ),
  ).action((dir: string, opts: { config?: string; json?: boolean }) => {
    const config = loadConfig(configPath(opts));
    const r = restoreBackup(resolve(dir), { config });
    if (opts.json === true) {
      outJson({ dir: resolve(dir), restored: r.restored, checked: r.verified.checked });
      return;
    }
    printVerified(resolve(dir), r.verified);
    for (const f of r.restored) out(`restored ${f}`);
    if (r.verified.manifest.hsm.kind === 'manual') out(`HSM, a step of its own: restore token ${r.verified.manifest.hsm.token} from the vendor's backup`);
    out('next: hms audit verify, then hms run (docs/operations.md, site switch)');
  });
}

import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import { Name } from '../../dns/name.js';
import { loadZoneFile } from '../../service/load-zone.js';
import { checkZone } from '../../zone/checks.js';
import { type Finding, formatFinding, hasErrors, ZoneCheckError } from '../../zone/findings.js';
import type { Zone } from '../../zone/zone.js';
import { printZone } from '../../zone/print.js';
import { out, outJson, setExitCode } from '../output.js';
import { EXIT } from '../../common/error-codes.js';

/** `--origin example.com` and `--origin example.com.` both mean the absolute name. */
export function parseOrigin(text: string): Name {
  try {
    return Name.parse(text.endsWith('.') ? text : `${text}.`, null);
  } catch (e) {
    throw new UsageError(`--origin: ${e instanceof Error ? e.message : String(e)}`);
  }
}

interface ZoneOptions {
  origin: string;
  json?: boolean;
  signed?: boolean;
}

/** A zone-file command: the file, `--origin` and `--signed`, and the zone read and checked. */
function zoneFileCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .argument('<file>', 'the zone file')
    .requiredOption('--origin <name>', 'the zone apex (origin of relative names)')
    .option('--signed', 'the zone is signed: DNSSEC records are expected');
}

function loadAndCheck(file: string, opts: ZoneOptions): { origin: Name; zone: Zone; findings: Finding[] } {
  const origin = parseOrigin(opts.origin);
  const zone = loadZoneFile(file, origin);
  return { origin, zone, findings: checkZone(zone, { signed: opts.signed === true }) };
}

export function registerZoneCommands(program: Command): void {
  const zone = program.command('zone').description('read, check and print zone files');

  zoneFileCommand(zone, 'check', 'check a zone file and print every finding; exits 3 when there is an error')
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: ZoneOptions) => {
      const { origin, zone: zoneData, findings } = loadAndCheck(file, opts);
      const errors = findings.filter((f) => f.severity === 'error').length;
      const ok = !hasErrors(findings);
      if (opts.json) {
        outJson({ zone: origin.toString(), file, records: zoneData.recordCount, ok, errors, warnings: findings.length - errors, findings });
      } else {
        for (const f of findings) out(formatFinding(f));
        out(`${origin.toString()}: ${zoneData.recordCount} records, ${errors} error(s), ${findings.length - errors} warning(s): ${ok ? 'OK' : 'REJECTED'}`);
      }
      if (!ok) setExitCode(EXIT.INVALID_INPUT);
    });

  zoneFileCommand(zone, 'print', 'print a zone file in canonical order, one record per line; refuses a zone with errors').action(
    (file: string, opts: ZoneOptions) => {
      const { origin, zone: zoneData, findings } = loadAndCheck(file, opts);
      if (hasErrors(findings)) throw new ZoneCheckError(origin.toString(), findings);
      let chunk = '';
      for (const line of printZone(zoneData)) {
        chunk += `${line}\n`;
        if (chunk.length > 1 << 16) {
          process.stdout.write(chunk);
          chunk = '';
        }
      }
      process.stdout.write(chunk);
    },
  );
}

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isoSeconds } from '../../common/clock.js';
import { UsageError } from '../../common/errors.js';
import { out, outJson } from '../output.js';
import { changing, common, outAnswer, perform, reportServed, type Common } from '../request.js';
import { parseOrigin } from './zone.js';

export { configPath, type Common } from '../request.js';

/** A command group (`zone`, `key`), made once and shared by the files that add to it. */
export function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

export const iso = (t: number | null): string => (t === null ? '-' : isoSeconds(t));
export const zoneName = (text: string): string => parseOrigin(text).toLowerCase().toString();

type Row = Record<string, unknown>;
const keyLine = (k: Row): string =>
  `${String(k.role).toUpperCase()}\t${String(k.keyTag)}\t${String(k.state)}\tpublish ${String(k.publish)}\tactive ${String(k.active)}\tretire ${String(k.retire)}\tremove ${String(k.remove)}`;

/** `hms key list ZONE` with a configuration: the zone's keys as the state has them, checked against the HSM. */
export async function listZoneKeys(name: string, opts: Common): Promise<void> {
  const done = await perform(opts, 'key.list', { zone: zoneName(name) });
  if (opts.json) return outJson(done.answer.result);
  for (const k of done.answer.result.keys as Row[]) out(keyLine(k));
  for (const k of (done.answer.result.pending ?? []) as Row[]) out(pendingLine(k));
  for (const k of (done.answer.result.orphans ?? []) as Row[]) out(orphanLine(k));
}

const pendingLine = (k: Row): string =>
  `${String(k.role).toUpperCase()}	${typeof k.keyTag === 'number' ? String(k.keyTag) : '-'}	PENDING	recorded as intended, not as made (hms stopped in between; ${k.inToken === true ? 'in the token' : 'not in the token'}): settled at the next start, not used for signing	id ${String(k.id)}	label ${String(k.label)}`;

const orphanLine = (k: Row): string =>
  `${String(k.role).toUpperCase()}\t${String(k.keyTag)}\tORPHAN\tin the token, not in the state: not used for signing\tid ${String(k.id)}\tlabel ${String(k.label)}`;

export function registerKeyCommands(program: Command): void {
  const zone = group(program, 'zone', 'zones: files, checks, and the zones hms manages');
  changing(
    zone
      .command('add')
      .description('manage a zone: its keys are made in the HSM at once (administrator)')
      .argument('<zone>', 'the zone apex')
      .requiredOption('--input <file>', 'the unsigned zone file')
      .requiredOption('--policy <name>', 'the key and signing policy (kasp/)')
      .option('--parent-server <addr...>', 'a name server of the parent zone, ADDR[:PORT], for hms ds check (repeatable)'),
  ).action(async (name: string, opts: Common & { input: string; policy: string; parentServer?: string[] }) => {
    const done = await perform(opts, 'zone.add', { zone: zoneName(name), input: opts.input, policy: opts.policy, parentServers: opts.parentServer ?? [] });
    const r = done.answer.result;
    if (opts.json) return outAnswer(done);
    out(`${String(r.zone)}: added under policy ${String(r.policy)}`);
    for (const k of r.keys as Row[]) out(`  ${String(k.role).toUpperCase()} ${String(k.keyTag)} (algorithm ${String(k.algorithm)}, ${String(k.bits)} bits)`);
    reportServed(done);
  });

  common(zone.command('list').description('the zones hms manages')).action(async (opts: Common) => {
    const { answer } = await perform(opts, 'zone.list', {});
    if (opts.json) outJson(answer.result);
    else for (const z of answer.result.zones as Row[]) out(`${String(z.name)}\tpolicy ${String(z.policy)}\t${String(z.input)}`);
  });

  changing(zone.command('remove').description('stop managing a zone; its keys stay in the HSM (administrator)').argument('<zone>', 'the zone apex')).action(
    async (name: string, opts: Common) => {
      const done = await perform(opts, 'zone.remove', { zone: zoneName(name) });
      const r = done.answer.result;
      if (opts.json) return outAnswer(done);
      out(`${String(r.zone)}: no longer managed; its ${String(r.keys)} key(s) stay in the HSM (labels hms:${String(r.zone)}:...)`);
      reportServed(done);
    },
  );

  changing(
    zone
      .command('sign')
      .description('sign a managed zone as its policy and keys say now (due key events first), verify it, write it atomically (operator)')
      .argument('<zone>', 'the zone apex')
      .requiredOption('--out <file>', 'the signed zone file (replaced only when the new version verifies)'),
  ).action(async (name: string, opts: Common & { out: string }) => {
    const done = await perform(opts, 'zone.sign', { zone: zoneName(name), out: opts.out });
    const v = done.answer.result as Row & { keys: Row[]; children: Row[] };
    if (opts.json) return outJson(v);
    out(
      v.status === 'unsigned'
        ? `${zoneName(name)}: insecure, written UNSIGNED, serial ${String(v.serial)}, ${String(v.records)} records, to ${String(v.out)}`
        : `${zoneName(name)}: signed, serial ${String(v.serial)}, ${String(v.records)} records (${String(v.signatures)} signatures), keys ${v.keys.map((k) => `${String(k.keyTag)} (${String(k.signs)})`).join(', ')}${v.cdsDelete === true ? ', CDS/CDNSKEY DELETE (going insecure)' : ''}, written to ${String(v.out)}`,
    );
    for (const c of v.children) {
      const list = (x: unknown): string => (x as unknown[]).join(', ');
      out(
        `  child ${String(c.zone)}: DS ${list(c.keyTags) || 'none'}${list(c.seen) !== '' ? `; now published: ${list(c.seen)}` : ''}${list(c.withdrawn) !== '' ? `; now withdrawn: ${list(c.withdrawn)}` : ''}${c.heldBack === true ? `; its changes held back: ${done.answer.by} may not act for ${String(c.zone)} (DP-4.6c)` : ''}`,
      );
    }
  });

  const key = group(program, 'key', 'keys in the HSM and their lifecycle');
  changing(
    key
      .command('rollover')
      .description(
        'start a key roll (KSK: operator-triggered, DP-4.3b; --emergency: compromised key, DP-2.5a); with hms run going, the new key is served at once and the next steps count from when every secondary serves it',
      )
      .argument('<zone>', 'the zone apex')
      .option('--ksk', 'roll the KSK (or the CSK)')
      .option('--zsk', 'roll the ZSK')
      .option('--emergency', 'the key is believed compromised: replace it at once, at a risk the command states'),
  ).action(async (name: string, opts: Common & { ksk?: boolean; zsk?: boolean; emergency?: boolean }) => {
    if (opts.ksk === opts.zsk) throw new UsageError('say which key: --ksk or --zsk');
    const done = await perform(opts, 'key.rollover', { zone: zoneName(name), role: opts.zsk ? 'zsk' : 'ksk', emergency: opts.emergency === true });
    const r = done.answer.result;
    if (opts.json) return outAnswer(done);
    out(
      `${String(r.zone)}: ${String(r.role).toUpperCase()} roll started${r.emergency === true ? ' (EMERGENCY)' : ''} by ${done.answer.by}; new key ${(r.new as number[]).join(', ')}`,
    );
    if (typeof r.risk === 'string') out(`RISK: ${r.risk}`);
    if (!done.viaService) {
      // the roll's own account of its steps, timed from now; the service re-times them from when its secondaries serve the key
      out(`next: ${String(r.next)}`);
      out(
        `applied by ${done.answer.by} without a running service: the new key is served when hms run starts, and the steps count from then (hms key timeline)`,
      );
      return;
    }
    reportServed(done);
    if (Object.values(done.answer.waiting).every((g) => g.length === 0)) out(`next: ${String(r.next)}`);
  });

  // issue 20 item 3: the HSM's key pool
  changing(
    key
      .command('pool')
      .description(
        'the key pairs the HSM holds ready for new zones and rolls, per kind of key the policies use, and the size it is refilled to (hsm.key-pool); --fill makes them now, before many zones are added (administrator)',
      )
      .option('--fill', 'fill the pool now and wait until it is full')
      .option('--count <n>', 'with --fill: fill to this many pairs of each kind (default: the pool size)'),
  ).action(async (opts: Common & { fill?: boolean; count?: string }) => {
    if (opts.count !== undefined && (opts.fill !== true || !/^\d+$/.test(opts.count))) throw new UsageError(`--count: give a number of pairs, with --fill`);
    const done =
      opts.fill === true
        ? await perform(opts, 'key.pool.fill', opts.count === undefined ? {} : { count: Number(opts.count) })
        : await perform(opts, 'key.pool', {});
    const r = done.answer.result as { kinds: Row[]; made?: number; seconds?: number };
    if (opts.json) return outJson(r);
    if (r.made !== undefined) out(`key pool: ${r.made} pair(s) made in ${String(r.seconds)} s`);
    if (r.kinds.length === 0) out('key pool: no kind of key to keep (no zone, or hsm.key-pool is 0)');
    for (const k of r.kinds)
      out(
        `${String(k.kind)}\theld ${String(k.held)}${Number(k.reserved) > 0 ? ` (${String(k.reserved)} promised to a zone)` : ''}\ttarget ${String(k.target)}${Number(k.making) > 0 ? `\tmaking ${String(k.making)}` : ''}`,
      );
  });

  changing(
    key
      .command('purge')
      .description(
        "remove an orphan key from the HSM: one the token holds under the zone's label but the state does not record (a key made when hms was killed before recording it); refuses a recorded key (administrator, audited)",
      )
      .argument('<zone>', 'the zone apex')
      .requiredOption('--keytag <n>', "the orphan's key tag (hms key list ZONE)")
      .option('--id <hex>', "the orphan's CKA_ID, when two orphans share the key tag")
      .option('--yes', 'remove it; without, say what would be removed and remove nothing'),
  ).action(async (name: string, opts: Common & { keytag: string; id?: string; yes?: boolean }) => {
    if (opts.ticket === undefined) throw new UsageError('--ticket: removing a key from the HSM needs a ticket (DP-2.4f)');
    if (!/^\d+$/.test(opts.keytag)) throw new UsageError(`--keytag: '${opts.keytag}' is not a key tag`);
    const done = await perform(opts, 'key.purge', {
      zone: zoneName(name),
      keyTag: Number(opts.keytag),
      ...(opts.id === undefined ? {} : { id: opts.id }),
      yes: opts.yes === true,
    });
    const r = done.answer.result as { zone: string; purged: boolean; key: Row };
    if (opts.json) return outAnswer(done);
    const what = `orphan ${String(r.key.role).toUpperCase()} ${String(r.key.keyTag)} (id ${String(r.key.id)}, label ${String(r.key.label)})`;
    out(
      r.purged
        ? `${r.zone}: ${what} removed from the HSM by ${done.answer.by}`
        : `${r.zone}: would remove ${what} from the HSM; nothing removed: run again with --yes`,
    );
  });

  changing(
    key
      .command('import')
      .description(
        "take over a zone from another signer without a new DS: its keys from BIND's K*.key/.private files (copied into the HSM as sensitive, non-extractable objects), or pairs already in the HSM (--label, --id: OpenDNSSEC, Knot), recorded as published and active (administrator, --ticket)",
      )
      .argument('<zone>', 'the zone apex')
      .argument('[keyfiles...]', 'BIND .key files (each .private beside it)')
      .option('--label <label...>', 'a private key in the HSM by its CKA_LABEL (repeatable)')
      .option('--id <hex...>', 'a private key in the HSM by its CKA_ID in hex (repeatable)')
      .option('--role <role>', "ksk, zsk or csk (default from a BIND key's flags: 257 KSK, 256 ZSK; needed with --label/--id)")
      .option('--ds-seen', 'the parent serves the DS of the KSK/CSK imported (checked by you): recorded as seen')
      .option('--dnskeys <file>', 'the DNSKEY records the zone publishes now (dig DNSKEY ZONE): every key imported must be among them')
      .option('--input <file>', 'for a zone not managed yet: its unsigned zone file')
      .option('--policy <name>', 'for a zone not managed yet: its policy')
      .option(
        '--parent-server <addr...>',
        "the parent's name servers (ADDR[:PORT], repeatable; default: the zone's): asked for the DS of each KSK/CSK imported, refused if they serve none of it, a warning if they cannot be asked; kept for hms ds check",
      ),
  ).action(
    async (
      name: string,
      files: string[],
      opts: Common & {
        label?: string[];
        id?: string[];
        role?: string;
        dsSeen?: boolean;
        dnskeys?: string;
        input?: string;
        policy?: string;
        parentServer?: string[];
      },
    ) => {
      if (opts.ticket === undefined) throw new UsageError('--ticket: taking keys into the HSM and the state needs a ticket (DP-2.4f)');
      const abs = (f: string): string => resolve(f);
      const done = await perform(opts, 'key.import', {
        zone: zoneName(name),
        keyFiles: files.map(abs),
        labels: opts.label ?? [],
        ids: opts.id ?? [],
        dsSeen: opts.dsSeen === true,
        ...(opts.role === undefined ? {} : { role: opts.role }),
        ...(opts.dnskeys === undefined ? {} : { dnskeys: abs(opts.dnskeys) }),
        ...(opts.input === undefined ? {} : { input: abs(opts.input) }),
        ...(opts.policy === undefined ? {} : { policy: opts.policy }),
        parentServers: opts.parentServer ?? [],
      });
      const r = done.answer.result as { zone: string; added: boolean; fromFiles: boolean; keys: Row[] };
      if (opts.json) return outAnswer(done);
      if (r.added) out(`${r.zone}: now managed by hms, with the keys imported`);
      for (const k of r.keys) {
        out(
          `${r.zone}: ${String(k.role).toUpperCase()} ${String(k.keyTag)} imported from ${String(k.from)} by ${done.answer.by} (id ${String(k.id)}, label ${String(k.label)})`,
        );
        if (typeof k.parent === 'string') out(`  ${k.parent}`);
        for (const w of k.problems as string[])
          out(`  WARNING: its private key's ${w}: hms's own keys sign only and never leave the token; roll it when you can (hms key rollover)`);
      }
      if (r.fromFiles)
        out(
          `the private keys are now in the HSM: destroy the key files (${files.map((f) => f.replace(/\.key$/, '.private')).join(', ')}) and their copies and backups (shred -u)`,
        );
      reportServed(done);
    },
  );

  common(
    key
      .command('timeline')
      .description('every coming key event with its date, the manual steps included')
      .argument('<zone>', 'the zone apex')
      .option('--until <date>', 'how far to look (default: two years on)'),
  ).action(async (name: string, opts: Common & { until?: string }) => {
    const { answer } = await perform(opts, 'key.timeline', { zone: zoneName(name), ...(opts.until === undefined ? {} : { until: opts.until }) });
    if (opts.json) outJson(answer.result);
    else for (const e of answer.result.events as { at: string; what: string }[]) out(`${e.at}\t${e.what}`);
  });

  const ds = group(program, 'ds', 'the DS at the parent (DP-4.7): export, and confirmations approved by a second person');
  common(
    ds
      .command('export')
      .description(
        'what may be submitted to the registrar now: DS or DNSKEY records of the keys to add, or an EPP secDNS-1.1 update (add and rem); says so, and from when, when nothing may',
      )
      .argument('<zone>', 'the zone apex')
      .option('--format <format>', 'ds, dnskey or epp', 'ds')
      .option('--digest <type>', "sha256 or sha384 (sha1 only if the policy lists it); default: the policy's ds-digests"),
  ).action(async (name: string, opts: Common & { format: string; digest?: string }) => {
    const { answer } = await perform(opts, 'ds.export', {
      zone: zoneName(name),
      format: opts.format,
      ...(opts.digest === undefined ? {} : { digest: opts.digest }),
    });
    const r = answer.result as { zone: string; records: string | null; note: string };
    if (opts.json) return outJson(r);
    process.stdout.write(r.records ?? '');
    process.stderr.write(`${r.zone}: ${r.note}\n`);
  });

  for (const kind of ['seen', 'withdraw'] as const) {
    changing(
      ds
        .command(kind)
        .description(
          kind === 'seen'
            ? 'confirm that the parent serves the DS of a key (takes effect when a second person approves)'
            : 'confirm that the parent no longer serves the DS of a key (takes effect when a second person approves)',
        )
        .argument('<zone>', 'the zone apex')
        .requiredOption('--keytag <n>', 'the key tag of the DS'),
    ).action(async (name: string, opts: Common & { keytag: string }) => {
      if (opts.ticket === undefined) throw new UsageError('--ticket: a DS change at the parent needs a ticket (DP-2.4f, DP-4.7d)');
      if (!/^\d+$/.test(opts.keytag)) throw new UsageError(`--keytag: '${opts.keytag}' is not a key tag`);
      const done = await perform(opts, kind === 'seen' ? 'ds.seen' : 'ds.withdraw', { zone: zoneName(name), keyTag: Number(opts.keytag) });
      const r = done.answer.result;
      if (opts.json) return outAnswer(done);
      out(
        `${String(r.zone)}: request ${String(r.request)} (${String(r.kind)} ${String(r.keyTag)}) by ${done.answer.by} waits for a second person: hms approve ${String(r.request)}`,
      );
    });
  }

  changing(
    program
      .command('approve')
      .description('approve a request made by another person (DP-4.7d); it takes effect at once')
      .argument('<request>', 'the request ID'),
  ).action(async (id: string, opts: Common) => {
    const done = await perform(opts, 'approve', { id });
    const r = done.answer.result;
    if (opts.json) return outAnswer(done);
    out(`${String(r.request)}: approved by ${String(r.approvedBy)} (requested by ${String(r.requestedBy)}); ${String(r.done)} for ${String(r.zone)}`);
    reportServed(done, 'still waiting');
  });
}

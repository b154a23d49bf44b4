import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { parseUtcTime } from '../../common/clock.js';
import { UsageError } from '../../common/errors.js';
import { decodeSoa } from '../../dns/rdata/extract.js';
import { formatRdata } from '../../dns/rdata/index.js';
import { nextSerial, type SerialPolicy } from '../../dns/serial.js';
import { parseTtl } from '../../dns/ttl.js';
import { RRType } from '../../dns/types.js';
import { Algorithm, DigestType } from '../../dnssec/algorithms.js';
import { makeDs } from '../../dnssec/ds.js';
import type { Denial } from '../../dnssec/sign-zone.js';
import type { KeyRole, SigningKey } from '../../dnssec/signer.js';
import { findKeys, generateKey, hsmSigner, type HsmKey } from '../../hsm/keys.js';
import { readPin } from '../../hsm/pin.js';
import { Token } from '../../hsm/token.js';
import { readSigningAhead } from '../../service/read-ahead.js';
import { signZoneToFile } from '../../service/sign-file.js';
import { checkZone } from '../../zone/checks.js';
import { hasErrors, ZoneCheckError } from '../../zone/findings.js';
import { logChoice, signingProgressOnStderr } from '../log-options.js';
import { out, outJson } from '../output.js';
import { parseOrigin } from './zone.js';

const ALGORITHMS: Readonly<Record<string, { algorithm: number; ksk?: number; zsk?: number }>> = {
  rsasha256: { algorithm: Algorithm.RSASHA256, ksk: 2048, zsk: 1024 },
  ecdsap256sha256: { algorithm: Algorithm.ECDSAP256SHA256 },
  ed25519: { algorithm: Algorithm.ED25519 },
};

interface HsmOptions {
  module?: string;
  token?: string;
  pinFile?: string;
}

/** `--module`, `--token`, `--pin-file` for every command that opens the HSM. */
export function hsmOptions(cmd: Command): Command {
  return cmd
    .option('--module <path>', 'PKCS#11 module (default: HMS_PKCS11_MODULE, else SoftHSM2)')
    .option('--token <label>', 'token label (default: HMS_TOKEN, else hms)')
    .option('--pin-file <file>', 'file holding the user PIN, readable by its owner only (default: the HMS_PIN variable)');
}

export function openToken(opts: HsmOptions, sessions = 2): Token {
  const pin = readPin(opts.pinFile === undefined ? {} : { file: opts.pinFile });
  return Token.open({ ...(opts.module === undefined ? {} : { module: opts.module }), label: opts.token ?? process.env.HMS_TOKEN ?? 'hms', pin, sessions });
}

interface SignOptions extends HsmOptions {
  origin: string;
  in: string;
  out: string;
  algorithm: string;
  denial: string;
  nsec3Iterations: string;
  nsec3SaltLength: string;
  nsec3OptOut?: boolean;
  validity: string;
  serial: string;
  now?: string;
  json?: boolean;
}

function wholeNumber(text: string, what: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) > max) throw new UsageError(`${what}: '${text}' is not a whole number from 0 to ${max}`);
  return Number(text);
}

export function registerSignCommands(program: Command): void {
  hsmOptions(
    program
      .command('sign')
      .description('sign a zone file with keys in the HSM (made on first use), check the result, write it, and print the DS')
      .requiredOption('--origin <name>', 'the zone apex')
      .requiredOption('--in <file>', 'the unsigned zone file')
      .requiredOption('--out <file>', 'where the signed zone goes (written only when it verifies)')
      .option('--algorithm <name>', 'rsasha256 (KSK 2048, ZSK 1024 bits), ecdsap256sha256 or ed25519', 'rsasha256')
      .option('--denial <kind>', 'nsec or nsec3', 'nsec3')
      .option('--nsec3-iterations <n>', 'NSEC3 extra iterations (DP-4.2c: at most 10; RFC 9276: 0)', '0')
      .option('--nsec3-salt-length <n>', 'NSEC3 salt length in octets (RFC 9276: 0)', '0')
      .option('--nsec3-opt-out', 'NSEC3 opt-out for delegations without DS')
      .option('--validity <duration>', 'signature validity (DP-4.4a: 32d)', '32d')
      .option('--serial <policy>', 'datecounter, unixtime, counter or keep', 'datecounter')
      .option('--now <iso-time>', 'sign as if it were this time (UTC unless it names its zone)')
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: SignOptions, cmd: Command) => {
    const origin = parseOrigin(opts.origin);
    const choice = ALGORITHMS[opts.algorithm.toLowerCase()];
    if (choice === undefined) throw new UsageError(`--algorithm: '${opts.algorithm}' is not one of ${Object.keys(ALGORITHMS).join(', ')}`);
    if (opts.denial !== 'nsec' && opts.denial !== 'nsec3') throw new UsageError(`--denial: '${opts.denial}' is not nsec or nsec3`);
    const iterations = wholeNumber(opts.nsec3Iterations, '--nsec3-iterations', 10); // DP-4.2c
    const saltLength = wholeNumber(opts.nsec3SaltLength, '--nsec3-salt-length', 255);
    if (!['datecounter', 'unixtime', 'counter', 'keep'].includes(opts.serial))
      throw new UsageError(`--serial: '${opts.serial}' is not datecounter, unixtime, counter or keep`);
    let validity: number;
    try {
      validity = parseTtl(opts.validity, 2 ** 31 - 1);
    } catch {
      throw new UsageError(`--validity: '${opts.validity}' is not a duration (like 32d)`);
    }
    // DK-16: a time without a zone designator is UTC, not the host's local time
    const given = opts.now === undefined ? Math.floor(Date.now() / 1000) : parseUtcTime(opts.now);
    if (given === undefined) throw new UsageError(`--now: '${opts.now ?? ''}' is not an ISO 8601 time (UTC unless it says otherwise)`);
    const now = given;
    // progress every few seconds: a bar on a terminal (stderr), else lines in the log on stderr
    const progress = await signingProgressOnStderr(origin.toString(), logChoice(cmd));

    // the signing threads start (each loads the module and opens its session) on the core
    // that parsing the zone leaves idle
    const token = openToken(opts);
    const threads = token.startSigningThreads();
    threads.catch(() => undefined); // met where it is awaited, below or in finally
    try {
      const inception = now - 3600;
      const expiration = inception + validity;
      // the zone's keys, if it has them: RRsets are then signed while the file is read (a
      // zone signed the first time gets its keys once it has been read and checked)
      const existing = findKeys(token, origin).filter((k) => k.algorithm === choice.algorithm);
      const signers = new Map<HsmKey, SigningKey>();
      const signerOf = (k: HsmKey): SigningKey => {
        let s = signers.get(k);
        if (s === undefined) signers.set(k, (s = { signer: hsmSigner(token, k), role: k.role }));
        return s;
      };
      let read = 0;
      const { zone, presigner } = await readSigningAhead(
        opts.in,
        origin,
        {
          times: { inception, expiration },
          ...(existing.some((k) => k.role === 'ksk') && existing.some((k) => k.role === 'zsk')
            ? {
                keys: threads.then(() =>
                  existing
                    .filter((k) => k.role === 'zsk')
                    .slice(0, 1)
                    .map(signerOf),
                ),
              }
            : {}),
        },
        { observe: () => progress.reading(++read) },
      );
      progress.preparing();
      const findings = checkZone(zone);
      if (hasErrors(findings)) throw new ZoneCheckError(origin.toString(), findings);
      const keyFor = (role: KeyRole, bits: number | undefined): HsmKey =>
        existing.find((k) => k.role === role) ?? generateKey(token, origin, role, { algorithm: choice.algorithm, ...(bits === undefined ? {} : { bits }) });
      const keys = [keyFor('ksk', choice.ksk), keyFor('zsk', choice.zsk)];
      const denial: Denial =
        opts.denial === 'nsec' ? { kind: 'nsec' } : { kind: 'nsec3', iterations, salt: randomBytes(saltLength), optOut: opts.nsec3OptOut === true };
      const serial = nextSerial(opts.serial as SerialPolicy, decodeSoa(zone.soa!.records[0]!.rdata).serial, now);
      // the signed zone goes to a temporary file as it is made, each name checked by the
      // verifier on its way; the file takes the place of --out only if nothing was found
      await threads;
      const summary = await signZoneToFile(
        zone,
        {
          keys: keys.map(signerOf),
          denial,
          inception,
          expiration,
          serial,
          presigned: presigner,
          progress: progress.update,
          consume: true,
        },
        opts.out,
        now,
      );
      progress.finish(); // the bar goes before the result is printed
      const ds = keys
        .filter((k) => k.role === 'ksk')
        .map((k) => `${origin.toString()}\tIN\tDS\t${formatRdata(RRType.DS, makeDs(origin, k.dnskey, DigestType.SHA256))}`);
      if (opts.json) {
        outJson({
          zone: origin.toString(),
          out: opts.out,
          serial,
          records: summary.records,
          signatures: summary.signatures,
          signedAhead: presigner.used,
          keys: keys.map(describe),
          ds,
        });
      } else {
        out(`${origin.toString()}: signed, serial ${serial}, ${summary.records} records (${summary.signatures} signatures), written to ${opts.out}`);
        for (const k of keys) out(`  ${k.role.toUpperCase()} ${k.keyTag} algorithm ${k.algorithm}${existing.includes(k) ? '' : ' (new)'}`);
        for (const line of ds) out(line);
      }
    } finally {
      progress.finish();
      await threads.catch(() => undefined);
      await token.close();
    }
  });

  const key = program.command('key').description('keys in the HSM and their lifecycle');
  hsmOptions(
    key
      .command('list')
      .description(
        "list a zone's keys: with a configuration (--config, HMS_CONFIG) as the state has them, with their state and times; without one, as the HSM has them",
      )
      .argument('[zone]', 'the zone apex')
      .option('--origin <name>', 'the zone apex (as the argument)')
      .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)')
      .option('--json', 'print the result as JSON'),
  ).action(async (zone: string | undefined, opts: HsmOptions & { origin?: string; config?: string; json?: boolean }) => {
    const name = zone ?? opts.origin;
    if (name === undefined) throw new UsageError('name the zone: hms key list ZONE');
    if (opts.config !== undefined || (process.env.HMS_CONFIG ?? '') !== '') {
      // the managed zones' view needs the state and the configuration: loaded only here
      const { listZoneKeys } = await import('./keys.js');
      await listZoneKeys(name, { ...(opts.config === undefined ? {} : { config: opts.config }), ...(opts.json === undefined ? {} : { json: opts.json }) });
      return;
    }
    const origin = parseOrigin(name);
    const token = openToken(opts, 1);
    try {
      const keys = findKeys(token, origin);
      if (opts.json) outJson({ zone: origin.toString(), keys: keys.map(describe) });
      else if (keys.length === 0) out(`${origin.toString()}: no keys`);
      else for (const k of keys) out(`${origin.toString()}\t${k.role.toUpperCase()}\t${k.keyTag}\talgorithm ${k.algorithm}\t${k.label}`);
    } finally {
      await token.close();
    }
  });
}

function describe(k: HsmKey): { role: KeyRole; keyTag: number; algorithm: number; label: string } {
  return { role: k.role, keyTag: k.keyTag, algorithm: k.algorithm, label: k.label };
}

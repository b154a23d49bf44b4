import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Token } from '../../src/hsm/token.js';
import { highPort, namedPrimaryConf, startNamedSecondary, startDaemon, type Daemon, startHmsRun, NAMED_RUNNING } from './helpers/daemons.js';
import { dnskeyTags, sh } from './helpers/keys.js';
import { HMS, requireTool, ROOT, runAsync, verifyServiceOutput, verifySignedZone } from './helpers/run.js';
import { tokenWithFastPolicies } from './helpers/softhsm.js';

/**
 * Issue 18 part 2: a zone moves in from BIND without a new DS. BIND's dnssec-keygen makes the
 * zone's KSK and ZSK and dnssec-signzone signs it, as the signer hms takes over from; hms key
 * import takes the key files into the token and the state, and hms signs the zone with the
 * same DNSKEY set. The refusals come first, and leave nothing behind.
 */
const me = userInfo().username;
let hsm: ReturnType<typeof tokenWithFastPolicies>;
let config: string;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF!, HMS_CONFIG: config };
  const r = spawnSync(process.execPath, [HMS, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const curve = (name: string, keys: string): string => `  ${name}:
    description: ${name} keys, waits of seconds
    keys: ${keys}
    ttl: { dnskey: 1s, nsec3param: 1s }
    soa: { minimum: 300 }
    zone: { propagation-delay: 0, publish-safety: 0, retire-safety: 0 }
    parent: { propagation-delay: 0, ds-ttl: 1s, publish-safety: 0, retire-safety: 0 }
`;

/** A small zone of its own for each test. */
function zoneFile(dir: string, zone: string): string {
  const file = join(dir, `${zone}.zone`);
  writeFileSync(
    file,
    `$TTL 1h
@ SOA ns1 hostmaster 1 2h 15m 30d 5m
  NS ns1
ns1 A 192.0.2.1
www A 192.0.2.80
`,
  );
  return file;
}

beforeAll(() => {
  hsm = tokenWithFastPolicies('hms-import');
  writeFileSync(
    join(hsm.dir, 'curves.yaml'),
    `policies:
${curve('ecdsa', '{ ksk: { algorithm: ECDSAP256SHA256, lifetime: manual }, zsk: { algorithm: ECDSAP256SHA256, lifetime: 90d } }')}${curve('ed', '{ ksk: { algorithm: ED25519, lifetime: manual }, zsk: { algorithm: ED25519, lifetime: 90d } }')}`,
  );
  config = join(hsm.dir, 'hms.yaml');
  writeFileSync(
    config,
    `state: state/state.db
policies: [fast.yaml, curves.yaml]
hsm: { token: hms-import, pin-file: pin }
access:
  administrators: [user:${me}]
`,
  );
});
const daemons: Daemon[] = [];
afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  hsm?.dispose();
});

describe('hms key import: a zone taken over from BIND with its keys', () => {
  it(
    'DP-3.1e DP-3.1f a zone signed by BIND is signed by hms with the same DNSKEY set; bad files, foreign keys and keys already held are refused first',
    { timeout: 180_000 },
    () => {
      for (const tool of ['dnssec-keygen', 'dnssec-signzone', 'dnssec-dsfromkey']) requireTool(tool);
      const dir = hsm.dir;
      const zoneFile = join(dir, 'example.com.zone');
      copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), zoneFile);
      // the keys and the signed zone of the signer hms takes over from
      const ksk = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '2048', '-f', 'KSK', 'example.com'], dir);
      const zsk = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '1024', 'example.com'], dir);
      mkdirSync(join(dir, 'stranger'));
      const stranger = join(dir, 'stranger', sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '1024', '-K', 'stranger', 'example.com'], dir));
      sh('dnssec-signzone', ['-S', '-O', 'full', '-K', dir, '-o', 'example.com', '-f', 'bind.signed', zoneFile], dir);
      const bindTags = dnskeyTags(join(dir, 'bind.signed'), 'example.com', dir);
      expect(bindTags).toHaveLength(2);
      const keyOf = (base: string): string => join(dir, `${base}.key`);
      const base = ['--input', zoneFile, '--policy', 'fast', '--ticket', 'CHG-18'];

      // refused: a .private that is not the .key's other half, naming the file
      copyFileSync(keyOf(ksk), join(dir, 'Kmixed.key'));
      copyFileSync(join(dir, `${zsk}.private`), join(dir, 'Kmixed.private'));
      let r = cli(['key', 'import', 'example.com', join(dir, 'Kmixed.key'), '--ds-seen', ...base]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/Kmixed\.private:\d+: its key is not the one in .*Kmixed\.key .*not the halves of one key/);
      // refused: a damaged .private, naming the file and line
      copyFileSync(keyOf(ksk), join(dir, 'Kbad.key'));
      const lines = readFileSync(join(dir, `${ksk}.private`), 'utf8').split('\n');
      lines.splice(3, 0, 'this is no field');
      writeFileSync(join(dir, 'Kbad.private'), lines.join('\n'));
      r = cli(['key', 'import', 'example.com', join(dir, 'Kbad.key'), '--ds-seen', ...base]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/Kbad\.private:4: not a "Name: value" line/);
      // refused: a key the zone does not publish (BIND's signed zone says which it does)
      r = cli(['key', 'import', 'example.com', `${stranger}.key`, '--dnskeys', join(dir, 'bind.signed'), ...base]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/is not among the DNSKEYs the zone publishes in .*bind\.signed/);
      // refused: a KSK without the operator's word that the parent serves its DS
      r = cli(['key', 'import', 'example.com', keyOf(ksk), keyOf(zsk), ...base]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/is a KSK: say --ds-seen/);
      // nothing was written by any of them
      expect(JSON.parse(cli(['zone', 'list', '--json']).stdout)).toEqual({ zones: [] });

      r = cli(['key', 'import', 'example.com', keyOf(ksk), keyOf(zsk), '--ds-seen', '--dnskeys', join(dir, 'bind.signed'), ...base]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^example\.com\.: KSK \d+ imported from /m);
      expect(r.stdout).toMatch(/destroy the key files/);

      // refused: a key the state holds already
      r = cli(['key', 'import', 'example.com', keyOf(zsk), ...base]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/is in the state of zone example\.com\. already/);
      // refused: a second key of a role the zone has (the service makes a zone's keys when it serves it first)
      r = cli(['key', 'import', 'example.com', `${stranger}.key`, ...base]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/zone example\.com\. has a ZSK already \(\d+, id [0-9a-f]+\): import every key of the zone in one command/);

      const list = JSON.parse(cli(['key', 'list', 'example.com', '--json']).stdout) as {
        keys: { role: string; keyTag: number; state: string; dsSeen: string; id: string }[];
        pending: unknown[];
        orphans: unknown[];
      };
      expect(list.pending).toEqual([]);
      expect(list.orphans).toEqual([]);
      expect(list.keys.map((k) => String(k.keyTag)).sort()).toEqual(bindTags);
      expect(list.keys.every((k) => k.state === 'active')).toBe(true);
      expect(list.keys.find((k) => k.role === 'ksk')!.dsSeen).not.toBe('-');

      // the private keys in the token: sensitive, not extractable, for signing only
      const token = Token.open({ label: 'hms-import', pin: hsm.pin });
      try {
        for (const k of list.keys) {
          token.pkcs11.C_FindObjectsInit(token.control, [
            { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
            { type: pkcs11js.CKA_ID, value: Buffer.from(k.id, 'hex') },
          ]);
          const [handle] = token.pkcs11.C_FindObjects(token.control, 2);
          token.pkcs11.C_FindObjectsFinal(token.control);
          const attrs = token.pkcs11.C_GetAttributeValue(
            token.control,
            handle!,
            [pkcs11js.CKA_SENSITIVE, pkcs11js.CKA_EXTRACTABLE, pkcs11js.CKA_SIGN, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE].map(
              (type) => ({ type }),
            ),
          );
          expect(attrs.map((a) => a.value[0])).toEqual([1, 0, 1, 0, 0, 0]);
        }
      } finally {
        void token.close();
      }

      // hms signs it with BIND's keys: the same DNSKEY set, so the DS at the parent stays
      const out = join(dir, 'hms.signed');
      r = cli(['zone', 'sign', 'example.com', '--out', out, '--json']);
      expect(r.status, r.stderr).toBe(0);
      expect(dnskeyTags(out, 'example.com', dir)).toEqual(bindTags);
      expect(verifySignedZone('example.com', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    },
  );

  it(
    "DP-3.1e ECDSA and Ed25519 keys: from BIND's files, and already in the token under another signer's label (as OpenDNSSEC keeps them), relabelled; a refusal leaves its labels",
    { timeout: 180_000 },
    () => {
      for (const tool of ['dnssec-keygen', 'dnssec-dsfromkey', 'openssl', 'softhsm2-util']) requireTool(tool);
      const dir = hsm.dir;
      // ECDSA P-256 from BIND's files
      const org = zoneFile(dir, 'example.org');
      const ksk = sh('dnssec-keygen', ['-q', '-a', 'ECDSAP256SHA256', '-f', 'KSK', 'example.org'], dir);
      const zsk = sh('dnssec-keygen', ['-q', '-a', 'ECDSAP256SHA256', 'example.org'], dir);
      let r = cli([
        'key',
        'import',
        'example.org',
        join(dir, `${ksk}.key`),
        join(dir, `${zsk}.key`),
        '--ds-seen',
        '--input',
        org,
        '--policy',
        'ecdsa',
        '--ticket',
        'CHG-18',
      ]);
      expect(r.status, r.stderr).toBe(0);
      const tagOf = (base: string): string => /\+(\d+)$/.exec(base)![1]!.replace(/^0+/, '');
      let out = join(dir, 'example.org.signed');
      r = cli(['zone', 'sign', 'example.org', '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(dnskeyTags(out, 'example.org', dir)).toEqual([tagOf(ksk), tagOf(zsk)].sort());
      expect(verifySignedZone('example.org', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');

      // Ed25519: the KSK from BIND's files, the ZSK one another signer keeps in the token, put there by softhsm2-util (PKCS#8) as OpenDNSSEC's keys are
      const net = zoneFile(dir, 'example.net');
      const edKsk = sh('dnssec-keygen', ['-q', '-a', 'ED25519', '-f', 'KSK', 'example.net'], dir);
      sh('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', 'ods.pem'], dir);
      sh('softhsm2-util', ['--import', join(dir, 'ods.pem'), '--token', 'hms-import', '--label', 'ods-example.net', '--id', 'a1b2c3d4', '--pin', hsm.pin], dir);
      r = cli(['key', 'import', 'example.net', join(dir, `${edKsk}.key`), '--ds-seen', '--input', net, '--policy', 'ed', '--ticket', 'CHG-18']);
      expect(r.status, r.stderr).toBe(0);
      // refused, the labels left as they were: a key not among the DNSKEYs the zone publishes
      r = cli(['key', 'import', 'example.net', '--label', 'ods-example.net', '--role', 'zsk', '--dnskeys', join(dir, `${edKsk}.key`), '--ticket', 'CHG-18']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/label 'ods-example\.net': key \d+ \(ED25519\) is not among the DNSKEYs/);
      r = cli(['key', 'import', 'example.net', '--label', 'ods-example.net', '--role', 'zsk', '--ticket', 'CHG-18', '--json']);
      expect(r.status, r.stderr).toBe(0);
      const imported = (JSON.parse(r.stdout) as { keys: { id: string; label: string; keyTag: number; problems: string[] }[] }).keys;
      expect(imported.map((k) => [k.id, k.label])).toEqual([['a1b2c3d4', 'hms:example.net.:zsk:a1b2c3d4']]);
      out = join(dir, 'example.net.signed');
      r = cli(['zone', 'sign', 'example.net', '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(dnskeyTags(out, 'example.net', dir)).toEqual([tagOf(edKsk), String(imported[0]!.keyTag)].sort());
      expect(verifySignedZone('example.net', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
      const list = JSON.parse(cli(['key', 'list', 'example.net', '--json']).stdout) as { keys: { id: string }[]; orphans: unknown[] };
      expect(list.keys.map((k) => k.id)).toContain('a1b2c3d4');
      expect(list.orphans).toEqual([]);
      expect(imported[0]!.problems).toEqual([]);
    },
  );

  it(
    "DP-4.7a a zone served signed by BIND moves to hms run, its keys imported by a request to the running service: delv validates it before and after from the same DS, the parent's",
    { timeout: 240_000 },
    async () => {
      for (const tool of ['dnssec-keygen', 'dnssec-signzone', 'dnssec-dsfromkey', 'named', 'delv', 'dig']) requireTool(tool);
      const dir = join(hsm.dir, 'run');
      mkdirSync(dir);
      const input = zoneFile(dir, 'example.edu');
      const ksk = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '2048', '-f', 'KSK', 'example.edu'], dir);
      const zsk = sh('dnssec-keygen', ['-q', '-a', 'RSASHA256', '-b', '1024', 'example.edu'], dir);
      sh('dnssec-signzone', ['-S', '-O', 'full', '-K', dir, '-o', 'example.edu', '-f', 'bind.signed', input], dir);
      // the DS the parent serves: of BIND's KSK, given to delv as its only trust
      const [, , , tag, alg, digestType, ...digest] = sh('dnssec-dsfromkey', ['-2', `${ksk}.key`], dir).split(/\s+/);
      const anchors = join(dir, 'anchors.conf');
      writeFileSync(anchors, `trust-anchors {\n  example.edu. static-ds ${tag} ${alg} ${digestType} "${digest.join('')}";\n};\n`);
      const validates = async (port: number): Promise<void> => {
        for (const type of ['SOA', 'DNSKEY', 'A']) {
          const name = type === 'A' ? 'www.example.edu' : 'example.edu';
          const r = await runAsync('delv', ['-a', anchors, '+root=example.edu', '@127.0.0.1', '-p', String(port), name, type], { timeoutMs: 20_000 });
          expect(r.stdout + r.stderr, `${name} ${type}`).toMatch(new RegExp(`; fully validated\\s+${name.replace(/\./g, '\\.')}\\.\\s+\\d+\\s+IN\\s+${type}`));
        }
      };
      const servedTags = async (port: number): Promise<string[]> => {
        const r = await runAsync('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', '+multiline', 'example.edu', 'DNSKEY'], {
          timeoutMs: 20_000,
        });
        return [...r.stdout.matchAll(/key id = (\d+)/g)].map((m) => m[1]!).sort();
      };

      // before: BIND serves the zone it signed
      const secret = 'a2V5LWltcG9ydC10ZXN0LXNlY3JldC1mb3ItdHNpZw==';
      const bindPort = highPort();
      const old = await startDaemon(
        'named',
        ['-g', '-c', namedPrimaryConf(join(dir, 'named-old'), { zone: 'example.edu', port: bindPort, zoneFile: join(dir, 'bind.signed'), secret })],
        NAMED_RUNNING,
        { registry: daemons },
      );
      await validates(bindPort);
      const bindTags = await servedTags(bindPort);
      expect(bindTags).toHaveLength(2);
      await old.stop('SIGTERM');

      // the take-over, through the running service: hms run serves nothing yet; the keys are imported by a request to it, then the zone is configured and reloaded
      const [hmsPort, namedPort] = [highPort(), highPort()];
      writeFileSync(join(dir, 'xfr.secret'), `${secret}\n`, { mode: 0o600 });
      const runConfig = join(dir, 'hms.yaml');
      const writeRunConfig = (zones: string): void =>
        writeFileSync(
          runConfig,
          `state: state/hms.db
policies: [${join(hsm.dir, 'fast.yaml')}]
hsm: { token: hms-import, pin-file: ${join(hsm.dir, 'pin')} }
access:
  administrators: [user:${me}]
service:
  listen: ["127.0.0.1:${hmsPort}"]
  data: state
tsig-keys:
  xfr-key: { algorithm: hmac-sha256, secret-file: xfr.secret }
secondaries:
  bind: { address: 127.0.0.3, notify: "127.0.0.1:${namedPort}", key: xfr-key }
${zones}`,
        );
      writeRunConfig('');
      const env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF! };
      const service = await startHmsRun(runConfig, /service started/, { env, registry: daemons, timeoutMs: 60_000 });
      const imported = await runAsync('node', [
        HMS,
        'key',
        'import',
        'example.edu',
        join(dir, `${ksk}.key`),
        join(dir, `${zsk}.key`),
        '--ds-seen',
        '--dnskeys',
        join(dir, 'bind.signed'),
        '--input',
        input,
        '--policy',
        'fast',
        '--config',
        runConfig,
        '--ticket',
        'CHG-18',
        '--json',
      ]);
      expect(imported.status, imported.stderr).toBe(0);
      expect(JSON.parse(imported.stdout)).toMatchObject({ viaService: true, added: true, keys: [{ role: 'ksk' }, { role: 'zsk' }] });
      writeRunConfig('zones:\n  example.edu: { input: example.edu.zone, policy: fast }\n');
      const from = service.output().length;
      const reload = await runAsync('node', [HMS, 'reload', '--config', runConfig]);
      expect(reload.status, reload.stderr).toBe(0);
      await service.waitFor(/zone signed and published/, 60_000, from);
      await startNamedSecondary(
        join(dir, 'named-new'),
        {
          zone: 'example.edu',
          port: namedPort,
          source: '127.0.0.3',
          primary: { address: '127.0.0.1', port: hmsPort },
          secret,
        },
        { registry: daemons },
      );
      // after: hms's version, served by the secondary, has BIND's DNSKEY set and validates from the same DS
      expect(await servedTags(namedPort)).toEqual(bindTags);
      await validates(namedPort);
      expect(service.output()).not.toMatch(/ORPHAN|"level":50/);
      await service.stop('SIGTERM');
      expect(verifyServiceOutput(join(dir, 'state'))).toEqual([]);
    },
  );

  it(
    'DP-3.1e DP-3.1f keys a Knot PKCS#11 keystore left (a 20-byte CKA_ID), one of them extractable and able to decrypt: taken by --id, that one with warnings in the output and the audit trail',
    { timeout: 120_000 },
    () => {
      const dir = join(hsm.dir, 'knot');
      mkdirSync(dir);
      const input = zoneFile(dir, 'example.info');
      const ids = { ksk: Buffer.alloc(20, 0x4b), zsk: Buffer.alloc(20, 0x5a) };
      const token = Token.open({ label: 'hms-import', pin: hsm.pin });
      try {
        for (const [role, id] of Object.entries(ids)) {
          const common = [
            { type: pkcs11js.CKA_TOKEN, value: true },
            { type: pkcs11js.CKA_ID, value: id },
            { type: pkcs11js.CKA_LABEL, value: `knot-${role}` },
          ];
          token.pkcs11.C_GenerateKeyPair(
            token.control,
            { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
            [...common, { type: pkcs11js.CKA_VERIFY, value: true }, { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') }],
            [
              ...common,
              { type: pkcs11js.CKA_PRIVATE, value: true },
              { type: pkcs11js.CKA_SIGN, value: true },
              { type: pkcs11js.CKA_SENSITIVE, value: role === 'ksk' },
              { type: pkcs11js.CKA_EXTRACTABLE, value: role === 'zsk' },
              // the KSK as hms would make it; the ZSK with SoftHSM's defaults (decrypt and unwrap too)
              ...(role === 'ksk' ? [pkcs11js.CKA_DECRYPT, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE].map((type) => ({ type, value: false })) : []),
            ],
          );
        }
      } finally {
        void token.close();
      }
      let r = cli([
        'key',
        'import',
        'example.info',
        '--id',
        ids.ksk.toString('hex'),
        '--role',
        'ksk',
        '--ds-seen',
        '--input',
        input,
        '--policy',
        'ecdsa',
        '--ticket',
        'CHG-18',
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/WARNING/);
      r = cli(['key', 'import', 'example.info', '--id', ids.zsk.toString('hex'), '--role', 'zsk', '--ticket', 'CHG-18']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/WARNING: its private key's CKA_SENSITIVE is false/);
      expect(r.stdout).toMatch(/WARNING: its private key's CKA_EXTRACTABLE is true/);
      expect(r.stdout).toMatch(/WARNING: its private key's CKA_DECRYPT is true/);
      const audit = cli(['audit', 'log', '--zone', 'example.info.', '--json']);
      expect(audit.stdout).toMatch(/WARNING: CKA_SENSITIVE is false, CKA_EXTRACTABLE is true, CKA_DECRYPT is true/);
      const out = join(dir, 'example.info.signed');
      r = cli(['zone', 'sign', 'example.info', '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(verifySignedZone('example.info', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    },
  );
});

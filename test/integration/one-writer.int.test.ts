import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { afterServiceTests, highPort, startKnotSecondary, startNamedSecondary, type Daemon, startHmsRun } from './helpers/daemons.js';
import { HMS, requireTool, ROOT, runAsync, type RunResult } from './helpers/run.js';
import { hmsConfig } from '../../scripts/lab/configs.js';
import { throwawayToken } from './helpers/softhsm.js';

/**
 * Issue 16: one authority. `hms run` serves a zone to a BIND and a Knot secondary; operators
 * are real OS accounts that the test makes (it needs root, as CI runs): alice (operator and
 * approver), bob (approver), carol (may reach the socket, holds no role). Every command of
 * theirs is a request on the control socket, and the service takes who asks from the kernel
 * (SO_PEERCRED), never from the request. A KSK roll goes from the command to the old key's
 * removal while delv validates the secondaries' answers from the DS the parent would hold.
 */
const root = process.getuid?.() === 0;
const SECRET = 'b25lLXdyaXRlci10ZXN0LXNlY3JldC1mb3ItdHNpZy0z';
const PEOPLE = { alice: 'hmst-alice', bob: 'hmst-bob', carol: 'hmst-carol' } as const;
const GROUPS = { control: 'hmst-ctl', operators: 'hmst-ops', approvers: 'hmst-approve' } as const;

let tmp: string | undefined;
let token: ReturnType<typeof throwawayToken> | undefined;
const daemons: Daemon[] = [];
afterServiceTests(daemons, () => ({ tmp, token }));

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}
const exists = (db: 'passwd' | 'group', name: string): boolean => spawnSync('getent', [db, name]).status === 0;

/** The OS accounts and groups of the test, made once (and left: they hold nothing, and a rerun finds them). */
function accounts(): void {
  for (const g of Object.values(GROUPS)) if (!exists('group', g)) sh('groupadd', ['--system', g]);
  const member = { alice: [GROUPS.control, GROUPS.operators, GROUPS.approvers], bob: [GROUPS.control, GROUPS.approvers], carol: [GROUPS.control] };
  for (const [who, user] of Object.entries(PEOPLE)) {
    if (!exists('passwd', user)) sh('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
    sh('usermod', ['-G', member[who as keyof typeof member].join(','), user]);
  }
}

describe('issue 16: every operator action goes through the running service', () => {
  it.skipIf(!root)(
    "DP-2.7a DP-2.8b DP-4.7d DP-4.3b OPS-2 a KSK roll by an operator account is served by BIND and Knot within 10 s; the DS steps, approved by a second account, complete it; delv validates throughout; identity is the kernel's word",
    { timeout: 300_000 },
    async () => {
      for (const tool of ['dig', 'delv', 'named', 'knotd', 'runuser', 'useradd']) requireTool(tool);
      accounts();
      tmp = mkdtempSync(join(tmpdir(), 'hms-one-writer-'));
      // the operators reach the configuration and the socket's folder, nothing else
      chmodSync(tmp, 0o755);
      token = throwawayToken('hms-ow');
      writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
      writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
      mkdirSync(join(tmp, 'zones'));
      copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(tmp, 'zones/example.com.zone'));
      const ctl = join(tmp, 'ctl');
      mkdirSync(ctl);
      chownSync(ctl, 0, Number(spawnSync('getent', ['group', GROUPS.control], { encoding: 'utf8' }).stdout.split(':')[2]));
      // setgid: the socket made in it takes the folder's group (docs/configuration.md)
      chmodSync(ctl, 0o2750);
      writeFileSync(
        join(tmp, 'policy.yaml'),
        `policies:
  quick:
    description: the DP policy with waits of seconds; a DNSKEY TTL of 8 s, the time the new DS must wait
    ttl: { dnskey: 8s, nsec3param: 1s }
    soa: { minimum: 300 }
    zone: { propagation-delay: 0, publish-safety: 0, retire-safety: 0 }
    parent: { propagation-delay: 0, ds-ttl: 2s, publish-safety: 0, retire-safety: 0 }
`,
      );
      const [hmsPort, namedPort, knotPort] = [highPort(), highPort(), highPort()];
      const config = join(tmp, 'hms.yaml');
      writeFileSync(
        config,
        hmsConfig({
          token: 'hms-ow',
          listen: `127.0.0.1:${hmsPort}`,
          policies: ['policy.yaml'],
          access: `  administrators: [user:root]
  operators: [group:${GROUPS.operators}]
  approvers: [group:${GROUPS.approvers}]
  zones:
    example.org:
      administrators: [user:${PEOPLE.alice}]`,
          service: `  control: ctl/hms.sock
  resign: "17 3 * * *"`,
          secondaries: { bind: { address: '127.0.0.3', notify: `127.0.0.1:${namedPort}` }, knot: { address: '127.0.0.4', notify: `127.0.0.4:${knotPort}` } },
          example: { zone: 'example.com', input: 'zones/example.com.zone', policy: 'quick' },
        }),
        { mode: 0o640 },
      );
      chownSync(config, 0, Number(spawnSync('getent', ['group', GROUPS.control], { encoding: 'utf8' }).stdout.split(':')[2]));
      const env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF! };
      const service = await startHmsRun(config, /zone signed and published/, { env, registry: daemons, timeoutMs: 60_000 });
      const named = await startNamedSecondary(
        join(tmp, 'named'),
        {
          zone: 'example.com',
          port: namedPort,
          source: '127.0.0.3',
          primary: { address: '127.0.0.1', port: hmsPort },
          secret: SECRET,
        },
        { registry: daemons },
      );
      await startKnotSecondary(
        join(tmp, 'knot'),
        {
          zone: 'example.com',
          address: '127.0.0.4',
          port: knotPort,
          primary: { address: '127.0.0.1', port: hmsPort },
          secret: SECRET,
        },
        { registry: daemons },
      );
      void named;
      const secondaries = [
        { name: 'BIND', server: '127.0.0.1', port: namedPort },
        { name: 'Knot', server: '127.0.0.4', port: knotPort },
      ];

      /** The CLI as an OS account: its own uid and groups (runuser), the configuration given, nothing else. */
      const as = (who: keyof typeof PEOPLE, args: string[]): Promise<RunResult> =>
        runAsync('runuser', ['-u', PEOPLE[who], '--', process.execPath, HMS, ...args, '--config', config], { timeoutMs: 120_000 });
      const ok = (r: RunResult): RunResult => {
        expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
        return r;
      };
      const dnskeyTags = async (s: { server: string; port: number }): Promise<number[]> => {
        const r = await runAsync('dig', [`@${s.server}`, '-p', String(s.port), '+tries=1', '+time=3', '+multiline', 'example.com', 'DNSKEY'], {
          timeoutMs: 20_000,
        });
        return [...r.stdout.matchAll(/key id = (\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      };
      /** delv at both secondaries, trusting only the DS records given (what the parent serves). */
      const validates = async (ds: string): Promise<void> => {
        const anchors = join(tmp!, 'anchors.conf');
        const lines = ds
          .trim()
          .split('\n')
          .map((l) => l.split(/\s+/))
          .map(([, , , tag, alg, type, ...digest]) => `  example.com. static-ds ${tag} ${alg} ${type} "${digest.join('')}";`);
        writeFileSync(anchors, `trust-anchors {\n${lines.join('\n')}\n};\n`);
        for (const s of secondaries) {
          for (const type of ['SOA', 'DNSKEY']) {
            const r = await runAsync('delv', ['-a', anchors, '+root=example.com', `@${s.server}`, '-p', String(s.port), 'example.com', type], {
              timeoutMs: 20_000,
            });
            expect(r.stdout + r.stderr, `${s.name} ${type} with ${lines.join(' ')}`).toMatch(
              new RegExp(`; fully validated\\s+example\\.com\\.\\s+\\d+\\s+IN\\s+${type}`),
            );
          }
        }
      };
      const tagsOf = (ds: string): number[] =>
        ds
          .trim()
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => Number(l.split(/\s+/)[3]));

      /** `ds export` once it offers something (bounded: what it says of 'from when' is waited for). */
      const exportWhenDue = async (): Promise<string> => {
        for (let i = 0; i < 10; i++) {
          const r = JSON.parse(ok(await as('alice', ['ds', 'export', 'example.com', '--json'])).stdout) as { records: string | null; nextFrom: string | null };
          if (r.records !== null) return r.records;
          expect(r.nextFrom).not.toBeNull();
          await new Promise((resolve) => setTimeout(resolve, Math.min(20_000, Math.max(0, Date.parse(r.nextFrom!) - Date.now())) + 1000));
        }
        throw new Error('ds export offered nothing');
      };
      // the first DS, as the registrar holds it: due the DNSKEY TTL after both secondaries serve the zone
      const firstDs = await exportWhenDue();
      const [oldKsk] = tagsOf(firstDs);
      expect(oldKsk).toBeGreaterThan(0);
      const seenFirst = JSON.parse(ok(await as('alice', ['ds', 'seen', 'example.com', '--keytag', String(oldKsk), '--ticket', 'CHG-1', '--json'])).stdout) as {
        request: string;
        by: string;
      };
      expect(seenFirst.by).toBe(PEOPLE.alice);
      ok(await as('bob', ['approve', seenFirst.request, '--ticket', 'CHG-1']));
      await validates(firstDs);

      // the service reads and writes files for a caller only where the caller could: never the PIN for alice
      const pin = await as('alice', ['zone', 'add', 'example.org', '--input', join(tmp, 'pin'), '--policy', 'quick']);
      expect(pin.status).toBe(4);
      expect(pin.stderr).toContain(
        `${join(tmp, 'pin')}: the service reads a file for you only when it is a regular file that is yours or readable by everyone`,
      );
      expect(pin.stdout + pin.stderr).not.toContain(token.pin);
      const signAnywhere = await as('alice', ['zone', 'sign', 'example.com', '--out', join(tmp, 'state', 'hms.db')]);
      expect(signAnywhere.status).toBe(2);
      expect(signAnywhere.stderr).toMatch(/with hms run going, the service signs the zones it serves/);

      // a zone the configuration serves is not removed under the service's feet (it would come back with new keys)
      const remove = await runAsync('node', [HMS, 'zone', 'remove', 'example.com', '--config', config]);
      expect(remove.status).toBe(2);
      expect(remove.stderr).toContain(
        `zone example.com. is served by the service (zones in ${config}): take it out of the configuration and reload (hms reload) first`,
      );

      // carol reaches the socket and holds no role: refused, naming the role; nothing changes
      const refused = await as('carol', ['key', 'rollover', 'example.com', '--ksk', '--ticket', 'CHG-2']);
      expect(refused.status).toBe(4);
      expect(refused.stderr).toMatch(new RegExp(`${PEOPLE.carol} may not key roll for example\\.com\\.: that needs the role administrator or operator`));

      // the roll, by alice: served by both secondaries within 10 s of the command
      const started = Date.now();
      const roll = ok(await as('alice', ['key', 'rollover', 'example.com', '--ksk', '--ticket', 'CHG-2']));
      expect(roll.stdout).toMatch(new RegExp(`KSK roll started by ${PEOPLE.alice}; new key (\\d+)`));
      const newKsk = Number(/new key (\d+)/.exec(roll.stdout)![1]);
      for (const s of secondaries) expect(await dnskeyTags(s), s.name).toContain(newKsk);
      expect(Date.now() - started).toBeLessThan(10_000);
      // the command says the next step counts from when both serve it, and when that is
      const served = /served by every secondary at (\S+)/.exec(roll.stdout);
      expect(served, roll.stdout).not.toBeNull();
      const from = /next, from (\S+): .*DS/.exec(roll.stdout);
      expect(from, roll.stdout).not.toBeNull();
      expect(Date.parse(from![1]!) - Date.parse(served![1]!)).toBe(8000);

      // before then nothing new may go to the registrar
      expect(tagsOf(ok(await as('alice', ['ds', 'export', 'example.com'])).stdout)).not.toContain(newKsk);
      await validates(firstDs);
      const bothDs = await exportWhenDue();
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(from![1]!));
      expect(tagsOf(bothDs)).toContain(newKsk);
      // the registrar serves the new DS beside the old one, then the old one goes
      const both = `${firstDs.trim()}\n${bothDs
        .trim()
        .split('\n')
        .filter((l) => Number(l.split(/\s+/)[3]) === newKsk)
        .join('\n')}\n`;
      await validates(both);

      const seen = JSON.parse(ok(await as('alice', ['ds', 'seen', 'example.com', '--keytag', String(newKsk), '--ticket', 'CHG-2', '--json'])).stdout) as {
        request: string;
      };
      // alice may approve, but not her own request (DP-4.7d)
      const own = await as('alice', ['approve', seen.request, '--ticket', 'CHG-2']);
      expect(own.status).not.toBe(0);
      expect(own.stderr).toMatch(/own request|not the one who requested|second person/i);
      // a request that claims to be bob is still alice's: the name in it counts for nothing
      const claim = await runAsync(
        'runuser',
        [
          '-u',
          PEOPLE.alice,
          '--',
          process.execPath,
          '-e',
          `
      const s = require('node:net').connect(${JSON.stringify(join(ctl, 'hms.sock'))});
      let d = ''; s.on('data', (c) => (d += c)); s.on('end', () => process.stdout.write(d));
      s.write(JSON.stringify({ op: 'approve', params: { id: ${JSON.stringify(seen.request)} }, who: '${PEOPLE.bob}', user: '${PEOPLE.bob}', sudoUser: '${PEOPLE.bob}', ticket: 'CHG-2' }) + '\\n');`,
        ],
        { timeoutMs: 20_000 },
      );
      expect(JSON.parse(claim.stdout)).toMatchObject({ ok: false });
      expect(claim.stdout).toMatch(/own request|not the one who requested|second person/i);
      const approved = ok(await as('bob', ['approve', seen.request, '--ticket', 'CHG-2']));
      expect(approved.stdout).toMatch(new RegExp(`approved by ${PEOPLE.bob} \\(requested by ${PEOPLE.alice}\\)`));
      // the old DS goes at the registrar
      const withdraw = JSON.parse(
        ok(await as('alice', ['ds', 'withdraw', 'example.com', '--keytag', String(oldKsk), '--ticket', 'CHG-2', '--json'])).stdout,
      ) as { request: string };
      const onlyNew = `${bothDs
        .trim()
        .split('\n')
        .filter((l) => Number(l.split(/\s+/)[3]) === newKsk)
        .join('\n')}\n`;
      await validates(onlyNew);
      ok(await as('bob', ['approve', withdraw.request, '--ticket', 'CHG-2']));
      // the old KSK leaves the DNSKEY set a DS TTL later, at the service's own key event
      const deadline = Date.now() + 60_000;
      for (;;) {
        const tags = await Promise.all(secondaries.map(dnskeyTags));
        if (tags.every((t) => !t.includes(oldKsk!) && t.includes(newKsk))) break;
        expect(Date.now(), `the old KSK is still served: ${JSON.stringify(tags)}`).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 1000));
      }
      await validates(onlyNew);

      // a ZSK roll by hand: the new ZSK is served at once, but signs only the DNSKEY TTL after both secondaries serve it
      const zsk = ok(await as('alice', ['key', 'rollover', 'example.com', '--zsk', '--ticket', 'CHG-3']));
      const newZsk = Number(/new key (\d+)/.exec(zsk.stdout)![1]);
      for (const s of secondaries) {
        expect(await dnskeyTags(s), s.name).toContain(newZsk);
        const soa = await runAsync('dig', [`@${s.server}`, '-p', String(s.port), '+dnssec', '+tries=1', '+time=3', 'example.com', 'SOA'], {
          timeoutMs: 20_000,
        });
        const signers = [...soa.stdout.matchAll(/\sRRSIG\s+SOA\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+(\d+)\s/g)].map((m) => Number(m[1]));
        expect(signers.length, soa.stdout).toBeGreaterThan(0);
        expect(signers, s.name).not.toContain(newZsk);
      }
      await validates(onlyNew);

      // the audit trail names the people the kernel gave, not a claimed name
      const audit = JSON.parse(ok(await runAsync('node', [HMS, 'audit', 'log', '--config', config, '--zone', 'example.com', '--json'])).stdout) as {
        actor: string;
        action: string;
        after: { approvedBy?: string } | null;
      }[];
      const actors = new Set(audit.map((a) => a.actor));
      expect(actors).toContain(PEOPLE.alice);
      expect(actors).toContain(PEOPLE.bob);
      expect(actors).not.toContain(PEOPLE.carol);
      expect(service.output()).toMatch(new RegExp(`"op":"key.rollover","user":"${PEOPLE.alice}","uid":\\d+`));
      expect(readFileSync(config, 'utf8')).not.toContain(SECRET);
    },
  );
});

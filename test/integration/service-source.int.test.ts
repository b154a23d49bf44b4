import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterServiceTests, highPort, namedSecondaryConf, startDaemon, type Daemon, startHmsRun } from './helpers/daemons.js';
import { throwawayToken } from './helpers/softhsm.js';
import { requireTool, ROOT, runAsync } from './helpers/run.js';

/**
 * Issue 16: `hms run` listening on one address, 127.0.0.4, and a real BIND 9 secondary at
 * addresses of its own (it listens on 127.0.0.1 and transfers from 127.0.0.2), whose primary
 * is 127.0.0.4 and which takes NOTIFY only from its primary (BIND's default). The kernel
 * would send to it from 127.0.0.1 (its source for every loopback address), which BIND refuses
 * as "non-primary"; hms sends from its listen address. (named listens only on addresses an
 * interface carries, and lo carries 127.0.0.1 alone: another needs root to add.)
 * Loopback and high ports only; every server is stopped in afterAll.
 */
const SECRET = 'c2VydmljZS10ZXN0LXNlY3JldC1mb3ItdHNpZy0zMi1v';
const HMS_ADDRESS = '127.0.0.4';
const BIND_ADDRESS = '127.0.0.1';
const BIND_SOURCE = '127.0.0.2';
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
let input: string;
let hmsPort: number;
let namedPort: number;
let service: Daemon;
let named: Daemon;
const daemons: Daemon[] = [];

function writeConfig(source = ''): void {
  writeFileSync(
    config,
    `state: state/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-src, pin-file: pin }
access:
  administrators: [user:${userInfo().username}]
service:
  listen: ["${HMS_ADDRESS}:${hmsPort}"]
${source}  data: state
tsig-keys:
  xfr-key: { algorithm: hmac-sha256, secret-file: xfr.secret }
secondaries:
  bind: { address: ${BIND_SOURCE}, notify: "${BIND_ADDRESS}:${namedPort}", key: xfr-key }
zones:
  example.com: { input: zones/example.com.zone, policy: dp }
`,
  );
}

/** The serial of the version the service has just signed, from its log after `from`. */
async function signedSerial(from: number): Promise<number> {
  const text = await service.waitFor(/"serial":\d+.*zone signed and published/, 30_000, from);
  return Number(/"serial":(\d+)[^\n]*zone signed and published/.exec(text.slice(from))![1]);
}

async function bindSerial(): Promise<number> {
  const r = await runAsync('dig', [`@${BIND_ADDRESS}`, '-p', String(namedPort), '+short', '+tries=1', '+time=2', 'example.com', 'SOA'], { timeoutMs: 10_000 });
  return Number(r.stdout.trim().split(/\s+/)[2]);
}

/** Appends a record to the zone's input; the service sees it within its 2 s look. */
function changeInput(label: string): void {
  writeFileSync(input, readFileSync(input, 'utf8') + `${label} TXT "issue 16"\n`);
}

beforeAll(async () => {
  for (const tool of ['dig', 'named']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-source-'));
  token = throwawayToken('hms-src');
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  mkdirSync(join(tmp, 'zones'));
  input = join(tmp, 'zones/example.com.zone');
  copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), input);
  [hmsPort, namedPort] = [highPort(), highPort()];
  config = join(tmp, 'hms.yaml');
  writeConfig();
  service = await startHmsRun(config, /zone signed and published/, {
    env: process.env,
    registry: daemons,
    timeoutMs: 60_000,
  });
  // named's debug level 3 logs the NOTIFYs it takes or refuses and the kind of transfer it asks for
  named = await startDaemon(
    'named',
    [
      '-g',
      '-d',
      '3',
      '-c',
      namedSecondaryConf(join(tmp, 'named'), {
        zone: 'example.com',
        port: namedPort,
        source: BIND_SOURCE,
        primary: { address: HMS_ADDRESS, port: hmsPort },
        secret: SECRET,
        allowNotify: false,
        querylog: true,
      }),
    ],
    /transfer of 'example\.com\/IN' from 127\.0\.0\.4#\d+: Transfer status: success/,
    { registry: daemons },
  );
}, 120_000);

afterServiceTests(daemons, () => ({ tmp, token }));

describe("issue 16: requests leave from the service's own address", () => {
  it("a BIND secondary at its own address takes the NOTIFY from the primary's address and has the change by IXFR within seconds", async () => {
    expect(service.output()).toMatch(/"source":\{"ipv4":"127\.0\.0\.4","ipv6":"chosen by the kernel"\}.*"msg":"service started"/);
    const before = await bindSerial();
    const [namedFrom, serviceFrom] = [named.output().length, service.output().length];
    const started = Date.now();
    changeInput('moved');
    const serial = await signedSerial(serviceFrom);
    expect(serial).toBeGreaterThan(before);
    await named.waitFor(new RegExp(`zone example\\.com/IN: notify from 127\\.0\\.0\\.4#\\d+: serial ${serial}`), 15_000, namedFrom);
    await named.waitFor(new RegExp(`requesting IXFR for serial ${before}[\\s\\S]*got incremental response`), 15_000, namedFrom);
    expect(await bindSerial()).toBe(serial);
    expect((Date.now() - started) / 1000).toBeLessThan(15);
    // and the SOA check of the secondary came from the same address
    await service.waitFor(/"acknowledged":true,"serial":\d+.*secondary serves the new version/, 15_000, serviceFrom);
    expect(named.output().slice(namedFrom)).toMatch(/client @\S+ 127\.0\.0\.4#\d+\/key xfr-key \(example\.com\): query: example\.com IN SOA -S/);
    expect(named.output()).not.toMatch(/refused notify from non-primary/);
  });

  it('a source address not on this host is logged for the secondary with the address; the zone is still signed', async () => {
    writeConfig('  source: { ipv4: 192.0.2.1 }\n');
    let from = service.output().length;
    service.child.kill('SIGHUP');
    await service.waitFor(/configuration reloaded/, 20_000, from);
    from = service.output().length;
    changeInput('unsent');
    await signedSerial(from);
    await service.waitFor(
      /"secondary":"127\.0\.0\.1#\d+".*"reason":"127\.0\.0\.1:\d+: cannot send from the source address 192\.0\.2\.1 \(EADDRNOTAVAIL: not an address of this host\)".*"msg":"notify, not acknowledged, retrying"/,
      15_000,
      from,
    );
    // the failing NOTIFYs hold nothing up: the next change is signed while they are retried
    const next = service.output().length;
    changeInput('signed-anyway');
    await signedSerial(next);
  });
});

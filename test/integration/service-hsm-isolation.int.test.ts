import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateZone } from '../../scripts/bench/zone-generator.js';
import { Name } from '../../src/dns/name.js';
import { destroyObjects, findKeys } from '../../src/hsm/keys.js';
import { Token } from '../../src/hsm/token.js';
import { afterServiceTests, highPort, startHmsRun, type Daemon } from './helpers/daemons.js';
import { HMS, runAsync } from './helpers/run.js';
import { loopbackServiceConfig, serviceFolder } from './helpers/service.js';

/**
 * Issue 20 ("a zone that fails never stalls the queue for the others"): every zone signs
 * through the token's one pool. A zone whose recorded ZSK has gone from the token fails with
 * an HSM alarm, and the HSM is reset after such a failure; the reset must not cut short
 * another zone's signing in flight. Here a zone of 20,000 records is being re-signed when
 * example.com, its ZSK destroyed in the token, fails: the big zone's re-sign completes and is
 * served. (On the old code the reset closed the shared pool at once and the big zone's run
 * failed with the HSM.) Every signed version passes the three validators (afterServiceTests).
 */
const SECRET = 'aXNvbGF0aW9uLXRlc3Qtc2VjcmV0LW9mLTMyLW9jdGV0cyE=';
const BIG = 'big.iso.example';
let tmp: string;
let token: { dispose(): void; pin: string } | undefined;
let config: string;
let service: Daemon;
const daemons: Daemon[] = [];

beforeAll(async () => {
  ({ tmp, token } = serviceFolder('hms-iso-', 'hms-iso'));
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  await generateZone(join(tmp, 'zones', `${BIG}.zone`), BIG, 20_000);
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    loopbackServiceConfig({ token: 'hms-iso', listen: `127.0.0.1:${highPort()}`, zones: `  ${BIG}: { input: zones/${BIG}.zone, policy: dp }\n` }),
  );
  service = await startHmsRun(config, new RegExp(`"zone":"${BIG.replace(/\./g, '\\.')}\\."[^\\n]*"msg":"zone signed and published"`), {
    registry: daemons,
    timeoutMs: 240_000,
  });
  await service.waitFor(/"zone":"example\.com\."[^\n]*"msg":"zone signed and published"/, 60_000);
}, 300_000);

afterServiceTests(daemons, () => ({ tmp, token }));

describe('one zone failing with the HSM does not fail the others (issue 20)', () => {
  it("OPS-7 example.com's ZSK destroyed in the token: its run fails with an HSM alarm while the big zone's re-sign in flight completes and is served", async () => {
    // the ZSK of example.com goes from the token (an operator's mistake, another tool)
    const hsm = Token.open({ label: 'hms-iso', pin: token!.pin });
    try {
      const zsk = findKeys(hsm, Name.parse('example.com.')).find((k) => k.role === 'zsk');
      expect(zsk).toBeDefined();
      destroyObjects(hsm, [zsk!.privateKey]);
    } finally {
      await hsm.close();
    }
    const from = service.output().length;
    // the big zone's re-sign: a request to the service, answered when the run is over
    const big = runAsync('node', [HMS, 'zone', 'resign', BIG, '--config', config], { timeoutMs: 240_000 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // example.com's input changes: the watcher runs it, and it fails on the missing key
    const input = join(tmp, 'zones/example.com.zone');
    writeFileSync(
      input,
      readFileSync(input, 'utf8').replace(/(SOA\s+\S+\s+\S+\s+\(?\s*)(\d+)/, (_, a: string, serial: string) => `${a}${Number(serial) + 1}`),
    );
    await service.waitFor(/"zone":"example\.com\."[^\n]*missing from token/, 60_000, from);
    const r = await big;
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const log = service.output().slice(from);
    expect(log).toMatch(new RegExp(`"zone":"${BIG.replace(/\./g, '\\.')}\\."[^\\n]*"msg":"zone signed and published"`));
    expect(log).not.toMatch(new RegExp(`"zone":"${BIG.replace(/\./g, '\\.')}\\."[^\\n]*the HSM failed`));
  }, 300_000);
});

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { Algorithm } from '../../src/dnssec/algorithms.js';
import { adoptKey, findKeys, generateKey, type HsmKey } from '../../src/hsm/keys.js';
import { Token } from '../../src/hsm/token.js';
import { throwawayToken } from './helpers/softhsm.js';
import { requireTool } from './helpers/run.js';

/**
 * Issue 20: a zone's keys are looked up in an index of the token's key objects, not by listing
 * the token. SoftHSM's C_FindObjectsInit checks every object of the token against its file, so
 * each run's several lookups cost O(objects): a re-sign of 100 small zones took 42 s of its
 * 51 s in C_FindObjects, and a service's work grew with zones × keys. What another program
 * does to the token is still seen: a removed key at the next lookup of its zone, a key it made
 * by any listing of every key.
 */
const ZONES = 30;
const LABEL = 'hms-key-index';
let hsm: ReturnType<typeof throwawayToken>;
let token: Token;
const made = new Map<string, HsmKey[]>();
const zoneName = (i: number): string => `z${i}.index.example.`;

/** The C_FindObjectsInit calls `fn` makes. */
function findsIn<T>(fn: () => T): { result: T; finds: number } {
  const pkcs11 = token.pkcs11;
  const original = pkcs11.C_FindObjectsInit.bind(pkcs11);
  let finds = 0;
  pkcs11.C_FindObjectsInit = (session, template) => {
    finds++;
    original(session, template);
  };
  try {
    return { result: fn(), finds };
  } finally {
    pkcs11.C_FindObjectsInit = original;
  }
}

/** pkcs11-tool, another program, on the token (the PIN through a file descriptor is not offered: a test token's). */
function pkcs11Tool(args: readonly string[]): string {
  const r = spawnSync('pkcs11-tool', ['--module', '/usr/lib/softhsm/libsofthsm2.so', '--token-label', LABEL, '--login', '--pin', hsm.pin, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: process.env,
  });
  if (r.status !== 0) throw new Error(`pkcs11-tool ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  requireTool('pkcs11-tool');
  hsm = throwawayToken(LABEL);
  token = Token.open({ label: LABEL, pin: hsm.pin });
  for (let i = 0; i < ZONES; i++) {
    const zone = Name.parse(zoneName(i));
    made.set(zoneName(i), [
      generateKey(token, zone, 'ksk', { algorithm: Algorithm.ECDSAP256SHA256 }),
      generateKey(token, zone, 'zsk', { algorithm: Algorithm.ECDSAP256SHA256 }),
    ]);
  }
}, 120_000);

afterAll(async () => {
  await token?.close();
  hsm?.dispose();
});

const ids = (keys: readonly HsmKey[]): string[] => keys.map((k) => k.id.toString('hex')).sort();

describe('the token key index (issue 20)', () => {
  it("each zone's keys, looked up three times over 30 zones, cost one listing of the token, not one a lookup", () => {
    const { result, finds } = findsIn(() => {
      const seen = new Map<string, HsmKey[]>();
      for (let round = 0; round < 3; round++) for (let i = 0; i < ZONES; i++) seen.set(zoneName(i), findKeys(token, Name.parse(zoneName(i))));
      return seen;
    });
    for (const [zone, keys] of made) {
      expect(ids(result.get(zone)!)).toEqual(ids(keys));
      expect(result.get(zone)!.map((k) => k.dnskey)).toEqual(expect.arrayContaining(keys.map((k) => k.dnskey)));
    }
    // the private and the public keys listed once each; the old code listed the token's private keys, then each key's public key, at every lookup (270 and more)
    expect(finds).toBeLessThanOrEqual(2);
  });

  it('a key made by this process is found without listing the token again', () => {
    const zone = Name.parse('fresh.index.example.');
    const { result, finds } = findsIn(() => {
      const key = generateKey(token, zone, 'zsk', { algorithm: Algorithm.ECDSAP256SHA256 });
      return { key, found: findKeys(token, zone) };
    });
    expect(ids(result.found)).toEqual([result.key.id.toString('hex')]);
    expect(finds).toBe(0);
  });

  it("OPS-7 a key another program removed is not reported present: its zone's next lookup lists the token again", async () => {
    const zone = zoneName(3);
    const [, zsk] = made.get(zone)!;
    findKeys(token, Name.parse(zone));
    // only the private half goes, as in service-hsm-isolation: an operator's mistake, another tool
    pkcs11Tool(['--delete-object', '--type', 'privkey', '--label', zsk!.label]);
    // a run's lookups within KEY_CHECK_MS (2 s) of each other read the token once
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const { result, finds } = findsIn(() => findKeys(token, Name.parse(zone)));
    expect(ids(result)).toEqual(ids(made.get(zone)!.filter((k) => k.role === 'ksk')));
    expect(finds).toBe(2);
    // the other zones are as they were
    expect(ids(findKeys(token, Name.parse(zoneName(4))))).toEqual(ids(made.get(zoneName(4))!));
  });

  it('a key another program made is seen by a listing of every key, and can be taken over by its label at once', () => {
    // a key made by hand under a zone's label: hms key list and the orphan report list every key
    const zone = Name.parse(zoneName(5));
    pkcs11Tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', `hms:${zoneName(5)}:zsk:c0ffee02`, '--id', 'c0ffee02', '--usage-sign']);
    expect(
      findKeys(token)
        .filter((k) => k.zone === zoneName(5))
        .map((k) => k.id.toString('hex')),
    ).toContain('c0ffee02');
    expect(ids(findKeys(token, zone))).toEqual([...ids(made.get(zoneName(5))!), 'c0ffee02'].sort());
    // another signer's key, taken over by its label (hms key import --label) just after it was made
    pkcs11Tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'other-signer-key', '--id', 'c0ffee01', '--usage-sign']);
    const other = Name.parse('other.index.example.');
    const adopted = adoptKey(
      token,
      other,
      'zsk',
      { label: 'other-signer-key' },
      () => {},
      () => {},
    );
    expect(adopted.key.id.toString('hex')).toBe('c0ffee01');
    expect(ids(findKeys(token, other))).toEqual(['c0ffee01']);
  });
});

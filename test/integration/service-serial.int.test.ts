import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serialGreater } from '../../src/dns/serial.js';
import { Service } from '../../src/service/daemon.js';
import { logLines, serviceFolder } from './helpers/service.js';
import { ROOT, verifyServiceOutput } from './helpers/run.js';

/**
 * Issue 17, item 4: a signed version's serial is recorded before the file that carries it is
 * published, and recovery after a crash never publishes different data under a serial that may
 * have been served. The crash states are made as a kill leaves them (the state file and the
 * signed file out of step), then the service starts on them with its clock injected.
 */
const { log, lines } = logLines();
let folder: ReturnType<typeof serviceFolder> | undefined;
const tmp = (): string => folder!.tmp;
const config = (): string => join(tmp(), 'hms.yaml');

beforeAll(() => {
  folder = serviceFolder('hms-service-serial-', 'hms-serial');
  // the DP policy with the serial counting up by one: a serial picked again is the same serial
  writeFileSync(join(tmp(), 'policy.yaml'), readFileSync(join(ROOT, 'kasp/default.yaml'), 'utf8').replace(/^(\s+)serial: unixtime$/m, '$1serial: counter'));
  writeFileSync(
    config(),
    `state: state/hms.db
policies: [policy.yaml]
hsm: { token: hms-serial, pin-file: pin }
service:
  data: state
zones:
  example.com: { input: zones/example.com.zone, policy: dp }
`,
  );
});

// every signed version the service leaves behind passes dnssec-verify, ldns-verify-zone and kzonecheck
afterEach(() => {
  expect(verifyServiceOutput(join(tmp(), 'state'))).toEqual([]);
});

afterAll(() => {
  folder?.token.dispose();
  if (folder !== undefined) rmSync(folder.tmp, { recursive: true, force: true });
});

describe('serials across a crash (issue 17, item 4)', () => {
  it('DP-2.9d the serial on disk is never used again for other data, whichever of the state and the file a kill left behind', async () => {
    const signed = join(tmp(), 'state/signed/example.com.signed');
    const state = join(tmp(), 'state');
    // every version that was on disk, by serial: one serial, one version
    const versions = new Map<number, Set<string>>();
    const seen = (serial: number | null): number => {
      expect(serial).not.toBeNull();
      const digest = createHash('sha256').update(readFileSync(signed)).digest('hex');
      versions.set(serial!, (versions.get(serial!) ?? new Set()).add(digest));
      return serial!;
    };
    const withService = async <T>(at: number, work: (s: Service) => Promise<T>): Promise<T> => {
      const service = await Service.start({ configFile: config(), log, operator: { user: 'hms-service(test)', groups: [] }, now: () => at });
      try {
        return await work(service);
      } finally {
        await service.stop();
      }
    };
    const now = Math.floor(Date.now() / 1000);

    const s1 = await withService(now, async (s) => seen((await s.resign('example.com.', 'test')).serial));
    // the state as it is before a version's serial is recorded
    const before = join(tmp(), 'state-before');
    mkdirSync(before);
    for (const f of readdirSync(state).filter((f) => f.startsWith('hms.db'))) copyFileSync(join(state, f), join(before, f));
    const s2 = await withService(now + 60, async (s) => seen((await s.resign('example.com.', 'test')).serial));
    expect(serialGreater(s2, s1)).toBe(true);
    const fileOfS2 = readFileSync(signed);

    // a kill between the rename of the signed file and the state's update (as older versions
    // did it): the file carries s2, the state still says s1
    for (const f of readdirSync(state).filter((f) => f.startsWith('hms.db'))) rmSync(join(state, f));
    for (const f of readdirSync(before)) copyFileSync(join(before, f), join(state, f));
    lines.length = 0;
    const s3 = await withService(now + 120, async (s) => {
      expect(s.status()[0]!.serial).toBe(s2);
      return seen((await s.resign('example.com.', 'test')).serial);
    });
    expect(serialGreater(s3, s2), `serial ${s3} after ${s2} served before the crash`).toBe(true);
    expect(lines.find((l) => l.level === 40 && l.serial === s2)).toMatchObject({ zone: 'example.com.', stateSerial: s1 });

    // a kill between recording the serial and the rename (as this version does it): the state
    // says s3, the file still carries s2; the start signs again, past s3
    writeFileSync(signed, fileOfS2);
    lines.length = 0;
    const s4 = await withService(now + 180, async (s) => {
      for (let i = 0; i < 300 && s.status()[0]!.serial === s2; i++) await new Promise((r) => setTimeout(r, 100));
      return seen(s.status()[0]!.serial);
    });
    expect(serialGreater(s4, s3), `serial ${s4} after ${s3}, recorded before the crash`).toBe(true);
    expect(lines.some((l) => l.msg === 'zone signed and published' && String(l.reasons).includes(`serial ${s3} was recorded but not published`))).toBe(true);

    expect([...versions].filter(([, v]) => v.size > 1).map(([serial]) => serial)).toEqual([]);
  }, 120_000);
});

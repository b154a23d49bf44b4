import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTemporaryName, temporaryName } from '../common/temporary-names.js';
import { removeLeftovers } from './temporary-files.js';

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('removeLeftovers', () => {
  it("OPS-7 removes regular files of the pattern of other pids only: this process's, links and folders stay", () => {
    dir = mkdtempSync(join(tmpdir(), 'hms-leftovers-'));
    const folder = join(dir, 'signed');
    mkdirSync(folder);
    writeFileSync(join(folder, 'a.signed.hms-tmp-7'), 'abc');
    writeFileSync(join(folder, temporaryName('b.signed', 4242)), 'de');
    writeFileSync(join(folder, 'c.signed.tmp-99'), 'f');
    mkdirSync(join(folder, 'd.hms-tmp-8'));
    writeFileSync(join(dir, 'outside'), 'x');
    symlinkSync(join(dir, 'outside'), join(folder, 'e.hms-tmp-9'));
    const left = removeLeftovers([folder], [], 4242);
    expect(left).toEqual({ files: [join(folder, 'a.signed.hms-tmp-7'), join(folder, 'c.signed.tmp-99')], bytes: 4 });
    expect(readdirSync(folder).sort()).toEqual(['b.signed.hms-tmp-4242', 'd.hms-tmp-8', 'e.hms-tmp-9']);
    expect(readdirSync(dir).sort()).toEqual(['outside', 'signed']);
  });

  it("beside a target: only that target's temporary files, named as now", () => {
    dir = mkdtempSync(join(tmpdir(), 'hms-leftovers-'));
    for (const f of ['z.zone.hms-tmp-5', 'z.zone.tmp-5', 'y.zone.hms-tmp-5', 'z.zone.hms-tmp-x', 'z.zone']) writeFileSync(join(dir, f), 'x');
    expect(removeLeftovers([], [join(dir, 'z.zone')], 1).files).toEqual([join(dir, 'z.zone.hms-tmp-5')]);
    expect(readdirSync(dir).sort()).toEqual(['y.zone.hms-tmp-5', 'z.zone', 'z.zone.hms-tmp-x', 'z.zone.tmp-5']);
  });

  it('reads the names it gives', () => {
    expect(parseTemporaryName(temporaryName('a.b.signed', 123))).toEqual({ target: 'a.b.signed', pid: 123, earlier: false });
    expect(parseTemporaryName('a.b.signed.tmp-12')).toEqual({ target: 'a.b.signed', pid: 12, earlier: true });
    expect(parseTemporaryName('a.b.signed.hms-tmp-012')).toBeUndefined();
    expect(parseTemporaryName('tmp-123')).toBeUndefined();
  });
});

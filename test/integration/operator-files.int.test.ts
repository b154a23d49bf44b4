import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HMS, requireTool, ROOT, run, runAsync } from './helpers/run.js';

/**
 * Issue 17 item 7: the files an operator gives hms (the configuration, policy files, the PIN
 * file, TSIG secret files) were read whole whatever they were: `--config /dev/zero` or a 1 GB
 * configuration was read into memory, a PIN or secret file that is a FIFO held hms in read()
 * for ever, and 40,000 unknown keys took 12-21 s and gave a 6 MB error. Now each is read as a
 * regular file, bounded, and refused at once naming it; the error of a file of typos lists the
 * first few and counts the rest. Each `hms` runs bounded by a timeout: a hang is a failure.
 */
let tmp: string;

beforeAll(() => {
  requireTool('mkfifo');
  tmp = mkdtempSync(join(tmpdir(), 'hms-operator-files-'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const hms = (args: readonly string[]) => runAsync('node', [HMS, ...args], { timeoutMs: 20_000 });

/** A FIFO nobody writes to, readable by its owner only (as a PIN or secret file must be). */
function fifo(name: string): string {
  const path = join(tmp, name);
  expect(run('mkfifo', ['-m', '600', path]).status).toBe(0);
  return path;
}

function config(name: string, extra: string): string {
  const path = join(tmp, name);
  writeFileSync(path, `state: state/hms.db\npolicies: [${join(ROOT, 'kasp/default.yaml')}]\n${extra}`);
  return path;
}

describe('issue 17 item 7 operator files are read as regular files, bounded', () => {
  it('OPS-6 --config /dev/zero and a 1 GiB configuration are refused at once, naming the file (exit 3)', async () => {
    const r = await hms(['run', '--config', '/dev/zero']);
    expect(r.status, r.stderr.slice(0, 300)).toBe(3);
    expect(r.stderr).toBe('hms: /dev/zero: the configuration is refused: it is a character device, not a regular file\n');
    const big = join(tmp, 'big.yaml');
    writeFileSync(big, 'state: state/hms.db\n');
    truncateSync(big, 2 ** 30);
    const b = await hms(['run', '--config', big]);
    expect(b.status, b.stderr.slice(0, 300)).toBe(3);
    expect(b.stderr).toBe(`hms: ${big}: the configuration is refused: larger than 4 MiB, the most hms reads of a configuration\n`);
  }, 60_000);

  it('OPS-6 a policy file that is /dev/zero is refused at once (exit 3)', async () => {
    const r = await hms(['policy', 'check', '/dev/zero']);
    expect(r.status, r.stderr.slice(0, 300)).toBe(3);
    expect(r.stderr).toMatch(/^hms: \/dev\/zero: the policy file is refused: it is a character device/);
  }, 30_000);

  it('DP-3.1b OPS-6 a TSIG secret file or a PIN file that is a FIFO is refused at once naming it, never read', async () => {
    const secret = fifo('xfr.secret');
    const r = await hms(['run', '--config', config('secret.yaml', `tsig-keys:\n  xfr-key: { algorithm: hmac-sha256, secret-file: ${secret} }\n`)]);
    expect(r.status, r.stderr.slice(0, 300)).toBe(3);
    expect(r.stderr).toContain(`${secret}: the TSIG secret file is refused: it is a FIFO (named pipe), not a regular file`);
    const pin = fifo('pin');
    const p = await hms(['hsm', 'test', '--pin-file', pin, '--token', 'no-such-token']);
    expect(p.status, p.stderr.slice(0, 300)).toBe(3);
    expect(p.stderr).toBe(`hms: ${pin}: the PIN file is refused: it is a FIFO (named pipe), not a regular file\n`);
  }, 60_000);

  it('OPS-6 a configuration with 40,000 unknown keys is refused with the first five and a count, in a short message', async () => {
    const lines = Array.from({ length: 40_000 }, (_, i) => `unknown${i}: ${i}`);
    const file = config('typos.yaml', `${lines.join('\n')}\n`);
    const r = await hms(['run', '--config', file]);
    expect(r.status, r.stderr.slice(0, 300)).toBe(3);
    expect(r.stderr.length).toBeLessThan(2000);
    for (let i = 0; i < 5; i++) expect(r.stderr).toContain(`${file}:${i + 3}:1: unknown${i}: unknown field (expected one of: state, policies`);
    expect(r.stderr).toContain(`${file}:8:1: (top level): and 39995 more unknown field(s), the first of them 'unknown5'`);
    // written twice, 40,000 times over: every one is still found, the list stays short
    const twice = config('twice.yaml', `${lines.map((l) => `${l}\n${l}`).join('\n')}\n`);
    const t = await hms(['run', '--config', twice]);
    expect(t.status).toBe(3);
    expect(t.stderr).toContain(`${twice}:4:1: 'unknown0' is written twice in one map`);
    expect(t.stderr).toMatch(/and 39950 more problem\(s\), not listed/);
    expect(t.stderr.length).toBeLessThan(10_000);
  }, 60_000);
});

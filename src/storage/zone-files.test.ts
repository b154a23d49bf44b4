import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtomicZoneFile, writeZoneFileAtomically } from './zone-files.js';

describe('AtomicZoneFile (OPS-7: a reader sees the old file or the whole new one)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hms-zone-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every line whole, across its buffer, with lines longer than the buffer, latin1 as read', () => {
    const path = join(dir, 'z.signed');
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) lines.push(`n${i}.example.\t3600\tIN\tTXT\t"${'x'.repeat(i % 97)}\\255"`);
    lines.splice(7000, 0, `big.example.\t3600\tIN\tTXT\t${'"a" '.repeat(100000)}`);
    lines.push('caf\u00e9.example.\t3600\tIN\tA\t192.0.2.1');
    writeZoneFileAtomically(path, lines);
    expect(readFileSync(path, 'latin1')).toBe(`${lines.join('\n')}\n`);
    expect(readdirSync(dir)).toEqual(['z.signed']);
  });

  it('abort leaves the old file as it was and no temporary file', () => {
    const path = join(dir, 'z.signed');
    writeFileSync(path, 'old\n');
    const file = AtomicZoneFile.open(path);
    for (let i = 0; i < 50000; i++) file.line(`line ${i}`);
    expect(readdirSync(dir).length).toBe(2);
    file.abort();
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['z.signed']);
  });
});

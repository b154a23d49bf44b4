import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { loadZoneFile, readZoneFile } from './load-zone.js';

describe('readZoneFile (issue 17: reading one zone never stalls the service)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hms-load-zone-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('OPS-7 lets the event loop turn after each MiB read, even through comments and records few enough to give no pause of their own', async () => {
    // 8 MiB of comments, and 100 records at the end: no 1000 records to pause at
    const comment = `; ${'c'.repeat(1021)}\n`;
    const records = Array.from({ length: 100 }, (_, i) => `h${i} A 192.0.2.${i}\n`).join('');
    writeFileSync(join(dir, 'zone.db'), `$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 2592000 300\n@ NS ns1\nns1 A 192.0.2.1\n${comment.repeat(8192)}${records}`);
    let turns = 0;
    let reading = true;
    const count = (): void => {
      turns++;
      if (reading) setImmediate(count);
    };
    setImmediate(count);
    const zone = await readZoneFile(join(dir, 'zone.db'), Name.parse('example.com.'));
    reading = false;
    expect(zone.recordCount).toBe(103);
    // 8 MiB in 1 MiB chunks: a turn after each
    expect(turns).toBeGreaterThanOrEqual(8);
    expect(loadZoneFile(join(dir, 'zone.db'), Name.parse('example.com.')).recordCount).toBe(103);
  });
});

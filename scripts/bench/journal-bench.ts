/**
 * The IXFR journal's memory and stalls (issue 17 item 5):
 *   node --expose-gc dist/scripts/bench/journal-bench.js [--records 100000] [--versions 7] [--dir DIR]
 * Appends `versions` re-sign diffs of a zone with `records` RRSIGs (each diff deletes every
 * old RRSIG and adds a new one, as a re-sign does), then opens the journal again as a restart
 * does and streams an IXFR from the oldest version. Prints, as JSON: RSS and heap after each
 * version (after a GC), the longest event-loop stall while a version is appended (the
 * longest gap between the ticks of a 1 ms timer), the time to
 * open the journal again, RSS after it, and the IXFR's time and the RSS while it streams.
 * Figures, not goals: the old whole-file journal held every diff in memory and rewrote the
 * file at every version; the journal on disk holds an index only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Name } from '../../src/dns/name.js';
import { RRType } from '../../src/dns/types.js';
import { Journal } from '../../src/transfer/journal.js';
import type { DiffRecord, ZoneDiff } from '../../src/zone/diff.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at < 0 ? fallback : Number(args[at + 1]);
};
const RECORDS = option('records', 100_000);
const VERSIONS = option('versions', 7);
const ORIGIN = Name.parse('bench.example.');
const dirAt = args.indexOf('--dir');
const dir = dirAt < 0 ? mkdtempSync(join(tmpdir(), 'hms-journal-bench-')) : args[dirAt + 1]!;
const file = join(dir, 'bench.example.journal');

const owners = Array.from({ length: RECORDS }, (_, i) => Name.parse(`host${i}.bench.example.`));

function soa(serial: number): DiffRecord {
  const rdata = Buffer.alloc(22 + 20);
  rdata.set([3, 110, 115, 49, 0], 0); // ns1.
  rdata.set([4, 104, 111, 115, 116, 0], 5); // host.
  rdata.writeUInt32BE(serial, 11);
  rdata.writeUInt32BE(7200, 15);
  rdata.writeUInt32BE(900, 19);
  rdata.writeUInt32BE(2592000, 23);
  rdata.writeUInt32BE(300, 27);
  return { owner: ORIGIN, type: RRType.SOA, ttl: 3600, rdata: rdata.subarray(0, 31) };
}

/** The RRSIGs of version `serial`: one per owner, 280 octets of RDATA (an RSA-2048 signature and its header). */
const signatures = (seed: Buffer): DiffRecord[] =>
  owners.map((owner, i) => {
    const rdata = Buffer.alloc(280);
    seed.copy(rdata, 0);
    rdata.writeUInt32BE(i, 32);
    return { owner, type: RRType.RRSIG, ttl: 3600, rdata };
  });

const gc = (globalThis as { gc?: () => void }).gc;
const mib = (n: number): number => Math.round(n / 1048576);
function memory(): { rssMiB: number; heapMiB: number } {
  gc?.();
  const m = process.memoryUsage();
  return { rssMiB: mib(m.rss), heapMiB: mib(m.heapUsed + m.external + m.arrayBuffers) };
}

async function main(): Promise<void> {
  const baseline = memory();
  const journal = Journal.open({ file, origin: ORIGIN, maxVersions: 30, maxBytes: 4 * 1024 ** 3 - 1 });
  const versions: { version: number; rssMiB: number; heapMiB: number; appendMs: number; maxStallMs: number; fileMiB: number }[] = [];
  let old = signatures(randomBytes(32));
  for (let v = 1; v <= VERSIONS; v++) {
    const next = signatures(randomBytes(32));
    const diff: ZoneDiff = { from: soa(v), to: soa(v + 1), deleted: old, added: next };
    // the longest gap between the ticks of a 1 ms timer while the version is appended
    let last = performance.now();
    let maxStall = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      maxStall = Math.max(maxStall, now - last);
      last = now;
    }, 1);
    await delay(5);
    const started = performance.now();
    // the old journal's add is synchronous, the new one's a promise: awaiting works for both
    await journal.add(diff);
    const appendMs = Math.round(performance.now() - started);
    await delay(5);
    clearInterval(ticker);
    old = next;
    versions.push({ version: v, ...memory(), appendMs, maxStallMs: Math.round(maxStall), fileMiB: mib(statSync(file).size) });
  }
  old = [];
  const afterVersions = memory();
  const opening = performance.now();
  const reopened = Journal.open({ file, origin: ORIGIN, maxVersions: 30, maxBytes: 4 * 1024 ** 3 - 1 });
  const openMs = Math.round(performance.now() - opening);
  const afterOpen = memory();
  const ixfrStart = performance.now();
  let records = 0;
  let peakRss = 0;
  for (const d of reopened.diffsFrom(1, VERSIONS + 1) ?? []) {
    for (const section of [d.deleted, d.added]) {
      for (const r of section) {
        records++;
        if (r.rdata.length > 0 && records % 50_000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
    }
  }
  const ixfrMs = Math.round(performance.now() - ixfrStart);
  console.log(
    JSON.stringify(
      {
        records: RECORDS,
        versions: VERSIONS,
        kept: journal.size,
        baseline,
        perVersion: versions,
        afterVersions,
        restart: { openMs, ...afterOpen },
        ixfrFromOldest: { records, ms: ixfrMs, peakRssMiB: mib(peakRss) },
      },
      null,
      1,
    ),
  );
  if (dirAt < 0) rmSync(dir, { recursive: true, force: true });
}

await main();

/**
 * A deterministic, realistic zone for benchmarks: hosts with A/AAAA, aliases, mail, services,
 * long TXT, wildcards, names with escapes, and delegations with glue and DS. Every record is
 * one that `hms zone check`, named-checkzone and kzonecheck accept.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** A small seeded generator (xorshift32), so the same size gives the same zone. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export async function generateZone(path: string, origin: string, records: number): Promise<number> {
  const out = createWriteStream(path);
  const next = rng(20261122);
  let count = 0;
  let buffer = '';
  const emit = async (line: string, n = 1): Promise<void> => {
    buffer += `${line}\n`;
    count += n;
    if (buffer.length > 1 << 16) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  };
  const hex = (bytes: number): string => Array.from({ length: bytes }, () => (next() & 0xff).toString(16).padStart(2, '0')).join('');
  const v4 = (i: number): string => `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`;
  const v6 = (i: number): string => `2001:db8:${(i >>> 16).toString(16)}::${(i & 0xffff).toString(16)}`;

  await emit(`$ORIGIN ${origin}.\n$TTL 3600`, 0);
  await emit('@ IN SOA ns1 hostmaster ( 2026112201 7200 900 2592000 300 )');
  await emit('  NS ns1');
  await emit('  NS ns2.example.net.');
  await emit('  MX 10 mail');
  await emit('  TXT "v=spf1 mx -all"');
  await emit('ns1 A 192.0.2.1\n AAAA 2001:db8::1', 2);
  await emit('mail A 192.0.2.25\n AAAA 2001:db8::25', 2);
  for (let i = 0; count < records; i++) {
    const kind = i % 20;
    if (kind < 12) {
      await emit(`h${i} A ${v4(i)}`);
      await emit(`  AAAA ${v6(i)}`);
      if (kind % 3 === 0) await emit(`  TXT "host ${i} owned by unit ${next() % 1000}" "${hex(16)}"`);
      if (kind === 4) await emit(`  MX 10 mail`);
    } else if (kind === 12) {
      await emit(`www.h${i - 1} CNAME h${i - 1}`);
    } else if (kind === 13) {
      await emit(`_sip._tcp.h${i - 2} SRV 0 5 5060 h${i - 2}`);
    } else if (kind === 14) {
      // a delegation with in-bailiwick glue and a DS, and one served elsewhere
      await emit(`d${i} NS ns1.d${i}`);
      await emit(`  NS ns2.example.net.`);
      await emit(`  DS ${next() & 0xffff} 8 2 ${hex(32)}`);
      await emit(`ns1.d${i} A ${v4(i)}`);
      await emit(`  AAAA ${v6(i)}`);
    } else if (kind === 15) {
      await emit(`*.w${i} A ${v4(i)}`);
    } else if (kind === 16) {
      await emit(`long${i} TXT "${'x'.repeat(200)}" "${hex(60)}"`);
    } else if (kind === 17) {
      await emit(`esc\\032${i}\\.name TXT "escaped owner"`);
    } else {
      await emit(`_25._tcp.h${i - 6} TLSA 3 1 1 ${hex(32)}`);
    }
  }
  out.end(buffer);
  await once(out, 'finish');
  return count;
}

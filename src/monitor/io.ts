import { Resolver } from 'node:dns/promises';
import { TransferError } from '../common/errors.js';
import { uncompressedRdata, type DecodedMessage } from '../dns/message.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { query, transferStream, type Answer, type SourceAddresses } from '../transfer/client.js';
import type { MonitorIo, Rec, Reply } from './types.js';

/** The records of a message's sections, their names written out in full. */
function sections(answer: { message: Uint8Array; decoded: DecodedMessage }): { answer: Rec[]; authority: Rec[] } {
  const { header, records } = answer.decoded;
  const rec = (r: DecodedMessage['records'][number]): Rec => ({ owner: r.owner, type: r.type, ttl: r.ttl, rdata: uncompressedRdata(answer.message, r) });
  return { answer: records.slice(0, header.ancount).map(rec), authority: records.slice(header.ancount, header.ancount + header.nscount).map(rec) };
}

/** An answer as the checks read it (a malformed record is a TransferError naming the server). */
export function replyOf(where: string, a: Answer): Reply {
  let s: { answer: Rec[]; authority: Rec[] };
  try {
    s = sections(a);
  } catch (e) {
    throw new TransferError(`${where}: malformed answer: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const h = a.decoded.header;
  return {
    rcode: h.rcode,
    authoritative: h.isAuthoritative,
    ...s,
    ...(a.tsig === undefined ? {} : { tsig: { timeSigned: a.tsig.timeSigned, error: a.tsig.error, otherData: a.tsig.otherData } }),
  };
}

/**
 * The monitor's IO over the network: questions with DNSSEC OK (UDP, TCP when truncated), AXFR
 * with TSIG; every wait bounded by `timeoutMs`; requests leave from the configured source.
 */
export function networkIo(options: { readonly timeoutMs: number; readonly source: SourceAddresses }): MonitorIo {
  return {
    async ask(target, name, type, o = {}) {
      const a = await query(
        { address: target.address, port: target.port },
        { name, type, class: 1 },
        {
          dnssecOk: true,
          timeoutMs: options.timeoutMs,
          source: options.source,
          ...(o.tsig === undefined ? {} : { tsig: o.tsig }),
          ...(o.anyTime === true ? { anyTime: true } : {}),
        },
      );
      return replyOf(target.label, a);
    },
    async transfer(target, zone, key) {
      const records: Rec[] = [];
      let soas = 0;
      await transferStream(
        { address: target.address, port: target.port },
        { name: zone, type: RRType.AXFR, class: 1 },
        (decoded, _index, message) => {
          if (decoded.header.rcode !== 0) throw new TransferError(`${target.label}: AXFR answered with rcode ${decoded.header.rcode}`);
          for (const r of sections({ message, decoded }).answer) {
            records.push(r);
            if (r.type === RRType.SOA && r.owner.equals(zone)) soas++;
          }
          if (soas === 0) throw new TransferError(`${target.label}: the AXFR answer does not start with the SOA`);
          return soas < 2;
        },
        { tsig: key, timeoutMs: options.timeoutMs, source: options.source, dnssecOk: true },
      );
      return records;
    },
  };
}

/**
 * The addresses of a name server outside its zone, asked of the system's resolver (bounded in
 * time); throws when it has none.
 */
export async function lookupAddresses(name: Name, timeoutMs: number): Promise<string[]> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  const host = name.toString().replace(/\.$/, '');
  const found = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses = found.flatMap((f) => (f.status === 'fulfilled' ? f.value : []));
  if (addresses.length === 0) {
    const reason = found.map((f) => (f.status === 'rejected' ? (f.reason instanceof Error ? f.reason.message : String(f.reason)) : 'no address')).join('; ');
    throw new TransferError(`${name.toString()}: no address found (${reason})`);
  }
  return addresses;
}

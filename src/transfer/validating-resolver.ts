import { SignerError } from '../common/errors.js';
import { Rcode, uncompressedRdata } from '../dns/message.js';
import type { Name } from '../dns/name.js';
import { typeToString } from '../dns/types.js';
import type { LookupResult, ValidatingLookup } from '../compliance/lookup.js';
import { query, type Answer, type Server, type SourceAddresses } from './client.js';

const FLAG_RA = 0x80;
const FLAG_AD = 0x20;
const RCODE_NAMES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' };

export interface ResolverLookupOptions {
  /** Each query's bound (default 3000 ms); a lookup asks at most twice (again with CD after a SERVFAIL). */
  readonly timeoutMs?: number;
  readonly source?: SourceAddresses;
}

/**
 * A validating lookup through a configured validating resolver (BIND, Unbound, Knot Resolver):
 * every question is asked recursively with DNSSEC OK, and the answer is `secure` when the
 * resolver sets the AD bit (RFC 4035 section 3.2.3). The AD bit is only as good as the path
 * to the resolver, so it is trusted from a resolver on this host (loopback) or one the
 * configuration says to trust (`compliance.trust-ad`); the caller checks that. A SERVFAIL
 * that goes away with the CD bit set is a validation failure: `bogus`. A resolver that does
 * not answer in time, answers garbage, refuses, or does not recurse is `failed`, naming it.
 */
export class ResolverLookup implements ValidatingLookup {
  readonly source: string;

  constructor(
    private readonly server: Server,
    private readonly options: ResolverLookupOptions = {},
  ) {
    this.source = `resolver ${server.address.includes(':') ? `[${server.address}]` : server.address}:${server.port}`;
  }

  async lookup(name: Name, type: number): Promise<LookupResult> {
    const question = `${name.toString()}/${typeToString(type)}`;
    let a: Answer;
    try {
      a = await this.ask(name, type, false);
      if (a.decoded.header.rcode === Rcode.SERVFAIL) {
        const unchecked = await this.ask(name, type, true);
        const rcode = unchecked.decoded.header.rcode;
        if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return { kind: 'failed', problem: `${this.source}: ${question}: SERVFAIL, also with CD` };
        return { kind: 'answer', security: 'bogus', rcode, rdatas: records(unchecked, type) };
      }
    } catch (e) {
      if (!(e instanceof SignerError)) throw e;
      return { kind: 'failed', problem: `${this.source}: ${question}: ${e.message}` };
    }
    const flags = a.message[3]!;
    const rcode = a.decoded.header.rcode;
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN)
      return { kind: 'failed', problem: `${this.source}: ${question}: answered ${RCODE_NAMES[rcode] ?? `rcode ${rcode}`}` };
    if ((flags & FLAG_RA) === 0) return { kind: 'failed', problem: `${this.source}: ${question}: not a recursive resolver (RA clear)` };
    try {
      return { kind: 'answer', security: (flags & FLAG_AD) !== 0 ? 'secure' : 'insecure', rcode, rdatas: records(a, type) };
    } catch (e) {
      if (!(e instanceof SignerError)) throw e;
      return { kind: 'failed', problem: `${this.source}: ${question}: ${e.message}` };
    }
  }

  private ask(name: Name, type: number, checkingDisabled: boolean): Promise<Answer> {
    return query(
      this.server,
      { name, type, class: 1 },
      {
        recursionDesired: true,
        dnssecOk: true,
        checkingDisabled,
        timeoutMs: this.options.timeoutMs ?? 3000,
        ...(this.options.source === undefined ? {} : { source: this.options.source }),
      },
    );
  }
}

/** The RDATA of the answer section's records of `type` (after any CNAME chain). */
function records(a: Answer, type: number): Uint8Array[] {
  return a.decoded.records
    .slice(0, a.decoded.header.ancount)
    .filter((r) => r.type === type)
    .map((r) => uncompressedRdata(a.message, r));
}

/** True for 127.0.0.0/8 and ::1: a resolver whose AD bit no network can forge. */
export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(address);
}

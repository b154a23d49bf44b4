import { isIP } from 'node:net';
import type { UnixSeconds } from '../common/clock.js';
import { SignerError, UsageError } from '../common/errors.js';
import { query, type Server, type SourceAddresses } from '../transfer/client.js';
import { Name } from '../dns/name.js';
import { formatRdata } from '../dns/rdata/index.js';
import { RRType } from '../dns/types.js';
import { sameRdatas } from '../dnssec/verify-answer.js';
import { replyOf } from '../monitor/io.js';
import { fetchParentDs, isDsOf, type ParentDs } from '../monitor/parent-ds.js';
import { dsAtParent, signsDnskey, type KeyRecord } from '../enforcer/keys.js';
import type { Acting, Keeper } from './keeper.js';
import { requestDsStep, type DsStep } from './requests.js';

/** Who files the requests of the automatic check: never a person, so any person may approve them (DP-4.7d). */
export const DS_CHECK_ACTOR = 'hms:ds-check';

/** `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]:5353`: a parent server as written. */
export function parseServer(text: string): Server {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(text);
  const [address, port] = v6 !== null ? [v6[1]!, v6[2]] : isIP(text) === 6 ? [text, undefined] : v4 !== null ? [v4[1]!, v4[2]] : [text, undefined];
  const n = port === undefined ? 53 : Number(port);
  if (isIP(address) === 0 || !Number.isInteger(n) || n < 1 || n > 65535)
    throw new UsageError(`parent server '${text}': not an IP address with an optional port (192.0.2.1, 192.0.2.1:5353, [2001:db8::1]:5353)`);
  return { address, port: n };
}

/** What one parent server serves for the zone's DS, checked. */
export interface ServerDs {
  readonly server: string;
  /** The parent zone that signed the answer. */
  readonly signer: string | null;
  /** The DS records, in presentation form. */
  readonly ds: readonly string[];
  /** Why the answer cannot be trusted (then `ds` is not used). */
  readonly problem: string | null;
}

export interface ParentDsCheck {
  readonly zone: string;
  readonly servers: readonly ServerDs[];
  /** Every server answered, validated, and served the same DS RRset. */
  readonly agree: boolean;
  /** Our keys whose DS the parent serves (when the servers agree). */
  readonly served: readonly number[];
  /** DS the parent serves that match none of our keys. */
  readonly foreign: readonly string[];
  /** Requests filed by this check, each waiting for a person's approval. */
  readonly filed: readonly { readonly id: string; readonly kind: DsStep; readonly keyTag: number }[];
  /** Steps the plan waits for that the parent does not show yet, or that wait for approval already. */
  readonly notes: readonly string[];
}

/**
 * The automatic DS check (issue 4, DP-4.7): asks each of the zone's parent servers (stored
 * with the zone) for the zone's DS with DNSSEC OK, validates each answer against the
 * parent's DNSKEY RRset from the same server (itself self-signed) — the DS RRset's RRSIG, or
 * for no DS the NSEC/NSEC3 proof — and requires every server to serve the same. When they
 * agree, a DS the plan waits to see that is now served, or one it waits to see withdrawn that
 * is gone, is filed as the same `ds seen` / `ds withdraw` request an operator would make,
 * by DS_CHECK_ACTOR; it takes effect only when a person approves it (DP-4.7d). The daemon
 * calls this on a timer; `hms ds check` runs it once.
 */
export async function checkParentDs(keeper: Keeper, zoneName: string, acting: Acting, options: { timeoutMs?: number } = {}): Promise<ParentDsCheck> {
  const z = keeper.zone(zoneName);
  if (z.parentServers.length === 0) throw new UsageError(`zone ${z.name}: no parent servers to ask (hms zone set ${z.name} --parent-server ADDR[:PORT])`);
  const apex = Name.parse(z.name);
  const servers: ServerDs[] = [];
  const fetched: ParentDs[] = [];
  for (const text of z.parentServers) {
    try {
      const f = await fetchDs(parseServer(text), apex, acting.at, options.timeoutMs ?? 3000, keeper.config.service.source);
      fetched.push(f);
      servers.push({ server: text, signer: f.signer.toString(), ds: f.ds.map((r) => formatRdata(RRType.DS, r)), problem: null });
    } catch (e) {
      if (!(e instanceof SignerError)) throw e;
      servers.push({ server: text, signer: null, ds: [], problem: e.message });
    }
  }
  const agree = fetched.length === servers.length && fetched.every((f) => sameRdatas(f.ds, fetched[0]!.ds) && f.signer.equals(fetched[0]!.signer));
  if (!agree)
    return {
      zone: z.name,
      servers,
      agree,
      served: [],
      foreign: [],
      filed: [],
      notes: ['the parent servers do not all give the same validated answer: nothing is filed'],
    };

  const served = fetched[0]!.ds;
  const keys = keeper.keys(z).filter((k) => signsDnskey(k) && (k.remove === null || k.remove > acting.at || dsAtParent(k)));
  const matches = (k: KeyRecord, r: Uint8Array): boolean => isDsOf(apex, k.dnskey, r);
  const isServed = (k: KeyRecord): boolean => served.some((r) => matches(k, r));
  const foreign = served.filter((r) => !keys.some((k) => matches(k, r)));
  const filed: { id: string; kind: DsStep; keyTag: number }[] = [];
  const notes: string[] = [];
  for (const g of keeper.plan(z, acting.at).gates) {
    const k = keys.find((x) => x.id === g.keyId);
    if (k === undefined) continue;
    const shows = g.kind === 'ds-seen' ? isServed(k) : !isServed(k);
    if (!shows) {
      notes.push(`${g.kind} ${g.keyTag}: the parent does not show it yet`);
      continue;
    }
    if (g.from > acting.at) {
      notes.push(`${g.kind} ${g.keyTag}: shown, but may be confirmed only from ${new Date(g.from * 1000).toISOString()}`);
      continue;
    }
    const pending = keeper.store.listRequests({ zone: z.name, status: 'pending' }).find((r) => r.kind === g.kind && r.keyTag === g.keyTag);
    if (pending !== undefined) {
      notes.push(`${g.kind} ${g.keyTag}: request ${pending.id} waits for approval`);
      continue;
    }
    const id = requestDsStep(
      keeper,
      z.name,
      g.kind,
      g.keyTag,
      { ...acting, comment: `the parent's servers ${z.parentServers.join(', ')} agree (validated)` },
      acting.ticket ?? 'automatic DS check',
      DS_CHECK_ACTOR,
    );
    filed.push({ id, kind: g.kind, keyTag: g.keyTag });
  }
  return {
    zone: z.name,
    servers,
    agree,
    served: keys.filter(isServed).map((k) => k.keyTag),
    foreign: foreign.map((r) => formatRdata(RRType.DS, r)),
    filed,
    notes,
  };
}

/** Asks one parent server for the zone's DS, validated (the monitor's fetchParentDs), from the configured source address of its family. */
function fetchDs(server: Server, apex: Name, now: UnixSeconds, timeoutMs: number, source: SourceAddresses): Promise<ParentDs> {
  const label = `${server.address}@${server.port}`;
  return fetchParentDs(async (name, type) => replyOf(label, await query(server, { name, type, class: 1 }, { dnssecOk: true, timeoutMs, source })), apex, now);
}

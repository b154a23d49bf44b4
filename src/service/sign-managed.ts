import { SignerError } from '../common/errors.js';
import { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { nextSerial } from '../dns/serial.js';
import type { Denial, SignSummary } from '../dnssec/sign-zone.js';
import type { SigningKey } from '../dnssec/signer.js';
import { keysAt, type KeyRecord } from '../enforcer/keys.js';
import { timings } from '../enforcer/timing.js';
import { findKeys, hsmSigner } from '../hsm/keys.js';
import { checkZone } from '../zone/checks.js';
import { hasErrors, ZoneCheckError } from '../zone/findings.js';
import type { Acting, Keeper } from './keeper.js';
import { loadZoneFile } from './load-zone.js';
import { signZoneToFile } from './sign-file.js';

export interface SignedVersion extends SignSummary {
  readonly zone: string;
  readonly serial: number;
  readonly out: string;
  readonly keys: readonly { readonly role: string; readonly keyTag: number; readonly signs: string }[];
}

/**
 * Signs a managed zone as its policy and its keys say at `acting.at` (the zone pipeline's
 * sign step): the planner's due actions first, then the input read and checked, every
 * published DNSKEY in the DNSKEY RRset, the keys that sign now signing, the SOA fields and
 * TTLs the policy forces, NSEC3 with the zone's current salt, CDS/CDNSKEY for the keys whose
 * DS the parent should hold (when the policy publishes them), and the serial moved on. The
 * result is verified as it is written and replaces `out` only when nothing is wrong.
 */
export async function signManagedZone(keeper: Keeper, zoneName: string, acting: Acting, out: string): Promise<SignedVersion> {
  await keeper.enforce(zoneName, acting);
  const zone = keeper.zone(zoneName);
  const policy = keeper.policy(zone.policy);
  const origin = Name.parse(zone.name);
  const input = loadZoneFile(zone.input, origin);
  const findings = checkZone(input);
  if (hasErrors(findings)) throw new ZoneCheckError(zone.name, findings);

  const now = acting.at;
  const records = keeper.keys(zone);
  const view = keysAt(records, now);
  const token = keeper.hsm();
  await token.startSigningThreads();
  const inHsm = new Map(findKeys(token, origin).map((k) => [k.id.toString('hex'), k]));
  const signerOf = (k: KeyRecord): SigningKey['signer'] => hsmSigner(token, inHsm.get(k.id)!);
  const keys: SigningKey[] = [];
  for (const k of view.dnskeys) {
    const dnskey = view.dnskeySigners.includes(k);
    const data = view.dataSigners.includes(k);
    if (dnskey || data) keys.push({ signer: signerOf(k), role: dnskey && data ? 'csk' : dnskey ? 'ksk' : 'zsk' });
  }
  if (!keys.some((k) => k.role !== 'zsk') || !keys.some((k) => k.role !== 'ksk')) {
    throw new SignerError('DNSSEC', `zone ${zone.name}: no key signs the ${keys.some((k) => k.role !== 'zsk') ? 'zone data' : 'DNSKEY RRset'} at ${new Date(now * 1000).toISOString()}`);
  }

  const denial: Denial = policy.denial.type === 'nsec' ? { kind: 'nsec' }
    : { kind: 'nsec3', iterations: policy.denial.iterations, salt: Buffer.from(zone.saltHex ?? '', 'hex'), optOut: policy.denial.optOut };
  const inputSerial = decodeSoa(input.soa!.records[0]!.rdata).serial;
  const serial = nextSerial(policy.soa.serial, zone.lastSerial ?? inputSerial, now);
  const ready = timings(policy, keeper.facts(zone)).publish;
  // the DS the parent should hold: a successor's once it is known everywhere, else the current key's
  const ksks = view.dnskeySigners;
  const cdsKeys = ksks.filter((k) => !ksks.some((n) => n.successorOf === k.id && now >= n.publish + ready) && (k.successorOf === null || now >= k.publish + ready));
  const inception = now - policy.signatures.inceptionOffset;

  const summary = await signZoneToFile(input, {
      keys, dnskeys: view.dnskeys.map((k) => k.dnskey), dnskeyTtl: policy.ttl.dnskey, nsec3paramTtl: policy.ttl.nsec3param,
      denial, inception, expiration: inception + policy.signatures.validity, serial,
      soa: {
        expire: policy.soa.expire, minimum: policy.soa.minimum,
        ...(policy.soa.ttl === null ? {} : { ttl: policy.soa.ttl }), ...(policy.soa.refresh === null ? {} : { refresh: policy.soa.refresh }),
        ...(policy.soa.retry === null ? {} : { retry: policy.soa.retry }),
      },
      ...(policy.parent.cds || policy.parent.cdnskey ? { cds: { digestTypes: policy.parent.dsDigests, dnskeys: cdsKeys.map((k) => k.dnskey) } } : {}),
    }, out, now);
  keeper.store.updateZone(zone.name, { lastSerial: serial, lastSigned: now }, { actor: acting.who.user, ticket: acting.ticket, comment: acting.comment ?? `signed, serial ${serial}, written to ${out}`, at: now });
  return {
    ...summary, zone: zone.name, serial, out,
    keys: keys.map((k) => ({ role: k.role, keyTag: k.signer.keyTag, signs: k.role === 'ksk' ? 'DNSKEY' : k.role === 'zsk' ? 'data' : 'DNSKEY and data' })),
  };
}

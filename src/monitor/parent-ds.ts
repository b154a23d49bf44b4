import type { UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { DIGEST_HASH, type DigestTypeNumber } from '../dnssec/algorithms.js';
import { makeDs } from '../dnssec/ds.js';
import { checkNoDs, sameRdatas, verifyRRset, type AnswerRRset } from '../dnssec/verify-answer.js';
import type { Rec, Reply } from './types.js';

/** The DS a parent server serves for a zone, validated, and the parent zone that signed it. */
export interface ParentDs {
  readonly ds: Uint8Array[];
  readonly signer: Name;
}

/**
 * Asks one parent server (through `ask`) for the zone's DS and the signer's DNSKEY RRset, and
 * validates both: the DNSKEY RRset self-signed, the DS RRset signed by it, or for no DS the
 * NSEC/NSEC3 proof (issue 4, DP-4.7; the monitor and `hms ds check`). Throws SignerError
 * ('DNSSEC') saying what is wrong.
 */
export async function fetchParentDs(ask: (name: Name, type: number) => Promise<Reply>, apex: Name, now: UnixSeconds): Promise<ParentDs> {
  const asked = async (name: Name, type: number): Promise<Reply> => {
    const a = await ask(name, type);
    if (a.rcode !== 0 && a.rcode !== 3) throw new SignerError('DNSSEC', `rcode ${a.rcode} for ${name.toString()}/${type === RRType.DS ? 'DS' : 'DNSKEY'}`);
    if (!a.authoritative) throw new SignerError('DNSSEC', `the answer for ${name.toString()} is not authoritative`);
    return a;
  };
  const ds = await asked(apex, RRType.DS);
  const dsSet = rrsetOf(ds.answer, apex, RRType.DS);
  // the parent zone: the signer of the DS, or the owner of the SOA of a negative answer
  const signer = dsSet.rrsigs.length > 0 ? signerOf(dsSet.rrsigs[0]!) : ds.authority.find((r) => r.type === RRType.SOA)?.owner;
  if (signer === undefined) throw new SignerError('DNSSEC', `no signed DS and no SOA in the answer for ${apex.toString()}/DS`);
  if (signer.equals(apex) || !apex.isSubdomainOf(signer))
    throw new SignerError(
      'DNSSEC',
      `the answer for ${apex.toString()}/DS comes from ${signer.toString()}, not from a parent zone (is this the child's own server?)`,
    );
  const keyAnswer = await asked(signer, RRType.DNSKEY);
  const dnskeys = rrsetOf(keyAnswer.answer, signer, RRType.DNSKEY);
  if (dnskeys.rdatas.length === 0) throw new SignerError('DNSSEC', `${signer.toString()} serves no DNSKEY`);
  const selfSigned = verifyRRset(dnskeys, signer, dnskeys.rdatas, now);
  if ('problem' in selfSigned) throw new SignerError('DNSSEC', `the parent's DNSKEY RRset does not validate: ${selfSigned.problem}`);
  if (dsSet.rdatas.length > 0) {
    const v = verifyRRset(dsSet, signer, dnskeys.rdatas, now);
    if ('problem' in v) throw new SignerError('DNSSEC', `the DS RRset does not validate: ${v.problem}`);
    return { ds: [...dsSet.rdatas], signer };
  }
  const problem = checkNoDs(apex, denialOf(ds.authority), signer, dnskeys.rdatas, now);
  if (problem !== undefined) throw new SignerError('DNSSEC', `no DS served, and the denial does not validate: ${problem}`);
  return { ds: [], signer };
}

/** The RRset of `owner`/`type` in the records, with the RRSIGs over it. */
export function rrsetOf(records: readonly Rec[], owner: Name, type: number): AnswerRRset {
  const at = records.filter((r) => r.owner.equals(owner));
  return {
    owner,
    type,
    rdatas: at.filter((r) => r.type === type).map((r) => r.rdata),
    rrsigs: at.filter((r) => r.type === RRType.RRSIG && ((r.rdata[0]! << 8) | r.rdata[1]!) === type).map((r) => r.rdata),
  };
}

/** The NSEC and NSEC3 RRsets of an authority section, one per owner and type. */
export function denialOf(authority: readonly Rec[]): AnswerRRset[] {
  const owners = [...new Map(authority.filter((r) => r.type === RRType.NSEC || r.type === RRType.NSEC3).map((r) => [`${r.owner.key}/${r.type}`, r])).values()];
  return owners.map((r) => rrsetOf(authority, r.owner, r.type));
}

function signerOf(rrsig: Uint8Array): Name {
  return Name.decode(rrsig, 18, false).name;
}

/** A DS record is the key's: the key's digest of the DS's own digest type. */
export function isDsOf(apex: Name, dnskey: Uint8Array, ds: Uint8Array): boolean {
  return ds[3]! in DIGEST_HASH && sameRdatas([makeDs(apex, dnskey, ds[3]! as DigestTypeNumber)], [ds]);
}

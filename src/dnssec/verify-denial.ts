import type { UnixSeconds } from '../common/clock.js';
import { Name } from '../dns/name.js';
import { RRType, typeToString } from '../dns/types.js';
import { bitmapTypes, cmp, covers, nsec3Fields, verifyRRset, type AnswerRRset } from './verify-answer.js';

/**
 * Negative answers checked as a validator checks them (RFC 4035 section 5.4, RFC 5155 section
 * 8): the NSEC or NSEC3 RRsets of the answer's authority section, each verified against the
 * zone's DNSKEYs, must prove the name absent (NXDOMAIN) or the type absent at the name
 * (NODATA). Each function returns nothing when the proof holds, else what is missing or wrong.
 */

/** The NSEC/NSEC3 RRsets that verify; the problems of those that do not go to `problems`. */
function verified(denial: readonly AnswerRRset[], signer: Name, dnskeys: readonly Uint8Array[], now: UnixSeconds, problems: string[]): AnswerRRset[] {
  const good: AnswerRRset[] = [];
  for (const set of denial) {
    if (set.type !== RRType.NSEC && set.type !== RRType.NSEC3) continue;
    const v = verifyRRset(set, signer, dnskeys, now);
    if ('problem' in v) problems.push(v.problem);
    else good.push(set);
  }
  return good;
}

interface Nsec3View {
  readonly own: string;
  readonly fields: ReturnType<typeof nsec3Fields>;
}

function nsec3Views(sets: readonly AnswerRRset[]): Nsec3View[] {
  return sets
    .filter((s) => s.type === RRType.NSEC3)
    .flatMap((s) => s.rdatas.map((rdata) => ({ own: (s.owner.labels()[0] ?? '').toLowerCase(), fields: nsec3Fields(rdata) })));
}

const nsec3Covering = (views: readonly Nsec3View[], name: Name): boolean =>
  views.some((v) => {
    const hash = v.fields.hashOf(name);
    return covers(cmp(v.own, hash), cmp(hash, v.fields.nextText), cmp(v.fields.nextText, v.own));
  });

const nsec3Matching = (views: readonly Nsec3View[], name: Name): Nsec3View | undefined => views.find((v) => v.own === v.fields.hashOf(name));

/** The NSEC records of the sets: owner, next name and the types at the owner. */
function nsecViews(sets: readonly AnswerRRset[]): { owner: Name; next: Name; types: Set<number> }[] {
  return sets
    .filter((s) => s.type === RRType.NSEC)
    .flatMap((s) =>
      s.rdatas.map((rdata) => {
        const { name: next, end } = Name.decode(rdata, 0, false);
        return { owner: s.owner, next, types: bitmapTypes(rdata.subarray(end)) };
      }),
    );
}

const nsecCovering = (views: ReturnType<typeof nsecViews>, name: Name): boolean =>
  views.some((v) => !v.owner.equals(name) && covers(v.owner.compare(name), name.compare(v.next), v.next.compare(v.owner)));

/** The longest name that ends both names. */
function commonAncestor(a: Name, b: Name): Name {
  const la = a.labels().reverse();
  const lb = b.labels().reverse();
  let n = 0;
  while (n < la.length && n < lb.length && la[n]!.toLowerCase() === lb[n]!.toLowerCase()) n++;
  return Name.fromLabels(la.slice(0, n).reverse());
}

/**
 * NXDOMAIN for `qname` in the zone `apex`: with NSEC3 the closest encloser proof (an NSEC3
 * matching the closest encloser, one covering the next closer name) and one covering the
 * wildcard at the closest encloser (RFC 5155 section 8.4); with NSEC one covering the name and
 * one covering the wildcard at its closest encloser (RFC 4035 section 5.4).
 */
export function checkNxdomain(qname: Name, apex: Name, denial: readonly AnswerRRset[], dnskeys: readonly Uint8Array[], now: UnixSeconds): string | undefined {
  const problems: string[] = [];
  const good = verified(denial, apex, dnskeys, now, problems);
  const v3 = nsec3Views(good);
  if (v3.length > 0) {
    let encloser: Name | null = qname.parent();
    let nextCloser = qname;
    while (encloser !== null && encloser.isSubdomainOf(apex) && nsec3Matching(v3, encloser) === undefined) {
      nextCloser = encloser;
      encloser = encloser.parent();
    }
    if (encloser === null || !encloser.isSubdomainOf(apex)) return [...problems, `no NSEC3 matches a closest encloser of ${qname.toString()}`].join('; ');
    if (!nsec3Covering(v3, nextCloser)) problems.push(`no NSEC3 covers the next closer name ${nextCloser.toString()}`);
    else if (!nsec3Covering(v3, encloser.child('*'))) problems.push(`no NSEC3 covers the wildcard *.${encloser.toString()}`);
    else return undefined;
    return problems.join('; ');
  }
  const v1 = nsecViews(good);
  if (v1.length === 0) return [...problems, `no NSEC or NSEC3 proves that ${qname.toString()} does not exist`].join('; ');
  const covering = v1.find((v) => !v.owner.equals(qname) && covers(v.owner.compare(qname), qname.compare(v.next), v.next.compare(v.owner)));
  if (covering === undefined) return [...problems, `no NSEC covers ${qname.toString()}`].join('; ');
  const a = commonAncestor(qname, covering.owner);
  const b = commonAncestor(qname, covering.next);
  const encloser = a.labelCount >= b.labelCount ? a : b;
  const wildcard = encloser.child('*');
  if (!nsecCovering(v1, wildcard)) return [...problems, `no NSEC covers the wildcard ${wildcard.toString()}`].join('; ');
  return undefined;
}

/**
 * NODATA for `qtype` at `qname`: an NSEC3 matching the name's hash (RFC 5155 section 8.5), or
 * an NSEC at the name (RFC 4035 section 5.4), whose type bitmap lists neither the type nor CNAME.
 */
export function checkNodata(
  qname: Name,
  qtype: number,
  apex: Name,
  denial: readonly AnswerRRset[],
  dnskeys: readonly Uint8Array[],
  now: UnixSeconds,
): string | undefined {
  const problems: string[] = [];
  const good = verified(denial, apex, dnskeys, now, problems);
  const absent = (types: Set<number>): boolean => !types.has(qtype) && !types.has(RRType.CNAME);
  const where = `${qname.toString()}/${typeToString(qtype)}`;
  const match = nsec3Matching(nsec3Views(good), qname);
  if (match !== undefined) {
    if (absent(bitmapTypes(match.fields.bitmap))) return undefined;
    return [...problems, `the NSEC3 matching ${qname.toString()} lists ${typeToString(qtype)} or CNAME`].join('; ');
  }
  const nsec = nsecViews(good).find((v) => v.owner.equals(qname));
  if (nsec !== undefined) {
    if (absent(nsec.types)) return undefined;
    return [...problems, `the NSEC at ${qname.toString()} lists ${typeToString(qtype)} or CNAME`].join('; ');
  }
  return [...problems, `no NSEC or NSEC3 proves that ${where} does not exist`].join('; ');
}

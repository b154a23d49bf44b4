/**
 * The key tag of a DNSKEY RDATA (RFC 4034 appendix B): the ones'-complement-style sum of the
 * RDATA as 16-bit words. Algorithm 1 (RSAMD5) uses its own rule (B.1); hms never signs with
 * it but can still name such a key.
 */
export function keyTag(dnskeyRdata: Uint8Array): number {
  if (dnskeyRdata[3] === 1) {
    const n = dnskeyRdata.length;
    return n < 3 ? 0 : (dnskeyRdata[n - 3]! << 8) | dnskeyRdata[n - 2]!;
  }
  let acc = 0;
  for (let i = 0; i < dnskeyRdata.length; i++) acc += i & 1 ? dnskeyRdata[i]! : dnskeyRdata[i]! << 8;
  acc += (acc >>> 16) & 0xffff;
  return acc & 0xffff;
}

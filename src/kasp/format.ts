import { algorithmName } from '../dnssec/algorithms.js';
import type { Policy } from './policy.js';
import { quote } from '../common/errors.js';

const UNITS: readonly [string, number][] = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/** A duration as policy files write it: `32d`, `30d22h`, `1h30m`, `0`. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0';
  let rest = Math.abs(seconds);
  let text = seconds < 0 ? '-' : '';
  for (const [unit, size] of UNITS) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}

const DIGEST_NAMES: Readonly<Record<number, string>> = { 1: 'SHA-1', 2: 'SHA-256', 4: 'SHA-384' };

function orKept(seconds: number | null): string {
  return seconds === null ? 'kept from the zone' : formatDuration(seconds);
}

/** The resolved policy, a line a field, in the file's own field names (`hms policy check`). */
export function formatPolicy(p: Policy): string[] {
  const lines = [`policy ${quote(p.name)} (profile ${p.profile})${p.description === '' ? '' : `: ${p.description}`}`];
  for (const k of p.keys) {
    const lifetime = k.lifetime === null ? 'manual' : formatDuration(k.lifetime);
    lines.push(`  keys.${k.role}: ${algorithmName(k.algorithm)} (${k.algorithm}) ${k.bits} bits, lifetime ${lifetime}`);
  }
  const s = p.signatures;
  const d = p.denial;
  lines.push(
    `  rollover: zsk ${p.rollover.zsk}, ksk ${p.rollover.ksk}`,
    `  signatures: validity ${formatDuration(s.validity)}, resign-interval ${formatDuration(s.resignInterval)}, ` +
      `refresh ${s.refresh === 'always' ? 'always' : formatDuration(s.refresh)}, inception-offset ${formatDuration(s.inceptionOffset)}, jitter ${formatDuration(s.jitter)}`,
    d.type === 'nsec'
      ? '  denial: nsec'
      : `  denial: nsec3, iterations ${d.iterations}, salt-length ${d.saltLength}, resalt ${d.resalt === null ? 'never' : formatDuration(d.resalt)}, opt-out ${String(d.optOut)}`,
    `  ttl: dnskey ${formatDuration(p.ttl.dnskey)}, nsec3param ${formatDuration(p.ttl.nsec3param)}`,
    `  soa: expire ${formatDuration(p.soa.expire)}, minimum ${formatDuration(p.soa.minimum)}, ttl ${orKept(p.soa.ttl)}, ` +
      `refresh ${orKept(p.soa.refresh)}, retry ${orKept(p.soa.retry)}, serial ${p.soa.serial}`,
    `  zone: propagation-delay ${formatDuration(p.zone.propagationDelay)}, publish-safety ${formatDuration(p.zone.publishSafety)}, ` +
      `retire-safety ${formatDuration(p.zone.retireSafety)}`,
    `  parent: propagation-delay ${formatDuration(p.parent.propagationDelay)}, ds-ttl ${formatDuration(p.parent.dsTtl)}, ` +
      `publish-safety ${formatDuration(p.parent.publishSafety)}, retire-safety ${formatDuration(p.parent.retireSafety)}, ` +
      `cds ${String(p.parent.cds)}, cdnskey ${String(p.parent.cdnskey)}, ds-digests ${p.parent.dsDigests.map((t) => DIGEST_NAMES[t] ?? String(t)).join(', ')}`,
  );
  return lines;
}

/**
 * The requirements `hms report dps` answers for (OPS-8, DP-5.1): every DP item of the Kalmar
 * county DNSSEC Policy and every DK item of the Danish minimum requirements that concerns DNS,
 * each with its ID and a short title. This is the one table of them in the code; the IDs are
 * those of the project's requirements list, and docs/compliance.md lists the same IDs (a unit
 * test holds the two to each other).
 */
export interface Requirement {
  readonly id: string;
  readonly title: string;
}

export const REQUIREMENTS: readonly Requirement[] = [
  { id: 'DP-1.2a', title: 'A register of current and historical registrars per zone' },
  { id: 'DP-2.2', title: 'Only authorised personnel have access; an administrator role is responsible' },
  { id: 'DP-2.4a', title: 'A log of incidents: what, who, when' },
  { id: 'DP-2.4b', title: 'A log of every change of configuration or zone data: what, who, when' },
  { id: 'DP-2.4c', title: 'A log of every login and use of the system: who, when' },
  { id: 'DP-2.4d', title: 'Logs protected against tampering' },
  { id: 'DP-2.4e', title: 'Log retention set (12 months) and logs written to a separate log system' },
  { id: 'DP-2.4f', title: 'Every change can carry a comment or a ticket number' },
  { id: 'DP-2.5a', title: 'A routine for compromised key material (emergency rollover)' },
  { id: 'DP-2.5b', title: 'A routine to restart a chain of trust' },
  { id: 'DP-2.5c', title: 'Switching to a new chain of trust (KSK rollover)' },
  { id: 'DP-2.5d', title: 'Disaster recovery from backups at another site, and a way to test it' },
  { id: 'DP-2.6a', title: 'Zone data kept under revision control' },
  { id: 'DP-2.6b', title: 'The difference between two revisions can be shown' },
  { id: 'DP-2.6c', title: 'Data from an earlier revision can be restored' },
  { id: 'DP-2.7a', title: 'Every user authenticated with a personal identity' },
  { id: 'DP-2.7b', title: 'Accounts and authentication from external systems (PAM/SSSD)' },
  { id: 'DP-2.8a', title: 'Checks so that malformed data cannot be published' },
  { id: 'DP-2.8b', title: 'Per-user permissions: who may change which zone, who may approve' },
  { id: 'DP-2.9a', title: 'Monitoring that signatures are refreshed as configured' },
  { id: 'DP-2.9b', title: 'Monitoring of authenticated positive answers (SOA, NS, DNSKEY) on every name server' },
  { id: 'DP-2.9c', title: 'Monitoring of authenticated negative answers on every name server' },
  { id: 'DP-2.9d', title: 'Monitoring that every name server serves the current serial' },
  { id: 'DP-2.9e', title: 'Monitoring that every secondary has the correct time' },
  { id: 'DP-3.1a', title: 'Key backups at a separate, access-controlled site' },
  { id: 'DP-3.1b', title: 'Activation data (HSM PIN) never logged, never in a world-readable file' },
  { id: 'DP-3.1c', title: 'Activation data changed when an administrator leaves' },
  { id: 'DP-3.1d', title: 'Keys generated randomly inside the HSM' },
  { id: 'DP-3.1e', title: 'DNSSEC keys used for nothing else' },
  { id: 'DP-3.1f', title: 'Private keys never on persistent storage unencrypted' },
  { id: 'DP-3.1g', title: 'Keys in a separate security module through PKCS#11' },
  { id: 'DP-3.2a', title: 'The signer is a hidden master on the internal network' },
  { id: 'DP-3.2b', title: 'Only the secondaries can reach it; everybody else is refused' },
  { id: 'DP-3.2c', title: 'Only necessary traffic to and from the signer' },
  { id: 'DP-3.3a', title: 'At least two public name servers on at least two networks (AS)' },
  { id: 'DP-3.3b', title: 'At least two name servers reachable over IPv6' },
  { id: 'DP-3.4', title: 'All clocks synchronised to trusted time sources' },
  { id: 'DP-3.5a', title: 'Every zone transfer protected by TSIG' },
  { id: 'DP-3.5b', title: 'TSIG with an HMAC-SHA algorithm' },
  { id: 'DP-3.5c', title: 'Never HMAC-MD5' },
  { id: 'DP-4.1a', title: 'IETF-standardised, widely available algorithms (RSA/SHA-256)' },
  { id: 'DP-4.1b', title: 'KSK RSA/SHA-256 of at least 2048 bits' },
  { id: 'DP-4.1c', title: 'ZSK RSA/SHA-256 of at least 1024 bits' },
  { id: 'DP-4.2a', title: 'Authenticated denial by NSEC or NSEC3 (NSEC3 recommended)' },
  { id: 'DP-4.2b', title: 'Nothing that uses MD5' },
  { id: 'DP-4.2c', title: 'NSEC3 iterations at most 10' },
  { id: 'DP-4.2d', title: 'The NSEC3 salt changed at least once a year when a salt is used' },
  { id: 'DP-4.3a', title: 'Key lifetimes and rollover intervals tracked and visible' },
  { id: 'DP-4.3b', title: 'KSK rolled when needed (operator-triggered or emergency)' },
  { id: 'DP-4.3c', title: 'ZSK rolled every three months, automatically' },
  { id: 'DP-4.4a', title: 'Signature validity 32 days' },
  { id: 'DP-4.4b', title: 'Re-signing daily' },
  { id: 'DP-4.5a', title: 'SOA EXPIRE below the shortest signature validity' },
  { id: 'DP-4.5b', title: 'DNSKEY TTL at most 1 hour' },
  { id: 'DP-4.5c', title: 'SOA EXPIRE 30 days' },
  { id: 'DP-4.5d', title: 'NSEC3 TTL = SOA MINIMUM, at most 1 hour' },
  { id: 'DP-4.6a', title: "A routine to publish signed child zones' DS" },
  { id: 'DP-4.6b', title: "A routine to withdraw a child's DS" },
  { id: 'DP-4.6c', title: 'A child DS change comes from a person authorised for the child zone' },
  { id: 'DP-4.7a', title: 'A routine to publish the DS at the parent' },
  { id: 'DP-4.7b', title: 'A routine to withdraw the DS at the parent' },
  { id: 'DP-4.7c', title: 'A decision procedure before withdrawing the DS' },
  { id: 'DP-4.7d', title: 'Two trusted persons approve every DS change at the parent' },
  { id: 'DP-5.1', title: 'A technical check that the DPS matches the running configuration' },
  { id: 'DK-16', title: 'Logs with one time source and one time zone, kept at least 12 months' },
  { id: 'DK-17', title: 'Internet-facing services registered under .dk' },
  { id: 'DK-18', title: 'DNSSEC on every domain, delegated subdomains included' },
  { id: 'DK-19', title: 'Inbound mail gateways (MX targets) in DNSSEC-signed domains' },
  { id: 'DK-20', title: 'DANE (TLSA) for every inbound mail gateway' },
  { id: 'DK-23', title: 'DMARC reject and SPF on every domain; DKIM where mail is sent' },
];

/** A requirement's title by its ID. */
export function requirementTitle(id: string): string {
  const r = REQUIREMENTS.find((x) => x.id === id);
  if (r === undefined) throw new RangeError(`no requirement ${id}`);
  return r.title;
}

/**
 * The catalogue of error and finding codes. This file is the only place codes are defined;
 * docs/errors.md documents each one, and error-codes.test.ts holds the two to each other.
 * A retired code is never reused.
 */
export const ERROR_CODES = {
  // Text input (zone files, directives)
  ZONE_SYNTAX: 'a zone file could not be read: bad token, bad record data or bad directive',
  ZONE_INCLUDE: 'an $INCLUDE could not be followed: missing file or an include loop',
  INPUT_REFUSED:
    'an input file was refused before it was read whole: not a regular file (a FIFO, a device, a directory, a socket), or over a limit (size, line length, $INCLUDE depth)',
  // Wire format
  WIRE_FORMAT: 'DNS wire-format data is malformed',
  // Names
  NAME_SYNTAX: 'a domain name is malformed (empty label, bad escape, label over 63 or name over 255 octets)',
  // Zone checks (the findings a check may report)
  ZONE_CHECK: 'a zone failed its checks; the details list every finding',
  // Key and signing policies (KASP files)
  POLICY: 'a key and signing policy file could not be read, or a policy breaks its compliance profile; the details list every problem',
  // The service configuration and who may do what
  CONFIG: 'the hms configuration file could not be read or holds a wrong value; the details list every problem',
  PERMISSION: 'the operator has no role that allows this action on this zone (DP-2.8b)',
  // Usage and the CLI
  USAGE: 'a command was called with wrong or missing arguments',
  IO: 'a file could not be read or written',
  // DNSSEC
  DNSSEC: 'a DNSSEC operation was refused or failed: a banned algorithm, a bad key, a bad digest type',
  // HSM
  HSM: 'the PKCS#11 module or token reported an error',
  // State and audit
  STATE: 'the state database refused an operation: no such file, zone, key or request, or one that exists already',
  STATE_SCHEMA: 'the state database has a schema version this hms does not know (newer), or one it may not migrate (read-only)',
  APPROVAL: 'an approval was refused: the requester approving their own request (DP-4.7d), or a request no longer pending',
  AUDIT_TAMPERED:
    'the audit chain is broken, or differs from its copies outside the state: a record was edited, removed, reordered, rewritten or cut off (DP-2.4d)',
  // Backups
  BACKUP:
    'a backup was refused: a file missing, changed or not in its manifest, a state copy that fails its integrity check or has a newer schema, a token copy lacking a recorded key, a backup of another configuration, or a restore onto an existing state or token (DP-2.5d)',
  // Zone transfer and TSIG
  TSIG: 'a TSIG key was refused: an MD5 or unknown algorithm (DP-3.5c, DP-4.2b), a secret that is not base64 or is empty',
  TRANSFER:
    'the transfer server could not listen on an address, a configured ACL entry is not a single IP address, or a zone could not be brought in from its primary',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes of zone-check findings (Knot's semantic-check style: one per problem). */
export const FINDING_CODES = {
  SOA_MISSING: 'the apex has no SOA record',
  SOA_MULTIPLE: 'the apex has more than one SOA record',
  SOA_NOT_AT_APEX: 'an SOA record stands below the apex',
  NS_APEX_MISSING: 'the apex has no NS records',
  CNAME_AND_OTHER: 'a CNAME stands beside other data at the same name',
  CNAME_MULTIPLE: 'a name has more than one CNAME record',
  DNAME_WITH_CHILDREN: 'a DNAME has names below it',
  OUT_OF_ZONE: 'a record owner is outside the zone',
  BELOW_CUT: 'data below a delegation point that is not glue',
  GLUE_MISSING: 'an in-bailiwick name server has no address records',
  NS_TARGET_MISSING: 'a name server inside the zone has no address records',
  DS_NOT_AT_CUT: 'a DS record stands where there is no delegation',
  DNSSEC_IN_INPUT: 'DNSSEC records (made by the signer) in unsigned input',
  TTL_MISMATCH: 'the records of one RRset have different TTLs',
  DUPLICATE_RECORD: 'a record appears more than once',
  TTL_RANGE: 'a TTL is outside the configured range',
  SOA_TIMERS: 'SOA timers contradict each other',
  WILDCARD_NS: 'a wildcard owns NS records',
  TARGET_IS_ALIAS: 'an NS, MX or SRV target is an alias (CNAME)',
} as const;

export type FindingCode = keyof typeof FINDING_CODES;

/** Process exit codes of the CLI (STYLE.md). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  INVALID_INPUT: 3,
  POLICY: 4,
  HSM: 5,
  NETWORK: 6,
} as const;

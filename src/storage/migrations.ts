/**
 * The schema of the state file, as an ordered list of steps: step N takes the file from
 * version N-1 to N and runs in its own transaction with the version bump, so a crash leaves
 * the file at one version or the next. Steps are only ever appended; a released step is
 * never edited.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'zones, keys, requests awaiting approval, the audit chain',
    sql: `
      CREATE TABLE zones (
        name         TEXT PRIMARY KEY,
        policy       TEXT NOT NULL,
        input        TEXT NOT NULL,
        added        INTEGER NOT NULL,
        salt_hex     TEXT,
        salt_created INTEGER,
        last_serial  INTEGER,
        last_signed  INTEGER
      ) STRICT;

      -- a key belongs to one zone; a zone with keys cannot be removed (RESTRICT)
      CREATE TABLE keys (
        id           TEXT PRIMARY KEY,
        zone         TEXT NOT NULL REFERENCES zones(name) ON DELETE RESTRICT,
        role         TEXT NOT NULL CHECK (role IN ('ksk', 'zsk', 'csk')),
        algorithm    INTEGER NOT NULL,
        bits         INTEGER NOT NULL,
        key_tag      INTEGER NOT NULL,
        dnskey       BLOB NOT NULL,
        created      INTEGER NOT NULL,
        publish      INTEGER NOT NULL,
        active       INTEGER,
        retire       INTEGER,
        remove       INTEGER,
        ds_seen      INTEGER,
        ds_withdrawn INTEGER,
        successor_of TEXT,
        compromised  INTEGER NOT NULL CHECK (compromised IN (0, 1))
      ) STRICT;
      CREATE INDEX keys_by_zone ON keys (zone);

      -- history: a request outlives its zone, so no foreign key
      CREATE TABLE requests (
        seq          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE,
        zone         TEXT NOT NULL,
        kind         TEXT NOT NULL,
        key_tag      INTEGER,
        payload      TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        ticket       TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        decided_by   TEXT,
        decided_at   INTEGER,
        reason       TEXT
      ) STRICT;
      CREATE INDEX requests_by_zone ON requests (zone, status);

      CREATE TABLE audit (
        seq          INTEGER PRIMARY KEY,
        at           INTEGER NOT NULL,
        actor        TEXT NOT NULL,
        action       TEXT NOT NULL,
        zone         TEXT,
        ticket       TEXT,
        comment      TEXT,
        before_json  TEXT NOT NULL,
        after_json   TEXT NOT NULL,
        prev_hash    TEXT NOT NULL,
        hash         TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_by_zone ON audit (zone, seq);
      CREATE INDEX audit_by_time ON audit (at);

      -- append-only against mistakes; against an attacker who can write the file it is the
      -- hash chain (and the copy in the external log) that tells
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
    `,
  },
  {
    version: 2,
    description: "going insecure (DP-4.7b), the parent's name servers for the DS check, a key not yet published (double-DS)",
    sql: `
      -- when the approved decision to go insecure took effect (CDS/CDNSKEY DELETE from then)
      ALTER TABLE zones ADD COLUMN insecure_since INTEGER;
      -- the parent's name servers the automatic DS check asks, as JSON ["addr", "addr:port"]
      ALTER TABLE zones ADD COLUMN parent_servers TEXT NOT NULL DEFAULT '[]';

      -- keys.publish may now be NULL (a double-DS successor, published once its DS is seen):
      -- SQLite cannot drop a NOT NULL, so the table is made anew and the rows copied
      CREATE TABLE keys_v2 (
        id           TEXT PRIMARY KEY,
        zone         TEXT NOT NULL REFERENCES zones(name) ON DELETE RESTRICT,
        role         TEXT NOT NULL CHECK (role IN ('ksk', 'zsk', 'csk')),
        algorithm    INTEGER NOT NULL,
        bits         INTEGER NOT NULL,
        key_tag      INTEGER NOT NULL,
        dnskey       BLOB NOT NULL,
        created      INTEGER NOT NULL,
        publish      INTEGER,
        active       INTEGER,
        retire       INTEGER,
        remove       INTEGER,
        ds_seen      INTEGER,
        ds_withdrawn INTEGER,
        successor_of TEXT,
        compromised  INTEGER NOT NULL CHECK (compromised IN (0, 1))
      ) STRICT;
      INSERT INTO keys_v2 SELECT id, zone, role, algorithm, bits, key_tag, dnskey, created, publish, active, retire, remove, ds_seen, ds_withdrawn, successor_of, compromised FROM keys;
      DROP TABLE keys;
      ALTER TABLE keys_v2 RENAME TO keys;
      CREATE INDEX keys_by_zone ON keys (zone);
    `,
  },
  {
    version: 3,
    description: "revisions of each zone's input (DP-2.6)",
    sql: `
      -- every accepted input, kept whole (gzip) so that any two can be compared and any one
      -- restored; a revision is never changed, and stays when the zone is no longer managed
      CREATE TABLE revisions (
        zone         TEXT NOT NULL,
        rev          INTEGER NOT NULL,
        at           INTEGER NOT NULL,
        actor        TEXT NOT NULL,
        source       TEXT NOT NULL,
        serial       INTEGER NOT NULL,
        records      INTEGER NOT NULL,
        sha256       TEXT NOT NULL,
        text_gz      BLOB NOT NULL,
        PRIMARY KEY (zone, rev)
      ) STRICT;
      CREATE TRIGGER revisions_no_update BEFORE UPDATE ON revisions
        BEGIN SELECT RAISE(ABORT, 'revisions are never changed'); END;
    `,
  },
  {
    version: 4,
    description: 'keys recorded as intended before they are made in the HSM',
    sql: `
      -- a key about to be made: its CKA_ID and label are chosen and stored here, and committed,
      -- before C_GenerateKeyPair; the key record replaces the row once the pair is made, in one
      -- transaction. A row left by a stop in between is settled at start against the token
      -- (completed from the token's pair with this id, or dropped when the token has none).
      -- No reader of keys sees these rows: they never sign.
      CREATE TABLE pending_keys (
        id           TEXT PRIMARY KEY,
        zone         TEXT NOT NULL REFERENCES zones(name) ON DELETE RESTRICT,
        label        TEXT NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('ksk', 'zsk', 'csk')),
        algorithm    INTEGER NOT NULL,
        bits         INTEGER NOT NULL,
        created      INTEGER NOT NULL,
        publish      INTEGER,
        active       INTEGER,
        successor_of TEXT,
        reason       TEXT
      ) STRICT;
    `,
  },
  {
    version: 5,
    description: 'a pending key carries what its record needs when start completes it: the DS seen, the labels of a pair taken over',
    sql: `
      -- hms key import of a KSK/CSK whose DS the parent serves: the time recorded as the DS
      -- seen, so that a key completed by start's settlement keeps it (issue 18)
      ALTER TABLE pending_keys ADD COLUMN ds_seen INTEGER;
      -- hms key import --label/--id: the pair's labels before hms relabels it, as JSON
      -- ["<private label, hex>", "<public label, hex>"]; a stop before both are relabelled
      -- puts them back (the pair is the operator's, never destroyed). NULL for a key hms makes
      -- or copies into the token.
      ALTER TABLE pending_keys ADD COLUMN former_labels TEXT;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

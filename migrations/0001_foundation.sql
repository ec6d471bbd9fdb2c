-- holdspace foundation: settings and the check of the encryption key(s).
-- schema_migrations is created by the migration runner.

-- Small key/value settings (e.g. the hash of the synced slash-command set).
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per key that fields in this database may be encrypted under: (key id, HKDF-derived check
-- value), never the key itself. Outside a key rotation there is exactly one row, the current key.
-- While a rotation is pending or running there are several; when it completes only the new key's
-- row is left. The bot refuses to start unless HOLDSPACE_KEY holds every key listed here.
CREATE TABLE key_check (
    kid TEXT PRIMARY KEY CHECK (length(kid) = 8),
    check_value BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- The key rotation in progress (at most one row): re-encryption towards target_kid.
CREATE TABLE key_rotation (
    target_kid TEXT PRIMARY KEY REFERENCES key_check (kid),
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    fields_reencrypted INTEGER NOT NULL DEFAULT 0,
    indexes_updated INTEGER NOT NULL DEFAULT 0
);

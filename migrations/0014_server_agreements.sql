-- A server's default agreement: the text its new groups start from (`/setup agreement`), versioned
-- like a group's agreement. The text is stored encrypted (row key: the row id) with its SHA-256 in
-- clear; a version without a body is holdspace's own default again (a reset).
CREATE TABLE server_agreements (
    id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT,
    body BLOB,
    created_ms INTEGER NOT NULL,
    UNIQUE (guild_id, version)
);

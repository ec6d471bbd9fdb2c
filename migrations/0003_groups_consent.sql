-- holdspace groups and the consent gate.
-- Member ids are only stored encrypted (member_id) and as a keyed blind index (member_index,
-- purpose "member"). Consent events (agree, decline, withdraw, ...) are entirely inside the
-- encrypted `data` blob: the file never shows who agreed to what.

-- One row per server holdspace has been set up in (role, channel and guild ids are not personal).
CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    facilitator_role_id INTEGER,
    moderator_role_id INTEGER,
    log_channel_id INTEGER,
    lobby_channel_id INTEGER,
    lobby_message_id INTEGER,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    updated_ms INTEGER NOT NULL
);

-- A group: its rooms and its settings (defaults come from [defaults] in the config file).
CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    text_channel_id INTEGER NOT NULL UNIQUE,
    voice_channel_id INTEGER NOT NULL UNIQUE,
    category_id INTEGER,
    created_channels INTEGER NOT NULL DEFAULT 0,
    role_id INTEGER,
    enrolment TEXT NOT NULL DEFAULT 'invite' CHECK (enrolment IN ('invite', 'open')),
    access_mode TEXT NOT NULL DEFAULT 'member' CHECK (access_mode IN ('member', 'role')),
    reconsent_after_days INTEGER NOT NULL,
    facilitators_consent INTEGER NOT NULL,
    lock_between_sessions INTEGER NOT NULL,
    ttl_seconds INTEGER,
    expire_at_session_end INTEGER NOT NULL,
    keep_pinned INTEGER NOT NULL,
    auto_reminder_gap_seconds INTEGER NOT NULL,
    max_hold_days INTEGER NOT NULL,
    agreement_version INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    UNIQUE (guild_id, name_key)
);
CREATE INDEX groups_guild ON groups (guild_id);

-- Every version of every group's agreement; the text is encrypted, its SHA-256 is not (it is what a
-- consent refers to and what the Agree button carries).
CREATE TABLE agreements (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (group_id, version)
);

-- Who is enrolled in which group (invited by a facilitator, or joined an open group by consenting).
CREATE TABLE enrolments (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_index BLOB NOT NULL,
    member_id BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (group_id, member_index)
);

-- Consent events, append-only: data = encrypted JSON {answer, version, sha256, method, at, reason}.
-- The latest event of a (group, member) says whether they currently consent.
CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_index BLOB NOT NULL,
    member_id BLOB NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX consents_member ON consents (group_id, member_index, seq);

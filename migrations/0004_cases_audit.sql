-- Moderation: the case queue, its history, held messages and the hash-chained audit log.
-- Personal values (member ids, free text, details) are encrypted (bot.crypto) and bound to their
-- table, column and row id; look-ups by member go through *_index columns (keyed blind indexes).

-- The last case number handed out per guild, so numbers are never reused (not even after retention).
CREATE TABLE case_counters (
    guild_id INTEGER PRIMARY KEY,
    last_number INTEGER NOT NULL
);

-- One row per flagged event. group_id names a group from 0003 but deliberately carries no foreign
-- key: a case outlives the group it was about (the group's name is then simply unknown).
CREATE TABLE cases (
    id TEXT PRIMARY KEY,                         -- random uuid (hex), the row key of encrypted fields
    guild_id INTEGER NOT NULL,
    number INTEGER NOT NULL,                     -- per guild: 1, 2, 3, ...
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'investigating', 'actioned', 'dismissed')),
    group_id TEXT,
    subject BLOB,                                -- encrypted member/bot id the case is about
    subject_index BLOB,                          -- blind index (purpose "member") of subject
    reporter BLOB,                               -- encrypted id of the member who reported
    reporter_index BLOB,                         -- blind index (purpose "member") of reporter
    assignee BLOB,                               -- encrypted id of the moderator who claimed it
    assignee_index BLOB,                         -- blind index (purpose "member") of assignee
    details BLOB,                                -- encrypted JSON
    dedupe_key BLOB,                             -- encrypted text
    dedupe_index BLOB,                           -- blind index (purpose "case-dedupe") of dedupe_key
    notice_channel_id INTEGER,                   -- the notice in the moderators' log channel
    notice_message_id INTEGER,
    opened_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    closed_ms INTEGER,
    UNIQUE (guild_id, number)
);
CREATE INDEX cases_guild_status ON cases (guild_id, status, number);
CREATE INDEX cases_reporter ON cases (guild_id, reporter_index) WHERE reporter_index IS NOT NULL;
CREATE INDEX cases_dedupe ON cases (guild_id, kind, dedupe_index) WHERE dedupe_index IS NOT NULL;
CREATE INDEX cases_closed ON cases (closed_ms) WHERE closed_ms IS NOT NULL;

-- Every change of a case: opened, claimed, note, resolved. Times of every change live here.
CREATE TABLE case_events (
    id TEXT PRIMARY KEY,                         -- random uuid (hex)
    case_id TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    at_ms INTEGER NOT NULL,
    action TEXT NOT NULL,                        -- opened | claimed | note | resolved
    status TEXT,                                 -- the status after this change
    actor BLOB,                                  -- encrypted id of who did it (NULL: holdspace)
    note BLOB                                    -- encrypted text
);
CREATE INDEX case_events_case ON case_events (case_id, at_ms);

-- Messages kept from expiring while a case about them is open (at most until until_ms).
-- The expiry feature asks bot.storage.holds.held_message_ids before deleting.
CREATE TABLE message_holds (
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    until_ms INTEGER NOT NULL,
    PRIMARY KEY (channel_id, message_id, case_id)
);
CREATE INDEX message_holds_case ON message_holds (case_id);
CREATE INDEX message_holds_until ON message_holds (until_ms);

-- The audit trail: one global chain. hash = SHA-256(label | prev_hash | canonical plaintext entry),
-- see bot/core/audit_chain.py. Actor, subject, group and details live in the encrypted payload
-- together with a random salt.
-- (seq is deliberately not an INTEGER PRIMARY KEY: key rotation walks tables by their own rowid.)
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,                         -- random uuid (hex), the row key of payload
    seq INTEGER NOT NULL UNIQUE,                 -- 1, 2, 3, ... without gaps
    at_ms INTEGER NOT NULL,
    guild_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    payload BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX audit_log_guild ON audit_log (guild_id, seq);

-- Where verification starts once retention has removed the oldest entries: the seq and hash of the
-- last removed entry (at most one row; absent: start from seq 0 and the all-zero hash).
CREATE TABLE audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    pruned_before_ms INTEGER NOT NULL
);

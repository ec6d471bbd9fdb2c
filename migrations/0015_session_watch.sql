-- What a running session's integrity report is gathered from, kept as it happens so a restart loses
-- nothing (bot/storage/session_watch.py). Both are removed in the transaction that stores the report.
-- One row per person seen in the session's voice room: a keyed blind index of (session, person), so
-- the rows link to no other table and no other session, and their status only.
CREATE TABLE session_presence (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    person BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('removed', 'consented', 'exempt')),
    PRIMARY KEY (session_id, person)
);
-- Interventions (with their case numbers), reminders posted, holdspace coming back during the
-- session, and what the end did to the session's messages: numbers and statuses only.
CREATE TABLE session_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    case_number INTEGER,
    at_ms INTEGER NOT NULL,
    data TEXT
);
CREATE INDEX session_events_session ON session_events (session_id);

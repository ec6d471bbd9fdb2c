-- holdspace sessions: weekly schedules, the sessions that ran or run, and when the ground rules were
-- last posted automatically. Nothing here names a person: who started or ended a session is in the
-- audit log only.

-- A weekly schedule: weekday (0 = Monday) and local wall-clock time in an IANA time zone.
CREATE TABLE session_schedules (
    id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    local_time TEXT NOT NULL CHECK (length(local_time) = 5),
    timezone TEXT NOT NULL,
    duration_s INTEGER NOT NULL CHECK (duration_s > 0),
    remind_every_s INTEGER CHECK (remind_every_s IS NULL OR remind_every_s > 0),
    dm_before_s INTEGER CHECK (dm_before_s IS NULL OR dm_before_s > 0),
    created_ms INTEGER NOT NULL
);
CREATE INDEX session_schedules_group ON session_schedules (group_id);

-- Sessions: running while ended_ms is NULL; at most one running session per group.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    schedule_id TEXT,
    started_ms INTEGER NOT NULL,
    planned_end_ms INTEGER,
    ended_ms INTEGER,
    late_s INTEGER NOT NULL DEFAULT 0,
    remind_every_s INTEGER,
    started_by TEXT NOT NULL CHECK (started_by IN ('facilitator', 'schedule')),
    end_reason TEXT,
    reminder_messages TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX sessions_one_running ON sessions (group_id) WHERE ended_ms IS NULL;
CREATE INDEX sessions_group ON sessions (group_id, started_ms);

-- When the ground rules were last posted automatically in a group (first person joining the voice
-- room while no session runs), so the gap holds across restarts.
CREATE TABLE session_auto_reminders (
    group_id TEXT PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
    last_posted_ms INTEGER NOT NULL
);

-- Erasure: links to a member who asked to be forgotten that must stay while a case is open are
-- marked, and cut when the case closes. The marks say which link goes, never whose it is.
ALTER TABLE cases ADD COLUMN unlink_reporter_at_close INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN unlink_assignee_at_close INTEGER NOT NULL DEFAULT 0;
ALTER TABLE case_events ADD COLUMN unlink_actor_at_close INTEGER NOT NULL DEFAULT 0;

-- Erasure requests written down by `holdspace forget` (an admin acting on a request made by email),
-- carried out by the running bot and removed once done.
CREATE TABLE erasure_requests (
    id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    member_id BLOB NOT NULL,                     -- encrypted
    requested_ms INTEGER NOT NULL
);

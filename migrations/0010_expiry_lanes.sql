-- Expiry and timers that nothing can stall (issue 12).
--
-- Claims: a process writes its id (claimed_by) and a lease end (claim_until_ms) on the rows it is
-- about to act on, in the same statement that picks them, and acts only on rows it holds. Another
-- process skips rows under a live claim, so no deletion and no timer is ever done twice; a claim
-- left by a process that died runs out at its lease end and the work is picked up again.
ALTER TABLE expiry_messages ADD COLUMN claimed_by TEXT;
ALTER TABLE expiry_messages ADD COLUMN claim_until_ms INTEGER;
CREATE INDEX expiry_messages_free_due ON expiry_messages (due_ms) WHERE claimed_by IS NULL;
CREATE INDEX expiry_messages_claims ON expiry_messages (claim_until_ms) WHERE claimed_by IS NOT NULL;
CREATE INDEX expiry_messages_channel_due ON expiry_messages (channel_id, due_ms);

ALTER TABLE timers ADD COLUMN claimed_by TEXT;
ALTER TABLE timers ADD COLUMN claim_until_ms INTEGER;

-- End-of-session promises: every message of the group with from_id <= message_id < to_id goes at
-- due_ms at the latest, also one that a catch-up records only later (a room that could not be read
-- at the end of the session). open_rooms counts the rooms still to be read through to_id; the promise
-- is kept until each of them was read.
CREATE TABLE expiry_promises (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    from_id INTEGER NOT NULL,
    to_id INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX expiry_promises_group ON expiry_promises (group_id);
-- The rooms a promise still waits to read (channel ids of the group's rooms and threads).
CREATE TABLE expiry_promise_rooms (
    promise_id TEXT NOT NULL REFERENCES expiry_promises (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL,
    PRIMARY KEY (promise_id, channel_id)
);

-- From which message id a room is the group's (its first cursor): a thread found later in that room
-- is read from its own beginning, but never from before its room became a group room.
ALTER TABLE expiry_rooms ADD COLUMN watch_from_id INTEGER NOT NULL DEFAULT 0;

-- /session start and /session end record their steps, so a crash between two of them is finished at
-- the next start. start_id / end_id: the session's first message id and the first id after it, on
-- Discord's clock (message ids carry Discord's time, not the host's).
--   start_step: recorded -> rooms_open -> posting -> done
--   end_step:   NULL -> ending -> locked -> expired -> done (ended_ms is set at done)
ALTER TABLE sessions ADD COLUMN start_id INTEGER;
ALTER TABLE sessions ADD COLUMN end_id INTEGER;
ALTER TABLE sessions ADD COLUMN start_step TEXT NOT NULL DEFAULT 'done';
ALTER TABLE sessions ADD COLUMN end_step TEXT;
ALTER TABLE sessions ADD COLUMN end_actor TEXT;

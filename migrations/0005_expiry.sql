-- Expiring messages (issue 6). Only ids and due times are stored: never content, never authors.
-- The settings (ttl, expire_at_session_end, keep_pinned) are columns of groups (0003).

-- One row per message that holdspace will delete when due. A message's age comes from its id (a
-- snowflake), so the time it was posted needs no column of its own.
--   due_ms     when to delete (ms since the Unix epoch); NULL: not due by age (the group has no
--              ttl, or the message is pinned and the group keeps pinned messages)
--   pinned     1 while the message is pinned (tracked from MESSAGE_UPDATE, reconciled from the
--              channel's pins on every connect and resume)
--   attempts   failed delete attempts so far; last_error says why (blocked, retry, held, ...)
CREATE TABLE expiry_messages (
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    due_ms INTEGER,
    pinned INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (channel_id, message_id)
) WITHOUT ROWID;
CREATE INDEX expiry_messages_due ON expiry_messages (due_ms);
CREATE INDEX expiry_messages_group ON expiry_messages (group_id, message_id);

-- The rooms whose messages expire: a group's text room, its voice room (text chat) and threads in
-- them (parent_id). cursor_id is the newest message id seen there: catch-up reads the history after
-- it. It starts at the room's last message when the room is first seen, so messages from before a
-- room became a group room are left alone (unless a facilitator runs /expiry purge-now).
CREATE TABLE expiry_rooms (
    channel_id INTEGER PRIMARY KEY,
    group_id TEXT NOT NULL,
    parent_id INTEGER,
    cursor_id INTEGER NOT NULL
);
CREATE INDEX expiry_rooms_group ON expiry_rooms (group_id);

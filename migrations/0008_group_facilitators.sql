-- The facilitators of one group. A group without rows here is facilitated by everyone holding the
-- server's facilitator role; a group with rows only by those members (and server managers).
CREATE TABLE group_facilitators (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_index BLOB NOT NULL,
    member_id BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (group_id, member_index)
);
CREATE INDEX group_facilitators_group ON group_facilitators (group_id);

-- holdspace guard: per server, what happens to a bot that is not allowed, and the allowed bots.
-- Bot ids are not personal, but like every account id they are stored encrypted (bot_id) with a
-- keyed blind index (bot_index, purpose "bot") for look-ups. No names are stored.

-- The server's guard action; a server without a row uses [guard] action from the config file.
CREATE TABLE guard_settings (
    guild_id INTEGER PRIMARY KEY,
    bot_action TEXT NOT NULL CHECK (bot_action IN ('disconnect', 'kick', 'ban')),
    updated_ms INTEGER NOT NULL
);

-- Bots allowed into the server's group rooms (holdspace itself always is and has no row).
CREATE TABLE guard_allowed_bots (
    id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    bot_id BLOB NOT NULL,
    bot_index BLOB NOT NULL,
    added_ms INTEGER NOT NULL
);
CREATE INDEX guard_allowed_bots_lookup ON guard_allowed_bots (guild_id, bot_index);

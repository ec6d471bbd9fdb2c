-- Records bound to their group and server, group names encrypted, rosters sealed.
-- Consents, enrolments and named facilitators carry their server so their encrypted fields can be
-- bound to (row, group, server): a row moved to another group or server no longer decrypts. The
-- start-up step (bot.storage.rebind) re-encrypts the rows of older databases under that binding.
ALTER TABLE consents ADD COLUMN guild_id INTEGER;
UPDATE consents SET guild_id = (SELECT g.guild_id FROM groups g WHERE g.id = consents.group_id);
ALTER TABLE enrolments ADD COLUMN guild_id INTEGER;
UPDATE enrolments SET guild_id = (SELECT g.guild_id FROM groups g WHERE g.id = enrolments.group_id);
ALTER TABLE group_facilitators ADD COLUMN guild_id INTEGER;
UPDATE group_facilitators SET guild_id = (SELECT g.guild_id FROM groups g WHERE g.id = group_facilitators.group_id);

-- A group's name is encrypted in `name` (bound to the group and its server) and looked up through
-- `name_index` (a blind index of the folded name). `name_key` keeps the group id from then on: the
-- column stays only because its UNIQUE constraint cannot be dropped without rebuilding the table.
ALTER TABLE groups ADD COLUMN name_index BLOB;
CREATE UNIQUE INDEX groups_name_index ON groups (guild_id, name_index);

-- The seal of a group's roster (its enrolments and named facilitators): an encrypted count of
-- changes and digest of the rows, bound to the group and its server (bot.core.roster_seal).
ALTER TABLE groups ADD COLUMN roster BLOB;

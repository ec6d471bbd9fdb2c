-- The language of each server's texts (English unless set) and of each group's (NULL: the server's).
ALTER TABLE guild_settings ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE groups ADD COLUMN language TEXT;

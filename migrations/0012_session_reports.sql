-- A session's integrity report (bot.core.session_report), encrypted and bound to its session row.
-- Its SHA-256 is in the audit trail ("session.report"), so `holdspace audit-verify` sees an edit.
ALTER TABLE sessions ADD COLUMN report BLOB;

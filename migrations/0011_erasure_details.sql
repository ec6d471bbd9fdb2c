-- Erasure in an open case whose details name the member (who removed someone, who added a bot): the
-- details without the member, encrypted, waiting to replace the details when the case closes.
ALTER TABLE cases ADD COLUMN details_when_closed BLOB;

-- authcore schema, version 3 (PostgreSQL): out-of-band challenges and send logs get an
-- `expires_at` column, so that `prune_expired` deletes them with one guarded statement, like
-- tickets and setup tokens; and every kind is indexed by expiry for that delete.
--
-- The expiry of a row written before this version is set conservatively from the migration
-- time, to the latest it can be (a challenge lives at most 600 seconds, a send log matters for
-- an hour after its last send). Such a row is pruned at most that long after it stopped
-- mattering, never before.

ALTER TABLE oob_challenges ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE oob_challenges SET expires_at = extract(epoch FROM now())::bigint + 600;
ALTER TABLE oob_challenges ALTER COLUMN expires_at DROP DEFAULT;

ALTER TABLE oob_send_log ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE oob_send_log SET expires_at = extract(epoch FROM now())::bigint + 3600;
ALTER TABLE oob_send_log ALTER COLUMN expires_at DROP DEFAULT;

CREATE INDEX tickets_expires_at ON tickets (expires_at);
CREATE INDEX setup_tokens_expires_at ON setup_tokens (expires_at);
CREATE INDEX oob_challenges_expires_at ON oob_challenges (expires_at);
CREATE INDEX oob_send_log_expires_at ON oob_send_log (expires_at);

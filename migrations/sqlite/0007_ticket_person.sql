-- authcore schema, version 7 (SQLite): a pending-login ticket keeps its person and the key of its
-- person's login-name throttle counter, so that a login step reads the ticket, the person, their
-- organisation, MFA state, recovery set, counters and challenge in one joined statement.
--
-- Both columns are filled by the store for every ticket it writes; for the tickets pending at the
-- upgrade it fills them in the migration's own transaction, right after this script. Neither is
-- authenticated by the ticket's tag: the person is checked against the tagged progress when it
-- is read, and the counter key only names a throttle counter (which an attacker who can write the
-- database can reset anyway).

ALTER TABLE tickets ADD COLUMN person BLOB;
ALTER TABLE tickets ADD COLUMN login_key TEXT;

-- authcore schema, version 7 (SQLite): server-side sessions, remembered devices and each
-- person's security epoch. Tokens are stored only as their SHA-256 digest. The columns that
-- decide a request (who, where, which factors, which epoch, until when) are bound by `tag`, as
-- in version 6; `last_seen` and `idle_expires_at` are not (a touch rewrites them), so someone who
-- can write the database can keep a session from idling out, but cannot make or change one.

ALTER TABLE people ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sessions (
    digest BLOB PRIMARY KEY NOT NULL,
    id BLOB NOT NULL UNIQUE,
    person BLOB NOT NULL,
    org BLOB NOT NULL,
    aal INTEGER NOT NULL,
    factors INTEGER NOT NULL,
    authenticated_at INTEGER NOT NULL,
    verified_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    user_agent TEXT,
    ip TEXT,
    tag BLOB NOT NULL
);
CREATE INDEX sessions_person ON sessions (person);

CREATE TABLE device_tokens (
    digest BLOB PRIMARY KEY NOT NULL,
    person BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    tag BLOB NOT NULL
);
CREATE INDEX device_tokens_person ON device_tokens (person, created_at);

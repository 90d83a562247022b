-- authcore schema, version 7 (PostgreSQL): server-side sessions, remembered devices and each
-- person's security epoch. Tokens are stored only as their SHA-256 digest. The columns that
-- decide a request (who, where, which factors, which epoch, until when) are bound by `tag`, as
-- in version 6; `last_seen` and `idle_expires_at` are not (a touch rewrites them), so someone who
-- can write the database can keep a session from idling out, but cannot make or change one.

ALTER TABLE people ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;

CREATE TABLE sessions (
    digest BYTEA PRIMARY KEY NOT NULL,
    id BYTEA NOT NULL UNIQUE,
    person BYTEA NOT NULL,
    org BYTEA NOT NULL,
    aal BIGINT NOT NULL,
    factors BIGINT NOT NULL,
    authenticated_at BIGINT NOT NULL,
    verified_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    user_agent TEXT,
    ip TEXT,
    tag BYTEA NOT NULL
);
CREATE INDEX sessions_person ON sessions (person);

CREATE TABLE device_tokens (
    digest BYTEA PRIMARY KEY NOT NULL,
    person BYTEA NOT NULL,
    epoch BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    tag BYTEA NOT NULL
);
CREATE INDEX device_tokens_person ON device_tokens (person, created_at);

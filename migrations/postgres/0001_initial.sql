-- authcore schema, version 1 (PostgreSQL).
-- Ids are 16-byte big-endian blobs; times are unix seconds.

CREATE TABLE people (
    id BYTEA PRIMARY KEY NOT NULL,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    password_state TEXT NOT NULL,
    password_expires_at BIGINT,
    deactivated BOOLEAN NOT NULL,
    phone TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE throttles (
    person BYTEA NOT NULL,
    factor TEXT NOT NULL,
    failures BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    locked BOOLEAN NOT NULL,
    PRIMARY KEY (person, factor)
);

CREATE TABLE organisations (
    id BYTEA PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE memberships (
    person BYTEA NOT NULL,
    org BYTEA NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    PRIMARY KEY (person, org)
);
CREATE INDEX memberships_org ON memberships (org);

-- The MFA state holds authenticator secrets: `state` is sealed under `state_key`, a data key that
-- is itself sealed under the host's keyring and bound to the person.
CREATE TABLE mfa (
    person BYTEA PRIMARY KEY NOT NULL,
    state_key BYTEA NOT NULL,
    state BYTEA NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE authenticator_watermarks (
    person BYTEA NOT NULL,
    authenticator BIGINT NOT NULL,
    last_step BIGINT NOT NULL,
    PRIMARY KEY (person, authenticator)
);

CREATE TABLE recovery_sets (
    person BYTEA NOT NULL,
    slot TEXT NOT NULL CHECK (slot IN ('active', 'pending')),
    set_id BYTEA NOT NULL,
    codes BIGINT NOT NULL,
    spent BIGINT NOT NULL,
    stored BYTEA NOT NULL,
    PRIMARY KEY (person, slot)
);

CREATE TABLE oob_challenges (
    person BYTEA PRIMARY KEY NOT NULL,
    challenge BYTEA NOT NULL
);

-- The recent send times to one destination (E.164), oldest first, as big-endian 64-bit
-- integers: replaced by compare-and-swap on the whole value.
CREATE TABLE oob_send_log (
    destination TEXT PRIMARY KEY NOT NULL,
    sends BYTEA NOT NULL
);

CREATE TABLE setup_tokens (
    digest BYTEA PRIMARY KEY NOT NULL,
    person BYTEA NOT NULL,
    org BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE tickets (
    digest BYTEA PRIMARY KEY NOT NULL,
    step TEXT NOT NULL,
    progress TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

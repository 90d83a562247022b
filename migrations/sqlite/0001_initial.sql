-- authcore schema, version 1 (SQLite).
-- Ids are 16-byte big-endian blobs; times are unix seconds.

CREATE TABLE people (
    id BLOB PRIMARY KEY NOT NULL,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    password_state TEXT NOT NULL,
    password_expires_at INTEGER,
    deactivated INTEGER NOT NULL,
    phone TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE throttles (
    person BLOB NOT NULL,
    factor TEXT NOT NULL,
    failures INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    locked INTEGER NOT NULL,
    PRIMARY KEY (person, factor)
);

CREATE TABLE organisations (
    id BLOB PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL
);

CREATE TABLE memberships (
    person BLOB NOT NULL,
    org BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    PRIMARY KEY (person, org)
);
CREATE INDEX memberships_org ON memberships (org);

-- The MFA state holds authenticator secrets: `state` is sealed under `state_key`, a data key that
-- is itself sealed under the host's keyring and bound to the person.
CREATE TABLE mfa (
    person BLOB PRIMARY KEY NOT NULL,
    state_key BLOB NOT NULL,
    state BLOB NOT NULL,
    version INTEGER NOT NULL
);

CREATE TABLE authenticator_watermarks (
    person BLOB NOT NULL,
    authenticator INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    PRIMARY KEY (person, authenticator)
);

CREATE TABLE recovery_sets (
    person BLOB NOT NULL,
    slot TEXT NOT NULL CHECK (slot IN ('active', 'pending')),
    set_id BLOB NOT NULL,
    codes INTEGER NOT NULL,
    spent INTEGER NOT NULL,
    stored BLOB NOT NULL,
    PRIMARY KEY (person, slot)
);

CREATE TABLE oob_challenges (
    person BLOB PRIMARY KEY NOT NULL,
    challenge BLOB NOT NULL
);

-- The recent send times to one destination (E.164), oldest first, as big-endian 64-bit
-- integers: replaced by compare-and-swap on the whole value.
CREATE TABLE oob_send_log (
    destination TEXT PRIMARY KEY NOT NULL,
    sends BLOB NOT NULL
);

CREATE TABLE setup_tokens (
    digest BLOB PRIMARY KEY NOT NULL,
    person BLOB NOT NULL,
    org BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE tickets (
    digest BLOB PRIMARY KEY NOT NULL,
    step TEXT NOT NULL,
    progress TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

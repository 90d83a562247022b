-- authcore schema, version 11 (PostgreSQL): passkeys and security keys (WebAuthn). Each person's
-- random user handle, their registered credentials (a credential id belongs to one person), and
-- the ceremony states kept server-side between a ceremony's start and its finish (one per person,
-- purpose and login ticket, empty for a registration; spent by a DELETE … RETURNING). Every
-- row is bound by `tag`, as in version 6: someone who can write the database cannot add a
-- credential to a person, swap a public key, wind a counter back, or plant a ceremony state.

CREATE TABLE passkey_users (
    person BYTEA PRIMARY KEY NOT NULL,
    handle BYTEA NOT NULL UNIQUE,
    tag BYTEA NOT NULL
);

CREATE TABLE passkeys (
    credential_id BYTEA PRIMARY KEY NOT NULL,
    person BYTEA NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    counter BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    tag BYTEA NOT NULL
);
CREATE INDEX passkeys_person ON passkeys (person, created_at);

CREATE TABLE passkey_challenges (
    person BYTEA NOT NULL,
    purpose TEXT NOT NULL,
    name TEXT NOT NULL,
    ticket BYTEA NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    tag BYTEA NOT NULL,
    PRIMARY KEY (person, purpose, ticket)
);

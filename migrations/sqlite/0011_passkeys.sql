-- authcore schema, version 11 (SQLite): passkeys and security keys (WebAuthn). Each person's
-- random user handle, their registered credentials (a credential id belongs to one person), and
-- the ceremony states kept server-side between a ceremony's start and its finish (one per person,
-- purpose and login ticket, empty for a registration; spent by a DELETE … RETURNING). Every
-- row is bound by `tag`, as in version 6: someone who can write the database cannot add a
-- credential to a person, swap a public key, wind a counter back, or plant a ceremony state.

CREATE TABLE passkey_users (
    person BLOB PRIMARY KEY NOT NULL,
    handle BLOB NOT NULL UNIQUE,
    tag BLOB NOT NULL
);

CREATE TABLE passkeys (
    credential_id BLOB PRIMARY KEY NOT NULL,
    person BLOB NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    counter INTEGER NOT NULL,
    backup_eligible INTEGER NOT NULL,
    backup_state INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    tag BLOB NOT NULL
);
CREATE INDEX passkeys_person ON passkeys (person, created_at);

CREATE TABLE passkey_challenges (
    person BLOB NOT NULL,
    purpose TEXT NOT NULL,
    name TEXT NOT NULL,
    ticket BLOB NOT NULL,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    tag BLOB NOT NULL,
    PRIMARY KEY (person, purpose, ticket)
);

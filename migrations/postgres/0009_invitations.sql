-- authcore schema, version 9 (postgres): invitations to join an organisation, behind a hashed,
-- single-use, expiring token. The row is authenticated by its tag (digest, person, org, the
-- invitation and its expiry): a row edited in the database is an error, never a membership.

CREATE TABLE invitations (
    digest BYTEA PRIMARY KEY NOT NULL,
    person BYTEA NOT NULL,
    org BYTEA NOT NULL,
    invitation TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    tag BYTEA NOT NULL
);

CREATE INDEX invitations_expiry ON invitations (expires_at);

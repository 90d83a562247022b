-- authcore schema, version 10 (PostgreSQL): e-mail verification and account tokens.
--
-- `people.address_verified_at` is when the login, an e-mail address, was last proven to reach
-- the person (NULL: unverified; people present at the upgrade start unverified). A password reset
-- goes only to a verified address.
--
-- `account_tokens` holds forgotten-password and address-verification tokens, only as their
-- SHA-256 digest. `tag` binds every column the stores decide on (digest, person, purpose, the
-- login at issue, the address it was sent to, the epoch at issue, the expiry), as in version 6:
-- a row written without the keys does not open, and is spent.

ALTER TABLE people ADD COLUMN address_verified_at BIGINT;

CREATE TABLE account_tokens (
    digest BYTEA PRIMARY KEY NOT NULL,
    person BYTEA NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('password_reset', 'verify_address', 'change_address')),
    login TEXT NOT NULL,
    address TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    tag BYTEA NOT NULL
);
CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at);

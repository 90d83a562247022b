-- authcore schema, version 6 (SQLite): row integrity. The rows that decide a login get a `tag`
-- column: a value sealed under the host's keyring whose associated data is the row's table,
-- identity and decisive columns, so that a row forged, altered or copied from another row by
-- someone without the sealing keys is refused when it is read.
--
-- SQL cannot make a tag (it has no key): the store fills the tags of the rows present at the
-- upgrade in the same transaction, right after this script, and seals every MFA state again,
-- bound to its person and version. A row left with the empty default tag never opens. It also
-- keys the login-name throttle counters carried over by version 4 by a keyed digest of the name,
-- so that no login name (a password typed into the login field among them) stays in clear.

ALTER TABLE tickets ADD COLUMN tag BLOB NOT NULL DEFAULT x'';
ALTER TABLE setup_tokens ADD COLUMN tag BLOB NOT NULL DEFAULT x'';
ALTER TABLE recovery_sets ADD COLUMN tag BLOB NOT NULL DEFAULT x'';
ALTER TABLE authenticator_watermarks ADD COLUMN tag BLOB NOT NULL DEFAULT x'';
ALTER TABLE oob_challenges ADD COLUMN tag BLOB NOT NULL DEFAULT x'';
ALTER TABLE organisations ADD COLUMN tag BLOB NOT NULL DEFAULT x'';
-- A person's phone number is an out-of-band second factor: its tag has a column of its own.
ALTER TABLE people ADD COLUMN phone_tag BLOB NOT NULL DEFAULT x'';

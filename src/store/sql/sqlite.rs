//! [`SqliteStore`]: the storage traits over one SQLite file.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::credential::sealing::Keyring;
use crate::store::sql::SqlStore;
use crate::store::sql::dialect::sealed::Sealed;
use crate::store::sql::dialect::{Dialect, RowsAffected};
use crate::store::sql::error::SqlStoreError;

/// The embedded migrations, in order: `(version, script)`.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_oob_purpose.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_expiry_columns.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_throttle_keys.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_send_budgets.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_row_integrity.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/sqlite/0007_ticket_person.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/sqlite/0008_sessions.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/sqlite/0009_invitations.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/sqlite/0010_account_tokens.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/sqlite/0011_passkeys.sql"),
    ),
];

/// [`UserStore`](crate::store::UserStore) and [`SecretStore`](crate::store::SecretStore) over SQLite: the
/// embedded default, one process and one database file.
///
/// Every atomic verb is one guarded statement whose affected-row count is the answer (see the
/// table in [`crate::store::UserStore`]'s module docs); writes of several rows run in one transaction.
/// The MFA state (which holds the authenticator secrets) is sealed under the [`Keyring`] before
/// it is written, bound to the person; the watermarks live in their own table so that accepting a
/// TOTP code is one guarded `UPDATE`. Passwords, codes, tokens and tickets arrive hashed.
///
/// Cloning is cheap: clones share the pool and the keyring. What both SQL stores have in common
/// ([`from_pool`](SqlStore::from_pool), [`migrate`](SqlStore::migrate),
/// [`pool`](SqlStore::pool), [`reseal`](SqlStore::reseal) and the storage traits) is on
/// [`SqlStore`].
///
/// # Integrity at rest
///
/// Someone who can write the database but holds no sealing key (an injection, a leaked database
/// credential, an altered backup) must not turn that into a sign-in. So besides the sealed MFA
/// state, every row that can decide a login carries a *tag*: a value sealed by the [`Keyring`]
/// (it names its key id, like every sealed value) whose associated data is the table, the row's
/// identity and the columns read back. A row that was forged, altered or copied from another row
/// is an error when it is read — [`SqlStoreError::Open`] (or [`SqlStoreError::Decode`] for a
/// missing watermark row) — never "no value", never a grant; the service answers
/// [`ServiceError::Storage`](crate::service::error::ServiceError::Storage). Same for [`PostgresStore`](crate::store::sql::postgres::PostgresStore).
///
/// | table | what is bound | a forged or copied row |
/// |---|---|---|
/// | `mfa` | the whole state is sealed, bound to the person and the row's `version` | does not open; an older state cannot be put back beside a newer version number |
/// | `authenticator_watermarks` | tag: person, authenticator, last accepted step; every authenticator of the state must have its row | lowered or copied: does not open; deleted: an error, not the older step of the state |
/// | `recovery_sets` | tag: person, set id, number of codes, stored hashes | a set copied from another person (whose codes the attacker knows) does not open |
/// | `tickets` | tag: digest, step, progress, expiry | a ticket made or rewritten in the database (say `enrol_mfa` with a claimed second factor) does not open, and is spent |
/// | `setup_tokens` | tag: digest, person, organisation, expiry | does not open, and is spent |
/// | `oob_challenges` | tag: person, purpose, destination, stored challenge | a challenge copied from another person (whose code the attacker received) does not open |
/// | `organisations` | tag: id, version, state (policy, roster, roles, delegations) | an altered roster or policy does not open |
/// | `people.phone` | `phone_tag`: the person and the number | a number the attacker holds does not open |
/// | `sessions` | tag: digest, id, person, organisation, assurance level, factors, authentication and verification times, expiry, epoch (migration 8) | a session made, raised to AAL2, extended or moved to another person in the database does not open |
/// | `device_tokens` | tag: digest, person, epoch, expiry (migration 8) | a remembered device made or extended in the database does not open |
///
/// Migration 6 adds the tags: rows present at the upgrade are tagged, and every MFA state sealed
/// again to its version, in the migration's own transaction (the rows were trusted until then).
/// [`SqliteStore::reseal`](SqlStore::reseal) re-tags rows as it re-seals states, so key rotation covers both.
///
/// The per-request session read (`authenticate`) checks each session and organisation row
/// against the key once per store: the store keeps what it checked, by the row's key, version
/// and tag. While a row carries the tag it was checked with, the checked copy is what decides:
/// a session is then read for only the two columns a touch writes (outside the tag) beside the
/// person's epoch and deactivation and the organisation's version and tag, and an
/// organisation's state is not read again. A row altered in the database under its old tag
/// changes nothing on a store that checked it (its altered columns are not read), and is an
/// error on every store that did not. Every write seals a new tag with a fresh nonce, so a write
/// from any server, or a restored backup, is read whole and checked again. Listing sessions and
/// reading one by its id read every column and compare them with the checked copy (an altered
/// row is opened again, and is an error).
///
/// What a tag cannot do, and is not claimed:
///
/// - **Freshness.** A tag proves a row was written by a holder of the key, not that it is the
///   latest. Whoever kept an earlier copy of a row can put the whole row back: an older
///   organisation state (before a demotion, before MFA was enforced), an older recovery set, an
///   older MFA state. The MFA state alone cannot lower a replay watermark: the effective watermark
///   is the higher of the state's and its authenticated row's, and the row must exist. Restoring
///   *several* rows of a person together (the MFA state and its watermark rows from the same
///   moment) does roll the watermark back, and can bring back a removed authenticator: telling
///   that apart needs a counter the database cannot rewind, which only the host can keep.
/// - **Deletion.** Deleting rows is not detected: a person's MFA state, recovery sets, phone
///   number or membership rows can be removed, which leaves the person with fewer factors, as
///   after an administrator's reset (and so open to enrollment at the next sign-in by whoever holds
///   the password).
/// - **Columns left unauthenticated**, each because a guarded single-statement update writes it
///   and because changing it is a rollback or a deletion in kind: the spent mask and slot of a
///   recovery set (clearing the mask re-enables only codes the attacker already saw used; moving a
///   pending set to active activates the person's own codes), the `memberships` index (every
///   decision reads the tagged organisation state; a deleted row hides the organisation, as a
///   deletion), throttle counters and send logs (rate limits, which an attacker can reset).
/// - **The password hash**, state and expiry in `people`: replacing the hash passes the password
///   step and nothing more — the second factor is sealed or tagged. A deactivation flag cleared in
///   the database is not detected either, nor is a security epoch (`people.epoch`) wound back,
///   which revives the sessions and remembered devices of that person still stored at the older
///   epoch (those a bump deleted stay deleted).
/// - **A session's `last_seen` and idle expiry**, which every touch rewrites: moving them keeps a
///   session from idling out, and nothing more.
///
/// ```no_run
/// # async fn run() -> Result<(), authcore::SqlStoreError> {
/// use authcore::SqliteStore;
/// use authcore::credential::{KeyId, Keyring, SealingKey};
/// # let key_bytes = [7u8; 32];
/// let keyring = Keyring::new(KeyId::new(1), SealingKey::from_bytes(&key_bytes).map_err(|e| authcore::SqlStoreError::Seal(e.into()))?);
/// let store = SqliteStore::open("authcore.db", keyring).await?; // creates and migrates
/// # Ok(()) }
/// ```
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

impl Sealed for sqlx::Sqlite {}

impl Dialect for sqlx::Sqlite {
    const STORE: &'static str = "SqliteStore";
    const MIGRATIONS: &'static [(i64, &'static str)] = MIGRATIONS;
    /// A write first, so each migration holds SQLite's write lock from its start.
    const MIGRATION_LOCK: &'static str =
        "UPDATE authcore_schema SET version = version WHERE version < 0";
    /// The creation is a write, which takes SQLite's write lock.
    const SCHEMA_TABLE_LOCK: Option<&'static str> = None;
    const BEGIN_LOCKED: &'static str = "BEGIN IMMEDIATE";
    const LOCK_PERSON: &'static str = "";
    const HEX_PERSON_ID: &'static str = "lower(hex(p.id))";
    const WATERMARKS_JSON: &'static str = "(SELECT json_group_array(json_array(w.authenticator, \
        w.last_step, lower(hex(w.tag)))) FROM authenticator_watermarks w WHERE w.person = p.id)";
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` in write-ahead-log mode with
    /// foreign keys on and a 30-second busy timeout, and runs the migrations.
    pub async fn open(path: impl AsRef<Path>, keyring: Keyring) -> Result<Self, SqlStoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // No ping before each checkout (sqlx's default): a dead connection fails the query
            // that uses it, and sqlx discards it; the ping doubled the round trips of every call.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let store = Self::from_pool(pool, keyring);
        store.migrate().await?;
        Ok(store)
    }
}

//! [`PostgresStore`]: the storage traits over PostgreSQL.

use sqlx::postgres::PgPoolOptions;

use crate::credential::sealing::Keyring;
use crate::store::sql::SqlStore;
use crate::store::sql::dialect::sealed::Sealed;
use crate::store::sql::dialect::{Dialect, RowsAffected};
use crate::store::sql::error::SqlStoreError;

/// The embedded migrations, in order: `(version, script)`.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_oob_purpose.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_expiry_columns.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_throttle_keys.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/postgres/0005_send_budgets.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/0006_row_integrity.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/postgres/0007_ticket_person.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/postgres/0008_sessions.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/postgres/0009_invitations.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/postgres/0010_account_tokens.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/postgres/0011_passkeys.sql"),
    ),
];

/// [`UserStore`](crate::store::UserStore) and [`SecretStore`](crate::store::SecretStore) over PostgreSQL, for
/// many application servers sharing one database.
///
/// Every atomic verb is one guarded statement whose affected-row count is the answer (see the
/// table in [`crate::store::UserStore`]'s module docs), so two servers racing on the same TOTP step,
/// recovery slot, out-of-band code or ticket get exactly one winner; writes of several rows run
/// in one transaction. The MFA state (which holds the authenticator secrets) is sealed under the
/// [`Keyring`] before it is written, bound to the person and its version, and the other rows that
/// decide a login carry a tag made with the keyring, so that a row forged or copied in the
/// database is an error (see "Integrity at rest" on [`SqliteStore`](crate::store::sql::sqlite::SqliteStore): the two
/// stores share one implementation, and its limits). The tables live in the connection's
/// `search_path` (set it in the pool options to use a schema of your own).
///
/// Cloning is cheap: clones share the pool and the keyring. What both SQL stores have in common
/// ([`from_pool`](SqlStore::from_pool), [`migrate`](SqlStore::migrate),
/// [`pool`](SqlStore::pool), [`reseal`](SqlStore::reseal) and the storage traits) is on
/// [`SqlStore`].
pub type PostgresStore = SqlStore<sqlx::Postgres>;

impl Sealed for sqlx::Postgres {}

impl Dialect for sqlx::Postgres {
    const STORE: &'static str = "PostgresStore";
    const MIGRATIONS: &'static [(i64, &'static str)] = MIGRATIONS;
    /// An advisory lock serialises migrations run from several servers at once.
    const MIGRATION_LOCK: &'static str = "SELECT pg_advisory_xact_lock(7415626207357329)";
    /// The same advisory lock: it needs no table.
    const SCHEMA_TABLE_LOCK: Option<&'static str> = Some(Self::MIGRATION_LOCK);
    const BEGIN_LOCKED: &'static str = "BEGIN";
    const LOCK_PERSON: &'static str = " FOR UPDATE";
    const HEX_PERSON_ID: &'static str = "encode(p.id, 'hex')";
    const WATERMARKS_JSON: &'static str = "(SELECT json_agg(json_build_array(w.authenticator, \
        w.last_step, encode(w.tag, 'hex')))::text FROM authenticator_watermarks w \
        WHERE w.person = p.id)";
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/database`) with a pool of up to 16 connections
    /// and runs the migrations.
    pub async fn connect(url: &str, keyring: Keyring) -> Result<Self, SqlStoreError> {
        // No ping before each checkout (sqlx's default): a dead connection fails the query that
        // uses it, and sqlx discards it; the ping doubled the round trips of every store call.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .connect(url)
            .await?;
        let store = Self::from_pool(pool, keyring);
        store.migrate().await?;
        Ok(store)
    }
}

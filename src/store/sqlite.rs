//! [`SqliteStore`]: the storage traits over one SQLite file.

use alloc::sync::Arc;
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::Keyring;
use crate::store::sql::{SqlStoreError, run_migrations, sql_store};

/// The embedded migrations, in order: `(version, script)`.
const MIGRATIONS: [(i64, &str); 4] = [
    (1, include_str!("../../migrations/sqlite/0001_initial.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_oob_purpose.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_expiry_columns.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_row_integrity.sql"),
    ),
];

/// [`UserStore`](crate::UserStore) and [`SecretStore`](crate::SecretStore) over SQLite: the
/// embedded default, one process and one database file.
///
/// Every atomic verb is one guarded statement whose affected-row count is the answer (see the
/// table in [`crate::UserStore`]'s module docs); writes of several rows run in one transaction.
/// The MFA state (which holds the authenticator secrets) is sealed under the [`Keyring`] before
/// it is written, bound to the person; the watermarks live in their own table so that accepting a
/// TOTP code is one guarded `UPDATE`. Passwords, codes, tokens and tickets arrive hashed.
///
/// Cloning is cheap: clones share the pool and the keyring.
///
/// ```no_run
/// # async fn run() -> Result<(), authcore::SqlStoreError> {
/// use authcore::{KeyId, Keyring, SealingKey, SqliteStore};
/// # let key_bytes = [7u8; 32];
/// let keyring = Keyring::new(KeyId::new(1), SealingKey::from_bytes(&key_bytes).map_err(authcore::SqlStoreError::Seal)?);
/// let store = SqliteStore::open("authcore.db", keyring).await?; // creates and migrates
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    keyring: Arc<Keyring>,
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
            .connect_with(options)
            .await?;
        let store = Self::from_pool(pool, keyring);
        store.migrate().await?;
        Ok(store)
    }

    /// A store over a pool the host configured. Call [`SqliteStore::migrate`] before use.
    pub fn from_pool(pool: sqlx::SqlitePool, keyring: Keyring) -> Self {
        Self {
            pool,
            keyring: Arc::new(keyring),
        }
    }

    /// Creates or upgrades the tables (the embedded migrations not yet applied). Idempotent.
    pub async fn migrate(&self) -> Result<(), SqlStoreError> {
        // A write first, so each migration holds SQLite's write lock from its start.
        run_migrations!(
            self,
            MIGRATIONS,
            "UPDATE authcore_schema SET version = version WHERE version < 0"
        )
    }

    /// The connection pool (for the host's own tables, backups and diagnostics).
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }
}

sql_store!(SqliteStore, sqlx::Sqlite);
crate::store::reseal::sql_reseal!(SqliteStore);

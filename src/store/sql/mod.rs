//! The SQL stores: [`SqliteStore`](sqlite::SqliteStore) and
//! [`PostgresStore`](postgres::PostgresStore) are one generic [`SqlStore`] over a [`Dialect`]
//! (the few things the two databases do differently). The statements use `$n` parameters, which
//! both drivers accept, and only SQL that both databases run the same way.
//!
//! One file per idea:
//!
//! | file | what |
//! |---|---|
//! | `dialect.rs` | [`Dialect`], and the driver operations the store code runs through (`query`, `bind`, `execute`, `fetch_*`, `try_get`) with their driver bounds, written once |
//! | `sqlite.rs`, `postgres.rs` | the two dialects: their migrations, pools and constructors |
//! | `users.rs` | [`UserStore`](crate::store::UserStore): one method per verb, with its SQL |
//! | `people.rs` | reading and writing people, organisations and memberships |
//! | `throttle.rs` | the throttle counters' compare-and-swap |
//! | `secrets.rs` | [`SecretStore`](crate::store::SecretStore): one method per verb, with its SQL |
//! | `sessions.rs` | [`SessionStore`](crate::store::SessionStore): sessions, remembered devices and the security epoch, one method per verb |
//! | `login.rs` | [`LoginStore`](crate::store::login::LoginStore): a login step's joined read and guarded commit |
//! | `passkeys.rs` | `PasskeyStore` (feature `passkeys`): user handles, credentials and ceremony states, one method per verb |
//! | `codec.rs` | the stored forms of ids, numbers, names, keys, send logs and JSON |
//! | `legacy.rs` | reading the JSON states earlier versions wrote (ids as numbers) |
//! | `seal.rs` | sealing the MFA state |
//! | `integrity.rs` | the tags of the rows that decide a login |
//! | `migrate.rs` | the migrations, and the upgrades that need the keyring |
//! | `reseal.rs` | finishing a key rotation |
//! | `error.rs` | [`SqlStoreError`] |
//!
//! A new store verb is one method in the `impl` of its trait in `users.rs`, `secrets.rs` or `sessions.rs`,
//! written once over every [`Dialect`]: it builds its statements with `dialect::query` and needs
//! no bound beyond `D: Dialect` (a column type not bound or read yet is one more supertrait of
//! [`Dialect`]). A helper shared by several verbs goes beside the others of its table
//! (`people.rs`, `throttle.rs`).

use alloc::sync::Arc;
use core::fmt;

use crate::credential::sealing::Keyring;
use crate::policy::ids::OrgId;
use crate::policy::organisation::Organisation;
use crate::policy::session::SessionRecord;

pub(crate) mod codec;
pub(crate) mod dialect;
pub(crate) mod error;
pub(crate) mod integrity;
mod invitations;
mod legacy;
mod login;
mod migrate;
#[cfg(feature = "passkeys")]
mod passkeys;
mod people;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod reseal;
pub(crate) mod seal;
mod secrets;
mod sessions;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
mod throttle;
mod users;
mod verified_rows;

pub use dialect::Dialect;
pub use error::{DatabaseError, SqlStoreError};

/// How many times [`crate::store::UserStore::apply_throttle`] and
/// [`crate::store::SecretStore::record_oob_send`] retry their compare-and-swap. Each retry
/// means another caller's update applied, so this bounds only pathological contention.
pub(crate) const THROTTLE_ATTEMPTS: u32 = 10_000;

/// How many checked organisations a store keeps for the per-request session read.
const VERIFIED_ORGS: usize = 1024;

/// How many checked sessions a store keeps for the per-request session read (about 100 bytes
/// each). With more sessions in use at once than this, some requests read their session whole
/// again: slower, never wrong.
const VERIFIED_SESSIONS: usize = 1 << 16;

/// A transaction on the store's database.
pub(crate) type Tx<D> = sqlx::Transaction<'static, D>;

/// [`UserStore`](crate::store::UserStore) and [`SecretStore`](crate::store::SecretStore) over a SQL
/// database, written once for both: a connection pool and the [`Keyring`] that seals the secrets
/// and tags the rows. Use it by its names, [`SqliteStore`](sqlite::SqliteStore) (with "Integrity
/// at rest", which holds for both) and [`PostgresStore`](postgres::PostgresStore).
///
/// Cloning is cheap: clones share the pool and the keyring.
pub struct SqlStore<D: Dialect> {
    pool: sqlx::Pool<D>,
    keyring: Arc<Keyring>,
    /// The organisations the session reads checked, by version and tag.
    verified_orgs: Arc<verified_rows::VerifiedRows<OrgId, Arc<Organisation>>>,
    /// The sessions the per-request read checked, by digest and tag.
    verified_sessions: Arc<verified_rows::VerifiedRows<[u8; 32], SessionRecord>>,
    /// The statements and commits the login verbs ran (feature `test-util`).
    #[cfg(feature = "test-util")]
    counts: Arc<login::StatementCounter>,
}

impl<D: Dialect> SqlStore<D> {
    /// A store over a pool the host configured. Call [`SqlStore::migrate`] before use.
    pub fn from_pool(pool: sqlx::Pool<D>, keyring: Keyring) -> Self {
        Self {
            pool,
            keyring: Arc::new(keyring),
            verified_orgs: Arc::new(verified_rows::VerifiedRows::new(VERIFIED_ORGS)),
            verified_sessions: Arc::new(verified_rows::VerifiedRows::new(VERIFIED_SESSIONS)),
            #[cfg(feature = "test-util")]
            counts: Arc::default(),
        }
    }

    /// The connection pool (for the host's own tables, backups and diagnostics).
    pub fn pool(&self) -> &sqlx::Pool<D> {
        &self.pool
    }
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            keyring: Arc::clone(&self.keyring),
            verified_orgs: Arc::clone(&self.verified_orgs),
            verified_sessions: Arc::clone(&self.verified_sessions),
            #[cfg(feature = "test-util")]
            counts: Arc::clone(&self.counts),
        }
    }
}

impl<D: Dialect> fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(D::STORE)
            .field("pool", &self.pool)
            .field("keyring", &self.keyring)
            .finish()
    }
}

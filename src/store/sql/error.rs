//! [`SqlStoreError`]: the faults of the SQL stores, and the driver's error kept as their source.

use alloc::boxed::Box;
use core::fmt;

use crate::credential::sealing::OpenError;

/// A fault of [`SqliteStore`](crate::store::sql::sqlite::SqliteStore) or [`PostgresStore`](crate::store::sql::postgres::PostgresStore).
#[derive(Debug)]
#[non_exhaustive]
pub enum SqlStoreError {
    /// The database failed (connection, constraint, I/O, migration); the driver's error is the
    /// [`source`](std::error::Error::source).
    Database(DatabaseError),
    /// A stored row does not decode (a corrupt or foreign value in `table`).
    Decode {
        /// The table the row came from.
        table: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A sealed value or a row's tag does not open: wrong or missing key, or the row was forged,
    /// altered or copied from another row (see "Integrity at rest" on
    /// [`SqliteStore`](crate::store::sql::sqlite::SqliteStore)). Never treated as "no value".
    Open {
        /// The table the row came from.
        table: &'static str,
        /// Why it does not open.
        error: OpenError,
    },
    /// Sealing a value for storage failed (the operating system's random number generator).
    Seal(crate::error::Error),
    /// A number does not fit its column (the columns are signed 64-bit).
    OutOfRange(&'static str),
    /// A throttle counter or an out-of-band send log changed under every one of many
    /// compare-and-swap attempts.
    Contention,
}

/// A database driver's error, kept as the [`source`](std::error::Error::source) of
/// [`SqlStoreError::Database`].
pub struct DatabaseError(Box<sqlx::Error>);

impl fmt::Debug for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SqlStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Database(_) => f.write_str("the database failed"),
            Self::Decode { table, reason } => {
                write!(f, "a stored row of `{table}` does not decode: {reason}")
            }
            Self::Open { table, error } => {
                write!(f, "a sealed value in `{table}` does not open: {error}")
            }
            Self::Seal(error) => write!(f, "sealing a value for storage failed: {error}"),
            Self::OutOfRange(what) => write!(f, "{what} does not fit a signed 64-bit column"),
            Self::Contention => {
                f.write_str("a throttle counter or send log kept changing under concurrent updates")
            }
        }
    }
}

impl std::error::Error for SqlStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(DatabaseError(error)) => Some(&**error),
            Self::Open { error, .. } => Some(error),
            Self::Seal(error) => Some(error),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for SqlStoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(DatabaseError(Box::new(error)))
    }
}

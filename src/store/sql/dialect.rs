//! [`Dialect`]: what the SQLite and PostgreSQL stores do differently. The statements are the same
//! on both (`$n` parameters, `ON CONFLICT`, `RETURNING`, `substr`); what differs is the driver,
//! the migration scripts, how a migration serialises against a concurrent one, and the name the
//! store's `Debug` shows.

/// A database the SQL stores run on: `sqlx::Sqlite` (see
/// [`SqliteStore`](crate::store::sql::sqlite::SqliteStore)) or `sqlx::Postgres` (see
/// [`PostgresStore`](crate::store::sql::postgres::PostgresStore)).
///
/// The driver traits the generic code needs (an executor over a connection, arguments, and the
/// column types `i64`, `bool`, text and bytes) are the where-clause of [`SqlDatabase`].
pub trait Dialect: sqlx::Database<QueryResult: RowsAffected> {
    /// The store's name, as its `Debug` shows it.
    const STORE: &'static str;

    /// The embedded migrations, in order: `(version, script)`.
    const MIGRATIONS: &'static [(i64, &'static str)];

    /// A statement run first in each migration's transaction that serialises concurrent
    /// migrations.
    const MIGRATION_LOCK: &'static str;
}

/// How many rows a statement wrote: the drivers name this on their own result types.
pub trait RowsAffected {
    /// The number of rows the statement inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

/// A column type the driver binds and reads (`i64`, `bool`, `String`, `Vec<u8>`).
pub trait Column<D: sqlx::Database>:
    sqlx::Type<D> + for<'q> sqlx::Encode<'q, D> + for<'r> sqlx::Decode<'r, D>
{
}

impl<D: sqlx::Database, T> Column<D> for T where
    T: sqlx::Type<D> + for<'q> sqlx::Encode<'q, D> + for<'r> sqlx::Decode<'r, D>
{
}

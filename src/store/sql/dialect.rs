//! [`Dialect`]: what the SQLite and PostgreSQL stores do differently, and [`Driver`]: the driver
//! operations the store code, written once, runs through.
//!
//! The statements are the same on both databases (`$n` parameters, `ON CONFLICT`, `RETURNING`,
//! `substr`); what differs is the driver, the migration scripts, how a migration serialises
//! against a concurrent one, and the name the store's `Debug` shows.
//!
//! The store code is generic over `D: Dialect` and needs nothing else: it builds statements with
//! [`query`], binds values and runs them on the pool or a transaction, and reads columns with
//! [`Columns::try_get`]. The driver bounds these need (an executor over a connection, arguments,
//! column encodings) are written once, on the blanket implementations of [`Driver`], [`Bind`] and
//! [`Read`]; as supertraits of [`Dialect`] they hold wherever `D: Dialect` does (a bound in a
//! trait's where-clause would have to be repeated at every use).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};

/// A database the SQL stores run on: `sqlx::Sqlite` (see
/// [`SqliteStore`](crate::store::sql::sqlite::SqliteStore)) or `sqlx::Postgres` (see
/// [`PostgresStore`](crate::store::sql::postgres::PostgresStore)).
///
/// Sealed: the two stores are the databases the store code and its migrations are written and
/// tested for.
pub trait Dialect:
    sealed::Sealed
    + Database<QueryResult: RowsAffected>
    + Driver
    + for<'q> Bind<'q, i64>
    + for<'q> Bind<'q, bool>
    + for<'q> Bind<'q, String>
    + for<'q> Bind<'q, Vec<u8>>
    + for<'q> Bind<'q, Option<i64>>
    + for<'q> Bind<'q, &'q str>
    + for<'q> Bind<'q, &'q [u8]>
    + for<'q> Bind<'q, &'q String>
    + for<'q> Bind<'q, &'q Vec<u8>>
    + for<'q> Bind<'q, Option<&'q str>>
    + Read<i64>
    + Read<bool>
    + Read<String>
    + Read<Vec<u8>>
    + Read<Option<i64>>
    + Read<Option<String>>
    + Read<Option<Vec<u8>>>
    + Read<Option<bool>>
    + for<'q> Bind<'q, Option<Vec<u8>>>
{
    /// The store's name, as its `Debug` shows it.
    const STORE: &'static str;

    /// The embedded migrations, in order: `(version, script)`.
    const MIGRATIONS: &'static [(i64, &'static str)];

    /// A statement run first in each migration's transaction that serialises concurrent
    /// migrations.
    const MIGRATION_LOCK: &'static str;

    /// A statement run before the schema table is created, in the same transaction, that
    /// serialises its creation: PostgreSQL's `CREATE TABLE IF NOT EXISTS` fails (a unique
    /// violation in its catalogue) when another session creates the same table at the same
    /// time. `None` where the creation is serialised anyway (SQLite's write lock).
    const SCHEMA_TABLE_LOCK: Option<&'static str>;

    /// How a locked login step begins its transaction
    /// ([`LoginStore::locked_step`](crate::store::login::LoginStore::locked_step)): SQLite takes
    /// its write lock at once (`BEGIN IMMEDIATE`), so that the step's read is authoritative;
    /// PostgreSQL begins a plain transaction and locks the person's row instead.
    const BEGIN_LOCKED: &'static str;

    /// The locking clause of a locked step's read of the person: `FOR UPDATE` on PostgreSQL;
    /// empty on SQLite, whose write lock covers the database.
    const LOCK_PERSON: &'static str;

    /// The lower-case hexadecimal text of the person's id column `p.id`, as the keys of their
    /// throttle counters spell it.
    const HEX_PERSON_ID: &'static str;

    /// A scalar subquery: the watermark rows of the person `p` as the JSON text of an array of
    /// `[authenticator, last_step, tag in lower-case hexadecimal]` (empty or NULL without rows).
    const WATERMARKS_JSON: &'static str;
}

/// Keeps [`Dialect`] to the databases of this crate.
pub(in crate::store::sql) mod sealed {
    /// Implemented by `sqlx::Sqlite` and `sqlx::Postgres` only.
    pub trait Sealed {}
}

/// How many rows a statement wrote: the drivers name this on their own result types.
pub trait RowsAffected {
    /// The number of rows the statement inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

/// A driver's statement with its arguments.
type SqlxQuery<'q, D> = sqlx::query::Query<'q, D, <D as Database>::Arguments<'q>>;

/// A boxed `Send` future, as the driver's own executors return.
type BoxFuture<'e, T> = Pin<Box<dyn Future<Output = T> + Send + 'e>>;

/// Where a statement runs: on the pool (a connection checked out for it) or on a connection,
/// such as an open transaction's (`&mut *tx`).
pub enum On<'e, D: Database> {
    /// The pool.
    Pool(&'e sqlx::Pool<D>),
    /// A connection, or a transaction.
    Conn(&'e mut D::Connection),
}

/// What a statement can run on: `&pool`, or `&mut` a connection or an open transaction's
/// (`&mut *tx`). It names the database, so a statement's database is known from where it runs.
pub trait Target<'e> {
    /// The database it runs on.
    type Db: Database;

    /// Where the statement runs.
    fn on(self) -> On<'e, Self::Db>;
}

impl<'e, D: Database> Target<'e> for &'e sqlx::Pool<D> {
    type Db = D;

    fn on(self) -> On<'e, D> {
        On::Pool(self)
    }
}

impl<'e, C: sqlx::Connection> Target<'e> for &'e mut C {
    type Db = C::Database;

    fn on(self) -> On<'e, C::Database> {
        On::Conn(self)
    }
}

/// Running statements: implemented for every database whose connections are executors.
pub trait Driver: Database {
    /// Runs `query` on `on`.
    fn execute<'e, 'q: 'e>(
        query: SqlxQuery<'q, Self>,
        on: On<'e, Self>,
    ) -> BoxFuture<'e, Result<Self::QueryResult, sqlx::Error>>;

    /// Runs `query` on `on`, and returns every row.
    fn fetch_all<'e, 'q: 'e>(
        query: SqlxQuery<'q, Self>,
        on: On<'e, Self>,
    ) -> BoxFuture<'e, Result<Vec<Self::Row>, sqlx::Error>>;

    /// Runs `query` on `on`, and returns its row if there is one.
    fn fetch_optional<'e, 'q: 'e>(
        query: SqlxQuery<'q, Self>,
        on: On<'e, Self>,
    ) -> BoxFuture<'e, Result<Option<Self::Row>, sqlx::Error>>;

    /// Runs a script of statements without arguments (a migration) on `on`.
    fn execute_script<'e>(
        script: &'e str,
        on: On<'e, Self>,
    ) -> BoxFuture<'e, Result<Self::QueryResult, sqlx::Error>>;
}

impl<D> Driver for D
where
    D: Database,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
{
    fn execute<'e, 'q: 'e>(
        query: SqlxQuery<'q, D>,
        on: On<'e, D>,
    ) -> BoxFuture<'e, Result<D::QueryResult, sqlx::Error>> {
        match on {
            On::Pool(pool) => Box::pin(query.execute(pool)),
            On::Conn(conn) => Box::pin(query.execute(conn)),
        }
    }

    fn fetch_all<'e, 'q: 'e>(
        query: SqlxQuery<'q, D>,
        on: On<'e, D>,
    ) -> BoxFuture<'e, Result<Vec<D::Row>, sqlx::Error>> {
        match on {
            On::Pool(pool) => Box::pin(query.fetch_all(pool)),
            On::Conn(conn) => Box::pin(query.fetch_all(conn)),
        }
    }

    fn fetch_optional<'e, 'q: 'e>(
        query: SqlxQuery<'q, D>,
        on: On<'e, D>,
    ) -> BoxFuture<'e, Result<Option<D::Row>, sqlx::Error>> {
        match on {
            On::Pool(pool) => Box::pin(query.fetch_optional(pool)),
            On::Conn(conn) => Box::pin(query.fetch_optional(conn)),
        }
    }

    fn execute_script<'e>(
        script: &'e str,
        on: On<'e, D>,
    ) -> BoxFuture<'e, Result<D::QueryResult, sqlx::Error>> {
        match on {
            On::Pool(pool) => pool.execute(sqlx::raw_sql(script)),
            On::Conn(conn) => conn.execute(sqlx::raw_sql(script)),
        }
    }
}

/// Binding a value of type `T` to a statement that lives for `'q`: implemented for every value
/// the driver encodes.
pub trait Bind<'q, T>: Database {
    /// `query` with `value` bound to its next parameter.
    fn bind(query: SqlxQuery<'q, Self>, value: T) -> SqlxQuery<'q, Self>;
}

impl<'q, D, T> Bind<'q, T> for D
where
    D: Database,
    T: 'q + Encode<'q, D> + Type<D>,
{
    fn bind(query: SqlxQuery<'q, D>, value: T) -> SqlxQuery<'q, D> {
        query.bind(value)
    }
}

/// Reading a column of type `T` by its index: implemented for every type the driver decodes.
pub trait Read<T>: Database {
    /// The column at `index` of `row`.
    fn read(row: &Self::Row, index: usize) -> Result<T, sqlx::Error>;
}

impl<D, T> Read<T> for D
where
    D: Database,
    T: for<'r> Decode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
{
    fn read(row: &D::Row, index: usize) -> Result<T, sqlx::Error> {
        sqlx::Row::try_get(row, index)
    }
}

/// A statement being built: [`query`], then [`Statement::bind`] for each `$n` in order, then one
/// of the runs.
#[must_use]
pub struct Statement<'q, D: Dialect>(SqlxQuery<'q, D>);

/// The statement `sql`, with no values bound yet.
pub fn query<D: Dialect>(sql: &str) -> Statement<'_, D> {
    Statement(sqlx::query(sql))
}

impl<'q, D: Dialect> Statement<'q, D> {
    /// Binds `value` to the next parameter.
    pub fn bind<T>(self, value: T) -> Self
    where
        D: Bind<'q, T>,
    {
        Self(<D as Bind<'q, T>>::bind(self.0, value))
    }

    /// Runs the statement on `on`.
    pub async fn execute<'e>(
        self,
        on: impl Target<'e, Db = D>,
    ) -> Result<D::QueryResult, sqlx::Error>
    where
        'q: 'e,
    {
        D::execute(self.0, on.on()).await
    }

    /// Runs the statement on `on`, and returns every row.
    pub async fn fetch_all<'e>(
        self,
        on: impl Target<'e, Db = D>,
    ) -> Result<Vec<D::Row>, sqlx::Error>
    where
        'q: 'e,
    {
        D::fetch_all(self.0, on.on()).await
    }

    /// Runs the statement on `on`, and returns its row if there is one.
    pub async fn fetch_optional<'e>(
        self,
        on: impl Target<'e, Db = D>,
    ) -> Result<Option<D::Row>, sqlx::Error>
    where
        'q: 'e,
    {
        D::fetch_optional(self.0, on.on()).await
    }

    /// Runs the statement on `on`, and returns its one row (an error if there is none).
    pub async fn fetch_one<'e>(self, on: impl Target<'e, Db = D>) -> Result<D::Row, sqlx::Error>
    where
        'q: 'e,
    {
        D::fetch_optional(self.0, on.on())
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}

/// Reading the columns of a row by index, as the store's column types.
pub trait Columns: sqlx::Row {
    /// The column at `index`, decoded as `T`.
    fn try_get<T>(&self, index: usize) -> Result<T, sqlx::Error>
    where
        Self::Database: Read<T>,
    {
        <Self::Database as Read<T>>::read(self, index)
    }
}

impl<R: sqlx::Row> Columns for R {}

//! A fresh, empty store of each kind for every scenario of a test that runs on all of them,
//! under one test keyring.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use authcore::SqliteStore;
use authcore::credential::{KeyId, Keyring, SealingKey};

pub fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[5; 32]).unwrap())
}

/// Makes a fresh, empty store for each scenario.
pub type NewStore<S> = dyn Fn() -> Pin<Box<dyn Future<Output = S>>>;

/// Fresh SQLite stores, each in a file of its own in one temporary directory.
pub fn sqlite_stores() -> impl Fn() -> Pin<Box<dyn Future<Output = SqliteStore>>> {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    move || {
        let dir = Arc::clone(&dir);
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move {
            SqliteStore::open(dir.path().join(format!("s{n}.db")), keyring())
                .await
                .unwrap()
        })
    }
}

/// Fresh PostgreSQL stores on the server `AUTHCORE_TEST_POSTGRES_URL` names, each in a schema
/// of its own named `<prefix>_<random>`.
#[cfg(feature = "postgres")]
pub fn postgres_stores(
    prefix: &'static str,
) -> impl Fn() -> Pin<Box<dyn Future<Output = authcore::PostgresStore>>> {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL").unwrap();
    move || {
        let url = url.clone();
        Box::pin(async move {
            let mut suffix = [0u8; 8];
            getrandom::fill(&mut suffix).unwrap();
            let schema = format!("{prefix}_{}", u64::from_le_bytes(suffix));
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap();
            admin
                .execute(format!("CREATE SCHEMA {schema}").as_str())
                .await
                .unwrap();
            admin.close().await;
            let search_path = format!("SET search_path TO {schema}");
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .after_connect(move |conn, _| {
                    let search_path = search_path.clone();
                    Box::pin(async move {
                        conn.execute(search_path.as_str()).await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .unwrap();
            let store = authcore::PostgresStore::from_pool(pool, keyring());
            store.migrate().await.unwrap();
            store
        })
    }
}

//! `SqliteStore` on a temporary database file: every trait method's contract, the races, secrets
//! sealed at rest, and corrupt sealed rows reported as errors.
#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/sql_checks.rs"]
mod checks;

use std::sync::Arc;

use authcore::{
    KeyId, Keyring, OrganisationWrite, SealingKey, SecretStore, SqlStoreError, SqliteStore,
    UserStore,
};
use checks::*;
use sqlx::{Column, Row, ValueRef};

fn keyring(byte: u8) -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[byte; 32]).unwrap())
}

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("authcore.db"), keyring(7))
        .await
        .unwrap();
    (dir, store)
}

/// Every value of every table, as bytes (text as UTF-8, numbers as decimal text).
async fn dump(store: &SqliteStore) -> Vec<(String, Vec<u8>)> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT * FROM \"{table}\""))
            .fetch_all(store.pool())
            .await
            .unwrap();
        for row in rows {
            for (i, column) in row.columns().iter().enumerate() {
                if row.try_get_raw(i).unwrap().is_null() {
                    continue;
                }
                let bytes = row
                    .try_get::<Vec<u8>, _>(i)
                    .or_else(|_| row.try_get::<String, _>(i).map(String::into_bytes))
                    .or_else(|_| row.try_get::<i64, _>(i).map(|n| n.to_string().into_bytes()))
                    .unwrap();
                out.push((format!("{table}.{}", column.name()), bytes));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn people_and_organisations_contract() {
    let (_dir, store) = store().await;
    people_and_organisations(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mfa_and_watermark_race() {
    let (_dir, store) = store().await;
    mfa_and_watermarks(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_codes_and_spend_race() {
    let (_dir, store) = store().await;
    recovery_codes(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oob_challenges_and_swap_race() {
    let (_dir, store) = store().await;
    oob_challenges(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_tickets_and_take_race() {
    let (_dir, store) = store().await;
    tokens_and_tickets(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_count_exactly() {
    let (_dir, store) = store().await;
    throttles(Arc::new(store)).await;
}

#[tokio::test]
async fn migrate_is_idempotent_and_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authcore.db");
    let store = SqliteStore::open(&path, keyring(7)).await.unwrap();
    store.migrate().await.unwrap();
    let mfa = enrolled(ALICE);
    assert!(store.replace_mfa(ALICE, &mfa, None).await.unwrap());
    store.pool().close().await;
    let store = SqliteStore::open(&path, keyring(7)).await.unwrap();
    assert!(store.mfa(ALICE).await.unwrap().is_some());
    // Under another keyring the sealed state does not open: an error, not "no MFA".
    store.pool().close().await;
    let other = SqliteStore::open(&path, keyring(8)).await.unwrap();
    assert!(matches!(
        other.mfa(ALICE).await,
        Err(SqlStoreError::Open { table: "mfa", .. })
    ));
}

#[tokio::test]
async fn raw_tables_hold_no_secret_code_or_password_in_clear() {
    let (_dir, store) = store().await;
    let org = authcore::Organisation::found(ORG, ALICE, T0).state;
    let _ = store
        .create_person(&person(ALICE, "alice"), OrganisationWrite::Insert(&org))
        .await
        .unwrap();
    let mfa = enrolled(ALICE);
    assert!(store.replace_mfa(ALICE, &mfa, None).await.unwrap());
    let codes = authcore::RecoveryCodeSet::generate(&cheap_recovery()).unwrap();
    store
        .replace_recovery_codes(ALICE, authcore::RecoverySlot::Active, Some(&codes.set))
        .await
        .unwrap();

    let secret = mfa.authenticators()[0].expose_secret();
    let base32 = secret.expose_base32();
    let mut needles: Vec<Vec<u8>> = vec![
        secret.expose_bytes().to_vec(),
        base32.as_bytes().to_vec(),
        base32.to_lowercase().into_bytes(),
        PASSWORD.as_bytes().to_vec(),
        b"authenticators".to_vec(), // the MFA JSON's field names: the state is not in clear
    ];
    for code in codes.codes.iter() {
        needles.push(code.expose_secret().as_bytes().to_vec());
        needles.push(code.expose_secret().replace('-', "").into_bytes());
    }
    let values = dump(&store).await;
    assert!(values.iter().any(|(column, _)| column == "mfa.state"));
    for (column, value) in &values {
        for needle in &needles {
            assert!(!contains(value, needle), "{column} holds a secret in clear");
        }
    }
}

#[tokio::test]
async fn corrupt_or_moved_sealed_rows_are_errors() {
    let (_dir, store) = store().await;
    assert!(
        store
            .replace_mfa(ALICE, &enrolled(ALICE), None)
            .await
            .unwrap()
    );
    assert!(store.replace_mfa(BOB, &enrolled(BOB), None).await.unwrap());
    let alice = ALICE.get().to_be_bytes().to_vec();
    let bob = BOB.get().to_be_bytes().to_vec();

    // One flipped bit in the sealed state.
    let state: Vec<u8> = sqlx::query_scalar("SELECT state FROM mfa WHERE person = $1")
        .bind(&alice)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let mut flipped = state.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    sqlx::query("UPDATE mfa SET state = $1 WHERE person = $2")
        .bind(&flipped)
        .bind(&alice)
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.mfa(ALICE).await.unwrap_err();
    assert!(matches!(
        err,
        SqlStoreError::Open {
            table: "mfa",
            error: authcore::OpenError::Forged
        }
    ));
    assert!(std::error::Error::source(&err).is_some());

    // Bob's sealed row copied over Alice's does not open there.
    sqlx::query(
        "UPDATE mfa SET state = (SELECT state FROM mfa WHERE person = $1), \
         state_key = (SELECT state_key FROM mfa WHERE person = $1) WHERE person = $2",
    )
    .bind(&bob)
    .bind(&alice)
    .execute(store.pool())
    .await
    .unwrap();
    assert!(matches!(
        store.mfa(ALICE).await,
        Err(SqlStoreError::Open { table: "mfa", .. })
    ));
    assert!(store.mfa(BOB).await.unwrap().is_some());

    // Garbage where the sealed key should be.
    sqlx::query("UPDATE mfa SET state_key = $1 WHERE person = $2")
        .bind(vec![1u8, 2, 3])
        .bind(&bob)
        .execute(store.pool())
        .await
        .unwrap();
    assert!(matches!(
        store.mfa(BOB).await,
        Err(SqlStoreError::Open { table: "mfa", .. })
    ));
}

#[cfg(feature = "test-util")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_conformance_suite() {
    let (_dir, store) = store().await;
    conformance(store).await;
}

checks::impl_resealable!(SqliteStore);

#[tokio::test]
async fn reseal_finishes_a_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authcore.db");
    reseal_after_rotation(async |keyring| SqliteStore::open(&path, keyring).await.unwrap()).await;
}

#[tokio::test]
async fn a_version_1_database_keeps_its_sign_in_challenges() {
    let dir = tempfile::tempdir().unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("authcore.db"))
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let challenge = checks::seed_version_1!(
        &pool,
        include_str!("../migrations/sqlite/0001_initial.sql"),
        "0"
    );
    let store = SqliteStore::from_pool(pool, keyring(7));
    store.migrate().await.unwrap();
    challenges_after_the_purpose_migration(&store, &challenge).await;
}

#[tokio::test]
async fn forged_ticket_rows_are_errors() {
    let (_dir, store) = store().await;
    checks::forged_tickets_are_refused!(&store);
}

#[tokio::test]
async fn forged_setup_token_rows_are_errors() {
    let (_dir, store) = store().await;
    checks::forged_setup_tokens_are_refused!(&store);
}

#[tokio::test]
async fn a_recovery_set_copied_from_another_person_is_an_error() {
    let (_dir, store) = store().await;
    checks::copied_recovery_sets_are_refused!(&store);
}

#[tokio::test]
async fn a_restored_mfa_row_does_not_lower_the_watermark() {
    let (_dir, store) = store().await;
    checks::restored_mfa_rows_do_not_lower_the_watermark!(&store);
}

#[tokio::test]
async fn an_oob_challenge_copied_from_another_person_is_an_error() {
    let (_dir, store) = store().await;
    checks::copied_oob_challenges_are_refused!(&store);
}

#[tokio::test]
async fn an_altered_organisation_row_is_an_error() {
    let (_dir, store) = store().await;
    checks::altered_organisations_are_refused!(&store);
}

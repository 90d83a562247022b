//! `PostgresStore` on the server named by `AUTHCORE_TEST_POSTGRES_URL`, each test in a schema of
//! its own: the conformance suite (every trait method's contract and the races), then what only a
//! SQL store has: two stores on one database, secrets sealed at rest, corrupt, copied or forged
//! rows reported as errors, re-sealing, schema upgrades. Without the variable each test prints
//! that it is skipped and passes.
#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/postgres.rs"]
mod pg;

#[path = "support/sql_specific.rs"]
mod checks;

#[cfg(feature = "test-util")]
#[path = "support/conformance.rs"]
mod contract;

use std::sync::Arc;

use authcore::credential::{KeyId, Keyring, SealingKey};
use authcore::store::OrganisationWrite;
use authcore::{PostgresStore, SecretStore, SqlStoreError, UserStore};
use checks::*;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, Row};

fn keyring(byte: u8) -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[byte; 32]).unwrap())
}

/// A fresh schema with a random name.
async fn schema() -> (String, String) {
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL")
        .expect("set AUTHCORE_TEST_POSTGRES_URL to run the PostgreSQL tests");
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let name = format!("authcore_test_{}", u64::from_le_bytes(suffix));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    pool.execute(format!("CREATE SCHEMA {name}").as_str())
        .await
        .unwrap();
    pool.close().await;
    (url, name)
}

/// A pool whose connections use `schema`.
async fn pool_in(url: &str, schema: &str, connections: u32) -> sqlx::PgPool {
    let search_path = format!("SET search_path TO {schema}");
    PgPoolOptions::new()
        .max_connections(connections)
        .after_connect(move |conn, _| {
            let search_path = search_path.clone();
            Box::pin(async move {
                conn.execute(search_path.as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .unwrap()
}

/// A store whose connections use `schema`.
async fn store_in(url: &str, schema: &str, keyring: Keyring) -> PostgresStore {
    let pool = pool_in(url, schema, 16).await;
    let store = PostgresStore::from_pool(pool, keyring);
    store.migrate().await.unwrap();
    store
}

async fn store() -> PostgresStore {
    let (url, schema) = schema().await;
    store_in(&url, &schema, keyring(7)).await
}

/// Two stores on one database stand for two application servers: of 32 attempts split between
/// them to accept the same TOTP step, exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_one_watermark_one_winner() {
    if crate::pg::skip("two_servers_one_watermark_one_winner") {
        return;
    }
    let (url, schema) = schema().await;
    let a = Arc::new(store_in(&url, &schema, keyring(7)).await);
    let b = Arc::new(store_in(&url, &schema, keyring(7)).await);
    let mfa = enrolled(ALICE);
    let auth = mfa.authenticators()[0].id();
    assert!(a.replace_mfa(ALICE, &mfa, None).await.unwrap());
    let step =
        b.mfa(ALICE).await.unwrap().unwrap().value.authenticators()[0].last_accepted_step() + 1;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
            tokio::spawn(async move { store.advance_watermark(ALICE, auth, step).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
    // Each server now sees the step as used.
    for store in [&a, &b] {
        let seen = store.mfa(ALICE).await.unwrap().unwrap();
        assert_eq!(seen.value.authenticators()[0].last_accepted_step(), step);
        assert!(!store.advance_watermark(ALICE, auth, step).await.unwrap());
    }
}

#[tokio::test]
async fn raw_tables_hold_no_secret_code_or_password_in_clear() {
    if crate::pg::skip("raw_tables_hold_no_secret_code_or_password_in_clear") {
        return;
    }
    let store = store().await;
    let org = authcore::policy::Organisation::found(ORG, ALICE, T0).state;
    let _ = store
        .create_person(&person(ALICE, "alice"), OrganisationWrite::Insert(&org))
        .await
        .unwrap();
    let mfa = enrolled(ALICE);
    assert!(store.replace_mfa(ALICE, &mfa, None).await.unwrap());
    let codes = authcore::credential::RecoveryCodeSet::generate(&cheap_recovery()).unwrap();
    store
        .replace_recovery_codes(
            ALICE,
            authcore::store::RecoverySlot::Active,
            Some(&codes.set),
        )
        .await
        .unwrap();

    // Every table of the schema, each row as its text form.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(tables.iter().any(|t| t == "mfa"));
    let mut rows = Vec::new();
    for table in &tables {
        let text = sqlx::query(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(store.pool())
            .await
            .unwrap();
        rows.extend(
            text.iter()
                .map(|row| (table.clone(), row.get::<String, _>(0))),
        );
    }
    let secret = mfa.authenticators()[0].expose_secret();
    let base32 = secret.expose_base32();
    let hex: String = secret
        .expose_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut needles = vec![
        hex,
        base32.to_string(),
        base32.to_lowercase(),
        PASSWORD.to_string(),
        "authenticators".to_string(),
    ];
    for code in codes.codes.iter() {
        needles.push(code.expose_secret().to_string());
        needles.push(code.expose_secret().replace('-', ""));
    }
    for (table, row) in &rows {
        for needle in &needles {
            assert!(
                !row.contains(needle.as_str()),
                "{table} holds a secret in clear"
            );
        }
    }
}

#[tokio::test]
async fn corrupt_sealed_row_is_an_error() {
    if crate::pg::skip("corrupt_sealed_row_is_an_error") {
        return;
    }
    let store = store().await;
    assert!(
        store
            .replace_mfa(ALICE, &enrolled(ALICE), None)
            .await
            .unwrap()
    );
    // One flipped bit in the sealed state.
    sqlx::query("UPDATE mfa SET state = set_byte(state, 30, get_byte(state, 30) # 1)")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(matches!(
        store.mfa(ALICE).await,
        Err(SqlStoreError::Open { table: "mfa", .. })
    ));
}

#[cfg(feature = "test-util")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_conformance_suite() {
    if crate::pg::skip("passes_the_conformance_suite") {
        return;
    }
    let checks = contract::conforms(
        Arc::new(store().await),
        &authcore::otp::ManualClock::new(T0),
    )
    .await;
    assert!(checks.contains(&"unique_person_id"), "{checks:?}");
}

checks::impl_resealable!(PostgresStore);

#[tokio::test]
async fn reseal_finishes_a_key_rotation() {
    if crate::pg::skip("reseal_finishes_a_key_rotation") {
        return;
    }
    let (url, schema) = schema().await;
    reseal_after_rotation(async |keyring| store_in(&url, &schema, keyring).await).await;
}

#[tokio::test]
async fn a_version_1_database_keeps_its_sign_in_challenges() {
    if crate::pg::skip("a_version_1_database_keeps_its_sign_in_challenges") {
        return;
    }
    let (url, schema) = schema().await;
    let pool = pool_in(&url, &schema, 1).await;
    let challenge = checks::seed_version_1!(
        &pool,
        include_str!("../migrations/postgres/0001_initial.sql"),
        "false"
    );
    let store = PostgresStore::from_pool(pool, keyring(7));
    store.migrate().await.unwrap();
    challenges_after_the_purpose_migration(&store, &challenge).await;
}

#[tokio::test]
async fn a_version_3_database_keeps_its_throttle_counters() {
    if crate::pg::skip("a_version_3_database_keeps_its_throttle_counters") {
        return;
    }
    let (url, schema) = schema().await;
    let pool = pool_in(&url, &schema, 1).await;
    let _ = checks::seed_version_1!(
        &pool,
        include_str!("../migrations/postgres/0001_initial.sql"),
        "false"
    );
    checks::seed_old_throttles!(&pool, "true", "false");
    let store = PostgresStore::from_pool(pool, keyring(7));
    store.migrate().await.unwrap();
    throttles_after_the_key_migration(&store).await;
}

#[tokio::test]
async fn a_database_with_ids_as_numbers_still_opens_and_works() {
    if crate::pg::skip("a_database_with_ids_as_numbers_still_opens_and_works") {
        return;
    }
    let (url, schema) = schema().await;
    let pool = pool_in(&url, &schema, 1).await;
    let _ = checks::seed_version_1!(
        &pool,
        include_str!("../migrations/postgres/0001_initial.sql"),
        "false"
    );
    let (org, ticket) = checks::seed_number_id_states!(&pool);
    let store = PostgresStore::from_pool(pool, keyring(7));
    store.migrate().await.unwrap();
    number_id_states_still_work(&store, &org, &ticket).await;
}

#[tokio::test]
async fn forged_ticket_rows_are_errors() {
    if crate::pg::skip("forged_ticket_rows_are_errors") {
        return;
    }
    checks::forged_tickets_are_refused!(&store().await);
}

#[tokio::test]
async fn forged_setup_token_rows_are_errors() {
    if crate::pg::skip("forged_setup_token_rows_are_errors") {
        return;
    }
    checks::forged_setup_tokens_are_refused!(&store().await);
}

#[tokio::test]
async fn a_recovery_set_copied_from_another_person_is_an_error() {
    if crate::pg::skip("a_recovery_set_copied_from_another_person_is_an_error") {
        return;
    }
    checks::copied_recovery_sets_are_refused!(&store().await);
}

#[tokio::test]
async fn a_restored_mfa_row_does_not_lower_the_watermark() {
    if crate::pg::skip("a_restored_mfa_row_does_not_lower_the_watermark") {
        return;
    }
    checks::restored_mfa_rows_do_not_lower_the_watermark!(&store().await);
}

#[tokio::test]
async fn an_oob_challenge_copied_from_another_person_is_an_error() {
    if crate::pg::skip("an_oob_challenge_copied_from_another_person_is_an_error") {
        return;
    }
    checks::copied_oob_challenges_are_refused!(&store().await);
}

#[tokio::test]
async fn an_altered_organisation_row_is_an_error() {
    if crate::pg::skip("an_altered_organisation_row_is_an_error") {
        return;
    }
    checks::altered_organisations_are_refused!(&store().await);
}

#[tokio::test]
async fn an_altered_phone_number_is_an_error() {
    if crate::pg::skip("an_altered_phone_number_is_an_error") {
        return;
    }
    checks::altered_phone_numbers_are_refused!(&store().await);
}

#[tokio::test]
async fn an_altered_session_row_is_an_error() {
    if crate::pg::skip("an_altered_session_row_is_an_error") {
        return;
    }
    checks::altered_sessions_are_refused!(&store().await, keyring(7));
}

#[tokio::test]
async fn login_names_are_stored_only_as_digests() {
    if crate::pg::skip("login_names_are_stored_only_as_digests") {
        return;
    }
    checks::login_names_are_not_stored!(&store().await);
}

/// Eight servers starting at once on an empty database all migrate it: the first creation of
/// the schema table is serialised too (PostgreSQL's `CREATE TABLE IF NOT EXISTS` is not safe
/// against a concurrent creation of the same table), and every migration lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_starting_at_once_migrate_an_empty_database() {
    if crate::pg::skip("servers_starting_at_once_migrate_an_empty_database") {
        return;
    }
    for _ in 0..4 {
        let (url, schema) = schema().await;
        let mut stores = Vec::new();
        for _ in 0..8 {
            stores.push(PostgresStore::from_pool(
                pool_in(&url, &schema, 2).await,
                keyring(7),
            ));
        }
        let runs: Vec<_> = stores
            .iter()
            .cloned()
            .map(|store| tokio::spawn(async move { store.migrate().await }))
            .collect();
        for run in runs {
            run.await.unwrap().unwrap();
        }
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM authcore_schema ORDER BY version")
                .fetch_all(stores[0].pool())
                .await
                .unwrap();
        let expected: Vec<i64> = (1..=i64::try_from(versions.len()).unwrap()).collect();
        assert_eq!(versions, expected);
        assert!(versions.len() >= 10);
    }
}

//! `SqliteStore` on a temporary database file: the conformance suite (every trait method's
//! contract and the races), then what only a SQL store has: secrets sealed at rest, corrupt,
//! copied or forged rows reported as errors, re-sealing, schema upgrades, and the service over a
//! tampered database.
#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/sql_specific.rs"]
mod checks;

#[cfg(feature = "test-util")]
#[path = "support/conformance.rs"]
mod contract;

use authcore::credential::{KeyId, Keyring, SealingKey};
use authcore::store::OrganisationWrite;
use authcore::{SecretStore, SqlStoreError, SqliteStore, UserStore};
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
            error: authcore::credential::OpenError::Forged
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
    let checks = contract::conforms(
        std::sync::Arc::new(store),
        &authcore::otp::ManualClock::new(T0),
    )
    .await;
    assert!(checks.contains(&"unique_person_id"), "{checks:?}");
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
async fn a_version_3_database_keeps_its_throttle_counters() {
    let dir = tempfile::tempdir().unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("authcore.db"))
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let _ = checks::seed_version_1!(
        &pool,
        include_str!("../migrations/sqlite/0001_initial.sql"),
        "0"
    );
    checks::seed_old_throttles!(&pool, "1", "0");
    let store = SqliteStore::from_pool(pool, keyring(7));
    store.migrate().await.unwrap();
    throttles_after_the_key_migration(&store).await;
}

#[tokio::test]
async fn a_database_with_ids_as_numbers_still_opens_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("authcore.db"))
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let _ = checks::seed_version_1!(
        &pool,
        include_str!("../migrations/sqlite/0001_initial.sql"),
        "0"
    );
    let (org, ticket) = checks::seed_number_id_states!(&pool);
    let store = SqliteStore::from_pool(pool, keyring(7));
    store.migrate().await.unwrap();
    number_id_states_still_work(&store, &org, &ticket).await;
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

#[tokio::test]
async fn an_altered_phone_number_is_an_error() {
    let (_dir, store) = store().await;
    checks::altered_phone_numbers_are_refused!(&store);
}

#[tokio::test]
async fn an_altered_session_row_is_an_error() {
    let (_dir, store) = store().await;
    checks::altered_sessions_are_refused!(&store, keyring(7));
}

/// The service over `SqliteStore`, against someone who can write the database but holds no key.
#[cfg(feature = "memory")]
mod service_over_a_tampered_database {
    use std::sync::Arc;

    use super::*;
    use authcore::credential::FactorKind;
    use authcore::credential::password::HashParams;
    use authcore::otp::{ManualClock, SecretKey, Totp, TotpParams};
    use authcore::policy::{Aal, AuthenticatorName, EnrollmentPurpose, LoginProgress};
    use authcore::store::{MemoryAuditLog, RecordingNotifier};
    use authcore::{
        Authenticator, BearerToken, Clock, LoginStep, OrgId, Password, PasswordHasher,
        ServiceConfig, ServiceError, Services,
    };

    type Service = Authenticator<
        Services<SqliteStore, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>,
    >;

    const PW: &str = "correct horse battery staple 42";

    async fn service() -> (tempfile::TempDir, Service, SqliteStore) {
        let (dir, store) = store().await;
        let hasher = PasswordHasher::builder()
            .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
            .build()
            .unwrap();
        let services = Services {
            store: store.clone(),
            audit: MemoryAuditLog::new(),
            notifier: RecordingNotifier::new(),
            clock: Arc::new(ManualClock::new(T0)),
            hasher,
        };
        let config = ServiceConfig::builder("Example Co")
            .recovery(cheap_recovery())
            .build()
            .unwrap();
        (dir, Authenticator::new(services, config), store)
    }

    fn code(key: &SecretKey, now: u64) -> String {
        let params = TotpParams::builder().build().unwrap();
        Totp::new(params, key)
            .generate(now)
            .unwrap()
            .expose_secret()
            .to_owned()
    }

    /// Signs `login` up and enrolls an authenticator: their organisation and recovery codes.
    async fn enrolled(service: &Service, login: &str) -> (OrgId, Vec<String>) {
        let up = service.sign_up(login, Password::from(PW)).await.unwrap();
        let step = service
            .login_to(up.org, login, Password::from(PW))
            .await
            .unwrap();
        let grant = *step.grant().expect("signed in");
        let setup = service
            .start_enrollment(
                &grant,
                EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
            )
            .await
            .unwrap();
        let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
        let now = service.backend().clock.now();
        let codes = service
            .confirm_enrollment(&grant, &code(&key, now))
            .await
            .unwrap();
        service.acknowledge_enrollment(&grant).await.unwrap();
        (
            up.org,
            codes.iter().map(|c| c.expose_secret().to_owned()).collect(),
        )
    }

    #[tokio::test]
    async fn a_forged_enrol_mfa_ticket_skipped_gives_no_grant() {
        let (_dir, service, store) = service().await;
        let (org, _) = enrolled(&service, "olivia@example.com").await;
        let olivia = store
            .person_by_login("olivia@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        // A ticket the attacker made: the progress claims her authenticator-app code.
        let token = BearerToken::generate().unwrap();
        let progress =
            LoginProgress::password_verified(olivia, org, T0).with_second_factor(FactorKind::Totp);
        sqlx::query(
            "INSERT INTO tickets (digest, step, progress, expires_at) \
             VALUES ($1, 'enrol_mfa', $2, $3)",
        )
        .bind(token.digest().0.to_vec())
        .bind(serde_json::to_string(&progress).unwrap())
        .bind((T0 + 300) as i64)
        .execute(store.pool())
        .await
        .unwrap();
        let skipped = service.skip_enrollment(org, &token).await;
        assert!(
            matches!(skipped, Err(ServiceError::Storage(_))),
            "{:?}",
            skipped.map(|step| step.grant().map(|g| g.aal() == Aal::Aal2))
        );
    }

    #[tokio::test]
    async fn a_recovery_set_copied_from_another_account_signs_nobody_in() {
        let (_dir, service, store) = service().await;
        let (org, _) = enrolled(&service, "olivia@example.com").await;
        let (_, mallory_codes) = enrolled(&service, "mallory@example.com").await;
        let id = |login: &'static str| {
            let store = store.clone();
            async move {
                store
                    .person_by_login(login)
                    .await
                    .unwrap()
                    .unwrap()
                    .id
                    .get()
                    .to_be_bytes()
                    .to_vec()
            }
        };
        let (olivia, mallory) = (
            id("olivia@example.com").await,
            id("mallory@example.com").await,
        );
        // Mallory's set, whose codes she holds, copied over Olivia's (tag included).
        sqlx::query(
            "UPDATE recovery_sets SET \
             set_id = (SELECT set_id FROM recovery_sets WHERE person = $1 AND slot = 'active'), \
             codes = (SELECT codes FROM recovery_sets WHERE person = $1 AND slot = 'active'), \
             stored = (SELECT stored FROM recovery_sets WHERE person = $1 AND slot = 'active'), \
             spent = 0 WHERE person = $2 AND slot = 'active'",
        )
        .bind(&mallory)
        .bind(&olivia)
        .execute(store.pool())
        .await
        .unwrap();
        let _ = sqlx::query(
            "UPDATE recovery_sets SET \
             tag = (SELECT tag FROM recovery_sets WHERE person = $1 AND slot = 'active') \
             WHERE person = $2 AND slot = 'active'",
        )
        .bind(&mallory)
        .bind(&olivia)
        .execute(store.pool())
        .await;
        // Olivia's sign-in stops at a storage error (her factors are read at the password step
        // already); it never reaches a grant with Mallory's code.
        let got = match service
            .login_to(org, "olivia@example.com", Password::from(PW))
            .await
        {
            Ok(step) => {
                assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
                let ticket =
                    BearerToken::parse(&step.ticket().expect("pending").expose_secret()).unwrap();
                service
                    .verify_recovery_code(org, &ticket, &mallory_codes[0])
                    .await
            }
            Err(error) => Err(error),
        };
        assert!(
            matches!(got, Err(ServiceError::Storage(_))),
            "{:?}",
            got.map(|step| step.grant().map(|g| g.aal() == Aal::Aal2))
        );
    }
}

#[tokio::test]
async fn login_names_are_stored_only_as_digests() {
    let (_dir, store) = store().await;
    checks::login_names_are_not_stored!(&store);
}

/// Migration 7 keeps a ticket's person and login-counter key beside it: a ticket pending at the
/// upgrade (written before the columns existed) is filled in, so the next step still reads it,
/// its person and their login name's counter in one snapshot.
#[tokio::test]
async fn a_ticket_pending_at_the_version_7_upgrade_is_filled_in() {
    use authcore::LoginStore;
    use authcore::credential::{BearerToken, ThrottlePolicy};
    use authcore::policy::{LoginProgress, Organisation};
    use authcore::store::{
        Login, PendingStep, PersonRecord, SnapshotAt, ThrottleKey, TicketRecord,
    };
    let (_dir, store) = store().await;
    let login = Login::new("pending@example.com").unwrap();
    let person = PersonRecord {
        id: authcore::PersonId::new(0x5eed),
        login: login.clone(),
        password_hash: "hash".into(),
        password_state: authcore::policy::PasswordState::Current,
        password_expires_at: None,
        deactivated: false,
        phone: None,
        created_at: 1,
        address_verified_at: None,
    };
    let org = Organisation::found(authcore::OrgId::new(0x0a6), person.id, 1).state;
    let created = store
        .create_person(&person, OrganisationWrite::Insert(&org))
        .await
        .unwrap();
    assert_eq!(created, authcore::store::CreateOutcome::Created);
    let ticket = TicketRecord {
        digest: BearerToken::generate().unwrap().digest(),
        step: PendingStep::SecondFactor,
        progress: LoginProgress::password_verified(person.id, org.id(), 10),
        expires_at: 1_000,
    };
    store.insert_ticket(&ticket).await.unwrap();
    let _ = store
        .reserve_attempt(&ThrottleKey::login(&login), &ThrottlePolicy::default(), 10)
        .await
        .unwrap();
    // Back to version 6: the columns gone, the migration not recorded.
    sqlx::raw_sql(
        "ALTER TABLE tickets DROP COLUMN person; ALTER TABLE tickets DROP COLUMN login_key; \
         DELETE FROM authcore_schema WHERE version = 7;",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let snapshot = store
        .login_snapshot(SnapshotAt::Ticket(&ticket.digest), Some(org.id()), 20)
        .await
        .unwrap();
    assert_eq!(snapshot.ticket, Some(ticket));
    assert_eq!(snapshot.person.map(|p| p.id), Some(person.id));
    assert_eq!(snapshot.counters.login.map(|c| c.failures()), Some(1));
}

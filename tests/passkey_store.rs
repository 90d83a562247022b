//! The passkey store contracts (`authcore::conformance::run_passkeys`) against every store
//! (memory, SQLite, and PostgreSQL when `AUTHCORE_TEST_POSTGRES_URL` is set): in one task, and
//! with the racing calls spawned on a multi-threaded runtime; and a tampered SQL row refused.
#![cfg(all(
    feature = "memory",
    feature = "sqlite",
    feature = "test-util",
    feature = "passkeys"
))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;

use std::sync::Arc;

use authcore::conformance::{self, PasskeyConformance, Spawner};
use authcore::credential::passkey::{CredentialKey, UserHandle};
use authcore::credential::{KeyId, Keyring, SealingKey};
use authcore::otp::ManualClock;
use authcore::policy::{Organisation, PasswordState};
use authcore::store::{Login, OrganisationWrite, PasskeyRecord, PasskeyStore, PersonRecord};
use authcore::{MemoryStore, OrgId, PersonId, SqliteStore, UserStore};

/// Hands each racing call to the tokio runtime, so that they run on several threads.
struct Tokio;

impl Spawner for Tokio {
    fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let handle = tokio::spawn(task);
        async move { handle.await.expect("a contender panicked") }
    }
}

const T0: u64 = 1_700_000_000;

/// The passkey checks, each named in the report.
const CHECKS: [&str; 11] = [
    "passkey_user_handle",
    "passkey_challenge_single_use",
    "passkey_unique_credential_id",
    "passkey_use_guarded",
    "race_passkey_challenge",
    "race_passkey_use",
    "passkey_insert_epoch",
    "passkey_remove",
    "passkey_prune",
    "race_passkey_remove",
    "race_passkey_insert",
];

#[tokio::test]
async fn memory_store_keeps_the_passkey_contracts() {
    let clock = ManualClock::new(T0);
    let report = conformance::run_passkeys(Arc::new(MemoryStore::new()), &clock)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.checks(), CHECKS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_keeps_the_passkey_contracts_racing_on_threads() {
    let clock = ManualClock::new(T0);
    let store = Arc::new(MemoryStore::new());
    for _ in 0..2 {
        let report = conformance::run_passkeys_with(Arc::clone(&store), &clock, &Tokio)
            .await
            .unwrap_or_else(|failure| panic!("{failure}"));
        assert_eq!(report.checks(), CHECKS);
    }
}

async fn conforms<S: PasskeyConformance>(store: S) {
    let clock = ManualClock::new(T0);
    let store = Arc::new(store);
    let report = conformance::run_passkeys(Arc::clone(&store), &clock)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.checks(), CHECKS);
    let report = conformance::run_passkeys_with(store, &clock, &Tokio)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.checks(), CHECKS);
}

fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_keeps_the_passkey_contracts() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("authcore.db"), keyring())
        .await
        .unwrap();
    conforms(store).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_keeps_the_passkey_contracts() {
    if pg::skip("postgres_store_keeps_the_passkey_contracts") {
        return;
    }
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL").unwrap();
    let store = authcore::PostgresStore::connect(&url, keyring())
        .await
        .unwrap();
    conforms(store).await;
}

/// A credential row altered in the database (its counter wound back, its public key swapped,
/// moved to another person) is an error when read, never a credential.
#[tokio::test]
async fn sqlite_refuses_a_tampered_credential_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("authcore.db"), keyring())
        .await
        .unwrap();
    let ada = PersonId::new(1);
    let founded = |store: SqliteStore| async move {
        let person = PersonRecord {
            id: ada,
            login: Login::new("ada@example.com").unwrap(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
            password_state: PasswordState::Current,
            password_expires_at: None,
            deactivated: false,
            phone: None,
            created_at: T0,
            address_verified_at: None,
        };
        let org = Organisation::found(OrgId::new(9), ada, T0).state;
        let created = store
            .create_person(&person, OrganisationWrite::Insert(&org))
            .await
            .unwrap();
        assert_eq!(created, authcore::store::CreateOutcome::Created);
        store
    };
    let store = founded(store).await;
    let record = PasskeyRecord {
        person: ada,
        credential_id: vec![1, 2, 3],
        name: "YubiKey".into(),
        key: CredentialKey::from_stored("{\"cred\":{\"counter\":9}}".into()),
        counter: 9,
        backup_eligible: false,
        backup_state: false,
        created_at: T0,
        last_used_at: None,
    };
    assert_eq!(
        store.insert_passkey(&record, 0, None).await.unwrap(),
        Some(1)
    );
    assert_eq!(store.passkeys(ada).await.unwrap(), vec![record.clone()]);
    for tamper in [
        "UPDATE passkeys SET counter = 1",
        "UPDATE passkeys SET credential = '{\"cred\":{\"counter\":1}}'",
    ] {
        let dir2 = tempfile::tempdir().unwrap();
        let copy = SqliteStore::open(dir2.path().join("authcore.db"), keyring())
            .await
            .unwrap();
        let copy = founded(copy).await;
        assert_eq!(
            copy.insert_passkey(&record, 0, None).await.unwrap(),
            Some(1)
        );
        sqlx::query(tamper).execute(copy.pool()).await.unwrap();
        assert!(copy.passkeys(ada).await.is_err(), "{tamper}");
    }
    // A row moved to another person is not theirs.
    sqlx::query("UPDATE passkeys SET person = $1")
        .bind(2u128.to_be_bytes().to_vec())
        .execute(store.pool())
        .await
        .unwrap();
    assert!(store.passkeys(PersonId::new(2)).await.is_err());
    // An unknown person gets no user handle.
    assert_eq!(
        store
            .ensure_user_handle(PersonId::new(3), UserHandle::from_bytes([1; 16]))
            .await
            .unwrap(),
        None
    );
}

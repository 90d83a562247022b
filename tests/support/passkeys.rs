//! What the passkey tests share: a service over any store with passkeys configured for
//! `https://example.com` (weak hashing, a manual clock), the people they sign up (with an
//! authenticator app, or a first security key with its recovery codes acknowledged), password
//! sign-ins, and `on_every_store!`, which runs each scenario on memory, SQLite and (when
//! `AUTHCORE_TEST_POSTGRES_URL` is set) PostgreSQL.
//!
//! It builds on `support/accounts.rs`. A test file declares `mod accounts`, `mod pg`
//! (`support/postgres.rs`) and `mod soft_key` (`support/soft_key.rs`) beside this one,
//! `#[macro_use]` on it.
#![allow(dead_code)]

use std::sync::Arc;

use authcore::credential::{KeyId, Keyring, SealingKey};
use authcore::otp::{ManualClock, SecretKey};
use authcore::service::PasskeyRegistration;
use authcore::store::PasskeyStore;
use authcore::{Grant, LoginStore, OrgId, Password, PersonId, SqliteStore};

#[allow(unused_imports)]
pub use crate::accounts::{PW, Service, T0, code, enrol, ticket};
use crate::accounts::{founder, service_with, with_mfa};
use crate::soft_key::SoftKey;

pub const ORIGIN: &str = "https://example.com";

/// A login no earlier run used (the PostgreSQL database outlives a run).
pub fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{name}-{nanos}-{}@example.com",
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub trait Store: LoginStore + PasskeyStore + 'static {}
impl<S: LoginStore + PasskeyStore + 'static> Store for S {}

/// The service over `store` with passkeys and SMS configured, its clock at [`T0`].
pub fn service<S: Store>(store: S) -> (Service<S>, Arc<ManualClock>) {
    service_with(store, |config| {
        config.passkeys("example.com", "Example", &[ORIGIN])
    })
}

/// A password login of `login` in `org`, then the code of `key` if given: the grant.
pub async fn sign_in<S: Store>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    login: &str,
    key: Option<&SecretKey>,
) -> Grant {
    crate::accounts::sign_in(s, clock, org, login, key).await.0
}

/// Signs up `login` and enrols an authenticator app: the organisation, the person, the app's
/// key and a fresh AAL2 grant.
pub async fn with_app<S: Store>(
    s: &Service<S>,
    clock: &ManualClock,
    login: &str,
) -> (OrgId, PersonId, SecretKey, Grant) {
    let (org, person) = founder(s, login).await;
    let (key, grant, _) = with_mfa(s, clock, org, login).await;
    (org, person, key, grant)
}

pub fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap())
}

/// Signs up `login` and registers a first security key, its recovery codes acknowledged: the
/// organisation, the person and the key.
pub async fn with_key<S: Store>(s: &Service<S>, login: &str) -> (OrgId, PersonId, SoftKey) {
    let up = s.sign_up(login, Password::from(PW)).await.unwrap();
    let step = s.login_to(up.org, login, Password::from(PW)).await.unwrap();
    let grant = step.into_session().expect("signed in").grant;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    // The first factor: the recovery codes come with it, acknowledged.
    let registered = s
        .finish_passkey_registration(&grant, &response)
        .await
        .unwrap();
    assert!(
        matches!(
            registered,
            PasskeyRegistration::AwaitingAcknowledgement { .. }
        ),
        "{registered:?}"
    );
    s.acknowledge_passkey(&grant).await.unwrap();
    (up.org, up.person, key)
}

pub async fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("authcore.db"), keyring())
        .await
        .unwrap();
    (dir, store)
}

/// `name => check` runs `check(store)` on a fresh memory store, a fresh SQLite store and the
/// PostgreSQL store, as tests `memory::name`, `sqlite::name` and `postgres::name`.
macro_rules! on_every_store {
    ($($name:ident => $check:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$check(authcore::MemoryStore::new()).await;
            })*
        }
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let (_dir, store) = super::sqlite().await;
                super::$check(store).await;
            })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                if super::pg::skip(stringify!($name)) {
                    return;
                }
                let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL").unwrap();
                let store = authcore::PostgresStore::connect(&url, super::keyring())
                    .await
                    .unwrap();
                super::$check(store).await;
            })*
        }
    };
}

//! What the passkey tests share: a service over any store with passkeys configured for
//! `https://example.com` (weak hashing, a manual clock), the people they sign up (with an
//! authenticator app, or a first security key with its recovery codes acknowledged), password
//! sign-ins, and `on_every_store!`, which runs each scenario on memory, SQLite and (when
//! `AUTHCORE_TEST_POSTGRES_URL` is set) PostgreSQL.
//!
//! A test file declares `mod pg` (`support/postgres.rs`) and `mod soft_key`
//! (`support/soft_key.rs`) beside this one, `#[macro_use]` on it.
#![allow(dead_code)]

use std::sync::Arc;

use authcore::credential::password::HashParams;
use authcore::credential::{KeyId, Keyring, RecoveryParams, SealingKey};
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{Aal, AuthenticatorName, EnrollmentPurpose};
use authcore::service::PasskeyRegistration;
use authcore::store::{MemoryAuditLog, PasskeyStore, RecordingNotifier};
use authcore::{
    Authenticator, BearerToken, Grant, LoginStep, LoginStore, OrgId, Password, PasswordHasher,
    PersonId, ServiceConfig, Services, SqliteStore,
};

use crate::soft_key::SoftKey;

pub const T0: u64 = 1_700_000_010;
pub const ORIGIN: &str = "https://example.com";
pub const PW: &str = "correct horse battery staple 42";

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

pub type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

pub trait Store: LoginStore + PasskeyStore + 'static {}
impl<S: LoginStore + PasskeyStore + 'static> Store for S {}

/// The service over `store`, with its clock at [`T0`].
pub fn service<S: Store>(store: S) -> (Service<S>, Arc<ManualClock>) {
    service_on(store, Arc::new(ManualClock::new(T0)))
}

/// The service over `store` reading `clock` (two servers share one).
pub fn service_on<S: Store>(store: S, clock: Arc<ManualClock>) -> (Service<S>, Arc<ManualClock>) {
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap();
    let config = ServiceConfig::builder("Example")
        .recovery(
            RecoveryParams::builder()
                .dangerous_argon2(64, 1, 1)
                .build()
                .unwrap(),
        )
        .sms(
            authcore::credential::OobConfig::default(),
            authcore::credential::OobKey::from_bytes(&[9u8; 32]).unwrap(),
        )
        .passkeys("example.com", "Example", &[ORIGIN])
        .build()
        .unwrap();
    let backend = Services::new(store, MemoryAuditLog::new(), RecordingNotifier::new())
        .unwrap()
        .with_clock(Arc::clone(&clock))
        .with_hasher(hasher);
    (Authenticator::new(backend, config), clock)
}

pub fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap())
}

pub fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

pub fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(authcore::policy::EnrollmentConfig::default().params(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// A password login of `login` in `org`, then the code of `key` if given: the grant.
pub async fn sign_in<S: Store>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    login: &str,
    key: Option<&SecretKey>,
) -> Grant {
    clock.advance(30);
    let step = s.login_to(org, login, Password::from(PW)).await.unwrap();
    let step = match key {
        Some(key) => s
            .verify_totp(org, &ticket(&step), &code(key, clock.now()))
            .await
            .unwrap(),
        None => step,
    };
    step.into_session().expect("signed in").grant
}

/// Signs up `login` and enrols an authenticator app: the organisation, the person, the app's
/// key and a fresh AAL2 grant.
pub async fn with_app<S: Store>(
    s: &Service<S>,
    clock: &ManualClock,
    login: &str,
) -> (OrgId, PersonId, SecretKey, Grant) {
    let up = s.sign_up(login, Password::from(PW)).await.unwrap();
    let grant = sign_in(s, clock, up.org, login, None).await;
    let key = enrol(s, clock, &grant).await;
    let grant = sign_in(s, clock, up.org, login, Some(&key)).await;
    assert_eq!(grant.aal(), Aal::Aal2);
    (up.org, up.person, key, grant)
}

/// Enrols an authenticator app with `grant`; returns its key.
pub async fn enrol<S: Store>(s: &Service<S>, clock: &ManualClock, grant: &Grant) -> SecretKey {
    let setup = s
        .start_enrollment(
            grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let _codes = s
        .confirm_enrollment(grant, &code(&key, clock.now()))
        .await
        .unwrap();
    s.acknowledge_enrollment(grant).await.unwrap();
    key
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

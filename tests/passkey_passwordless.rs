//! Passwordless sign-in with a discoverable passkey, on every store (memory, SQLite, and
//! PostgreSQL when `AUTHCORE_TEST_POSTGRES_URL` is set), through the service against a software
//! authenticator: the same session and grant as a password and a second factor, the attempt
//! spent once, another person's user handle and a credential nobody holds refused and audited,
//! an expired attempt, and an organisation whose policy does not count passkeys.
#![cfg(all(feature = "memory", feature = "sqlite", feature = "passkeys"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;
#[path = "support/soft_key.rs"]
#[allow(dead_code)]
mod soft_key;

use std::sync::Arc;

use authcore::credential::password::HashParams;
use authcore::credential::{FactorKind, KeyId, Keyring, RecoveryParams, SealingKey};
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{
    Aal, AuditKind, AuthenticatorName, EnrollmentPurpose, Factor, MfaSettings, Role, SecondFactors,
};
use authcore::store::{MemoryAuditLog, PasskeyStore, RecordingNotifier};
use authcore::{
    Authenticator, BearerToken, Grant, LoginStep, LoginStore, OrgId, Password, PasswordHasher,
    PersonId, ServiceConfig, ServiceError, Services, SqliteStore,
};
use soft_key::SoftKey;

const T0: u64 = 1_700_000_010;
const ORIGIN: &str = "https://example.com";
const PW: &str = "correct horse battery staple 42";

/// A login no earlier run used (the PostgreSQL database outlives a run).
fn unique(name: &str) -> String {
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

type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

trait Store: LoginStore + PasskeyStore + 'static {}
impl<S: LoginStore + PasskeyStore + 'static> Store for S {}

fn service<S: Store>(store: S) -> (Service<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
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
        .passkeys("example.com", "Example", &[ORIGIN])
        .build()
        .unwrap();
    let backend = Services::new(store, MemoryAuditLog::new(), RecordingNotifier::new())
        .unwrap()
        .with_clock(Arc::clone(&clock))
        .with_hasher(hasher);
    (Authenticator::new(backend, config), clock)
}

fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap())
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(authcore::policy::EnrollmentConfig::default().params(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn events<S: Store>(
    s: &Service<S>,
    subject: Option<PersonId>,
    what: fn(&AuditKind) -> bool,
) -> usize {
    s.backend()
        .audit
        .events()
        .iter()
        .filter(|e| e.subject == subject && what(&e.what))
        .count()
}

/// A password login of `login` in `org`, then the code of `key` if given: the grant.
async fn sign_in<S: Store>(
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
async fn with_app<S: Store>(
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
async fn enrol<S: Store>(s: &Service<S>, clock: &ManualClock, grant: &Grant) -> SecretKey {
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

/// Signs up `login` and registers a first security key (its recovery codes acknowledged).
async fn with_key<S: Store>(s: &Service<S>, login: &str) -> (OrgId, PersonId, SoftKey) {
    let up = s.sign_up(login, Password::from(PW)).await.unwrap();
    let step = s.login_to(up.org, login, Password::from(PW)).await.unwrap();
    let grant = step.into_session().expect("signed in").grant;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    let _ = s
        .finish_passkey_registration(&grant, &response)
        .await
        .unwrap();
    s.acknowledge_passkey(&grant).await.unwrap();
    (up.org, up.person, key)
}

async fn signs_in_without_a_password<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, person, mut key) = with_key(&s, &ada).await;
    clock.advance(30);
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let o: serde_json::Value = serde_json::from_str(&options).unwrap();
    assert_eq!(o["publicKey"]["userVerification"], "required");
    assert!(
        o["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{o}"
    );
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let step = s
        .finish_passwordless_login_to(org, &attempt, &assertion)
        .await
        .unwrap();
    let opened = step.into_session().expect("signed in");
    assert_eq!(opened.grant.person(), person);
    assert_eq!(opened.grant.aal(), Aal::Aal2);
    assert!(
        opened
            .grant
            .factors()
            .contains(Factor::Second(FactorKind::Passkey))
    );
    assert!(opened.grant.factors().contains(Factor::UserVerified));
    assert!(!opened.grant.factors().contains(Factor::Password));
    let again = s.authenticate(&opened.token.expose_secret()).await.unwrap();
    assert_eq!(again.aal(), Aal::Aal2);
    // The use is recorded.
    assert!(s.passkeys(&again).await.unwrap()[0].last_used_at.is_some());
    // Replayed: the attempt is spent, and a new attempt has another challenge.
    assert!(matches!(
        s.finish_passwordless_login_to(org, &attempt, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    let (_, second) = s.start_passwordless_login().await.unwrap();
    assert!(matches!(
        s.finish_passwordless_login_to(org, &second, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // An expired attempt.
    let (options, late) = s.start_passwordless_login().await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    clock.advance(authcore::service::PASSKEY_CEREMONY_TTL);
    assert!(matches!(
        s.finish_passwordless_login_to(org, &late, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(
        events(&s, None, |k| matches!(k, AuditKind::PasswordlessRefused)),
        2
    );
    assert_eq!(
        events(&s, Some(person), |k| matches!(
            k,
            AuditKind::CredentialRejected { .. }
        )),
        1
    );
}

async fn another_persons_handle_is_refused<S: Store>(store: S) {
    let (s, _) = service(store);
    let (ada, eve) = (unique("ada"), unique("eve"));
    let (org, _, mut ada_key) = with_key(&s, &ada).await;
    let (_, _, mut eve_key) = with_key(&s, &eve).await;
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let eves: serde_json::Value =
        serde_json::from_str(&eve_key.get(ORIGIN, &options).await.unwrap()).unwrap();
    let mut adas: serde_json::Value =
        serde_json::from_str(&ada_key.get(ORIGIN, &options).await.unwrap()).unwrap();
    // Ada's assertion under Eve's user handle.
    adas["response"]["userHandle"] = eves["response"]["userHandle"].clone();
    assert!(matches!(
        s.finish_passwordless_login_to(org, &attempt, &adas.to_string())
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    // A credential nobody holds.
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let mut stranger = SoftKey::default();
    let mut unknown: serde_json::Value =
        serde_json::from_str(&ada_key.get(ORIGIN, &options).await.unwrap()).unwrap();
    unknown["id"] = "AAAAAAAAAAAAAAAAAAAAAA".into();
    unknown["rawId"] = "AAAAAAAAAAAAAAAAAAAAAA".into();
    let _ = &mut stranger;
    assert!(matches!(
        s.finish_passwordless_login_to(org, &attempt, &unknown.to_string())
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(
        events(&s, None, |k| matches!(k, AuditKind::PasswordlessRefused)),
        2
    );
}

async fn refused_where_passkeys_do_not_count<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let up = s.sign_up(&ada, Password::from(PW)).await.unwrap();
    let org = up.org;
    let grant = sign_in(&s, &clock, org, &ada, None).await;
    let app = enrol(&s, &clock, &grant).await;
    let grant = sign_in(&s, &clock, org, &ada, Some(&app)).await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    let _ = s
        .finish_passkey_registration(&grant, &response)
        .await
        .unwrap();
    let grant = sign_in(&s, &clock, org, &ada, Some(&app)).await;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(
            SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode),
            0,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let refused = s.finish_passwordless_login_to(org, &attempt, &assertion).await;
    assert!(
        matches!(refused, Err(ServiceError::FactorUnavailable)),
        "{refused:?}"
    );
}

async fn refused_for_a_deactivated_member<S: Store>(store: S) {
    let (s, clock) = service(store);
    let (olivia, uma) = (unique("olivia"), unique("uma"));
    let (org, _, okey, og) = with_app(&s, &clock, &olivia).await;
    let new = s.add_member(&og, &uma, Role::User).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(org, &uma, Password::from(temp.as_str()))
        .await
        .unwrap();
    let step = s
        .change_password_at_login(org, &ticket(&step), Password::from(PW))
        .await
        .unwrap();
    let ug = step.into_session().expect("signed in").grant;
    let mut key = SoftKey::default();
    let options = s.start_passkey_registration(&ug, "YubiKey").await.unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    let _ = s.finish_passkey_registration(&ug, &response).await.unwrap();
    s.acknowledge_passkey(&ug).await.unwrap();
    let og = sign_in(&s, &clock, org, &olivia, Some(&okey)).await;
    s.deactivate_member(&og, new.person).await.unwrap();
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let refused = s.finish_passwordless_login_to(org, &attempt, &assertion).await;
    assert!(
        matches!(refused, Err(ServiceError::Deactivated)),
        "{refused:?}"
    );
}

async fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("authcore.db"), keyring())
        .await
        .unwrap();
    (dir, store)
}

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

on_every_store! {
    signs_in_without_a_password => signs_in_without_a_password,
    another_persons_user_handle_is_refused => another_persons_handle_is_refused,
    refused_where_the_organisation_does_not_count_passkeys => refused_where_passkeys_do_not_count,
    refused_for_a_deactivated_member => refused_for_a_deactivated_member,
}

//! Registering a passkey or security key as a second factor of a signed-in person, through the
//! service, against a software authenticator: the full ceremony, the ceremony state spent once,
//! bound to the person and expiring, step-up once the person has a factor, the credential id
//! unique across people, and the refusals audited.
#![cfg(all(feature = "memory", feature = "passkeys"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/soft_key.rs"]
#[allow(dead_code)]
mod soft_key;

use std::sync::Arc;

use authcore::credential::RecoveryParams;
use authcore::credential::password::HashParams;
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{AuditKind, AuthenticatorName, EnrollmentPurpose, PolicyError};
use authcore::service::{PASSKEY_CEREMONY_TTL, PasskeyRegistration};
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{
    Authenticator, Error, Grant, MemoryStore, OrgId, Password, PasswordHasher, ServiceConfig,
    ServiceError, Services,
};
use soft_key::SoftKey;

const T0: u64 = 1_700_000_010;
const ORIGIN: &str = "https://example.com";

type Service = Authenticator<
    Services<MemoryStore, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>,
>;

fn config(passkeys: bool) -> ServiceConfig {
    let builder = ServiceConfig::builder("Example").recovery(
        RecoveryParams::builder()
            .dangerous_argon2(64, 1, 1)
            .build()
            .unwrap(),
    );
    let builder = if passkeys {
        builder.passkeys("example.com", "Example", &[ORIGIN])
    } else {
        builder
    };
    builder.build().unwrap()
}

fn service_with(config: ServiceConfig) -> (Service, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap();
    let backend = Services::new(
        MemoryStore::new(),
        MemoryAuditLog::new(),
        RecordingNotifier::new(),
    )
    .unwrap()
    .with_clock(Arc::clone(&clock))
    .with_hasher(hasher);
    (Authenticator::new(backend, config), clock)
}

fn service() -> (Service, Arc<ManualClock>) {
    service_with(config(true))
}

async fn signed_up(s: &Service, login: &str) -> (OrgId, Grant) {
    let pw = "correct horse battery staple 42";
    let up = s.sign_up(login, Password::from(pw)).await.unwrap();
    let step = s.login_to(up.org, login, Password::from(pw)).await.unwrap();
    (up.org, step.into_session().expect("signed in").grant)
}

fn count(s: &Service, what: fn(&AuditKind) -> bool) -> usize {
    s.backend()
        .audit
        .events()
        .iter()
        .filter(|e| what(&e.what))
        .count()
}

fn refused(k: &AuditKind) -> bool {
    matches!(k, AuditKind::PasskeyRegistrationRefused)
}

#[test]
fn build_refuses_a_wrong_origin_or_rp_id() {
    let bad = |rp: &str, origins: &[&str]| {
        ServiceConfig::builder("Example")
            .passkeys(rp, "Example", origins)
            .build()
            .unwrap_err()
    };
    use authcore::credential::passkey::PasskeyConfigError as E;
    assert_eq!(
        bad("example.com", &["http://example.com"]),
        Error::Passkey(E::Origin)
    );
    assert_eq!(
        bad("example.com", &["https://example.org"]),
        Error::Passkey(E::OriginOutsideRpId)
    );
    assert_eq!(
        bad("https://example.com", &[ORIGIN]),
        Error::Passkey(E::RpId)
    );
    assert_eq!(bad("example.com", &[]), Error::Passkey(E::NoOrigin));
    let good = config(true);
    let rp = good.relying_party().unwrap();
    assert_eq!(rp.id(), "example.com");
    assert!(config(false).relying_party().is_none());
}

#[tokio::test]
async fn a_signed_in_person_registers_a_security_key() {
    let (s, _) = service();
    let (_, grant) = signed_up(&s, "ada@example.com").await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let o: serde_json::Value = serde_json::from_str(&options).unwrap();
    // The options carry a random handle, not the person's id or login.
    let handle = o["publicKey"]["user"]["id"].as_str().unwrap();
    assert!(!handle.contains("ada"));
    assert_eq!(o["publicKey"]["user"]["name"], "ada@example.com");
    let response = key.create(ORIGIN, &options).await.unwrap();
    let registered = s
        .finish_passkey_registration(&grant, &response)
        .await
        .unwrap();
    // Her first factor: recovery codes to acknowledge first, and nothing counts before.
    let PasskeyRegistration::AwaitingAcknowledgement {
        passkey,
        recovery_codes,
    } = registered
    else {
        panic!("expected the recovery codes first, got {registered:?}")
    };
    assert_eq!(
        recovery_codes.len(),
        usize::from(RecoveryParams::default().count())
    );
    assert!(s.passkeys(&grant).await.unwrap().is_empty());
    assert_eq!(
        count(&s, |k| matches!(k, AuditKind::PasskeyRegistered { .. })),
        0
    );
    let info = s.acknowledge_passkey(&grant).await.unwrap();
    assert_eq!(info, passkey);
    assert_eq!(info.name, "YubiKey");
    assert_eq!(info.created_at, T0);
    assert_eq!(info.last_used_at, None);
    assert_eq!(s.passkeys(&grant).await.unwrap(), vec![info]);
    assert_eq!(
        count(&s, |k| matches!(k, AuditKind::PasskeyRegistered { .. })),
        1
    );
    let next = s.start_passkey_registration(&grant, "Laptop").await;
    // A second key needs a fresh AAL2 grant: this one is a password-only session.
    assert!(
        matches!(
            next,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ),
        "{next:?}"
    );
}

#[tokio::test]
async fn the_ceremony_state_is_spent_once() {
    let (s, _) = service();
    let (_, grant) = signed_up(&s, "ada@example.com").await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    // A bad response spends the ceremony too.
    assert!(matches!(
        s.finish_passkey_registration(&grant, "{}").await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(matches!(
        s.finish_passkey_registration(&grant, &response).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(s.passkeys(&grant).await.unwrap().is_empty());
    assert_eq!(count(&s, refused), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_finishing_the_same_ceremony_one_wins() {
    let (s, _) = service();
    let s = Arc::new(s);
    let (_, grant) = signed_up(&s, "ada@example.com").await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = Arc::new(key.create(ORIGIN, &options).await.unwrap());
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (s, response) = (Arc::clone(&s), Arc::clone(&response));
            tokio::spawn(async move { s.finish_passkey_registration(&grant, &response).await })
        })
        .collect();
    let mut wins = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => wins += 1,
            // Lost the ceremony, or found the winner's key (a second key needs step-up).
            Err(ServiceError::InvalidCredentials)
            | Err(ServiceError::Policy(PolicyError::ReauthenticationRequired)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(wins, 1);
    // One passkey waits for its recovery codes' acknowledgement, once.
    s.acknowledge_passkey(&grant).await.unwrap();
    assert_eq!(s.passkeys(&grant).await.unwrap().len(), 1);
    // Acknowledging again: she has a factor now, and nothing waits anyway.
    assert!(matches!(
        s.acknowledge_passkey(&grant).await,
        Err(ServiceError::Policy(
            PolicyError::ReauthenticationRequired | PolicyError::NoEnrollment
        ))
    ));
}

#[tokio::test]
async fn an_expired_ceremony_is_refused() {
    let (s, clock) = service();
    let (_, grant) = signed_up(&s, "ada@example.com").await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    clock.advance(PASSKEY_CEREMONY_TTL);
    assert!(matches!(
        s.finish_passkey_registration(&grant, &response).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(count(&s, refused), 1);
}

#[tokio::test]
async fn a_first_passkey_needs_a_fresh_session_too() {
    let (s, clock) = service();
    let (_, grant) = signed_up(&s, "ada@example.com").await;
    // A session whose password is older than the re-authentication window (left open, or
    // stolen) cannot bind a passkey, which would outlive a password reset.
    clock.advance(authcore::policy::EnrollmentConfig::DEFAULT_REAUTH_MAX_AGE + 1);
    let r = s.start_passkey_registration(&grant, "YubiKey").await;
    assert!(
        matches!(
            r,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn the_ceremony_is_bound_to_the_person() {
    let (s, _) = service();
    let (_, ada) = signed_up(&s, "ada@example.com").await;
    let (_, eve) = signed_up(&s, "eve@example.com").await;
    let mut key = SoftKey::default();
    let options = s.start_passkey_registration(&ada, "YubiKey").await.unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    // Eve presents Ada's ceremony's response: Eve has no ceremony pending.
    assert!(matches!(
        s.finish_passkey_registration(&eve, &response).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // Eve starts her own and answers it with Ada's response: another challenge.
    let _ = s.start_passkey_registration(&eve, "Mine").await.unwrap();
    assert!(matches!(
        s.finish_passkey_registration(&eve, &response).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(s.passkeys(&eve).await.unwrap().is_empty());
    // Ada's ceremony is still hers to finish.
    let _waiting = s
        .finish_passkey_registration(&ada, &response)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_response_from_another_origin_is_refused() {
    let (s, _) = service();
    let (_, grant) = signed_up(&s, "ada@example.com").await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = key
        .create("https://evil.example.com", &options)
        .await
        .unwrap();
    assert!(matches!(
        s.finish_passkey_registration(&grant, &response).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(count(&s, refused), 1);
}

#[tokio::test]
async fn a_person_with_an_app_needs_a_fresh_session() {
    let (s, clock) = service();
    let (org, grant) = signed_up(&s, "ada@example.com").await;
    let setup = s
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let secret = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let code = |now: u64| {
        Totp::new(
            authcore::policy::EnrollmentConfig::default().params(),
            &secret,
        )
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
    };
    s.confirm_enrollment(&grant, &code(clock.now()))
        .await
        .unwrap();
    s.acknowledge_enrollment(&grant).await.unwrap();
    // The password-only grant is not enough now.
    assert!(matches!(
        s.start_passkey_registration(&grant, "YubiKey").await,
        Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
    ));
    // Signed in with the app: allowed.
    clock.advance(30);
    let pw = "correct horse battery staple 42";
    let step = s
        .login_to(org, "ada@example.com", Password::from(pw))
        .await
        .unwrap();
    let ticket = authcore::BearerToken::parse(&step.ticket().unwrap().expose_secret()).unwrap();
    let step = s
        .verify_totp(org, &ticket, &code(clock.now()))
        .await
        .unwrap();
    let fresh = *step.grant().expect("signed in at AAL2");
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&fresh, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    // She has recovery codes from the app: the key counts at once.
    let registered = s
        .finish_passkey_registration(&fresh, &response)
        .await
        .unwrap();
    assert!(matches!(registered, PasskeyRegistration::Registered(_)));
}

#[tokio::test]
async fn names_and_configuration_are_checked() {
    let (s, _) = service_with(config(false));
    let (_, grant) = signed_up(&s, "ada@example.com").await;
    assert!(matches!(
        s.start_passkey_registration(&grant, "YubiKey").await,
        Err(ServiceError::FactorUnavailable)
    ));
    let (s, _) = service();
    let (_, grant) = signed_up(&s, "ada@example.com").await;
    for bad in ["", "   ", "a\u{7}b", &"n".repeat(65)] {
        assert!(matches!(
            s.start_passkey_registration(&grant, bad).await,
            Err(ServiceError::Policy(PolicyError::InvalidName))
        ));
    }
}

#[tokio::test]
async fn a_factor_added_ends_the_other_sessions() {
    let (s, _) = service();
    let (org, grant) = signed_up(&s, "ada@example.com").await;
    let pw = "correct horse battery staple 42";
    let other = s
        .login_to(org, "ada@example.com", Password::from(pw))
        .await
        .unwrap()
        .into_session()
        .unwrap();
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
    // Nothing counts before the recovery codes are acknowledged: nothing ends either.
    s.authenticate(&other.token.expose_secret()).await.unwrap();
    s.acknowledge_passkey(&grant).await.unwrap();
    assert!(matches!(
        s.authenticate(&other.token.expose_secret()).await,
        Err(ServiceError::Session(_))
    ));
    // The session the key was added in stays.
    s.passkeys(&grant).await.unwrap();
}

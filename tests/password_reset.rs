//! The forgotten password, through the service on every store: one answer for every request
//! (unknown login, unverified address, deactivated person, throttled), a single-use expiring
//! link only to a verified address, the password policy before the token is spent, two servers
//! completing one token, no session and no skipped second factor after a reset, every session
//! and remembered device ended, throttling per login name and per requester.
#![cfg(all(feature = "memory", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use authcore::credential::password::HashParams;
use authcore::credential::{KeyId, Keyring, OobConfig, OobKey, RecoveryParams, SealingKey};
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{Aal, Actor, AuditKind, AuthenticatorName, EnrollmentPurpose, ResetRequest};
use authcore::store::{
    AccountTokenPurpose, Delivery, MemoryAuditLog, OobPurpose, RecordingNotifier, RecoverySlot,
    SecurityNotice,
};
use authcore::{
    Authenticator, BearerToken, Grant, LoginStep, LoginStore, MemoryStore, OrgId, Password,
    PasswordHasher, PersonId, ServiceConfig, ServiceError, Services, SqliteStore,
};

const T0: u64 = 1_700_000_010;
const PW: &str = "correct horse battery staple 42";
const NEW_PW: &str = "a brand new passphrase for 2024";

type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

fn service<S: LoginStore>(store: S) -> (Service<S>, Arc<ManualClock>) {
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
        .sms(
            OobConfig::default(),
            OobKey::from_bytes(&[9u8; 32]).unwrap(),
        )
        .build()
        .unwrap();
    let backend = Services::new(store, MemoryAuditLog::new(), RecordingNotifier::new())
        .unwrap()
        .with_clock(Arc::clone(&clock))
        .with_hasher(hasher);
    (Authenticator::new(backend, config), clock)
}

fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[5; 32]).unwrap())
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

/// Signs up `login`, the founding Owner of a new organisation.
async fn founder<S: LoginStore>(s: &Service<S>, login: &str) -> (OrgId, PersonId) {
    let up = s.sign_up(login, Password::from(PW)).await.unwrap();
    (up.org, up.person)
}

/// A new login of `login` in `org`: the password, then a code from `key` if given.
async fn sign_in<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    login: &str,
    key: Option<&SecretKey>,
) -> (Grant, String) {
    clock.advance(30);
    let step = s.login_to(org, login, Password::from(PW)).await.unwrap();
    let step = match key {
        Some(key) => s
            .verify_totp(org, &ticket(&step), &code(key, clock.now()))
            .await
            .unwrap(),
        None => step,
    };
    let opened = step.into_session().expect("signed in");
    (opened.grant, opened.token.expose_secret().to_string())
}

/// Enrols an authenticator app with `grant`; returns its key.
async fn enrol<S: LoginStore>(s: &Service<S>, clock: &ManualClock, grant: &Grant) -> SecretKey {
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

/// Signs `login` in by password, enrols an app, and signs in again with it: the key, and a
/// fresh AAL2 grant and its session token.
async fn with_mfa<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    login: &str,
) -> (SecretKey, Grant, String) {
    let (grant, _) = sign_in(s, clock, org, login, None).await;
    let key = enrol(s, clock, &grant).await;
    let (grant, token) = sign_in(s, clock, org, login, Some(&key)).await;
    assert_eq!(grant.aal(), Aal::Aal2);
    (key, grant, token)
}

async fn bare<S: LoginStore>(s: &Service<S>, person: PersonId) -> bool {
    let store = &s.backend().store;
    let mfa = store.mfa(person).await.unwrap();
    let no_app = mfa
        .as_ref()
        .is_none_or(|m| !m.value.is_active() && m.value.enrollment().is_none());
    let mut no_codes = true;
    for slot in [RecoverySlot::Active, RecoverySlot::Pending] {
        no_codes &= store.recovery_codes(person, slot).await.unwrap().is_none();
    }
    let no_phone = store.person(person).await.unwrap().unwrap().phone.is_none();
    let mut no_challenge = true;
    for purpose in [OobPurpose::SignIn, OobPurpose::VerifyPhone] {
        no_challenge &= store
            .oob_challenge(person, purpose)
            .await
            .unwrap()
            .is_none();
    }
    no_app && no_codes && no_phone && no_challenge
}

fn events<S: LoginStore>(
    s: &Service<S>,
    what: impl Fn(&AuditKind) -> bool,
    subject: PersonId,
) -> Vec<Actor> {
    s.backend()
        .audit
        .events()
        .iter()
        .filter(|e| e.subject == Some(subject) && what(&e.what))
        .map(|e| e.actor)
        .collect()
}

fn notices<S: LoginStore>(s: &Service<S>, person: PersonId, notice: SecurityNotice) -> usize {
    s.backend()
        .notifier
        .deliveries()
        .iter()
        .filter(|d| matches!(d, Delivery::Security { person: p, notice: n } if *p == person && *n == notice))
        .count()
}

/// Signs `login` up and follows the verification link sent at sign-up.
async fn verified<S: LoginStore>(s: &Service<S>, login: &str) -> (OrgId, PersonId) {
    let (org, person) = founder(s, login).await;
    let token = address_token(s, person);
    assert_eq!(s.verify_address(&token).await.unwrap(), person);
    (org, person)
}

fn address_token<S: LoginStore>(s: &Service<S>, person: PersonId) -> BearerToken {
    let text = s
        .backend()
        .notifier
        .take_last_address_token(person)
        .expect("an address link");
    BearerToken::parse(&text).unwrap()
}

fn reset_token<S: LoginStore>(s: &Service<S>, person: PersonId) -> Option<BearerToken> {
    s.backend()
        .notifier
        .take_last_reset_token(person)
        .map(|text| BearerToken::parse(&text).unwrap())
}

/// How many reset links went out, to anyone.
fn reset_mails<S: LoginStore>(s: &Service<S>) -> usize {
    s.backend()
        .notifier
        .deliveries()
        .iter()
        .filter(|d| matches!(d, Delivery::PasswordReset { .. }))
        .count()
}

fn outcomes<S: LoginStore>(s: &Service<S>) -> Vec<(Option<PersonId>, ResetRequest)> {
    s.backend()
        .audit
        .events()
        .iter()
        .filter_map(|e| match e.what {
            AuditKind::PasswordResetRequested { outcome } => Some((e.subject, outcome)),
            _ => None,
        })
        .collect()
}

fn last_outcome<S: LoginStore>(s: &Service<S>) -> (Option<PersonId>, ResetRequest) {
    *outcomes(s).last().expect("an audited request")
}

fn invalid<T: std::fmt::Debug>(result: Result<T, ServiceError>, what: &str) {
    assert!(
        matches!(result, Err(ServiceError::InvalidCredentials)),
        "{what}: {result:?}"
    );
}

const OLIVIA: &str = "olivia@example.com";
const ADA: &str = "ada@example.com";
const NOBODY: &str = "nobody@example.com";

/// The whole story for a person with MFA: the link, a refused password that keeps the token,
/// the reset, the old sessions and remembered device dead, the next login meeting the second
/// factor, the token spent.
async fn reset_happy_path<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = verified(&s, OLIVIA).await;
    let (key, _grant, session) = with_mfa(&s, &clock, org, OLIVIA).await;
    let device = s.remember_device(&session).await.unwrap();
    let device = device.token.expose_secret().to_string();
    let (_, other_session) = sign_in(&s, &clock, org, OLIVIA, Some(&key)).await;

    s.request_password_reset(OLIVIA, "203.0.113.7")
        .await
        .unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert!(s.backend().notifier.deliveries().iter().any(|d| matches!(
        d,
        Delivery::PasswordReset { person, to } if *person == olivia && to.as_str() == OLIVIA
    )));
    let token = reset_token(&s, olivia).expect("a reset link");

    // A password the policy refuses: a typed refusal, and the token still works.
    let refused = s
        .complete_password_reset(&token, Password::from("short"))
        .await;
    assert!(
        matches!(refused, Err(ServiceError::PasswordPolicy(_))),
        "{refused:?}"
    );
    // Nothing changed: the old password and sessions still stand.
    assert!(s.authenticate(&session).await.is_ok());

    s.complete_password_reset(&token, Password::from(NEW_PW))
        .await
        .unwrap();
    // Spent.
    invalid(
        s.complete_password_reset(&token, Password::from("yet another passphrase 99"))
            .await,
        "the token again",
    );
    // Every session and remembered device is gone.
    assert!(s.authenticate(&session).await.is_err());
    assert!(s.authenticate(&other_session).await.is_err());
    // The old password is gone.
    invalid(
        s.login(OLIVIA, Password::from(PW)).await,
        "the old password",
    );
    // The new password reaches the second factor, never a session on its own.
    clock.advance(30);
    let step = s.login(OLIVIA, Password::from(NEW_PW)).await.unwrap();
    assert!(
        matches!(step, LoginStep::SecondFactor { .. }),
        "a reset never skips the second factor: {step:?}"
    );
    invalid(
        s.verify_remembered_device(org, &ticket(&step), &device)
            .await,
        "the remembered device after the reset",
    );
    let step = s.login(OLIVIA, Password::from(NEW_PW)).await.unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &code(&key, clock.now()))
        .await
        .unwrap();
    let opened = step
        .into_session()
        .expect("signed in with the second factor");
    assert_eq!(opened.grant.aal(), Aal::Aal2);

    // Audited and notified.
    assert_eq!(
        events(&s, |k| *k == AuditKind::PasswordReset, olivia),
        vec![Actor::Person(olivia)]
    );
    assert_eq!(notices(&s, olivia, SecurityNotice::PasswordReset), 1);
    assert!(
        !events(
            &s,
            |k| matches!(k, AuditKind::SecurityEpochBumped { .. }),
            olivia
        )
        .is_empty()
    );
}

/// Every request the requester cannot tell apart: unknown login, unverified address,
/// deactivated person, a malformed login. Expired tokens, tokens outlived by a password change
/// or a deactivation.
async fn reset_refusals<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = verified(&s, OLIVIA).await;
    // Ada signs up and never follows her verification link.
    let (_, ada) = founder(&s, ADA).await;
    let before = s.backend().notifier.deliveries().len();

    s.request_password_reset(NOBODY, "ip-1").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    s.request_password_reset("", "ip-1").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    s.request_password_reset(ADA, "ip-1").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(ada), ResetRequest::Unverified));
    // Nothing went out for any of them: the notifier heard nothing.
    assert_eq!(s.backend().notifier.deliveries().len(), before);
    assert!(reset_token(&s, ada).is_none());

    // An unknown token, and an expired one.
    invalid(
        s.complete_password_reset(&BearerToken::generate().unwrap(), Password::from(NEW_PW))
            .await,
        "an unknown token",
    );
    s.request_password_reset(OLIVIA, "ip-2").await.unwrap();
    let expired = reset_token(&s, olivia).unwrap();
    clock.advance(ServiceConfig::DEFAULT_RESET_TTL);
    invalid(
        s.complete_password_reset(&expired, Password::from(NEW_PW))
            .await,
        "an expired token",
    );

    // A token outlived by a password change (the epoch moved on).
    s.request_password_reset(OLIVIA, "ip-2").await.unwrap();
    let outlived = reset_token(&s, olivia).unwrap();
    let (grant, _) = sign_in(&s, &clock, org, OLIVIA, None).await;
    s.change_password(
        &grant,
        Password::from(PW),
        Password::from("changed passphrase 2025"),
    )
    .await
    .unwrap();
    invalid(
        s.complete_password_reset(&outlived, Password::from(NEW_PW))
            .await,
        "a token issued before a password change",
    );

    // A deactivated person gets no link, and a link sent before cannot be used.
    clock.advance(3 * 3600);
    s.request_password_reset(OLIVIA, "ip-3").await.unwrap();
    let before_deactivation = reset_token(&s, olivia).unwrap();
    assert!(
        s.backend()
            .store
            .set_deactivated(olivia, true)
            .await
            .unwrap()
    );
    let mails = reset_mails(&s);
    s.request_password_reset(OLIVIA, "ip-3").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Deactivated));
    assert_eq!(reset_mails(&s), mails);
    invalid(
        s.complete_password_reset(&before_deactivation, Password::from(NEW_PW))
            .await,
        "a deactivated person's token",
    );
    // A reset token is no address-verification token, and the reverse.
    invalid(
        s.verify_address(&before_deactivation).await,
        "a reset token as an address link",
    );
}

/// Per login name (known or not, alike) and per requester.
async fn reset_throttling<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (_, olivia) = verified(&s, OLIVIA).await;

    // Three links at once, then nothing for a while, whoever asks.
    for i in 0..3 {
        s.request_password_reset(OLIVIA, &format!("ip-{i}"))
            .await
            .unwrap();
        assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    }
    s.request_password_reset(OLIVIA, "ip-9").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::Throttled));
    assert_eq!(reset_mails(&s), 3);
    // An unknown login throttles exactly alike.
    for _ in 0..3 {
        s.request_password_reset(NOBODY, "ip-10").await.unwrap();
        assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    }
    s.request_password_reset(NOBODY, "ip-11").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::Throttled));
    // The wait passes: one more link.
    clock.advance(1201);
    s.request_password_reset(OLIVIA, "ip-12").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert_eq!(reset_mails(&s), 4);

    // One requester asking for many logins is stopped, and spends nothing of the logins'
    // budgets once it is.
    clock.advance(2 * 3600);
    for i in 0..11 {
        s.request_password_reset(&format!("someone{i}@example.com"), "ip-greedy")
            .await
            .unwrap();
        assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    }
    s.request_password_reset(OLIVIA, "ip-greedy").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::Throttled));
    assert_eq!(reset_mails(&s), 4);
    // Olivia herself, from elsewhere, still gets her link.
    s.request_password_reset(OLIVIA, "ip-home").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert_eq!(reset_mails(&s), 5);
}

/// Two servers completing one token: one wins. Two links completed at once by the person both
/// work only if each still stands; a reset never leaves a session behind.
async fn reset_races<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (_, olivia) = verified(&s, OLIVIA).await;
    for round in 0..3 {
        s.request_password_reset(OLIVIA, &format!("ip-{round}"))
            .await
            .unwrap();
        let token = reset_token(&s, olivia).unwrap();
        let (a, b) = tokio::join!(
            s.complete_password_reset(&token, Password::from(NEW_PW)),
            s.complete_password_reset(&token, Password::from("the other server's passphrase")),
        );
        assert!(
            matches!(
                (&a, &b),
                (Ok(()), Err(ServiceError::InvalidCredentials))
                    | (Err(ServiceError::InvalidCredentials), Ok(()))
            ),
            "round {round}: {a:?} {b:?}"
        );
    }
    assert_eq!(
        events(&s, |k| *k == AuditKind::PasswordReset, olivia).len(),
        3
    );
    // A reset with the notifier down still stands; the failure is audited, and the link that
    // did not go out is never usable by anyone.
    clock.advance(3 * 3600);
    s.backend().notifier.fail_deliveries(true);
    s.request_password_reset(OLIVIA, "ip-down").await.unwrap();
    s.backend().notifier.fail_deliveries(false);
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert!(reset_token(&s, olivia).is_none());
    assert!(
        s.backend()
            .audit
            .events()
            .iter()
            .any(|e| e.subject == Some(olivia)
                && e.what
                    == AuditKind::NotificationFailed {
                        message: authcore::policy::NotificationKind::PasswordReset
                    })
    );
    let _ = AccountTokenPurpose::PasswordReset;
}

/// A person who lost their phone resets the password and still cannot get past the second
/// factor: the reset does not unlock a locked factor nor clear MFA.
async fn reset_keeps_mfa_and_locks<S: LoginStore>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = verified(&s, OLIVIA).await;
    let (_key, _, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    // Wrong codes until the TOTP counter throttles.
    let mut throttled = false;
    for _ in 0..12 {
        clock.advance(1);
        let step = s.login(OLIVIA, Password::from(PW)).await.unwrap();
        match s.verify_totp(org, &ticket(&step), "000000").await {
            Err(ServiceError::Throttled { .. } | ServiceError::Locked) => {
                throttled = true;
                break;
            }
            Err(_) => {}
            Ok(step) => panic!("a wrong code signed in: {step:?}"),
        }
    }
    assert!(throttled, "the TOTP counter throttles");
    s.request_password_reset(OLIVIA, "ip").await.unwrap();
    let token = reset_token(&s, olivia).unwrap();
    s.complete_password_reset(&token, Password::from(NEW_PW))
        .await
        .unwrap();
    let step = s.login(OLIVIA, Password::from(NEW_PW)).await.unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    let still = s.verify_totp(org, &ticket(&step), "000000").await;
    assert!(
        matches!(
            still,
            Err(ServiceError::Throttled { .. } | ServiceError::Locked)
        ),
        "the reset did not clear the second factor's counter: {still:?}"
    );
    assert!(!bare(&s, olivia).await, "MFA is untouched");
}

async fn scenarios<S: LoginStore + 'static>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    reset_happy_path(new_store).await;
    reset_refusals(new_store).await;
    reset_throttling(new_store).await;
    reset_races(new_store).await;
    reset_keeps_mfa_and_locks(new_store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_on_sqlite() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    scenarios(&move || {
        let dir = Arc::clone(&dir);
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move {
            SqliteStore::open(dir.path().join(format!("s{n}.db")), keyring())
                .await
                .unwrap()
        })
    })
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn password_reset_on_postgres() {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;
    if pg::skip("password_reset_on_postgres") {
        return;
    }
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL").unwrap();
    scenarios(&move || {
        let url = url.clone();
        Box::pin(async move {
            let mut suffix = [0u8; 8];
            getrandom::fill(&mut suffix).unwrap();
            let schema = format!("authcore_reset_{}", u64::from_le_bytes(suffix));
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
    })
    .await;
}

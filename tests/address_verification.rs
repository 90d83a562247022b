//! E-mail verification, through the service on every store: the link sent at sign-up, the setup
//! link counting as verification, resending, and changing the address (step-up, the new address
//! counting for nothing until verified, the old one notified, the login moved atomically, a
//! taken address refused, the sessions ended).
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
    AccountTokenPurpose, Delivery, MemoryAuditLog, RecordingNotifier, SecurityNotice,
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
const NEW: &str = "olivia@new.example.org";

fn address_links<S: LoginStore>(s: &Service<S>, to: &str) -> Vec<AccountTokenPurpose> {
    s.backend()
        .notifier
        .deliveries()
        .iter()
        .filter_map(|d| match d {
            Delivery::AddressVerification { purpose, to: t, .. } if t.as_str() == to => {
                Some(*purpose)
            }
            _ => None,
        })
        .collect()
}

async fn verified_at<S: LoginStore>(s: &Service<S>, person: PersonId) -> Option<u64> {
    s.backend()
        .store
        .person(person)
        .await
        .unwrap()
        .unwrap()
        .address_verified_at
}

/// The link sent at sign-up, used once; an expired one; resending; the setup link counting.
async fn verification<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    assert_eq!(
        address_links(&s, OLIVIA),
        [AccountTokenPurpose::VerifyAddress]
    );
    assert_eq!(verified_at(&s, olivia).await, None);
    // Unverified: no reset link.
    s.request_password_reset(OLIVIA, "ip").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Unverified));
    let token = address_token(&s, olivia);
    assert_eq!(s.verify_address(&token).await.unwrap(), olivia);
    assert_eq!(verified_at(&s, olivia).await, Some(clock.now()));
    invalid(s.verify_address(&token).await, "the link again");
    invalid(
        s.complete_password_reset(&token, Password::from(NEW_PW))
            .await,
        "an address link as a reset token",
    );
    s.request_password_reset(OLIVIA, "ip").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert!(
        events(&s, |k| *k == AuditKind::AddressVerified, olivia).len() == 1,
        "audited once"
    );
    // Verified already: nothing to resend.
    let (grant, _) = sign_in(&s, &clock, org, OLIVIA, None).await;
    assert!(matches!(
        s.send_address_verification(&grant).await,
        Err(ServiceError::AddressAlreadyVerified)
    ));

    // Ada's link expires; she asks for another.
    let (ada_org, ada) = founder(&s, ADA).await;
    let expired = address_token(&s, ada);
    clock.advance(ServiceConfig::DEFAULT_ADDRESS_TTL);
    invalid(s.verify_address(&expired).await, "an expired link");
    assert_eq!(verified_at(&s, ada).await, None);
    let (grant, _) = sign_in(&s, &clock, ada_org, ADA, None).await;
    assert!(
        s.send_address_verification(&grant)
            .await
            .unwrap()
            .is_delivered()
    );
    s.verify_address(&address_token(&s, ada)).await.unwrap();
    assert!(verified_at(&s, ada).await.is_some());

    // A member added by an administrator: completing the setup link verifies the address.
    let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let new = s
        .add_member(&og, "bob@example.com", authcore::policy::Role::User)
        .await
        .unwrap();
    assert_eq!(verified_at(&s, new.person).await, None);
    let setup = s
        .backend()
        .notifier
        .take_last_setup_token(new.person)
        .unwrap();
    s.complete_setup(&BearerToken::parse(&setup).unwrap(), Password::from(PW))
        .await
        .unwrap();
    assert_eq!(verified_at(&s, new.person).await, Some(clock.now()));
    s.request_password_reset("bob@example.com", "ip-bob")
        .await
        .unwrap();
    assert_eq!(last_outcome(&s), (Some(new.person), ResetRequest::Sent));
}

/// Changing the address: step-up, the pending address counts for nothing, the old address is
/// told, the login moves and the sessions end; a taken address.
async fn change_of_address<S: LoginStore>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = verified(&s, OLIVIA).await;
    let (key, grant, _) = with_mfa(&s, &clock, org, OLIVIA).await;

    // Step-up: a grant older than the re-authentication age is refused, and nothing is sent.
    clock.advance(10 * 60);
    let stale = s.change_address(&grant, NEW).await;
    assert!(
        matches!(
            stale,
            Err(ServiceError::Policy(
                authcore::policy::PolicyError::ReauthenticationRequired
            ))
        ),
        "{stale:?}"
    );
    assert!(address_links(&s, NEW).is_empty());
    // Someone else's address, and the current one, are refused.
    let (_, ada) = verified(&s, ADA).await;
    let (grant, session) = sign_in(&s, &clock, org, OLIVIA, Some(&key)).await;
    assert!(matches!(
        s.change_address(&grant, ADA).await,
        Err(ServiceError::LoginTaken)
    ));
    assert!(matches!(
        s.change_address(&grant, OLIVIA).await,
        Err(ServiceError::InvalidLogin)
    ));

    assert!(s.change_address(&grant, NEW).await.unwrap().is_delivered());
    assert_eq!(address_links(&s, NEW), [AccountTokenPurpose::ChangeAddress]);
    assert_eq!(
        notices(&s, olivia, SecurityNotice::AddressChangeRequested),
        1
    );
    // Pending: the new address signs nobody in and gets no reset; the old one still works.
    invalid(
        s.login(NEW, Password::from(PW)).await,
        "the pending address",
    );
    s.request_password_reset(NEW, "ip").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    assert!(s.authenticate(&session).await.is_ok());
    assert_eq!(
        s.backend()
            .store
            .person(olivia)
            .await
            .unwrap()
            .unwrap()
            .login
            .as_str(),
        OLIVIA
    );

    let token = address_token(&s, olivia);
    assert_eq!(s.verify_address(&token).await.unwrap(), olivia);
    let now = s.backend().store.person(olivia).await.unwrap().unwrap();
    assert_eq!(now.login.as_str(), NEW);
    assert_eq!(now.address_verified_at, Some(clock.now()));
    // The old address is told; the sessions ended; the login is the new address, with MFA.
    assert!(s.backend().notifier.deliveries().iter().any(|d| matches!(
        d,
        Delivery::AddressChanged { person, old } if *person == olivia && old.as_str() == OLIVIA
    )));
    assert!(s.authenticate(&session).await.is_err());
    invalid(s.login(OLIVIA, Password::from(PW)).await, "the old address");
    let step = s.login(NEW, Password::from(PW)).await.unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    assert_eq!(
        events(&s, |k| *k == AuditKind::AddressChanged, olivia).len(),
        1
    );
    invalid(s.verify_address(&token).await, "the change link again");
    // The old address is free again; the new one is taken.
    assert!(
        s.backend()
            .store
            .person_by_login(OLIVIA)
            .await
            .unwrap()
            .is_none()
    );

    // A change whose address someone takes before it is verified: refused, nothing moves.
    let (grant, _) = sign_in(&s, &clock, org, NEW, Some(&key)).await;
    let _ = s.change_address(&grant, "taken@example.com").await.unwrap();
    let link = address_token(&s, olivia);
    let _ = founder(&s, "taken@example.com").await;
    assert!(matches!(
        s.verify_address(&link).await,
        Err(ServiceError::LoginTaken)
    ));
    assert_eq!(
        s.backend()
            .store
            .person(olivia)
            .await
            .unwrap()
            .unwrap()
            .login
            .as_str(),
        NEW
    );
    assert_eq!(
        events(&s, |k| *k == AuditKind::AddressChangeRefused, olivia).len(),
        1
    );

    // A change link outlived by a password reset (the epoch moved on) is refused.
    let (grant, _) = sign_in(&s, &clock, org, NEW, Some(&key)).await;
    let _ = s.change_address(&grant, "later@example.com").await.unwrap();
    let outlived = address_token(&s, olivia);
    clock.advance(3 * 3600);
    s.request_password_reset(NEW, "ip-x").await.unwrap();
    let reset = reset_token(&s, olivia).unwrap();
    s.complete_password_reset(&reset, Password::from(NEW_PW))
        .await
        .unwrap();
    invalid(
        s.verify_address(&outlived).await,
        "a change link from before a reset",
    );

    // A person without a second factor steps up with a fresh password sign-in (AAL1).
    let ada_org = s.backend().store.organisations_of(ada).await.unwrap()[0];
    let (ada_grant, _) = sign_in(&s, &clock, ada_org, ADA, None).await;
    assert_eq!(ada_grant.aal(), Aal::Aal1);
    assert!(
        s.change_address(&ada_grant, "ada@new.example.org")
            .await
            .is_ok()
    );
    clock.advance(10 * 60);
    assert!(matches!(
        s.change_address(&ada_grant, "ada@other.example.org").await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::ReauthenticationRequired
        ))
    ));
}

async fn scenarios<S: LoginStore + 'static>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    verification(new_store).await;
    change_of_address(new_store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn address_verification_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn address_verification_on_sqlite() {
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
async fn address_verification_on_postgres() {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;
    if pg::skip("address_verification_on_postgres") {
        return;
    }
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL").unwrap();
    scenarios(&move || {
        let url = url.clone();
        Box::pin(async move {
            let mut suffix = [0u8; 8];
            getrandom::fill(&mut suffix).unwrap();
            let schema = format!("authcore_address_{}", u64::from_le_bytes(suffix));
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

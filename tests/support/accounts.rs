//! The account tests' common ground: the service over any store (weak hashing, SMS on), people
//! signed up and signed in with their factors, and what the audit log and the notifier recorded.
#![allow(dead_code)]

use std::sync::Arc;

use authcore::credential::password::HashParams;
use authcore::credential::{OobConfig, OobKey, RecoveryParams};
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{
    Aal, Actor, AuditKind, AuthenticatorName, EnrollmentPurpose, Organisation, PolicyError,
    ResetRequest, Role, SessionRefused,
};
use authcore::store::{
    Delivery, MemoryAuditLog, OobPurpose, RecordingNotifier, RecoverySlot, SecurityNotice,
};
use authcore::{
    Authenticator, BearerToken, Grant, LoginStep, LoginStore, OrgId, Password, PasswordHasher,
    PersonId, ServiceConfig, ServiceError, Services,
};

pub const T0: u64 = 1_700_000_010;

pub const PW: &str = "correct horse battery staple 42";

pub type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

pub fn service<S: LoginStore>(store: S) -> (Service<S>, Arc<ManualClock>) {
    service_with(store, |config| config)
}

/// [`service`] with more configuration (`configure` gets the builder with weak hashing and SMS
/// set).
pub fn service_with<S: LoginStore>(
    store: S,
    configure: impl FnOnce(authcore::ServiceConfigBuilder) -> authcore::ServiceConfigBuilder,
) -> (Service<S>, Arc<ManualClock>) {
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
        );
    let config = configure(config).build().unwrap();
    let backend = Services::new(store, MemoryAuditLog::new(), RecordingNotifier::new())
        .unwrap()
        .with_clock(Arc::clone(&clock))
        .with_hasher(hasher);
    (Authenticator::new(backend, config), clock)
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

pub fn policy_error<T: std::fmt::Debug>(result: Result<T, ServiceError>, expected: PolicyError) {
    match result {
        Err(ServiceError::Policy(e)) if e == expected => {}
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

/// The session ended: deleted by an epoch bump (`Revoked`) or left at the old epoch.
pub fn ended<T: std::fmt::Debug>(result: Result<T, ServiceError>, what: &str) {
    assert!(
        matches!(
            result,
            Err(ServiceError::Session(
                SessionRefused::Revoked | SessionRefused::StaleEpoch
            ))
        ),
        "{what}: {result:?}"
    );
}

/// Signs up `login`, the founding Owner of a new organisation.
pub async fn founder<S: LoginStore>(s: &Service<S>, login: &str) -> (OrgId, PersonId) {
    let up = s.sign_up(login, Password::from(PW)).await.unwrap();
    (up.org, up.person)
}

/// A new login of `login` in `org`: the password, then a code from `key` if given.
pub async fn sign_in<S: LoginStore>(
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
pub async fn enrol<S: LoginStore>(s: &Service<S>, clock: &ManualClock, grant: &Grant) -> SecretKey {
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
pub async fn with_mfa<S: LoginStore>(
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

/// Adds `login` with `role` and walks them through the temporary password: their id, and the
/// AAL1 grant and token of that first login.
pub async fn add<S: LoginStore>(
    s: &Service<S>,
    grant: &Grant,
    login: &str,
    role: Role,
) -> (PersonId, Grant, String) {
    let new = s.add_member(grant, login, role).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(grant.org(), login, Password::from(temp.as_str()))
        .await
        .unwrap();
    let step = s
        .change_password_at_login(grant.org(), &ticket(&step), Password::from(PW))
        .await
        .unwrap();
    let opened = step.into_session().expect("signed in");
    (
        new.person,
        opened.grant,
        opened.token.expose_secret().to_string(),
    )
}

/// Rewrites the stored organisation with a pure transition (for what the service has no verb
/// for yet: a second Owner, a membership in another organisation).
pub async fn rewrite<S: LoginStore>(
    s: &Service<S>,
    org: OrgId,
    change: impl FnOnce(&Organisation) -> Organisation,
) {
    let store = &s.backend().store;
    let stored = store.organisation(org).await.unwrap().unwrap();
    let next = change(&stored.value);
    assert!(
        store
            .replace_organisation(&next, stored.version)
            .await
            .unwrap()
    );
}

/// Whether `person` has no second factor left in the store: no app, no enrollment, no recovery
/// codes, no phone, no pending out-of-band code.
pub async fn bare<S: LoginStore>(s: &Service<S>, person: PersonId) -> bool {
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

pub fn events<S: LoginStore>(
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

pub fn notices<S: LoginStore>(s: &Service<S>, person: PersonId, notice: SecurityNotice) -> usize {
    s.backend()
        .notifier
        .deliveries()
        .iter()
        .filter(|d| matches!(d, Delivery::Security { person: p, notice: n } if *p == person && *n == notice))
        .count()
}

pub const OLIVIA: &str = "olivia@example.com";

pub const UMA: &str = "uma@example.com";

pub const ADA: &str = "ada@example.com";

pub const BOB: &str = "bob@example.com";

pub fn invalid<T: std::fmt::Debug>(result: Result<T, ServiceError>, what: &str) {
    assert!(
        matches!(result, Err(ServiceError::InvalidCredentials)),
        "{what}: {result:?}"
    );
}

pub const NEW_PW: &str = "a brand new passphrase for 2024";

/// Signs `login` up and follows the verification link sent at sign-up.
pub async fn verified<S: LoginStore>(s: &Service<S>, login: &str) -> (OrgId, PersonId) {
    let (org, person) = founder(s, login).await;
    let token = address_token(s, person);
    assert_eq!(s.verify_address(&token).await.unwrap(), person);
    (org, person)
}

pub fn address_token<S: LoginStore>(s: &Service<S>, person: PersonId) -> BearerToken {
    let text = s
        .backend()
        .notifier
        .take_last_address_token(person)
        .expect("an address link");
    BearerToken::parse(&text).unwrap()
}

pub fn reset_token<S: LoginStore>(s: &Service<S>, person: PersonId) -> Option<BearerToken> {
    s.backend()
        .notifier
        .take_last_reset_token(person)
        .map(|text| BearerToken::parse(&text).unwrap())
}

pub fn outcomes<S: LoginStore>(s: &Service<S>) -> Vec<(Option<PersonId>, ResetRequest)> {
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

pub fn last_outcome<S: LoginStore>(s: &Service<S>) -> (Option<PersonId>, ResetRequest) {
    *outcomes(s).last().expect("an audited request")
}

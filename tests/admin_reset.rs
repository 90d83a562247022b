//! The administrator's verbs on a member's account, through the service on every store.
//!
//! Resetting a member's MFA: who may (an Admin or Owner of the member's organisation, fresh at
//! AAL2, never for themselves, an Owner only by an Owner, and for a member of several
//! organisations only someone who administers each), what it clears (apps, pending enrollment,
//! recovery codes, phone, pending codes), that the member's sessions end, that their next login
//! enrols again and never reaches AAL2 without a new factor, the races, the audit and the
//! notice. Removing a member (activated or not, never the last Owner) and leaving.
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
use authcore::credential::{
    KeyId, Keyring, OobConfig, OobKey, PhoneNumber, RecoveryParams, SealingKey,
};
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{
    Aal, Actor, AuditKind, AuthenticatorName, EnrollmentPurpose, MfaSettings, NotificationKind,
    Organisation, PolicyError, Role, SENSITIVE_ACTION_MAX_AGE, SecondFactors, SessionRefused,
};
use authcore::store::{
    Delivery, MemoryAuditLog, OobPurpose, RecordingNotifier, RecoverySlot, SecurityNotice,
};
use authcore::{
    Authenticator, BearerToken, Grant, LoginStep, LoginStore, MemoryStore, OrgId, Password,
    PasswordHasher, PersonId, ServiceConfig, ServiceError, Services, SqliteStore,
};

const T0: u64 = 1_700_000_010;
const PW: &str = "correct horse battery staple 42";

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

fn policy_error<T: std::fmt::Debug>(result: Result<T, ServiceError>, expected: PolicyError) {
    match result {
        Err(ServiceError::Policy(e)) if e == expected => {}
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

/// The session ended: deleted by an epoch bump (`Revoked`) or left at the old epoch.
fn ended<T: std::fmt::Debug>(result: Result<T, ServiceError>, what: &str) {
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

/// Adds `login` with `role` and walks them through the temporary password: their id, and the
/// AAL1 grant and token of that first login.
async fn add<S: LoginStore>(
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
async fn rewrite<S: LoginStore>(
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

/// `person` joins `org` with `role`, invited by the holder of `inviter` (a grant in `org`).
async fn join<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    inviter: &Grant,
    person: PersonId,
    role: Role,
) {
    let now = clock.now();
    rewrite(s, inviter.org(), |org| {
        let invitation = org.invite(inviter, role, 3_600, now).unwrap().state;
        org.accept_invitation(
            &invitation,
            person,
            authcore::policy::SecondFactors::ALL,
            now,
        )
        .unwrap()
        .state
    })
    .await;
}

/// The holder of `owner` (fresh, AAL2) makes `to` an Owner beside them.
async fn second_owner<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    owner: &Grant,
    to: PersonId,
) {
    let now = clock.now();
    rewrite(s, owner.org(), |org| {
        org.transfer_ownership(owner, to, SecondFactors::EMPTY, Role::Owner, now)
            .unwrap()
            .state
    })
    .await;
}

/// Whether `person` has no second factor left in the store: no app, no enrollment, no recovery
/// codes, no phone, no pending out-of-band code.
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

const OLIVIA: &str = "olivia@example.com";
const UMA: &str = "uma@example.com";
const ADA: &str = "ada@example.com";
const BOB: &str = "bob@example.com";

/// The MFA reset: the happy path in an organisation that enforces MFA, and in one that does not.
async fn reset_happy_paths<S: LoginStore>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    // Uma lost her phone: every factor goes, her sessions end, her next login enrols again.
    {
        let (s, clock) = service(new_store().await);
        let (org, olivia) = founder(&s, OLIVIA).await;
        let (_, og, otoken) = with_mfa(&s, &clock, org, OLIVIA).await;
        let (uma, _, _) = add(&s, &og, UMA, Role::User).await;
        let (ukey, ug, utoken) = with_mfa(&s, &clock, org, UMA).await;
        // A verified phone, and a verification of another number under way.
        s.start_phone_verification(&ug, &PhoneNumber::parse("+15555550100").unwrap())
            .await
            .unwrap();
        let sms = s.backend().notifier.take_last_code(uma).unwrap();
        s.confirm_phone(&ug, &sms).await.unwrap();
        clock.advance(300);
        s.start_phone_verification(&ug, &PhoneNumber::parse("+15555550199").unwrap())
            .await
            .unwrap();
        assert!(!bare(&s, uma).await);
        s.set_mfa_policy(
            &og,
            MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap(),
        )
        .await
        .unwrap();
        assert!(s.authenticate(&utoken).await.is_ok(), "AAL2 with the app");

        s.reset_member_mfa(&og, uma).await.unwrap();

        assert!(bare(&s, uma).await, "every second factor is gone");
        ended(s.authenticate(&utoken).await, "the member's session");
        ended(
            s.start_enrollment(
                &ug,
                EnrollmentPurpose::Add(AuthenticatorName::new("x").unwrap()),
            )
            .await,
            "her grant",
        );
        assert!(
            s.authenticate(&otoken).await.is_ok(),
            "the admin's own session stands"
        );
        let by_olivia = |actors: Vec<Actor>| {
            actors.iter().all(|a| *a == Actor::Person(olivia)) && !actors.is_empty()
        };
        assert_eq!(
            events(&s, |k| *k == AuditKind::MfaReset, uma),
            vec![Actor::Person(olivia)]
        );
        assert!(by_olivia(events(
            &s,
            |k| matches!(k, AuditKind::AuthenticatorRemoved { .. }),
            uma
        )));
        let bumps = events(
            &s,
            |k| matches!(k, AuditKind::SecurityEpochBumped { .. }),
            uma,
        );
        assert!(
            bumps
                .iter()
                .filter(|a| **a == Actor::Person(olivia))
                .count()
                >= 1
        );
        assert_eq!(notices(&s, uma, SecurityNotice::MfaReset), 1);

        // The next login must enrol again: the old app opens nothing, and AAL2 needs the new one.
        clock.advance(30);
        let step = s.login_to(org, UMA, Password::from(PW)).await.unwrap();
        assert!(matches!(step, LoginStep::EnrollMfa { .. }), "{step:?}");
        let t = ticket(&step);
        assert!(
            s.verify_totp(org, &t, &code(&ukey, clock.now()))
                .await
                .is_err()
        );
        // (That spent the ticket: a new login for the enrollment.)
        let step = s.login_to(org, UMA, Password::from(PW)).await.unwrap();
        assert!(matches!(step, LoginStep::EnrollMfa { .. }), "{step:?}");
        let t = ticket(&step);
        let setup = s
            .start_login_enrollment(org, &t, "new phone")
            .await
            .unwrap();
        let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
        clock.advance(30);
        let _codes = s
            .confirm_login_enrollment(org, &t, &code(&key, clock.now()))
            .await
            .unwrap();
        let done = s.acknowledge_login_enrollment(org, &t).await.unwrap();
        let grant = done.grant().expect("signed in after enrolling");
        assert_eq!(grant.aal(), Aal::Aal2, "with the new factor");
    }
    // Where nothing enforces MFA, the next login is a password-only AAL1 session.
    {
        let (s, clock) = service(new_store().await);
        let (org, _) = founder(&s, OLIVIA).await;
        let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
        let (uma, _, _) = add(&s, &og, UMA, Role::User).await;
        let (ukey, _, utoken) = with_mfa(&s, &clock, org, UMA).await;
        s.reset_member_mfa(&og, uma).await.unwrap();
        ended(s.authenticate(&utoken).await, "the member's session");
        assert!(bare(&s, uma).await);
        let (grant, _) = sign_in(&s, &clock, org, UMA, None).await;
        assert_eq!(grant.aal(), Aal::Aal1, "no second factor, no AAL2");
        let _ = ukey;
        // A reset of a member without MFA is harmless.
        s.reset_member_mfa(&og, uma).await.unwrap();
        assert!(bare(&s, uma).await);
    }
}

/// Who may not reset; a refusal changes nothing.
async fn reset_refusals<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    let (okey, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (ada, ada_aal1, _) = add(&s, &og, ADA, Role::Admin).await;
    let (max, max_g, _) = add(&s, &og, "max@example.com", Role::Manager).await;
    let (uma, uma_g, _) = add(&s, &og, UMA, Role::User).await;
    // An Admin at AAL1, a Manager, a User.
    policy_error(
        s.reset_member_mfa(&ada_aal1, uma).await,
        PolicyError::Aal2Required,
    );
    policy_error(
        s.reset_member_mfa(&max_g, uma).await,
        PolicyError::NotPermitted,
    );
    policy_error(
        s.reset_member_mfa(&uma_g, max).await,
        PolicyError::NotPermitted,
    );
    let (_, ag, _) = with_mfa(&s, &clock, org, ADA).await;
    let (_, _, utoken) = with_mfa(&s, &clock, org, UMA).await;
    // Oneself; an Owner by an Admin; someone of no organisation of ours.
    policy_error(
        s.reset_member_mfa(&og, olivia).await,
        PolicyError::CannotActOnSelf,
    );
    policy_error(
        s.reset_member_mfa(&ag, ada).await,
        PolicyError::CannotActOnSelf,
    );
    policy_error(
        s.reset_member_mfa(&ag, olivia).await,
        PolicyError::OwnersOnly,
    );
    let (org_b, _) = founder(&s, BOB).await;
    let (_, bg, _) = with_mfa(&s, &clock, org_b, BOB).await;
    policy_error(s.reset_member_mfa(&bg, uma).await, PolicyError::NotAMember);
    // A grant no longer fresh.
    clock.advance(SENSITIVE_ACTION_MAX_AGE + 1);
    policy_error(
        s.reset_member_mfa(&ag, uma).await,
        PolicyError::ReauthenticationRequired,
    );
    // A grant whose session ended.
    let (og2, otoken2) = sign_in(&s, &clock, org, OLIVIA, Some(&okey)).await;
    s.sign_out_everywhere(&otoken2, false).await.unwrap();
    assert!(matches!(
        s.reset_member_mfa(&og2, uma).await,
        Err(ServiceError::Session(_))
    ));
    assert!(matches!(
        s.reset_member_mfa(&og, uma).await,
        Err(ServiceError::Session(_))
    ));
    // Nothing of Uma's was touched.
    assert!(s.authenticate(&utoken).await.is_ok());
    assert!(
        s.backend()
            .store
            .mfa(uma)
            .await
            .unwrap()
            .unwrap()
            .value
            .is_active()
    );
    assert!(events(&s, |k| *k == AuditKind::MfaReset, uma).is_empty());
    assert_eq!(notices(&s, uma, SecurityNotice::MfaReset), 0);
}

/// An Owner resets another Owner; a member of two organisations is reset only by someone who
/// administers both.
async fn reset_owners_and_other_orgs<S: LoginStore>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (otto, _, _) = add(&s, &og, "otto@example.com", Role::Admin).await;
    let (_, _, otto_token) = with_mfa(&s, &clock, org, "otto@example.com").await;
    second_owner(&s, &clock, &og, otto).await;
    s.reset_member_mfa(&og, otto).await.unwrap();
    ended(
        s.authenticate(&otto_token).await,
        "the other Owner's session",
    );
    assert!(bare(&s, otto).await);

    // Uma belongs to Olivia's organisation and to Bob's.
    let (uma, _, _) = add(&s, &og, UMA, Role::User).await;
    let (_, _, _) = with_mfa(&s, &clock, org, UMA).await;
    let (org_b, bob) = founder(&s, BOB).await;
    let (_, bg, _) = with_mfa(&s, &clock, org_b, BOB).await;
    join(&s, &clock, &bg, uma, Role::User).await;
    policy_error(
        s.reset_member_mfa(&og, uma).await,
        PolicyError::MemberOfAnotherOrganisation,
    );
    policy_error(
        s.reset_member_mfa(&bg, uma).await,
        PolicyError::MemberOfAnotherOrganisation,
    );
    assert!(!bare(&s, uma).await, "refused: nothing removed");
    // Once Olivia administers Bob's organisation too, she may.
    join(&s, &clock, &bg, olivia, Role::Admin).await;
    s.reset_member_mfa(&og, uma).await.unwrap();
    assert!(bare(&s, uma).await);
    let _ = bob;
}

/// Two administrators at once; the member enrolling while being reset; a failed notice.
async fn reset_races<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, _) = founder(&s, OLIVIA).await;
    let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (_, _, _) = add(&s, &og, ADA, Role::Admin).await;
    let (_, ag, _) = with_mfa(&s, &clock, org, ADA).await;
    let (uma, _, _) = add(&s, &og, UMA, Role::User).await;
    let (_, _, _) = with_mfa(&s, &clock, org, UMA).await;
    let (a, b) = tokio::join!(s.reset_member_mfa(&og, uma), s.reset_member_mfa(&ag, uma));
    a.unwrap();
    b.unwrap();
    assert!(bare(&s, uma).await);

    // Uma starts enrolling a new app; the reset takes the enrollment too, and she cannot finish
    // it with her old session or a new one.
    let (ug, _) = sign_in(&s, &clock, org, UMA, None).await;
    let setup = s
        .start_enrollment(
            &ug,
            EnrollmentPurpose::Add(AuthenticatorName::new("new").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    s.reset_member_mfa(&og, uma).await.unwrap();
    assert!(bare(&s, uma).await, "no half-enrolled factor left");
    ended(
        s.confirm_enrollment(&ug, &code(&key, clock.now())).await,
        "her old session",
    );
    let (ug, _) = sign_in(&s, &clock, org, UMA, None).await;
    policy_error(
        s.confirm_enrollment(&ug, &code(&key, clock.now())).await,
        PolicyError::NoEnrollment,
    );

    // The notifier is down: the reset stands, the failure is audited.
    let _ = with_mfa(&s, &clock, org, UMA).await;
    s.backend().notifier.fail_deliveries(true);
    s.reset_member_mfa(&og, uma).await.unwrap();
    s.backend().notifier.fail_deliveries(false);
    assert!(bare(&s, uma).await);
    assert_eq!(
        events(
            &s,
            |k| *k
                == AuditKind::NotificationFailed {
                    message: NotificationKind::SecurityNotice
                },
            uma
        )
        .len(),
        1
    );
}

/// Removing members (activated or not) and leaving; the last Owner is kept.
async fn removal_and_leaving<S: LoginStore>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    let (_, og, otoken) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (ada, _, _) = add(&s, &og, ADA, Role::Admin).await;
    let (_, ag, atoken) = with_mfa(&s, &clock, org, ADA).await;
    let (uma, ug, utoken) = add(&s, &og, UMA, Role::User).await;
    let (lee, lg, ltoken) = add(&s, &og, "lee@example.com", Role::User).await;
    // Refusals.
    policy_error(s.remove_member(&ug, lee).await, PolicyError::NotPermitted);
    policy_error(s.remove_member(&ag, olivia).await, PolicyError::OwnersOnly);
    policy_error(
        s.remove_member(&ag, ada).await,
        PolicyError::CannotActOnSelf,
    );
    policy_error(
        s.remove_member(&og, olivia).await,
        PolicyError::CannotActOnSelf,
    );
    policy_error(s.leave_organisation(&og).await, PolicyError::LastOwner);

    // An activated member: removed, their sessions end, they sign in no more.
    s.remove_member(&ag, uma).await.unwrap();
    ended(
        s.authenticate(&utoken).await,
        "the removed member's session",
    );
    assert!(s.organisation(org).await.unwrap().member(uma).is_none());
    assert_eq!(
        events(&s, |k| *k == AuditKind::MemberRemoved, uma),
        vec![Actor::Person(ada)]
    );
    assert_eq!(
        notices(&s, uma, SecurityNotice::RemovedFromOrganisation { org }),
        1
    );
    clock.advance(30);
    assert!(!matches!(
        s.login_to(org, UMA, Password::from(PW)).await,
        Ok(LoginStep::Granted(_))
    ));
    policy_error(s.remove_member(&ag, uma).await, PolicyError::NotAMember);

    // A member who never chose a password: removed, and their setup link opens nothing.
    let new = s
        .add_member(&og, "pat@example.com", Role::User)
        .await
        .unwrap();
    let link = s
        .backend()
        .notifier
        .take_last_setup_token(new.person)
        .unwrap();
    s.remove_member(&og, new.person).await.unwrap();
    assert!(matches!(
        s.complete_setup(
            &BearerToken::parse(&link).unwrap(),
            Password::from("a brand new passphrase 9")
        )
        .await,
        Err(ServiceError::InvalidCredentials)
    ));

    // A member leaves: their sessions end.
    s.leave_organisation(&lg).await.unwrap();
    ended(s.authenticate(&ltoken).await, "the leaver's session");
    assert_eq!(
        events(&s, |k| *k == AuditKind::MemberLeft, lee),
        vec![Actor::Person(lee)]
    );
    assert_eq!(
        notices(&s, lee, SecurityNotice::LeftOrganisation { org }),
        1
    );

    // With a second Owner, an Owner may go (removed by the other, or leaving); the last stays.
    second_owner(&s, &clock, &og, ada).await;
    s.remove_member(&ag, olivia).await.unwrap();
    ended(s.authenticate(&otoken).await, "the removed Owner's session");
    assert!(s.authenticate(&atoken).await.is_ok());
    policy_error(s.leave_organisation(&ag).await, PolicyError::LastOwner);
    let org_now = s.organisation(org).await.unwrap();
    assert_eq!(org_now.owners().count(), 1);
}

async fn scenarios<S: LoginStore + 'static>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    reset_happy_paths(new_store).await;
    reset_refusals(new_store).await;
    reset_owners_and_other_orgs(new_store).await;
    reset_races(new_store).await;
    removal_and_leaving(new_store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_verbs_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_verbs_on_sqlite() {
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
async fn admin_verbs_on_postgres() {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;
    if pg::skip("admin_verbs_on_postgres") {
        return;
    }
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL").unwrap();
    scenarios(&move || {
        let url = url.clone();
        Box::pin(async move {
            let mut suffix = [0u8; 8];
            getrandom::fill(&mut suffix).unwrap();
            let schema = format!("authcore_admin_{}", u64::from_le_bytes(suffix));
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

//! What happens to a person's passkeys when their MFA ends or their membership does, on every
//! store (memory, SQLite, and PostgreSQL when `AUTHCORE_TEST_POSTGRES_URL` is set), through the
//! service against a software authenticator: MFA turned off and an administrator's MFA reset
//! remove them (audited, sessions ended, never offered again); leaving or being removed from one
//! organisation keeps them, since they are the person's factors in the others too.
#![cfg(all(feature = "memory", feature = "sqlite", feature = "passkeys"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/accounts.rs"]
mod accounts;
#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;
#[path = "support/soft_key.rs"]
#[allow(dead_code)]
mod soft_key;
#[path = "support/passkeys.rs"]
#[macro_use]
mod support;

use authcore::credential::FactorKind;
use authcore::otp::{Clock, ManualClock};
use authcore::policy::{
    Aal, Actor, AuditKind, EnrollmentConfig, MfaSettings, PolicyError, Role, SecondFactors,
    SessionRefused,
};
use authcore::service::{LoginPasskeyEnrollment, PasskeyRegistration};
use authcore::store::{Delivery, PasskeyStore, SecurityNotice};
use authcore::{BearerToken, Grant, LoginStep, OrgId, Password, PersonId, ServiceError};
use soft_key::SoftKey;
use support::*;

fn events<S: Store>(s: &Service<S>, subject: PersonId, what: fn(&AuditKind) -> bool) -> Vec<Actor> {
    s.backend()
        .audit
        .events()
        .iter()
        .filter(|e| e.subject == Some(subject) && what(&e.what))
        .map(|e| e.actor)
        .collect()
}

fn removed(k: &AuditKind) -> bool {
    matches!(k, AuditKind::PasskeyRemoved)
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

/// Registers a security key named `name` with `grant` (which must be fresh once the person has
/// a factor, and whose person already has recovery codes).
async fn register<S: Store>(s: &Service<S>, grant: &Grant, name: &str) -> SoftKey {
    let mut key = SoftKey::default();
    let options = s.start_passkey_registration(grant, name).await.unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    let registered = s
        .finish_passkey_registration(grant, &response)
        .await
        .unwrap();
    assert!(
        matches!(registered, PasskeyRegistration::Registered(_)),
        "{registered:?}"
    );
    key
}

/// A password login of `login` in `org`, then the security key `key`: the grant.
async fn sign_in_with_key<S: Store>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    login: &str,
    key: &mut SoftKey,
) -> Grant {
    clock.advance(30);
    let step = s.login_to(org, login, Password::from(PW)).await.unwrap();
    let t = ticket(&step);
    let options = s.start_passkey_login(org, &t).await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let step = s.finish_passkey_login(org, &t, &assertion).await.unwrap();
    step.into_session().expect("signed in").grant
}

/// The password step offers no passkey (and, without any factor, signs in at once).
async fn not_offered<S: Store>(s: &Service<S>, org: OrgId, login: &str) {
    let step = s.login_to(org, login, Password::from(PW)).await.unwrap();
    if let LoginStep::SecondFactor { factors, .. } = &step {
        assert!(!factors.contains(FactorKind::Passkey), "{factors:?}");
    }
}

async fn mfa_off_removes_passkeys<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, person, key, grant) = with_app(&s, &clock, &ada).await;
    let other = sign_in(&s, &clock, org, &ada, Some(&key)).await;
    let _key = register(&s, &grant, "YubiKey").await;
    let _second = register(&s, &grant, "Laptop").await;
    assert_eq!(s.passkeys(&grant).await.unwrap().len(), 2);
    s.disable_mfa(&grant).await.unwrap();
    assert!(
        PasskeyStore::passkeys(&s.backend().store, person)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        events(&s, person, removed),
        [Actor::Person(person), Actor::Person(person)]
    );
    ended(s.passkeys(&grant).await, "the session that turned MFA off");
    ended(s.passkeys(&other).await, "another session");
    // The next login is the password alone: no passkey is offered.
    let step = s.login_to(org, &ada, Password::from(PW)).await.unwrap();
    assert!(step.grant().is_some(), "{step:?}");
}

async fn reset_removes_passkeys<S: Store>(store: S) {
    let (s, clock) = service(store);
    let (olivia, uma) = (unique("olivia"), unique("uma"));
    let (org, _, okey, og) = with_app(&s, &clock, &olivia).await;
    let new = s.add_member(&og, &uma, Role::User).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(org, &uma, Password::from(temp.as_str()))
        .await
        .unwrap();
    let _ = s
        .change_password_at_login(org, &ticket(&step), Password::from(PW))
        .await
        .unwrap();
    let ug = sign_in(&s, &clock, org, &uma, None).await;
    let ukey = enrol(&s, &clock, &ug).await;
    let ug = sign_in(&s, &clock, org, &uma, Some(&ukey)).await;
    let _key = register(&s, &ug, "YubiKey").await;
    // A registration under way when the reset lands.
    let _ = s.start_passkey_registration(&ug, "Laptop").await.unwrap();
    assert_eq!(s.passkeys(&ug).await.unwrap().len(), 1);
    let og = sign_in(&s, &clock, org, &olivia, Some(&okey)).await;
    s.reset_member_mfa(&og, new.person).await.unwrap();
    assert!(
        PasskeyStore::passkeys(&s.backend().store, new.person)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        events(&s, new.person, removed),
        [Actor::Person(og.person())]
    );
    ended(s.passkeys(&ug).await, "the member's session");
    not_offered(&s, org, &uma).await;
}

async fn leaving_keeps_passkeys<S: Store>(store: S) {
    let (s, clock) = service(store);
    let (olivia, uma) = (unique("olivia"), unique("uma"));
    let (org, _, _, og) = with_app(&s, &clock, &olivia).await;
    // Uma founded her own organisation and joins Olivia's.
    let (uorg, person, _, ug) = with_app(&s, &clock, &uma).await;
    let _key = register(&s, &ug, "YubiKey").await;
    s.invite_member(&og, &uma, Role::User).await.unwrap();
    let token = s
        .backend()
        .notifier
        .take_last_invitation_token(person)
        .unwrap();
    let token = BearerToken::parse(&token).unwrap();
    assert_eq!(s.accept_invitation(&ug, &token).await.unwrap(), org);
    s.remove_member(&og, person).await.unwrap();
    assert_eq!(
        PasskeyStore::passkeys(&s.backend().store, person)
            .await
            .unwrap()
            .len(),
        1,
        "removal from one organisation keeps the person's passkeys"
    );
    assert!(events(&s, person, removed).is_empty());
    ended(s.passkeys(&ug).await, "the removed member's session");
    // Her own organisation still offers her passkey.
    let step = s.login_to(uorg, &uma, Password::from(PW)).await.unwrap();
    match &step {
        LoginStep::SecondFactor { factors, .. } => {
            assert!(factors.contains(FactorKind::Passkey), "{factors:?}");
        }
        other => panic!("expected the second-factor step, got {other:?}"),
    }
}

fn notices<S: Store>(s: &Service<S>, person: PersonId, notice: SecurityNotice) -> usize {
    s.backend()
        .notifier
        .deliveries()
        .iter()
        .filter(|d| matches!(d, Delivery::Security { person: p, notice: n } if *p == person && *n == notice))
        .count()
}

fn policy_error<T: std::fmt::Debug>(result: Result<T, ServiceError>, expected: PolicyError) {
    match result {
        Err(ServiceError::Policy(e)) if e == expected => {}
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

async fn removing_a_passkey<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, person, key, grant) = with_app(&s, &clock, &ada).await;
    let _yubikey = register(&s, &grant, "YubiKey").await;
    let grant = sign_in(&s, &clock, org, &ada, Some(&key)).await;
    let other = sign_in(&s, &clock, org, &ada, Some(&key)).await;
    let listed = s.passkeys(&grant).await.unwrap();
    let id = listed[0].credential_id.clone();
    // An unknown id, and a stale grant.
    policy_error(
        s.remove_passkey(&grant, b"not a credential").await,
        PolicyError::UnknownAuthenticator,
    );
    clock.advance(EnrollmentConfig::DEFAULT_REAUTH_MAX_AGE + 1);
    policy_error(
        s.remove_passkey(&grant, &id).await,
        PolicyError::ReauthenticationRequired,
    );
    assert_eq!(s.passkeys(&grant).await.unwrap().len(), 1);
    let grant = sign_in(&s, &clock, org, &ada, Some(&key)).await;
    s.remove_passkey(&grant, &id).await.unwrap();
    assert!(s.passkeys(&grant).await.unwrap().is_empty());
    assert_eq!(events(&s, person, removed), [Actor::Person(person)]);
    assert_eq!(notices(&s, person, SecurityNotice::PasskeyRemoved), 1);
    ended(s.passkeys(&other).await, "another session");
    // The app and its recovery codes stay; the passkey is not offered again.
    let step = s.login_to(org, &ada, Password::from(PW)).await.unwrap();
    match &step {
        LoginStep::SecondFactor { factors, .. } => {
            assert!(factors.contains(FactorKind::Totp), "{factors:?}");
            assert!(factors.contains(FactorKind::RecoveryCode), "{factors:?}");
            assert!(!factors.contains(FactorKind::Passkey), "{factors:?}");
        }
        other => panic!("expected the second-factor step, got {other:?}"),
    }
    policy_error(
        s.remove_passkey(&grant, &id).await,
        PolicyError::UnknownAuthenticator,
    );
}

/// An organisation that counts only passkeys (and recovery codes beside them).
fn passkeys_only() -> MfaSettings {
    MfaSettings::enforced(
        SecondFactors::of(FactorKind::Passkey).with(FactorKind::RecoveryCode),
        0,
    )
    .unwrap()
}

async fn last_counted_passkey_stays<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, _, key, grant) = with_app(&s, &clock, &ada).await;
    let mut first = register(&s, &grant, "YubiKey").await;
    let _second = register(&s, &grant, "Laptop").await;
    let grant = sign_in(&s, &clock, org, &ada, Some(&key)).await;
    s.set_mfa_policy(&grant, passkeys_only()).await.unwrap();
    let grant = sign_in_with_key(&s, &clock, org, &ada, &mut first).await;
    let listed = s.passkeys(&grant).await.unwrap();
    s.remove_passkey(&grant, &listed[0].credential_id)
        .await
        .unwrap();
    // The app stays, but the organisation does not count it.
    policy_error(
        s.remove_passkey(&grant, &listed[1].credential_id).await,
        PolicyError::RequiredByOrganisation { org },
    );
    assert_eq!(s.passkeys(&grant).await.unwrap().len(), 1);
}

async fn racing_removals_keep_one<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, _, key, grant) = with_app(&s, &clock, &ada).await;
    let mut first = register(&s, &grant, "YubiKey").await;
    let _second = register(&s, &grant, "Laptop").await;
    let grant = sign_in(&s, &clock, org, &ada, Some(&key)).await;
    s.set_mfa_policy(&grant, passkeys_only()).await.unwrap();
    let grant = sign_in_with_key(&s, &clock, org, &ada, &mut first).await;
    let listed = s.passkeys(&grant).await.unwrap();
    let (a, b) = tokio::join!(
        s.remove_passkey(&grant, &listed[0].credential_id),
        s.remove_passkey(&grant, &listed[1].credential_id),
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    assert_eq!(s.passkeys(&grant).await.unwrap().len(), 1);
}

/// The person's passkey and phone are the last two factors the organisation counts (it does not
/// count the app): two servers removing one each, at once, do not both succeed.
async fn racing_removals_of_two_kinds_keep_one<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, person, app, grant) = with_app(&s, &clock, &ada).await;
    let mut key = register(&s, &grant, "YubiKey").await;
    let phone = authcore::credential::PhoneNumber::parse("+1 415 555 2671").unwrap();
    s.start_phone_verification(&grant, &phone).await.unwrap();
    let sent = s
        .backend()
        .notifier
        .take_last_code(person)
        .expect("a verification code");
    s.confirm_phone(&grant, &sent).await.unwrap();
    let grant = sign_in(&s, &clock, org, &ada, Some(&app)).await;
    let counted = SecondFactors::of(FactorKind::Passkey)
        .with(FactorKind::OutOfBandSms)
        .with(FactorKind::RecoveryCode);
    s.set_mfa_policy(&grant, MfaSettings::enforced(counted, 0).unwrap())
        .await
        .unwrap();
    let grant = sign_in_with_key(&s, &clock, org, &ada, &mut key).await;
    let listed = s.passkeys(&grant).await.unwrap();
    let (a, b) = tokio::join!(
        s.remove_passkey(&grant, &listed[0].credential_id),
        s.remove_phone(&grant),
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    let loser = if a.is_ok() { b } else { a };
    assert!(
        matches!(
            loser,
            Err(
                ServiceError::Policy(PolicyError::RequiredByOrganisation { .. })
                    | ServiceError::Session(_)
            )
        ),
        "{loser:?}"
    );
    let passkeys = PasskeyStore::passkeys(&s.backend().store, person)
        .await
        .unwrap()
        .len();
    let phones = usize::from(
        s.backend()
            .store
            .person(person)
            .await
            .unwrap()
            .unwrap()
            .phone
            .is_some(),
    );
    assert_eq!(passkeys + phones, 1, "one counted factor left");
}

/// Signs up `login` (no factor yet): the organisation, the person, the grant and its token.
async fn bare<S: Store>(
    s: &Service<S>,
    clock: &ManualClock,
    login: &str,
) -> (OrgId, PersonId, Grant, String) {
    let up = s.sign_up(login, Password::from(PW)).await.unwrap();
    clock.advance(30);
    let step = s.login_to(up.org, login, Password::from(PW)).await.unwrap();
    let opened = step.into_session().expect("signed in");
    (
        up.org,
        up.person,
        opened.grant,
        opened.token.expose_secret().to_string(),
    )
}

/// Starts and finishes a first passkey's registration: the key and the recovery codes to
/// acknowledge.
async fn first_key<S: Store>(
    s: &Service<S>,
    grant: &Grant,
) -> (SoftKey, authcore::credential::RecoveryCodes) {
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(grant, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    match s
        .finish_passkey_registration(grant, &response)
        .await
        .unwrap()
    {
        PasskeyRegistration::AwaitingAcknowledgement { recovery_codes, .. } => {
            (key, recovery_codes)
        }
        other => panic!("expected the recovery codes first, got {other:?}"),
    }
}

async fn first_passkey_comes_with_recovery_codes<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, person, grant, token) = bare(&s, &clock, &ada).await;
    let other = sign_in(&s, &clock, org, &ada, None).await;
    let (_key, codes) = first_key(&s, &grant).await;
    // Before the acknowledgement the passkey does not count: the password alone signs in, and
    // no session ended.
    assert!(s.passkeys(&grant).await.unwrap().is_empty());
    let step = s.login_to(org, &ada, Password::from(PW)).await.unwrap();
    assert!(step.grant().is_some(), "{step:?}");
    s.passkeys(&other).await.unwrap();
    // Acknowledged in the session: it counts, this session is AAL2, the others ended.
    let (info, opened) = s.acknowledge_passkey_in_session(&token).await.unwrap();
    assert_eq!(info.name, "YubiKey");
    assert_eq!(opened.grant.aal(), Aal::Aal2);
    assert!(
        opened
            .grant
            .factors()
            .contains(authcore::policy::Factor::Second(FactorKind::Passkey))
    );
    ended(s.authenticate(&token).await, "the rotated token");
    ended(s.passkeys(&other).await, "another session");
    assert_eq!(
        events(&s, person, |k| matches!(
            k,
            AuditKind::PasskeyRegistered { .. }
        ))
        .len(),
        1
    );
    // The next login offers the passkey and the recovery codes; a code signs in without the
    // key.
    let step = s.login_to(org, &ada, Password::from(PW)).await.unwrap();
    match &step {
        LoginStep::SecondFactor { factors, .. } => {
            assert!(factors.contains(FactorKind::Passkey), "{factors:?}");
            assert!(factors.contains(FactorKind::RecoveryCode), "{factors:?}");
        }
        other => panic!("expected the second-factor step, got {other:?}"),
    }
    let code = codes.iter().next().unwrap().expose_secret().to_owned();
    let step = s
        .verify_recovery_code(org, &ticket(&step), &code)
        .await
        .unwrap();
    assert_eq!(step.grant().expect("signed in").aal(), Aal::Aal2);
    // The last passkey removed, with no app: the recovery codes issued with it go too, and
    // the password alone signs in again.
    let fresh = step.into_session().expect("signed in").grant;
    s.remove_passkey(&fresh, &info.credential_id).await.unwrap();
    let step = s.login_to(org, &ada, Password::from(PW)).await.unwrap();
    assert_eq!(
        step.grant().expect("no second factor left").aal(),
        Aal::Aal1
    );
}

async fn an_unacknowledged_passkey_lapses<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, _, grant, _) = bare(&s, &clock, &ada).await;
    let _ = first_key(&s, &grant).await;
    clock.advance(EnrollmentConfig::DEFAULT_PENDING_TTL);
    // The session is stale by now too: a fresh one finds nothing waiting.
    policy_error(
        s.acknowledge_passkey(&grant).await,
        PolicyError::ReauthenticationRequired,
    );
    let grant = sign_in(&s, &clock, org, &ada, None).await;
    policy_error(
        s.acknowledge_passkey(&grant).await,
        PolicyError::NoEnrollment,
    );
    assert!(s.passkeys(&grant).await.unwrap().is_empty());
    not_offered(&s, org, &ada).await;
}

/// A passkey never stands in for a factor the person already has: the session left at AAL1
/// when the app was acknowledged, and a fresh session gone stale during the ceremony, cannot
/// add one; a pending login has no session to add one with.
async fn registering_never_skips_a_factor<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, _, grant, _) = bare(&s, &clock, &ada).await;
    let app = enrol(&s, &clock, &grant).await;
    policy_error(
        s.start_passkey_registration(&grant, "YubiKey").await,
        PolicyError::ReauthenticationRequired,
    );
    // A login waiting on the app: the ticket is no grant, and the app is still asked for.
    let step = s.login_to(org, &ada, Password::from(PW)).await.unwrap();
    assert!(step.grant().is_none());
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    let fresh = sign_in(&s, &clock, org, &ada, Some(&app)).await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&fresh, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    clock.advance(EnrollmentConfig::DEFAULT_REAUTH_MAX_AGE + 1);
    policy_error(
        s.finish_passkey_registration(&fresh, &response).await,
        PolicyError::ReauthenticationRequired,
    );
    assert!(s.passkeys(&fresh).await.unwrap().is_empty());
}

async fn mfa_off_takes_a_lone_passkey_and_its_codes<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, person, grant, token) = bare(&s, &clock, &ada).await;
    let _ = first_key(&s, &grant).await;
    let (_, opened) = s.acknowledge_passkey_in_session(&token).await.unwrap();
    // Her recovery codes can be replaced like an app user's.
    let again = s.regenerate_recovery_codes(&opened.grant).await.unwrap();
    assert!(!again.is_empty());
    s.disable_mfa(&opened.grant).await.unwrap();
    assert!(
        PasskeyStore::passkeys(&s.backend().store, person)
            .await
            .unwrap()
            .is_empty()
    );
    for slot in [
        authcore::store::RecoverySlot::Active,
        authcore::store::RecoverySlot::Pending,
    ] {
        assert!(
            s.backend()
                .store
                .recovery_codes(person, slot)
                .await
                .unwrap()
                .is_none()
        );
    }
    let step = s.login_to(org, &ada, Password::from(PW)).await.unwrap();
    assert!(step.grant().is_some(), "{step:?}");
}

/// Adds `login` as a User with `grant` and walks them through the temporary password: the
/// person and the step after the new password.
async fn member<S: Store>(s: &Service<S>, grant: &Grant, login: &str) -> (PersonId, LoginStep) {
    let new = s.add_member(grant, login, Role::User).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(grant.org(), login, Password::from(temp.as_str()))
        .await
        .unwrap();
    let step = s
        .change_password_at_login(grant.org(), &ticket(&step), Password::from(PW))
        .await
        .unwrap();
    (new.person, step)
}

/// Olivia (an app and a security key) makes her organisation count only passkeys; Uma, a
/// member who set up an app before, must enrol a passkey at her next login, after presenting
/// her app; Bob, who joins with no factor, enrols one with recovery codes.
async fn passkeys_enrolled_at_login<S: Store>(store: S) {
    let (s, clock) = service(store);
    let (olivia, uma, bob) = (unique("olivia"), unique("uma"), unique("bob"));
    let (org, _, okey, og) = with_app(&s, &clock, &olivia).await;
    let (_, step) = member(&s, &og, &uma).await;
    let ug = step.into_session().expect("no policy yet").grant;
    let ukey = enrol(&s, &clock, &ug).await;
    let mut key = register(&s, &og, "YubiKey").await;
    let og = sign_in(&s, &clock, org, &olivia, Some(&okey)).await;
    s.set_mfa_policy(&og, passkeys_only()).await.unwrap();
    let og = sign_in_with_key(&s, &clock, org, &olivia, &mut key).await;

    // Uma's app is asked for first: a ticket waiting on it cannot enrol a passkey (and is
    // spent for trying).
    clock.advance(30);
    let step = s.login_to(org, &uma, Password::from(PW)).await.unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    let t = ticket(&step);
    assert!(matches!(
        s.start_login_passkey_registration(org, &t, "YubiKey").await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(matches!(
        s.verify_totp(org, &t, &code(&ukey, clock.now())).await,
        Err(ServiceError::InvalidCredentials)
    ));
    clock.advance(30);
    let step = s.login_to(org, &uma, Password::from(PW)).await.unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &code(&ukey, clock.now()))
        .await
        .unwrap();
    let LoginStep::EnrollMfa { factors, .. } = &step else {
        panic!("expected the enrolment step, got {step:?}")
    };
    assert!(factors.contains(FactorKind::Passkey), "{factors:?}");
    let t = ticket(&step);
    let mut ukey2 = SoftKey::default();
    let options = s
        .start_login_passkey_registration(org, &t, "YubiKey")
        .await
        .unwrap();
    let response = ukey2.create(ORIGIN, &options).await.unwrap();
    let done = s
        .finish_login_passkey_registration(org, &t, &response)
        .await
        .unwrap();
    let LoginPasskeyEnrollment::Done(step) = done else {
        panic!("she had recovery codes: {done:?}")
    };
    let grant = step.into_session().expect("signed in").grant;
    assert_eq!(grant.aal(), Aal::Aal2);
    assert!(
        grant
            .factors()
            .contains(authcore::policy::Factor::Second(FactorKind::Passkey))
    );
    // From now on her passkey signs her in.
    let _ = sign_in_with_key(&s, &clock, org, &uma, &mut ukey2).await;

    // Bob joins with no factor: the enrolment comes with recovery codes.
    let (bob_id, step) = member(&s, &og, &bob).await;
    let LoginStep::EnrollMfa { .. } = &step else {
        panic!("expected the enrolment step, got {step:?}")
    };
    let t = ticket(&step);
    let mut bkey = SoftKey::default();
    let options = s
        .start_login_passkey_registration(org, &t, "Laptop")
        .await
        .unwrap();
    let response = bkey.create(ORIGIN, &options).await.unwrap();
    let waiting = s
        .finish_login_passkey_registration(org, &t, &response)
        .await
        .unwrap();
    assert!(
        matches!(
            waiting,
            LoginPasskeyEnrollment::AwaitingAcknowledgement(
                PasskeyRegistration::AwaitingAcknowledgement { .. }
            )
        ),
        "{waiting:?}"
    );
    assert!(
        PasskeyStore::passkeys(&s.backend().store, bob_id)
            .await
            .unwrap()
            .is_empty()
    );
    let step = s.acknowledge_login_passkey(org, &t).await.unwrap();
    assert_eq!(step.grant().expect("signed in").aal(), Aal::Aal2);
    assert_eq!(
        PasskeyStore::passkeys(&s.backend().store, bob_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Phishing-resistant factors for Admins and Owners: the Owner needs a passkey to ask for it;
/// an Admin whose only factor is an app presents it and then enrols a passkey; a User's app
/// still counts.
async fn phishing_resistance_by_role<S: Store>(store: S) {
    let (s, clock) = service(store);
    let (olivia, ada, uma) = (unique("olivia"), unique("ada"), unique("uma"));
    let (org, _, okey, og) = with_app(&s, &clock, &olivia).await;
    let settings = MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0)
        .unwrap()
        .with_phishing_resistance_from(Role::Admin)
        .unwrap();
    policy_error(
        s.set_mfa_policy(&og, settings).await,
        PolicyError::OwnerNeedsMfa,
    );
    let add = |login: String, role: Role| {
        let s = &s;
        let og = &og;
        let clock = &clock;
        async move {
            let new = s.add_member(og, &login, role).await.unwrap();
            let temp = new.temporary_password.expose_secret().to_owned();
            let step = s
                .login_to(org, &login, Password::from(temp.as_str()))
                .await
                .unwrap();
            let step = s
                .change_password_at_login(org, &ticket(&step), Password::from(PW))
                .await
                .unwrap();
            let grant = step.into_session().expect("no policy yet").grant;
            enrol(s, clock, &grant).await
        }
    };
    let ada_app = add(ada.clone(), Role::Admin).await;
    let uma_app = add(uma.clone(), Role::User).await;
    let mut key = register(&s, &og, "YubiKey").await;
    let og = sign_in(&s, &clock, org, &olivia, Some(&okey)).await;
    s.set_mfa_policy(&og, settings).await.unwrap();
    assert_eq!(
        s.organisation(org)
            .await
            .unwrap()
            .policy()
            .settings()
            .and_then(|s| s.phishing_resistance_from()),
        Some(Role::Admin)
    );
    // The Owner's own app-based session no longer stands; her key signs her in.
    ended_or_mfa(s.passkeys(&og).await);
    let _ = sign_in_with_key(&s, &clock, org, &olivia, &mut key).await;
    // Uma (a User): her app is enough.
    let ug = sign_in(&s, &clock, org, &uma, Some(&uma_app)).await;
    assert_eq!(ug.aal(), Aal::Aal2);
    // Ada (an Admin): her app first, then a passkey.
    clock.advance(30);
    let step = s.login_to(org, &ada, Password::from(PW)).await.unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &code(&ada_app, clock.now()))
        .await
        .unwrap();
    let LoginStep::EnrollMfa { factors, .. } = &step else {
        panic!("expected the enrolment step, got {step:?}")
    };
    assert!(factors.contains(FactorKind::Passkey), "{factors:?}");
    assert!(!factors.contains(FactorKind::Totp), "{factors:?}");
    let t = ticket(&step);
    let mut akey = SoftKey::default();
    let options = s
        .start_login_passkey_registration(org, &t, "YubiKey")
        .await
        .unwrap();
    let response = akey.create(ORIGIN, &options).await.unwrap();
    let LoginPasskeyEnrollment::Done(step) = s
        .finish_login_passkey_registration(org, &t, &response)
        .await
        .unwrap()
    else {
        panic!("she had recovery codes")
    };
    assert!(step.grant().is_some(), "{step:?}");
}

/// A session the organisation's policy no longer admits.
fn ended_or_mfa<T: std::fmt::Debug>(result: Result<T, ServiceError>) {
    assert!(
        matches!(
            result,
            Err(ServiceError::Session(SessionRefused::MfaRequired))
        ),
        "{result:?}"
    );
}

/// A password login of `login` in `org` and the security key `key`: the session's token.
async fn key_session<S: Store>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    login: &str,
    key: &mut SoftKey,
) -> String {
    clock.advance(30);
    let step = s.login_to(org, login, Password::from(PW)).await.unwrap();
    let t = ticket(&step);
    let options = s.start_passkey_login(org, &t).await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let step = s.finish_passkey_login(org, &t, &assertion).await.unwrap();
    step.into_session()
        .expect("signed in")
        .token
        .expose_secret()
        .to_string()
}

async fn passkey_step_up<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, person, _, grant) = with_app(&s, &clock, &ada).await;
    let mut key = register(&s, &grant, "YubiKey").await;
    let token = key_session(&s, &clock, org, &ada, &mut key).await;
    let other = key_session(&s, &clock, org, &ada, &mut key).await;
    clock.advance(EnrollmentConfig::DEFAULT_REAUTH_MAX_AGE + 1);
    let stale = s.authenticate(&token).await.unwrap();
    let id = s.passkeys(&stale).await.unwrap()[0].credential_id.clone();
    policy_error(
        s.remove_passkey(&stale, &id).await,
        PolicyError::ReauthenticationRequired,
    );
    // A wrong password: refused before the key is asked, counted.
    let options = s.start_passkey_reauthentication(&token).await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    assert!(matches!(
        s.reauthenticate_session_with_passkey(
            &token,
            Password::from("not it at all 1234"),
            &assertion
        )
        .await,
        Err(ServiceError::InvalidCredentials)
    ));
    // The ceremony belongs to this session: another session of hers cannot finish it.
    assert!(matches!(
        s.reauthenticate_session_with_passkey(&other, Password::from(PW), &assertion)
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    let opened = s
        .reauthenticate_session_with_passkey(&token, Password::from(PW), &assertion)
        .await
        .unwrap();
    assert_eq!(opened.grant.aal(), Aal::Aal2);
    assert!(
        opened
            .grant
            .factors()
            .contains(authcore::policy::Factor::Second(FactorKind::Passkey))
    );
    ended(s.authenticate(&token).await, "the token before the step-up");
    let new = opened.token.expose_secret().to_string();
    // Replayed on the new token: its ceremony is spent.
    assert!(matches!(
        s.reauthenticate_session_with_passkey(&new, Password::from(PW), &assertion)
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    // Fresh again: the sensitive verb goes through.
    s.remove_passkey(&opened.grant, &id).await.unwrap();
    let rejected = events(&s, person, |k| {
        matches!(
            k,
            AuditKind::CredentialRejected {
                factor: authcore::policy::Factor::Second(FactorKind::Passkey),
                ..
            }
        )
    });
    assert_eq!(rejected.len(), 2);
    // Without a passkey there is nothing to step up with.
    assert!(matches!(
        s.start_passkey_reauthentication(&new).await,
        Err(ServiceError::FactorUnavailable)
    ));
}

async fn pruning_takes_stale_ceremonies<S: Store>(store: S, exact: bool) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (_, _, grant, _) = bare(&s, &clock, &ada).await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    // A live ceremony is never pruned.
    let report = s.prune_expired().await.unwrap();
    if exact {
        assert_eq!(report.passkey_ceremonies, 0);
    }
    clock.advance(authcore::service::PASSKEY_CEREMONY_TTL);
    let report = s.prune_expired().await.unwrap();
    // The PostgreSQL database is shared with other runs: at least this one went.
    if exact {
        assert_eq!(report.passkey_ceremonies, 1);
    } else {
        assert!(report.passkey_ceremonies >= 1, "{report:?}");
    }
    assert!(matches!(
        s.finish_passkey_registration(&grant, &response).await,
        Err(ServiceError::InvalidCredentials)
    ));
}

async fn pruning_exact<S: Store>(store: S) {
    pruning_takes_stale_ceremonies(store, true).await;
}

async fn pruning_shared<S: Store>(store: S) {
    pruning_takes_stale_ceremonies(store, false).await;
}

on_every_store! {
    turning_mfa_off_removes_the_passkeys => mfa_off_removes_passkeys,
    an_admin_reset_removes_the_passkeys => reset_removes_passkeys,
    leaving_an_organisation_keeps_the_passkeys => leaving_keeps_passkeys,
    removing_a_passkey_needs_step_up_and_ends_other_sessions => removing_a_passkey,
    the_last_passkey_an_enforcing_organisation_counts_stays => last_counted_passkey_stays,
    two_removals_racing_for_the_last_two_keep_one => racing_removals_keep_one,
    two_removals_of_different_kinds_racing_for_the_last_two_keep_one => racing_removals_of_two_kinds_keep_one,
    the_first_passkey_comes_with_recovery_codes => first_passkey_comes_with_recovery_codes,
    an_unacknowledged_passkey_lapses => an_unacknowledged_passkey_lapses,
    registering_a_passkey_never_skips_a_factor => registering_never_skips_a_factor,
    turning_mfa_off_takes_a_lone_passkey_and_its_codes => mfa_off_takes_a_lone_passkey_and_its_codes,
    a_passkey_is_enrolled_at_login_after_the_factors_held => passkeys_enrolled_at_login,
    phishing_resistant_factors_for_admins_and_owners => phishing_resistance_by_role,
    a_passkey_steps_a_session_up_and_rotates_its_token => passkey_step_up,
    pruning_takes_the_stale_ceremonies => pruning_shared,
}

#[tokio::test]
async fn pruning_counts_exactly_the_stale_ceremonies() {
    pruning_exact(authcore::MemoryStore::new()).await;
    let (_dir, store) = sqlite().await;
    pruning_exact(store).await;
}

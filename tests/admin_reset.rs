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

#[path = "support/accounts.rs"]
mod accounts;
use accounts::*;
#[path = "support/stores.rs"]
mod stores;
use stores::*;

use std::future::Future;
use std::pin::Pin;

use authcore::credential::PhoneNumber;
use authcore::otp::{Clock, ManualClock, SecretKey};
use authcore::policy::{
    Aal, Actor, AuditKind, AuthenticatorName, EnrollmentPurpose, MfaSettings, NotificationKind,
    PolicyError, Role, SENSITIVE_ACTION_MAX_AGE, SecondFactors,
};
use authcore::store::SecurityNotice;
use authcore::{
    BearerToken, Grant, LoginStep, LoginStore, MemoryStore, Password, PersonId, ServiceError,
};

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

/// The MFA reset: the happy path in an organisation that enforces MFA, and in one that does not.
async fn reset_happy_paths<S: LoginStore>(new_store: &NewStore<S>) {
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
async fn reset_owners_and_other_orgs<S: LoginStore>(new_store: &NewStore<S>) {
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
async fn removal_and_leaving<S: LoginStore>(new_store: &NewStore<S>) {
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

async fn scenarios<S: LoginStore + 'static>(new_store: &NewStore<S>) {
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
    scenarios(&sqlite_stores()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn admin_verbs_on_postgres() {
    if pg::skip("admin_verbs_on_postgres") {
        return;
    }
    scenarios(&postgres_stores("authcore_admin")).await;
}

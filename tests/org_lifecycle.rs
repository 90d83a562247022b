//! The member lifecycle and the organisation's MFA policy, through the service on every store.
//!
//! Invitations: accepted only by the invitee's own session (someone else's attempt leaves it
//! usable), once, before expiry, while the inviter may still grant the role; capped by the
//! inviter's role; an enforcing organisation asks for the invitee's MFA first (the invitation
//! stays); a login nobody holds gets the same answer and nothing is sent; two accepts at once,
//! one wins; expired ones pruned. Ownership offered then accepted: the target's MFA, someone
//! else, a lapsed offer, a maker no longer Owner, and the happy path. Reminders: each once, two
//! runs at once, a failed delivery audited. Tightening recomputes deadlines and never extends
//! them. While MFA is enforced nobody removes their last factor, and the first factor can
//! always be enrolled.
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

use authcore::credential::{FactorKind, PhoneNumber};
use authcore::otp::{Clock, ManualClock, SecretKey};
use authcore::policy::{
    Aal, AuditKind, EnrollmentDemand, MfaSettings, NotificationKind, Organisation, OwnershipOffer,
    PolicyError, Role, SecondFactors,
};
use authcore::store::Delivery;
use authcore::{
    BearerToken, Grant, LoginStep, LoginStore, MemoryStore, OrgId, Password, PersonId,
    ServiceConfig, ServiceError,
};

/// The holder of `owner` (fresh, AAL2) makes `to` (who has an app) an Owner beside them.
async fn second_owner<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    owner: &Grant,
    to: PersonId,
) {
    let now = clock.now();
    rewrite(s, owner.org(), |org| {
        org.transfer_ownership(
            owner,
            to,
            SecondFactors::of(FactorKind::Totp),
            Role::Owner,
            now,
        )
        .unwrap()
        .state
    })
    .await;
}

const DAY: u64 = 24 * 60 * 60;
const EVE: &str = "eve@example.com";

fn deliveries<S: LoginStore>(s: &Service<S>) -> Vec<Delivery> {
    s.backend().notifier.deliveries()
}

fn invitations_to<S: LoginStore>(s: &Service<S>, person: PersonId) -> usize {
    deliveries(s)
        .iter()
        .filter(|d| matches!(d, Delivery::Invitation { person: p, .. } if *p == person))
        .count()
}

fn reminders_to<S: LoginStore>(s: &Service<S>, person: PersonId) -> usize {
    deliveries(s)
        .iter()
        .filter(|d| matches!(d, Delivery::MfaReminder { person: p, .. } if *p == person))
        .count()
}

/// The invitation token last delivered to `person`.
fn invitation_token<S: LoginStore>(s: &Service<S>, person: PersonId) -> BearerToken {
    let token = s
        .backend()
        .notifier
        .take_last_invitation_token(person)
        .expect("an invitation was delivered");
    BearerToken::parse(&token).unwrap()
}

fn role_in(org: &Organisation, person: PersonId) -> Option<Role> {
    org.member(person).map(|m| m.role())
}

fn enforced(grace: u64) -> MfaSettings {
    MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, grace).unwrap()
}

/// Invitations: who may accept, once, before expiry, while the inviter stands; the role cap;
/// a login nobody holds.
async fn invitations<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    let (okey, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (ada, _, _) = add(&s, &og, ADA, Role::Admin).await;
    let (akey, ag, _) = with_mfa(&s, &clock, org, ADA).await;
    let (org_b, bob) = founder(&s, BOB).await;
    let (org_e, eve) = founder(&s, EVE).await;
    let (bg, _) = sign_in(&s, &clock, org_b, BOB, None).await;
    let (eg, _) = sign_in(&s, &clock, org_e, EVE, None).await;

    // An Admin cannot invite an Owner (nor above their own role): nothing stored or sent.
    let before = deliveries(&s).len();
    assert!(matches!(
        s.invite_member(&ag, BOB, Role::Owner).await,
        Err(ServiceError::Policy(_))
    ));
    assert!(matches!(
        s.invite_member(&og, BOB, Role::Owner).await,
        Err(ServiceError::Policy(_))
    ));
    assert_eq!(deliveries(&s).len(), before);

    // A login nobody holds: the same answer, nothing sent, the attempt audited without subject.
    let invited_before = s
        .backend()
        .audit
        .events()
        .iter()
        .filter(|e| matches!(e.what, AuditKind::Invited { .. }) && e.subject.is_none())
        .count();
    s.invite_member(&ag, "nobody@example.com", Role::User)
        .await
        .unwrap();
    assert_eq!(deliveries(&s).len(), before, "nothing sent");
    let invited_after = s
        .backend()
        .audit
        .events()
        .iter()
        .filter(|e| matches!(e.what, AuditKind::Invited { .. }) && e.subject.is_none())
        .count();
    assert_eq!(invited_after, invited_before + 1);

    // Ada invites Bob. Eve holds his token: refused, opaque, and Bob's invitation is untouched.
    s.invite_member(&ag, BOB, Role::User).await.unwrap();
    assert_eq!(invitations_to(&s, bob), 1);
    let token = invitation_token(&s, bob);
    invalid(
        s.accept_invitation(&eg, &token).await,
        "someone else's invitation",
    );
    assert!(s.organisation(org).await.unwrap().member(eve).is_none());
    assert_eq!(s.accept_invitation(&bg, &token).await.unwrap(), org);
    assert_eq!(
        role_in(&s.organisation(org).await.unwrap(), bob),
        Some(Role::User)
    );
    // Used once.
    invalid(
        s.accept_invitation(&bg, &token).await,
        "a reused invitation",
    );
    // Already a member: said to the inviter (the roster is theirs to see).
    policy_error(
        s.invite_member(&ag, BOB, Role::User).await,
        PolicyError::AlreadyMember,
    );
    // A forged token.
    invalid(
        s.accept_invitation(&eg, &BearerToken::generate().unwrap())
            .await,
        "an unknown token",
    );

    // Expired: Eve's invitation outlives its 7 days.
    s.invite_member(&ag, EVE, Role::User).await.unwrap();
    let token = invitation_token(&s, eve);
    clock.advance(ServiceConfig::DEFAULT_INVITATION_TTL);
    let (eg, _) = sign_in(&s, &clock, org_e, EVE, None).await;
    invalid(
        s.accept_invitation(&eg, &token).await,
        "an expired invitation",
    );
    assert!(s.organisation(org).await.unwrap().member(eve).is_none());

    // The inviter demoted meanwhile: refused, and the invitation is spent (a later promotion
    // does not revive it).
    let (ag, _) = sign_in(&s, &clock, org, ADA, Some(&akey)).await;
    s.invite_member(&ag, EVE, Role::User).await.unwrap();
    let token = invitation_token(&s, eve);
    let (og, _) = sign_in(&s, &clock, org, OLIVIA, Some(&okey)).await;
    s.change_role(&og, ada, Role::User).await.unwrap();
    let (eg, _) = sign_in(&s, &clock, org_e, EVE, None).await;
    policy_error(
        s.accept_invitation(&eg, &token).await,
        PolicyError::InvitationInvalid,
    );
    s.change_role(&og, ada, Role::Admin).await.unwrap();
    invalid(
        s.accept_invitation(&eg, &token).await,
        "an invitation refused once",
    );
    assert!(s.organisation(org).await.unwrap().member(eve).is_none());

    // The inviter removed meanwhile.
    let (ag, atoken) = sign_in(&s, &clock, org, ADA, Some(&akey)).await;
    s.invite_member(&ag, EVE, Role::Manager).await.unwrap();
    let token = invitation_token(&s, eve);
    s.remove_member(&og, ada).await.unwrap();
    ended(
        s.authenticate(&atoken).await,
        "the removed inviter's session",
    );
    policy_error(
        s.accept_invitation(&eg, &token).await,
        PolicyError::InvitationInvalid,
    );
    assert!(s.organisation(org).await.unwrap().member(eve).is_none());

    // The inviter deactivated meanwhile.
    let (og, _) = sign_in(&s, &clock, org, OLIVIA, Some(&okey)).await;
    let (dan, _, _) = add(&s, &og, "dan@example.com", Role::Admin).await;
    let (_, dg, _) = with_mfa(&s, &clock, org, "dan@example.com").await;
    s.invite_member(&dg, EVE, Role::User).await.unwrap();
    let token = invitation_token(&s, eve);
    let (og, _) = sign_in(&s, &clock, org, OLIVIA, Some(&okey)).await;
    s.deactivate_member(&og, dan).await.unwrap();
    policy_error(
        s.accept_invitation(&eg, &token).await,
        PolicyError::InvitationInvalid,
    );
    assert!(s.organisation(org).await.unwrap().member(eve).is_none());

    // The Owner's own invitation.
    s.invite_member(&og, EVE, Role::Admin).await.unwrap();
    let token = invitation_token(&s, eve);
    assert_eq!(s.accept_invitation(&eg, &token).await.unwrap(), org);
    assert_eq!(
        role_in(&s.organisation(org).await.unwrap(), eve),
        Some(Role::Admin)
    );
    let _ = olivia;
}

/// An enforcing organisation asks for the invitee's MFA first (the invitation stays); two
/// accepts at once; expired invitations pruned.
async fn invitations_enforced_and_raced<S: LoginStore>(new_store: &NewStore<S>) {
    let (s, clock) = service(new_store().await);
    let (org, _) = founder(&s, OLIVIA).await;
    let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    s.set_mfa_policy(&og, enforced(0)).await.unwrap();
    let (org_b, bob) = founder(&s, BOB).await;
    let (bg, _) = sign_in(&s, &clock, org_b, BOB, None).await;
    s.invite_member(&og, BOB, Role::User).await.unwrap();
    let token = invitation_token(&s, bob);
    policy_error(
        s.accept_invitation(&bg, &token).await,
        PolicyError::EnrollMfaFirst,
    );
    assert!(s.organisation(org).await.unwrap().member(bob).is_none());
    // Bob enrols an app in his own organisation; the same invitation now lets him in.
    let key = enrol(&s, &clock, &bg).await;
    let (bg, _) = sign_in(&s, &clock, org_b, BOB, Some(&key)).await;
    assert_eq!(s.accept_invitation(&bg, &token).await.unwrap(), org);
    assert_eq!(
        role_in(&s.organisation(org).await.unwrap(), bob),
        Some(Role::User)
    );
    // And he signs in there with his app.
    let (b_in_org, _) = sign_in(&s, &clock, org, BOB, Some(&key)).await;
    assert_eq!(b_in_org.aal(), Aal::Aal2);

    // Two accepts of one invitation at once: one wins, the other is refused.
    let (org_e, eve) = founder(&s, EVE).await;
    let (_, eg, _) = with_mfa(&s, &clock, org_e, EVE).await;
    s.invite_member(&og, EVE, Role::User).await.unwrap();
    let token = invitation_token(&s, eve);
    let (a, b) = tokio::join!(
        s.accept_invitation(&eg, &token),
        s.accept_invitation(&eg, &token)
    );
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    for r in [a, b] {
        // The loser lost the invitation (spent by the winner) or, if the winner had already
        // joined when it looked, is told Eve is a member now: either way it joins nobody.
        if r.is_err() && !matches!(r, Err(ServiceError::Policy(PolicyError::AlreadyMember))) {
            invalid(r, "the losing accept");
        }
    }
    let joined = s.organisation(org).await.unwrap();
    assert_eq!(
        joined
            .members()
            .iter()
            .filter(|m| m.person() == eve)
            .count(),
        1
    );

    // Expired invitations are pruned, once.
    let (_, carl) = founder(&s, "carl@example.com").await;
    s.invite_member(&og, "carl@example.com", Role::User)
        .await
        .unwrap();
    let _ = invitation_token(&s, carl);
    // A login nobody holds: the same store calls (a decoy row nobody can take), nothing sent.
    let sent = deliveries(&s).len();
    s.invite_member(&og, "nobody@example.com", Role::User)
        .await
        .unwrap();
    assert_eq!(deliveries(&s).len(), sent);
    assert_eq!(
        s.prune_expired().await.unwrap().invitations,
        0,
        "still live"
    );
    clock.advance(ServiceConfig::DEFAULT_INVITATION_TTL);
    assert_eq!(
        s.prune_expired().await.unwrap().invitations,
        2,
        "Carl's and the decoy"
    );
    assert_eq!(s.prune_expired().await.unwrap().invitations, 0);
}

/// Ownership offered then accepted.
async fn ownership<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    let (okey, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (ada, ada_aal1, _) = add(&s, &og, ADA, Role::Admin).await;
    let (uma, ug, _) = add(&s, &og, UMA, Role::User).await;
    let (otto, _, _) = add(&s, &og, "otto@example.com", Role::Admin).await;
    let (tkey, _, _) = with_mfa(&s, &clock, org, "otto@example.com").await;
    s.set_mfa_policy(&og, enforced(30 * DAY)).await.unwrap();
    // Not to someone without MFA while enforced.
    policy_error(
        s.offer_ownership(&og, ada).await,
        PolicyError::TargetNeedsMfa,
    );
    assert!(
        s.organisation(org)
            .await
            .unwrap()
            .ownership_offer()
            .is_none()
    );
    let akey = enrol(&s, &clock, &ada_aal1).await;
    let (og, _) = sign_in(&s, &clock, org, OLIVIA, Some(&okey)).await;
    s.offer_ownership(&og, ada).await.unwrap();
    // Another member cannot take it.
    policy_error(s.accept_ownership(&ug).await, PolicyError::NoOwnershipOffer);
    // Lapsed.
    clock.advance(OwnershipOffer::TTL);
    let (ag, _) = sign_in(&s, &clock, org, ADA, Some(&akey)).await;
    policy_error(s.accept_ownership(&ag).await, PolicyError::NoOwnershipOffer);
    let stored = s.organisation(org).await.unwrap();
    assert_eq!(role_in(&stored, ada), Some(Role::Admin));
    assert_eq!(role_in(&stored, olivia), Some(Role::Owner));

    // The maker is no longer an Owner when it is accepted.
    let (og, _) = sign_in(&s, &clock, org, OLIVIA, Some(&okey)).await;
    second_owner(&s, &clock, &og, otto).await;
    s.offer_ownership(&og, ada).await.unwrap();
    let (tg, _) = sign_in(&s, &clock, org, "otto@example.com", Some(&tkey)).await;
    s.change_role(&tg, olivia, Role::Admin).await.unwrap();
    let (ag, _) = sign_in(&s, &clock, org, ADA, Some(&akey)).await;
    policy_error(s.accept_ownership(&ag).await, PolicyError::NoOwnershipOffer);
    assert_eq!(
        role_in(&s.organisation(org).await.unwrap(), ada),
        Some(Role::Admin)
    );

    // The happy path: Otto offers, Ada accepts; Otto steps down to Admin, an Owner always.
    s.offer_ownership(&tg, ada).await.unwrap();
    let (ag, _) = sign_in(&s, &clock, org, ADA, Some(&akey)).await;
    s.accept_ownership(&ag).await.unwrap();
    let stored = s.organisation(org).await.unwrap();
    assert_eq!(role_in(&stored, ada), Some(Role::Owner));
    assert_eq!(role_in(&stored, otto), Some(Role::Admin));
    assert_eq!(stored.owners().count(), 1);
    assert!(stored.ownership_offer().is_none());
    assert!(s.backend().audit.events().iter().any(
        |e| e.subject == Some(ada) && e.what == AuditKind::OwnershipTransferred { from: otto }
    ));
    // Spent: accepting again changes nothing.
    policy_error(s.accept_ownership(&ag).await, PolicyError::NoOwnershipOffer);
    let _ = uma;
}

/// Reminders: each once, two runs at once, a failed delivery audited and not counted.
async fn reminders<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (uma, _, _) = add(&s, &og, UMA, Role::User).await;
    let (lee, _, _) = add(&s, &og, "lee@example.com", Role::User).await;
    let (pat, pat_g, _) = add(&s, &og, "pat@example.com", Role::User).await;
    let settings = enforced(30 * DAY).with_reminders(&[7 * DAY, DAY]).unwrap();
    s.set_mfa_policy(&og, settings).await.unwrap();
    let deadline = s
        .organisation(org)
        .await
        .unwrap()
        .mfa_deadline(uma)
        .unwrap();
    assert_eq!(s.send_mfa_reminders().await.unwrap(), 0, "none due yet");
    // Pat enrols: no reminder for him.
    let _ = enrol(&s, &clock, &pat_g).await;

    // Seven days ahead, two servers at once: each member reminded once.
    clock.set(deadline - 7 * DAY);
    let (a, b) = tokio::join!(s.send_mfa_reminders(), s.send_mfa_reminders());
    assert_eq!(a.unwrap() + b.unwrap(), 2);
    assert_eq!(reminders_to(&s, uma), 1);
    assert_eq!(reminders_to(&s, lee), 1);
    assert_eq!(reminders_to(&s, pat), 0, "he has a factor");
    assert_eq!(reminders_to(&s, olivia), 0);
    assert_eq!(s.send_mfa_reminders().await.unwrap(), 0, "sent once");
    clock.advance(DAY);
    assert_eq!(s.send_mfa_reminders().await.unwrap(), 0);

    // The day before, the notifier down: audited, not counted, not sent again.
    clock.set(deadline - DAY);
    s.backend().notifier.fail_deliveries(true);
    assert_eq!(s.send_mfa_reminders().await.unwrap(), 0);
    s.backend().notifier.fail_deliveries(false);
    let failed = |p: PersonId| {
        s.backend()
            .audit
            .events()
            .iter()
            .filter(|e| {
                e.subject == Some(p)
                    && e.what
                        == AuditKind::NotificationFailed {
                            message: NotificationKind::MfaReminder,
                        }
            })
            .count()
    };
    assert_eq!(failed(uma), 1);
    assert_eq!(failed(lee), 1);
    assert_eq!(s.send_mfa_reminders().await.unwrap(), 0, "at most once");
    assert_eq!(reminders_to(&s, uma), 1);
    // Past the deadline nothing more goes out.
    clock.set(deadline + 1);
    assert_eq!(s.send_mfa_reminders().await.unwrap(), 0);
}

/// Tightening the policy recomputes the stored deadlines and never extends them.
async fn tightening<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, _) = founder(&s, OLIVIA).await;
    let (okey, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (uma, _, _) = add(&s, &og, UMA, Role::User).await;
    let (ada, _, _) = add(&s, &og, ADA, Role::Admin).await;
    s.set_mfa_policy(&og, enforced(30 * DAY)).await.unwrap();
    let from = clock.now();
    let deadline = |o: &Organisation, p| o.mfa_deadline(p).unwrap();
    let stored = s.organisation(org).await.unwrap();
    assert_eq!(deadline(&stored, uma), from + 30 * DAY);
    assert_eq!(deadline(&stored, ada), from + 30 * DAY);
    clock.advance(DAY);
    let (og, _) = sign_in(&s, &clock, org, OLIVIA, Some(&okey)).await;
    s.set_mfa_policy(&og, enforced(7 * DAY)).await.unwrap();
    let stored = s.organisation(org).await.unwrap();
    assert_eq!(deadline(&stored, uma), from + 7 * DAY, "recomputed earlier");
    // Loosening never moves them later.
    s.set_mfa_policy(&og, enforced(60 * DAY)).await.unwrap();
    let stored = s.organisation(org).await.unwrap();
    assert_eq!(deadline(&stored, uma), from + 7 * DAY);
    assert_eq!(deadline(&stored, ada), from + 7 * DAY);
    // Per role: Admins at once (from when they became subject); the rest keep theirs.
    let settings = enforced(60 * DAY).with_grace_from(Role::Admin, 0).unwrap();
    s.set_mfa_policy(&og, settings).await.unwrap();
    let stored = s.organisation(org).await.unwrap();
    assert_eq!(deadline(&stored, ada), from);
    assert_eq!(deadline(&stored, uma), from + 7 * DAY);
    // A promotion brings Uma's deadline forward; the demotion after it never pushes it back.
    s.change_role(&og, uma, Role::Admin).await.unwrap();
    assert_eq!(deadline(&s.organisation(org).await.unwrap(), uma), from);
    s.change_role(&og, uma, Role::User).await.unwrap();
    assert_eq!(deadline(&s.organisation(org).await.unwrap(), uma), from);
    // Ada, past her deadline without MFA, must enrol at her next login.
    let step = s.login_to(org, ADA, Password::from(PW)).await.unwrap();
    assert!(matches!(step, LoginStep::EnrollMfa { .. }), "{step:?}");
}

/// While MFA is enforced nobody removes their last factor; the first factor can always be
/// enrolled, even past the deadline, through the login's enrollment steps.
async fn last_factor_and_first_enrolment<S: LoginStore>(new_store: &NewStore<S>) {
    let (s, clock) = service(new_store().await);
    let (org, _) = founder(&s, OLIVIA).await;
    let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let (uma, _, _) = add(&s, &og, UMA, Role::User).await;
    let (lee, lg, _) = add(&s, &og, "lee@example.com", Role::User).await;
    let (kim, _, kim_token) = add(&s, &og, "kim@example.com", Role::User).await;
    // Lee's only factor is a verified phone.
    s.start_phone_verification(&lg, &PhoneNumber::parse("+15555550100").unwrap())
        .await
        .unwrap();
    let sms = s.backend().notifier.take_last_code(lee).unwrap();
    s.confirm_phone(&lg, &sms).await.unwrap();
    let (_, ug, _) = with_mfa(&s, &clock, org, UMA).await;
    let counted = MfaSettings::DEFAULT_FACTORS.with(FactorKind::OutOfBandSms);
    s.set_mfa_policy(&og, MfaSettings::enforced(counted, 0).unwrap())
        .await
        .unwrap();

    // The sole Owner, and a member, cannot turn their MFA off.
    policy_error(
        s.disable_mfa(&og).await,
        PolicyError::SoleOwnerOfEnforcingOrganisation { org },
    );
    policy_error(
        s.disable_mfa(&ug).await,
        PolicyError::RequiredByOrganisation { org },
    );
    let active = |m: Option<authcore::store::Versioned<authcore::policy::Mfa>>| {
        m.is_some_and(|m| m.value.is_active())
    };
    assert!(active(s.backend().store.mfa(uma).await.unwrap()));
    // Lee signs in with an SMS code; his phone, his last factor, stays.
    clock.advance(60);
    let step = s
        .login_to(org, "lee@example.com", Password::from(PW))
        .await
        .unwrap();
    let t = ticket(&step);
    s.send_sms_code(org, &t).await.unwrap();
    let sms = s.backend().notifier.take_last_code(lee).unwrap();
    let lg = s
        .verify_sms_code(org, &t, &sms)
        .await
        .unwrap()
        .into_session()
        .expect("signed in")
        .grant;
    assert_eq!(lg.aal(), Aal::Aal2);
    policy_error(
        s.remove_phone(&lg).await,
        PolicyError::RequiredByOrganisation { org },
    );
    policy_error(
        s.disable_mfa(&lg).await,
        PolicyError::RequiredByOrganisation { org },
    );
    let phone = s.backend().store.person(lee).await.unwrap().unwrap().phone;
    assert!(phone.is_some(), "the phone stays");
    // Uma, with an app beside her phone, may drop the phone: the app remains.
    s.start_phone_verification(&ug, &PhoneNumber::parse("+15555550111").unwrap())
        .await
        .unwrap();
    let sms = s.backend().notifier.take_last_code(uma).unwrap();
    s.confirm_phone(&ug, &sms).await.unwrap();
    s.remove_phone(&ug).await.unwrap();
    assert!(active(s.backend().store.mfa(uma).await.unwrap()));

    // Kim, without a factor and past her deadline (no grace): her old session no longer
    // stands, she cannot skip, but enrolling her first factor at login is never blocked.
    assert!(s.authenticate(&kim_token).await.is_err());
    clock.advance(60);
    let step = s
        .login_to(org, "kim@example.com", Password::from(PW))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::EnrollMfa { .. }), "{step:?}");
    let t = ticket(&step);
    let skipped = s.skip_enrollment(org, &t).await;
    assert!(
        matches!(
            skipped,
            Ok(LoginStep::EnrollMfa {
                demand: EnrollmentDemand::Mandatory,
                ..
            })
        ),
        "mandatory: the same step comes back, no session: {skipped:?}"
    );
    let step = s
        .login_to(org, "kim@example.com", Password::from(PW))
        .await
        .unwrap();
    let t = ticket(&step);
    let setup = s.start_login_enrollment(org, &t, "phone").await.unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    clock.advance(30);
    let _codes = s
        .confirm_login_enrollment(org, &t, &code(&key, clock.now()))
        .await
        .unwrap();
    let done = s.acknowledge_login_enrollment(org, &t).await.unwrap();
    assert_eq!(done.grant().expect("signed in").aal(), Aal::Aal2);

    // A newcomer added while enforced, with no grace: first login, new password, enrolment.
    let new = s
        .add_member(&og, "max@example.com", Role::User)
        .await
        .unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(org, "max@example.com", Password::from(temp.as_str()))
        .await
        .unwrap();
    let step = s
        .change_password_at_login(org, &ticket(&step), Password::from(PW))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::EnrollMfa { .. }), "{step:?}");
    let t = ticket(&step);
    let setup = s.start_login_enrollment(org, &t, "phone").await.unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    clock.advance(30);
    let _codes = s
        .confirm_login_enrollment(org, &t, &code(&key, clock.now()))
        .await
        .unwrap();
    let done = s.acknowledge_login_enrollment(org, &t).await.unwrap();
    assert_eq!(done.grant().expect("signed in").aal(), Aal::Aal2);
    let _ = kim;
}

/// Signs `login` in with an SMS code: a fresh AAL2 grant.
async fn sign_in_sms<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    login: &str,
    person: PersonId,
) -> Grant {
    clock.advance(60);
    let step = s.login_to(org, login, Password::from(PW)).await.unwrap();
    let t = ticket(&step);
    s.send_sms_code(org, &t).await.unwrap();
    let sms = s.backend().notifier.take_last_code(person).unwrap();
    let grant = s
        .verify_sms_code(org, &t, &sms)
        .await
        .unwrap()
        .into_session()
        .expect("signed in")
        .grant;
    assert_eq!(grant.aal(), Aal::Aal2);
    grant
}

/// Verifies `number` as the grant holder's phone.
async fn verify_phone<S: LoginStore>(s: &Service<S>, grant: &Grant, number: &str) {
    s.start_phone_verification(grant, &PhoneNumber::parse(number).unwrap())
        .await
        .unwrap();
    let sms = s.backend().notifier.take_last_code(grant.person()).unwrap();
    s.confirm_phone(grant, &sms).await.unwrap();
}

/// Where only SMS counts, a member with an app beside their phone cannot drop the phone: the
/// app left would not count, and the phone is their last counted factor.
async fn last_counted_factor<S: LoginStore>(new_store: &NewStore<S>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    verify_phone(&s, &og, "+15555550100").await;
    let (uma, ug, _) = add(&s, &og, UMA, Role::User).await;
    let ukey = enrol(&s, &clock, &ug).await;
    let (ug, _) = sign_in(&s, &clock, org, UMA, Some(&ukey)).await;
    verify_phone(&s, &ug, "+15555550111").await;
    let og = sign_in_sms(&s, &clock, org, OLIVIA, olivia).await;
    let sms_only = SecondFactors::of(FactorKind::OutOfBandSms);
    s.set_mfa_policy(&og, MfaSettings::enforced(sms_only, 0).unwrap())
        .await
        .unwrap();
    let ug = sign_in_sms(&s, &clock, org, UMA, uma).await;
    policy_error(
        s.remove_phone(&ug).await,
        PolicyError::RequiredByOrganisation { org },
    );
    let phone = s.backend().store.person(uma).await.unwrap().unwrap().phone;
    assert!(phone.is_some(), "the phone, her last counted factor, stays");
    // Once the app counts too, the phone may go.
    let both = sms_only.with(FactorKind::Totp);
    s.set_mfa_policy(&og, MfaSettings::enforced(both, 0).unwrap())
        .await
        .unwrap();
    s.remove_phone(&ug).await.unwrap();
    let phone = s.backend().store.person(uma).await.unwrap().unwrap().phone;
    assert!(phone.is_none());
}

async fn scenarios<S: LoginStore + 'static>(new_store: &NewStore<S>) {
    invitations(new_store).await;
    invitations_enforced_and_raced(new_store).await;
    ownership(new_store).await;
    reminders(new_store).await;
    tightening(new_store).await;
    last_factor_and_first_enrolment(new_store).await;
    last_counted_factor(new_store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_on_sqlite() {
    scenarios(&sqlite_stores()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_on_postgres() {
    if pg::skip("lifecycle_on_postgres") {
        return;
    }
    scenarios(&postgres_stores("authcore_life")).await;
}

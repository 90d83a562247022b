//! Company (organisation) MFA policy: who may turn it on, grace deadlines, factor kinds, and
//! people in several organisations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use authcore::credential::FactorKind;
use authcore::policy::{
    Account, AuditKind, EnrollmentDemand, LoginDecision, LoginProgress, MfaPolicy, MfaSettings,
    Organisation, PolicyError, Role, SecondFactors, login_decision,
};
use authcore::{Grant, OrgId, PersonId};

const T0: u64 = 1_700_000_000;
const DAY: u64 = 24 * 60 * 60;
const OWNER: PersonId = PersonId::new(1);
const ADMIN: PersonId = PersonId::new(2);
const EARLY: PersonId = PersonId::new(3);
const LATE: PersonId = PersonId::new(4);
const ORG: OrgId = OrgId::new(10);
const OTHER: OrgId = OrgId::new(20);

fn totp() -> SecondFactors {
    SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode)
}

/// Logs `person` in to `org`, presenting every primary second factor they have and skipping any
/// skippable enrollment.
fn login(org: &Organisation, person: PersonId, factors: SecondFactors, now: u64) -> LoginDecision {
    let account = Account::new(person).factors(factors);
    let mut progress = LoginProgress::password_verified(person, org.id(), now).defer_enrollment();
    for kind in factors.primary().iter() {
        progress = progress.with_second_factor(kind);
    }
    login_decision(&account, org.member(person), org.policy(), &progress, now)
}

fn grant(org: &Organisation, person: PersonId, factors: SecondFactors, now: u64) -> Grant {
    match login(org, person, factors, now) {
        LoginDecision::Allowed(grant) => grant,
        other => panic!("not allowed: {other:?}"),
    }
}

/// An organisation with an owner (with MFA), an admin and an early member, at `T0`.
fn company() -> Organisation {
    let org = Organisation::found(ORG, OWNER, T0).state;
    let owner = grant(&org, OWNER, totp(), T0);
    let org = org
        .add_member(&owner, ADMIN, Role::Admin, T0)
        .unwrap()
        .state;
    org.add_member(&owner, EARLY, Role::User, T0).unwrap().state
}

fn enforced(grace: u64) -> MfaSettings {
    MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, grace).unwrap()
}

#[test]
fn only_an_owner_with_mfa_turns_the_policy_on() {
    let org = company();
    let now = T0 + 100;

    // An admin, even with MFA, may not.
    let admin = grant(&org, ADMIN, totp(), now);
    assert_eq!(
        org.set_mfa_policy(&admin, totp(), enforced(0), now)
            .unwrap_err(),
        PolicyError::NotPermitted
    );
    // The owner, signed in without a second factor, may not.
    let owner_aal1 = grant(&org, OWNER, SecondFactors::EMPTY, now);
    assert_eq!(
        org.set_mfa_policy(&owner_aal1, totp(), enforced(0), now)
            .unwrap_err(),
        PolicyError::Aal2Required
    );
    // The owner must have MFA of a kind the policy counts: set up your own MFA first.
    let owner = grant(&org, OWNER, totp(), now);
    assert_eq!(
        org.set_mfa_policy(&owner, SecondFactors::EMPTY, enforced(0), now)
            .unwrap_err(),
        PolicyError::OwnerNeedsMfa
    );
    assert_eq!(
        org.set_mfa_policy(
            &owner,
            SecondFactors::of(FactorKind::RecoveryCode),
            enforced(0),
            now
        )
        .unwrap_err(),
        PolicyError::OwnerNeedsMfa
    );
    let sms_only = MfaSettings::enforced(SecondFactors::of(FactorKind::OutOfBandSms), 0).unwrap();
    assert_eq!(
        org.set_mfa_policy(&owner, totp(), sms_only, now)
            .unwrap_err(),
        PolicyError::OwnerNeedsMfa
    );
    // A stale login is not enough for a security setting.
    let later = now + authcore::policy::SENSITIVE_ACTION_MAX_AGE + 1;
    assert_eq!(
        org.set_mfa_policy(&owner, totp(), enforced(0), later)
            .unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
    // A grant for another organisation is refused.
    let elsewhere = Organisation::found(OTHER, OWNER, now).state;
    let other_grant = grant(&elsewhere, OWNER, totp(), now);
    assert_eq!(
        org.set_mfa_policy(&other_grant, totp(), enforced(0), now)
            .unwrap_err(),
        PolicyError::OtherOrganisation
    );

    let on = org
        .set_mfa_policy(&owner, totp(), enforced(0), now)
        .unwrap();
    assert!(on.state.policy().enforces());
    assert_eq!(
        on.events[0].what,
        AuditKind::MfaPolicySet {
            enforced: true,
            grace_period: 0,
            factors: MfaSettings::DEFAULT_FACTORS,
            phishing_resistance_from: None,
        }
    );
    assert_eq!(org.policy(), &MfaPolicy::Off, "the old state is untouched");
}

#[test]
fn settings_are_checked() {
    assert_eq!(
        MfaSettings::enforced(SecondFactors::of(FactorKind::RecoveryCode), 0),
        Err(PolicyError::NoCountedFactor)
    );
    assert_eq!(
        MfaSettings::optional(SecondFactors::EMPTY),
        Err(PolicyError::NoCountedFactor)
    );
    assert_eq!(
        MfaSettings::enforced(totp(), MfaSettings::MAX_GRACE_PERIOD + 1),
        Err(PolicyError::InvalidGracePeriod)
    );
    let settings = MfaSettings::enforced(totp(), 7 * DAY).unwrap();
    assert!(settings.enforce());
    assert_eq!(settings.grace_period(), 7 * DAY);
    assert_eq!(settings.factors(), totp());
    let optional = MfaSettings::optional(totp()).unwrap();
    assert!(!optional.enforce());
    assert!(!MfaPolicy::On(optional).enforces());
    assert!(MfaPolicy::On(optional).is_on());
    assert_eq!(MfaPolicy::Off.counted_factors(), SecondFactors::ALL);
}

#[test]
fn each_member_gets_a_deadline_fixed_when_they_become_subject() {
    let org = company();
    let on_at = T0 + 1_000;
    let owner = grant(&org, OWNER, totp(), on_at);
    let on = org
        .set_mfa_policy(&owner, totp(), enforced(7 * DAY), on_at)
        .unwrap();
    // Every member becomes subject at once, each with an audit event.
    let subjects: Vec<_> = on
        .events
        .iter()
        .filter_map(|e| match e.what {
            AuditKind::SubjectToMfaPolicy { deadline } => Some((e.subject, deadline)),
            _ => None,
        })
        .collect();
    assert_eq!(subjects.len(), 3);
    assert!(subjects.iter().all(|(_, d)| *d == on_at + 7 * DAY));
    let org = on.state;
    assert_eq!(org.mfa_deadline(EARLY), Some(on_at + 7 * DAY));

    // Someone who joins later gets their own deadline from the moment they join, by any path.
    let joined_at = on_at + 3 * DAY;
    let owner = grant(&org, OWNER, totp(), joined_at);
    let added = org.add_member(&owner, LATE, Role::User, joined_at).unwrap();
    assert!(added.events.iter().any(|e| e.what
        == AuditKind::SubjectToMfaPolicy {
            deadline: joined_at + 7 * DAY
        }));
    let org = added.state;
    assert_eq!(org.mfa_deadline(LATE), Some(joined_at + 7 * DAY));
    let by_request = org
        .approve_access_request(&owner, PersonId::new(5), Role::Manager, joined_at)
        .unwrap()
        .state;
    assert_eq!(
        by_request.mfa_deadline(PersonId::new(5)),
        Some(joined_at + 7 * DAY)
    );
    let invitation = org
        .invite(&owner, Role::User, 2 * DAY, joined_at)
        .unwrap()
        .state;
    let by_invitation = org
        .accept_invitation(
            &invitation,
            PersonId::new(6),
            authcore::policy::SecondFactors::ALL,
            joined_at + DAY,
        )
        .unwrap()
        .state;
    assert_eq!(
        by_invitation.mfa_deadline(PersonId::new(6)),
        Some(joined_at + 8 * DAY)
    );

    // A role change keeps them subject and does not restart their clock.
    let promoted = org
        .change_role(&owner, LATE, Role::Manager, joined_at + DAY)
        .unwrap()
        .state;
    assert_eq!(promoted.mfa_deadline(LATE), Some(joined_at + 7 * DAY));

    // Before the deadline the enrollment can be skipped; after it, it cannot.
    let progress = LoginProgress::password_verified(EARLY, ORG, on_at + DAY);
    let account = Account::new(EARLY);
    let member = org.member(EARLY);
    assert_eq!(
        login_decision(&account, member, org.policy(), &progress, on_at + DAY),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::BeforeDeadline {
                deadline: on_at + 7 * DAY
            },
            factors: MfaSettings::DEFAULT_FACTORS,
        }
    );
    assert!(matches!(
        login(&org, EARLY, SecondFactors::EMPTY, on_at + DAY),
        LoginDecision::Allowed(_)
    ));
    let after = on_at + 7 * DAY;
    assert_eq!(
        login(&org, EARLY, SecondFactors::EMPTY, after),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            factors: MfaSettings::DEFAULT_FACTORS,
        }
    );
    // The late joiner still has time.
    assert!(matches!(
        login(&org, LATE, SecondFactors::EMPTY, after),
        LoginDecision::Allowed(_)
    ));
    // With MFA, everyone is simply challenged.
    assert!(matches!(
        login(&org, EARLY, totp(), after),
        LoginDecision::Allowed(_)
    ));
}

#[test]
fn changing_the_grace_period_recomputes_every_deadline_from_the_same_moment() {
    let org = company();
    let on_at = T0 + 1_000;
    let owner = grant(&org, OWNER, totp(), on_at);
    let org = org
        .set_mfa_policy(&owner, totp(), enforced(7 * DAY), on_at)
        .unwrap()
        .state;
    let joined_at = on_at + 2 * DAY;
    let owner = grant(&org, OWNER, totp(), joined_at);
    let org = org
        .add_member(&owner, LATE, Role::User, joined_at)
        .unwrap()
        .state;

    // Tightening to 3 days takes effect at once, from each member's own moment.
    let change_at = on_at + 4 * DAY;
    let owner = grant(&org, OWNER, totp(), change_at);
    let tightened = org
        .set_mfa_policy(&owner, totp(), enforced(3 * DAY), change_at)
        .unwrap();
    let new_deadlines: Vec<_> = tightened
        .events
        .iter()
        .filter_map(|e| match e.what {
            AuditKind::SubjectToMfaPolicy { deadline } => Some((e.subject.unwrap(), deadline)),
            _ => None,
        })
        .collect();
    assert!(new_deadlines.contains(&(EARLY, on_at + 3 * DAY)));
    assert!(new_deadlines.contains(&(LATE, joined_at + 3 * DAY)));
    let org = tightened.state;
    assert_eq!(org.mfa_deadline(EARLY), Some(on_at + 3 * DAY));
    assert_eq!(org.mfa_deadline(LATE), Some(joined_at + 3 * DAY));
    assert_eq!(
        login(&org, EARLY, SecondFactors::EMPTY, change_at),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            factors: MfaSettings::DEFAULT_FACTORS,
        }
    );

    // Loosening it again never extends a deadline already set, and reports none.
    let owner = grant(&org, OWNER, totp(), change_at);
    let loosened = org
        .set_mfa_policy(&owner, totp(), enforced(30 * DAY), change_at)
        .unwrap();
    assert_eq!(loosened.events.len(), 1);
    let loosened = loosened.state;
    assert_eq!(loosened.mfa_deadline(EARLY), Some(on_at + 3 * DAY));
    assert_eq!(loosened.mfa_deadline(LATE), Some(joined_at + 3 * DAY));
    // Re-saving the same settings changes no deadline and reports none.
    let same = loosened
        .set_mfa_policy(&owner, totp(), enforced(30 * DAY), change_at)
        .unwrap();
    assert_eq!(same.events.len(), 1);
    assert_eq!(same.state, loosened);
}

#[test]
fn switching_enforcement_off_and_on_again() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let org = org
        .set_mfa_policy(&owner, totp(), enforced(DAY), T0)
        .unwrap()
        .state;
    assert_eq!(org.mfa_deadline(EARLY), Some(T0 + DAY));

    // Optional MFA: nobody is subject; members without MFA are invited, not forced.
    let optional = org
        .set_mfa_policy(&owner, totp(), MfaSettings::optional(totp()).unwrap(), T0)
        .unwrap()
        .state;
    assert_eq!(optional.mfa_deadline(EARLY), None);
    assert!(
        optional
            .members()
            .iter()
            .all(|m| m.mfa_subject_since().is_none())
    );
    let progress = LoginProgress::password_verified(EARLY, ORG, T0 + 5 * DAY);
    assert_eq!(
        login_decision(
            &Account::new(EARLY),
            optional.member(EARLY),
            optional.policy(),
            &progress,
            T0 + 5 * DAY
        ),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Suggested,
            factors: totp(),
        }
    );

    let off = org.turn_off_mfa_policy(&owner, T0).unwrap();
    assert_eq!(off.events[0].what, AuditKind::MfaPolicyOff);
    let off = off.state;
    assert_eq!(off.policy(), &MfaPolicy::Off);
    assert!(
        off.members()
            .iter()
            .all(|m| m.mfa_subject_since().is_none())
    );
    assert!(matches!(
        login(&off, EARLY, SecondFactors::EMPTY, T0 + 5 * DAY),
        LoginDecision::Allowed(_)
    ));

    // Enforcing again makes everyone subject from the new moment.
    let again_at = T0 + 10 * DAY;
    let owner = grant(&off, OWNER, totp(), again_at);
    let again = off
        .set_mfa_policy(&owner, totp(), enforced(DAY), again_at)
        .unwrap()
        .state;
    assert_eq!(again.mfa_deadline(EARLY), Some(again_at + DAY));
}

#[test]
fn the_factor_kinds_that_count() {
    let org = company();
    let owner = grant(&org, OWNER, SecondFactors::of(FactorKind::OutOfBandSms), T0);
    let sms_only = MfaSettings::enforced(SecondFactors::of(FactorKind::OutOfBandSms), 0).unwrap();
    let org = org
        .set_mfa_policy(
            &owner,
            SecondFactors::of(FactorKind::OutOfBandSms),
            sms_only,
            T0,
        )
        .unwrap()
        .state;
    let now = T0 + 10;

    // An authenticator app does not count here: enroll a kind that does.
    assert_eq!(
        login(&org, EARLY, totp(), now),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            factors: SecondFactors::of(FactorKind::OutOfBandSms),
        }
    );
    // A phone does; the challenge offers only what counts (recovery codes are not counted here).
    let phone_and_codes = SecondFactors::of(FactorKind::OutOfBandSms)
        .with(FactorKind::Totp)
        .with(FactorKind::RecoveryCode);
    let account = Account::new(EARLY).factors(phone_and_codes);
    let progress = LoginProgress::password_verified(EARLY, ORG, now);
    assert_eq!(
        login_decision(&account, org.member(EARLY), org.policy(), &progress, now),
        LoginDecision::Challenge(SecondFactors::of(FactorKind::OutOfBandSms))
    );
    // A TOTP code is not accepted for this organisation; an SMS code is.
    let with_totp = progress.with_second_factor(FactorKind::Totp);
    assert!(matches!(
        login_decision(&account, org.member(EARLY), org.policy(), &with_totp, now),
        LoginDecision::Challenge(_)
    ));
    let with_sms = progress.with_second_factor(FactorKind::OutOfBandSms);
    assert!(matches!(
        login_decision(&account, org.member(EARLY), org.policy(), &with_sms, now),
        LoginDecision::Allowed(_)
    ));
    // Recovery codes alone are backup only: never MFA by themselves.
    assert!(matches!(
        login(
            &org,
            EARLY,
            SecondFactors::of(FactorKind::RecoveryCode),
            now
        ),
        LoginDecision::EnrollMfa { .. }
    ));
}

#[test]
fn restricted_factors_can_be_refused() {
    let no_sms = SecondFactors::ALL.without_restricted();
    assert!(!no_sms.has_restricted());
    assert!(no_sms.iter().all(|kind| !kind.is_restricted()));
    assert!(!no_sms.contains(FactorKind::OutOfBandSms));
    // Following NIST SP 800-63B strictly (no restricted kind, no e-mail) leaves the defaults,
    // passkeys among them where the feature offers them.
    let strict =
        SecondFactors::ALL.filter(|kind| kind.is_recognised_by_nist() && !kind.is_restricted());
    assert_eq!(strict, MfaSettings::DEFAULT_FACTORS);
    let settings = MfaSettings::enforced(no_sms, 0).unwrap();
    assert!(!settings.factors().has_restricted());

    // An owner whose only MFA is SMS cannot turn on a policy that refuses SMS.
    let org = company();
    let sms = SecondFactors::of(FactorKind::OutOfBandSms);
    let sms_owner = grant(&org, OWNER, sms, T0);
    assert_eq!(
        org.set_mfa_policy(&sms_owner, sms, settings, T0)
            .unwrap_err(),
        PolicyError::OwnerNeedsMfa
    );
    let owner = grant(&org, OWNER, totp(), T0);
    let org = org
        .set_mfa_policy(&owner, totp(), settings, T0)
        .unwrap()
        .state;
    let now = T0 + 10;

    // A member whose only MFA is SMS must enroll a kind that counts.
    assert_eq!(
        login(&org, EARLY, sms, now),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            factors: no_sms,
        }
    );
    // A member with SMS and an authenticator app is challenged for the app only; an SMS code is
    // not accepted.
    let account = Account::new(EARLY).factors(sms.with(FactorKind::Totp));
    let progress = LoginProgress::password_verified(EARLY, ORG, now);
    assert_eq!(
        login_decision(&account, org.member(EARLY), org.policy(), &progress, now),
        LoginDecision::Challenge(SecondFactors::of(FactorKind::Totp))
    );
    let with_sms = progress.with_second_factor(FactorKind::OutOfBandSms);
    assert_eq!(
        login_decision(&account, org.member(EARLY), org.policy(), &with_sms, now),
        LoginDecision::Challenge(SecondFactors::of(FactorKind::Totp))
    );
    let with_totp = progress.with_second_factor(FactorKind::Totp);
    assert!(matches!(
        login_decision(&account, org.member(EARLY), org.policy(), &with_totp, now),
        LoginDecision::Allowed(_)
    ));
}

#[test]
fn e_mail_codes_count_only_where_the_policy_counts_them() {
    let email = SecondFactors::of(FactorKind::OutOfBandEmail);
    let org = company();
    // Policy off: the person's own e-mail MFA applies.
    assert_eq!(
        login_decision(
            &Account::new(EARLY).factors(email),
            org.member(EARLY),
            org.policy(),
            &LoginProgress::password_verified(EARLY, ORG, T0),
            T0
        ),
        LoginDecision::Challenge(email)
    );
    // The default policy does not count e-mail (NIST SP 800-63B does not recognise it).
    let owner = grant(&org, OWNER, totp(), T0);
    let strict = org
        .set_mfa_policy(&owner, totp(), enforced(0), T0)
        .unwrap()
        .state;
    assert!(matches!(
        login(&strict, EARLY, email, T0 + 10),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            ..
        }
    ));
    // A policy that counts it accepts it as MFA.
    let lenient = MfaSettings::enforced(email.with(FactorKind::Totp), 0).unwrap();
    let lenient = org
        .set_mfa_policy(&owner, totp(), lenient, T0)
        .unwrap()
        .state;
    assert!(matches!(
        login(&lenient, EARLY, email, T0 + 10),
        LoginDecision::Allowed(_)
    ));
}

#[test]
fn each_organisation_applies_its_own_policy() {
    // EARLY belongs to two organisations: one enforcing with no grace, one with MFA off.
    let strict = company();
    let owner = grant(&strict, OWNER, totp(), T0);
    let strict = strict
        .set_mfa_policy(&owner, totp(), enforced(0), T0)
        .unwrap()
        .state;
    let relaxed = Organisation::found(OTHER, ADMIN, T0).state;
    let other_owner = grant(&relaxed, ADMIN, totp(), T0);
    let relaxed = relaxed
        .add_member(&other_owner, EARLY, Role::Manager, T0)
        .unwrap()
        .state;

    let now = T0 + 60;
    assert_eq!(
        login(&strict, EARLY, SecondFactors::EMPTY, now),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            factors: MfaSettings::DEFAULT_FACTORS,
        }
    );
    let LoginDecision::Allowed(relaxed_grant) = login(&relaxed, EARLY, SecondFactors::EMPTY, now)
    else {
        panic!("the relaxed organisation lets them in");
    };
    assert_eq!(relaxed_grant.org(), OTHER);
    assert_eq!(relaxed_grant.role(), Role::Manager);
    // Deadlines belong to memberships: the relaxed organisation enforcing later gives a new one.
    let later = T0 + 5 * DAY;
    let other_owner = grant(&relaxed, ADMIN, totp(), later);
    let relaxed = relaxed
        .set_mfa_policy(&other_owner, totp(), enforced(2 * DAY), later)
        .unwrap()
        .state;
    assert_eq!(strict.mfa_deadline(EARLY), Some(T0));
    assert_eq!(relaxed.mfa_deadline(EARLY), Some(later + 2 * DAY));
    // A membership of one organisation is no way into the other.
    let progress = LoginProgress::password_verified(EARLY, ORG, later);
    assert_eq!(
        login_decision(
            &Account::new(EARLY).factors(totp()),
            relaxed.member(EARLY),
            relaxed.policy(),
            &progress.with_second_factor(FactorKind::Totp),
            later
        ),
        LoginDecision::Denied(authcore::policy::DenyReason::NotAMember)
    );
    // Standings feed the rule for turning MFA off.
    assert!(strict.standing(EARLY).unwrap().enforces_mfa());
    assert!(!strict.standing(EARLY).unwrap().sole_owner());
    assert_eq!(strict.standing(LATE), None);
}

#[cfg(feature = "serde")]
#[test]
fn organisations_persist_and_inconsistent_ones_are_refused() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let org = org
        .set_mfa_policy(&owner, totp(), enforced(DAY), T0)
        .unwrap()
        .state;
    let stored = serde_json::to_string(&org).unwrap();
    let back: Organisation = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, org);

    let policy = serde_json::to_string(org.policy()).unwrap();
    assert_eq!(
        serde_json::from_str::<MfaPolicy>(&policy).unwrap(),
        *org.policy()
    );
    // Settings the constructors refuse are refused on the way in too.
    let bad = policy.replace(
        &format!("\"grace_period\":{DAY}"),
        "\"grace_period\":99999999999",
    );
    assert_ne!(bad, policy);
    assert!(serde_json::from_str::<MfaPolicy>(&bad).is_err());

    // No owner, a member of another organisation, a member not subject to an enforced policy.
    let edits = [
        ("\"role\":\"Owner\"", "\"role\":\"User\""),
        (
            "\"org\":\"0000000000000000000000000000000a\",",
            "\"org\":\"0000000000000000000000000000000b\",",
        ),
        (
            &*format!("\"mfa_subject_since\":{T0}"),
            "\"mfa_subject_since\":null",
        ),
    ];
    for (from, to) in edits {
        let edited = stored.replacen(from, to, 1);
        assert_ne!(edited, stored, "{from} not found");
        assert!(
            serde_json::from_str::<Organisation>(&edited).is_err(),
            "{to} accepted"
        );
    }
}

#[test]
fn grants_from_before_enforcement_lapse_at_the_deadline() {
    use authcore::policy::{AccessDenied, Permission, Resource};
    let org = company();
    let now = T0 + 100;
    let owner = grant(&org, OWNER, totp(), now);
    // EARLY signs in on the password alone, before the policy.
    let early = grant(&org, EARLY, SecondFactors::EMPTY, now);
    let recovery = {
        let account = Account::new(ADMIN).factors(totp());
        let progress = LoginProgress::password_verified(ADMIN, ORG, now)
            .with_second_factor(FactorKind::RecoveryCode);
        match login_decision(&account, org.member(ADMIN), org.policy(), &progress, now) {
            LoginDecision::Allowed(grant) => grant,
            other => panic!("{other:?}"),
        }
    };
    let org = org
        .set_mfa_policy(&owner, totp(), enforced(DAY), now)
        .unwrap()
        .state;
    let deadline = org.mfa_deadline(EARLY).unwrap();
    let own = Resource::owned_by(ORG, EARLY);
    assert!(org.check_grant(&early, deadline - 1).is_ok());
    assert!(
        org.authorize(&early, &Permission::ViewJobs, &own, deadline - 1)
            .is_ok()
    );
    // From the deadline on, the password-only grant no longer stands.
    assert_eq!(
        org.check_grant(&early, deadline).unwrap_err(),
        AccessDenied::MfaRequired
    );
    assert_eq!(
        org.authorize(&early, &Permission::ViewJobs, &own, deadline + DAY),
        Err(AccessDenied::MfaRequired)
    );
    // Grants on a counted factor do, a recovery code included.
    assert!(org.check_grant(&owner, deadline + DAY).is_ok());
    assert!(org.check_grant(&recovery, deadline + DAY).is_ok());
    // A grant on SMS stands only where SMS counts.
    let sms = Grant::reauthenticated(
        &owner,
        authcore::policy::FactorSet::of(authcore::policy::Factor::Password)
            .with(authcore::policy::Factor::Second(FactorKind::OutOfBandSms)),
        now,
    );
    assert_eq!(
        org.check_grant(&sms, deadline + DAY).unwrap_err(),
        AccessDenied::MfaRequired
    );
    // Without enforcement every grant stands; a grant for another organisation never does.
    assert!(MfaPolicy::Off.admits(org.member(EARLY).unwrap(), early.factors(), deadline + DAY));
    let elsewhere = Organisation::found(OTHER, EARLY, now).state;
    assert_eq!(
        elsewhere.check_grant(&early, now).unwrap_err(),
        AccessDenied::OtherOrganisation
    );
}

// ---- Issue 13: sharper policies ----

#[test]
fn tightening_moves_deadlines_earlier_and_loosening_never_later() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let org = org
        .set_mfa_policy(&owner, totp(), enforced(30 * DAY), T0)
        .unwrap()
        .state;
    assert_eq!(org.mfa_deadline(EARLY), Some(T0 + 30 * DAY));
    let at = T0 + DAY;
    let owner = grant(&org, OWNER, totp(), at);
    let tightened = org
        .set_mfa_policy(&owner, totp(), enforced(7 * DAY), at)
        .unwrap()
        .state;
    assert_eq!(tightened.mfa_deadline(EARLY), Some(T0 + 7 * DAY));
    let loosened = tightened
        .set_mfa_policy(&owner, totp(), enforced(60 * DAY), at)
        .unwrap()
        .state;
    assert_eq!(loosened.mfa_deadline(EARLY), Some(T0 + 7 * DAY));
    assert_eq!(loosened.mfa_deadline(ADMIN), Some(T0 + 7 * DAY));
}

#[test]
fn enforcement_per_role_owners_and_admins_at_once() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let settings = enforced(30 * DAY).with_grace_from(Role::Admin, 0).unwrap();
    assert_eq!(settings.grace_for(Role::User), 30 * DAY);
    assert_eq!(settings.grace_for(Role::Admin), 0);
    assert_eq!(settings.grace_for(Role::Owner), 0);
    let org = org
        .set_mfa_policy(&owner, totp(), settings, T0)
        .unwrap()
        .state;
    assert_eq!(org.mfa_deadline(ADMIN), Some(T0));
    assert_eq!(org.mfa_deadline(EARLY), Some(T0 + 30 * DAY));
    // The admin without MFA must enrol now; the user may still skip.
    assert!(matches!(
        login(&org, ADMIN, SecondFactors::EMPTY, T0 + 1),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            ..
        }
    ));
    assert!(matches!(
        login(&org, EARLY, SecondFactors::EMPTY, T0 + 1),
        LoginDecision::Allowed(_)
    ));
    // A promotion brings the deadline earlier; a demotion never pushes it back.
    let at = T0 + DAY;
    let owner = grant(&org, OWNER, totp(), at);
    let promoted = org
        .change_role(&owner, EARLY, Role::Admin, at)
        .unwrap()
        .state;
    assert_eq!(promoted.mfa_deadline(EARLY), Some(T0));
    let demoted = promoted
        .change_role(&owner, EARLY, Role::User, at)
        .unwrap()
        .state;
    assert_eq!(demoted.mfa_deadline(EARLY), Some(T0));
    // Per-role grace longer than the general one, or on optional settings, is refused.
    assert_eq!(
        enforced(DAY).with_grace_from(Role::Admin, 2 * DAY),
        Err(PolicyError::InvalidGracePeriod)
    );
    assert_eq!(
        MfaSettings::optional(totp())
            .unwrap()
            .with_grace_from(Role::Admin, 0),
        Err(PolicyError::InvalidGracePeriod)
    );
}

#[test]
fn reminders_are_due_once_each_and_only_the_shortest_reached() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let settings = enforced(30 * DAY).with_reminders(&[DAY, 7 * DAY]).unwrap();
    assert_eq!(settings.reminders().collect::<Vec<_>>(), [7 * DAY, DAY]);
    let org = org
        .set_mfa_policy(&owner, totp(), settings, T0)
        .unwrap()
        .state;
    let deadline = T0 + 30 * DAY;
    let needs = |p: PersonId| p != OWNER;
    // Nothing due three weeks ahead.
    assert!(
        org.record_mfa_reminders(needs, deadline - 8 * DAY)
            .outcome
            .is_empty()
    );
    // Seven days ahead: the 7-day reminder, once.
    let first = org.record_mfa_reminders(needs, deadline - 7 * DAY);
    let mut people: Vec<_> = first.outcome.iter().map(|(p, _)| *p).collect();
    people.sort();
    assert_eq!(people, [ADMIN, EARLY]);
    assert!(first.events.iter().all(|e| matches!(
        e.what,
        AuditKind::MfaReminderSent { lead, .. } if lead == 7 * DAY
    )));
    let org = first.state;
    assert!(
        org.record_mfa_reminders(needs, deadline - 6 * DAY)
            .outcome
            .is_empty()
    );
    // The day before: the 1-day reminder, once; never after the deadline.
    let second = org.record_mfa_reminders(needs, deadline - DAY);
    assert_eq!(second.outcome.len(), 2);
    let org = second.state;
    assert!(
        org.record_mfa_reminders(needs, deadline - 1)
            .outcome
            .is_empty()
    );
    assert!(
        org.record_mfa_reminders(needs, deadline + 1)
            .outcome
            .is_empty()
    );

    // A member reached by both lead times at once gets only the shorter.
    let fresh = company();
    let owner = grant(&fresh, OWNER, totp(), T0);
    let fresh = fresh
        .set_mfa_policy(&owner, totp(), settings, T0)
        .unwrap()
        .state;
    let both = fresh.record_mfa_reminders(needs, deadline - DAY / 2);
    assert!(both.events.iter().all(|e| matches!(
        e.what,
        AuditKind::MfaReminderSent { lead, .. } if lead == DAY
    )));
    assert!(
        both.state
            .record_mfa_reminders(needs, deadline - DAY / 4)
            .outcome
            .is_empty()
    );

    // Bad lead times.
    for bad in [&[0][..], &[DAY, DAY], &[1, 2, 3, 4, 5], &[91 * DAY]] {
        assert_eq!(
            enforced(DAY).with_reminders(bad),
            Err(PolicyError::InvalidReminders)
        );
    }
    assert_eq!(
        MfaSettings::optional(totp())
            .unwrap()
            .with_reminders(&[DAY]),
        Err(PolicyError::InvalidReminders)
    );
}

#[test]
fn an_uncounted_kind_neither_satisfies_nor_lifts_a_grant() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    // SMS is not counted: only the app.
    let settings = MfaSettings::optional(totp()).unwrap();
    let org = org
        .set_mfa_policy(&owner, totp(), settings, T0)
        .unwrap()
        .state;
    let sms = SecondFactors::of(FactorKind::OutOfBandSms);
    assert!(!org.policy().satisfied_by(sms));
    // A member holding only SMS presents it (it protects their account) but gets no AAL2 here.
    let decided = login(&org, EARLY, sms, T0 + 1);
    let LoginDecision::Allowed(g) = decided else {
        panic!("{decided:?}")
    };
    assert_eq!(g.aal(), authcore::policy::Aal::Aal1);
    assert!(g.factors().second_factors().is_empty());
}

#[test]
fn an_enforcing_organisation_admits_an_invitee_only_with_a_counted_factor() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let org = org
        .set_mfa_policy(&owner, totp(), enforced(0), T0)
        .unwrap()
        .state;
    let owner = grant(&org, OWNER, totp(), T0);
    let invitation = org.invite(&owner, Role::User, DAY, T0).unwrap().state;
    assert_eq!(
        org.accept_invitation(&invitation, LATE, SecondFactors::EMPTY, T0 + 1)
            .unwrap_err(),
        PolicyError::EnrollMfaFirst
    );
    assert_eq!(
        org.accept_invitation(
            &invitation,
            LATE,
            SecondFactors::of(FactorKind::OutOfBandSms),
            T0 + 1
        )
        .unwrap_err(),
        PolicyError::EnrollMfaFirst
    );
    assert!(
        org.accept_invitation(&invitation, LATE, totp(), T0 + 1)
            .is_ok()
    );
}

#[test]
fn ownership_is_offered_then_accepted() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let org = org
        .set_mfa_policy(&owner, totp(), enforced(0), T0)
        .unwrap()
        .state;
    let owner = grant(&org, OWNER, totp(), T0);
    // Not to someone without MFA while enforced.
    assert_eq!(
        org.offer_ownership(&owner, ADMIN, SecondFactors::EMPTY, T0)
            .unwrap_err(),
        PolicyError::TargetNeedsMfa
    );
    let offered = org
        .offer_ownership(&owner, ADMIN, totp(), T0)
        .unwrap()
        .state;
    // Another person cannot accept it.
    let early = grant(&offered, EARLY, totp(), T0 + 1);
    assert_eq!(
        offered
            .accept_ownership(&early, totp(), T0 + 1)
            .unwrap_err(),
        PolicyError::NoOwnershipOffer
    );
    // The target without MFA (removed since) cannot.
    let admin = grant(&offered, ADMIN, totp(), T0 + 1);
    assert_eq!(
        offered
            .accept_ownership(&admin, SecondFactors::EMPTY, T0 + 1)
            .unwrap_err(),
        PolicyError::TargetNeedsMfa
    );
    // Lapsed.
    let late = T0 + authcore::policy::OwnershipOffer::TTL;
    let admin_late = grant(&offered, ADMIN, totp(), late);
    assert_eq!(
        offered
            .accept_ownership(&admin_late, totp(), late)
            .unwrap_err(),
        PolicyError::NoOwnershipOffer
    );
    let done = offered
        .accept_ownership(&admin, totp(), T0 + 1)
        .unwrap()
        .state;
    assert_eq!(done.member(ADMIN).unwrap().role(), Role::Owner);
    assert_eq!(done.member(OWNER).unwrap().role(), Role::Admin);
    assert!(done.ownership_offer().is_none());
    assert_eq!(done.owners().count(), 1);
}

#[cfg(feature = "passkeys")]
#[test]
fn phishing_resistance_narrows_the_counted_kinds_from_a_role() {
    use authcore::policy::{MfaPolicy, Role};
    let settings = MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0)
        .unwrap()
        .with_phishing_resistance_from(Role::Admin)
        .unwrap();
    assert_eq!(settings.phishing_resistance_from(), Some(Role::Admin));
    let policy = MfaPolicy::On(settings);
    let app = SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode);
    let key = SecondFactors::of(FactorKind::Passkey);
    assert_eq!(
        policy.counted_factors_for(Role::Admin),
        key.with(FactorKind::RecoveryCode)
    );
    assert_eq!(
        policy.counted_factors_for(Role::Owner),
        key.with(FactorKind::RecoveryCode)
    );
    assert_eq!(
        policy.counted_factors_for(Role::User),
        MfaSettings::DEFAULT_FACTORS
    );
    assert!(policy.satisfied_for(Role::User, app));
    assert!(!policy.satisfied_for(Role::Admin, app));
    assert!(policy.satisfied_for(Role::Admin, key));
    // Recovery codes alone never satisfy it.
    assert!(!policy.satisfied_for(Role::Admin, SecondFactors::of(FactorKind::RecoveryCode)));
    // Settings that count no phishing-resistant kind cannot ask for one.
    assert_eq!(
        MfaSettings::enforced(app, 0)
            .unwrap()
            .with_phishing_resistance_from(Role::User),
        Err(authcore::policy::PolicyError::NoCountedFactor)
    );
}

#[cfg(feature = "passkeys")]
#[test]
fn the_policy_event_records_the_counted_kinds_and_the_phishing_resistance() {
    use authcore::policy::Role;
    let now = T0;
    let org = Organisation::found(ORG, OWNER, now).state;
    let key = SecondFactors::of(FactorKind::Passkey);
    let owner = grant(&org, OWNER, key, now);
    let settings = MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0)
        .unwrap()
        .with_phishing_resistance_from(Role::Admin)
        .unwrap();
    let on = org.set_mfa_policy(&owner, key, settings, now).unwrap();
    assert_eq!(
        on.events[0].what,
        AuditKind::MfaPolicySet {
            enforced: true,
            grace_period: 0,
            factors: MfaSettings::DEFAULT_FACTORS,
            phishing_resistance_from: Some(Role::Admin),
        }
    );
}

#[cfg(all(feature = "passkeys", feature = "serde"))]
#[test]
fn phishing_resistance_survives_a_round_trip() {
    use authcore::policy::Role;
    let settings = MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0)
        .unwrap()
        .with_phishing_resistance_from(Role::User)
        .unwrap();
    let json = serde_json::to_string(&settings).unwrap();
    let back: MfaSettings = serde_json::from_str(&json).unwrap();
    assert_eq!(back, settings);
    // A stored one that asks for phishing resistance without counting passkeys is refused.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["factors"] = 3.into();
    assert!(serde_json::from_value::<MfaSettings>(value).is_err());
}

#[test]
fn the_grace_period_is_ninety_days_to_the_second() {
    assert_eq!(MfaSettings::MAX_GRACE_PERIOD, 7_776_000, "90 days");
    let longest = MfaSettings::enforced(totp(), 7_776_000).unwrap();
    assert_eq!(longest.grace_period(), 7_776_000);
    assert_eq!(
        MfaSettings::enforced(totp(), 7_776_001),
        Err(PolicyError::InvalidGracePeriod)
    );
    assert!(MfaSettings::enforced(totp(), 0).is_ok());
    // The policy reports the grace period only while it enforces.
    let policy = MfaPolicy::On(enforced(7 * DAY));
    assert_eq!(policy.grace_period(), 7 * DAY);
    assert_eq!(policy.grace_for(Role::User), 7 * DAY);
    assert_eq!(policy.settings(), Some(&enforced(7 * DAY)));
    let optional = MfaPolicy::On(MfaSettings::optional(totp()).unwrap());
    assert_eq!(optional.grace_period(), 0);
    assert_eq!(optional.grace_for(Role::User), 0);
    assert_eq!(MfaPolicy::Off.grace_period(), 0);
    assert_eq!(MfaPolicy::Off.grace_for(Role::Owner), 0);
    assert_eq!(MfaPolicy::Off.settings(), None);
    assert!(!MfaPolicy::Off.is_on());
    assert!(policy.enforces());
}

#[test]
fn a_role_grace_reads_back_and_may_equal_the_general_one() {
    assert_eq!(enforced(DAY).grace_by_role(), None);
    let settings = enforced(DAY).with_grace_from(Role::Admin, 3_600).unwrap();
    let by_role = settings.grace_by_role().unwrap();
    assert_eq!(by_role.from(), Role::Admin);
    assert_eq!(by_role.grace_period(), 3_600);
    // Equal to the general grace period: accepted (it is at most that).
    let equal = enforced(DAY).with_grace_from(Role::Owner, DAY).unwrap();
    assert_eq!(equal.grace_for(Role::Owner), DAY);
    assert_eq!(equal.grace_for(Role::Admin), DAY);
    assert_eq!(
        enforced(DAY).with_grace_from(Role::Owner, DAY + 1),
        Err(PolicyError::InvalidGracePeriod)
    );
}

#[test]
fn reminder_lead_times_at_their_bounds() {
    // Four distinct lead times are the most, kept longest first.
    let four = enforced(DAY).with_reminders(&[1, 3, 4, 2]).unwrap();
    assert_eq!(four.reminders().collect::<Vec<_>>(), [4, 3, 2, 1]);
    assert_eq!(
        enforced(DAY).with_reminders(&[1, 2, 3, 4, 5]),
        Err(PolicyError::InvalidReminders)
    );
    // A lead time of up to the longest grace period, and not one second more.
    let longest = enforced(DAY).with_reminders(&[7_776_000]).unwrap();
    assert_eq!(longest.reminders().collect::<Vec<_>>(), [7_776_000]);
    assert_eq!(
        enforced(DAY).with_reminders(&[7_776_001]),
        Err(PolicyError::InvalidReminders)
    );
    // No lead times: none sent.
    let none = enforced(DAY).with_reminders(&[]).unwrap();
    assert_eq!(none.reminders().count(), 0);
}

#[test]
fn a_reminder_is_due_from_its_lead_time_to_the_deadline() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let settings = enforced(30 * DAY).with_reminders(&[DAY, 7 * DAY]).unwrap();
    let org = org
        .set_mfa_policy(&owner, totp(), settings, T0)
        .unwrap()
        .state;
    let policy = org.policy();
    let member = org.member(EARLY).unwrap();
    let deadline = T0 + 30 * DAY;
    assert_eq!(policy.reminder_due(member, deadline - 7 * DAY - 1), None);
    assert_eq!(
        policy.reminder_due(member, deadline - 7 * DAY),
        Some(7 * DAY)
    );
    assert_eq!(
        policy.reminder_due(member, deadline - DAY - 1),
        Some(7 * DAY)
    );
    assert_eq!(policy.reminder_due(member, deadline - DAY), Some(DAY));
    assert_eq!(policy.reminder_due(member, deadline - 1), Some(DAY));
    assert_eq!(policy.reminder_due(member, deadline), None);
    // Once the 7-day reminder is recorded, it is not due again; the 1-day one still is.
    let sent = org
        .record_mfa_reminders(|p| p == EARLY, deadline - 7 * DAY)
        .state;
    let member = sent.member(EARLY).unwrap();
    assert_eq!(sent.policy().reminder_due(member, deadline - 7 * DAY), None);
    assert_eq!(sent.policy().reminder_due(member, deadline - DAY - 1), None);
    assert_eq!(
        sent.policy().reminder_due(member, deadline - DAY),
        Some(DAY)
    );
    // A deactivated member gets none.
    let owner = grant(&sent, OWNER, totp(), T0);
    let gone = sent.deactivate_member(&owner, EARLY, T0).unwrap().state;
    assert_eq!(
        gone.policy()
            .reminder_due(gone.member(EARLY).unwrap(), deadline - DAY),
        None
    );
    // Without enforcement, none.
    assert_eq!(
        MfaPolicy::Off.reminder_due(org.member(EARLY).unwrap(), deadline - DAY),
        None
    );
}

#[test]
fn security_settings_need_a_grant_verified_in_the_last_fifteen_minutes() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    let last = T0 + 15 * 60;
    // The last second of the window, then the first one past it.
    assert!(
        org.set_mfa_policy(&owner, totp(), enforced(DAY), last)
            .is_ok()
    );
    assert_eq!(
        org.set_mfa_policy(&owner, totp(), enforced(DAY), last + 1)
            .unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
    let on = org
        .set_mfa_policy(&owner, totp(), enforced(DAY), T0)
        .unwrap()
        .state;
    let off = on.turn_off_mfa_policy(&owner, last).unwrap();
    assert_eq!(*off.state.policy(), MfaPolicy::Off);
    assert!(matches!(off.events[..], [ref e] if e.what == AuditKind::MfaPolicyOff));
    assert_eq!(
        on.turn_off_mfa_policy(&owner, last + 1).unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
    assert!(org.set_remember_devices(&owner, false, last).is_ok());
    assert_eq!(
        org.set_remember_devices(&owner, false, last + 1)
            .unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
}

#[test]
fn remembered_devices_are_allowed_until_forbidden() {
    let org = company();
    assert!(org.allows_remembered_devices());
    let owner = grant(&org, OWNER, totp(), T0);
    // Setting the current value changes nothing and records nothing.
    let same = org.set_remember_devices(&owner, true, T0).unwrap();
    assert!(same.state.allows_remembered_devices());
    assert!(same.events.is_empty());
    let forbidden = org.set_remember_devices(&owner, false, T0).unwrap();
    assert!(!forbidden.state.allows_remembered_devices());
    assert!(matches!(
        forbidden.events[..],
        [ref e] if e.what == AuditKind::RememberDevicesSet { allowed: false }
    ));
    let again = forbidden
        .state
        .set_remember_devices(&owner, false, T0)
        .unwrap();
    assert!(again.events.is_empty());
    let allowed = forbidden
        .state
        .set_remember_devices(&owner, true, T0)
        .unwrap();
    assert!(allowed.state.allows_remembered_devices());
    assert_eq!(allowed.events.len(), 1);
}

#[test]
fn only_the_one_active_owner_is_a_sole_owner() {
    let org = company();
    let owner = org.standing(OWNER).unwrap();
    assert!(owner.sole_owner());
    assert_eq!(owner.person(), OWNER);
    assert_eq!(owner.org(), ORG);
    assert_eq!(owner.role(), Role::Owner);
    assert!(!owner.enforces_mfa());
    // An Admin of an organisation with one owner is no owner at all.
    let admin = org.standing(ADMIN).unwrap();
    assert!(!admin.sole_owner());
    assert_eq!(admin.role(), Role::Admin);
    assert_eq!(org.standing(PersonId::new(99)), None);
}

#[test]
fn an_ownership_offer_stands_seven_days_to_the_second() {
    use authcore::policy::OwnershipOffer;
    assert_eq!(OwnershipOffer::TTL, 604_800, "7 days");
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    assert!(org.ownership_offer().is_none());
    let offered = org.offer_ownership(&owner, ADMIN, totp(), T0).unwrap();
    assert!(matches!(
        offered.events[..],
        [ref e] if e.what == AuditKind::OwnershipOffered { expires_at: T0 + 604_800 }
    ));
    let offered = offered.state;
    let offer = offered.ownership_offer().unwrap();
    assert_eq!(offer.from(), OWNER);
    assert_eq!(offer.to(), ADMIN);
    assert_eq!(offer.offered_at(), T0);
    assert_eq!(offer.expires_at(), T0 + 604_800);
    // Accepted in its last second; lapsed at its end.
    let last = T0 + 604_799;
    let admin = grant(&offered, ADMIN, totp(), last);
    let accepted = offered.accept_ownership(&admin, totp(), last).unwrap();
    assert_eq!(
        accepted
            .events
            .iter()
            .map(|e| (e.subject, e.what))
            .collect::<Vec<_>>(),
        [
            (
                Some(ADMIN),
                AuditKind::RoleChanged {
                    from: Role::Admin,
                    to: Role::Owner
                }
            ),
            (Some(ADMIN), AuditKind::OwnershipTransferred { from: OWNER }),
            (
                Some(OWNER),
                AuditKind::RoleChanged {
                    from: Role::Owner,
                    to: Role::Admin
                }
            ),
        ]
    );
    let end = T0 + 604_800;
    let admin = grant(&offered, ADMIN, totp(), end);
    assert_eq!(
        offered.accept_ownership(&admin, totp(), end).unwrap_err(),
        PolicyError::NoOwnershipOffer
    );
}

#[test]
fn an_ownership_offer_is_checked_when_made_and_when_accepted() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    // A fresh grant is needed to make one: the last second of the window, not one past it.
    let last = T0 + 15 * 60;
    assert!(org.offer_ownership(&owner, ADMIN, totp(), last).is_ok());
    assert_eq!(
        org.offer_ownership(&owner, ADMIN, totp(), last + 1)
            .unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
    assert_eq!(
        org.offer_ownership(&owner, OWNER, totp(), T0).unwrap_err(),
        PolicyError::CannotActOnSelf
    );
    let gone = org.deactivate_member(&owner, EARLY, T0).unwrap().state;
    assert_eq!(
        gone.offer_ownership(&owner, EARLY, totp(), T0).unwrap_err(),
        PolicyError::MemberDeactivated
    );
    // With the policy off, to a member without MFA, who accepts with a password-only grant.
    let offered = org
        .offer_ownership(&owner, EARLY, SecondFactors::EMPTY, T0)
        .unwrap()
        .state;
    let early = grant(&offered, EARLY, SecondFactors::EMPTY, T0 + 1);
    let done = offered
        .accept_ownership(&early, SecondFactors::EMPTY, T0 + 1)
        .unwrap()
        .state;
    assert_eq!(done.member(EARLY).unwrap().role(), Role::Owner);
    // A member who has MFA accepts only at AAL2, and only with a fresh grant.
    let offered = org
        .offer_ownership(&owner, ADMIN, totp(), T0)
        .unwrap()
        .state;
    let admin = grant(&offered, ADMIN, totp(), T0);
    let password_only = admin.reauthenticated(
        authcore::policy::FactorSet::of(authcore::policy::Factor::Password),
        T0,
    );
    assert_eq!(
        offered
            .accept_ownership(&password_only, totp(), T0)
            .unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
    assert_eq!(
        offered
            .accept_ownership(&admin, totp(), last + 1)
            .unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
    assert!(offered.accept_ownership(&admin, totp(), last).is_ok());
    // A grant for another organisation.
    let elsewhere = Organisation::found(OTHER, ADMIN, T0).state;
    let foreign = grant(&elsewhere, ADMIN, totp(), T0);
    assert_eq!(
        offered.accept_ownership(&foreign, totp(), T0).unwrap_err(),
        PolicyError::OtherOrganisation
    );
}

#[test]
fn an_ownership_offer_falls_with_its_maker() {
    let org = company();
    let owner = grant(&org, OWNER, totp(), T0);
    // Two owners: the founder shares ownership with the early member.
    let shared = org
        .transfer_ownership(&owner, EARLY, totp(), Role::Owner, T0)
        .unwrap()
        .state;
    let owner = grant(&shared, OWNER, totp(), T0);
    let offered = shared
        .offer_ownership(&owner, ADMIN, totp(), T0)
        .unwrap()
        .state;
    let early = grant(&offered, EARLY, totp(), T0);
    let admin = grant(&offered, ADMIN, totp(), T0);
    // The maker demoted, or deactivated, by the other owner: the offer no longer stands.
    let demoted = offered
        .change_role(&early, OWNER, Role::Admin, T0)
        .unwrap()
        .state;
    assert!(demoted.ownership_offer().is_some());
    assert_eq!(
        demoted.accept_ownership(&admin, totp(), T0).unwrap_err(),
        PolicyError::NoOwnershipOffer
    );
    let deactivated = offered.deactivate_member(&early, OWNER, T0).unwrap().state;
    assert_eq!(
        deactivated
            .accept_ownership(&admin, totp(), T0)
            .unwrap_err(),
        PolicyError::NoOwnershipOffer
    );
    // An Owner accepting an offer gains no new role (no role change for them).
    let to_owner = offered
        .offer_ownership(&owner, EARLY, totp(), T0)
        .unwrap()
        .state;
    let accepted = to_owner.accept_ownership(&early, totp(), T0).unwrap();
    assert!(
        !accepted
            .events
            .iter()
            .any(|e| e.subject == Some(EARLY) && matches!(e.what, AuditKind::RoleChanged { .. }))
    );
}

#[cfg(feature = "serde")]
#[test]
fn a_state_stored_before_remembered_devices_allows_them() {
    let org = company();
    let stored = serde_json::to_string(&org).unwrap();
    let older = stored.replace(",\"remember_devices\":true", "");
    assert_ne!(older, stored);
    let back: Organisation = serde_json::from_str(&older).unwrap();
    assert!(back.allows_remembered_devices());
    assert_eq!(back, org);
    let owner = grant(&org, OWNER, totp(), T0);
    let forbidding = org.set_remember_devices(&owner, false, T0).unwrap().state;
    let stored = serde_json::to_string(&forbidding).unwrap();
    let back: Organisation = serde_json::from_str(&stored).unwrap();
    assert!(!back.allows_remembered_devices());
}

#[test]
fn the_lowest_roles_requirement_is_a_primary_kind_the_policy_counts() {
    let sms = SecondFactors::of(FactorKind::OutOfBandSms);
    let codes = SecondFactors::of(FactorKind::RecoveryCode);
    // With the policy off every kind counts, but recovery codes alone never satisfy it.
    assert!(MfaPolicy::Off.satisfied_by(SecondFactors::of(FactorKind::Totp)));
    assert!(MfaPolicy::Off.satisfied_by(sms));
    assert!(!MfaPolicy::Off.satisfied_by(codes));
    assert!(!MfaPolicy::Off.satisfied_by(SecondFactors::EMPTY));
    // With it on only the counted kinds do.
    let on = MfaPolicy::On(MfaSettings::optional(totp()).unwrap());
    assert!(on.satisfied_by(SecondFactors::of(FactorKind::Totp)));
    assert!(on.satisfied_by(sms.with(FactorKind::Totp)));
    assert!(!on.satisfied_by(sms), "a kind the policy does not count");
    assert!(!on.satisfied_by(codes));
}

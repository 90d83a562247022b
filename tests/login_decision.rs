//! The login decision: its fixed order, the company-account verification step, the challenge,
//! and the grant with its freshness check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::convert::Infallible;

use authcore::credential::FactorKind;
use authcore::otp::Totp;
use authcore::policy::{
    Aal, Account, AcknowledgeOutcome, AuditKind, DenyReason, EnrollmentConfig, EnrollmentDemand,
    EnrollmentPurpose, Factor, FactorSet, LoginDecision, LoginOutcome, LoginProgress, Mfa,
    MfaPolicy, MfaSettings, Organisation, PasswordState, PolicyError, Role, SecondFactors,
    login_decision,
};
use authcore::{Grant, OrgId, PersonId};
use rand_core::{TryCryptoRng, TryRng};

const T0: u64 = 1_700_000_000;
const OWNER: PersonId = PersonId::new(1);
const MEMBER: PersonId = PersonId::new(2);
const STRANGER: PersonId = PersonId::new(3);
const ORG: OrgId = OrgId::new(10);

/// A deterministic generator for tests (a counter). Not for production use.
struct CountingRng(u8);

impl TryRng for CountingRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from_le_bytes(self.bytes()))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from(self.try_next_u32()?))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            self.0 = self.0.wrapping_mul(31).wrapping_add(7);
            *byte = self.0;
        }
        Ok(())
    }
}

impl CountingRng {
    fn bytes(&mut self) -> [u8; 4] {
        let mut out = [0; 4];
        self.try_fill_bytes(&mut out).unwrap();
        out
    }
}

impl TryCryptoRng for CountingRng {}

fn totp() -> SecondFactors {
    SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode)
}

fn allowed(decision: LoginDecision) -> Grant {
    match decision {
        LoginDecision::Allowed(grant) => grant,
        other => panic!("not allowed: {other:?}"),
    }
}

/// An organisation with an owner and a member, enforcing MFA with `grace` seconds when `Some`.
fn company(grace: Option<u64>) -> Organisation {
    let org = Organisation::found(ORG, OWNER, T0).state;
    let progress =
        LoginProgress::password_verified(OWNER, ORG, T0).with_second_factor(FactorKind::Totp);
    let owner = allowed(login_decision(
        &Account::new(OWNER).factors(totp()),
        org.member(OWNER),
        org.policy(),
        &progress,
        T0,
    ));
    let org = org
        .add_member(&owner, MEMBER, Role::User, T0)
        .unwrap()
        .state;
    match grace {
        Some(grace) => {
            let settings = MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, grace).unwrap();
            org.set_mfa_policy(&owner, totp(), settings, T0)
                .unwrap()
                .state
        }
        None => org,
    }
}

fn decide(
    org: &Organisation,
    account: &Account,
    progress: &LoginProgress,
    now: u64,
) -> LoginDecision {
    login_decision(
        account,
        org.member(account.person()),
        org.policy(),
        progress,
        now,
    )
}

#[test]
fn the_order_is_fixed() {
    let org = company(Some(0));
    let now = T0 + 100;
    let progress = LoginProgress::password_verified(MEMBER, ORG, now);
    // Everything wrong at once: deactivated wins.
    let account = Account::new(MEMBER)
        .deactivated(true)
        .locked(true)
        .password(PasswordState::Temporary);
    assert_eq!(
        decide(&org, &account, &progress, now),
        LoginDecision::Denied(DenyReason::Deactivated)
    );
    // Then locked.
    let account = account.deactivated(false);
    assert_eq!(
        decide(&org, &account, &progress, now),
        LoginDecision::Denied(DenyReason::Locked)
    );
    // Then the password change (the person holds no second factor), before MFA enrollment.
    let account = account.locked(false);
    assert_eq!(
        decide(&org, &account, &progress, now),
        LoginDecision::ChangePassword(PasswordState::Temporary)
    );
    // Then the enrollment ("company account verification"), mandatory here.
    let account = account.password(PasswordState::Current);
    assert_eq!(
        decide(&org, &account, &progress, now),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            factors: MfaSettings::DEFAULT_FACTORS,
        }
    );
    // Deferring does not skip a mandatory enrollment.
    assert!(matches!(
        decide(&org, &account, &progress.defer_enrollment(), now),
        LoginDecision::EnrollMfa { .. }
    ));
    // Then the challenge.
    let account = account.factors(totp());
    assert_eq!(
        decide(&org, &account, &progress, now),
        LoginDecision::Challenge(totp())
    );
    // Then allowed, at AAL2.
    let grant = allowed(decide(
        &org,
        &account,
        &progress.with_second_factor(FactorKind::Totp),
        now,
    ));
    assert_eq!(grant.aal(), Aal::Aal2);
}

#[test]
fn a_password_is_changed_only_after_the_second_factor() {
    let org = company(None);
    let progress = LoginProgress::password_verified(MEMBER, ORG, T0);
    for state in [PasswordState::Compromised, PasswordState::Temporary] {
        // Whoever holds only the (stolen) password cannot replace it: the factor comes first.
        let account = Account::new(MEMBER).password(state).factors(totp());
        assert_eq!(
            decide(&org, &account, &progress, T0),
            LoginDecision::Challenge(totp())
        );
        assert_eq!(
            decide(
                &org,
                &account,
                &progress.with_second_factor(FactorKind::Totp),
                T0
            ),
            LoginDecision::ChangePassword(state)
        );
        // Without a second factor there is nothing to present: the change comes first.
        assert_eq!(
            decide(&org, &Account::new(MEMBER).password(state), &progress, T0),
            LoginDecision::ChangePassword(state)
        );
    }
}

#[test]
fn a_held_factor_is_presented_before_enrolling_at_login() {
    // The only factor is a verified phone, and the enforcing policy leaves SMS out.
    let org = company(Some(0));
    let now = T0 + 100;
    let phone = SecondFactors::of(FactorKind::OutOfBandSms);
    let account = Account::new(MEMBER).factors(phone);
    let progress = LoginProgress::password_verified(MEMBER, ORG, now);
    assert_eq!(
        decide(&org, &account, &progress, now),
        LoginDecision::Challenge(phone)
    );
    // A factor the person does not hold presents nothing.
    assert_eq!(
        decide(
            &org,
            &account,
            &progress.with_second_factor(FactorKind::Totp),
            now
        ),
        LoginDecision::Challenge(phone)
    );
    // Once the phone answered, the enrollment follows.
    let presented = progress.with_second_factor(FactorKind::OutOfBandSms);
    assert_eq!(
        decide(&org, &account, &presented, now),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            factors: MfaSettings::DEFAULT_FACTORS,
        }
    );

    // The enrollment runs with this login as the re-authentication.
    let config = EnrollmentConfig::default();
    let purpose =
        || EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("Phone").unwrap());
    let mfa = Mfa::new(MEMBER);
    assert!(
        mfa.start_enrollment_at_login(purpose(), &presented, &config, &mut CountingRng(1), now)
            .is_ok()
    );
    // Someone else's login, or a stale one, is no re-authentication.
    let theirs = LoginProgress::password_verified(OWNER, ORG, now)
        .with_second_factor(FactorKind::OutOfBandSms);
    assert!(
        mfa.start_enrollment_at_login(purpose(), &theirs, &config, &mut CountingRng(1), now)
            .is_err()
    );
    assert!(
        mfa.start_enrollment_at_login(
            purpose(),
            &presented,
            &config,
            &mut CountingRng(1),
            now + LoginProgress::MAX_AGE + 1
        )
        .is_err()
    );

    // With an active app, a login that presented no second factor cannot add another.
    let active = enrolled(Mfa::new(MEMBER), "Tablet", now);
    assert!(matches!(
        active.start_enrollment_at_login(purpose(), &progress, &config, &mut CountingRng(2), now),
        Err(authcore::policy::MfaError::Policy(
            PolicyError::ReauthenticationRequired
        ))
    ));
    assert!(
        active
            .start_enrollment_at_login(purpose(), &presented, &config, &mut CountingRng(2), now)
            .is_ok()
    );
}

#[test]
fn a_skippable_enrollment_also_waits_for_the_held_factor() {
    let org = company(Some(3_600));
    let now = T0 + 60;
    let phone = SecondFactors::of(FactorKind::OutOfBandSms);
    let account = Account::new(MEMBER).factors(phone);
    let progress = LoginProgress::password_verified(MEMBER, ORG, now);
    // Deferring the enrollment does not defer the challenge.
    assert_eq!(
        decide(&org, &account, &progress.defer_enrollment(), now),
        LoginDecision::Challenge(phone)
    );
    let presented = progress.with_second_factor(FactorKind::OutOfBandSms);
    assert!(matches!(
        decide(&org, &account, &presented, now),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::BeforeDeadline { .. },
            ..
        }
    ));
    // In the grace period the login goes on, but the SMS code the organisation does not count
    // adds nothing to the grant there.
    let grant = allowed(decide(&org, &account, &presented.defer_enrollment(), now));
    assert_eq!(grant.aal(), Aal::Aal1);
}

/// `mfa` with an active authenticator named `name`, enrolled at `now`.
fn enrolled(mfa: Mfa, name: &str, now: u64) -> Mfa {
    let config = EnrollmentConfig::default();
    let purpose = EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new(name).unwrap());
    let mfa = mfa
        .start_enrollment(purpose, None, &config, &mut CountingRng(3), now)
        .unwrap()
        .state;
    let pending = mfa.enrollment().unwrap();
    let code = Totp::new(pending.params(), pending.expose_secret())
        .generate(now)
        .unwrap();
    let mfa = mfa
        .confirm_enrollment(code.expose_secret(), &config, now)
        .unwrap()
        .state;
    let mfa = mfa.recovery_codes_issued(&config, now).unwrap().state;
    mfa.acknowledge_recovery_codes(&config, now).unwrap().state
}

#[test]
fn denied_when_not_a_member_stale_or_inconsistent() {
    let org = company(None);
    let now = T0 + 100;
    let account = Account::new(STRANGER);
    let progress = LoginProgress::password_verified(STRANGER, ORG, now);
    assert_eq!(
        decide(&org, &account, &progress, now),
        LoginDecision::Denied(DenyReason::NotAMember)
    );
    // Someone else's membership is no membership.
    assert_eq!(
        login_decision(&account, org.member(MEMBER), org.policy(), &progress, now),
        LoginDecision::Denied(DenyReason::NotAMember)
    );
    // A progress for another organisation.
    let elsewhere = LoginProgress::password_verified(MEMBER, OrgId::new(99), now);
    assert_eq!(
        decide(&org, &Account::new(MEMBER), &elsewhere, now),
        LoginDecision::Denied(DenyReason::NotAMember)
    );
    // A progress for another person.
    assert_eq!(
        decide(&org, &Account::new(MEMBER), &progress, now),
        LoginDecision::Denied(DenyReason::Inconsistent)
    );
    // A pending login does not last for ever, nor come from the future.
    let mine = LoginProgress::password_verified(MEMBER, ORG, now);
    assert!(matches!(
        decide(
            &org,
            &Account::new(MEMBER),
            &mine,
            now + LoginProgress::MAX_AGE
        ),
        LoginDecision::Allowed(_)
    ));
    assert_eq!(
        decide(
            &org,
            &Account::new(MEMBER),
            &mine,
            now + LoginProgress::MAX_AGE + 1
        ),
        LoginDecision::Denied(DenyReason::Expired)
    );
    assert_eq!(
        decide(&org, &Account::new(MEMBER), &mine, now - 1),
        LoginDecision::Denied(DenyReason::Expired)
    );
}

#[test]
fn without_a_policy_a_persons_own_mfa_applies() {
    let org = company(None);
    let now = T0 + 100;
    let progress = LoginProgress::password_verified(MEMBER, ORG, now);
    // No MFA: allowed at AAL1 on the password alone.
    let grant = allowed(decide(&org, &Account::new(MEMBER), &progress, now));
    assert_eq!(grant.aal(), Aal::Aal1);
    assert_eq!(grant.factors(), FactorSet::of(Factor::Password));
    // A claimed second factor the person does not have adds nothing.
    let grant = allowed(decide(
        &org,
        &Account::new(MEMBER),
        &progress.with_second_factor(FactorKind::OutOfBandSms),
        now,
    ));
    assert_eq!(grant.aal(), Aal::Aal1);
    // Their own MFA is always challenged, with every kind they have.
    let own = SecondFactors::of(FactorKind::OutOfBandSms).with(FactorKind::RecoveryCode);
    let account = Account::new(MEMBER).factors(own);
    assert_eq!(
        decide(&org, &account, &progress, now),
        LoginDecision::Challenge(own)
    );
    // A recovery code logs in without the device.
    let grant = allowed(decide(
        &org,
        &account,
        &progress.with_second_factor(FactorKind::RecoveryCode),
        now,
    ));
    assert_eq!(grant.aal(), Aal::Aal2);
    assert!(
        grant
            .factors()
            .contains(Factor::Second(FactorKind::RecoveryCode))
    );
    assert!(grant.factors().contains(Factor::Password));
}

#[test]
fn the_grant() {
    let org = company(Some(3_600));
    let now = T0 + 100;
    let account = Account::new(MEMBER).factors(totp());
    let progress = LoginProgress::password_verified(MEMBER, ORG, now - 30)
        .with_second_factor(FactorKind::Totp);
    let decision = decide(&org, &account, &progress, now);
    let grant = *decision.grant().unwrap();
    assert_eq!(grant.person(), MEMBER);
    assert_eq!(grant.org(), ORG);
    assert_eq!(grant.role(), Role::User);
    assert_eq!(
        grant.factors(),
        FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::Totp))
    );
    assert_eq!(grant.aal(), Aal::Aal2);
    assert_eq!(grant.authenticated_at(), now);
    assert_eq!(grant.verified_at(), now);

    // The audit event says what was decided, never how.
    let event = decision.audit_event(&progress, now);
    assert_eq!(
        event.what,
        AuditKind::Login {
            outcome: LoginOutcome::Allowed { aal: Aal::Aal2 }
        }
    );
    assert_eq!(event.subject, Some(MEMBER));
    assert_eq!(event.organisation, Some(ORG));

    // Freshness for sensitive actions.
    assert!(grant.is_fresh(now + 300, 300));
    assert!(!grant.is_fresh(now + 301, 300));
    assert!(
        !grant.is_fresh(now - 1, 300),
        "a grant from the future is stale"
    );
    assert_eq!(grant.require_fresh(now + 10, 300, Aal::Aal2), Ok(()));
    assert_eq!(
        grant.require_fresh(now + 400, 300, Aal::Aal2),
        Err(PolicyError::ReauthenticationRequired)
    );
    let refreshed = grant.reauthenticated(
        FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::Totp)),
        now + 400,
    );
    assert_eq!(refreshed.require_fresh(now + 400, 300, Aal::Aal2), Ok(()));
    assert_eq!(refreshed.authenticated_at(), now);
    assert_eq!(
        refreshed.reauthentication_event().what,
        AuditKind::Reauthenticated { aal: Aal::Aal2 }
    );
    let aal1 = allowed(decide(
        &company(None),
        &Account::new(MEMBER),
        &LoginProgress::password_verified(MEMBER, ORG, now),
        now,
    ));
    assert_eq!(
        aal1.require_fresh(now, 300, Aal::Aal2),
        Err(PolicyError::ReauthenticationRequired)
    );
    assert_eq!(aal1.require_fresh(now, 300, Aal::Aal1), Ok(()));
}

#[test]
fn pending_states_grant_nothing() {
    let org = company(Some(0));
    let progress = LoginProgress::password_verified(MEMBER, ORG, T0);
    for account in [
        Account::new(MEMBER).locked(true),
        Account::new(MEMBER).password(PasswordState::Temporary),
        Account::new(MEMBER),
        Account::new(MEMBER).factors(totp()),
    ] {
        let decision = decide(&org, &account, &progress, T0);
        assert!(decision.grant().is_none(), "{decision:?}");
        assert!(!matches!(decision.outcome(), LoginOutcome::Allowed { .. }));
    }
    assert_eq!(
        decide(&org, &Account::new(MEMBER), &progress, T0).outcome(),
        LoginOutcome::EnrollmentRequired { mandatory: true }
    );
    assert_eq!(
        decide(&org, &Account::new(MEMBER).factors(totp()), &progress, T0).outcome(),
        LoginOutcome::SecondFactorRequired
    );
}

#[test]
fn skippable_until_the_deadline() {
    let org = company(Some(3_600));
    let account = Account::new(MEMBER);
    let now = T0 + 60;
    let progress = LoginProgress::password_verified(MEMBER, ORG, now);
    let decision = decide(&org, &account, &progress, now);
    assert_eq!(
        decision,
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::BeforeDeadline {
                deadline: T0 + 3_600
            },
            factors: MfaSettings::DEFAULT_FACTORS,
        }
    );
    assert_eq!(
        decision.outcome(),
        LoginOutcome::EnrollmentRequired { mandatory: false }
    );
    let grant = allowed(decide(&org, &account, &progress.defer_enrollment(), now));
    assert_eq!(grant.aal(), Aal::Aal1);
    // At the deadline it becomes mandatory, deferred or not.
    let at = T0 + 3_600;
    let progress = LoginProgress::password_verified(MEMBER, ORG, at).defer_enrollment();
    assert_eq!(
        decide(&org, &account, &progress, at),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            factors: MfaSettings::DEFAULT_FACTORS,
        }
    );
}

#[test]
fn company_account_verification_enrols_during_the_login() {
    // The story: a member of an enforcing company signs in with their password, is stopped,
    // enrolls an authenticator, and gets in.
    let org = company(Some(0));
    let now = T0 + 1_000;
    let progress = LoginProgress::password_verified(MEMBER, ORG, now);
    let mfa = Mfa::new(MEMBER);
    let account = Account::new(MEMBER).factors(mfa.factors());
    assert!(matches!(
        decide(&org, &account, &progress, now),
        LoginDecision::EnrollMfa {
            demand: EnrollmentDemand::Mandatory,
            ..
        }
    ));

    // No grant is needed for a first authenticator.
    let config = EnrollmentConfig::default();
    let purpose =
        EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("Phone").unwrap());
    let mfa = mfa
        .start_enrollment(purpose, None, &config, &mut CountingRng(1), now)
        .unwrap()
        .state;
    let pending = mfa.enrollment().unwrap();
    let code = Totp::new(pending.params(), pending.expose_secret())
        .generate(now + 20)
        .unwrap();
    let mfa = mfa
        .confirm_enrollment(code.expose_secret(), &config, now + 20)
        .unwrap()
        .state;
    // Still stopped until the recovery codes are acknowledged.
    let account = Account::new(MEMBER).factors(mfa.factors());
    assert!(matches!(
        decide(&org, &account, &progress, now + 20),
        LoginDecision::EnrollMfa { .. }
    ));
    let mfa = mfa.recovery_codes_issued(&config, now + 30).unwrap().state;
    let done = mfa.acknowledge_recovery_codes(&config, now + 40).unwrap();
    assert!(matches!(done.outcome, AcknowledgeOutcome::Activated { .. }));
    let account = Account::new(MEMBER).factors(done.state.factors());

    // The confirming code proved the new factor in this login.
    let progress = progress.with_second_factor(FactorKind::Totp);
    let grant = allowed(decide(&org, &account, &progress, now + 40));
    assert_eq!(grant.aal(), Aal::Aal2);
    assert_eq!(grant.person(), MEMBER);
}

#[test]
fn deactivated_memberships_and_policies_off() {
    let org = company(None);
    let owner = allowed(decide(
        &org,
        &Account::new(OWNER).factors(totp()),
        &LoginProgress::password_verified(OWNER, ORG, T0).with_second_factor(FactorKind::Totp),
        T0,
    ));
    let org = org.deactivate_member(&owner, MEMBER, T0).unwrap().state;
    assert_eq!(
        decide(
            &org,
            &Account::new(MEMBER),
            &LoginProgress::password_verified(MEMBER, ORG, T0),
            T0
        ),
        LoginDecision::Denied(DenyReason::Deactivated)
    );
    assert!(!MfaPolicy::Off.enforces());
}

#[cfg(feature = "serde")]
#[test]
fn pending_logins_persist() {
    let progress = LoginProgress::password_verified(MEMBER, ORG, T0)
        .with_second_factor(FactorKind::Totp)
        .defer_enrollment();
    let stored = serde_json::to_string(&progress).unwrap();
    assert_eq!(
        serde_json::from_str::<LoginProgress>(&stored).unwrap(),
        progress
    );
    // A pending login without a password is refused.
    let forged = stored.replace(
        &format!("\"factors\":{}", progress.factors().bits()),
        "\"factors\":1",
    );
    assert_ne!(forged, stored);
    assert!(serde_json::from_str::<LoginProgress>(&forged).is_err());
    let account = Account::new(MEMBER).factors(totp()).locked(true);
    let stored = serde_json::to_string(&account).unwrap();
    assert_eq!(serde_json::from_str::<Account>(&stored).unwrap(), account);
}

#[test]
fn an_account_reads_back_its_facts() {
    let plain = Account::new(MEMBER);
    assert_eq!(plain.person(), MEMBER);
    assert!(!plain.is_deactivated());
    assert!(!plain.is_locked());
    assert_eq!(plain.password_state(), PasswordState::Current);
    assert_eq!(plain.second_factors(), SecondFactors::EMPTY);
    let set = plain
        .deactivated(true)
        .locked(true)
        .password(PasswordState::Temporary)
        .factors(totp());
    assert!(set.is_deactivated());
    assert!(set.is_locked());
    assert_eq!(set.password_state(), PasswordState::Temporary);
    assert_eq!(set.second_factors(), totp());
    // Each setter sets its own fact only.
    let unlocked = set.locked(false);
    assert!(unlocked.is_deactivated());
    assert!(!unlocked.is_locked());
    assert!(!set.deactivated(false).is_deactivated());
}

#[test]
fn a_pending_login_reads_back_its_state() {
    assert_eq!(LoginProgress::MAX_AGE, 1_800, "30 minutes");
    let progress = LoginProgress::password_verified(MEMBER, ORG, T0);
    assert_eq!(progress.person(), MEMBER);
    assert_eq!(progress.org(), Some(ORG));
    assert_eq!(progress.started_at(), T0);
    assert_eq!(progress.factors(), FactorSet::of(Factor::Password));
    assert!(!progress.enrollment_deferred());
    assert_eq!(progress.epoch(), 0);
    assert_eq!(progress.at_epoch(7).epoch(), 7);
    assert!(progress.defer_enrollment().enrollment_deferred());
    assert_eq!(
        progress.with_second_factor(FactorKind::Totp).factors(),
        FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::Totp))
    );
    assert_eq!(
        progress.with_remembered_device().factors(),
        FactorSet::of(Factor::Password).with(Factor::RememberedDevice)
    );

    // A login before the organisation is chosen names none, and is denied until it does.
    let pending = LoginProgress::organisation_pending(MEMBER, T0 + 5);
    assert_eq!(pending.org(), None);
    assert_eq!(pending.person(), MEMBER);
    assert_eq!(pending.started_at(), T0 + 5);
    assert_eq!(pending.factors(), FactorSet::of(Factor::Password));
    let org = company(None);
    assert_eq!(
        decide(&org, &Account::new(MEMBER), &pending, T0 + 5),
        LoginDecision::Denied(DenyReason::NotAMember)
    );
    let chosen = pending.in_organisation(ORG).unwrap();
    assert_eq!(chosen.org(), Some(ORG));
    assert_eq!(chosen.started_at(), T0 + 5);
    assert!(matches!(
        decide(&org, &Account::new(MEMBER), &chosen, T0 + 5),
        LoginDecision::Allowed(_)
    ));
    assert_eq!(
        chosen.in_organisation(OrgId::new(99)),
        Err(PolicyError::InvalidState(
            "the login's organisation is already chosen"
        ))
    );
}

#[test]
fn a_pending_login_lasts_thirty_minutes_to_the_second() {
    let org = company(None);
    let progress = LoginProgress::password_verified(MEMBER, ORG, T0);
    let account = Account::new(MEMBER);
    assert!(matches!(
        decide(&org, &account, &progress, T0),
        LoginDecision::Allowed(_)
    ));
    assert!(matches!(
        decide(&org, &account, &progress, T0 + 1_800),
        LoginDecision::Allowed(_)
    ));
    assert_eq!(
        decide(&org, &account, &progress, T0 + 1_801),
        LoginDecision::Denied(DenyReason::Expired)
    );
}

#[test]
fn a_grant_of_the_pure_core_names_no_session() {
    let org = company(None);
    let grant = allowed(decide(
        &org,
        &Account::new(MEMBER),
        &LoginProgress::password_verified(MEMBER, ORG, T0),
        T0,
    ));
    assert_eq!(grant.session(), None);
}

#[test]
fn a_reauthentication_rests_on_the_factors_it_verified() {
    let org = company(None);
    let now = T0 + 100;
    let grant = allowed(decide(
        &org,
        &Account::new(MEMBER).factors(totp()),
        &LoginProgress::password_verified(MEMBER, ORG, now).with_second_factor(FactorKind::Totp),
        now,
    ));
    assert_eq!(grant.aal(), Aal::Aal2);
    // A password-only re-authentication lowers the grant to AAL1 and rests on the password.
    let password = FactorSet::of(Factor::Password);
    let lowered = grant.reauthenticated(password, now + 50);
    assert_eq!(lowered.factors(), password);
    assert_eq!(lowered.aal(), Aal::Aal1);
    assert_eq!(lowered.verified_at(), now + 50);
    assert_eq!(lowered.authenticated_at(), now);
    assert_eq!(lowered.person(), MEMBER);
    assert_eq!(lowered.org(), ORG);
    assert_eq!(lowered.role(), Role::User);
    assert_eq!(
        lowered.reauthentication_event().what,
        AuditKind::Reauthenticated { aal: Aal::Aal1 }
    );
    assert_eq!(lowered.reauthentication_event().at, now + 50);
    assert_eq!(lowered.reauthentication_event().subject, Some(MEMBER));
    assert_eq!(lowered.reauthentication_event().organisation, Some(ORG));
    // A second factor without the password is one factor: AAL1.
    let second_only = FactorSet::of(Factor::Second(FactorKind::Totp));
    assert_eq!(grant.reauthenticated(second_only, now).aal(), Aal::Aal1);
    // A remembered device with the password reaches AAL2, but is never fresh.
    let device = password.with(Factor::RememberedDevice);
    let on_device = grant.reauthenticated(device, now);
    assert_eq!(on_device.aal(), Aal::Aal2);
    assert!(!on_device.is_fresh(now, u64::MAX));
    assert_eq!(
        on_device.require_fresh(now, u64::MAX, Aal::Aal1),
        Err(PolicyError::ReauthenticationRequired)
    );
}

#[test]
fn a_remembered_device_stands_in_only_for_a_missing_second_factor() {
    let org = company(None);
    let now = T0 + 100;
    let progress = LoginProgress::password_verified(MEMBER, ORG, now);
    let account = Account::new(MEMBER).factors(totp());
    let password = FactorSet::of(Factor::Password);

    // In place of the second factor: allowed at AAL2, resting on the device, never fresh.
    let grant = allowed(decide(
        &org,
        &account,
        &progress.with_remembered_device(),
        now,
    ));
    assert_eq!(grant.factors(), password.with(Factor::RememberedDevice));
    assert!(grant.factors().rests_on_remembered_device());
    assert_eq!(grant.aal(), Aal::Aal2);
    assert!(!grant.is_fresh(now, 300));

    // Beside a real second factor the device adds nothing: the grant rests on the factor.
    let grant = allowed(decide(
        &org,
        &account,
        &progress
            .with_remembered_device()
            .with_second_factor(FactorKind::Totp),
        now,
    ));
    assert_eq!(
        grant.factors(),
        password.with(Factor::Second(FactorKind::Totp))
    );
    assert!(grant.is_fresh(now, 300));

    // A person with no second factor has nothing for a device to stand in for.
    let grant = allowed(decide(
        &org,
        &Account::new(MEMBER),
        &progress.with_remembered_device(),
        now,
    ));
    assert_eq!(grant.factors(), password);
    assert_eq!(grant.aal(), Aal::Aal1);
}

//! Remembered devices in the pure core: the login decision lets a remembered device answer the
//! second-factor challenge and nothing else, the grant it yields is AAL2 and admitted by an
//! enforced MFA policy but never fresh, a login resting on one binds no new authenticator, and
//! an organisation's choice to forbid them (its authority, its audit, its stored form).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use authcore::credential::FactorKind;
use authcore::otp::Totp;
use authcore::policy::{
    Aal, Account, AuditKind, AuthenticatorName, EnrollmentConfig, EnrollmentPurpose, Factor,
    FactorSet, LoginDecision, LoginProgress, Mfa, MfaSettings, Organisation, PasswordState,
    PolicyError, Role, SENSITIVE_ACTION_MAX_AGE, SecondFactors, SessionConfig, SessionId,
    SessionRecord, login_decision,
};
use authcore::{Grant, OrgId, PersonId};

const T0: u64 = 1_700_000_000;
const OWNER: PersonId = PersonId::new(1);
const MEMBER: PersonId = PersonId::new(2);
const ORG: OrgId = OrgId::new(10);

fn totp() -> SecondFactors {
    SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode)
}

fn allowed(decision: LoginDecision) -> Grant {
    match decision {
        LoginDecision::Allowed(grant) => grant,
        other => panic!("not allowed: {other:?}"),
    }
}

fn decide(org: &Organisation, account: &Account, progress: &LoginProgress) -> LoginDecision {
    login_decision(
        account,
        org.member(account.person()),
        org.policy(),
        progress,
        progress.started_at(),
    )
}

/// The owner's fresh AAL2 grant, and their organisation with a member.
fn company() -> (Organisation, Grant) {
    let org = Organisation::found(ORG, OWNER, T0).state;
    let progress =
        LoginProgress::password_verified(OWNER, ORG, T0).with_second_factor(FactorKind::Totp);
    let owner = allowed(decide(
        &org,
        &Account::new(OWNER).factors(totp()),
        &progress,
    ));
    let org = org
        .add_member(&owner, MEMBER, Role::Admin, T0)
        .unwrap()
        .state;
    (org, owner)
}

fn device_login(person: PersonId) -> LoginProgress {
    LoginProgress::password_verified(person, ORG, T0).with_remembered_device()
}

#[test]
fn a_remembered_device_answers_the_challenge() {
    let (org, _) = company();
    let account = Account::new(MEMBER).factors(totp());
    let grant = allowed(decide(&org, &account, &device_login(MEMBER)));
    assert_eq!(
        grant.factors(),
        FactorSet::of(Factor::Password).with(Factor::RememberedDevice)
    );
    assert_eq!(grant.aal(), Aal::Aal2);
    assert!(grant.factors().rests_on_remembered_device());
    assert!(!grant.is_fresh(T0, SENSITIVE_ACTION_MAX_AGE), "never fresh");
    assert_eq!(
        grant.require_fresh(T0, 300, Aal::Aal1),
        Err(PolicyError::ReauthenticationRequired)
    );
    // The same login with a code is fresh.
    let with_code =
        LoginProgress::password_verified(MEMBER, ORG, T0).with_second_factor(FactorKind::Totp);
    let grant = allowed(decide(&org, &account, &with_code));
    assert!(grant.is_fresh(T0, SENSITIVE_ACTION_MAX_AGE));
    // A re-authentication with a real factor replaces the device.
    let again = allowed(decide(&org, &account, &device_login(MEMBER))).reauthenticated(
        FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::Totp)),
        T0 + 10,
    );
    assert!(!again.factors().contains(Factor::RememberedDevice));
    assert!(again.is_fresh(T0 + 10, 60));
}

#[test]
fn a_remembered_device_stands_in_for_nothing_else() {
    let (org, _) = company();
    // A person without a second factor is never challenged: the device adds nothing.
    let grant = allowed(decide(&org, &Account::new(MEMBER), &device_login(MEMBER)));
    assert_eq!(grant.factors(), FactorSet::of(Factor::Password));
    assert_eq!(grant.aal(), Aal::Aal1);
    // A temporary password must still be changed.
    let account = Account::new(MEMBER)
        .factors(totp())
        .password(PasswordState::Temporary);
    assert_eq!(
        decide(&org, &account, &device_login(MEMBER)),
        LoginDecision::ChangePassword(PasswordState::Temporary)
    );
    // Beside a real second factor it is not in the grant.
    let both = device_login(MEMBER).with_second_factor(FactorKind::Totp);
    let grant = allowed(decide(&org, &Account::new(MEMBER).factors(totp()), &both));
    assert!(!grant.factors().contains(Factor::RememberedDevice));
    assert!(grant.is_fresh(T0, 60));
}

#[test]
fn an_enforced_policy_admits_a_device_session_that_is_never_fresh() {
    let (org, owner) = company();
    let settings = MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap();
    let org = org
        .set_mfa_policy(&owner, totp(), settings, T0)
        .unwrap()
        .state;
    let account = Account::new(MEMBER).factors(totp());
    let grant = allowed(decide(&org, &account, &device_login(MEMBER)));
    let member = org.member(MEMBER).unwrap();
    assert!(org.policy().admits(member, grant.factors(), T0 + 1));
    assert!(
        !org.policy()
            .admits(member, FactorSet::of(Factor::Password), T0 + 1),
        "a password alone is not"
    );
    let config = SessionConfig::default();
    let session = SessionRecord::start(SessionId::new(7), &grant, 0, &config);
    assert_eq!(session.aal, Aal::Aal2);
    assert_eq!(
        session.require_fresh(T0, 300, Aal::Aal2),
        Err(PolicyError::ReauthenticationRequired)
    );
    let raised = session.raised(Factor::Second(FactorKind::Totp), &config, T0 + 5);
    assert_eq!(raised.require_fresh(T0 + 5, 300, Aal::Aal2), Ok(()));
    // The grant stands; the owner's own device login still may not change a security setting.
    assert!(org.check_grant(&grant, T0 + 1).is_ok());
    let owners = allowed(decide(
        &org,
        &Account::new(OWNER).factors(totp()),
        &device_login(OWNER),
    ));
    assert_eq!(
        org.set_remember_devices(&owners, false, T0 + 1).err(),
        Some(PolicyError::ReauthenticationRequired)
    );
    assert!(org.set_remember_devices(&owner, false, T0 + 1).is_ok());
}

/// `mfa` with an active authenticator app named `name`.
fn enrolled(mfa: Mfa, name: &str, now: u64) -> Mfa {
    let config = EnrollmentConfig::default();
    let purpose = EnrollmentPurpose::Add(AuthenticatorName::new(name).unwrap());
    let mfa = mfa
        .start_enrollment_with_os_rng(purpose, None, &config, now)
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
fn a_login_resting_on_a_device_binds_no_new_authenticator() {
    let config = EnrollmentConfig::default();
    let mfa = enrolled(Mfa::new(MEMBER), "phone", T0);
    let second = || EnrollmentPurpose::Add(AuthenticatorName::new("tablet").unwrap());
    assert!(matches!(
        mfa.start_enrollment_at_login_with_os_rng(second(), &device_login(MEMBER), &config, T0),
        Err(e) if format!("{e:?}").contains("ReauthenticationRequired")
    ));
    let with_code =
        LoginProgress::password_verified(MEMBER, ORG, T0).with_second_factor(FactorKind::Totp);
    assert!(
        mfa.start_enrollment_at_login_with_os_rng(second(), &with_code, &config, T0)
            .is_ok()
    );
}

#[test]
fn only_a_fresh_owner_forbids_remembered_devices() {
    let (org, owner) = company();
    assert!(org.allows_remembered_devices(), "allowed by default");
    let forbidden = org.set_remember_devices(&owner, false, T0 + 1).unwrap();
    assert!(!forbidden.state.allows_remembered_devices());
    assert_eq!(forbidden.events.len(), 1);
    assert_eq!(
        forbidden.events[0].what,
        AuditKind::RememberDevicesSet { allowed: false }
    );
    assert!(
        org.allows_remembered_devices(),
        "the value it was called on"
    );
    let again = forbidden
        .state
        .set_remember_devices(&owner, false, T0 + 2)
        .unwrap();
    assert!(again.events.is_empty(), "no change, no event");
    assert_eq!(again.state, forbidden.state);
    // A stale grant, an Admin, and another organisation's owner may not.
    assert_eq!(
        org.set_remember_devices(&owner, false, T0 + SENSITIVE_ACTION_MAX_AGE + 1)
            .err(),
        Some(PolicyError::ReauthenticationRequired)
    );
    let progress =
        LoginProgress::password_verified(MEMBER, ORG, T0).with_second_factor(FactorKind::Totp);
    let admin = allowed(decide(
        &org,
        &Account::new(MEMBER).factors(totp()),
        &progress,
    ));
    assert!(
        org.set_remember_devices(&admin, false, T0).is_err(),
        "an Admin"
    );
    let other = Organisation::found(OrgId::new(11), OWNER, T0).state;
    assert_eq!(
        other.set_remember_devices(&owner, false, T0).err(),
        Some(PolicyError::OtherOrganisation)
    );
}

#[cfg(feature = "serde")]
#[test]
fn the_choice_is_stored_and_absent_means_allowed() {
    let (org, owner) = company();
    let forbidden = org.set_remember_devices(&owner, false, T0).unwrap().state;
    let text = serde_json::to_string(&forbidden).unwrap();
    let back: Organisation = serde_json::from_str(&text).unwrap();
    assert!(!back.allows_remembered_devices());
    let mut value = serde_json::to_value(&org).unwrap();
    assert!(
        value
            .as_object_mut()
            .unwrap()
            .remove("remember_devices")
            .is_some()
    );
    let earlier: Organisation = serde_json::from_value(value).unwrap();
    assert!(earlier.allows_remembered_devices());
    assert_eq!(earlier, org);
}

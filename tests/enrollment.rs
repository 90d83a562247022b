//! Authenticator-app enrollment: the ceremony, the replay watermark, several named authenticators,
//! replacing one, and turning MFA off.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::convert::Infallible;

use authcore::credential::FactorKind;
use authcore::otp::{OtpError, Rejected, SecretKey, Totp, Window};
use authcore::policy::{
    Aal, Account, AcknowledgeOutcome, AuditKind, AuthenticatorId, AuthenticatorName,
    ConfirmOutcome, DisableOutcome, EnrollmentConfig, EnrollmentPhase, EnrollmentPurpose, Factor,
    FactorSet, IssueOutcome, LoginDecision, LoginProgress, Mfa, MfaError, MfaSettings,
    Organisation, PolicyError, Role, SecondFactors, login_decision,
};
use authcore::{Grant, OrgId, PersonId};
use rand_core::{TryCryptoRng, TryRng};

const T0: u64 = 1_700_000_010;
const ALICE: PersonId = PersonId::new(1);
const BOB: PersonId = PersonId::new(2);
const ORG: OrgId = OrgId::new(100);

/// A deterministic generator for tests (SplitMix64). Not for production use.
struct TestRng(u64);

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

/// A generator that always fails.
struct BrokenRng;

#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("broken")
    }
}

impl std::error::Error for Broken {}

impl TryRng for BrokenRng {
    type Error = Broken;

    fn try_next_u32(&mut self) -> Result<u32, Broken> {
        Err(Broken)
    }

    fn try_next_u64(&mut self) -> Result<u64, Broken> {
        Err(Broken)
    }

    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Broken> {
        Err(Broken)
    }
}

impl TryCryptoRng for BrokenRng {}

fn name(text: &str) -> AuthenticatorName {
    AuthenticatorName::new(text).unwrap()
}

fn code_for(secret: &SecretKey, now: u64) -> String {
    let params = EnrollmentConfig::default().params();
    Totp::new(params, secret)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// A code that is certainly not the current one (every digit moved on by one).
fn wrong_code(right: &str) -> String {
    right
        .bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect()
}

/// Runs the whole ceremony for `purpose`, returning the new state and the confirming code.
fn enroll(
    mfa: &Mfa,
    purpose: EnrollmentPurpose,
    reauth: Option<&Grant>,
    now: u64,
) -> (Mfa, String) {
    let config = EnrollmentConfig::default();
    let mut rng = TestRng(now);
    let started = mfa
        .start_enrollment(purpose, reauth, &config, &mut rng, now)
        .unwrap()
        .state;
    let code = code_for(started.enrollment().unwrap().expose_secret(), now);
    let confirmed = started.confirm_enrollment(&code, &config, now).unwrap();
    assert_eq!(confirmed.outcome, ConfirmOutcome::Confirmed);
    let issued = confirmed.state.recovery_codes_issued(&config, now).unwrap();
    assert_eq!(issued.outcome, IssueOutcome::Recorded);
    let done = issued
        .state
        .acknowledge_recovery_codes(&config, now)
        .unwrap();
    assert!(matches!(done.outcome, AcknowledgeOutcome::Activated { .. }));
    (done.state, code)
}

/// A real login of `person` to a fresh organisation they own, with a TOTP second factor when
/// `with_totp`: the only way to get a grant.
fn grant_for(person: PersonId, mfa: &Mfa, with_totp: bool, now: u64) -> Grant {
    let org = Organisation::found(ORG, person, now).state;
    let account = Account::new(person).factors(mfa.factors());
    let mut progress = LoginProgress::password_verified(person, ORG, now);
    if with_totp {
        progress = progress.with_second_factor(FactorKind::Totp);
    }
    match login_decision(&account, org.member(person), org.policy(), &progress, now) {
        LoginDecision::Allowed(grant) => grant,
        other => panic!("login not allowed: {other:?}"),
    }
}

#[test]
fn the_full_ceremony() {
    let config = EnrollmentConfig::default();
    let mfa = Mfa::new(ALICE);
    assert!(!mfa.is_active());
    assert_eq!(mfa.factors(), SecondFactors::EMPTY);

    // 1. Start: a fresh secret, a manual key, an expiry.
    let started = mfa
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(1),
            T0,
        )
        .unwrap();
    assert_eq!(
        started.events.last().map(|e| e.what),
        Some(AuditKind::EnrollmentStarted {
            authenticator: AuthenticatorId::new(1),
            replacing: None,
        })
    );
    let state = started.state;
    assert!(mfa.enrollment().is_none(), "the old state is untouched");
    let pending = state.enrollment().unwrap();
    assert_eq!(pending.phase(), EnrollmentPhase::AwaitingCode);
    assert_eq!(pending.expires_at(), T0 + 15 * 60);
    assert_eq!(pending.name().as_str(), "Phone");
    assert_eq!(pending.expose_secret().len_bits(), 160);
    let manual = pending.manual_key();
    let decoded = SecretKey::from_base32(&manual).unwrap();
    assert_eq!(
        decoded.expose_bytes(),
        pending.expose_secret().expose_bytes()
    );
    assert!(!state.is_active());

    // 2. A wrong code keeps it pending and counts as a failure.
    let right = code_for(pending.expose_secret(), T0 + 20);
    let rejected = state
        .confirm_enrollment(&wrong_code(&right), &config, T0 + 20)
        .unwrap();
    assert_eq!(rejected.outcome, ConfirmOutcome::CodeRejected);
    assert!(rejected.outcome.counts_as_failure());
    assert!(matches!(
        rejected.events[0].what,
        AuditKind::EnrollmentCodeRejected { .. }
    ));
    let state = rejected.state;
    assert_eq!(
        state.enrollment().unwrap().phase(),
        EnrollmentPhase::AwaitingCode
    );
    // Garbage is just another wrong code.
    let garbage = state
        .confirm_enrollment("12ab56", &config, T0 + 20)
        .unwrap();
    assert_eq!(garbage.outcome, ConfirmOutcome::CodeRejected);

    // Steps out of order are developer errors.
    assert_eq!(
        state
            .acknowledge_recovery_codes(&config, T0 + 20)
            .unwrap_err(),
        MfaError::Policy(PolicyError::WrongEnrollmentPhase {
            expected: EnrollmentPhase::AwaitingAcknowledgement,
            actual: EnrollmentPhase::AwaitingCode,
        })
    );

    // The right code confirms.
    let confirmed = state.confirm_enrollment(&right, &config, T0 + 20).unwrap();
    assert_eq!(confirmed.outcome, ConfirmOutcome::Confirmed);
    assert!(!confirmed.outcome.counts_as_failure());
    let state = confirmed.state;
    assert_eq!(
        state.enrollment().unwrap().phase(),
        EnrollmentPhase::AwaitingRecoveryCodes
    );
    assert!(!state.is_active(), "not active before the acknowledgement");
    assert!(state.acknowledge_recovery_codes(&config, T0 + 30).is_err());

    // 3. Recovery codes issued by the host, 4. acknowledged.
    let state = state.recovery_codes_issued(&config, T0 + 30).unwrap().state;
    assert_eq!(
        state.enrollment().unwrap().phase(),
        EnrollmentPhase::AwaitingAcknowledgement
    );
    assert!(!state.is_active(), "not active before the acknowledgement");
    let done = state.acknowledge_recovery_codes(&config, T0 + 40).unwrap();
    let AcknowledgeOutcome::Activated {
        authenticator,
        replaced,
    } = done.outcome
    else {
        panic!("not activated")
    };
    assert_eq!(replaced, None);
    let state = done.state;
    assert!(state.is_active());
    assert!(state.enrollment().is_none());
    assert_eq!(state.recovery_codes_issued_at(), Some(T0 + 30));
    assert_eq!(
        state.factors(),
        SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode)
    );
    let active = state.authenticator(authenticator).unwrap();
    assert_eq!(active.name().as_str(), "Phone");
    assert_eq!(active.enrolled_at(), T0 + 40);
    assert_eq!(
        active.last_accepted_step(),
        config.params().step_at(T0 + 20).unwrap()
    );
}

#[test]
fn the_setup_code_cannot_be_replayed_as_the_first_login_code() {
    let config = EnrollmentConfig::default();
    let (mfa, setup_code) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let active = &mfa.authenticators()[0];
    let totp = Totp::new(active.params(), active.expose_secret());

    // Without the watermark the code would still be valid in this window...
    assert!(
        totp.verify(&setup_code, T0 + 5, Window::default(), None)
            .is_ok()
    );
    // ...but the active authenticator's watermark refuses it.
    assert_eq!(
        totp.verify(
            &setup_code,
            T0 + 5,
            Window::default(),
            Some(active.last_accepted_step())
        ),
        Err(Rejected)
    );
    assert_eq!(
        mfa.verify_login_code(&setup_code, T0 + 5, Window::default()),
        Err(Rejected)
    );

    // The next step's code is accepted once, then is the watermark.
    let later = T0 + 30;
    let next_code = code_for(active.expose_secret(), later);
    let accepted = mfa
        .verify_login_code(&next_code, later, Window::default())
        .unwrap();
    assert_eq!(accepted.authenticator(), active.id());
    let mfa = mfa.record_login_code(accepted, later).unwrap().state;
    assert_eq!(
        mfa.authenticators()[0].last_accepted_step(),
        config.params().step_at(later).unwrap()
    );
    assert_eq!(
        mfa.verify_login_code(&next_code, later, Window::default()),
        Err(Rejected)
    );
    // For the audit trail, the used code is a replay, and a wrong one is not.
    assert_eq!(
        mfa.verify_login_code_detailed(&next_code, later, Window::default()),
        Err(authcore::otp::Refusal::Replayed)
    );
    assert_eq!(
        mfa.verify_login_code_detailed(&setup_code, T0 + 5, Window::default()),
        Err(authcore::otp::Refusal::Replayed)
    );
    let wrong = if next_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        mfa.verify_login_code_detailed(wrong, later, Window::default()),
        Err(authcore::otp::Refusal::Invalid)
    );
}

#[test]
fn an_expired_enrollment_must_restart() {
    let config = EnrollmentConfig::builder()
        .pending_ttl(120)
        .build()
        .unwrap();
    let mfa = Mfa::new(ALICE);
    let state = mfa
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(2),
            T0,
        )
        .unwrap()
        .state;
    let late = T0 + 120;
    let code = code_for(state.enrollment().unwrap().expose_secret(), late);
    let expired = state.confirm_enrollment(&code, &config, late).unwrap();
    assert_eq!(expired.outcome, ConfirmOutcome::Expired);
    assert!(!expired.outcome.counts_as_failure());
    assert!(expired.state.enrollment().is_none());
    assert!(matches!(
        expired.events[0].what,
        AuditKind::EnrollmentExpired { .. }
    ));
    assert_eq!(
        expired
            .state
            .confirm_enrollment(&code, &config, late)
            .unwrap_err(),
        MfaError::Policy(PolicyError::NoEnrollment)
    );

    // Each later step has its own deadline, counted from the previous step.
    let state = mfa
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(3),
            T0,
        )
        .unwrap()
        .state;
    let code = code_for(state.enrollment().unwrap().expose_secret(), T0 + 100);
    let state = state
        .confirm_enrollment(&code, &config, T0 + 100)
        .unwrap()
        .state;
    assert_eq!(state.enrollment().unwrap().expires_at(), T0 + 220);
    let state = state
        .recovery_codes_issued(&config, T0 + 200)
        .unwrap()
        .state;
    let late = state.acknowledge_recovery_codes(&config, T0 + 320).unwrap();
    assert_eq!(late.outcome, AcknowledgeOutcome::Expired);
    assert!(!late.state.is_active());
    assert!(late.state.enrollment().is_none());

    let state = mfa
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(4),
            T0,
        )
        .unwrap()
        .state;
    let code = code_for(state.enrollment().unwrap().expose_secret(), T0);
    let state = state.confirm_enrollment(&code, &config, T0).unwrap().state;
    let late = state.recovery_codes_issued(&config, T0 + 500).unwrap();
    assert_eq!(late.outcome, IssueOutcome::Expired);
}

#[test]
fn a_new_enrollment_never_disturbs_the_active_authenticator() {
    let config = EnrollmentConfig::default();
    let (mfa, _) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let old_id = mfa.authenticators()[0].id();
    let now = T0 + 600;

    // Adding or replacing needs a fresh second-factor re-authentication once MFA is active.
    let purpose = EnrollmentPurpose::Replace(old_id);
    assert_eq!(
        mfa.start_enrollment(purpose.clone(), None, &config, &mut TestRng(5), now)
            .unwrap_err(),
        MfaError::Policy(PolicyError::ReauthenticationRequired)
    );
    let aal1 = grant_for(ALICE, &Mfa::new(ALICE), false, now);
    assert_eq!(
        mfa.start_enrollment(purpose.clone(), Some(&aal1), &config, &mut TestRng(5), now)
            .unwrap_err(),
        MfaError::Policy(PolicyError::ReauthenticationRequired)
    );
    let grant = grant_for(ALICE, &mfa, true, now);
    assert_eq!(grant.aal(), Aal::Aal2);

    let pending = mfa
        .start_enrollment(purpose, Some(&grant), &config, &mut TestRng(5), now)
        .unwrap()
        .state;
    // The old authenticator still works while the new one is pending.
    let old_code = code_for(mfa.authenticators()[0].expose_secret(), now);
    assert!(
        pending
            .verify_login_code(&old_code, now, Window::default())
            .is_ok()
    );
    // The pending secret never counts for login.
    let new_code = code_for(pending.enrollment().unwrap().expose_secret(), now);
    assert_eq!(
        pending.verify_login_code(&new_code, now, Window::default()),
        Err(Rejected)
    );
    let state = pending
        .confirm_enrollment(&new_code, &config, now)
        .unwrap()
        .state;
    let state = state.recovery_codes_issued(&config, now).unwrap().state;
    assert!(
        state
            .verify_login_code(&old_code, now, Window::default())
            .is_ok()
    );
    let done = state.acknowledge_recovery_codes(&config, now).unwrap();
    let AcknowledgeOutcome::Activated {
        authenticator,
        replaced,
    } = done.outcome
    else {
        panic!("not activated")
    };
    assert_eq!(replaced, Some(old_id));
    assert_ne!(authenticator, old_id);
    let state = done.state;
    // Exactly one authenticator, with the old name and the new secret: never two for one device.
    assert_eq!(state.authenticators().len(), 1);
    assert_eq!(state.authenticators()[0].name().as_str(), "Phone");
    assert!(state.authenticator(old_id).is_none());
    let later = now + 60;
    assert_eq!(
        state.verify_login_code(
            &code_for(mfa.authenticators()[0].expose_secret(), later),
            later,
            Window::default()
        ),
        Err(Rejected)
    );
    assert!(
        state
            .verify_login_code(
                &code_for(state.authenticators()[0].expose_secret(), later),
                later,
                Window::default()
            )
            .is_ok()
    );
}

#[test]
fn several_named_authenticators_up_to_a_limit() {
    let config = EnrollmentConfig::builder()
        .max_authenticators(2)
        .build()
        .unwrap();
    let (mfa, _) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let now = T0 + 60;
    let grant = grant_for(ALICE, &mfa, true, now);
    assert_eq!(
        mfa.start_enrollment(
            EnrollmentPurpose::Add(name("  PHONE ")),
            Some(&grant),
            &config,
            &mut TestRng(6),
            now
        )
        .unwrap_err(),
        MfaError::Policy(PolicyError::NameTaken)
    );
    let (mfa, _) = enroll(
        &mfa,
        EnrollmentPurpose::Add(name("Backup tablet")),
        Some(&grant),
        now,
    );
    assert_eq!(mfa.authenticators().len(), 2);
    let ids: Vec<_> = mfa.authenticators().iter().map(|a| a.id().get()).collect();
    assert_eq!(ids, [1, 2]);
    // Each has its own secret, and either one logs in.
    let later = now + 60;
    for authenticator in mfa.authenticators() {
        let code = code_for(authenticator.expose_secret(), later);
        let accepted = mfa
            .verify_login_code(&code, later, Window::default())
            .unwrap();
        assert_eq!(accepted.authenticator(), authenticator.id());
    }
    assert_eq!(
        mfa.start_enrollment(
            EnrollmentPurpose::Add(name("Third")),
            Some(&grant),
            &config,
            &mut TestRng(7),
            now
        )
        .unwrap_err(),
        MfaError::Policy(PolicyError::AuthenticatorLimit { max: 2 })
    );
    assert_eq!(
        mfa.start_enrollment(
            EnrollmentPurpose::Replace(AuthenticatorId::new(9)),
            Some(&grant),
            &config,
            &mut TestRng(7),
            now
        )
        .unwrap_err(),
        MfaError::Policy(PolicyError::UnknownAuthenticator)
    );
}

#[test]
fn restarting_and_cancelling_discard_the_pending_secret() {
    let config = EnrollmentConfig::default();
    let mfa = Mfa::new(ALICE);
    let first = mfa
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(8),
            T0,
        )
        .unwrap()
        .state;
    let first_code = code_for(first.enrollment().unwrap().expose_secret(), T0);
    let second = first
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(9),
            T0,
        )
        .unwrap();
    assert!(matches!(
        second.events[0].what,
        AuditKind::EnrollmentAbandoned { .. }
    ));
    assert_ne!(
        first.enrollment().unwrap().authenticator(),
        second.state.enrollment().unwrap().authenticator()
    );
    // The first secret's code no longer confirms anything.
    let outcome = second
        .state
        .confirm_enrollment(&first_code, &config, T0)
        .unwrap()
        .outcome;
    assert_eq!(outcome, ConfirmOutcome::CodeRejected);

    let cancelled = second.state.cancel_enrollment(T0).unwrap();
    assert!(cancelled.state.enrollment().is_none());
    assert_eq!(
        cancelled.state.cancel_enrollment(T0).unwrap_err(),
        MfaError::Policy(PolicyError::NoEnrollment)
    );
    assert_eq!(
        mfa.start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut BrokenRng,
            T0
        )
        .unwrap_err(),
        MfaError::Otp(OtpError::Random)
    );
}

#[test]
fn turning_mfa_off_needs_fresh_reauthentication_and_no_enforcing_organisation() {
    let config = EnrollmentConfig::default();
    let (mfa, _) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let now = T0 + 1_000;
    let fresh = grant_for(ALICE, &mfa, true, now);

    // A stale grant, a password-only grant, someone else's grant: refused.
    let stale = now + config.reauth_max_age() + 1;
    assert_eq!(
        mfa.disable(&fresh, &[], &config, stale).unwrap_err(),
        MfaError::Policy(PolicyError::ReauthenticationRequired)
    );
    let aal1 = grant_for(ALICE, &Mfa::new(ALICE), false, now);
    assert_eq!(
        mfa.disable(&aal1, &[], &config, now).unwrap_err(),
        MfaError::Policy(PolicyError::ReauthenticationRequired)
    );
    let bobs = grant_for(BOB, &mfa, true, now);
    assert_eq!(
        mfa.disable(&bobs, &[], &config, now).unwrap_err(),
        MfaError::Policy(PolicyError::WrongPerson)
    );
    // A second-factor re-authentication refreshes the grant; a password-only one lowers it.
    let refreshed = fresh.reauthenticated(
        [Factor::Password, Factor::Second(FactorKind::Totp)]
            .into_iter()
            .collect(),
        stale,
    );
    assert_eq!(refreshed.aal(), Aal::Aal2);
    assert!(mfa.disable(&refreshed, &[], &config, stale).is_ok());
    let lowered = fresh.reauthenticated(FactorSet::of(Factor::Password), stale);
    assert_eq!(lowered.aal(), Aal::Aal1);
    assert!(mfa.disable(&lowered, &[], &config, stale).is_err());

    // Alice owns an organisation that enforces MFA.
    let org = Organisation::found(ORG, ALICE, now).state;
    let org = org
        .set_mfa_policy(
            &fresh,
            mfa.factors(),
            MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap(),
            now,
        )
        .unwrap()
        .state;
    let standing = org.standing(ALICE).unwrap();
    assert!(standing.enforces_mfa() && standing.sole_owner());
    assert_eq!(
        mfa.disable(&fresh, &[standing], &config, now).unwrap_err(),
        MfaError::Policy(PolicyError::SoleOwnerOfEnforcingOrganisation { org: ORG })
    );
    // With Bob as a second owner she is no longer the sole owner, but the policy still holds.
    let org = org.add_member(&fresh, BOB, Role::Admin, now).unwrap().state;
    let org = org
        .transfer_ownership(
            &fresh,
            BOB,
            SecondFactors::of(FactorKind::Totp),
            Role::Owner,
            now,
        )
        .unwrap()
        .state;
    let standing = org.standing(ALICE).unwrap();
    assert!(standing.enforces_mfa() && !standing.sole_owner());
    assert_eq!(
        mfa.disable(&fresh, &[standing], &config, now).unwrap_err(),
        MfaError::Policy(PolicyError::RequiredByOrganisation { org: ORG })
    );
    // Removing the only authenticator is turning MFA off: same refusal.
    let only = mfa.authenticators()[0].id();
    assert_eq!(
        mfa.remove_authenticator(only, &fresh, &[standing], &config, now)
            .unwrap_err(),
        MfaError::Policy(PolicyError::RequiredByOrganisation { org: ORG })
    );
    // Someone else's standing is a misuse.
    let bob_standing = org.standing(BOB).unwrap();
    assert_eq!(
        mfa.disable(&fresh, &[bob_standing], &config, now)
            .unwrap_err(),
        MfaError::Policy(PolicyError::WrongPerson)
    );

    // With no enforcing organisation, it goes.
    let off = org.turn_off_mfa_policy(&fresh, now).unwrap().state;
    let standing = off.standing(ALICE).unwrap();
    let disabled = mfa.disable(&fresh, &[standing], &config, now).unwrap();
    assert_eq!(disabled.outcome, DisableOutcome::MfaOff);
    assert!(!disabled.state.is_active());
    assert_eq!(disabled.state.factors(), SecondFactors::EMPTY);
    assert_eq!(disabled.state.recovery_codes_issued_at(), None);
    assert_eq!(
        disabled.events.last().map(|e| e.what),
        Some(AuditKind::MfaDisabled)
    );
}

#[test]
fn removing_one_of_several_authenticators() {
    let config = EnrollmentConfig::default();
    let (mfa, _) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let grant = grant_for(ALICE, &mfa, true, T0);
    let (mfa, _) = enroll(
        &mfa,
        EnrollmentPurpose::Add(name("Backup")),
        Some(&grant),
        T0,
    );
    let first = mfa.authenticators()[0].id();
    let removed = mfa
        .remove_authenticator(first, &grant, &[], &config, T0 + 10)
        .unwrap();
    assert_eq!(removed.outcome, DisableOutcome::AuthenticatorRemoved);
    assert_eq!(removed.state.authenticators().len(), 1);
    assert!(removed.state.is_active());
    assert_eq!(
        removed
            .state
            .remove_authenticator(first, &grant, &[], &config, T0 + 10)
            .unwrap_err(),
        MfaError::Policy(PolicyError::UnknownAuthenticator)
    );
}

#[test]
fn configuration_and_names_are_checked() {
    assert!(EnrollmentConfig::builder().pending_ttl(59).build().is_err());
    assert!(
        EnrollmentConfig::builder()
            .pending_ttl(86_401)
            .build()
            .is_err()
    );
    assert!(
        EnrollmentConfig::builder()
            .max_authenticators(0)
            .build()
            .is_err()
    );
    assert!(
        EnrollmentConfig::builder()
            .max_authenticators(17)
            .build()
            .is_err()
    );
    assert!(
        EnrollmentConfig::builder()
            .reauth_max_age(10)
            .build()
            .is_err()
    );
    let config = EnrollmentConfig::builder()
        .window(Window::EXACT)
        .reauth_max_age(600)
        .build()
        .unwrap();
    assert_eq!(config.window(), Window::EXACT);
    assert_eq!(config.reauth_max_age(), 600);
    assert_eq!(EnrollmentConfig::default().pending_ttl(), 900);

    assert_eq!(name("  Phone ").as_str(), "Phone");
    assert_eq!(AuthenticatorName::new("   "), Err(PolicyError::InvalidName));
    assert_eq!(
        AuthenticatorName::new("a\nb"),
        Err(PolicyError::InvalidName)
    );
    assert!(AuthenticatorName::new(&"é".repeat(64)).is_ok());
    assert!(AuthenticatorName::new(&"é".repeat(65)).is_err());
}

#[test]
fn nothing_secret_in_debug_output_or_audit_events() {
    let config = EnrollmentConfig::default();
    let mfa = Mfa::new(ALICE);
    let started = mfa
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(10),
            T0,
        )
        .unwrap();
    let key = started.state.enrollment().unwrap().manual_key();
    let code = code_for(started.state.enrollment().unwrap().expose_secret(), T0);
    let confirmed = started
        .state
        .confirm_enrollment(&code, &config, T0)
        .unwrap();
    let shown = format!(
        "{:?} {:?} {:?} {:?}",
        confirmed.state, started.events, confirmed.events, confirmed
    );
    assert!(!shown.contains(key.as_str()));
    assert!(!shown.contains(&key[..8]));
    assert!(!shown.contains(&code));
    assert!(shown.contains("REDACTED"));
}

#[cfg(feature = "serde")]
mod persistence {
    use super::*;
    use authcore::policy::{AuthenticatorApp, Enrollment, ServerSideOnly};
    use std::marker::PhantomData;

    /// Tells, at compile time, whether a type implements `Serialize` (an inherent method wins
    /// over the trait's when its bound holds).
    struct Probe<T>(PhantomData<T>);

    trait NotSerialize {
        fn serializable(&self) -> bool {
            false
        }
    }

    impl<T> NotSerialize for Probe<T> {}

    impl<T: serde::Serialize> Probe<T> {
        fn serializable(&self) -> bool {
            true
        }
    }

    #[test]
    fn secret_states_do_not_serialise_by_accident() {
        assert!(!Probe::<SecretKey>(PhantomData).serializable());
        assert!(!Probe::<Mfa>(PhantomData).serializable());
        assert!(!Probe::<Enrollment>(PhantomData).serializable());
        assert!(!Probe::<AuthenticatorApp>(PhantomData).serializable());
        assert!(Probe::<ServerSideOnly<&Mfa>>(PhantomData).serializable());
        assert!(Probe::<Organisation>(PhantomData).serializable());
        assert!(Probe::<Grant>(PhantomData).serializable());
        assert_eq!(
            format!("{:?}", ServerSideOnly::new(&Mfa::new(ALICE))),
            "ServerSideOnly([REDACTED])"
        );
    }

    #[test]
    fn server_side_round_trip() {
        let config = EnrollmentConfig::default();
        let (mfa, _) = enroll(
            &Mfa::new(ALICE),
            EnrollmentPurpose::Add(name("Phone")),
            None,
            T0,
        );
        let grant = grant_for(ALICE, &mfa, true, T0);
        let pending = mfa
            .start_enrollment(
                EnrollmentPurpose::Add(name("Backup")),
                Some(&grant),
                &config,
                &mut TestRng(11),
                T0,
            )
            .unwrap()
            .state;
        let stored = serde_json::to_string(&ServerSideOnly::new(&pending)).unwrap();
        let loaded: ServerSideOnly<Mfa> = serde_json::from_str(&stored).unwrap();
        let loaded = loaded.into_inner();
        assert_eq!(
            serde_json::to_string(&ServerSideOnly::new(&loaded)).unwrap(),
            stored
        );
        assert_eq!(loaded.authenticators().len(), 1);
        assert_eq!(
            loaded.authenticators()[0].last_accepted_step(),
            mfa.authenticators()[0].last_accepted_step()
        );
        // The loaded state carries on: the pending enrollment confirms with its code.
        let code = code_for(loaded.enrollment().unwrap().expose_secret(), T0);
        let outcome = loaded
            .confirm_enrollment(&code, &config, T0)
            .unwrap()
            .outcome;
        assert_eq!(outcome, ConfirmOutcome::Confirmed);

        let one = serde_json::to_string(&ServerSideOnly::new(&mfa.authenticators()[0])).unwrap();
        let back: ServerSideOnly<AuthenticatorApp> = serde_json::from_str(&one).unwrap();
        assert_eq!(back.get().name().as_str(), "Phone");
        let enrollment =
            serde_json::to_string(&ServerSideOnly::new(pending.enrollment().unwrap())).unwrap();
        let back: ServerSideOnly<Enrollment> = serde_json::from_str(&enrollment).unwrap();
        assert_eq!(back.get().phase(), EnrollmentPhase::AwaitingCode);
    }

    #[test]
    fn inconsistent_stored_states_are_refused() {
        let (mfa, _) = enroll(
            &Mfa::new(ALICE),
            EnrollmentPurpose::Add(name("Phone")),
            None,
            T0,
        );
        let stored = serde_json::to_string(&ServerSideOnly::new(&mfa)).unwrap();
        let decode = |text: &str| serde_json::from_str::<ServerSideOnly<Mfa>>(text);
        assert!(decode(&stored).is_ok());
        let edits = [
            ("\"version\":2", "\"version\":3"),
            ("\"version\":2", "\"version\":0"),
            ("\"next_authenticator\":2", "\"next_authenticator\":1"),
            ("\"digits\":6", "\"digits\":9"),
            ("\"algorithm\":\"SHA1\"", "\"algorithm\":\"MD5\""),
        ];
        for (from, to) in edits {
            let edited = stored.replace(from, to);
            assert_ne!(edited, stored, "{from} not found");
            assert!(decode(&edited).is_err(), "{to} accepted");
        }
        let no_codes = stored.replace(
            &format!("\"recovery_codes_issued_at\":{T0}"),
            "\"recovery_codes_issued_at\":null",
        );
        assert_ne!(no_codes, stored);
        assert!(decode(&no_codes).is_err());
        let key = mfa.authenticators()[0].expose_secret().expose_base32();
        assert!(decode(&stored.replace(key.as_str(), "AAAA")).is_err());
        assert!(decode("{}").is_err());
        assert!(decode("").is_err());
    }

    /// Version 1 of the stored state held the person as a JSON number; a state stored then still
    /// decodes (a person id beyond 64 bits included), and in no other mix of version and form.
    #[test]
    fn states_stored_with_the_person_as_a_number_still_decode() {
        let person = PersonId::new(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        let (mfa, _) = enroll(
            &Mfa::new(person),
            EnrollmentPurpose::Add(name("Phone")),
            None,
            T0,
        );
        let stored = serde_json::to_string(&ServerSideOnly::new(&mfa)).unwrap();
        let text = format!("\"person\":\"{person}\"");
        let number = format!("\"person\":{}", person.get());
        assert!(
            stored.starts_with(&format!("{{\"version\":2,{text},")),
            "{stored}"
        );
        let decode = |text: &str| serde_json::from_str::<ServerSideOnly<Mfa>>(text);
        let version_1 = stored
            .replace("\"version\":2", "\"version\":1")
            .replace(&text, &number);
        let old = decode(&version_1).unwrap().into_inner();
        assert_eq!(old.person(), person);
        assert_eq!(
            format!("{:?}", old.authenticators()),
            format!("{:?}", mfa.authenticators())
        );
        // Written again, it is version 2.
        assert_eq!(
            serde_json::to_string(&ServerSideOnly::new(&old)).unwrap(),
            stored
        );
        // A number in version 2, text in version 1, or a person before the version: refused.
        assert!(decode(&stored.replace(&text, &number)).is_err());
        assert!(decode(&stored.replace("\"version\":2", "\"version\":1")).is_err());
        let person_first = stored.replacen(
            &format!("\"version\":2,{text}"),
            &format!("{text},\"version\":2"),
            1,
        );
        assert_ne!(person_first, stored);
        assert!(decode(&person_first).is_err());
        // The same state as a JSON array (the fields in order) decodes too.
        let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
        let array: Vec<serde_json::Value> = [
            "version",
            "person",
            "authenticators",
            "enrollment",
            "recovery_codes_issued_at",
            "next_authenticator",
        ]
        .iter()
        .map(|field| value[field].clone())
        .collect();
        let array = serde_json::to_string(&array).unwrap();
        assert_eq!(decode(&array).unwrap().into_inner().person(), person);
    }
}

#[test]
fn the_authenticator_limit_error_names_the_configurable_maximum() {
    let max = EnrollmentConfig::MAX_AUTHENTICATORS;
    assert_eq!(
        EnrollmentConfig::builder()
            .max_authenticators(max + 1)
            .build(),
        Err(PolicyError::InvalidAuthenticatorLimit)
    );
    let message = PolicyError::InvalidAuthenticatorLimit.to_string();
    assert!(message.ends_with(&format!(" 1 to {max}")), "{message}");
}

#[test]
fn a_pending_enrollment_is_resumable_for_its_own_purpose_until_confirmed_or_expired() {
    let config = EnrollmentConfig::default();
    let phone = || EnrollmentPurpose::Add(name("Phone"));
    let mfa = Mfa::new(ALICE);
    assert!(
        mfa.resumable_enrollment(&phone(), T0).is_none(),
        "nothing pending"
    );
    let started = mfa
        .start_enrollment(phone(), None, &config, &mut TestRng(3), T0)
        .unwrap()
        .state;
    let pending = started.resumable_enrollment(&phone(), T0 + 1).unwrap();
    assert_eq!(
        pending.manual_key(),
        started.enrollment().unwrap().manual_key(),
        "the same secret"
    );
    assert!(
        started
            .resumable_enrollment(&EnrollmentPurpose::Add(name("pHONE")), T0)
            .is_some(),
        "names compare as names do"
    );
    assert!(
        started
            .resumable_enrollment(&EnrollmentPurpose::Add(name("Tablet")), T0)
            .is_none(),
        "another name"
    );
    let expires = started.enrollment().unwrap().expires_at();
    assert!(
        started
            .resumable_enrollment(&phone(), expires - 1)
            .is_some()
    );
    assert!(
        started.resumable_enrollment(&phone(), expires).is_none(),
        "expired"
    );
    let code = code_for(started.enrollment().unwrap().expose_secret(), T0);
    let confirmed = started
        .confirm_enrollment(&code, &config, T0)
        .unwrap()
        .state;
    assert!(
        confirmed.resumable_enrollment(&phone(), T0).is_none(),
        "confirmed: its QR code is done with"
    );
    // A replacement resumes only as a replacement of the same authenticator.
    let (active, _) = enroll(&mfa, phone(), None, T0);
    let id = active.authenticators()[0].id();
    let grant = grant_for(ALICE, &active, true, T0 + 60);
    let replacing = active
        .start_enrollment(
            EnrollmentPurpose::Replace(id),
            Some(&grant),
            &config,
            &mut TestRng(4),
            T0 + 60,
        )
        .unwrap()
        .state;
    assert!(
        replacing
            .resumable_enrollment(&EnrollmentPurpose::Replace(id), T0 + 61)
            .is_some()
    );
    assert!(
        replacing.resumable_enrollment(&phone(), T0 + 61).is_none(),
        "an addition under the replaced one's name is another purpose"
    );
}

/// An organisation `id` founded by `founder`, with `members` added at `T0`.
fn roster(id: OrgId, founder: PersonId, members: &[(PersonId, Role)]) -> Organisation {
    let org = Organisation::found(id, founder, T0).state;
    let founder_mfa = enroll(
        &Mfa::new(founder),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    )
    .0;
    let owner = {
        let account = Account::new(founder).factors(founder_mfa.factors());
        let progress =
            LoginProgress::password_verified(founder, id, T0).with_second_factor(FactorKind::Totp);
        match login_decision(&account, org.member(founder), org.policy(), &progress, T0) {
            LoginDecision::Allowed(grant) => grant,
            other => panic!("login not allowed: {other:?}"),
        }
    };
    members.iter().fold(org, |org, &(person, role)| {
        org.add_member(&owner, person, role, T0).unwrap().state
    })
}

/// A fresh AAL2 grant of `person` (an Admin or Owner) in `org`.
fn admin_grant(org: &Organisation, person: PersonId, now: u64) -> Grant {
    let account = Account::new(person).factors(SecondFactors::of(FactorKind::Totp));
    let progress = LoginProgress::password_verified(person, org.id(), now)
        .with_second_factor(FactorKind::Totp)
        .defer_enrollment();
    match login_decision(&account, org.member(person), org.policy(), &progress, now) {
        LoginDecision::Allowed(grant) => grant,
        other => panic!("login not allowed: {other:?}"),
    }
}

#[test]
fn an_mfa_reset_needs_authority_in_every_organisation_of_the_target() {
    const CAROL: PersonId = PersonId::new(3);
    let here = roster(ORG, ALICE, &[(BOB, Role::Admin), (CAROL, Role::User)]);
    let now = T0 + 10;
    let bob = admin_grant(&here, BOB, now);

    // Bob administers Carol in the other organisation too: allowed, on his authority.
    let there = roster(
        OrgId::new(200),
        ALICE,
        &[(BOB, Role::Admin), (CAROL, Role::User)],
    );
    let authority = here
        .authorize_mfa_reset(&bob, CAROL, &[there, here.clone()], now)
        .unwrap();
    assert_eq!(authority.by(), BOB);
    assert_eq!(authority.target(), CAROL);
    assert_eq!(authority.org(), ORG);
    assert!(here.authorize_mfa_reset(&bob, CAROL, &[], now).is_ok());

    // Elsewhere Bob is no member, only a Manager, or an Admin facing an Owner: refused.
    let stranger = roster(OrgId::new(201), ALICE, &[(CAROL, Role::User)]);
    let manager = roster(
        OrgId::new(202),
        ALICE,
        &[(BOB, Role::Manager), (CAROL, Role::User)],
    );
    let owned = roster(OrgId::new(203), CAROL, &[(BOB, Role::Admin)]);
    for other in [stranger, manager, owned] {
        assert_eq!(
            here.authorize_mfa_reset(&bob, CAROL, &[other], now),
            Err(PolicyError::MemberOfAnotherOrganisation)
        );
    }
    // Bob deactivated elsewhere: refused.
    let alice_there = admin_grant(&roster(OrgId::new(204), ALICE, &[]), ALICE, now);
    let deactivated = roster(
        OrgId::new(204),
        ALICE,
        &[(BOB, Role::Admin), (CAROL, Role::User)],
    )
    .deactivate_member(&alice_there, BOB, now)
    .unwrap()
    .state;
    assert_eq!(
        here.authorize_mfa_reset(&bob, CAROL, &[deactivated], now),
        Err(PolicyError::MemberOfAnotherOrganisation)
    );
    // An Owner there may reset an Owner there.
    let alice = admin_grant(&here, ALICE, now);
    let co_owned = roster(OrgId::new(205), CAROL, &[(ALICE, Role::Admin)]);
    let carol_there = admin_grant(&co_owned, CAROL, now);
    let co_owned = co_owned
        .transfer_ownership(
            &carol_there,
            ALICE,
            SecondFactors::of(FactorKind::Totp),
            Role::Owner,
            now,
        )
        .unwrap()
        .state;
    assert!(
        here.authorize_mfa_reset(&alice, CAROL, &[co_owned], now)
            .is_ok()
    );
}

#[test]
fn an_mfa_reset_clears_the_state_and_never_reissues_an_id() {
    const CAROL: PersonId = PersonId::new(3);
    let here = roster(ORG, ALICE, &[(BOB, Role::Admin), (CAROL, Role::User)]);
    let now = T0 + 10;
    let bob = admin_grant(&here, BOB, now);
    let authority = here.authorize_mfa_reset(&bob, CAROL, &[], now).unwrap();

    let (carol, _) = enroll(
        &Mfa::new(CAROL),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let old = carol.authenticators()[0].id();
    assert_eq!(
        Mfa::new(BOB).reset(&authority, now).unwrap_err(),
        PolicyError::WrongPerson
    );
    let reset = carol.reset(&authority, now).unwrap();
    assert!(reset.state.authenticators().is_empty());
    assert!(!reset.state.is_active());
    assert_eq!(reset.events.len(), 1);
    assert_eq!(
        reset.events[0].what,
        AuditKind::AuthenticatorRemoved { authenticator: old }
    );
    assert_eq!(reset.events[0].actor, authcore::policy::Actor::Person(BOB));
    assert_eq!(reset.events[0].subject, Some(CAROL));
    assert_eq!(reset.events[0].organisation, Some(ORG));
    // The next authenticator gets a new id.
    let (again, _) = enroll(
        &reset.state,
        EnrollmentPurpose::Add(name("Tablet")),
        None,
        now,
    );
    assert!(again.authenticators()[0].id() > old);
}

#[test]
fn mfa_errors_say_what_refused_and_keep_their_cause() {
    use std::error::Error as _;
    let policy = MfaError::from(PolicyError::NoOwnershipOffer);
    assert_eq!(policy, MfaError::Policy(PolicyError::NoOwnershipOffer));
    assert_eq!(
        policy.to_string(),
        "refused by policy: no ownership offer stands for you"
    );
    assert_eq!(
        policy.source().map(ToString::to_string),
        Some("no ownership offer stands for you".to_owned())
    );
    let otp = MfaError::from(OtpError::Random);
    assert_eq!(otp, MfaError::Otp(OtpError::Random));
    assert_eq!(otp.to_string(), "the random number generator failed");
    assert_eq!(
        otp.source().map(ToString::to_string),
        Some("the random number generator failed".to_owned())
    );
}

#[test]
fn turning_mfa_off_never_reissues_an_authenticator_id() {
    let (mfa, _) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let old = mfa.authenticators()[0].id();
    let now = T0 + 60;
    let fresh = grant_for(ALICE, &mfa, true, now);
    let config = EnrollmentConfig::default();
    let off = mfa.disable(&fresh, &[], &config, now).unwrap();
    assert_eq!(off.outcome, DisableOutcome::MfaOff);
    assert!(off.state.authenticators().is_empty());
    let (again, _) = enroll(
        &off.state,
        EnrollmentPurpose::Add(name("Tablet")),
        None,
        now + 60,
    );
    assert!(again.authenticators()[0].id() > old);
    // Removing the only authenticator is turning MFA off.
    let fresh = grant_for(ALICE, &again, true, now + 60);
    let only = again.authenticators()[0].id();
    let removed = again
        .remove_authenticator(only, &fresh, &[], &config, now + 60)
        .unwrap();
    assert_eq!(removed.outcome, DisableOutcome::MfaOff);
    assert!(
        removed
            .events
            .iter()
            .any(|e| e.what == AuditKind::MfaDisabled)
    );
}

#[test]
fn enrollment_settings_read_back_and_are_bounded_at_each_end() {
    assert_eq!(EnrollmentConfig::DEFAULT_PENDING_TTL, 900, "15 minutes");
    assert_eq!(EnrollmentConfig::DEFAULT_REAUTH_MAX_AGE, 300, "5 minutes");
    let default = EnrollmentConfig::default();
    assert_eq!(default.pending_ttl(), 900);
    assert_eq!(default.max_authenticators(), 5);
    assert_eq!(default.reauth_max_age(), 300);
    assert_eq!(EnrollmentConfig::builder().build(), Ok(default));

    let params = authcore::otp::TotpParams::builder()
        .digits(8)
        .period(60)
        .build()
        .unwrap();
    let config = EnrollmentConfig::builder()
        .params(params)
        .window(Window::new(2).unwrap())
        .pending_ttl(60)
        .max_authenticators(1)
        .reauth_max_age(30)
        .build()
        .unwrap();
    assert_eq!(config.params(), params);
    assert_eq!(config.window(), Window::new(2).unwrap());
    assert_eq!(config.pending_ttl(), 60);
    assert_eq!(config.max_authenticators(), 1);
    assert_eq!(config.reauth_max_age(), 30);
    let config = EnrollmentConfig::builder()
        .pending_ttl(86_400)
        .max_authenticators(16)
        .reauth_max_age(3_600)
        .build()
        .unwrap();
    assert_eq!(config.pending_ttl(), 86_400);
    assert_eq!(config.max_authenticators(), 16);
    assert_eq!(config.reauth_max_age(), 3_600);
    for (builder, error) in [
        (
            EnrollmentConfig::builder().pending_ttl(59),
            PolicyError::InvalidEnrollmentTtl,
        ),
        (
            EnrollmentConfig::builder().pending_ttl(86_401),
            PolicyError::InvalidEnrollmentTtl,
        ),
        (
            EnrollmentConfig::builder().max_authenticators(0),
            PolicyError::InvalidAuthenticatorLimit,
        ),
        (
            EnrollmentConfig::builder().max_authenticators(17),
            PolicyError::InvalidAuthenticatorLimit,
        ),
        (
            EnrollmentConfig::builder().reauth_max_age(29),
            PolicyError::InvalidReauthWindow,
        ),
        (
            EnrollmentConfig::builder().reauth_max_age(3_601),
            PolicyError::InvalidReauthWindow,
        ),
    ] {
        assert_eq!(builder.build(), Err(error));
    }
}

#[test]
fn a_watermark_is_restored_only_forwards() {
    let (mut mfa, _) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let id = mfa.authenticators()[0].id();
    let mark = mfa.authenticators()[0].last_accepted_step();
    // The same step, or an earlier one, changes nothing.
    assert!(!mfa.restore_watermark(id, mark));
    assert!(!mfa.restore_watermark(id, mark - 1));
    assert_eq!(mfa.authenticators()[0].last_accepted_step(), mark);
    // An unknown authenticator, nothing either.
    assert!(!mfa.restore_watermark(AuthenticatorId::new(99), mark + 5));
    assert_eq!(mfa.authenticators()[0].last_accepted_step(), mark);
    // One step later: moved on, and that step's code is now a replay.
    assert!(mfa.restore_watermark(id, mark + 1));
    assert_eq!(mfa.authenticators()[0].last_accepted_step(), mark + 1);
    let secret = mfa.authenticators()[0].expose_secret();
    let later = T0 + 30;
    let code = code_for(secret, later);
    assert_eq!(
        mfa.verify_login_code_detailed(&code, later, Window::EXACT),
        Err(authcore::otp::Refusal::Replayed)
    );
    let accepted = mfa
        .verify_login_code(&code_for(secret, T0 + 60), T0 + 60, Window::EXACT)
        .unwrap();
    assert_eq!(accepted.authenticator(), id);
    assert_eq!(accepted.step().step(), mark + 2);
}

#[test]
fn a_replacing_enrollment_names_what_it_replaces() {
    let (mfa, _) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    );
    let old = mfa.authenticators()[0].id();
    let now = T0 + 60;
    let grant = grant_for(ALICE, &mfa, true, now);
    let config = EnrollmentConfig::default();
    let replacing = mfa
        .start_enrollment(
            EnrollmentPurpose::Replace(old),
            Some(&grant),
            &config,
            &mut TestRng(7),
            now,
        )
        .unwrap()
        .state;
    assert_eq!(replacing.enrollment().unwrap().replaces(), Some(old));
    let adding = mfa
        .start_enrollment(
            EnrollmentPurpose::Add(name("Tablet")),
            Some(&grant),
            &config,
            &mut TestRng(7),
            now,
        )
        .unwrap()
        .state;
    assert_eq!(adding.enrollment().unwrap().replaces(), None);
}

#[cfg(feature = "serde")]
#[test]
fn a_stored_enrollment_may_expire_as_it_starts_but_not_before() {
    use authcore::policy::{Enrollment, ServerSideOnly};
    let config = EnrollmentConfig::default();
    let pending = Mfa::new(ALICE)
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(3),
            T0,
        )
        .unwrap()
        .state;
    let stored =
        serde_json::to_string(&ServerSideOnly::new(pending.enrollment().unwrap())).unwrap();
    let expiry = format!("\"expires_at\":{}", T0 + 900);
    assert!(stored.contains(&expiry), "{stored}");
    let decode = |text: &str| serde_json::from_str::<ServerSideOnly<Enrollment>>(text);
    let at_start = stored.replace(&expiry, &format!("\"expires_at\":{T0}"));
    assert_eq!(decode(&at_start).unwrap().get().expires_at(), T0);
    let before = stored.replace(&expiry, &format!("\"expires_at\":{}", T0 - 1));
    assert!(decode(&before).is_err());
    // A value of the wrong kind names what was expected.
    let key = pending
        .enrollment()
        .unwrap()
        .expose_secret()
        .expose_base32();
    let numeric_key = stored.replace(&format!("\"{}\"", key.as_str()), "5");
    assert_ne!(numeric_key, stored);
    let error = decode(&numeric_key).unwrap_err().to_string();
    assert!(error.contains("expected a base32 secret key"), "{error}");
    let error = serde_json::from_str::<ServerSideOnly<Mfa>>("5")
        .unwrap_err()
        .to_string();
    assert!(error.contains("expected a stored MFA state"), "{error}");
}

#[test]
fn a_pending_enrollment_expires_at_the_end_of_its_time_to_live() {
    let config = EnrollmentConfig::default();
    let pending = Mfa::new(ALICE)
        .start_enrollment(
            EnrollmentPurpose::Add(name("Phone")),
            None,
            &config,
            &mut TestRng(3),
            T0,
        )
        .unwrap()
        .state;
    let enrollment = pending.enrollment().unwrap();
    assert_eq!(enrollment.started_at(), T0);
    assert_eq!(enrollment.expires_at(), T0 + 900);
    assert!(!enrollment.is_expired(T0 + 899));
    assert!(enrollment.is_expired(T0 + 900));
    assert_eq!(pending.recovery_codes_issued_at(), None);
    assert!(!pending.is_active());
}

#[cfg(feature = "serde")]
#[test]
fn a_stored_state_is_checked_at_its_limits() {
    use authcore::policy::ServerSideOnly;
    let config = EnrollmentConfig::builder()
        .max_authenticators(16)
        .build()
        .unwrap();
    let decode = |value: &serde_json::Value| {
        serde_json::from_value::<ServerSideOnly<Mfa>>(value.clone()).map(ServerSideOnly::into_inner)
    };
    // Sixteen authenticators, the most a state holds, load back.
    let (mut mfa, _) = enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("App 1")),
        None,
        T0,
    );
    for n in 2..=16 {
        let grant = grant_for(ALICE, &mfa, true, T0);
        let started = mfa
            .start_enrollment(
                EnrollmentPurpose::Add(name(&format!("App {n}"))),
                Some(&grant),
                &config,
                &mut TestRng(n),
                T0,
            )
            .unwrap()
            .state;
        let code = code_for(started.enrollment().unwrap().expose_secret(), T0);
        let confirmed = started
            .confirm_enrollment(&code, &config, T0)
            .unwrap()
            .state;
        let issued = confirmed.recovery_codes_issued(&config, T0).unwrap().state;
        mfa = issued
            .acknowledge_recovery_codes(&config, T0)
            .unwrap()
            .state;
    }
    assert_eq!(mfa.authenticators().len(), 16);
    let full = serde_json::to_value(ServerSideOnly::new(&mfa)).unwrap();
    assert_eq!(decode(&full).unwrap().authenticators().len(), 16);

    // Two authenticators load; two with one name (in any case) or one id do not.
    let (two, _) = enroll(
        &mfa_with_one(),
        EnrollmentPurpose::Add(name("Tablet")),
        Some(&grant_for(ALICE, &mfa_with_one(), true, T0)),
        T0,
    );
    let stored = serde_json::to_value(ServerSideOnly::new(&two)).unwrap();
    assert_eq!(decode(&stored).unwrap().authenticators().len(), 2);
    let mut same_name = stored.clone();
    same_name["authenticators"][1]["name"] = serde_json::json!("PHONE");
    assert!(decode(&same_name).is_err());
    let mut same_id = stored.clone();
    same_id["authenticators"][1]["id"] = stored["authenticators"][0]["id"].clone();
    assert!(decode(&same_id).is_err());

    // A pending enrollment may expire as it starts, not before; and needs an id of its own.
    let grant = grant_for(ALICE, &two, true, T0);
    let pending = two
        .start_enrollment(
            EnrollmentPurpose::Add(name("Laptop")),
            Some(&grant),
            &config,
            &mut TestRng(40),
            T0,
        )
        .unwrap()
        .state;
    let stored = serde_json::to_value(ServerSideOnly::new(&pending)).unwrap();
    assert!(decode(&stored).is_ok());
    let mut at_start = stored.clone();
    at_start["enrollment"]["expires_at"] = stored["enrollment"]["started_at"].clone();
    assert!(decode(&at_start).is_ok());
    let mut before = stored.clone();
    before["enrollment"]["expires_at"] = serde_json::json!(T0 - 1);
    assert!(decode(&before).is_err());
    let mut taken = stored.clone();
    taken["enrollment"]["authenticator"] = stored["authenticators"][0]["id"].clone();
    assert!(decode(&taken).is_err());
}

/// Alice with one active authenticator, "Phone", enrolled at `T0`.
fn mfa_with_one() -> Mfa {
    enroll(
        &Mfa::new(ALICE),
        EnrollmentPurpose::Add(name("Phone")),
        None,
        T0,
    )
    .0
}

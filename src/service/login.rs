//! The login: the password step, then each pending step carried by a single-use ticket.
//!
//! A ticket is a [`BearerToken`] (256 random bits) whose digest is stored with the login's
//! [`LoginProgress`] (person, organisation, factors verified so far) and the one step it allows.
//! Presenting it spends it ([`SecretStore::take_ticket`]). A success leads to the next step with
//! a new ticket, or to the [`Grant`]. After a recoverable failure — a wrong code, a refused new
//! password, a throttled attempt — the same ticket is put back, so the person can try again until
//! it expires; the throttle bounds the guesses.

use core::fmt;

use zeroize::Zeroizing;

use super::{Authenticator, CAS_ATTEMPTS, HashJob, PasswordHashing, ServiceError};
use crate::credential::factor::FactorKind;
use crate::credential::oob::{OobOutcome, OobSendLog, SendDecision};
use crate::credential::password::Password;
use crate::credential::password::policy::{PasswordContext, PolicyViolation};
use crate::credential::phone::PhoneNumber;
use crate::credential::recovery::RecoveryCodes;
use crate::credential::token::BearerToken;
use crate::otp::uri::OtpAuthUri;
use crate::policy::audit::DenyReason;
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::enrollment::{AuthenticatorName, EnrollmentPurpose, Mfa};
use crate::policy::error::PolicyError;
use crate::policy::factors::{Factor, SecondFactors};
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{
    EnrollmentDemand, Grant, LoginDecision, LoginProgress, PasswordState, login_decision,
};
use crate::service::backend::Backend;
use crate::store::records::{
    Login, OobChallengeRecord, OobPurpose, PendingStep, PersonRecord, ThrottleKey, TicketRecord,
};
use crate::store::{Notification, SecretStore, SecurityNotice, UserStore};

/// Where a login stands after a step.
#[derive(Debug)]
#[must_use = "a login step says what the person must do next"]
pub enum LoginStep {
    /// Signed in: keep the grant in the session.
    Granted(Grant),
    /// The password is temporary or compromised: the person must choose a new one
    /// ([`Authenticator::change_password_at_login`]). A person with a second factor gets here
    /// only after presenting it.
    ChangePassword {
        /// The ticket for that step.
        ticket: BearerToken,
    },
    /// "Company account verification": the organisation requires MFA and the person has none of
    /// a kind it counts; walk them through [`Authenticator::start_login_enrollment`]. A person
    /// who holds another factor (a verified phone where SMS does not count) gets here only after
    /// presenting it.
    EnrollMfa {
        /// The ticket for the enrollment steps.
        ticket: BearerToken,
        /// Whether the person may still skip it ([`Authenticator::skip_enrollment`]).
        demand: EnrollmentDemand,
        /// The factors that would satisfy the organisation.
        factors: SecondFactors,
    },
    /// A second factor is needed: one of `factors`. It comes before a password change or an
    /// enrollment for whoever holds one.
    SecondFactor {
        /// The ticket for that step.
        ticket: BearerToken,
        /// The factors the person may present.
        factors: SecondFactors,
    },
}

impl LoginStep {
    /// The grant, if the login is complete.
    pub fn grant(&self) -> Option<&Grant> {
        match self {
            Self::Granted(grant) => Some(grant),
            _ => None,
        }
    }

    /// The ticket for the next step, if one is pending.
    pub fn ticket(&self) -> Option<&BearerToken> {
        match self {
            Self::Granted(_) => None,
            Self::ChangePassword { ticket }
            | Self::EnrollMfa { ticket, .. }
            | Self::SecondFactor { ticket, .. } => Some(ticket),
        }
    }
}

/// What a new authenticator's enrollment rests on: the signed-in person's grant, or the pending
/// login's verified factors ("company account verification").
#[derive(Clone, Copy)]
pub(super) enum Reauthentication<'a> {
    /// A grant (fresh and AAL2 once the person has MFA).
    Grant(&'a Grant),
    /// The login in progress.
    Login(&'a LoginProgress),
}

/// What to show a person enrolling an authenticator app: the `otpauth://` URI (as a QR code) and
/// the manual key. Both hold the secret: show them to this person only, and never log them.
pub struct EnrollmentSetup {
    uri: OtpAuthUri,
}

impl EnrollmentSetup {
    /// The `otpauth://` URI, to render as a QR code (see `OtpAuthUri::qr_svg` with the `qr`
    /// feature).
    pub fn uri(&self) -> &OtpAuthUri {
        &self.uri
    }

    /// The secret in base32, for typing into the app by hand.
    pub fn manual_key(&self) -> Zeroizing<alloc::string::String> {
        self.uri.secret().expose_base32()
    }
}

impl fmt::Debug for EnrollmentSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnrollmentSetup([REDACTED])")
    }
}

impl<B: Backend> Authenticator<B> {
    /// The password step of signing in to `org`.
    ///
    /// An unknown login and a wrong password are both [`ServiceError::InvalidCredentials`], after
    /// the same argon2 work (a dummy verification for the unknown login). The attempt is first
    /// reserved on the throttle counter of the normalised login name
    /// ([`UserStore::reserve_attempt`] with [`ThrottleKey::Login`]), whether or not anyone holds
    /// it, so an unknown login is throttled and locked exactly as a real one and the answers and
    /// store calls do not tell which logins exist. A throttled login is
    /// [`ServiceError::Throttled`] and a locked one [`ServiceError::Locked`], without verifying.
    /// Then the login decision says what comes next; a completed login (a grant) clears every
    /// throttle counter of the person.
    pub async fn login(
        &self,
        org: OrgId,
        login: &str,
        password: Password,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let Some(login) = Login::new(login) else {
            // No person can hold a name that does not normalise.
            let _ = self
                .backend
                .hasher()
                .run(HashJob::verify_dummy(password))
                .await
                .into_verified()?;
            self.record_one(now, Actor::System, None, Some(org), AuditKind::UnknownLogin)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let person = self
            .backend
            .store()
            .person_by_login(login.as_str())
            .await
            .map_err(ServiceError::storage)?;
        // The password is counted per login name, held or not, before it is verified: an
        // unknown name is throttled, locked and audited exactly as a wrong password.
        let reserved = self
            .reserve_attempt(ThrottleKey::login(&login), Factor::Password, now)
            .await?;
        let Some(person) = person else {
            let _ = self
                .backend
                .hasher()
                .run(HashJob::verify_dummy(password))
                .await
                .into_verified()?;
            self.reject_attempt(reserved, None, Some(org), AuditKind::UnknownLogin, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let temporary = person.password_state == PasswordState::Temporary;
        let copy = Password::from(password.expose_secret());
        let verified = self
            .backend
            .hasher()
            .run(HashJob::verify(
                password,
                person.password_hash.clone(),
                temporary,
            ))
            .await
            .into_verified()?;
        let expired = temporary && person.password_expires_at.is_none_or(|at| now >= at);
        let verified = match verified {
            Ok(v) if !expired => v,
            _ => {
                self.reject_credential(reserved, person.id, Some(org), false, now)
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        self.accept_attempt(reserved, now).await?;
        if verified.needs_rehash() && !temporary {
            // Only the hash is upgraded, and only if it is still the one just verified: the
            // stored state (a `Compromised` mark included) and expiry stay as they are, and a
            // password changed meanwhile is not reverted.
            let hash = self
                .backend
                .hasher()
                .run(HashJob::hash(copy, false))
                .await
                .into_hash()?;
            let _ = self
                .backend
                .store()
                .upgrade_password_hash(person.id, &person.password_hash, hash.as_str())
                .await
                .map_err(ServiceError::storage)?;
        }
        let progress = LoginProgress::password_verified(person.id, org, now);
        self.decide(progress, now).await
    }

    /// Skips a skippable "company account verification" for this login (before the
    /// organisation's deadline). Once enrollment is mandatory the same step comes back.
    pub async fn skip_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let record = self
            .take_ticket(ticket, PendingStep::EnrollMfa, org, now)
            .await?;
        self.decide(record.progress.defer_enrollment(), now).await
    }

    /// Sets the person's own password after a temporary or compromised one. It must meet the
    /// password policy and differ from the password it replaces.
    ///
    /// A person with a second factor reaches this step only after presenting it; if they gained
    /// one after the ticket was issued, the ticket is refused with
    /// [`PolicyError::ReauthenticationRequired`] (sign in again).
    pub async fn change_password_at_login(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        new_password: Password,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let record = self
            .step_ticket(ticket, PendingStep::ChangePassword, org, now)
            .await?;
        let person = self.person(record.progress.person()).await?;
        match self.replace_password(&person, new_password, now).await {
            Ok(()) => self.decide(record.progress, now).await,
            Err(e) => {
                self.restore_ticket(&record).await?;
                Err(e)
            }
        }
    }

    /// Completes the second-factor step with a code from an authenticator app. The code is
    /// single-use across every server: only the caller whose
    /// [`SecretStore::advance_watermark`] succeeds gets in.
    pub async fn verify_totp(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        code: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let record = self
            .second_factor_ticket(ticket, org, FactorKind::Totp, now)
            .await?;
        let checked = self
            .check_totp(record.progress.person(), Some(org), code, now)
            .await
            .map(drop);
        self.finish_second_factor(record, FactorKind::Totp, checked, now)
            .await
    }

    /// Completes the second-factor step with a recovery code (signing in without the device).
    /// The code is spent atomically; the person is notified, and told when few remain.
    pub async fn verify_recovery_code(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        code: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let record = self
            .second_factor_ticket(ticket, org, FactorKind::RecoveryCode, now)
            .await?;
        let checked = self
            .spend_recovery_code(record.progress.person(), org, code, now)
            .await
            .map(drop);
        self.finish_second_factor(record, FactorKind::RecoveryCode, checked, now)
            .await
    }

    /// Sends an SMS code to the person's verified phone (through the [`Notifier`](crate::store::Notifier)), if the
    /// person's own sign-in send budget allows (cooldown and hourly cap, never spent by anyone
    /// else's sends: [`SecretStore::record_oob_send`]); otherwise
    /// [`ServiceError::Throttled`] with the time a send may be allowed. The ticket stays valid for [`Self::verify_sms_code`].
    pub async fn send_sms_code(
        &self,
        org: OrgId,
        ticket: &BearerToken,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let record = self
            .second_factor_ticket(ticket, org, FactorKind::OutOfBandSms, now)
            .await?;
        let result = self.send_sms(record.progress.person(), org, now).await;
        self.restore_ticket(&record).await?;
        result
    }

    /// Completes the second-factor step with the SMS code. Spending the code is a
    /// compare-and-swap on the stored challenge, so it is accepted once.
    pub async fn verify_sms_code(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        code: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let record = self
            .second_factor_ticket(ticket, org, FactorKind::OutOfBandSms, now)
            .await?;
        let checked = self
            .check_sms(record.progress.person(), org, code, now)
            .await
            .map(drop);
        self.finish_second_factor(record, FactorKind::OutOfBandSms, checked, now)
            .await
    }

    /// Ends a second-factor attempt: after a failed check the ticket is put back (the person may
    /// retry, within the throttle); after a passed one the login decision runs with the factor.
    async fn finish_second_factor(
        &self,
        record: TicketRecord,
        kind: FactorKind,
        checked: Result<(), ServiceError>,
        now: u64,
    ) -> Result<LoginStep, ServiceError> {
        if let Err(e) = checked {
            self.restore_ticket(&record).await?;
            return Err(e);
        }
        self.decide(record.progress.with_second_factor(kind), now)
            .await
    }

    /// "Company account verification", step 1: starts enrolling an authenticator app named
    /// `name`. Show the URI as a QR code and the manual key. The ticket stays valid for the next
    /// steps.
    ///
    /// This login is the re-authentication ([`Mfa::start_enrollment_at_login`]): a person who
    /// holds a factor was asked for it before this step, so a password alone never binds a new
    /// authenticator. Each enrollment step checks again that the login decision still asks for
    /// the enrollment; when it no longer does (the person gained a factor meanwhile, or the
    /// policy changed), the step is refused with [`PolicyError::ReauthenticationRequired`] and
    /// the login starts again from the password.
    pub async fn start_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        name: &str,
    ) -> Result<EnrollmentSetup, ServiceError> {
        let now = self.now();
        let record = self.enrollment_ticket(ticket, org, now).await?;
        let result = async {
            let person = self.person(record.progress.person()).await?;
            let name = AuthenticatorName::new(name)?;
            self.enroll_start(
                &person,
                EnrollmentPurpose::Add(name),
                Reauthentication::Login(&record.progress),
                now,
            )
            .await
        }
        .await;
        self.restore_ticket(&record).await?;
        result
    }

    /// Step 2: confirms the enrollment with a code from the app. Returns the recovery codes, to
    /// show once; the person must record them and acknowledge
    /// ([`Self::acknowledge_login_enrollment`]).
    pub async fn confirm_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        code: &str,
    ) -> Result<RecoveryCodes, ServiceError> {
        let now = self.now();
        let record = self.enrollment_ticket(ticket, org, now).await?;
        let result = self
            .enroll_confirm(record.progress.person(), Some(org), code, now)
            .await;
        self.restore_ticket(&record).await?;
        result
    }

    /// Step 3: "I have safely recorded this". The authenticator becomes active, and the
    /// confirming code counts as this login's second factor.
    pub async fn acknowledge_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let record = self.enrollment_ticket(ticket, org, now).await?;
        if let Err(e) = self.enroll_acknowledge(record.progress.person(), now).await {
            self.restore_ticket(&record).await?;
            return Err(e);
        }
        self.decide(record.progress.with_second_factor(FactorKind::Totp), now)
            .await
    }

    // ---- internals shared with the signed-in operations ----

    pub(super) async fn person(&self, id: PersonId) -> Result<PersonRecord, ServiceError> {
        self.backend
            .store()
            .person(id)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(ServiceError::InvalidCredentials)
    }

    /// The second factors the person has: the app and recovery codes (while any remain), and SMS
    /// for a verified phone when SMS is configured.
    pub(super) async fn own_factors(
        &self,
        person: &PersonRecord,
    ) -> Result<SecondFactors, ServiceError> {
        let mfa = self
            .backend
            .store()
            .mfa(person.id)
            .await
            .map_err(ServiceError::storage)?;
        let mut factors = mfa.map_or(SecondFactors::EMPTY, |m| m.value.factors());
        if factors.contains(FactorKind::RecoveryCode) {
            let set = self
                .backend
                .store()
                .recovery_codes(person.id, crate::store::records::RecoverySlot::Active)
                .await
                .map_err(ServiceError::storage)?;
            if set.is_none_or(|s| s.remaining() == 0) {
                factors = factors.without(FactorKind::RecoveryCode);
            }
        }
        if person.phone.is_some() && self.config.oob.is_some() {
            factors = factors.with(FactorKind::OutOfBandSms);
        }
        Ok(factors)
    }

    async fn decision(
        &self,
        progress: &LoginProgress,
        now: u64,
    ) -> Result<LoginDecision, ServiceError> {
        let person = self.person(progress.person()).await?;
        let org = self
            .backend
            .store()
            .organisation(progress.org())
            .await
            .map_err(ServiceError::storage)?;
        let Some(org) = org else {
            return Ok(LoginDecision::Denied(DenyReason::NotAMember));
        };
        let password_state = self
            .backend
            .store()
            .throttle(&ThrottleKey::login(&person.login))
            .await
            .map_err(ServiceError::storage)?;
        let locked = matches!(
            self.config.throttle.decide(&password_state, now),
            crate::credential::throttle::ThrottleDecision::Locked { .. }
        );
        let account = crate::policy::login::Account::new(person.id)
            .deactivated(person.deactivated)
            .locked(locked)
            .password(person.password_state)
            .factors(self.own_factors(&person).await?);
        let member = org.value.member(person.id);
        Ok(login_decision(
            &account,
            member,
            org.value.policy(),
            progress,
            now,
        ))
    }

    /// Asks the login decision what comes next, audits it, and issues the ticket for it.
    async fn decide(&self, progress: LoginProgress, now: u64) -> Result<LoginStep, ServiceError> {
        let decision = self.decision(&progress, now).await?;
        self.record(&[decision.audit_event(&progress, now)]).await?;
        match decision {
            LoginDecision::Allowed(grant) => {
                // A completed login proves the person: every counter of theirs starts afresh.
                let person = self.person(grant.person()).await?;
                let _ = self
                    .clear_throttles(&person, crate::store::records::ThrottleOp::Success, now)
                    .await?;
                Ok(LoginStep::Granted(grant))
            }
            LoginDecision::ChangePassword(_) => Ok(LoginStep::ChangePassword {
                ticket: self
                    .issue_ticket(PendingStep::ChangePassword, progress, now)
                    .await?,
            }),
            LoginDecision::EnrollMfa { demand, factors } => Ok(LoginStep::EnrollMfa {
                ticket: self
                    .issue_ticket(PendingStep::EnrollMfa, progress, now)
                    .await?,
                demand,
                factors,
            }),
            LoginDecision::Challenge(factors) => Ok(LoginStep::SecondFactor {
                ticket: self
                    .issue_ticket(PendingStep::SecondFactor, progress, now)
                    .await?,
                factors,
            }),
            LoginDecision::Denied(DenyReason::Locked) => Err(ServiceError::Locked),
            LoginDecision::Denied(DenyReason::Deactivated) => Err(ServiceError::Deactivated),
            LoginDecision::Denied(_) => Err(ServiceError::InvalidCredentials),
        }
    }

    /// Spends a second-factor ticket and checks that `factor` is one the login may present now
    /// (the person has it and the organisation counts it). A factor that is not is
    /// [`ServiceError::FactorUnavailable`], and the ticket is put back.
    async fn second_factor_ticket(
        &self,
        ticket: &BearerToken,
        org: OrgId,
        factor: FactorKind,
        now: u64,
    ) -> Result<TicketRecord, ServiceError> {
        let record = self
            .take_ticket(ticket, PendingStep::SecondFactor, org, now)
            .await?;
        let allowed = match self.decision(&record.progress, now).await? {
            LoginDecision::Challenge(factors) => factors.contains(factor),
            _ => false,
        };
        if !allowed {
            self.restore_ticket(&record).await?;
            return Err(ServiceError::FactorUnavailable);
        }
        Ok(record)
    }

    /// Spends an enrollment ticket; see [`Self::step_ticket`].
    async fn enrollment_ticket(
        &self,
        ticket: &BearerToken,
        org: OrgId,
        now: u64,
    ) -> Result<TicketRecord, ServiceError> {
        self.step_ticket(ticket, PendingStep::EnrollMfa, org, now)
            .await
    }

    /// Spends a ticket for `step` (a password change or an enrollment) and checks that the login
    /// decision still asks this login for that step: in particular that the person holds no
    /// factor they have not presented in it (one gained since the ticket was issued). A login
    /// the decision now sends elsewhere is refused with
    /// [`PolicyError::ReauthenticationRequired`]; the ticket stays spent (sign in again).
    async fn step_ticket(
        &self,
        ticket: &BearerToken,
        step: PendingStep,
        org: OrgId,
        now: u64,
    ) -> Result<TicketRecord, ServiceError> {
        let record = self.take_ticket(ticket, step, org, now).await?;
        match (step, self.decision(&record.progress, now).await?) {
            (PendingStep::EnrollMfa, LoginDecision::EnrollMfa { .. })
            | (PendingStep::ChangePassword, LoginDecision::ChangePassword(_)) => Ok(record),
            (_, LoginDecision::Denied(DenyReason::Locked)) => Err(ServiceError::Locked),
            (_, LoginDecision::Denied(DenyReason::Deactivated)) => Err(ServiceError::Deactivated),
            (_, LoginDecision::Denied(_)) => Err(ServiceError::InvalidCredentials),
            _ => Err(ServiceError::Policy(PolicyError::ReauthenticationRequired)),
        }
    }

    /// Verifies a TOTP code against the person's authenticators and spends its step with the
    /// atomic watermark. Counts and audits failures.
    pub(super) async fn check_totp(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        code: &str,
        now: u64,
    ) -> Result<crate::policy::ids::AuthenticatorId, ServiceError> {
        let reserved = self
            .reserve_attempt(
                super::factor_key(person, FactorKind::Totp),
                Factor::Second(FactorKind::Totp),
                now,
            )
            .await?;
        let mfa = self
            .backend
            .store()
            .mfa(person)
            .await
            .map_err(ServiceError::storage)?;
        let accepted = mfa.as_ref().map(|m| {
            m.value
                .verify_login_code_detailed(code, now, self.config.enrollment.window())
        });
        // A valid code already used (at or below the watermark) is audited as a replay; the
        // caller's answer is the same.
        let replayed = matches!(accepted, Some(Err(crate::otp::error::Refusal::Replayed)));
        let (Some(mfa), Some(Ok(accepted))) = (mfa, accepted) else {
            self.reject_credential(reserved, person, org, replayed, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let won = self
            .backend
            .store()
            .advance_watermark(person, accepted.authenticator(), accepted.step().step())
            .await
            .map_err(ServiceError::storage)?;
        if !won {
            self.reject_credential(reserved, person, org, true, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        self.accept_attempt(reserved, now).await?;
        let recorded = mfa.value.record_login_code(accepted, now)?;
        let mut events = recorded.events;
        for event in &mut events {
            event.organisation = org;
        }
        self.record(&events).await?;
        Ok(accepted.authenticator())
    }

    async fn spend_recovery_code(
        &self,
        person: PersonId,
        org: OrgId,
        code: &str,
        now: u64,
    ) -> Result<(), ServiceError> {
        let reserved = self
            .reserve_attempt(
                super::factor_key(person, FactorKind::RecoveryCode),
                Factor::Second(FactorKind::RecoveryCode),
                now,
            )
            .await?;
        let set = self
            .backend
            .store()
            .recovery_codes(person, crate::store::records::RecoverySlot::Active)
            .await
            .map_err(ServiceError::storage)?;
        // The argon2 derivation runs where the host runs password hashing. Without an active
        // set the same derivation runs under the configured parameters, so that the failure
        // costs what a wrong code costs and timing does not tell whether the person has codes.
        let redeemed = match set {
            Some(set) => {
                let set_id = set.set_id();
                let slot = self
                    .backend
                    .hasher()
                    .run(HashJob::recovery_redeem(set, code))
                    .await
                    .into_redeemed()?;
                Some((set_id, slot))
            }
            None => {
                let _ = self
                    .backend
                    .hasher()
                    .run(HashJob::recovery_redeem_dummy(self.config.recovery, code))
                    .await
                    .into_redeemed()?;
                None
            }
        };
        // A code whose slot is already spent is audited as a replay; the caller's answer is the
        // same.
        let replayed = matches!(
            redeemed,
            Some((_, Err(crate::otp::error::Refusal::Replayed)))
        );
        let Some((set_id, Ok(slot))) = redeemed else {
            self.reject_credential(reserved, person, Some(org), replayed, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let spent = self
            .backend
            .store()
            .spend_recovery_code(person, set_id, slot.index())
            .await
            .map_err(ServiceError::storage)?;
        if !spent {
            self.reject_credential(reserved, person, Some(org), true, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        self.accept_attempt(reserved, now).await?;
        self.record_one(
            now,
            Actor::Person(person),
            Some(person),
            Some(org),
            AuditKind::RecoveryCodeUsed {
                remaining: slot.remaining_after(),
            },
        )
        .await?;
        self.notice(person, SecurityNotice::RecoveryCodeUsed)
            .await?;
        if slot.is_low_after() {
            self.notice(person, SecurityNotice::RecoveryCodesLow)
                .await?;
        }
        Ok(())
    }

    async fn send_sms(&self, person: PersonId, org: OrgId, now: u64) -> Result<(), ServiceError> {
        let record = self.person(person).await?;
        let phone = record
            .phone
            .as_ref()
            .ok_or(ServiceError::FactorUnavailable)?;
        self.send_oob(person, Some(org), OobPurpose::SignIn, phone, now)
            .await
    }

    /// Sends a code for `purpose` to `to`: the destination's send log decides, the challenge
    /// (with `to`) replaces the person's challenge for that purpose, then the code is delivered
    /// and the send audited.
    pub(super) async fn send_oob(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        purpose: OobPurpose,
        to: &PhoneNumber,
        now: u64,
    ) -> Result<(), ServiceError> {
        let (config, key) = self
            .config
            .oob
            .as_ref()
            .ok_or(ServiceError::FactorUnavailable)?;
        // The person's own budget for this purpose decides (cooldown, hourly cap, and the daily
        // cap for verifications) and records the send in one atomic call, so concurrent requests
        // never send more than the caps allow, and nobody else's sends — to this number or any
        // other — spend it. A send that then fails (a lost race below, an undelivered message)
        // still counts: the cap errs on the side of fewer messages.
        let decision = self
            .backend
            .store()
            .record_oob_send(person, purpose, config, now)
            .await
            .map_err(ServiceError::storage)?;
        if let SendDecision::Refused { retry_at, .. } = decision {
            return Err(ServiceError::Throttled { retry_at });
        }
        let current = self
            .backend
            .store()
            .oob_challenge(person, purpose)
            .await
            .map_err(ServiceError::storage)?;
        // The send is already recorded: issue against an empty log.
        match config.issue_with_os_rng(key, &OobSendLog::new(), now)? {
            crate::credential::oob::OobIssue::Refused { retry_at, .. } => {
                Err(ServiceError::Throttled { retry_at })
            }
            crate::credential::oob::OobIssue::Send {
                code, challenge, ..
            } => {
                let record = OobChallengeRecord {
                    destination: to.clone(),
                    challenge,
                };
                let swapped = self
                    .backend
                    .store()
                    .replace_oob_challenge(
                        person,
                        purpose,
                        current.as_ref().map(|c| &c.challenge),
                        Some(&record),
                    )
                    .await
                    .map_err(ServiceError::storage)?;
                if !swapped {
                    // Another request sent a code at the same moment: that one stands.
                    return Err(ServiceError::Throttled {
                        retry_at: now.saturating_add(u64::from(config.resend_cooldown())),
                    });
                }
                let delivery = self
                    .notify(Notification::OobCode {
                        person,
                        purpose,
                        to,
                        code: &code,
                    })
                    .await?;
                if let super::DeliveryStatus::Failed(error) = delivery {
                    return Err(ServiceError::Undelivered(error));
                }
                let what = match purpose {
                    OobPurpose::SignIn => AuditKind::OutOfBandCodeSent,
                    OobPurpose::VerifyPhone => AuditKind::PhoneVerificationSent,
                };
                self.record_one(now, Actor::System, Some(person), org, what)
                    .await
            }
        }
    }

    async fn check_sms(
        &self,
        person: PersonId,
        org: OrgId,
        code: &str,
        now: u64,
    ) -> Result<(), ServiceError> {
        // A code counts only for the number it was sent to, if that is still the person's.
        let phone = self
            .person(person)
            .await?
            .phone
            .ok_or(ServiceError::FactorUnavailable)?;
        self.check_oob(
            person,
            Some(org),
            OobPurpose::SignIn,
            Some(&phone),
            code,
            now,
        )
        .await
        .map(drop)
    }

    /// Checks a code against the person's challenge for `purpose` and spends it with a
    /// compare-and-swap on the stored challenge, so it is accepted once. With `destination`, a
    /// challenge sent elsewhere is refused without being tried. Counts failures (the out-of-band
    /// throttle) and returns where the accepted code was sent.
    pub(super) async fn check_oob(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        purpose: OobPurpose,
        destination: Option<&PhoneNumber>,
        code: &str,
        now: u64,
    ) -> Result<PhoneNumber, ServiceError> {
        let (_, key) = self
            .config
            .oob
            .as_ref()
            .ok_or(ServiceError::FactorUnavailable)?;
        let reserved = self
            .reserve_attempt(
                super::factor_key(person, FactorKind::OutOfBandSms),
                Factor::Second(FactorKind::OutOfBandSms),
                now,
            )
            .await?;
        for _ in 0..CAS_ATTEMPTS {
            let current = self
                .backend
                .store()
                .oob_challenge(person, purpose)
                .await
                .map_err(ServiceError::storage)?;
            let current = current.filter(|c| destination.is_none_or(|d| *d == c.destination));
            let Some(current) = current else {
                self.reject_credential(reserved, person, org, false, now)
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            };
            let verification = current.challenge.verify(key, code, now);
            if verification.must_persist() {
                let next = OobChallengeRecord {
                    destination: current.destination.clone(),
                    challenge: verification.challenge().clone(),
                };
                let swapped = self
                    .backend
                    .store()
                    .replace_oob_challenge(person, purpose, Some(&current.challenge), Some(&next))
                    .await
                    .map_err(ServiceError::storage)?;
                if !swapped {
                    continue;
                }
            }
            if verification.result().is_ok() {
                self.accept_attempt(reserved, now).await?;
                return Ok(current.destination);
            }
            let replayed = verification.outcome() == OobOutcome::AlreadySpent;
            self.reject_credential(reserved, person, org, replayed, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        Err(ServiceError::Conflict)
    }

    /// Checks and stores a new password for `person`: the policy, then that it differs from the
    /// stored one; audits and notifies.
    pub(super) async fn replace_password(
        &self,
        person: &PersonRecord,
        new_password: Password,
        now: u64,
    ) -> Result<(), ServiceError> {
        let context = PasswordContext::new()
            .service_name(&self.config.issuer)
            .email(person.login.as_str());
        self.config
            .password_policy
            .check(&new_password, &context)
            .map_err(ServiceError::PasswordPolicy)?;
        let temporary = person.password_state == PasswordState::Temporary;
        let same = self
            .backend
            .hasher()
            .run(HashJob::verify(
                Password::from(new_password.expose_secret()),
                person.password_hash.clone(),
                temporary,
            ))
            .await
            .into_verified()?;
        if same.is_ok() {
            return Err(ServiceError::PasswordPolicy(
                PolicyViolation::SameAsTemporary,
            ));
        }
        let hash = self
            .backend
            .hasher()
            .run(HashJob::hash(new_password, false))
            .await
            .into_hash()?;
        let _ = self
            .backend
            .store()
            .set_password(person.id, hash.as_str(), PasswordState::Current, None)
            .await
            .map_err(ServiceError::storage)?;
        self.record_one(
            now,
            Actor::Person(person.id),
            Some(person.id),
            None,
            AuditKind::PasswordChanged,
        )
        .await?;
        self.notice(person.id, SecurityNotice::PasswordChanged)
            .await
    }

    /// Reads the person's MFA state, applies `change`, and writes it back with a
    /// compare-and-swap, recomputing from a fresh read when another writer won. Records the
    /// transition's events.
    pub(super) async fn update_mfa<O, F>(
        &self,
        person: PersonId,
        mut change: F,
    ) -> Result<(Mfa, O), ServiceError>
    where
        F: FnMut(&Mfa) -> Result<crate::policy::Transition<Mfa, O>, ServiceError> + Send,
        O: Send,
    {
        for _ in 0..CAS_ATTEMPTS {
            let loaded = self
                .backend
                .store()
                .mfa(person)
                .await
                .map_err(ServiceError::storage)?;
            let (mfa, version) = match loaded {
                Some(v) => (v.value, Some(v.version)),
                None => (Mfa::new(person), None),
            };
            let transition = change(&mfa)?;
            let written = self
                .backend
                .store()
                .replace_mfa(person, &transition.state, version)
                .await
                .map_err(ServiceError::storage)?;
            if written {
                self.record(&transition.events).await?;
                return Ok((transition.state, transition.outcome));
            }
        }
        Err(ServiceError::Conflict)
    }

    /// Enrollment step 1 for `person`.
    pub(super) async fn enroll_start(
        &self,
        person: &PersonRecord,
        purpose: EnrollmentPurpose,
        reauth: Reauthentication<'_>,
        now: u64,
    ) -> Result<EnrollmentSetup, ServiceError> {
        let config = &self.config.enrollment;
        let (mfa, ()) = self
            .update_mfa(person.id, |mfa| {
                Ok(match reauth {
                    Reauthentication::Grant(grant) => {
                        mfa.start_enrollment_with_os_rng(purpose.clone(), Some(grant), config, now)?
                    }
                    Reauthentication::Login(progress) => mfa
                        .start_enrollment_at_login_with_os_rng(
                            purpose.clone(),
                            progress,
                            config,
                            now,
                        )?,
                })
            })
            .await?;
        let enrollment = mfa
            .enrollment()
            .ok_or(ServiceError::Policy(PolicyError::NoEnrollment))?;
        let secret = crate::otp::secret::SecretKey::from_bytes_allow_short(
            enrollment.expose_secret().expose_bytes(),
        )?;
        let uri = OtpAuthUri::totp(
            Some(&self.config.issuer),
            person.login.as_str(),
            secret,
            &enrollment.params(),
        )?;
        Ok(EnrollmentSetup { uri })
    }

    /// Enrollment step 2 for `person`: the confirming code, then new recovery codes stored in
    /// the pending slot.
    pub(super) async fn enroll_confirm(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        code: &str,
        now: u64,
    ) -> Result<RecoveryCodes, ServiceError> {
        // The confirming code is a guess like a login code: reserved on the TOTP counter before
        // it is checked. (A refusal for another reason leaves the reservation counted.)
        let reserved = self
            .reserve_attempt(
                super::factor_key(person, FactorKind::Totp),
                Factor::Second(FactorKind::Totp),
                now,
            )
            .await?;
        let config = &self.config.enrollment;
        let (_, outcome) = self
            .update_mfa(person, |mfa| Ok(mfa.confirm_enrollment(code, config, now)?))
            .await?;
        match outcome {
            crate::policy::enrollment::ConfirmOutcome::Confirmed => {}
            crate::policy::enrollment::ConfirmOutcome::CodeRejected => {
                self.reject_credential(reserved, person, org, false, now)
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            }
            _ => return Err(ServiceError::Policy(PolicyError::NoEnrollment)),
        }
        self.accept_attempt(reserved, now).await?;
        let new = self
            .backend
            .hasher()
            .run(HashJob::recovery_generate(self.config.recovery))
            .await
            .into_recovery_codes()?;
        self.backend
            .store()
            .replace_recovery_codes(
                person,
                crate::store::records::RecoverySlot::Pending,
                Some(&new.set),
            )
            .await
            .map_err(ServiceError::storage)?;
        let (_, issued) = self
            .update_mfa(person, |mfa| Ok(mfa.recovery_codes_issued(config, now)?))
            .await?;
        if issued != crate::policy::enrollment::IssueOutcome::Recorded {
            return Err(ServiceError::Policy(PolicyError::NoEnrollment));
        }
        Ok(new.codes)
    }

    /// Enrollment step 3 for `person`: activates the authenticator and the pending recovery
    /// codes, and tells the person a new authenticator was added.
    pub(super) async fn enroll_acknowledge(
        &self,
        person: PersonId,
        now: u64,
    ) -> Result<crate::policy::ids::AuthenticatorId, ServiceError> {
        let config = &self.config.enrollment;
        let (_, outcome) = self
            .update_mfa(person, |mfa| {
                Ok(mfa.acknowledge_recovery_codes(config, now)?)
            })
            .await?;
        let crate::policy::enrollment::AcknowledgeOutcome::Activated { authenticator, .. } =
            outcome
        else {
            return Err(ServiceError::Policy(PolicyError::NoEnrollment));
        };
        let _ = self
            .backend
            .store()
            .activate_pending_recovery_codes(person)
            .await
            .map_err(ServiceError::storage)?;
        self.notice(person, SecurityNotice::AuthenticatorAdded)
            .await?;
        Ok(authenticator)
    }
}

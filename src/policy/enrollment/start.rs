//! Enrolling an authenticator: starting (with a fresh secret), confirming the first code from
//! the app, and abandoning an enrollment.

use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use crate::otp::error::Rejected;
use crate::otp::secret::SecretKey;
use crate::otp::totp::Totp;
use crate::policy::Transition;
use crate::policy::audit::AuditKind;
use crate::policy::enrollment::config::EnrollmentConfig;
use crate::policy::enrollment::error::MfaError;
use crate::policy::enrollment::name::AuthenticatorName;
use crate::policy::enrollment::state::{Enrollment, Mfa, Step};
use crate::policy::error::PolicyError;
use crate::policy::ids::AuthenticatorId;
use crate::policy::login::{Grant, LoginProgress};
use crate::policy::phase::EnrollmentPhase;

/// What a new enrollment is for. It is always explicit, so that completing it can never leave two
/// secrets standing for one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrollmentPurpose {
    /// A new authenticator with its own name (the first one, or a backup device).
    Add(AuthenticatorName),
    /// A new secret for an existing authenticator (a new phone): the old one stops working when
    /// the new one becomes active.
    Replace(AuthenticatorId),
}

/// How [`Mfa::confirm_enrollment`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum ConfirmOutcome {
    /// The code was valid: issue recovery codes next.
    Confirmed,
    /// The code was wrong (or malformed): the enrollment still waits. Count this towards the
    /// throttle and tell the person only that it failed.
    CodeRejected,
    /// The enrollment had expired and is gone: start again.
    Expired,
}

impl ConfirmOutcome {
    /// Whether the throttle must count this attempt as a failure.
    pub const fn counts_as_failure(self) -> bool {
        matches!(self, Self::CodeRejected)
    }
}

impl Mfa {
    /// Starts enrolling an authenticator with a secret drawn from `rng`, replacing any enrollment
    /// already in progress (its secret is discarded). Active authenticators are not touched.
    ///
    /// While MFA is active, adding or replacing an authenticator needs `reauth`: this person's
    /// grant, AAL2, verified within [`EnrollmentConfig::reauth_max_age`]. For the first
    /// authenticator it may be `None`; during a login's "company account verification" use
    /// [`Self::start_enrollment_at_login`]. This state knows only the authenticator apps: a host
    /// whose person holds another factor (a verified phone) must ask for the fresh grant itself.
    pub fn start_enrollment<R: TryCryptoRng + ?Sized>(
        &self,
        purpose: EnrollmentPurpose,
        reauth: Option<&Grant>,
        config: &EnrollmentConfig,
        rng: &mut R,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        if self.is_active() {
            self.check_reauth(reauth, config, now)?;
        }
        self.begin_enrollment(purpose, config, rng, now)
    }

    /// Starts enrolling an authenticator during a login ("company account verification"), with
    /// the login itself as the re-authentication: `progress` must be this person's, still
    /// pending ([`LoginProgress::MAX_AGE`]), and — while MFA is active — hold a second factor
    /// verified in this login. Otherwise as [`Self::start_enrollment`].
    ///
    /// The host calls it only when [`crate::policy::login::login_decision`] answers
    /// [`crate::policy::login::LoginDecision::EnrollMfa`] for `progress`: that decision asks a person who holds
    /// any factor (a verified phone included, which this state does not know) to present it
    /// first, so an attacker who knows only the password cannot bind their own authenticator.
    pub fn start_enrollment_at_login<R: TryCryptoRng + ?Sized>(
        &self,
        purpose: EnrollmentPurpose,
        progress: &LoginProgress,
        config: &EnrollmentConfig,
        rng: &mut R,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        if progress.person() != self.person {
            return Err(PolicyError::WrongPerson.into());
        }
        let pending = now
            .checked_sub(progress.started_at())
            .is_some_and(|age| age <= LoginProgress::MAX_AGE);
        if !pending || (self.is_active() && progress.factors().second_factors().is_empty()) {
            return Err(PolicyError::ReauthenticationRequired.into());
        }
        self.begin_enrollment(purpose, config, rng, now)
    }

    /// [`Self::start_enrollment_at_login`] with the operating system's random number generator.
    #[cfg(feature = "std")]
    pub fn start_enrollment_at_login_with_os_rng(
        &self,
        purpose: EnrollmentPurpose,
        progress: &LoginProgress,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        self.start_enrollment_at_login(purpose, progress, config, &mut getrandom::SysRng, now)
    }

    fn begin_enrollment<R: TryCryptoRng + ?Sized>(
        &self,
        purpose: EnrollmentPurpose,
        config: &EnrollmentConfig,
        rng: &mut R,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        let (name, replaces) = match purpose {
            EnrollmentPurpose::Add(name) => {
                self.check_can_add(&name, config)?;
                (name, None)
            }
            EnrollmentPurpose::Replace(id) => {
                let old = self
                    .authenticator(id)
                    .ok_or(PolicyError::UnknownAuthenticator)?;
                (old.name.clone(), Some(id))
            }
        };
        let secret = SecretKey::generate_with_rng(rng, config.params().algorithm().output_len())?;
        let id = AuthenticatorId::new(self.next_authenticator);
        let mut next = self.duplicate()?;
        next.next_authenticator = self
            .next_authenticator
            .checked_add(1)
            .ok_or(PolicyError::InvalidState("authenticator ids exhausted"))?;
        let mut events = Vec::new();
        if let Some(old) = &self.enrollment {
            events.push(self.event(
                now,
                AuditKind::EnrollmentAbandoned {
                    authenticator: old.authenticator,
                },
            ));
        }
        events.push(self.event(
            now,
            AuditKind::EnrollmentStarted {
                authenticator: id,
                replacing: replaces,
            },
        ));
        next.enrollment = Some(Enrollment {
            authenticator: id,
            name,
            replaces,
            secret,
            params: config.params(),
            started_at: now,
            expires_at: now.saturating_add(config.pending_ttl()),
            step: Step::AwaitingCode,
        });
        Ok(Transition::new(next, (), events))
    }

    /// [`Self::start_enrollment`] with the operating system's random number generator.
    #[cfg(feature = "std")]
    pub fn start_enrollment_with_os_rng(
        &self,
        purpose: EnrollmentPurpose,
        reauth: Option<&Grant>,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        self.start_enrollment(purpose, reauth, config, &mut getrandom::SysRng, now)
    }

    /// Checks the code the person typed from their app (step 2).
    ///
    /// Errors only on misuse (no enrollment, or one at another step); a wrong code and an expired
    /// enrollment are outcomes.
    pub fn confirm_enrollment(
        &self,
        code: &str,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, ConfirmOutcome>, MfaError> {
        let pending = self.pending(EnrollmentPhase::AwaitingCode)?;
        if pending.is_expired(now) {
            let (next, events) = self.expire(now)?;
            return Ok(Transition::new(next, ConfirmOutcome::Expired, events));
        }
        let mut next = self.duplicate()?;
        let id = pending.authenticator;
        match Totp::new(pending.params, &pending.secret).verify(code, now, config.window(), None) {
            Ok(step) => {
                if let Some(enrollment) = next.enrollment.as_mut() {
                    enrollment.step = Step::Confirmed {
                        accepted_step: step.step(),
                        confirmed_at: now,
                    };
                    enrollment.expires_at = now.saturating_add(config.pending_ttl());
                }
                let event = self.event(now, AuditKind::EnrollmentConfirmed { authenticator: id });
                Ok(Transition::new(
                    next,
                    ConfirmOutcome::Confirmed,
                    alloc::vec![event],
                ))
            }
            Err(Rejected) => {
                let event =
                    self.event(now, AuditKind::EnrollmentCodeRejected { authenticator: id });
                Ok(Transition::new(
                    next,
                    ConfirmOutcome::CodeRejected,
                    alloc::vec![event],
                ))
            }
        }
    }

    /// The enrollment in progress for `purpose`, if it can be shown again at `now`: it is for
    /// the same new name (or replaces the same authenticator), still awaits its first code,
    /// and has not expired. Reloading the page that shows the QR code must show the same secret
    /// (the person may have scanned it already), so a host shows this one rather than starting
    /// anew; only an explicit "start over" ([`Self::start_enrollment`] again) makes a new
    /// secret.
    ///
    /// It shows a secret: make the same checks as for starting first (the service's
    /// `start_enrollment` computes the start transition, with its re-authentication checks,
    /// and shows this one instead of writing it).
    pub fn resumable_enrollment(
        &self,
        purpose: &EnrollmentPurpose,
        now: u64,
    ) -> Option<&Enrollment> {
        let pending = self.enrollment.as_ref()?;
        let same = match purpose {
            EnrollmentPurpose::Add(name) => {
                pending.replaces.is_none() && pending.name.same_as(name)
            }
            EnrollmentPurpose::Replace(id) => pending.replaces == Some(*id),
        };
        (same && pending.phase() == EnrollmentPhase::AwaitingCode && !pending.is_expired(now))
            .then_some(pending)
    }

    /// Abandons the enrollment in progress; its secret is discarded.
    pub fn cancel_enrollment(&self, now: u64) -> Result<Transition<Self>, MfaError> {
        let pending = self.enrollment.as_ref().ok_or(PolicyError::NoEnrollment)?;
        let event = self.event(
            now,
            AuditKind::EnrollmentAbandoned {
                authenticator: pending.authenticator,
            },
        );
        let mut next = self.duplicate()?;
        next.enrollment = None;
        Ok(Transition::new(next, (), alloc::vec![event]))
    }
}

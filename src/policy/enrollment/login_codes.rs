//! Verifying login codes against the active authenticators, each with its own replay
//! watermark, and raising that watermark.

use crate::otp::error::{Refusal, Rejected};
use crate::otp::totp::{AcceptedStep, Totp, Window};
use crate::policy::Transition;
use crate::policy::audit::AuditKind;
use crate::policy::enrollment::error::MfaError;
use crate::policy::enrollment::state::{AuthenticatorApp, Mfa};
use crate::policy::error::PolicyError;
use crate::policy::ids::AuthenticatorId;

/// A login code one of the person's authenticators accepted. Record it with
/// [`Mfa::record_login_code`] (the new watermark) before treating the factor as verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the accepted step must be recorded as the authenticator's replay watermark"]
pub struct LoginCodeAccepted {
    authenticator: AuthenticatorId,
    step: AcceptedStep,
}

impl LoginCodeAccepted {
    /// The authenticator that produced the code.
    pub const fn authenticator(&self) -> AuthenticatorId {
        self.authenticator
    }

    /// The accepted step.
    pub const fn step(&self) -> AcceptedStep {
        self.step
    }
}

impl AuthenticatorApp {
    /// Verifies a login code against this authenticator and its watermark.
    pub fn verify(&self, code: &str, now: u64, window: Window) -> Result<AcceptedStep, Rejected> {
        self.verify_detailed(code, now, window)
            .map_err(Rejected::from)
    }

    /// [`Self::verify`], saying for the audit trail whether a refused code was a replay (see
    /// [`Totp::verify_detailed`]).
    pub fn verify_detailed(
        &self,
        code: &str,
        now: u64,
        window: Window,
    ) -> Result<AcceptedStep, Refusal> {
        Totp::new(self.params, &self.secret).verify_detailed(
            code,
            now,
            window,
            Some(self.last_accepted_step),
        )
    }
}

impl Mfa {
    /// Verifies a login code against every active authenticator, each with its own watermark.
    /// All are tried (no early exit); an enrollment in progress never counts.
    pub fn verify_login_code(
        &self,
        code: &str,
        now: u64,
        window: Window,
    ) -> Result<LoginCodeAccepted, Rejected> {
        self.verify_login_code_detailed(code, now, window)
            .map_err(Rejected::from)
    }

    /// [`Self::verify_login_code`], saying for the audit trail why a code was refused: when no
    /// authenticator accepts it but one matched it at or below its watermark, it is
    /// [`Refusal::Replayed`]. Every authenticator is tried either way; show the person only the
    /// opaque failure.
    pub fn verify_login_code_detailed(
        &self,
        code: &str,
        now: u64,
        window: Window,
    ) -> Result<LoginCodeAccepted, Refusal> {
        let mut found = None;
        let mut replayed = false;
        for authenticator in &self.authenticators {
            let result = authenticator.verify_detailed(code, now, window);
            replayed |= result == Err(Refusal::Replayed);
            if let (None, Ok(step)) = (found, result) {
                found = Some(LoginCodeAccepted {
                    authenticator: authenticator.id,
                    step,
                });
            }
        }
        match (found, replayed) {
            (Some(accepted), _) => Ok(accepted),
            (None, true) => Err(Refusal::Replayed),
            (None, false) => Err(Refusal::Invalid),
        }
    }

    /// Raises the authenticator's replay watermark to the accepted step (never lowers it).
    ///
    /// Between servers, this update must be one atomic "raise if higher" on the stored
    /// authenticator; this transition is its single-process form.
    pub fn record_login_code(
        &self,
        accepted: LoginCodeAccepted,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        let mut next = self.duplicate()?;
        let authenticator = next
            .authenticators
            .iter_mut()
            .find(|a| a.id == accepted.authenticator)
            .ok_or(PolicyError::UnknownAuthenticator)?;
        authenticator.last_accepted_step =
            authenticator.last_accepted_step.max(accepted.step.step());
        let event = self.event(
            now,
            AuditKind::LoginCodeAccepted {
                authenticator: accepted.authenticator,
            },
        );
        Ok(Transition::new(next, (), alloc::vec![event]))
    }

    /// Raises an authenticator's replay watermark to `step` if that is higher, and says whether
    /// it changed. Stores call this to reflect
    /// [`SecretStore::advance_watermark`](crate::store::SecretStore::advance_watermark) in the state they
    /// return; it never lowers a watermark.
    pub fn restore_watermark(&mut self, authenticator: AuthenticatorId, step: u64) -> bool {
        match self
            .authenticators
            .iter_mut()
            .find(|a| a.id == authenticator)
        {
            Some(a) if a.last_accepted_step < step => {
                a.last_accepted_step = step;
                true
            }
            _ => false,
        }
    }
}

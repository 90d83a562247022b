//! The enrollment's last two steps: the host issues recovery codes, the person acknowledges
//! them, and the authenticator becomes active.

use crate::policy::Transition;
use crate::policy::audit::AuditKind;
use crate::policy::enrollment::config::EnrollmentConfig;
use crate::policy::enrollment::error::MfaError;
use crate::policy::enrollment::state::{AuthenticatorApp, Mfa, Step, copy_key};
use crate::policy::error::PolicyError;
use crate::policy::ids::AuthenticatorId;
use crate::policy::phase::EnrollmentPhase;

/// How [`Mfa::recovery_codes_issued`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum IssueOutcome {
    /// Recorded: ask the person to acknowledge.
    Recorded,
    /// The enrollment had expired and is gone: discard the new codes and start again.
    Expired,
}

/// How [`Mfa::acknowledge_recovery_codes`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum AcknowledgeOutcome {
    /// The authenticator is active: make the new recovery codes the live set.
    Activated {
        /// The new authenticator.
        authenticator: AuthenticatorId,
        /// The authenticator it replaced, which no longer works.
        replaced: Option<AuthenticatorId>,
    },
    /// The enrollment had expired and is gone: discard the new codes and start again.
    Expired,
}

impl Mfa {
    /// Records that the host generated, stored (beside the enrollment) and showed new recovery
    /// codes (step 3).
    pub fn recovery_codes_issued(
        &self,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, IssueOutcome>, MfaError> {
        let pending = self.pending(EnrollmentPhase::AwaitingRecoveryCodes)?;
        if pending.is_expired(now) {
            let (next, events) = self.expire(now)?;
            return Ok(Transition::new(next, IssueOutcome::Expired, events));
        }
        let Step::Confirmed {
            accepted_step,
            confirmed_at,
        } = pending.step
        else {
            return Err(PolicyError::InvalidState("enrollment step").into());
        };
        let mut next = self.duplicate()?;
        if let Some(enrollment) = next.enrollment.as_mut() {
            enrollment.step = Step::CodesIssued {
                accepted_step,
                confirmed_at,
                issued_at: now,
            };
            enrollment.expires_at = now.saturating_add(config.pending_ttl());
        }
        let event = self.event(
            now,
            AuditKind::RecoveryCodesIssued {
                authenticator: pending.authenticator,
            },
        );
        Ok(Transition::new(
            next,
            IssueOutcome::Recorded,
            alloc::vec![event],
        ))
    }

    /// The person acknowledged the recovery codes (step 4): the authenticator becomes active, with
    /// the confirming code's step as its replay watermark.
    pub fn acknowledge_recovery_codes(
        &self,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, AcknowledgeOutcome>, MfaError> {
        let pending = self.pending(EnrollmentPhase::AwaitingAcknowledgement)?;
        if pending.is_expired(now) {
            let (next, events) = self.expire(now)?;
            return Ok(Transition::new(next, AcknowledgeOutcome::Expired, events));
        }
        let Step::CodesIssued {
            accepted_step,
            issued_at,
            ..
        } = pending.step
        else {
            return Err(PolicyError::InvalidState("enrollment step").into());
        };
        let replaced = pending
            .replaces
            .filter(|id| self.authenticator(*id).is_some());
        if replaced.is_none() {
            self.check_can_add(&pending.name, config)?;
        }
        let mut next = self.duplicate()?;
        let Some(enrollment) = next.enrollment.take() else {
            return Err(PolicyError::NoEnrollment.into());
        };
        let authenticator = AuthenticatorApp {
            id: enrollment.authenticator,
            name: enrollment.name.clone(),
            secret: copy_key(&enrollment.secret)?,
            params: enrollment.params,
            last_accepted_step: accepted_step,
            enrolled_at: now,
        };
        let id = authenticator.id;
        match next
            .authenticators
            .iter_mut()
            .find(|a| Some(a.id) == replaced)
        {
            Some(slot) => *slot = authenticator,
            None => next.authenticators.push(authenticator),
        }
        next.recovery_codes_issued_at = Some(issued_at);
        let event = self.event(
            now,
            AuditKind::AuthenticatorActivated {
                authenticator: id,
                replaced,
            },
        );
        Ok(Transition::new(
            next,
            AcknowledgeOutcome::Activated {
                authenticator: id,
                replaced,
            },
            alloc::vec![event],
        ))
    }
}

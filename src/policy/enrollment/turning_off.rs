//! Removing authenticators and turning MFA off: both need a fresh re-authentication, and no
//! enforcing organisation.

use alloc::vec::Vec;

use crate::policy::Transition;
use crate::policy::audit::AuditKind;
use crate::policy::enrollment::config::EnrollmentConfig;
use crate::policy::enrollment::error::MfaError;
use crate::policy::enrollment::state::Mfa;
use crate::policy::error::PolicyError;
use crate::policy::ids::AuthenticatorId;
use crate::policy::login::Grant;
use crate::policy::org_policy::OrgStanding;

/// What removing authenticators did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum DisableOutcome {
    /// One authenticator was removed; MFA stays on with the others.
    AuthenticatorRemoved,
    /// No authenticator remains: MFA is off. Delete the person's recovery codes.
    MfaOff,
}

impl Mfa {
    /// Removes one authenticator. Removing the last one turns MFA off and follows the rules of
    /// [`Self::disable`]; removing any needs the same fresh re-authentication.
    pub fn remove_authenticator(
        &self,
        id: AuthenticatorId,
        reauth: &Grant,
        standings: &[OrgStanding],
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, DisableOutcome>, MfaError> {
        self.check_reauth(Some(reauth), config, now)?;
        if self.authenticator(id).is_none() {
            return Err(PolicyError::UnknownAuthenticator.into());
        }
        if self.authenticators.len() == 1 {
            return self.disable(reauth, standings, config, now);
        }
        let mut next = self.duplicate()?;
        next.authenticators.retain(|a| a.id != id);
        let event = self.event(now, AuditKind::AuthenticatorRemoved { authenticator: id });
        Ok(Transition::new(
            next,
            DisableOutcome::AuthenticatorRemoved,
            alloc::vec![event],
        ))
    }

    /// Turns MFA off: every authenticator and any enrollment are removed, and the host must delete
    /// the recovery codes.
    ///
    /// Needs `reauth`: this person's grant, AAL2, verified within
    /// [`EnrollmentConfig::reauth_max_age`]. Refused while any organisation in `standings` — which
    /// must list every organisation the person belongs to — enforces MFA; the sole owner of an
    /// enforcing organisation is told so specifically (they can never turn theirs off, since they
    /// can neither leave nor be replaced without another owner).
    pub fn disable(
        &self,
        reauth: &Grant,
        standings: &[OrgStanding],
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, DisableOutcome>, MfaError> {
        self.check_reauth(Some(reauth), config, now)?;
        if standings.iter().any(|s| s.person() != self.person) {
            return Err(PolicyError::WrongPerson.into());
        }
        OrgStanding::allow_mfa_off(standings)?;
        let mut events = Vec::new();
        if let Some(pending) = &self.enrollment {
            events.push(self.event(
                now,
                AuditKind::EnrollmentAbandoned {
                    authenticator: pending.authenticator,
                },
            ));
        }
        for authenticator in &self.authenticators {
            events.push(self.event(
                now,
                AuditKind::AuthenticatorRemoved {
                    authenticator: authenticator.id,
                },
            ));
        }
        events.push(self.event(now, AuditKind::MfaDisabled));
        let next = Self {
            next_authenticator: self.next_authenticator,
            ..Self::new(self.person)
        };
        Ok(Transition::new(next, DisableOutcome::MfaOff, events))
    }
}

//! An administrator's reset of a member's second factors, for the member who lost their device
//! and their recovery codes: who may order it ([`Organisation::authorize_mfa_reset`]) and what it
//! clears from the MFA state ([`Mfa::reset`]).
//!
//! Second factors belong to the person, not to a membership: a person in two organisations
//! signs in to both with the same authenticator. A reset ordered in one organisation therefore
//! also takes the factors the person uses in the others, and is allowed only to someone who
//! could order it in each of them.

use alloc::vec::Vec;

use crate::policy::Transition;
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::enrollment::Mfa;
use crate::policy::error::PolicyError;
use crate::policy::factors::Aal;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::Grant;
use crate::policy::organisation::Organisation;
use crate::policy::roles::{Permission, Role, SENSITIVE_ACTION_MAX_AGE, Scope};

/// The decision that an administrator may reset a member's second factors, made by
/// [`Organisation::authorize_mfa_reset`] and spent by [`Mfa::reset`]: the only way to call it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "reset the MFA state with it"]
pub struct MfaResetAuthority {
    by: PersonId,
    target: PersonId,
    org: OrgId,
}

impl MfaResetAuthority {
    /// The administrator who ordered the reset.
    pub const fn by(&self) -> PersonId {
        self.by
    }

    /// The member whose factors are reset.
    pub const fn target(&self) -> PersonId {
        self.target
    }

    /// The organisation it was ordered in.
    pub const fn org(&self) -> OrgId {
        self.org
    }
}

impl Organisation {
    /// Whether the holder of `actor` may reset the second factors of `target` now.
    ///
    /// - The actor manages members here ([`Permission::ManageMembers`]: an active Admin or
    ///   Owner, a delegation in force included) with an AAL2 grant verified within
    ///   [`SENSITIVE_ACTION_MAX_AGE`] ([`PolicyError::ReauthenticationRequired`]).
    /// - `target` is a member here ([`PolicyError::NotAMember`]), not the actor
    ///   ([`PolicyError::CannotActOnSelf`]), and an Owner only for an Owner
    ///   ([`PolicyError::OwnersOnly`], the actor's own role: a delegation does not count).
    /// - `elsewhere` lists the other organisations `target` belongs to (this one, and any the
    ///   target is not a member of, are ignored). In each, the actor must be an active member
    ///   who manages members, and an Owner there if the target is an Owner there; otherwise
    ///   [`PolicyError::MemberOfAnotherOrganisation`], which names no organisation.
    pub fn authorize_mfa_reset(
        &self,
        actor: &Grant,
        target: PersonId,
        elsewhere: &[Organisation],
        now: u64,
    ) -> Result<MfaResetAuthority, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        actor.require_fresh(now, SENSITIVE_ACTION_MAX_AGE, Aal::Aal2)?;
        let _ = self.target(by, target)?;
        for other in elsewhere.iter().filter(|o| o.id() != self.id()) {
            let Some(member) = other.member(target) else {
                continue;
            };
            let administers = other.member(actor.person()).is_some_and(|admin| {
                admin.is_active()
                    && admin.effective_role(now).scope(Permission::ManageMembers) != Scope::None
                    && (member.role() != Role::Owner || admin.role() == Role::Owner)
            });
            if !administers {
                return Err(PolicyError::MemberOfAnotherOrganisation);
            }
        }
        Ok(MfaResetAuthority {
            by: actor.person(),
            target,
            org: self.id(),
        })
    }
}

impl Mfa {
    /// Resets the state on an administrator's authority: every authenticator app and any
    /// enrollment in progress go, as when MFA is turned off, and the host must delete the
    /// recovery codes, the verified phone and any pending out-of-band code. The ids already
    /// issued are never issued again. The events name the administrator as the actor.
    ///
    /// [`PolicyError::WrongPerson`] if `authority` is for someone else. No enforcing
    /// organisation can refuse it: the person enrols again at their next sign-in.
    pub fn reset(
        &self,
        authority: &MfaResetAuthority,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        if authority.target != self.person {
            return Err(PolicyError::WrongPerson);
        }
        let event = |what| {
            AuditEvent::new(
                now,
                Actor::Person(authority.by),
                Some(self.person),
                Some(authority.org),
                what,
            )
        };
        let mut events = Vec::new();
        if let Some(pending) = &self.enrollment {
            events.push(event(AuditKind::EnrollmentAbandoned {
                authenticator: pending.authenticator,
            }));
        }
        for authenticator in &self.authenticators {
            events.push(event(AuditKind::AuthenticatorRemoved {
                authenticator: authenticator.id,
            }));
        }
        let next = Self {
            next_authenticator: self.next_authenticator,
            ..Self::new(self.person)
        };
        Ok(Transition::new(next, (), events))
    }
}

//! Ownership transfer in two steps: an Owner offers, the new owner accepts with their own
//! session. Nothing changes hands until the acceptance, and the acceptance checks everything
//! again.

use alloc::vec::Vec;

use crate::policy::Transition;
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::error::PolicyError;
use crate::policy::factors::{Aal, SecondFactors};
use crate::policy::ids::PersonId;
use crate::policy::login::Grant;
use crate::policy::organisation::Organisation;
use crate::policy::roles::{Permission, Role, SENSITIVE_ACTION_MAX_AGE};

/// An Owner's standing offer of ownership to a member ([`Organisation::offer_ownership`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OwnershipOffer {
    from: PersonId,
    to: PersonId,
    offered_at: u64,
    expires_at: u64,
}

impl OwnershipOffer {
    /// How long an offer stands: 7 days.
    pub const TTL: u64 = 7 * 24 * 60 * 60;

    /// The Owner who made it.
    pub const fn from(&self) -> PersonId {
        self.from
    }

    /// The member it is for.
    pub const fn to(&self) -> PersonId {
        self.to
    }

    /// When it was made.
    pub const fn offered_at(&self) -> u64 {
        self.offered_at
    }

    /// When it lapses.
    pub const fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl Organisation {
    /// The standing ownership offer, if any (it may have lapsed: see
    /// [`OwnershipOffer::expires_at`]).
    pub const fn ownership_offer(&self) -> Option<&OwnershipOffer> {
        self.ownership_offer.as_ref()
    }

    /// An Owner offers ownership to `to`, an active member other than themselves. Needs a fresh
    /// AAL2 grant (within [`SENSITIVE_ACTION_MAX_AGE`]); while the policy enforces MFA, `to`'s
    /// own second factors (`to_factors`) must satisfy it ([`PolicyError::TargetNeedsMfa`]). The
    /// offer replaces any earlier one and stands for [`OwnershipOffer::TTL`]; nothing else
    /// changes until [`Self::accept_ownership`].
    pub fn offer_ownership(
        &self,
        actor: &Grant,
        to: PersonId,
        to_factors: SecondFactors,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        self.acting_member(actor, Permission::TransferOwnership, now)?;
        if !actor.is_fresh(now, SENSITIVE_ACTION_MAX_AGE) {
            return Err(PolicyError::ReauthenticationRequired);
        }
        let from = actor.person();
        if to == from {
            return Err(PolicyError::CannotActOnSelf);
        }
        let member = self.member(to).ok_or(PolicyError::NotAMember)?;
        if !member.is_active() {
            return Err(PolicyError::MemberDeactivated);
        }
        if self.policy().enforces() && !self.policy().satisfied_for(Role::Owner, to_factors) {
            return Err(PolicyError::TargetNeedsMfa);
        }
        let mut next = self.clone();
        next.ownership_offer = Some(OwnershipOffer {
            from,
            to,
            offered_at: now,
            expires_at: now.saturating_add(OwnershipOffer::TTL),
        });
        let event = self.event(
            now,
            Actor::Person(from),
            Some(to),
            AuditKind::OwnershipOffered {
                expires_at: now.saturating_add(OwnershipOffer::TTL),
            },
        );
        Ok(Transition::new(next, (), alloc::vec![event]))
    }

    /// The member an offer is for accepts it with their own grant: they become an Owner and
    /// the Owner who offered becomes an Admin (a transfer, not a sharing: an organisation that
    /// wants two Owners makes the offer again the other way round, or uses
    /// [`Self::transfer_ownership`] keeping the role `Owner`). The new Owner is made before the
    /// old one steps down, so the organisation always keeps an Owner.
    ///
    /// Refused with [`PolicyError::NoOwnershipOffer`] unless an offer for the grant holder
    /// stands: made to them since they joined, not lapsed, and its maker still an active Owner.
    /// The grant must be fresh (within [`SENSITIVE_ACTION_MAX_AGE`]) and, when `to_factors`
    /// (the holder's own second factors) include one the policy counts, at AAL2; while the
    /// policy enforces MFA those factors must satisfy it ([`PolicyError::TargetNeedsMfa`]).
    pub fn accept_ownership(
        &self,
        grant: &Grant,
        to_factors: SecondFactors,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        if grant.org() != self.id() {
            return Err(PolicyError::OtherOrganisation);
        }
        let to = grant.person();
        let member = self.check_grant(grant, now)?;
        let offer = self
            .ownership_offer
            .filter(|offer| {
                offer.to == to && now < offer.expires_at && offer.offered_at >= member.joined_at()
            })
            .ok_or(PolicyError::NoOwnershipOffer)?;
        let maker_stands = self
            .member(offer.from)
            .is_some_and(|m| m.is_active() && m.role() == Role::Owner);
        if !maker_stands {
            return Err(PolicyError::NoOwnershipOffer);
        }
        if self.policy().enforces() && !self.policy().satisfied_for(Role::Owner, to_factors) {
            return Err(PolicyError::TargetNeedsMfa);
        }
        let protected = self.policy().satisfied_for(Role::Owner, to_factors);
        if !grant.is_fresh(now, SENSITIVE_ACTION_MAX_AGE) || (protected && grant.aal() != Aal::Aal2)
        {
            return Err(PolicyError::ReauthenticationRequired);
        }
        let from = offer.from;
        let by = Actor::Person(to);
        let mut events = Vec::new();
        let previous = member.role();
        if previous != Role::Owner {
            events.push(self.event(
                now,
                by,
                Some(to),
                AuditKind::RoleChanged {
                    from: previous,
                    to: Role::Owner,
                },
            ));
        }
        events.push(self.event(now, by, Some(to), AuditKind::OwnershipTransferred { from }));
        events.push(self.event(
            now,
            by,
            Some(from),
            AuditKind::RoleChanged {
                from: Role::Owner,
                to: Role::Admin,
            },
        ));
        let mut next = self.clone();
        next.update(to, |member| member.set_role(Role::Owner));
        next.update(from, |member| member.set_role(Role::Admin));
        next.ensure_subject(to, by, now, &mut events);
        next.end_orphaned_delegations(by, now, &mut events);
        next.ownership_offer = None;
        Ok(Transition::new(next, (), events))
    }
}

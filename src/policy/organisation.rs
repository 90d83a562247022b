//! An organisation's member roster and the rules for changing it.

use alloc::vec::Vec;

mod mfa_policy;
mod ownership;
mod remembered_devices;

pub use ownership::OwnershipOffer;

use crate::policy::Transition;
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::authorize::authorize;
use crate::policy::error::{AccessDenied, PolicyError};
use crate::policy::factors::SecondFactors;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::Grant;
use crate::policy::org_policy::MfaPolicy;
use crate::policy::roles::{
    Action, Delegation, JoinPath, Member, Permission, Resource, Role, SENSITIVE_ACTION_MAX_AGE,
};

/// An organisation: its members, its MFA policy, and whether it allows remembered devices.
///
/// Every transition takes the acting person's [`Grant`] and returns a new `Organisation`; the
/// value it is called on is unchanged. Invariant (checked again when decoding): at least one
/// active Owner, one membership per person, and every member subject to the MFA policy exactly
/// while it enforces.
///
/// - Only Admins and Owners manage members (the [`Permission::ManageMembers`] permission, with an
///   AAL2 grant); an Admin cannot create, change, deactivate or remove an Owner.
/// - Nobody changes their own role, deactivates or removes themselves; nobody grants a role above
///   their own.
/// - The last active Owner cannot leave, be demoted, deactivated or removed.
/// - Owners are made only by [`Organisation::transfer_ownership`], which is refused towards a
///   member without MFA while the policy enforces it.
/// - A deactivated member is refused at their next [`crate::policy::authorize::authorize`] check.
/// - A delegation grants a role (at most Admin) until a given time, then lapses by itself.
/// - Delegated rights are not passed on: what a member grants — the role of a member they add,
///   approve or invite, a role they set, a role they delegate — is capped by their own role, never
///   by a delegation they hold. A delegate covers for an Admin's work, but mints no Admin.
/// - A delegation stands only while its delegator does: an active member whose own role may
///   manage members and is at least the delegated role. The transition that demotes,
///   deactivates or removes a delegator (or that they leave by) ends in the same update every
///   delegation that no longer stands, with a [`AuditKind::DelegationEnded`] event; decoding
///   refuses an organisation holding one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "OrganisationRepr")
)]
pub struct Organisation {
    id: OrgId,
    policy: MfaPolicy,
    members: Vec<Member>,
    remember_devices: bool,
    ownership_offer: Option<OwnershipOffer>,
}

/// An invitation to join an organisation with a role. The host keeps it behind its own link
/// token; [`Organisation::accept_invitation`] checks it again when it is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Invitation {
    org: OrgId,
    role: Role,
    invited_by: PersonId,
    issued_at: u64,
    expires_at: u64,
}

impl Invitation {
    /// The longest an invitation stays valid: 30 days.
    pub const MAX_TTL: u64 = 30 * 24 * 60 * 60;

    /// The organisation.
    pub const fn org(&self) -> OrgId {
        self.org
    }

    /// The role it grants.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// Who issued it.
    pub const fn invited_by(&self) -> PersonId {
        self.invited_by
    }

    /// When it was issued.
    pub const fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// When it expires.
    pub const fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl Organisation {
    /// Founds an organisation with its first Owner and the MFA policy off.
    pub fn found(id: OrgId, founder: PersonId, now: u64) -> Transition<Self> {
        let org = Self {
            id,
            policy: MfaPolicy::Off,
            members: alloc::vec![Member::new(
                founder,
                id,
                Role::Owner,
                JoinPath::Founder,
                now
            )],
            remember_devices: true,
            ownership_offer: None,
        };
        let by = Actor::Person(founder);
        let events = alloc::vec![
            org.event(now, by, None, AuditKind::OrganisationFounded),
            org.event(
                now,
                by,
                Some(founder),
                AuditKind::MemberAdded {
                    role: Role::Owner,
                    path: JoinPath::Founder,
                },
            ),
        ];
        Transition::new(org, (), events)
    }

    /// The organisation's id.
    pub const fn id(&self) -> OrgId {
        self.id
    }

    /// The MFA policy.
    pub const fn policy(&self) -> &MfaPolicy {
        &self.policy
    }

    /// Every member, active or deactivated.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// One person's membership.
    pub fn member(&self, person: PersonId) -> Option<&Member> {
        self.members.iter().find(|member| member.person() == person)
    }

    /// The active Owners.
    pub fn owners(&self) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(|member| member.is_active() && member.role() == Role::Owner)
    }

    /// Whether `grant` still stands against this roster and MFA policy at `now`, and the grant
    /// holder's membership if it does. A grant is a record of a past login: it stands only while
    /// it is for this organisation, its holder is still a member, the membership is active, and
    /// the policy admits its factors ([`MfaPolicy::admits`]: an enforced member past their
    /// deadline needs a grant with a second factor the policy counts).
    pub fn check_grant(&self, grant: &Grant, now: u64) -> Result<&Member, AccessDenied> {
        if grant.org() != self.id {
            return Err(AccessDenied::OtherOrganisation);
        }
        let member = self
            .member(grant.person())
            .ok_or(AccessDenied::NotAMember)?;
        if !member.is_active() {
            return Err(AccessDenied::Deactivated);
        }
        if !self.policy.admits(member, grant.factors(), now) {
            return Err(AccessDenied::MfaRequired);
        }
        Ok(member)
    }

    /// [`authorize`] with the member record looked up in this roster, and then the MFA policy:
    /// what [`authorize`] allows is refused with [`AccessDenied::MfaRequired`] when the policy no
    /// longer admits the grant ([`Self::check_grant`]).
    pub fn authorize<A: Action + ?Sized>(
        &self,
        grant: &Grant,
        action: &A,
        resource: &Resource,
        now: u64,
    ) -> Result<(), AccessDenied> {
        if grant.org() != self.id {
            return Err(AccessDenied::OtherOrganisation);
        }
        let member = self
            .member(grant.person())
            .ok_or(AccessDenied::NotAMember)?;
        authorize(grant, member, action, resource, now)?;
        self.check_grant(grant, now).map(drop)
    }

    /// Adds a person directly (an Admin or Owner acting, typically with a temporary password the
    /// person must change at first login). The role may be at most the actor's own role (a
    /// delegation they hold does not count) and never Owner.
    pub fn add_member(
        &self,
        actor: &Grant,
        person: PersonId,
        role: Role,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        self.admit(actor, person, role, JoinPath::Added, now)
    }

    /// Approves a person's request to join, with a role (same rules as [`Self::add_member`]).
    pub fn approve_access_request(
        &self,
        actor: &Grant,
        person: PersonId,
        role: Role,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        self.admit(actor, person, role, JoinPath::AccessRequest, now)
    }

    /// A member who may manage members lets `person` in with a role they may grant.
    fn admit(
        &self,
        actor: &Grant,
        person: PersonId,
        role: Role,
        path: JoinPath,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        check_grantable(role, by.role())?;
        self.join(person, role, path, Actor::Person(actor.person()), now)
    }

    /// Issues an invitation with a role (at most the actor's own, never Owner), valid for `ttl`
    /// seconds (at most [`Invitation::MAX_TTL`]). The new state is the invitation; the
    /// organisation is unchanged until it is accepted.
    pub fn invite(
        &self,
        actor: &Grant,
        role: Role,
        ttl: u64,
        now: u64,
    ) -> Result<Transition<Invitation>, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        check_grantable(role, by.role())?;
        if ttl == 0 || ttl > Invitation::MAX_TTL {
            return Err(PolicyError::InvitationInvalid);
        }
        let invitation = Invitation {
            org: self.id,
            role,
            invited_by: actor.person(),
            issued_at: now,
            expires_at: now.saturating_add(ttl),
        };
        let event = self.event(
            now,
            Actor::Person(actor.person()),
            None,
            AuditKind::Invited { role },
        );
        Ok(Transition::new(invitation, (), alloc::vec![event]))
    }

    /// A person accepts an invitation. Refused if it expired, or if its inviter is no longer an
    /// active member who may manage members (a delegation still in force counts) and may grant
    /// that role by their own role (a delegation does not count). While the policy enforces
    /// MFA, `invitee_factors` (the person's own second factors, from their MFA state) must
    /// satisfy it ([`PolicyError::EnrollMfaFirst`]): nobody joins an enforcing organisation
    /// without a factor it counts, so nobody joins already past a deadline of zero.
    pub fn accept_invitation(
        &self,
        invitation: &Invitation,
        person: PersonId,
        invitee_factors: SecondFactors,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        if invitation.org != self.id {
            return Err(PolicyError::OtherOrganisation);
        }
        if self.policy.enforces() && !self.policy.satisfied_for(invitation.role, invitee_factors) {
            return Err(PolicyError::EnrollMfaFirst);
        }
        let inviter_ok = self.member(invitation.invited_by).is_some_and(|inviter| {
            inviter.is_active()
                && inviter.effective_role(now).scope(Permission::ManageMembers)
                    != crate::policy::roles::Scope::None
                && check_grantable(invitation.role, inviter.role()).is_ok()
        });
        if now >= invitation.expires_at || !inviter_ok {
            return Err(PolicyError::InvitationInvalid);
        }
        self.join(
            person,
            invitation.role,
            JoinPath::Invitation,
            Actor::Person(person),
            now,
        )
    }

    /// Changes a member's own role. Refused for one's own role, for a role above the actor's own
    /// role (a delegation they hold does not count), for Owner (use [`Self::transfer_ownership`]),
    /// for an Owner target unless the actor is an Owner, and for the last active Owner. Setting the
    /// current role changes nothing. Demoting a delegator ends the delegations they can no longer
    /// grant.
    pub fn change_role(
        &self,
        actor: &Grant,
        target: PersonId,
        role: Role,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        let member = self.target(by, target)?;
        if role == Role::Owner {
            return Err(PolicyError::OwnershipByTransferOnly);
        }
        if role > by.role() {
            return Err(PolicyError::AboveOwnRole);
        }
        self.check_not_last_owner(member)?;
        let from = member.role();
        if from == role {
            return Ok(Transition::new(self.clone(), (), Vec::new()));
        }
        let actor_id = Actor::Person(actor.person());
        let mut events = alloc::vec![self.event(
            now,
            actor_id,
            Some(target),
            AuditKind::RoleChanged { from, to: role },
        )];
        let mut next = self.clone();
        next.update(target, |member| member.set_role(role));
        next.ensure_subject(target, actor_id, now, &mut events);
        next.end_orphaned_delegations(actor_id, now, &mut events);
        Ok(Transition::new(next, (), events))
    }

    /// Whether the grant holder may manage `target` now: the authority every member change
    /// checks (managing members, with an AAL2 grant; never oneself; an Owner only by an Owner).
    /// For host-side acts on a member, such as sending a new setup link.
    pub fn may_manage(&self, actor: &Grant, target: PersonId, now: u64) -> Result<(), PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        self.target(by, target).map(|_| ())
    }

    /// Removes a member (not oneself: see [`Self::leave`]). The delegations they granted end.
    pub fn remove_member(
        &self,
        actor: &Grant,
        target: PersonId,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        let member = self.target(by, target)?;
        self.check_not_last_owner(member)?;
        let mut next = self.clone();
        next.members.retain(|member| member.person() != target);
        let by = Actor::Person(actor.person());
        let mut events = alloc::vec![self.event(now, by, Some(target), AuditKind::MemberRemoved)];
        next.end_orphaned_delegations(by, now, &mut events);
        Ok(Transition::new(next, (), events))
    }

    /// The grant holder leaves the organisation. The last active Owner cannot. The delegations
    /// they granted end.
    pub fn leave(&self, grant: &Grant, now: u64) -> Result<Transition<Self>, PolicyError> {
        if grant.org() != self.id {
            return Err(PolicyError::OtherOrganisation);
        }
        let person = grant.person();
        let member = self.member(person).ok_or(PolicyError::NotAMember)?;
        self.check_not_last_owner(member)?;
        let mut next = self.clone();
        next.members.retain(|member| member.person() != person);
        let by = Actor::Person(person);
        let mut events = alloc::vec![self.event(now, by, Some(person), AuditKind::MemberLeft)];
        next.end_orphaned_delegations(by, now, &mut events);
        Ok(Transition::new(next, (), events))
    }

    /// Deactivates a member: their next [`authorize`] check is refused, whatever grant they hold,
    /// and the delegations they granted end (reactivation does not restore them). Deactivating a
    /// deactivated member changes nothing.
    pub fn deactivate_member(
        &self,
        actor: &Grant,
        target: PersonId,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        let member = self.target(by, target)?;
        if !member.is_active() {
            return Ok(Transition::new(self.clone(), (), Vec::new()));
        }
        self.check_not_last_owner(member)?;
        let mut next = self.clone();
        next.update(target, |member| member.set_deactivated(Some(now)));
        let by = Actor::Person(actor.person());
        let mut events =
            alloc::vec![self.event(now, by, Some(target), AuditKind::MemberDeactivated)];
        next.end_orphaned_delegations(by, now, &mut events);
        Ok(Transition::new(next, (), events))
    }

    /// Reactivates a deactivated member. Reactivating an active member changes nothing.
    pub fn reactivate_member(
        &self,
        actor: &Grant,
        target: PersonId,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        let member = self.target(by, target)?;
        if member.is_active() {
            return Ok(Transition::new(self.clone(), (), Vec::new()));
        }
        let actor_id = Actor::Person(actor.person());
        let mut events =
            alloc::vec![self.event(now, actor_id, Some(target), AuditKind::MemberReactivated,)];
        let mut next = self.clone();
        next.update(target, |member| member.set_deactivated(None));
        next.ensure_subject(target, actor_id, now, &mut events);
        Ok(Transition::new(next, (), events))
    }

    /// Makes `to` an Owner; the acting Owner keeps the role `actor_becomes` (`Owner` to share
    /// ownership). Needs a fresh AAL2 grant (within [`SENSITIVE_ACTION_MAX_AGE`]), and while the
    /// policy enforces MFA, `to_factors` (the new owner's second factors, from their MFA state)
    /// must satisfy it. If the acting Owner keeps a lower role, the delegations they can no
    /// longer grant end.
    pub fn transfer_ownership(
        &self,
        actor: &Grant,
        to: PersonId,
        to_factors: SecondFactors,
        actor_becomes: Role,
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
        if self.policy.enforces() && !self.policy.satisfied_for(Role::Owner, to_factors) {
            return Err(PolicyError::TargetNeedsMfa);
        }
        let by = Actor::Person(from);
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
        if actor_becomes != Role::Owner {
            events.push(self.event(
                now,
                by,
                Some(from),
                AuditKind::RoleChanged {
                    from: Role::Owner,
                    to: actor_becomes,
                },
            ));
        }
        let mut next = self.clone();
        next.update(to, |member| member.set_role(Role::Owner));
        next.update(from, |member| member.set_role(actor_becomes));
        next.ensure_subject(to, by, now, &mut events);
        next.end_orphaned_delegations(by, now, &mut events);
        next.ownership_offer = None;
        Ok(Transition::new(next, (), events))
    }

    /// Delegates a role to a member until `until` (cover for an absence). The role must be above
    /// the member's own, at most Admin, and at most the actor's own role; an actor who manages
    /// members only through a delegation cannot delegate at all ([`PolicyError::NotPermitted`]:
    /// delegations are not passed on); `until` must be in the future, within [`Delegation::MAX_LENGTH`]. It replaces
    /// any earlier delegation and lapses by itself.
    pub fn delegate(
        &self,
        actor: &Grant,
        to: PersonId,
        role: Role,
        until: u64,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        let member = self.target(by, to)?;
        if !member.is_active() {
            return Err(PolicyError::MemberDeactivated);
        }
        if by.role().scope(Permission::ManageMembers) == crate::policy::roles::Scope::None {
            // Managing members only through a delegation: it is not passed on.
            return Err(PolicyError::NotPermitted);
        }
        if role > by.role() {
            return Err(PolicyError::AboveOwnRole);
        }
        let delegation = Delegation::new(role, until, actor.person(), now);
        let length = until.checked_sub(now);
        if role > Role::MAX_DELEGATED
            || role <= member.role()
            || !matches!(length, Some(1..=Delegation::MAX_LENGTH))
        {
            return Err(PolicyError::InvalidDelegation);
        }
        let mut next = self.clone();
        next.update(to, |member| member.set_delegation(Some(delegation)));
        let event = self.event(
            now,
            Actor::Person(actor.person()),
            Some(to),
            AuditKind::DelegationGranted { role, until },
        );
        Ok(Transition::new(next, (), alloc::vec![event]))
    }

    /// Ends a member's delegation before it lapses.
    pub fn revoke_delegation(
        &self,
        actor: &Grant,
        to: PersonId,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        let by = self.acting_member(actor, Permission::ManageMembers, now)?;
        let member = self.target(by, to)?;
        if member.delegation().is_none() {
            return Err(PolicyError::NoDelegation);
        }
        let mut next = self.clone();
        next.update(to, |member| member.set_delegation(None));
        let event = self.event(
            now,
            Actor::Person(actor.person()),
            Some(to),
            AuditKind::DelegationRevoked,
        );
        Ok(Transition::new(next, (), alloc::vec![event]))
    }

    /// Housekeeping: clears delegations that have lapsed (they already confer nothing) and records
    /// that they did.
    pub fn expire_delegations(&self, now: u64) -> Transition<Self> {
        let mut next = self.clone();
        let mut events = Vec::new();
        for member in &mut next.members {
            if member.delegation().is_some_and(|d| !d.is_current(now)) {
                member.set_delegation(None);
                events.push(AuditEvent::new(
                    now,
                    Actor::System,
                    Some(member.person()),
                    Some(self.id),
                    AuditKind::DelegationLapsed,
                ));
            }
        }
        Transition::new(next, (), events)
    }

    /// Whether `delegation` still stands: its delegator is an active member whose own role may
    /// manage members and is at least the delegated role.
    fn delegator_stands(&self, delegation: &Delegation) -> bool {
        self.member(delegation.granted_by()).is_some_and(|by| {
            by.is_active()
                && by.role().scope(Permission::ManageMembers) != crate::policy::roles::Scope::None
                && by.role() >= delegation.role()
        })
    }

    /// Ends, in this update, every delegation whose delegator no longer stands (demoted,
    /// deactivated, removed or gone), with one [`AuditKind::DelegationEnded`] each.
    fn end_orphaned_delegations(&mut self, by: Actor, now: u64, events: &mut Vec<AuditEvent>) {
        let orphaned: Vec<PersonId> = self
            .members
            .iter()
            .filter(|member| {
                member
                    .delegation()
                    .is_some_and(|delegation| !self.delegator_stands(delegation))
            })
            .map(Member::person)
            .collect();
        for person in orphaned {
            self.update(person, |member| member.set_delegation(None));
            events.push(self.event(now, by, Some(person), AuditKind::DelegationEnded));
        }
    }

    pub(crate) fn members_mut(&mut self) -> impl Iterator<Item = &mut Member> {
        self.members.iter_mut()
    }

    pub(crate) fn set_policy(&mut self, policy: MfaPolicy) {
        self.policy = policy;
    }

    pub(crate) fn event(
        &self,
        at: u64,
        actor: Actor,
        subject: Option<PersonId>,
        what: AuditKind,
    ) -> AuditEvent {
        AuditEvent::new(at, actor, subject, Some(self.id), what)
    }

    pub(crate) fn active_owner_count(&self) -> usize {
        self.owners().count()
    }

    /// The grant holder's membership, if they may exercise `permission` now.
    pub(crate) fn acting_member(
        &self,
        grant: &Grant,
        permission: Permission,
        now: u64,
    ) -> Result<&Member, PolicyError> {
        if grant.org() != self.id {
            return Err(PolicyError::OtherOrganisation);
        }
        let member = self.member(grant.person()).ok_or(PolicyError::NotAMember)?;
        authorize(grant, member, &permission, &Resource::of_org(self.id), now)?;
        Ok(member)
    }

    /// The target of a management action, if the actor may manage them.
    pub(crate) fn target(&self, by: &Member, target: PersonId) -> Result<&Member, PolicyError> {
        if by.person() == target {
            return Err(PolicyError::CannotActOnSelf);
        }
        let member = self.member(target).ok_or(PolicyError::NotAMember)?;
        if member.role() == Role::Owner && by.role() != Role::Owner {
            return Err(PolicyError::OwnersOnly);
        }
        Ok(member)
    }

    /// Refuses to take away the last active Owner.
    fn check_not_last_owner(&self, member: &Member) -> Result<(), PolicyError> {
        let is_active_owner = member.is_active() && member.role() == Role::Owner;
        if is_active_owner && self.active_owner_count() <= 1 {
            Err(PolicyError::LastOwner)
        } else {
            Ok(())
        }
    }

    fn join(
        &self,
        person: PersonId,
        role: Role,
        path: JoinPath,
        by: Actor,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        if self.member(person).is_some() {
            return Err(PolicyError::AlreadyMember);
        }
        let mut events =
            alloc::vec![self.event(now, by, Some(person), AuditKind::MemberAdded { role, path },)];
        let mut next = self.clone();
        next.members
            .push(Member::new(person, self.id, role, path, now));
        next.ensure_subject(person, by, now, &mut events);
        Ok(Transition::new(next, (), events))
    }

    /// Makes a member subject to the enforced policy from `now` if they are not already, and
    /// otherwise brings their deadline earlier if their role's grace period now asks for it
    /// (a promotion); a deadline never moves later.
    fn ensure_subject(
        &mut self,
        person: PersonId,
        by: Actor,
        now: u64,
        events: &mut Vec<AuditEvent>,
    ) {
        if !self.policy.enforces() {
            return;
        }
        let policy = self.policy;
        let id = self.id;
        let Some(member) = self
            .members
            .iter_mut()
            .find(|member| member.person() == person)
        else {
            return;
        };
        let changed = match policy.fresh_deadline(member) {
            None => {
                let grace = policy.grace_for(member.role());
                member.set_mfa_subject(Some((now, now.saturating_add(grace))));
                true
            }
            Some(deadline) => member.tighten_mfa_deadline(deadline),
        };
        if let (true, Some(deadline)) = (changed, member.mfa_deadline()) {
            events.push(AuditEvent::new(
                now,
                by,
                Some(person),
                Some(id),
                AuditKind::SubjectToMfaPolicy { deadline },
            ));
        }
    }

    fn update(&mut self, person: PersonId, change: impl FnOnce(&mut Member)) {
        if let Some(member) = self
            .members
            .iter_mut()
            .find(|member| member.person() == person)
        {
            change(member);
        }
    }

    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    fn check(&self) -> Result<(), &'static str> {
        for (index, member) in self.members.iter().enumerate() {
            member.check()?;
            member.check_mfa_fields()?;
            if member.org() != self.id {
                return Err("a member of another organisation");
            }
            let later = self
                .members
                .get(index.saturating_add(1)..)
                .unwrap_or_default();
            if later.iter().any(|other| other.person() == member.person()) {
                return Err("two memberships for one person");
            }
            if member.mfa_subject_since().is_some() != self.policy.enforces() {
                return Err("MFA subjection does not match the policy");
            }
            if member
                .delegation()
                .is_some_and(|delegation| !self.delegator_stands(delegation))
            {
                return Err("a delegation whose delegator no longer stands");
            }
        }
        if self.active_owner_count() == 0 {
            return Err("no active owner");
        }
        Ok(())
    }
}

/// Whether a role can be granted by someone whose role is `by`: never Owner, never above `by`.
fn check_grantable(role: Role, by: Role) -> Result<(), PolicyError> {
    if role == Role::Owner {
        Err(PolicyError::OwnershipByTransferOnly)
    } else if role > by {
        Err(PolicyError::AboveOwnRole)
    } else {
        Ok(())
    }
}

#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct OrganisationRepr {
    id: OrgId,
    policy: MfaPolicy,
    members: Vec<Member>,
    /// Absent from states written before remembered devices: allowed, the default.
    #[serde(default = "allowed")]
    remember_devices: bool,
    /// Absent from states written before ownership offers: none.
    #[serde(default)]
    ownership_offer: Option<OwnershipOffer>,
}

#[cfg(feature = "serde")]
const fn allowed() -> bool {
    true
}

#[cfg(feature = "serde")]
impl TryFrom<OrganisationRepr> for Organisation {
    type Error = PolicyError;

    fn try_from(repr: OrganisationRepr) -> Result<Self, Self::Error> {
        let mut members = repr.members;
        for member in &mut members {
            // A state written before deadlines were stored: the deadline it had then.
            member.fill_mfa_deadline(repr.policy.grace_for(member.role()));
        }
        let org = Self {
            id: repr.id,
            policy: repr.policy,
            members,
            remember_devices: repr.remember_devices,
            ownership_offer: repr.ownership_offer,
        };
        org.check().map_err(PolicyError::InvalidState)?;
        Ok(org)
    }
}

//! An organisation's transitions of its MFA policy: turning it on, changing it, turning it off,
//! and what it demands of each member (their standing and their deadline).

use alloc::vec::Vec;

use crate::policy::Transition;
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::error::PolicyError;
use crate::policy::factors::SecondFactors;
use crate::policy::ids::PersonId;
use crate::policy::login::Grant;
use crate::policy::org_policy::{MfaPolicy, MfaSettings, OrgStanding};
use crate::policy::organisation::Organisation;
use crate::policy::roles::{Permission, Role, SENSITIVE_ACTION_MAX_AGE};

impl Organisation {
    /// A member's standing, for [`crate::policy::enrollment::Mfa::disable`]; `None` if they are not a member.
    pub fn standing(&self, person: PersonId) -> Option<OrgStanding> {
        let member = self.member(person)?;
        let is_owner = member.is_active() && member.role() == Role::Owner;
        Some(OrgStanding::new(
            person,
            self.id(),
            member.role(),
            self.policy().enforces(),
            is_owner && self.active_owner_count() == 1,
        ))
    }

    /// A member's deadline for enrolling in MFA, while the policy enforces it.
    pub fn mfa_deadline(&self, person: PersonId) -> Option<u64> {
        self.policy().deadline_for(self.member(person)?)
    }

    /// Turns the MFA policy on, or changes it.
    ///
    /// The actor must be an active owner holding a fresh (within [`SENSITIVE_ACTION_MAX_AGE`])
    /// AAL2 grant, and must themselves have MFA of a kind the new settings count
    /// (`actor_factors`, from their own MFA state): the owner sets up their own MFA first.
    ///
    /// When enforcement starts, every member becomes subject at `now`, with a deadline `now +
    /// grace`. While it stays enforced, changing the grace period recomputes every deadline from
    /// the moment each member became subject. When enforcement stops, nobody is subject.
    pub fn set_mfa_policy(
        &self,
        actor: &Grant,
        actor_factors: SecondFactors,
        settings: MfaSettings,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        self.acting_member(actor, Permission::ManageSecurityPolicy, now)?;
        if !actor.is_fresh(now, SENSITIVE_ACTION_MAX_AGE) {
            return Err(PolicyError::ReauthenticationRequired);
        }
        let policy = MfaPolicy::On(settings);
        if !policy.satisfied_by(actor_factors) {
            return Err(PolicyError::OwnerNeedsMfa);
        }
        let by = Actor::Person(actor.person());
        let mut events = Vec::new();
        events.push(self.event(
            now,
            by,
            None,
            AuditKind::MfaPolicySet {
                enforced: settings.enforce(),
                grace_period: settings.grace_period(),
            },
        ));
        let was_enforced = self.policy().enforces();
        let mut next = self.clone();
        next.set_policy(policy);
        for member in next.members_mut() {
            let since = match (was_enforced, settings.enforce()) {
                (_, false) => None,
                (false, true) => Some(now),
                // Already subject: keep the moment; a missing one (impossible) starts now.
                (true, true) => Some(member.mfa_subject_since().unwrap_or(now)),
            };
            member.set_mfa_subject_since(since);
        }
        let grace_changed = self.policy().grace_period() != settings.grace_period();
        if settings.enforce() && (!was_enforced || grace_changed) {
            for member in next.members() {
                if let Some(deadline) = policy.deadline_for(member) {
                    events.push(next.event(
                        now,
                        by,
                        Some(member.person()),
                        AuditKind::SubjectToMfaPolicy { deadline },
                    ));
                }
            }
        }
        Ok(Transition::new(next, (), events))
    }

    /// Turns the MFA policy off. Same authority as [`Self::set_mfa_policy`].
    pub fn turn_off_mfa_policy(
        &self,
        actor: &Grant,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        self.acting_member(actor, Permission::ManageSecurityPolicy, now)?;
        if !actor.is_fresh(now, SENSITIVE_ACTION_MAX_AGE) {
            return Err(PolicyError::ReauthenticationRequired);
        }
        let mut next = self.clone();
        next.set_policy(MfaPolicy::Off);
        for member in next.members_mut() {
            member.set_mfa_subject_since(None);
        }
        let event = self.event(
            now,
            Actor::Person(actor.person()),
            None,
            AuditKind::MfaPolicyOff,
        );
        Ok(Transition::new(next, (), alloc::vec![event]))
    }
}

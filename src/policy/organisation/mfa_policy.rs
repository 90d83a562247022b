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
    /// When enforcement starts, every member becomes subject at `now`, with a deadline `now +`
    /// their role's grace period ([`MfaSettings::grace_for`]). While it stays enforced, every
    /// deadline is recomputed from the moment each member became subject and moves only if the
    /// new one is earlier: tightening takes effect at once, loosening never extends a deadline.
    /// Each deadline set or moved is reported ([`AuditKind::SubjectToMfaPolicy`]). When
    /// enforcement stops, nobody is subject (and nobody has a deadline).
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
        if !policy.satisfied_for(Role::Owner, actor_factors) {
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
                factors: settings.factors(),
                phishing_resistance_from: settings.phishing_resistance_from(),
            },
        ));
        let was_enforced = self.policy().enforces();
        let mut next = self.clone();
        next.set_policy(policy);
        let mut moved = Vec::new();
        for member in next.members_mut() {
            match (was_enforced, settings.enforce()) {
                (_, false) => member.set_mfa_subject(None),
                (false, true) => {
                    member.set_mfa_subject(Some((
                        now,
                        now.saturating_add(policy.grace_for(member.role())),
                    )));
                    moved.push(member.person());
                }
                // Already subject: keep the moment, and the deadline unless the new settings
                // bring it earlier. A missing moment (impossible) starts now.
                (true, true) => {
                    let Some(deadline) = policy.fresh_deadline(member) else {
                        member.set_mfa_subject(Some((
                            now,
                            now.saturating_add(policy.grace_for(member.role())),
                        )));
                        moved.push(member.person());
                        continue;
                    };
                    if member.tighten_mfa_deadline(deadline) {
                        moved.push(member.person());
                    }
                }
            }
        }
        for person in moved {
            if let Some(deadline) = next.mfa_deadline(person) {
                events.push(next.event(
                    now,
                    by,
                    Some(person),
                    AuditKind::SubjectToMfaPolicy { deadline },
                ));
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
            member.set_mfa_subject(None);
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

impl Organisation {
    /// Records the MFA reminders due at `now` ([`MfaPolicy::reminder_due`]) for the members
    /// `person_needs` says still need MFA, and returns them as `(person, deadline)`. The host
    /// sends a reminder only once this state is stored: a second run, or a second server
    /// racing from the same state, finds it recorded and sends nothing.
    pub fn record_mfa_reminders(
        &self,
        mut person_needs: impl FnMut(PersonId) -> bool,
        now: u64,
    ) -> Transition<Self, Vec<(PersonId, u64)>> {
        let policy = *self.policy();
        let mut next = self.clone();
        let mut due = Vec::new();
        let mut events = Vec::new();
        for member in next.members_mut() {
            let (Some(lead), Some(deadline)) =
                (policy.reminder_due(member, now), member.mfa_deadline())
            else {
                continue;
            };
            if !person_needs(member.person()) {
                continue;
            }
            member.set_mfa_reminded(Some(lead));
            due.push((member.person(), deadline));
            events.push(crate::policy::audit::AuditEvent::new(
                now,
                Actor::System,
                Some(member.person()),
                Some(self.id()),
                AuditKind::MfaReminderSent { deadline, lead },
            ));
        }
        Transition::new(next, due, events)
    }
}

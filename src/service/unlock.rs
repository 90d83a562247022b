//! An administrator's unlock: clears a member's throttle counters, lock included.

use super::{Authenticator, ServiceError};
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::error::PolicyError;
use crate::policy::ids::PersonId;
use crate::policy::login::Grant;
use crate::policy::roles::{Permission, Resource, Role};
use crate::service::backend::Backend;
use crate::store::records::ThrottleOp;
use crate::store::{SecurityNotice, UserStore};

impl<B: Backend> Authenticator<B> {
    /// Unlocks a member: clears every throttle counter of `target` — the password counter of
    /// their login and their second factors' counters — lock and back-off included, so their
    /// next attempt is verified at once. For a person an attacker keeps locked out, or who
    /// cannot wait for the lock to lapse.
    ///
    /// The grant must be allowed to manage the members of its organisation
    /// ([`Permission::ManageMembers`]: an Admin or Owner, at AAL2, checked by
    /// [`Self::authorize`] against the current roster), `target` must be a member of that
    /// organisation, only an Owner unlocks an Owner, and nobody unlocks themselves
    /// ([`PolicyError::CannotActOnSelf`]). The act is audited ([`AuditKind::MemberUnlocked`],
    /// whether or not anything was locked) and the member is notified
    /// ([`SecurityNotice::Unlocked`]).
    pub async fn unlock_member(&self, grant: &Grant, target: PersonId) -> Result<(), ServiceError> {
        let now = self.now();
        self.authorize(
            grant,
            &Permission::ManageMembers,
            &Resource::of_org(grant.org()),
        )
        .await?;
        if grant.person() == target {
            return Err(ServiceError::Policy(PolicyError::CannotActOnSelf));
        }
        let org = self
            .backend
            .store()
            .organisation(grant.org())
            .await
            .map_err(ServiceError::storage)?
            .ok_or(ServiceError::Policy(PolicyError::NotAMember))?;
        let by = org
            .value
            .member(grant.person())
            .ok_or(ServiceError::Policy(PolicyError::NotAMember))?;
        let member = org
            .value
            .member(target)
            .ok_or(ServiceError::Policy(PolicyError::NotAMember))?;
        if member.role() == Role::Owner && by.role() != Role::Owner {
            return Err(ServiceError::Policy(PolicyError::OwnersOnly));
        }
        let person = self.person(target).await?;
        let was_locked = self
            .clear_throttles(&person, ThrottleOp::Reset, now)
            .await?;
        self.record_one(
            now,
            Actor::Person(grant.person()),
            Some(target),
            Some(grant.org()),
            AuditKind::MemberUnlocked { was_locked },
        )
        .await?;
        self.notice(target, SecurityNotice::Unlocked).await
    }
}

//! A member leaves an organisation: removed by an administrator, or by their own choice.

use super::{Authenticator, ServiceError};
use crate::policy::audit::Actor;
use crate::policy::ids::PersonId;
use crate::policy::login::Grant;
use crate::service::account::Live;
use crate::service::backend::Backend;
use crate::store::SecurityNotice;

impl<B: Backend> Authenticator<B> {
    /// Removes `target` from the grant holder's organisation, an activated member or one who
    /// never chose their password (after a failed setup-link delivery, say). The rules are
    /// [`Organisation::remove_member`](crate::policy::Organisation::remove_member)'s: an Admin
    /// or Owner with an AAL2 grant, never oneself (see [`Self::leave_organisation`]), an Owner
    /// only by an Owner, and never the last active Owner; the delegations the member granted
    /// end.
    ///
    /// Every session and remembered device of the member ends — in their other organisations
    /// too: sessions are ended by moving the person's security epoch on, which is what makes a
    /// session of theirs in this organisation unable to come back should they ever rejoin it.
    /// Their setup links stop working (a link stands only for an active member of the
    /// organisation that sent it). The person record stays, with its login, for the other
    /// organisations they belong to. Audited ([`AuditKind::MemberRemoved`]) and notified to the
    /// member ([`SecurityNotice::RemovedFromOrganisation`]).
    ///
    /// [`AuditKind::MemberRemoved`]: crate::policy::AuditKind::MemberRemoved
    pub async fn remove_member(&self, grant: &Grant, target: PersonId) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let org = grant.org();
        self.update_org(org, |o| o.remove_member(&grant, target, now))
            .await?;
        self.end_sessions_by(Actor::Person(grant.person()), target, Some(org), None)
            .await?;
        self.notice(target, SecurityNotice::RemovedFromOrganisation { org })
            .await
    }

    /// The grant holder leaves its organisation; the last active Owner cannot
    /// ([`PolicyError::LastOwner`](crate::policy::PolicyError::LastOwner)). The delegations
    /// they granted end. Every session and remembered device of theirs ends, this one included
    /// (their security epoch moves on, as for [`Self::remove_member`]). Audited
    /// ([`AuditKind::MemberLeft`](crate::policy::AuditKind::MemberLeft)) and notified
    /// ([`SecurityNotice::LeftOrganisation`]).
    pub async fn leave_organisation(&self, grant: &Grant) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let (org, person) = (grant.org(), grant.person());
        self.update_org(org, |o| o.leave(&grant, now)).await?;
        self.end_sessions_by(Actor::Person(person), person, Some(org), None)
            .await?;
        self.notice(person, SecurityNotice::LeftOrganisation { org })
            .await
    }
}

//! [`InvitationStore`]: invitations to join an organisation, kept behind a hashed token, and
//! the list of organisations the maintenance verbs walk.

use alloc::vec::Vec;
use core::future::Future;

use crate::credential::token::TokenDigest;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::organisation::Invitation;

/// A stored invitation: the digest of its token (never the token), the person invited, and the
/// invitation the pure core issued ([`crate::policy::organisation::Organisation::invite`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvitationRecord {
    /// The digest of the invitation token.
    pub digest: TokenDigest,
    /// The person invited (an existing person: nobody is created by an invitation).
    pub person: PersonId,
    /// The invitation: organisation, role, inviter and expiry.
    pub invitation: Invitation,
}

/// Invitations, single-use and expiring, and the organisations' ids.
///
/// Stores that write to disk authenticate the invitation rows with a host key, so that a row
/// forged in the database (a role raised, another person) is an error rather than a
/// membership.
pub trait InvitationStore: Send + Sync {
    /// The store's error type for faults.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Stores an invitation (its digest).
    fn insert_invitation(
        &self,
        invitation: &InvitationRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The invitation with this digest, if it is for `person` and has not expired at `now`,
    /// left in place (to decide on before [`Self::take_invitation`] spends it).
    fn invitation(
        &self,
        digest: &TokenDigest,
        person: PersonId,
        now: u64,
    ) -> impl Future<Output = Result<Option<Invitation>, Self::Error>> + Send;

    /// **Atomic.** Removes and returns the invitation with this digest if it is for `person`
    /// and has not expired at `now`; of many concurrent calls, at most one gets it. An
    /// invitation for someone else is neither returned nor touched.
    fn take_invitation(
        &self,
        digest: &TokenDigest,
        person: PersonId,
        now: u64,
    ) -> impl Future<Output = Result<Option<InvitationRecord>, Self::Error>> + Send;

    /// Maintenance: deletes the invitations expired at `now` and returns how many went.
    fn prune_invitations(&self, now: u64) -> impl Future<Output = Result<u64, Self::Error>> + Send;

    /// Every organisation's id, in no particular order (for the maintenance verbs, such as
    /// [`Authenticator::send_mfa_reminders`](crate::service::Authenticator::send_mfa_reminders)).
    fn organisation_ids(&self) -> impl Future<Output = Result<Vec<OrgId>, Self::Error>> + Send;
}

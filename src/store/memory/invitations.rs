//! [`InvitationStore`] in memory: one lock per verb, like the rest of the store.

use alloc::vec::Vec;

use crate::credential::token::TokenDigest;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::organisation::Invitation;
use crate::store::invitations::{InvitationRecord, InvitationStore};
use crate::store::memory::{MemoryStore, MemoryStoreError};

impl InvitationStore for MemoryStore {
    type Error = MemoryStoreError;

    async fn insert_invitation(
        &self,
        invitation: &InvitationRecord,
    ) -> Result<(), MemoryStoreError> {
        self.secrets()?
            .invitations
            .insert(invitation.digest, *invitation);
        Ok(())
    }

    async fn invitation(
        &self,
        digest: &TokenDigest,
        person: PersonId,
        now: u64,
    ) -> Result<Option<Invitation>, MemoryStoreError> {
        Ok(self
            .secrets()?
            .invitations
            .get(digest)
            .filter(|i| i.person == person && i.invitation.expires_at() > now)
            .map(|i| i.invitation))
    }

    async fn take_invitation(
        &self,
        digest: &TokenDigest,
        person: PersonId,
        now: u64,
    ) -> Result<Option<InvitationRecord>, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        let usable = secrets
            .invitations
            .get(digest)
            .is_some_and(|i| i.person == person && i.invitation.expires_at() > now);
        Ok(if usable {
            secrets.invitations.remove(digest)
        } else {
            None
        })
    }

    async fn prune_invitations(&self, now: u64) -> Result<u64, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        let before = secrets.invitations.len();
        secrets
            .invitations
            .retain(|_, i| i.invitation.expires_at() > now);
        Ok(u64::try_from(before.saturating_sub(secrets.invitations.len())).unwrap_or(u64::MAX))
    }

    async fn organisation_ids(&self) -> Result<Vec<OrgId>, MemoryStoreError> {
        Ok(self.users()?.organisations.keys().copied().collect())
    }
}

//! [`PasskeyStore`] for [`MemoryStore`]: each verb holds the passkeys' lock for its whole
//! read-decide-write (after the users' lock where it checks the person), so every verb is atomic.

use alloc::vec::Vec;
use std::collections::HashMap;

use super::{MemoryStore, MemoryStoreError};
use crate::credential::passkey::UserHandle;
use crate::credential::token::TokenDigest;
use crate::policy::ids::{PersonId, SessionId};
use crate::store::login::LoginSnapshot;
use crate::store::passkeys::{
    PasskeyChallengeRecord, PasskeyPurpose, PasskeyRecord, PasskeyStore, PasskeyUseWrite,
};

/// The passkey tables.
#[derive(Default)]
pub(super) struct Passkeys {
    handles: HashMap<PersonId, UserHandle>,
    challenges: HashMap<(PersonId, PasskeyPurpose, Option<TokenDigest>), PasskeyChallengeRecord>,
    /// Every credential, in registration order.
    credentials: Vec<PasskeyRecord>,
}

impl MemoryStore {
    /// Sets [`LoginSnapshot::has_passkey`] for the snapshot's person. Called with the users' and
    /// secrets' locks held: the passkeys' lock is always taken last.
    pub(super) fn mark_passkeys(
        &self,
        snapshot: &mut LoginSnapshot,
    ) -> Result<(), MemoryStoreError> {
        if let Some(person) = &snapshot.person {
            let id = person.id;
            snapshot.has_passkey = self
                .passkey_tables()?
                .credentials
                .iter()
                .any(|c| c.person == id);
        }
        Ok(())
    }

    /// Deletes the expired ceremony states; how many went.
    pub(super) fn prune_passkey_ceremonies(&self, now: u64) -> Result<u64, MemoryStoreError> {
        let mut tables = self.passkey_tables()?;
        let before = tables.challenges.len();
        tables.challenges.retain(|_, c| c.expires_at > now);
        Ok(u64::try_from(before.saturating_sub(tables.challenges.len())).unwrap_or(u64::MAX))
    }

    /// Deletes the person's credential `credential_id`; whether it was there. Called with the
    /// users' lock held: the passkeys' lock is always taken last.
    pub(super) fn take_passkey(
        &self,
        person: PersonId,
        credential_id: &[u8],
    ) -> Result<bool, MemoryStoreError> {
        let mut tables = self.passkey_tables()?;
        let before = tables.credentials.len();
        tables
            .credentials
            .retain(|c| c.person != person || c.credential_id != credential_id);
        Ok(tables.credentials.len() < before)
    }

    fn passkey_tables(&self) -> Result<std::sync::MutexGuard<'_, Passkeys>, MemoryStoreError> {
        Ok(self.passkeys.lock()?)
    }
}

impl PasskeyStore for MemoryStore {
    type Error = MemoryStoreError;

    async fn ensure_user_handle(
        &self,
        person: PersonId,
        candidate: UserHandle,
    ) -> Result<Option<UserHandle>, MemoryStoreError> {
        let users = self.users()?;
        if !users.people.contains_key(&person) {
            return Ok(None);
        }
        let mut tables = self.passkey_tables()?;
        drop(users);
        Ok(Some(*tables.handles.entry(person).or_insert(candidate)))
    }

    async fn put_passkey_challenge(
        &self,
        record: &PasskeyChallengeRecord,
    ) -> Result<(), MemoryStoreError> {
        self.passkey_tables()?.challenges.insert(
            (record.person, record.purpose, record.ticket),
            record.clone(),
        );
        Ok(())
    }

    async fn take_passkey_challenge(
        &self,
        person: PersonId,
        purpose: PasskeyPurpose,
        ticket: Option<&TokenDigest>,
        now: u64,
    ) -> Result<Option<PasskeyChallengeRecord>, MemoryStoreError> {
        let taken = self
            .passkey_tables()?
            .challenges
            .remove(&(person, purpose, ticket.copied()));
        Ok(taken.filter(|c| c.expires_at > now))
    }

    async fn insert_passkey(
        &self,
        record: &PasskeyRecord,
        epoch: u64,
        keep: Option<SessionId>,
    ) -> Result<Option<u64>, MemoryStoreError> {
        // The users' lock is held throughout: an epoch bump waits, or is seen here, and the
        // bump below lands with the credential.
        let mut users = self.users()?;
        if users.epoch(record.person) != Some(epoch) {
            return Ok(None);
        }
        let mut tables = self.passkey_tables()?;
        if tables
            .credentials
            .iter()
            .any(|c| c.credential_id == record.credential_id)
        {
            return Ok(None);
        }
        tables.credentials.push(record.clone());
        Ok(users.bump(record.person, keep))
    }

    async fn passkey_by_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, MemoryStoreError> {
        Ok(self
            .passkey_tables()?
            .credentials
            .iter()
            .find(|c| c.credential_id == credential_id)
            .cloned())
    }

    async fn passkeys(&self, person: PersonId) -> Result<Vec<PasskeyRecord>, MemoryStoreError> {
        Ok(self
            .passkey_tables()?
            .credentials
            .iter()
            .filter(|c| c.person == person)
            .cloned()
            .collect())
    }

    async fn record_passkey_use(
        &self,
        person: PersonId,
        credential_id: &[u8],
        write: &PasskeyUseWrite,
    ) -> Result<bool, MemoryStoreError> {
        let mut tables = self.passkey_tables()?;
        let Some(stored) = tables.credentials.iter_mut().find(|c| {
            c.person == person
                && c.credential_id == credential_id
                && c.counter == write.expected_counter
        }) else {
            return Ok(false);
        };
        stored.counter = write.counter;
        stored.key = write.key.clone();
        stored.backup_state = write.backup_state;
        stored.backup_eligible |= write.backup_eligible;
        stored.last_used_at = Some(write.used_at);
        Ok(true)
    }

    async fn remove_passkeys(&self, person: PersonId) -> Result<u64, MemoryStoreError> {
        let mut tables = self.passkey_tables()?;
        let before = tables.credentials.len();
        tables.credentials.retain(|c| c.person != person);
        tables.challenges.retain(|(p, _, _), _| *p != person);
        Ok(u64::try_from(before.saturating_sub(tables.credentials.len())).unwrap_or(u64::MAX))
    }

    async fn prune_passkey_challenges(&self, now: u64) -> Result<u64, MemoryStoreError> {
        self.prune_passkey_ceremonies(now)
    }
}

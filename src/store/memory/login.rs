//! [`LoginStore`] for [`MemoryStore`]: every verb holds the users' and then the secrets' lock
//! (always in that order) for its whole read-decide-write, so the person's lock of the SQL
//! stores is the whole store here.

use super::{
    MemoryStore, MemoryStoreError, OobPurpose, RecoverySlot, Secrets, Users, replace_mfa_in,
    replace_recovery_in,
};
use crate::credential::factor::ThrottledFactor;
use crate::credential::throttle::ThrottleState;
use crate::policy::ids::{OrgId, PersonId, SessionId};
use crate::store::login::{
    FactorRemoval, LoginCounters, LoginSnapshot, LoginStore, SnapshotAt, StepWrite,
};
use crate::store::records::ThrottleKey;
use crate::store::records::Versioned;

fn snapshot(
    users: &Users,
    secrets: &Secrets,
    at: SnapshotAt<'_>,
    org: Option<OrgId>,
    now: u64,
) -> Result<LoginSnapshot, MemoryStoreError> {
    let mut snapshot = LoginSnapshot::default();
    let person = match at {
        SnapshotAt::Ticket(digest) => {
            let Some(ticket) = secrets
                .tickets
                .get(digest)
                .filter(|ticket| ticket.expires_at > now)
            else {
                return Ok(snapshot);
            };
            snapshot.ticket = Some(*ticket);
            users.people.get(&ticket.progress.person())
        }
        SnapshotAt::Login(login) => {
            snapshot.counters.login = users.throttles.get(&ThrottleKey::login(login)).copied();
            users.logins.get(login).and_then(|id| users.people.get(id))
        }
        SnapshotAt::Person(id) => users.people.get(&id),
    };
    snapshot.organisation =
        org.and_then(|org| users.organisations.get(&org))
            .map(|(organisation, version)| Versioned {
                value: organisation.clone(),
                version: *version,
            });
    let Some(person) = person else {
        return Ok(snapshot);
    };
    let id = person.id;
    let counter = |factor| {
        users
            .throttles
            .get(&ThrottleKey::factor(id, factor))
            .copied()
    };
    let login = match at {
        SnapshotAt::Person(_) => None,
        _ => users
            .throttles
            .get(&ThrottleKey::login(&person.login))
            .copied(),
    };
    snapshot.counters = LoginCounters {
        login,
        totp: counter(ThrottledFactor::Totp),
        recovery_code: counter(ThrottledFactor::RecoveryCode),
        out_of_band: counter(ThrottledFactor::OutOfBand),
        #[cfg(feature = "passkeys")]
        passkey: counter(ThrottledFactor::Passkey),
    };
    snapshot.person = Some(person.clone());
    snapshot.epoch = users.epoch(id);
    if let Some(stored) = secrets.mfa.get(&id) {
        let mut value = stored.mfa.duplicate_secret_state()?;
        for (authenticator, step) in &stored.watermarks {
            let _ = value.restore_watermark(*authenticator, *step);
        }
        snapshot.mfa = Some(Versioned {
            value,
            version: stored.version,
        });
    }
    snapshot.sign_in_challenge = secrets.oob.get(&(id, OobPurpose::SignIn)).cloned();
    if let Some(stored) = secrets.recovery.get(&(id, RecoverySlot::Active)) {
        let mut set = stored.set.clone();
        set.merge_spent_mask(stored.spent)?;
        snapshot.recovery = Some(set);
    }
    Ok(snapshot)
}

/// Whether every guard of `write` holds.
fn guards_hold(users: &Users, secrets: &Secrets, write: &StepWrite) -> bool {
    let counters = write
        .counters
        .iter()
        .filter(|c| !c.is_noop())
        .all(|c| users.throttles.get(&c.key).copied() == c.expected);
    let watermark = write.watermark.is_none_or(|(person, authenticator, step)| {
        secrets
            .mfa
            .get(&person)
            .and_then(|stored| stored.watermarks.get(&authenticator))
            .is_some_and(|current| *current < step)
    });
    let recovery = write.recovery_spend.is_none_or(|(person, set_id, index)| {
        secrets
            .recovery
            .get(&(person, RecoverySlot::Active))
            .is_some_and(|stored| {
                let bit = 1u16.checked_shl(u32::from(index)).unwrap_or(0);
                stored.set.set_id() == set_id
                    && index < stored.set.len()
                    && bit != 0
                    && (stored.spent | stored.set.spent_mask()) & bit == 0
            })
    });
    let ticket = write
        .spend_ticket
        .is_none_or(|digest| secrets.tickets.contains_key(&digest));
    let oob = write.oob.as_ref().is_none_or(|oob| {
        secrets
            .oob
            .get(&(oob.person, oob.purpose))
            .is_some_and(|current| current.challenge == oob.expected)
    });
    let mfa = write.mfa.as_ref().is_none_or(|m| {
        secrets.mfa.get(&m.person).map(|stored| stored.version) == m.expected_version
    });
    counters && watermark && recovery && ticket && oob && mfa
}

/// Applies `write` if every guard holds; whether it did.
fn apply(
    users: &mut Users,
    secrets: &mut Secrets,
    write: &StepWrite,
) -> Result<bool, MemoryStoreError> {
    if !guards_hold(users, secrets, write) {
        return Ok(false);
    }
    // The fallible writes first, so that a failure leaves everything as it was.
    if let Some(m) = &write.mfa
        && !replace_mfa_in(secrets, m.person, &m.mfa, m.expected_version)?
    {
        return Ok(false);
    }
    if let Some((person, slot, set)) = &write.recovery_set {
        replace_recovery_in(secrets, *person, *slot, Some(set))?;
    }
    if let Some(oob) = &write.oob {
        let key = (oob.person, oob.purpose);
        match &oob.new {
            Some(record) => {
                secrets.oob.insert(key, record.clone());
            }
            None => {
                secrets.oob.remove(&key);
            }
        }
    }
    for counter in write.counters.iter().filter(|c| !c.is_noop()) {
        if counter.new == ThrottleState::new() {
            users.throttles.remove(&counter.key);
        } else {
            users.throttles.insert(counter.key.clone(), counter.new);
        }
    }
    if let Some((person, authenticator, step)) = write.watermark
        && let Some(current) = secrets
            .mfa
            .get_mut(&person)
            .and_then(|stored| stored.watermarks.get_mut(&authenticator))
    {
        *current = step;
    }
    if let Some((person, _, index)) = write.recovery_spend
        && let Some(stored) = secrets.recovery.get_mut(&(person, RecoverySlot::Active))
    {
        stored.spent |= 1u16.checked_shl(u32::from(index)).unwrap_or(0);
    }
    if let Some(digest) = write.spend_ticket {
        secrets.tickets.remove(&digest);
    }
    if let Some(next) = &write.next_ticket {
        secrets.tickets.insert(next.record.digest, next.record);
    }
    Ok(true)
}

impl LoginStore for MemoryStore {
    async fn login_snapshot(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<LoginSnapshot, MemoryStoreError> {
        let users = self.users()?;
        let secrets = self.secrets()?;
        #[cfg_attr(not(feature = "passkeys"), allow(unused_mut))]
        let mut read = snapshot(&users, &secrets, at, org, now)?;
        #[cfg(feature = "passkeys")]
        self.mark_passkeys(&mut read)?;
        Ok(read)
    }

    async fn apply_step(&self, write: &StepWrite) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        let mut secrets = self.secrets()?;
        apply(&mut users, &mut secrets, write)
    }

    async fn locked_step<T, F>(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
        mut decide: F,
    ) -> Result<T, MemoryStoreError>
    where
        F: FnMut(&LoginSnapshot) -> (StepWrite, T) + Send,
        T: Send,
    {
        // Both locks are held from the read to the write: the guards hold by construction.
        let mut users = self.users()?;
        let mut secrets = self.secrets()?;
        #[cfg_attr(not(feature = "passkeys"), allow(unused_mut))]
        let mut read = snapshot(&users, &secrets, at, org, now)?;
        #[cfg(feature = "passkeys")]
        self.mark_passkeys(&mut read)?;
        let (write, value) = decide(&read);
        if !apply(&mut users, &mut secrets, &write)? {
            return Err(MemoryStoreError::GuardFailed);
        }
        Ok(value)
    }

    async fn remove_factor(
        &self,
        person: PersonId,
        factor: &FactorRemoval,
        expected_epoch: u64,
        keep: Option<SessionId>,
    ) -> Result<Option<u64>, MemoryStoreError> {
        // The users' lock is held from the epoch check to the bump: a concurrent removal (or
        // any bump) waits, and then finds the epoch moved.
        let mut users = self.users()?;
        if users.epoch(person) != Some(expected_epoch) {
            return Ok(None);
        }
        match factor {
            FactorRemoval::Phone => {
                let Some(record) = users.people.get_mut(&person) else {
                    return Ok(None);
                };
                if record.phone.take().is_none() {
                    return Ok(None);
                }
            }
            #[cfg(feature = "passkeys")]
            FactorRemoval::Passkey { credential_id } => {
                if !self.take_passkey(person, credential_id)? {
                    return Ok(None);
                }
            }
        }
        Ok(users.bump(person, keep))
    }
}

//! The in-memory store: [`MemoryStore`] (a [`UserStore`], a [`SecretStore`] and a
//! [`SessionStore`]),
//! [`MemoryAuditLog`] and [`RecordingNotifier`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

use super::{
    AccountTokenPurpose, AccountTokenRecord, AuditSink, CreateOutcome, LoginChange, Notification,
    Notifier, OobChallengeRecord, OobPurpose, OrganisationWrite, PersonRecord, PruneReport,
    RecoverySlot, SecretStore, SecurityNotice, SetupTokenRecord, ThrottleKey, ThrottleOp,
    TicketRecord, TokenDigest, UserStore, Versioned,
};
use crate::credential::oob::{OobChallenge, OobConfig, OobSendLog, SendDecision};
use crate::credential::phone::PhoneNumber;
use crate::credential::recovery::RecoveryCodeSet;
use crate::credential::recovery::RecoveryError;
use crate::credential::throttle::{
    ThrottlePolicy, ThrottleReservation, ThrottleState, ThrottleUpdate,
};
use crate::error::Error;
use crate::policy::audit::AuditEvent;
use crate::policy::enrollment::Mfa;
use crate::policy::enrollment::MfaError;
use crate::policy::ids::SessionId;
use crate::policy::ids::{AuthenticatorId, OrgId, PersonId};
use crate::policy::login::PasswordState;
use crate::policy::org_policy::MfaPolicy;
use crate::policy::organisation::Organisation;
use crate::policy::session::{
    DeviceTokenRecord, DeviceTokenView, ListedSession, SessionLabels, SessionRecord, SessionTouch,
    SessionView,
};
use crate::store::records::Login;
use crate::store::sessions::{SessionPruneReport, SessionStore};

mod invitations;
mod login;
#[cfg(feature = "passkeys")]
mod passkeys;

/// A fault of the in-memory store, audit log or notifier.
#[derive(Debug)]
#[non_exhaustive]
pub enum MemoryStoreError {
    /// A thread panicked while holding the store's lock; the data may be half-updated, so the
    /// store refuses to serve it.
    Poisoned,
    /// A stored state could not be copied out or rebuilt (for example a recovery-code spent
    /// mask that does not fit its set).
    State(Error),
    /// [`UserStore::create_person`] was given a person id that is already used by another person.
    PersonIdTaken(PersonId),
    /// [`RecordingNotifier::fail_deliveries`] is switched on.
    DeliveryFailed,
    /// A [`LoginStore::locked_step`](crate::store::login::LoginStore::locked_step) decision
    /// returned writes that do not match the state it was given.
    GuardFailed,
}

impl fmt::Display for MemoryStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Poisoned => f.write_str("the in-memory store's lock is poisoned"),
            Self::State(_) => f.write_str("a stored state could not be copied or rebuilt"),
            Self::PersonIdTaken(id) => {
                write!(
                    f,
                    "person id {} is already used by another person",
                    id.get()
                )
            }
            Self::DeliveryFailed => f.write_str("the recording notifier was told to fail"),
            Self::GuardFailed => {
                f.write_str("a locked login step's writes do not match the state it read")
            }
        }
    }
}

impl std::error::Error for MemoryStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::State(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for MemoryStoreError {
    fn from(e: Error) -> Self {
        Self::State(e)
    }
}

impl From<MfaError> for MemoryStoreError {
    fn from(e: MfaError) -> Self {
        Self::State(e.into())
    }
}

impl From<RecoveryError> for MemoryStoreError {
    fn from(e: RecoveryError) -> Self {
        Self::State(e.into())
    }
}

impl<T> From<PoisonError<T>> for MemoryStoreError {
    fn from(_: PoisonError<T>) -> Self {
        Self::Poisoned
    }
}

/// People, logins, organisations and throttle counters.
#[derive(Default)]
struct Users {
    people: HashMap<PersonId, PersonRecord>,
    logins: HashMap<Login, PersonId>,
    organisations: HashMap<OrgId, (Organisation, u64)>,
    throttles: HashMap<ThrottleKey, ThrottleState>,
    /// Security epochs that moved from 0 (kept beside the people, under the same lock, so a
    /// bump and a session create never interleave).
    epochs: HashMap<PersonId, u64>,
    sessions: HashMap<TokenDigest, StoredSession>,
    device_tokens: HashMap<TokenDigest, DeviceTokenRecord>,
}

/// A session and its labels.
struct StoredSession {
    record: SessionRecord,
    labels: SessionLabels,
}

impl Users {
    /// The person's epoch, if they exist.
    fn epoch(&self, person: PersonId) -> Option<u64> {
        self.people
            .contains_key(&person)
            .then(|| self.epochs.get(&person).copied().unwrap_or(0))
    }

    /// Moves the person's epoch on, ending every session but `keep` (carried over) and every
    /// device token of theirs; the new epoch, `None` if the person does not exist.
    fn bump(&mut self, person: PersonId, keep: Option<SessionId>) -> Option<u64> {
        let epoch = self.epoch(person)?.saturating_add(1);
        self.epochs.insert(person, epoch);
        self.sessions
            .retain(|_, stored| stored.record.person != person || Some(stored.record.id) == keep);
        for kept in self.sessions.values_mut() {
            if kept.record.person == person {
                kept.record.epoch = epoch;
            }
        }
        self.device_tokens.retain(|_, token| token.person != person);
        Some(epoch)
    }

    /// The per-request view of a stored session; `None` if its person is gone.
    fn view_of(&self, stored: &StoredSession) -> Option<SessionView> {
        let session = stored.record;
        let person = self.people.get(&session.person)?;
        let organisation = self.organisations.get(&session.org).map(|(o, _)| o);
        Some(SessionView {
            session,
            epoch: self.epochs.get(&session.person).copied().unwrap_or(0),
            deactivated: person.deactivated,
            member: organisation.and_then(|o| o.member(session.person).copied()),
            policy: organisation.map_or(MfaPolicy::Off, |o| *o.policy()),
        })
    }
}

/// A person's MFA state, its version, and the replay watermarks kept beside it.
struct StoredMfa {
    mfa: Mfa,
    version: u64,
    /// The effective watermark of every authenticator in `mfa` (never lower than the blob's).
    watermarks: HashMap<AuthenticatorId, u64>,
}

/// A recovery-code set and the slots spent through [`SecretStore::spend_recovery_code`].
struct StoredSet {
    set: RecoveryCodeSet,
    spent: u16,
}

/// Secrets, challenges and single-use tokens.
#[derive(Default)]
struct Secrets {
    mfa: HashMap<PersonId, StoredMfa>,
    recovery: HashMap<(PersonId, RecoverySlot), StoredSet>,
    oob: HashMap<(PersonId, OobPurpose), OobChallengeRecord>,
    oob_sends: HashMap<(PersonId, OobPurpose), OobSendLog>,
    setup_tokens: HashMap<TokenDigest, SetupTokenRecord>,
    account_tokens: HashMap<TokenDigest, AccountTokenRecord>,
    tickets: HashMap<TokenDigest, TicketRecord>,
    invitations: HashMap<TokenDigest, crate::store::invitations::InvitationRecord>,
}

/// A thread-safe in-memory [`UserStore`] and [`SecretStore`], for tests, examples and
/// single-process hosts. Nothing survives the process.
///
/// Every atomic verb of the traits holds one lock for its whole read-decide-write, so the
/// contracts hold between any number of threads and tasks; no lock is ever held across an
/// `.await`. A panic in another thread while it held a lock makes later calls fail with
/// [`MemoryStoreError::Poisoned`] rather than serve possibly half-written data.
///
/// How the contracts are kept:
///
/// - Versions start at 1 and grow by one on each successful compare-and-swap replacement.
/// - Replay watermarks live beside the [`Mfa`] value (as a database keeps them in their own
///   column); [`SecretStore::mfa`] overlays them with [`Mfa::restore_watermark`], and
///   [`SecretStore::replace_mfa`] keeps the higher of the stored and the written watermark of
///   every authenticator.
/// - Slots spent through [`SecretStore::spend_recovery_code`] are a mask beside the set,
///   overlaid with [`RecoveryCodeSet::merge_spent_mask`] on load. Writing a set with the same
///   [`RecoveryCodeSet::set_id`] again keeps the spent slots spent; a new set starts afresh.
/// - Out-of-band send logs are kept per person and purpose, and
///   [`SecretStore::record_oob_send`] decides and records under the one lock.
/// - Expired setup tokens and tickets are refused (and dropped) by the `take_*` verbs;
///   [`SecretStore::prune_expired`] drops the rest.
/// - [`Mfa`] values go in and out through [`Mfa::duplicate_secret_state`]: the store's copy
///   is its own.
/// - Nothing is sealed or tagged: the store keeps nothing outside the process, so there is no
///   at-rest attacker to defend against (someone who can write this process's memory holds its
///   keys too). The SQL stores authenticate their rows; see "Integrity at rest" on
///   `SqliteStore`.
#[derive(Default)]
pub struct MemoryStore {
    users: Mutex<Users>,
    secrets: Mutex<Secrets>,
    /// Passkeys, their user handles and ceremony states (locked after `users`, never before).
    #[cfg(feature = "passkeys")]
    passkeys: Mutex<passkeys::Passkeys>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn users(&self) -> Result<MutexGuard<'_, Users>, MemoryStoreError> {
        Ok(self.users.lock()?)
    }

    fn secrets(&self) -> Result<MutexGuard<'_, Secrets>, MemoryStoreError> {
        Ok(self.secrets.lock()?)
    }
}

impl UserStore for MemoryStore {
    type Error = MemoryStoreError;

    async fn create_person(
        &self,
        person: &PersonRecord,
        organisation: OrganisationWrite<'_>,
    ) -> Result<CreateOutcome, MemoryStoreError> {
        let mut users = self.users()?;
        if users.logins.contains_key(&person.login) {
            return Ok(CreateOutcome::LoginTaken);
        }
        if users.people.contains_key(&person.id) {
            return Err(MemoryStoreError::PersonIdTaken(person.id));
        }
        let (org, version) = match organisation {
            OrganisationWrite::Insert(org) => {
                if users.organisations.contains_key(&org.id()) {
                    return Ok(CreateOutcome::OrganisationConflict);
                }
                (org, 1)
            }
            OrganisationWrite::Replace {
                organisation,
                expected_version,
            } => match users.organisations.get(&organisation.id()) {
                Some((_, version)) if *version == expected_version => {
                    (organisation, expected_version.saturating_add(1))
                }
                _ => return Ok(CreateOutcome::OrganisationConflict),
            },
        };
        users.organisations.insert(org.id(), (org.clone(), version));
        users.logins.insert(person.login.clone(), person.id);
        users.people.insert(person.id, person.clone());
        Ok(CreateOutcome::Created)
    }

    async fn person_by_login(&self, login: &str) -> Result<Option<PersonRecord>, MemoryStoreError> {
        let Some(login) = Login::new(login) else {
            return Ok(None);
        };
        let users = self.users()?;
        Ok(users
            .logins
            .get(&login)
            .and_then(|id| users.people.get(id))
            .cloned())
    }

    async fn person(&self, id: PersonId) -> Result<Option<PersonRecord>, MemoryStoreError> {
        Ok(self.users()?.people.get(&id).cloned())
    }

    async fn set_password(
        &self,
        id: PersonId,
        password_hash: &str,
        state: PasswordState,
        expires_at: Option<u64>,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        let Some(person) = users.people.get_mut(&id) else {
            return Ok(false);
        };
        person.password_hash = String::from(password_hash);
        person.password_state = state;
        person.password_expires_at = expires_at;
        Ok(true)
    }

    async fn upgrade_password_hash(
        &self,
        id: PersonId,
        expected_hash: &str,
        new_hash: &str,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        match users.people.get_mut(&id) {
            Some(person) if person.password_hash == expected_hash => {
                person.password_hash = String::from(new_hash);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn set_phone(
        &self,
        id: PersonId,
        phone: Option<&PhoneNumber>,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        let Some(person) = users.people.get_mut(&id) else {
            return Ok(false);
        };
        person.phone = phone.cloned();
        Ok(true)
    }

    async fn set_deactivated(
        &self,
        id: PersonId,
        deactivated: bool,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        let Some(person) = users.people.get_mut(&id) else {
            return Ok(false);
        };
        person.deactivated = deactivated;
        Ok(true)
    }

    async fn mark_address_verified(
        &self,
        id: PersonId,
        login: &Login,
        at: u64,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        let Some(person) = users.people.get_mut(&id) else {
            return Ok(false);
        };
        if person.login != *login || person.address_verified_at.is_some() {
            return Ok(false);
        }
        person.address_verified_at = Some(at);
        Ok(true)
    }

    async fn change_login(
        &self,
        id: PersonId,
        from: &Login,
        to: &Login,
        verified_at: u64,
    ) -> Result<LoginChange, MemoryStoreError> {
        let mut users = self.users()?;
        if users.people.get(&id).is_none_or(|p| p.login != *from) {
            return Ok(LoginChange::Stale);
        }
        if users.logins.get(to).is_some_and(|holder| *holder != id) {
            return Ok(LoginChange::Taken);
        }
        let _ = users.logins.remove(from);
        let _ = users.logins.insert(to.clone(), id);
        if let Some(person) = users.people.get_mut(&id) {
            person.login = to.clone();
            person.address_verified_at = Some(verified_at);
        }
        Ok(LoginChange::Changed)
    }

    async fn throttle(&self, key: &ThrottleKey) -> Result<ThrottleState, MemoryStoreError> {
        Ok(self
            .users()?
            .throttles
            .get(key)
            .copied()
            .unwrap_or_default())
    }

    async fn reserve_attempt(
        &self,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> Result<ThrottleReservation, MemoryStoreError> {
        // One lock held across the decision and the write: atomic.
        let mut users = self.users()?;
        let stored = users.throttles.get(key).copied().unwrap_or_default();
        let reservation = policy.reserve(stored, now);
        if reservation.changed_state() {
            users.throttles.insert(key.clone(), reservation.state());
        }
        Ok(reservation)
    }

    async fn apply_throttle(
        &self,
        key: &ThrottleKey,
        op: ThrottleOp,
        policy: &ThrottlePolicy,
        _now: u64,
    ) -> Result<ThrottleUpdate, MemoryStoreError> {
        let mut users = self.users()?;
        let stored = users.throttles.get(key).copied().unwrap_or_default();
        let update = match op {
            ThrottleOp::Success => policy.record_success(stored),
            ThrottleOp::Reset => policy.reset(stored),
        };
        if update.changed_state() {
            if update.state() == ThrottleState::new() {
                users.throttles.remove(key);
            } else {
                users.throttles.insert(key.clone(), update.state());
            }
        }
        Ok(update)
    }

    async fn prune_throttles(&self, now: u64) -> Result<u64, MemoryStoreError> {
        let mut users = self.users()?;
        let before = users.throttles.len();
        users.throttles.retain(|_, state| !state.is_forgotten(now));
        Ok(u64::try_from(before.saturating_sub(users.throttles.len())).unwrap_or(u64::MAX))
    }

    async fn organisation(
        &self,
        id: OrgId,
    ) -> Result<Option<Versioned<Organisation>>, MemoryStoreError> {
        Ok(self
            .users()?
            .organisations
            .get(&id)
            .map(|(org, version)| Versioned {
                value: org.clone(),
                version: *version,
            }))
    }

    async fn replace_organisation(
        &self,
        organisation: &Organisation,
        expected_version: u64,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        match users.organisations.get_mut(&organisation.id()) {
            Some((stored, version)) if *version == expected_version => {
                *stored = organisation.clone();
                *version = expected_version.saturating_add(1);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn organisations_of(&self, id: PersonId) -> Result<Vec<OrgId>, MemoryStoreError> {
        let users = self.users()?;
        let mut orgs: Vec<OrgId> = users
            .organisations
            .values()
            .filter(|(org, _)| org.member(id).is_some())
            .map(|(org, _)| org.id())
            .collect();
        orgs.sort_unstable();
        Ok(orgs)
    }
}

/// [`SecretStore::replace_mfa`] under the secrets' lock.
fn replace_mfa_in(
    secrets: &mut Secrets,
    person: PersonId,
    mfa: &Mfa,
    expected_version: Option<u64>,
) -> Result<bool, MemoryStoreError> {
    let current = secrets.mfa.get(&person);
    let version = match (current, expected_version) {
        (None, None) => 1,
        (Some(stored), Some(expected)) if stored.version == expected => expected.saturating_add(1),
        _ => return Ok(false),
    };
    let watermarks = mfa
        .authenticators()
        .iter()
        .map(|a| {
            let kept = current
                .and_then(|stored| stored.watermarks.get(&a.id()))
                .copied()
                .unwrap_or(0);
            (a.id(), a.last_accepted_step().max(kept))
        })
        .collect();
    let copy = mfa.duplicate_secret_state()?;
    secrets.mfa.insert(
        person,
        StoredMfa {
            mfa: copy,
            version,
            watermarks,
        },
    );
    Ok(true)
}

/// [`SecretStore::replace_recovery_codes`] under the secrets' lock.
fn replace_recovery_in(
    secrets: &mut Secrets,
    person: PersonId,
    slot: RecoverySlot,
    set: Option<&RecoveryCodeSet>,
) -> Result<(), MemoryStoreError> {
    let key = (person, slot);
    match set {
        None => {
            secrets.recovery.remove(&key);
        }
        Some(set) => {
            // The same set written back keeps the slots spent meanwhile: a spent code never
            // comes back to life.
            let spent = secrets
                .recovery
                .get(&key)
                .filter(|stored| stored.set.set_id() == set.set_id())
                .map_or(0, |stored| stored.spent);
            let mut copy = set.clone();
            copy.merge_spent_mask(spent)?;
            secrets.recovery.insert(
                key,
                StoredSet {
                    spent: copy.spent_mask(),
                    set: copy,
                },
            );
        }
    }
    Ok(())
}

impl SecretStore for MemoryStore {
    type Error = MemoryStoreError;

    async fn mfa(&self, person: PersonId) -> Result<Option<Versioned<Mfa>>, MemoryStoreError> {
        let secrets = self.secrets()?;
        let Some(stored) = secrets.mfa.get(&person) else {
            return Ok(None);
        };
        let mut value = stored.mfa.duplicate_secret_state()?;
        for (authenticator, step) in &stored.watermarks {
            let _ = value.restore_watermark(*authenticator, *step);
        }
        Ok(Some(Versioned {
            value,
            version: stored.version,
        }))
    }

    async fn replace_mfa(
        &self,
        person: PersonId,
        mfa: &Mfa,
        expected_version: Option<u64>,
    ) -> Result<bool, MemoryStoreError> {
        replace_mfa_in(&mut *self.secrets()?, person, mfa, expected_version)
    }

    async fn advance_watermark(
        &self,
        person: PersonId,
        authenticator: AuthenticatorId,
        step: u64,
    ) -> Result<bool, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        let watermark = secrets
            .mfa
            .get_mut(&person)
            .and_then(|stored| stored.watermarks.get_mut(&authenticator));
        match watermark {
            Some(current) if *current < step => {
                *current = step;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn recovery_codes(
        &self,
        person: PersonId,
        slot: RecoverySlot,
    ) -> Result<Option<RecoveryCodeSet>, MemoryStoreError> {
        let secrets = self.secrets()?;
        let Some(stored) = secrets.recovery.get(&(person, slot)) else {
            return Ok(None);
        };
        let mut set = stored.set.clone();
        set.merge_spent_mask(stored.spent)?;
        Ok(Some(set))
    }

    async fn replace_recovery_codes(
        &self,
        person: PersonId,
        slot: RecoverySlot,
        set: Option<&RecoveryCodeSet>,
    ) -> Result<(), MemoryStoreError> {
        replace_recovery_in(&mut *self.secrets()?, person, slot, set)
    }

    async fn activate_pending_recovery_codes(
        &self,
        person: PersonId,
    ) -> Result<bool, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        let Some(pending) = secrets.recovery.remove(&(person, RecoverySlot::Pending)) else {
            return Ok(false);
        };
        secrets
            .recovery
            .insert((person, RecoverySlot::Active), pending);
        Ok(true)
    }

    async fn spend_recovery_code(
        &self,
        person: PersonId,
        set_id: [u8; 16],
        index: u8,
    ) -> Result<bool, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        let Some(stored) = secrets.recovery.get_mut(&(person, RecoverySlot::Active)) else {
            return Ok(false);
        };
        if stored.set.set_id() != set_id || index >= stored.set.len() {
            return Ok(false);
        }
        let bit = 1u16.checked_shl(u32::from(index)).unwrap_or(0);
        if bit == 0 || (stored.spent | stored.set.spent_mask()) & bit != 0 {
            return Ok(false);
        }
        stored.spent |= bit;
        Ok(true)
    }

    async fn oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
    ) -> Result<Option<OobChallengeRecord>, MemoryStoreError> {
        Ok(self.secrets()?.oob.get(&(person, purpose)).cloned())
    }

    async fn replace_oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
        expected: Option<&OobChallenge>,
        new: Option<&OobChallengeRecord>,
    ) -> Result<bool, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        let key = (person, purpose);
        if secrets.oob.get(&key).map(|r| &r.challenge) != expected {
            return Ok(false);
        }
        match new {
            Some(record) => {
                secrets.oob.insert(key, record.clone());
            }
            None => {
                secrets.oob.remove(&key);
            }
        }
        Ok(true)
    }

    async fn record_oob_send(
        &self,
        person: PersonId,
        purpose: OobPurpose,
        config: &OobConfig,
        now: u64,
    ) -> Result<SendDecision, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        let key = (person, purpose);
        let log = secrets.oob_sends.get(&key).copied().unwrap_or_default();
        let decision = purpose.check_send(config, &log, now);
        if decision == SendDecision::Allowed {
            secrets
                .oob_sends
                .insert(key, purpose.record_send(&log, now));
        }
        Ok(decision)
    }

    async fn insert_setup_token(&self, token: &SetupTokenRecord) -> Result<(), MemoryStoreError> {
        self.secrets()?.setup_tokens.insert(token.digest, *token);
        Ok(())
    }

    async fn take_setup_token(
        &self,
        digest: &TokenDigest,
        now: u64,
    ) -> Result<Option<SetupTokenRecord>, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        Ok(secrets
            .setup_tokens
            .remove(digest)
            .filter(|token| token.expires_at > now))
    }

    async fn insert_account_token(
        &self,
        token: &AccountTokenRecord,
    ) -> Result<(), MemoryStoreError> {
        let _ = self
            .secrets()?
            .account_tokens
            .insert(token.digest, token.clone());
        Ok(())
    }

    async fn account_token(
        &self,
        digest: &TokenDigest,
        purpose: AccountTokenPurpose,
        now: u64,
    ) -> Result<Option<AccountTokenRecord>, MemoryStoreError> {
        Ok(self
            .secrets()?
            .account_tokens
            .get(digest)
            .filter(|token| token.purpose == purpose && token.expires_at > now)
            .cloned())
    }

    async fn take_account_token(
        &self,
        digest: &TokenDigest,
        purpose: AccountTokenPurpose,
        now: u64,
    ) -> Result<Option<AccountTokenRecord>, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        if !secrets
            .account_tokens
            .get(digest)
            .is_some_and(|token| token.purpose == purpose && token.expires_at > now)
        {
            return Ok(None);
        }
        Ok(secrets.account_tokens.remove(digest))
    }

    async fn insert_ticket(&self, ticket: &TicketRecord) -> Result<(), MemoryStoreError> {
        self.secrets()?.tickets.insert(ticket.digest, *ticket);
        Ok(())
    }

    async fn take_ticket(
        &self,
        digest: &TokenDigest,
        now: u64,
    ) -> Result<Option<TicketRecord>, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        Ok(secrets
            .tickets
            .remove(digest)
            .filter(|ticket| ticket.expires_at > now))
    }

    async fn prune_expired(&self, now: u64) -> Result<PruneReport, MemoryStoreError> {
        fn prune<K, V>(map: &mut HashMap<K, V>, live: impl Fn(&V) -> bool) -> u64 {
            let before = map.len();
            map.retain(|_, v| live(v));
            u64::try_from(before.saturating_sub(map.len())).unwrap_or(u64::MAX)
        }
        let mut secrets = self.secrets()?;
        Ok(PruneReport {
            tickets: prune(&mut secrets.tickets, |t| t.expires_at > now),
            setup_tokens: prune(&mut secrets.setup_tokens, |t| t.expires_at > now),
            oob_challenges: prune(&mut secrets.oob, |r| r.challenge.expires_at() > now),
            oob_send_logs: prune(&mut secrets.oob_sends, |log| {
                log.expires_at().is_some_and(|at| at > now)
            }),
            account_tokens: prune(&mut secrets.account_tokens, |t| t.expires_at > now),
            throttles: 0,
            invitations: 0,
            #[cfg(feature = "passkeys")]
            passkey_ceremonies: {
                drop(secrets);
                self.prune_passkey_ceremonies(now)?
            },
            #[cfg(not(feature = "passkeys"))]
            passkey_ceremonies: 0,
        })
    }
}

impl SessionStore for MemoryStore {
    type Error = MemoryStoreError;

    async fn security_epoch(&self, person: PersonId) -> Result<Option<u64>, MemoryStoreError> {
        Ok(self.users()?.epoch(person))
    }

    async fn bump_epoch(
        &self,
        person: PersonId,
        keep: Option<SessionId>,
    ) -> Result<Option<u64>, MemoryStoreError> {
        Ok(self.users()?.bump(person, keep))
    }

    async fn create_session(
        &self,
        digest: &TokenDigest,
        session: &SessionRecord,
        labels: &SessionLabels,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        if users.epoch(session.person) != Some(session.epoch)
            || users.sessions.contains_key(digest)
            || users.sessions.values().any(|s| s.record.id == session.id)
        {
            return Ok(false);
        }
        users.sessions.insert(
            *digest,
            StoredSession {
                record: *session,
                labels: labels.clone(),
            },
        );
        Ok(true)
    }

    async fn session(&self, digest: &TokenDigest) -> Result<Option<SessionView>, MemoryStoreError> {
        let users = self.users()?;
        Ok(users.sessions.get(digest).and_then(|s| users.view_of(s)))
    }

    async fn session_by_id(
        &self,
        person: PersonId,
        id: SessionId,
    ) -> Result<Option<SessionView>, MemoryStoreError> {
        let users = self.users()?;
        Ok(users
            .sessions
            .values()
            .find(|s| s.record.person == person && s.record.id == id)
            .and_then(|s| users.view_of(s)))
    }

    async fn label_session(
        &self,
        digest: &TokenDigest,
        labels: &SessionLabels,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        Ok(users
            .sessions
            .get_mut(digest)
            .map(|s| s.labels = labels.clone())
            .is_some())
    }

    async fn touch_session(
        &self,
        digest: &TokenDigest,
        touch: &SessionTouch,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        match users.sessions.get_mut(digest) {
            Some(stored) if stored.record.last_seen == touch.expected_last_seen => {
                stored.record.last_seen = touch.last_seen;
                stored.record.idle_expires_at = touch.idle_expires_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn rotate_session(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        session: &SessionRecord,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        let matches = users.sessions.get(old).is_some_and(|stored| {
            stored.record.id == session.id
                && stored.record.person == session.person
                && stored.record.epoch == session.epoch
        });
        if !matches || users.sessions.contains_key(new) {
            return Ok(false);
        }
        let Some(mut stored) = users.sessions.remove(old) else {
            return Ok(false);
        };
        stored.record = *session;
        users.sessions.insert(*new, stored);
        Ok(true)
    }

    async fn revoke_session(
        &self,
        person: PersonId,
        id: SessionId,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        let before = users.sessions.len();
        users
            .sessions
            .retain(|_, s| !(s.record.person == person && s.record.id == id));
        Ok(users.sessions.len() < before)
    }

    async fn sessions_of(&self, person: PersonId) -> Result<Vec<ListedSession>, MemoryStoreError> {
        let users = self.users()?;
        let Some(epoch) = users.epoch(person) else {
            return Ok(Vec::new());
        };
        let mut listed: Vec<ListedSession> = users
            .sessions
            .values()
            .filter(|s| s.record.person == person && s.record.epoch == epoch)
            .map(|s| ListedSession {
                record: s.record,
                labels: s.labels.clone(),
            })
            .collect();
        listed.sort_by_key(|s| (s.record.authenticated_at, s.record.id));
        Ok(listed)
    }

    async fn insert_device_token(
        &self,
        digest: &TokenDigest,
        token: &DeviceTokenRecord,
        max_per_person: u32,
    ) -> Result<bool, MemoryStoreError> {
        let mut users = self.users()?;
        if users.epoch(token.person) != Some(token.epoch)
            || users.device_tokens.contains_key(digest)
        {
            return Ok(false);
        }
        users.device_tokens.insert(*digest, *token);
        let mut theirs: Vec<(u64, TokenDigest)> = users
            .device_tokens
            .iter()
            .filter(|(_, t)| t.person == token.person)
            .map(|(d, t)| (t.created_at, *d))
            .collect();
        theirs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.0.cmp(&b.1.0)));
        let keep = usize::try_from(max_per_person).unwrap_or(usize::MAX);
        for (_, old) in theirs.iter().skip(keep) {
            users.device_tokens.remove(old);
        }
        Ok(true)
    }

    async fn device_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<DeviceTokenView>, MemoryStoreError> {
        let users = self.users()?;
        let Some(token) = users.device_tokens.get(digest).copied() else {
            return Ok(None);
        };
        let Some(person) = users.people.get(&token.person) else {
            return Ok(None);
        };
        Ok(Some(DeviceTokenView {
            token,
            epoch: users.epochs.get(&token.person).copied().unwrap_or(0),
            deactivated: person.deactivated,
        }))
    }

    async fn prune_sessions(&self, now: u64) -> Result<SessionPruneReport, MemoryStoreError> {
        let mut users = self.users()?;
        let users = &mut *users;
        let (before_s, before_d) = (users.sessions.len(), users.device_tokens.len());
        let epochs = &users.epochs;
        let people = &users.people;
        let current = |person: &PersonId| {
            people
                .contains_key(person)
                .then(|| epochs.get(person).copied().unwrap_or(0))
        };
        users.sessions.retain(|_, s| {
            let r = &s.record;
            r.expires_at > now && r.idle_expires_at > now && current(&r.person) == Some(r.epoch)
        });
        users
            .device_tokens
            .retain(|_, t| t.expires_at > now && current(&t.person) == Some(t.epoch));
        let gone = |before: usize, after: usize| {
            u64::try_from(before.saturating_sub(after)).unwrap_or(u64::MAX)
        };
        Ok(SessionPruneReport {
            sessions: gone(before_s, users.sessions.len()),
            device_tokens: gone(before_d, users.device_tokens.len()),
        })
    }
}

/// An [`AuditSink`] that keeps every event in memory, in order.
#[derive(Debug, Default)]
pub struct MemoryAuditLog {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemoryAuditLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A snapshot of the events recorded so far, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        // A list of events cannot be left half-updated by a panic: read it anyway.
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl AuditSink for MemoryAuditLog {
    type Error = MemoryStoreError;

    async fn record(&self, events: &[AuditEvent]) -> Result<(), MemoryStoreError> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(events);
        Ok(())
    }
}

/// What a [`RecordingNotifier`] delivered, without the secrets (codes and tokens are kept apart,
/// see [`RecordingNotifier::take_last_code`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// An out-of-band code was sent.
    OobCode {
        /// The person.
        person: PersonId,
        /// What the code was for.
        purpose: OobPurpose,
        /// Where it went.
        to: PhoneNumber,
    },
    /// A setup link was sent.
    SetupLink {
        /// The person.
        person: PersonId,
        /// The organisation that added them.
        org: OrgId,
    },
    /// A security notice was sent.
    Security {
        /// The person.
        person: PersonId,
        /// What it said.
        notice: SecurityNotice,
    },
    /// An invitation was sent.
    Invitation {
        /// The person invited.
        person: PersonId,
        /// The organisation.
        org: OrgId,
    },
    /// An MFA reminder was sent.
    MfaReminder {
        /// The member.
        person: PersonId,
        /// The organisation.
        org: OrgId,
        /// Their deadline.
        deadline: u64,
    },
    /// A forgotten-password link was sent.
    PasswordReset {
        /// The person.
        person: PersonId,
        /// Where it went.
        to: Login,
    },
    /// An address-verification link was sent.
    AddressVerification {
        /// The person.
        person: PersonId,
        /// The current login, or a change to a new address.
        purpose: AccountTokenPurpose,
        /// Where it went.
        to: Login,
    },
    /// The old address was told of the change to a new one.
    AddressChanged {
        /// The person.
        person: PersonId,
        /// The old address.
        old: Login,
    },
}

impl Delivery {
    /// The person the message was for.
    pub fn person(&self) -> PersonId {
        match self {
            Self::OobCode { person, .. }
            | Self::SetupLink { person, .. }
            | Self::Security { person, .. }
            | Self::Invitation { person, .. }
            | Self::MfaReminder { person, .. }
            | Self::PasswordReset { person, .. }
            | Self::AddressVerification { person, .. }
            | Self::AddressChanged { person, .. } => *person,
        }
    }
}

#[derive(Default)]
struct Recorded {
    deliveries: Vec<Delivery>,
    codes: HashMap<PersonId, Zeroizing<String>>,
    setup_tokens: HashMap<PersonId, Zeroizing<String>>,
    invitation_tokens: HashMap<PersonId, Zeroizing<String>>,
    reset_tokens: HashMap<PersonId, Zeroizing<String>>,
    address_tokens: HashMap<PersonId, Zeroizing<String>>,
    fail: bool,
}

/// A [`Notifier`] that records what it is asked to deliver, for tests and examples.
///
/// The messages are kept as [`Delivery`] values, which hold no secret. The last out-of-band
/// code and setup token of each person are kept apart, wiped on drop, and handed out once through
/// [`RecordingNotifier::take_last_code`] and [`RecordingNotifier::take_last_setup_token`] — the
/// test's stand-in for the person reading their phone or mailbox. `Debug` shows neither.
#[derive(Default)]
pub struct RecordingNotifier {
    recorded: Mutex<Recorded>,
}

impl fmt::Debug for RecordingNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingNotifier")
            .field("deliveries", &self.deliveries())
            .finish_non_exhaustive()
    }
}

impl RecordingNotifier {
    /// A notifier with nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }

    fn recorded(&self) -> MutexGuard<'_, Recorded> {
        // The records hold no invariant a panic could break: read them anyway.
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every message delivered so far, oldest first, without codes or tokens.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.recorded().deliveries.clone()
    }

    /// The last out-of-band code delivered to `person`, once: a second call returns `None` until
    /// another code is delivered.
    pub fn take_last_code(&self, person: PersonId) -> Option<Zeroizing<String>> {
        self.recorded().codes.remove(&person)
    }

    /// The last setup token delivered to `person` (the text to put in the link), once.
    pub fn take_last_setup_token(&self, person: PersonId) -> Option<Zeroizing<String>> {
        self.recorded().setup_tokens.remove(&person)
    }

    /// The last invitation token delivered to `person`, once.
    pub fn take_last_invitation_token(&self, person: PersonId) -> Option<Zeroizing<String>> {
        self.recorded().invitation_tokens.remove(&person)
    }

    /// The last password-reset token delivered to `person`, once.
    pub fn take_last_reset_token(&self, person: PersonId) -> Option<Zeroizing<String>> {
        self.recorded().reset_tokens.remove(&person)
    }

    /// The last address-verification token delivered to `person`, once.
    pub fn take_last_address_token(&self, person: PersonId) -> Option<Zeroizing<String>> {
        self.recorded().address_tokens.remove(&person)
    }

    /// Makes every later delivery fail with [`MemoryStoreError::DeliveryFailed`] (`true`), or
    /// succeed again (`false`): for testing how a service copes with an unreachable gateway.
    pub fn fail_deliveries(&self, fail: bool) {
        self.recorded().fail = fail;
    }
}

impl Notifier for RecordingNotifier {
    type Error = MemoryStoreError;

    async fn deliver(&self, message: Notification<'_>) -> Result<(), MemoryStoreError> {
        let mut recorded = self.recorded();
        if recorded.fail {
            return Err(MemoryStoreError::DeliveryFailed);
        }
        let delivery = match message {
            Notification::OobCode {
                person,
                purpose,
                to,
                code,
            } => {
                recorded
                    .codes
                    .insert(person, Zeroizing::new(String::from(code.expose_secret())));
                Delivery::OobCode {
                    person,
                    purpose,
                    to: to.clone(),
                }
            }
            Notification::SetupLink { person, org, token } => {
                recorded.setup_tokens.insert(person, token.expose_secret());
                Delivery::SetupLink { person, org }
            }
            Notification::Security { person, notice } => Delivery::Security { person, notice },
            Notification::Invitation { person, org, token } => {
                recorded
                    .invitation_tokens
                    .insert(person, token.expose_secret());
                Delivery::Invitation { person, org }
            }
            Notification::MfaReminder {
                person,
                org,
                deadline,
            } => Delivery::MfaReminder {
                person,
                org,
                deadline,
            },
            Notification::PasswordReset { person, to, token } => {
                recorded.reset_tokens.insert(person, token.expose_secret());
                Delivery::PasswordReset {
                    person,
                    to: to.clone(),
                }
            }
            Notification::AddressVerification {
                person,
                purpose,
                to,
                token,
            } => {
                recorded
                    .address_tokens
                    .insert(person, token.expose_secret());
                Delivery::AddressVerification {
                    person,
                    purpose,
                    to: to.clone(),
                }
            }
            Notification::AddressChanged { person, old } => Delivery::AddressChanged {
                person,
                old: old.clone(),
            },
        };
        recorded.deliveries.push(delivery);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::oob::{OobConfig, OobIssue, OobKey, OobSendLog};
    use crate::credential::token::BearerToken;
    use crate::otp::totp::Totp;
    use crate::policy::enrollment::{AuthenticatorName, EnrollmentConfig, EnrollmentPurpose};
    use alloc::format;

    const T0: u64 = 1_700_000_000;
    const ALICE: PersonId = PersonId::new(1);
    const BOB: PersonId = PersonId::new(2);
    const ORG: OrgId = OrgId::new(10);

    fn person(id: PersonId, login: &str) -> PersonRecord {
        PersonRecord {
            id,
            login: Login::new(login).unwrap(),
            password_hash: String::from("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
            password_state: PasswordState::Current,
            password_expires_at: None,
            deactivated: false,
            phone: None,
            created_at: T0,
            address_verified_at: None,
        }
    }

    /// An MFA state with one active authenticator, through the public ceremony.
    fn enrolled(person: PersonId) -> Mfa {
        let config = EnrollmentConfig::default();
        let started = Mfa::new(person)
            .start_enrollment_with_os_rng(
                EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
                None,
                &config,
                T0,
            )
            .unwrap()
            .state;
        let secret = started.enrollment().unwrap().expose_secret();
        let code = Totp::new(config.params(), secret).generate(T0).unwrap();
        let confirmed = started
            .confirm_enrollment(code.expose_secret(), &config, T0)
            .unwrap()
            .state;
        let issued = confirmed.recovery_codes_issued(&config, T0).unwrap().state;
        issued
            .acknowledge_recovery_codes(&config, T0)
            .unwrap()
            .state
    }

    // The storage contract (what every store must do) is the conformance suite, run against
    // this store by tests/store_memory.rs. Here: what is particular to this store.

    /// A taken person id is refused with this store's own error (the suite checks only that it is
    /// refused and that nothing is written).
    #[tokio::test]
    async fn a_taken_person_id_is_its_own_error() {
        let store = MemoryStore::new();
        let org = Organisation::found(ORG, ALICE, T0).state;
        assert_eq!(
            store
                .create_person(&person(ALICE, "alice"), OrganisationWrite::Insert(&org))
                .await
                .unwrap(),
            CreateOutcome::Created
        );
        let other = Organisation::found(OrgId::new(11), ALICE, T0).state;
        assert!(matches!(
            store
                .create_person(&person(ALICE, "carol"), OrganisationWrite::Insert(&other))
                .await,
            Err(MemoryStoreError::PersonIdTaken(ALICE))
        ));
        assert!(store.person_by_login("carol").await.unwrap().is_none());
        assert!(store.organisation(other.id()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn audit_log_and_notifier_record_without_secrets() {
        let log = MemoryAuditLog::new();
        let events = enrolled(ALICE)
            .start_enrollment_with_os_rng(
                EnrollmentPurpose::Add(AuthenticatorName::new("backup").unwrap()),
                None,
                &EnrollmentConfig::default(),
                T0,
            )
            .map(|t| t.events)
            .unwrap_or_default();
        log.record(&events).await.unwrap();
        log.record(&events).await.unwrap();
        assert_eq!(log.events().len(), events.len() * 2);

        let notifier = RecordingNotifier::new();
        let key = OobKey::from_bytes(&[7u8; 32]).unwrap();
        let OobIssue::Send { code, .. } = OobConfig::default()
            .issue_with_os_rng(&key, &OobSendLog::new(), T0)
            .unwrap()
        else {
            panic!("refused");
        };
        let phone = PhoneNumber::parse("+1 415 555 2671").unwrap();
        notifier
            .deliver(Notification::OobCode {
                person: ALICE,
                purpose: OobPurpose::SignIn,
                to: &phone,
                code: &code,
            })
            .await
            .unwrap();
        let token = BearerToken::generate().unwrap();
        notifier
            .deliver(Notification::SetupLink {
                person: BOB,
                org: ORG,
                token: &token,
            })
            .await
            .unwrap();
        notifier
            .deliver(Notification::Security {
                person: ALICE,
                notice: SecurityNotice::Locked,
            })
            .await
            .unwrap();
        let debug = format!("{notifier:?}");
        assert!(!debug.contains(code.expose_secret()));
        assert!(!debug.contains(token.expose_secret().as_str()));
        assert_eq!(
            notifier.deliveries(),
            [
                Delivery::OobCode {
                    person: ALICE,
                    purpose: OobPurpose::SignIn,
                    to: phone
                },
                Delivery::SetupLink {
                    person: BOB,
                    org: ORG
                },
                Delivery::Security {
                    person: ALICE,
                    notice: SecurityNotice::Locked
                },
            ]
        );
        assert_eq!(notifier.deliveries()[2].person(), ALICE);
        assert_eq!(
            notifier.take_last_code(ALICE).unwrap().as_str(),
            code.expose_secret()
        );
        assert!(notifier.take_last_code(ALICE).is_none());
        assert!(notifier.take_last_code(BOB).is_none());
        assert_eq!(
            *notifier.take_last_setup_token(BOB).unwrap(),
            *token.expose_secret()
        );
        assert!(notifier.take_last_setup_token(BOB).is_none());

        notifier.fail_deliveries(true);
        assert!(matches!(
            notifier
                .deliver(Notification::Security {
                    person: ALICE,
                    notice: SecurityNotice::PasswordChanged,
                })
                .await,
            Err(MemoryStoreError::DeliveryFailed)
        ));
        assert_eq!(notifier.deliveries().len(), 3);
    }

    #[test]
    fn poisoned_lock_is_an_error() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let clone = std::sync::Arc::clone(&store);
        let _ = std::thread::spawn(move || {
            let _guard = clone.users.lock().unwrap();
            panic!("poison the lock");
        })
        .join();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result = runtime.block_on(store.person(ALICE));
        assert!(matches!(result, Err(MemoryStoreError::Poisoned)));
        assert!(runtime.block_on(store.mfa(ALICE)).unwrap().is_none());
    }
}

//! The in-memory store: [`MemoryStore`] (a [`UserStore`] and a [`SecretStore`]),
//! [`MemoryAuditLog`] and [`RecordingNotifier`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

use super::{
    AuditSink, CreateOutcome, Notification, Notifier, OrganisationWrite, PersonRecord,
    RecoverySlot, SecretStore, SecurityNotice, SetupTokenRecord, ThrottleOp, TicketRecord,
    TokenDigest, UserStore, Versioned,
};
use crate::{
    AuditEvent, AuthenticatorId, Error, Login, Mfa, OobChallenge, OrgId, Organisation,
    PasswordState, PersonId, PhoneNumber, RecoveryCodeSet, ThrottlePolicy, ThrottleState,
    ThrottleUpdate, ThrottledFactor,
};

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
    throttles: HashMap<(PersonId, ThrottledFactor), ThrottleState>,
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
    oob: HashMap<PersonId, OobChallenge>,
    setup_tokens: HashMap<TokenDigest, SetupTokenRecord>,
    tickets: HashMap<TokenDigest, TicketRecord>,
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
/// - Expired setup tokens and tickets are refused (and dropped) by the `take_*` verbs.
/// - [`Mfa`] values go in and out through [`Mfa::duplicate_secret_state`]: the store's copy
///   is its own.
#[derive(Default)]
pub struct MemoryStore {
    users: Mutex<Users>,
    secrets: Mutex<Secrets>,
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

    async fn throttle(
        &self,
        id: PersonId,
        factor: ThrottledFactor,
    ) -> Result<ThrottleState, MemoryStoreError> {
        Ok(self
            .users()?
            .throttles
            .get(&(id, factor))
            .copied()
            .unwrap_or_default())
    }

    async fn apply_throttle(
        &self,
        id: PersonId,
        factor: ThrottledFactor,
        op: ThrottleOp,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> Result<ThrottleUpdate, MemoryStoreError> {
        let mut users = self.users()?;
        let slot = users.throttles.entry((id, factor)).or_default();
        let update = match op {
            ThrottleOp::Failure => policy.record_failure(*slot, now),
            ThrottleOp::Success => policy.record_success(*slot),
            ThrottleOp::Reset => policy.reset(*slot),
        };
        *slot = update.state();
        Ok(update)
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
        let mut secrets = self.secrets()?;
        let current = secrets.mfa.get(&person);
        let version = match (current, expected_version) {
            (None, None) => 1,
            (Some(stored), Some(expected)) if stored.version == expected => {
                expected.saturating_add(1)
            }
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
        let mut secrets = self.secrets()?;
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
    ) -> Result<Option<OobChallenge>, MemoryStoreError> {
        Ok(self.secrets()?.oob.get(&person).cloned())
    }

    async fn replace_oob_challenge(
        &self,
        person: PersonId,
        expected: Option<&OobChallenge>,
        new: Option<&OobChallenge>,
    ) -> Result<bool, MemoryStoreError> {
        let mut secrets = self.secrets()?;
        if secrets.oob.get(&person) != expected {
            return Ok(false);
        }
        match new {
            Some(challenge) => {
                secrets.oob.insert(person, challenge.clone());
            }
            None => {
                secrets.oob.remove(&person);
            }
        }
        Ok(true)
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
}

impl Delivery {
    /// The person the message was for.
    pub fn person(&self) -> PersonId {
        match self {
            Self::OobCode { person, .. }
            | Self::SetupLink { person, .. }
            | Self::Security { person, .. } => *person,
        }
    }
}

#[derive(Default)]
struct Recorded {
    deliveries: Vec<Delivery>,
    codes: HashMap<PersonId, Zeroizing<String>>,
    setup_tokens: HashMap<PersonId, Zeroizing<String>>,
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
            Notification::OobCode { person, to, code } => {
                recorded
                    .codes
                    .insert(person, Zeroizing::new(String::from(code.expose_secret())));
                Delivery::OobCode {
                    person,
                    to: to.clone(),
                }
            }
            Notification::SetupLink { person, org, token } => {
                recorded.setup_tokens.insert(person, token.expose_secret());
                Delivery::SetupLink { person, org }
            }
            Notification::Security { person, notice } => Delivery::Security { person, notice },
        };
        recorded.deliveries.push(delivery);
        Ok(())
    }
}

//! The storage traits the host implements over its own database, and the capabilities the
//! service calls out to: [`UserStore`], [`SecretStore`], [`AuditSink`] and [`Notifier`] (time
//! comes from a [`Clock`](crate::Clock)).
//!
//! # Atomic verbs
//!
//! Anything two application servers could race on is a single method whose contract is
//! "atomic with respect to concurrent calls", and none of them has a default body. In SQL each is
//! one guarded statement whose affected-row count is the answer — never a read followed by a
//! write in a second call:
//!
//! | method | SQL shape |
//! |---|---|
//! | [`SecretStore::advance_watermark`] | `UPDATE authenticators SET last_step = $step WHERE person = $p AND id = $a AND last_step < $step` |
//! | [`SecretStore::spend_recovery_code`] | `UPDATE recovery_sets SET spent = spent \| $bit WHERE person = $p AND set_id = $s AND slot = 'active' AND spent & $bit = 0` |
//! | [`SecretStore::replace_oob_challenge`] | `UPDATE oob_challenges SET challenge = $new, destination = $d WHERE person = $p AND purpose = $purpose AND challenge = $expected` (`INSERT … ON CONFLICT DO NOTHING` when none is expected, `DELETE … WHERE … AND challenge = $expected` for none) |
//! | [`SecretStore::record_oob_send`] | `UPDATE oob_send_log SET sends = $new WHERE destination = $e164 AND sends = $old` (or `INSERT … ON CONFLICT DO NOTHING` for a first send), retried until it applies: the decision is [`OobConfig::check_send`] on the log read |
//! | [`SecretStore::take_setup_token`] | `DELETE FROM setup_tokens WHERE digest = $d AND expires_at > $now RETURNING …` |
//! | [`SecretStore::take_ticket`] | `DELETE FROM tickets WHERE digest = $d AND expires_at > $now RETURNING …` |
//! | [`SecretStore::replace_mfa`] | `UPDATE mfa SET state = $s, version = version + 1 WHERE person = $p AND version = $v` |
//! | [`SecretStore::prune_expired`] | per kind, one `DELETE FROM tickets WHERE expires_at <= $now` (and the same for `setup_tokens`, `oob_challenges`, and `oob_send_log`, whose `expires_at` is an hour after its last send); the affected rows are the counts |
//! | [`UserStore::replace_organisation`] | `UPDATE organisations SET state = $s, version = version + 1 WHERE id = $o AND version = $v` |
//! | [`UserStore::apply_throttle`] | `UPDATE throttles SET … WHERE person = $p AND factor = $f AND failures = $old_failures AND …` (retried until it applies: the new state is computed by [`ThrottlePolicy`]) |
//! | [`UserStore::create_person`] | one transaction: `INSERT INTO people …` (unique login) and the organisation insert or guarded update |

use alloc::vec::Vec;
use core::future::Future;

use crate::{
    AuditEvent, AuthenticatorId, Mfa, OobChallenge, OobCode, OobConfig, OrgId, Organisation,
    PasswordState, PersonId, PhoneNumber, RecoveryCodeSet, SendDecision, ThrottlePolicy,
    ThrottleState, ThrottleUpdate, ThrottledFactor,
};

#[cfg(feature = "memory")]
mod memory;
mod records;

#[cfg(feature = "memory")]
pub use memory::{Delivery, MemoryAuditLog, MemoryStore, MemoryStoreError, RecordingNotifier};

pub use records::{
    Login, OobChallengeRecord, OobPurpose, PendingStep, PersonRecord, PruneReport, RecoverySlot,
    SetupTokenRecord, ThrottleOp, TicketRecord, TokenDigest, Versioned,
};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod integrity;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod reseal;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{DatabaseError, SqlStoreError};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// How [`UserStore::create_person`] writes the person's organisation in the same transaction.
#[derive(Debug)]
pub enum OrganisationWrite<'a> {
    /// Insert a new organisation (sign-up: the person founds it).
    Insert(&'a Organisation),
    /// Replace an existing organisation, only if it is still at `expected_version` (an
    /// administrator adds the person as a member).
    Replace {
        /// The organisation with the person added.
        organisation: &'a Organisation,
        /// The version the administrator's change was computed from.
        expected_version: u64,
    },
}

/// What [`UserStore::create_person`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub enum CreateOutcome {
    /// The person and the organisation change were written together.
    Created,
    /// The login is taken: nothing was written.
    LoginTaken,
    /// The organisation changed since it was read (or already exists): nothing was written.
    OrganisationConflict,
}

/// People, organisations and memberships, and the per-factor throttle counters.
///
/// Every method is `Send`, returns the store's own error for faults (never for "not found",
/// which is `None` or `false`), and is safe to call concurrently from many tasks and servers.
pub trait UserStore: Send + Sync {
    /// The store's error type for faults (connection lost, corrupt row, …).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Creates a person and, in the same transaction, inserts or replaces their organisation.
    /// Atomic: either both are written or neither.
    fn create_person(
        &self,
        person: &PersonRecord,
        organisation: OrganisationWrite<'_>,
    ) -> impl Future<Output = Result<CreateOutcome, Self::Error>> + Send;

    /// The person with this login, if any.
    fn person_by_login(
        &self,
        login: &str,
    ) -> impl Future<Output = Result<Option<PersonRecord>, Self::Error>> + Send;

    /// The person with this id, if any.
    fn person(
        &self,
        id: PersonId,
    ) -> impl Future<Output = Result<Option<PersonRecord>, Self::Error>> + Send;

    /// Replaces the password hash and its state; `false` if the person does not exist.
    fn set_password(
        &self,
        id: PersonId,
        password_hash: &str,
        state: PasswordState,
        expires_at: Option<u64>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Sets or clears the verified phone number; `false` if the person does not exist.
    fn set_phone(
        &self,
        id: PersonId,
        phone: Option<&PhoneNumber>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Deactivates or reactivates a person everywhere; `false` if the person does not exist.
    fn set_deactivated(
        &self,
        id: PersonId,
        deactivated: bool,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The throttle state of one factor of one person (the default state if none is stored).
    fn throttle(
        &self,
        id: PersonId,
        factor: ThrottledFactor,
    ) -> impl Future<Output = Result<ThrottleState, Self::Error>> + Send;

    /// **Atomic.** Applies `op` to the stored throttle state with `policy` at `now` and returns
    /// the update (new state and event). Two concurrent failures count twice, never once.
    fn apply_throttle(
        &self,
        id: PersonId,
        factor: ThrottledFactor,
        op: ThrottleOp,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> impl Future<Output = Result<ThrottleUpdate, Self::Error>> + Send;

    /// The organisation with this id and its version, if any.
    fn organisation(
        &self,
        id: OrgId,
    ) -> impl Future<Output = Result<Option<Versioned<Organisation>>, Self::Error>> + Send;

    /// **Atomic.** Replaces the organisation only if it is still at `expected_version`; `false`
    /// if it changed in between (the caller reloads and decides again).
    fn replace_organisation(
        &self,
        organisation: &Organisation,
        expected_version: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The organisations the person is a member of (active or deactivated membership).
    fn organisations_of(
        &self,
        id: PersonId,
    ) -> impl Future<Output = Result<Vec<OrgId>, Self::Error>> + Send;
}

/// Authenticator secrets and watermarks, pending enrollments, recovery-code sets, out-of-band
/// codes and their per-destination send logs, setup tokens and pending-login tickets.
///
/// Stores that write to disk seal authenticator secrets at rest (feature `sealing`), and should
/// authenticate the rows that decide a login (tickets, recovery sets, watermarks, challenges)
/// with a host key, so that a row forged in the database is an error rather than a grant; codes,
/// tokens and tickets arrive here already hashed.
pub trait SecretStore: Send + Sync {
    /// The store's error type for faults.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The person's authenticators and pending enrollment, with its version. Watermarks
    /// advanced through [`SecretStore::advance_watermark`] are reflected in the returned state
    /// (see [`Mfa::restore_watermark`]).
    fn mfa(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<Option<Versioned<Mfa>>, Self::Error>> + Send;

    /// **Atomic.** Writes the person's MFA state only if it is still at `expected_version`
    /// (`None`: only if there is none yet); `false` otherwise. A stored watermark never moves
    /// down: the store keeps the higher of the stored and the written one.
    fn replace_mfa(
        &self,
        person: PersonId,
        mfa: &Mfa,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// **Atomic.** Raises the authenticator's replay watermark to `step` only if `step` is
    /// higher; `true` if it did. Of many concurrent calls with the same step, exactly one
    /// returns `true`: this is what makes a TOTP code single-use across servers.
    fn advance_watermark(
        &self,
        person: PersonId,
        authenticator: AuthenticatorId,
        step: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// A recovery-code set, with its spent slots.
    fn recovery_codes(
        &self,
        person: PersonId,
        slot: RecoverySlot,
    ) -> impl Future<Output = Result<Option<RecoveryCodeSet>, Self::Error>> + Send;

    /// Stores a whole recovery-code set in a slot (regeneration replaces the set), or deletes it.
    fn replace_recovery_codes(
        &self,
        person: PersonId,
        slot: RecoverySlot,
        set: Option<&RecoveryCodeSet>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// **Atomic.** Makes the pending set the active one (and removes the pending one); `false`
    /// if there is no pending set.
    fn activate_pending_recovery_codes(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// **Atomic.** Spends slot `index` of the active set identified by `set_id`, only if it is
    /// unspent and the set is still the active one; `true` if this call spent it.
    fn spend_recovery_code(
        &self,
        person: PersonId,
        set_id: [u8; 16],
        index: u8,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The person's current out-of-band challenge for `purpose` (the keyed hash of the last code
    /// sent for it, and where it went).
    fn oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
    ) -> impl Future<Output = Result<Option<OobChallengeRecord>, Self::Error>> + Send;

    /// **Atomic.** Replaces the person's out-of-band challenge for `purpose` (challenge and
    /// destination together) only if the stored challenge for that purpose is still `expected`
    /// (`None`: only if there is none); `false` otherwise. Spending a code, counting an attempt
    /// and issuing a new code all go through this compare-and-swap, so a code is accepted once.
    /// Challenges for other purposes are never read or touched.
    fn replace_oob_challenge(
        &self,
        person: PersonId,
        purpose: OobPurpose,
        expected: Option<&OobChallenge>,
        new: Option<&OobChallengeRecord>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// **Atomic.** Decides with [`OobConfig::check_send`] whether a code may be sent to
    /// `destination` at `now`, against the stored [`OobSendLog`](crate::OobSendLog) of that
    /// destination (keyed by its E.164 form, whoever the person), and records the send
    /// ([`OobSendLog::record`](crate::OobSendLog::record)) only if it is allowed. Of many
    /// concurrent calls, no more are allowed than the cooldown and the hourly cap permit: two
    /// servers never both count from the same log.
    fn record_oob_send(
        &self,
        destination: &PhoneNumber,
        config: &OobConfig,
        now: u64,
    ) -> impl Future<Output = Result<SendDecision, Self::Error>> + Send;

    /// Stores a setup token (its digest).
    fn insert_setup_token(
        &self,
        token: &SetupTokenRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// **Atomic.** Removes and returns the setup token with this digest if it has not expired at
    /// `now`; of many concurrent calls, at most one gets it.
    fn take_setup_token(
        &self,
        digest: &crate::TokenDigest,
        now: u64,
    ) -> impl Future<Output = Result<Option<SetupTokenRecord>, Self::Error>> + Send;

    /// Stores a pending-login ticket (its digest).
    fn insert_ticket(
        &self,
        ticket: &TicketRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// **Atomic.** Removes and returns the ticket with this digest if it has not expired at
    /// `now`; of many concurrent calls, at most one gets it.
    fn take_ticket(
        &self,
        digest: &crate::TokenDigest,
        now: u64,
    ) -> impl Future<Output = Result<Option<TicketRecord>, Self::Error>> + Send;

    /// Maintenance: deletes every row that can no longer be used at `now` and reports how many
    /// of each kind went: tickets and setup tokens with `expires_at <= now` (the `take_*` verbs
    /// already refuse them), out-of-band challenges whose code expired
    /// ([`OobChallenge::expires_at`] `<= now`, any purpose and status), and send logs whose last
    /// send left the hourly window ([`OobSendLog::expires_at`](crate::OobSendLog::expires_at)
    /// `<= now`). Live rows are never touched, so pruning changes no answer of the other verbs
    /// and running it twice, or concurrently with them, is harmless.
    ///
    /// Without it, these rows accumulate: hosts call it from a periodic job, through
    /// [`Authenticator::prune_expired`](crate::Authenticator::prune_expired).
    fn prune_expired(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<PruneReport, Self::Error>> + Send;
}

/// Receives the audit trail. Events never contain a secret, code or password.
pub trait AuditSink: Send + Sync {
    /// The sink's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Records events, in order.
    fn record(&self, events: &[AuditEvent])
    -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// A security notice for the person concerned ("notify the right person").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityNotice {
    /// An authenticator was added or replaced.
    AuthenticatorAdded,
    /// MFA was turned off.
    MfaTurnedOff,
    /// The account was locked after repeated failures.
    Locked,
    /// The phone number for sign-in codes was removed.
    PhoneRemoved,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed,
    /// Few recovery codes remain.
    RecoveryCodesLow,
    /// The password was changed.
    PasswordChanged,
}

/// A message the host delivers: by SMS, e-mail or in-app, as it sees fit.
///
/// The one-time code and the setup token are secrets: deliver them and drop them, never log
/// them.
#[derive(Debug)]
#[non_exhaustive]
pub enum Notification<'a> {
    /// An out-of-band code for `to`: a sign-in code, or a code proving possession of a new
    /// number (word the message after `purpose`).
    OobCode {
        /// The person.
        person: PersonId,
        /// What the code is for.
        purpose: OobPurpose,
        /// Where to send it.
        to: &'a PhoneNumber,
        /// The code.
        code: &'a OobCode,
    },
    /// A setup link for a person an administrator added.
    SetupLink {
        /// The person.
        person: PersonId,
        /// The organisation that added them.
        org: OrgId,
        /// The token to put in the link.
        token: &'a crate::BearerToken,
    },
    /// A security notice.
    Security {
        /// The person.
        person: PersonId,
        /// What happened.
        notice: SecurityNotice,
    },
}

/// Delivers codes, setup links and security notices.
pub trait Notifier: Send + Sync {
    /// The notifier's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Delivers one message.
    fn deliver(
        &self,
        message: Notification<'_>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

//! The storage traits the host implements over its own database, and the capabilities the
//! service calls out to: [`UserStore`], [`SecretStore`], [`SessionStore`], [`AuditSink`] and [`Notifier`] (time
//! comes from a [`Clock`](crate::otp::clock::Clock)).
//!
//! This layer holds the traits and the records they exchange, and their implementations:
//! `memory` (feature `memory`), the SQL stores in `sql` (one generic store over the `sqlite` and
//! `postgres` dialects, with re-sealing and row integrity), and the `conformance` suite (feature
//! `test-util`) that checks any implementation against the contracts. It may import
//! [`policy`](crate::policy), [`credential`](crate::credential), [`otp`](crate::otp) and the
//! crate-wide [`Error`](crate::error::Error); never the service. The service imports the traits
//! and records only.
//!
//! # Atomic verbs
//!
//! Anything two application servers could race on is a single method whose contract is
//! "atomic with respect to concurrent calls", and none of them has a default body. In SQL each is
//! one guarded statement whose affected-row count is the answer, or one transaction whose every
//! write is guarded by the read it was decided on — never a read followed by an unguarded write
//! in a second call:
//!
//! | method | SQL shape |
//! |---|---|
//! | [`SecretStore::advance_watermark`] | `UPDATE authenticators SET last_step = $step WHERE person = $p AND id = $a AND last_step < $step` |
//! | [`SecretStore::spend_recovery_code`] | `UPDATE recovery_sets SET spent = spent \| $bit WHERE person = $p AND set_id = $s AND slot = 'active' AND spent & $bit = 0` |
//! | [`SecretStore::replace_oob_challenge`] | `UPDATE oob_challenges SET challenge = $new, destination = $d WHERE person = $p AND purpose = $purpose AND challenge = $expected` (`INSERT … ON CONFLICT DO NOTHING` when none is expected, `DELETE … WHERE … AND challenge = $expected` for none) |
//! | [`SecretStore::record_oob_send`] | `UPDATE oob_send_budgets SET sends = $new, day_start = $ds, day_sends = $dn WHERE person = $p AND purpose = $purpose AND sends = $old AND day_start = $old_ds AND day_sends = $old_dn` (or `INSERT … ON CONFLICT DO NOTHING` for a first send), retried until it applies: the decision is [`OobPurpose::check_send`] on the log read |
//! | [`SecretStore::take_setup_token`] | `DELETE FROM setup_tokens WHERE digest = $d AND expires_at > $now RETURNING …` |
//! | [`SecretStore::take_ticket`] | `DELETE FROM tickets WHERE digest = $d AND expires_at > $now RETURNING …` |
//! | [`SecretStore::replace_mfa`] | `UPDATE mfa SET state = $s, version = version + 1 WHERE person = $p AND version = $v` |
//! | [`SecretStore::prune_expired`] | per kind, one `DELETE FROM tickets WHERE expires_at <= $now` (and the same for `setup_tokens`, `oob_challenges`, and `oob_send_budgets`, whose `expires_at` is [`OobSendLog::expires_at`](crate::credential::oob::OobSendLog::expires_at)); the affected rows are the counts |
//! | [`UserStore::replace_organisation`] | `UPDATE organisations SET state = $s, version = version + 1 WHERE id = $o AND version = $v` |
//! | [`UserStore::reserve_attempt`] | `UPDATE throttle_keys SET failures = $new, … WHERE key = $k AND failures = $old AND not_before = $old_nb AND …` (or `INSERT … ON CONFLICT DO NOTHING` for a first attempt), retried until it applies: the decision and the new state are [`ThrottlePolicy::reserve`] on the row read, and a refused attempt writes nothing |
//! | [`UserStore::apply_throttle`] | the same compare-and-swap, with the state computed by [`ThrottlePolicy::record_success`] or [`ThrottlePolicy::reset`] |
//! | [`UserStore::prune_throttles`] | `DELETE FROM throttle_keys WHERE forget_at <= $now` |
//! | [`UserStore::create_person`] | one transaction: `INSERT INTO people …` (unique login) and the organisation insert or guarded update |
//! | [`SessionStore::bump_epoch`] | one transaction: `UPDATE people SET epoch = epoch + 1 WHERE id = $p RETURNING epoch`, `DELETE FROM sessions WHERE person = $p AND digest <> $keep`, `DELETE FROM device_tokens WHERE person = $p`, and the kept session's epoch (and tag) rewritten |
//! | [`SessionStore::create_session`] | `INSERT INTO sessions … SELECT … FROM people WHERE id = $p AND epoch = $e ON CONFLICT DO NOTHING` |
//! | [`SessionStore::touch_session`] | `UPDATE sessions SET last_seen = $new, idle_expires_at = $i WHERE digest = $d AND last_seen = $old` |
//! | [`SessionStore::rotate_session`] | `UPDATE sessions SET digest = $new, … WHERE digest = $old AND id = $id AND person = $p AND epoch = $e` |
//! | [`SessionStore::insert_device_token`] | one transaction: `INSERT INTO device_tokens … SELECT … FROM people WHERE id = $p AND epoch = $e`, then `DELETE` of the person's oldest beyond the limit |
//! | [`SessionStore::prune_sessions`] | `DELETE FROM sessions WHERE expires_at <= $now OR idle_expires_at <= $now OR epoch <> (SELECT epoch FROM people …)` (and the same for `device_tokens`) |
//! | [`LoginStore::login_snapshot`] | one `SELECT` joining the live ticket (not consumed), the person, the organisation, the MFA state with its watermark rows (aggregated as JSON), the active recovery set, the four counters and the sign-in challenge; no lock, no transaction |
//! | [`LoginStore::apply_step`] | one transaction (a single write commits alone), every write guarded by the snapshot it was decided on: the counters' compare-and-swap, `UPDATE authenticator_watermarks … WHERE last_step < $step`, the recovery slot as [`SecretStore::spend_recovery_code`], the challenge as [`SecretStore::replace_oob_challenge`], the MFA state as [`SecretStore::replace_mfa`], `DELETE FROM tickets WHERE digest = $d` (must delete one), `INSERT INTO tickets …`; any guard failing rolls everything back |
//! | [`LoginStore::remove_factor`] | one transaction: `UPDATE people SET epoch = epoch + 1 WHERE id = $p AND epoch = $e RETURNING epoch`, the factor's `UPDATE people SET phone = NULL …` or `DELETE FROM passkeys WHERE person = $p AND credential_id = $id` (must touch one row), then the sessions and device tokens as [`SessionStore::bump_epoch`]; any miss rolls everything back |
//! | [`LoginStore::locked_step`] | `BEGIN IMMEDIATE` (SQLite) or `BEGIN` and the snapshot `… FOR UPDATE` of the person's row (PostgreSQL), the decision in between, then the writes as `apply_step`, `COMMIT`; a failed guard rolls back and decides again |
//!
//! The login steps use the [`LoginStore`] verbs, within the budgets the service docs give
//! (`BEGIN` and `COMMIT` are not counted as statements): a second factor with an app or an SMS
//! code is one `locked_step` (three statements for a success — the read, the watermark or
//! challenge, the ticket — and one commit); the password step and a recovery code count their
//! attempt before the argon2 work with a one-statement `apply_step`, and commit the outcome with
//! another. A step that completes the login then creates its session with
//! [`SessionStore::create_session`] (one statement, guarded by the epoch the login started at).
//! The single-table verbs above
//! stay the contract for everything else, and for hosts that read their own data: the service no
//! longer calls [`SecretStore::take_ticket`], [`SecretStore::insert_ticket`],
//! [`SecretStore::advance_watermark`], [`SecretStore::spend_recovery_code`] or
//! [`UserStore::person_by_login`], which the login verbs replace.

use alloc::vec::Vec;
use core::future::Future;

use crate::credential::oob::{OobChallenge, OobCode, OobConfig, SendDecision};
use crate::credential::phone::PhoneNumber;
use crate::credential::recovery::RecoveryCodeSet;
use crate::credential::throttle::{
    ThrottlePolicy, ThrottleReservation, ThrottleState, ThrottleUpdate,
};
use crate::policy::audit::AuditEvent;
use crate::policy::enrollment::Mfa;
use crate::policy::ids::{AuthenticatorId, OrgId, PersonId};
use crate::policy::login::PasswordState;
use crate::policy::organisation::Organisation;

#[cfg(feature = "test-util")]
pub mod conformance;
pub mod invitations;
pub mod login;
#[cfg(feature = "memory")]
pub(crate) mod memory;
#[cfg(feature = "passkeys")]
pub mod passkeys;
pub(crate) mod records;
pub(crate) mod sessions;

#[cfg(feature = "memory")]
pub use memory::{Delivery, MemoryAuditLog, MemoryStore, MemoryStoreError, RecordingNotifier};

pub use crate::credential::token::TokenDigest;
pub use login::{
    CounterWrite, FactorRemoval, LoginCounters, LoginSnapshot, LoginStore, MfaWrite, NextTicket,
    OobWrite, SnapshotAt, StepWrite, WithPasskeys,
};

pub use invitations::{InvitationRecord, InvitationStore};
pub use records::{
    AccountTokenPurpose, AccountTokenRecord, Login, LoginChange, OobChallengeRecord, OobPurpose,
    PendingStep, PersonRecord, PruneReport, RecoverySlot, SetupTokenRecord, ThrottleKey,
    ThrottleOp, TicketRecord, Versioned,
};
pub use sessions::{SessionPruneReport, SessionStore};

#[cfg(feature = "passkeys")]
pub use passkeys::{
    PasskeyChallengeRecord, PasskeyPurpose, PasskeyRecord, PasskeyStore, PasskeyUseWrite,
};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod sql;

#[cfg(feature = "postgres")]
pub use sql::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::sqlite::SqliteStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{DatabaseError, Dialect, SqlStore, SqlStoreError};

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

    /// Replaces the password hash with `new_hash` — the same password hashed again under newer
    /// parameters — only if the stored hash is still `expected_hash`. The password state (a
    /// `Compromised` mark included) and expiry are left as they are. `false` if the person does
    /// not exist or the hash changed meanwhile: a concurrent password change wins, and is never
    /// reverted to the old password.
    ///
    /// Atomic with respect to concurrent calls and to [`Self::set_password`] (one guarded
    /// `UPDATE … WHERE password_hash = expected`).
    fn upgrade_password_hash(
        &self,
        id: PersonId,
        expected_hash: &str,
        new_hash: &str,
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

    /// **Atomic.** Marks the person's address verified at `at`, only if their login is still
    /// `login` (a link sent to an address the person has since left proves nothing) and it is
    /// not verified yet; `true` if this call marked it.
    fn mark_address_verified(
        &self,
        id: PersonId,
        login: &Login,
        at: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// **Atomic.** Changes the person's login from `from` to `to`, verified at `verified_at`,
    /// only if their login is still `from` and nobody holds `to` (one guarded `UPDATE`, the
    /// unique login deciding a race between two people).
    fn change_login(
        &self,
        id: PersonId,
        from: &Login,
        to: &Login,
        verified_at: u64,
    ) -> impl Future<Output = Result<LoginChange, Self::Error>> + Send;

    /// The stored throttle state of a counter (the default state if none is stored).
    fn throttle(
        &self,
        key: &ThrottleKey,
    ) -> impl Future<Output = Result<ThrottleState, Self::Error>> + Send;

    /// **Atomic.** Reserves an attempt at the counter `key` before it is verified: decides with
    /// [`ThrottlePolicy::reserve`] on the stored state at `now` and, if the attempt is allowed,
    /// stores the state with the attempt already counted as a failure — in one step. Of many
    /// concurrent calls, no more are allowed than the policy allows at that instant (two servers
    /// never reserve from the same old state). A refused attempt writes nothing. A verified
    /// attempt is then settled with [`UserStore::apply_throttle`] and [`ThrottleOp::Success`].
    fn reserve_attempt(
        &self,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> impl Future<Output = Result<ThrottleReservation, Self::Error>> + Send;

    /// **Atomic.** Applies `op` to the stored state of `key` with `policy` and returns the
    /// update (new state and event); nothing is written when the state is unchanged.
    fn apply_throttle(
        &self,
        key: &ThrottleKey,
        op: ThrottleOp,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> impl Future<Output = Result<ThrottleUpdate, Self::Error>> + Send;

    /// Maintenance: deletes every throttle counter forgotten at `now`
    /// ([`ThrottleState::forget_at`] `<= now`), which decides exactly as no counter, and returns
    /// how many went. Counters for login names nobody holds are among them, so they stay bounded
    /// by the names tried within [`ThrottlePolicy::forget_after`] of their last wait. Live
    /// counters are never touched: running it twice, or concurrently with the other verbs, is
    /// harmless. Hosts call it through
    /// [`Authenticator::prune_expired`](crate::service::Authenticator::prune_expired).
    fn prune_throttles(&self, now: u64) -> impl Future<Output = Result<u64, Self::Error>> + Send;

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
/// codes and their send budgets (per person and purpose), setup tokens and pending-login
/// tickets.
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
    /// Writing back the set already in the slot (the same set id) keeps the slots spent in the
    /// store: the stored spent slots are the union of both, so a spent code never comes back.
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

    /// **Atomic.** Decides with [`OobPurpose::check_send`] whether `person` may have a code for
    /// `purpose` sent at `now`, against their stored [`OobSendLog`](crate::credential::oob::OobSendLog) for that
    /// purpose (an empty log if none), and stores [`OobPurpose::record_send`] only if it is
    /// allowed. Of many concurrent calls, no more are allowed than the cooldown, the hourly cap
    /// and (for verifications) the daily cap permit: two servers never both count from the same
    /// log.
    ///
    /// The budget is keyed by person and purpose, never by destination, so nobody else's sends
    /// can spend a person's budget (see [`OobSendLog`](crate::credential::oob::OobSendLog)).
    fn record_oob_send(
        &self,
        person: PersonId,
        purpose: OobPurpose,
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
        digest: &crate::credential::token::TokenDigest,
        now: u64,
    ) -> impl Future<Output = Result<Option<SetupTokenRecord>, Self::Error>> + Send;

    /// Stores a password-reset or address-verification token (its digest).
    fn insert_account_token(
        &self,
        token: &AccountTokenRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The account token with this digest and purpose if it has not expired at `now`, without
    /// spending it (the service checks a new password before it spends a reset token).
    fn account_token(
        &self,
        digest: &crate::credential::token::TokenDigest,
        purpose: AccountTokenPurpose,
        now: u64,
    ) -> impl Future<Output = Result<Option<AccountTokenRecord>, Self::Error>> + Send;

    /// **Atomic.** Removes and returns the account token with this digest and purpose if it has
    /// not expired at `now`; of many concurrent calls, at most one gets it. A token of another
    /// purpose is neither returned nor removed.
    fn take_account_token(
        &self,
        digest: &crate::credential::token::TokenDigest,
        purpose: AccountTokenPurpose,
        now: u64,
    ) -> impl Future<Output = Result<Option<AccountTokenRecord>, Self::Error>> + Send;

    /// Stores a pending-login ticket (its digest).
    fn insert_ticket(
        &self,
        ticket: &TicketRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// **Atomic.** Removes and returns the ticket with this digest if it has not expired at
    /// `now`; of many concurrent calls, at most one gets it.
    fn take_ticket(
        &self,
        digest: &crate::credential::token::TokenDigest,
        now: u64,
    ) -> impl Future<Output = Result<Option<TicketRecord>, Self::Error>> + Send;

    /// Maintenance: deletes every row that can no longer be used at `now` and reports how many
    /// of each kind went: tickets and setup tokens with `expires_at <= now` (the `take_*` verbs
    /// already refuse them), out-of-band challenges whose code expired
    /// ([`OobChallenge::expires_at`] `<= now`, any purpose and status), and send logs whose last
    /// send left the hourly window ([`OobSendLog::expires_at`](crate::credential::oob::OobSendLog::expires_at)
    /// `<= now`). Live rows are never touched, so pruning changes no answer of the other verbs
    /// and running it twice, or concurrently with them, is harmless.
    ///
    /// Without it, these rows accumulate: hosts call it from a periodic job, through
    /// [`Authenticator::prune_expired`](crate::service::Authenticator::prune_expired).
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
    /// An administrator cleared the account's failure counters and any lock.
    Unlocked,
    /// An administrator removed every second factor of the account (authenticator apps,
    /// recovery codes, phone): the person sets up MFA again at their next sign-in.
    MfaReset,
    /// An administrator removed the person from an organisation.
    RemovedFromOrganisation {
        /// The organisation.
        org: OrgId,
    },
    /// The person left an organisation.
    LeftOrganisation {
        /// The organisation.
        org: OrgId,
    },
    /// The phone number for sign-in codes was removed.
    PhoneRemoved,
    /// A passkey or security key was removed by the person (feature `passkeys`).
    #[cfg(feature = "passkeys")]
    PasskeyRemoved,
    /// A passkey's signature counter went backwards, the sign of a copied key: the sign-in was
    /// refused and every session ended (feature `passkeys`).
    #[cfg(feature = "passkeys")]
    PasskeyCloneSuspected,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed,
    /// Few recovery codes remain.
    RecoveryCodesLow,
    /// The password was changed.
    PasswordChanged,
    /// The password was reset through a forgotten-password link.
    PasswordReset,
    /// A change of the person's address to another one was asked for (sent to the current,
    /// old address: the person learns of it even if someone else asked).
    AddressChangeRequested,
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
        token: &'a crate::credential::token::BearerToken,
    },
    /// A forgotten-password link for the person, to their verified address `to`.
    PasswordReset {
        /// The person.
        person: PersonId,
        /// Where to send it (their login, a verified e-mail address).
        to: &'a Login,
        /// The token to put in the link.
        token: &'a crate::credential::token::BearerToken,
    },
    /// A link that verifies the address `to`: the person's login, or for
    /// [`AccountTokenPurpose::ChangeAddress`] the new address they asked for.
    AddressVerification {
        /// The person.
        person: PersonId,
        /// Whether it verifies the current login or a change to a new address.
        purpose: AccountTokenPurpose,
        /// Where to send it.
        to: &'a Login,
        /// The token to put in the link.
        token: &'a crate::credential::token::BearerToken,
    },
    /// The person's login changed from `old` to their new, verified address: tell the old
    /// address (the person's record already has the new one).
    AddressChanged {
        /// The person.
        person: PersonId,
        /// The address that is no longer theirs.
        old: &'a Login,
    },
    /// A security notice.
    Security {
        /// The person.
        person: PersonId,
        /// What happened.
        notice: SecurityNotice,
    },
    /// An invitation for an existing person to join an organisation.
    Invitation {
        /// The person invited.
        person: PersonId,
        /// The organisation.
        org: OrgId,
        /// The token to put in the link (accepted only in the person's own session).
        token: &'a crate::credential::token::BearerToken,
    },
    /// A reminder that the organisation requires MFA by a deadline.
    MfaReminder {
        /// The member.
        person: PersonId,
        /// The organisation.
        org: OrgId,
        /// Their deadline (unix seconds).
        deadline: u64,
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

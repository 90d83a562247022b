//! The login path at the database floor: [`LoginStore`], its one-statement read
//! ([`LoginSnapshot`]) and its guarded writes ([`StepWrite`]).
//!
//! A login step needs, together, the pending-login ticket, the person, their organisation, their
//! MFA state with its replay watermarks, their active recovery-code set and their throttle
//! counters. [`LoginStore::login_snapshot`] reads them in one statement, and
//! [`LoginStore::apply_step`] commits a step's outcome in one transaction whose every write is
//! guarded by that read. [`LoginStore::locked_step`] does both in one transaction under a lock
//! on the person, with the pure decision (throttle, code check, login decision) in between: a
//! second-factor step is then one read, the watermark and the ticket — three statements and
//! one commit (`BEGIN` and `COMMIT` are not counted as statements).
//!
//! # Why every attempt is still counted before its outcome is revealed
//!
//! A fast check (an app or SMS code) runs inside [`LoginStore::locked_step`]: the throttle
//! decision, the check and the counted failure or spent code are one commit, and the steps of one
//! person are serialised by the lock, so each decides on the state the previous ones committed —
//! exactly as if each attempt had been reserved first. A slow check (argon2: a password, a
//! recovery code) holds no lock: its attempt is counted first with a compare-and-swap on the
//! counter as read ([`LoginStore::apply_step`]), committed before the hashing starts, and its
//! outcome is committed afterwards guarded by the counted state (a lost guard decides again on
//! a fresh read). Either way an outcome is revealed only after a commit made on the counter state
//! it was decided on, so concurrent attempts are never allowed more than the policy allows at
//! that instant, and a refused attempt is neither verified nor written.

use alloc::vec::Vec;
use core::future::Future;

use crate::credential::factor::ThrottledFactor;
use crate::credential::oob::OobChallenge;
use crate::credential::recovery::RecoveryCodeSet;
use crate::credential::throttle::ThrottleState;
use crate::credential::token::TokenDigest;
use crate::policy::enrollment::Mfa;
use crate::policy::ids::{AuthenticatorId, OrgId, PersonId, SessionId};
use crate::policy::organisation::Organisation;
use crate::store::invitations::InvitationStore;
use crate::store::records::{
    Login, OobChallengeRecord, OobPurpose, PersonRecord, RecoverySlot, ThrottleKey, TicketRecord,
    Versioned,
};
use crate::store::sessions::SessionStore;
use crate::store::{SecretStore, UserStore};

/// Where a [`LoginSnapshot`] starts from.
#[derive(Clone, Copy, Debug)]
pub enum SnapshotAt<'a> {
    /// A pending-login ticket (its digest): only a ticket unexpired at `now` is read, and the
    /// rest is its person's.
    Ticket(&'a TokenDigest),
    /// A login name (the password step): the person holding it, if any, and the name's password
    /// counter either way.
    Login(&'a Login),
    /// A person (a signed-in step-up check, an enrollment). The login name's password counter is
    /// not read (`counters.login` is `None`): nothing decided on a person's snapshot needs it.
    Person(PersonId),
}

/// The stored throttle counters a login step decides on; `None` where no counter is stored
/// (which decides as a fresh one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginCounters {
    /// The password counter of the login name.
    pub login: Option<ThrottleState>,
    /// The person's TOTP counter.
    pub totp: Option<ThrottleState>,
    /// The person's recovery-code counter.
    pub recovery_code: Option<ThrottleState>,
    /// The person's out-of-band counter.
    pub out_of_band: Option<ThrottleState>,
    /// The person's passkey counter (feature `passkeys`).
    #[cfg(feature = "passkeys")]
    pub passkey: Option<ThrottleState>,
}

impl LoginCounters {
    /// The stored counter of a second factor.
    pub fn factor(&self, factor: ThrottledFactor) -> Option<ThrottleState> {
        match factor {
            ThrottledFactor::Totp => self.totp,
            ThrottledFactor::RecoveryCode => self.recovery_code,
            ThrottledFactor::OutOfBand => self.out_of_band,
            #[cfg(feature = "passkeys")]
            ThrottledFactor::Passkey => self.passkey,
            // The password is counted per login name (`login`).
            ThrottledFactor::Password => None,
        }
    }
}

/// Everything one login step decides on, read in one statement by
/// [`LoginStore::login_snapshot`] (and under the person's lock by [`LoginStore::locked_step`]).
///
/// Holds the MFA state, whose authenticator secrets are secret: it is never logged.
#[derive(Debug, Default)]
pub struct LoginSnapshot {
    /// The ticket, if the snapshot started from one that is live at `now`. Nothing else is read
    /// without it.
    pub ticket: Option<TicketRecord>,
    /// The person.
    pub person: Option<PersonRecord>,
    /// The organisation the caller named, if any, with its version.
    pub organisation: Option<Versioned<Organisation>>,
    /// The person's MFA state, with every stored watermark restored
    /// ([`Mfa::restore_watermark`]).
    pub mfa: Option<Versioned<Mfa>>,
    /// The person's active recovery-code set, with its spent slots.
    pub recovery: Option<RecoveryCodeSet>,
    /// The counters: the login name's, and the person's second factors'.
    pub counters: LoginCounters,
    /// The person's sign-in out-of-band challenge ([`OobPurpose::SignIn`]), if any.
    pub sign_in_challenge: Option<OobChallengeRecord>,
    /// The person's security epoch ([`SessionStore::security_epoch`]), read with the person:
    /// the password step starts the login at it.
    pub epoch: Option<u64>,
    /// Whether the person has a registered passkey or security key (feature `passkeys`).
    #[cfg(feature = "passkeys")]
    pub has_passkey: bool,
}

/// A throttle counter's compare-and-swap: written only if it still holds `expected` (`None`:
/// only if none is stored). A fresh `new` deletes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterWrite {
    /// The counter.
    pub key: ThrottleKey,
    /// The state the decision was made on, as read (`None`: no counter stored).
    pub expected: Option<ThrottleState>,
    /// The state to store.
    pub new: ThrottleState,
}

impl CounterWrite {
    /// Whether applying it changes nothing (so a store skips it).
    pub fn is_noop(&self) -> bool {
        match self.expected {
            Some(expected) => expected == self.new,
            None => self.new == ThrottleState::new(),
        }
    }
}

/// An out-of-band challenge's compare-and-swap, as [`SecretStore::replace_oob_challenge`].
#[derive(Clone, Debug)]
pub struct OobWrite {
    /// The person.
    pub person: PersonId,
    /// Which of their challenges.
    pub purpose: OobPurpose,
    /// The challenge the decision was made on.
    pub expected: OobChallenge,
    /// The challenge to store (`None`: delete it).
    pub new: Option<OobChallengeRecord>,
}

/// An MFA state's compare-and-swap, as [`SecretStore::replace_mfa`] (watermarks never move
/// down).
#[derive(Debug)]
pub struct MfaWrite {
    /// The person.
    pub person: PersonId,
    /// The state to store.
    pub mfa: Mfa,
    /// The version the decision was made on (`None`: only if there is none yet).
    pub expected_version: Option<u64>,
}

/// The outcome of a login step, as guarded writes that [`LoginStore::apply_step`] commits in one
/// transaction, all or nothing: if any guard fails, nothing is written and the step is decided
/// again from a fresh read.
#[derive(Debug, Default)]
#[must_use]
pub struct StepWrite {
    /// Counters to compare-and-swap (failures counted, counters cleared).
    pub counters: Vec<CounterWrite>,
    /// A TOTP step spent: raises the authenticator's watermark to the step, guarded by
    /// `last_step < step` (the guard fails for a step already spent).
    pub watermark: Option<(PersonId, AuthenticatorId, u64)>,
    /// A recovery code spent: slot `index` of the active set `set_id`, guarded as
    /// [`SecretStore::spend_recovery_code`].
    pub recovery_spend: Option<(PersonId, [u8; 16], u8)>,
    /// An out-of-band challenge replaced (a code spent or an attempt counted).
    pub oob: Option<OobWrite>,
    /// The MFA state replaced (an enrollment confirmed).
    pub mfa: Option<MfaWrite>,
    /// A recovery-code set stored in a slot, as [`SecretStore::replace_recovery_codes`]
    /// (unguarded).
    pub recovery_set: Option<(PersonId, RecoverySlot, RecoveryCodeSet)>,
    /// The ticket to consume (the guard fails if it is gone).
    pub spend_ticket: Option<TokenDigest>,
    /// The ticket for the next step, if any.
    pub next_ticket: Option<NextTicket>,
}

/// A ticket for a login's next step, with the login name of its person: a store that keys the
/// name's password counter (by a keyed digest, as the SQL stores do) keeps that key beside the
/// ticket, so the next step's snapshot reads the counter in the same statement.
#[derive(Clone, Debug)]
pub struct NextTicket {
    /// The ticket.
    pub record: TicketRecord,
    /// The login name of the ticket's person.
    pub login: Login,
}

impl StepWrite {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.counters.iter().all(CounterWrite::is_noop)
            && self.watermark.is_none()
            && self.recovery_spend.is_none()
            && self.oob.is_none()
            && self.mfa.is_none()
            && self.recovery_set.is_none()
            && self.spend_ticket.is_none()
            && self.next_ticket.is_none()
    }
}

/// With feature `passkeys`, a [`PasskeyStore`](crate::store::PasskeyStore): the store of a
/// [`LoginStore`] holds every factor of a person, so that an administrator's MFA reset and MFA
/// turned off remove their passkeys with the rest. Without the feature, any type. Implemented
/// for every type that qualifies.
#[cfg(feature = "passkeys")]
pub trait WithPasskeys: crate::store::PasskeyStore {}

#[cfg(feature = "passkeys")]
impl<T: crate::store::PasskeyStore> WithPasskeys for T {}

/// With feature `passkeys`, a [`PasskeyStore`](crate::store::PasskeyStore); without it, any
/// type. Implemented for every type that qualifies.
#[cfg(not(feature = "passkeys"))]
pub trait WithPasskeys {}

#[cfg(not(feature = "passkeys"))]
impl<T> WithPasskeys for T {}

/// The login steps' reads and writes, at the floor of one read and one commit per step.
///
/// Stores implement it beside [`UserStore`], [`SecretStore`] and [`SessionStore`] over the same
/// data, with the same error type (a completed login creates its session in the same store).
/// Every method is atomic with respect to concurrent calls, and none has a default body.
///
/// With feature `passkeys` the same store holds the passkeys too ([`WithPasskeys`]): every verb
/// that ends a person's MFA removes them with the other factors.
pub trait LoginStore:
    UserStore + SecretStore + SessionStore + InvitationStore + WithPasskeys
{
    /// Reads what a login step decides on, in one statement (no lock, no transaction): the live
    /// ticket (for [`SnapshotAt::Ticket`]), the person, the organisation `org`, the MFA state
    /// with its watermarks, the active recovery set and the counters (`org`: none is read without
    /// one). A ticket that is unknown
    /// or expired at `now` is an empty snapshot; the ticket is not consumed.
    fn login_snapshot(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
    ) -> impl Future<Output = Result<LoginSnapshot, <Self as SecretStore>::Error>> + Send;

    /// **Atomic.** Commits `write` in one transaction, every write guarded as documented on
    /// [`StepWrite`]; `false`, with nothing written, if any guard failed (the caller decides
    /// again from a fresh snapshot).
    fn apply_step(
        &self,
        write: &StepWrite,
    ) -> impl Future<Output = Result<bool, <Self as SecretStore>::Error>> + Send;

    /// **Atomic.** In one transaction under a lock on the person (SQLite: `BEGIN IMMEDIATE`;
    /// PostgreSQL: `FOR UPDATE` of the person's row), reads the snapshot, calls `decide` on it —
    /// a pure, fast decision: never password hashing — and commits the writes it returns.
    ///
    /// Of concurrent steps of one person, each decides on the state the previous ones committed,
    /// so a decision that counts a failure or spends a code is never made twice on the same
    /// state. If a guard still fails (a writer that does not take the lock, such as
    /// [`UserStore::reserve_attempt`], moved a counter), the transaction is rolled back and
    /// `decide` runs again on a fresh read, up to a few times. Returns the last decision's value.
    fn locked_step<T, F>(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
        decide: F,
    ) -> impl Future<Output = Result<T, <Self as SecretStore>::Error>> + Send
    where
        F: FnMut(&LoginSnapshot) -> (StepWrite, T) + Send,
        T: Send;

    /// **Atomic.** Takes one factor away from the person ([`FactorRemoval`]) and moves their
    /// security epoch on, in one transaction, only while the epoch is still `expected_epoch` —
    /// the one read (with the factors, in one [`Self::login_snapshot`]) when the removal was
    /// decided. Every other session and remembered device of the person ends as with
    /// [`SessionStore::bump_epoch`]; the session `keep`, if any, is carried over to the new
    /// epoch. Returns the new epoch; `None`, with nothing written, if the epoch moved on, the
    /// person is gone, or the person holds no such factor.
    ///
    /// Every factor removal moves the epoch, so of two removals decided on the same factors
    /// (two servers removing a person's last two factors of different kinds, each checking
    /// that the other stays), one commits and the other finds the epoch moved: it decides
    /// again on what is left.
    fn remove_factor(
        &self,
        person: PersonId,
        factor: &FactorRemoval,
        expected_epoch: u64,
        keep: Option<SessionId>,
    ) -> impl Future<Output = Result<Option<u64>, <Self as SecretStore>::Error>> + Send;
}

/// A factor [`LoginStore::remove_factor`] takes away.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FactorRemoval {
    /// The person's verified phone number (SMS codes stop): held while they have one.
    Phone,
    /// The person's passkey or security key with this credential id (feature `passkeys`).
    #[cfg(feature = "passkeys")]
    Passkey {
        /// The credential id.
        credential_id: Vec<u8>,
    },
}

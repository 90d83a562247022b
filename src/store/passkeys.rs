//! [`PasskeyStore`]: a person's WebAuthn credentials, their user handle, and the ceremony states
//! kept server-side between a ceremony's start and its finish (feature `passkeys`).
//!
//! # Atomic verbs
//!
//! | method | SQL shape |
//! |---|---|
//! | [`PasskeyStore::ensure_user_handle`] | `INSERT INTO passkey_users (person, handle) SELECT $p, $h WHERE EXISTS (SELECT 1 FROM people WHERE id = $p) ON CONFLICT DO NOTHING`, then the stored handle |
//! | [`PasskeyStore::put_passkey_challenge`] | `INSERT … ON CONFLICT (person, purpose, ticket) DO UPDATE` (a new start replaces the pending one) |
//! | [`PasskeyStore::take_passkey_challenge`] | `DELETE FROM passkey_challenges WHERE person = $p AND purpose = $purpose AND ticket = $t RETURNING …` (an expired one is deleted and not returned) |
//! | [`PasskeyStore::insert_passkey`] | `INSERT INTO passkeys … SELECT … FROM people WHERE id = $p AND epoch = $e FOR UPDATE ON CONFLICT (credential_id) DO NOTHING` (the id is unique across people; nothing is written once the person's security epoch moved on) |
//! | [`PasskeyStore::record_passkey_use`] | `UPDATE passkeys SET counter = $new, key = $k, backup_state = $bs, … WHERE person = $p AND credential_id = $id AND counter = $expected` |
//! | [`PasskeyStore::passkey_by_id`] | `SELECT … FROM passkeys WHERE credential_id = $id` |
//! | [`PasskeyStore::remove_passkeys`] | `DELETE FROM passkeys WHERE person = $p`, and the person's ceremony states |
//! | [`PasskeyStore::prune_passkey_challenges`] | `DELETE FROM passkey_challenges WHERE expires_at <= $now` |
//!
//! One credential is removed with [`LoginStore::remove_factor`](crate::store::LoginStore::remove_factor)
//! ([`FactorRemoval::Passkey`](crate::store::FactorRemoval::Passkey)): guarded by the person's
//! security epoch, as every factor removal is, so that removals of different kinds racing for
//! a person's last counted factors cannot both land.

use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use crate::credential::passkey::{CredentialKey, UserHandle};
use crate::credential::token::TokenDigest;
use crate::policy::ids::{PersonId, SessionId};

/// A person's registered credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// Its owner.
    pub person: PersonId,
    /// The credential id (unique across people).
    pub credential_id: Vec<u8>,
    /// The name the person gave it ("YubiKey", "Laptop").
    pub name: String,
    /// The credential as the relying party keeps it (public key, counter, flags).
    pub key: CredentialKey,
    /// The signature counter last seen.
    pub counter: u32,
    /// Whether it may be backed up (synced).
    pub backup_eligible: bool,
    /// Whether it was backed up when last seen.
    pub backup_state: bool,
    /// When it was registered (unix seconds).
    pub created_at: u64,
    /// When it was last used to sign in, if ever.
    pub last_used_at: Option<u64>,
}

/// What a ceremony state is for: one pending state per person, purpose and login ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PasskeyPurpose {
    /// Registering a new credential for a signed-in person.
    Register,
    /// Presenting a credential as the second factor of a pending login.
    SignIn,
    /// A verified first credential waiting for the person to acknowledge their new recovery
    /// codes: its `state` is the credential, which counts only once it is acknowledged.
    Acknowledge,
    /// Re-authenticating a signed-in person inside their session (a step-up); the ticket is
    /// the digest of the session's token.
    Reauthenticate,
    /// A passwordless sign-in, started before anyone is known: the person is
    /// [`PersonId::new(0)`](PersonId::new) and the ticket the digest of the attempt's token.
    Passwordless,
}

/// A ceremony state kept server-side between its start and its finish: single-use, bound to
/// the person (and, for a sign-in, to the pending login's ticket), and short-lived. Its
/// `Debug` leaves the state out: it holds the challenge and, for an acknowledgement, the
/// credential itself.
#[derive(Clone, PartialEq, Eq)]
pub struct PasskeyChallengeRecord {
    /// The person the ceremony is for.
    pub person: PersonId,
    /// What it is for.
    pub purpose: PasskeyPurpose,
    /// For a registration, the name to give the credential; for a sign-in, empty.
    pub name: String,
    /// For a sign-in, the digest of the login ticket it was started with.
    pub ticket: Option<TokenDigest>,
    /// The `webauthn-rs` state (JSON): server-side only.
    pub state: String,
    /// When it stops being accepted (unix seconds).
    pub expires_at: u64,
}

impl core::fmt::Debug for PasskeyChallengeRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PasskeyChallengeRecord")
            .field("person", &self.person)
            .field("purpose", &self.purpose)
            .field("name", &self.name)
            .field("ticket", &self.ticket)
            .field("state", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What one verified authentication writes over a stored credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyUseWrite {
    /// The counter the decision was made on, as read: the write applies only while it is still
    /// stored.
    pub expected_counter: u32,
    /// The new counter.
    pub counter: u32,
    /// The credential with its new counter and flags.
    pub key: CredentialKey,
    /// The backup state reported.
    pub backup_state: bool,
    /// The backup eligibility (it only ever turns on).
    pub backup_eligible: bool,
    /// When it was used.
    pub used_at: u64,
}

/// A person's passkeys, their WebAuthn user handle, and ceremony states.
///
/// Credential ids are unique across people, a ceremony state is spent once (two servers
/// finishing the same ceremony: one gets it), and a use is recorded only over the counter it
/// was checked against.
pub trait PasskeyStore: Send + Sync {
    /// The store's error type for faults.
    type Error: std::error::Error + Send + Sync + 'static;

    /// **Atomic.** The person's user handle: the stored one, or `candidate` stored now if they
    /// have none. `None` (nothing written) if the person does not exist.
    fn ensure_user_handle(
        &self,
        person: PersonId,
        candidate: UserHandle,
    ) -> impl Future<Output = Result<Option<UserHandle>, Self::Error>> + Send;

    /// Stores a ceremony state, replacing the person's pending one for the same purpose and
    /// ticket (a registration has none; two logins of one person have their own ceremonies).
    fn put_passkey_challenge(
        &self,
        record: &PasskeyChallengeRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// **Atomic.** Removes and returns the person's pending state for `purpose` and `ticket` if
    /// it is live at `now` (`expires_at > now`); `None` otherwise. Of concurrent calls, at most
    /// one gets it.
    fn take_passkey_challenge(
        &self,
        person: PersonId,
        purpose: PasskeyPurpose,
        ticket: Option<&TokenDigest>,
        now: u64,
    ) -> impl Future<Output = Result<Option<PasskeyChallengeRecord>, Self::Error>> + Send;

    /// **Atomic.** Stores a new credential while the person's security epoch is still `epoch`
    /// (the one the registering session was checked at) and, in the same write, moves the
    /// epoch on as [`SessionStore::bump_epoch`](crate::store::SessionStore::bump_epoch) does:
    /// every session and remembered device of the person ends but `keep`, which is carried
    /// over to the new epoch. A factor was added, and a decision another server made on the
    /// factors it read before (a removal of what it took for the last passkey) no longer lands.
    /// The new epoch; `None` (nothing written) if any person already has a credential with its
    /// id, or the person's epoch moved on (an MFA reset, MFA turned off, "sign out everywhere"
    /// landed meanwhile), or the person is gone.
    fn insert_passkey(
        &self,
        record: &PasskeyRecord,
        epoch: u64,
        keep: Option<SessionId>,
    ) -> impl Future<Output = Result<Option<u64>, Self::Error>> + Send;

    /// Deletes every credential of the person and every ceremony state of theirs; how many
    /// credentials went. The user handle stays.
    fn remove_passkeys(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send;

    /// Maintenance: deletes the ceremony states that expired (`expires_at <= now`), of every
    /// purpose; how many went. The bundled stores run it from
    /// [`SecretStore::prune_expired`](crate::store::SecretStore::prune_expired).
    fn prune_passkey_challenges(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send;

    /// The credential with this id, whoever holds it.
    fn passkey_by_id(
        &self,
        credential_id: &[u8],
    ) -> impl Future<Output = Result<Option<PasskeyRecord>, Self::Error>> + Send;

    /// The person's credentials, oldest first.
    fn passkeys(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<Vec<PasskeyRecord>, Self::Error>> + Send;

    /// **Atomic.** Records a use of the person's credential `credential_id`, only if its stored
    /// counter is still `write.expected_counter`; `false` (nothing written) otherwise, or if the
    /// person has no such credential.
    fn record_passkey_use(
        &self,
        person: PersonId,
        credential_id: &[u8],
        write: &PasskeyUseWrite,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

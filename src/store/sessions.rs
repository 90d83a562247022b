//! [`SessionStore`]: server-side sessions, remembered devices and each person's security epoch.

use alloc::vec::Vec;
use core::future::Future;

use crate::credential::token::TokenDigest;
use crate::policy::ids::PersonId;
use crate::policy::ids::SessionId;
use crate::policy::session::{
    DeviceTokenRecord, DeviceTokenView, ListedSession, SessionLabels, SessionRecord, SessionTouch,
    SessionView,
};

/// What [`SessionStore::prune_sessions`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[must_use]
pub struct SessionPruneReport {
    /// Sessions past their lifetime or idle timeout, or older than their person's epoch.
    pub sessions: u64,
    /// Device tokens past their expiry, or older than their person's epoch.
    pub device_tokens: u64,
}

/// Sessions, remembered-device tokens, and each person's security epoch.
///
/// Tokens arrive already hashed ([`TokenDigest`]): the store never sees one. A session or
/// device token is only ever written at the epoch it was computed from, and every check
/// compares it with the person's current epoch, so bumping the epoch
/// ([`SessionStore::bump_epoch`]) ends every session and device token of the person — those
/// created concurrently with the bump included. Stores that write to disk authenticate the
/// session and device-token rows with a host key, so that a row forged in the database is an
/// error rather than a sign-in.
///
/// A person unknown to the store has no epoch: nothing can be created for them.
pub trait SessionStore: Send + Sync {
    /// The store's error type for faults.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The person's current security epoch (0 until the first bump); `None` if the person does
    /// not exist.
    fn security_epoch(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<Option<u64>, Self::Error>> + Send;

    /// **Atomic.** Adds one to the person's security epoch and, in the same step, deletes every
    /// session and device token of theirs except their session with the id `keep` (the one the
    /// change was made in, if it is to stay signed in), which is carried over to the new epoch. Returns
    /// the new epoch; `None` (and nothing written) if the person does not exist. A session or
    /// device token created concurrently, at the old epoch, is dead once this returns.
    fn bump_epoch(
        &self,
        person: PersonId,
        keep: Option<SessionId>,
    ) -> impl Future<Output = Result<Option<u64>, Self::Error>> + Send;

    /// **Atomic.** Stores a new session under `digest`, only if the person's epoch is still
    /// `session.epoch` and no session has this digest or id; `false` (nothing written)
    /// otherwise.
    fn create_session(
        &self,
        digest: &TokenDigest,
        session: &SessionRecord,
        labels: &SessionLabels,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The per-request read: the session with this digest, with its person's current epoch and
    /// deactivation and their membership and MFA policy in the session's organisation, read
    /// together (one indexed read, a join in SQL); `None` if no session has this digest.
    fn session(
        &self,
        digest: &TokenDigest,
    ) -> impl Future<Output = Result<Option<SessionView>, Self::Error>> + Send;

    /// The person's session with this id, read as [`SessionStore::session`] reads it (with the
    /// person's epoch and deactivation, the membership and the MFA policy); `None` if the person
    /// has no session with it. The service reads a [`Grant`]'s session with it, so that a grant
    /// stands only while its session does.
    ///
    /// [`Grant`]: crate::policy::login::Grant
    fn session_by_id(
        &self,
        person: PersonId,
        id: SessionId,
    ) -> impl Future<Output = Result<Option<SessionView>, Self::Error>> + Send;

    /// Replaces the labels of the session with this digest (where it was opened, for
    /// [`SessionStore::sessions_of`]); `false` if no session has it. Labels decide nothing, so
    /// they are outside the rows' integrity tags.
    fn label_session(
        &self,
        digest: &TokenDigest,
        labels: &SessionLabels,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// **Atomic.** Writes `touch` (the new `last_seen` and idle expiry) only if the session's
    /// `last_seen` is still [`SessionTouch::expected_last_seen`]: of concurrent touches from
    /// the same read, one writes. `true` if this call wrote.
    fn touch_session(
        &self,
        digest: &TokenDigest,
        touch: &SessionTouch,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// **Atomic.** Moves the session stored under `old` to the digest `new` and replaces it
    /// with `session` (a re-authentication or step-up), only if the stored session under `old`
    /// has the same id, person and epoch; `false` (nothing written) otherwise. Of concurrent
    /// rotations of one token, one succeeds; the old token is worthless after it.
    fn rotate_session(
        &self,
        old: &TokenDigest,
        new: &TokenDigest,
        session: &SessionRecord,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Deletes the person's session with this id (signing out, or "sign out that device");
    /// `false` if they have none with it. Revoking all of a person's sessions is
    /// [`SessionStore::bump_epoch`], which also beats a racing login.
    fn revoke_session(
        &self,
        person: PersonId,
        id: SessionId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The person's sessions at their current epoch, with their labels, oldest first (for a
    /// "where you're signed in" page; expired ones may be among them until pruned).
    fn sessions_of(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<Vec<ListedSession>, Self::Error>> + Send;

    /// **Atomic.** Stores a device token under `digest`, only if its person's epoch is still
    /// `token.epoch`, and in the same step deletes the person's oldest device tokens beyond
    /// `max_per_person`; `false` (nothing written) if the epoch moved on or the digest is
    /// taken.
    fn insert_device_token(
        &self,
        digest: &TokenDigest,
        token: &DeviceTokenRecord,
        max_per_person: u32,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// The device token with this digest, with its person's current epoch and deactivation;
    /// `None` if there is none.
    fn device_token(
        &self,
        digest: &TokenDigest,
    ) -> impl Future<Output = Result<Option<DeviceTokenView>, Self::Error>> + Send;

    /// Maintenance: deletes every session past its lifetime or idle timeout at `now`, every
    /// device token past its expiry, and every session or device token older than its person's
    /// epoch, and reports how many went. Live rows are never touched: running it twice, or
    /// concurrently with the other verbs, is harmless.
    fn prune_sessions(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<SessionPruneReport, Self::Error>> + Send;
}

//! Server-side sessions: opening one when a login completes, the per-request
//! [`Authenticator::authenticate`], freshness, listing, revoking, and "sign out everywhere".
//!
//! The client holds only an opaque token ([`BearerToken`], e.g. in a cookie); the store keeps
//! its digest and the session ([`SessionRecord`]). Every request presents the token and gets the
//! current [`Grant`], built from the session and the live membership, or a typed
//! [`SessionRefused`] in [`ServiceError::Session`]. The decisions (what ends a session, roles
//! re-read on every check, recovery codes counting as fresh) are on
//! [`crate::policy::session`].
//!
//! A completed login opens its session itself ([`LoginStep::Granted`]); label it with
//! [`Authenticator::label_session`]. A [`Grant`] is a view of one session
//! ([`Grant::session`]): the verbs that take a `&Grant` read that session again first and
//! decide on what is stored, so a grant stands only while its session does (revoked, expired,
//! idle or outlived by a security change, it is refused), and a grant of the pure core, which
//! names no session, is refused by all of them. [`Grant`] never deserialises, so none comes
//! back from a cookie: the client keeps the token, and each request gets its grant from
//! [`Authenticator::authenticate`].
//!
//! When such a verb bumps the security epoch, the other sessions of the person end; the
//! caller's session:
//!
//! | change | the grant's session |
//! |---|---|
//! | a factor added ([`Authenticator::acknowledge_enrollment`], [`Authenticator::confirm_phone`]) | stays, as it was |
//! | recovery codes replaced ([`Authenticator::regenerate_recovery_codes`]) | stays, as it was |
//! | a factor removed, MFA off ([`Authenticator::remove_phone`], [`Authenticator::disable_mfa`]) | ends: it may rest on the factor that went |
//! | the password changed ([`Authenticator::change_password`]) | ends |
//!
//! The session counterparts keep the caller's session with a new token and end the others:
//! [`Authenticator::change_password_in_session`],
//! [`Authenticator::acknowledge_enrollment_in_session`] (which also raises it to AAL2),
//! [`Authenticator::reauthenticate_session`], and [`Authenticator::sign_out_everywhere`] with
//! `keep_this_one`.
//!
//! [`LoginStep::Granted`]: crate::service::LoginStep::Granted

use alloc::vec::Vec;

use crate::credential::factor::FactorKind;
use crate::credential::password::Password;
use crate::credential::token::{BearerToken, TokenDigest};
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::factors::{Aal, Factor};
use crate::policy::ids::AuthenticatorId;
use crate::policy::ids::SessionId;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::Grant;
use crate::policy::session::{
    ListedSession, SessionLabels, SessionRecord, SessionRefused, SessionView,
};
use crate::service::Authenticator;
use crate::service::backend::Backend;
use crate::service::error::ServiceError;
use crate::store::sessions::{SessionPruneReport, SessionStore};

/// A session a completed login opened.
#[derive(Debug)]
#[must_use = "hand the token to the client"]
pub struct OpenedSession {
    /// The token for the client (a cookie, say): a secret, shown once, stored only as a digest.
    pub token: BearerToken,
    /// The session's public handle (for listing and revoking).
    pub id: SessionId,
    /// The grant for this request.
    pub grant: Grant,
}

/// A session a login step decided to open, created once the step has committed.
pub(crate) struct NewSession {
    digest: TokenDigest,
    record: SessionRecord,
}

fn refused(reason: SessionRefused) -> ServiceError {
    ServiceError::Session(reason)
}

pub(super) fn digest_of(token: &str) -> Result<TokenDigest, ServiceError> {
    BearerToken::parse(token)
        .map(|token| token.digest())
        .map_err(|_| refused(SessionRefused::Revoked))
}

impl<B: Backend> Authenticator<B> {
    /// A new session for `grant` at `epoch`: its token and id, and the record to create.
    pub(crate) fn new_session(
        &self,
        grant: &Grant,
        epoch: u64,
    ) -> Result<(OpenedSession, NewSession), ServiceError> {
        let mut id = [0u8; 16];
        rand_core::TryRng::try_fill_bytes(&mut getrandom::SysRng, &mut id)
            .map_err(|_| ServiceError::Core(crate::error::Error::Random))?;
        let id = SessionId::new(u128::from_be_bytes(id));
        let record = SessionRecord::start(id, grant, epoch, self.config.sessions());
        let token = BearerToken::generate()?;
        let new = NewSession {
            digest: token.digest(),
            record,
        };
        let opened = OpenedSession {
            token,
            id,
            grant: grant.in_session(id),
        };
        Ok((opened, new))
    }

    /// Creates a session a login step decided on, unlabelled; `false` if the person's epoch
    /// moved on since the login started (or the person is gone).
    pub(crate) async fn create_new_session(&self, new: &NewSession) -> Result<bool, ServiceError> {
        self.backend
            .store()
            .create_session(&new.digest, &new.record, &SessionLabels::default())
            .await
            .map_err(ServiceError::storage)
    }

    /// The per-request check: the grant of the session with this token, or why there is none
    /// ([`ServiceError::Session`]: revoked or unknown, stale epoch, deactivated, expired, idle,
    /// no longer a member, MFA now required). One read of the store; `last_seen` is written at
    /// most once per touch interval, never on every request.
    pub async fn authenticate(&self, token: &str) -> Result<Grant, ServiceError> {
        let digest = digest_of(token)?;
        self.checked(&digest).await.map(|(grant, _)| grant)
    }

    /// [`Self::authenticate`], and then the freshness a sensitive verb needs: the factors were
    /// verified at most `max_age` seconds ago, at `aal` or above (GitHub's "sudo mode"; a
    /// recovery code counts). [`PolicyError::ReauthenticationRequired`](crate::policy::PolicyError::ReauthenticationRequired)
    /// otherwise.
    pub async fn require_fresh(
        &self,
        token: &str,
        max_age: u64,
        aal: Aal,
    ) -> Result<Grant, ServiceError> {
        let digest = digest_of(token)?;
        let (grant, view) = self.checked(&digest).await?;
        view.session
            .require_fresh(self.now(), max_age, aal)
            .map_err(ServiceError::Policy)?;
        Ok(grant)
    }

    /// Re-authentication inside a session (GitHub's "sudo mode"): the password and a code from
    /// the app, verified and throttled as at sign-in (each reserved on its counter first); the
    /// session becomes fresh at AAL2 and its lifetime starts again. A person with no second
    /// factor yet gives the password alone and an empty `code` (a code is refused as
    /// [`ServiceError::InvalidCredentials`]): the session becomes fresh at AAL1, which is what
    /// binding a first factor asks for. The token rotates: the old one stops
    /// working, and the new one is returned with the fresh grant.
    pub async fn reauthenticate_session(
        &self,
        token: &str,
        password: Password,
        code: &str,
    ) -> Result<OpenedSession, ServiceError> {
        let digest = digest_of(token)?;
        let (grant, view) = self.checked(&digest).await?;
        let fresh = self.reauthenticate(&grant, password, code).await?;
        let session =
            view.session
                .reauthenticated(fresh.factors(), self.config.sessions(), self.now());
        self.rotate(&digest, &session).await
    }

    /// "I have safely recorded this", inside a session: activates the authenticator and its
    /// recovery codes ([`Self::acknowledge_enrollment`]), ends every other session of the
    /// person (a factor was added), and raises this one to AAL2 — the newcomer who just set up
    /// MFA need not sign in again before, say, enforcing it for their organisation. The token
    /// rotates: the new one is returned with the AAL2 grant.
    pub async fn acknowledge_enrollment_in_session(
        &self,
        token: &str,
    ) -> Result<(AuthenticatorId, OpenedSession), ServiceError> {
        let digest = digest_of(token)?;
        let (grant, _) = self.checked(&digest).await?;
        let id = self.acknowledge_keeping(&grant, grant.session()).await?;
        // Carried over to the new epoch by the bump: read it back, and raise it.
        let (_, view) = self.checked(&digest).await?;
        let raised = view.session.raised(
            Factor::Second(FactorKind::Totp),
            self.config.sessions(),
            self.now(),
        );
        Ok((id, self.rotate(&digest, &raised).await?))
    }

    /// "I have safely recorded this" for a first passkey, inside a session: as
    /// [`Self::acknowledge_passkey`] (the recovery codes go live, the passkey counts, every
    /// other session of the person ends), and this session is raised to AAL2 with the passkey
    /// among its factors. The token rotates: the new one is returned with the AAL2 grant.
    #[cfg(feature = "passkeys")]
    pub async fn acknowledge_passkey_in_session(
        &self,
        token: &str,
    ) -> Result<(crate::service::PasskeyInfo, OpenedSession), ServiceError> {
        let digest = digest_of(token)?;
        let (grant, _) = self.checked(&digest).await?;
        let info = self.acknowledge_passkey(&grant).await?;
        // Carried over to the new epoch by the bump: read it back, and raise it.
        let (_, view) = self.checked(&digest).await?;
        let raised = view.session.raised(
            Factor::Second(FactorKind::Passkey),
            self.config.sessions(),
            self.now(),
        );
        Ok((info, self.rotate(&digest, &raised).await?))
    }

    /// The password change inside a session: as [`Self::change_password`], except that this
    /// session stays signed in while every other session and remembered device of the person
    /// ends. The token rotates: the old one stops working, and the new one is returned with the
    /// grant. (With [`Self::change_password`] and a grant from [`Self::authenticate`], this
    /// session ends too.)
    pub async fn change_password_in_session(
        &self,
        token: &str,
        current: Password,
        new_password: Password,
    ) -> Result<OpenedSession, ServiceError> {
        let digest = digest_of(token)?;
        let (grant, _) = self.checked(&digest).await?;
        self.change_password_keeping(&grant, current, new_password, grant.session())
            .await?;
        // Carried over to the new epoch by the bump: read it back, and rotate it.
        let (_, view) = self.checked(&digest).await?;
        self.rotate(&digest, &view.session).await
    }

    /// Labels the session with where it was opened (the client's user agent and address, as
    /// the host sees them), for the "where you're signed in" list ([`Self::sessions`]). Call it
    /// after the login that opened it ([`LoginStep::Granted`](crate::service::LoginStep::Granted));
    /// a new label replaces the old. The labels are shown to the person and decide nothing.
    pub async fn label_session(
        &self,
        token: &str,
        labels: &SessionLabels,
    ) -> Result<(), ServiceError> {
        let digest = digest_of(token)?;
        let _ = self.checked(&digest).await?;
        if self
            .backend
            .store()
            .label_session(&digest, labels)
            .await
            .map_err(ServiceError::storage)?
        {
            Ok(())
        } else {
            Err(refused(SessionRefused::Revoked))
        }
    }

    /// Signs this session out (its token stops working at once).
    pub async fn sign_out(&self, token: &str) -> Result<(), ServiceError> {
        let digest = digest_of(token)?;
        let store = self.backend.store();
        let view = store
            .session(&digest)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(refused(SessionRefused::Revoked))?;
        if store
            .revoke_session(view.session.person, view.session.id)
            .await
            .map_err(ServiceError::storage)?
        {
            self.session_event(
                view.session.person,
                view.session.org,
                AuditKind::SessionRevoked,
            )
            .await?;
        }
        Ok(())
    }

    /// "Sign out everywhere": ends every session and remembered device of the signed-in
    /// person by bumping their security epoch, keeping this session signed in if
    /// `keep_this_one` ("sign out everywhere else"). A login completing concurrently does not
    /// outlive it. Returns the new epoch.
    pub async fn sign_out_everywhere(
        &self,
        token: &str,
        keep_this_one: bool,
    ) -> Result<u64, ServiceError> {
        let digest = digest_of(token)?;
        let (grant, _) = self.checked(&digest).await?;
        let epoch = self
            .end_sessions(
                grant.person(),
                keep_this_one.then(|| grant.session()).flatten(),
            )
            .await?;
        let kind = if keep_this_one {
            AuditKind::OtherSessionsRevoked
        } else {
            AuditKind::AllSessionsRevoked
        };
        self.session_event(grant.person(), grant.org(), kind)
            .await?;
        Ok(epoch)
    }

    /// The signed-in person's sessions, oldest first, for a "where you're signed in" page.
    pub async fn sessions(&self, token: &str) -> Result<Vec<ListedSession>, ServiceError> {
        let digest = digest_of(token)?;
        let (grant, _) = self.checked(&digest).await?;
        self.backend
            .store()
            .sessions_of(grant.person())
            .await
            .map_err(ServiceError::storage)
    }

    /// Signs out one of the signed-in person's sessions, by its id (from [`Self::sessions`]);
    /// `false` if they have none with it.
    pub async fn revoke_session(&self, token: &str, id: SessionId) -> Result<bool, ServiceError> {
        let digest = digest_of(token)?;
        let (grant, _) = self.checked(&digest).await?;
        let revoked = self
            .backend
            .store()
            .revoke_session(grant.person(), id)
            .await
            .map_err(ServiceError::storage)?;
        if revoked {
            self.session_event(grant.person(), grant.org(), AuditKind::SessionRevoked)
                .await?;
        }
        Ok(revoked)
    }

    /// Audits what the person did to their sessions.
    async fn session_event(
        &self,
        person: PersonId,
        org: OrgId,
        kind: AuditKind,
    ) -> Result<(), ServiceError> {
        self.record_one(
            self.now(),
            Actor::Person(person),
            Some(person),
            Some(org),
            kind,
        )
        .await
    }

    /// Maintenance: deletes expired, idle and stale sessions and remembered devices
    /// ([`SessionStore::prune_sessions`]). Call it beside
    /// [`Authenticator::prune_expired`].
    pub async fn prune_sessions(&self) -> Result<SessionPruneReport, ServiceError> {
        self.backend
            .store()
            .prune_sessions(self.now())
            .await
            .map_err(ServiceError::storage)
    }

    /// Bumps the person's security epoch: every session and remembered device of theirs ends,
    /// but `keep`; audited ([`AuditKind::SecurityEpochBumped`]). A person who is gone has
    /// nothing to end.
    pub(crate) async fn end_sessions(
        &self,
        person: PersonId,
        keep: Option<SessionId>,
    ) -> Result<u64, ServiceError> {
        self.end_sessions_by(Actor::Person(person), person, None, keep)
            .await
    }

    /// [`Self::end_sessions`] by `actor` (an administrator, say) in `org`.
    pub(crate) async fn end_sessions_by(
        &self,
        actor: Actor,
        person: PersonId,
        org: Option<OrgId>,
        keep: Option<SessionId>,
    ) -> Result<u64, ServiceError> {
        let Some(epoch) = self
            .backend
            .store()
            .bump_epoch(person, keep)
            .await
            .map_err(ServiceError::storage)?
        else {
            return Ok(0);
        };
        self.record_one(
            self.now(),
            actor,
            Some(person),
            org,
            AuditKind::SecurityEpochBumped { epoch },
        )
        .await?;
        Ok(epoch)
    }

    /// Writes `session` under a new token in place of the one under `old`, and checks it.
    pub(super) async fn rotate(
        &self,
        old: &TokenDigest,
        session: &SessionRecord,
    ) -> Result<OpenedSession, ServiceError> {
        let token = BearerToken::generate()?;
        let new = token.digest();
        if !self
            .backend
            .store()
            .rotate_session(old, &new, session)
            .await
            .map_err(ServiceError::storage)?
        {
            // Rotated, revoked or carried to a new epoch meanwhile.
            return Err(refused(SessionRefused::Revoked));
        }
        let (grant, _) = self.checked(&new).await?;
        Ok(OpenedSession {
            token,
            id: session.id,
            grant,
        })
    }

    /// The session under `digest`, checked at the clock's time, with its `last_seen` touched
    /// when due.
    pub(super) async fn checked(
        &self,
        digest: &TokenDigest,
    ) -> Result<(Grant, SessionView), ServiceError> {
        let store = self.backend.store();
        let view = store
            .session(digest)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(refused(SessionRefused::Revoked))?;
        let check = view
            .check(self.config.sessions(), self.now())
            .map_err(refused)?;
        if let Some(touch) = &check.touch {
            // Lost to a concurrent touch from the same read: that one wrote.
            let _written = store
                .touch_session(digest, touch)
                .await
                .map_err(ServiceError::storage)?;
        }
        Ok((check.grant, view))
    }
}

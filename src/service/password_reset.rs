//! The forgotten password: a single-use, expiring link to the person's verified address, and
//! the new password it sets.
//!
//! # What a reset does, and what it never does
//!
//! [`Authenticator::request_password_reset`] answers every request with the same `Ok(())`.
//! [`Authenticator::complete_password_reset`] sets a new password (through the password policy),
//! ends every session and remembered device of the person (their security epoch moves on), and
//! tells them. It never signs anyone in: it returns `Ok(())`, and the person then signs in with
//! the new password through [`Authenticator::login`] and meets their second factor there as at
//! any other sign-in. A reset does not touch MFA: no factor, recovery code or phone is removed,
//! and no second-factor throttle counter or lock is cleared (a person who lost their second
//! factor as well turns to an administrator's [`Authenticator::reset_member_mfa`]). The only
//! counter it clears is the password counter of the login name, since the old password it
//! counted guesses of is gone.
//!
//! # What a stranger learns
//!
//! Nothing from the answer: a login nobody holds, an unverified address, a deactivated person
//! and a throttled request all return `Ok(())` and send nothing; the audit trail says which
//! ([`AuditKind::PasswordResetRequested`]). The store calls have the same shape up to the person
//! lookup (the requester's counter, the login name's counter — kept for names nobody holds too —
//! and the person read). What differs is the work only a real, verified, active person causes:
//! reading their security epoch, storing the token's digest and calling the notifier. A host that
//! wants the timing flat too makes its [`Notifier`](crate::store::Notifier) queue the message
//! rather than send it inline.
//!
//! # Throttling
//!
//! Every request counts against two counters before anything else is read: the requester's (the
//! host's key for the client, its IP address say: [`ServiceConfig::default_requester_throttle`])
//! and the login name's ([`ServiceConfig::default_reset_throttle`]: 3 at once, then one per 20
//! minutes doubling to one an hour), whether or not anyone holds the name. A throttled requester
//! spends nothing of the login name's budget. Anyone can spend a login name's budget, so an
//! attacker can delay a person's reset links by an hour at a time (never for good); they cannot
//! make one go anywhere but the person's verified address.
//!
//! # The token
//!
//! 256 random bits, stored only as its digest, valid [`ServiceConfig::reset_ttl`] (1 hour by
//! default), spent by one atomic take (two servers completing it: one wins). It stands only
//! while the person's login and security epoch are those it was issued at: a password change, an
//! MFA change, another reset or a change of address ends every reset link sent before. A new
//! password refused by the policy does not spend it.
//!
//! [`ServiceConfig::default_requester_throttle`]: crate::service::ServiceConfig::default_requester_throttle
//! [`ServiceConfig::default_reset_throttle`]: crate::service::ServiceConfig::default_reset_throttle
//! [`ServiceConfig::reset_ttl`]: crate::service::ServiceConfig::reset_ttl

use crate::credential::password::Password;
use crate::credential::password::policy::PasswordContext;
use crate::credential::throttle::ThrottlePolicy;
use crate::credential::token::BearerToken;
use crate::policy::audit::{Actor, AuditKind, ResetRequest};
use crate::policy::login::PasswordState;
use crate::service::backend::Backend;
use crate::service::{Authenticator, HashJob, PasswordHashing, ServiceError};
use crate::store::records::{
    AccountTokenPurpose, AccountTokenRecord, Login, PersonRecord, ThrottleKey, ThrottleOp,
};
use crate::store::{Notification, SecretStore, SecurityNotice, SessionStore, UserStore};

impl<B: Backend> Authenticator<B> {
    /// "Forgot your password?": sends a single-use reset link to the login's address if a person
    /// holds the login, is active and has verified it. Always `Ok(())` otherwise too (only a
    /// store or audit fault is an error): the answer never tells whether the login exists, and
    /// the audit trail says what became of the request ([`AuditKind::PasswordResetRequested`]).
    ///
    /// `requester` is the host's key for the client (its IP address, say). Every request counts
    /// first against the requester's counter ([`ServiceConfig::default_requester_throttle`]) and
    /// then the login name's ([`ServiceConfig::default_reset_throttle`]: 3 at once, then one per
    /// 20 minutes doubling to one an hour), kept for names nobody holds too; a throttled request
    /// sends nothing. Anyone can spend a login name's budget and so delay its reset links by an
    /// hour at a time, never send one anywhere but the verified address.
    ///
    /// The store calls have one shape up to the person lookup (two counters, one person read);
    /// only a real, verified, active person adds an epoch read, the token's insert and the
    /// notifier call. A host that wants the timing flat too makes its notifier queue the
    /// message. The token is 256 random bits, stored as its digest, valid
    /// [`ServiceConfig::reset_ttl`] (1 hour by default), and stands only while the person's
    /// login and security epoch are those it was issued at. A delivery failure is audited
    /// ([`AuditKind::NotificationFailed`]) and still answers `Ok(())`.
    ///
    /// [`ServiceConfig::default_requester_throttle`]: crate::service::ServiceConfig::default_requester_throttle
    /// [`ServiceConfig::default_reset_throttle`]: crate::service::ServiceConfig::default_reset_throttle
    /// [`ServiceConfig::reset_ttl`]: crate::service::ServiceConfig::reset_ttl
    pub async fn request_password_reset(
        &self,
        login: &str,
        requester: &str,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let login = Login::new(login);
        let allowed = self
            .count_request(
                &ThrottleKey::requester(requester),
                &self.config.requester_throttle,
                now,
            )
            .await?
            && match &login {
                Some(login) => {
                    self.count_request(
                        &ThrottleKey::reset_login(login),
                        &self.config.reset_throttle,
                        now,
                    )
                    .await?
                }
                None => true,
            };
        let person = match (&login, allowed) {
            (Some(login), true) => self
                .backend
                .store()
                .person_by_login(login.as_str())
                .await
                .map_err(ServiceError::storage)?,
            _ => None,
        };
        let outcome = match (&person, allowed) {
            (_, false) => ResetRequest::Throttled,
            (None, true) => ResetRequest::UnknownLogin,
            (Some(p), true) if p.deactivated => ResetRequest::Deactivated,
            (Some(p), true) if p.address_verified_at.is_none() => ResetRequest::Unverified,
            (Some(_), true) => ResetRequest::Sent,
        };
        let subject = person.as_ref().map(|p| p.id);
        self.record_one(
            now,
            Actor::System,
            subject,
            None,
            AuditKind::PasswordResetRequested { outcome },
        )
        .await?;
        match person {
            Some(person) if outcome == ResetRequest::Sent => {
                self.send_reset_link(&person, now).await
            }
            _ => Ok(()),
        }
    }

    /// Follows a reset link: sets `new_password` (checked against the password policy), ends
    /// every session and remembered device of the person, clears their login name's password
    /// counter (no second-factor counter or lock), audits ([`AuditKind::PasswordReset`]) and
    /// notifies them ([`SecurityNotice::PasswordReset`]). It does not sign in: the person signs
    /// in with the new password and their second factor as usual. MFA is untouched (no factor
    /// removed, no second-factor counter or lock cleared): a person who lost their second factor
    /// too turns to an administrator ([`Authenticator::reset_member_mfa`]).
    ///
    /// A password the policy refuses is [`ServiceError::PasswordPolicy`] and leaves the token
    /// usable. An unknown, expired or spent token, one issued before the person's login or
    /// security epoch last changed, or one of a deactivated person, is
    /// [`ServiceError::InvalidCredentials`]; of two servers completing one token, one wins and
    /// the other gets that.
    pub async fn complete_password_reset(
        &self,
        token: &BearerToken,
        new_password: Password,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let digest = token.digest();
        let purpose = AccountTokenPurpose::PasswordReset;
        let store = self.backend.store();
        let Some(issued) = store
            .account_token(&digest, purpose, now)
            .await
            .map_err(ServiceError::storage)?
        else {
            return self.reject_token(None, now).await;
        };
        let Some(person) = self.token_holder(&issued).await? else {
            // Spent: it can never be good again.
            let _ = store
                .take_account_token(&digest, purpose, now)
                .await
                .map_err(ServiceError::storage)?;
            return self.reject_token(Some(issued.person), now).await;
        };
        let context = PasswordContext::new()
            .service_name(&self.config.issuer)
            .email(person.login.as_str());
        // The policy and the breach check, before the token is spent.
        self.check_new_password(&new_password, &context, Some(person.id), now)
            .await?;
        let taken = store
            .take_account_token(&digest, purpose, now)
            .await
            .map_err(ServiceError::storage)?;
        let Some(taken) = taken else {
            // Another server spent it first.
            return self.reject_token(Some(issued.person), now).await;
        };
        // Read again after the take: a reset or password change that committed meanwhile ended
        // this token.
        if self.token_holder(&taken).await?.is_none() {
            return self.reject_token(Some(taken.person), now).await;
        }
        let hash = self
            .backend
            .hasher()
            .run(HashJob::hash(new_password, false))
            .await
            .into_hash()?;
        // Sessions end before the password changes, so that a crash between the two writes
        // leaves no session that outlived the reset (the link is spent: ask for another), and
        // again after it, for a login with the old password that completed in between.
        let _ = self
            .end_sessions_by(Actor::System, person.id, None, None)
            .await?;
        if !store
            .set_password(person.id, hash.as_str(), PasswordState::Current, None)
            .await
            .map_err(ServiceError::storage)?
        {
            return Err(ServiceError::InvalidCredentials);
        }
        let _ = self
            .end_sessions_by(Actor::System, person.id, None, None)
            .await?;
        let _ = self
            .clear_throttle(&ThrottleKey::login(&person.login), ThrottleOp::Reset, now)
            .await?;
        self.record_one(
            now,
            Actor::Person(person.id),
            Some(person.id),
            None,
            AuditKind::PasswordReset,
        )
        .await?;
        self.notice(person.id, SecurityNotice::PasswordReset).await
    }

    /// Counts one request against `key`; whether it is allowed. A refused request writes
    /// nothing; an allowed one stays counted (requests are never settled as successes).
    async fn count_request(
        &self,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: u64,
    ) -> Result<bool, ServiceError> {
        let reservation = self
            .backend
            .store()
            .reserve_attempt(key, policy, now)
            .await
            .map_err(ServiceError::storage)?;
        Ok(reservation.decision().is_allowed())
    }

    /// Stores a reset token for `person` at their current epoch and sends its link.
    async fn send_reset_link(&self, person: &PersonRecord, now: u64) -> Result<(), ServiceError> {
        let Some(epoch) = self
            .backend
            .store()
            .security_epoch(person.id)
            .await
            .map_err(ServiceError::storage)?
        else {
            return Ok(());
        };
        let token = BearerToken::generate()?;
        self.backend
            .store()
            .insert_account_token(&AccountTokenRecord {
                digest: token.digest(),
                person: person.id,
                purpose: AccountTokenPurpose::PasswordReset,
                login: person.login.clone(),
                address: person.login.clone(),
                epoch,
                expires_at: now.saturating_add(self.config.reset_ttl),
            })
            .await
            .map_err(ServiceError::storage)?;
        let _ = self
            .notify(Notification::PasswordReset {
                person: person.id,
                to: &person.login,
                token: &token,
            })
            .await?;
        Ok(())
    }

    /// The person an account token stands for, if it still does: they exist, are active, and
    /// their login and security epoch are those the token was issued at.
    pub(super) async fn token_holder(
        &self,
        token: &AccountTokenRecord,
    ) -> Result<Option<PersonRecord>, ServiceError> {
        let store = self.backend.store();
        let Some(person) = store
            .person(token.person)
            .await
            .map_err(ServiceError::storage)?
        else {
            return Ok(None);
        };
        let epoch = store
            .security_epoch(person.id)
            .await
            .map_err(ServiceError::storage)?;
        let stands =
            !person.deactivated && person.login == token.login && epoch == Some(token.epoch);
        Ok(stands.then_some(person))
    }

    /// Audits a refused account token and answers [`ServiceError::InvalidCredentials`].
    pub(super) async fn reject_token<T>(
        &self,
        person: Option<crate::policy::ids::PersonId>,
        now: u64,
    ) -> Result<T, ServiceError> {
        self.record_one(now, Actor::System, person, None, AuditKind::TicketRejected)
            .await?;
        Err(ServiceError::InvalidCredentials)
    }
}

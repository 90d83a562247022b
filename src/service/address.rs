//! E-mail verification: the person's login, an e-mail address, is verified by a single-use
//! link, and a change of address counts only once the new address is verified.
//!
//! - [`Authenticator::sign_up`] sends a verification link to the new login;
//!   [`Authenticator::send_address_verification`] sends another.
//! - Completing an administrator's setup link ([`Authenticator::complete_setup`]) verifies the
//!   address too: the link went to that address, and following it proves it reached the person.
//! - [`Authenticator::change_address`] (step-up needed) sends a link to the new address and a
//!   notice to the current one; the new address counts for nothing — no sign-in, no reset —
//!   until [`Authenticator::verify_address`] follows that link, which changes the login in one
//!   guarded write and ends every session and remembered device of the person: the login is a
//!   credential, and whoever could sign in on the strength of the old one must sign in again.

use crate::credential::throttle::ThrottleDecision;
use crate::credential::token::BearerToken;
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::ids::PersonId;
use crate::policy::login::Grant;
use crate::service::account::Live;
use crate::service::backend::Backend;
use crate::service::{Authenticator, DeliveryStatus, ServiceError};
use crate::store::records::{
    AccountTokenPurpose, AccountTokenRecord, Login, LoginChange, PersonRecord, ThrottleKey,
};
use crate::store::{Notification, SecretStore, SecurityNotice, SessionStore, UserStore};

impl<B: Backend> Authenticator<B> {
    /// Sends the signed-in person a new link verifying their current address (after a lost or
    /// expired one). [`ServiceError::AddressAlreadyVerified`] if it is verified; sends count
    /// against the address's forgotten-password budget (the same mailbox), and a throttled send
    /// is [`ServiceError::Throttled`].
    pub async fn send_address_verification(
        &self,
        grant: &Grant,
    ) -> Result<DeliveryStatus, ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let person = self.person(grant.person()).await?;
        if person.address_verified_at.is_some() {
            return Err(ServiceError::AddressAlreadyVerified);
        }
        self.count_mail(&person.login, now).await?;
        let address = person.login.clone();
        self.send_address_link(&person, AccountTokenPurpose::VerifyAddress, &address, now)
            .await
    }

    /// Asks to change the signed-in person's login to `new_address`. Needs a fresh grant (AAL2
    /// once the person has a second factor). Nothing changes yet: a link goes to the new
    /// address ([`Notification::AddressVerification`]) and a notice to the current one
    /// ([`SecurityNotice::AddressChangeRequested`]); the login changes when the link is
    /// followed ([`Self::verify_address`]). Until then the new address signs nobody in and
    /// receives no reset.
    ///
    /// [`ServiceError::LoginTaken`] if someone holds the new address (as
    /// [`Self::add_member`] tells), [`ServiceError::InvalidLogin`] if it is no login or the
    /// current one; sends count against the new address's forgotten-password budget
    /// ([`ServiceError::Throttled`]). The result says whether the link was delivered.
    pub async fn change_address(
        &self,
        grant: &Grant,
        new_address: &str,
    ) -> Result<DeliveryStatus, ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let person = self.person(grant.person()).await?;
        self.require_fresh_if_protected(grant, &person, now).await?;
        let address = Login::new(new_address).ok_or(ServiceError::InvalidLogin)?;
        if address == person.login {
            return Err(ServiceError::InvalidLogin);
        }
        if self
            .backend
            .store()
            .person_by_login(address.as_str())
            .await
            .map_err(ServiceError::storage)?
            .is_some()
        {
            return Err(ServiceError::LoginTaken);
        }
        self.count_mail(&address, now).await?;
        self.record_one(
            now,
            Actor::Person(person.id),
            Some(person.id),
            None,
            AuditKind::AddressChangeRequested,
        )
        .await?;
        let delivered = self
            .send_address_link(&person, AccountTokenPurpose::ChangeAddress, &address, now)
            .await?;
        self.notice(person.id, SecurityNotice::AddressChangeRequested)
            .await?;
        Ok(delivered)
    }

    /// Follows an address-verification link; returns whose address it verified.
    ///
    /// A link to the current login marks it verified. A link to a new address
    /// ([`Self::change_address`]) makes it the login, verified, in one guarded write; ends every
    /// session and remembered device of the person (sign in again with the new login); audits
    /// ([`AuditKind::AddressChanged`]) and tells the old address
    /// ([`Notification::AddressChanged`]). If someone took the new address meanwhile, the link
    /// is spent and the answer is [`ServiceError::LoginTaken`].
    ///
    /// An unknown, expired or spent token, a deactivated person, a login changed since the link
    /// was sent, or (for a new address) a security epoch moved since, is
    /// [`ServiceError::InvalidCredentials`].
    pub async fn verify_address(&self, token: &BearerToken) -> Result<PersonId, ServiceError> {
        let now = self.now();
        let digest = token.digest();
        let store = self.backend.store();
        for purpose in [
            AccountTokenPurpose::VerifyAddress,
            AccountTokenPurpose::ChangeAddress,
        ] {
            let taken = store
                .take_account_token(&digest, purpose, now)
                .await
                .map_err(ServiceError::storage)?;
            if let Some(taken) = taken {
                return match purpose {
                    AccountTokenPurpose::ChangeAddress => self.move_address(&taken, now).await,
                    _ => self.confirm_address(&taken, now).await,
                };
            }
        }
        self.reject_token(None, now).await
    }

    /// Marks the person's current address verified (a setup link completed, or a verification
    /// link followed) and audits it; nothing if it already is or the login moved on.
    pub(super) async fn mark_verified(
        &self,
        person: PersonId,
        login: &Login,
        now: u64,
    ) -> Result<bool, ServiceError> {
        let marked = self
            .backend
            .store()
            .mark_address_verified(person, login, now)
            .await
            .map_err(ServiceError::storage)?;
        if marked {
            self.record_one(
                now,
                Actor::Person(person),
                Some(person),
                None,
                AuditKind::AddressVerified,
            )
            .await?;
        }
        Ok(marked)
    }

    /// Sends the verification link of a person who just signed up; a failed delivery is
    /// audited and left to [`Self::send_address_verification`].
    pub(super) async fn verify_new_address(
        &self,
        person: &PersonRecord,
        now: u64,
    ) -> Result<(), ServiceError> {
        let address = person.login.clone();
        let _ = self
            .send_address_link(person, AccountTokenPurpose::VerifyAddress, &address, now)
            .await?;
        Ok(())
    }

    async fn confirm_address(
        &self,
        token: &AccountTokenRecord,
        now: u64,
    ) -> Result<PersonId, ServiceError> {
        let person = self
            .backend
            .store()
            .person(token.person)
            .await
            .map_err(ServiceError::storage)?;
        match person {
            Some(person) if !person.deactivated && person.login == token.address => {
                let _ = self.mark_verified(person.id, &token.address, now).await?;
                Ok(person.id)
            }
            _ => self.reject_token(Some(token.person), now).await,
        }
    }

    async fn move_address(
        &self,
        token: &AccountTokenRecord,
        now: u64,
    ) -> Result<PersonId, ServiceError> {
        let Some(person) = self.token_holder(token).await? else {
            return self.reject_token(Some(token.person), now).await;
        };
        let changed = self
            .backend
            .store()
            .change_login(person.id, &token.login, &token.address, now)
            .await
            .map_err(ServiceError::storage)?;
        match changed {
            LoginChange::Changed => {}
            LoginChange::Taken => {
                self.record_one(
                    now,
                    Actor::Person(person.id),
                    Some(person.id),
                    None,
                    AuditKind::AddressChangeRefused,
                )
                .await?;
                return Err(ServiceError::LoginTaken);
            }
            _ => return self.reject_token(Some(person.id), now).await,
        }
        let _ = self.end_sessions(person.id, None).await?;
        self.record_one(
            now,
            Actor::Person(person.id),
            Some(person.id),
            None,
            AuditKind::AddressChanged,
        )
        .await?;
        let _ = self
            .notify(Notification::AddressChanged {
                person: person.id,
                old: &token.login,
            })
            .await?;
        Ok(person.id)
    }

    /// Counts a mail to `address` against its forgotten-password budget; throttled is an
    /// error (the caller is signed in: there is nothing to hide from them).
    async fn count_mail(&self, address: &Login, now: u64) -> Result<(), ServiceError> {
        let reservation = self
            .backend
            .store()
            .reserve_attempt(
                &ThrottleKey::reset_login(address),
                &self.config.reset_throttle,
                now,
            )
            .await
            .map_err(ServiceError::storage)?;
        match reservation.decision() {
            ThrottleDecision::Allowed => Ok(()),
            ThrottleDecision::RetryAfter { at, .. } => {
                Err(ServiceError::Throttled { retry_at: at })
            }
            ThrottleDecision::Locked { .. } => Err(ServiceError::Locked),
        }
    }

    /// Stores an address token for `person` (sent to `address`) at their current epoch and
    /// sends its link; audited as [`AuditKind::AddressVerificationSent`].
    async fn send_address_link(
        &self,
        person: &PersonRecord,
        purpose: AccountTokenPurpose,
        address: &Login,
        now: u64,
    ) -> Result<DeliveryStatus, ServiceError> {
        let epoch = self
            .backend
            .store()
            .security_epoch(person.id)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(ServiceError::InvalidCredentials)?;
        let token = BearerToken::generate()?;
        self.backend
            .store()
            .insert_account_token(&AccountTokenRecord {
                digest: token.digest(),
                person: person.id,
                purpose,
                login: person.login.clone(),
                address: address.clone(),
                epoch,
                expires_at: now.saturating_add(self.config.address_ttl),
            })
            .await
            .map_err(ServiceError::storage)?;
        self.record_one(
            now,
            Actor::Person(person.id),
            Some(person.id),
            None,
            AuditKind::AddressVerificationSent,
        )
        .await?;
        self.notify(Notification::AddressVerification {
            person: person.id,
            purpose,
            to: address,
            token: &token,
        })
        .await
    }
}

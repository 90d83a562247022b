//! Passkeys and security keys for a signed-in person (feature `passkeys`): registering one as a
//! second factor, in the `start_*` / `finish_*` shape of WebAuthn (Level 3 §7.1).
//!
//! The ceremony's state never leaves the server: [`Authenticator::start_passkey_registration`]
//! stores it ([`PasskeyStore::put_passkey_challenge`], replacing any pending one of the person)
//! and returns only the creation options for the browser; the finish spends it atomically
//! ([`PasskeyStore::take_passkey_challenge`]), so of two servers finishing the same ceremony
//! one gets it and the other is refused. It expires after [`PASSKEY_CEREMONY_TTL`].

use alloc::string::String;
use alloc::vec::Vec;

use super::account::Live;
use super::{Authenticator, ServiceError};
use crate::credential::passkey::{Ceremonies, PasskeyError, RegistrationState, UserHandle};
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::enrollment::AuthenticatorName;
use crate::policy::error::PolicyError;
use crate::policy::factors::Aal;
use crate::policy::login::Grant;
use crate::service::backend::Backend;
use crate::store::SecurityNotice;
use crate::store::passkeys::{PasskeyChallengeRecord, PasskeyPurpose, PasskeyRecord, PasskeyStore};
use crate::store::records::PersonRecord;

/// How long a started ceremony may be finished: 5 minutes (`webauthn-rs`'s and the WebAuthn
/// Level 3 recommended timeout, §5.4.1 and §15.1).
pub const PASSKEY_CEREMONY_TTL: u64 = 5 * 60;

/// The most passkeys and security keys a person may register.
pub const MAX_PASSKEYS: usize = 10;

/// A person's registered passkey, as the person sees it in their settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// The name the person gave it.
    pub name: String,
    /// When it was registered (unix seconds).
    pub created_at: u64,
    /// When it last signed the person in, if ever.
    pub last_used_at: Option<u64>,
    /// Whether it may be synced to other devices (a synced passkey rather than a device-bound
    /// key).
    pub backup_eligible: bool,
    /// Whether it was backed up when last seen.
    pub backup_state: bool,
}

impl From<&PasskeyRecord> for PasskeyInfo {
    fn from(r: &PasskeyRecord) -> Self {
        Self {
            name: r.name.clone(),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            backup_eligible: r.backup_eligible,
            backup_state: r.backup_state,
        }
    }
}

impl<B: Backend> Authenticator<B>
where
    B::Store: PasskeyStore,
{
    fn ceremonies(&self) -> Result<&Ceremonies, ServiceError> {
        self.config
            .passkeys
            .as_ref()
            .ok_or(ServiceError::FactorUnavailable)
    }

    async fn person_passkeys(
        &self,
        person: &PersonRecord,
    ) -> Result<Vec<PasskeyRecord>, ServiceError> {
        PasskeyStore::passkeys(self.backend.store(), person.id)
            .await
            .map_err(ServiceError::storage)
    }

    /// A fresh AAL2 grant is needed to add a passkey once the person has any second factor,
    /// another passkey included: a new key is bound only by someone who presented an existing
    /// factor.
    async fn require_fresh_for_passkeys(
        &self,
        grant: &Grant,
        person: &PersonRecord,
        existing: &[PasskeyRecord],
        now: u64,
    ) -> Result<(), ServiceError> {
        if !existing.is_empty() {
            grant.require_fresh(now, self.config.enrollment.reauth_max_age(), Aal::Aal2)?;
        }
        self.require_fresh_if_protected(grant, person, now).await
    }

    /// The signed-in person's passkeys, oldest first.
    pub async fn passkeys(&self, grant: &Grant) -> Result<Vec<PasskeyInfo>, ServiceError> {
        let now = self.now();
        let Live { person, .. } = self.live_grant(grant, now).await?;
        Ok(self
            .person_passkeys(&person)
            .await?
            .iter()
            .map(PasskeyInfo::from)
            .collect())
    }

    /// Starts registering a passkey or security key named `name` for the signed-in person:
    /// returns the creation options (JSON) for the browser's `navigator.credentials.create()`.
    ///
    /// Needs passkeys configured ([`ServiceError::FactorUnavailable`] otherwise) and, once the
    /// person has any second factor, a fresh AAL2 grant. The name is checked like an
    /// authenticator app's ([`PolicyError::InvalidName`], [`PolicyError::NameTaken`]), and a
    /// person has at most [`MAX_PASSKEYS`] ([`PolicyError::AuthenticatorLimit`]). The options
    /// exclude the person's registered credentials, and carry their random user handle (made at
    /// their first registration), never their login or id.
    pub async fn start_passkey_registration(
        &self,
        grant: &Grant,
        name: &str,
    ) -> Result<String, ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let name = AuthenticatorName::new(name)?;
        let Live { grant, person, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let existing = self.person_passkeys(&person).await?;
        self.require_fresh_for_passkeys(grant, &person, &existing, now)
            .await?;
        if existing
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(name.as_str()))
        {
            return Err(PolicyError::NameTaken.into());
        }
        if existing.len() >= MAX_PASSKEYS {
            return Err(PolicyError::AuthenticatorLimit {
                max: MAX_PASSKEYS as u8,
            }
            .into());
        }
        let store = self.backend.store();
        let candidate = UserHandle::generate().map_err(passkey_fault)?;
        let handle = store
            .ensure_user_handle(person.id, candidate)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(ServiceError::InvalidCredentials)?;
        let exclude = existing.iter().map(|p| p.credential_id.clone()).collect();
        let login = person.login.as_str();
        let (options, state) = ceremonies
            .start_registration(handle, login, login, exclude)
            .map_err(passkey_fault)?;
        store
            .put_passkey_challenge(&PasskeyChallengeRecord {
                person: person.id,
                purpose: PasskeyPurpose::Register,
                name: String::from(name.as_str()),
                ticket: None,
                state: String::from(state.as_str()),
                expires_at: now.saturating_add(PASSKEY_CEREMONY_TTL),
            })
            .await
            .map_err(ServiceError::storage)?;
        Ok(options)
    }

    /// Finishes the registration with the browser's response (the `PublicKeyCredential` as
    /// JSON): verifies it against the pending ceremony (spent whatever the outcome) and stores
    /// the credential. A missing, expired or spent ceremony, a response that does not verify
    /// (another origin or RP id, another challenge, a bad attestation), or a credential already
    /// registered to anyone is the uniform [`ServiceError::InvalidCredentials`], audited
    /// ([`AuditKind::PasskeyRegistrationRefused`]). The same fresh-grant rule as the start
    /// applies.
    ///
    /// A factor was added: every other session of the person ends (their security epoch moves
    /// on), the grant's session stays signed in, and the person is told
    /// ([`SecurityNotice::AuthenticatorAdded`]).
    pub async fn finish_passkey_registration(
        &self,
        grant: &Grant,
        response: &str,
    ) -> Result<PasskeyInfo, ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let Live { grant, person, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let existing = self.person_passkeys(&person).await?;
        self.require_fresh_for_passkeys(grant, &person, &existing, now)
            .await?;
        let store = self.backend.store();
        let pending = store
            .take_passkey_challenge(person.id, PasskeyPurpose::Register, now)
            .await
            .map_err(ServiceError::storage)?;
        let refused = || async {
            self.record_one(
                now,
                Actor::Person(person.id),
                Some(person.id),
                Some(grant.org()),
                AuditKind::PasskeyRegistrationRefused,
            )
            .await?;
            Err(ServiceError::InvalidCredentials)
        };
        let Some(pending) = pending else {
            return refused().await;
        };
        let state = RegistrationState::from_stored(pending.state);
        let key = match ceremonies.finish_registration(&state, response) {
            Ok(key) => key,
            Err(PasskeyError::Random) => return Err(passkey_fault(PasskeyError::Random)),
            Err(_) => return refused().await,
        };
        let record = PasskeyRecord {
            person: person.id,
            credential_id: key.credential_id,
            name: pending.name,
            key: key.key,
            counter: key.counter,
            backup_eligible: key.backup_eligible,
            backup_state: key.backup_state,
            created_at: now,
            last_used_at: None,
        };
        if !store
            .insert_passkey(&record)
            .await
            .map_err(ServiceError::storage)?
        {
            return refused().await;
        }
        self.record_one(
            now,
            Actor::Person(person.id),
            Some(person.id),
            Some(grant.org()),
            AuditKind::PasskeyRegistered {
                backup_eligible: record.backup_eligible,
            },
        )
        .await?;
        self.end_sessions(person.id, grant.session()).await?;
        self.notice(person.id, SecurityNotice::AuthenticatorAdded)
            .await?;
        Ok(PasskeyInfo::from(&record))
    }
}

/// A ceremony that could not be made is a fault of the core (no random numbers), never the
/// person's.
fn passkey_fault(_: PasskeyError) -> ServiceError {
    ServiceError::Core(crate::error::Error::Random)
}

//! Passkeys and security keys (feature `passkeys`): registering one as a factor of a signed-in
//! person, presenting one as the second factor of a pending login, stepping a session up with
//! one, and removing one, in the `start_*` / `finish_*` shape.
//!
//! The ceremony's state never leaves the server: [`Authenticator::start_passkey_registration`]
//! stores it ([`PasskeyStore::put_passkey_challenge`], replacing any pending one of the person)
//! and returns only the creation options for the browser; the finish spends it atomically
//! ([`PasskeyStore::take_passkey_challenge`]), so of two servers finishing the same ceremony
//! one gets it and the other is refused. It expires after [`PASSKEY_CEREMONY_TTL`].
//!
//! # What it follows
//!
//! Sections of W3C Web Authentication Level 3, numbered as in the editor's draft
//! (`w3c/webauthn`, `index.bs`); the verification itself is `webauthn-rs`'s, never written here:
//!
//! | section | where |
//! |---|---|
//! | §5.4.3 user account parameters (`user.id`) | a random 16-byte user handle per person ([`UserHandle`]), never their login or id (§14.6.1 user handle contents) |
//! | §5.4 `excludeCredentials` | a registration excludes the person's registered credentials |
//! | §5.4 and §5.5 `timeout`, §15.1 recommended range | [`PASSKEY_CEREMONY_TTL`], 5 minutes |
//! | §5.8.6 user verification requirement | *preferred* for a second factor and a step-up (security keys without a PIN stay usable), *required* for passwordless sign-in ([`Authenticator::start_passwordless_login`]) |
//! | §6.1 authenticator data flags UV, BE, BS; §6.1.3 credential backup state | UV decides whether a passkey stands alone (passwordless, [`Authenticator::reauthenticate_session_with_verified_passkey`]); BE and BS are kept and shown ([`PasskeyInfo`]) |
//! | §6.1.1 signature counter considerations | a counter that does not move forward (both zero: none kept) is refused and audited ([`AuditKind::PasskeyCounterRegressed`]); the new counter is written only over the one it was checked against ([`PasskeyStore::record_passkey_use`]) |
//! | §6.2.3 authentication factor capability | a passkey that verified the user is multi-factor on its own (NIST SP 800-63B §5.1.8), AAL2 |
//! | §7.1 registering a new credential | [`Authenticator::finish_passkey_registration`]: challenge, origin, RP id hash, flags, attestation; a credential id registered to anyone is refused |
//! | §7.2 verifying an authentication assertion | steps 5–6 (the credential is one of the person's; for a discoverable one, its user handle is its owner's), 10–15 (type, challenge, origin, RP id hash), 16–17 (UP, UV), 18 (BE/BS), 21 (signature), 22 (the counter, as §6.1.1) |
//!
//! And what peers do:
//!
//! - **Step-up.** GitHub's sudo mode confirms access with a registered passkey alone, or with
//!   the password: here a passkey that verified the user refreshes a session alone, and one
//!   that did not (a security key only touched) comes with the password
//!   ([`Authenticator::reauthenticate_session_with_passkey`]). Keycloak asks for a fresh
//!   authentication at the credential's level before a factor is removed
//!   (keycloak/keycloak#16442, #31107): adding or removing a passkey needs a fresh AAL2 grant.
//! - **The last factor.** An organisation that enforces MFA keeps its members' last counted
//!   factor, whatever its kind: [`Authenticator::remove_passkey`] and
//!   [`Authenticator::remove_phone`] refuse to take it, and the refusal holds across servers —
//!   every removal is guarded by the person's security epoch
//!   ([`LoginStore::remove_factor`]), so two removals of different kinds racing for the last
//!   two factors never both land.
//! - **Passwordless sign-in** finds the organisation as the password login does
//!   ([`Authenticator::finish_passwordless_login`]); the person's organisations are read only
//!   after the assertion verified.

use alloc::string::String;
use alloc::vec::Vec;

use super::account::Live;
use super::factor_key;
use super::factors::set_counter;
use super::sessions::digest_of;
use super::steps::{Checked, LoginStep};
use super::{Authenticator, OpenedSession, ServiceError};
use crate::credential::factor::FactorKind;
use crate::credential::passkey::{
    AuthenticationState, Ceremonies, CredentialKey, PasskeyError, PasskeyUse, RegistrationState,
    UserHandle, updated_key,
};
use crate::credential::recovery::RecoveryCodes;
use crate::credential::throttle::{ThrottleDecision, ThrottleState};
use crate::credential::token::{BearerToken, TokenDigest};
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::enrollment::AuthenticatorName;
use crate::policy::error::PolicyError;
use crate::policy::factors::{Aal, Factor, FactorSet};
use crate::policy::ids::{OrgId, PersonId, SessionId};
use crate::policy::login::Grant;
use crate::policy::session::SessionView;
use crate::service::backend::Backend;
use crate::store::login::{FactorRemoval, LoginStore, SnapshotAt};
use crate::store::passkeys::{
    PasskeyChallengeRecord, PasskeyPurpose, PasskeyRecord, PasskeyStore, PasskeyUseWrite,
};
use crate::store::records::{PersonRecord, RecoverySlot};
use crate::store::{SecretStore, SecurityNotice};

/// How long a started ceremony may be finished: 5 minutes (`webauthn-rs`'s, within the WebAuthn
/// Level 3 recommended range: the `timeout` of §5.4 and §5.5, §15.1).
pub const PASSKEY_CEREMONY_TTL: u64 = 5 * 60;

/// The most passkeys and security keys a person may register.
pub const MAX_PASSKEYS: usize = 10;

/// A person's registered passkey, as the person sees it in their settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// The credential id (WebAuthn §6.1; not secret: browsers are sent it), to name it in
    /// [`Authenticator::remove_passkey`].
    pub credential_id: Vec<u8>,
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

/// How a passkey registration ended ([`Authenticator::finish_passkey_registration`]).
#[derive(Debug)]
#[must_use]
pub enum PasskeyRegistration {
    /// The passkey is registered and counts now: the person already had recovery codes.
    Registered(PasskeyInfo),
    /// The person's first factor with recovery codes: the passkey is verified but counts only
    /// once the person has acknowledged these new codes ("I have safely recorded this",
    /// [`Authenticator::acknowledge_passkey`]), as with the first authenticator app. Show the
    /// codes once. Unacknowledged, it lapses after
    /// [`EnrollmentConfig::pending_ttl`](crate::policy::EnrollmentConfig::pending_ttl).
    AwaitingAcknowledgement {
        /// The passkey waiting.
        passkey: PasskeyInfo,
        /// The new recovery codes, to show once.
        recovery_codes: RecoveryCodes,
    },
}

impl PasskeyRegistration {
    /// The passkey, registered or waiting.
    pub fn passkey(&self) -> &PasskeyInfo {
        match self {
            Self::Registered(p) | Self::AwaitingAcknowledgement { passkey: p, .. } => p,
        }
    }
}

/// A verified credential waiting for its acknowledgement, as kept in its ceremony state.
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingPasskey {
    credential_id: Vec<u8>,
    key: String,
    counter: u32,
    backup_eligible: bool,
    backup_state: bool,
    created_at: u64,
}

impl From<&PasskeyRecord> for PasskeyInfo {
    fn from(r: &PasskeyRecord) -> Self {
        Self {
            credential_id: r.credential_id.clone(),
            name: r.name.clone(),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            backup_eligible: r.backup_eligible,
            backup_state: r.backup_state,
        }
    }
}

impl<B: Backend> Authenticator<B> {
    /// Removes every passkey of `person` and their ceremonies under way, auditing each removed
    /// credential ([`AuditKind::PasskeyRemoved`]) by `actor`. Callers have moved the person's
    /// security epoch on first, so no registration checked before can land after.
    pub(super) async fn remove_all_passkeys(
        &self,
        actor: Actor,
        person: PersonId,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<(), ServiceError> {
        let removed = self
            .backend
            .store()
            .remove_passkeys(person)
            .await
            .map_err(ServiceError::storage)?;
        let events: Vec<AuditEvent> = (0..removed)
            .map(|_| AuditEvent::new(now, actor, Some(person), org, AuditKind::PasskeyRemoved))
            .collect();
        self.record(&events).await
    }

    pub(super) fn ceremonies(&self) -> Result<&Ceremonies, ServiceError> {
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
    /// A person who has live recovery codes gets the passkey at once
    /// ([`PasskeyRegistration::Registered`]): a factor was added, so every other session of the
    /// person ends (their security epoch moves on), the grant's session stays signed in, and
    /// the person is told ([`SecurityNotice::AuthenticatorAdded`]). A person without them gets
    /// new recovery codes to show once, and the passkey counts only after they acknowledge them
    /// ([`PasskeyRegistration::AwaitingAcknowledgement`], [`Self::acknowledge_passkey`]), as
    /// with the first authenticator app. The credential is stored only at the security epoch
    /// the grant's session was checked at: an MFA reset or MFA turned off landing meanwhile
    /// refuses it.
    pub async fn finish_passkey_registration(
        &self,
        grant: &Grant,
        response: &str,
    ) -> Result<PasskeyRegistration, ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let Live {
            grant,
            person,
            epoch,
            ..
        } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let existing = self.person_passkeys(&person).await?;
        self.require_fresh_for_passkeys(grant, &person, &existing, now)
            .await?;
        let store = self.backend.store();
        let pending = store
            .take_passkey_challenge(person.id, PasskeyPurpose::Register, None, now)
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
        if !self.has_recovery_codes(person.id).await? {
            // A credential someone holds already would be refused at the acknowledgement: say
            // so now, before any codes are made.
            if store
                .passkey_by_id(&record.credential_id)
                .await
                .map_err(ServiceError::storage)?
                .is_some()
            {
                return refused().await;
            }
            let expires_at = now.saturating_add(self.config.enrollment.pending_ttl());
            return self
                .await_acknowledgement(&person, record, None, expires_at)
                .await;
        }
        self.activate_passkey(grant, &person, &record, epoch, now)
            .await?;
        Ok(PasskeyRegistration::Registered(PasskeyInfo::from(&record)))
    }

    /// Keeps a verified first passkey waiting for its recovery codes' acknowledgement: new codes
    /// in the pending slot (replacing any), and the credential in a ceremony state of its own.
    /// Nothing counts yet, so no session ends.
    pub(super) async fn await_acknowledgement(
        &self,
        person: &PersonRecord,
        record: PasskeyRecord,
        ticket: Option<TokenDigest>,
        expires_at: u64,
    ) -> Result<PasskeyRegistration, ServiceError> {
        let store = self.backend.store();
        let new = self.generate_recovery_codes().await?;
        store
            .replace_recovery_codes(person.id, RecoverySlot::Pending, Some(&new.set))
            .await
            .map_err(ServiceError::storage)?;
        let state = serde_json::to_string(&PendingPasskey {
            credential_id: record.credential_id.clone(),
            key: String::from(record.key.as_str()),
            counter: record.counter,
            backup_eligible: record.backup_eligible,
            backup_state: record.backup_state,
            created_at: record.created_at,
        })
        .map_err(|_| passkey_fault(PasskeyError::Stored))?;
        store
            .put_passkey_challenge(&PasskeyChallengeRecord {
                person: person.id,
                purpose: PasskeyPurpose::Acknowledge,
                name: record.name.clone(),
                ticket,
                state,
                expires_at,
            })
            .await
            .map_err(ServiceError::storage)?;
        Ok(PasskeyRegistration::AwaitingAcknowledgement {
            passkey: PasskeyInfo::from(&record),
            recovery_codes: new.codes,
        })
    }

    /// "I have safely recorded this" for a first passkey
    /// ([`PasskeyRegistration::AwaitingAcknowledgement`]): the recovery codes shown with it
    /// become the live set, and the passkey is registered and counts. A factor was added: every
    /// other session of the person ends (their security epoch moves on), the grant's session
    /// stays signed in at its assurance level
    /// ([`Self::acknowledge_passkey_in_session`] raises it to AAL2), and the person is told.
    ///
    /// The same grant rules as the registration's apply. Nothing waiting (never registered,
    /// already acknowledged on another server, lapsed, or cleared by an MFA reset) is
    /// [`PolicyError::NoEnrollment`]; a credential id registered meanwhile, or an epoch that
    /// moved on (MFA reset, "sign out everywhere") is the uniform
    /// [`ServiceError::InvalidCredentials`], audited. The codes go live before the passkey is
    /// stored, so a crash in between leaves live codes and no passkey (the person registers it
    /// again, without new codes), never a passkey without codes.
    pub async fn acknowledge_passkey(&self, grant: &Grant) -> Result<PasskeyInfo, ServiceError> {
        let now = self.now();
        self.ceremonies()?;
        let Live {
            grant,
            person,
            epoch,
            ..
        } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let existing = self.person_passkeys(&person).await?;
        self.require_fresh_for_passkeys(grant, &person, &existing, now)
            .await?;
        let record = self.take_waiting_passkey(person.id, None, now).await?;
        self.activate_passkey(grant, &person, &record, epoch, now)
            .await?;
        Ok(PasskeyInfo::from(&record))
    }

    /// Stores a verified credential at the session's epoch, ending the person's other sessions
    /// in the same write, audits it and tells them; a refused insert is audited and uniform.
    async fn activate_passkey(
        &self,
        grant: &Grant,
        person: &PersonRecord,
        record: &PasskeyRecord,
        epoch: u64,
        now: u64,
    ) -> Result<(), ServiceError> {
        self.store_passkey(person.id, grant.org(), record, epoch, grant.session(), now)
            .await?;
        self.notice(person.id, SecurityNotice::AuthenticatorAdded)
            .await
    }

    /// Stores a verified credential at `epoch`, which moves the person's epoch on in the same
    /// write (every session of theirs ends but `keep`), and audits both; the new epoch. A
    /// refused insert (a credential id taken, the epoch moved on) is audited and uniform.
    pub(super) async fn store_passkey(
        &self,
        person: PersonId,
        org: OrgId,
        record: &PasskeyRecord,
        epoch: u64,
        keep: Option<SessionId>,
        now: u64,
    ) -> Result<u64, ServiceError> {
        let inserted = self
            .backend
            .store()
            .insert_passkey(record, epoch, keep)
            .await
            .map_err(ServiceError::storage)?;
        let Some(bumped) = inserted else {
            self.record_one(
                now,
                Actor::Person(person),
                Some(person),
                Some(org),
                AuditKind::PasskeyRegistrationRefused,
            )
            .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        self.record(&[
            AuditEvent::new(
                now,
                Actor::Person(person),
                Some(person),
                Some(org),
                AuditKind::PasskeyRegistered {
                    backup_eligible: record.backup_eligible,
                },
            ),
            AuditEvent::new(
                now,
                Actor::Person(person),
                Some(person),
                Some(org),
                AuditKind::SecurityEpochBumped { epoch: bumped },
            ),
        ])
        .await?;
        Ok(bumped)
    }

    /// Takes the person's verified passkey waiting for its acknowledgement (of the login
    /// `ticket`, or signed in without), and makes the recovery codes shown with it the live
    /// set: the credential to store. Nothing waiting is [`PolicyError::NoEnrollment`].
    pub(super) async fn take_waiting_passkey(
        &self,
        person: PersonId,
        ticket: Option<&TokenDigest>,
        now: u64,
    ) -> Result<PasskeyRecord, ServiceError> {
        let store = self.backend.store();
        let waiting = store
            .take_passkey_challenge(person, PasskeyPurpose::Acknowledge, ticket, now)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(ServiceError::Policy(PolicyError::NoEnrollment))?;
        let pending: PendingPasskey = serde_json::from_str(&waiting.state)
            .map_err(|_| ServiceError::Policy(PolicyError::InvalidState("pending passkey")))?;
        let activated = store
            .activate_pending_recovery_codes(person)
            .await
            .map_err(ServiceError::storage)?;
        if !activated
            && store
                .recovery_codes(person, RecoverySlot::Active)
                .await
                .map_err(ServiceError::storage)?
                .is_none()
        {
            return Err(ServiceError::Policy(PolicyError::NoEnrollment));
        }
        Ok(PasskeyRecord {
            person,
            credential_id: pending.credential_id,
            name: waiting.name,
            key: CredentialKey::from_stored(pending.key),
            counter: pending.counter,
            backup_eligible: pending.backup_eligible,
            backup_state: pending.backup_state,
            created_at: pending.created_at,
            last_used_at: None,
        })
    }

    /// Whether the person has live recovery codes left.
    pub(super) async fn has_recovery_codes(&self, person: PersonId) -> Result<bool, ServiceError> {
        Ok(self
            .backend
            .store()
            .recovery_codes(person, RecoverySlot::Active)
            .await
            .map_err(ServiceError::storage)?
            .is_some_and(|set| set.remaining() > 0))
    }

    /// Re-authentication inside a session with a passkey in place of the app, part 1: the
    /// request options (JSON) for `navigator.credentials.get()`, allowing the person's
    /// credentials. The ceremony is bound to this session's token (a rotated token, or another
    /// session, cannot finish it) and expires after [`PASSKEY_CEREMONY_TTL`]; a new start
    /// replaces it. A person without a passkey gets [`ServiceError::FactorUnavailable`].
    pub async fn start_passkey_reauthentication(
        &self,
        token: &str,
    ) -> Result<String, ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let digest = digest_of(token)?;
        let (grant, _) = self.checked(&digest).await?;
        let Live { person, .. } = self.live_grant(&grant, now).await?;
        let keys: Vec<CredentialKey> = self
            .person_passkeys(&person)
            .await?
            .into_iter()
            .map(|p| p.key)
            .collect();
        if keys.is_empty() {
            return Err(ServiceError::FactorUnavailable);
        }
        let (options, state) = ceremonies
            .start_authentication(&keys)
            .map_err(passkey_fault)?;
        self.backend
            .store()
            .put_passkey_challenge(&PasskeyChallengeRecord {
                person: person.id,
                purpose: PasskeyPurpose::Reauthenticate,
                name: String::new(),
                ticket: Some(digest),
                state: String::from(state.as_str()),
                expires_at: now.saturating_add(PASSKEY_CEREMONY_TTL),
            })
            .await
            .map_err(ServiceError::storage)?;
        Ok(options)
    }

    /// Part 2: the password and the browser's assertion, verified and throttled as at sign-in
    /// (the password on the login's counter, the assertion on the passkey counter, each reserved
    /// before it is verified; the ceremony of this session spent once, the counter recorded as
    /// for a login, a counter that went backwards refused and audited). The session becomes
    /// fresh at AAL2 (password and passkey) and its lifetime starts again; the token rotates,
    /// as with [`Self::reauthenticate_session`]: the old one stops working, and the new one is
    /// returned with the fresh grant. Any failure is the uniform
    /// [`ServiceError::InvalidCredentials`], counted and audited.
    ///
    /// This is the step-up for a passkey or security key that does not verify the user (no
    /// PIN, no biometrics): the key alone is one factor, so the password comes with it. A
    /// passkey that verifies the user steps up alone
    /// ([`Self::reauthenticate_session_with_verified_passkey`]).
    pub async fn reauthenticate_session_with_passkey(
        &self,
        token: &str,
        password: crate::credential::password::Password,
        response: &str,
    ) -> Result<OpenedSession, ServiceError> {
        let now = self.now();
        let digest = digest_of(token)?;
        let (grant, view) = self.checked(&digest).await?;
        let Live { grant, person, .. } = self.live_grant(&grant, now).await?;
        self.check_current_password(&person, Some(grant.org()), password, now)
            .await?;
        self.reauthentication_assertion(&person, grant.org(), &digest, response, now)
            .await?;
        let factors = FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::Passkey));
        self.refreshed(&digest, &view, &grant, factors, now).await
    }

    /// Part 2 with a passkey alone: the browser's assertion (JSON) for the ceremony of
    /// [`Self::start_passkey_reauthentication`], with no password. An assertion whose
    /// authenticator verified the user (WebAuthn flag UV: a PIN or biometrics on the device, in
    /// the same gesture as the signature) is a multi-factor cryptographic authenticator on its
    /// own (NIST SP 800-63B §5.1.8; WebAuthn Level 3 §6.1, §6.2.3 and §5.8.6), as at a passwordless
    /// sign-in: the session becomes fresh at AAL2 with [`Factor::UserVerified`] and
    /// [`FactorKind::Passkey`], its lifetime starts again and the token rotates, as with
    /// [`Self::reauthenticate_session_with_passkey`].
    ///
    /// It serves every session of a person who holds a passkey, whichever way it was signed in
    /// (a passwordless session has no password step to repeat), as GitHub's sudo mode accepts
    /// a passkey alone.
    ///
    /// An assertion that verifies but did not verify the user (a security key without a PIN,
    /// touched only) is one factor: its use is recorded, the session stays as it was, and the
    /// answer is [`PolicyError::ReauthenticationRequired`] — start the ceremony again and
    /// present the password with it ([`Self::reauthenticate_session_with_passkey`]). Every
    /// other failure is the uniform [`ServiceError::InvalidCredentials`], counted on the
    /// passkey throttle and audited; a throttled or locked passkey is refused before anything
    /// is verified.
    pub async fn reauthenticate_session_with_verified_passkey(
        &self,
        token: &str,
        response: &str,
    ) -> Result<OpenedSession, ServiceError> {
        let now = self.now();
        let digest = digest_of(token)?;
        let (grant, view) = self.checked(&digest).await?;
        let Live { grant, person, .. } = self.live_grant(&grant, now).await?;
        // The key signed: it is the person's, whatever it verified.
        let used = self
            .reauthentication_assertion(&person, grant.org(), &digest, response, now)
            .await?;
        if !used.user_verified {
            return Err(PolicyError::ReauthenticationRequired.into());
        }
        let factors = FactorSet::of(Factor::UserVerified).with(Factor::Second(FactorKind::Passkey));
        self.refreshed(&digest, &view, &grant, factors, now).await
    }

    /// The session of a step-up that passed on `factors`: fresh, its lifetime started again,
    /// audited, under a new token.
    async fn refreshed(
        &self,
        digest: &TokenDigest,
        view: &SessionView,
        grant: &Grant,
        factors: FactorSet,
        now: u64,
    ) -> Result<OpenedSession, ServiceError> {
        let fresh = grant.reauthenticated(factors, now);
        self.record(&[fresh.reauthentication_event()]).await?;
        let session = view
            .session
            .reauthenticated(fresh.factors(), self.config.sessions(), now);
        self.rotate(digest, &session).await
    }

    /// The assertion of a step-up: reserved on the person's passkey counter (a throttled or
    /// locked one refuses before anything is spent), the session's ceremony spent, the
    /// assertion verified against it and its use recorded, and the attempt settled: what the
    /// verified assertion reported, or for any failure the uniform
    /// [`ServiceError::InvalidCredentials`], counted and audited.
    async fn reauthentication_assertion(
        &self,
        person: &PersonRecord,
        org: OrgId,
        digest: &TokenDigest,
        response: &str,
        now: u64,
    ) -> Result<PasskeyUse, ServiceError> {
        let ceremonies = self.ceremonies()?;
        let reserved = self
            .reserve_attempt(
                factor_key(person.id, FactorKind::Passkey),
                Factor::Second(FactorKind::Passkey),
                now,
            )
            .await?;
        let pending = self
            .backend
            .store()
            .take_passkey_challenge(person.id, PasskeyPurpose::Reauthenticate, Some(digest), now)
            .await
            .map_err(ServiceError::storage)?;
        let used = match pending {
            None => None,
            Some(pending) => {
                let state = AuthenticationState::from_stored(pending.state);
                self.verified_use(ceremonies, &state, person.id, org, response, now)
                    .await?
            }
        };
        // One answer for every failure: counted on the passkey throttle and audited.
        let Some(used) = used else {
            self.reject_credential(reserved, person.id, Some(org), false, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        self.accept_attempt(reserved, now).await?;
        Ok(used)
    }

    /// The use of one of `person`'s passkeys the assertion `response` proves for the ceremony
    /// `state`, recorded (counter and backup state); `None` when it proves none.
    async fn verified_use(
        &self,
        ceremonies: &Ceremonies,
        state: &AuthenticationState,
        person: PersonId,
        org: OrgId,
        response: &str,
        now: u64,
    ) -> Result<Option<PasskeyUse>, ServiceError> {
        let used = match ceremonies.finish_authentication(state, response) {
            Ok((credential_id, used)) => self
                .record_use(person, Some(org), &credential_id, &used, now)
                .await?
                .then_some(used),
            Err(PasskeyError::Random) => return Err(passkey_fault(PasskeyError::Random)),
            Err(PasskeyError::CounterRegression) => {
                self.counter_regressed(person, Some(org), now).await?;
                None
            }
            Err(_) => None,
        };
        Ok(used)
    }

    /// Removes the signed-in person's passkey or security key `credential_id` (from
    /// [`Self::passkeys`]). Needs a fresh AAL2 grant (verified within
    /// [`EnrollmentConfig::reauth_max_age`](crate::policy::EnrollmentConfig::reauth_max_age), as
    /// for every change of factors: [`PolicyError::ReauthenticationRequired`] otherwise). An
    /// unknown id is [`PolicyError::UnknownAuthenticator`].
    ///
    /// Refused where it would take away the last factor an enforcing organisation of the person
    /// counts ([`PolicyError::RequiredByOrganisation`], or
    /// [`PolicyError::SoleOwnerOfEnforcingOrganisation`] when it would leave no second factor
    /// at all, as [`Self::disable_mfa`] is), whatever the kind of the factor that would stay
    /// (another passkey, an app, a phone). The decision is made on the person's factors and
    /// security epoch read together, and the credential goes only at that epoch, moving it on
    /// in the same commit ([`LoginStore::remove_factor`]):
    /// two servers removing the person's last two counted factors — two passkeys, or a passkey
    /// and the phone ([`Self::remove_phone`]) — never both succeed; the second decides again on
    /// what the first left, and is refused.
    ///
    /// The last passkey of a person without an authenticator app takes the recovery codes
    /// issued with it along (MFA is off). Audited ([`AuditKind::PasskeyRemoved`]); every other
    /// session of the person ends in the same commit (their security epoch moves on; this one
    /// stays signed in), and the person is told ([`SecurityNotice::PasskeyRemoved`]).
    pub async fn remove_passkey(
        &self,
        grant: &Grant,
        credential_id: &[u8],
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, person, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        grant.require_fresh(now, self.config.enrollment.reauth_max_age(), Aal::Aal2)?;
        let store = self.backend.store();
        let removal = FactorRemoval::Passkey {
            credential_id: credential_id.to_vec(),
        };
        for _ in 0..super::CAS_ATTEMPTS {
            // The factors and the epoch in one read; the passkeys after it (a credential
            // removed in between moved the epoch, and the removal below is refused).
            let snapshot = self
                .snapshot(SnapshotAt::Person(person.id), None, now)
                .await?;
            let epoch = snapshot.epoch.ok_or(ServiceError::InvalidCredentials)?;
            let existing = self.person_passkeys(&person).await?;
            if !existing.iter().any(|p| p.credential_id == credential_id) {
                return Err(PolicyError::UnknownAuthenticator.into());
            }
            let own = self.snapshot_factors(&snapshot);
            let has_app = snapshot.mfa.as_ref().is_some_and(|m| m.value.is_active());
            let last = existing.len() == 1;
            // What the person holds once it is gone: another passkey keeps the kind; without
            // one and without an app, the recovery codes issued with the first passkey go with
            // the last.
            let left = match (last, has_app) {
                (false, _) => own,
                (true, true) => own.without(FactorKind::Passkey),
                (true, false) => own
                    .without(FactorKind::Passkey)
                    .without(FactorKind::RecoveryCode),
            };
            self.may_hold_only(&person, own, left).await?;
            let Some(epoch) = store
                .remove_factor(person.id, &removal, epoch, grant.session())
                .await
                .map_err(ServiceError::storage)?
            else {
                // Another factor change landed meanwhile: decide again on what is left.
                continue;
            };
            // A passkey added on another server meanwhile moved the epoch with its write, so
            // the removal above decided on what is left.
            if last && !has_app {
                for slot in [RecoverySlot::Active, RecoverySlot::Pending] {
                    store
                        .replace_recovery_codes(person.id, slot, None)
                        .await
                        .map_err(ServiceError::storage)?;
                }
            }
            self.record(&[
                AuditEvent::new(
                    now,
                    Actor::Person(person.id),
                    Some(person.id),
                    Some(grant.org()),
                    AuditKind::PasskeyRemoved,
                ),
                AuditEvent::new(
                    now,
                    Actor::Person(person.id),
                    Some(person.id),
                    None,
                    AuditKind::SecurityEpochBumped { epoch },
                ),
            ])
            .await?;
            return self.notice(person.id, SecurityNotice::PasskeyRemoved).await;
        }
        Err(ServiceError::Conflict)
    }

    /// The second-factor step with a passkey, part 1: the request options (JSON) for the
    /// browser's `navigator.credentials.get()`, allowing the ticket's person's credentials. The
    /// ticket must be a second-factor ticket whose login the decision challenges for a passkey
    /// ([`ServiceError::FactorUnavailable`] otherwise; the ticket stays). The ceremony state is
    /// kept server-side, bound to the person and to this ticket, and expires with the ticket or
    /// after [`PASSKEY_CEREMONY_TTL`], whichever is first; a new start on the same ticket
    /// replaces it (another login of the person keeps its own).
    pub async fn start_passkey_login(
        &self,
        org: OrgId,
        ticket: &BearerToken,
    ) -> Result<String, ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let digest = ticket.digest();
        let snapshot = self
            .second_factor_snapshot(&digest, org, FactorKind::Passkey, now)
            .await?;
        let record = snapshot.ticket.ok_or(ServiceError::InvalidCredentials)?;
        let person = record.progress.person();
        let keys: Vec<CredentialKey> = PasskeyStore::passkeys(self.backend.store(), person)
            .await
            .map_err(ServiceError::storage)?
            .into_iter()
            .map(|p| p.key)
            .collect();
        if keys.is_empty() {
            return Err(ServiceError::FactorUnavailable);
        }
        let (options, state) = ceremonies
            .start_authentication(&keys)
            .map_err(passkey_fault)?;
        self.backend
            .store()
            .put_passkey_challenge(&PasskeyChallengeRecord {
                person,
                purpose: PasskeyPurpose::SignIn,
                name: String::new(),
                ticket: Some(digest),
                state: String::from(state.as_str()),
                expires_at: now
                    .saturating_add(PASSKEY_CEREMONY_TTL)
                    .min(record.expires_at),
            })
            .await
            .map_err(ServiceError::storage)?;
        Ok(options)
    }

    /// The second-factor step with a passkey, part 2: the browser's assertion (JSON). The
    /// pending ceremony of this ticket is spent whatever the outcome; the assertion is verified
    /// against it (challenge, origin, RP id, flags, signature by one of the person's
    /// credentials); the credential's counter and backup state are then recorded with one
    /// guarded store verb ([`PasskeyStore::record_passkey_use`]), and a counter that did not move
    /// forward is refused and audited ([`AuditKind::PasskeyCounterRegressed`]). The step then
    /// commits like [`Self::verify_totp`]: the passkey's throttle counter (a throttled or locked
    /// one refuses before anything is spent), the spent ticket and the next step in one
    /// transaction under the person's lock. Any failure is the uniform
    /// [`ServiceError::InvalidCredentials`], counted and audited; the ticket stays.
    pub async fn finish_passkey_login(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        response: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let digest = ticket.digest();
        let snapshot = self
            .second_factor_snapshot(&digest, org, FactorKind::Passkey, now)
            .await?;
        let record = snapshot.ticket.ok_or(ServiceError::InvalidCredentials)?;
        let person = record.progress.person();
        match self
            .config
            .throttle
            .decide(&snapshot.counters.passkey.unwrap_or_default(), now)
        {
            ThrottleDecision::Allowed => {}
            ThrottleDecision::RetryAfter { at, .. } => {
                return Err(ServiceError::Throttled { retry_at: at });
            }
            ThrottleDecision::Locked { .. } => return Err(ServiceError::Locked),
        }
        let pending = self
            .backend
            .store()
            .take_passkey_challenge(person, PasskeyPurpose::SignIn, Some(&digest), now)
            .await
            .map_err(ServiceError::storage)?;
        let verified = match pending {
            None => false,
            Some(pending) => {
                let state = AuthenticationState::from_stored(pending.state);
                match ceremonies.finish_authentication(&state, response) {
                    Ok((credential_id, used)) => {
                        self.record_use(person, Some(org), &credential_id, &used, now)
                            .await?
                    }
                    Err(PasskeyError::Random) => {
                        return Err(passkey_fault(PasskeyError::Random));
                    }
                    Err(PasskeyError::CounterRegression) => {
                        self.counter_regressed(person, Some(org), now).await?;
                        false
                    }
                    Err(_) => false,
                }
            }
        };
        self.locked_second_factor(
            ticket,
            org,
            FactorKind::Passkey,
            now,
            |snapshot, ticket_person, write| {
                let counter = factor_key(ticket_person, FactorKind::Passkey);
                let stored = snapshot.counters.passkey;
                let reservation = self
                    .config
                    .throttle
                    .reserve(stored.unwrap_or_default(), now);
                match reservation.decision() {
                    ThrottleDecision::Allowed => {}
                    ThrottleDecision::RetryAfter { at, .. } => {
                        return Checked::Refused(ServiceError::Throttled { retry_at: at });
                    }
                    ThrottleDecision::Locked { .. } => {
                        return Checked::Refused(ServiceError::Locked);
                    }
                }
                if verified && ticket_person == person {
                    set_counter(write, counter, stored, ThrottleState::new());
                    Checked::Accepted(None)
                } else {
                    set_counter(write, counter, stored, reservation.state());
                    Checked::Rejected {
                        replayed: false,
                        event: reservation.event(),
                    }
                }
            },
        )
        .await
    }

    /// Records a verified use of the person's credential over the counter it is checked against
    /// (re-read and checked again when another server recorded one meanwhile). `false` when the
    /// credential is not the person's, or its counter did not move forward (audited).
    pub(super) async fn record_use(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        credential_id: &[u8],
        used: &PasskeyUse,
        now: u64,
    ) -> Result<bool, ServiceError> {
        let store = self.backend.store();
        for _ in 0..super::CAS_ATTEMPTS {
            let stored = PasskeyStore::passkeys(store, person)
                .await
                .map_err(ServiceError::storage)?
                .into_iter()
                .find(|p| p.credential_id == credential_id);
            let Some(stored) = stored else {
                return Ok(false);
            };
            if !used.advances(stored.counter) {
                self.counter_regressed(person, org, now).await?;
                return Ok(false);
            }
            let Ok(key) = updated_key(&stored.key, used) else {
                return Ok(false);
            };
            let write = PasskeyUseWrite {
                expected_counter: stored.counter,
                counter: used.counter.max(stored.counter),
                key,
                backup_state: used.backup_state,
                backup_eligible: used.backup_eligible,
                used_at: now,
            };
            if store
                .record_passkey_use(person, credential_id, &write)
                .await
                .map_err(ServiceError::storage)?
            {
                return Ok(true);
            }
        }
        Err(ServiceError::Conflict)
    }

    /// An assertion whose signature counter went backwards: the sign of a cloned
    /// authenticator (WebAuthn L3 §6.1.1). The assertion is refused by the caller; here the
    /// event is audited, every session and remembered device of the person ends (whichever of
    /// the two copies signed in before may be the clone), and the person is told
    /// ([`SecurityNotice::PasskeyCloneSuspected`]), to remove the key they no longer trust.
    pub(super) async fn counter_regressed(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<(), ServiceError> {
        self.record_one(
            now,
            Actor::System,
            Some(person),
            org,
            AuditKind::PasskeyCounterRegressed,
        )
        .await?;
        self.end_sessions_by(Actor::System, person, org, None)
            .await?;
        self.notice(person, SecurityNotice::PasskeyCloneSuspected)
            .await
    }
}

/// A ceremony that could not be made is a fault of the core (no random numbers), never the
/// person's.
pub(super) fn passkey_fault(_: PasskeyError) -> ServiceError {
    ServiceError::Core(crate::error::Error::Random)
}

//! Enrolling a passkey during a login (feature `passkeys`), where the organisation's policy asks
//! for a kind of factor the person does not hold yet ("company account verification", with
//! passkeys): start, finish, and for a person without recovery codes the acknowledgement. The
//! new passkey then counts as this login's second factor.

use alloc::string::String;

use super::login::stale_login;
use super::passkeys::{PASSKEY_CEREMONY_TTL, PasskeyRegistration, passkey_fault};
use super::steps::LoginStep;
use super::{Authenticator, ServiceError};
use crate::credential::factor::FactorKind;
use crate::credential::passkey::{PasskeyError, RegistrationState, UserHandle};
use crate::credential::token::{BearerToken, TokenDigest};
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::enrollment::AuthenticatorName;
use crate::policy::error::PolicyError;
use crate::policy::ids::OrgId;
use crate::policy::login::LoginDecision;
use crate::service::backend::Backend;
use crate::store::SecurityNotice;
use crate::store::login::{LoginSnapshot, SnapshotAt};
use crate::store::passkeys::{PasskeyChallengeRecord, PasskeyPurpose, PasskeyRecord, PasskeyStore};
use crate::store::records::{PendingStep, TicketRecord};

/// How a passkey enrolled during a login ended ([`Authenticator::finish_login_passkey_registration`]).
#[derive(Debug)]
#[must_use]
pub enum LoginPasskeyEnrollment {
    /// The passkey counts and the login went on with it as its second factor.
    Done(LoginStep),
    /// The person's first factor with recovery codes: show them once, then
    /// [`Authenticator::acknowledge_login_passkey`] with the same ticket.
    AwaitingAcknowledgement(PasskeyRegistration),
}

impl<B: Backend> Authenticator<B> {
    /// The snapshot and ticket of a login the decision sends to enrolment now, where the
    /// organisation counts passkeys ([`ServiceError::FactorUnavailable`] otherwise; the
    /// ticket stays). Anything else is refused as [`Self::start_login_enrollment`] is: a
    /// ticket for another step never enrols (whoever holds a factor presents it first).
    async fn passkey_enrolment_ticket(
        &self,
        digest: &TokenDigest,
        org: OrgId,
        now: u64,
    ) -> Result<(LoginSnapshot, TicketRecord), ServiceError> {
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(digest), Some(org), now)
            .await?;
        let record = self
            .step_ticket(&snapshot, PendingStep::EnrollMfa, org, now)
            .await?;
        match self.decide_on(&snapshot, &record.progress, now) {
            Some(LoginDecision::EnrollMfa { factors, .. })
                if factors.contains(FactorKind::Passkey) => {}
            _ => return Err(ServiceError::FactorUnavailable),
        }
        Ok((snapshot, record))
    }

    /// Enrolling a passkey during a login, step 1: the creation options (JSON) for the
    /// browser, for a login whose organisation asks this person to enrol a factor it counts,
    /// passkeys among them ([`LoginStep::EnrollMfa`]). The ceremony is bound to the ticket and
    /// expires with it or after [`PASSKEY_CEREMONY_TTL`]. The login itself is the
    /// re-authentication: the decision reaches enrolment only after the person presented every
    /// factor they hold, so a passkey never stands in for one.
    pub async fn start_login_passkey_registration(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        name: &str,
    ) -> Result<String, ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let name = AuthenticatorName::new(name)?;
        let digest = ticket.digest();
        let (snapshot, record) = self.passkey_enrolment_ticket(&digest, org, now).await?;
        let person = snapshot.person.ok_or(ServiceError::InvalidCredentials)?;
        let store = self.backend.store();
        let existing = PasskeyStore::passkeys(store, person.id)
            .await
            .map_err(ServiceError::storage)?;
        if existing
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(name.as_str()))
        {
            return Err(PolicyError::NameTaken.into());
        }
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

    /// Step 2: the browser's response. Verified against the ticket's ceremony (spent whatever
    /// the outcome; a failure is the uniform [`ServiceError::InvalidCredentials`], audited). A
    /// person with live recovery codes gets the passkey at once, and the login goes on with it
    /// as its second factor ([`LoginPasskeyEnrollment::Done`]): a factor was added, so every
    /// session and remembered device of the person ends (their epoch moves on) and this login
    /// continues at the new epoch. A person without them gets new recovery codes to show first
    /// ([`LoginPasskeyEnrollment::AwaitingAcknowledgement`]).
    pub async fn finish_login_passkey_registration(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        response: &str,
    ) -> Result<LoginPasskeyEnrollment, ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let digest = ticket.digest();
        let (snapshot, record) = self.passkey_enrolment_ticket(&digest, org, now).await?;
        stale_login(&record, &snapshot)?;
        let person = snapshot.person.ok_or(ServiceError::InvalidCredentials)?;
        let pending = self
            .backend
            .store()
            .take_passkey_challenge(person.id, PasskeyPurpose::Register, Some(&digest), now)
            .await
            .map_err(ServiceError::storage)?;
        let key = match pending.map(|p| {
            let state = RegistrationState::from_stored(p.state);
            (p.name, ceremonies.finish_registration(&state, response))
        }) {
            Some((name, Ok(key))) => (name, key),
            Some((_, Err(PasskeyError::Random))) => {
                return Err(passkey_fault(PasskeyError::Random));
            }
            _ => {
                self.record_one(
                    now,
                    Actor::Person(person.id),
                    Some(person.id),
                    Some(org),
                    AuditKind::PasskeyRegistrationRefused,
                )
                .await?;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        let (name, key) = key;
        let passkey = PasskeyRecord {
            person: person.id,
            credential_id: key.credential_id,
            name,
            key: key.key,
            counter: key.counter,
            backup_eligible: key.backup_eligible,
            backup_state: key.backup_state,
            created_at: now,
            last_used_at: None,
        };
        if !self.has_recovery_codes(person.id).await? {
            if self
                .backend
                .store()
                .passkey_by_id(&passkey.credential_id)
                .await
                .map_err(ServiceError::storage)?
                .is_some()
            {
                self.record_one(
                    now,
                    Actor::Person(person.id),
                    Some(person.id),
                    Some(org),
                    AuditKind::PasskeyRegistrationRefused,
                )
                .await?;
                return Err(ServiceError::InvalidCredentials);
            }
            let waiting = self
                .await_acknowledgement(&person, passkey, Some(digest), record.expires_at)
                .await?;
            return Ok(LoginPasskeyEnrollment::AwaitingAcknowledgement(waiting));
        }
        self.login_with_new_passkey(&digest, org, &record, &passkey, now)
            .await
            .map(LoginPasskeyEnrollment::Done)
    }

    /// Step 3 for a person without recovery codes: "I have safely recorded this". The codes go
    /// live, the passkey counts, and the login goes on with it as its second factor (every
    /// session of the person ends, as in step 2). Nothing waiting is
    /// [`PolicyError::NoEnrollment`].
    pub async fn acknowledge_login_passkey(
        &self,
        org: OrgId,
        ticket: &BearerToken,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        self.ceremonies()?;
        let digest = ticket.digest();
        let (snapshot, record) = self.passkey_enrolment_ticket(&digest, org, now).await?;
        stale_login(&record, &snapshot)?;
        let person = record.progress.person();
        let passkey = self
            .take_waiting_passkey(person, Some(&digest), now)
            .await?;
        self.login_with_new_passkey(&digest, org, &record, &passkey, now)
            .await
    }

    /// Stores the login's new passkey at the login's epoch, ends the person's sessions, and
    /// finishes the login with the passkey as its second factor at the new epoch.
    async fn login_with_new_passkey(
        &self,
        digest: &TokenDigest,
        org: OrgId,
        record: &TicketRecord,
        passkey: &PasskeyRecord,
        now: u64,
    ) -> Result<LoginStep, ServiceError> {
        let person = record.progress.person();
        let epoch = self
            .store_passkey(person, org, passkey, record.progress.epoch(), None, now)
            .await?;
        self.notice(person, SecurityNotice::AuthenticatorAdded)
            .await?;
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(digest), Some(org), now)
            .await?;
        self.finish(
            digest,
            org,
            snapshot,
            |p| p.with_second_factor(FactorKind::Passkey).at_epoch(epoch),
            now,
        )
        .await
    }
}

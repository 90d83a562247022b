//! Passwordless sign-in with a discoverable passkey (feature `passkeys`): the authenticator
//! picks the credential, verifies the person (user verification *required*) and signs; the
//! login then goes through the same decision, throttle, audit and session as a password and a
//! second factor.

use alloc::string::String;

use alloc::vec::Vec;

use super::find_org::copy;
use super::passkeys::{PASSKEY_CEREMONY_TTL, passkey_fault};
use super::steps::LoginStep;
use super::{Authenticator, CAS_ATTEMPTS, ServiceError, factor_key};
use crate::credential::factor::FactorKind;
use crate::credential::passkey::{AuthenticationState, PasskeyError, UserHandle};
use crate::credential::token::BearerToken;
use crate::policy::audit::{Actor, AuditKind, DenyReason, LoginOutcome};
use crate::policy::factors::Factor;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{LoginDecision, LoginProgress};
use crate::service::backend::Backend;
use crate::store::login::{SnapshotAt, StepWrite};
use crate::store::passkeys::{PasskeyChallengeRecord, PasskeyPurpose, PasskeyStore};

/// Whom a passwordless ceremony is filed under before anyone is known.
const NOBODY: PersonId = PersonId::new(0);

impl<B: Backend> Authenticator<B> {
    /// Passwordless sign-in, part 1: the request options (JSON) for the browser's
    /// `navigator.credentials.get()` (no credential named, user verification required,
    /// conditional mediation, as passkey autofill uses) and the attempt's token, to keep with
    /// the page (a cookie) and pass back to [`Self::finish_passwordless_login`]. The ceremony
    /// state stays server-side, bound to that token, single-use, and expires after
    /// [`PASSKEY_CEREMONY_TTL`]. Nothing about anyone is read or revealed.
    pub async fn start_passwordless_login(&self) -> Result<(String, BearerToken), ServiceError> {
        let now = self.now();
        let ceremonies = self.ceremonies()?;
        let attempt = BearerToken::generate()?;
        let (options, state) = ceremonies.start_passwordless().map_err(passkey_fault)?;
        self.backend
            .store()
            .put_passkey_challenge(&PasskeyChallengeRecord {
                person: NOBODY,
                purpose: PasskeyPurpose::Passwordless,
                name: String::new(),
                ticket: Some(attempt.digest()),
                state: String::from(state.as_str()),
                expires_at: now.saturating_add(PASSKEY_CEREMONY_TTL),
            })
            .await
            .map_err(ServiceError::storage)?;
        Ok((options, attempt))
    }

    /// Passwordless sign-in, part 2: the browser's assertion (JSON) for the attempt, the
    /// organisation found from the person's memberships as [`Self::login`] finds it after a
    /// password.
    ///
    /// The attempt's ceremony is spent whatever the outcome. The credential the assertion names
    /// is looked up; its owner's user handle must be the one the authenticator returned
    /// (WebAuthn Level 3 §7.2 step 6); then, on the owner's passkey throttle counter (a
    /// throttled or locked one refuses before anything is verified), the assertion is verified
    /// — challenge, origin, RP id, user verification, signature (§7.2 steps 10–21) — and its
    /// counter recorded as at a second-factor step (§6.1.1: a counter that went backwards is
    /// refused and audited). The discoverable credential is what identifies the person; the
    /// list of their organisations is read only once it verified, and answered only to them.
    ///
    /// Then, as for a password:
    ///
    /// - in one organisation (or in several, of which only one would sign them in now), the
    ///   login completes there exactly as [`Self::finish_passwordless_login_to`] would;
    /// - in several that would: [`LoginStep::ChooseOrganisation`] with those organisations, and
    ///   a ticket for [`Self::choose_organisation`], which carries the choice and signs the
    ///   person in to the one chosen (only a decision that grants completes a passwordless
    ///   login there, too);
    /// - in none that would: the first organisation's refusal, as
    ///   [`Self::finish_passwordless_login_to`] gives it ([`ServiceError::FactorUnavailable`]
    ///   where the organisation asks for something a passkey is not, a locked or deactivated
    ///   person refused as at the password step);
    /// - a member of none: [`ServiceError::InvalidCredentials`], audited as
    ///   `Login { outcome: Denied(NotAMember) }` with no organisation.
    ///
    /// Every failure of the ceremony itself is the uniform [`ServiceError::InvalidCredentials`]:
    /// an unknown credential audited as [`AuditKind::PasswordlessRefused`], a known one's
    /// failure counted and audited as a rejected passkey.
    ///
    /// Only an assertion that names a credential and carries its owner's user handle reaches
    /// the owner's counter: both are known only to the owner's authenticator and the server
    /// (the handle is random, and a credential id is shown only after the password step), so a
    /// stranger cannot lock someone's passkey by guessing.
    pub async fn finish_passwordless_login(
        &self,
        attempt: &BearerToken,
        response: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let person = self
            .verify_passwordless(None, attempt, response, now)
            .await?;
        let orgs = self.member_organisations(person).await?;
        let Some(first) = orgs.first().map(|o| o.value.id()) else {
            self.record_one(
                now,
                Actor::Person(person),
                Some(person),
                None,
                AuditKind::Login {
                    outcome: LoginOutcome::Denied(DenyReason::NotAMember),
                },
            )
            .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        for _ in 0..CAS_ATTEMPTS {
            let mut snapshot = self.snapshot(SnapshotAt::Person(person), None, now).await?;
            // The login starts at the epoch read with the person, as a password login does.
            let pending = LoginProgress::passkey_organisation_pending(person, now)
                .at_epoch(snapshot.epoch.unwrap_or(0));
            let mut open = Vec::with_capacity(orgs.len());
            for org in &orgs {
                snapshot.organisation = Some(copy(org));
                let progress = pending.in_organisation(org.value.id())?;
                if matches!(
                    self.decide_on(&snapshot, &progress, now),
                    Some(LoginDecision::Allowed(_))
                ) {
                    open.push(org.value.id());
                }
            }
            if open.len() < 2 {
                // The one organisation that signs them in or, when there is none, the first
                // one's refusal.
                let org = open.first().copied().unwrap_or(first);
                return self.passwordless_decision(person, org, now).await;
            }
            snapshot.organisation = None;
            let mut write = StepWrite::default();
            let concluded = self.organisation_choice(&snapshot, pending, open, now, &mut write)?;
            if self.apply(&write).await? {
                return concluded.settle(self, None).await;
            }
        }
        Err(ServiceError::Conflict)
    }

    /// [`Self::finish_passwordless_login`] into `org`, for a host that knows the organisation
    /// (a sign-in page of one organisation), as [`Self::login_to`] is to [`Self::login`].
    ///
    /// The ceremony is verified, throttled and audited the same way. The login decision then
    /// runs as for a password and a second factor: the passkey with user verification stands
    /// for both ([`LoginProgress::passkey_verified`], AAL2). Only a decision that grants
    /// completes it, with a session as any login's ([`LoginStep::Granted`]); a login the
    /// organisation's policy or the person's state sends elsewhere — a factor it counts that is
    /// not a passkey to present, a password to change, an enrolment — is
    /// [`ServiceError::FactorUnavailable`] (sign in with the password instead), and a locked,
    /// deactivated or non-member person is refused as at the password step.
    pub async fn finish_passwordless_login_to(
        &self,
        org: OrgId,
        attempt: &BearerToken,
        response: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let person = self
            .verify_passwordless(Some(org), attempt, response, now)
            .await?;
        self.passwordless_decision(person, org, now).await
    }

    /// The ceremony of a passwordless sign-in: the attempt spent, the credential found, its
    /// owner's handle checked, the attempt counted on the owner's passkey counter, the assertion
    /// verified and its use recorded. The person it verified; a failure is audited (under
    /// `org`, when named) and uniform.
    async fn verify_passwordless(
        &self,
        org: Option<OrgId>,
        attempt: &BearerToken,
        response: &str,
        now: u64,
    ) -> Result<PersonId, ServiceError> {
        let ceremonies = self.ceremonies()?;
        let store = self.backend.store();
        let digest = attempt.digest();
        let pending = store
            .take_passkey_challenge(NOBODY, PasskeyPurpose::Passwordless, Some(&digest), now)
            .await
            .map_err(ServiceError::storage)?;
        let claimed = ceremonies.identify_passwordless(response).ok();
        let found = match &claimed {
            Some((_, id)) => store
                .passkey_by_id(id)
                .await
                .map_err(ServiceError::storage)?,
            None => None,
        };
        let (Some(pending), Some((handle, _)), Some(passkey)) = (pending, claimed, found) else {
            return self.passwordless_refused(org, now).await;
        };
        let person = passkey.person;
        let owners = store
            .ensure_user_handle(person, UserHandle::generate().map_err(passkey_fault)?)
            .await
            .map_err(ServiceError::storage)?;
        if owners != Some(handle) {
            return self.passwordless_refused(org, now).await;
        }
        let reserved = self
            .reserve_attempt(
                factor_key(person, FactorKind::Passkey),
                Factor::Second(FactorKind::Passkey),
                now,
            )
            .await?;
        let state = AuthenticationState::from_stored(pending.state);
        let verified = match ceremonies.finish_passwordless(&state, response, &passkey.key) {
            Ok((credential_id, used)) => {
                self.record_use(person, org, &credential_id, &used, now)
                    .await?
            }
            Err(PasskeyError::Random) => return Err(passkey_fault(PasskeyError::Random)),
            Err(PasskeyError::CounterRegression) => {
                self.counter_regressed(person, org, now).await?;
                false
            }
            Err(_) => false,
        };
        if !verified {
            self.reject_credential(reserved, person, org, false, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        self.accept_attempt(reserved, now).await?;
        Ok(person)
    }

    /// The login decision of a verified passwordless sign-in, committed only when it grants.
    async fn passwordless_decision(
        &self,
        person: PersonId,
        org: OrgId,
        now: u64,
    ) -> Result<LoginStep, ServiceError> {
        for _ in 0..CAS_ATTEMPTS {
            let snapshot = self
                .snapshot(SnapshotAt::Person(person), Some(org), now)
                .await?;
            // The login starts at the epoch read with the person: a bump after it (a reset,
            // "sign out everywhere") leaves it without a session.
            let progress = LoginProgress::passkey_verified(person, org, now)
                .at_epoch(snapshot.epoch.unwrap_or(0));
            self.granted_at_once(&snapshot, &progress, now).await?;
            let mut write = StepWrite::default();
            let concluded = self.conclude(&snapshot, progress, now, &mut write)?;
            if self.apply(&write).await? {
                return concluded.settle(self, None).await;
            }
        }
        Err(ServiceError::Conflict)
    }

    /// An assertion for no live attempt, naming no credential anyone holds, or under another
    /// person's user handle: audited, and the uniform failure.
    async fn passwordless_refused<T>(
        &self,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<T, ServiceError> {
        self.record_one(
            now,
            Actor::System,
            None,
            org,
            AuditKind::PasswordlessRefused,
        )
        .await?;
        Err(ServiceError::InvalidCredentials)
    }
}

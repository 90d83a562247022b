//! Enrolling an authenticator app, signed in or during a login: the three steps (start,
//! confirm with a code, acknowledge the recovery codes) and the compare-and-swap update of the
//! MFA state they share with the signed-in operations.

use core::fmt;

use zeroize::Zeroizing;

use super::{Authenticator, CAS_ATTEMPTS, HashJob, PasswordHashing, ServiceError};
use crate::credential::factor::FactorKind;
use crate::credential::recovery::RecoveryCodes;
use crate::otp::clock::Clock;
use crate::otp::uri::OtpAuthUri;
use crate::policy::enrollment::{EnrollmentPurpose, Mfa};
use crate::policy::error::PolicyError;
use crate::policy::factors::Factor;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{Grant, LoginProgress};
use crate::store::login::LoginStore;
use crate::store::records::PersonRecord;
use crate::store::{AuditSink, Notifier, SecurityNotice};

/// What a new authenticator's enrollment rests on: the signed-in person's grant, or the pending
/// login's verified factors ("company account verification").
#[derive(Clone, Copy)]
pub(super) enum Reauthentication<'a> {
    /// A grant (fresh and AAL2 once the person has MFA).
    Grant(&'a Grant),
    /// The login in progress.
    Login(&'a LoginProgress),
}

/// What to show a person enrolling an authenticator app: the `otpauth://` URI (as a QR code) and
/// the manual key. Both hold the secret: show them to this person only, and never log them.
pub struct EnrollmentSetup {
    uri: OtpAuthUri,
}

impl EnrollmentSetup {
    /// The `otpauth://` URI, to render as a QR code (see `OtpAuthUri::qr_svg` with the `qr`
    /// feature).
    pub fn uri(&self) -> &OtpAuthUri {
        &self.uri
    }

    /// The secret in base32, for typing into the app by hand.
    pub fn manual_key(&self) -> Zeroizing<alloc::string::String> {
        self.uri.secret().expose_base32()
    }
}

impl fmt::Debug for EnrollmentSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnrollmentSetup([REDACTED])")
    }
}

impl<St, C, A, N, H> Authenticator<St, C, A, N, H>
where
    St: LoginStore,
    C: Clock,
    A: AuditSink,
    N: Notifier,
    H: PasswordHashing,
{
    /// Reads the person's MFA state, applies `change`, and writes it back with a
    /// compare-and-swap, recomputing from a fresh read when another writer won. Records the
    /// transition's events.
    pub(super) async fn update_mfa<O, F>(
        &self,
        person: PersonId,
        mut change: F,
    ) -> Result<(Mfa, O), ServiceError>
    where
        F: FnMut(&Mfa) -> Result<crate::policy::Transition<Mfa, O>, ServiceError> + Send,
        O: Send,
    {
        for _ in 0..CAS_ATTEMPTS {
            let loaded = self
                .services
                .store
                .mfa(person)
                .await
                .map_err(ServiceError::storage)?;
            let (mfa, version) = match loaded {
                Some(v) => (v.value, Some(v.version)),
                None => (Mfa::new(person), None),
            };
            let transition = change(&mfa)?;
            let written = self
                .services
                .store
                .replace_mfa(person, &transition.state, version)
                .await
                .map_err(ServiceError::storage)?;
            if written {
                self.record(&transition.events).await?;
                return Ok((transition.state, transition.outcome));
            }
        }
        Err(ServiceError::Conflict)
    }

    /// Enrollment step 1 for `person`.
    pub(super) async fn enroll_start(
        &self,
        person: &PersonRecord,
        purpose: EnrollmentPurpose,
        reauth: Reauthentication<'_>,
        now: u64,
    ) -> Result<EnrollmentSetup, ServiceError> {
        let config = &self.config.enrollment;
        let (mfa, ()) = self
            .update_mfa(person.id, |mfa| {
                Ok(match reauth {
                    Reauthentication::Grant(grant) => {
                        mfa.start_enrollment_with_os_rng(purpose.clone(), Some(grant), config, now)?
                    }
                    Reauthentication::Login(progress) => mfa
                        .start_enrollment_at_login_with_os_rng(
                            purpose.clone(),
                            progress,
                            config,
                            now,
                        )?,
                })
            })
            .await?;
        let enrollment = mfa
            .enrollment()
            .ok_or(ServiceError::Policy(PolicyError::NoEnrollment))?;
        let secret = crate::otp::secret::SecretKey::from_bytes_allow_short(
            enrollment.expose_secret().expose_bytes(),
        )?;
        let uri = OtpAuthUri::totp(
            Some(&self.config.issuer),
            person.login.as_str(),
            secret,
            &enrollment.params(),
        )?;
        Ok(EnrollmentSetup { uri })
    }

    /// Enrollment step 2 for `person`: the confirming code, then new recovery codes stored in
    /// the pending slot.
    pub(super) async fn enroll_confirm(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        code: &str,
        now: u64,
    ) -> Result<RecoveryCodes, ServiceError> {
        // The confirming code is a guess like a login code: reserved on the TOTP counter before
        // it is checked. (A refusal for another reason leaves the reservation counted.)
        let reserved = self
            .reserve_attempt(
                super::factor_key(person, FactorKind::Totp),
                Factor::Second(FactorKind::Totp),
                now,
            )
            .await?;
        let config = &self.config.enrollment;
        let (_, outcome) = self
            .update_mfa(person, |mfa| Ok(mfa.confirm_enrollment(code, config, now)?))
            .await?;
        match outcome {
            crate::policy::enrollment::ConfirmOutcome::Confirmed => {}
            crate::policy::enrollment::ConfirmOutcome::CodeRejected => {
                self.reject_credential(reserved, person, org, false, now)
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            }
            _ => return Err(ServiceError::Policy(PolicyError::NoEnrollment)),
        }
        self.accept_attempt(reserved, now).await?;
        let new = self
            .services
            .hasher
            .run(HashJob::recovery_generate(self.config.recovery))
            .await
            .into_recovery_codes()?;
        self.services
            .store
            .replace_recovery_codes(
                person,
                crate::store::records::RecoverySlot::Pending,
                Some(&new.set),
            )
            .await
            .map_err(ServiceError::storage)?;
        let (_, issued) = self
            .update_mfa(person, |mfa| Ok(mfa.recovery_codes_issued(config, now)?))
            .await?;
        if issued != crate::policy::enrollment::IssueOutcome::Recorded {
            return Err(ServiceError::Policy(PolicyError::NoEnrollment));
        }
        Ok(new.codes)
    }

    /// Enrollment step 3 for `person`: activates the authenticator and the pending recovery
    /// codes, and tells the person a new authenticator was added.
    pub(super) async fn enroll_acknowledge(
        &self,
        person: PersonId,
        now: u64,
    ) -> Result<crate::policy::ids::AuthenticatorId, ServiceError> {
        let config = &self.config.enrollment;
        let (_, outcome) = self
            .update_mfa(person, |mfa| {
                Ok(mfa.acknowledge_recovery_codes(config, now)?)
            })
            .await?;
        let crate::policy::enrollment::AcknowledgeOutcome::Activated { authenticator, .. } =
            outcome
        else {
            return Err(ServiceError::Policy(PolicyError::NoEnrollment));
        };
        let _ = self
            .services
            .store
            .activate_pending_recovery_codes(person)
            .await
            .map_err(ServiceError::storage)?;
        self.notice(person, SecurityNotice::AuthenticatorAdded)
            .await?;
        Ok(authenticator)
    }
}

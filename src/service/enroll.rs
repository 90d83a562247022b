//! Enrolling an authenticator app, signed in or during a login: the three steps (start,
//! confirm with a code, acknowledge the recovery codes) and the compare-and-swap update of the
//! MFA state they share with the signed-in operations.

use core::fmt;

use zeroize::Zeroizing;

use alloc::vec::Vec;

use super::factors::set_counter;
use super::{Authenticator, CAS_ATTEMPTS, HashJob, PasswordHashing, Reserved, ServiceError};
use crate::credential::factor::FactorKind;
use crate::credential::recovery::{NewRecoveryCodes, RecoveryCodeSet, RecoveryCodes};
use crate::credential::throttle::{ThrottleDecision, ThrottleEvent, ThrottleState};
use crate::otp::uri::OtpAuthUri;
use crate::policy::audit::AuditEvent;
use crate::policy::enrollment::{ConfirmOutcome, EnrollmentPurpose, IssueOutcome, Mfa};
use crate::policy::error::PolicyError;
use crate::policy::factors::Factor;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{Grant, LoginProgress};
use crate::service::backend::Backend;
use crate::store::SecretStore;
use crate::store::SecurityNotice;
use crate::store::login::{LoginSnapshot, LoginStore, MfaWrite, SnapshotAt, StepWrite};
use crate::store::records::{PersonRecord, RecoverySlot};

/// What the locked confirmation step decided.
enum ConfirmStep {
    /// The code confirms, but no recovery codes were generated for it yet: nothing written.
    NeedCodes,
    /// The counter is throttled or locked: nothing verified or written.
    Refused(ServiceError),
    /// A wrong code: its failure counted. The enrollment's events, and what counting changed.
    Rejected {
        events: Vec<AuditEvent>,
        event: Option<ThrottleEvent>,
    },
    /// Refused for another reason (no enrollment, or it expired), the attempt counted.
    Failed(Vec<AuditEvent>, ServiceError),
    /// Confirmed, the codes recorded as issued, the pending set stored: the events.
    Confirmed(Vec<AuditEvent>),
}

/// Whether enrollment step 1 shows an enrollment in progress again or starts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Begin {
    /// Show the one in progress for the same purpose, if any can be shown again.
    Resume,
    /// A new secret, whatever is in progress ("start over").
    StartOver,
}

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

impl<B: Backend> Authenticator<B> {
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
                .backend
                .store()
                .mfa(person)
                .await
                .map_err(ServiceError::storage)?;
            let (mfa, version) = match loaded {
                Some(v) => (v.value, Some(v.version)),
                None => (Mfa::new(person), None),
            };
            let transition = change(&mfa)?;
            let written = self
                .backend
                .store()
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

    /// Enrollment step 1 for `person`. With [`Begin::Resume`], an enrollment in progress for
    /// the same purpose, still awaiting its code and unexpired, is shown again as it is (the
    /// same secret, the same QR code); otherwise, and always with [`Begin::StartOver`], a new
    /// secret replaces it. The checks are the same either way: the start transition is computed
    /// on every read (its re-authentication checks included), and only written when nothing can
    /// be shown again. Two tabs starting at once: one writes, the other, on its fresh read,
    /// shows what the first wrote.
    pub(super) async fn enroll_start(
        &self,
        person: &PersonRecord,
        purpose: EnrollmentPurpose,
        reauth: Reauthentication<'_>,
        begin: Begin,
        now: u64,
    ) -> Result<EnrollmentSetup, ServiceError> {
        let config = &self.config.enrollment;
        for _ in 0..CAS_ATTEMPTS {
            let loaded = self
                .backend
                .store()
                .mfa(person.id)
                .await
                .map_err(ServiceError::storage)?;
            let (mfa, version) = match loaded {
                Some(v) => (v.value, Some(v.version)),
                None => (Mfa::new(person.id), None),
            };
            let transition = match reauth {
                Reauthentication::Grant(grant) => {
                    mfa.start_enrollment_with_os_rng(purpose.clone(), Some(grant), config, now)?
                }
                Reauthentication::Login(progress) => mfa.start_enrollment_at_login_with_os_rng(
                    purpose.clone(),
                    progress,
                    config,
                    now,
                )?,
            };
            if begin == Begin::Resume
                && let Some(pending) = mfa.resumable_enrollment(&purpose, now)
            {
                return self.setup_of(person, pending);
            }
            let written = self
                .backend
                .store()
                .replace_mfa(person.id, &transition.state, version)
                .await
                .map_err(ServiceError::storage)?;
            if written {
                self.record(&transition.events).await?;
                let enrollment = transition
                    .state
                    .enrollment()
                    .ok_or(ServiceError::Policy(PolicyError::NoEnrollment))?;
                return self.setup_of(person, enrollment);
            }
        }
        Err(ServiceError::Conflict)
    }

    /// What to show for `enrollment`: its `otpauth://` URI (the QR code) and manual key.
    fn setup_of(
        &self,
        person: &PersonRecord,
        enrollment: &crate::policy::enrollment::Enrollment,
    ) -> Result<EnrollmentSetup, ServiceError> {
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
    /// the pending slot — one transaction under the person's lock
    /// ([`LoginStore::locked_step`]): the throttle decides on the TOTP counter, the code is
    /// checked against the enrollment, and the confirmed state (with the codes recorded as
    /// issued), the pending set and the settled counter are committed together; a wrong code
    /// commits only its counted failure.
    ///
    /// The recovery codes are generated (argon2, with no lock held) before that transaction, and
    /// only when a first read says the code would confirm, so a wrong code costs no generation.
    pub(super) async fn enroll_confirm(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        code: &str,
        now: u64,
    ) -> Result<RecoveryCodes, ServiceError> {
        let config = &self.config.enrollment;
        let snapshot = self
            .backend
            .store()
            .login_snapshot(SnapshotAt::Person(person), None, now)
            .await
            .map_err(ServiceError::storage)?;
        let would_confirm = self
            .config
            .throttle
            .decide(&snapshot.counters.totp.unwrap_or_default(), now)
            .is_allowed()
            && snapshot.mfa.as_ref().is_some_and(|m| {
                m.value
                    .confirm_enrollment(code, config, now)
                    .is_ok_and(|t| t.outcome == ConfirmOutcome::Confirmed)
            });
        drop(snapshot);
        let mut new = if would_confirm {
            Some(self.generate_recovery_codes().await?)
        } else {
            None
        };
        for _ in 0..CAS_ATTEMPTS {
            let set = new.as_ref().map(|n| &n.set);
            let step = self
                .backend
                .store()
                .locked_step(SnapshotAt::Person(person), None, now, |snapshot| {
                    self.confirm_locked(snapshot, person, code, set, now)
                })
                .await
                .map_err(ServiceError::storage)?;
            match step {
                ConfirmStep::NeedCodes => {
                    // The enrollment changed since the first read: the code confirms after all.
                    new = Some(self.generate_recovery_codes().await?);
                }
                ConfirmStep::Refused(e) => return Err(e),
                ConfirmStep::Failed(events, e) => {
                    self.record(&events).await?;
                    return Err(e);
                }
                ConfirmStep::Rejected { events, event } => {
                    self.record(&events).await?;
                    let reserved = Reserved {
                        key: super::factor_key(person, FactorKind::Totp),
                        factor: Factor::Second(FactorKind::Totp),
                        event,
                    };
                    self.reject_credential(reserved, person, org, false, now)
                        .await?;
                    return Err(ServiceError::InvalidCredentials);
                }
                ConfirmStep::Confirmed(events) => {
                    self.record(&events).await?;
                    return new
                        .map(|n| n.codes)
                        .ok_or(ServiceError::Policy(PolicyError::NoEnrollment));
                }
            }
        }
        Err(ServiceError::Conflict)
    }

    pub(super) async fn generate_recovery_codes(&self) -> Result<NewRecoveryCodes, ServiceError> {
        self.backend
            .hasher()
            .run(HashJob::recovery_generate(self.config.recovery))
            .await
            .into_recovery_codes()
    }

    /// The pure core of [`Self::enroll_confirm`], on what the locked transaction read.
    fn confirm_locked(
        &self,
        snapshot: &LoginSnapshot,
        person: PersonId,
        code: &str,
        set: Option<&RecoveryCodeSet>,
        now: u64,
    ) -> (StepWrite, ConfirmStep) {
        let config = &self.config.enrollment;
        let mut write = StepWrite::default();
        let key = super::factor_key(person, FactorKind::Totp);
        let stored = snapshot.counters.totp;
        let reservation = self
            .config
            .throttle
            .reserve(stored.unwrap_or_default(), now);
        match reservation.decision() {
            ThrottleDecision::Allowed => {}
            ThrottleDecision::RetryAfter { at, .. } => {
                return (
                    write,
                    ConfirmStep::Refused(ServiceError::Throttled { retry_at: at }),
                );
            }
            ThrottleDecision::Locked { .. } => {
                return (write, ConfirmStep::Refused(ServiceError::Locked));
            }
        }
        // The confirming code is a guess like a login code: counted unless it confirms (a refusal
        // for another reason stays counted too).
        set_counter(&mut write, key.clone(), stored, reservation.state());
        let fresh;
        let (mfa, version) = match &snapshot.mfa {
            Some(v) => (&v.value, Some(v.version)),
            None => {
                fresh = Mfa::new(person);
                (&fresh, None)
            }
        };
        let confirmed = match mfa.confirm_enrollment(code, config, now) {
            Ok(t) => t,
            Err(e) => return (write, ConfirmStep::Failed(Vec::new(), e.into())),
        };
        match confirmed.outcome {
            ConfirmOutcome::Confirmed => {}
            ConfirmOutcome::CodeRejected => {
                let step = ConfirmStep::Rejected {
                    events: confirmed.events,
                    event: reservation.event(),
                };
                return (write, step);
            }
            _ => {
                write.mfa = Some(MfaWrite {
                    person,
                    mfa: confirmed.state,
                    expected_version: version,
                });
                let refused = ServiceError::Policy(PolicyError::NoEnrollment);
                return (write, ConfirmStep::Failed(confirmed.events, refused));
            }
        }
        let Some(set) = set else {
            return (StepWrite::default(), ConfirmStep::NeedCodes);
        };
        let issued = match confirmed.state.recovery_codes_issued(config, now) {
            Ok(t) if t.outcome == IssueOutcome::Recorded => t,
            _ => {
                let refused = ServiceError::Policy(PolicyError::NoEnrollment);
                return (write, ConfirmStep::Failed(Vec::new(), refused));
            }
        };
        set_counter(&mut write, key, stored, ThrottleState::new());
        write.mfa = Some(MfaWrite {
            person,
            mfa: issued.state,
            expected_version: version,
        });
        write.recovery_set = Some((person, RecoverySlot::Pending, set.clone()));
        let mut events = confirmed.events;
        events.extend(issued.events);
        (write, ConfirmStep::Confirmed(events))
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
            .backend
            .store()
            .activate_pending_recovery_codes(person)
            .await
            .map_err(ServiceError::storage)?;
        self.notice(person, SecurityNotice::AuthenticatorAdded)
            .await?;
        Ok(authenticator)
    }
}

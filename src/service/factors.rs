//! The factor checks the login steps and the signed-in operations share: the person and the
//! factors they hold, TOTP codes (under the person's lock), out-of-band codes and their sends,
//! and replacing a password.

use super::config::ServiceConfig;
use super::{Authenticator, CAS_ATTEMPTS, HashJob, PasswordHashing, Reserved, ServiceError};
use crate::credential::factor::FactorKind;
use crate::credential::oob::{OobOutcome, OobSendLog, SendDecision};
use crate::credential::password::policy::{PasswordContext, PolicyViolation};
use crate::credential::password::{Password, PasswordHash};
use crate::credential::phone::PhoneNumber;
use crate::credential::throttle::{ThrottleDecision, ThrottleEvent, ThrottleState};
use crate::otp::error::Refusal;
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::enrollment::LoginCodeAccepted;
use crate::policy::factors::{Factor, SecondFactors};
use crate::policy::ids::{AuthenticatorId, OrgId, PersonId};
use crate::policy::login::PasswordState;
use crate::service::backend::Backend;
use crate::store::SecretStore;
use crate::store::UserStore;
use crate::store::login::{CounterWrite, LoginSnapshot, LoginStore, SnapshotAt, StepWrite};
use crate::store::records::{OobChallengeRecord, OobPurpose, PersonRecord};
use crate::store::{Notification, SecurityNotice};

/// What a TOTP check decided under the person's lock.
pub(super) enum TotpChecked {
    /// The counter is throttled or locked: nothing was verified or written.
    Refused(ServiceError),
    /// A wrong (or replayed) code: the failure is counted in the same commit.
    Rejected {
        /// A valid code already used (at or below the watermark).
        replayed: bool,
        /// What counting the failure changed.
        event: Option<ThrottleEvent>,
    },
    /// The code is right and its step is spent in the same commit.
    Accepted(LoginCodeAccepted),
}

/// Checks `code` for `person` on `snapshot` (read under the person's lock) and adds the writes
/// to `write`: the throttle decides on the stored TOTP counter first, and an allowed attempt is
/// verified against the MFA state with its watermarks; a failure counts on the counter, a
/// success raises the watermark (guarded) and clears the counter. The attempt is counted before
/// its outcome is revealed, because both are one commit.
pub(super) fn totp_check(
    config: &ServiceConfig,
    snapshot: &LoginSnapshot,
    person: PersonId,
    code: &str,
    now: u64,
    write: &mut StepWrite,
) -> TotpChecked {
    let key = super::factor_key(person, FactorKind::Totp);
    let stored = snapshot.counters.totp;
    let reservation = config.throttle.reserve(stored.unwrap_or_default(), now);
    match reservation.decision() {
        ThrottleDecision::Allowed => {}
        ThrottleDecision::RetryAfter { at, .. } => {
            return TotpChecked::Refused(ServiceError::Throttled { retry_at: at });
        }
        ThrottleDecision::Locked { .. } => return TotpChecked::Refused(ServiceError::Locked),
    }
    let accepted = snapshot.mfa.as_ref().map(|m| {
        m.value
            .verify_login_code_detailed(code, now, config.enrollment.window())
    });
    match accepted {
        Some(Ok(accepted)) => {
            write.watermark = Some((person, accepted.authenticator(), accepted.step().step()));
            set_counter(write, key, stored, ThrottleState::new());
            TotpChecked::Accepted(accepted)
        }
        other => {
            set_counter(write, key, stored, reservation.state());
            TotpChecked::Rejected {
                replayed: matches!(other, Some(Err(Refusal::Replayed))),
                event: reservation.event(),
            }
        }
    }
}

/// Sets the compare-and-swap of counter `key` in `write` (replacing one already there for the
/// same key, whose expected state is kept).
pub(super) fn set_counter(
    write: &mut StepWrite,
    key: crate::store::records::ThrottleKey,
    expected: Option<ThrottleState>,
    new: ThrottleState,
) {
    if let Some(existing) = write.counters.iter_mut().find(|c| c.key == key) {
        existing.new = new;
    } else {
        write.counters.push(CounterWrite { key, expected, new });
    }
}

impl<B: Backend> Authenticator<B> {
    pub(super) async fn person(&self, id: PersonId) -> Result<PersonRecord, ServiceError> {
        self.backend
            .store()
            .person(id)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(ServiceError::InvalidCredentials)
    }

    /// The second factors the person has: the app and recovery codes (while any remain), and SMS
    /// for a verified phone when SMS is configured. One read.
    pub(super) async fn own_factors(
        &self,
        person: &PersonRecord,
    ) -> Result<SecondFactors, ServiceError> {
        let snapshot = self
            .backend
            .store()
            .login_snapshot(SnapshotAt::Person(person.id), None, self.now())
            .await
            .map_err(ServiceError::storage)?;
        Ok(self.snapshot_factors(&snapshot))
    }

    /// The second factors a snapshot's person has (none without a person).
    pub(super) fn snapshot_factors(&self, snapshot: &LoginSnapshot) -> SecondFactors {
        let Some(person) = &snapshot.person else {
            return SecondFactors::EMPTY;
        };
        let mut factors = snapshot
            .mfa
            .as_ref()
            .map_or(SecondFactors::EMPTY, |m| m.value.factors());
        if factors.contains(FactorKind::RecoveryCode)
            && snapshot
                .recovery
                .as_ref()
                .is_none_or(|s| s.remaining() == 0)
        {
            factors = factors.without(FactorKind::RecoveryCode);
        }
        if person.phone.is_some() && self.config.oob.is_some() {
            factors = factors.with(FactorKind::OutOfBandSms);
        }
        #[cfg(feature = "passkeys")]
        if snapshot.has_passkey && self.config.passkeys.is_some() {
            factors = factors.with(FactorKind::Passkey);
            // The recovery codes issued with the first passkey back it up as they back up an
            // app.
            if snapshot
                .recovery
                .as_ref()
                .is_some_and(|s| s.remaining() > 0)
            {
                factors = factors.with(FactorKind::RecoveryCode);
            }
        }
        factors
    }

    /// Verifies a TOTP code of a signed-in person (a step-up) and spends its step: one
    /// transaction under the person's lock ([`LoginStore::locked_step`]), like the login step.
    /// Counts and audits failures.
    pub(super) async fn check_totp(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        code: &str,
        now: u64,
    ) -> Result<AuthenticatorId, ServiceError> {
        let config = &self.config;
        let checked = self
            .backend
            .store()
            .locked_step(SnapshotAt::Person(person), None, now, |snapshot| {
                let mut write = StepWrite::default();
                let checked = totp_check(config, snapshot, person, code, now, &mut write);
                (write, checked)
            })
            .await
            .map_err(ServiceError::storage)?;
        let accepted = self.settle_totp(checked, person, org, now).await?;
        self.record(&[login_code_event(person, org, accepted, now)])
            .await?;
        Ok(accepted.authenticator())
    }

    /// Audits a refused or rejected TOTP check (and notifies a lock); the accepted code.
    pub(super) async fn settle_totp(
        &self,
        checked: TotpChecked,
        person: PersonId,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<LoginCodeAccepted, ServiceError> {
        match checked {
            TotpChecked::Refused(e) => Err(e),
            TotpChecked::Rejected { replayed, event } => {
                let reserved = Reserved {
                    key: super::factor_key(person, FactorKind::Totp),
                    factor: Factor::Second(FactorKind::Totp),
                    event,
                };
                self.reject_credential(reserved, person, org, replayed, now)
                    .await?;
                Err(ServiceError::InvalidCredentials)
            }
            TotpChecked::Accepted(accepted) => Ok(accepted),
        }
    }

    /// Sends a code for `purpose` to `to`: the destination's send log decides, the challenge
    /// (with `to`) replaces the person's challenge for that purpose, then the code is delivered
    /// and the send audited.
    pub(super) async fn send_oob(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        purpose: OobPurpose,
        to: &PhoneNumber,
        now: u64,
    ) -> Result<(), ServiceError> {
        let (config, key) = self
            .config
            .oob
            .as_ref()
            .ok_or(ServiceError::FactorUnavailable)?;
        // The person's own budget for this purpose decides (cooldown, hourly cap, and the daily
        // cap for verifications) and records the send in one atomic call, so concurrent requests
        // never send more than the caps allow, and nobody else's sends — to this number or any
        // other — spend it. A send that then fails (a lost race below, an undelivered message)
        // still counts: the cap errs on the side of fewer messages.
        let decision = self
            .backend
            .store()
            .record_oob_send(person, purpose, config, now)
            .await
            .map_err(ServiceError::storage)?;
        if let SendDecision::Refused { retry_at, .. } = decision {
            return Err(ServiceError::Throttled { retry_at });
        }
        let current = self
            .backend
            .store()
            .oob_challenge(person, purpose)
            .await
            .map_err(ServiceError::storage)?;
        // The send is already recorded: issue against an empty log.
        match config.issue_with_os_rng(key, &OobSendLog::new(), now)? {
            crate::credential::oob::OobIssue::Refused { retry_at, .. } => {
                Err(ServiceError::Throttled { retry_at })
            }
            crate::credential::oob::OobIssue::Send {
                code, challenge, ..
            } => {
                let record = OobChallengeRecord {
                    destination: to.clone(),
                    challenge,
                };
                let swapped = self
                    .backend
                    .store()
                    .replace_oob_challenge(
                        person,
                        purpose,
                        current.as_ref().map(|c| &c.challenge),
                        Some(&record),
                    )
                    .await
                    .map_err(ServiceError::storage)?;
                if !swapped {
                    // Another request sent a code at the same moment: that one stands.
                    return Err(ServiceError::Throttled {
                        retry_at: now.saturating_add(u64::from(config.resend_cooldown())),
                    });
                }
                let delivery = self
                    .notify(Notification::OobCode {
                        person,
                        purpose,
                        to,
                        code: &code,
                    })
                    .await?;
                if let super::DeliveryStatus::Failed(error) = delivery {
                    return Err(ServiceError::Undelivered(error));
                }
                let what = match purpose {
                    OobPurpose::SignIn => AuditKind::OutOfBandCodeSent,
                    OobPurpose::VerifyPhone => AuditKind::PhoneVerificationSent,
                };
                self.record_one(now, Actor::System, Some(person), org, what)
                    .await
            }
        }
    }

    /// Checks a code against the person's challenge for `purpose` and spends it with a
    /// compare-and-swap on the stored challenge, so it is accepted once. With `destination`, a
    /// challenge sent elsewhere is refused without being tried. Counts failures (the out-of-band
    /// throttle) and returns where the accepted code was sent.
    pub(super) async fn check_oob(
        &self,
        person: PersonId,
        org: Option<OrgId>,
        purpose: OobPurpose,
        destination: Option<&PhoneNumber>,
        code: &str,
        now: u64,
    ) -> Result<PhoneNumber, ServiceError> {
        let (_, key) = self
            .config
            .oob
            .as_ref()
            .ok_or(ServiceError::FactorUnavailable)?;
        let reserved = self
            .reserve_attempt(
                super::factor_key(person, FactorKind::OutOfBandSms),
                Factor::Second(FactorKind::OutOfBandSms),
                now,
            )
            .await?;
        for _ in 0..CAS_ATTEMPTS {
            let current = self
                .backend
                .store()
                .oob_challenge(person, purpose)
                .await
                .map_err(ServiceError::storage)?;
            let current = current.filter(|c| destination.is_none_or(|d| *d == c.destination));
            let Some(current) = current else {
                self.reject_credential(reserved, person, org, false, now)
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            };
            let verification = current.challenge.verify(key, code, now);
            if verification.must_persist() {
                let next = OobChallengeRecord {
                    destination: current.destination.clone(),
                    challenge: verification.challenge().clone(),
                };
                let swapped = self
                    .backend
                    .store()
                    .replace_oob_challenge(person, purpose, Some(&current.challenge), Some(&next))
                    .await
                    .map_err(ServiceError::storage)?;
                if !swapped {
                    continue;
                }
            }
            if verification.result().is_ok() {
                self.accept_attempt(reserved, now).await?;
                return Ok(current.destination);
            }
            let replayed = verification.outcome() == OobOutcome::AlreadySpent;
            self.reject_credential(reserved, person, org, replayed, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        Err(ServiceError::Conflict)
    }

    /// Checks a new password for `person` and hashes it: the policy and the breach corpus
    /// ([`Self::check_new_password`]), then that it differs from the stored one. Nothing is
    /// written: [`Self::store_password`] does that once the caller has ended what must end
    /// first. Every verb that sets a chosen password goes through here.
    pub(super) async fn prepare_password(
        &self,
        person: &PersonRecord,
        new_password: Password,
        now: u64,
    ) -> Result<PasswordHash, ServiceError> {
        let context = PasswordContext::new()
            .service_name(&self.config.issuer)
            .email(person.login.as_str());
        self.check_new_password(&new_password, &context, Some(person.id), now)
            .await?;
        let temporary = person.password_state == PasswordState::Temporary;
        let same = self
            .backend
            .hasher()
            .run(HashJob::verify(
                Password::from(new_password.expose_secret()),
                person.password_hash.clone(),
                temporary,
            ))
            .await
            .into_verified()?;
        if same.is_ok() {
            return Err(ServiceError::PasswordPolicy(
                PolicyViolation::SameAsTemporary,
            ));
        }
        self.backend
            .hasher()
            .run(HashJob::hash(new_password, false))
            .await
            .into_hash()
    }

    /// Stores a hash from [`Self::prepare_password`] as `person`'s password; audits and
    /// notifies.
    pub(super) async fn store_password(
        &self,
        person: &PersonRecord,
        hash: &PasswordHash,
        now: u64,
    ) -> Result<(), ServiceError> {
        let _ = self
            .backend
            .store()
            .set_password(person.id, hash.as_str(), PasswordState::Current, None)
            .await
            .map_err(ServiceError::storage)?;
        self.record_one(
            now,
            Actor::Person(person.id),
            Some(person.id),
            None,
            AuditKind::PasswordChanged,
        )
        .await?;
        self.notice(person.id, SecurityNotice::PasswordChanged)
            .await
    }
}

/// The audit event of an accepted login code.
pub(super) fn login_code_event(
    person: PersonId,
    org: Option<OrgId>,
    accepted: LoginCodeAccepted,
    now: u64,
) -> AuditEvent {
    AuditEvent::new(
        now,
        Actor::Person(person),
        Some(person),
        org,
        AuditKind::LoginCodeAccepted {
            authenticator: accepted.authenticator(),
        },
    )
}

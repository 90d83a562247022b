//! The login: the password step, then each pending step carried by a single-use ticket.
//!
//! A ticket is a [`BearerToken`] (256 random bits) whose digest is stored with the login's
//! [`LoginProgress`] (person, organisation, factors verified so far) and the one step it allows.
//! Each step reads the ticket without consuming it, together with everything the step decides on,
//! in one statement ([`LoginStore::login_snapshot`]), and consumes it in the same commit as the
//! step's outcome, on success only. After a recoverable failure — a wrong code, a refused new
//! password, a throttled attempt — nothing touches the ticket, so the person can try again until
//! it expires; the throttle bounds the guesses.
//!
//! The second-factor step with an authenticator app is one transaction under the person's lock
//! ([`LoginStore::locked_step`]): the throttle decision, the code check and the login decision
//! run on what it read, and it commits the watermark, the ticket and any counter change. Steps
//! that hash (the password, recovery codes) never hold a lock while hashing: the attempt is
//! counted first, then verified, and the outcome is committed guarded by that count.

use super::enroll::Reauthentication;
use alloc::vec::Vec;

use super::factors::{TotpChecked, login_code_event, set_counter, totp_check};
use super::{Authenticator, CAS_ATTEMPTS, HashJob, PasswordHashing, Reserved, ServiceError};
use crate::credential::factor::{FactorKind, ThrottledFactor};
use crate::credential::oob::OobOutcome;
use crate::credential::password::Password;
use crate::credential::recovery::RecoveryCodes;
use crate::credential::throttle::{ThrottleDecision, ThrottleEvent, ThrottleState};
use crate::credential::token::{BearerToken, TokenDigest};
use crate::otp::clock::Clock;
use crate::otp::error::Refusal;
use crate::policy::audit::{Actor, AuditEvent, AuditKind, DenyReason};
use crate::policy::enrollment::{AuthenticatorName, EnrollmentPurpose};
use crate::policy::error::PolicyError;
use crate::policy::factors::{Factor, SecondFactors};
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{
    Account, EnrollmentDemand, Grant, LoginDecision, LoginProgress, PasswordState, login_decision,
};
use crate::store::login::{LoginSnapshot, LoginStore, NextTicket, OobWrite, SnapshotAt, StepWrite};
use crate::store::records::{
    Login, OobChallengeRecord, OobPurpose, PendingStep, ThrottleKey, TicketRecord,
};
use crate::store::{AuditSink, Notifier, SecurityNotice};

/// Where a login stands after a step.
#[derive(Debug)]
#[must_use = "a login step says what the person must do next"]
pub enum LoginStep {
    /// Signed in: keep the grant in the session.
    Granted(Grant),
    /// The password is temporary or compromised: the person must choose a new one
    /// ([`Authenticator::change_password_at_login`]). A person with a second factor gets here
    /// only after presenting it.
    ChangePassword {
        /// The ticket for that step.
        ticket: BearerToken,
    },
    /// "Company account verification": the organisation requires MFA and the person has none of
    /// a kind it counts; walk them through [`Authenticator::start_login_enrollment`]. A person
    /// who holds another factor (a verified phone where SMS does not count) gets here only after
    /// presenting it.
    EnrollMfa {
        /// The ticket for the enrollment steps.
        ticket: BearerToken,
        /// Whether the person may still skip it ([`Authenticator::skip_enrollment`]).
        demand: EnrollmentDemand,
        /// The factors that would satisfy the organisation.
        factors: SecondFactors,
    },
    /// A second factor is needed: one of `factors`. It comes before a password change or an
    /// enrollment for whoever holds one.
    SecondFactor {
        /// The ticket for that step.
        ticket: BearerToken,
        /// The factors the person may present.
        factors: SecondFactors,
    },
}

impl LoginStep {
    /// The grant, if the login is complete.
    pub fn grant(&self) -> Option<&Grant> {
        match self {
            Self::Granted(grant) => Some(grant),
            _ => None,
        }
    }

    /// The ticket for the next step, if one is pending.
    pub fn ticket(&self) -> Option<&BearerToken> {
        match self {
            Self::Granted(_) => None,
            Self::ChangePassword { ticket }
            | Self::EnrollMfa { ticket, .. }
            | Self::SecondFactor { ticket, .. } => Some(ticket),
        }
    }
}

/// The login decision on a snapshot, with its audit event; the writes it needs are already added
/// to the step's.
struct Concluded {
    result: Result<LoginStep, ServiceError>,
    event: AuditEvent,
}

/// How [`Authenticator::finish_with`] ended.
enum Finished {
    /// Committed: the login decision's outcome.
    Done(Result<LoginStep, ServiceError>),
    /// The ticket, or what the step spends, was spent meanwhile: nothing was written.
    Lost,
}

/// What a factor check decided on a locked snapshot.
enum Checked {
    /// The counter is throttled or locked: nothing was verified or written.
    Refused(ServiceError),
    /// A wrong (or replayed) code: the failure is counted in the same commit.
    Rejected {
        replayed: bool,
        event: Option<ThrottleEvent>,
    },
    /// The code is right and spent in the same commit; the event to audit for it, if any.
    Accepted(Option<AuditEvent>),
}

/// What a locked second-factor step decided.
enum LockedStep {
    /// The ticket is not one for this step (it is spent if it is another step's).
    TicketRejected(Option<PersonId>),
    /// The login may not present this factor now; the ticket stays.
    Unavailable,
    /// The factor was checked.
    Checked {
        person: PersonId,
        checked: Checked,
        concluded: Option<alloc::boxed::Box<Concluded>>,
    },
    /// A fault while deciding (no random numbers for the next ticket).
    Failed(ServiceError),
}

impl<St, C, A, N, H> Authenticator<St, C, A, N, H>
where
    St: LoginStore,
    C: Clock,
    A: AuditSink,
    N: Notifier,
    H: PasswordHashing,
{
    /// The password step of signing in to `org`.
    ///
    /// An unknown login and a wrong password are both [`ServiceError::InvalidCredentials`], after
    /// the same argon2 work (a dummy verification for the unknown login). One read
    /// ([`LoginStore::login_snapshot`]) gives the person holding the name and the password
    /// counter of the normalised name, whether or not anyone holds it; the attempt is counted on
    /// that counter (a compare-and-swap on what was read, [`LoginStore::apply_step`]) before the
    /// password is verified, so an unknown login is throttled and locked exactly as a real one,
    /// and the answers and store calls do not tell which logins exist. A throttled login is
    /// [`ServiceError::Throttled`] and a locked one [`ServiceError::Locked`], without verifying.
    /// Then the login decision says what comes next, on the same read, and its outcome (the
    /// counter settled, the next step's ticket, or for a grant every counter of the person
    /// cleared) is one commit.
    pub async fn login(
        &self,
        org: OrgId,
        login: &str,
        password: Password,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let Some(login) = Login::new(login) else {
            // No person can hold a name that does not normalise.
            let _ = self
                .services
                .hasher
                .run(HashJob::verify_dummy(password))
                .await
                .into_verified()?;
            self.record_one(now, Actor::System, None, Some(org), AuditKind::UnknownLogin)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let key = ThrottleKey::login(&login);
        // The password is counted per login name, held or not, before it is verified: an
        // unknown name is throttled, locked and audited exactly as a wrong password.
        let (mut snapshot, reserved, counted) = self
            .reserve_on(
                SnapshotAt::Login(&login),
                Some(org),
                key.clone(),
                Factor::Password,
                |s| s.counters.login,
                now,
            )
            .await?;
        snapshot.counters.login = Some(counted);
        let Some(person) = snapshot.person.clone() else {
            let _ = self
                .services
                .hasher
                .run(HashJob::verify_dummy(password))
                .await
                .into_verified()?;
            self.reject_attempt(reserved, None, Some(org), AuditKind::UnknownLogin, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let temporary = person.password_state == PasswordState::Temporary;
        let copy = Password::from(password.expose_secret());
        let verified = self
            .services
            .hasher
            .run(HashJob::verify(
                password,
                person.password_hash.clone(),
                temporary,
            ))
            .await
            .into_verified()?;
        let expired = temporary && person.password_expires_at.is_none_or(|at| now >= at);
        let verified = match verified {
            Ok(v) if !expired => v,
            _ => {
                self.reject_credential(reserved, person.id, Some(org), false, now)
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        if verified.needs_rehash() && !temporary {
            // Only the hash is upgraded, and only if it is still the one just verified: the
            // stored state (a `Compromised` mark included) and expiry stay as they are, and a
            // password changed meanwhile is not reverted.
            let hash = self
                .services
                .hasher
                .run(HashJob::hash(copy, false))
                .await
                .into_hash()?;
            let _ = self
                .services
                .store
                .upgrade_password_hash(person.id, &person.password_hash, hash.as_str())
                .await
                .map_err(ServiceError::storage)?;
        }
        let progress = LoginProgress::password_verified(person.id, org, now);
        for _ in 0..CAS_ATTEMPTS {
            // The verified attempt settles its count, guarded by it: if concurrent failures moved
            // the counter meanwhile, the decision is made again on a fresh read (they may have
            // locked the name).
            let mut write = StepWrite::default();
            set_counter(
                &mut write,
                key.clone(),
                snapshot.counters.login,
                ThrottleState::new(),
            );
            // The decision sees the counter settled.
            snapshot.counters.login = None;
            let concluded = self.conclude(&snapshot, progress, now, &mut write)?;
            if self.apply(&write).await? {
                self.record(&[concluded.event]).await?;
                return concluded.result;
            }
            snapshot = self
                .snapshot(SnapshotAt::Login(&login), Some(org), now)
                .await?;
        }
        Err(ServiceError::Conflict)
    }

    /// Skips a skippable "company account verification" for this login (before the
    /// organisation's deadline). Once enrollment is mandatory the same step comes back.
    pub async fn skip_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let digest = ticket.digest();
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        let _ = self
            .ticket_for(&snapshot, PendingStep::EnrollMfa, org, now)
            .await?;
        self.finish(&digest, org, snapshot, LoginProgress::defer_enrollment, now)
            .await
    }

    /// Sets the person's own password after a temporary or compromised one. It must meet the
    /// password policy and differ from the password it replaces.
    ///
    /// A person with a second factor reaches this step only after presenting it; if they gained
    /// one after the ticket was issued, the ticket is refused with
    /// [`PolicyError::ReauthenticationRequired`] (sign in again).
    pub async fn change_password_at_login(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        new_password: Password,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let digest = ticket.digest();
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        let _ = self
            .step_ticket(&snapshot, PendingStep::ChangePassword, org, now)
            .await?;
        let person = snapshot
            .person
            .as_ref()
            .ok_or(ServiceError::InvalidCredentials)?;
        // A refused password leaves the ticket as it is: the person may try another.
        self.replace_password(person, new_password, now).await?;
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        self.finish(&digest, org, snapshot, |p| p, now).await
    }

    /// Completes the second-factor step with a code from an authenticator app: one transaction
    /// under the person's lock ([`LoginStore::locked_step`]) reads the ticket, the person, their
    /// organisation, MFA state and counters, decides (the throttle, the code, the login
    /// decision), and commits the outcome — on success the raised watermark, the spent ticket and
    /// the next step; on a wrong code only the counted failure, the ticket staying. The code is
    /// single-use across every server: its step is spent by the guarded watermark.
    pub async fn verify_totp(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        code: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        self.locked_second_factor(
            ticket,
            org,
            FactorKind::Totp,
            now,
            |snapshot, person, write| match totp_check(
                &self.config,
                snapshot,
                person,
                code,
                now,
                write,
            ) {
                TotpChecked::Refused(e) => Checked::Refused(e),
                TotpChecked::Rejected { replayed, event } => Checked::Rejected { replayed, event },
                TotpChecked::Accepted(accepted) => {
                    Checked::Accepted(Some(login_code_event(person, Some(org), accepted, now)))
                }
            },
        )
        .await
    }

    /// Completes the second-factor step with the SMS code: one transaction under the person's
    /// lock, as [`Self::verify_totp`]. The code counts only for the number it was sent to, if
    /// that is still the person's; spending it (or counting a wrong try on it) is a
    /// compare-and-swap on the stored challenge in the same commit, so it is accepted once.
    pub async fn verify_sms_code(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        code: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        // Without SMS configured the factor is never offered (the step answers that first).
        let key = self.config.oob.as_ref().map(|(_, key)| key);
        self.locked_second_factor(
            ticket,
            org,
            FactorKind::OutOfBandSms,
            now,
            |snapshot, person, write| {
                let Some(key) = key else {
                    return Checked::Refused(ServiceError::FactorUnavailable);
                };
                let counter = super::factor_key(person, FactorKind::OutOfBandSms);
                let stored = snapshot.counters.out_of_band;
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
                let phone = snapshot.person.as_ref().and_then(|p| p.phone.as_ref());
                let current = snapshot
                    .sign_in_challenge
                    .as_ref()
                    .filter(|c| phone == Some(&c.destination));
                let Some(current) = current else {
                    set_counter(write, counter, stored, reservation.state());
                    return Checked::Rejected {
                        replayed: false,
                        event: reservation.event(),
                    };
                };
                let verification = current.challenge.verify(key, code, now);
                if verification.must_persist() {
                    write.oob = Some(OobWrite {
                        person,
                        purpose: OobPurpose::SignIn,
                        expected: current.challenge.clone(),
                        new: Some(OobChallengeRecord {
                            destination: current.destination.clone(),
                            challenge: verification.challenge().clone(),
                        }),
                    });
                }
                if verification.result().is_ok() {
                    set_counter(write, counter, stored, ThrottleState::new());
                    Checked::Accepted(None)
                } else {
                    set_counter(write, counter, stored, reservation.state());
                    Checked::Rejected {
                        replayed: verification.outcome() == OobOutcome::AlreadySpent,
                        event: reservation.event(),
                    }
                }
            },
        )
        .await
    }

    /// A second-factor step in one transaction under the person's lock: the ticket and the
    /// factor's availability checked, then `check` (the throttle and the code, adding its writes),
    /// then on success the ticket spent and the login decision's outcome, all committed together.
    /// Audits the outcome afterwards.
    async fn locked_second_factor<F>(
        &self,
        ticket: &BearerToken,
        org: OrgId,
        kind: FactorKind,
        now: u64,
        mut check: F,
    ) -> Result<LoginStep, ServiceError>
    where
        F: FnMut(&LoginSnapshot, PersonId, &mut StepWrite) -> Checked + Send,
    {
        let digest = ticket.digest();
        let step = self
            .services
            .store
            .locked_step(SnapshotAt::Ticket(&digest), Some(org), now, |snapshot| {
                let mut write = StepWrite::default();
                let ticket = match snapshot.ticket {
                    Some(t) if t.step == PendingStep::SecondFactor && t.progress.org() == org => t,
                    other => {
                        // Another step's or organisation's ticket is spent, as any wrong
                        // presentation.
                        write.spend_ticket = other.map(|t| t.digest);
                        let subject = other.map(|t| t.progress.person());
                        return (write, LockedStep::TicketRejected(subject));
                    }
                };
                if !self.factor_allowed(snapshot, &ticket.progress, kind, now) {
                    return (write, LockedStep::Unavailable);
                }
                let person = ticket.progress.person();
                let checked = check(snapshot, person, &mut write);
                let concluded = if matches!(checked, Checked::Accepted(_)) {
                    write.spend_ticket = Some(ticket.digest);
                    let progress = ticket.progress.with_second_factor(kind);
                    match self.conclude(snapshot, progress, now, &mut write) {
                        Ok(concluded) => Some(alloc::boxed::Box::new(concluded)),
                        Err(e) => return (StepWrite::default(), LockedStep::Failed(e)),
                    }
                } else {
                    None
                };
                (
                    write,
                    LockedStep::Checked {
                        person,
                        checked,
                        concluded,
                    },
                )
            })
            .await
            .map_err(ServiceError::storage)?;
        match step {
            LockedStep::Failed(e) => Err(e),
            LockedStep::TicketRejected(subject) => {
                self.reject_ticket(subject, org, now).await?;
                Err(ServiceError::InvalidCredentials)
            }
            LockedStep::Unavailable => Err(ServiceError::FactorUnavailable),
            LockedStep::Checked {
                person,
                checked,
                concluded,
            } => match (checked, concluded) {
                (Checked::Refused(e), _) => Err(e),
                (Checked::Rejected { replayed, event }, _) => {
                    let reserved = Reserved {
                        key: super::factor_key(person, kind),
                        factor: Factor::Second(kind),
                        event,
                    };
                    self.reject_credential(reserved, person, Some(org), replayed, now)
                        .await?;
                    Err(ServiceError::InvalidCredentials)
                }
                (Checked::Accepted(event), Some(concluded)) => {
                    let events: Vec<AuditEvent> =
                        event.into_iter().chain([concluded.event]).collect();
                    self.record(&events).await?;
                    concluded.result
                }
                (Checked::Accepted(_), None) => Err(ServiceError::InvalidCredentials),
            },
        }
    }

    /// Completes the second-factor step with a recovery code (signing in without the device).
    /// The attempt is counted before the argon2 derivation (which holds no lock), and the code
    /// is spent, with the ticket, in one guarded commit; the person is notified, and told when
    /// few remain.
    pub async fn verify_recovery_code(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        code: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let digest = ticket.digest();
        let snapshot = self
            .second_factor_snapshot(&digest, org, FactorKind::RecoveryCode, now)
            .await?;
        let person = snapshot
            .ticket
            .map(|t| t.progress.person())
            .ok_or(ServiceError::InvalidCredentials)?;
        let key = super::factor_key(person, FactorKind::RecoveryCode);
        let (snapshot, reserved, counted) = self
            .reserve_from(
                snapshot,
                SnapshotAt::Ticket(&digest),
                Some(org),
                key.clone(),
                Factor::Second(FactorKind::RecoveryCode),
                |s| s.counters.recovery_code,
                now,
            )
            .await?;
        // The argon2 derivation runs where the host runs password hashing. Without an active
        // set the same derivation runs under the configured parameters, so that the failure
        // costs what a wrong code costs and timing does not tell whether the person has codes.
        let redeemed = match snapshot.recovery.clone() {
            Some(set) => {
                let set_id = set.set_id();
                let slot = self
                    .services
                    .hasher
                    .run(HashJob::recovery_redeem(set, code))
                    .await
                    .into_redeemed()?;
                Some((set_id, slot))
            }
            None => {
                let _ = self
                    .services
                    .hasher
                    .run(HashJob::recovery_redeem_dummy(self.config.recovery, code))
                    .await
                    .into_redeemed()?;
                None
            }
        };
        // A code whose slot is already spent is audited as a replay; the caller's answer is the
        // same.
        let replayed = matches!(redeemed, Some((_, Err(Refusal::Replayed))));
        let Some((set_id, Ok(slot))) = redeemed else {
            self.reject_credential(reserved, person, Some(org), replayed, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let mut snapshot = snapshot;
        snapshot.counters.recovery_code = Some(counted);
        let index = slot.index();
        let finished = self
            .finish_with(
                &digest,
                org,
                snapshot,
                |p| p.with_second_factor(FactorKind::RecoveryCode),
                |s| {
                    // Spent meanwhile (the same code on another server): lost.
                    let bit = 1u16.checked_shl(u32::from(index)).unwrap_or(0);
                    let unspent = s
                        .recovery
                        .as_ref()
                        .is_some_and(|set| set.set_id() == set_id && set.spent_mask() & bit == 0);
                    if !unspent {
                        return None;
                    }
                    let mut write = StepWrite {
                        recovery_spend: Some((person, set_id, index)),
                        ..StepWrite::default()
                    };
                    set_counter(
                        &mut write,
                        key.clone(),
                        s.counters.recovery_code,
                        ThrottleState::new(),
                    );
                    Some(write)
                },
                now,
            )
            .await?;
        let Finished::Done(step) = finished else {
            self.reject_credential(reserved, person, Some(org), true, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        self.record_one(
            now,
            Actor::Person(person),
            Some(person),
            Some(org),
            AuditKind::RecoveryCodeUsed {
                remaining: slot.remaining_after(),
            },
        )
        .await?;
        self.notice(person, SecurityNotice::RecoveryCodeUsed)
            .await?;
        if slot.is_low_after() {
            self.notice(person, SecurityNotice::RecoveryCodesLow)
                .await?;
        }
        step
    }

    /// Sends an SMS code to the person's verified phone (through the [`Notifier`]), if the
    /// person's own sign-in send budget allows (cooldown and hourly cap, never spent by anyone
    /// else's sends: [`SecretStore::record_oob_send`](crate::store::SecretStore::record_oob_send));
    /// otherwise [`ServiceError::Throttled`] with the time a send may be allowed. The ticket is
    /// only read, and stays valid for [`Self::verify_sms_code`].
    pub async fn send_sms_code(
        &self,
        org: OrgId,
        ticket: &BearerToken,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let digest = ticket.digest();
        let snapshot = self
            .second_factor_snapshot(&digest, org, FactorKind::OutOfBandSms, now)
            .await?;
        let person = snapshot
            .person
            .as_ref()
            .ok_or(ServiceError::InvalidCredentials)?;
        let phone = person
            .phone
            .as_ref()
            .ok_or(ServiceError::FactorUnavailable)?;
        self.send_oob(person.id, Some(org), OobPurpose::SignIn, phone, now)
            .await
    }

    /// "Company account verification", step 1: starts enrolling an authenticator app named
    /// `name`. Show the URI as a QR code and the manual key. The ticket stays valid for the next
    /// steps.
    ///
    /// This login is the re-authentication
    /// ([`Mfa::start_enrollment_at_login`](crate::policy::enrollment::Mfa::start_enrollment_at_login)):
    /// a person who holds a factor was asked for it before this step, so a password alone never
    /// binds a new authenticator. Each enrollment step checks again that the login decision
    /// still asks for the enrollment; when it no longer does (the person gained a factor
    /// meanwhile, or the policy changed), the step is refused with
    /// [`PolicyError::ReauthenticationRequired`] and the login starts again from the password.
    pub async fn start_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        name: &str,
    ) -> Result<super::EnrollmentSetup, ServiceError> {
        let now = self.now();
        let digest = ticket.digest();
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        let record = self
            .step_ticket(&snapshot, PendingStep::EnrollMfa, org, now)
            .await?;
        let person = snapshot
            .person
            .as_ref()
            .ok_or(ServiceError::InvalidCredentials)?;
        let name = AuthenticatorName::new(name)?;
        self.enroll_start(
            person,
            EnrollmentPurpose::Add(name),
            Reauthentication::Login(&record.progress),
            now,
        )
        .await
    }

    /// Step 2: confirms the enrollment with a code from the app. Returns the recovery codes, to
    /// show once; the person must record them and acknowledge
    /// ([`Self::acknowledge_login_enrollment`]).
    pub async fn confirm_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        code: &str,
    ) -> Result<RecoveryCodes, ServiceError> {
        let now = self.now();
        let digest = ticket.digest();
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        let record = self
            .step_ticket(&snapshot, PendingStep::EnrollMfa, org, now)
            .await?;
        self.enroll_confirm(record.progress.person(), Some(org), code, now)
            .await
    }

    /// Step 3: "I have safely recorded this". The authenticator becomes active, and the
    /// confirming code counts as this login's second factor.
    pub async fn acknowledge_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let digest = ticket.digest();
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        let record = self
            .step_ticket(&snapshot, PendingStep::EnrollMfa, org, now)
            .await?;
        let _ = self
            .enroll_acknowledge(record.progress.person(), now)
            .await?;
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        self.finish(
            &digest,
            org,
            snapshot,
            |p| p.with_second_factor(FactorKind::Totp),
            now,
        )
        .await
    }

    // ---- the steps' shared parts ----

    async fn snapshot(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<LoginSnapshot, ServiceError> {
        self.services
            .store
            .login_snapshot(at, org, now)
            .await
            .map_err(ServiceError::storage)
    }

    async fn apply(&self, write: &StepWrite) -> Result<bool, ServiceError> {
        self.services
            .store
            .apply_step(write)
            .await
            .map_err(ServiceError::storage)
    }

    /// Reads a snapshot at `at` and counts an attempt on counter `key` (read by `stored`) before
    /// it is verified; see [`Self::reserve_from`].
    async fn reserve_on(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        key: ThrottleKey,
        factor: Factor,
        stored: fn(&LoginSnapshot) -> Option<ThrottleState>,
        now: u64,
    ) -> Result<(LoginSnapshot, Reserved, ThrottleState), ServiceError> {
        let snapshot = self.snapshot(at, org, now).await?;
        self.reserve_from(snapshot, at, org, key, factor, stored, now)
            .await
    }

    /// Counts an attempt on counter `key` before it is verified: the throttle decides on the
    /// counter as `snapshot` read it, and an allowed attempt is stored as a failure with a
    /// compare-and-swap on that read (decided again on a fresh snapshot when another attempt
    /// moved it). A throttled counter is [`ServiceError::Throttled`] and a locked one
    /// [`ServiceError::Locked`], with nothing written. Returns the snapshot the count was made
    /// on, the reservation, and the counted state.
    #[allow(clippy::too_many_arguments)]
    async fn reserve_from(
        &self,
        mut snapshot: LoginSnapshot,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        key: ThrottleKey,
        factor: Factor,
        stored: fn(&LoginSnapshot) -> Option<ThrottleState>,
        now: u64,
    ) -> Result<(LoginSnapshot, Reserved, ThrottleState), ServiceError> {
        for _ in 0..CAS_ATTEMPTS {
            let expected = stored(&snapshot);
            let reservation = self
                .config
                .throttle
                .reserve(expected.unwrap_or_default(), now);
            match reservation.decision() {
                ThrottleDecision::Allowed => {}
                ThrottleDecision::RetryAfter { at, .. } => {
                    return Err(ServiceError::Throttled { retry_at: at });
                }
                ThrottleDecision::Locked { .. } => return Err(ServiceError::Locked),
            }
            let mut write = StepWrite::default();
            set_counter(&mut write, key.clone(), expected, reservation.state());
            if self.apply(&write).await? {
                let reserved = Reserved {
                    key,
                    factor,
                    event: reservation.event(),
                };
                return Ok((snapshot, reserved, reservation.state()));
            }
            snapshot = self.snapshot(at, org, now).await?;
        }
        Err(ServiceError::Conflict)
    }

    /// Audits a ticket presented for the wrong step, organisation, or none live.
    async fn reject_ticket(
        &self,
        subject: Option<PersonId>,
        org: OrgId,
        now: u64,
    ) -> Result<(), ServiceError> {
        self.record_one(
            now,
            Actor::System,
            subject,
            Some(org),
            AuditKind::TicketRejected,
        )
        .await
    }

    /// The snapshot's ticket if it is for `step` in `org`. Anything else — unknown, expired,
    /// already spent, another step, another organisation — is audited and is
    /// [`ServiceError::InvalidCredentials`], and a ticket for another step or organisation is
    /// spent.
    async fn ticket_for(
        &self,
        snapshot: &LoginSnapshot,
        step: PendingStep,
        org: OrgId,
        now: u64,
    ) -> Result<TicketRecord, ServiceError> {
        match snapshot.ticket {
            Some(record) if record.step == step && record.progress.org() == org => Ok(record),
            other => {
                if let Some(record) = other {
                    let _ = self
                        .apply(&StepWrite {
                            spend_ticket: Some(record.digest),
                            ..StepWrite::default()
                        })
                        .await?;
                }
                self.reject_ticket(other.map(|r| r.progress.person()), org, now)
                    .await?;
                Err(ServiceError::InvalidCredentials)
            }
        }
    }

    /// Reads a second-factor ticket and checks that `factor` is one the login may present now
    /// (the person has it and the organisation counts it). A factor that is not is
    /// [`ServiceError::FactorUnavailable`]; the ticket stays either way.
    async fn second_factor_snapshot(
        &self,
        digest: &TokenDigest,
        org: OrgId,
        factor: FactorKind,
        now: u64,
    ) -> Result<LoginSnapshot, ServiceError> {
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(digest), Some(org), now)
            .await?;
        let record = self
            .ticket_for(&snapshot, PendingStep::SecondFactor, org, now)
            .await?;
        if !self.factor_allowed(&snapshot, &record.progress, factor, now) {
            return Err(ServiceError::FactorUnavailable);
        }
        Ok(snapshot)
    }

    /// Checks a ticket for `step` (a password change or an enrollment) and that the login
    /// decision still asks this login for that step: in particular that the person holds no
    /// factor they have not presented in it (one gained since the ticket was issued). A login
    /// the decision now sends elsewhere is refused with
    /// [`PolicyError::ReauthenticationRequired`], and the ticket is spent (sign in again).
    async fn step_ticket(
        &self,
        snapshot: &LoginSnapshot,
        step: PendingStep,
        org: OrgId,
        now: u64,
    ) -> Result<TicketRecord, ServiceError> {
        let record = self.ticket_for(snapshot, step, org, now).await?;
        let refused = match (step, self.decide_on(snapshot, &record.progress, now)) {
            (PendingStep::EnrollMfa, Some(LoginDecision::EnrollMfa { .. }))
            | (PendingStep::ChangePassword, Some(LoginDecision::ChangePassword(_))) => {
                return Ok(record);
            }
            (_, None) => ServiceError::InvalidCredentials,
            (_, Some(LoginDecision::Denied(DenyReason::Locked))) => ServiceError::Locked,
            (_, Some(LoginDecision::Denied(DenyReason::Deactivated))) => ServiceError::Deactivated,
            (_, Some(LoginDecision::Denied(_))) => ServiceError::InvalidCredentials,
            _ => ServiceError::Policy(PolicyError::ReauthenticationRequired),
        };
        let _ = self
            .apply(&StepWrite {
                spend_ticket: Some(record.digest),
                ..StepWrite::default()
            })
            .await?;
        Err(refused)
    }

    /// Commits a step that passed: the step's own writes (`base`, on a snapshot), the spent
    /// ticket and the login decision's outcome for the ticket's progress (`progress`), in one
    /// guarded commit; when a guard fails, decided again on a fresh snapshot. A ticket spent
    /// meanwhile (another server finished this login), or a `base` that finds its write spent
    /// (`None`), is [`Finished::Lost`].
    async fn finish_with<P, B>(
        &self,
        digest: &TokenDigest,
        org: OrgId,
        mut snapshot: LoginSnapshot,
        progress: P,
        mut base: B,
        now: u64,
    ) -> Result<Finished, ServiceError>
    where
        P: Fn(LoginProgress) -> LoginProgress,
        B: FnMut(&LoginSnapshot) -> Option<StepWrite>,
    {
        for _ in 0..CAS_ATTEMPTS {
            let (Some(ticket), Some(mut write)) = (snapshot.ticket, base(&snapshot)) else {
                return Ok(Finished::Lost);
            };
            write.spend_ticket = Some(ticket.digest);
            let concluded = self.conclude(&snapshot, progress(ticket.progress), now, &mut write)?;
            if self.apply(&write).await? {
                self.record(&[concluded.event]).await?;
                return Ok(Finished::Done(concluded.result));
            }
            snapshot = self
                .snapshot(SnapshotAt::Ticket(digest), Some(org), now)
                .await?;
        }
        Err(ServiceError::Conflict)
    }

    /// [`Self::finish_with`] for a step with no writes of its own; a lost ticket is audited and
    /// is [`ServiceError::InvalidCredentials`].
    async fn finish<P>(
        &self,
        digest: &TokenDigest,
        org: OrgId,
        snapshot: LoginSnapshot,
        progress: P,
        now: u64,
    ) -> Result<LoginStep, ServiceError>
    where
        P: Fn(LoginProgress) -> LoginProgress,
    {
        match self
            .finish_with(
                digest,
                org,
                snapshot,
                progress,
                |_| Some(StepWrite::default()),
                now,
            )
            .await?
        {
            Finished::Done(result) => result,
            Finished::Lost => {
                self.reject_ticket(None, org, now).await?;
                Err(ServiceError::InvalidCredentials)
            }
        }
    }

    /// Whether the login decision for `progress` on `snapshot` challenges for `factor`.
    fn factor_allowed(
        &self,
        snapshot: &LoginSnapshot,
        progress: &LoginProgress,
        factor: FactorKind,
        now: u64,
    ) -> bool {
        matches!(
            self.decide_on(snapshot, progress, now),
            Some(LoginDecision::Challenge(factors)) if factors.contains(factor)
        )
    }

    /// The login decision for `progress` on `snapshot`; `None` without the person.
    fn decide_on(
        &self,
        snapshot: &LoginSnapshot,
        progress: &LoginProgress,
        now: u64,
    ) -> Option<LoginDecision> {
        let person = snapshot
            .person
            .as_ref()
            .filter(|p| p.id == progress.person())?;
        let Some(org) = snapshot
            .organisation
            .as_ref()
            .filter(|o| o.value.id() == progress.org())
        else {
            return Some(LoginDecision::Denied(DenyReason::NotAMember));
        };
        let locked = matches!(
            self.config
                .throttle
                .decide(&snapshot.counters.login.unwrap_or_default(), now),
            ThrottleDecision::Locked { .. }
        );
        let account = Account::new(person.id)
            .deactivated(person.deactivated)
            .locked(locked)
            .password(person.password_state)
            .factors(self.snapshot_factors(snapshot));
        Some(login_decision(
            &account,
            org.value.member(person.id),
            org.value.policy(),
            progress,
            now,
        ))
    }

    /// The login decision for `progress` on `snapshot`, its audit event, and its writes added to
    /// `write`: the next step's ticket, or for a grant every stored counter of the person
    /// cleared (a completed login proves the person).
    fn conclude(
        &self,
        snapshot: &LoginSnapshot,
        progress: LoginProgress,
        now: u64,
        write: &mut StepWrite,
    ) -> Result<Concluded, ServiceError> {
        let decision = self
            .decide_on(snapshot, &progress, now)
            .ok_or(ServiceError::InvalidCredentials)?;
        let event = decision.audit_event(&progress, now);
        let result = match decision {
            LoginDecision::Allowed(grant) => {
                if let Some(person) = &snapshot.person {
                    let counters = snapshot.counters;
                    set_counter(
                        write,
                        ThrottleKey::login(&person.login),
                        counters.login,
                        ThrottleState::new(),
                    );
                    for factor in [
                        ThrottledFactor::Totp,
                        ThrottledFactor::RecoveryCode,
                        ThrottledFactor::OutOfBand,
                    ] {
                        set_counter(
                            write,
                            ThrottleKey::factor(person.id, factor),
                            counters.factor(factor),
                            ThrottleState::new(),
                        );
                    }
                }
                Ok(LoginStep::Granted(grant))
            }
            LoginDecision::ChangePassword(_) => self
                .next_ticket(snapshot, PendingStep::ChangePassword, progress, now, write)
                .map(|ticket| LoginStep::ChangePassword { ticket }),
            LoginDecision::EnrollMfa { demand, factors } => self
                .next_ticket(snapshot, PendingStep::EnrollMfa, progress, now, write)
                .map(|ticket| LoginStep::EnrollMfa {
                    ticket,
                    demand,
                    factors,
                }),
            LoginDecision::Challenge(factors) => self
                .next_ticket(snapshot, PendingStep::SecondFactor, progress, now, write)
                .map(|ticket| LoginStep::SecondFactor { ticket, factors }),
            LoginDecision::Denied(DenyReason::Locked) => Err(ServiceError::Locked),
            LoginDecision::Denied(DenyReason::Deactivated) => Err(ServiceError::Deactivated),
            LoginDecision::Denied(_) => Err(ServiceError::InvalidCredentials),
        };
        Ok(Concluded { result, event })
    }

    /// A new ticket for `step`, written with the step's outcome. It expires after the configured
    /// ticket lifetime, and never after the login itself may stay pending.
    fn next_ticket(
        &self,
        snapshot: &LoginSnapshot,
        step: PendingStep,
        progress: LoginProgress,
        now: u64,
        write: &mut StepWrite,
    ) -> Result<BearerToken, ServiceError> {
        let login = snapshot
            .person
            .as_ref()
            .map(|p| p.login.clone())
            .ok_or(ServiceError::InvalidCredentials)?;
        let token = BearerToken::generate()?;
        let latest = progress.started_at().saturating_add(LoginProgress::MAX_AGE);
        let record = TicketRecord {
            digest: token.digest(),
            step,
            progress,
            expires_at: now.saturating_add(self.config.ticket_ttl).min(latest),
        };
        write.next_ticket = Some(NextTicket { record, login });
        Ok(token)
    }
}

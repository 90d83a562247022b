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

use alloc::boxed::Box;

use super::enroll::{Begin, Reauthentication};

use super::factors::{TotpChecked, login_code_event, set_counter, totp_check};
use super::steps::{Checked, Finished, LoginStep};
use super::{Authenticator, CAS_ATTEMPTS, HashJob, PasswordHashing, Reserved, ServiceError};
use crate::credential::factor::FactorKind;
use crate::credential::oob::OobOutcome;
use crate::credential::password::Password;
use crate::credential::recovery::RecoveryCodes;
use crate::credential::throttle::{ThrottleDecision, ThrottleState};
use crate::credential::token::BearerToken;
use crate::otp::error::Refusal;
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::enrollment::{AuthenticatorName, EnrollmentPurpose};
use crate::policy::factors::Factor;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{LoginProgress, PasswordState};
use crate::policy::session::SessionRefused;
use crate::service::backend::Backend;
use crate::store::SecurityNotice;
use crate::store::UserStore;
use crate::store::login::{LoginSnapshot, OobWrite, SnapshotAt, StepWrite};
use crate::store::records::{
    Login, OobChallengeRecord, OobPurpose, PendingStep, PersonRecord, ThrottleKey, TicketRecord,
};

impl<B: Backend> Authenticator<B> {
    /// The password step of signing in to `org` (for a host that knows the organisation;
    /// [`Self::login`] finds it from the person's memberships).
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
    ///
    /// [`LoginStore::login_snapshot`]: crate::store::login::LoginStore::login_snapshot
    /// [`LoginStore::apply_step`]: crate::store::login::LoginStore::apply_step
    pub async fn login_to(
        &self,
        org: OrgId,
        login: &str,
        password: Password,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let mut verified = match self.check_password(Some(org), login, password, now).await? {
            PasswordChecked::Verified(verified) => verified,
            PasswordChecked::Refused(refusal) => {
                return self.refuse_password(refusal, Some(org), now).await;
            }
        };
        self.upgrade_hash(&mut verified).await?;
        let PasswordVerified {
            snapshot,
            login,
            key,
            person,
            ..
        } = *verified;
        // The login starts at the epoch read with the person, before the password was checked:
        // a bump from then on (a reset, "sign out everywhere") leaves it without a session.
        let progress = LoginProgress::password_verified(person.id, org, now)
            .at_epoch(snapshot.epoch.unwrap_or(0));
        self.settle_password(&login, key, snapshot, progress, now)
            .await
    }

    /// The first half of a password step: the name normalised, the snapshot read at it (with
    /// `org`, if named), the attempt counted, and the password verified (a dummy verification
    /// for a name nobody holds). Nothing is audited yet: a refusal is returned for
    /// [`Self::refuse_password`].
    pub(super) async fn check_password(
        &self,
        org: Option<OrgId>,
        login: &str,
        password: Password,
        now: u64,
    ) -> Result<PasswordChecked, ServiceError> {
        let Some(login) = Login::new(login) else {
            // No person can hold a name that does not normalise.
            let _ = self
                .backend
                .hasher()
                .run(HashJob::verify_dummy(password))
                .await
                .into_verified()?;
            return Ok(PasswordChecked::Refused(PasswordRefusal {
                reserved: None,
                subject: None,
            }));
        };
        let key = ThrottleKey::login(&login);
        // The password is counted per login name, held or not, before it is verified: an
        // unknown name is throttled, locked and audited exactly as a wrong password.
        let (mut snapshot, reserved, counted) = self
            .reserve_on(
                SnapshotAt::Login(&login),
                org,
                key.clone(),
                Factor::Password,
                |s| s.counters.login,
                now,
            )
            .await?;
        snapshot.counters.login = Some(counted);
        let Some(person) = snapshot.person.clone() else {
            let _ = self
                .backend
                .hasher()
                .run(HashJob::verify_dummy(password))
                .await
                .into_verified()?;
            return Ok(PasswordChecked::Refused(PasswordRefusal {
                reserved: Some(reserved),
                subject: None,
            }));
        };
        let temporary = person.password_state == PasswordState::Temporary;
        let copy = Password::from(password.expose_secret());
        let verified = self
            .backend
            .hasher()
            .run(HashJob::verify(
                password,
                person.password_hash.clone(),
                temporary,
            ))
            .await
            .into_verified()?;
        let expired = temporary && person.password_expires_at.is_none_or(|at| now >= at);
        let needs_rehash = match verified {
            Ok(v) if !expired => v.needs_rehash() && !temporary,
            _ => {
                return Ok(PasswordChecked::Refused(PasswordRefusal {
                    reserved: Some(reserved),
                    subject: Some(person.id),
                }));
            }
        };
        Ok(PasswordChecked::Verified(Box::new(PasswordVerified {
            snapshot,
            login,
            key,
            person,
            reserved,
            rehash: needs_rehash.then_some(copy),
        })))
    }

    /// Audits a refused password step — an unknown login ([`AuditKind::UnknownLogin`]) or a
    /// wrong password — and what counting it changed; always
    /// [`ServiceError::InvalidCredentials`].
    pub(super) async fn refuse_password(
        &self,
        refusal: PasswordRefusal,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<LoginStep, ServiceError> {
        match (refusal.reserved, refusal.subject) {
            (None, _) => {
                self.record_one(now, Actor::System, None, org, AuditKind::UnknownLogin)
                    .await?;
            }
            (Some(reserved), None) => {
                self.reject_attempt(reserved, None, org, AuditKind::UnknownLogin, now)
                    .await?;
            }
            (Some(reserved), Some(person)) => {
                self.reject_credential(reserved, person, org, false, now)
                    .await?;
            }
        }
        Err(ServiceError::InvalidCredentials)
    }

    /// Upgrades the hash of a verified password to the current parameters, if it needs it.
    pub(super) async fn upgrade_hash(
        &self,
        verified: &mut PasswordVerified,
    ) -> Result<(), ServiceError> {
        let Some(copy) = verified.rehash.take() else {
            return Ok(());
        };
        // Only the hash is upgraded, and only if it is still the one just verified: the stored
        // state (a `Compromised` mark included) and expiry stay as they are, and a password
        // changed meanwhile is not reverted.
        let person = &verified.person;
        let hash = self
            .backend
            .hasher()
            .run(HashJob::hash(copy, false))
            .await
            .into_hash()?;
        let _ = self
            .backend
            .store()
            .upgrade_password_hash(person.id, &person.password_hash, hash.as_str())
            .await
            .map_err(ServiceError::storage)?;
        Ok(())
    }

    /// The second half of a password step for a login that names its organisation: the
    /// verified attempt settles its count, guarded by it, in the commit of the login decision's
    /// outcome. If concurrent failures moved the counter meanwhile, the decision is made again
    /// on a fresh read (they may have locked the name).
    pub(super) async fn settle_password(
        &self,
        login: &Login,
        key: ThrottleKey,
        mut snapshot: LoginSnapshot,
        progress: LoginProgress,
        now: u64,
    ) -> Result<LoginStep, ServiceError> {
        for _ in 0..CAS_ATTEMPTS {
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
                return concluded.settle(self, None).await;
            }
            snapshot = self
                .snapshot(SnapshotAt::Login(login), progress.org(), now)
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
    ///
    /// [`PolicyError::ReauthenticationRequired`]: crate::policy::error::PolicyError::ReauthenticationRequired
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
        let record = self
            .step_ticket(&snapshot, PendingStep::ChangePassword, org, now)
            .await?;
        stale_login(&record, &snapshot)?;
        let person = snapshot
            .person
            .as_ref()
            .ok_or(ServiceError::InvalidCredentials)?;
        // A refused password leaves the ticket as it is: the person may try another.
        let hash = self.prepare_password(person, new_password, now).await?;
        // As for a signed-in password change, every session and remembered device ends, before
        // the write and after it; this login goes on at the new epoch.
        let _ = self.end_sessions(person.id, None).await?;
        self.store_password(person, &hash, now).await?;
        let epoch = self.end_sessions(person.id, None).await?;
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        self.finish(&digest, org, snapshot, |p| p.at_epoch(epoch), now)
            .await
    }

    /// Completes the second-factor step with a code from an authenticator app: one transaction
    /// under the person's lock ([`LoginStore::locked_step`]) reads the ticket, the person, their
    /// organisation, MFA state and counters, decides (the throttle, the code, the login
    /// decision), and commits the outcome — on success the raised watermark, the spent ticket and
    /// the next step; on a wrong code only the counted failure, the ticket staying. The code is
    /// single-use across every server: its step is spent by the guarded watermark.
    ///
    /// [`LoginStore::locked_step`]: crate::store::login::LoginStore::locked_step
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
                    .backend
                    .hasher()
                    .run(HashJob::recovery_redeem(set, code))
                    .await
                    .into_redeemed()?;
                Some((set_id, slot))
            }
            None => {
                let _ = self
                    .backend
                    .hasher()
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
    ///
    /// [`Notifier`]: crate::store::Notifier
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
    /// ([`Mfa::start_enrollment_at_login`]):
    /// a person who holds a factor was asked for it before this step, so a password alone never
    /// binds a new authenticator. Each enrollment step checks again that the login decision
    /// still asks for the enrollment; when it no longer does (the person gained a factor
    /// meanwhile, or the policy changed), the step is refused with
    /// [`PolicyError::ReauthenticationRequired`] and the login starts again from the password.
    ///
    ///
    /// Calling it again shows the same enrollment again (the same secret, the same QR code)
    /// while it awaits its first code and has not expired, as
    /// [`Self::start_enrollment`] does; [`Self::restart_login_enrollment`] starts over.
    ///
    /// [`Mfa::start_enrollment_at_login`]: crate::policy::enrollment::Mfa::start_enrollment_at_login
    /// [`PolicyError::ReauthenticationRequired`]: crate::policy::error::PolicyError::ReauthenticationRequired
    pub async fn start_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        name: &str,
    ) -> Result<super::EnrollmentSetup, ServiceError> {
        self.begin_login_enrollment(org, ticket, name, Begin::Resume)
            .await
    }

    /// "Start over" at login: as [`Self::start_login_enrollment`], but always with a new
    /// secret (the one in progress is abandoned).
    pub async fn restart_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        name: &str,
    ) -> Result<super::EnrollmentSetup, ServiceError> {
        self.begin_login_enrollment(org, ticket, name, Begin::StartOver)
            .await
    }

    async fn begin_login_enrollment(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        name: &str,
        begin: Begin,
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
            begin,
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
        stale_login(&record, &snapshot)?;
        let person = record.progress.person();
        let _ = self.enroll_acknowledge(person, now).await?;
        // MFA turned on: every session and remembered device ends, as for the signed-in
        // enrollment; this login goes on at the new epoch.
        let epoch = self.end_sessions(person, None).await?;
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        self.finish(
            &digest,
            org,
            snapshot,
            |p| p.with_second_factor(FactorKind::Totp).at_epoch(epoch),
            now,
        )
        .await
    }
}

/// A login started before the person's security epoch last moved (a reset, "sign out
/// everywhere") cannot change anything on its way to a session it would never get.
pub(super) fn stale_login(
    record: &TicketRecord,
    snapshot: &LoginSnapshot,
) -> Result<(), ServiceError> {
    if snapshot.epoch != Some(record.progress.epoch()) {
        return Err(ServiceError::Session(SessionRefused::StaleEpoch));
    }
    Ok(())
}

/// What the first half of a password step found ([`Authenticator::check_password`]).
pub(super) enum PasswordChecked {
    /// The password is the person's.
    Verified(Box<PasswordVerified>),
    /// An unknown login or a wrong password (the attempt counted), not audited yet.
    Refused(PasswordRefusal),
}

/// A password verified for the person holding the login name.
pub(super) struct PasswordVerified {
    /// The snapshot at the name, its counter as counted by the attempt.
    pub(super) snapshot: LoginSnapshot,
    /// The normalised name.
    pub(super) login: Login,
    /// Its password counter.
    pub(super) key: ThrottleKey,
    /// The person holding it.
    pub(super) person: PersonRecord,
    /// The counted attempt (for a refusal after all: a person in no organisation).
    pub(super) reserved: Reserved,
    /// The password again, when its hash should be upgraded.
    rehash: Option<Password>,
}

/// A refused password, not audited yet.
pub(super) struct PasswordRefusal {
    /// The counted attempt (`None`: the name does not normalise, nothing was read).
    pub(super) reserved: Option<Reserved>,
    /// The person holding the name, if anyone does (`None`: an unknown login).
    pub(super) subject: Option<PersonId>,
}

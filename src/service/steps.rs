//! What a login step leads to ([`LoginStep`]), and the parts every login step shares: the
//! snapshot it decides on, the attempt counted before a slow check, the login decision on the
//! snapshot and the next step's ticket, the guarded commit of a step's outcome, and the
//! second-factor step in one locked transaction.

use alloc::vec::Vec;

use super::factors::set_counter;
use super::{Authenticator, CAS_ATTEMPTS, Reserved, ServiceError};
use crate::credential::factor::{FactorKind, ThrottledFactor};
use crate::credential::throttle::{ThrottleDecision, ThrottleEvent, ThrottleState};
use crate::credential::token::{BearerToken, TokenDigest};
use crate::policy::audit::{Actor, AuditEvent, AuditKind, DenyReason};
use crate::policy::error::PolicyError;
use crate::policy::factors::Factor;
use crate::policy::factors::SecondFactors;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{
    Account, EnrollmentDemand, Grant, LoginDecision, LoginProgress, login_decision,
};
use crate::policy::session::SessionRefused;
use crate::service::backend::Backend;
use crate::service::sessions::{NewSession, OpenedSession};
use crate::store::login::{LoginSnapshot, LoginStore, NextTicket, SnapshotAt, StepWrite};
use crate::store::records::{PendingStep, ThrottleKey, TicketRecord};

/// Where a login stands after a step.
#[derive(Debug)]
#[must_use = "a login step says what the person must do next"]
pub enum LoginStep {
    /// Signed in: the server-side session this login opened, at the security epoch the login
    /// started at (its token for the client, its id, and the grant for this request).
    Granted(OpenedSession),
    /// The password is temporary or compromised: the person must choose a new one
    /// ([`Authenticator::change_password_at_login`]). A person with a second factor gets here
    /// only after presenting it.
    ChangePassword {
        /// The ticket for that step.
        ticket: BearerToken,
        /// The organisation the login is for (pass it to the next step).
        org: OrgId,
    },
    /// "Company account verification": the organisation requires MFA and the person has none of
    /// a kind it counts; walk them through [`Authenticator::start_login_enrollment`]. A person
    /// who holds another factor (a verified phone where SMS does not count) gets here only after
    /// presenting it.
    EnrollMfa {
        /// The ticket for the enrollment steps.
        ticket: BearerToken,
        /// The organisation the login is for (pass it to the next step).
        org: OrgId,
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
        /// The organisation the login is for (pass it to the next step).
        org: OrgId,
        /// The factors the person may present.
        factors: SecondFactors,
    },
    /// The password is right and the person belongs to several organisations
    /// ([`Authenticator::login`] named none): they choose one
    /// ([`Authenticator::choose_organisation`]), and the login goes on as
    /// [`Authenticator::login_to`] would have for that organisation.
    ChooseOrganisation {
        /// The ticket for that step.
        ticket: BearerToken,
        /// The organisations the person may sign in to (active memberships), in id order.
        organisations: Vec<OrgId>,
    },
}

impl LoginStep {
    /// The grant, if the login is complete.
    pub fn grant(&self) -> Option<&Grant> {
        match self {
            Self::Granted(opened) => Some(&opened.grant),
            _ => None,
        }
    }

    /// The session the login opened, if it is complete.
    pub fn session(&self) -> Option<&OpenedSession> {
        match self {
            Self::Granted(opened) => Some(opened),
            _ => None,
        }
    }

    /// The session the login opened, if it is complete, taken out of the step.
    pub fn into_session(self) -> Option<OpenedSession> {
        match self {
            Self::Granted(opened) => Some(opened),
            _ => None,
        }
    }

    /// The ticket for the next step, if one is pending.
    pub fn ticket(&self) -> Option<&BearerToken> {
        match self {
            Self::Granted(_) => None,
            Self::ChangePassword { ticket, .. }
            | Self::EnrollMfa { ticket, .. }
            | Self::SecondFactor { ticket, .. }
            | Self::ChooseOrganisation { ticket, .. } => Some(ticket),
        }
    }

    /// The organisation the login is for: the one every later step takes. `None` while the
    /// person has still to choose one ([`Self::ChooseOrganisation`]).
    pub fn org(&self) -> Option<OrgId> {
        match self {
            Self::Granted(opened) => Some(opened.grant.org()),
            Self::ChangePassword { org, .. }
            | Self::EnrollMfa { org, .. }
            | Self::SecondFactor { org, .. } => Some(*org),
            Self::ChooseOrganisation { .. } => None,
        }
    }
}

/// The login decision on a snapshot, with its audit event; the writes it needs are already added
/// to the step's.
pub(super) struct Concluded {
    pub(super) result: Result<LoginStep, ServiceError>,
    pub(super) event: AuditEvent,
    /// For a grant: the session to create once the step has committed.
    pub(super) session: Option<NewSession>,
}

impl Concluded {
    /// The step's outcome once it has committed: its session created (at the epoch the login
    /// started at: [`SessionRefused::StaleEpoch`] if a bump came in between) and its events
    /// recorded.
    pub(super) async fn settle<B: Backend>(
        self,
        auth: &Authenticator<B>,
        before: Option<AuditEvent>,
    ) -> Result<LoginStep, ServiceError> {
        let created = match &self.session {
            Some(new) => auth.create_new_session(new).await?,
            None => true,
        };
        let events: Vec<AuditEvent> = before.into_iter().chain([self.event]).collect();
        auth.record(&events).await?;
        if !created {
            return Err(ServiceError::Session(SessionRefused::StaleEpoch));
        }
        self.result
    }
}

/// How [`Authenticator::finish_with`] ended.
pub(super) enum Finished {
    /// Committed: the login decision's outcome.
    Done(Result<LoginStep, ServiceError>),
    /// The ticket, or what the step spends, was spent meanwhile: nothing was written.
    Lost,
}

/// What a factor check decided on a locked snapshot.
pub(super) enum Checked {
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

/// What a second-factor step presents in place of the challenged factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Presented {
    /// A second factor of this kind: the login decision must challenge for it, and a failure is
    /// counted on its own counter.
    Kind(FactorKind),
    /// A remembered device: the login decision must challenge for some second factor, the
    /// organisation must allow remembered devices, and a failure is counted on the login name's
    /// password counter.
    RememberedDevice,
}

impl Presented {
    /// The factor, as audited.
    const fn factor(self) -> Factor {
        match self {
            Self::Kind(kind) => Factor::Second(kind),
            Self::RememberedDevice => Factor::RememberedDevice,
        }
    }

    /// The counter a failure is counted on, for the ticket's person as `snapshot` read them.
    fn key(self, snapshot: &LoginSnapshot, person: PersonId) -> Option<ThrottleKey> {
        match self {
            Self::Kind(kind) => Some(super::factor_key(person, kind)),
            Self::RememberedDevice => snapshot
                .person
                .as_ref()
                .filter(|p| p.id == person)
                .map(|p| ThrottleKey::login(&p.login)),
        }
    }

    /// The login's progress once it was accepted.
    const fn progress(self, progress: LoginProgress) -> LoginProgress {
        match self {
            Self::Kind(kind) => progress.with_second_factor(kind),
            Self::RememberedDevice => progress.with_remembered_device(),
        }
    }
}

/// What a locked second-factor step decided.
enum LockedStep {
    /// The ticket is not one for this step (it is spent if it is another step's).
    TicketRejected(Option<PersonId>),
    /// The login may not present this factor now; the ticket stays.
    Unavailable,
    /// The factor was checked (a failure counted on `key`).
    Checked {
        person: PersonId,
        key: ThrottleKey,
        checked: Checked,
        concluded: Option<alloc::boxed::Box<Concluded>>,
    },
    /// A fault while deciding (no random numbers for the next ticket).
    Failed(ServiceError),
}

impl<B: Backend> Authenticator<B> {
    /// A second-factor step in one transaction under the person's lock: the ticket and the
    /// factor's availability checked, then `check` (the throttle and the code, adding its writes),
    /// then on success the ticket spent and the login decision's outcome, all committed together.
    /// Audits the outcome afterwards.
    pub(super) async fn locked_second_factor<F>(
        &self,
        ticket: &BearerToken,
        org: OrgId,
        kind: FactorKind,
        now: u64,
        check: F,
    ) -> Result<LoginStep, ServiceError>
    where
        F: FnMut(&LoginSnapshot, PersonId, &mut StepWrite) -> Checked + Send,
    {
        self.locked_presenting(ticket, org, Presented::Kind(kind), now, check)
            .await
    }

    /// [`Self::locked_second_factor`] for whatever `presented` is: a second factor of a kind
    /// the decision challenges for, or a remembered device standing in for one.
    pub(super) async fn locked_presenting<F>(
        &self,
        ticket: &BearerToken,
        org: OrgId,
        presented: Presented,
        now: u64,
        mut check: F,
    ) -> Result<LoginStep, ServiceError>
    where
        F: FnMut(&LoginSnapshot, PersonId, &mut StepWrite) -> Checked + Send,
    {
        let digest = ticket.digest();
        let step = self
            .backend
            .store()
            .locked_step(SnapshotAt::Ticket(&digest), Some(org), now, |snapshot| {
                let mut write = StepWrite::default();
                let ticket = match snapshot.ticket {
                    Some(t)
                        if t.step == PendingStep::SecondFactor && t.progress.org() == Some(org) =>
                    {
                        t
                    }
                    other => {
                        // Another step's or organisation's ticket is spent, as any wrong
                        // presentation.
                        write.spend_ticket = other.map(|t| t.digest);
                        let subject = other.map(|t| t.progress.person());
                        return (write, LockedStep::TicketRejected(subject));
                    }
                };
                let person = ticket.progress.person();
                let key = match presented.key(snapshot, person) {
                    Some(key) if self.presentable(snapshot, &ticket.progress, presented, now) => {
                        key
                    }
                    _ => return (write, LockedStep::Unavailable),
                };
                let checked = check(snapshot, person, &mut write);
                let concluded = if matches!(checked, Checked::Accepted(_)) {
                    write.spend_ticket = Some(ticket.digest);
                    let progress = presented.progress(ticket.progress);
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
                        key,
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
                key,
                checked,
                concluded,
            } => match (checked, concluded) {
                (Checked::Refused(e), _) => Err(e),
                (Checked::Rejected { replayed, event }, _) => {
                    let reserved = Reserved {
                        key,
                        factor: presented.factor(),
                        event,
                    };
                    self.reject_credential(reserved, person, Some(org), replayed, now)
                        .await?;
                    Err(ServiceError::InvalidCredentials)
                }
                (Checked::Accepted(event), Some(concluded)) => concluded.settle(self, event).await,
                (Checked::Accepted(_), None) => Err(ServiceError::InvalidCredentials),
            },
        }
    }

    pub(super) async fn snapshot(
        &self,
        at: SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<LoginSnapshot, ServiceError> {
        self.backend
            .store()
            .login_snapshot(at, org, now)
            .await
            .map_err(ServiceError::storage)
    }

    pub(super) async fn apply(&self, write: &StepWrite) -> Result<bool, ServiceError> {
        self.backend
            .store()
            .apply_step(write)
            .await
            .map_err(ServiceError::storage)
    }

    /// Reads a snapshot at `at` and counts an attempt on counter `key` (read by `stored`) before
    /// it is verified; see [`Self::reserve_from`].
    pub(super) async fn reserve_on(
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
    pub(super) async fn reserve_from(
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
    pub(super) async fn reject_ticket(
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
    pub(super) async fn ticket_for(
        &self,
        snapshot: &LoginSnapshot,
        step: PendingStep,
        org: OrgId,
        now: u64,
    ) -> Result<TicketRecord, ServiceError> {
        match snapshot.ticket {
            Some(record) if record.step == step && record.progress.org() == Some(org) => Ok(record),
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
    pub(super) async fn second_factor_snapshot(
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
    pub(super) async fn step_ticket(
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
    pub(super) async fn finish_with<P, W>(
        &self,
        digest: &TokenDigest,
        org: OrgId,
        mut snapshot: LoginSnapshot,
        progress: P,
        mut base: W,
        now: u64,
    ) -> Result<Finished, ServiceError>
    where
        P: Fn(LoginProgress) -> LoginProgress,
        W: FnMut(&LoginSnapshot) -> Option<StepWrite>,
    {
        for _ in 0..CAS_ATTEMPTS {
            let (Some(ticket), Some(mut write)) = (snapshot.ticket, base(&snapshot)) else {
                return Ok(Finished::Lost);
            };
            write.spend_ticket = Some(ticket.digest);
            let concluded = self.conclude(&snapshot, progress(ticket.progress), now, &mut write)?;
            if self.apply(&write).await? {
                return Ok(Finished::Done(concluded.settle(self, None).await));
            }
            snapshot = self
                .snapshot(SnapshotAt::Ticket(digest), Some(org), now)
                .await?;
        }
        Err(ServiceError::Conflict)
    }

    /// [`Self::finish_with`] for a step with no writes of its own; a lost ticket is audited and
    /// is [`ServiceError::InvalidCredentials`].
    pub(super) async fn finish<P>(
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

    /// Whether the login decision for `progress` on `snapshot` lets it present `presented`: a
    /// kind it challenges for, or a remembered device wherever it challenges for any factor and
    /// the organisation allows remembered devices.
    fn presentable(
        &self,
        snapshot: &LoginSnapshot,
        progress: &LoginProgress,
        presented: Presented,
        now: u64,
    ) -> bool {
        match presented {
            Presented::Kind(kind) => self.factor_allowed(snapshot, progress, kind, now),
            Presented::RememberedDevice => {
                let allowed = snapshot.organisation.as_ref().is_some_and(|o| {
                    Some(o.value.id()) == progress.org() && o.value.allows_remembered_devices()
                });
                allowed
                    && matches!(
                        self.decide_on(snapshot, progress, now),
                        Some(LoginDecision::Challenge(factors)) if !factors.is_empty()
                    )
            }
        }
    }

    /// Whether the login decision for `progress` on `snapshot` challenges for `factor`.
    pub(super) fn factor_allowed(
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
    pub(super) fn decide_on(
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
            .filter(|o| Some(o.value.id()) == progress.org())
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
    pub(super) fn conclude(
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
        // `decide_on` denies a login that names no organisation, so every other decision has one.
        let Some(org) = progress.org() else {
            return Ok(Concluded {
                result: Err(ServiceError::InvalidCredentials),
                event,
                session: None,
            });
        };
        let mut session = None;
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
                    for factor in ThrottledFactor::ALL
                        .into_iter()
                        .filter(|f| *f != ThrottledFactor::Password)
                    {
                        set_counter(
                            write,
                            ThrottleKey::factor(person.id, factor),
                            counters.factor(factor),
                            ThrottleState::new(),
                        );
                    }
                }
                let (opened, new) = self.new_session(&grant, progress.epoch())?;
                session = Some(new);
                Ok(LoginStep::Granted(opened))
            }
            LoginDecision::ChangePassword(_) => self
                .next_ticket(snapshot, PendingStep::ChangePassword, progress, now, write)
                .map(|ticket| LoginStep::ChangePassword { ticket, org }),
            LoginDecision::EnrollMfa { demand, factors } => self
                .next_ticket(snapshot, PendingStep::EnrollMfa, progress, now, write)
                .map(|ticket| LoginStep::EnrollMfa {
                    ticket,
                    org,
                    demand,
                    factors,
                }),
            LoginDecision::Challenge(factors) => self
                .next_ticket(snapshot, PendingStep::SecondFactor, progress, now, write)
                .map(|ticket| LoginStep::SecondFactor {
                    ticket,
                    org,
                    factors,
                }),
            LoginDecision::Denied(DenyReason::Locked) => Err(ServiceError::Locked),
            LoginDecision::Denied(DenyReason::Deactivated) => Err(ServiceError::Deactivated),
            LoginDecision::Denied(_) => Err(ServiceError::InvalidCredentials),
        };
        Ok(Concluded {
            result,
            event,
            session,
        })
    }

    /// A new ticket for `step`, written with the step's outcome. It expires after the configured
    /// ticket lifetime, and never after the login itself may stay pending.
    pub(super) fn next_ticket(
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

//! The login that finds the organisation: [`Authenticator::login`] takes a login name and a
//! password, no [`OrgId`], and reads the person's organisations only once the password is
//! verified; a person in several chooses one ([`Authenticator::choose_organisation`]).
//!
//! What a stranger can learn is what [`Authenticator::login_to`] lets them learn, no more: an
//! unknown login, a wrong password and the right password of a person in no organisation are
//! the same [`ServiceError::InvalidCredentials`], after the same argon2 work (one
//! verification, no rehash), the same throttle counting (the attempt stays counted as a
//! failure), and the same store calls — the snapshot, the counted attempt, and the person's
//! memberships (read for nobody after an unknown login, and read after a wrong password
//! although nothing is done with them). The list of someone's organisations is never read
//! before their password is verified, and never answered to anyone else.

use alloc::vec::Vec;

use super::factors::set_counter;
use super::login::{PasswordChecked, PasswordVerified, stale_login};
use super::steps::{Concluded, LoginStep};
use super::{Authenticator, CAS_ATTEMPTS, ServiceError};
use crate::credential::password::Password;
use crate::credential::throttle::ThrottleState;
use crate::credential::token::BearerToken;
use crate::policy::audit::{Actor, AuditEvent, AuditKind, DenyReason, LoginOutcome};
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{LoginDecision, LoginProgress};
use crate::policy::organisation::Organisation;
use crate::policy::roles::Member;
use crate::service::backend::Backend;
use crate::store::UserStore;
use crate::store::login::{LoginSnapshot, SnapshotAt, StepWrite};
use crate::store::records::{PendingStep, Versioned};

/// Whose memberships are read after an unknown login, so that it costs the reads a person in
/// no organisation costs. No person is given this id (ids are random 128-bit values).
const NOBODY: PersonId = PersonId::new(0);

impl<B: Backend> Authenticator<B> {
    /// The password step of signing in, the organisation found from the person's memberships.
    ///
    /// The password step is [`Self::login_to`]'s: the same snapshot, the attempt counted before
    /// argon2, the same answers for an unknown login, a wrong password, a throttled or a locked
    /// name. Once the password is verified, the person's organisations are read
    /// ([`UserStore::organisations_of`], then each organisation):
    ///
    /// - in one organisation (or in several, of which only one would let them go on), the login
    ///   goes straight on, exactly as [`Self::login_to`] for it;
    /// - in several where they may go on: [`LoginStep::ChooseOrganisation`] with those
    ///   organisations, and a ticket for [`Self::choose_organisation`];
    /// - in none where they may go on (every membership or the person deactivated, say): the
    ///   first organisation's refusal, as [`Self::login_to`] gives it;
    /// - a member of none: [`ServiceError::InvalidCredentials`], the attempt left counted as a
    ///   wrong password's, audited as `Login { outcome: Denied(NotAMember) }` with no
    ///   organisation (the audit trail, not the caller, learns that the password was right).
    ///
    /// A successful password step reads one more statement per organisation of the person than
    /// [`Self::login_to`], plus the list of them (`tests/login_budgets.rs`).
    pub async fn login(&self, login: &str, password: Password) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let mut verified = match self.check_password(None, login, password, now).await? {
            PasswordChecked::Verified(verified) => verified,
            PasswordChecked::Refused(refusal) => {
                if refusal.reserved.is_some() {
                    // The reads a person in no organisation costs; the answer is not used.
                    let _ = self
                        .organisations_of(refusal.subject.unwrap_or(NOBODY))
                        .await?;
                }
                return self.refuse_password(refusal, None, now).await;
            }
        };
        let person = verified.person.id;
        let orgs = self.member_organisations(person).await?;
        if orgs.is_empty() {
            return self.refuse_without_organisation(*verified, now).await;
        }
        self.upgrade_hash(&mut verified).await?;
        let PasswordVerified {
            mut snapshot,
            login,
            key,
            ..
        } = *verified;
        // As for `login_to`, the login starts at the epoch read before the password was checked.
        let pending =
            LoginProgress::organisation_pending(person, now).at_epoch(snapshot.epoch.unwrap_or(0));
        for _ in 0..CAS_ATTEMPTS {
            let mut write = StepWrite::default();
            set_counter(
                &mut write,
                key.clone(),
                snapshot.counters.login,
                ThrottleState::new(),
            );
            // The decisions see the counter settled.
            snapshot.counters.login = None;
            let mut open = Vec::with_capacity(orgs.len());
            for org in &orgs {
                snapshot.organisation = Some(copy(org));
                let progress = pending.in_organisation(org.value.id())?;
                if !matches!(
                    self.decide_on(&snapshot, &progress, now),
                    None | Some(LoginDecision::Denied(_))
                ) {
                    open.push(org);
                }
            }
            let concluded = match open.as_slice() {
                [] | [_] => {
                    // The one organisation they may go on in or, when there is none, the first
                    // one's refusal.
                    let org = open.first().copied().or(orgs.first()).map(copy);
                    let id = org.as_ref().map(|o| o.value.id());
                    snapshot.organisation = org;
                    let id = id.ok_or(ServiceError::InvalidCredentials)?;
                    self.conclude(&snapshot, pending.in_organisation(id)?, now, &mut write)?
                }
                several => {
                    let organisations = several.iter().map(|o| o.value.id()).collect();
                    snapshot.organisation = None;
                    self.organisation_choice(&snapshot, pending, organisations, now, &mut write)?
                }
            };
            if self.apply(&write).await? {
                return concluded.settle(self, None).await;
            }
            snapshot = self.snapshot(SnapshotAt::Login(&login), None, now).await?;
        }
        Err(ServiceError::Conflict)
    }

    /// Continues a login at [`LoginStep::ChooseOrganisation`] in `org`, with exactly the
    /// decision [`Self::login_to`] would have made for it after the password: a second factor,
    /// an enrollment, a password change, or the grant. The next step's ticket carries the
    /// choice, and the choice's ticket is spent.
    ///
    /// `org` must be one of the person's active memberships, read now. Any other organisation
    /// — not theirs, unknown, or a deactivated membership — is the same
    /// [`ServiceError::InvalidCredentials`] and leaves the ticket as it is, so the person may
    /// choose again until it expires: what the ticket's holder could learn by trying
    /// organisations is only whether they belong to them, which the password already proved
    /// they may know. A ticket for another step is spent and refused, as at every step; a
    /// login started before the person's security epoch last moved is
    /// [`SessionRefused::StaleEpoch`](crate::policy::SessionRefused::StaleEpoch).
    pub async fn choose_organisation(
        &self,
        ticket: &BearerToken,
        org: OrgId,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        let digest = ticket.digest();
        let snapshot = self
            .snapshot(SnapshotAt::Ticket(&digest), Some(org), now)
            .await?;
        let record = match snapshot.ticket {
            Some(record)
                if record.step == PendingStep::ChooseOrganisation
                    && record.progress.org().is_none() =>
            {
                record
            }
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
                return Err(ServiceError::InvalidCredentials);
            }
        };
        stale_login(&record, &snapshot)?;
        let person = record.progress.person();
        let theirs = snapshot
            .organisation
            .as_ref()
            .and_then(|o| o.value.member(person))
            .is_some_and(Member::is_active);
        if !theirs {
            self.record_one(
                now,
                Actor::Person(person),
                Some(person),
                Some(org),
                AuditKind::Login {
                    outcome: LoginOutcome::Denied(DenyReason::NotAMember),
                },
            )
            .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        // A passwordless login (no password verified) completes only where it is granted at
        // once, as in `finish_passwordless_login_to`: it never goes on to a password change, an
        // enrolment or another factor.
        if !record
            .progress
            .factors()
            .contains(crate::policy::factors::Factor::Password)
        {
            let progress = record.progress.in_organisation(org)?;
            self.granted_at_once(&snapshot, &progress, now).await?;
        }
        // A ticket's record never changes: the progress read again names no organisation either.
        // (Were it to name one, the decision would deny it: the snapshot is `org`'s.)
        self.finish(
            &digest,
            org,
            snapshot,
            |p| p.in_organisation(org).unwrap_or(p),
            now,
        )
        .await
    }

    /// The choose-organisation step of a login (`pending`, which names none) among
    /// `organisations`: its ticket added to `write`, and its audit event.
    pub(super) fn organisation_choice(
        &self,
        snapshot: &LoginSnapshot,
        pending: LoginProgress,
        organisations: Vec<OrgId>,
        now: u64,
        write: &mut StepWrite,
    ) -> Result<Concluded, ServiceError> {
        let person = pending.person();
        let ticket = self.next_ticket(
            snapshot,
            PendingStep::ChooseOrganisation,
            pending,
            now,
            write,
        )?;
        Ok(Concluded {
            result: Ok(LoginStep::ChooseOrganisation {
                ticket,
                organisations,
            }),
            event: AuditEvent::new(
                now,
                Actor::Person(person),
                Some(person),
                None,
                AuditKind::Login {
                    outcome: LoginOutcome::OrganisationChoiceRequired,
                },
            ),
            session: None,
        })
    }

    /// The organisations the person is a member of, each read with its version.
    pub(super) async fn member_organisations(
        &self,
        person: PersonId,
    ) -> Result<Vec<Versioned<Organisation>>, ServiceError> {
        let ids = self.organisations_of(person).await?;
        let mut orgs = Vec::with_capacity(ids.len());
        for id in ids {
            let org = self
                .backend
                .store()
                .organisation(id)
                .await
                .map_err(ServiceError::storage)?;
            orgs.extend(org.filter(|o| o.value.member(person).is_some()));
        }
        Ok(orgs)
    }

    /// The organisations the person is a member of.
    async fn organisations_of(&self, person: PersonId) -> Result<Vec<OrgId>, ServiceError> {
        self.backend
            .store()
            .organisations_of(person)
            .await
            .map_err(ServiceError::storage)
    }

    /// A verified password of a person in no organisation: refused as a wrong password, the
    /// attempt staying counted.
    async fn refuse_without_organisation(
        &self,
        verified: PasswordVerified,
        now: u64,
    ) -> Result<LoginStep, ServiceError> {
        self.reject_attempt(
            verified.reserved,
            Some(verified.person.id),
            None,
            AuditKind::Login {
                outcome: LoginOutcome::Denied(DenyReason::NotAMember),
            },
            now,
        )
        .await?;
        Err(ServiceError::InvalidCredentials)
    }

    /// A passwordless login (no password verified) completes only where it is granted at once:
    /// it never goes on to a password change, an enrolment or another factor. Any other
    /// decision is audited as at a password sign-in (`Login { outcome }`, a denial with its
    /// reason) and refused: locked, deactivated, the uniform failure for the other denials,
    /// and [`ServiceError::FactorUnavailable`] where the login would need another step.
    pub(super) async fn granted_at_once(
        &self,
        snapshot: &LoginSnapshot,
        progress: &LoginProgress,
        now: u64,
    ) -> Result<(), ServiceError> {
        let Some(decision) = self.decide_on(snapshot, progress, now) else {
            return Err(ServiceError::InvalidCredentials);
        };
        if let LoginDecision::Allowed(_) = decision {
            return Ok(());
        }
        self.record(&[decision.audit_event(progress, now)]).await?;
        Err(match decision {
            LoginDecision::Denied(DenyReason::Locked) => ServiceError::Locked,
            LoginDecision::Denied(DenyReason::Deactivated) => ServiceError::Deactivated,
            LoginDecision::Denied(_) => ServiceError::InvalidCredentials,
            _ => ServiceError::FactorUnavailable,
        })
    }
}

pub(super) fn copy(org: &Versioned<Organisation>) -> Versioned<Organisation> {
    Versioned {
        value: org.value.clone(),
        version: org.version,
    }
}

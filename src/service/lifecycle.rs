//! The member lifecycle beyond adding and removing: inviting an existing person, ownership
//! offered and accepted, and the MFA reminders the host sends periodically.
//!
//! Invitations are single-use, hashed, expiring tokens ([`InvitationStore`]): the token goes to
//! the invitee through the [`Notifier`](crate::store::Notifier), the store keeps its digest, and
//! only the invitee's own session can accept it.

use alloc::vec::Vec;

use super::{Authenticator, CAS_ATTEMPTS, ServiceError};
use crate::credential::token::BearerToken;
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::error::PolicyError;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::Grant;
use crate::policy::roles::Role;
use crate::service::account::Live;
use crate::service::backend::Backend;
use crate::store::invitations::{InvitationRecord, InvitationStore};
use crate::store::{Notification, UserStore};

impl<B: Backend> Authenticator<B> {
    /// Invites the existing person with this login into the grant holder's organisation with
    /// `role`. The inviter needs the authority to manage members; the role is capped by the
    /// inviter's own role and is never Owner ([`crate::policy::organisation::Organisation::invite`]).
    /// The invitation token goes to the invitee through the notifier; the store keeps only its
    /// digest, valid for [`ServiceConfig::invitation_ttl`](crate::service::ServiceConfig) (7 days
    /// by default), and it is accepted once, by the invitee's own session
    /// ([`Self::accept_invitation`]).
    ///
    /// The answer is the same `Ok(())` whether or not the login belongs to someone: a login
    /// nobody holds gets no invitation, no account is created, and the attempt is audited
    /// ([`AuditKind::Invited`] has no subject then), so an administrator cannot probe which logins
    /// exist. Inviting someone who is already a member is [`PolicyError::AlreadyMember`] (the
    /// roster is the inviter's own to see). A failed delivery is audited, not returned.
    ///
    /// Both answers make the same store calls (the login looked up, one invitation row written,
    /// the audit record): for a login nobody holds the row is a decoy under a random person id,
    /// which no session can accept and [`Self::prune_expired`] deletes at its expiry. The
    /// residual difference is the notifier: only a real invitee's message is delivered, so a
    /// host whose [`Notifier`](crate::store::Notifier) waits on the network should queue
    /// deliveries (return once enqueued) to keep the response time of the two answers alike.
    pub async fn invite_member(
        &self,
        grant: &Grant,
        login: &str,
        role: Role,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, org, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let login = crate::store::records::Login::new(login).ok_or(ServiceError::InvalidLogin)?;
        let issued = org.invite(grant, role, self.config.invitation_ttl, now)?;
        let token = BearerToken::generate()?;
        let person = self
            .backend
            .store()
            .person_by_login(login.as_str())
            .await
            .map_err(ServiceError::storage)?;
        let invitee = person.filter(|p| !p.deactivated);
        if let Some(person) = &invitee
            && org.member(person.id).is_some()
        {
            return Err(ServiceError::Policy(PolicyError::AlreadyMember));
        }
        // The same store calls either way: a login nobody holds gets a decoy row under a random
        // person id nobody holds (no session can take it; it expires and is pruned).
        let holder = match &invitee {
            Some(person) => person.id,
            None => PersonId::new(super::random_id()?),
        };
        InvitationStore::insert_invitation(
            self.backend.store(),
            &InvitationRecord {
                digest: token.digest(),
                person: holder,
                invitation: issued.state,
            },
        )
        .await
        .map_err(ServiceError::storage)?;
        let Some(person) = invitee else {
            // Uniform answer: nothing is sent; the attempt is audited without a subject.
            return self.record(&issued.events).await;
        };
        let mut events = issued.events;
        for event in &mut events {
            event.subject = Some(person.id);
        }
        self.record(&events).await?;
        let _ = self
            .notify(Notification::Invitation {
                person: person.id,
                org: grant.org(),
                token: &token,
            })
            .await?;
        Ok(())
    }

    /// Accepts an invitation in the invitee's own session (`grant`, in any organisation they
    /// belong to): they join the invitation's organisation with its role. Returns that
    /// organisation.
    ///
    /// Refused, with one opaque [`ServiceError::InvalidCredentials`], for a token that is
    /// unknown, spent, expired or for someone else (whose invitation is left untouched). When
    /// the organisation enforces MFA the invitee must first hold a second factor it counts:
    /// [`PolicyError::EnrollMfaFirst`], and the invitation stays usable. The token is spent
    /// once the rest is checked; an inviter since demoted, deactivated or removed, or who may
    /// no longer grant the role, makes it [`PolicyError::InvitationInvalid`] and spends it too
    /// (restoring the inviter's role later does not revive it).
    pub async fn accept_invitation(
        &self,
        grant: &Grant,
        invitation_token: &BearerToken,
    ) -> Result<OrgId, ServiceError> {
        let now = self.now();
        let Live { person, .. } = self.live_grant(grant, now).await?;
        let factors = self.own_factors(&person).await?;
        let digest = invitation_token.digest();
        // Checked before the token is spent (the MFA requirement leaves it usable), then the
        // token is taken atomically and the membership written with a compare-and-swap.
        let peek = self.peek_invitation(&digest, person.id, now).await?;
        let Some(invitation) = peek else {
            self.record_one(
                now,
                Actor::Person(person.id),
                Some(person.id),
                None,
                AuditKind::TicketRejected,
            )
            .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let org_id = invitation.org();
        let loaded = self.organisation(org_id).await?;
        if let Err(refused) = loaded.accept_invitation(&invitation, person.id, factors, now) {
            if refused == PolicyError::InvitationInvalid {
                // An inviter who lost the authority spends the invitation: restoring their
                // role later must not bring it back to life.
                let _ =
                    InvitationStore::take_invitation(self.backend.store(), &digest, person.id, now)
                        .await
                        .map_err(ServiceError::storage)?;
            }
            return Err(refused.into());
        }
        let taken = InvitationStore::take_invitation(self.backend.store(), &digest, person.id, now)
            .await
            .map_err(ServiceError::storage)?;
        let Some(record) = taken else {
            self.record_one(
                now,
                Actor::Person(person.id),
                Some(person.id),
                Some(org_id),
                AuditKind::TicketRejected,
            )
            .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let invitation = record.invitation;
        self.update_org(org_id, |org| {
            org.accept_invitation(&invitation, person.id, factors, now)
        })
        .await?;
        Ok(org_id)
    }

    /// The invitation behind `digest` for `person`, if it is usable at `now`, without spending
    /// it (the store's take is the only spend).
    async fn peek_invitation(
        &self,
        digest: &crate::credential::token::TokenDigest,
        person: PersonId,
        now: u64,
    ) -> Result<Option<crate::policy::organisation::Invitation>, ServiceError> {
        InvitationStore::invitation(self.backend.store(), digest, person, now)
            .await
            .map_err(ServiceError::storage)
    }

    /// An Owner offers ownership of their organisation to a member (fresh AAL2 grant; the
    /// target must have MFA the organisation counts while it enforces MFA). The offer stands
    /// for [`OwnershipOffer::TTL`](crate::policy::organisation::OwnershipOffer::TTL) and
    /// replaces any earlier one; the target accepts with [`Self::accept_ownership`].
    pub async fn offer_ownership(&self, grant: &Grant, to: PersonId) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let target = self.person(to).await?;
        let factors = self.own_factors(&target).await?;
        self.update_org(grant.org(), |org| {
            org.offer_ownership(grant, to, factors, now)
        })
        .await
    }

    /// The member an ownership offer is for accepts it in their own session: they become an
    /// Owner, and the Owner who offered becomes an Admin
    /// ([`crate::policy::organisation::Organisation::accept_ownership`]).
    pub async fn accept_ownership(&self, grant: &Grant) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, person, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let factors = self.own_factors(&person).await?;
        self.update_org(grant.org(), |org| org.accept_ownership(grant, factors, now))
            .await
    }

    /// Maintenance: sends the MFA reminders due now in every organisation that enforces MFA
    /// ([`MfaSettings::with_reminders`](crate::policy::org_policy::MfaSettings::with_reminders)),
    /// to members who still lack a factor the organisation counts, and returns how many the
    /// notifier accepted (a failed delivery is audited and not counted). Call it periodically, beside [`Self::prune_expired`].
    ///
    /// Each reminder is recorded in the organisation (a compare-and-swap) before it is sent, so
    /// a member never gets the same reminder twice, and two servers running this at once send
    /// it once. The price is at most once: a reminder whose delivery fails is audited and not
    /// sent again.
    pub async fn send_mfa_reminders(&self) -> Result<u64, ServiceError> {
        let now = self.now();
        let ids = InvitationStore::organisation_ids(self.backend.store())
            .await
            .map_err(ServiceError::storage)?;
        let mut sent = 0u64;
        for id in ids {
            for (person, org, deadline) in self.record_reminders(id, now).await? {
                let status = self
                    .notify(Notification::MfaReminder {
                        person,
                        org,
                        deadline,
                    })
                    .await?;
                if matches!(status, super::DeliveryStatus::Delivered) {
                    sent = sent.saturating_add(1);
                }
            }
        }
        Ok(sent)
    }

    /// Records the reminders due in one organisation and returns them, once stored.
    async fn record_reminders(
        &self,
        id: OrgId,
        now: u64,
    ) -> Result<Vec<(PersonId, OrgId, u64)>, ServiceError> {
        for _ in 0..CAS_ATTEMPTS {
            let Some(loaded) = self
                .backend
                .store()
                .organisation(id)
                .await
                .map_err(ServiceError::storage)?
            else {
                return Ok(Vec::new());
            };
            let org = &loaded.value;
            let probe = org.record_mfa_reminders(|_| true, now);
            if probe.outcome.is_empty() {
                return Ok(Vec::new());
            }
            let mut needs = Vec::new();
            for (person, _) in &probe.outcome {
                let record = self.person(*person).await?;
                let factors = self.own_factors(&record).await?;
                let role = org
                    .member(*person)
                    .map_or(crate::policy::roles::Role::User, |m| m.role());
                if !org.policy().satisfied_for(role, factors) {
                    needs.push(*person);
                }
            }
            let recorded = org.record_mfa_reminders(|p| needs.contains(&p), now);
            if recorded.outcome.is_empty() {
                return Ok(Vec::new());
            }
            let written = self
                .backend
                .store()
                .replace_organisation(&recorded.state, loaded.version)
                .await
                .map_err(ServiceError::storage)?;
            if written {
                self.record(&recorded.events).await?;
                return Ok(recorded
                    .outcome
                    .into_iter()
                    .map(|(person, deadline)| (person, id, deadline))
                    .collect());
            }
        }
        Err(ServiceError::Conflict)
    }
}

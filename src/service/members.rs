//! Organisations and their members: sign-up, adding a member with a temporary password and a
//! setup link, roles, delegation, deactivation and the organisation's MFA policy.

use super::{
    Authenticator, CAS_ATTEMPTS, DeliveryStatus, HashJob, PasswordHashing, ServiceError, random_id,
};
use crate::credential::password::Password;
use crate::credential::password::policy::PasswordContext;
use crate::credential::password::temporary::TemporaryPassword;
use crate::credential::token::BearerToken;
use crate::policy::Transition;
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::error::PolicyError;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{Grant, PasswordState};
use crate::policy::org_policy::MfaSettings;
use crate::policy::organisation::Organisation;
use crate::policy::roles::Role;
use crate::service::account::Live;
use crate::service::backend::Backend;
use crate::store::records::{Login, PersonRecord, SetupTokenRecord};
use crate::store::{CreateOutcome, Notification, OrganisationWrite, SecretStore, UserStore};

/// A new person and the organisation they founded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedUp {
    /// The person, the organisation's first Owner.
    pub person: PersonId,
    /// The organisation.
    pub org: OrgId,
}

/// A member an administrator added: the temporary password to hand over once, and whether the
/// setup link went out through the [`Notifier`](crate::store::Notifier).
#[derive(Debug)]
pub struct NewMember {
    /// The new person.
    pub person: PersonId,
    /// Their temporary password (show once; it must be changed at first sign-in).
    pub temporary_password: TemporaryPassword,
    /// Whether the setup link was delivered. The member exists either way; after a failure
    /// (audited), hand over the temporary password or call [`Authenticator::resend_setup_link`].
    pub setup_link: DeliveryStatus,
}

impl<B: Backend> Authenticator<B> {
    /// Signs up a person who founds an organisation (its first Owner). The password must meet
    /// the policy. A link verifying the login, an e-mail address, goes out through the
    /// [`Notifier`](crate::store::Notifier) ([`Authenticator::verify_address`]); until it is
    /// followed the address receives no password reset. A failed delivery is audited, and
    /// [`Authenticator::send_address_verification`] sends another.
    pub async fn sign_up(&self, login: &str, password: Password) -> Result<SignedUp, ServiceError> {
        let now = self.now();
        let login = Login::new(login).ok_or(ServiceError::InvalidLogin)?;
        let context = PasswordContext::new()
            .service_name(&self.config.issuer)
            .email(login.as_str());
        self.check_new_password(&password, &context, None, now)
            .await?;
        let hash = self
            .backend
            .hasher()
            .run(HashJob::hash(password, false))
            .await
            .into_hash()?;
        let person = PersonId::new(random_id()?);
        let org = OrgId::new(random_id()?);
        let record = PersonRecord {
            id: person,
            login,
            password_hash: hash.into_string(),
            password_state: PasswordState::Current,
            password_expires_at: None,
            deactivated: false,
            phone: None,
            created_at: now,
            address_verified_at: None,
        };
        let founded = Organisation::found(org, person, now);
        let outcome = self
            .backend
            .store()
            .create_person(&record, OrganisationWrite::Insert(&founded.state))
            .await
            .map_err(ServiceError::storage)?;
        match outcome {
            CreateOutcome::Created => {
                self.record(&founded.events).await?;
                // The new login counts for a reset only once this link is followed.
                self.verify_new_address(&record, now).await?;
                Ok(SignedUp { person, org })
            }
            CreateOutcome::LoginTaken => Err(ServiceError::LoginTaken),
            CreateOutcome::OrganisationConflict => Err(ServiceError::Conflict),
        }
    }

    /// Adds a person to the grant holder's organisation with `role` (Admins and Owners only; at
    /// most the actor's own role, never Owner). The person gets a temporary password, returned
    /// here to hand over once, and a single-use setup link (expiring, stored hashed) delivered
    /// through the [`Notifier`](crate::store::Notifier). At first sign-in they must choose their own password.
    ///
    /// Once the person is stored the member exists: a notifier failure is reported in
    /// [`NewMember::setup_link`] (and audited), never as an error that would drop the temporary
    /// password and leave the login taken.
    pub async fn add_member(
        &self,
        grant: &Grant,
        login: &str,
        role: Role,
    ) -> Result<NewMember, ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let login = Login::new(login).ok_or(ServiceError::InvalidLogin)?;
        let person = PersonId::new(random_id()?);
        let org_id = grant.org();
        // Checked once before the argon2 work, and again against each fresh read below.
        let loaded = self.load_org(org_id).await?;
        let _ = loaded.value.add_member(grant, person, role, now)?;
        let context = PasswordContext::new()
            .service_name(&self.config.issuer)
            .email(login.as_str());
        let temporary = TemporaryPassword::generate_with_rng(
            &mut getrandom::SysRng,
            &self.config.password_policy,
            &context,
            now,
            self.config.temporary_ttl,
        )?;
        let hash = self
            .backend
            .hasher()
            .run(HashJob::hash(
                Password::from(temporary.expose_secret()),
                true,
            ))
            .await
            .into_hash()?;
        let record = PersonRecord {
            id: person,
            login,
            password_hash: hash.into_string(),
            password_state: PasswordState::Temporary,
            password_expires_at: Some(temporary.expires_at()),
            deactivated: false,
            phone: None,
            created_at: now,
            address_verified_at: None,
        };
        // Drawn before the person is stored, so that nothing after the commit can fail for
        // want of randomness.
        let token = BearerToken::generate()?;
        let mut created = None;
        for _ in 0..CAS_ATTEMPTS {
            let loaded = self.load_org(org_id).await?;
            let added = loaded.value.add_member(grant, person, role, now)?;
            let outcome = self
                .backend
                .store()
                .create_person(
                    &record,
                    OrganisationWrite::Replace {
                        organisation: &added.state,
                        expected_version: loaded.version,
                    },
                )
                .await
                .map_err(ServiceError::storage)?;
            match outcome {
                CreateOutcome::Created => {
                    created = Some(added.events);
                    break;
                }
                CreateOutcome::LoginTaken => return Err(ServiceError::LoginTaken),
                CreateOutcome::OrganisationConflict => {}
            }
        }
        let mut events = created.ok_or(ServiceError::Conflict)?;
        events.push(AuditEvent::new(
            now,
            Actor::Person(grant.person()),
            Some(person),
            Some(org_id),
            AuditKind::TemporaryPasswordIssued {
                expires_at: temporary.expires_at(),
            },
        ));
        self.record(&events).await?;
        let setup_link = self.send_setup_link(person, org_id, token, now).await?;
        Ok(NewMember {
            person,
            temporary_password: temporary,
            setup_link,
        })
    }

    /// Sends a new setup link to a member added with a temporary password who has not chosen
    /// their own yet (after a failed delivery, or a lost or expired link). Needs the authority
    /// to manage that member ([`Organisation::may_manage`]); refused for a deactivated member
    /// and, with [`ServiceError::AlreadyActivated`], once the person has chosen a password.
    /// Earlier links stay valid until they expire, and the first one used ends the others (a
    /// setup completes only while the password is still temporary). Audited as
    /// [`AuditKind::SetupLinkReissued`]; the result says whether the link was delivered.
    pub async fn resend_setup_link(
        &self,
        grant: &Grant,
        person: PersonId,
    ) -> Result<DeliveryStatus, ServiceError> {
        let now = self.now();
        let Live { grant, org, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        org.may_manage(grant, person, now)?;
        if !org
            .member(person)
            .is_some_and(crate::policy::roles::Member::is_active)
        {
            return Err(ServiceError::Policy(PolicyError::MemberDeactivated));
        }
        let record = self.person(person).await?;
        if record.password_state != PasswordState::Temporary {
            return Err(ServiceError::AlreadyActivated);
        }
        self.record_one(
            now,
            Actor::Person(grant.person()),
            Some(person),
            Some(grant.org()),
            AuditKind::SetupLinkReissued,
        )
        .await?;
        let token = BearerToken::generate()?;
        self.send_setup_link(person, grant.org(), token, now).await
    }

    /// Stores a new setup token for `person` and delivers its link.
    async fn send_setup_link(
        &self,
        person: PersonId,
        org: OrgId,
        token: BearerToken,
        now: u64,
    ) -> Result<DeliveryStatus, ServiceError> {
        self.backend
            .store()
            .insert_setup_token(&SetupTokenRecord {
                digest: token.digest(),
                person,
                org,
                expires_at: now.saturating_add(self.config.setup_ttl),
            })
            .await
            .map_err(ServiceError::storage)?;
        self.notify(Notification::SetupLink {
            person,
            org,
            token: &token,
        })
        .await
    }

    /// Follows a setup link: the person chooses their own password (policy-checked, not the
    /// temporary one). Their address counts as verified from then on: the link reached it. The token is spent whatever happens next; an unknown, expired or spent
    /// token, or one whose person is deactivated or no longer an active member of the
    /// organisation that added them, is [`ServiceError::InvalidCredentials`].
    pub async fn complete_setup(
        &self,
        token: &BearerToken,
        new_password: Password,
    ) -> Result<PersonId, ServiceError> {
        let now = self.now();
        let taken = self
            .backend
            .store()
            .take_setup_token(&token.digest(), now)
            .await
            .map_err(ServiceError::storage)?;
        let Some(setup) = taken else {
            self.record_one(now, Actor::System, None, None, AuditKind::TicketRejected)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        let person = self.person(setup.person).await?;
        // The link stands only for the member it was made for, while they are one: a person
        // deactivated, removed from the organisation or deactivated there since cannot use it.
        let member_active = self
            .backend
            .store()
            .organisation(setup.org)
            .await
            .map_err(ServiceError::storage)?
            .is_some_and(|org| {
                org.value
                    .member(person.id)
                    .is_some_and(crate::policy::roles::Member::is_active)
            });
        if person.password_state != PasswordState::Temporary || person.deactivated || !member_active
        {
            self.record_one(
                now,
                Actor::System,
                Some(person.id),
                Some(setup.org),
                AuditKind::TicketRejected,
            )
            .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        let hash = self.prepare_password(&person, new_password, now).await?;
        self.store_password(&person, &hash, now).await?;
        // The setup link went to the login and came back: the address reaches the person.
        let _ = self.mark_verified(person.id, &person.login, now).await?;
        Ok(person.id)
    }

    /// The organisation as stored now.
    pub async fn organisation(&self, org: OrgId) -> Result<Organisation, ServiceError> {
        Ok(self.load_org(org).await?.value)
    }

    /// Turns on or changes the organisation's MFA policy (for example "force every user to use
    /// MFA"). The actor must be an Owner with their own MFA active and a fresh AAL2 grant.
    pub async fn set_mfa_policy(
        &self,
        grant: &Grant,
        settings: MfaSettings,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let person = self.person(grant.person()).await?;
        let factors = self.own_factors(&person).await?;
        self.update_org(grant.org(), |org| {
            org.set_mfa_policy(grant, factors, settings, now)
        })
        .await
    }

    /// Turns the organisation's MFA policy off (same authority as [`Self::set_mfa_policy`]).
    pub async fn turn_off_mfa_policy(&self, grant: &Grant) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        self.update_org(grant.org(), |org| org.turn_off_mfa_policy(grant, now))
            .await
    }

    /// Changes a member's role (never one's own, never above the actor's, never to Owner).
    pub async fn change_role(
        &self,
        grant: &Grant,
        target: PersonId,
        role: Role,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        self.update_org(grant.org(), |org| org.change_role(grant, target, role, now))
            .await
    }

    /// Delegates a higher role to a member until `until` (cover for an absence).
    pub async fn delegate(
        &self,
        grant: &Grant,
        to: PersonId,
        role: Role,
        until: u64,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        self.update_org(grant.org(), |org| org.delegate(grant, to, role, until, now))
            .await
    }

    /// Ends a member's delegation early.
    pub async fn revoke_delegation(&self, grant: &Grant, to: PersonId) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        self.update_org(grant.org(), |org| org.revoke_delegation(grant, to, now))
            .await
    }

    /// Deactivates a member: their next sign-in and authorisation check are refused, and every
    /// session and remembered device of theirs ends (their security epoch moves on).
    pub async fn deactivate_member(
        &self,
        grant: &Grant,
        target: PersonId,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        self.update_org(grant.org(), |org| org.deactivate_member(grant, target, now))
            .await?;
        self.end_sessions_by(
            Actor::Person(grant.person()),
            target,
            Some(grant.org()),
            None,
        )
        .await
        .map(drop)
    }

    /// Reactivates a deactivated member.
    pub async fn reactivate_member(
        &self,
        grant: &Grant,
        target: PersonId,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        self.update_org(grant.org(), |org| org.reactivate_member(grant, target, now))
            .await
    }

    async fn load_org(
        &self,
        org: OrgId,
    ) -> Result<crate::store::records::Versioned<Organisation>, ServiceError> {
        self.backend
            .store()
            .organisation(org)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(ServiceError::Policy(PolicyError::NotAMember))
    }

    /// Reads the organisation, applies `change`, and writes it back with a compare-and-swap,
    /// recomputing from a fresh read when another writer won. Records the events.
    pub(super) async fn update_org<F>(&self, org: OrgId, mut change: F) -> Result<(), ServiceError>
    where
        F: FnMut(&Organisation) -> Result<Transition<Organisation>, PolicyError> + Send,
    {
        for _ in 0..CAS_ATTEMPTS {
            let loaded = self.load_org(org).await?;
            let transition = change(&loaded.value)?;
            if transition.events.is_empty() {
                return Ok(());
            }
            let written = self
                .backend
                .store()
                .replace_organisation(&transition.state, loaded.version)
                .await
                .map_err(ServiceError::storage)?;
            if written {
                return self.record(&transition.events).await;
            }
        }
        Err(ServiceError::Conflict)
    }
}

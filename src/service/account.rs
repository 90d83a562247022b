//! A signed-in person's own security: authenticators, recovery codes, MFA off, password,
//! re-authentication and authorisation checks.

use alloc::vec::Vec;

use super::enroll::{Begin, Reauthentication};
use super::{Authenticator, EnrollmentSetup, HashJob, PasswordHashing, ServiceError};
use crate::credential::factor::FactorKind;
use crate::credential::password::Password;
use crate::credential::phone::PhoneNumber;
use crate::credential::recovery::RecoveryCodes;
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::enrollment::EnrollmentPurpose;
use crate::policy::error::PolicyError;
use crate::policy::factors::Aal;
use crate::policy::factors::{Factor, FactorSet};
use crate::policy::ids::SessionId;
use crate::policy::ids::{AuthenticatorId, PersonId};
use crate::policy::login::{Grant, PasswordState};
use crate::policy::org_policy::OrgStanding;
use crate::policy::roles::{Action, Resource};
use crate::service::backend::Backend;
use crate::store::SecretStore;
use crate::store::SecurityNotice;
use crate::store::UserStore;
use crate::store::login::{FactorRemoval, LoginStore, SnapshotAt};
use crate::store::records::{OobPurpose, RecoverySlot, ThrottleKey};

impl<B: Backend> Authenticator<B> {
    /// Starts enrolling an authenticator app for the signed-in person: the first one, an extra
    /// one on another device ([`EnrollmentPurpose::Add`]), or a replacement. Once the person
    /// holds any second factor — an authenticator app, or a verified phone — this needs a fresh
    /// AAL2 session ([`Self::reauthenticate_session`], or a new sign-in): a new authenticator is bound
    /// only by someone who presented an existing one.
    ///
    /// Calling it again shows the same enrollment again — the same secret, the same QR code —
    /// while one for the same purpose still awaits its first code and has not expired, so
    /// reloading the page never abandons a secret the person may have scanned already (the
    /// checks above are made every time). Another purpose, an expired enrollment or one
    /// already confirmed gets a new secret; so does [`Self::restart_enrollment`] ("start over").
    pub async fn start_enrollment(
        &self,
        grant: &Grant,
        purpose: EnrollmentPurpose,
    ) -> Result<EnrollmentSetup, ServiceError> {
        self.begin_enrollment(grant, purpose, Begin::Resume).await
    }

    /// "Start over": as [`Self::start_enrollment`], but always with a new secret; the
    /// enrollment in progress, if any, is abandoned (audited as
    /// [`AuditKind::EnrollmentAbandoned`]) and its secret stops confirming.
    pub async fn restart_enrollment(
        &self,
        grant: &Grant,
        purpose: EnrollmentPurpose,
    ) -> Result<EnrollmentSetup, ServiceError> {
        self.begin_enrollment(grant, purpose, Begin::StartOver)
            .await
    }

    async fn begin_enrollment(
        &self,
        grant: &Grant,
        purpose: EnrollmentPurpose,
        begin: Begin,
    ) -> Result<EnrollmentSetup, ServiceError> {
        let now = self.now();
        let Live { grant, person, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        self.require_fresh_if_protected(grant, &person, now).await?;
        self.enroll_start(&person, purpose, Reauthentication::Grant(grant), begin, now)
            .await
    }

    /// Confirms the enrollment with a code from the app; returns the recovery codes to show once.
    pub async fn confirm_enrollment(
        &self,
        grant: &Grant,
        code: &str,
    ) -> Result<RecoveryCodes, ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        self.enroll_confirm(grant.person(), Some(grant.org()), code, now)
            .await
    }

    /// "I have safely recorded this": activates the authenticator and its recovery codes. A
    /// factor was added: every other session of the person ends (their security epoch moves
    /// on), and the grant's session stays signed in as it was, at its assurance level.
    /// [`Self::acknowledge_enrollment_in_session`] raises it to AAL2 as well.
    pub async fn acknowledge_enrollment(
        &self,
        grant: &Grant,
    ) -> Result<AuthenticatorId, ServiceError> {
        self.acknowledge_keeping(grant, grant.session()).await
    }

    /// [`Self::acknowledge_enrollment`], ending every session of the person but `keep`.
    pub(super) async fn acknowledge_keeping(
        &self,
        grant: &Grant,
        keep: Option<SessionId>,
    ) -> Result<AuthenticatorId, ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let id = self.enroll_acknowledge(grant.person(), now).await?;
        self.end_sessions(grant.person(), keep).await?;
        Ok(id)
    }

    /// Verifies the password and a code from the app (the password alone for a person with no
    /// second factor) for a re-authentication of the grant's session
    /// ([`Self::reauthenticate_session`], which writes the outcome and rotates the token): the
    /// fresh grant, not yet stored.
    ///
    /// Each is reserved on its throttle counter before it is verified (the password on the
    /// login's counter, the code on the TOTP counter), as at sign-in.
    pub(super) async fn reauthenticate(
        &self,
        grant: &Grant,
        password: Password,
        code: &str,
    ) -> Result<Grant, ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let person = self.person(grant.person()).await?;
        // A person with no second factor re-verifies the password alone; a code typed for
        // them has nothing to be checked against and is refused like a wrong one.
        let password_only = self.own_factors(&person).await?.is_empty();
        if password_only && !code.is_empty() {
            return Err(ServiceError::InvalidCredentials);
        }
        self.check_current_password(&person, Some(grant.org()), password, now)
            .await?;
        let factors = if password_only {
            FactorSet::of(Factor::Password)
        } else {
            self.check_totp(person.id, Some(grant.org()), code, now)
                .await?;
            FactorSet::of(Factor::Password)
                .with(Factor::Second(crate::credential::factor::FactorKind::Totp))
        };
        let fresh = grant.reauthenticated(factors, now);
        self.record(&[fresh.reauthentication_event()]).await?;
        Ok(fresh)
    }

    /// Verifies the person's current password (a re-authentication, a password change),
    /// reserved on the login's counter first and settled as at sign-in.
    pub(super) async fn check_current_password(
        &self,
        person: &crate::store::records::PersonRecord,
        org: Option<crate::policy::ids::OrgId>,
        password: Password,
        now: u64,
    ) -> Result<(), ServiceError> {
        let reserved = self
            .reserve_attempt(ThrottleKey::login(&person.login), Factor::Password, now)
            .await?;
        let verified = self
            .backend
            .hasher()
            .run(HashJob::verify(
                password,
                person.password_hash.clone(),
                person.password_state == PasswordState::Temporary,
            ))
            .await
            .into_verified()?;
        if verified.is_err() {
            self.reject_credential(reserved, person.id, org, false, now)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        }
        self.accept_attempt(reserved, now).await
    }

    /// Turns the signed-in person's MFA off. Needs a fresh AAL2 grant; refused while any of
    /// their organisations enforces MFA. Recovery codes are deleted, and so (feature
    /// `passkeys`) are their passkeys and security keys, each audited; every session of the
    /// person ends (their security epoch moves on), and the person is notified.
    ///
    /// The epoch moves on before the passkeys go: a passkey registration finishing meanwhile is
    /// either removed with them or refused (it is stored only at the epoch its session was
    /// checked at).
    pub async fn disable_mfa(&self, grant: &Grant) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let person = grant.person();
        let standings = self.standings(person).await?;
        let config = &self.config.enrollment;
        // Decided first on the state as it is, so that a refusal ends nothing; then the
        // sessions end before the factors go as well as after, so that a crash between the
        // writes leaves no session resting on a factor that is gone.
        let current = self
            .backend
            .store()
            .mfa(person)
            .await
            .map_err(ServiceError::storage)?
            .map_or_else(|| crate::policy::enrollment::Mfa::new(person), |v| v.value);
        let _ = current.disable(grant, &standings, config, now)?;
        self.end_sessions(person, None).await?;
        let _ = self
            .update_mfa(person, |mfa| {
                Ok(mfa.disable(grant, &standings, config, now)?)
            })
            .await?;
        for slot in [RecoverySlot::Active, RecoverySlot::Pending] {
            self.backend
                .store()
                .replace_recovery_codes(person, slot, None)
                .await
                .map_err(ServiceError::storage)?;
        }
        // The epoch moved on before the passkeys go: a registration finishing meanwhile is
        // removed with them or refused.
        #[cfg(feature = "passkeys")]
        self.remove_all_passkeys(Actor::Person(person), person, Some(grant.org()), now)
            .await?;
        self.end_sessions(person, None).await?;
        self.notice(person, SecurityNotice::MfaTurnedOff).await
    }

    /// Replaces the signed-in person's recovery codes with a new set (the old codes stop
    /// working). Needs a fresh AAL2 grant, and an authenticator app or (feature `passkeys`) a
    /// passkey ([`ServiceError::FactorUnavailable`] otherwise). Returns the codes, to show once. A factor was
    /// replaced: every other session of the person ends (a session signed in with an old code
    /// among them), and the grant's session stays.
    pub async fn regenerate_recovery_codes(
        &self,
        grant: &Grant,
    ) -> Result<RecoveryCodes, ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        grant.require_fresh(now, self.config.enrollment.reauth_max_age(), Aal::Aal2)?;
        let person = grant.person();
        let mfa = self
            .backend
            .store()
            .mfa(person)
            .await
            .map_err(ServiceError::storage)?;
        let has_app = mfa.is_some_and(|m| m.value.is_active());
        // A person whose factors are passkeys holds the recovery codes issued with the first.
        #[cfg(feature = "passkeys")]
        let has_app = has_app
            || !crate::store::PasskeyStore::passkeys(self.backend.store(), person)
                .await
                .map_err(ServiceError::storage)?
                .is_empty();
        if !has_app {
            return Err(ServiceError::FactorUnavailable);
        }
        let new = self
            .backend
            .hasher()
            .run(HashJob::recovery_generate(self.config.recovery))
            .await
            .into_recovery_codes()?;
        self.backend
            .store()
            .replace_recovery_codes(person, RecoverySlot::Active, Some(&new.set))
            .await
            .map_err(ServiceError::storage)?;
        self.record_one(
            now,
            Actor::Person(person),
            Some(person),
            Some(grant.org()),
            AuditKind::RecoveryCodesRegenerated,
        )
        .await?;
        self.end_sessions(person, grant.session()).await?;
        Ok(new.codes)
    }

    /// Changes the signed-in person's password: the current one must verify (throttled), and
    /// the new one must meet the policy and differ from it. Every session of the person ends
    /// (their security epoch moves on).
    pub async fn change_password(
        &self,
        grant: &Grant,
        current: Password,
        new_password: Password,
    ) -> Result<(), ServiceError> {
        self.change_password_keeping(grant, current, new_password, None)
            .await
    }

    /// [`Self::change_password`], ending every session of the person but `keep`.
    pub(super) async fn change_password_keeping(
        &self,
        grant: &Grant,
        current: Password,
        new_password: Password,
        keep: Option<SessionId>,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        let person = self.person(grant.person()).await?;
        self.check_current_password(&person, Some(grant.org()), current, now)
            .await?;
        let hash = self.prepare_password(&person, new_password, now).await?;
        // Sessions end before the password changes, so that a crash between the two writes
        // leaves no session of the old password (a stolen one, say), and again after it, for a
        // login with the old password that completed in between.
        let _ = self.end_sessions(person.id, keep).await?;
        self.store_password(&person, &hash, now).await?;
        self.end_sessions(person.id, keep).await.map(drop)
    }

    /// Phone verification, step 1: sends a code to `phone` (through the [`Notifier`], as an
    /// [`Notification::OobCode`](crate::store::Notification::OobCode) with
    /// [`OobPurpose::VerifyPhone`]) to prove the signed-in person holds it. The number becomes a
    /// factor only when the code comes back ([`Self::confirm_phone`]).
    ///
    /// Needs SMS to be configured ([`ServiceError::FactorUnavailable`] otherwise), and a fresh
    /// AAL2 grant once the person has any second factor, like any new authenticator. The send
    /// counts against the asking person's own verification budget, whatever the number: the
    /// resend cooldown and hourly cap as for sign-in codes, and the daily verification cap
    /// ([`OobConfig::daily_verification_cap`]);
    /// beyond them, [`ServiceError::Throttled`]. It never spends the number's owner's sign-in
    /// budget. A new call replaces the pending verification: only the last code sent counts.
    ///
    /// [`Notifier`]: crate::store::Notifier
    /// [`OobConfig::daily_verification_cap`]: crate::credential::oob::OobConfig::daily_verification_cap
    pub async fn start_phone_verification(
        &self,
        grant: &Grant,
        phone: &PhoneNumber,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, person, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        if self.config.oob.is_none() {
            return Err(ServiceError::FactorUnavailable);
        }
        self.require_fresh_if_protected(grant, &person, now).await?;
        self.send_oob(
            person.id,
            Some(grant.org()),
            OobPurpose::VerifyPhone,
            phone,
            now,
        )
        .await
    }

    /// Phone verification, step 2: the code sent by [`Self::start_phone_verification`]. If it is
    /// right, the number becomes the person's phone for SMS sign-in codes (replacing any
    /// previous one), the person is told an authenticator was added, and the change is audited.
    ///
    /// The code is single-use, expires, and is void after the configured number of wrong
    /// attempts; a wrong, expired, spent or missing code is the uniform
    /// [`ServiceError::InvalidCredentials`], counted against the out-of-band throttle (a
    /// throttled or locked factor is refused without checking). The same fresh-grant rule as
    /// step 1 applies. A factor was added: every other session of the person ends (their
    /// security epoch moves on), and the grant's session stays signed in.
    pub async fn confirm_phone(&self, grant: &Grant, code: &str) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, person, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        if self.config.oob.is_none() {
            return Err(ServiceError::FactorUnavailable);
        }
        self.require_fresh_if_protected(grant, &person, now).await?;
        let phone = self
            .check_oob(
                person.id,
                Some(grant.org()),
                OobPurpose::VerifyPhone,
                None,
                code,
                now,
            )
            .await?;
        let _ = self
            .backend
            .store()
            .set_phone(person.id, Some(&phone))
            .await
            .map_err(ServiceError::storage)?;
        // The spent challenge has done its work.
        if let Some(spent) = self
            .backend
            .store()
            .oob_challenge(person.id, OobPurpose::VerifyPhone)
            .await
            .map_err(ServiceError::storage)?
        {
            let _ = self
                .backend
                .store()
                .replace_oob_challenge(
                    person.id,
                    OobPurpose::VerifyPhone,
                    Some(&spent.challenge),
                    None,
                )
                .await
                .map_err(ServiceError::storage)?;
        }
        self.record_one(
            now,
            Actor::Person(person.id),
            Some(person.id),
            Some(grant.org()),
            AuditKind::PhoneVerified,
        )
        .await?;
        self.end_sessions(person.id, grant.session()).await?;
        self.notice(person.id, SecurityNotice::AuthenticatorAdded)
            .await
    }

    /// Removes the signed-in person's phone number: SMS codes stop, and every session of the
    /// person ends (their security epoch moves on, in the same commit as the number goes).
    /// Needs a fresh AAL2 grant once the person has any second factor.
    ///
    /// When the phone is the person's only primary second factor (no active authenticator app
    /// and, feature `passkeys`, no passkey), removing it turns MFA off, and is refused the way
    /// [`Self::disable_mfa`] is: while any of their organisations enforces MFA
    /// ([`PolicyError::RequiredByOrganisation`], or
    /// [`PolicyError::SoleOwnerOfEnforcingOrganisation`]). Nor may it go while it is the last
    /// factor an enforcing organisation counts (an app beside it that the organisation does
    /// not count: [`PolicyError::RequiredByOrganisation`]). A person without a phone gets `Ok`.
    ///
    /// The decision and the removal are guarded by the person's security epoch
    /// ([`LoginStore::remove_factor`]): a factor
    /// removed on another server meanwhile (the person's last passkey, say) moves the epoch, and
    /// the removal is decided again on what is left, so two servers each removing one of the
    /// last two factors an enforcing organisation counts never both succeed.
    pub async fn remove_phone(&self, grant: &Grant) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, person, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        if person.phone.is_none() {
            return Ok(());
        }
        self.require_fresh_if_protected(grant, &person, now).await?;
        let store = self.backend.store();
        for _ in 0..super::CAS_ATTEMPTS {
            // The factors and the epoch in one read: the removal lands only at that epoch.
            let snapshot = self
                .snapshot(SnapshotAt::Person(person.id), None, now)
                .await?;
            let epoch = snapshot.epoch.ok_or(ServiceError::InvalidCredentials)?;
            if snapshot.person.as_ref().is_none_or(|p| p.phone.is_none()) {
                // Removed meanwhile.
                return Ok(());
            }
            let own = self.snapshot_factors(&snapshot);
            self.may_hold_only(&person, own, own.without(FactorKind::OutOfBandSms))
                .await?;
            let Some(epoch) = store
                .remove_factor(person.id, &FactorRemoval::Phone, epoch, None)
                .await
                .map_err(ServiceError::storage)?
            else {
                continue;
            };
            self.record(&[
                AuditEvent::new(
                    now,
                    Actor::Person(person.id),
                    Some(person.id),
                    None,
                    AuditKind::SecurityEpochBumped { epoch },
                ),
                AuditEvent::new(
                    now,
                    Actor::Person(person.id),
                    Some(person.id),
                    Some(grant.org()),
                    AuditKind::PhoneRemoved,
                ),
            ])
            .await?;
            return self.notice(person.id, SecurityNotice::PhoneRemoved).await;
        }
        Err(ServiceError::Conflict)
    }

    /// Whether the person may go from the second factors `own` down to `left`: with no primary
    /// factor left, as MFA may be turned off (no enforcing organisation); otherwise while every
    /// enforcing organisation that counts `own` counts `left`.
    pub(super) async fn may_hold_only(
        &self,
        person: &crate::store::records::PersonRecord,
        own: crate::policy::factors::SecondFactors,
        left: crate::policy::factors::SecondFactors,
    ) -> Result<(), ServiceError> {
        if !left.has_primary() {
            OrgStanding::allow_mfa_off(&self.standings(person.id).await?)?;
        }
        self.keep_counted_factors(person.id, own, left).await
    }

    /// Refuses to go from the second factors `own` to `left` where an enforcing organisation
    /// of the person counts `own` and not `left`
    /// ([`PolicyError::RequiredByOrganisation`](crate::policy::error::PolicyError::RequiredByOrganisation)).
    pub(super) async fn keep_counted_factors(
        &self,
        person: PersonId,
        own: crate::policy::factors::SecondFactors,
        left: crate::policy::factors::SecondFactors,
    ) -> Result<(), ServiceError> {
        let orgs = self
            .backend
            .store()
            .organisations_of(person)
            .await
            .map_err(ServiceError::storage)?;
        for id in orgs {
            let org = self
                .backend
                .store()
                .organisation(id)
                .await
                .map_err(ServiceError::storage)?;
            let Some(org) = org else { continue };
            let policy = org.value.policy();
            let Some(role) = org.value.member(person).map(|m| m.role()) else {
                continue;
            };
            if policy.enforces()
                && policy.satisfied_for(role, own)
                && !policy.satisfied_for(role, left)
            {
                return Err(ServiceError::Policy(
                    crate::policy::error::PolicyError::RequiredByOrganisation { org: id },
                ));
            }
        }
        Ok(())
    }

    /// The freshness needed to change a person's factors or login address: a fresh AAL2
    /// grant once they have a second factor; with none yet, a fresh grant all the same (the
    /// password verified within `reauth_max_age`), so a session left open or stolen cannot
    /// bind a factor of its own, which would then outlive a password reset. A stale password-only session re-verifies
    /// the password alone ([`Self::reauthenticate_session`] with an empty code).
    pub(super) async fn require_fresh_if_protected(
        &self,
        grant: &Grant,
        person: &crate::store::records::PersonRecord,
        now: u64,
    ) -> Result<(), ServiceError> {
        let aal = if self.own_factors(person).await?.is_empty() {
            Aal::Aal1
        } else {
            Aal::Aal2
        };
        grant.require_fresh(now, self.config.enrollment.reauth_max_age(), aal)?;
        Ok(())
    }

    /// The person's standing in every organisation they belong to.
    pub(super) async fn standings(
        &self,
        person: PersonId,
    ) -> Result<Vec<OrgStanding>, ServiceError> {
        let orgs = self
            .backend
            .store()
            .organisations_of(person)
            .await
            .map_err(ServiceError::storage)?;
        let mut standings = Vec::with_capacity(orgs.len());
        for id in orgs {
            let org = self
                .backend
                .store()
                .organisation(id)
                .await
                .map_err(ServiceError::storage)?;
            if let Some(standing) = org.and_then(|o| o.value.standing(person)) {
                standings.push(standing);
            }
        }
        Ok(standings)
    }

    /// Whether the grant holder may do `action` on `resource` now, read against the current
    /// roster and MFA policy ([`crate::policy::organisation::Organisation::check_grant`], then [`crate::policy::organisation::Organisation::authorize`]: a
    /// deactivated person or member, a lapsed delegation, or a grant the organisation's enforced
    /// MFA no longer admits is refused at once).
    ///
    /// Every other operation that takes a [`Grant`] makes the same check first.
    pub async fn authorize<Act: Action + ?Sized + Sync>(
        &self,
        grant: &Grant,
        action: &Act,
        resource: &Resource,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let Live { grant, org, .. } = self.live_grant(grant, now).await?;
        let grant = &grant;
        org.authorize(grant, action, resource, now)?;
        Ok(())
    }

    /// The check every operation that takes a [`Grant`] makes first. A grant is a view of a
    /// server-side session, and it stands only while that session does: the session it names
    /// ([`Grant::session`]) is read again ([`SessionStore::session_by_id`]) and checked as
    /// [`Self::authenticate`] checks it (revoked, expired, idle, stale epoch, deactivated, no
    /// longer a member, MFA now required: [`ServiceError::Session`]). A grant that names no
    /// session (one of the pure core) is [`SessionRefused::Revoked`]. Then the person and the
    /// organisation are read, and the organisation's current roster and MFA policy must still
    /// admit the grant ([`crate::policy::organisation::Organisation::check_grant`]).
    ///
    /// Returns the grant as the session stands now — its factors, assurance level and
    /// freshness are the stored ones, never those of the grant passed in — with the person and
    /// the organisation as read. Callers decide on that grant only.
    ///
    /// [`SessionStore::session_by_id`]: crate::store::SessionStore::session_by_id
    /// [`SessionRefused::Revoked`]: crate::policy::session::SessionRefused::Revoked
    pub(super) async fn live_grant(&self, grant: &Grant, now: u64) -> Result<Live, ServiceError> {
        use crate::policy::session::SessionRefused;
        use crate::store::sessions::SessionStore;

        let refused = ServiceError::Session;
        let id = grant.session().ok_or(refused(SessionRefused::Revoked))?;
        let store = self.backend.store();
        let view = store
            .session_by_id(grant.person(), id)
            .await
            .map_err(ServiceError::storage)?
            .ok_or(refused(SessionRefused::Revoked))?;
        if view.session.org != grant.org() {
            return Err(refused(SessionRefused::Revoked));
        }
        let epoch = view.session.epoch;
        let stored = view
            .check(self.config.sessions(), now)
            .map_err(refused)?
            .grant;
        // The person and the organisation in one read.
        let snapshot = store
            .login_snapshot(
                crate::store::login::SnapshotAt::Person(stored.person()),
                Some(stored.org()),
                now,
            )
            .await
            .map_err(ServiceError::storage)?;
        let person = snapshot.person.ok_or(ServiceError::InvalidCredentials)?;
        if person.deactivated {
            return Err(ServiceError::Denied(
                crate::policy::error::AccessDenied::Deactivated,
            ));
        }
        let org = snapshot
            .organisation
            .ok_or(ServiceError::Policy(PolicyError::NotAMember))?
            .value;
        let _ = org.check_grant(&stored, now)?;
        Ok(Live {
            grant: stored,
            person,
            org,
            epoch,
        })
    }
}

/// What [`Authenticator::live_grant`] read: the grant as its session stands, the person and the
/// organisation.
pub(super) struct Live {
    /// The grant, from the stored session.
    pub(super) grant: Grant,
    /// The person.
    pub(super) person: crate::store::records::PersonRecord,
    /// The organisation of the grant.
    pub(super) org: crate::policy::organisation::Organisation,
    /// The person's security epoch the session was checked at (a write guarded by it lands
    /// only while no epoch bump came in between).
    #[cfg_attr(not(feature = "passkeys"), allow(dead_code))]
    pub(super) epoch: u64,
}

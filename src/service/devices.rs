//! "Remember this device": a device token issued from a session just signed in with a second
//! factor ([`Authenticator::remember_device`]), the login step that presents it in place of the
//! second factor ([`Authenticator::verify_remembered_device`]), and the organisation's choice to
//! forbid them ([`Authenticator::set_remember_devices`]).
//!
//! What a remembered-device login yields, and what a stranger learns from it, is on
//! [`RememberedDevice`].

use crate::credential::throttle::{ThrottleDecision, ThrottleState};
use crate::credential::token::BearerToken;
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::error::PolicyError;
use crate::policy::factors::Aal;
use crate::policy::ids::OrgId;
use crate::policy::login::Grant;
use crate::policy::session::{DeviceTokenRecord, SessionRefused};
use crate::service::backend::Backend;
use crate::service::factors::set_counter;
use crate::service::sessions::digest_of;
use crate::service::steps::{Checked, LoginStep, Presented};
use crate::service::{Authenticator, ServiceError};
use crate::store::records::ThrottleKey;
use crate::store::sessions::SessionStore;

/// A device the signed-in person asked to remember.
///
/// # What it yields
///
/// A login that presents a remembered device completes exactly as one that presents a second
/// factor (the same session opened at the epoch the login started at, the same counters
/// cleared, the same audit of the login, the ticket spent in the same commit). Its grant's
/// factors are the password and [`Factor::RememberedDevice`](crate::policy::Factor::RememberedDevice):
/// AAL2 for authorisation and for the organisation's MFA policy, but never fresh, so
/// [`Authenticator::require_fresh`] and every sensitive verb ask for
/// [`Authenticator::reauthenticate_session`] with a real second factor (the decisions are on
/// [`SessionRecord`](crate::policy::SessionRecord)).
///
/// # What a stranger learns
///
/// A device token that is unknown, malformed, expired, another person's, from before the
/// person's last security change (a password change, MFA on or off, "sign out everywhere",
/// deactivation: the epoch), or at another epoch than the login's, is one answer,
/// [`ServiceError::InvalidCredentials`], after the same store calls; the ticket stays, so the
/// login may go on with a real second factor. Each refusal is audited
/// ([`AuditKind::CredentialRejected`] for [`Factor::RememberedDevice`](crate::policy::Factor::RememberedDevice))
/// and counted on the **password counter of the login name** (the one the password step counts
/// on): a device token stands in for what proves the person, and guessing one is guessing a
/// credential of that login. It adds nothing an attacker could not already do to that counter
/// with wrong passwords, it locks the name's whole login (not one factor the person may need),
/// and a completed login clears it. The throttle is decided before the token is looked at, so
/// [`ServiceError::Throttled`] and [`ServiceError::Locked`] do not depend on the token either.
/// An organisation that forbids remembered devices answers [`ServiceError::FactorUnavailable`]
/// whatever the token, as for a factor it does not count.
#[derive(Debug)]
#[must_use = "hand the token to the client"]
pub struct RememberedDevice {
    /// The device token for the client (a long-lived cookie, say): a secret, shown once, stored
    /// only as a digest. Present it with [`Authenticator::verify_remembered_device`].
    pub token: BearerToken,
    /// When it stops working (unix seconds), for the cookie's expiry.
    pub expires_at: u64,
}

impl<B: Backend> Authenticator<B> {
    /// "Remember this device", from the session with this token: issues a device token that
    /// lets the same person's next logins on this device skip the second factor, until it
    /// expires ([`SessionConfig::device_lifetime`](crate::policy::SessionConfig::device_lifetime))
    /// or their security epoch moves on. Remembering more than
    /// [`SessionConfig::max_devices`](crate::policy::SessionConfig::max_devices) devices forgets
    /// the person's oldest. Audited ([`AuditKind::DeviceRemembered`]).
    ///
    /// Only right after a full MFA login: the session must stand, be at AAL2 on a real second
    /// factor (not itself on a remembered device), and its factors have been verified within the
    /// pending-login ticket lifetime
    /// ([`ServiceConfig::ticket_ttl`](crate::service::ServiceConfig::ticket_ttl)); otherwise
    /// [`PolicyError::ReauthenticationRequired`]. An organisation that forbids remembered
    /// devices refuses with [`PolicyError::RememberedDevicesForbidden`].
    pub async fn remember_device(
        &self,
        session_token: &str,
    ) -> Result<RememberedDevice, ServiceError> {
        let now = self.now();
        let digest = digest_of(session_token)?;
        let (grant, view) = self.checked(&digest).await?;
        view.session
            .require_fresh(now, self.config.ticket_ttl(), Aal::Aal2)
            .map_err(ServiceError::Policy)?;
        if !self
            .organisation(grant.org())
            .await?
            .allows_remembered_devices()
        {
            return Err(ServiceError::Policy(
                PolicyError::RememberedDevicesForbidden,
            ));
        }
        let config = self.config.sessions();
        // At the epoch the session stands at (the check compared it with the person's).
        let record = DeviceTokenRecord::issue(grant.person(), view.session.epoch, config, now);
        let token = BearerToken::generate()?;
        if !self
            .backend
            .store()
            .insert_device_token(&token.digest(), &record, config.max_devices())
            .await
            .map_err(ServiceError::storage)?
        {
            // The epoch moved on since the check: the session is dead too.
            return Err(ServiceError::Session(SessionRefused::StaleEpoch));
        }
        self.record_one(
            now,
            Actor::Person(grant.person()),
            Some(grant.person()),
            Some(grant.org()),
            AuditKind::DeviceRemembered {
                expires_at: record.expires_at,
            },
        )
        .await?;
        Ok(RememberedDevice {
            token,
            expires_at: record.expires_at,
        })
    }

    /// Completes the second-factor step with a remembered device (the token from
    /// [`Self::remember_device`]) instead of a code: one transaction under the person's lock,
    /// as [`Self::verify_totp`]. The ticket must be a pending second-factor step of `org`; the
    /// device token must be the ticket's person's, unexpired, at their current epoch and the
    /// epoch the login started at, the person active, and `org` must allow remembered devices
    /// ([`ServiceError::FactorUnavailable`] otherwise, the ticket staying). Every use is audited
    /// ([`AuditKind::DeviceTokenUsed`]). Any other refusal of the token is the one opaque
    /// [`ServiceError::InvalidCredentials`], counted on the login name's password counter (see
    /// [`RememberedDevice`]); the ticket stays for a real second factor.
    pub async fn verify_remembered_device(
        &self,
        org: OrgId,
        ticket: &BearerToken,
        device_token: &str,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.now();
        // Read before the locked step; decided inside it against the epoch it reads.
        let device = match BearerToken::parse(device_token) {
            Ok(token) => self
                .backend
                .store()
                .device_token(&token.digest())
                .await
                .map_err(ServiceError::storage)?,
            Err(_) => None,
        };
        self.locked_presenting(
            ticket,
            org,
            Presented::RememberedDevice,
            now,
            |snapshot, person, write| {
                let Some(login) = snapshot.person.as_ref().map(|p| &p.login) else {
                    return Checked::Refused(ServiceError::InvalidCredentials);
                };
                let key = ThrottleKey::login(login);
                let stored = snapshot.counters.login;
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
                let login_epoch = snapshot.ticket.map(|t| t.progress.epoch());
                let trusted = device.is_some_and(|view| {
                    view.trusts(person, now)
                        && snapshot.epoch == Some(view.token.epoch)
                        && login_epoch == Some(view.token.epoch)
                });
                if trusted {
                    // The login decision clears the counter with the grant.
                    set_counter(write, key, stored, ThrottleState::new());
                    Checked::Accepted(Some(AuditEvent::new(
                        now,
                        Actor::Person(person),
                        Some(person),
                        Some(org),
                        AuditKind::DeviceTokenUsed,
                    )))
                } else {
                    set_counter(write, key, stored, reservation.state());
                    Checked::Rejected {
                        replayed: false,
                        event: reservation.event(),
                    }
                }
            },
        )
        .await
    }

    /// Allows or forbids remembered devices in the grant holder's organisation (default:
    /// allowed). Same authority as [`Self::set_mfa_policy`]: an Owner with a fresh AAL2 grant (a
    /// grant resting on a remembered device is never fresh). Once forbidden, device tokens stop
    /// working for logins to this organisation and its sessions cannot remember new ones.
    /// Audited ([`AuditKind::RememberDevicesSet`]) when it changes.
    pub async fn set_remember_devices(
        &self,
        grant: &Grant,
        allowed: bool,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let _ = self.live_grant(grant, now).await?;
        self.update_org(grant.org(), |org| {
            org.set_remember_devices(grant, allowed, now)
        })
        .await
    }
}

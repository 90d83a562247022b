//! [`ServiceConfig`]: what the service needs besides its capabilities.

use alloc::string::String;

use crate::credential::oob::{OobConfig, OobKey};
#[cfg(feature = "passkeys")]
use crate::credential::passkey::{Ceremonies, PasskeyConfigError, RelyingParty};
use crate::credential::password::policy::PasswordPolicy;
use crate::credential::password::temporary::TemporaryPassword;
use crate::credential::recovery::RecoveryParams;
use crate::credential::throttle::ThrottlePolicy;
use crate::error::Error;
use crate::policy::enrollment::EnrollmentConfig;
use crate::policy::session::SessionConfig;
use crate::service::breach::{BreachSettings, BreachedPasswords};

/// The service's settings. Build with [`ServiceConfig::builder`].
#[derive(Debug)]
pub struct ServiceConfig {
    pub(super) issuer: String,
    pub(super) enrollment: EnrollmentConfig,
    pub(super) throttle: ThrottlePolicy,
    pub(super) recovery: RecoveryParams,
    pub(super) password_policy: PasswordPolicy,
    pub(super) ticket_ttl: u64,
    pub(super) setup_ttl: u64,
    pub(super) invitation_ttl: u64,
    pub(super) temporary_ttl: u64,
    pub(super) oob: Option<(OobConfig, OobKey)>,
    pub(super) sessions: SessionConfig,
    pub(super) breach: Option<BreachSettings>,
    pub(super) reset_ttl: u64,
    pub(super) address_ttl: u64,
    pub(super) reset_throttle: ThrottlePolicy,
    pub(super) requester_throttle: ThrottlePolicy,
    /// The passkey ceremonies of the configured relying party, if any.
    #[cfg(feature = "passkeys")]
    pub(super) passkeys: Option<Ceremonies>,
}

impl ServiceConfig {
    /// The default lifetime of a pending-login ticket: 10 minutes.
    pub const DEFAULT_TICKET_TTL: u64 = 10 * 60;
    /// The default lifetime of a setup link: 72 hours.
    pub const DEFAULT_SETUP_TTL: u64 = 72 * 60 * 60;
    /// The default lifetime of an invitation: 7 days.
    pub const DEFAULT_INVITATION_TTL: u64 = 7 * 24 * 60 * 60;

    /// The default lifetime of a forgotten-password link: 1 hour.
    pub const DEFAULT_RESET_TTL: u64 = 60 * 60;
    /// The shortest forgotten-password link lifetime accepted: 5 minutes.
    pub const MIN_RESET_TTL: u64 = 5 * 60;
    /// The longest forgotten-password link lifetime accepted: 24 hours.
    pub const MAX_RESET_TTL: u64 = 24 * 60 * 60;
    /// The default lifetime of an address-verification link: 24 hours.
    pub const DEFAULT_ADDRESS_TTL: u64 = 24 * 60 * 60;
    /// The longest address-verification link lifetime accepted: 7 days.
    pub const MAX_ADDRESS_TTL: u64 = 7 * 24 * 60 * 60;

    /// The default throttle of forgotten-password requests per login name: 3 at once, then one
    /// per 20 minutes doubling to one an hour, forgotten an hour after the last wait.
    pub fn default_reset_throttle() -> ThrottlePolicy {
        ThrottlePolicy::builder()
            .free_attempts(2)
            .base_delay(1200)
            .max_delay(3600)
            .lock_duration(3600)
            .forget_after(3600)
            .build()
            .unwrap_or_default()
    }

    /// The default throttle of forgotten-password requests per requester: 11 at once, then one
    /// per minute doubling to one an hour, forgotten an hour after the last wait.
    pub fn default_requester_throttle() -> ThrottlePolicy {
        ThrottlePolicy::builder()
            .free_attempts(10)
            .base_delay(60)
            .max_delay(3600)
            .lock_duration(3600)
            .forget_after(3600)
            .build()
            .unwrap_or_default()
    }

    /// Starts a configuration; `issuer` is the service name authenticator apps show.
    pub fn builder(issuer: &str) -> ServiceConfigBuilder {
        ServiceConfigBuilder {
            config: Self {
                issuer: String::from(issuer),
                enrollment: EnrollmentConfig::default(),
                throttle: ThrottlePolicy::default(),
                recovery: RecoveryParams::default(),
                password_policy: PasswordPolicy::default(),
                ticket_ttl: Self::DEFAULT_TICKET_TTL,
                setup_ttl: Self::DEFAULT_SETUP_TTL,
                invitation_ttl: Self::DEFAULT_INVITATION_TTL,
                temporary_ttl: TemporaryPassword::DEFAULT_TTL,
                oob: None,
                sessions: SessionConfig::default(),
                breach: None,
                reset_ttl: Self::DEFAULT_RESET_TTL,
                address_ttl: Self::DEFAULT_ADDRESS_TTL,
                reset_throttle: Self::default_reset_throttle(),
                requester_throttle: Self::default_requester_throttle(),
                #[cfg(feature = "passkeys")]
                passkeys: None,
            },
            #[cfg(feature = "passkeys")]
            relying_party: None,
        }
    }

    /// The issuer shown by authenticator apps.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The session lifetimes and remembered-device settings.
    pub fn sessions(&self) -> &SessionConfig {
        &self.sessions
    }

    /// The enrollment settings (TOTP parameters, window, lifetimes).
    pub fn enrollment(&self) -> &EnrollmentConfig {
        &self.enrollment
    }

    /// The throttle policy applied to every factor.
    pub fn throttle(&self) -> &ThrottlePolicy {
        &self.throttle
    }

    /// The pending-login ticket lifetime, in seconds.
    pub fn ticket_ttl(&self) -> u64 {
        self.ticket_ttl
    }

    /// The breach check new passwords go through, if one is configured.
    pub fn breach(&self) -> Option<&BreachSettings> {
        self.breach.as_ref()
    }

    /// The forgotten-password link lifetime, in seconds.
    pub fn reset_ttl(&self) -> u64 {
        self.reset_ttl
    }

    /// The address-verification link lifetime, in seconds.
    pub fn address_ttl(&self) -> u64 {
        self.address_ttl
    }

    /// Whether SMS codes are configured.
    pub fn sms_enabled(&self) -> bool {
        self.oob.is_some()
    }

    /// The passkey relying party, if passkeys are configured.
    #[cfg(feature = "passkeys")]
    pub fn relying_party(&self) -> Option<&RelyingParty> {
        self.passkeys.as_ref().map(Ceremonies::relying_party)
    }
}

/// Builds a [`ServiceConfig`]; [`ServiceConfigBuilder::build`] validates.
#[derive(Debug)]
#[must_use]
pub struct ServiceConfigBuilder {
    config: ServiceConfig,
    #[cfg(feature = "passkeys")]
    relying_party: Option<Result<RelyingParty, PasskeyConfigError>>,
}

impl ServiceConfigBuilder {
    /// The enrollment settings (default [`EnrollmentConfig::default`]).
    pub fn enrollment(mut self, config: EnrollmentConfig) -> Self {
        self.config.enrollment = config;
        self
    }

    /// The throttle policy (default [`ThrottlePolicy::default`]).
    pub fn throttle(mut self, policy: ThrottlePolicy) -> Self {
        self.config.throttle = policy;
        self
    }

    /// The recovery-code parameters (default [`RecoveryParams::default`]).
    pub fn recovery(mut self, params: RecoveryParams) -> Self {
        self.config.recovery = params;
        self
    }

    /// The policy new passwords must meet (default [`PasswordPolicy::password_only`]).
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.config.password_policy = policy;
        self
    }

    /// Looks every new password up in `corpus` by k-anonymity (see
    /// [`BreachedPasswords`]): a password seen once is refused, and a corpus that cannot answer
    /// lets the password through, audited. [`Self::breach_check`] sets the threshold and the
    /// failure mode. Default: no corpus (the policy's built-in list of common passwords only).
    pub fn breached_passwords(self, corpus: impl BreachedPasswords + 'static) -> Self {
        self.breach_check(BreachSettings::new(corpus))
    }

    /// The breach check, with its threshold and failure mode (see [`BreachSettings`]).
    pub fn breach_check(mut self, settings: BreachSettings) -> Self {
        self.config.breach = Some(settings);
        self
    }

    /// The pending-login ticket lifetime in seconds (1 s to 30 min; default 10 min).
    pub fn ticket_ttl(mut self, seconds: u64) -> Self {
        self.config.ticket_ttl = seconds;
        self
    }

    /// The setup-link lifetime in seconds (1 s to 30 days; default 72 h).
    pub fn setup_ttl(mut self, seconds: u64) -> Self {
        self.config.setup_ttl = seconds;
        self
    }

    /// The invitation lifetime in seconds (1 s to 30 days; default 7 days).
    pub fn invitation_ttl(mut self, seconds: u64) -> Self {
        self.config.invitation_ttl = seconds;
        self
    }

    /// The temporary-password lifetime in seconds (1 s to 30 days; default 72 h).
    pub fn temporary_ttl(mut self, seconds: u64) -> Self {
        self.config.temporary_ttl = seconds;
        self
    }

    /// The session lifetimes and remembered-device settings (default
    /// [`SessionConfig::default`], the NIST SP 800-63B rev. 4 timeouts).
    pub fn sessions(mut self, config: SessionConfig) -> Self {
        self.config.sessions = config;
        self
    }

    /// The forgotten-password link lifetime in seconds (5 min to 24 h; default 1 h).
    pub fn reset_ttl(mut self, seconds: u64) -> Self {
        self.config.reset_ttl = seconds;
        self
    }

    /// The address-verification link lifetime in seconds (1 s to 7 days; default 24 h).
    pub fn address_ttl(mut self, seconds: u64) -> Self {
        self.config.address_ttl = seconds;
        self
    }

    /// The throttle of forgotten-password requests per login name, known or not (default
    /// [`ServiceConfig::default_reset_throttle`]). Every request counts, answered or not.
    pub fn reset_throttle(mut self, policy: ThrottlePolicy) -> Self {
        self.config.reset_throttle = policy;
        self
    }

    /// The throttle of forgotten-password requests per requester (default
    /// [`ServiceConfig::default_requester_throttle`]).
    pub fn requester_throttle(mut self, policy: ThrottlePolicy) -> Self {
        self.config.requester_throttle = policy;
        self
    }

    /// Enables SMS codes: their settings, and the host-held key their challenges are keyed with.
    pub fn sms(mut self, config: OobConfig, key: OobKey) -> Self {
        self.config.oob = Some((config, key));
        self
    }

    /// Enables passkeys and security keys as a second factor for the relying party `rp_id`
    /// (the registrable domain they are bound to), shown as `rp_name`, whose pages run at
    /// `origins` (each `https://host[:port]` with the host the RP id or under it;
    /// `http://localhost` for development). Checked by [`Self::build`]
    /// ([`Error::Passkey`]).
    #[cfg(feature = "passkeys")]
    pub fn passkeys(mut self, rp_id: &str, rp_name: &str, origins: &[&str]) -> Self {
        self.relying_party = Some(RelyingParty::new(rp_id, rp_name, origins));
        self
    }

    /// Checks the lifetimes (and the passkey relying party) and builds the configuration.
    #[cfg_attr(not(feature = "passkeys"), allow(unused_mut))]
    pub fn build(mut self) -> Result<ServiceConfig, Error> {
        #[cfg(feature = "passkeys")]
        if let Some(rp) = self.relying_party.take() {
            self.config.passkeys = Some(Ceremonies::new(rp?)?);
        }
        let c = &self.config;
        let ok = |ttl: u64, max: u64| (1..=max).contains(&ttl);
        if !ok(c.ticket_ttl, crate::policy::login::LoginProgress::MAX_AGE)
            || !ok(c.setup_ttl, TemporaryPassword::MAX_TTL)
            || !ok(
                c.invitation_ttl,
                crate::policy::organisation::Invitation::MAX_TTL,
            )
            || !ok(c.temporary_ttl, TemporaryPassword::MAX_TTL)
            || !(ServiceConfig::MIN_RESET_TTL..=ServiceConfig::MAX_RESET_TTL).contains(&c.reset_ttl)
            || !ok(c.address_ttl, ServiceConfig::MAX_ADDRESS_TTL)
        {
            return Err(Error::Param(crate::otp::error::ParamError::Lifetime));
        }
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_throttles_build_as_documented() {
        let login = ServiceConfig::default_reset_throttle();
        assert_eq!(
            (login.free_attempts(), login.base_delay(), login.max_delay()),
            (2, 1200, 3600)
        );
        let requester = ServiceConfig::default_requester_throttle();
        assert_eq!(
            (requester.free_attempts(), requester.base_delay()),
            (10, 60)
        );
        assert_ne!(login, ThrottlePolicy::default());
    }

    #[test]
    fn reset_ttl_is_bounded() {
        assert!(ServiceConfig::builder("x").reset_ttl(60).build().is_err());
        assert!(
            ServiceConfig::builder("x")
                .reset_ttl(2 * 86_400)
                .build()
                .is_err()
        );
        assert!(ServiceConfig::builder("x").reset_ttl(1800).build().is_ok());
        assert!(ServiceConfig::builder("x").address_ttl(0).build().is_err());
    }
}

//! The settings of enrollment and of turning MFA off: [`EnrollmentConfig`] and its builder.

use crate::otp::totp::{TotpParams, Window};
use crate::policy::error::PolicyError;

/// The settings of enrollment and of turning MFA off. Built through
/// [`EnrollmentConfig::builder`], which checks them; the default is what the stories ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnrollmentConfig {
    params: TotpParams,
    window: Window,
    pending_ttl: u64,
    max_authenticators: u8,
    reauth_max_age: u64,
}

impl EnrollmentConfig {
    /// The default time an enrollment may wait for each step: 15 minutes.
    pub const DEFAULT_PENDING_TTL: u64 = 15 * 60;
    /// The default number of authenticators per person.
    pub const DEFAULT_MAX_AUTHENTICATORS: u8 = 5;
    /// The largest limit of authenticators per person that can be configured.
    pub const MAX_AUTHENTICATORS: u8 = 16;
    /// The default freshness of the re-authentication that removing an authenticator or turning
    /// MFA off needs: 5 minutes.
    pub const DEFAULT_REAUTH_MAX_AGE: u64 = 5 * 60;

    /// Starts from the defaults.
    pub fn builder() -> EnrollmentConfigBuilder {
        EnrollmentConfigBuilder {
            config: Self::default(),
        }
    }

    /// The TOTP parameters of new authenticators.
    pub const fn params(&self) -> TotpParams {
        self.params
    }

    /// The window for the confirming code.
    pub const fn window(&self) -> Window {
        self.window
    }

    /// How long an enrollment waits for its next step, in seconds.
    pub const fn pending_ttl(&self) -> u64 {
        self.pending_ttl
    }

    /// The most authenticators one person may have.
    pub const fn max_authenticators(&self) -> u8 {
        self.max_authenticators
    }

    /// How recent the second-factor re-authentication must be to remove an authenticator or turn
    /// MFA off, in seconds.
    pub const fn reauth_max_age(&self) -> u64 {
        self.reauth_max_age
    }
}

impl Default for EnrollmentConfig {
    /// Default TOTP parameters, a window of 1, 15 minutes per step, 5 authenticators, 5 minutes
    /// to re-authenticate.
    fn default() -> Self {
        Self {
            params: TotpParams::default(),
            window: Window::default(),
            pending_ttl: Self::DEFAULT_PENDING_TTL,
            max_authenticators: Self::DEFAULT_MAX_AUTHENTICATORS,
            reauth_max_age: Self::DEFAULT_REAUTH_MAX_AGE,
        }
    }
}

/// Builder for [`EnrollmentConfig`]; [`EnrollmentConfigBuilder::build`] checks the values.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct EnrollmentConfigBuilder {
    config: EnrollmentConfig,
}

impl EnrollmentConfigBuilder {
    /// The TOTP parameters of new authenticators (default: SHA-1, 6 digits, 30 s).
    pub fn params(mut self, params: TotpParams) -> Self {
        self.config.params = params;
        self
    }

    /// The window for the confirming code (default 1 step either side).
    pub fn window(mut self, window: Window) -> Self {
        self.config.window = window;
        self
    }

    /// Seconds an enrollment waits for each step, 60 to 86 400 (default 900).
    pub fn pending_ttl(mut self, seconds: u64) -> Self {
        self.config.pending_ttl = seconds;
        self
    }

    /// Authenticators per person, 1 to [`EnrollmentConfig::MAX_AUTHENTICATORS`] (default 5).
    pub fn max_authenticators(mut self, max: u8) -> Self {
        self.config.max_authenticators = max;
        self
    }

    /// Seconds a re-authentication stays fresh enough to turn MFA off, 30 to 3 600 (default 300).
    pub fn reauth_max_age(mut self, seconds: u64) -> Self {
        self.config.reauth_max_age = seconds;
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<EnrollmentConfig, PolicyError> {
        let config = self.config;
        if !(60..=86_400).contains(&config.pending_ttl) {
            Err(PolicyError::InvalidEnrollmentTtl)
        } else if !(1..=EnrollmentConfig::MAX_AUTHENTICATORS).contains(&config.max_authenticators) {
            Err(PolicyError::InvalidAuthenticatorLimit)
        } else if !(30..=3_600).contains(&config.reauth_max_age) {
            Err(PolicyError::InvalidReauthWindow)
        } else {
            Ok(config)
        }
    }
}

//! [`OobConfig`]: how out-of-band codes are issued and checked, and its builder.

use crate::credential::oob::error::OobError;
use crate::credential::oob::send_log::OobSendLog;
use crate::otp::code::Digits;

/// How out-of-band codes are issued and checked. Always valid: built through
/// [`OobConfig::builder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OobConfig {
    pub(super) digits: Digits,
    pub(super) ttl: u32,
    pub(super) max_attempts: u8,
    pub(super) resend_cooldown: u32,
    pub(super) hourly_cap: u8,
    pub(super) daily_verification_cap: u16,
}

impl Default for OobConfig {
    /// 6 digits, valid 5 minutes, 5 attempts, 60 s between sends, 5 sends an hour, 10 phone
    /// verifications a day.
    fn default() -> Self {
        Self {
            digits: Digits::Six,
            ttl: 300,
            max_attempts: 5,
            resend_cooldown: 60,
            hourly_cap: 5,
            daily_verification_cap: 10,
        }
    }
}

impl OobConfig {
    /// The longest lifetime accepted, in seconds (10 minutes).
    pub const MAX_TTL: u32 = 600;
    /// The most attempts per code accepted.
    pub const MAX_ATTEMPTS: u8 = 10;
    /// The longest resend cooldown accepted, in seconds.
    pub const MAX_COOLDOWN: u32 = 3600;
    /// The highest daily verification cap accepted.
    pub const MAX_DAILY_VERIFICATIONS: u16 = 100;

    /// Starts building a configuration from the defaults.
    pub fn builder() -> OobConfigBuilder {
        OobConfigBuilder {
            config: Self::default(),
            digits: 6,
        }
    }

    /// Digits per code.
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// How long a code stays valid, in seconds.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Wrong attempts after which a code is void.
    pub fn max_attempts(&self) -> u8 {
        self.max_attempts
    }

    /// Seconds between two sends to one destination.
    pub fn resend_cooldown(&self) -> u32 {
        self.resend_cooldown
    }

    /// Sends allowed from one send log in any hour.
    pub fn hourly_cap(&self) -> u8 {
        self.hourly_cap
    }

    /// Phone-verification codes one account may have sent per day (a fixed 24-hour window that
    /// starts with the first counted send; see [`OobSendLog::record_verification`]).
    pub fn daily_verification_cap(&self) -> u16 {
        self.daily_verification_cap
    }
}

/// Builder for [`OobConfig`]; [`OobConfigBuilder::build`] validates.
#[derive(Clone, Debug)]
#[must_use]
pub struct OobConfigBuilder {
    config: OobConfig,
    digits: u8,
}

impl OobConfigBuilder {
    /// Digits per code, 6 to 8 (default 6).
    pub fn digits(mut self, digits: u8) -> Self {
        self.digits = digits;
        self
    }

    /// Lifetime in seconds, 1 to 600 (default 300).
    pub fn ttl(mut self, seconds: u32) -> Self {
        self.config.ttl = seconds;
        self
    }

    /// Wrong attempts after which a code is void, 1 to 10 (default 5).
    pub fn max_attempts(mut self, attempts: u8) -> Self {
        self.config.max_attempts = attempts;
        self
    }

    /// Seconds between sends to one destination, at most 3600 (default 60).
    pub fn resend_cooldown(mut self, seconds: u32) -> Self {
        self.config.resend_cooldown = seconds;
        self
    }

    /// Sends from one send log in any hour, 1 to 10 (default 5).
    pub fn hourly_cap(mut self, sends: u8) -> Self {
        self.config.hourly_cap = sends;
        self
    }

    /// Phone-verification codes one account may have sent per day, 1 to 100 (default 10).
    pub fn daily_verification_cap(mut self, sends: u16) -> Self {
        self.config.daily_verification_cap = sends;
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<OobConfig, OobError> {
        let c = self.config;
        let digits = Digits::try_from(self.digits)?;
        if c.ttl == 0 || c.ttl > OobConfig::MAX_TTL {
            return Err(OobError::Ttl);
        }
        if c.max_attempts == 0 || c.max_attempts > OobConfig::MAX_ATTEMPTS {
            return Err(OobError::Attempts);
        }
        if c.resend_cooldown > OobConfig::MAX_COOLDOWN {
            return Err(OobError::Cooldown);
        }
        if c.hourly_cap == 0 || usize::from(c.hourly_cap) > OobSendLog::CAPACITY {
            return Err(OobError::HourlyCap);
        }
        if c.daily_verification_cap == 0
            || c.daily_verification_cap > OobConfig::MAX_DAILY_VERIFICATIONS
        {
            return Err(OobError::DailyCap);
        }
        Ok(OobConfig { digits, ..c })
    }
}

//! [`OobError`]: why an out-of-band configuration, key or stored value was refused.

use core::fmt;

use crate::credential::oob::config::OobConfig;
use crate::credential::oob::key::OobKey;
use crate::credential::oob::send_log::OobSendLog;
use crate::otp::error::OtpError;

/// Why an out-of-band configuration, key or stored value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OobError {
    /// The lifetime must be 1 to [`OobConfig::MAX_TTL`] seconds.
    Ttl,
    /// The attempts per code must be 1 to [`OobConfig::MAX_ATTEMPTS`].
    Attempts,
    /// The resend cooldown must be at most [`OobConfig::MAX_COOLDOWN`] seconds.
    Cooldown,
    /// The hourly send cap must be 1 to [`OobSendLog::CAPACITY`].
    HourlyCap,
    /// The daily verification cap must be 1 to [`OobConfig::MAX_DAILY_VERIFICATIONS`].
    DailyCap,
    /// The MAC key must be [`OobKey::MIN_LEN`] to [`OobKey::MAX_LEN`] bytes.
    KeyLength,
    /// A send log holds at most [`OobSendLog::CAPACITY`] times.
    SendLog,
    /// Stored bytes are not an out-of-band challenge.
    StoredFormat,
    /// An OTP parameter (the number of digits) is out of range.
    Otp(OtpError),
    /// The random number generator failed.
    Random,
}

impl fmt::Display for OobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ttl => write!(
                f,
                "a code's lifetime must be 1 to {} seconds",
                OobConfig::MAX_TTL
            ),
            Self::Attempts => write!(
                f,
                "the attempts per code must be 1 to {}",
                OobConfig::MAX_ATTEMPTS
            ),
            Self::Cooldown => write!(
                f,
                "the resend cooldown must be at most {} seconds",
                OobConfig::MAX_COOLDOWN
            ),
            Self::HourlyCap => write!(
                f,
                "the hourly send cap must be 1 to {}",
                OobSendLog::CAPACITY
            ),
            Self::DailyCap => write!(
                f,
                "the daily verification cap must be 1 to {}",
                OobConfig::MAX_DAILY_VERIFICATIONS
            ),
            Self::KeyLength => write!(
                f,
                "the MAC key must be {} to {} bytes",
                OobKey::MIN_LEN,
                OobKey::MAX_LEN
            ),
            Self::SendLog => write!(f, "a send log holds at most {} times", OobSendLog::CAPACITY),
            Self::StoredFormat => f.write_str("the stored bytes are not an out-of-band challenge"),
            Self::Otp(e) => write!(f, "{e}"),
            Self::Random => f.write_str("the random number generator failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for OobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Otp(e) => Some(e),
            _ => None,
        }
    }
}

impl From<OtpError> for OobError {
    fn from(e: OtpError) -> Self {
        Self::Otp(e)
    }
}

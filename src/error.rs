//! The crate-wide developer error, [`Error`]: one variant per layer's own error type.
//!
//! This module sits above the layers it wraps. It imports their error types and converts them
//! with `From`; no module below imports it back.

use core::fmt;

use crate::credential::phone::PhoneError;
use crate::credential::throttle::ThrottleError;
use crate::otp::error::{ParamError, SecretError, UriError};

/// Errors for developers: invalid configuration, malformed secrets or URIs, an unavailable RNG.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A secret key could not be built.
    Secret(SecretError),
    /// An OTP parameter is out of range.
    Param(ParamError),
    /// An otpauth URI could not be built or parsed.
    Uri(UriError),
    /// The time is before the TOTP epoch `T0`, or the step does not fit the arithmetic.
    TimeOutOfRange,
    /// The random number generator failed.
    Random,
    /// Recovery-code parameters, a slot index or a stored set are invalid.
    Recovery(crate::credential::recovery::RecoveryError),
    /// An out-of-band code configuration, key or stored challenge is invalid.
    OutOfBand(crate::credential::oob::OobError),
    /// A phone number could not be parsed.
    Phone(PhoneError),
    /// A throttle policy is invalid.
    Throttle(ThrottleError),
    /// A password could not be hashed, or the password configuration is invalid.
    Password(crate::credential::password::PasswordError),
    /// A policy transition (enrollment, organisation, roles) was refused.
    Policy(crate::policy::error::PolicyError),
    /// A QR code could not be rendered (the data is too long for any QR version).
    #[cfg(feature = "qr")]
    Qr,
    /// A sealing key or keyring is invalid, or a sealed secret could not be sealed or opened.
    #[cfg(feature = "sealing")]
    Sealing(crate::credential::sealing::SealingError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(e) => write!(f, "invalid secret key: {e}"),
            Self::Param(e) => write!(f, "invalid OTP parameter: {e}"),
            Self::Uri(e) => write!(f, "invalid otpauth URI: {e}"),
            Self::TimeOutOfRange => f.write_str("time is before T0 or out of range"),
            Self::Random => f.write_str("the random number generator failed"),
            Self::Recovery(e) => write!(f, "recovery codes: {e}"),
            Self::OutOfBand(e) => write!(f, "out-of-band code: {e}"),
            Self::Phone(e) => write!(f, "invalid phone number: {e}"),
            Self::Throttle(e) => write!(f, "invalid throttle policy: {e}"),
            Self::Password(e) => write!(f, "password: {e}"),
            Self::Policy(e) => write!(f, "refused by policy: {e}"),
            #[cfg(feature = "qr")]
            Self::Qr => f.write_str("the URI is too long for a QR code"),
            #[cfg(feature = "sealing")]
            Self::Sealing(e) => write!(f, "sealing: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

impl From<crate::policy::error::PolicyError> for Error {
    fn from(e: crate::policy::error::PolicyError) -> Self {
        Self::Policy(e)
    }
}

impl From<SecretError> for Error {
    fn from(e: SecretError) -> Self {
        Self::Secret(e)
    }
}

impl From<ParamError> for Error {
    fn from(e: ParamError) -> Self {
        Self::Param(e)
    }
}

impl From<crate::credential::password::PasswordError> for Error {
    fn from(e: crate::credential::password::PasswordError) -> Self {
        Self::Password(e)
    }
}

impl From<UriError> for Error {
    fn from(e: UriError) -> Self {
        Self::Uri(e)
    }
}

impl From<ThrottleError> for Error {
    fn from(e: ThrottleError) -> Self {
        Self::Throttle(e)
    }
}

impl From<PhoneError> for Error {
    fn from(e: PhoneError) -> Self {
        Self::Phone(e)
    }
}

//! The crate-wide developer error, [`Error`]: one variant per kind of failure, converted with
//! `From` from each layer's own error type.
//!
//! This module sits above the layers it wraps. It imports their error types and converts them;
//! no module below imports it back. Each layer returns its own error ([`OtpError`] in the engine,
//! [`RecoveryError`], [`OobError`], [`PasswordError`] and the others in the credential layer,
//! [`MfaError`] and [`PolicyError`] in the policy layer), so a host can match precisely on what a
//! call can fail with, or use `?` into [`Error`] for one type over all of them.

use core::fmt;

use crate::credential::oob::OobError;
#[cfg(feature = "passkeys")]
use crate::credential::passkey::PasskeyConfigError;
use crate::credential::password::PasswordError;
use crate::credential::phone::PhoneError;
use crate::credential::recovery::RecoveryError;
#[cfg(feature = "sealing")]
use crate::credential::sealing::{OpenError, SealingError};
use crate::credential::throttle::ThrottleError;
#[cfg(feature = "std")]
use crate::credential::token::TokenError;
use crate::otp::error::{OtpError, ParamError, SecretError, UriError};
use crate::policy::enrollment::MfaError;
use crate::policy::error::PolicyError;

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
    /// The random number generator failed (the credential errors carry their own `Random`).
    Random,
    /// Recovery-code parameters, a slot index or a stored set are invalid, or the random number
    /// generator failed while making codes.
    Recovery(RecoveryError),
    /// An out-of-band code configuration, key or stored challenge is invalid, or the random number
    /// generator failed while issuing a code.
    OutOfBand(OobError),
    /// A phone number could not be parsed.
    Phone(PhoneError),
    /// A throttle policy is invalid.
    Throttle(ThrottleError),
    /// A password could not be hashed, or the password configuration is invalid.
    Password(PasswordError),
    /// A policy transition (enrollment, organisation, roles) was refused.
    Policy(PolicyError),
    /// A bearer token could not be made.
    #[cfg(feature = "std")]
    Token(TokenError),
    /// A QR code could not be rendered (the data is too long for any QR version).
    #[cfg(feature = "qr")]
    Qr,
    /// A sealing key or keyring is invalid, or a sealed secret could not be sealed or opened.
    #[cfg(feature = "sealing")]
    Sealing(SealingError),
    /// The passkey relying party (RP id, name, origins) is invalid.
    #[cfg(feature = "passkeys")]
    Passkey(PasskeyConfigError),
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
            #[cfg(feature = "std")]
            Self::Token(e) => write!(f, "bearer token: {e}"),
            #[cfg(feature = "qr")]
            Self::Qr => f.write_str("the URI is too long for a QR code"),
            #[cfg(feature = "sealing")]
            Self::Sealing(e) => write!(f, "sealing: {e}"),
            #[cfg(feature = "passkeys")]
            Self::Passkey(e) => write!(f, "passkeys: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Secret(e) => Some(e),
            Self::Param(e) => Some(e),
            Self::Uri(e) => Some(e),
            Self::Recovery(e) => Some(e),
            Self::OutOfBand(e) => Some(e),
            Self::Phone(e) => Some(e),
            Self::Throttle(e) => Some(e),
            Self::Password(e) => Some(e),
            Self::Policy(e) => Some(e),
            Self::Token(e) => Some(e),
            #[cfg(feature = "sealing")]
            Self::Sealing(e) => Some(e),
            #[cfg(feature = "passkeys")]
            Self::Passkey(e) => Some(e),
            _ => None,
        }
    }
}

/// The engine's error is a union of the engine's failures: each lands on its own variant.
impl From<OtpError> for Error {
    fn from(e: OtpError) -> Self {
        match e {
            OtpError::Secret(e) => Self::Secret(e),
            OtpError::Param(e) => Self::Param(e),
            OtpError::Uri(e) => Self::Uri(e),
            OtpError::TimeOutOfRange => Self::TimeOutOfRange,
            OtpError::Random => Self::Random,
            #[cfg(feature = "qr")]
            OtpError::Qr => Self::Qr,
        }
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

impl From<UriError> for Error {
    fn from(e: UriError) -> Self {
        Self::Uri(e)
    }
}

impl From<RecoveryError> for Error {
    fn from(e: RecoveryError) -> Self {
        Self::Recovery(e)
    }
}

impl From<OobError> for Error {
    fn from(e: OobError) -> Self {
        Self::OutOfBand(e)
    }
}

impl From<PhoneError> for Error {
    fn from(e: PhoneError) -> Self {
        Self::Phone(e)
    }
}

impl From<ThrottleError> for Error {
    fn from(e: ThrottleError) -> Self {
        Self::Throttle(e)
    }
}

impl From<PasswordError> for Error {
    fn from(e: PasswordError) -> Self {
        Self::Password(e)
    }
}

impl From<PolicyError> for Error {
    fn from(e: PolicyError) -> Self {
        Self::Policy(e)
    }
}

/// An MFA transition fails either by policy or in the engine (making a secret): each lands on
/// its own variant.
impl From<MfaError> for Error {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::Policy(e) => Self::Policy(e),
            MfaError::Otp(e) => Self::from(e),
        }
    }
}

#[cfg(feature = "std")]
impl From<TokenError> for Error {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}

#[cfg(feature = "passkeys")]
impl From<PasskeyConfigError> for Error {
    fn from(e: PasskeyConfigError) -> Self {
        Self::Passkey(e)
    }
}

#[cfg(feature = "sealing")]
impl From<SealingError> for Error {
    fn from(e: SealingError) -> Self {
        Self::Sealing(e)
    }
}

#[cfg(feature = "sealing")]
impl From<OpenError> for Error {
    fn from(e: OpenError) -> Self {
        Self::Sealing(SealingError::Open(e))
    }
}

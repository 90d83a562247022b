//! [`MfaError`]: why a transition of a person's MFA state failed.

use crate::otp::error::OtpError;
use crate::policy::error::PolicyError;

/// Why a transition of a person's MFA state ([`Mfa`]) failed: refused by policy, or the engine
/// could not make the new secret (the random number generator failed).
///
/// [`Mfa`]: crate::policy::enrollment::Mfa
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MfaError {
    /// The policy refused the transition; the state passed in is unchanged.
    Policy(PolicyError),
    /// The engine could not make or copy a secret.
    Otp(OtpError),
}

impl core::fmt::Display for MfaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Policy(e) => write!(f, "refused by policy: {e}"),
            Self::Otp(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MfaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Policy(e) => Some(e),
            Self::Otp(e) => Some(e),
        }
    }
}

impl From<PolicyError> for MfaError {
    fn from(e: PolicyError) -> Self {
        Self::Policy(e)
    }
}

impl From<OtpError> for MfaError {
    fn from(e: OtpError) -> Self {
        Self::Otp(e)
    }
}

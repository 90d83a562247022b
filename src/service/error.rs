//! [`ServiceError`]: one uniform failure for whoever presents a credential, precise errors for
//! developers, and the stores' own errors boxed with their `source()` kept.

use alloc::boxed::Box;
use core::fmt;

use crate::credential::oob::OobError;
use crate::credential::password::PasswordError;
use crate::credential::password::breach::BreachError;
use crate::credential::password::policy::PolicyViolation;
use crate::credential::recovery::RecoveryError;
#[cfg(feature = "sealing")]
use crate::credential::sealing::SealingError;
use crate::credential::token::TokenError;
use crate::error::Error;
use crate::otp::error::OtpError;
use crate::policy::enrollment::MfaError;
use crate::policy::error::{AccessDenied, PolicyError};
use crate::policy::session::SessionRefused;

/// Why an [`Authenticator`](super::Authenticator) operation failed.
///
/// Never contains a password, code, secret or token.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServiceError {
    /// The one answer for an unknown login, a wrong password, a wrong or replayed code, a spent
    /// recovery code, and an expired, reused or misdirected ticket or setup token. The audit
    /// trail says which it was; the person is told only this.
    InvalidCredentials,
    /// Too many recent failures: attempts at this factor are refused until `retry_at`.
    Throttled {
        /// The unix time from which attempts are allowed again.
        retry_at: u64,
    },
    /// The account (or the factor) is locked after too many failures: until the lock lapses
    /// ([`ThrottlePolicy::lock_duration`](crate::credential::throttle::ThrottlePolicy::lock_duration)), or an
    /// administrator unlocks it ([`Authenticator::unlock_member`](crate::service::Authenticator::unlock_member)).
    Locked,
    /// The person, or their membership of the organisation, is deactivated.
    Deactivated,
    /// The signed-in person may not do this.
    Denied(AccessDenied),
    /// The session token signs nobody in, and why (for the host's logs and wording; tell the
    /// client to sign in again, whatever the reason).
    Session(SessionRefused),
    /// The policy core refused the change (for example a role above the actor's own, a policy
    /// change without fresh MFA, MFA off while an organisation enforces it).
    Policy(PolicyError),
    /// The new password breaks the password policy (or is the temporary password).
    PasswordPolicy(PolicyViolation),
    /// The breach corpus could not check a new password and the configuration fails closed
    /// ([`OnUnavailable::Refuse`](crate::service::OnUnavailable::Refuse)): nothing was changed;
    /// try again later. Audited as
    /// [`AuditKind::BreachCheckUnavailable`](crate::policy::audit::AuditKind::BreachCheckUnavailable).
    BreachCheckUnavailable(BreachError),
    /// The login name is empty, too long or contains control characters.
    InvalidLogin,
    /// The login name is taken.
    LoginTaken,
    /// The factor cannot be used here: not configured, not set up by the person, or not accepted
    /// by the organisation's policy.
    FactorUnavailable,
    /// A state kept changing under concurrent updates; try again.
    Conflict,
    /// The member has already chosen their own password: there is no setup link to resend.
    AlreadyActivated,
    /// The person's address is verified already: there is no verification link to send.
    AddressAlreadyVerified,
    /// A configuration, random-number or encoding error from the core.
    Core(Error),
    /// The password-hashing pool failed (for example a blocking task panicked).
    Hashing,
    /// A storage or audit-sink failure.
    Storage(Box<dyn std::error::Error + Send + Sync>),
    /// The [`Notifier`](crate::store::Notifier) failed to deliver an out-of-band code (audited as
    /// [`AuditKind::NotificationFailed`](crate::policy::audit::AuditKind::NotificationFailed)). The code never
    /// reached the person; a new one may be asked for after the cooldown.
    Undelivered(Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    pub(crate) fn storage<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        Self::Storage(Box::new(error))
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCredentials => f.write_str("invalid credentials"),
            Self::Throttled { retry_at } => {
                write!(f, "too many attempts: try again after {retry_at}")
            }
            Self::Locked => f.write_str(
                "the account is locked after too many failed attempts: try again later, or contact an \
                 administrator",
            ),
            Self::Deactivated => f.write_str("the account is deactivated"),
            Self::Denied(reason) => write!(f, "access denied: {reason}"),
            Self::Session(reason) => write!(f, "not signed in: {reason}"),
            Self::Policy(error) => write!(f, "refused by policy: {error}"),
            Self::PasswordPolicy(violation) => write!(f, "password refused: {violation}"),
            Self::BreachCheckUnavailable(error) => {
                write!(f, "the new password could not be checked: {error}")
            }
            Self::InvalidLogin => f.write_str("the login name is empty, too long or malformed"),
            Self::LoginTaken => f.write_str("the login name is taken"),
            Self::FactorUnavailable => f.write_str("this factor is not available for this login"),
            Self::Conflict => f.write_str("the state changed concurrently too often; try again"),
            Self::AlreadyActivated => f.write_str("the member has already chosen their password"),
            Self::AddressAlreadyVerified => f.write_str("the address is verified already"),
            Self::Core(error) => write!(f, "{error}"),
            Self::Hashing => f.write_str("the password-hashing pool failed"),
            Self::Storage(error) => write!(f, "storage failure: {error}"),
            Self::Undelivered(error) => write!(f, "the code could not be delivered: {error}"),
        }
    }
}

impl std::error::Error for ServiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Denied(e) => Some(e),
            Self::Session(e) => Some(e),
            Self::Policy(e) => Some(e),
            Self::PasswordPolicy(e) => Some(e),
            Self::BreachCheckUnavailable(e) => Some(e),
            Self::Core(e) => Some(e),
            Self::Storage(e) | Self::Undelivered(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<Error> for ServiceError {
    fn from(error: Error) -> Self {
        match error {
            Error::Policy(e) => Self::Policy(e),
            other => Self::Core(other),
        }
    }
}

/// Each layer's own error reaches the service through the crate-wide [`Error`], so that a
/// policy refusal lands on [`ServiceError::Policy`] and everything else on [`ServiceError::Core`].
macro_rules! through_core {
    ($($(#[$cfg:meta])* $error:ty),* $(,)?) => {$(
        $(#[$cfg])*
        impl From<$error> for ServiceError {
            fn from(error: $error) -> Self {
                Self::from(Error::from(error))
            }
        }
    )*};
}

through_core!(
    OtpError,
    MfaError,
    RecoveryError,
    OobError,
    PasswordError,
    TokenError,
    #[cfg(feature = "sealing")]
    SealingError,
);

impl From<PolicyError> for ServiceError {
    fn from(error: PolicyError) -> Self {
        Self::Policy(error)
    }
}

impl From<AccessDenied> for ServiceError {
    fn from(error: AccessDenied) -> Self {
        Self::Denied(error)
    }
}

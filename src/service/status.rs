//! [`ErrorClass`]: what a [`ServiceError`] means to a client, in HTTP terms, for any host (the
//! `axum` feature's responses follow it; a host on another framework can too).

use crate::credential::password::PasswordError;
use crate::credential::password::policy::PolicyViolation;
use crate::error::Error;
use crate::policy::error::{AccessDenied, PolicyError};
#[cfg(doc)]
use crate::policy::session::SessionRefused;
use crate::service::error::ServiceError;

/// What a [`ServiceError`] means to a client: its HTTP status and what to do next.
///
/// # The table
///
/// Every [`ServiceError`], [`PolicyError`], [`AccessDenied`] and crate-wide [`Error`] variant
/// lands on one class. The match behind [`ErrorClass::of`] is exhaustive, so a new variant does
/// not compile until it is given a class here.
///
/// | class | status | what the client should do | errors |
/// |---|---|---|---|
/// | [`BadRequest`](ErrorClass::BadRequest) | 400 | fix the input | [`ServiceError::InvalidLogin`], [`ServiceError::FactorUnavailable`], a phone number or password that does not parse or is too long ([`Error::Phone`], [`PasswordError::TooLong`]), and the policy input refusals [`PolicyError::InvalidName`], [`PolicyError::InvalidGracePeriod`], [`PolicyError::NoCountedFactor`], [`PolicyError::InvalidReminders`], [`PolicyError::InvalidDelegation`] |
/// | [`Unauthenticated`](ErrorClass::Unauthenticated) | 401 | try the credentials again (the one uniform answer to a guess) | [`ServiceError::InvalidCredentials`] |
/// | [`SessionEnded`](ErrorClass::SessionEnded) | 401 | sign in again, whatever the reason | [`ServiceError::Session`] (every [`SessionRefused`]), [`AccessDenied::MfaRequired`] |
/// | [`StepUpRequired`](ErrorClass::StepUpRequired) | 401, told apart by its code | present a second factor again (re-authenticate), then retry | [`PolicyError::ReauthenticationRequired`], [`PolicyError::Aal2Required`], [`AccessDenied::Aal2Required`] |
/// | [`Forbidden`](ErrorClass::Forbidden) | 403 | nothing: refused | [`ServiceError::Deactivated`], every other [`AccessDenied`], and the policy refusals: [`PolicyError::WrongPerson`], [`PolicyError::OtherOrganisation`], [`PolicyError::NotAMember`], [`PolicyError::MemberDeactivated`], [`PolicyError::ActorDeactivated`], [`PolicyError::NotPermitted`], [`PolicyError::CannotActOnSelf`], [`PolicyError::OwnersOnly`], [`PolicyError::AboveOwnRole`], [`PolicyError::OwnershipByTransferOnly`], [`PolicyError::LastOwner`], [`PolicyError::TargetNeedsMfa`], [`PolicyError::OwnerNeedsMfa`], [`PolicyError::RememberedDevicesForbidden`], [`PolicyError::InvitationInvalid`], [`PolicyError::MemberOfAnotherOrganisation`], [`PolicyError::RequiredByOrganisation`], [`PolicyError::SoleOwnerOfEnforcingOrganisation`], [`PolicyError::EnrollMfaFirst`] |
/// | [`Locked`](ErrorClass::Locked) | 403, told apart by its code | wait for the lock to lapse, or ask an administrator | [`ServiceError::Locked`] |
/// | [`NotFound`](ErrorClass::NotFound) | 404 | nothing: it is not there | [`PolicyError::UnknownAuthenticator`], [`PolicyError::NoDelegation`], [`PolicyError::NoOwnershipOffer`] |
/// | [`Conflict`](ErrorClass::Conflict) | 409 | reload and choose again | [`ServiceError::LoginTaken`], [`ServiceError::Conflict`], [`ServiceError::AlreadyActivated`], [`ServiceError::AddressAlreadyVerified`], [`PolicyError::NameTaken`], [`PolicyError::AuthenticatorLimit`], [`PolicyError::AlreadyMember`], and an enrollment not at that step ([`PolicyError::NoEnrollment`], [`PolicyError::WrongEnrollmentPhase`]: it expired, or was confirmed meanwhile) |
/// | [`PasswordRefused`](ErrorClass::PasswordRefused) | 422 | choose another password, for the reason given | [`ServiceError::PasswordPolicy`] |
/// | [`Throttled`](ErrorClass::Throttled) | 429, `Retry-After` from [`ErrorClass::retry_after`] | wait | [`ServiceError::Throttled`] |
/// | [`Internal`](ErrorClass::Internal) | 500, no detail | nothing (the host logs the error itself) | [`ServiceError::Storage`], [`ServiceError::Hashing`], every other [`ServiceError::Core`] (random numbers, configuration, encoding), and [`PolicyError::InvalidState`] and the configuration bounds ([`PolicyError::InvalidEnrollmentTtl`], [`PolicyError::InvalidAuthenticatorLimit`], [`PolicyError::InvalidReauthWindow`], [`PolicyError::InvalidSessionConfig`]) |
/// | [`Unavailable`](ErrorClass::Unavailable) | 503, no detail | try again later | [`ServiceError::BreachCheckUnavailable`], [`ServiceError::Undelivered`] |
///
/// Why these lines:
///
/// - A guess (an unknown login, a wrong password or code, a spent ticket) and a dead session
///   are both 401, but told apart, because a page answers them differently (the form again, or
///   the sign-in page); the reason a session died is never told to the client.
/// - Step-up is 401 as in RFC 9470 (`insufficient_user_authentication`): the person is known,
///   the session stands, and a fresh second factor will do. Every variant that asks for one
///   lands here, whichever layer raised it.
/// - A lock is a refusal (403) with its own code, so the page can say so clearly (story 6).
/// - Configuration out of bounds reaching a request is the host's fault, not the client's: 500.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// 400: malformed input or a request the flow does not offer.
    BadRequest,
    /// 401: the credentials were refused (the one uniform answer to a guess).
    Unauthenticated,
    /// 401: no session signs the client in (gone, expired, revoked, outlived): sign in again.
    SessionEnded,
    /// 401 with its own code: the session stands, but this needs a fresh second factor.
    StepUpRequired,
    /// 403: refused.
    Forbidden,
    /// 403 with its own code: the account or factor is locked after too many failures.
    Locked,
    /// 404: no such authenticator, delegation or offer.
    NotFound,
    /// 409: the name is taken, or the state is not (or no longer) what the request expects.
    Conflict,
    /// 422: the new password is refused, for this reason.
    PasswordRefused(PolicyViolation),
    /// 429: too many attempts until `retry_at` (unix seconds).
    Throttled {
        /// The unix time from which attempts are allowed again.
        retry_at: u64,
    },
    /// 500: a storage, hashing, random-number or configuration failure. Nothing of it is shown.
    Internal,
    /// 503: a dependency (the breach corpus, the notifier) failed: try again later.
    Unavailable,
}

impl ErrorClass {
    /// The class of a service error.
    pub fn of(error: &ServiceError) -> Self {
        match error {
            ServiceError::InvalidCredentials => Self::Unauthenticated,
            ServiceError::Throttled { retry_at } => Self::Throttled {
                retry_at: *retry_at,
            },
            ServiceError::Locked => Self::Locked,
            ServiceError::Deactivated => Self::Forbidden,
            ServiceError::Denied(denied) => Self::of_denied(*denied),
            ServiceError::Session(_) => Self::SessionEnded,
            ServiceError::Policy(error) => Self::of_policy(error),
            ServiceError::PasswordPolicy(violation) => Self::PasswordRefused(*violation),
            ServiceError::BreachCheckUnavailable(_) | ServiceError::Undelivered(_) => {
                Self::Unavailable
            }
            ServiceError::InvalidLogin | ServiceError::FactorUnavailable => Self::BadRequest,
            ServiceError::LoginTaken
            | ServiceError::Conflict
            | ServiceError::AlreadyActivated
            | ServiceError::AddressAlreadyVerified => Self::Conflict,
            ServiceError::Core(error) => Self::of_core(error),
            ServiceError::Hashing | ServiceError::Storage(_) => Self::Internal,
        }
    }

    /// The class of a policy refusal.
    pub fn of_policy(error: &PolicyError) -> Self {
        match error {
            PolicyError::InvalidEnrollmentTtl
            | PolicyError::InvalidAuthenticatorLimit
            | PolicyError::InvalidReauthWindow
            | PolicyError::InvalidSessionConfig(_)
            | PolicyError::InvalidState(_) => Self::Internal,
            PolicyError::InvalidGracePeriod
            | PolicyError::NoCountedFactor
            | PolicyError::InvalidName
            | PolicyError::InvalidReminders
            | PolicyError::InvalidDelegation => Self::BadRequest,
            PolicyError::NameTaken
            | PolicyError::AuthenticatorLimit { .. }
            | PolicyError::AlreadyMember
            | PolicyError::NoEnrollment
            | PolicyError::WrongEnrollmentPhase { .. } => Self::Conflict,
            PolicyError::UnknownAuthenticator
            | PolicyError::NoDelegation
            | PolicyError::NoOwnershipOffer => Self::NotFound,
            PolicyError::ReauthenticationRequired | PolicyError::Aal2Required => {
                Self::StepUpRequired
            }
            PolicyError::WrongPerson
            | PolicyError::RequiredByOrganisation { .. }
            | PolicyError::SoleOwnerOfEnforcingOrganisation { .. }
            | PolicyError::OtherOrganisation
            | PolicyError::NotAMember
            | PolicyError::MemberDeactivated
            | PolicyError::ActorDeactivated
            | PolicyError::NotPermitted
            | PolicyError::CannotActOnSelf
            | PolicyError::OwnersOnly
            | PolicyError::AboveOwnRole
            | PolicyError::OwnershipByTransferOnly
            | PolicyError::LastOwner
            | PolicyError::TargetNeedsMfa
            | PolicyError::OwnerNeedsMfa
            | PolicyError::RememberedDevicesForbidden
            | PolicyError::InvitationInvalid
            | PolicyError::MemberOfAnotherOrganisation
            | PolicyError::EnrollMfaFirst => Self::Forbidden,
        }
    }

    /// The class of an authorisation refusal.
    pub fn of_denied(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::Aal2Required => Self::StepUpRequired,
            AccessDenied::MfaRequired => Self::SessionEnded,
            AccessDenied::OtherOrganisation
            | AccessDenied::WrongPerson
            | AccessDenied::NotAMember
            | AccessDenied::Deactivated
            | AccessDenied::NotPermitted
            | AccessDenied::NotOwner => Self::Forbidden,
        }
    }

    /// The class of a crate-wide error from the core: input that does not parse is the
    /// client's, a policy refusal is classed as such, the rest is the server's.
    pub fn of_core(error: &Error) -> Self {
        match error {
            Error::Policy(error) => Self::of_policy(error),
            Error::Phone(_) | Error::Password(PasswordError::TooLong) => Self::BadRequest,
            Error::Secret(_)
            | Error::Param(_)
            | Error::Uri(_)
            | Error::TimeOutOfRange
            | Error::Random
            | Error::Recovery(_)
            | Error::OutOfBand(_)
            | Error::Throttle(_)
            | Error::Password(_)
            | Error::Token(_) => Self::Internal,
            #[cfg(feature = "qr")]
            Error::Qr => Self::Internal,
            #[cfg(feature = "sealing")]
            Error::Sealing(_) => Self::Internal,
            #[cfg(feature = "passkeys")]
            Error::Passkey(_) => Self::Internal,
        }
    }

    /// The HTTP status code.
    pub const fn status_code(&self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthenticated | Self::SessionEnded | Self::StepUpRequired => 401,
            Self::Forbidden | Self::Locked => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::PasswordRefused(_) => 422,
            Self::Throttled { .. } => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// For [`Self::Throttled`], the seconds to wait from `now` (unix seconds): the `Retry-After`
    /// value, at least 1 (the attempt that was refused was refused for a reason, even if the
    /// time has since passed). `None` for every other class.
    pub const fn retry_after(&self, now: u64) -> Option<u64> {
        match self {
            Self::Throttled { retry_at } => {
                let wait = retry_at.saturating_sub(now);
                Some(if wait == 0 { 1 } else { wait })
            }
            _ => None,
        }
    }

    /// A stable machine-readable name (`snake_case`), for a response body or a page to branch
    /// on: one per class.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthenticated => "invalid_credentials",
            Self::SessionEnded => "session_ended",
            Self::StepUpRequired => "step_up_required",
            Self::Forbidden => "forbidden",
            Self::Locked => "locked",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PasswordRefused(_) => "password_refused",
            Self::Throttled { .. } => "throttled",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    /// Whether the error's own message may be shown to the client. It may for the refusals a
    /// signed-in person meets about their own account or organisation (precise, and secret-free
    /// by construction); it may not for a refused guess or an ended session (one uniform
    /// answer, whatever happened), nor for a server-side failure (no detail leaks).
    pub const fn shows_detail(&self) -> bool {
        match self {
            Self::BadRequest
            | Self::StepUpRequired
            | Self::Forbidden
            | Self::NotFound
            | Self::Conflict
            | Self::PasswordRefused(_) => true,
            Self::Unauthenticated
            | Self::SessionEnded
            | Self::Locked
            | Self::Throttled { .. }
            | Self::Internal
            | Self::Unavailable => false,
        }
    }

    /// A message for the client that tells nothing beyond the class (for the classes that do
    /// not show the error's own).
    pub const fn public_message(&self) -> &'static str {
        match self {
            Self::BadRequest => "the request is malformed",
            Self::Unauthenticated => "invalid credentials",
            Self::SessionEnded => "not signed in: sign in again",
            Self::StepUpRequired => "confirm it is you: present your second factor again",
            Self::Forbidden => "not allowed",
            Self::Locked => {
                "the account is locked after too many failed attempts: try again later, or contact \
                 an administrator"
            }
            Self::NotFound => "not found",
            Self::Conflict => "the state changed: reload and try again",
            Self::PasswordRefused(_) => "choose another password",
            Self::Throttled { .. } => "too many attempts: try again later",
            Self::Internal => "something went wrong on our side",
            Self::Unavailable => "temporarily unavailable: try again later",
        }
    }
}

impl From<&ServiceError> for ErrorClass {
    fn from(error: &ServiceError) -> Self {
        Self::of(error)
    }
}

impl ServiceError {
    /// What this error means to a client ([`ErrorClass`]: the HTTP status and what to do next).
    pub fn class(&self) -> ErrorClass {
        ErrorClass::of(self)
    }

    /// The HTTP status code of [`Self::class`].
    pub fn status_code(&self) -> u16 {
        self.class().status_code()
    }

    /// For [`ServiceError::Throttled`], the seconds to wait from `now`: the `Retry-After` value
    /// ([`ErrorClass::retry_after`]).
    pub fn retry_after(&self, now: u64) -> Option<u64> {
        self.class().retry_after(now)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use alloc::boxed::Box;
    use alloc::collections::BTreeSet;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;
    use crate::credential::oob::OobError;
    use crate::credential::password::breach::BreachError;
    use crate::credential::phone::PhoneError;
    use crate::credential::recovery::RecoveryError;
    use crate::credential::throttle::ThrottleError;
    use crate::credential::token::TokenError;
    use crate::otp::error::{ParamError, SecretError, UriError};
    use crate::policy::ids::OrgId;
    use crate::policy::phase::EnrollmentPhase;
    use crate::policy::session::SessionRefused;

    /// The name of each service error variant: exhaustive, so a new variant stops this test
    /// from compiling until it is added here and given a row in [`service_rows`].
    fn service_name(e: &ServiceError) -> &'static str {
        match e {
            ServiceError::InvalidCredentials => "InvalidCredentials",
            ServiceError::Throttled { .. } => "Throttled",
            ServiceError::Locked => "Locked",
            ServiceError::Deactivated => "Deactivated",
            ServiceError::Denied(_) => "Denied",
            ServiceError::Session(_) => "Session",
            ServiceError::Policy(_) => "Policy",
            ServiceError::PasswordPolicy(_) => "PasswordPolicy",
            ServiceError::BreachCheckUnavailable(_) => "BreachCheckUnavailable",
            ServiceError::InvalidLogin => "InvalidLogin",
            ServiceError::LoginTaken => "LoginTaken",
            ServiceError::FactorUnavailable => "FactorUnavailable",
            ServiceError::Conflict => "Conflict",
            ServiceError::AlreadyActivated => "AlreadyActivated",
            ServiceError::AddressAlreadyVerified => "AddressAlreadyVerified",
            ServiceError::Core(_) => "Core",
            ServiceError::Hashing => "Hashing",
            ServiceError::Storage(_) => "Storage",
            ServiceError::Undelivered(_) => "Undelivered",
        }
    }
    const SERVICE_VARIANTS: usize = 19;

    fn policy_name(e: &PolicyError) -> &'static str {
        match e {
            PolicyError::InvalidEnrollmentTtl => "InvalidEnrollmentTtl",
            PolicyError::InvalidAuthenticatorLimit => "InvalidAuthenticatorLimit",
            PolicyError::InvalidReauthWindow => "InvalidReauthWindow",
            PolicyError::InvalidGracePeriod => "InvalidGracePeriod",
            PolicyError::InvalidSessionConfig(_) => "InvalidSessionConfig",
            PolicyError::NoCountedFactor => "NoCountedFactor",
            PolicyError::InvalidName => "InvalidName",
            PolicyError::NameTaken => "NameTaken",
            PolicyError::AuthenticatorLimit { .. } => "AuthenticatorLimit",
            PolicyError::UnknownAuthenticator => "UnknownAuthenticator",
            PolicyError::NoEnrollment => "NoEnrollment",
            PolicyError::WrongEnrollmentPhase { .. } => "WrongEnrollmentPhase",
            PolicyError::WrongPerson => "WrongPerson",
            PolicyError::ReauthenticationRequired => "ReauthenticationRequired",
            PolicyError::RequiredByOrganisation { .. } => "RequiredByOrganisation",
            PolicyError::SoleOwnerOfEnforcingOrganisation { .. } => {
                "SoleOwnerOfEnforcingOrganisation"
            }
            PolicyError::OtherOrganisation => "OtherOrganisation",
            PolicyError::NotAMember => "NotAMember",
            PolicyError::AlreadyMember => "AlreadyMember",
            PolicyError::MemberDeactivated => "MemberDeactivated",
            PolicyError::ActorDeactivated => "ActorDeactivated",
            PolicyError::NotPermitted => "NotPermitted",
            PolicyError::Aal2Required => "Aal2Required",
            PolicyError::CannotActOnSelf => "CannotActOnSelf",
            PolicyError::OwnersOnly => "OwnersOnly",
            PolicyError::AboveOwnRole => "AboveOwnRole",
            PolicyError::OwnershipByTransferOnly => "OwnershipByTransferOnly",
            PolicyError::LastOwner => "LastOwner",
            PolicyError::TargetNeedsMfa => "TargetNeedsMfa",
            PolicyError::OwnerNeedsMfa => "OwnerNeedsMfa",
            PolicyError::RememberedDevicesForbidden => "RememberedDevicesForbidden",
            PolicyError::InvitationInvalid => "InvitationInvalid",
            PolicyError::MemberOfAnotherOrganisation => "MemberOfAnotherOrganisation",
            PolicyError::InvalidDelegation => "InvalidDelegation",
            PolicyError::NoDelegation => "NoDelegation",
            PolicyError::InvalidReminders => "InvalidReminders",
            PolicyError::EnrollMfaFirst => "EnrollMfaFirst",
            PolicyError::NoOwnershipOffer => "NoOwnershipOffer",
            PolicyError::InvalidState(_) => "InvalidState",
        }
    }
    const POLICY_VARIANTS: usize = 39;

    fn denied_name(e: AccessDenied) -> &'static str {
        match e {
            AccessDenied::OtherOrganisation => "OtherOrganisation",
            AccessDenied::WrongPerson => "WrongPerson",
            AccessDenied::NotAMember => "NotAMember",
            AccessDenied::Deactivated => "Deactivated",
            AccessDenied::NotPermitted => "NotPermitted",
            AccessDenied::NotOwner => "NotOwner",
            AccessDenied::Aal2Required => "Aal2Required",
            AccessDenied::MfaRequired => "MfaRequired",
        }
    }
    const DENIED_VARIANTS: usize = 8;

    fn core_name(e: &Error) -> &'static str {
        match e {
            Error::Secret(_) => "Secret",
            Error::Param(_) => "Param",
            Error::Uri(_) => "Uri",
            Error::TimeOutOfRange => "TimeOutOfRange",
            Error::Random => "Random",
            Error::Recovery(_) => "Recovery",
            Error::OutOfBand(_) => "OutOfBand",
            Error::Phone(_) => "Phone",
            Error::Throttle(_) => "Throttle",
            Error::Password(_) => "Password",
            Error::Policy(_) => "Policy",
            Error::Token(_) => "Token",
            #[cfg(feature = "qr")]
            Error::Qr => "Qr",
            #[cfg(feature = "sealing")]
            Error::Sealing(_) => "Sealing",
            #[cfg(feature = "passkeys")]
            Error::Passkey(_) => "Passkey",
        }
    }
    const CORE_VARIANTS: usize = 12
        + cfg!(feature = "qr") as usize
        + cfg!(feature = "sealing") as usize
        + cfg!(feature = "passkeys") as usize;

    fn boxed() -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(core::fmt::Error)
    }

    /// Each service error variant (the wrapping ones once; their contents have tables of their
    /// own below), with the status and code it must have.
    fn service_rows() -> Vec<(ServiceError, u16, &'static str)> {
        vec![
            (ServiceError::InvalidCredentials, 401, "invalid_credentials"),
            (ServiceError::Throttled { retry_at: 100 }, 429, "throttled"),
            (ServiceError::Locked, 403, "locked"),
            (ServiceError::Deactivated, 403, "forbidden"),
            (
                ServiceError::Denied(AccessDenied::NotPermitted),
                403,
                "forbidden",
            ),
            (
                ServiceError::Session(SessionRefused::IdleExpired),
                401,
                "session_ended",
            ),
            (
                ServiceError::Policy(PolicyError::ReauthenticationRequired),
                401,
                "step_up_required",
            ),
            (
                ServiceError::PasswordPolicy(PolicyViolation::Common),
                422,
                "password_refused",
            ),
            (
                ServiceError::BreachCheckUnavailable(BreachError::Prefix),
                503,
                "unavailable",
            ),
            (ServiceError::InvalidLogin, 400, "bad_request"),
            (ServiceError::LoginTaken, 409, "conflict"),
            (ServiceError::FactorUnavailable, 400, "bad_request"),
            (ServiceError::Conflict, 409, "conflict"),
            (ServiceError::AlreadyActivated, 409, "conflict"),
            (ServiceError::AddressAlreadyVerified, 409, "conflict"),
            (ServiceError::Core(Error::Random), 500, "internal"),
            (ServiceError::Hashing, 500, "internal"),
            (ServiceError::Storage(boxed()), 500, "internal"),
            (ServiceError::Undelivered(boxed()), 503, "unavailable"),
        ]
    }

    fn policy_rows() -> Vec<(PolicyError, u16, &'static str)> {
        let org = OrgId::new(7);
        vec![
            (PolicyError::InvalidEnrollmentTtl, 500, "internal"),
            (PolicyError::InvalidAuthenticatorLimit, 500, "internal"),
            (PolicyError::InvalidReauthWindow, 500, "internal"),
            (PolicyError::InvalidGracePeriod, 400, "bad_request"),
            (PolicyError::InvalidSessionConfig("idle"), 500, "internal"),
            (PolicyError::NoCountedFactor, 400, "bad_request"),
            (PolicyError::InvalidName, 400, "bad_request"),
            (PolicyError::NameTaken, 409, "conflict"),
            (PolicyError::AuthenticatorLimit { max: 4 }, 409, "conflict"),
            (PolicyError::UnknownAuthenticator, 404, "not_found"),
            (PolicyError::NoEnrollment, 409, "conflict"),
            (
                PolicyError::WrongEnrollmentPhase {
                    expected: EnrollmentPhase::AwaitingCode,
                    actual: EnrollmentPhase::AwaitingAcknowledgement,
                },
                409,
                "conflict",
            ),
            (PolicyError::WrongPerson, 403, "forbidden"),
            (
                PolicyError::ReauthenticationRequired,
                401,
                "step_up_required",
            ),
            (
                PolicyError::RequiredByOrganisation { org },
                403,
                "forbidden",
            ),
            (
                PolicyError::SoleOwnerOfEnforcingOrganisation { org },
                403,
                "forbidden",
            ),
            (PolicyError::OtherOrganisation, 403, "forbidden"),
            (PolicyError::NotAMember, 403, "forbidden"),
            (PolicyError::AlreadyMember, 409, "conflict"),
            (PolicyError::MemberDeactivated, 403, "forbidden"),
            (PolicyError::ActorDeactivated, 403, "forbidden"),
            (PolicyError::NotPermitted, 403, "forbidden"),
            (PolicyError::Aal2Required, 401, "step_up_required"),
            (PolicyError::CannotActOnSelf, 403, "forbidden"),
            (PolicyError::OwnersOnly, 403, "forbidden"),
            (PolicyError::AboveOwnRole, 403, "forbidden"),
            (PolicyError::OwnershipByTransferOnly, 403, "forbidden"),
            (PolicyError::LastOwner, 403, "forbidden"),
            (PolicyError::TargetNeedsMfa, 403, "forbidden"),
            (PolicyError::OwnerNeedsMfa, 403, "forbidden"),
            (PolicyError::RememberedDevicesForbidden, 403, "forbidden"),
            (PolicyError::InvitationInvalid, 403, "forbidden"),
            (PolicyError::MemberOfAnotherOrganisation, 403, "forbidden"),
            (PolicyError::InvalidDelegation, 400, "bad_request"),
            (PolicyError::NoDelegation, 404, "not_found"),
            (PolicyError::InvalidReminders, 400, "bad_request"),
            (PolicyError::EnrollMfaFirst, 403, "forbidden"),
            (PolicyError::NoOwnershipOffer, 404, "not_found"),
            (PolicyError::InvalidState("x"), 500, "internal"),
        ]
    }

    fn denied_rows() -> Vec<(AccessDenied, u16, &'static str)> {
        vec![
            (AccessDenied::OtherOrganisation, 403, "forbidden"),
            (AccessDenied::WrongPerson, 403, "forbidden"),
            (AccessDenied::NotAMember, 403, "forbidden"),
            (AccessDenied::Deactivated, 403, "forbidden"),
            (AccessDenied::NotPermitted, 403, "forbidden"),
            (AccessDenied::NotOwner, 403, "forbidden"),
            (AccessDenied::Aal2Required, 401, "step_up_required"),
            (AccessDenied::MfaRequired, 401, "session_ended"),
        ]
    }

    fn core_rows() -> Vec<(Error, u16, &'static str)> {
        #[allow(unused_mut)]
        let mut rows = vec![
            (Error::Secret(SecretError::InvalidBase32), 500, "internal"),
            (Error::Param(ParamError::Digits), 500, "internal"),
            (Error::Uri(UriError::Scheme), 500, "internal"),
            (Error::TimeOutOfRange, 500, "internal"),
            (Error::Random, 500, "internal"),
            (Error::Recovery(RecoveryError::Count), 500, "internal"),
            (Error::OutOfBand(OobError::Ttl), 500, "internal"),
            (Error::Phone(PhoneError::Empty), 400, "bad_request"),
            (
                Error::Throttle(ThrottleError::LockThreshold),
                500,
                "internal",
            ),
            (Error::Password(PasswordError::WeakParams), 500, "internal"),
            (
                Error::Policy(PolicyError::Aal2Required),
                401,
                "step_up_required",
            ),
            (Error::Token(TokenError::Random), 500, "internal"),
        ];
        #[cfg(feature = "qr")]
        rows.push((Error::Qr, 500, "internal"));
        #[cfg(feature = "sealing")]
        rows.push((
            Error::Sealing(crate::credential::sealing::SealingError::KeyLength),
            500,
            "internal",
        ));
        #[cfg(feature = "passkeys")]
        rows.push((
            Error::Passkey(crate::credential::passkey::PasskeyConfigError::RpId),
            500,
            "internal",
        ));
        rows
    }

    fn check<T>(
        rows: &[(T, u16, &'static str)],
        name: impl Fn(&T) -> &'static str,
        variants: usize,
        class: impl Fn(&T) -> ErrorClass,
    ) {
        let names: BTreeSet<_> = rows.iter().map(|(e, _, _)| name(e)).collect();
        assert_eq!(names.len(), rows.len(), "one row per variant");
        assert_eq!(names.len(), variants, "every variant has a row");
        for (e, status, code) in rows {
            let got = class(e);
            assert_eq!(got.status_code(), *status, "{}", name(e));
            assert_eq!(got.code(), *code, "{}", name(e));
        }
    }

    #[test]
    fn every_service_error_variant_has_its_class() {
        check(
            &service_rows(),
            service_name,
            SERVICE_VARIANTS,
            ErrorClass::of,
        );
        for (e, status, _) in service_rows() {
            assert_eq!(e.status_code(), status);
        }
    }

    #[test]
    fn every_policy_error_variant_has_its_class() {
        check(
            &policy_rows(),
            policy_name,
            POLICY_VARIANTS,
            ErrorClass::of_policy,
        );
        for (e, status, code) in policy_rows() {
            let wrapped = ServiceError::Policy(e);
            assert_eq!(wrapped.status_code(), status);
            assert_eq!(wrapped.class().code(), code);
            // The same refusal through the crate-wide error lands on the same class.
            assert_eq!(
                ServiceError::from(Error::Policy(e)).class(),
                wrapped.class()
            );
            assert_eq!(ErrorClass::of_core(&Error::Policy(e)), wrapped.class());
        }
    }

    #[test]
    fn every_access_denied_variant_has_its_class() {
        check(
            &denied_rows(),
            |d| denied_name(*d),
            DENIED_VARIANTS,
            |d| ErrorClass::of_denied(*d),
        );
        for (d, status, _) in denied_rows() {
            assert_eq!(ServiceError::Denied(d).status_code(), status);
        }
    }

    #[test]
    fn every_core_error_variant_has_its_class() {
        check(&core_rows(), core_name, CORE_VARIANTS, ErrorClass::of_core);
        assert_eq!(
            ErrorClass::of_core(&Error::Password(PasswordError::TooLong)),
            ErrorClass::BadRequest,
            "a password too long to hash is the client's"
        );
    }

    #[test]
    fn every_session_refusal_ends_the_session_alike() {
        use SessionRefused::*;
        let all = [
            Revoked,
            StaleEpoch,
            PersonDeactivated,
            Expired,
            IdleExpired,
            NotAMember,
            MemberDeactivated,
            MfaRequired,
        ];
        for reason in all {
            let class = ServiceError::Session(reason).class();
            assert_eq!(class, ErrorClass::SessionEnded, "{reason:?}");
            assert!(!class.shows_detail(), "the reason is never told");
        }
    }

    #[test]
    fn the_password_refusal_carries_its_reason() {
        let v = PolicyViolation::TooShort { min: 15, length: 3 };
        assert_eq!(
            ServiceError::PasswordPolicy(v).class(),
            ErrorClass::PasswordRefused(v)
        );
    }

    #[test]
    fn retry_after_counts_from_now_and_is_never_zero() {
        let e = ServiceError::Throttled { retry_at: 1_000 };
        assert_eq!(e.retry_after(970), Some(30));
        assert_eq!(e.retry_after(999), Some(1));
        assert_eq!(e.retry_after(1_000), Some(1), "past: try now, but not zero");
        assert_eq!(e.retry_after(5_000), Some(1));
        assert_eq!(e.retry_after(0), Some(1_000));
        assert_eq!(ServiceError::Locked.retry_after(970), None);
        assert_eq!(ServiceError::InvalidCredentials.retry_after(970), None);
    }

    #[test]
    fn failures_of_the_server_and_guesses_show_no_detail() {
        for class in [
            ErrorClass::Internal,
            ErrorClass::Unavailable,
            ErrorClass::Unauthenticated,
            ErrorClass::SessionEnded,
        ] {
            assert!(!class.shows_detail(), "{class:?}");
        }
        for class in [
            ErrorClass::Forbidden,
            ErrorClass::StepUpRequired,
            ErrorClass::Conflict,
        ] {
            assert!(class.shows_detail(), "{class:?}");
        }
    }
}

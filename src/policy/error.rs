//! Why a policy transition or an authorisation check was refused.
//!
//! These errors go to the host and to signed-in people acting on their own account or their
//! organisation, so they are precise. Nothing here is shown to someone who has not yet logged in:
//! the login decision answers with [`crate::policy::login::LoginDecision`] instead.

use core::fmt;

use crate::policy::ids::OrgId;
use crate::policy::phase::EnrollmentPhase;

/// A policy transition was refused. The state passed in is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The enrollment time-to-live is outside 60 seconds to 24 hours.
    InvalidEnrollmentTtl,
    /// The authenticator limit is outside 1 to [`crate::policy::enrollment::EnrollmentConfig::MAX_AUTHENTICATORS`].
    InvalidAuthenticatorLimit,
    /// The re-authentication window is outside 30 seconds to 1 hour.
    InvalidReauthWindow,
    /// The grace period is longer than [`crate::policy::org_policy::MfaSettings::MAX_GRACE_PERIOD`].
    InvalidGracePeriod,
    /// A session lifetime, idle timeout, touch interval or remembered-device setting is out of
    /// bounds (see [`crate::policy::session::SessionConfigBuilder::build`]): which one, and its
    /// bounds.
    InvalidSessionConfig(&'static str),
    /// An MFA policy must count at least one primary factor kind (any but recovery codes, see
    /// [`crate::credential::factor::FactorKind::is_primary`]).
    NoCountedFactor,
    /// An authenticator name must be 1 to 64 characters, without control characters.
    InvalidName,
    /// The person already has an authenticator with that name: replace it instead.
    NameTaken,
    /// The person already has the maximum number of authenticators.
    AuthenticatorLimit {
        /// The configured limit.
        max: u8,
    },
    /// No such authenticator.
    UnknownAuthenticator,
    /// There is no enrollment in progress.
    NoEnrollment,
    /// The enrollment is at another step.
    WrongEnrollmentPhase {
        /// The step this call needs.
        expected: EnrollmentPhase,
        /// The step the enrollment is at.
        actual: EnrollmentPhase,
    },
    /// The grant, state or standing belongs to someone else.
    WrongPerson,
    /// This needs a fresh re-authentication with a second factor.
    ReauthenticationRequired,
    /// MFA cannot be turned off while this organisation enforces it.
    RequiredByOrganisation {
        /// The enforcing organisation.
        org: OrgId,
    },
    /// The sole owner of an organisation that enforces MFA can never turn theirs off.
    SoleOwnerOfEnforcingOrganisation {
        /// The organisation.
        org: OrgId,
    },
    /// The grant, member or resource belongs to another organisation.
    OtherOrganisation,
    /// The person is not a member of the organisation.
    NotAMember,
    /// The person is already a member.
    AlreadyMember,
    /// The member concerned is deactivated.
    MemberDeactivated,
    /// The acting member is deactivated.
    ActorDeactivated,
    /// The acting member's role does not allow this.
    NotPermitted,
    /// This needs a grant at assurance level 2 (password and a second factor).
    Aal2Required,
    /// Nobody changes their own role, deactivates or removes themselves (leaving is
    /// [`crate::policy::organisation::Organisation::leave`]).
    CannotActOnSelf,
    /// Only an owner can create, change, deactivate or remove an owner.
    OwnersOnly,
    /// A role above the acting member's own cannot be granted.
    AboveOwnRole,
    /// Owners are made only by [`crate::policy::organisation::Organisation::transfer_ownership`].
    OwnershipByTransferOnly,
    /// The organisation's last active owner cannot leave, be demoted, deactivated or removed.
    LastOwner,
    /// The new owner has no MFA of a kind the enforcing policy counts.
    TargetNeedsMfa,
    /// The owner must have MFA (of a kind the policy counts) before turning the policy on.
    OwnerNeedsMfa,
    /// The organisation does not allow remembered devices.
    RememberedDevicesForbidden,
    /// The invitation has expired, or its inviter can no longer grant that role.
    InvitationInvalid,
    /// The member also belongs to an organisation where the acting member could not do this
    /// (an MFA reset takes the person's factors in every organisation they belong to).
    MemberOfAnotherOrganisation,
    /// A delegation must raise the member's role, to at most Admin and at most the delegator's
    /// own role, and end in the future but within [`crate::policy::roles::Delegation::MAX_LENGTH`].
    InvalidDelegation,
    /// The member has no delegation.
    NoDelegation,
    /// Reminder lead times must be distinct, at most four, 1 second to the longest grace
    /// period, and only for an enforced policy.
    InvalidReminders,
    /// The organisation enforces MFA: enrol a second factor it counts first, then accept.
    EnrollMfaFirst,
    /// No ownership offer stands for this person (none was made, it expired, or its maker is
    /// no longer an Owner).
    NoOwnershipOffer,
    /// A persisted state is inconsistent (what is wrong is named).
    InvalidState(&'static str),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidEnrollmentTtl => {
                f.write_str("the enrollment time-to-live must be 60 seconds to 24 hours")
            }
            // `EnrollmentConfig::MAX_AUTHENTICATORS`; the enrollment tests check that they agree.
            Self::InvalidAuthenticatorLimit => {
                f.write_str("the authenticator limit must be 1 to 16")
            }
            Self::InvalidReauthWindow => {
                f.write_str("the re-authentication window must be 30 seconds to 1 hour")
            }
            Self::InvalidGracePeriod => f.write_str("the grace period is too long"),
            Self::InvalidSessionConfig(what) => f.write_str(what),
            Self::NoCountedFactor => {
                f.write_str("the policy must count a factor kind other than recovery codes")
            }
            Self::InvalidName => f.write_str(
                "an authenticator name must be 1 to 64 characters without control characters",
            ),
            Self::NameTaken => f.write_str("an authenticator with that name already exists"),
            Self::AuthenticatorLimit { max } => {
                write!(f, "at most {max} authenticators per person")
            }
            Self::UnknownAuthenticator => f.write_str("no such authenticator"),
            Self::NoEnrollment => f.write_str("no enrollment is in progress"),
            Self::WrongEnrollmentPhase { expected, actual } => write!(
                f,
                "the enrollment is {actual}, this step needs it {expected}"
            ),
            Self::WrongPerson => f.write_str("the state belongs to another person"),
            Self::ReauthenticationRequired => {
                f.write_str("a fresh re-authentication with a second factor is required")
            }
            Self::RequiredByOrganisation { .. } => {
                f.write_str("an organisation you belong to requires MFA")
            }
            Self::SoleOwnerOfEnforcingOrganisation { .. } => f.write_str(
                "the sole owner of an organisation that enforces MFA cannot turn MFA off",
            ),
            Self::OtherOrganisation => f.write_str("that belongs to another organisation"),
            Self::NotAMember => f.write_str("not a member of the organisation"),
            Self::AlreadyMember => f.write_str("already a member of the organisation"),
            Self::MemberDeactivated => f.write_str("the member is deactivated"),
            Self::ActorDeactivated => f.write_str("the acting member is deactivated"),
            Self::NotPermitted => f.write_str("the role does not allow this"),
            Self::Aal2Required => f.write_str("this needs a login with a second factor"),
            Self::CannotActOnSelf => {
                f.write_str("nobody changes their own role or removes themselves")
            }
            Self::OwnersOnly => f.write_str("only an owner can manage an owner"),
            Self::AboveOwnRole => f.write_str("cannot grant a role above one's own"),
            Self::OwnershipByTransferOnly => {
                f.write_str("ownership is granted only by an ownership transfer")
            }
            Self::LastOwner => f.write_str("the last owner cannot leave or be demoted"),
            Self::TargetNeedsMfa => {
                f.write_str("the new owner must have MFA while the organisation enforces it")
            }
            Self::OwnerNeedsMfa => f.write_str("set up your own MFA before turning the policy on"),
            Self::RememberedDevicesForbidden => {
                f.write_str("the organisation does not allow remembered devices")
            }
            Self::InvitationInvalid => f.write_str("the invitation is no longer valid"),
            Self::MemberOfAnotherOrganisation => {
                f.write_str("the member also belongs to an organisation you do not administer")
            }
            Self::InvalidDelegation => f.write_str("the delegation is invalid"),
            Self::NoDelegation => f.write_str("the member has no delegation"),
            Self::InvalidReminders => f.write_str("the MFA reminder times are invalid"),
            Self::EnrollMfaFirst => f.write_str(
                "the organisation requires MFA: set up a second factor it accepts first",
            ),
            Self::NoOwnershipOffer => f.write_str("no ownership offer stands for you"),
            Self::InvalidState(what) => write!(f, "inconsistent persisted state: {what}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PolicyError {}

/// [`crate::policy::authorize::authorize`] refused an action. Deny by default: anything not granted is one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessDenied {
    /// The resource, or the member record, belongs to another organisation than the grant.
    OtherOrganisation,
    /// The member record is not the grant holder's.
    WrongPerson,
    /// The grant holder is not a member of the organisation (any more).
    NotAMember,
    /// The member has been deactivated (effective at the next check).
    Deactivated,
    /// The role does not have the permission.
    NotPermitted,
    /// The role has the permission for its own resources only, and this one is someone else's
    /// (or nobody's).
    NotOwner,
    /// The permission is an administrative one and needs an AAL2 grant.
    Aal2Required,
    /// The organisation enforces MFA, the member's deadline has passed, and the grant rests on
    /// no second factor the policy counts (it predates the policy, or a change of the counted
    /// kinds): sign in again.
    MfaRequired,
}

impl fmt::Display for AccessDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OtherOrganisation => "the resource belongs to another organisation",
            Self::WrongPerson => "the member record is not the grant holder's",
            Self::NotAMember => "not a member of the organisation",
            Self::Deactivated => "the member is deactivated",
            Self::NotPermitted => "the role does not have this permission",
            Self::NotOwner => "the role may act only on its own resources",
            Self::Aal2Required => "this needs a login with a second factor",
            Self::MfaRequired => {
                "the organisation requires a second factor it counts: sign in again"
            }
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AccessDenied {}

impl From<AccessDenied> for PolicyError {
    fn from(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::OtherOrganisation => Self::OtherOrganisation,
            AccessDenied::WrongPerson => Self::WrongPerson,
            AccessDenied::NotAMember => Self::NotAMember,
            AccessDenied::Deactivated => Self::ActorDeactivated,
            AccessDenied::NotPermitted | AccessDenied::NotOwner => Self::NotPermitted,
            AccessDenied::Aal2Required | AccessDenied::MfaRequired => Self::Aal2Required,
        }
    }
}

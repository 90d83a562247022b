//! Typed audit events: who did what to whom, in which organisation, and when.

use crate::policy::factors::Aal;
use crate::policy::factors::{Factor, SecondFactors};
use crate::policy::ids::{AuthenticatorId, OrgId, PersonId};
use crate::policy::roles::JoinPath;
use crate::policy::roles::Role;

/// One audit record.
///
/// Every policy transition returns its events. They name people, organisations and
/// authenticators by id and say what happened; they never carry a secret, a code, a password or a
/// recovery code — the types they are built from have none to give. The host records them
/// (append-only) and may notify the person concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct AuditEvent {
    /// When it happened (unix seconds, the `now` of the transition).
    pub at: u64,
    /// Who did it.
    pub actor: Actor,
    /// Whom it concerns, when it concerns one person.
    pub subject: Option<PersonId>,
    /// The organisation it happened in, when it is about one.
    pub organisation: Option<OrgId>,
    /// What happened.
    pub what: AuditKind,
}

impl AuditEvent {
    pub(crate) const fn new(
        at: u64,
        actor: Actor,
        subject: Option<PersonId>,
        organisation: Option<OrgId>,
        what: AuditKind,
    ) -> Self {
        Self {
            at,
            actor,
            subject,
            organisation,
            what,
        }
    }
}

/// Who caused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Actor {
    /// A signed-in person.
    Person(PersonId),
    /// The passage of time: an expiry, a lapse.
    System,
}

/// Which kind of message a [`AuditKind::NotificationFailed`] event is about (never its content).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum NotificationKind {
    /// An out-of-band code.
    OobCode,
    /// A setup link.
    SetupLink,
    /// A security notice.
    SecurityNotice,
    /// An invitation to join an organisation.
    Invitation,
    /// A reminder of an MFA enrollment deadline.
    MfaReminder,
    /// A forgotten-password link.
    PasswordReset,
    /// An address-verification link.
    AddressVerification,
    /// The notice to an old address that the login moved to a new one.
    AddressChanged,
}

/// What became of a forgotten-password request (the requester is told none of it: every
/// request answers alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum ResetRequest {
    /// A reset link went to the person's verified address.
    Sent,
    /// No person holds the login (or it is no login at all).
    UnknownLogin,
    /// The person's address is not verified: nothing was sent.
    Unverified,
    /// The person is deactivated: nothing was sent.
    Deactivated,
    /// Too many requests for this login or from this requester: nothing was sent.
    Throttled,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum AuditKind {
    /// An authenticator enrollment started (a new secret was issued).
    EnrollmentStarted {
        /// The authenticator being enrolled.
        authenticator: AuthenticatorId,
        /// The active authenticator it will replace, if any.
        replacing: Option<AuthenticatorId>,
    },
    /// An enrollment was abandoned: cancelled, or superseded by a new one. Its secret is gone.
    EnrollmentAbandoned {
        /// The authenticator that was being enrolled.
        authenticator: AuthenticatorId,
    },
    /// An enrollment expired before it completed and must restart.
    EnrollmentExpired {
        /// The authenticator that was being enrolled.
        authenticator: AuthenticatorId,
    },
    /// A wrong code was presented to confirm an enrollment (count it towards the throttle).
    EnrollmentCodeRejected {
        /// The authenticator being enrolled.
        authenticator: AuthenticatorId,
    },
    /// A valid code confirmed an enrollment; recovery codes are due.
    EnrollmentConfirmed {
        /// The authenticator being enrolled.
        authenticator: AuthenticatorId,
    },
    /// New recovery codes were issued and shown once.
    RecoveryCodesIssued {
        /// The enrollment they were issued for.
        authenticator: AuthenticatorId,
    },
    /// The person acknowledged the recovery codes and the authenticator became active.
    AuthenticatorActivated {
        /// The new authenticator.
        authenticator: AuthenticatorId,
        /// The authenticator it replaced, which no longer works.
        replaced: Option<AuthenticatorId>,
    },
    /// An active authenticator was removed.
    AuthenticatorRemoved {
        /// The removed authenticator.
        authenticator: AuthenticatorId,
    },
    /// MFA was turned off: no authenticator remains and recovery codes are void.
    MfaDisabled,
    /// A login code from an authenticator was accepted; its step is the new replay watermark.
    LoginCodeAccepted {
        /// The authenticator.
        authenticator: AuthenticatorId,
    },
    /// An organisation was founded.
    OrganisationFounded,
    /// The organisation's MFA policy was turned on or changed.
    MfaPolicySet {
        /// Whether every member must use MFA.
        enforced: bool,
        /// The grace period in seconds.
        grace_period: u64,
        /// The second factors the policy counts (empty in events recorded before it was kept).
        #[cfg_attr(feature = "serde", serde(default))]
        factors: SecondFactors,
        /// The role from which only phishing-resistant factors count, if any.
        #[cfg_attr(feature = "serde", serde(default))]
        phishing_resistance_from: Option<Role>,
    },
    /// The organisation's MFA policy was turned off.
    MfaPolicyOff,
    /// A member became subject to the enforced MFA policy.
    SubjectToMfaPolicy {
        /// The member's deadline for enrolling (unix seconds).
        deadline: u64,
    },
    /// A member joined.
    MemberAdded {
        /// The role they joined with.
        role: Role,
        /// How they joined.
        path: JoinPath,
    },
    /// A member's role changed.
    RoleChanged {
        /// The old role.
        from: Role,
        /// The new role.
        to: Role,
    },
    /// A member was removed.
    MemberRemoved,
    /// A member left.
    MemberLeft,
    /// A member was deactivated (effective at their next authorisation check).
    MemberDeactivated,
    /// A deactivated member was reactivated.
    MemberReactivated,
    /// An invitation was issued.
    Invited {
        /// The role the invitation grants.
        role: Role,
    },
    /// An Owner offered ownership to the subject.
    OwnershipOffered {
        /// When the offer lapses (unix seconds).
        expires_at: u64,
    },
    /// A reminder of their MFA enrollment deadline was sent to the subject.
    MfaReminderSent {
        /// The deadline (unix seconds).
        deadline: u64,
        /// How long before the deadline the reminder was due (seconds).
        lead: u64,
    },
    /// Ownership was transferred to the subject.
    OwnershipTransferred {
        /// The previous owner.
        from: PersonId,
    },
    /// A role was delegated to the subject until a given time.
    DelegationGranted {
        /// The delegated role.
        role: Role,
        /// When it lapses (unix seconds).
        until: u64,
    },
    /// A delegation was revoked before it lapsed.
    DelegationRevoked,
    /// A delegation lapsed.
    DelegationLapsed,
    /// A delegation ended because its delegator no longer holds the standing to grant it
    /// (demoted, deactivated, removed or left).
    DelegationEnded,
    /// A login step was decided.
    Login {
        /// The decision.
        outcome: LoginOutcome,
    },
    /// A grant was refreshed by a re-authentication.
    Reauthenticated {
        /// The assurance level reached.
        aal: Aal,
    },
    /// A sign-in attempt named a login that does not exist (the person was told only "invalid
    /// credentials").
    UnknownLogin,
    /// A presented credential was refused. The person was told only "invalid credentials"; this
    /// says which factor, and whether the code had already been used.
    CredentialRejected {
        /// The factor presented.
        factor: Factor,
        /// A valid code presented a second time (a replayed TOTP step or a spent code).
        replayed: bool,
    },
    /// Attempts at a factor are now delayed after repeated failures.
    Throttled {
        /// The factor.
        factor: Factor,
        /// Consecutive failures.
        failures: u8,
        /// The unix time from which attempts are allowed again.
        retry_at: u64,
    },
    /// A factor is locked after too many consecutive failures, until the lock lapses
    /// ([`ThrottlePolicy::lock_duration`](crate::credential::throttle::ThrottlePolicy::lock_duration)) or an
    /// administrator unlocks the person.
    FactorLocked {
        /// The factor.
        factor: Factor,
    },
    /// An administrator (the actor) cleared the subject's throttle counters.
    MemberUnlocked {
        /// Whether any counter was locked.
        was_locked: bool,
    },
    /// An administrator (the actor) reset the subject's second factors: every authenticator
    /// app, recovery code, verified phone and pending code is gone, and the subject enrols
    /// again at their next sign-in.
    MfaReset,
    /// A pending-login ticket or setup token was presented that is unknown, expired, already
    /// used, for another step, or for another organisation.
    TicketRejected,
    /// A recovery code was spent to sign in.
    RecoveryCodeUsed {
        /// Unspent codes left.
        remaining: u8,
    },
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// An out-of-band sign-in code was sent.
    OutOfBandCodeSent,
    /// A code was sent to a new phone number to verify it (not yet a factor).
    PhoneVerificationSent,
    /// A phone number was verified with its code and now receives sign-in codes.
    PhoneVerified,
    /// The phone number for sign-in codes was removed.
    PhoneRemoved,
    /// The person chose a new password.
    PasswordChanged,
    /// The breach corpus could not check a new password; `refused` says whether the password
    /// was refused for it (the service's configuration fails closed) or accepted (the default).
    BreachCheckUnavailable {
        /// Whether the password was refused.
        refused: bool,
    },
    /// A person was created with a temporary password.
    TemporaryPasswordIssued {
        /// When it expires (unix seconds).
        expires_at: u64,
    },
    /// The [`Notifier`](crate::store::Notifier) failed to deliver a message. The change that sent it
    /// stands (see [`DeliveryStatus`](crate::service::DeliveryStatus)); the host may deliver the message again.
    NotificationFailed {
        /// Which kind of message.
        message: NotificationKind,
    },
    /// A new setup link was issued for a member who has not yet chosen their password.
    SetupLinkReissued,
    /// A session was signed out, or revoked from the person's list of sessions.
    SessionRevoked,
    /// "Sign out everywhere else": every other session and remembered device of the person
    /// ended, the one asking kept.
    OtherSessionsRevoked,
    /// "Sign out everywhere": every session and remembered device of the person ended.
    AllSessionsRevoked,
    /// "Remember this device": a device token was issued to the person (after a full MFA
    /// login), letting their next logins on that device skip the second factor.
    DeviceRemembered {
        /// When it stops working (unix seconds).
        expires_at: u64,
    },
    /// A remembered device stood in for the second factor at a login. (A refused device token
    /// is [`AuditKind::CredentialRejected`] with
    /// [`Factor::RememberedDevice`](crate::policy::factors::Factor::RememberedDevice).)
    DeviceTokenUsed,
    /// The organisation allowed or forbade remembered devices.
    RememberDevicesSet {
        /// Whether they are allowed now.
        allowed: bool,
    },
    /// The person's security epoch moved on (a password change or reset, MFA on or off, a factor
    /// added or removed, a deactivation, "sign out everywhere"): every session and remembered
    /// device at an older epoch is dead.
    SecurityEpochBumped {
        /// The new epoch.
        epoch: u64,
    },
    /// A forgotten-password link was asked for (the subject is the person, if the login is
    /// theirs).
    PasswordResetRequested {
        /// What became of it.
        outcome: ResetRequest,
    },
    /// The password was reset through a forgotten-password link.
    PasswordReset,
    /// A link verifying the person's address (or a new one) was sent.
    AddressVerificationSent,
    /// The person's address was verified (a verification link, or a setup link completed).
    AddressVerified,
    /// A change of the person's address to a new one was asked for; it counts once verified.
    AddressChangeRequested,
    /// The person's login changed to their new, verified address.
    AddressChanged,
    /// A verified change of address was refused: another person holds the new address now.
    AddressChangeRefused,
    /// A passkey or security key was registered as a second factor of the person.
    #[cfg(feature = "passkeys")]
    PasskeyRegistered {
        /// Whether it may be synced to other devices (WebAuthn flag BE).
        backup_eligible: bool,
    },
    /// A passkey registration was refused: no live ceremony, a response that does not verify,
    /// or a credential id already registered (to this person or another).
    #[cfg(feature = "passkeys")]
    PasskeyRegistrationRefused,
    /// A passkey assertion verified, but its signature counter did not move past the stored one
    /// (WebAuthn Level 3 §6.1.1): the authenticator may have been cloned. The login step was
    /// refused.
    #[cfg(feature = "passkeys")]
    PasskeyCounterRegressed,
    /// A passkey or security key of the person was removed: by the person, or with their other
    /// factors (an administrator's MFA reset, MFA turned off).
    #[cfg(feature = "passkeys")]
    PasskeyRemoved,
    /// A passwordless sign-in was refused before any person's counter was touched: no live
    /// attempt, a credential nobody holds, or a user handle that is not its owner's.
    #[cfg(feature = "passkeys")]
    PasswordlessRefused,
}

/// A login decision as recorded in the audit trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LoginOutcome {
    /// Denied.
    Denied(DenyReason),
    /// Sent to change the password.
    PasswordChangeRequired,
    /// Sent to enroll MFA.
    EnrollmentRequired {
        /// Whether enrolling was mandatory.
        mandatory: bool,
    },
    /// Asked for a second factor.
    SecondFactorRequired,
    /// The password is right and the person belongs to several organisations: asked to choose
    /// one ([`Authenticator::choose_organisation`](crate::service::Authenticator::choose_organisation)).
    OrganisationChoiceRequired,
    /// Allowed.
    Allowed {
        /// The assurance level reached.
        aal: Aal,
    },
}

/// Why a login is denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum DenyReason {
    /// The pending login is older than [`LoginProgress::MAX_AGE`](crate::policy::login::LoginProgress::MAX_AGE) (or from the future): start
    /// again from the password.
    Expired,
    /// The progress, account and membership do not describe the same person and organisation.
    Inconsistent,
    /// The account or the membership is deactivated.
    Deactivated,
    /// The account is locked.
    Locked,
    /// The person is not a member of the organisation.
    NotAMember,
}

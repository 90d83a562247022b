//! The policy core: enrollment, organisation MFA policy, roles and the login decision.
//!
//! Everything here is plain, synchronous data: the host loads a state, calls a transition with
//! `now` (and an RNG where a secret is made), and gets back a [`Transition`] holding the new state,
//! an outcome, and the [`AuditEvent`]s to record. The old state is never
//! modified, so on an error there is nothing to undo and nothing to persist.
//!
//! This layer may import [`credential`](crate::credential) and [`otp`](crate::otp) below it,
//! never the stores or the service. Inside it, `audit` names only the leaf vocabulary (`ids`,
//! `factors`, `roles`), so the modules that record events import it and it imports none of them.
//!
//! | module | idea |
//! |---|---|
//! | `ids` | who and where: [`PersonId`], [`OrgId`], [`AuthenticatorId`] |
//! | `factors` | sets of factor kinds and the password: [`SecondFactors`], [`Factor`], [`FactorSet`] |
//! | `enrollment` | one person's authenticator apps: [`Mfa`], [`Enrollment`], [`AuthenticatorApp`] |
//! | `phase` | the steps of the enrollment ceremony: [`EnrollmentPhase`] |
//! | `server_side` | [`ServerSideOnly`]: the only way a state holding a secret serialises |
//! | `org_policy` | a company's MFA policy and grace deadlines: [`MfaPolicy`], [`MfaSettings`] |
//! | `roles` | roles, permissions as data, members, their join paths and delegations |
//! | `organisation` | the member roster, its role-change rules and its MFA policy transitions: [`Organisation`] |
//! | `login` | the login decision and the [`Grant`] it yields |
//! | `mfa_reset` | an administrator's reset of a member's second factors: [`MfaResetAuthority`] |
//! | `session` | server-side sessions, their timeouts and the per-request decision: [`SessionRecord`], [`SessionView::check`] |
//! | `authorize` | the one authorisation check, [`authorize`] |
//! | `audit` | the audit events every transition returns: [`AuditEvent`] |
//! | `error` | [`PolicyError`] and [`AccessDenied`] |

use alloc::vec::Vec;

pub(crate) mod audit;
pub(crate) mod authorize;
pub(crate) mod enrollment;
pub(crate) mod error;
pub(crate) mod factors;
pub(crate) mod ids;
pub(crate) mod login;
pub(crate) mod mfa_reset;
pub(crate) mod org_policy;
pub(crate) mod organisation;
pub(crate) mod phase;
pub(crate) mod roles;
pub(crate) mod server_side;
pub(crate) mod session;

pub use audit::{
    Actor, AuditEvent, AuditKind, DenyReason, LoginOutcome, NotificationKind, ResetRequest,
};
pub use authorize::authorize;
pub use enrollment::{
    AcknowledgeOutcome, AuthenticatorApp, AuthenticatorName, ConfirmOutcome, DisableOutcome,
    Enrollment, EnrollmentConfig, EnrollmentConfigBuilder, EnrollmentPhase, EnrollmentPurpose,
    IssueOutcome, LoginCodeAccepted, Mfa, MfaError,
};
pub use error::{AccessDenied, PolicyError};
pub use factors::Aal;
pub use factors::{Factor, FactorSet, SecondFactors};
pub use ids::{AuthenticatorId, OrgId, ParseIdError, PersonId, SessionId};
pub use login::{
    Account, EnrollmentDemand, Grant, LoginDecision, LoginProgress, PasswordState, login_decision,
};
pub use mfa_reset::MfaResetAuthority;
pub use org_policy::{MAX_REMINDERS, MfaPolicy, MfaSettings, OrgStanding, RoleGrace};
pub use organisation::{Invitation, Organisation, OwnershipOffer};
pub use roles::{
    Action, Delegation, JoinPath, Member, Permission, Resource, Role, SENSITIVE_ACTION_MAX_AGE,
    Scope,
};
pub use server_side::ServerSideOnly;
pub use session::{
    DeviceTokenRecord, DeviceTokenView, ListedSession, SessionCheck, SessionConfig,
    SessionConfigBuilder, SessionLabels, SessionRecord, SessionRefused, SessionTouch, SessionView,
};

/// The result of a state transition: the new state, what happened, and the audit events.
///
/// The host must persist `state` (replacing the one it loaded — atomically, if two servers could
/// race on it) and record `events`. The state passed in is left untouched.
#[derive(Debug)]
#[must_use = "persist the new state and record the audit events"]
pub struct Transition<S, O = ()> {
    /// The state after the transition.
    pub state: S,
    /// What happened, for transitions that can end in more than one way.
    pub outcome: O,
    /// The audit events, in order. They never contain a secret or a code.
    pub events: Vec<AuditEvent>,
}

impl<S, O> Transition<S, O> {
    pub(crate) fn new(state: S, outcome: O, events: Vec<AuditEvent>) -> Self {
        Self {
            state,
            outcome,
            events,
        }
    }
}

//! Roles, permissions as data, members, delegations and the one authorisation check.

use crate::policy::ids::{OrgId, PersonId};

/// How long after its last verification a grant counts as fresh for sensitive actions (ownership
/// transfer, security policy): 15 minutes.
pub const SENSITIVE_ACTION_MAX_AGE: u64 = 15 * 60;

/// A member's role in an organisation, from least to most powerful (`User < Manager < Admin <
/// Owner`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Role {
    /// Sees and edits only their own jobs.
    User,
    /// All jobs and reports.
    Manager,
    /// Everything, including members and billing.
    Admin,
    /// The account holder: also the security policy and ownership transfer.
    Owner,
}

impl Role {
    /// Every role, from least to most powerful.
    pub const ALL: [Self; 4] = [Self::User, Self::Manager, Self::Admin, Self::Owner];

    /// The highest role a delegation can grant: ownership and the security policy are never
    /// delegated.
    pub const MAX_DELEGATED: Self = Self::Admin;

    /// What this role may do with a permission, read from the permission table.
    pub const fn scope(self, permission: Permission) -> Scope {
        let row = match self {
            Self::User => &TABLE[0],
            Self::Manager => &TABLE[1],
            Self::Admin => &TABLE[2],
            Self::Owner => &TABLE[3],
        };
        match permission {
            Permission::ViewJobs => row[0],
            Permission::EditJobs => row[1],
            Permission::ViewReports => row[2],
            Permission::ManageMembers => row[3],
            Permission::ManageBilling => row[4],
            Permission::ManageSettings => row[5],
            Permission::ManageSecurityPolicy => row[6],
            Permission::TransferOwnership => row[7],
        }
    }
}

use Scope::{All, None as No, Own};

/// The permission table, one row per role (in [`Role::ALL`] order), one column per permission (in
/// [`Permission::ALL`] order).
const TABLE: [[Scope; 8]; 4] = [
    [Own, Own, No, No, No, No, No, No],
    [All, All, All, No, No, No, No, No],
    [All, All, All, All, All, All, No, No],
    [All, All, All, All, All, All, All, All],
];

/// Something a member may be allowed to do.
///
/// The permission table (`Scope` per role and permission):
///
/// | permission | User | Manager | Admin | Owner |
/// |---|---|---|---|---|
/// | [`Permission::ViewJobs`], [`Permission::EditJobs`] | own | all | all | all |
/// | [`Permission::ViewReports`] | — | all | all | all |
/// | [`Permission::ManageMembers`], [`Permission::ManageBilling`], [`Permission::ManageSettings`] | — | — | all (AAL2) | all (AAL2) |
/// | [`Permission::ManageSecurityPolicy`], [`Permission::TransferOwnership`] | — | — | — | all (AAL2) |
///
/// Hosts map their own actions onto these permissions by implementing [`Action`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Permission {
    /// See jobs.
    ViewJobs,
    /// Create, change and delete jobs.
    EditJobs,
    /// See reports across the organisation.
    ViewReports,
    /// Add, remove, deactivate members and change their roles. Administrative: needs AAL2.
    ManageMembers,
    /// Billing and invoices. Administrative: needs AAL2.
    ManageBilling,
    /// Organisation settings. Administrative: needs AAL2.
    ManageSettings,
    /// The MFA policy and other security settings. Owner only, needs AAL2.
    ManageSecurityPolicy,
    /// Hand ownership to another member. Owner only, needs AAL2.
    TransferOwnership,
}

impl Permission {
    /// Every permission, in table order.
    pub const ALL: [Self; 8] = [
        Self::ViewJobs,
        Self::EditJobs,
        Self::ViewReports,
        Self::ManageMembers,
        Self::ManageBilling,
        Self::ManageSettings,
        Self::ManageSecurityPolicy,
        Self::TransferOwnership,
    ];

    /// Whether this is an administrative permission, which needs an AAL2 grant.
    pub const fn is_administrative(self) -> bool {
        matches!(
            self,
            Self::ManageMembers
                | Self::ManageBilling
                | Self::ManageSettings
                | Self::ManageSecurityPolicy
                | Self::TransferOwnership
        )
    }
}

/// How far a role's permission reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Scope {
    /// Not at all.
    None,
    /// Only resources the member owns.
    Own,
    /// Every resource of the organisation.
    All,
}

/// A host action, mapped onto the permission it needs.
///
/// ```
/// use authcore::policy::{Action, Permission};
///
/// enum MyAction { ExportInvoices, CancelJob }
///
/// impl Action for MyAction {
///     fn permission(&self) -> Permission {
///         match self {
///             Self::ExportInvoices => Permission::ManageBilling,
///             Self::CancelJob => Permission::EditJobs,
///         }
///     }
/// }
/// ```
pub trait Action {
    /// The permission this action needs.
    fn permission(&self) -> Permission;
}

impl Action for Permission {
    fn permission(&self) -> Permission {
        *self
    }
}

/// What an action is done to: it names its organisation and, if any, the person who owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Resource {
    org: OrgId,
    owner: Option<PersonId>,
}

impl Resource {
    /// A resource of an organisation that no one person owns (settings, billing, reports).
    pub const fn of_org(org: OrgId) -> Self {
        Self { org, owner: None }
    }

    /// A resource owned by one member (for example their job).
    pub const fn owned_by(org: OrgId, owner: PersonId) -> Self {
        Self {
            org,
            owner: Some(owner),
        }
    }

    /// The organisation.
    pub const fn org(&self) -> OrgId {
        self.org
    }

    /// The owner, if any.
    pub const fn owner(&self) -> Option<PersonId> {
        self.owner
    }
}

/// How a member joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum JoinPath {
    /// They founded the organisation.
    Founder,
    /// An Admin or Owner added them directly (typically with a temporary password).
    Added,
    /// They accepted an invitation.
    Invitation,
    /// An Admin or Owner approved their request to join.
    AccessRequest,
}

/// A role granted to a member until a given time (cover for an absence), then lapsing by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Delegation {
    role: Role,
    until: u64,
    granted_by: PersonId,
    granted_at: u64,
}

impl Delegation {
    /// The longest delegation: 90 days.
    pub const MAX_LENGTH: u64 = 90 * 24 * 60 * 60;

    pub(crate) const fn new(role: Role, until: u64, granted_by: PersonId, granted_at: u64) -> Self {
        Self {
            role,
            until,
            granted_by,
            granted_at,
        }
    }

    /// The delegated role.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// When it lapses (unix seconds): it applies while `now < until`.
    pub const fn until(&self) -> u64 {
        self.until
    }

    /// Who granted it.
    pub const fn granted_by(&self) -> PersonId {
        self.granted_by
    }

    /// When it was granted.
    pub const fn granted_at(&self) -> u64 {
        self.granted_at
    }

    /// Whether it applies at `now`.
    pub const fn is_current(&self, now: u64) -> bool {
        now < self.until
    }

    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    fn check(&self, person: PersonId, base: Role) -> Result<(), &'static str> {
        let length = self.until.checked_sub(self.granted_at);
        if self.role > Role::MAX_DELEGATED || self.role <= base {
            Err("a delegation must raise the role, to at most Admin")
        } else if self.granted_by == person {
            Err("a delegation granted to oneself")
        } else if !matches!(length, Some(1..=Self::MAX_LENGTH)) {
            Err("a delegation's length is out of range")
        } else {
            Ok(())
        }
    }
}

/// One person's membership of one organisation.
///
/// Created and changed only through [`crate::policy::organisation::Organisation`]'s transitions (or decoded, checked,
/// from storage). A person in several organisations has one `Member` in each, and each
/// organisation's policy applies when they sign in to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "MemberRepr")
)]
pub struct Member {
    person: PersonId,
    org: OrgId,
    role: Role,
    joined_at: u64,
    path: JoinPath,
    deactivated_at: Option<u64>,
    mfa_subject_since: Option<u64>,
    mfa_deadline: Option<u64>,
    mfa_reminded: Option<u64>,
    delegation: Option<Delegation>,
}

impl Member {
    pub(crate) const fn new(
        person: PersonId,
        org: OrgId,
        role: Role,
        path: JoinPath,
        now: u64,
    ) -> Self {
        Self {
            person,
            org,
            role,
            joined_at: now,
            path,
            deactivated_at: None,
            mfa_subject_since: None,
            mfa_deadline: None,
            mfa_reminded: None,
            delegation: None,
        }
    }

    /// The person.
    pub const fn person(&self) -> PersonId {
        self.person
    }

    /// The organisation.
    pub const fn org(&self) -> OrgId {
        self.org
    }

    /// The member's own role, without any delegation.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The role in force at `now`: a current delegation's role if it is higher, else the own role.
    pub fn effective_role(&self, now: u64) -> Role {
        match self.delegation {
            Some(delegation) if delegation.is_current(now) && delegation.role > self.role => {
                delegation.role
            }
            _ => self.role,
        }
    }

    /// When they joined.
    pub const fn joined_at(&self) -> u64 {
        self.joined_at
    }

    /// How they joined.
    pub const fn path(&self) -> JoinPath {
        self.path
    }

    /// Whether the member is active (not deactivated).
    pub const fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }

    /// When the member was deactivated, if they are.
    pub const fn deactivated_at(&self) -> Option<u64> {
        self.deactivated_at
    }

    /// Since when the member is subject to the organisation's enforced MFA policy (`None` while
    /// the policy does not enforce).
    pub const fn mfa_subject_since(&self) -> Option<u64> {
        self.mfa_subject_since
    }

    /// The member's enrollment deadline while the policy enforces MFA: set when they become
    /// subject (that moment plus their role's grace period) and only ever moved earlier while
    /// they stay subject (see [`crate::policy::org_policy::MfaPolicy`]).
    pub const fn mfa_deadline(&self) -> Option<u64> {
        self.mfa_deadline
    }

    /// The last MFA reminder sent for the current deadline, as its lead time (seconds before
    /// the deadline); `None` if none was sent since the member became subject.
    pub const fn mfa_reminded(&self) -> Option<u64> {
        self.mfa_reminded
    }

    /// The delegation, if any (it may have lapsed: see [`Delegation::is_current`]).
    pub const fn delegation(&self) -> Option<&Delegation> {
        self.delegation.as_ref()
    }

    pub(crate) fn set_role(&mut self, role: Role) {
        self.role = role;
        if self.delegation.is_some_and(|d| d.role <= role) {
            self.delegation = None;
        }
    }

    pub(crate) fn set_deactivated(&mut self, at: Option<u64>) {
        self.deactivated_at = at;
    }

    /// Makes the member subject from `since` with `deadline`, or not subject (`None`); either
    /// way no reminder has been sent for it yet.
    pub(crate) fn set_mfa_subject(&mut self, subject: Option<(u64, u64)>) {
        self.mfa_subject_since = subject.map(|(since, _)| since);
        self.mfa_deadline = subject.map(|(_, deadline)| deadline);
        self.mfa_reminded = None;
    }

    /// Moves the deadline to `deadline` if that is earlier; whether it moved.
    pub(crate) fn tighten_mfa_deadline(&mut self, deadline: u64) -> bool {
        match self.mfa_deadline {
            Some(current) if current <= deadline => false,
            _ => {
                self.mfa_deadline = Some(deadline);
                true
            }
        }
    }

    pub(crate) fn set_mfa_reminded(&mut self, lead: Option<u64>) {
        self.mfa_reminded = lead;
    }

    /// Gives a member decoded from a state written before stored deadlines the deadline it
    /// had then: `since + grace`.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn fill_mfa_deadline(&mut self, grace: u64) {
        if let (Some(since), None) = (self.mfa_subject_since, self.mfa_deadline) {
            self.mfa_deadline = Some(since.saturating_add(grace));
        }
    }

    /// Whether the MFA subjection fields agree with each other.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn check_mfa_fields(&self) -> Result<(), &'static str> {
        if self.mfa_deadline.is_some() != self.mfa_subject_since.is_some() {
            return Err("an MFA deadline without subjection, or subjection without one");
        }
        if self.mfa_reminded.is_some() && self.mfa_deadline.is_none() {
            return Err("an MFA reminder without a deadline");
        }
        Ok(())
    }

    pub(crate) fn set_delegation(&mut self, delegation: Option<Delegation>) {
        self.delegation = delegation;
    }

    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        match &self.delegation {
            Some(delegation) => delegation.check(self.person, self.role),
            None => Ok(()),
        }
    }
}

/// The stored form of a [`Member`], checked before it becomes one.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct MemberRepr {
    person: PersonId,
    org: OrgId,
    role: Role,
    joined_at: u64,
    path: JoinPath,
    deactivated_at: Option<u64>,
    mfa_subject_since: Option<u64>,
    /// Absent from states written before stored deadlines: filled in from the policy by the
    /// organisation's decoding.
    #[serde(default)]
    mfa_deadline: Option<u64>,
    #[serde(default)]
    mfa_reminded: Option<u64>,
    delegation: Option<Delegation>,
}

#[cfg(feature = "serde")]
impl TryFrom<MemberRepr> for Member {
    type Error = crate::policy::error::PolicyError;

    fn try_from(repr: MemberRepr) -> Result<Self, Self::Error> {
        let member = Self {
            person: repr.person,
            org: repr.org,
            role: repr.role,
            joined_at: repr.joined_at,
            path: repr.path,
            deactivated_at: repr.deactivated_at,
            mfa_subject_since: repr.mfa_subject_since,
            mfa_deadline: repr.mfa_deadline,
            mfa_reminded: repr.mfa_reminded,
            delegation: repr.delegation,
        };
        member
            .check()
            .map_err(crate::policy::error::PolicyError::InvalidState)?;
        Ok(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_monotone_in_role() {
        for pair in Role::ALL.windows(2) {
            for permission in Permission::ALL {
                let rank = |scope| match scope {
                    Scope::None => 0,
                    Scope::Own => 1,
                    Scope::All => 2,
                };
                assert!(rank(pair[0].scope(permission)) <= rank(pair[1].scope(permission)));
            }
        }
    }

    #[test]
    fn delegation_lapses() {
        let mut member = Member::new(
            PersonId::new(1),
            OrgId::new(1),
            Role::User,
            JoinPath::Invitation,
            0,
        );
        member.set_delegation(Some(Delegation::new(Role::Admin, 100, PersonId::new(2), 0)));
        assert_eq!(member.check(), Ok(()));
        assert_eq!(member.effective_role(99), Role::Admin);
        assert_eq!(member.effective_role(100), Role::User);
        member.set_role(Role::Admin);
        assert!(member.delegation().is_none());
    }
}

//! Identifiers: a person, an organisation, one of a person's authenticators.

/// A person: one login, never shared. Hosts map their own user ids (integers or UUIDs) onto it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct PersonId(u128);

impl PersonId {
    /// Wraps a host's user id (a UUID fits: use `Uuid::as_u128`).
    pub const fn new(id: u128) -> Self {
        Self(id)
    }

    /// The host's id.
    pub const fn get(self) -> u128 {
        self.0
    }
}

/// An organisation (a company account): members with roles, one MFA policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct OrgId(u128);

impl OrgId {
    /// Wraps a host's organisation id.
    pub const fn new(id: u128) -> Self {
        Self(id)
    }

    /// The host's id.
    pub const fn get(self) -> u128 {
        self.0
    }
}

/// One authenticator (an app on one device) of one person, numbered from 1 in enrollment order.
///
/// Ids are never reused within a person's [`crate::policy::enrollment::Mfa`] state, so an audit trail that names an
/// authenticator stays unambiguous after it is replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct AuthenticatorId(u32);

impl AuthenticatorId {
    /// Wraps a number, for example one a person picked in the host's interface.
    pub const fn new(id: u32) -> Self {
        Self(id)
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

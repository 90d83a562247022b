//! Reading the JSON states written before ids had a text form.
//!
//! Until then a [`PersonId`] or an [`OrgId`] serialised as a JSON number, so the `state` of an
//! `organisations` row and the `progress` of a `tickets` row written by an earlier version hold
//! numbers where the current form has 32 hexadecimal digits. Such a row still decodes: when the
//! current form does not, the text is read once more with these mirrors of the earlier form
//! (every id a number, everything else as it was and still is), written again in the current
//! form, and decoded from that through the public, checked path, so an earlier row passes
//! exactly the checks a current one does. The next write of the row stores the current form.
//!
//! Only the store reads the earlier form, and only from its own rows (whose tags are checked
//! first): [`PersonId`] and [`OrgId`] themselves accept nothing but their text form.

use crate::policy::factors::FactorSet;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::LoginProgress;
use crate::policy::org_policy::MfaPolicy;
use crate::policy::organisation::Organisation;
use crate::policy::roles::{JoinPath, Role};

/// A person id as a JSON number, written back in its text form.
#[derive(serde::Deserialize)]
#[serde(from = "u128")]
struct Person(PersonId);

impl From<u128> for Person {
    fn from(id: u128) -> Self {
        Self(PersonId::new(id))
    }
}

impl serde::Serialize for Person {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// An organisation id as a JSON number, written back in its text form.
#[derive(serde::Deserialize)]
#[serde(from = "u128")]
struct Org(OrgId);

impl From<u128> for Org {
    fn from(id: u128) -> Self {
        Self(OrgId::new(id))
    }
}

impl serde::Serialize for Org {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The earlier form of an [`Organisation`].
#[derive(serde::Serialize, serde::Deserialize)]
struct OrganisationV1 {
    id: Org,
    policy: MfaPolicy,
    members: alloc::vec::Vec<MemberV1>,
}

/// The earlier form of a [`crate::policy::roles::Member`].
#[derive(serde::Serialize, serde::Deserialize)]
struct MemberV1 {
    person: Person,
    org: Org,
    role: Role,
    joined_at: u64,
    path: JoinPath,
    deactivated_at: Option<u64>,
    mfa_subject_since: Option<u64>,
    delegation: Option<DelegationV1>,
}

/// The earlier form of a [`crate::policy::roles::Delegation`].
#[derive(serde::Serialize, serde::Deserialize)]
struct DelegationV1 {
    role: Role,
    until: u64,
    granted_by: Person,
    granted_at: u64,
}

/// The earlier form of a [`LoginProgress`].
#[derive(serde::Serialize, serde::Deserialize)]
struct LoginProgressV1 {
    person: Person,
    org: Org,
    started_at: u64,
    factors: FactorSet,
    enrollment_deferred: bool,
}

/// Reads `text` in the earlier form `E` and decodes it again, written in the current form, as `T`.
fn through<E, T>(text: &str) -> Option<T>
where
    E: serde::Serialize + serde::de::DeserializeOwned,
    T: serde::de::DeserializeOwned,
{
    let earlier: E = serde_json::from_str(text).ok()?;
    let current = serde_json::to_value(&earlier).ok()?;
    serde_json::from_value(current).ok()
}

/// A JSON state the stores keep in a column: its current form, and what they still read.
pub(crate) trait StoredJson: serde::de::DeserializeOwned {
    /// The state from `text` in a form an earlier version wrote, if it is one.
    fn from_earlier_form(text: &str) -> Option<Self>;
}

impl StoredJson for Organisation {
    fn from_earlier_form(text: &str) -> Option<Self> {
        through::<OrganisationV1, Self>(text)
    }
}

impl StoredJson for LoginProgress {
    fn from_earlier_form(text: &str) -> Option<Self> {
        through::<LoginProgressV1, Self>(text)
    }
}

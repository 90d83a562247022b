//! The names people give their authenticators: [`AuthenticatorName`].

use alloc::string::String;

use crate::policy::error::PolicyError;

/// The name a person gives an authenticator ("Phone", "Backup tablet"): 1 to 64 characters,
/// no control characters, surrounding spaces removed. Names are compared ignoring ASCII case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "String", into = "String")
)]
pub struct AuthenticatorName(String);

impl AuthenticatorName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Checks and wraps a name.
    pub fn new(name: &str) -> Result<Self, PolicyError> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || name.chars().any(char::is_control) {
            Err(PolicyError::InvalidName)
        } else {
            Ok(Self(String::from(name)))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(super) fn same_as(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl TryFrom<String> for AuthenticatorName {
    type Error = PolicyError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::new(&name)
    }
}

impl From<AuthenticatorName> for String {
    fn from(name: AuthenticatorName) -> Self {
        name.0
    }
}

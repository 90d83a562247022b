//! Identifiers: a person, an organisation, a session, one of a person's authenticators.
//!
//! Person, organisation and session ids have one fixed text form, 32 lowercase hexadecimal digits (see
//! [`PersonId`]).

use core::fmt;
use core::str::FromStr;

/// The length of the text form of a [`PersonId`] or an [`OrgId`]: 32 hexadecimal digits.
const TEXT_LEN: usize = 32;

/// Writes `id` as 32 lowercase hexadecimal digits.
fn write_id(id: u128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{id:032x}")
}

/// Reads exactly 32 lowercase hexadecimal digits.
fn parse_id(text: &str) -> Result<u128, ParseIdError> {
    if text.len() != TEXT_LEN {
        return Err(ParseIdError(()));
    }
    text.bytes().try_fold(0u128, |id, byte| {
        let digit = match byte {
            b'0'..=b'9' | b'a'..=b'f' => char::from(byte).to_digit(16),
            _ => None,
        }
        .ok_or(ParseIdError(()))?;
        Ok((id << 4) | u128::from(digit))
    })
}

/// A text that is not the text form of a [`PersonId`] or an [`OrgId`]: not exactly 32 lowercase
/// hexadecimal digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseIdError(());

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id is exactly 32 lowercase hexadecimal digits")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ParseIdError {}

/// The text form, `FromStr` and serialisation of a 128-bit id type.
macro_rules! text_id {
    ($id:ident, $what:literal) => {
        impl fmt::Display for $id {
            /// The 32 lowercase hexadecimal digits.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_id(self.0, f)
            }
        }

        impl FromStr for $id {
            type Err = ParseIdError;

            /// Exactly 32 lowercase hexadecimal digits, nothing else.
            fn from_str(text: &str) -> Result<Self, ParseIdError> {
                parse_id(text).map(Self)
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $id {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $id {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Text;

                impl serde::de::Visitor<'_> for Text {
                    type Value = $id;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!($what, " as 32 lowercase hexadecimal digits"))
                    }

                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$id, E> {
                        text.parse()
                            .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(text), &self))
                    }
                }

                deserializer.deserialize_str(Text)
            }
        }
    };
}

/// A person: one login, never shared. Hosts map their own user ids (integers or UUIDs) onto it.
///
/// # Text form
///
/// An id is 128 bits wide, more than a JSON number holds exactly (a JavaScript number keeps 53
/// bits), so its text form is fixed instead: exactly 32 lowercase hexadecimal digits, most
/// significant first, with no prefix, sign or whitespace (`PersonId::new(255)` is
/// `000000000000000000000000000000ff`). It is the simple form of a UUID. `Display` writes it;
/// `FromStr` and, with the `serde` feature, serialisation write and read only it: another
/// length, an uppercase digit, a sign, a prefix or whitespace is refused ([`ParseIdError`]), and
/// so is a JSON number.
///
/// ```
/// use authcore::PersonId;
///
/// let id = PersonId::new(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
/// assert_eq!(id.to_string(), "0123456789abcdef0011223344556677");
/// assert_eq!("0123456789abcdef0011223344556677".parse(), Ok(id));
/// assert!("0123456789ABCDEF0011223344556677".parse::<PersonId>().is_err());
/// assert!("ff".parse::<PersonId>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
///
/// Its text form is the one of [`PersonId`]: exactly 32 lowercase hexadecimal digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

text_id!(PersonId, "a person id");
/// A session's public handle: names it in a "where you're signed in" list and in
/// [`SessionStore::revoke_session`](crate::store::SessionStore::revoke_session), and stays the
/// same when the token rotates. It is not a credential: it signs nobody in. A [`Grant`] names
/// the session it is a view of.
///
/// Its text form is the one of [`PersonId`]: exactly 32 lowercase hexadecimal digits (for a
/// "sign out that device" form, say).
///
/// [`Grant`]: crate::policy::login::Grant
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u128);

impl SessionId {
    /// The session id `id` (random, from the service).
    pub const fn new(id: u128) -> Self {
        Self(id)
    }

    /// The number.
    pub const fn get(self) -> u128 {
        self.0
    }
}

text_id!(OrgId, "an organisation id");
text_id!(SessionId, "a session id");

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

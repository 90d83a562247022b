//! Rules for new passwords (NIST SP 800-63B §3.1.1.2): length, not composition; a blocklist.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::{Password, PasswordError, blocklist};

/// What a new password must satisfy, following NIST SP 800-63B: a minimum and maximum length in
/// Unicode code points (after NFC normalisation), not on the list of common passwords, not
/// containing context words, and whatever the host's own [`PasswordCheck`] adds.
///
/// There are deliberately no composition rules (no "one digit, one symbol"), no truncation and no
/// hints. Every printable character, spaces and emoji included, is allowed.
///
/// ```
/// use authcore::Password;
/// use authcore::credential::password::{ContextKind, PasswordContext, PasswordPolicy, PolicyViolation};
///
/// let policy = PasswordPolicy::with_mfa();
/// let context = PasswordContext::new().service_name("Acme Jobs").user_name("jdoe42");
/// assert_eq!(
///     policy.check(&Password::from("PASSWORD1"), &context),
///     Err(PolicyViolation::Common)
/// );
/// assert_eq!(
///     policy.check(&Password::from("jdoe42 rocks!"), &context),
///     Err(PolicyViolation::ContainsContextWord(ContextKind::UserName))
/// );
/// assert!(policy.check(&Password::from("plum kettle orbit"), &context).is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PasswordPolicy {
    min: usize,
    max: usize,
}

impl PasswordPolicy {
    /// The minimum length for a password that is one factor of several (MFA enforced), in code
    /// points (NIST SP 800-63B-4: 8).
    pub const MIN_LENGTH_WITH_MFA: usize = 8;
    /// The minimum length for a password that is the only factor, in code points (NIST
    /// SP 800-63B-4: 15).
    pub const MIN_LENGTH_PASSWORD_ONLY: usize = 15;
    /// The lowest maximum length a policy may set: at least 64 code points must be accepted.
    pub const MIN_MAX_LENGTH: usize = 64;
    /// The highest maximum length, and the default, in code points. It bounds the input to the
    /// hash (at most 1 KiB of UTF-8), and [`crate::credential::password::hash::PasswordHasher`] refuses longer passwords.
    pub const MAX_LENGTH_LIMIT: usize = 256;
    /// Context words (and the parts of them between punctuation) shorter than this many code
    /// points are ignored, so a short user name such as `al` does not forbid every password
    /// containing those letters.
    pub const MIN_CONTEXT_WORD_LENGTH: usize = 4;

    /// The policy for accounts whose logins always need a second factor: at least 8 code points.
    pub const fn with_mfa() -> Self {
        Self {
            min: Self::MIN_LENGTH_WITH_MFA,
            max: Self::MAX_LENGTH_LIMIT,
        }
    }

    /// The policy for accounts where the password is the only factor: at least 15 code points.
    /// This is also the default.
    pub const fn password_only() -> Self {
        Self {
            min: Self::MIN_LENGTH_PASSWORD_ONLY,
            max: Self::MAX_LENGTH_LIMIT,
        }
    }

    /// The policy for an account, by whether MFA is enforced for it.
    pub const fn for_account(mfa_enforced: bool) -> Self {
        if mfa_enforced {
            Self::with_mfa()
        } else {
            Self::password_only()
        }
    }

    /// A policy with explicit bounds, in code points: `min` at least 8 and at most `max`
    /// ([`PasswordError::MinLength`]); `max` between 64 and 256 ([`PasswordError::MaxLength`]).
    pub fn new(min: usize, max: usize) -> Result<Self, PasswordError> {
        if !(Self::MIN_MAX_LENGTH..=Self::MAX_LENGTH_LIMIT).contains(&max) {
            return Err(PasswordError::MaxLength);
        }
        if !(Self::MIN_LENGTH_WITH_MFA..=max).contains(&min) {
            return Err(PasswordError::MinLength);
        }
        Ok(Self { min, max })
    }

    /// The minimum length, in code points.
    pub fn min_length(&self) -> usize {
        self.min
    }

    /// The maximum length, in code points.
    pub fn max_length(&self) -> usize {
        self.max
    }

    /// Checks a new password. Returns the first rule it breaks, checked in this order: length,
    /// the common-password list, the context words, then the context's extra check (so a slow
    /// host check only runs for passwords that pass everything else).
    ///
    /// The common-password list is compared against the whole password, case-insensitively.
    /// Context words are compared case-insensitively as substrings; see [`PasswordContext`].
    pub fn check(
        &self,
        password: &Password,
        context: &PasswordContext<'_>,
    ) -> Result<(), PolicyViolation> {
        let length = password.char_count();
        if length < self.min {
            return Err(PolicyViolation::TooShort {
                min: self.min,
                length,
            });
        }
        if length > self.max {
            return Err(PolicyViolation::TooLong {
                max: self.max,
                length,
            });
        }
        let lowercase = Zeroizing::new(password.expose_secret().to_lowercase());
        if blocklist::contains(&lowercase) {
            return Err(PolicyViolation::Common);
        }
        for (kind, word) in &context.words {
            if contains_word(&lowercase, *kind, word) {
                return Err(PolicyViolation::ContainsContextWord(*kind));
            }
        }
        match context.extra {
            Some(extra) => extra.check(password),
            None => Ok(()),
        }
    }
}

impl Default for PasswordPolicy {
    /// [`PasswordPolicy::password_only`].
    fn default() -> Self {
        Self::password_only()
    }
}

/// Whether `password` (lower-cased) contains `word` or one of its parts.
fn contains_word(password: &str, kind: ContextKind, word: &str) -> bool {
    let word: String = word.nfc().collect::<String>().to_lowercase();
    let word = match kind {
        ContextKind::Email => word
            .rsplit_once('@')
            .map_or(word.as_str(), |(local, _)| local),
        _ => word.as_str(),
    };
    let long_enough = |part: &&str| part.chars().count() >= PasswordPolicy::MIN_CONTEXT_WORD_LENGTH;
    core::iter::once(word.trim())
        .chain(word.split(|c: char| !c.is_alphanumeric()))
        .filter(long_enough)
        .any(|part| password.contains(part))
}

/// Words a password must not contain: the service name, the user's name, the e-mail address
/// (its local part), and anything else specific to the context; plus an optional extra check.
///
/// Each word is compared case-insensitively after NFC normalisation, as a whole and in the parts
/// between characters that are not letters or digits. Words and parts shorter than
/// [`PasswordPolicy::MIN_CONTEXT_WORD_LENGTH`] code points are ignored: the address
/// `jane.doe@example.com` forbids passwords containing `jane.doe` or `jane`, but not `doe`.
#[derive(Default)]
pub struct PasswordContext<'a> {
    words: Vec<(ContextKind, &'a str)>,
    extra: Option<&'a dyn PasswordCheck>,
}

impl<'a> PasswordContext<'a> {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name of the service or product.
    #[must_use]
    pub fn service_name(self, name: &'a str) -> Self {
        self.word_of(ContextKind::ServiceName, name)
    }

    /// The account's user name (or display name).
    #[must_use]
    pub fn user_name(self, name: &'a str) -> Self {
        self.word_of(ContextKind::UserName, name)
    }

    /// The account's e-mail address: the local part (before the last `@`) is used.
    #[must_use]
    pub fn email(self, address: &'a str) -> Self {
        self.word_of(ContextKind::Email, address)
    }

    /// Any other word specific to the context (a company name, a product line).
    #[must_use]
    pub fn word(self, word: &'a str) -> Self {
        self.word_of(ContextKind::Other, word)
    }

    /// A check of the host's own, run after the built-in rules (see [`PasswordCheck`]).
    #[must_use]
    pub fn extra_check(mut self, check: &'a dyn PasswordCheck) -> Self {
        self.extra = Some(check);
        self
    }

    fn word_of(mut self, kind: ContextKind, word: &'a str) -> Self {
        self.words.push((kind, word));
        self
    }
}

impl fmt::Debug for PasswordContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordContext")
            .field("words", &self.words)
            .field("extra_check", &self.extra.is_some())
            .finish()
    }
}

/// Which context word a password contained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextKind {
    /// The service or product name.
    ServiceName,
    /// The user name.
    UserName,
    /// The e-mail address's local part.
    Email,
    /// Another context word.
    Other,
}

/// A check the host adds to the policy: for example a look-up in a breached-password corpus
/// (NIST SP 800-63B asks for "passwords obtained from previous breach corpuses" to be refused).
///
/// The check is synchronous, as this crate's core is. A check that needs the network (a
/// k-anonymity range query, say) belongs in the host's async service layer, run before or after
/// [`PasswordPolicy::check`]; or it can be wrapped here if the host accepts blocking. Deciding
/// whether an unreachable service passes or fails the password is the host's choice.
///
/// Closures `Fn(&Password) -> Result<(), PolicyViolation>` implement it.
pub trait PasswordCheck: Sync {
    /// Checks an NFC-normalised password that already meets the built-in rules. Return
    /// [`PolicyViolation::Breached`], or [`PolicyViolation::Host`] with a stable reason key.
    fn check(&self, password: &Password) -> Result<(), PolicyViolation>;
}

impl<F> PasswordCheck for F
where
    F: Fn(&Password) -> Result<(), PolicyViolation> + Sync,
{
    fn check(&self, password: &Password) -> Result<(), PolicyViolation> {
        self(password)
    }
}

/// Why a new password was refused. Safe to show to the person choosing it; never contains the
/// password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Fewer code points than the minimum.
    TooShort {
        /// The minimum, in code points.
        min: usize,
        /// The password's length, in code points.
        length: usize,
    },
    /// More code points than the maximum.
    TooLong {
        /// The maximum, in code points.
        max: usize,
        /// The password's length, in code points.
        length: usize,
    },
    /// The password is on the list of commonly used passwords.
    Common,
    /// The password contains a context word: the service name, the user name, the e-mail address,
    /// or another word from the [`PasswordContext`].
    ContainsContextWord(ContextKind),
    /// A host check found the password in a breach corpus.
    Breached,
    /// A host check refused the password; `reason` is the host's own stable key (for example to
    /// look up a translated message).
    Host {
        /// The host's reason key.
        reason: &'static str,
    },
    /// The new password is the temporary password it replaces.
    SameAsTemporary,
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min, .. } => {
                write!(f, "the password must be at least {min} characters long")
            }
            Self::TooLong { max, .. } => {
                write!(f, "the password must be at most {max} characters long")
            }
            Self::Common => f.write_str("the password is too common"),
            Self::ContainsContextWord(kind) => f.write_str(match kind {
                ContextKind::ServiceName => "the password must not contain the service name",
                ContextKind::UserName => "the password must not contain the user name",
                ContextKind::Email => "the password must not contain the e-mail address",
                ContextKind::Other => "the password must not contain a word from this context",
            }),
            Self::Breached => f.write_str("the password has appeared in a data breach"),
            Self::Host { reason } => write!(f, "the password was refused ({reason})"),
            Self::SameAsTemporary => {
                f.write_str("the new password must differ from the temporary password")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PolicyViolation {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn bounds() {
        assert_eq!(PasswordPolicy::default(), PasswordPolicy::password_only());
        assert_eq!(PasswordPolicy::with_mfa().min_length(), 8);
        assert_eq!(PasswordPolicy::password_only().min_length(), 15);
        assert_eq!(PasswordPolicy::for_account(true).min_length(), 8);
        assert_eq!(PasswordPolicy::for_account(false).min_length(), 15);
        assert_eq!(PasswordPolicy::default().max_length(), 256);
        assert!(PasswordPolicy::new(8, 64).is_ok());
        assert!(PasswordPolicy::new(64, 64).is_ok());
        assert_eq!(PasswordPolicy::new(7, 64), Err(PasswordError::MinLength));
        assert_eq!(PasswordPolicy::new(65, 64), Err(PasswordError::MinLength));
        assert_eq!(PasswordPolicy::new(8, 63), Err(PasswordError::MaxLength));
        assert_eq!(PasswordPolicy::new(8, 257), Err(PasswordError::MaxLength));
    }

    #[test]
    fn context_word_parts() {
        assert!(contains_word(
            "xxjanexx",
            ContextKind::Email,
            "Jane.Doe@example.com"
        ));
        assert!(contains_word(
            "jane.doe!",
            ContextKind::Email,
            "Jane.Doe@example.com"
        ));
        // "doe" and "example" (domain) are not used: too short / not the local part.
        assert!(!contains_word(
            "doe doe doe",
            ContextKind::Email,
            "Jane.Doe@example.com"
        ));
        assert!(!contains_word(
            "example",
            ContextKind::Email,
            "Jane.Doe@example.com"
        ));
        assert!(contains_word(
            "i love acme",
            ContextKind::ServiceName,
            "ACME"
        ));
        assert!(!contains_word(
            "bob's burgers",
            ContextKind::UserName,
            "bob"
        ));
        assert!(contains_word(
            "café au lait",
            ContextKind::Other,
            "CAFE\u{301}"
        ));
        assert!(!contains_word("anything", ContextKind::Other, ""));
    }

    #[test]
    fn messages_name_no_password() {
        let shown = PolicyViolation::TooShort { min: 15, length: 3 }.to_string();
        assert_eq!(shown, "the password must be at least 15 characters long");
        assert_eq!(
            PolicyViolation::ContainsContextWord(ContextKind::UserName).to_string(),
            "the password must not contain the user name"
        );
    }
}

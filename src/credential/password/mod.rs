//! Passwords: argon2id hashing in PHC strings, a NIST SP 800-63B policy, temporary passwords.
//!
//! - [`Password`] holds a candidate password, NFC-normalised, wiped on drop.
//! - [`PasswordHasher`] hashes to PHC strings with argon2id (RFC 9106), verifies in constant time,
//!   says when a stored hash should be replaced, runs an equal-cost dummy verification for unknown
//!   accounts, and applies an optional, rotatable pepper.
//! - [`PasswordPolicy`] checks a new password: length in code points, a built-in list of common
//!   passwords, context words, and an optional host check ([`PasswordCheck`]).
//! - [`BreachQuery`] looks a password up in a breach corpus by k-anonymity (a SHA-1 prefix range
//!   query, [`BreachCorpus`]): offline over a local file ([`RangeFile`], [`RangeDirectory`]) or
//!   the built-in list ([`CommonPasswords`]).
//! - [`TemporaryPassword`] and [`TemporaryCredential`] serve the "an admin adds a user" story.
//!
//! Everything here is available without `std` (with `alloc`); only the conveniences that draw from
//! the operating system's random number generator need the `std` feature.

pub(crate) mod argon2_memory;
pub(crate) mod blocklist;
pub(crate) mod breach;
pub(crate) mod hash;
pub(crate) mod policy;
#[cfg(feature = "std")]
pub(crate) mod range_file;
pub(crate) mod temporary;

use alloc::string::String;
use core::fmt;

use unicode_normalization::{UnicodeNormalization, is_nfc};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use breach::{
    BreachCorpus, BreachError, BreachQuery, BreachRange, CommonPasswords, RangePrefix, breach_count,
};
pub use hash::{
    HashParams, PasswordHash, PasswordHasher, PasswordHasherBuilder, PasswordVerified, Pepper,
    PepperId, RehashReason, VerifyError,
};
pub use policy::{ContextKind, PasswordCheck, PasswordContext, PasswordPolicy, PolicyViolation};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use range_file::{RangeDirectory, RangeFile};
pub use temporary::{MustChangePassword, NewPasswordError, TemporaryCredential, TemporaryPassword};

/// A password, as typed by a person or generated for them.
///
/// The text is normalised to Unicode NFC when the value is built, so a password typed on a system
/// that composes `é` (U+00E9) and one that decomposes it (`e` + U+0301) hash, verify and count the
/// same. Nothing else is changed: no trimming, no case folding, no truncation.
///
/// Wiped from memory on drop; `Debug` prints a redaction; no `Display`, `Clone` or `Serialize`.
/// The text is reachable only through [`Password::expose_secret`]. (Buffers inside the
/// normalisation iterator are not wiped; hosts should also bound the size of request bodies, since
/// normalising is linear in the input.)
pub struct Password {
    text: Zeroizing<String>,
}

impl Password {
    /// Wraps a password, normalising it to NFC. The original `String` is wiped if normalisation
    /// had to build a new one.
    pub fn new(text: String) -> Self {
        let mut text = Zeroizing::new(text);
        if !is_nfc(&text) {
            // NFC grows UTF-8 text at most threefold: reserving that up front means the
            // normalised copy is never reallocated, leaving no stray copies behind.
            let mut normalised =
                Zeroizing::new(String::with_capacity(text.len().saturating_mul(3)));
            normalised.extend(text.nfc());
            text.zeroize();
            text = normalised;
        }
        Self { text }
    }

    /// The NFC-normalised password.
    pub fn expose_secret(&self) -> &str {
        &self.text
    }

    /// The length in Unicode code points (after NFC normalisation), the unit every length rule in
    /// this module uses.
    pub fn char_count(&self) -> usize {
        self.text.chars().count()
    }
}

impl From<&str> for Password {
    fn from(text: &str) -> Self {
        Self::new(String::from(text))
    }
}

impl From<String> for Password {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

impl ZeroizeOnDrop for Password {}

/// Why a password operation could not run: configuration mistakes and unusable stored hashes.
///
/// These are for developers and operators (log them, alert on them). They never say anything about
/// whether a presented password was right, and never contain a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordError {
    /// The argon2 parameters are below the OWASP / ASVS 5 minimum (t=1 needs m ≥ 47104 KiB, t=2
    /// needs m ≥ 19456 KiB, t ≥ 3 needs m ≥ 12288 KiB). Tests may use
    /// [`HashParams::dangerous_weak`].
    WeakParams,
    /// The argon2 parameters are outside what argon2 accepts (t ≥ 1, 1 ≤ p < 2^24, m ≥ 8·p KiB).
    InvalidParams,
    /// The limit on stored hash costs is below the parameters used for new hashes.
    CeilingBelowParams,
    /// A pepper key is shorter than [`Pepper::MIN_LEN`] or longer than [`Pepper::MAX_LEN`] bytes.
    PepperLength,
    /// A pepper id is empty or longer than [`PepperId::MAX_LEN`] bytes.
    PepperId,
    /// Two peppers were given the same id.
    DuplicatePepper,
    /// A pepper id (the current one, or the `keyid` of a stored hash) names no known pepper.
    UnknownPepper,
    /// The password is longer than [`PasswordPolicy::MAX_LENGTH_LIMIT`] code points, the bound
    /// that keeps hashing cost fixed.
    TooLong,
    /// The stored hash is not a well-formed argon2 PHC string.
    MalformedHash,
    /// The stored hash names an algorithm or version other than argon2id, argon2i or argon2d
    /// version 16 or 19.
    UnsupportedAlgorithm,
    /// The stored hash asks for more memory, time or lanes than the configured ceiling, so it is
    /// not computed (this bounds the work a tampered stored hash can cause).
    CostAboveCeiling,
    /// A temporary-password hash was presented where a long-term one was expected, or the reverse.
    WrongHashKind,
    /// argon2 failed to run (for example, it could not allocate its memory).
    Hashing,
    /// A policy's minimum length is below 8 or above its maximum length.
    MinLength,
    /// A policy's maximum length is below 64 or above [`PasswordPolicy::MAX_LENGTH_LIMIT`].
    MaxLength,
    /// A temporary password's lifetime is zero or longer than [`TemporaryPassword::MAX_TTL`].
    Ttl,
    /// Every generated temporary password was refused by the policy (a context word or a host
    /// check refuses them all).
    GenerationRejected,
    /// The random number generator failed.
    Random,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WeakParams => f.write_str(
                "argon2 parameters below the OWASP/ASVS minimum \
                 (t=1: m>=47104 KiB; t=2: m>=19456 KiB; t>=3: m>=12288 KiB)",
            ),
            Self::InvalidParams => {
                f.write_str("argon2 parameters out of range (t >= 1, 1 <= p < 2^24, m >= 8*p KiB)")
            }
            Self::CeilingBelowParams => {
                f.write_str("the stored-hash cost ceiling is below the hashing parameters")
            }
            Self::PepperLength => write!(
                f,
                "a pepper must be {} to {} bytes long",
                Pepper::MIN_LEN,
                Pepper::MAX_LEN
            ),
            Self::PepperId => write!(f, "a pepper id must be 1 to {} bytes", PepperId::MAX_LEN),
            Self::DuplicatePepper => f.write_str("two peppers have the same id"),
            Self::UnknownPepper => f.write_str("no pepper is known under this id"),
            Self::TooLong => write!(
                f,
                "the password is longer than {} code points",
                PasswordPolicy::MAX_LENGTH_LIMIT
            ),
            Self::MalformedHash => f.write_str("the stored hash is not a valid argon2 PHC string"),
            Self::UnsupportedAlgorithm => {
                f.write_str("the stored hash uses an unsupported algorithm or version")
            }
            Self::CostAboveCeiling => {
                f.write_str("the stored hash's cost is above the configured ceiling")
            }
            Self::WrongHashKind => f.write_str(
                "a temporary-password hash where a long-term one was expected, or the reverse",
            ),
            Self::Hashing => f.write_str("argon2 failed to run"),
            Self::MinLength => f.write_str(
                "the minimum password length must be at least 8 and at most the maximum",
            ),
            Self::MaxLength => write!(
                f,
                "the maximum password length must be between 64 and {}",
                PasswordPolicy::MAX_LENGTH_LIMIT
            ),
            Self::Ttl => write!(
                f,
                "a temporary password must live between 1 and {} seconds",
                TemporaryPassword::MAX_TTL
            ),
            Self::GenerationRejected => {
                f.write_str("the policy refused every generated temporary password")
            }
            Self::Random => f.write_str("the random number generator failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PasswordError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn normalises_to_nfc() {
        let composed = Password::from("caf\u{e9}");
        let decomposed = Password::from("cafe\u{301}");
        assert_eq!(composed.expose_secret(), decomposed.expose_secret());
        assert_eq!(decomposed.expose_secret(), "caf\u{e9}");
        assert_eq!(decomposed.char_count(), 4);
    }

    #[test]
    fn keeps_everything_else() {
        let password = Password::from("  Tab\there  ");
        assert_eq!(password.expose_secret(), "  Tab\there  ");
        assert_eq!(password.char_count(), 12);
    }

    #[test]
    fn debug_is_redacted() {
        let password = Password::from("hunter2hunter2");
        let shown = format!("{password:?}");
        assert!(!shown.contains("hunter"));
        assert!(shown.contains("REDACTED"));
    }
}

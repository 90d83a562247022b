//! Temporary passwords for the "an admin adds a user" story.
//!
//! The admin's tool generates a [`TemporaryPassword`], shows it once (or hands it to the host's
//! setup e-mail), and stores its [`TemporaryCredential`]: a hash marked as temporary, and an
//! expiry. Signing in with it yields only [`MustChangePassword`]; the new password must meet the
//! policy and differ from the temporary one ([`TemporaryCredential::check_new_password`]), and
//! then replaces the credential with an ordinary hash.

use alloc::string::String;
use core::fmt;

use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use super::hash::HashKind;
use super::{
    Password, PasswordContext, PasswordError, PasswordHasher, PasswordPolicy, PolicyViolation,
    VerifyError,
};

/// The 32 symbols of generated passwords: digits and lower-case letters without `0`, `1`, `l`
/// and `o`, so nothing is confused when read aloud or copied by hand (and there is no upper case
/// to misread: no `O` or `I`).
const ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";

/// The shortest generated password, in characters: 16 symbols (80 bits) in four groups.
const MIN_GENERATED_LENGTH: usize = 19;

/// How many generated passwords may be refused by the policy before giving up.
const ATTEMPTS: usize = 8;

/// A generated temporary password, to show once.
///
/// Groups of four symbols from a 32-symbol alphabet, separated by `-` (which is part of the
/// password), for example `k7qm-x3vd-9hrt-wp2j`: 16 random symbols (80 bits) at least, and longer
/// when the policy's minimum length needs it. It meets the policy it was generated for.
///
/// Wiped on drop; `Debug` prints a redaction; read it with
/// [`TemporaryPassword::expose_secret`].
pub struct TemporaryPassword {
    password: Password,
    expires_at: u64,
}

impl TemporaryPassword {
    /// The default lifetime: 72 hours, in seconds.
    pub const DEFAULT_TTL: u64 = 72 * 60 * 60;
    /// The longest lifetime accepted: 30 days, in seconds.
    pub const MAX_TTL: u64 = 30 * 24 * 60 * 60;

    /// Generates a temporary password from the operating system's CSPRNG, valid for
    /// [`Self::DEFAULT_TTL`] from `now` (unix seconds).
    #[cfg(feature = "std")]
    pub fn generate(
        policy: &PasswordPolicy,
        context: &PasswordContext<'_>,
        now: u64,
    ) -> Result<Self, PasswordError> {
        Self::generate_with_rng(
            &mut getrandom::SysRng,
            policy,
            context,
            now,
            Self::DEFAULT_TTL,
        )
    }

    /// Generates a temporary password from a caller-supplied CSPRNG, valid for `ttl` seconds
    /// (1 to [`Self::MAX_TTL`]) from `now`.
    ///
    /// The password is checked against `policy` and `context` (the new user's name and e-mail
    /// address, say); one that breaks a rule is replaced by another, and
    /// [`PasswordError::GenerationRejected`] means several in a row were refused.
    pub fn generate_with_rng<R: TryCryptoRng + ?Sized>(
        rng: &mut R,
        policy: &PasswordPolicy,
        context: &PasswordContext<'_>,
        now: u64,
        ttl: u64,
    ) -> Result<Self, PasswordError> {
        if ttl == 0 || ttl > Self::MAX_TTL {
            return Err(PasswordError::Ttl);
        }
        let expires_at = now.checked_add(ttl).ok_or(PasswordError::Ttl)?;
        let length = policy.min_length().max(MIN_GENERATED_LENGTH);
        for _ in 0..ATTEMPTS {
            let password = grouped(rng, length)?;
            if policy.check(&password, context).is_ok() {
                return Ok(Self {
                    password,
                    expires_at,
                });
            }
        }
        Err(PasswordError::GenerationRejected)
    }

    /// The password.
    pub fn password(&self) -> &Password {
        &self.password
    }

    /// The password text.
    pub fn expose_secret(&self) -> &str {
        self.password.expose_secret()
    }

    /// When it stops working, in unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Hashes it (salt from the operating system's CSPRNG) into the credential to store.
    #[cfg(feature = "std")]
    pub fn hash(&self, hasher: &PasswordHasher) -> Result<TemporaryCredential, PasswordError> {
        self.hash_with_rng(&mut getrandom::SysRng, hasher)
    }

    /// Hashes it (salt from a caller-supplied CSPRNG) into the credential to store.
    pub fn hash_with_rng<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        hasher: &PasswordHasher,
    ) -> Result<TemporaryCredential, PasswordError> {
        let hash = hasher.hash_kind(rng, &self.password, HashKind::Temporary)?;
        Ok(TemporaryCredential {
            hash: hash.into_string(),
            expires_at: self.expires_at,
        })
    }
}

impl fmt::Debug for TemporaryPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryPassword")
            .field("password", &self.password)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `length` characters: symbols from [`ALPHABET`], with a `-` after every fourth (never last).
fn grouped<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
    length: usize,
) -> Result<Password, PasswordError> {
    let mut random = Zeroizing::new(alloc::vec![0u8; length]);
    rng.try_fill_bytes(&mut random)
        .map_err(|_| PasswordError::Random)?;
    let mut text = Zeroizing::new(String::with_capacity(length));
    for (i, byte) in random.iter().enumerate() {
        if i % 5 == 4 && i.saturating_add(1) != length {
            text.push('-');
        } else {
            // 256 is a multiple of 32: taking the low five bits is unbiased.
            let symbol = ALPHABET
                .get(usize::from(byte & 31))
                .copied()
                .unwrap_or(b'a');
            text.push(char::from(symbol));
        }
    }
    Ok(Password::new(core::mem::take(&mut *text)))
}

/// What the host stores for a temporary password: its hash (a PHC string whose argon2
/// associated data marks it as temporary, so [`PasswordHasher::verify`] refuses it as a long-term
/// password hash) and its expiry. It is not the person's password: signing in with it only
/// allows choosing one.
#[must_use = "store the hash and the expiry"]
pub struct TemporaryCredential {
    hash: String,
    expires_at: u64,
}

impl TemporaryCredential {
    /// Rebuilds a credential from storage.
    pub fn new(hash: String, expires_at: u64) -> Self {
        Self { hash, expires_at }
    }

    /// The PHC string to store.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// When it stops working, in unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether it has expired at `now` (unix seconds).
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// Signs in with the temporary password at `now`.
    ///
    /// On success the only thing the session may do is choose a new password
    /// ([`MustChangePassword`]). A wrong password is [`VerifyError::Rejected`]; the right one
    /// after expiry is [`VerifyError::Expired`] (the hash is computed either way, so the time
    /// taken does not depend on expiry).
    pub fn verify(
        &self,
        hasher: &PasswordHasher,
        password: &Password,
        now: u64,
    ) -> Result<MustChangePassword, VerifyError> {
        let _ = hasher.verify_kind(password, &self.hash, HashKind::Temporary)?;
        if self.is_expired(now) {
            Err(VerifyError::Expired)
        } else {
            Ok(MustChangePassword { _private: () })
        }
    }

    /// Checks the new password chosen after signing in with the temporary one: it must meet the
    /// policy (checked first) and must not be the temporary password (checked against the hash,
    /// so it costs one hash).
    pub fn check_new_password(
        &self,
        hasher: &PasswordHasher,
        policy: &PasswordPolicy,
        context: &PasswordContext<'_>,
        new_password: &Password,
    ) -> Result<(), NewPasswordError> {
        policy
            .check(new_password, context)
            .map_err(NewPasswordError::Policy)?;
        match hasher.verify_kind(new_password, &self.hash, HashKind::Temporary) {
            Ok(_) => Err(NewPasswordError::Policy(PolicyViolation::SameAsTemporary)),
            Err(VerifyError::UnusableHash(e)) => Err(NewPasswordError::UnusableHash(e)),
            Err(_) => Ok(()),
        }
    }
}

impl fmt::Debug for TemporaryCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryCredential")
            .field("hash", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A sign-in with a temporary password succeeded: the session may only choose a new password.
///
/// The host must record this on the session (and nothing more: no access to the application),
/// show the "choose your password" step, check the new password with
/// [`TemporaryCredential::check_new_password`], store its hash with [`PasswordHasher::hash`], and
/// delete the temporary credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a sign-in with a temporary password may only choose a new password"]
pub struct MustChangePassword {
    _private: (),
}

/// Why a new password chosen after a temporary one was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NewPasswordError {
    /// The password breaks a rule, or is the temporary password
    /// ([`PolicyViolation::SameAsTemporary`]). Safe to show.
    Policy(PolicyViolation),
    /// The temporary credential's hash cannot be checked (for operators).
    UnusableHash(PasswordError),
}

impl fmt::Display for NewPasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Policy(v) => fmt::Display::fmt(v, f),
            Self::UnusableHash(e) => write!(f, "the temporary password hash is unusable: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NewPasswordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Policy(v) => Some(v),
            Self::UnusableHash(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_is_unambiguous() {
        assert_eq!(ALPHABET.len(), 32);
        for bad in b"01lIoO" {
            assert!(!ALPHABET.contains(bad));
        }
        let mut sorted = *ALPHABET;
        sorted.sort_unstable();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn grouping() {
        struct Zero;
        impl rand_core::TryRng for Zero {
            type Error = core::convert::Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Ok(0)
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Ok(0)
            }
            fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
                dst.fill(0);
                Ok(())
            }
        }
        impl TryCryptoRng for Zero {}
        assert_eq!(
            grouped(&mut Zero, 19).unwrap().expose_secret(),
            "2222-2222-2222-2222"
        );
        assert_eq!(
            grouped(&mut Zero, 20).unwrap().expose_secret(),
            "2222-2222-2222-22222"
        );
        assert_eq!(
            grouped(&mut Zero, 21).unwrap().expose_secret(),
            "2222-2222-2222-2222-2"
        );
        // A policy whose every check fails cannot be satisfied.
        let refuse = |_: &Password| Err(PolicyViolation::Breached);
        let context = PasswordContext::new().extra_check(&refuse);
        assert_eq!(
            TemporaryPassword::generate_with_rng(
                &mut Zero,
                &PasswordPolicy::default(),
                &context,
                0,
                60
            )
            .unwrap_err(),
            PasswordError::GenerationRejected
        );
    }
}

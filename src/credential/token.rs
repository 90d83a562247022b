//! Single-use bearer tokens: setup links and pending-login tickets.

use alloc::string::String;
use core::fmt;

use rand_core::TryCryptoRng;
use sha2::Digest;
use zeroize::Zeroizing;

use crate::otp::error::Rejected;

/// Why a bearer token could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The random number generator failed.
    Random,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Random => f.write_str("the random number generator failed"),
        }
    }
}

impl std::error::Error for TokenError {}

/// The SHA-256 digest of a single-use bearer token (a setup token or a login ticket).
///
/// Only the digest is stored: a database leak reveals no usable token. Tokens carry at least
/// 128 random bits, so a fast hash is enough (NIST SP 800-63B §5.1.2.2 allows it above 112 bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest([REDACTED])")
    }
}

/// A random single-use bearer token: 256 bits from a CSPRNG, shown as 43 base64url characters.
///
/// Only its [`TokenDigest`] is stored, so a database leak reveals no usable token. A secret
/// type: wiped on drop, redacted `Debug`, no `Display`, `Clone` or `Serialize`.
pub struct BearerToken {
    bytes: Zeroizing<[u8; 32]>,
}

impl BearerToken {
    /// Generates a token from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, TokenError> {
        Self::generate_with_rng(&mut getrandom::SysRng)
    }

    /// Generates a token from a caller-supplied CSPRNG.
    pub fn generate_with_rng<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, TokenError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.try_fill_bytes(bytes.as_mut())
            .map_err(|_| TokenError::Random)?;
        Ok(Self { bytes })
    }

    /// Reads a token presented by a client. Anything that is not exactly a token is the opaque
    /// [`Rejected`].
    pub fn parse(text: &str) -> Result<Self, Rejected> {
        let encoding = &data_encoding::BASE64URL_NOPAD;
        if encoding.decode_len(text.len()) != Ok(32) {
            return Err(Rejected);
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        match encoding.decode_mut(text.as_bytes(), bytes.as_mut()) {
            Ok(32) => Ok(Self { bytes }),
            _ => Err(Rejected),
        }
    }

    /// The token as text, to put in a link or hand to the client.
    pub fn expose_secret(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE64URL_NOPAD.encode(self.bytes.as_ref()))
    }

    /// The digest to store and look up (SHA-256 under a domain label).
    pub fn digest(&self) -> TokenDigest {
        let mut hash = sha2::Sha256::new();
        hash.update(b"authcore/bearer-token/v1\0");
        hash.update(self.bytes.as_ref());
        TokenDigest(hash.finalize().into())
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn round_trip_and_digest() {
        let token = BearerToken::generate().unwrap();
        let text = token.expose_secret();
        assert_eq!(text.len(), 43);
        let parsed = BearerToken::parse(&text).unwrap();
        assert_eq!(parsed.digest(), token.digest());
        assert_ne!(BearerToken::generate().unwrap().digest(), token.digest());
        assert!(!format!("{token:?}").contains(text.as_str()));
        assert!(!format!("{:?}", token.digest()).contains("0x"));
    }

    #[test]
    fn debug_is_redacted_and_errors_are_plain() {
        let token = BearerToken::generate().unwrap();
        assert_eq!(format!("{token:?}"), "BearerToken([REDACTED])");
        assert_eq!(format!("{:?}", token.digest()), "TokenDigest([REDACTED])");
        assert_eq!(
            alloc::string::ToString::to_string(&TokenError::Random),
            "the random number generator failed"
        );
    }

    #[test]
    fn rejects_anything_else() {
        for bad in ["", "abc", &"A".repeat(42), &"A".repeat(44), &"+".repeat(43)] {
            assert_eq!(BearerToken::parse(bad).unwrap_err(), Rejected);
        }
    }
}

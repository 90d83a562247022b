//! The HMAC hash functions one-time passwords may use.

use core::fmt;
use core::str::FromStr;

use crate::otp::error::OtpError;
use crate::otp::error::ParamError;

/// The hash function under HMAC (RFC 6238 §1.2 allows SHA-1, SHA-256 and SHA-512).
///
/// MD5 and other hashes are refused: they are not part of RFC 6238.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA-1: the RFC 4226 default and what nearly every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in otpauth URIs and on the command line: `SHA1`, `SHA256` or `SHA512`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// The HMAC output length in bytes, which is also the default length of a new secret key.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = OtpError;

    /// Parses `SHA1`, `SHA256` or `SHA512` (case-insensitive, an optional dash as in `SHA-256`).
    fn from_str(s: &str) -> Result<Self, OtpError> {
        let mut normal = [0u8; 6];
        let mut len = 0usize;
        for byte in s.bytes().filter(|b| *b != b'-') {
            let slot = normal
                .get_mut(len)
                .ok_or(OtpError::Param(ParamError::UnsupportedAlgorithm))?;
            *slot = byte.to_ascii_uppercase();
            len = len.saturating_add(1);
        }
        match normal.get(..len) {
            Some(b"SHA1") => Ok(Self::Sha1),
            Some(b"SHA256") => Ok(Self::Sha256),
            Some(b"SHA512") => Ok(Self::Sha512),
            _ => Err(OtpError::Param(ParamError::UnsupportedAlgorithm)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("SHA1".parse::<Algorithm>().unwrap(), Algorithm::Sha1);
        assert_eq!("sha-256".parse::<Algorithm>().unwrap(), Algorithm::Sha256);
        assert_eq!("Sha512".parse::<Algorithm>().unwrap(), Algorithm::Sha512);
        for bad in ["MD5", "", "SHA3", "SHA1024", "SHA-1-2-3-4-5"] {
            assert!(bad.parse::<Algorithm>().is_err(), "{bad}");
        }
    }
}

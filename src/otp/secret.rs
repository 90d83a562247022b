//! The shared secret key of an authenticator (RFC 4226 §4 "K").

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::TryCryptoRng;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

#[cfg(feature = "std")]
use crate::otp::algorithm::Algorithm;
use crate::otp::error::OtpError;
use crate::otp::error::SecretError;

/// An HMAC key shared with an authenticator app.
///
/// - Wiped from memory on drop; `Debug` prints a redaction; no `Display`, `Clone` or `Serialize`.
/// - The bytes and the base32 form are reachable only through [`SecretKey::expose_bytes`] and
///   [`SecretKey::expose_base32`], so every place that handles the raw key is easy to find.
/// - New keys are at least 128 bits (RFC 4226 §4 R6, NIST SP 800-63B §5.1.4.1). Existing shorter
///   keys (80-bit keys are common in the wild) can be imported only through the explicitly named
///   `*_allow_short` constructors, and never below 80 bits.
pub struct SecretKey {
    bytes: Zeroizing<Vec<u8>>,
}

impl SecretKey {
    /// The shortest key accepted for new secrets, in bytes (128 bits).
    pub const MIN_LEN: usize = 16;
    /// The shortest key accepted by the `*_allow_short` import constructors, in bytes (80 bits).
    pub const MIN_IMPORT_LEN: usize = 10;
    /// The longest key accepted, in bytes. Keys longer than the hash block are hashed first, as
    /// HMAC specifies; the bound only keeps untrusted input (for example a URI) from growing
    /// without limit.
    pub const MAX_LEN: usize = 256;

    /// Generates a key from the operating system's CSPRNG, as long as the algorithm's HMAC output
    /// (20, 32 or 64 bytes), the length RFC 4226 and RFC 6238 recommend.
    #[cfg(feature = "std")]
    pub fn generate(algorithm: Algorithm) -> Result<Self, OtpError> {
        Self::generate_with_rng(&mut getrandom::SysRng, algorithm.output_len())
    }

    /// Generates a key of `len` bytes (at least [`Self::MIN_LEN`]) from a caller-supplied
    /// cryptographically secure RNG.
    pub fn generate_with_rng<R: TryCryptoRng + ?Sized>(
        rng: &mut R,
        len: usize,
    ) -> Result<Self, OtpError> {
        check_len(len, Self::MIN_LEN)?;
        let mut bytes = Zeroizing::new(alloc::vec![0u8; len]);
        rng.try_fill_bytes(&mut bytes)
            .map_err(|_| OtpError::Random)?;
        Ok(Self { bytes })
    }

    /// Builds a key from raw bytes, which must be at least 128 bits long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OtpError> {
        check_len(bytes.len(), Self::MIN_LEN)?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// Imports an existing key of at least 80 bits. Prefer [`Self::from_bytes`]: use this only
    /// for secrets that were issued elsewhere and cannot be replaced yet.
    pub fn from_bytes_allow_short(bytes: &[u8]) -> Result<Self, OtpError> {
        check_len(bytes.len(), Self::MIN_IMPORT_LEN)?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// Builds a key from base32 text (RFC 4648), at least 128 bits long.
    ///
    /// Input is read leniently, as people type and apps show it: lower case, spaces and `=`
    /// padding are accepted. Any other character is [`SecretError::InvalidBase32`].
    pub fn from_base32(text: &str) -> Result<Self, OtpError> {
        let bytes = decode_base32(text)?;
        check_len(bytes.len(), Self::MIN_LEN)?;
        Ok(Self { bytes })
    }

    /// Imports a base32 key of at least 80 bits, read as leniently as [`Self::from_base32`].
    pub fn from_base32_allow_short(text: &str) -> Result<Self, OtpError> {
        let bytes = decode_base32(text)?;
        check_len(bytes.len(), Self::MIN_IMPORT_LEN)?;
        Ok(Self { bytes })
    }

    /// The raw key bytes.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The key as upper-case base32 without padding, the form authenticator apps expect.
    pub fn expose_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.bytes))
    }

    /// The key length in bits.
    pub fn len_bits(&self) -> usize {
        self.bytes.len().saturating_mul(8)
    }

    /// Whether the key is shorter than the 128-bit floor for new secrets (possible only for keys
    /// imported through an `*_allow_short` constructor). Hosts may use this to prompt re-enrollment.
    pub fn is_below_minimum(&self) -> bool {
        self.bytes.len() < Self::MIN_LEN
    }
}

fn check_len(len: usize, min: usize) -> Result<(), OtpError> {
    let bits = len.saturating_mul(8);
    if len == 0 {
        Err(SecretError::Empty.into())
    } else if len > SecretKey::MAX_LEN {
        Err(SecretError::TooLong.into())
    } else if len < SecretKey::MIN_IMPORT_LEN {
        Err(SecretError::TooShortToImport { bits }.into())
    } else if len < min {
        Err(SecretError::BelowMinimum { bits }.into())
    } else {
        Ok(())
    }
}

/// Decodes lenient base32: ASCII letters in either case and `2`-`7`; spaces and `=` are ignored.
pub(crate) fn decode_base32(text: &str) -> Result<Zeroizing<Vec<u8>>, OtpError> {
    // Bound the work on untrusted input before copying it.
    let max_chars = SecretKey::MAX_LEN
        .saturating_mul(8)
        .div_ceil(5)
        .saturating_mul(2);
    if text.len() > max_chars {
        return Err(SecretError::TooLong.into());
    }
    let mut normal = Zeroizing::new(Vec::with_capacity(text.len()));
    for byte in text.bytes() {
        match byte {
            b' ' | b'=' => {}
            b'a'..=b'z' | b'A'..=b'Z' | b'2'..=b'7' => normal.push(byte.to_ascii_uppercase()),
            _ => return Err(SecretError::InvalidBase32.into()),
        }
    }
    if normal.is_empty() {
        return Err(SecretError::Empty.into());
    }
    let len = data_encoding::BASE32_NOPAD
        .decode_len(normal.len())
        .map_err(|_| OtpError::Secret(SecretError::InvalidBase32))?;
    let mut bytes = Zeroizing::new(alloc::vec![0u8; len]);
    let written = data_encoding::BASE32_NOPAD
        .decode_mut(&normal, &mut bytes)
        .map_err(|_| OtpError::Secret(SecretError::InvalidBase32))?;
    bytes.truncate(written);
    Ok(bytes)
}

impl ConstantTimeEq for SecretKey {
    /// Constant-time in the key contents; keys of different lengths compare unequal.
    fn ct_eq(&self, other: &Self) -> Choice {
        self.bytes.as_slice().ct_eq(other.bytes.as_slice())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn the_too_long_message_names_the_limit() {
        let message = SecretError::TooLong.to_string();
        assert!(
            message.contains(&format!(" {} bytes", SecretKey::MAX_LEN)),
            "{message}"
        );
    }

    #[test]
    fn lenient_base32() {
        let a = SecretKey::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
        let b = SecretKey::from_base32("jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp").unwrap();
        assert!(bool::from(a.ct_eq(&b)));
        let padded = SecretKey::from_base32_allow_short("JBSWY3DPEHPK3PXP======").unwrap();
        assert_eq!(padded.expose_bytes(), b"Hello!\xde\xad\xbe\xef");
        assert_eq!(&*padded.expose_base32(), "JBSWY3DPEHPK3PXP");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            SecretKey::from_base32("JBSWY3DPEHPK3PX1").unwrap_err(),
            OtpError::Secret(SecretError::InvalidBase32)
        );
        assert_eq!(
            SecretKey::from_base32("").unwrap_err(),
            OtpError::Secret(SecretError::Empty)
        );
        assert_eq!(
            SecretKey::from_base32(" = ").unwrap_err(),
            OtpError::Secret(SecretError::Empty)
        );
        assert_eq!(
            SecretKey::from_base32("JBSWY3DPEHPK3PXP").unwrap_err(),
            OtpError::Secret(SecretError::BelowMinimum { bits: 80 })
        );
        assert_eq!(
            SecretKey::from_bytes_allow_short(&[1; 9]).unwrap_err(),
            OtpError::Secret(SecretError::TooShortToImport { bits: 72 })
        );
        assert!(SecretKey::from_base32("A").is_err());
        assert!(SecretKey::from_base32("é").is_err());
        assert!(SecretKey::from_bytes(&[0; 257]).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let key = SecretKey::from_bytes(b"12345678901234567890").unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("1234"));
        assert!(shown.contains("REDACTED"));
    }

    #[cfg(feature = "std")]
    #[test]
    fn generated_lengths() {
        assert_eq!(
            SecretKey::generate(Algorithm::Sha1).unwrap().len_bits(),
            160
        );
        assert_eq!(
            SecretKey::generate(Algorithm::Sha256).unwrap().len_bits(),
            256
        );
        assert_eq!(
            SecretKey::generate(Algorithm::Sha512).unwrap().len_bits(),
            512
        );
        let a = SecretKey::generate(Algorithm::Sha1).unwrap();
        let b = SecretKey::generate(Algorithm::Sha1).unwrap();
        assert!(!bool::from(a.ct_eq(&b)));
        assert!(SecretKey::generate_with_rng(&mut getrandom::SysRng, 15).is_err());
    }
}

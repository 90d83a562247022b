//! [`OobKey`]: the host's key for the code MACs.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand_core::TryCryptoRng;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::credential::oob::error::OobError;
use crate::otp::code::Digits;

/// Domain separation for the code MAC.
const MAC_CONTEXT: &[u8] = b"authcore out-of-band code v1\0";
/// Nonce bytes per challenge.
pub(super) const NONCE_LEN: usize = 16;
/// MAC bytes (HMAC-SHA-256).
pub(super) const MAC_LEN: usize = 32;

/// The host's key for the code MACs. Keep it outside the database that holds the challenges (a
/// secrets manager, an environment variable): with it, a stolen challenge's 6 to 8 digits could be
/// found by trying them all.
///
/// A secret: wiped on drop, redacted `Debug`, no `Display` or `Clone`, read through
/// [`OobKey::expose_secret`]. Replacing the key voids every outstanding code (at most
/// [`OobConfig::MAX_TTL`] seconds' worth), which is how it is rotated.
///
/// [`OobConfig::MAX_TTL`]: crate::credential::oob::OobConfig::MAX_TTL
pub struct OobKey {
    bytes: Zeroizing<alloc::vec::Vec<u8>>,
}

impl OobKey {
    /// The shortest key accepted, in bytes (256 bits).
    pub const MIN_LEN: usize = 32;
    /// The longest key accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Builds a key from raw bytes, [`Self::MIN_LEN`] to [`Self::MAX_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OobError> {
        if bytes.len() < Self::MIN_LEN || bytes.len() > Self::MAX_LEN {
            return Err(OobError::KeyLength);
        }
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// Generates a 32-byte key from a cryptographically secure RNG.
    pub fn generate_with_rng<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, OobError> {
        let mut bytes = Zeroizing::new(alloc::vec![0u8; Self::MIN_LEN]);
        rng.try_fill_bytes(&mut bytes)
            .map_err(|_| OobError::Random)?;
        Ok(Self { bytes })
    }

    /// The raw key bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.bytes
    }

    pub(super) fn mac(
        &self,
        nonce: &[u8; NONCE_LEN],
        digits: Digits,
        ascii: &[u8; 8],
    ) -> [u8; MAC_LEN] {
        // HMAC accepts keys of any length, so this cannot fail; an impossible failure yields a
        // MAC no code matches rather than a panic.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.bytes) else {
            return [0xff; MAC_LEN];
        };
        mac.update(MAC_CONTEXT);
        mac.update(nonce);
        mac.update(&[digits.get()]);
        mac.update(ascii);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for OobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OobKey([REDACTED])")
    }
}

impl Drop for OobKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for OobKey {}

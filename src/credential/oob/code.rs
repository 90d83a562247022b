//! [`OobCode`]: a generated out-of-band code, to send and then drop.

use core::fmt;

use rand_core::TryCryptoRng;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::credential::oob::error::OobError;
use crate::otp::code::{Digits, OtpCode};

/// A generated out-of-band code, to send and then drop.
///
/// A secret: wiped on drop, redacted `Debug`, no `Display` or `Clone`, read through
/// [`OobCode::expose_secret`].
pub struct OobCode(OtpCode);

impl OobCode {
    /// A uniformly random code: a 32-bit draw rejected when it falls in the incomplete last
    /// multiple of `10^digits`, so every code is equally likely (no modulo bias).
    pub(super) fn generate<R: TryCryptoRng + ?Sized>(
        digits: Digits,
        rng: &mut R,
    ) -> Result<Self, OobError> {
        let bound: u32 = match digits {
            Digits::Six => 1_000_000,
            Digits::Seven => 10_000_000,
            Digits::Eight => 100_000_000,
        };
        // The largest multiple of `bound` that fits in 2^32.
        let span = 1u64 << 32;
        let limit = span.saturating_sub(span.checked_rem(u64::from(bound)).unwrap_or(0));
        // A working RNG is rejected with probability below 2.4%; 64 rejections in a row mean it
        // is broken.
        for _ in 0..64 {
            let draw = Zeroizing::new(rng.try_next_u32().map_err(|_| OobError::Random)?);
            if u64::from(*draw) < limit {
                let value = Zeroizing::new(draw.checked_rem(bound).unwrap_or(0));
                return Ok(Self::from_value(*value, digits));
            }
        }
        Err(OobError::Random)
    }

    pub(super) fn from_value(value: u32, digits: Digits) -> Self {
        Self(OtpCode::new(value, digits))
    }

    /// The code as text, for example `"094287"`.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The number of digits.
    pub fn digits(&self) -> Digits {
        self.0.digits()
    }

    /// The digits as the MAC input: ASCII, zero-padded to 8 bytes (the form
    /// `normalize_digits` produces from what the person types).
    pub(super) fn mac_input(&self) -> Zeroizing<[u8; 8]> {
        let mut ascii = Zeroizing::new([0u8; 8]);
        for (slot, digit) in ascii.iter_mut().zip(self.expose_secret().bytes()) {
            *slot = digit;
        }
        ascii
    }
}

impl fmt::Debug for OobCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OobCode([REDACTED])")
    }
}

/// The inner [`OtpCode`] wipes itself on drop.
impl ZeroizeOnDrop for OobCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_text() {
        assert_eq!(
            OobCode::from_value(42, Digits::Six).expose_secret(),
            "000042"
        );
        assert_eq!(
            OobCode::from_value(12_345_678, Digits::Eight).expose_secret(),
            "12345678"
        );
    }
}

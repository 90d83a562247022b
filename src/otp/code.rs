//! One-time password values: the fixed-width code a generator produces, and the digit count.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::otp::error::OtpError;
use crate::otp::error::ParamError;

/// The number of decimal digits in a code: 6, 7 or 8 (RFC 4226 §5.3 requires at least 6; more
/// than 8 adds nothing because dynamic truncation yields 31 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Digits {
    /// Six digits: what nearly every authenticator app shows.
    #[default]
    Six,
    /// Seven digits.
    Seven,
    /// Eight digits.
    Eight,
}

impl Digits {
    /// The digit count as a number.
    pub const fn get(self) -> u8 {
        match self {
            Self::Six => 6,
            Self::Seven => 7,
            Self::Eight => 8,
        }
    }

    /// Reduces a truncated HMAC value modulo 10^digits.
    ///
    /// Each arm divides by a constant, which compiles to a multiply-and-shift: the secret-derived
    /// dividend never goes through a hardware divider whose latency could depend on it.
    #[inline(always)]
    pub(crate) fn reduce(self, value: u32) -> u32 {
        match self {
            Self::Six => value % 1_000_000,
            Self::Seven => value % 10_000_000,
            Self::Eight => value % 100_000_000,
        }
    }
}

impl TryFrom<u8> for Digits {
    type Error = OtpError;

    fn try_from(digits: u8) -> Result<Self, OtpError> {
        match digits {
            6 => Ok(Self::Six),
            7 => Ok(Self::Seven),
            8 => Ok(Self::Eight),
            _ => Err(ParamError::Digits.into()),
        }
    }
}

/// A generated one-time password: fixed width, zero-padded, held without heap allocation.
///
/// It is a secret while it is valid, so it follows the crate's secret rules: wiped on drop,
/// redacted `Debug`, no `Display`, compared in constant time, read through [`OtpCode::expose_secret`].
pub struct OtpCode {
    ascii: [u8; 8],
    digits: Digits,
}

impl OtpCode {
    #[inline(always)]
    pub(crate) fn new(value: u32, digits: Digits) -> Self {
        let mut ascii = [b'0'; 8];
        let mut rest = value;
        let width = usize::from(digits.get());
        for slot in ascii.iter_mut().take(width).rev() {
            *slot = b'0' | (rest % 10) as u8;
            rest /= 10;
        }
        Self { ascii, digits }
    }

    /// The code as text, for example `"094287"`.
    pub fn expose_secret(&self) -> &str {
        let digits = self
            .ascii
            .get(..usize::from(self.digits.get()))
            .unwrap_or_default();
        core::str::from_utf8(digits).unwrap_or_default()
    }

    /// The number of digits.
    pub fn digits(&self) -> Digits {
        self.digits
    }
}

impl ConstantTimeEq for OtpCode {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.ascii.ct_eq(&other.ascii) & self.digits.get().ct_eq(&other.digits.get())
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode([REDACTED])")
    }
}

impl Drop for OtpCode {
    fn drop(&mut self) {
        self.ascii.zeroize();
    }
}

impl ZeroizeOnDrop for OtpCode {}

/// Parses a presented code into its numeric value without branching on its digits.
///
/// Returns the value and whether the input was well-formed: exactly `digits` ASCII digits (no
/// sign, no spaces, nothing else). Only the length, which the presenter chose, affects timing.
#[inline(always)]
pub(crate) fn parse_presented(code: &str, digits: Digits) -> (u32, Choice) {
    let bytes = code.as_bytes();
    let mut value = 0u32;
    let mut well_formed = u8::from(bytes.len() == usize::from(digits.get()));
    for &byte in bytes.iter().take(8) {
        let digit = byte.wrapping_sub(b'0');
        // 1 when `digit` is 0..=9, computed without a comparison branch.
        let is_digit = ((u32::from(digit).wrapping_sub(10)) >> 31) as u8;
        well_formed &= is_digit;
        value = value.wrapping_mul(10).wrapping_add(u32::from(digit & 0x0f));
    }
    (value, Choice::from(well_formed & 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_padded() {
        assert_eq!(OtpCode::new(42, Digits::Six).expose_secret(), "000042");
        assert_eq!(
            OtpCode::new(94287082, Digits::Eight).expose_secret(),
            "94287082"
        );
        assert_eq!(OtpCode::new(0, Digits::Seven).expose_secret(), "0000000");
    }

    #[test]
    fn parses_only_exact_ascii_digits() {
        let ok = |s: &str, d| {
            let (v, c) = parse_presented(s, d);
            bool::from(c).then_some(v)
        };
        assert_eq!(ok("000042", Digits::Six), Some(42));
        assert_eq!(ok("12345678", Digits::Eight), Some(12_345_678));
        for bad in [
            "",
            "12345",
            "1234567",
            "+12345",
            "-12345",
            " 12345",
            "12 345",
            "12345a",
            "１２３４５６",
            "12345/",
            "12345:",
        ] {
            assert_eq!(ok(bad, Digits::Six), None, "{bad:?}");
        }
        assert_eq!(ok("123456789", Digits::Eight), None);
    }

    #[test]
    fn digits_bounds() {
        assert!(Digits::try_from(5).is_err());
        assert!(Digits::try_from(9).is_err());
        assert_eq!(Digits::try_from(7).unwrap(), Digits::Seven);
    }

    #[test]
    fn equal_codes_need_equal_digits_and_equal_text() {
        let code = OtpCode::new(42, Digits::Six);
        assert!(bool::from(code.ct_eq(&OtpCode::new(42, Digits::Six))));
        assert!(!bool::from(code.ct_eq(&OtpCode::new(43, Digits::Six))));
        // The same eight bytes ("00004200"), but six digits against eight: different codes.
        let eight = OtpCode::new(4200, Digits::Eight);
        assert_eq!(eight.expose_secret(), "00004200");
        assert!(!bool::from(code.ct_eq(&eight)));
        assert!(!bool::from(eight.ct_eq(&code)));
    }
}

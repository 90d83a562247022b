//! Counter-based one-time passwords (RFC 4226).

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::otp::algorithm::Algorithm;
use crate::otp::code::Digits;
use crate::otp::code::{OtpCode, parse_presented};
use crate::otp::counter::{code_at, scan_codes};
use crate::otp::error::OtpError;
use crate::otp::error::{ParamError, Rejected};
use crate::otp::mac::{BlockFunction, Keyed, KeyedMac};
use crate::otp::secret::SecretKey;

/// An HOTP generator and verifier for one secret key (RFC 4226).
///
/// The key schedule runs once, when the value is built; it holds only the keyed hash states,
/// wiped on drop.
pub struct Hotp {
    digits: Digits,
    mac: KeyedMac,
}

/// The counter value a presented HOTP code matched.
///
/// The caller must store [`HotpMatch::next_counter`] as the authenticator's counter — atomically,
/// only if it is higher than the stored one — so that this code and every earlier one are spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "the next counter must be stored, or the code can be replayed"]
pub struct HotpMatch(u64);

impl HotpMatch {
    /// The counter value that produced the presented code.
    pub fn counter(self) -> u64 {
        self.0
    }

    /// The counter to store: the matched counter plus one (RFC 4226 §7.2).
    pub fn next_counter(self) -> u64 {
        self.0.saturating_add(1)
    }
}

/// How many counter values past the stored one a presented code may come from (RFC 4226 §7.4
/// look-ahead, for resynchronising after codes were generated but not used).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LookAhead(u8);

impl LookAhead {
    /// The largest look-ahead accepted.
    pub const MAX: u8 = 50;

    /// A look-ahead of `counters` values, at most [`LookAhead::MAX`].
    pub fn new(counters: u8) -> Result<Self, OtpError> {
        if counters > Self::MAX {
            Err(ParamError::LookAhead.into())
        } else {
            Ok(Self(counters))
        }
    }

    /// The number of counter values checked past the stored one.
    pub fn counters(self) -> u8 {
        self.0
    }
}

impl Default for LookAhead {
    /// Ten counters past the stored one.
    fn default() -> Self {
        Self(10)
    }
}

impl Hotp {
    /// Keys an HOTP instance. RFC 4226 uses SHA-1; SHA-256 and SHA-512 are also accepted.
    pub fn new(algorithm: Algorithm, digits: Digits, key: &SecretKey) -> Self {
        Self {
            digits,
            mac: KeyedMac::new(algorithm, key.expose_bytes()),
        }
    }

    /// The code for a counter value.
    pub fn generate(&self, counter: u64) -> OtpCode {
        let value = match &self.mac {
            KeyedMac::Sha1(k) => code_at(k, counter, self.digits),
            KeyedMac::Sha256(k) => code_at(k, counter, self.digits),
            KeyedMac::Sha512(k) => code_at(k, counter, self.digits),
        };
        OtpCode::new(value, self.digits)
    }

    /// Verifies a presented code against counters `counter ..= counter + look_ahead`.
    ///
    /// `counter` is the stored next counter. Returns the lowest matching counter; every counter of
    /// the window is computed and compared in constant time. A wrong or malformed code is the one
    /// opaque [`Rejected`].
    pub fn verify(
        &self,
        code: &str,
        counter: u64,
        look_ahead: LookAhead,
    ) -> Result<HotpMatch, Rejected> {
        let last = counter.saturating_add(u64::from(look_ahead.0));
        let (presented, well_formed) = parse_presented(code, self.digits);
        let (found, matched) = match &self.mac {
            KeyedMac::Sha1(k) => lowest_match(k, self.digits, presented, counter, last),
            KeyedMac::Sha256(k) => lowest_match(k, self.digits, presented, counter, last),
            KeyedMac::Sha512(k) => lowest_match(k, self.digits, presented, counter, last),
        };
        if bool::from(matched & well_formed) {
            Ok(HotpMatch(found))
        } else {
            Err(Rejected)
        }
    }
}

fn lowest_match<H: BlockFunction>(
    keyed: &Keyed<H>,
    digits: Digits,
    presented: u32,
    first: u64,
    last: u64,
) -> (u64, Choice) {
    let mut best = 0u64;
    let mut matched = Choice::from(0);
    scan_codes(keyed, digits, first, last, |counter, code| {
        let hit = code.ct_eq(&presented);
        best.conditional_assign(&counter, hit & !matched);
        matched |= hit;
    });
    (best, matched)
}

impl core::fmt::Debug for Hotp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hotp")
            .field("digits", &self.digits)
            .finish_non_exhaustive()
    }
}

//! Checking a presented code against its challenge: [`OobChallenge::verify`], what it found
//! ([`OobOutcome`]) and what it returns ([`OobVerification`]).

use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::credential::oob::challenge::{OobChallenge, OobStatus};
use crate::credential::oob::key::OobKey;
use crate::otp::code::Digits;
use crate::otp::error::Rejected;

/// The longest presented input looked at, in bytes.
const MAX_INPUT_LEN: usize = 32;

impl OobChallenge {
    /// Checks a presented code at `now`.
    ///
    /// The input may contain spaces and dashes (`123 456`). The MAC of the input is always
    /// computed and compared in constant time, whatever the challenge's state and whether the
    /// input is well formed. A wrong, expired, spent, void or malformed code gives the same
    /// [`Rejected`] from [`OobVerification::result`]; [`OobVerification::outcome`] tells the
    /// host which, for its audit log.
    ///
    /// The returned challenge must be persisted when [`OobVerification::must_persist`] says so,
    /// atomically (only if the stored challenge is still this one, unchanged), and an accepted
    /// code counts only if that write succeeded.
    pub fn verify(&self, key: &OobKey, input: &str, now: u64) -> OobVerification {
        let (ascii, well_formed) = normalize_digits(input, self.digits);
        let presented = Zeroizing::new(ascii);
        let mac = key.mac(&self.nonce, self.digits, &presented);
        let matched = bool::from(mac.ct_eq(&self.mac) & well_formed);
        let mut next = self.clone();
        let outcome = match self.status {
            OobStatus::Spent => OobOutcome::AlreadySpent,
            OobStatus::Void => OobOutcome::AlreadyVoid,
            OobStatus::Pending if now >= self.expires_at => {
                next.status = OobStatus::Void;
                OobOutcome::Expired
            }
            OobStatus::Pending if matched => {
                next.status = OobStatus::Spent;
                OobOutcome::Accepted
            }
            OobStatus::Pending => {
                next.attempts_left = self.attempts_left.saturating_sub(1);
                if next.attempts_left == 0 {
                    next.status = OobStatus::Void;
                    OobOutcome::WrongAndVoided
                } else {
                    OobOutcome::Wrong {
                        attempts_left: next.attempts_left,
                    }
                }
            }
        };
        OobVerification {
            outcome,
            challenge: next,
        }
    }
}

/// Reads presented digits into a fixed buffer: ASCII spaces and dashes are skipped; the input is
/// well formed when exactly `digits` ASCII digits and nothing else remain.
fn normalize_digits(input: &str, digits: Digits) -> ([u8; 8], Choice) {
    let mut ascii = [0u8; 8];
    let mut count = 0usize;
    let mut ok = input.len() <= MAX_INPUT_LEN;
    for byte in input.bytes().take(MAX_INPUT_LEN) {
        match byte {
            b' ' | b'-' | b'\t' => {}
            b'0'..=b'9' => {
                if let Some(slot) = ascii.get_mut(count) {
                    *slot = byte;
                } else {
                    ok = false;
                }
                count = count.saturating_add(1);
            }
            _ => ok = false,
        }
    }
    ok &= count == usize::from(digits.get());
    (ascii, Choice::from(u8::from(ok)))
}

/// What a verification found, for the host's audit log. Never show it to the person: they get
/// [`OobVerification::result`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OobOutcome {
    /// The code matched and is now spent.
    Accepted,
    /// A wrong (or malformed) code; one attempt was used.
    Wrong {
        /// Attempts left.
        attempts_left: u8,
    },
    /// A wrong code used the last attempt; the code is now void.
    WrongAndVoided,
    /// The code had expired; it is now void.
    Expired,
    /// The code was already spent.
    AlreadySpent,
    /// The code was already void.
    AlreadyVoid,
}

/// The result of [`OobChallenge::verify`]: the answer, what happened, and the challenge to store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "the updated challenge must be persisted"]
pub struct OobVerification {
    outcome: OobOutcome,
    challenge: OobChallenge,
}

impl OobVerification {
    /// `Ok(())` only if the code was accepted; otherwise the one opaque [`Rejected`].
    pub fn result(&self) -> Result<(), Rejected> {
        match self.outcome {
            OobOutcome::Accepted => Ok(()),
            _ => Err(Rejected),
        }
    }

    /// What happened (for audit, not for the person).
    pub fn outcome(&self) -> OobOutcome {
        self.outcome
    }

    /// The challenge as it must now be stored.
    pub fn challenge(&self) -> &OobChallenge {
        &self.challenge
    }

    /// Takes the challenge to store.
    pub fn into_challenge(self) -> OobChallenge {
        self.challenge
    }

    /// Whether the challenge changed (spent, attempt counted, or voided) and must be written.
    pub fn must_persist(&self) -> bool {
        !matches!(
            self.outcome,
            OobOutcome::AlreadySpent | OobOutcome::AlreadyVoid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_normalisation() {
        let ok = |s: &str, d| {
            let (ascii, c) = normalize_digits(s, d);
            bool::from(c).then_some(ascii)
        };
        assert_eq!(ok("123456", Digits::Six), Some(*b"123456\0\0"));
        assert_eq!(ok(" 123-456 ", Digits::Six), Some(*b"123456\0\0"));
        assert_eq!(ok("12345678", Digits::Eight), Some(*b"12345678"));
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            "123456789",
        ] {
            assert_eq!(ok(bad, Digits::Six), None, "{bad:?}");
        }
        assert_eq!(ok(&" ".repeat(40), Digits::Six), None);
    }
}

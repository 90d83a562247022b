//! [`OobChallenge`]: what the host stores for an issued code, and its stored form.

use core::fmt;

use crate::credential::oob::config::OobConfig;
use crate::credential::oob::error::OobError;
use crate::credential::oob::key::{MAC_LEN, NONCE_LEN};
use crate::otp::code::Digits;

/// Stored form of a challenge.
const MAGIC: &[u8; 4] = b"ACOB";
const FORMAT_VERSION: u8 = 1;
/// Stored challenge length: magic, version, nonce, MAC, digits, issued, expires, attempts, status.
const STORED_LEN: usize = 4 + 1 + NONCE_LEN + MAC_LEN + 1 + 8 + 8 + 1 + 1;

/// Whether a challenge can still be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OobStatus {
    /// Waiting for the code.
    Pending,
    /// The code was accepted; it never will be again.
    Spent,
    /// Expired, or out of attempts; the code never matches.
    Void,
}
/// What the host stores for an issued code: its MAC (never the code), nonce, expiry, attempts left
/// and status. Persist with [`OobChallenge::to_stored_bytes`].
#[derive(Clone, PartialEq, Eq)]
pub struct OobChallenge {
    pub(super) nonce: [u8; NONCE_LEN],
    pub(super) mac: [u8; MAC_LEN],
    pub(super) digits: Digits,
    pub(super) issued_at: u64,
    pub(super) expires_at: u64,
    pub(super) attempts_left: u8,
    pub(super) status: OobStatus,
}
impl OobChallenge {
    /// The unix time the code was issued.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// The unix time from which the code is expired.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Wrong attempts left before the code is void.
    pub fn attempts_left(&self) -> u8 {
        self.attempts_left
    }

    /// The status.
    pub fn status(&self) -> OobStatus {
        self.status
    }

    /// Digits in the code.
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// The stored form: `ACOB`, format version 1, nonce, MAC, digits, issued and expiry times
    /// (big-endian `u64`), attempts left, status (0 pending, 1 spent, 2 void). 72 bytes.
    pub fn to_stored_bytes(&self) -> [u8; STORED_LEN] {
        let status = match self.status {
            OobStatus::Pending => 0,
            OobStatus::Spent => 1,
            OobStatus::Void => 2,
        };
        let parts: [&[u8]; 9] = [
            MAGIC,
            &[FORMAT_VERSION],
            &self.nonce,
            &self.mac,
            &[self.digits.get()],
            &self.issued_at.to_be_bytes(),
            &self.expires_at.to_be_bytes(),
            &[self.attempts_left],
            &[status],
        ];
        let mut out = [0u8; STORED_LEN];
        for (dst, src) in out.iter_mut().zip(parts.into_iter().flatten()) {
            *dst = *src;
        }
        out
    }

    /// Reads the stored form. Total: any bytes give a challenge or [`OobError::StoredFormat`].
    pub fn from_stored_bytes(bytes: &[u8]) -> Result<Self, OobError> {
        let bad = || OobError::StoredFormat;
        let bytes: &[u8; STORED_LEN] = bytes.try_into().map_err(|_| bad())?;
        let (magic, rest) = bytes.split_first_chunk::<4>().ok_or_else(bad)?;
        let ([version], rest) = rest.split_first_chunk::<1>().ok_or_else(bad)?;
        if magic != MAGIC || *version != FORMAT_VERSION {
            return Err(bad());
        }
        let (nonce, rest) = rest.split_first_chunk::<NONCE_LEN>().ok_or_else(bad)?;
        let (mac, rest) = rest.split_first_chunk::<MAC_LEN>().ok_or_else(bad)?;
        let ([digits], rest) = rest.split_first_chunk::<1>().ok_or_else(bad)?;
        let (issued_at, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let (expires_at, rest) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        let [attempts_left, status] = *rest else {
            return Err(bad());
        };
        let status = match status {
            0 => OobStatus::Pending,
            1 => OobStatus::Spent,
            2 => OobStatus::Void,
            _ => return Err(bad()),
        };
        let issued_at = u64::from_be_bytes(*issued_at);
        let expires_at = u64::from_be_bytes(*expires_at);
        if expires_at < issued_at
            || expires_at.saturating_sub(issued_at) > u64::from(OobConfig::MAX_TTL)
        {
            return Err(bad());
        }
        if attempts_left > OobConfig::MAX_ATTEMPTS {
            return Err(bad());
        }
        Ok(Self {
            nonce: *nonce,
            mac: *mac,
            digits: Digits::try_from(*digits).map_err(|_| bad())?,
            issued_at,
            expires_at,
            attempts_left,
            status,
        })
    }
}

impl fmt::Debug for OobChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OobChallenge")
            .field("digits", &self.digits)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("attempts_left", &self.attempts_left)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

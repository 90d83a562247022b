//! Out-of-band one-time codes sent by SMS or e-mail (NIST SP 800-63B §5.1.3).
//!
//! A code is 6 to 8 random decimal digits, valid for a short time (default 5 minutes, never more
//! than 10), usable once, and void after a few wrong attempts (default 5). The host stores only an
//! [`OobChallenge`]: an HMAC-SHA-256 of the code under a key the host keeps outside the database
//! ([`OobKey`]), bound to a random per-challenge nonce, with its expiry, attempts left and status.
//!
//! Sending is limited by an [`OobSendLog`]: a cooldown between sends (default 60 s) and a cap on
//! sends in any sliding hour (default 5); codes that verify a new phone number are also capped per
//! day ([`OobConfig::check_verification_send`], default 10).
//!
//! A send log is a *budget of the person who asks*, kept per person and purpose — never per
//! destination. A per-destination budget can be spent by anyone who names the number: another
//! account pointing phone verifications at a victim's number would throttle the victim's own
//! sign-in codes. So a verified owner's sign-in codes count only against their own sign-in
//! budget, and verification codes sent to a number that is not (yet) anyone's factor count
//! against the asking account's verification budget, hourly and daily. No per-destination guard
//! is kept, since every such guard can be turned against the number's owner: how many messages
//! reach one number from many accounts is bounded by the per-account caps times the accounts,
//! and limiting account creation is the host's part.
//!
//! Everything here is pure: the host passes `now` and an RNG, sends the code itself, and persists
//! the returned challenge and send log — each in one guarded update, so that two servers cannot
//! both spend the same code or both count from the same attempt.
//!
//! SMS through the public telephone network is a *restricted* authenticator and e-mail is not an
//! out-of-band authenticator at all in NIST SP 800-63B; see [`crate::credential::factor::FactorKind`].

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand_core::TryCryptoRng;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::otp::code::{Digits, OtpCode};
use crate::otp::error::{OtpError, Rejected};

/// Domain separation for the code MAC.
const MAC_CONTEXT: &[u8] = b"authcore out-of-band code v1\0";
/// Nonce bytes per challenge.
const NONCE_LEN: usize = 16;
/// MAC bytes (HMAC-SHA-256).
const MAC_LEN: usize = 32;
/// The longest presented input looked at, in bytes.
const MAX_INPUT_LEN: usize = 32;
/// One hour, in seconds.
const HOUR: u64 = 3600;
/// One day, in seconds.
const DAY: u64 = 24 * HOUR;
/// Stored form of a challenge.
const MAGIC: &[u8; 4] = b"ACOB";
const FORMAT_VERSION: u8 = 1;
/// Stored challenge length: magic, version, nonce, MAC, digits, issued, expires, attempts, status.
const STORED_LEN: usize = 4 + 1 + NONCE_LEN + MAC_LEN + 1 + 8 + 8 + 1 + 1;

/// Why an out-of-band configuration, key or stored value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OobError {
    /// The lifetime must be 1 to [`OobConfig::MAX_TTL`] seconds.
    Ttl,
    /// The attempts per code must be 1 to [`OobConfig::MAX_ATTEMPTS`].
    Attempts,
    /// The resend cooldown must be at most [`OobConfig::MAX_COOLDOWN`] seconds.
    Cooldown,
    /// The hourly send cap must be 1 to [`OobSendLog::CAPACITY`].
    HourlyCap,
    /// The daily verification cap must be 1 to [`OobConfig::MAX_DAILY_VERIFICATIONS`].
    DailyCap,
    /// The MAC key must be [`OobKey::MIN_LEN`] to [`OobKey::MAX_LEN`] bytes.
    KeyLength,
    /// A send log holds at most [`OobSendLog::CAPACITY`] times.
    SendLog,
    /// Stored bytes are not an out-of-band challenge.
    StoredFormat,
    /// An OTP parameter (the number of digits) is out of range.
    Otp(OtpError),
    /// The random number generator failed.
    Random,
}

impl fmt::Display for OobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ttl => write!(
                f,
                "a code's lifetime must be 1 to {} seconds",
                OobConfig::MAX_TTL
            ),
            Self::Attempts => write!(
                f,
                "the attempts per code must be 1 to {}",
                OobConfig::MAX_ATTEMPTS
            ),
            Self::Cooldown => write!(
                f,
                "the resend cooldown must be at most {} seconds",
                OobConfig::MAX_COOLDOWN
            ),
            Self::HourlyCap => write!(
                f,
                "the hourly send cap must be 1 to {}",
                OobSendLog::CAPACITY
            ),
            Self::DailyCap => write!(
                f,
                "the daily verification cap must be 1 to {}",
                OobConfig::MAX_DAILY_VERIFICATIONS
            ),
            Self::KeyLength => write!(
                f,
                "the MAC key must be {} to {} bytes",
                OobKey::MIN_LEN,
                OobKey::MAX_LEN
            ),
            Self::SendLog => write!(f, "a send log holds at most {} times", OobSendLog::CAPACITY),
            Self::StoredFormat => f.write_str("the stored bytes are not an out-of-band challenge"),
            Self::Otp(e) => write!(f, "{e}"),
            Self::Random => f.write_str("the random number generator failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for OobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Otp(e) => Some(e),
            _ => None,
        }
    }
}

impl From<OtpError> for OobError {
    fn from(e: OtpError) -> Self {
        Self::Otp(e)
    }
}

/// The host's key for the code MACs. Keep it outside the database that holds the challenges (a
/// secrets manager, an environment variable): with it, a stolen challenge's 6 to 8 digits could be
/// found by trying them all.
///
/// A secret: wiped on drop, redacted `Debug`, no `Display` or `Clone`, read through
/// [`OobKey::expose_secret`]. Replacing the key voids every outstanding code (at most
/// [`OobConfig::MAX_TTL`] seconds' worth), which is how it is rotated.
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

    fn mac(&self, nonce: &[u8; NONCE_LEN], digits: Digits, ascii: &[u8; 8]) -> [u8; MAC_LEN] {
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

/// How out-of-band codes are issued and checked. Always valid: built through
/// [`OobConfig::builder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OobConfig {
    digits: Digits,
    ttl: u32,
    max_attempts: u8,
    resend_cooldown: u32,
    hourly_cap: u8,
    daily_verification_cap: u16,
}

impl Default for OobConfig {
    /// 6 digits, valid 5 minutes, 5 attempts, 60 s between sends, 5 sends an hour, 10 phone
    /// verifications a day.
    fn default() -> Self {
        Self {
            digits: Digits::Six,
            ttl: 300,
            max_attempts: 5,
            resend_cooldown: 60,
            hourly_cap: 5,
            daily_verification_cap: 10,
        }
    }
}

impl OobConfig {
    /// The longest lifetime accepted, in seconds (10 minutes).
    pub const MAX_TTL: u32 = 600;
    /// The most attempts per code accepted.
    pub const MAX_ATTEMPTS: u8 = 10;
    /// The longest resend cooldown accepted, in seconds.
    pub const MAX_COOLDOWN: u32 = 3600;
    /// The highest daily verification cap accepted.
    pub const MAX_DAILY_VERIFICATIONS: u16 = 100;

    /// Starts building a configuration from the defaults.
    pub fn builder() -> OobConfigBuilder {
        OobConfigBuilder {
            config: Self::default(),
            digits: 6,
        }
    }

    /// Digits per code.
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// How long a code stays valid, in seconds.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Wrong attempts after which a code is void.
    pub fn max_attempts(&self) -> u8 {
        self.max_attempts
    }

    /// Seconds between two sends to one destination.
    pub fn resend_cooldown(&self) -> u32 {
        self.resend_cooldown
    }

    /// Sends allowed from one send log in any hour.
    pub fn hourly_cap(&self) -> u8 {
        self.hourly_cap
    }

    /// Phone-verification codes one account may have sent per day (a fixed 24-hour window that
    /// starts with the first counted send; see [`OobSendLog::record_verification`]).
    pub fn daily_verification_cap(&self) -> u16 {
        self.daily_verification_cap
    }

    /// Whether a code may be sent now, given the send log of the budget it counts against: the
    /// cooldown and the hourly cap.
    pub fn check_send(&self, log: &OobSendLog, now: u64) -> SendDecision {
        if let Some(last) = log.last() {
            let ready_at = last.saturating_add(u64::from(self.resend_cooldown));
            if now < ready_at {
                return SendDecision::Refused {
                    reason: SendRefusal::Cooldown,
                    retry_at: ready_at,
                };
            }
        }
        let recent = log.recent(now);
        let cap = usize::from(self.hourly_cap);
        if recent.len() >= cap {
            // The send that must leave the hour before another fits under the cap.
            let blocking = recent
                .len()
                .checked_sub(cap)
                .and_then(|i| recent.get(i))
                .copied()
                .unwrap_or(now);
            return SendDecision::Refused {
                reason: SendRefusal::HourlyCap,
                retry_at: blocking.saturating_add(HOUR).max(now.saturating_add(1)),
            };
        }
        SendDecision::Allowed
    }

    /// Whether a code verifying a new phone number may be sent now, given the asking account's
    /// verification send log: [`Self::check_send`], then the daily cap. Record an allowed send
    /// with [`OobSendLog::record_verification`].
    pub fn check_verification_send(&self, log: &OobSendLog, now: u64) -> SendDecision {
        let decision = self.check_send(log, now);
        if decision != SendDecision::Allowed {
            return decision;
        }
        if log.sends_today(now) >= u32::from(self.daily_verification_cap) {
            return SendDecision::Refused {
                reason: SendRefusal::DailyCap,
                retry_at: log.day_start.saturating_add(DAY).max(now.saturating_add(1)),
            };
        }
        SendDecision::Allowed
    }

    /// Issues a code for a destination if its send log allows: generates the code, builds the
    /// challenge to store and the updated send log. The host sends the code, persists both
    /// values, and drops the code.
    ///
    /// Issuing a new code for a destination should replace its previous challenge.
    pub fn issue<R: TryCryptoRng + ?Sized>(
        &self,
        key: &OobKey,
        log: &OobSendLog,
        now: u64,
        rng: &mut R,
    ) -> Result<OobIssue, OobError> {
        if let SendDecision::Refused { reason, retry_at } = self.check_send(log, now) {
            return Ok(OobIssue::Refused { reason, retry_at });
        }
        let code = OobCode::generate(self.digits, rng)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.try_fill_bytes(&mut nonce)
            .map_err(|_| OobError::Random)?;
        let challenge = OobChallenge {
            nonce,
            mac: key.mac(&nonce, self.digits, &code.mac_input()),
            digits: self.digits,
            issued_at: now,
            expires_at: now.saturating_add(u64::from(self.ttl)),
            attempts_left: self.max_attempts,
            status: OobStatus::Pending,
        };
        Ok(OobIssue::Send {
            code,
            challenge,
            log: log.record(now),
        })
    }

    /// [`OobConfig::issue`] with the operating system's CSPRNG.
    #[cfg(feature = "std")]
    pub fn issue_with_os_rng(
        &self,
        key: &OobKey,
        log: &OobSendLog,
        now: u64,
    ) -> Result<OobIssue, OobError> {
        self.issue(key, log, now, &mut getrandom::SysRng)
    }
}

/// Builder for [`OobConfig`]; [`OobConfigBuilder::build`] validates.
#[derive(Clone, Debug)]
#[must_use]
pub struct OobConfigBuilder {
    config: OobConfig,
    digits: u8,
}

impl OobConfigBuilder {
    /// Digits per code, 6 to 8 (default 6).
    pub fn digits(mut self, digits: u8) -> Self {
        self.digits = digits;
        self
    }

    /// Lifetime in seconds, 1 to 600 (default 300).
    pub fn ttl(mut self, seconds: u32) -> Self {
        self.config.ttl = seconds;
        self
    }

    /// Wrong attempts after which a code is void, 1 to 10 (default 5).
    pub fn max_attempts(mut self, attempts: u8) -> Self {
        self.config.max_attempts = attempts;
        self
    }

    /// Seconds between sends to one destination, at most 3600 (default 60).
    pub fn resend_cooldown(mut self, seconds: u32) -> Self {
        self.config.resend_cooldown = seconds;
        self
    }

    /// Sends from one send log in any hour, 1 to 10 (default 5).
    pub fn hourly_cap(mut self, sends: u8) -> Self {
        self.config.hourly_cap = sends;
        self
    }

    /// Phone-verification codes one account may have sent per day, 1 to 100 (default 10).
    pub fn daily_verification_cap(mut self, sends: u16) -> Self {
        self.config.daily_verification_cap = sends;
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<OobConfig, OobError> {
        let c = self.config;
        let digits = Digits::try_from(self.digits)?;
        if c.ttl == 0 || c.ttl > OobConfig::MAX_TTL {
            return Err(OobError::Ttl);
        }
        if c.max_attempts == 0 || c.max_attempts > OobConfig::MAX_ATTEMPTS {
            return Err(OobError::Attempts);
        }
        if c.resend_cooldown > OobConfig::MAX_COOLDOWN {
            return Err(OobError::Cooldown);
        }
        if c.hourly_cap == 0 || usize::from(c.hourly_cap) > OobSendLog::CAPACITY {
            return Err(OobError::HourlyCap);
        }
        if c.daily_verification_cap == 0
            || c.daily_verification_cap > OobConfig::MAX_DAILY_VERIFICATIONS
        {
            return Err(OobError::DailyCap);
        }
        Ok(OobConfig { digits, ..c })
    }
}

/// A generated out-of-band code, to send and then drop.
///
/// A secret: wiped on drop, redacted `Debug`, no `Display` or `Clone`, read through
/// [`OobCode::expose_secret`].
pub struct OobCode(OtpCode);

impl OobCode {
    /// A uniformly random code: a 32-bit draw rejected when it falls in the incomplete last
    /// multiple of `10^digits`, so every code is equally likely (no modulo bias).
    fn generate<R: TryCryptoRng + ?Sized>(digits: Digits, rng: &mut R) -> Result<Self, OobError> {
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

    fn from_value(value: u32, digits: Digits) -> Self {
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
    fn mac_input(&self) -> Zeroizing<[u8; 8]> {
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
    nonce: [u8; NONCE_LEN],
    mac: [u8; MAC_LEN],
    digits: Digits,
    issued_at: u64,
    expires_at: u64,
    attempts_left: u8,
    status: OobStatus,
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

/// Why a send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendRefusal {
    /// A code was sent from this budget less than the cooldown ago.
    Cooldown,
    /// This budget has had the hourly cap of sends in the last hour.
    HourlyCap,
    /// The account has had its daily cap of phone-verification codes.
    DailyCap,
}

/// Whether a code may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub enum SendDecision {
    /// Send.
    Allowed,
    /// Do not send.
    Refused {
        /// Why.
        reason: SendRefusal,
        /// The unix time from which a send may be allowed.
        retry_at: u64,
    },
}

/// The result of [`OobConfig::issue`].
#[derive(Debug)]
#[must_use = "the code must be sent and the challenge and send log persisted"]
pub enum OobIssue {
    /// Send `code` to the destination; persist `challenge` and `log`.
    Send {
        /// The code to send, then drop.
        code: OobCode,
        /// What to store for verification.
        challenge: OobChallenge,
        /// The destination's updated send log.
        log: OobSendLog,
    },
    /// Nothing was generated; tell the person when they may ask again.
    Refused {
        /// Why.
        reason: SendRefusal,
        /// The unix time from which a send may be allowed.
        retry_at: u64,
    },
}

/// One send budget — a person's, for one purpose — as stored: the recent send times (at most
/// [`OobSendLog::CAPACITY`], oldest first) for the cooldown and the hourly cap over a sliding
/// hour, and the count of phone-verification sends in the current day window for the daily
/// cap.
///
/// A send log is the budget of the person who asks, kept per person and purpose, never per
/// destination: a per-destination budget can be spent by anyone who names the number, so another
/// account pointing phone verifications at a victim's number would throttle the victim's own
/// sign-in codes. No per-destination guard is kept, since any such guard can be turned against
/// the number's owner; what reaches one number from many accounts is bounded by the per-account
/// caps (hourly, and daily for verifications) times the accounts, and limiting account creation
/// is the host's part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct OobSendLog {
    times: [u64; Self::CAPACITY],
    len: u8,
    day_start: u64,
    day_sends: u32,
}

impl OobSendLog {
    /// The most send times a log keeps, and so the highest hourly cap.
    pub const CAPACITY: usize = 10;

    /// An empty log.
    pub const fn new() -> Self {
        Self {
            times: [0; Self::CAPACITY],
            len: 0,
            day_start: 0,
            day_sends: 0,
        }
    }

    /// Rebuilds a log from stored parts: the send times (in any order; at most
    /// [`Self::CAPACITY`]) and the day window ([`Self::day_start`], [`Self::day_sends`]).
    pub fn from_parts(times: &[u64], day_start: u64, day_sends: u32) -> Result<Self, OobError> {
        let mut log = Self::from_sends(times)?;
        log.day_start = day_start;
        log.day_sends = day_sends;
        Ok(log)
    }

    /// When the current day window of verification sends started (0 before the first).
    pub fn day_start(&self) -> u64 {
        self.day_start
    }

    /// The verification sends counted in the window that starts at [`Self::day_start`] (it may
    /// have ended: see [`Self::sends_today`]).
    pub fn day_sends(&self) -> u32 {
        self.day_sends
    }

    /// The verification sends counted in the day window still running at `now`.
    pub fn sends_today(&self, now: u64) -> u32 {
        if self.day_sends > 0 && now < self.day_start.saturating_add(DAY) {
            self.day_sends
        } else {
            0
        }
    }

    /// [`Self::record`], and the send counted in the day window (a new window starts at `now`
    /// once the last one ended): what [`OobConfig::check_verification_send`] caps.
    pub fn record_verification(&self, now: u64) -> Self {
        let mut next = self.record(now);
        if self.sends_today(now) == 0 {
            next.day_start = now;
            next.day_sends = 1;
        } else {
            next.day_sends = self.day_sends.saturating_add(1);
        }
        next
    }

    /// Rebuilds a log from stored send times (in any order; at most [`Self::CAPACITY`]).
    pub fn from_sends(times: &[u64]) -> Result<Self, OobError> {
        if times.len() > Self::CAPACITY {
            return Err(OobError::SendLog);
        }
        let mut log = Self::new();
        for (dst, src) in log.times.iter_mut().zip(times) {
            *dst = *src;
        }
        log.len = u8::try_from(times.len()).map_err(|_| OobError::SendLog)?;
        if let Some(filled) = log.times.get_mut(..times.len()) {
            filled.sort_unstable();
        }
        Ok(log)
    }

    /// The send times, oldest first.
    pub fn sends(&self) -> &[u64] {
        self.times.get(..usize::from(self.len)).unwrap_or_default()
    }

    fn last(&self) -> Option<u64> {
        self.sends().last().copied()
    }

    /// When the log stops mattering: an hour after its last send, when no send is left in the
    /// hourly window and the cooldown (at most [`OobConfig::MAX_COOLDOWN`], an hour) is over, and
    /// not before its day window of verification sends (if any) ends. A store may delete the log
    /// from then on ([`SecretStore::prune_expired`]); an empty log (`None`) never matters.
    ///
    /// [`SecretStore::prune_expired`]: crate::store::SecretStore::prune_expired
    pub fn expires_at(&self) -> Option<u64> {
        let hourly = self.last().map(|t| t.saturating_add(HOUR));
        let daily = (self.day_sends > 0).then(|| self.day_start.saturating_add(DAY));
        match (hourly, daily) {
            (Some(h), Some(d)) => Some(h.max(d)),
            (h, d) => h.or(d),
        }
    }

    /// The sends within the hour before `now`, oldest first.
    fn recent(&self, now: u64) -> &[u64] {
        let sends = self.sends();
        let old = sends
            .iter()
            .take_while(|&&t| t.saturating_add(HOUR) <= now)
            .count();
        sends.get(old..).unwrap_or_default()
    }

    /// The log with a send at `now` added; sends older than an hour are dropped, and when the
    /// log is full the oldest goes. The day window is kept as it is.
    pub fn record(&self, now: u64) -> Self {
        let mut next = Self::new();
        next.day_start = self.day_start;
        next.day_sends = self.day_sends;
        let recent = self.recent(now);
        let keep = recent
            .get(
                recent
                    .len()
                    .saturating_sub(Self::CAPACITY.saturating_sub(1))..,
            )
            .unwrap_or_default();
        for (dst, src) in next.times.iter_mut().zip(keep.iter().chain([now].iter())) {
            *dst = *src;
        }
        next.len = u8::try_from(keep.len().saturating_add(1)).unwrap_or(u8::MAX);
        if let Some(filled) = next.times.get_mut(..usize::from(next.len)) {
            filled.sort_unstable();
        }
        next
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

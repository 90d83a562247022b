//! Time-based one-time passwords (RFC 6238).

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::otp::code::{OtpCode, parse_presented};
use crate::otp::error::OtpError;
use crate::otp::error::{ParamError, Refusal, Rejected};

use crate::otp::algorithm::Algorithm;
use crate::otp::code::Digits;
use crate::otp::counter::{code_at, scan_codes};
use crate::otp::mac::{BlockFunction, Keyed, KeyedMac};
use crate::otp::secret::SecretKey;

/// The parameters of a TOTP authenticator: algorithm, digits, period and epoch `T0`.
///
/// Built through [`TotpParams::builder`], which refuses values outside RFC 6238 and NIST
/// SP 800-63B, so a `TotpParams` value is always valid. The default is what every authenticator
/// app understands: SHA-1, 6 digits, 30 seconds, `T0 = 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TotpParams {
    algorithm: Algorithm,
    digits: Digits,
    period: Period,
    t0: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Period(u32);

impl Default for Period {
    fn default() -> Self {
        Self(TotpParams::DEFAULT_PERIOD)
    }
}

impl TotpParams {
    /// The default period, in seconds.
    pub const DEFAULT_PERIOD: u32 = 30;
    /// The longest period accepted, in seconds. NIST SP 800-63B §5.1.4.1 requires the time-based
    /// nonce to change at least once every 2 minutes.
    pub const MAX_PERIOD: u32 = 120;

    /// Starts building parameters from the defaults.
    pub fn builder() -> TotpParamsBuilder {
        TotpParamsBuilder {
            params: Self::default(),
            digits: 6,
            period: Self::DEFAULT_PERIOD,
        }
    }

    /// The HMAC hash function.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits in a code.
    pub fn digits(&self) -> Digits {
        self.digits
    }

    /// The time step, in seconds.
    pub fn period(&self) -> u32 {
        self.period.0
    }

    /// The unix time at which step 0 starts.
    pub fn t0(&self) -> u64 {
        self.t0
    }

    /// The time step `T = floor((now - T0) / period)` for a unix time, or
    /// [`OtpError::TimeOutOfRange`] when `now` is before `T0`.
    pub fn step_at(&self, now: u64) -> Result<u64, OtpError> {
        let since_epoch = now.checked_sub(self.t0).ok_or(OtpError::TimeOutOfRange)?;
        since_epoch
            .checked_div(u64::from(self.period.0))
            .ok_or(OtpError::TimeOutOfRange)
    }

    /// The unix time at which a step starts, or [`OtpError::TimeOutOfRange`] if it overflows.
    pub fn step_start(&self, step: u64) -> Result<u64, OtpError> {
        step.checked_mul(u64::from(self.period.0))
            .and_then(|offset| offset.checked_add(self.t0))
            .ok_or(OtpError::TimeOutOfRange)
    }
}

/// Builder for [`TotpParams`]; [`TotpParamsBuilder::build`] validates.
#[derive(Clone, Debug)]
#[must_use]
pub struct TotpParamsBuilder {
    params: TotpParams,
    digits: u8,
    period: u32,
}

impl TotpParamsBuilder {
    /// Sets the hash function (default SHA-1).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.params.algorithm = algorithm;
        self
    }

    /// Sets the number of digits, 6 to 8 (default 6).
    pub fn digits(mut self, digits: u8) -> Self {
        self.digits = digits;
        self
    }

    /// Sets the time step in seconds, 1 to 120 (default 30).
    pub fn period(mut self, seconds: u32) -> Self {
        self.period = seconds;
        self
    }

    /// Sets the unix time at which step 0 starts (default 0).
    pub fn t0(mut self, t0: u64) -> Self {
        self.params.t0 = t0;
        self
    }

    /// Validates and returns the parameters.
    pub fn build(self) -> Result<TotpParams, OtpError> {
        let digits = Digits::try_from(self.digits)?;
        if self.period == 0 || self.period > TotpParams::MAX_PERIOD {
            return Err(ParamError::Period.into());
        }
        Ok(TotpParams {
            digits,
            period: Period(self.period),
            ..self.params
        })
    }
}

/// How many steps either side of the current one a presented code may come from.
///
/// RFC 6238 §5.2 recommends at most one step of clock drift; each extra step accepts two more
/// codes per attempt, so the window is capped at [`Window::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window(u8);

impl Window {
    /// The largest window accepted.
    pub const MAX: u8 = 5;

    /// No drift tolerated: only the current step.
    pub const EXACT: Self = Self(0);

    /// A window of `steps` either side of the current step, at most [`Window::MAX`].
    pub fn new(steps: u8) -> Result<Self, OtpError> {
        if steps > Self::MAX {
            Err(ParamError::Window.into())
        } else {
            Ok(Self(steps))
        }
    }

    /// Steps either side of the current one.
    pub fn steps(self) -> u8 {
        self.0
    }
}

impl Default for Window {
    /// One step either side (RFC 6238 §5.2).
    fn default() -> Self {
        Self(1)
    }
}

/// A TOTP step that verification accepted.
///
/// The caller must record it as the authenticator's new replay watermark — atomically, only if it
/// is higher than the stored one — before treating the login as successful. Presenting it as
/// `last_accepted` to later calls makes the same code (and any older one) fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[must_use = "the accepted step must be stored as the new replay watermark"]
pub struct AcceptedStep(u64);

impl AcceptedStep {
    /// The step number.
    pub fn step(self) -> u64 {
        self.0
    }
}

/// A TOTP generator and verifier for one secret key (RFC 6238).
///
/// Building it runs the HMAC key schedule once; afterwards every generated or verified step costs
/// two hash compressions and allocates nothing. It holds only the keyed hash states, wiped on drop.
pub struct Totp {
    params: TotpParams,
    mac: KeyedMac,
}

impl Totp {
    /// Keys a TOTP instance with a secret.
    pub fn new(params: TotpParams, key: &SecretKey) -> Self {
        Self {
            params,
            mac: KeyedMac::new(params.algorithm, key.expose_bytes()),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &TotpParams {
        &self.params
    }

    /// The code for a unix time.
    pub fn generate(&self, now: u64) -> Result<OtpCode, OtpError> {
        Ok(self.generate_at_step(self.params.step_at(now)?))
    }

    /// The code for a time step.
    pub fn generate_at_step(&self, step: u64) -> OtpCode {
        let digits = self.params.digits;
        let value = match &self.mac {
            KeyedMac::Sha1(k) => code_at(k, step, digits),
            KeyedMac::Sha256(k) => code_at(k, step, digits),
            KeyedMac::Sha512(k) => code_at(k, step, digits),
        };
        OtpCode::new(value, digits)
    }

    /// Verifies a presented code at unix time `now`.
    ///
    /// Accepts the code if it matches a step within `window` of the current step that is above
    /// `last_accepted` (the replay watermark: `None` if the authenticator never produced an
    /// accepted code). When several steps match, the newest is returned. Everything else — a
    /// wrong, replayed, expired or malformed code, or a time before `T0` — is the one opaque
    /// [`Rejected`].
    ///
    /// Every step of the window is computed and compared in constant time, and the results are
    /// combined without an early exit, so timing reveals neither whether nor which step matched.
    pub fn verify(
        &self,
        code: &str,
        now: u64,
        window: Window,
        last_accepted: Option<u64>,
    ) -> Result<AcceptedStep, Rejected> {
        self.verify_detailed(code, now, window, last_accepted)
            .map_err(Rejected::from)
    }

    /// [`Self::verify`], saying for the audit trail why a code was refused: a code that matches
    /// a step of the window at or below `last_accepted` is [`Refusal::Replayed`], anything else
    /// [`Refusal::Invalid`]. The same work in the same time as [`Self::verify`]: both matches are
    /// folded into the one scan. Show the person only the opaque [`Rejected`].
    pub fn verify_detailed(
        &self,
        code: &str,
        now: u64,
        window: Window,
        last_accepted: Option<u64>,
    ) -> Result<AcceptedStep, Refusal> {
        let current = self.params.step_at(now).map_err(|_| Refusal::Invalid)?;
        let steps = u64::from(window.0);
        let first = current.saturating_sub(steps);
        let last = current.saturating_add(steps);
        let (presented, well_formed) = parse_presented(code, self.params.digits);
        let digits = self.params.digits;
        let found = match &self.mac {
            KeyedMac::Sha1(k) => newest_match(k, digits, presented, first, last, last_accepted),
            KeyedMac::Sha256(k) => newest_match(k, digits, presented, first, last, last_accepted),
            KeyedMac::Sha512(k) => newest_match(k, digits, presented, first, last, last_accepted),
        };
        let (step, matched, replayed) = found;
        if bool::from(matched & well_formed) {
            Ok(AcceptedStep(step))
        } else if bool::from(replayed & well_formed) {
            Err(Refusal::Replayed)
        } else {
            Err(Refusal::Invalid)
        }
    }
}

impl core::fmt::Debug for Totp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Totp")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Scans `first..=last`, returning the newest step above the watermark whose code equals
/// `presented`, whether there was one, and whether a step at or below the watermark matched (a
/// replay). No early exit, no secret-dependent branch.
#[inline(always)]
fn newest_match<H: BlockFunction>(
    keyed: &Keyed<H>,
    digits: Digits,
    presented: u32,
    first: u64,
    last: u64,
    last_accepted: Option<u64>,
) -> (u64, Choice, Choice) {
    // Steps at or below the watermark are computed like the others and masked out afterwards.
    // `fresh` is 1 when `step > watermark` (the borrow of `watermark - step`) or when there is no
    // watermark yet; it is folded into the one constant-time comparison per step.
    let (watermark, unwatermarked) = match last_accepted {
        Some(step) => (step, 0u64),
        None => (0, 1),
    };
    let expected = u64::from(presented) | (1 << 32);
    let mut best = 0u64;
    let mut matched = Choice::from(0);
    let mut replayed = Choice::from(0);
    scan_codes(keyed, digits, first, last, |step, code| {
        let fresh = u64::from(watermark.overflowing_sub(step).1) | unwatermarked;
        let hit = (u64::from(code) | (fresh << 32)).ct_eq(&expected);
        // The same comparison with the freshness bit flipped: the code of a used step.
        let stale = (u64::from(code) | ((fresh ^ 1) << 32)).ct_eq(&expected);
        best.conditional_assign(&step, hit);
        matched |= hit;
        replayed |= stale;
    });
    (best, matched, replayed)
}

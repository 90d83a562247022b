//! Throttling of failed attempts: exponential back-off and a hard lock (NIST SP 800-63B §5.2.2).
//!
//! A [`ThrottlePolicy`] turns a factor's failure history, held in a small `Copy`
//! [`ThrottleState`], into a [`ThrottleDecision`]: allowed, retry after some seconds, or locked.
//! It is pure: the host loads the state, asks [`ThrottlePolicy::decide`] before verifying,
//! and after verifying applies [`ThrottlePolicy::record_failure`] or
//! [`ThrottlePolicy::record_success`] and persists the returned state — atomically, in one guarded
//! update, so that two servers cannot both count from the same old value.
//!
//! Each account has one state per [`ThrottledFactor`] (password, TOTP, recovery codes, out-of-band
//! codes): guessing passwords never delays or locks the second factor, and the reverse.
//! [`AccountThrottle`] bundles the four for hosts that keep them together.
//!
//! With the default policy the first 5 consecutive failures are free; each later one imposes a
//! wait of 30 s, 60 s, 120 s, … capped at 1 h; the 100th consecutive failure locks the factor
//! (the most NIST SP 800-63B §5.2.2 allows) until an explicit [`ThrottlePolicy::reset`], done by
//! an administrator or by re-enrolling the factor. Reaching the lock takes more than 80 hours of
//! continuous guessing, so an attacker cannot use it to lock a person out quickly.

use core::fmt;

use crate::error::Error;
use crate::factor::ThrottledFactor;

/// The most consecutive failures any policy allows before locking (NIST SP 800-63B §5.2.2:
/// "no more than 100").
pub const MAX_CONSECUTIVE_FAILURES: u8 = 100;

/// Why a throttle policy was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThrottleError {
    /// The lock threshold must be 1 to [`MAX_CONSECUTIVE_FAILURES`].
    LockThreshold,
    /// The free attempts must be fewer than the lock threshold.
    FreeAttempts,
    /// The base delay must be at least 1 s and at most the maximum delay.
    BaseDelay,
    /// The maximum delay must be at most [`ThrottlePolicy::MAX_DELAY_LIMIT`] seconds.
    MaxDelay,
}

impl fmt::Display for ThrottleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LockThreshold => write!(
                f,
                "the lock threshold must be between 1 and {MAX_CONSECUTIVE_FAILURES} failures"
            ),
            Self::FreeAttempts => {
                f.write_str("the free attempts must be fewer than the lock threshold")
            }
            Self::BaseDelay => {
                f.write_str("the base delay must be at least 1 s and at most the maximum delay")
            }
            Self::MaxDelay => write!(
                f,
                "the maximum delay must be at most {} s",
                ThrottlePolicy::MAX_DELAY_LIMIT
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ThrottleError {}

impl From<ThrottleError> for Error {
    fn from(e: ThrottleError) -> Self {
        Self::Throttle(e)
    }
}

/// How failures turn into delays and a lock. Always valid: built through
/// [`ThrottlePolicy::builder`], which enforces the NIST SP 800-63B cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThrottlePolicy {
    free_attempts: u8,
    base_delay: u32,
    max_delay: u32,
    lock_after: u8,
}

impl Default for ThrottlePolicy {
    /// 5 free attempts, then 30 s doubling up to 1 h, locked at 100 consecutive failures.
    fn default() -> Self {
        Self {
            free_attempts: 5,
            base_delay: 30,
            max_delay: 3600,
            lock_after: MAX_CONSECUTIVE_FAILURES,
        }
    }
}

impl ThrottlePolicy {
    /// The largest maximum delay accepted, in seconds (one day).
    pub const MAX_DELAY_LIMIT: u32 = 86_400;

    /// Starts building a policy from the defaults.
    pub fn builder() -> ThrottlePolicyBuilder {
        ThrottlePolicyBuilder {
            policy: Self::default(),
        }
    }

    /// Consecutive failures allowed without any delay.
    pub fn free_attempts(&self) -> u8 {
        self.free_attempts
    }

    /// The wait after the first failure beyond the free ones, in seconds.
    pub fn base_delay(&self) -> u32 {
        self.base_delay
    }

    /// The longest wait, in seconds.
    pub fn max_delay(&self) -> u32 {
        self.max_delay
    }

    /// The number of consecutive failures that locks the factor.
    pub fn lock_after(&self) -> u8 {
        self.lock_after
    }

    /// The wait imposed after the `failures`-th consecutive failure, in seconds: 0 while the
    /// failures are within the free attempts, then the base delay doubling with each further
    /// failure, capped at the maximum delay. Never decreases as `failures` grows.
    pub fn delay_after(&self, failures: u8) -> u64 {
        let max = u64::from(self.max_delay);
        match failures.checked_sub(self.free_attempts) {
            None | Some(0) => 0,
            Some(over) => {
                let doublings = u32::from(over.saturating_sub(1));
                1u64.checked_shl(doublings)
                    .and_then(|factor| u64::from(self.base_delay).checked_mul(factor))
                    .map_or(max, |delay| delay.min(max))
            }
        }
    }

    fn is_locked(&self, state: &ThrottleState) -> bool {
        state.locked || state.failures >= self.lock_after
    }

    /// Whether an attempt may be verified now. Ask before verifying; a refused attempt must not
    /// be verified at all (and is not counted as a failure).
    pub fn decide(&self, state: &ThrottleState, now: u64) -> ThrottleDecision {
        if self.is_locked(state) {
            ThrottleDecision::Locked
        } else if now < state.not_before {
            ThrottleDecision::RetryAfter {
                seconds: state.not_before.saturating_sub(now),
                at: state.not_before,
            }
        } else {
            ThrottleDecision::Allowed
        }
    }

    /// Counts a failed attempt at `now`. The returned state must be persisted; the event says
    /// what changed.
    ///
    /// The retry time never moves earlier, even if a failure is recorded while a wait is still
    /// running (two servers racing). A locked state stays locked and unchanged.
    pub fn record_failure(&self, state: ThrottleState, now: u64) -> ThrottleUpdate {
        if state.locked {
            return ThrottleUpdate::unchanged(state);
        }
        if state.failures >= self.lock_after {
            // Locked by a stricter policy than the one that counted the failures.
            let locked = ThrottleState {
                locked: true,
                ..state
            };
            return ThrottleUpdate::changed(
                locked,
                ThrottleEvent::Locked {
                    failures: state.failures,
                },
            );
        }
        let failures = state
            .failures
            .saturating_add(1)
            .min(MAX_CONSECUTIVE_FAILURES);
        if failures >= self.lock_after {
            let locked = ThrottleState {
                failures,
                not_before: state.not_before,
                locked: true,
            };
            return ThrottleUpdate::changed(locked, ThrottleEvent::Locked { failures });
        }
        let delay = self.delay_after(failures);
        if delay == 0 {
            let next = ThrottleState { failures, ..state };
            return ThrottleUpdate::changed(
                next,
                ThrottleEvent::FailureCounted {
                    failures,
                    free_attempts_left: self.free_attempts.saturating_sub(failures),
                },
            );
        }
        let retry_at = now.saturating_add(delay).max(state.not_before);
        let next = ThrottleState {
            failures,
            not_before: retry_at,
            locked: false,
        };
        let event = if self.delay_after(state.failures) == 0 {
            ThrottleEvent::BackoffStarted { failures, retry_at }
        } else {
            ThrottleEvent::BackoffExtended { failures, retry_at }
        };
        ThrottleUpdate::changed(next, event)
    }

    /// Records a successful verification: clears this factor's failures (and only this
    /// factor's). A locked state is left locked: a success cannot unlock it, only
    /// [`ThrottlePolicy::reset`] can (and a locked factor should not have been verified).
    pub fn record_success(&self, state: ThrottleState) -> ThrottleUpdate {
        if self.is_locked(&state) || state == ThrottleState::new() {
            ThrottleUpdate::unchanged(state)
        } else {
            ThrottleUpdate::changed(
                ThrottleState::new(),
                ThrottleEvent::Cleared {
                    failures: state.failures,
                },
            )
        }
    }

    /// Clears the factor completely, lock included: for an administrator's explicit unlock or a
    /// re-enrolment of the factor.
    pub fn reset(&self, state: ThrottleState) -> ThrottleUpdate {
        if self.is_locked(&state) {
            ThrottleUpdate::changed(ThrottleState::new(), ThrottleEvent::Unlocked)
        } else if state == ThrottleState::new() {
            ThrottleUpdate::unchanged(state)
        } else {
            ThrottleUpdate::changed(
                ThrottleState::new(),
                ThrottleEvent::Cleared {
                    failures: state.failures,
                },
            )
        }
    }
}

/// Builder for [`ThrottlePolicy`]; [`ThrottlePolicyBuilder::build`] validates.
#[derive(Clone, Debug)]
#[must_use]
pub struct ThrottlePolicyBuilder {
    policy: ThrottlePolicy,
}

impl ThrottlePolicyBuilder {
    /// Consecutive failures allowed without delay (default 5); fewer than the lock threshold.
    pub fn free_attempts(mut self, attempts: u8) -> Self {
        self.policy.free_attempts = attempts;
        self
    }

    /// The first wait, in seconds (default 30); it doubles with each further failure.
    pub fn base_delay(mut self, seconds: u32) -> Self {
        self.policy.base_delay = seconds;
        self
    }

    /// The longest wait, in seconds (default 3600, at most one day).
    pub fn max_delay(mut self, seconds: u32) -> Self {
        self.policy.max_delay = seconds;
        self
    }

    /// Consecutive failures that lock the factor (default and maximum 100).
    pub fn lock_after(mut self, failures: u8) -> Self {
        self.policy.lock_after = failures;
        self
    }

    /// Validates and returns the policy.
    pub fn build(self) -> Result<ThrottlePolicy, Error> {
        let p = self.policy;
        if p.lock_after == 0 || p.lock_after > MAX_CONSECUTIVE_FAILURES {
            return Err(ThrottleError::LockThreshold.into());
        }
        if p.free_attempts >= p.lock_after {
            return Err(ThrottleError::FreeAttempts.into());
        }
        if p.max_delay > ThrottlePolicy::MAX_DELAY_LIMIT {
            return Err(ThrottleError::MaxDelay.into());
        }
        if p.base_delay == 0 || p.base_delay > p.max_delay {
            return Err(ThrottleError::BaseDelay.into());
        }
        Ok(p)
    }
}

/// One factor's failure history for one account: what the store keeps (three columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ThrottleState {
    failures: u8,
    not_before: u64,
    locked: bool,
}

impl ThrottleState {
    /// No failures, no wait, not locked.
    pub const fn new() -> Self {
        Self {
            failures: 0,
            not_before: 0,
            locked: false,
        }
    }

    /// Rebuilds a state from its stored parts. Total: a failure count above
    /// [`MAX_CONSECUTIVE_FAILURES`] is clamped to it (which every policy treats as locked).
    pub fn from_parts(failures: u8, not_before: u64, locked: bool) -> Self {
        Self {
            failures: failures.min(MAX_CONSECUTIVE_FAILURES),
            not_before,
            locked,
        }
    }

    /// Consecutive failures since the last success or reset.
    pub fn failures(&self) -> u8 {
        self.failures
    }

    /// The unix time before which attempts are refused (0 when there is no wait).
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// Whether the hard lock has been recorded.
    pub fn is_locked(&self) -> bool {
        self.locked
    }
}

/// What the throttle says about an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "a refused attempt must not be verified"]
pub enum ThrottleDecision {
    /// Verify the attempt.
    Allowed,
    /// Refuse without verifying; the person may try again later.
    RetryAfter {
        /// Seconds to wait from `now`.
        seconds: u64,
        /// The unix time from which attempts are allowed again.
        at: u64,
    },
    /// Refuse without verifying: too many consecutive failures. Only an explicit reset (an
    /// administrator, or re-enrolling the factor) clears it; tell the person so.
    Locked,
}

impl ThrottleDecision {
    /// Whether the attempt may be verified.
    pub fn is_allowed(self) -> bool {
        matches!(self, Self::Allowed)
    }
}

/// A change to a throttle state worth telling the host about (to audit, or to notify the person).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThrottleEvent {
    /// A failure was counted; no wait yet.
    FailureCounted {
        /// Consecutive failures now.
        failures: u8,
        /// Failures left before waits begin.
        free_attempts_left: u8,
    },
    /// The free attempts are used up: the first wait began.
    BackoffStarted {
        /// Consecutive failures now.
        failures: u8,
        /// The unix time from which attempts are allowed again.
        retry_at: u64,
    },
    /// A further failure lengthened the wait.
    BackoffExtended {
        /// Consecutive failures now.
        failures: u8,
        /// The unix time from which attempts are allowed again.
        retry_at: u64,
    },
    /// The factor is locked until an explicit reset.
    Locked {
        /// Consecutive failures that caused the lock.
        failures: u8,
    },
    /// A success (or a reset of an unlocked factor) cleared earlier failures.
    Cleared {
        /// The failures that were cleared.
        failures: u8,
    },
    /// An explicit reset lifted the lock.
    Unlocked,
}

/// The result of recording an outcome: the state to persist and what changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "the new throttle state must be persisted"]
pub struct ThrottleUpdate {
    state: ThrottleState,
    event: Option<ThrottleEvent>,
}

impl ThrottleUpdate {
    fn changed(state: ThrottleState, event: ThrottleEvent) -> Self {
        Self {
            state,
            event: Some(event),
        }
    }

    fn unchanged(state: ThrottleState) -> Self {
        Self { state, event: None }
    }

    /// The state to persist.
    pub fn state(&self) -> ThrottleState {
        self.state
    }

    /// What changed; `None` when the state is unchanged and nothing needs writing.
    pub fn event(&self) -> Option<ThrottleEvent> {
        self.event
    }

    /// Whether the state changed and must be written.
    pub fn changed_state(&self) -> bool {
        self.event.is_some()
    }
}

/// The four failure counters of one account, for hosts that store them together.
///
/// Each method touches only the named factor's counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct AccountThrottle {
    password: ThrottleState,
    totp: ThrottleState,
    recovery_code: ThrottleState,
    out_of_band: ThrottleState,
}

impl AccountThrottle {
    /// All counters clear.
    pub const fn new() -> Self {
        Self {
            password: ThrottleState::new(),
            totp: ThrottleState::new(),
            recovery_code: ThrottleState::new(),
            out_of_band: ThrottleState::new(),
        }
    }

    /// One factor's counter.
    pub fn state(&self, factor: ThrottledFactor) -> ThrottleState {
        match factor {
            ThrottledFactor::Password => self.password,
            ThrottledFactor::Totp => self.totp,
            ThrottledFactor::RecoveryCode => self.recovery_code,
            ThrottledFactor::OutOfBand => self.out_of_band,
        }
    }

    /// Replaces one factor's counter (for example with a state loaded from storage).
    pub fn set_state(&mut self, factor: ThrottledFactor, state: ThrottleState) {
        match factor {
            ThrottledFactor::Password => self.password = state,
            ThrottledFactor::Totp => self.totp = state,
            ThrottledFactor::RecoveryCode => self.recovery_code = state,
            ThrottledFactor::OutOfBand => self.out_of_band = state,
        }
    }

    /// [`ThrottlePolicy::decide`] for one factor.
    pub fn decide(
        &self,
        policy: &ThrottlePolicy,
        factor: ThrottledFactor,
        now: u64,
    ) -> ThrottleDecision {
        policy.decide(&self.state(factor), now)
    }

    /// [`ThrottlePolicy::record_failure`] for one factor; updates `self` and returns the update
    /// (whose state is the factor's new counter, to persist).
    pub fn record_failure(
        &mut self,
        policy: &ThrottlePolicy,
        factor: ThrottledFactor,
        now: u64,
    ) -> ThrottleUpdate {
        let update = policy.record_failure(self.state(factor), now);
        self.set_state(factor, update.state);
        update
    }

    /// [`ThrottlePolicy::record_success`] for one factor only.
    pub fn record_success(
        &mut self,
        policy: &ThrottlePolicy,
        factor: ThrottledFactor,
    ) -> ThrottleUpdate {
        let update = policy.record_success(self.state(factor));
        self.set_state(factor, update.state);
        update
    }

    /// [`ThrottlePolicy::reset`] for one factor only.
    pub fn reset(&mut self, policy: &ThrottlePolicy, factor: ThrottledFactor) -> ThrottleUpdate {
        let update = policy.reset(self.state(factor));
        self.set_state(factor, update.state);
        update
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule() {
        let p = ThrottlePolicy::default();
        let delays: alloc::vec::Vec<u64> = (0..=14).map(|f| p.delay_after(f)).collect();
        assert_eq!(
            delays,
            [
                0, 0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600
            ]
        );
        assert_eq!(p.delay_after(99), 3600);
        assert_eq!(p.delay_after(255), 3600);
    }

    #[test]
    fn builder_limits() {
        assert!(ThrottlePolicy::builder().lock_after(101).build().is_err());
        assert!(ThrottlePolicy::builder().lock_after(0).build().is_err());
        assert_eq!(
            ThrottlePolicy::builder()
                .lock_after(5)
                .free_attempts(5)
                .build(),
            Err(Error::Throttle(ThrottleError::FreeAttempts))
        );
        assert!(ThrottlePolicy::builder().base_delay(0).build().is_err());
        assert!(
            ThrottlePolicy::builder()
                .base_delay(100)
                .max_delay(50)
                .build()
                .is_err()
        );
        assert!(ThrottlePolicy::builder().max_delay(86_401).build().is_err());
        assert!(
            ThrottlePolicy::builder()
                .free_attempts(0)
                .lock_after(1)
                .base_delay(1)
                .max_delay(1)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn stored_parts_clamp() {
        let s = ThrottleState::from_parts(250, 7, false);
        assert_eq!(s.failures(), MAX_CONSECUTIVE_FAILURES);
        assert_eq!(
            ThrottlePolicy::default().decide(&s, 0),
            ThrottleDecision::Locked
        );
    }
}

//! Throttling of failed attempts: exponential back-off and a time-bounded lock (NIST SP 800-63B
//! §5.2.2).
//!
//! A [`ThrottlePolicy`] turns a counter's failure history, held in a small `Copy`
//! [`ThrottleState`], into a [`ThrottleDecision`]: allowed, retry after some seconds, or locked
//! until a given time. It is pure: every method takes `now`.
//!
//! The rules — reserving before verifying, the counters, the schedule, the time-bounded lock
//! and when a count is forgotten — are documented on [`ThrottlePolicy`].

use core::fmt;

use crate::credential::factor::ThrottledFactor;

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
    /// The lock duration must be 1 s to [`ThrottlePolicy::MAX_LOCK_DURATION`].
    LockDuration,
    /// The forget time must be at least the maximum delay and at most
    /// [`ThrottlePolicy::MAX_FORGET_AFTER`].
    ForgetAfter,
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
            Self::LockDuration => write!(
                f,
                "the lock duration must be between 1 s and {} s",
                ThrottlePolicy::MAX_LOCK_DURATION
            ),
            Self::ForgetAfter => write!(
                f,
                "the forget time must be at least the maximum delay and at most {} s",
                ThrottlePolicy::MAX_FORGET_AFTER
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ThrottleError {}

/// How failures turn into delays and a time-bounded lock. Always valid: built through
/// [`ThrottlePolicy::builder`], which enforces the NIST SP 800-63B cap and the ceilings on every
/// wait.
///
/// # Reserve, then verify
///
/// An attempt is counted *before* it is verified: [`ThrottlePolicy::reserve`] decides and, when
/// the attempt is allowed, already counts it as a failure. The host persists the reservation in
/// one atomic step (the store's guarded update) and only then verifies the guess; a success is
/// settled with [`ThrottlePolicy::record_success`], which clears the counter. So concurrent
/// guesses each take their own place in the count, and no more are verified than the policy
/// allows at that instant — counting after verifying would let a burst all be verified against
/// the same old count.
///
/// # Counters
///
/// Each account has one state per [`ThrottledFactor`] (password, TOTP, recovery codes,
/// out-of-band codes): guessing passwords never delays or locks the second factor, and the
/// reverse. [`AccountThrottle`] bundles the four for hosts that keep them together. (The service
/// counts passwords per normalised login name, so that unknown names throttle exactly like real
/// ones.)
///
/// # The schedule
///
/// With the default policy:
///
/// - the first 5 consecutive failures are free;
/// - each later one imposes a wait of 30 s, 60 s, 120 s, … capped at 1 h
///   ([`ThrottlePolicy::max_delay`], at most [`ThrottlePolicy::MAX_DELAY_LIMIT`], a day);
/// - the 100th consecutive failure ([`ThrottlePolicy::lock_after`], at most
///   [`MAX_CONSECUTIVE_FAILURES`], the most NIST SP 800-63B §5.2.2 allows) locks the counter for
///   [`ThrottlePolicy::lock_duration`] (default a day, never more than
///   [`ThrottlePolicy::MAX_LOCK_DURATION`], a week). Reaching the lock takes more than 80 hours
///   of continuous guessing;
/// - when the lock lapses, attempts are allowed again, but the count is kept: each further
///   failure locks again at once, for another lock duration. A success clears everything;
/// - a count is forgotten [`ThrottlePolicy::forget_after`] (default a day, at most
///   [`ThrottlePolicy::MAX_FORGET_AFTER`], 30 days, never less than the maximum delay) after its
///   last wait or lock ended — or after its last failure when no wait was imposed
///   ([`ThrottleState::forget_at`]). A forgotten state decides exactly as a fresh one, so a
///   store may delete it (this is the retention rule of the stores' throttle pruning).
///
/// So a person is never locked out for good (NIST SP 800-63B §5.2.2: rate limiting must not let
/// an attacker lock the subscriber out): the correct password or code gets in at most one lock
/// duration after the last failure. An attacker gets at most `lock_after` guesses before the first
/// lock, then one guess per lock duration while the count is remembered. An administrator may
/// clear a counter at any time ([`ThrottlePolicy::reset`]).
///
/// Deviation: NIST SP 800-63B counts consecutive failures without end. Here a count is forgotten
/// once it has been quiet for the forget time, so that stores can delete counters (those of
/// login names nobody holds among them) instead of keeping one per name ever tried. An attacker who
/// pauses that long gets a fresh allowance: still at most `lock_after` guesses per stretch of
/// more than the back-off to the lock plus the lock plus the forget time (with the defaults, over
/// 80 hours plus two days per 100 guesses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThrottlePolicy {
    free_attempts: u8,
    base_delay: u32,
    max_delay: u32,
    lock_after: u8,
    lock_duration: u32,
    forget_after: u32,
}

impl Default for ThrottlePolicy {
    /// 5 free attempts, then 30 s doubling up to 1 h, locked for a day at 100 consecutive
    /// failures, counts forgotten a day after their last wait.
    fn default() -> Self {
        Self {
            free_attempts: 5,
            base_delay: 30,
            max_delay: 3600,
            lock_after: MAX_CONSECUTIVE_FAILURES,
            lock_duration: 86_400,
            forget_after: 86_400,
        }
    }
}

impl ThrottlePolicy {
    /// The largest maximum delay accepted, in seconds (one day).
    pub const MAX_DELAY_LIMIT: u32 = 86_400;

    /// The longest lock accepted, in seconds (one week): the ceiling on how long anyone, the
    /// attacker included, can keep the person out with failures.
    pub const MAX_LOCK_DURATION: u32 = 604_800;

    /// The longest a count may be remembered after its last wait, in seconds (30 days).
    pub const MAX_FORGET_AFTER: u32 = 2_592_000;

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

    /// The number of consecutive failures that locks the counter.
    pub fn lock_after(&self) -> u8 {
        self.lock_after
    }

    /// How long a lock lasts, in seconds; each failure after it lapses locks again.
    pub fn lock_duration(&self) -> u32 {
        self.lock_duration
    }

    /// How long a count is remembered after its last wait or lock ended (or its last failure,
    /// when none was imposed), in seconds.
    pub fn forget_after(&self) -> u32 {
        self.forget_after
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

    /// The state as it stands at `now`: a forgotten one is fresh.
    fn current(state: ThrottleState, now: u64) -> ThrottleState {
        if state.is_forgotten(now) {
            ThrottleState::new()
        } else {
            state
        }
    }

    /// Whether an attempt may be verified now. A refused attempt must not be verified at all.
    /// To count an allowed attempt in the same step, use [`Self::reserve`].
    pub fn decide(&self, state: &ThrottleState, now: u64) -> ThrottleDecision {
        let state = Self::current(*state, now);
        if now >= state.not_before {
            ThrottleDecision::Allowed
        } else if state.locked {
            ThrottleDecision::Locked {
                until: state.not_before,
            }
        } else {
            ThrottleDecision::RetryAfter {
                seconds: state.not_before.saturating_sub(now),
                at: state.not_before,
            }
        }
    }

    /// Decides on an attempt at `now` and, if it is allowed, counts it as a failure at once —
    /// before it is verified. The host persists the returned state atomically (one guarded
    /// update: two servers never reserve from the same old state), then verifies, and settles a
    /// success with [`Self::record_success`]. A refused attempt changes nothing.
    pub fn reserve(&self, state: ThrottleState, now: u64) -> ThrottleReservation {
        let decision = self.decide(&state, now);
        let update = if decision.is_allowed() {
            self.record_failure(state, now)
        } else {
            ThrottleUpdate::unchanged(state)
        };
        ThrottleReservation { decision, update }
    }

    /// Counts a failed attempt at `now`. The returned state must be persisted; the event says
    /// what changed. (The service counts through [`Self::reserve`], before verifying.)
    ///
    /// The retry time never moves earlier, even if a failure is recorded while a wait is still
    /// running (two servers racing). A failure during a running lock changes nothing; one after
    /// the lock lapsed (or reaching the threshold of a stricter policy) locks again.
    pub fn record_failure(&self, state: ThrottleState, now: u64) -> ThrottleUpdate {
        let state = Self::current(state, now);
        if state.locked && now < state.not_before {
            return ThrottleUpdate::unchanged(state);
        }
        let failures = state
            .failures
            .saturating_add(1)
            .min(MAX_CONSECUTIVE_FAILURES);
        let forget = u64::from(self.forget_after);
        if failures >= self.lock_after {
            let until = now
                .saturating_add(u64::from(self.lock_duration))
                .max(state.not_before);
            let locked = ThrottleState {
                failures,
                not_before: until,
                locked: true,
                forget_at: until.saturating_add(forget),
            };
            return ThrottleUpdate::changed(locked, ThrottleEvent::Locked { failures, until });
        }
        let delay = self.delay_after(failures);
        let not_before = if delay == 0 {
            state.not_before
        } else {
            now.saturating_add(delay).max(state.not_before)
        };
        let next = ThrottleState {
            failures,
            not_before,
            locked: false,
            forget_at: not_before.max(now).saturating_add(forget),
        };
        let event = if delay == 0 {
            ThrottleEvent::FailureCounted {
                failures,
                free_attempts_left: self.free_attempts.saturating_sub(failures),
            }
        } else if self.delay_after(state.failures) == 0 {
            ThrottleEvent::BackoffStarted {
                failures,
                retry_at: not_before,
            }
        } else {
            ThrottleEvent::BackoffExtended {
                failures,
                retry_at: not_before,
            }
        };
        ThrottleUpdate::changed(next, event)
    }

    /// Records a successful verification: clears the counter, lock included (a success settles
    /// the reservation it was verified under, which may itself have reached the lock). Only this
    /// counter is touched.
    pub fn record_success(&self, state: ThrottleState) -> ThrottleUpdate {
        if state == ThrottleState::new() {
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

    /// Clears the counter completely, lock included: for an administrator's explicit unlock or a
    /// re-enrollment of the factor.
    pub fn reset(&self, state: ThrottleState) -> ThrottleUpdate {
        if self.is_locked(&state) {
            ThrottleUpdate::changed(ThrottleState::new(), ThrottleEvent::Unlocked)
        } else {
            self.record_success(state)
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

    /// Consecutive failures that lock the counter (default and maximum 100).
    pub fn lock_after(mut self, failures: u8) -> Self {
        self.policy.lock_after = failures;
        self
    }

    /// How long a lock lasts, in seconds (default 86 400, a day; at most
    /// [`ThrottlePolicy::MAX_LOCK_DURATION`], a week).
    pub fn lock_duration(mut self, seconds: u32) -> Self {
        self.policy.lock_duration = seconds;
        self
    }

    /// How long a count is remembered after its last wait or lock ended, in seconds (default
    /// 86 400, a day; at least the maximum delay, at most [`ThrottlePolicy::MAX_FORGET_AFTER`]).
    pub fn forget_after(mut self, seconds: u32) -> Self {
        self.policy.forget_after = seconds;
        self
    }

    /// Validates and returns the policy.
    pub fn build(self) -> Result<ThrottlePolicy, ThrottleError> {
        let p = self.policy;
        if p.lock_after == 0 || p.lock_after > MAX_CONSECUTIVE_FAILURES {
            return Err(ThrottleError::LockThreshold);
        }
        if p.free_attempts >= p.lock_after {
            return Err(ThrottleError::FreeAttempts);
        }
        if p.max_delay > ThrottlePolicy::MAX_DELAY_LIMIT {
            return Err(ThrottleError::MaxDelay);
        }
        if p.base_delay == 0 || p.base_delay > p.max_delay {
            return Err(ThrottleError::BaseDelay);
        }
        if p.lock_duration == 0 || p.lock_duration > ThrottlePolicy::MAX_LOCK_DURATION {
            return Err(ThrottleError::LockDuration);
        }
        if p.forget_after < p.max_delay || p.forget_after > ThrottlePolicy::MAX_FORGET_AFTER {
            return Err(ThrottleError::ForgetAfter);
        }
        Ok(p)
    }
}

/// One counter's failure history: what the store keeps (four columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ThrottleState {
    failures: u8,
    not_before: u64,
    locked: bool,
    forget_at: u64,
}

impl ThrottleState {
    /// No failures, no wait, not locked.
    pub const fn new() -> Self {
        Self {
            failures: 0,
            not_before: 0,
            locked: false,
            forget_at: 0,
        }
    }

    /// Rebuilds a state from its stored parts. Total: a failure count above
    /// [`MAX_CONSECUTIVE_FAILURES`] is clamped to it (which every policy treats as the lock
    /// threshold).
    pub fn from_parts(failures: u8, not_before: u64, locked: bool, forget_at: u64) -> Self {
        Self {
            failures: failures.min(MAX_CONSECUTIVE_FAILURES),
            not_before,
            locked,
            forget_at,
        }
    }

    /// Consecutive failures since the last success or reset.
    pub fn failures(&self) -> u8 {
        self.failures
    }

    /// The unix time before which attempts are refused (the end of the wait or of the lock; 0
    /// when there never was one).
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// Whether the last failure locked the counter (the lock holds until
    /// [`Self::not_before`]).
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// The unix time from which the state is forgotten and decides exactly as a fresh one:
    /// [`ThrottlePolicy::forget_after`] after the end of its last wait or lock, or after its last
    /// failure when none was imposed (0 for a fresh state). From then on a store may delete it.
    pub fn forget_at(&self) -> u64 {
        self.forget_at
    }

    /// Whether the state is forgotten at `now` (a fresh state always is).
    pub fn is_forgotten(&self, now: u64) -> bool {
        now >= self.forget_at
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
    /// Refuse without verifying: too many consecutive failures. The lock lapses at `until`
    /// (or an administrator clears it earlier); tell the person so.
    Locked {
        /// The unix time from which attempts are allowed again.
        until: u64,
    },
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
    /// The counter is locked until `until` (or an explicit reset).
    Locked {
        /// Consecutive failures that caused the lock.
        failures: u8,
        /// The unix time from which attempts are allowed again.
        until: u64,
    },
    /// A success (or a reset of an unlocked counter) cleared earlier failures.
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

/// The result of [`ThrottlePolicy::reserve`]: the decision and, for an allowed attempt, the state
/// with the attempt already counted as a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "a reservation must be persisted before the attempt is verified"]
pub struct ThrottleReservation {
    decision: ThrottleDecision,
    update: ThrottleUpdate,
}

impl ThrottleReservation {
    /// Whether the attempt may be verified.
    pub fn decision(&self) -> ThrottleDecision {
        self.decision
    }

    /// The state to persist (unchanged for a refused attempt).
    pub fn state(&self) -> ThrottleState {
        self.update.state
    }

    /// What counting the attempt changed (for an allowed attempt; `None` for a refused one).
    pub fn event(&self) -> Option<ThrottleEvent> {
        self.update.event
    }

    /// Whether the state changed and must be written.
    pub fn changed_state(&self) -> bool {
        self.update.changed_state()
    }

    /// The update the reservation applies.
    pub fn update(&self) -> ThrottleUpdate {
        self.update
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
    #[cfg(feature = "passkeys")]
    passkey: ThrottleState,
}

impl AccountThrottle {
    /// All counters clear.
    pub const fn new() -> Self {
        Self {
            password: ThrottleState::new(),
            totp: ThrottleState::new(),
            recovery_code: ThrottleState::new(),
            out_of_band: ThrottleState::new(),
            #[cfg(feature = "passkeys")]
            passkey: ThrottleState::new(),
        }
    }

    /// One factor's counter.
    pub fn state(&self, factor: ThrottledFactor) -> ThrottleState {
        match factor {
            ThrottledFactor::Password => self.password,
            ThrottledFactor::Totp => self.totp,
            ThrottledFactor::RecoveryCode => self.recovery_code,
            ThrottledFactor::OutOfBand => self.out_of_band,
            #[cfg(feature = "passkeys")]
            ThrottledFactor::Passkey => self.passkey,
        }
    }

    /// Replaces one factor's counter (for example with a state loaded from storage).
    pub fn set_state(&mut self, factor: ThrottledFactor, state: ThrottleState) {
        match factor {
            ThrottledFactor::Password => self.password = state,
            ThrottledFactor::Totp => self.totp = state,
            ThrottledFactor::RecoveryCode => self.recovery_code = state,
            ThrottledFactor::OutOfBand => self.out_of_band = state,
            #[cfg(feature = "passkeys")]
            ThrottledFactor::Passkey => self.passkey = state,
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

    /// [`ThrottlePolicy::reserve`] for one factor; updates `self` and returns the reservation.
    pub fn reserve(
        &mut self,
        policy: &ThrottlePolicy,
        factor: ThrottledFactor,
        now: u64,
    ) -> ThrottleReservation {
        let reservation = policy.reserve(self.state(factor), now);
        self.set_state(factor, reservation.state());
        reservation
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
        assert_eq!(p.lock_duration(), 86_400);
        assert_eq!(p.forget_after(), 86_400);
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
            Err(ThrottleError::FreeAttempts)
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
        assert_eq!(
            ThrottlePolicy::builder().lock_duration(0).build(),
            Err(ThrottleError::LockDuration)
        );
        assert_eq!(
            ThrottlePolicy::builder()
                .lock_duration(ThrottlePolicy::MAX_LOCK_DURATION + 1)
                .build(),
            Err(ThrottleError::LockDuration)
        );
        assert!(
            ThrottlePolicy::builder()
                .lock_duration(ThrottlePolicy::MAX_LOCK_DURATION)
                .build()
                .is_ok()
        );
        assert_eq!(
            ThrottlePolicy::builder().forget_after(3599).build(),
            Err(ThrottleError::ForgetAfter)
        );
        assert_eq!(
            ThrottlePolicy::builder()
                .forget_after(ThrottlePolicy::MAX_FORGET_AFTER + 1)
                .build(),
            Err(ThrottleError::ForgetAfter)
        );
        assert!(
            ThrottlePolicy::builder()
                .free_attempts(0)
                .lock_after(1)
                .base_delay(1)
                .max_delay(1)
                .lock_duration(1)
                .forget_after(1)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn stored_parts_clamp() {
        let s = ThrottleState::from_parts(250, 7, false, 1000);
        assert_eq!(s.failures(), MAX_CONSECUTIVE_FAILURES);
        // At the threshold but not locked: the next failure locks.
        let p = ThrottlePolicy::default();
        assert!(p.decide(&s, 10).is_allowed());
        assert!(p.record_failure(s, 10).state().is_locked());
    }

    #[test]
    fn a_refused_reservation_changes_nothing() {
        let p = ThrottlePolicy::builder()
            .free_attempts(0)
            .lock_after(2)
            .base_delay(10)
            .max_delay(10)
            .build()
            .unwrap();
        let first = p.reserve(ThrottleState::new(), 100);
        assert!(first.decision().is_allowed());
        assert_eq!(first.state().failures(), 1);
        let refused = p.reserve(first.state(), 105);
        assert_eq!(
            refused.decision(),
            ThrottleDecision::RetryAfter {
                seconds: 5,
                at: 110
            }
        );
        assert!(!refused.changed_state());
        assert_eq!(refused.event(), None);
        assert_eq!(refused.state(), first.state());
    }
}

//! Throttling: back-off schedule, time-bounded lock, reservations, per-factor counters, events,
//! forgetting, and properties.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use authcore::credential::{
    AccountThrottle, FactorKind, MAX_CONSECUTIVE_FAILURES, ThrottleDecision, ThrottleEvent,
    ThrottlePolicy, ThrottleState, ThrottledFactor,
};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000;

/// Fails as soon as allowed, again and again, until locked; returns the events and the time.
fn guess_until_locked(policy: &ThrottlePolicy) -> (Vec<ThrottleEvent>, u64) {
    let mut state = ThrottleState::new();
    let mut now = T0;
    let mut events = Vec::new();
    loop {
        match policy.decide(&state, now) {
            ThrottleDecision::Allowed => {
                let update = policy.record_failure(state, now);
                events.push(update.event().unwrap());
                state = update.state();
            }
            ThrottleDecision::RetryAfter { at, seconds } => {
                assert_eq!(at - now, seconds);
                now = at;
            }
            ThrottleDecision::Locked { .. } => return (events, now),
        }
    }
}

#[test]
fn default_policy_schedule_and_events() {
    let policy = ThrottlePolicy::default();
    assert_eq!(policy.free_attempts(), 5);
    assert_eq!(policy.base_delay(), 30);
    assert_eq!(policy.max_delay(), 3600);
    assert_eq!(policy.lock_after(), 100);

    let mut state = ThrottleState::new();
    for n in 1..=5u8 {
        assert!(policy.decide(&state, T0).is_allowed());
        let update = policy.record_failure(state, T0);
        assert_eq!(
            update.event(),
            Some(ThrottleEvent::FailureCounted {
                failures: n,
                free_attempts_left: 5 - n
            })
        );
        state = update.state();
    }
    assert!(policy.decide(&state, T0).is_allowed());
    let update = policy.record_failure(state, T0);
    assert_eq!(
        update.event(),
        Some(ThrottleEvent::BackoffStarted {
            failures: 6,
            retry_at: T0 + 30
        })
    );
    state = update.state();
    assert_eq!(
        policy.decide(&state, T0 + 10),
        ThrottleDecision::RetryAfter {
            seconds: 20,
            at: T0 + 30
        }
    );
    assert!(policy.decide(&state, T0 + 30).is_allowed());
    let update = policy.record_failure(state, T0 + 30);
    assert_eq!(
        update.event(),
        Some(ThrottleEvent::BackoffExtended {
            failures: 7,
            retry_at: T0 + 90
        })
    );
}

#[test]
fn locks_at_one_hundred_and_takes_days() {
    let policy = ThrottlePolicy::default();
    let (events, locked_at) = guess_until_locked(&policy);
    assert_eq!(events.len(), 100);
    assert_eq!(
        events.last(),
        Some(&ThrottleEvent::Locked {
            failures: MAX_CONSECUTIVE_FAILURES,
            until: locked_at_failure(&events) + 86_400,
        })
    );
    assert!(
        events[..99]
            .iter()
            .all(|e| !matches!(e, ThrottleEvent::Locked { .. }))
    );
    // 30 + 60 + ... + 1920 s, then 87 waits of an hour: more than 80 hours of guessing.
    assert_eq!(locked_at - T0, 3810 + 87 * 3600);
    assert!(locked_at - T0 > 80 * 3600);
}

/// The time of the failure that locked (the retry time of the one before it).
fn locked_at_failure(events: &[ThrottleEvent]) -> u64 {
    match events[events.len() - 2] {
        ThrottleEvent::BackoffExtended { retry_at, .. } => retry_at,
        other => panic!("{other:?}"),
    }
}

fn small_policy() -> ThrottlePolicy {
    ThrottlePolicy::builder()
        .free_attempts(1)
        .lock_after(3)
        .base_delay(1)
        .max_delay(2)
        .lock_duration(600)
        .forget_after(1000)
        .build()
        .unwrap()
}

#[test]
fn a_lock_lapses_and_each_further_failure_locks_again() {
    let policy = small_policy();
    let mut state = ThrottleState::new();
    for t in 0..3 {
        state = policy.record_failure(state, T0 + 10 * t).state();
    }
    let until = T0 + 20 + 600;
    assert!(state.is_locked());
    assert_eq!(state.not_before(), until);
    assert_eq!(
        policy.decide(&state, T0 + 100),
        ThrottleDecision::Locked { until }
    );
    // A failure recorded during the lock (a racing server) changes nothing.
    let update = policy.record_failure(state, T0 + 100);
    assert_eq!(update.event(), None);
    assert_eq!(update.state(), state);
    // The lock lapses: the attempt is allowed, and a further failure locks again at once.
    assert!(policy.decide(&state, until).is_allowed());
    let relocked = policy.record_failure(state, until + 5);
    assert_eq!(
        relocked.event(),
        Some(ThrottleEvent::Locked {
            failures: 4,
            until: until + 5 + 600
        })
    );
    // A success after the lapse clears everything.
    let cleared = policy.record_success(state);
    assert_eq!(
        cleared.event(),
        Some(ThrottleEvent::Cleared { failures: 3 })
    );
    assert_eq!(cleared.state(), ThrottleState::new());
    // An explicit reset lifts a running lock.
    let update = policy.reset(state);
    assert_eq!(update.event(), Some(ThrottleEvent::Unlocked));
    assert_eq!(update.state(), ThrottleState::new());
    assert!(policy.decide(&update.state(), T0 + 100).is_allowed());
}

#[test]
fn a_count_is_forgotten_after_its_last_wait() {
    let policy = small_policy();
    let one = policy.record_failure(ThrottleState::new(), T0).state();
    // No wait imposed: forgotten `forget_after` after the failure.
    assert_eq!(one.forget_at(), T0 + 1000);
    assert!(!one.is_forgotten(T0 + 999));
    assert!(one.is_forgotten(T0 + 1000));
    let mut state = ThrottleState::new();
    for t in 0..3 {
        state = policy.record_failure(state, T0 + 10 * t).state();
    }
    // Locked: forgotten `forget_after` after the lock ends, and from then on it decides (and
    // counts) as a fresh state.
    assert_eq!(state.forget_at(), T0 + 20 + 600 + 1000);
    let later = state.forget_at();
    assert!(policy.decide(&state, later).is_allowed());
    let update = policy.record_failure(state, later);
    assert_eq!(
        update.event(),
        Some(ThrottleEvent::FailureCounted {
            failures: 1,
            free_attempts_left: 0
        })
    );
}

#[test]
fn a_reservation_counts_before_verifying_and_a_success_settles_it() {
    let policy = small_policy();
    let reserved = policy.reserve(ThrottleState::new(), T0);
    assert!(reserved.decision().is_allowed());
    assert_eq!(reserved.state().failures(), 1);
    let second = policy.reserve(reserved.state(), T0);
    assert!(second.decision().is_allowed());
    assert!(matches!(
        second.event(),
        Some(ThrottleEvent::BackoffStarted { failures: 2, .. })
    ));
    // Refused: nothing changes, nothing to write.
    let refused = policy.reserve(second.state(), T0);
    assert_eq!(
        refused.decision(),
        ThrottleDecision::RetryAfter {
            seconds: 1,
            at: T0 + 1
        }
    );
    assert!(!refused.changed_state());
    // The third reservation locks; if it then verifies, the success clears the lock too.
    let locking = policy.reserve(second.state(), T0 + 1);
    assert!(locking.decision().is_allowed());
    assert!(locking.state().is_locked());
    assert_eq!(
        policy.record_success(locking.state()).state(),
        ThrottleState::new()
    );
}

#[test]
fn success_clears_failures() {
    let policy = ThrottlePolicy::default();
    let mut state = ThrottleState::new();
    for _ in 0..7 {
        state = policy.record_failure(state, T0).state();
    }
    let update = policy.record_success(state);
    assert_eq!(update.event(), Some(ThrottleEvent::Cleared { failures: 7 }));
    assert_eq!(update.state(), ThrottleState::new());
    // Nothing to clear: nothing to write.
    assert_eq!(policy.record_success(ThrottleState::new()).event(), None);
    assert_eq!(policy.reset(ThrottleState::new()).event(), None);
}

#[test]
fn a_stricter_policy_locks_old_counts_at_the_next_failure() {
    let lenient = ThrottlePolicy::default();
    let strict = ThrottlePolicy::builder().lock_after(10).build().unwrap();
    let mut state = ThrottleState::new();
    for _ in 0..12 {
        state = lenient.record_failure(state, T0).state();
    }
    assert!(!state.is_locked());
    let retry = state.not_before();
    assert!(strict.decide(&state, retry).is_allowed());
    let update = strict.record_failure(state, retry);
    assert_eq!(
        update.event(),
        Some(ThrottleEvent::Locked {
            failures: 13,
            until: retry + 86_400
        })
    );
    assert!(update.state().is_locked());
}

#[test]
fn racing_failures_never_move_the_retry_time_earlier() {
    let policy = ThrottlePolicy::default();
    let mut state = ThrottleState::new();
    for _ in 0..8 {
        state = policy.record_failure(state, T0 + 1000).state();
    }
    let retry = state.not_before();
    // A failure recorded with an older `now` (a slower server) keeps the later retry time.
    let later = policy.record_failure(state, T0).state();
    assert!(later.not_before() >= retry);
}

#[test]
fn factors_are_independent() {
    let policy = ThrottlePolicy::default();
    let mut account = AccountThrottle::new();
    for _ in 0..MAX_CONSECUTIVE_FAILURES {
        let _ = account.record_failure(&policy, ThrottledFactor::Password, T0);
    }
    assert_eq!(
        account.decide(&policy, ThrottledFactor::Password, T0),
        ThrottleDecision::Locked { until: T0 + 86_400 }
    );
    for factor in [
        ThrottledFactor::Totp,
        ThrottledFactor::RecoveryCode,
        ThrottledFactor::OutOfBand,
    ] {
        assert!(account.decide(&policy, factor, T0).is_allowed());
    }
    // A second-factor success clears only that factor.
    for _ in 0..3 {
        let _ = account.record_failure(&policy, FactorKind::Totp.into(), T0);
    }
    let _ = account.record_failure(&policy, ThrottledFactor::OutOfBand, T0);
    let update = account.record_success(&policy, ThrottledFactor::Totp);
    assert_eq!(update.event(), Some(ThrottleEvent::Cleared { failures: 3 }));
    assert_eq!(account.state(ThrottledFactor::Totp), ThrottleState::new());
    assert_eq!(account.state(ThrottledFactor::OutOfBand).failures(), 1);
    assert!(account.state(ThrottledFactor::Password).is_locked());
    // SMS and e-mail share the out-of-band counter.
    assert_eq!(
        FactorKind::OutOfBandEmail.throttled(),
        FactorKind::OutOfBandSms.throttled()
    );
    let update = account.reset(&policy, ThrottledFactor::Password);
    assert_eq!(update.event(), Some(ThrottleEvent::Unlocked));
    assert!(
        account
            .decide(&policy, ThrottledFactor::Password, T0)
            .is_allowed()
    );
}

#[test]
fn stored_parts_round_trip() {
    let policy = ThrottlePolicy::default();
    let mut state = ThrottleState::new();
    for _ in 0..9 {
        state = policy.record_failure(state, T0).state();
    }
    let back = ThrottleState::from_parts(
        state.failures(),
        state.not_before(),
        state.is_locked(),
        state.forget_at(),
    );
    assert_eq!(back, state);
}

fn policies() -> impl Strategy<Value = ThrottlePolicy> {
    (
        1u8..=100,
        0u8..100,
        1u32..=600,
        1u32..=86_400,
        1u32..=ThrottlePolicy::MAX_LOCK_DURATION,
        1u32..=ThrottlePolicy::MAX_FORGET_AFTER,
    )
        .prop_filter_map(
            "valid policy",
            |(lock, free, base, max, duration, forget)| {
                ThrottlePolicy::builder()
                    .lock_after(lock)
                    .free_attempts(free)
                    .base_delay(base)
                    .max_delay(max)
                    .lock_duration(duration)
                    .forget_after(forget.max(max))
                    .build()
                    .ok()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the timing of attempts: before the first lock no more than the lock threshold
    /// (at most 100) attempts are verified, and no more than that within any stretch in which the
    /// count is remembered; a running lock refuses every attempt; after a lock lapses each
    /// further failure locks again; the retry time never moves earlier while the count is
    /// remembered; no wait is longer than the maximum delay or the lock duration; and the person
    /// is always let in within a lock duration of the last failure.
    #[test]
    fn bounded_guesses_and_never_locked_for_good(
        policy in policies(),
        gaps in proptest::collection::vec(0u64..200_000, 1..400),
    ) {
        let mut state = ThrottleState::new();
        let mut now = T0;
        let mut since_forgotten = 0u32;
        let mut last_failure = None;
        for gap in gaps {
            now += gap;
            if state.is_forgotten(now) {
                since_forgotten = 0;
            }
            let was_locked = state.is_locked() && !state.is_forgotten(now);
            match policy.decide(&state, now) {
                ThrottleDecision::Allowed => {
                    since_forgotten += 1;
                    let before = state;
                    let update = policy.record_failure(state, now);
                    prop_assert!(update.event().is_some());
                    state = update.state();
                    last_failure = Some(now);
                    if !before.is_forgotten(now) {
                        prop_assert!(state.not_before() >= before.not_before());
                    }
                    if was_locked {
                        prop_assert!(state.is_locked(), "a failure after a lapsed lock relocks");
                    }
                    if since_forgotten <= u32::from(policy.lock_after()) {
                        prop_assert_eq!(u32::from(state.failures()), since_forgotten);
                    }
                    prop_assert!(state.forget_at() > now);
                }
                ThrottleDecision::RetryAfter { seconds, at } => {
                    prop_assert!(!state.is_locked());
                    prop_assert!(seconds > 0 && at == now + seconds);
                    prop_assert!(seconds <= u64::from(policy.max_delay()));
                }
                ThrottleDecision::Locked { until } => {
                    prop_assert!(until > now);
                    prop_assert!(until - now <= u64::from(policy.lock_duration()));
                    prop_assert!(u32::from(state.failures()) >= u32::from(policy.lock_after()));
                }
            }
            // The lock threshold is reached only by that many verified attempts.
            prop_assert!(
                state.is_locked() || since_forgotten < u32::from(policy.lock_after())
                    || state.is_forgotten(now)
            );
            if let Some(at) = last_failure {
                let wait = u64::from(policy.lock_duration().max(policy.max_delay()));
                prop_assert!(policy.decide(&state, at + wait).is_allowed());
            }
        }
    }

    /// The schedule itself never decreases and never exceeds the maximum.
    #[test]
    fn delays_never_shrink(policy in policies()) {
        let mut last = 0;
        for failures in 0..=u8::MAX {
            let d = policy.delay_after(failures);
            prop_assert!(d >= last);
            prop_assert!(d <= u64::from(policy.max_delay()));
            prop_assert_eq!(d == 0, failures <= policy.free_attempts());
            last = d;
        }
    }
}

#[test]
fn a_failure_at_the_instant_a_lock_lapses_locks_again() {
    let policy = small_policy();
    let mut state = ThrottleState::new();
    for t in 0..3 {
        state = policy.record_failure(state, T0 + 10 * t).state();
    }
    let until = state.not_before();
    // The last second of the lock: still refused, and a racing failure changes nothing.
    assert_eq!(
        policy.decide(&state, until - 1),
        ThrottleDecision::Locked { until }
    );
    assert_eq!(policy.record_failure(state, until - 1).event(), None);
    // The first second after it: allowed, and the failure locks again at once.
    assert!(policy.decide(&state, until).is_allowed());
    let relocked = policy.record_failure(state, until);
    assert!(relocked.changed_state());
    assert_eq!(
        relocked.event(),
        Some(ThrottleEvent::Locked {
            failures: 4,
            until: until + 600
        })
    );
}

#[test]
fn a_failure_during_a_wait_is_still_counted() {
    let policy = ThrottlePolicy::default();
    let mut state = ThrottleState::new();
    for _ in 0..8 {
        state = policy.record_failure(state, T0).state();
    }
    let retry = state.not_before();
    assert!(retry > T0);
    // Recorded before the retry time (a racing server): counted, the wait only grows.
    let update = policy.record_failure(state, T0 + 1);
    assert!(update.changed_state());
    assert_eq!(update.state().failures(), 9);
    assert_eq!(
        update.event(),
        Some(ThrottleEvent::BackoffExtended {
            failures: 9,
            retry_at: retry.max(T0 + 1 + policy.delay_after(9)),
        })
    );
}

#[test]
fn reset_unlocks_at_the_threshold_and_clears_below_it() {
    let policy = ThrottlePolicy::default();
    // At the threshold but not (yet) marked locked: a reset lifts a lock.
    let at_threshold = ThrottleState::from_parts(MAX_CONSECUTIVE_FAILURES, 0, false, T0);
    assert_eq!(
        policy.reset(at_threshold).event(),
        Some(ThrottleEvent::Unlocked)
    );
    // Locked under a stricter policy, below this one's threshold: still a lock to lift.
    let locked_low = ThrottleState::from_parts(3, T0, true, T0 + 10);
    assert_eq!(
        policy.reset(locked_low).event(),
        Some(ThrottleEvent::Unlocked)
    );
    // One below the threshold, not locked: a plain clear.
    let below = ThrottleState::from_parts(MAX_CONSECUTIVE_FAILURES - 1, 0, false, T0);
    let update = policy.reset(below);
    assert_eq!(
        update.event(),
        Some(ThrottleEvent::Cleared {
            failures: MAX_CONSECUTIVE_FAILURES - 1
        })
    );
    assert!(update.changed_state());
    assert_eq!(update.state(), ThrottleState::new());
    assert!(!policy.reset(ThrottleState::new()).changed_state());
}

#[test]
fn builder_accepts_each_ceiling_and_refuses_one_past_it() {
    let limit = ThrottlePolicy::MAX_DELAY_LIMIT;
    let at_limit = ThrottlePolicy::builder()
        .max_delay(limit)
        .forget_after(limit)
        .build()
        .unwrap();
    assert_eq!(at_limit.max_delay(), limit);
    assert_eq!(
        ThrottlePolicy::builder()
            .max_delay(limit + 1)
            .forget_after(ThrottlePolicy::MAX_FORGET_AFTER)
            .build(),
        Err(authcore::credential::ThrottleError::MaxDelay)
    );
    let forget = ThrottlePolicy::builder()
        .forget_after(ThrottlePolicy::MAX_FORGET_AFTER)
        .build()
        .unwrap();
    assert_eq!(forget.forget_after(), ThrottlePolicy::MAX_FORGET_AFTER);
    let lock = ThrottlePolicy::builder()
        .lock_after(MAX_CONSECUTIVE_FAILURES)
        .lock_duration(ThrottlePolicy::MAX_LOCK_DURATION)
        .build()
        .unwrap();
    assert_eq!(lock.lock_duration(), ThrottlePolicy::MAX_LOCK_DURATION);
}

#[test]
fn throttle_errors_say_what_to_fix() {
    use authcore::credential::ThrottleError;
    let cases = [
        (ThrottleError::LockThreshold, "between 1 and 100 failures"),
        (ThrottleError::FreeAttempts, "fewer than the lock threshold"),
        (ThrottleError::BaseDelay, "at least 1 s"),
        (ThrottleError::MaxDelay, "at most 86400 s"),
        (ThrottleError::LockDuration, "between 1 s and 604800 s"),
        (ThrottleError::ForgetAfter, "at most 2592000 s"),
    ];
    for (error, text) in cases {
        assert!(error.to_string().contains(text), "{error:?}: {error}");
    }
}

#[test]
fn a_reservation_exposes_the_update_it_applies() {
    let policy = small_policy();
    let reserved = policy.reserve(ThrottleState::new(), T0);
    assert!(reserved.changed_state());
    assert_eq!(reserved.update().state(), reserved.state());
    assert_eq!(reserved.update().event(), reserved.event());
    assert_eq!(
        reserved.update(),
        policy.record_failure(ThrottleState::new(), T0)
    );
    // The account bundle reserves on the one factor and keeps the new state.
    let mut account = AccountThrottle::new();
    let via_account = account.reserve(&policy, ThrottledFactor::Totp, T0);
    assert_eq!(via_account, reserved);
    assert_eq!(account.state(ThrottledFactor::Totp), reserved.state());
    assert_eq!(
        account.state(ThrottledFactor::Password),
        ThrottleState::new()
    );
}

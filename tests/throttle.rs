//! Throttling: back-off schedule, hard lock, per-factor counters, events, and properties.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use authcore::{
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
            ThrottleDecision::Locked => return (events, now),
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
            failures: MAX_CONSECUTIVE_FAILURES
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

#[test]
fn lock_is_cleared_only_by_reset() {
    let policy = ThrottlePolicy::builder()
        .free_attempts(1)
        .lock_after(3)
        .base_delay(1)
        .max_delay(2)
        .build()
        .unwrap();
    let mut state = ThrottleState::new();
    for t in 0..3 {
        state = policy.record_failure(state, T0 + 10 * t).state();
    }
    assert!(state.is_locked());
    assert_eq!(policy.decide(&state, u64::MAX), ThrottleDecision::Locked);
    // Further failures and successes change nothing.
    let update = policy.record_failure(state, T0 + 100);
    assert_eq!(update.event(), None);
    assert!(!update.changed_state());
    assert_eq!(update.state(), state);
    let update = policy.record_success(state);
    assert_eq!(update.event(), None);
    assert_eq!(update.state(), state);
    // An explicit reset does.
    let update = policy.reset(state);
    assert_eq!(update.event(), Some(ThrottleEvent::Unlocked));
    assert_eq!(update.state(), ThrottleState::new());
    assert!(policy.decide(&update.state(), T0 + 100).is_allowed());
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
fn a_stricter_policy_locks_old_counts() {
    let lenient = ThrottlePolicy::default();
    let strict = ThrottlePolicy::builder().lock_after(10).build().unwrap();
    let mut state = ThrottleState::new();
    for _ in 0..12 {
        state = lenient.record_failure(state, T0).state();
    }
    assert!(!state.is_locked());
    assert_eq!(strict.decide(&state, u64::MAX), ThrottleDecision::Locked);
    let update = strict.record_failure(state, T0);
    assert_eq!(update.event(), Some(ThrottleEvent::Locked { failures: 12 }));
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
        ThrottleDecision::Locked
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
    let back = ThrottleState::from_parts(state.failures(), state.not_before(), state.is_locked());
    assert_eq!(back, state);
}

fn policies() -> impl Strategy<Value = ThrottlePolicy> {
    (1u8..=100, 0u8..100, 1u32..=600, 1u32..=86_400).prop_filter_map(
        "valid policy",
        |(lock, free, base, max)| {
            ThrottlePolicy::builder()
                .lock_after(lock)
                .free_attempts(free)
                .base_delay(base)
                .max_delay(max)
                .build()
                .ok()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the timing of attempts, no more than the lock threshold (at most 100)
    /// consecutive failures are ever verified; once locked, always locked; the imposed waits
    /// never shrink; and the retry time never moves earlier.
    #[test]
    fn never_more_than_the_cap(
        policy in policies(),
        gaps in proptest::collection::vec(0u64..5000, 1..400),
    ) {
        let mut state = ThrottleState::new();
        let mut now = T0;
        let mut verified_failures = 0u32;
        let mut last_delay = 0u64;
        let mut locked = false;
        for gap in gaps {
            now += gap;
            match policy.decide(&state, now) {
                ThrottleDecision::Allowed => {
                    prop_assert!(!locked);
                    verified_failures += 1;
                    let before = state.not_before();
                    let update = policy.record_failure(state, now);
                    prop_assert!(update.event().is_some());
                    state = update.state();
                    prop_assert!(state.not_before() >= before);
                    let delay = state.not_before().saturating_sub(now);
                    prop_assert!(delay >= last_delay || state.is_locked(),
                        "delay shrank from {} to {}", last_delay, delay);
                    last_delay = delay;
                    prop_assert_eq!(u32::from(state.failures()), verified_failures);
                }
                ThrottleDecision::RetryAfter { seconds, at } => {
                    prop_assert!(!locked);
                    prop_assert!(seconds > 0 && at == now + seconds);
                    prop_assert!(seconds <= u64::from(policy.max_delay()));
                }
                ThrottleDecision::Locked => locked = true,
            }
            prop_assert!(verified_failures <= u32::from(policy.lock_after()));
            prop_assert!(verified_failures <= u32::from(MAX_CONSECUTIVE_FAILURES));
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

//! Throttle counters: reserved before verifying, refused without a write, locked, reset, pruned.

use alloc::format;

use crate::credential::factor::ThrottledFactor;
use crate::credential::throttle::{ThrottleDecision, ThrottleEvent, ThrottlePolicy, ThrottleState};
use crate::store::records::{Login, ThrottleKey, ThrottleOp};
use crate::store::{SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, fail};

pub(super) async fn throttle<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let now = fx.now();
    let policy = ThrottlePolicy::builder()
        .free_attempts(1)
        .lock_after(3)
        .base_delay(10)
        .max_delay(10)
        .lock_duration(100)
        .forget_after(50)
        .build()?;
    let key = ThrottleKey::factor(id, ThrottledFactor::Totp);
    let first = s.reserve_attempt(&key, &policy, now).await?;
    ensure!(
        first.decision().is_allowed(),
        "a first attempt is allowed: {first:?}"
    );
    ensure_eq!(
        first.state().failures(),
        1,
        "a reservation counts a failure"
    );
    ensure_eq!(
        s.throttle(&key).await?,
        first.state(),
        "the stored state is the returned one"
    );
    ensure_eq!(
        s.throttle(&ThrottleKey::factor(id, ThrottledFactor::RecoveryCode))
            .await?,
        ThrottleState::new(),
        "another factor is untouched"
    );
    let cleared = s
        .apply_throttle(&key, ThrottleOp::Success, &policy, now)
        .await?;
    ensure_eq!(cleared.state(), ThrottleState::new(), "a success clears");
    ensure_eq!(
        s.throttle(&key).await?,
        ThrottleState::new(),
        "the cleared state is stored"
    );
    let idle = s
        .apply_throttle(&key, ThrottleOp::Reset, &policy, now)
        .await?;
    ensure!(
        !idle.changed_state() && idle.state() == ThrottleState::new(),
        "a reset of a clear counter changes nothing: {idle:?}"
    );
    for _ in 0..2 {
        let allowed = s.reserve_attempt(&key, &policy, now).await?;
        ensure!(allowed.decision().is_allowed(), "allowed: {allowed:?}");
    }
    let waiting = s.throttle(&key).await?;
    ensure_eq!(
        waiting.failures(),
        2,
        "the free attempt and the one that starts the wait are counted"
    );
    let same_instant = s.reserve_attempt(&key, &policy, now).await?;
    ensure_eq!(
        same_instant.decision(),
        ThrottleDecision::RetryAfter {
            seconds: 10,
            at: now.saturating_add(10)
        },
        "a third reservation at the same instant"
    );
    ensure_eq!(
        s.throttle(&key).await?,
        waiting,
        "a reservation refused at the same instant writes nothing"
    );
    let refused = s
        .reserve_attempt(&key, &policy, now.saturating_add(5))
        .await?;
    ensure_eq!(
        refused.decision(),
        ThrottleDecision::RetryAfter {
            seconds: 5,
            at: now.saturating_add(10)
        },
        "a reservation during the wait"
    );
    ensure_eq!(
        s.throttle(&key).await?,
        waiting,
        "a refused reservation writes nothing"
    );
    let locking = s
        .reserve_attempt(&key, &policy, now.saturating_add(10))
        .await?;
    let until = now.saturating_add(110);
    ensure_eq!(
        locking.event(),
        Some(ThrottleEvent::Locked { failures: 3, until }),
        "the third failure locks for the lock duration"
    );
    let during = s
        .reserve_attempt(&key, &policy, now.saturating_add(60))
        .await?;
    ensure_eq!(
        during.decision(),
        ThrottleDecision::Locked { until },
        "a reservation during the lock"
    );
    let lapsed = s.reserve_attempt(&key, &policy, until).await?;
    ensure!(
        lapsed.decision().is_allowed()
            && matches!(lapsed.event(), Some(ThrottleEvent::Locked { .. })),
        "after the lock lapses an attempt is allowed and locks again: {lapsed:?}"
    );
    let reset = s
        .apply_throttle(&key, ThrottleOp::Reset, &policy, until)
        .await?;
    ensure_eq!(
        reset.event(),
        Some(ThrottleEvent::Unlocked),
        "a reset unlocks"
    );
    ensure_eq!(
        s.throttle(&key).await?,
        ThrottleState::new(),
        "the reset is stored"
    );
    // A login name has its own counter, whoever holds it.
    let login =
        Login::new(&fx.login_for(fx.person_id())).ok_or_else(|| fail("bad login".into()))?;
    let login_key = ThrottleKey::login(&login);
    let counted = s.reserve_attempt(&login_key, &policy, now).await?;
    ensure!(
        counted.decision().is_allowed() && counted.state().failures() == 1,
        "a login name is counted: {counted:?}"
    );
    let forget_at = counted.state().forget_at();
    ensure_eq!(
        forget_at,
        now.saturating_add(50),
        "forgotten after forget_after"
    );
    let _ = s.prune_throttles(forget_at.saturating_sub(1)).await?;
    ensure_eq!(
        s.throttle(&login_key).await?,
        counted.state(),
        "a live counter is not pruned"
    );
    let pruned = s.prune_throttles(forget_at).await?;
    ensure!(pruned >= 1, "a forgotten counter is pruned: {pruned}");
    ensure_eq!(
        s.throttle(&login_key).await?,
        ThrottleState::new(),
        "the pruned counter is gone"
    );
    Ok(())
}

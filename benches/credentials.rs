//! Credential benchmarks: password hashing, recovery-code redemption and throttle decisions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use authcore::credential::password::PasswordVerified;
use authcore::credential::{RecoveryCodeSet, RecoveryParams, ThrottlePolicy, ThrottleState};
use authcore::{Password, PasswordHasher};
use criterion::{Criterion, criterion_group, criterion_main};

/// One redemption attempt against a set of 1, 10 and 16 codes with the default argon2id
/// parameters (m = 19456 KiB, t = 2, p = 1). The attempt costs one argon2id evaluation whatever
/// the size of the set, so the three should take the same time.
fn recovery_redeem(c: &mut Criterion) {
    let mut group = c.benchmark_group("recovery_redeem");
    // Each attempt costs ~15 ms and single samples vary by ±15% on a shared machine: 30 samples
    // over 20 seconds per id keep that noise from deciding the comparison between ids.
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(20));
    for n in [1u8, 10, 16] {
        let params = RecoveryParams::builder().count(n).build().unwrap();
        let new = RecoveryCodeSet::generate(&params).unwrap();
        let right = new.codes.iter().next().unwrap().expose_secret().to_string();
        let wrong = "0000-0000-0000-0000";
        let mut flip = false;
        group.bench_function(format!("n{n}"), |b| {
            b.iter(|| {
                // Alternate a wrong and a right code; redeeming does not spend.
                flip = !flip;
                let attempt = if flip { wrong } else { right.as_str() };
                let _ = black_box(new.set.redeem(black_box(attempt)));
            })
        });
    }
    // The dummy redemption for a person without recovery codes, beside a wrong code against a
    // set at the same parameters: the two should cost the same (one derivation each).
    let params = RecoveryParams::builder().build().unwrap();
    let new = RecoveryCodeSet::generate(&params).unwrap();
    group.bench_function("dummy", |b| {
        b.iter(|| black_box(params.redeem_dummy(black_box("0000-0000-0000-0000"))))
    });
    group.bench_function("wrong", |b| {
        b.iter(|| black_box(new.set.redeem(black_box("0000-0000-0000-0000"))))
    });
    group.finish();
}

/// One throttle decision for a factor in back-off.
fn throttle(c: &mut Criterion) {
    let mut group = c.benchmark_group("throttle");
    let policy = ThrottlePolicy::default();
    let mut state = ThrottleState::new();
    for _ in 0..8 {
        state = policy.record_failure(state, 1_700_000_000).state();
    }
    group.bench_function("decide", |b| {
        b.iter(|| black_box(policy.decide(black_box(&state), black_box(1_700_000_100))))
    });
    group.finish();
}

/// argon2id with the default parameters (m = 19456 KiB, t = 2, p = 1): one hash, one verification.
fn password(c: &mut Criterion) {
    let hasher = PasswordHasher::builder()
        .build()
        .expect("default parameters");
    let password = Password::from("correct horse battery staple");
    let stored = hasher.hash(&password).expect("hash");

    let mut group = c.benchmark_group("password");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("hash_default", |b| {
        b.iter(|| hasher.hash(black_box(&password)).expect("hash"))
    });
    group.bench_function("verify_default", |b| {
        b.iter(|| {
            let verified = hasher
                .verify(black_box(&password), black_box(stored.as_str()))
                .expect("verifies");
            assert_eq!(verified, PasswordVerified::Current);
        })
    });
    // A login naming a missing account must cost what a wrong password costs: compare these two
    // side by side in the same run.
    let wrong = Password::from("a wrong password");
    group.bench_function("verify_wrong", |b| {
        b.iter(|| hasher.verify(black_box(&wrong), black_box(stored.as_str())))
    });
    group.bench_function("verify_dummy", |b| {
        b.iter(|| hasher.verify_dummy(black_box(&wrong)))
    });
    group.finish();
}

criterion_group!(benches, password, recovery_redeem, throttle);
criterion_main!(benches);

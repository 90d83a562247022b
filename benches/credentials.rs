//! Credential benchmarks: one function per group, all listed in `criterion_group!`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use authcore::{Password, PasswordHasher, PasswordVerified};
use criterion::{Criterion, criterion_group, criterion_main};

/// argon2id with the default parameters (m = 19456 KiB, t = 2, p = 1): one hash, one verification.
fn password(c: &mut Criterion) {
    let hasher = PasswordHasher::builder()
        .build()
        .expect("default parameters");
    let password = Password::from("correct horse battery staple");
    let stored = hasher.hash(&password).expect("hash");

    let mut group = c.benchmark_group("password");
    group.sample_size(10);
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
    group.finish();
}

criterion_group!(benches, password);
criterion_main!(benches);

//! TOTP generation and verification benchmarks, side by side with the fastest peer crate and
//! with the hardware floor: six calls of the hash block-compression function, which is what any
//! verifier computing three HMAC steps must at least do once its keys are set up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use authcore::otp::{Algorithm, SecretKey, Totp, TotpParams, Window};
use criterion::{Criterion, criterion_group, criterion_main};

/// Unix time used throughout: step 59_999_999 with 30-second periods (RFC 6238 test time).
const NOW: u64 = 1_800_000_000;

struct Case {
    name: &'static str,
    algorithm: Algorithm,
    peer_algorithm: totp_rs::Algorithm,
    secret: &'static [u8],
}

const CASES: [Case; 3] = [
    Case {
        name: "sha1",
        algorithm: Algorithm::Sha1,
        peer_algorithm: totp_rs::Algorithm::SHA1,
        secret: b"12345678901234567890",
    },
    Case {
        name: "sha256",
        algorithm: Algorithm::Sha256,
        peer_algorithm: totp_rs::Algorithm::SHA256,
        secret: b"12345678901234567890123456789012",
    },
    Case {
        name: "sha512",
        algorithm: Algorithm::Sha512,
        peer_algorithm: totp_rs::Algorithm::SHA512,
        secret: b"1234567890123456789012345678901234567890123456789012345678901234",
    },
];

/// A six-digit code that no step of the window produces.
fn wrong_code(totp: &Totp) -> String {
    let step = totp.params().step_at(NOW).unwrap();
    let window: Vec<String> = (step - 1..=step + 1)
        .map(|s| totp.generate_at_step(s).expose_secret().to_owned())
        .collect();
    (0u32..)
        .map(|n| format!("{:06}", (n * 7919 + 123_456) % 1_000_000))
        .find(|c| !window.contains(c))
        .unwrap()
}

fn floor_x6(c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, name: &str) {
    match name {
        "sha1" => {
            let block = [0x5au8; 64];
            c.bench_function("floor/sha1_x6", |b| {
                b.iter(|| {
                    let mut state = black_box([
                        0x6745_2301u32,
                        0xEFCD_AB89,
                        0x98BA_DCFE,
                        0x1032_5476,
                        0xC3D2_E1F0,
                    ]);
                    for _ in 0..6 {
                        sha1::block_api::compress(
                            &mut state,
                            core::slice::from_ref(black_box(&block)),
                        );
                    }
                    state
                })
            });
        }
        "sha256" => {
            let block = [0x5au8; 64];
            c.bench_function("floor/sha256_x6", |b| {
                b.iter(|| {
                    let mut state = black_box([0x6a09_e667u32; 8]);
                    for _ in 0..6 {
                        sha2::block_api::compress256(
                            &mut state,
                            core::slice::from_ref(black_box(&block)),
                        );
                    }
                    state
                })
            });
        }
        _ => {
            let block = [0x5au8; 128];
            c.bench_function("floor/sha512_x6", |b| {
                b.iter(|| {
                    let mut state = black_box([0x6a09_e667_f3bc_c908u64; 8]);
                    for _ in 0..6 {
                        sha2::block_api::compress512(
                            &mut state,
                            core::slice::from_ref(black_box(&block)),
                        );
                    }
                    state
                })
            });
        }
    }
}

fn totp_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("totp_verify");
    for case in &CASES {
        let params = TotpParams::builder()
            .algorithm(case.algorithm)
            .build()
            .unwrap();
        let key = SecretKey::from_bytes(case.secret).unwrap();
        let totp = Totp::new(params, &key);
        let wrong = wrong_code(&totp);
        let correct = totp.generate(NOW).unwrap().expose_secret().to_owned();
        let window = Window::default();
        assert!(totp.verify(&wrong, NOW, window, None).is_err());
        assert!(totp.verify(&correct, NOW, window, None).is_ok());

        group.bench_function(format!("authcore/{}_w1_wrong", case.name), |b| {
            b.iter(|| totp.verify(black_box(&wrong), black_box(NOW), window, black_box(None)))
        });
        group.bench_function(format!("authcore/{}_w1_correct", case.name), |b| {
            b.iter(|| totp.verify(black_box(&correct), black_box(NOW), window, black_box(None)))
        });
        group.bench_function(format!("authcore/{}_w1_wrong_from_bytes", case.name), |b| {
            b.iter(|| {
                let key = SecretKey::from_bytes(black_box(case.secret)).unwrap();
                Totp::new(params, &key).verify(black_box(&wrong), black_box(NOW), window, None)
            })
        });

        let peer = totp_rs::Builder::new()
            .with_algorithm(case.peer_algorithm)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(case.secret.to_vec())
            .build()
            .unwrap();
        assert!(peer.check(&wrong, NOW).is_none());
        assert!(peer.check(&correct, NOW).is_some());
        group.bench_function(format!("totp-rs/{}_w1_wrong", case.name), |b| {
            b.iter(|| peer.check(black_box(&wrong), black_box(NOW)))
        });
        floor_x6(&mut group, case.name);
    }
    group.finish();
}

fn totp_generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("totp_generate");
    for case in &CASES {
        let params = TotpParams::builder()
            .algorithm(case.algorithm)
            .build()
            .unwrap();
        let totp = Totp::new(params, &SecretKey::from_bytes(case.secret).unwrap());
        group.bench_function(format!("authcore/{}", case.name), |b| {
            b.iter(|| totp.generate(black_box(NOW)))
        });
        let peer = totp_rs::Builder::new()
            .with_algorithm(case.peer_algorithm)
            .with_secret(case.secret.to_vec())
            .build()
            .unwrap();
        group.bench_function(format!("totp-rs/{}", case.name), |b| {
            b.iter(|| peer.generate(black_box(NOW)))
        });
    }
    group.finish();
}

criterion_group!(benches, totp_verify, totp_generate);
criterion_main!(benches);

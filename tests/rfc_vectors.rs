//! Known-answer tests: every row of RFC 4226 Appendix D and RFC 6238 Appendix B.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use authcore::otp::{Algorithm, Digits, Hotp, LookAhead, SecretKey, Totp, TotpParams, Window};

const SEED_SHA1: &[u8] = b"12345678901234567890";
/// RFC 6238's reference code uses a 32-byte seed for SHA-256 (the 20-byte seed repeated, cut).
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
/// … and a 64-byte seed for SHA-512.
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

/// RFC 4226 Appendix D: counter → 6-digit HOTP value.
const RFC4226: [(u64, &str); 10] = [
    (0, "755224"),
    (1, "287082"),
    (2, "359152"),
    (3, "969429"),
    (4, "338314"),
    (5, "254676"),
    (6, "287922"),
    (7, "162583"),
    (8, "399871"),
    (9, "520489"),
];

/// RFC 6238 Appendix B: time → (SHA-1, SHA-256, SHA-512) 8-digit TOTP values, X = 30, T0 = 0.
const RFC6238: [(u64, [&str; 3]); 6] = [
    (59, ["94287082", "46119246", "90693936"]),
    (1_111_111_109, ["07081804", "68084774", "25091201"]),
    (1_111_111_111, ["14050471", "67062674", "99943326"]),
    (1_234_567_890, ["89005924", "91819424", "93441116"]),
    (2_000_000_000, ["69279037", "90698825", "38618901"]),
    (20_000_000_000, ["65353130", "77737706", "47863826"]),
];

fn totp(algorithm: Algorithm, digits: u8) -> Totp {
    let seed = match algorithm {
        Algorithm::Sha1 => SEED_SHA1,
        Algorithm::Sha256 => SEED_SHA256,
        _ => SEED_SHA512,
    };
    let params = TotpParams::builder()
        .algorithm(algorithm)
        .digits(digits)
        .build()
        .unwrap();
    Totp::new(params, &SecretKey::from_bytes(seed).unwrap())
}

const ALGORITHMS: [Algorithm; 3] = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];

#[test]
fn rfc4226_appendix_d_generate() {
    let hotp = Hotp::new(
        Algorithm::Sha1,
        Digits::Six,
        &SecretKey::from_bytes(SEED_SHA1).unwrap(),
    );
    for (counter, expected) in RFC4226 {
        assert_eq!(
            hotp.generate(counter).expose_secret(),
            expected,
            "counter {counter}"
        );
    }
}

#[test]
fn rfc4226_appendix_d_verify_returns_matched_counter() {
    let hotp = Hotp::new(
        Algorithm::Sha1,
        Digits::Six,
        &SecretKey::from_bytes(SEED_SHA1).unwrap(),
    );
    let look_ahead = LookAhead::new(9).unwrap();
    for (counter, code) in RFC4226 {
        let matched = hotp.verify(code, 0, look_ahead).unwrap();
        assert_eq!(matched.counter(), counter);
        assert_eq!(matched.next_counter(), counter + 1);
        // Once the host stores next_counter, the same code is refused.
        assert!(
            hotp.verify(code, matched.next_counter(), look_ahead)
                .is_err()
        );
    }
    // Beyond the look-ahead: refused.
    assert!(
        hotp.verify("520489", 0, LookAhead::new(8).unwrap())
            .is_err()
    );
    assert!(LookAhead::new(LookAhead::MAX + 1).is_err());
}

#[test]
fn rfc6238_appendix_b_eight_digits() {
    for (index, algorithm) in ALGORITHMS.into_iter().enumerate() {
        let totp = totp(algorithm, 8);
        for (time, codes) in RFC6238 {
            assert_eq!(
                totp.generate(time).unwrap().expose_secret(),
                codes[index],
                "{algorithm} t={time}"
            );
        }
    }
}

#[test]
fn rfc6238_appendix_b_six_digits() {
    for (index, algorithm) in ALGORITHMS.into_iter().enumerate() {
        let totp = totp(algorithm, 6);
        for (time, codes) in RFC6238 {
            let expected = &codes[index][2..];
            assert_eq!(
                totp.generate(time).unwrap().expose_secret(),
                expected,
                "{algorithm} t={time}"
            );
        }
    }
}

#[test]
fn rfc6238_appendix_b_verify_accepts_each_row() {
    for (index, algorithm) in ALGORITHMS.into_iter().enumerate() {
        let totp = totp(algorithm, 8);
        for (time, codes) in RFC6238 {
            let step = totp.params().step_at(time).unwrap();
            let accepted = totp
                .verify(codes[index], time, Window::EXACT, None)
                .unwrap();
            assert_eq!(accepted.step(), step);
            assert_eq!(accepted.step(), time / 30);
        }
    }
}

#[test]
fn seven_digits_is_the_value_mod_ten_million() {
    let totp = totp(Algorithm::Sha1, 7);
    // 94287082 mod 10^7 = 4287082 (the 31-bit value ends in …94287082).
    assert_eq!(totp.generate(59).unwrap().expose_secret(), "4287082");
}

#[test]
fn step_boundaries() {
    let totp = totp(Algorithm::Sha1, 8);
    // t = 59 is the last second of step 1; t = 60 starts step 2.
    assert_eq!(totp.params().step_at(59).unwrap(), 1);
    assert_eq!(totp.params().step_at(60).unwrap(), 2);
    assert_eq!(totp.generate(30).unwrap().expose_secret(), "94287082");
    assert_eq!(totp.generate(59).unwrap().expose_secret(), "94287082");
    assert_ne!(totp.generate(60).unwrap().expose_secret(), "94287082");
    assert_ne!(totp.generate(29).unwrap().expose_secret(), "94287082");
    // 1111111109 and 1111111111 straddle the boundary at 1111111110 (step 37037037).
    assert_eq!(totp.params().step_at(1_111_111_109).unwrap(), 37_037_036);
    assert_eq!(totp.params().step_at(1_111_111_111).unwrap(), 37_037_037);
}

#[test]
fn beyond_2038_and_near_u64_max() {
    let totp = totp(Algorithm::Sha1, 8);
    assert_eq!(totp.params().step_at(20_000_000_000).unwrap(), 666_666_666);
    // The extremes neither overflow nor panic.
    let code = totp.generate(u64::MAX).unwrap();
    assert!(
        totp.verify(
            code.expose_secret(),
            u64::MAX,
            Window::new(Window::MAX).unwrap(),
            None
        )
        .is_ok()
    );
    let tiny = TotpParams::builder().period(1).build().unwrap();
    let tiny = Totp::new(tiny, &SecretKey::from_bytes(SEED_SHA1).unwrap());
    let code = tiny.generate(u64::MAX).unwrap();
    assert_eq!(
        tiny.verify(
            code.expose_secret(),
            u64::MAX,
            Window::new(Window::MAX).unwrap(),
            None
        )
        .unwrap()
        .step(),
        u64::MAX
    );
    assert!(
        tiny.verify(
            code.expose_secret(),
            u64::MAX,
            Window::default(),
            Some(u64::MAX)
        )
        .is_err()
    );
}

#[test]
fn t0_shifts_the_steps() {
    let params = TotpParams::builder().t0(1_000).build().unwrap();
    let shifted = Totp::new(params, &SecretKey::from_bytes(SEED_SHA1).unwrap());
    let plain = totp(Algorithm::Sha1, 6);
    assert_eq!(
        shifted.generate(1_000 + 59).unwrap().expose_secret(),
        plain.generate(59).unwrap().expose_secret()
    );
    assert!(shifted.generate(999).is_err());
    assert!(
        shifted
            .verify("287082", 999, Window::default(), None)
            .is_err()
    );
}

#[test]
fn hotp_reports_the_lowest_of_two_matching_counters() {
    // With the RFC seed, counters 910737 and 910738 both produce 911617 (found by search).
    let hotp = Hotp::new(
        Algorithm::Sha1,
        Digits::Six,
        &SecretKey::from_bytes(SEED_SHA1).unwrap(),
    );
    assert_eq!(hotp.generate(910_737).expose_secret(), "911617");
    assert_eq!(hotp.generate(910_738).expose_secret(), "911617");
    for (start, look_ahead) in [(910_737, 1), (910_736, 2), (910_735, 5)] {
        let matched = hotp
            .verify("911617", start, LookAhead::new(look_ahead).unwrap())
            .unwrap();
        assert_eq!(matched.counter(), 910_737, "from {start}");
        assert_eq!(matched.next_counter(), 910_738);
    }
    // Once 910737 is spent, the same code still matches the next counter.
    assert_eq!(
        hotp.verify("911617", 910_738, LookAhead::new(0).unwrap())
            .unwrap()
            .counter(),
        910_738
    );
}

#[test]
fn look_ahead_reports_its_counters() {
    assert_eq!(LookAhead::default().counters(), 10);
    assert_eq!(LookAhead::new(0).unwrap().counters(), 0);
    assert_eq!(
        LookAhead::new(LookAhead::MAX).unwrap().counters(),
        LookAhead::MAX
    );
}

#[test]
fn hotp_debug_shows_the_digits_and_never_the_key() {
    let hotp = Hotp::new(
        Algorithm::Sha1,
        Digits::Eight,
        &SecretKey::from_bytes(SEED_SHA1).unwrap(),
    );
    let debug = format!("{hotp:?}");
    assert!(debug.starts_with("Hotp {"), "{debug}");
    assert!(debug.contains("Eight"), "{debug}");
    assert!(!debug.contains("1234567890"), "{debug}");
    assert_eq!(hotp.generate(0).digits(), Digits::Eight);
}

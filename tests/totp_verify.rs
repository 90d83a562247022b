//! Verification behaviour: replay watermark, window edges, newest-step selection, malformed input,
//! and property tests (generate → verify accepts; verify never panics).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use authcore::otp::{Algorithm, SecretKey, Totp, TotpParams, Window};
use proptest::prelude::*;

const SEED: &[u8] = b"12345678901234567890";

fn sha1_totp(digits: u8) -> Totp {
    let params = TotpParams::builder().digits(digits).build().unwrap();
    Totp::new(params, &SecretKey::from_bytes(SEED).unwrap())
}

fn code_at_step(totp: &Totp, step: u64) -> String {
    totp.generate_at_step(step).expose_secret().to_owned()
}

#[test]
fn a_code_is_accepted_once() {
    let totp = sha1_totp(6);
    let now = 1_700_000_000;
    let code = totp.generate(now).unwrap();
    let accepted = totp
        .verify(code.expose_secret(), now, Window::default(), None)
        .unwrap();
    assert_eq!(accepted.step(), now / 30);
    // The host stores the step as the watermark: the same code is now refused, even later in
    // the window.
    let watermark = Some(accepted.step());
    assert!(
        totp.verify(code.expose_secret(), now, Window::default(), watermark)
            .is_err()
    );
    assert!(
        totp.verify(code.expose_secret(), now + 30, Window::default(), watermark)
            .is_err()
    );
    // The next step's code is still fine.
    let next = totp.generate(now + 30).unwrap();
    assert_eq!(
        totp.verify(next.expose_secret(), now + 30, Window::default(), watermark)
            .unwrap()
            .step(),
        now / 30 + 1
    );
}

#[test]
fn older_codes_are_refused_after_a_newer_one() {
    let totp = sha1_totp(8);
    let now = 1_700_000_000;
    let step = now / 30;
    let previous = code_at_step(&totp, step - 1);
    // Accepting the future step (t+1) makes t-1 and t unusable.
    assert!(
        totp.verify(&previous, now, Window::default(), Some(step + 1))
            .is_err()
    );
    assert!(
        totp.verify(
            &code_at_step(&totp, step),
            now,
            Window::default(),
            Some(step + 1)
        )
        .is_err()
    );
    assert!(
        totp.verify(&previous, now, Window::default(), Some(step - 2))
            .is_ok()
    );
}

#[test]
fn window_edges() {
    let totp = sha1_totp(8);
    let now = 1_700_000_010;
    let step = now / 30;
    for n in 0..=Window::MAX {
        let window = Window::new(n).unwrap();
        let n = u64::from(n);
        let codes_inside: Vec<String> = (step - n..=step + n)
            .map(|s| code_at_step(&totp, s))
            .collect();
        for s in [step - n, step + n] {
            assert_eq!(
                totp.verify(&code_at_step(&totp, s), now, window, None)
                    .unwrap()
                    .step(),
                s
            );
        }
        for s in [step - n - 1, step + n + 1] {
            let outside = code_at_step(&totp, s);
            if !codes_inside.contains(&outside) {
                assert!(
                    totp.verify(&outside, now, window, None).is_err(),
                    "window {n} step {s}"
                );
            }
        }
    }
    assert!(Window::new(Window::MAX + 1).is_err());
}

#[test]
fn newest_matching_step_is_reported() {
    // With the RFC seed, steps 910737 and 910738 both produce 911617 (found by search).
    let totp = sha1_totp(6);
    assert_eq!(code_at_step(&totp, 910_737), "911617");
    assert_eq!(code_at_step(&totp, 910_738), "911617");
    let window = Window::default();
    for now in [910_737 * 30, 910_738 * 30, 910_739 * 30] {
        assert_eq!(
            totp.verify("911617", now, window, None).unwrap().step(),
            910_738,
            "now {now}"
        );
    }
    // Above the watermark only: once 910738 is accepted, 910737 cannot be used either.
    assert!(
        totp.verify("911617", 910_738 * 30, window, Some(910_738))
            .is_err()
    );
    assert_eq!(
        totp.verify("911617", 910_738 * 30, window, Some(910_736))
            .unwrap()
            .step(),
        910_738
    );
}

#[test]
fn malformed_codes_are_rejected_like_wrong_ones() {
    let totp = sha1_totp(6);
    let now = 59;
    let good = totp.generate(now).unwrap();
    assert!(
        totp.verify(good.expose_secret(), now, Window::default(), None)
            .is_ok()
    );
    let wrong = totp.verify("000000", now, Window::default(), None);
    for bad in [
        "",
        "28708",
        "2870822",
        "+87082",
        "-87082",
        " 87082",
        "287 82",
        "28708\n",
        "２８７０８２",
        "28708a",
        "0x1234",
        "287082\0",
    ] {
        let result = totp.verify(bad, now, Window::default(), None);
        assert_eq!(result.map(|s| s.step()), wrong.map(|s| s.step()), "{bad:?}");
    }
    // The rejection carries no detail.
    assert_eq!(wrong.unwrap_err().to_string(), "verification failed");
}

#[test]
fn params_are_validated_at_build() {
    for digits in [0u8, 5, 9, 10, 255] {
        assert!(
            TotpParams::builder().digits(digits).build().is_err(),
            "digits {digits}"
        );
    }
    for period in [0u32, 121, 3600, u32::MAX] {
        assert!(
            TotpParams::builder().period(period).build().is_err(),
            "period {period}"
        );
    }
    assert!(TotpParams::builder().period(1).build().is_ok());
    assert!(TotpParams::builder().period(120).build().is_ok());
    assert!("MD5".parse::<Algorithm>().is_err());
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

proptest! {
    #[test]
    fn generated_codes_verify(
        key in proptest::collection::vec(any::<u8>(), 16..=200),
        algorithm in algorithm(),
        digits in 6u8..=8,
        period in 1u32..=120,
        now in any::<u64>(),
        window in 0u8..=Window::MAX,
    ) {
        let params = TotpParams::builder().algorithm(algorithm).digits(digits).period(period).build().unwrap();
        let totp = Totp::new(params, &SecretKey::from_bytes(&key).unwrap());
        let code = totp.generate(now).unwrap();
        prop_assert_eq!(code.expose_secret().len(), usize::from(digits));
        let window = Window::new(window).unwrap();
        let accepted = totp.verify(code.expose_secret(), now, window, None).unwrap();
        // The newest matching step is reported: the current one, or a later one with the same code.
        prop_assert!(accepted.step() >= params.step_at(now).unwrap());
        prop_assert!(totp.verify(code.expose_secret(), now, window, Some(accepted.step())).is_err());
    }

    #[test]
    fn verify_never_panics(
        code in ".{0,12}",
        bytes in proptest::collection::vec(any::<u8>(), 0..12),
        now in any::<u64>(),
        window in 0u8..=Window::MAX,
        watermark in proptest::option::of(any::<u64>()),
        t0 in any::<u64>(),
    ) {
        let params = TotpParams::builder().t0(t0).period(1).build().unwrap();
        let totp = Totp::new(params, &SecretKey::from_bytes(SEED).unwrap());
        let window = Window::new(window).unwrap();
        let _ = totp.verify(&code, now, window, watermark);
        let _ = totp.verify(&String::from_utf8_lossy(&bytes), now, window, watermark);
        let _ = totp.generate(now);
    }
}

#[test]
fn a_used_code_is_told_apart_from_a_wrong_one_for_the_audit() {
    use authcore::otp::Refusal;
    let totp = sha1_totp(6);
    let now = 1_700_000_000;
    let step = now / 30;
    let window = Window::default();
    let current = code_at_step(&totp, step);
    let previous = code_at_step(&totp, step - 1);
    // At or below the watermark, inside the window: a replay.
    assert_eq!(
        totp.verify_detailed(&current, now, window, Some(step)),
        Err(Refusal::Replayed)
    );
    assert_eq!(
        totp.verify_detailed(&previous, now, window, Some(step)),
        Err(Refusal::Replayed)
    );
    // Still the one opaque answer for the person.
    assert!(totp.verify(&current, now, window, Some(step)).is_err());
    // Wrong, malformed, or outside the window: invalid.
    let wrong = if current == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        totp.verify_detailed(wrong, now, window, Some(step)),
        Err(Refusal::Invalid)
    );
    assert_eq!(
        totp.verify_detailed("12a456", now, window, Some(step)),
        Err(Refusal::Invalid)
    );
    let old = code_at_step(&totp, step - 5);
    assert_eq!(
        totp.verify_detailed(&old, now, window, Some(step)),
        Err(Refusal::Invalid)
    );
    // Without a watermark nothing is a replay; above it the code is accepted.
    assert_eq!(
        totp.verify_detailed(&current, now, window, None)
            .map(|s| s.step()),
        Ok(step)
    );
    assert_eq!(
        totp.verify_detailed(&current, now, window, Some(step - 1))
            .map(|s| s.step()),
        Ok(step)
    );
}

#[test]
fn params_report_what_was_built() {
    let params = TotpParams::builder()
        .algorithm(Algorithm::Sha256)
        .digits(7)
        .period(45)
        .t0(1_000)
        .build()
        .unwrap();
    assert_eq!(params.algorithm(), Algorithm::Sha256);
    assert_eq!(params.digits(), authcore::otp::Digits::Seven);
    assert_eq!(params.period(), 45);
    assert_eq!(params.t0(), 1_000);
    let totp = Totp::new(params, &SecretKey::from_bytes(SEED).unwrap());
    assert_eq!(totp.params(), &params);
    assert_eq!(
        totp.generate(1_000).unwrap().digits(),
        authcore::otp::Digits::Seven
    );
}

#[test]
fn step_start_is_the_first_second_of_a_step() {
    let params = TotpParams::builder().period(45).t0(1_000).build().unwrap();
    assert_eq!(params.step_start(0).unwrap(), 1_000);
    assert_eq!(params.step_start(3).unwrap(), 1_135);
    // The start of a step is in that step; the second before it is in the previous one.
    assert_eq!(params.step_at(1_135).unwrap(), 3);
    assert_eq!(params.step_at(1_134).unwrap(), 2);
    // Overflow is an error, not a wrap.
    assert!(params.step_start(u64::MAX).is_err());
    assert!(params.step_start(u64::MAX / 45).is_err());
}

#[test]
fn window_reports_its_steps() {
    assert_eq!(Window::EXACT.steps(), 0);
    assert_eq!(Window::default().steps(), 1);
    assert_eq!(Window::new(Window::MAX).unwrap().steps(), Window::MAX);
}

#[test]
fn debug_shows_the_parameters_and_never_the_key() {
    let totp = sha1_totp(8);
    let debug = format!("{totp:?}");
    assert!(debug.starts_with("Totp {"), "{debug}");
    assert!(debug.contains("params"), "{debug}");
    assert!(debug.contains("Eight"), "{debug}");
    assert!(!debug.contains("12345678901234567890"), "{debug}");
    let code = totp.generate(59).unwrap();
    assert_eq!(format!("{code:?}"), "OtpCode([REDACTED])");
}

#[test]
fn clocks_read_the_time_they_are_given() {
    use authcore::otp::{Clock, ManualClock, SystemClock};
    use std::sync::Arc;
    let clock = ManualClock::new(1_000);
    assert_eq!(clock.now(), 1_000);
    clock.advance(30);
    assert_eq!(clock.now(), 1_030);
    clock.set(2_000);
    assert_eq!(clock.now(), 2_000);
    clock.advance(u64::MAX);
    assert_eq!(clock.now(), u64::MAX);
    clock.set(59);
    // Through a reference and through an `Arc`, the same reading.
    fn read(clock: impl Clock) -> u64 {
        clock.now()
    }
    assert_eq!(read(&clock), 59);
    let shared = Arc::new(ManualClock::new(61));
    assert_eq!(read(Arc::clone(&shared)), 61);
    // The system clock reads the present: after November 2023, before the year 2100.
    let now = SystemClock.now();
    assert!(now > 1_700_000_000 && now < 4_102_444_800, "{now}");
}

#[test]
fn algorithms_display_their_otpauth_names() {
    assert_eq!(Algorithm::Sha1.to_string(), "SHA1");
    assert_eq!(Algorithm::Sha256.to_string(), "SHA256");
    assert_eq!(Algorithm::Sha512.to_string(), "SHA512");
}

#[test]
fn only_a_replay_is_a_replay() {
    use authcore::otp::Refusal;
    assert!(Refusal::Replayed.is_replay());
    assert!(!Refusal::Invalid.is_replay());
}

#[test]
fn otp_errors_say_what_is_wrong_and_chain_their_cause() {
    use authcore::otp::{OtpError, ParamError, SecretError, UriError};
    use std::error::Error;
    let param = OtpError::from(ParamError::Period);
    assert_eq!(
        param.to_string(),
        "invalid OTP parameter: the period must be between 1 and 120 seconds"
    );
    assert_eq!(
        param.source().unwrap().to_string(),
        ParamError::Period.to_string()
    );
    let uri = OtpError::from(UriError::Scheme);
    assert_eq!(
        uri.to_string(),
        "invalid otpauth URI: the scheme must be otpauth://"
    );
    assert_eq!(
        uri.source().unwrap().to_string(),
        "the scheme must be otpauth://"
    );
    let secret = OtpError::from(SecretError::Empty);
    assert_eq!(secret.to_string(), "invalid secret key: the key is empty");
    assert_eq!(secret.source().unwrap().to_string(), "the key is empty");
    assert!(OtpError::TimeOutOfRange.source().is_none());
    assert_eq!(
        OtpError::TimeOutOfRange.to_string(),
        "time is before T0 or out of range"
    );
}

#[test]
fn key_lengths_are_accepted_at_each_bound_and_refused_past_it() {
    use authcore::otp::{OtpError, SecretError};
    let err = |e| Err::<(), _>(OtpError::Secret(e));
    let new = |len: usize| SecretKey::from_bytes(&vec![7; len]).map(|_| ());
    let import = |len: usize| SecretKey::from_bytes_allow_short(&vec![7; len]).map(|_| ());
    assert_eq!(SecretKey::MIN_LEN, 16);
    assert_eq!(SecretKey::MIN_IMPORT_LEN, 10);
    assert_eq!(SecretKey::MAX_LEN, 256);
    assert_eq!(new(16), Ok(()));
    assert_eq!(new(15), err(SecretError::BelowMinimum { bits: 120 }));
    assert_eq!(new(256), Ok(()));
    assert_eq!(new(257), err(SecretError::TooLong));
    assert_eq!(new(0), err(SecretError::Empty));
    assert_eq!(import(10), Ok(()));
    assert_eq!(import(9), err(SecretError::TooShortToImport { bits: 72 }));
    assert_eq!(import(256), Ok(()));
    assert_eq!(import(257), err(SecretError::TooLong));
    // The 128-bit floor: a 16-byte key meets it, a shorter imported one does not.
    let at_floor = SecretKey::from_bytes(&[7; 16]).unwrap();
    assert!(!at_floor.is_below_minimum());
    assert_eq!(at_floor.len_bits(), 128);
    let short = SecretKey::from_bytes_allow_short(&[7; 15]).unwrap();
    assert!(short.is_below_minimum());
    assert!(
        SecretKey::from_bytes_allow_short(&[7; 10])
            .unwrap()
            .is_below_minimum()
    );
}

#[test]
fn base32_input_is_bounded_before_it_is_read() {
    use authcore::otp::{OtpError, SecretError};
    // Twice the base32 length of the longest key (820 characters) is read; one more is not.
    assert_eq!(
        SecretKey::from_base32(&" ".repeat(820)).map(|_| ()),
        Err(OtpError::Secret(SecretError::Empty))
    );
    assert_eq!(
        SecretKey::from_base32(&" ".repeat(821)).map(|_| ()),
        Err(OtpError::Secret(SecretError::TooLong))
    );
    // The longest key, written with a space after every character, is read.
    let longest = SecretKey::from_bytes(&[0xa5; 256]).unwrap();
    let spaced: String = longest
        .expose_base32()
        .chars()
        .flat_map(|c| [c, ' '])
        .collect();
    assert_eq!(spaced.len(), 820);
    let back = SecretKey::from_base32(&spaced).unwrap();
    assert_eq!(back.expose_bytes(), longest.expose_bytes());
    assert_eq!(format!("{back:?}"), "SecretKey([REDACTED])");
}

//! HOTP verification with look-ahead (RFC 4226 §7.4) on arbitrary keys, counters, windows and
//! code strings: never panics, never accepts a counter outside `counter ..= counter + look_ahead`,
//! always returns the lowest counter of the window whose code matches, and always accepts the
//! code of a counter inside the window (so resynchronisation works).
#![no_main]

use arbitrary::Arbitrary;
use authcore::otp::{Algorithm, Digits, Hotp, LookAhead, SecretKey};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    algorithm: u8,
    digits: u8,
    counter: u64,
    look_ahead: u8,
    offset: u8,
    key: &'a [u8],
    code: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    let algorithm = match input.algorithm % 3 {
        0 => Algorithm::Sha1,
        1 => Algorithm::Sha256,
        _ => Algorithm::Sha512,
    };
    let digits = match input.digits % 3 {
        0 => Digits::Six,
        1 => Digits::Seven,
        _ => Digits::Eight,
    };
    let Ok(key) = SecretKey::from_bytes_allow_short(input.key) else {
        return;
    };
    let look_ahead = match LookAhead::new(input.look_ahead) {
        Ok(look_ahead) => look_ahead,
        Err(_) => {
            assert!(input.look_ahead > LookAhead::MAX);
            return;
        }
    };
    let hotp = Hotp::new(algorithm, digits, &key);
    let last = input
        .counter
        .saturating_add(u64::from(look_ahead.counters()));

    // The lowest counter in the window whose code is `code`, computed the slow way.
    let lowest = |code: &str| {
        (input.counter..=last).find(|counter| hotp.generate(*counter).expose_secret() == code)
    };

    // Arbitrary text: accepted only as the lowest matching counter of the window.
    match hotp.verify(input.code, input.counter, look_ahead) {
        Ok(matched) => {
            assert_eq!(Some(matched.counter()), lowest(input.code));
            assert_eq!(matched.next_counter(), matched.counter().saturating_add(1));
        }
        Err(_) => assert_eq!(lowest(input.code), None),
    }

    // A generated code inside the window is accepted, at its lowest occurrence.
    let target = input
        .counter
        .saturating_add(u64::from(input.offset) % (u64::from(look_ahead.counters()) + 1));
    let code = hotp.generate(target);
    let matched = hotp
        .verify(code.expose_secret(), input.counter, look_ahead)
        .expect("a code inside the window is accepted");
    assert!(matched.counter() <= target);
    assert_eq!(Some(matched.counter()), lowest(code.expose_secret()));

    // Once its counter is stored as spent, the same code is refused unless a later counter
    // of the new window happens to produce the same digits.
    let next = matched.next_counter();
    if next > matched.counter() {
        if let Ok(again) = hotp.verify(code.expose_secret(), next, look_ahead) {
            assert!(again.counter() >= next);
            assert_eq!(
                hotp.generate(again.counter()).expose_secret(),
                code.expose_secret()
            );
        }
    }
    assert!(!format!("{hotp:?}").contains(code.expose_secret()));
});

//! Passwords are the one input every anonymous caller controls: building a `Password` from any
//! text and checking it against any policy never panics, normalisation is NFC and idempotent,
//! the length rules count code points after normalisation, and no verdict repeats the password.
//! The input is also repeated to well past the longest accepted password, so huge inputs are
//! covered without a huge corpus.
#![no_main]

use arbitrary::Arbitrary;
use authcore::Password;
use authcore::credential::password::{
    ContextKind, PasswordContext, PasswordPolicy, PolicyViolation,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    text: &'a str,
    repeat: u8,
    min: u8,
    max: u16,
    user_name: &'a str,
    word: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    // Up to 64 copies: a 4 KiB input becomes 256 KiB.
    let text = input.text.repeat(usize::from(input.repeat % 64).max(1));
    let password = Password::new(text.clone());
    let normal = password.expose_secret().to_owned();

    // NFC, and idempotent: normalising the normal form changes nothing.
    let again = Password::new(normal.clone());
    assert_eq!(again.expose_secret(), normal);
    assert_eq!(password.char_count(), normal.chars().count());
    assert_eq!(Password::from(text.as_str()).expose_secret(), normal);
    // The length never grows by more than NFC's threefold bound.
    assert!(normal.len() <= text.len().saturating_mul(3));
    assert_eq!(format!("{password:?}"), "Password([REDACTED])");

    let policies = [
        PasswordPolicy::with_mfa(),
        PasswordPolicy::password_only(),
        PasswordPolicy::new(usize::from(input.min), usize::from(input.max)).unwrap_or_default(),
    ];
    let context = PasswordContext::new()
        .service_name("Acme Jobs")
        .user_name(input.user_name)
        .word(input.word);
    for policy in policies {
        let verdict = policy.check(&password, &context);
        let length = password.char_count();
        match verdict {
            Err(PolicyViolation::TooShort { min, length: l }) => {
                assert_eq!(l, length);
                assert!(length < min && min == policy.min_length());
            }
            Err(PolicyViolation::TooLong { max, length: l }) => {
                assert_eq!(l, length);
                assert!(length > max && max == policy.max_length());
            }
            Ok(()) | Err(_) => {
                assert!((policy.min_length()..=policy.max_length()).contains(&length));
            }
        }
        // Context words shorter than the minimum (counted after NFC and lower-casing, which
        // may lengthen them) never refuse a password.
        let normal_length = |word: &str| {
            Password::from(word)
                .expose_secret()
                .to_lowercase()
                .chars()
                .count()
        };
        if verdict == Err(PolicyViolation::ContainsContextWord(ContextKind::UserName)) {
            assert!(normal_length(input.user_name) >= PasswordPolicy::MIN_CONTEXT_WORD_LENGTH);
        }
        if verdict == Err(PolicyViolation::ContainsContextWord(ContextKind::Other)) {
            assert!(normal_length(input.word) >= PasswordPolicy::MIN_CONTEXT_WORD_LENGTH);
        }
        // The verdict is the same for the re-normalised password.
        assert_eq!(policy.check(&again, &context), verdict);
    }
});

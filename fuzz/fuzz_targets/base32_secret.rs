//! Lenient base32 input never panics, and what it accepts round-trips through the canonical form.
#![no_main]

use authcore::otp::SecretKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let strict = SecretKey::from_base32(text);
    let Ok(key) = SecretKey::from_base32_allow_short(text) else {
        assert!(
            strict.is_err(),
            "the strict form accepts nothing the lenient one refuses"
        );
        return;
    };
    assert_eq!(strict.is_ok(), !key.is_below_minimum());
    let canonical = key.expose_base32();
    assert!(
        canonical
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    let again = SecretKey::from_base32_allow_short(&canonical).expect("canonical form parses");
    assert_eq!(key.expose_bytes(), again.expose_bytes());
});

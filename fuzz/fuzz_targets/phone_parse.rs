//! Phone-number parsing never panics; what it accepts is E.164, re-parses to itself, and masks
//! to the country code and the last three digits.
#![no_main]

use authcore::credential::PhoneNumber;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(number) = PhoneNumber::parse(text) else {
        return;
    };
    let e164 = number.e164();
    let digits = &e164[1..];
    assert!(e164.starts_with('+'));
    assert!((7..=15).contains(&digits.len()));
    assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    assert!(!digits.starts_with('0'));
    assert_eq!(
        format!("{}{}", number.country_code(), number.national_number()),
        digits
    );
    let again = PhoneNumber::parse(e164).expect("E.164 form re-parses");
    assert_eq!(again, number);
    let masked = number.masked();
    assert!(masked.starts_with(&format!("+{} ", number.country_code())));
    assert!(masked.ends_with(&digits[digits.len() - 3..]));
    assert_eq!(
        masked.chars().filter(|c| c.is_ascii_digit()).count(),
        number.country_code().len() + 3
    );
});

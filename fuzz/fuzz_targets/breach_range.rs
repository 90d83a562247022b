//! A breach corpus's range answer and a range prefix never panic when parsed: an accepted
//! answer holds at most 65,536 entries and answers every query, and an accepted prefix is five
//! upper-case hex digits spelling the input.
#![no_main]

use authcore::credential::password::{BreachQuery, BreachRange, Password, RangePrefix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(prefix) = RangePrefix::parse(text) {
        assert_eq!(prefix.as_str().len(), 5);
        assert!(
            prefix
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        assert!(prefix.as_str().eq_ignore_ascii_case(text));
    }
    if let Ok(range) = BreachRange::parse(text) {
        assert!(range.len() <= 65_536);
        assert_eq!(range.is_empty(), range.len() == 0);
        let query = BreachQuery::new(&Password::from(text));
        let _ = query.count_in(&range);
    }
});

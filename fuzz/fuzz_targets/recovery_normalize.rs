//! Recovery-code input and stored sets: normalisation never panics and is idempotent, and decoding
//! arbitrary stored bytes never panics and round-trips whatever it accepts.
#![no_main]

use authcore::credential::{RecoveryCode, RecoveryCodeSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = RecoveryCodeSet::from_stored_bytes(data) {
        assert_eq!(
            set.to_stored_bytes(),
            data,
            "accepted stored bytes re-encode unchanged"
        );
        assert!(set.remaining() <= set.len());
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(code) = RecoveryCode::normalize(text) else {
        return;
    };
    let canonical = code.expose_secret();
    assert_eq!(canonical.len(), 19);
    assert!(canonical.bytes().enumerate().all(|(i, b)| if i % 5 == 4 {
        b == b'-'
    } else {
        b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)
    }));
    let again = RecoveryCode::normalize(canonical).expect("the canonical form normalises");
    assert_eq!(
        again.expose_secret(),
        canonical,
        "normalisation is idempotent"
    );
});

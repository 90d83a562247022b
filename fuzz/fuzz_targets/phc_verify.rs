//! Stored password hashes come from storage, which may be corrupt or tampered with: verifying a
//! password against any bytes as a PHC string must never panic (and must not hang or exhaust
//! memory: costs above the ceiling are refused before computing).
#![no_main]

use authcore::credential::password::{HashParams, TemporaryCredential};
use authcore::{Password, PasswordHasher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let stored = String::from_utf8_lossy(data);
    // Weak parameters and a low ceiling keep every run short; parsing is the same as in
    // production.
    let Ok(params) = HashParams::dangerous_weak(8, 1, 1) else {
        return;
    };
    let Ok(hasher) = PasswordHasher::builder()
        .params(params)
        .max_stored_cost(256, 4, 4)
        .build()
    else {
        return;
    };
    let password = Password::from("pass phrase");
    let _ = hasher.verify(&password, &stored);
    let temporary = TemporaryCredential::new(stored.into_owned(), u64::MAX);
    let _ = temporary.verify(&hasher, &password, 0);
});

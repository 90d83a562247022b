//! Sealed secrets are read back from storage, which may be corrupt or tampered with: opening any
//! bytes must never panic, and only what was sealed for this context opens. Needs the `sealing`
//! feature of authcore in fuzz/Cargo.toml.
#![no_main]

use authcore::credential::{KeyId, Keyring, SealContext, SealingKey};
use authcore::otp::SecretKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (Ok(current), Ok(previous)) = (
        SealingKey::from_bytes(&[0x11; SealingKey::LEN]),
        SealingKey::from_bytes(&[0x22; SealingKey::LEN]),
    ) else {
        return;
    };
    let Ok(keyring) = Keyring::builder(KeyId::new(2), current)
        .previous(KeyId::new(1), previous)
        .build()
    else {
        return;
    };
    let context = SealContext::authenticator_secret(b"person", b"authenticator");

    // Arbitrary stored bytes: an error, never a panic, and a forgery never opens.
    assert!(keyring.open(data, &context).is_err());
    let _ = keyring.needs_reseal(data);

    // The input as a secret: it round-trips, and any single-bit change (chosen by the input)
    // is refused.
    let Ok(secret) = SecretKey::from_bytes_allow_short(data) else {
        return;
    };
    let Ok(sealed) = keyring.seal_with_os_rng(&secret, &context) else {
        return;
    };
    let opened = keyring.open(sealed.as_bytes(), &context);
    assert!(opened.is_ok_and(|k| k.expose_bytes() == data));
    assert!(!keyring.needs_reseal(sealed.as_bytes()));
    let bytes = sealed.into_bytes();
    let other = SealContext::authenticator_secret(b"person", b"other authenticator");
    assert!(keyring.open(&bytes, &other).is_err());
    let choice = data.iter().fold(0usize, |a, &b| {
        a.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let mut altered = bytes;
    let index = choice % altered.len();
    if let Some(byte) = altered.get_mut(index) {
        *byte ^= 1 << (choice % 8);
    }
    assert!(keyring.open(&altered, &context).is_err());
});

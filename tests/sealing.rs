//! Sealed authenticator secrets: round trips, binding to the row, tampering, rotation, redaction.

#![cfg(all(feature = "sealing", feature = "std"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use authcore::Error;
use authcore::credential::{
    KeyId, Keyring, OpenError, SealContext, SealedSecret, SealingError, SealingKey,
};
use authcore::otp::SecretKey;
use proptest::prelude::*;

/// A deterministic generator: a counter from a seed.
struct CountingRng(u8);

impl rand_core::TryRng for CountingRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for CountingRng {}

fn key(byte: u8) -> SealingKey {
    SealingKey::from_bytes(&[byte; 32]).unwrap()
}

fn secret() -> SecretKey {
    SecretKey::from_bytes(b"12345678901234567890").unwrap()
}

fn context() -> SealContext {
    SealContext::authenticator_secret(b"person-1", b"authenticator-1")
}

fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), key(1))
}

fn sealed() -> SealedSecret {
    keyring()
        .seal(&secret(), &context(), &mut CountingRng(0))
        .unwrap()
}

#[test]
fn round_trip() {
    let keyring = keyring();
    for len in [
        SecretKey::MIN_IMPORT_LEN,
        16,
        20,
        32,
        64,
        SecretKey::MAX_LEN,
    ] {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let secret = SecretKey::from_bytes_allow_short(&bytes).unwrap();
        let sealed = keyring.seal_with_os_rng(&secret, &context()).unwrap();
        assert_eq!(sealed.as_bytes().len(), len + 45);
        assert!(sealed.as_bytes().len() <= SealedSecret::MAX_LEN);
        assert_eq!(sealed.key_id(), KeyId::new(1));
        let opened = keyring.open(sealed.as_bytes(), &context()).unwrap();
        assert_eq!(opened.expose_bytes(), bytes.as_slice());
        assert_eq!(opened.is_below_minimum(), len < SecretKey::MIN_LEN);
        assert!(!keyring.needs_reseal(sealed.as_bytes()));
    }
}

#[test]
fn copied_to_another_row_does_not_open() {
    let sealed = sealed();
    let others = [
        SealContext::authenticator_secret(b"person-2", b"authenticator-1"),
        SealContext::authenticator_secret(b"person-1", b"authenticator-2"),
        SealContext::authenticator_secret(b"authenticator-1", b"person-1"),
        SealContext::authenticator_secret(b"person-1", b"authenticator-1").with(b"extra", b""),
        SealContext::new("authcore/other-purpose/v1")
            .with(b"person", b"person-1")
            .with(b"authenticator", b"authenticator-1"),
        SealContext::new(SealContext::AUTHENTICATOR_SECRET)
            .with(b"authenticator", b"authenticator-1")
            .with(b"person", b"person-1"),
        SealContext::new(""),
    ];
    for other in &others {
        assert_eq!(
            keyring().open(sealed.as_bytes(), other).unwrap_err(),
            OpenError::Forged,
            "{other:?}"
        );
    }
    assert!(keyring().open(sealed.as_bytes(), &context()).is_ok());
}

#[test]
fn every_single_bit_flip_fails() {
    let sealed = sealed().into_bytes();
    let keyring = keyring();
    for i in 0..sealed.len() {
        for bit in 0..8 {
            let mut bytes = sealed.clone();
            bytes[i] ^= 1 << bit;
            let err = keyring.open(&bytes, &context()).unwrap_err();
            let expected = match i {
                0 => OpenError::UnsupportedVersion(bytes[0]),
                1..=4 => OpenError::UnknownKeyId(KeyId::new(u32::from_be_bytes(
                    bytes[1..5].try_into().unwrap(),
                ))),
                _ => OpenError::Forged,
            };
            assert_eq!(err, expected, "byte {i} bit {bit}");
        }
    }
}

#[test]
fn flipping_the_key_id_to_another_known_key_fails() {
    let keyring = Keyring::builder(KeyId::new(1), key(1))
        .previous(KeyId::new(3), key(3))
        .build()
        .unwrap();
    let mut bytes = sealed().into_bytes();
    bytes[4] ^= 0b10;
    assert_eq!(
        keyring.open(&bytes, &context()).unwrap_err(),
        OpenError::Forged
    );
}

#[test]
fn every_truncation_and_extension_fails() {
    let sealed = sealed().into_bytes();
    let keyring = keyring();
    for len in 0..sealed.len() {
        let err = keyring.open(&sealed[..len], &context()).unwrap_err();
        let min = 45 + SecretKey::MIN_IMPORT_LEN;
        if len < min {
            assert_eq!(err, OpenError::Malformed, "length {len}");
        } else {
            assert_eq!(err, OpenError::Forged, "length {len}");
        }
        // Dropping leading bytes instead.
        assert!(keyring.open(&sealed[len + 1..], &context()).is_err());
    }
    for extra in [0u8, 1, 0xff] {
        let mut longer = sealed.clone();
        longer.push(extra);
        assert_eq!(
            keyring.open(&longer, &context()).unwrap_err(),
            OpenError::Forged
        );
    }
    let too_long = [1u8; SealedSecret::MAX_LEN + 1];
    assert_eq!(
        keyring.open(&too_long, &context()).unwrap_err(),
        OpenError::Malformed
    );
}

#[test]
fn unknown_key_id() {
    let sealed = sealed();
    let other = Keyring::new(KeyId::new(2), key(1));
    assert_eq!(
        other.open(sealed.as_bytes(), &context()).unwrap_err(),
        OpenError::UnknownKeyId(KeyId::new(1))
    );
    // The right id with the wrong key material.
    let wrong = Keyring::new(KeyId::new(1), key(9));
    assert_eq!(
        wrong.open(sealed.as_bytes(), &context()).unwrap_err(),
        OpenError::Forged
    );
    let unknown = Error::from(OpenError::UnknownKeyId(KeyId::new(1)));
    assert_eq!(
        unknown.to_string(),
        "sealing: the sealed secret did not open: no sealing key with id 1"
    );
}

#[test]
fn rotation() {
    let old_ring = Keyring::new(KeyId::new(1), key(1));
    let old_sealed = old_ring.seal_with_os_rng(&secret(), &context()).unwrap();

    let ring = Keyring::builder(KeyId::new(2), key(2))
        .previous(KeyId::new(1), key(1))
        .build()
        .unwrap();
    assert_eq!(ring.current_key_id(), KeyId::new(2));
    assert!(ring.needs_reseal(old_sealed.as_bytes()));
    let opened = ring.open(old_sealed.as_bytes(), &context()).unwrap();
    assert_eq!(opened.expose_bytes(), secret().expose_bytes());

    let resealed = ring.seal_with_os_rng(&opened, &context()).unwrap();
    assert_eq!(resealed.key_id(), KeyId::new(2));
    assert!(!ring.needs_reseal(resealed.as_bytes()));
    assert_eq!(resealed.as_bytes()[1..5], [0, 0, 0, 2]);
    assert_eq!(
        ring.open(resealed.as_bytes(), &context())
            .unwrap()
            .expose_bytes(),
        secret().expose_bytes()
    );

    // After the old key is retired, the re-sealed value still opens; the old one does not.
    let new_only = Keyring::new(KeyId::new(2), key(2));
    assert!(new_only.open(resealed.as_bytes(), &context()).is_ok());
    assert_eq!(
        new_only
            .open(old_sealed.as_bytes(), &context())
            .unwrap_err(),
        OpenError::UnknownKeyId(KeyId::new(1))
    );
    // The old key alone cannot open what the new key sealed.
    assert_eq!(
        old_ring.open(resealed.as_bytes(), &context()).unwrap_err(),
        OpenError::UnknownKeyId(KeyId::new(2))
    );
    // Values that do not parse never ask for a reseal.
    assert!(!ring.needs_reseal(b""));
    assert!(!ring.needs_reseal(&old_sealed.as_bytes()[..20]));
}

#[test]
fn duplicate_key_ids_are_refused() {
    let err = Keyring::builder(KeyId::new(5), key(1))
        .previous(KeyId::new(5), key(2))
        .build()
        .unwrap_err();
    assert_eq!(err, SealingError::DuplicateKeyId(KeyId::new(5)));
}

#[test]
fn two_seals_of_one_secret_differ() {
    let keyring = keyring();
    let a = keyring.seal_with_os_rng(&secret(), &context()).unwrap();
    let b = keyring.seal_with_os_rng(&secret(), &context()).unwrap();
    assert_ne!(a.as_bytes(), b.as_bytes());
    assert_ne!(a.as_bytes()[5..29], b.as_bytes()[5..29], "nonces differ");
    assert_ne!(a.as_bytes()[29..], b.as_bytes()[29..], "ciphertexts differ");
    for sealed in [a, b] {
        assert!(keyring.open(sealed.as_bytes(), &context()).is_ok());
    }
}

#[test]
fn sealed_bytes_hide_the_key() {
    let secret = SecretKey::generate(authcore::otp::Algorithm::Sha1).unwrap();
    let sealed = keyring().seal_with_os_rng(&secret, &context()).unwrap();
    let bytes = sealed.as_bytes();
    let plain = secret.expose_bytes();
    for window in plain.windows(8) {
        assert!(!bytes.windows(8).any(|w| w == window));
    }
    let base32 = secret.expose_base32();
    assert!(!bytes.windows(8).any(|w| w == &base32.as_bytes()[..8]));
}

#[test]
fn generated_keys() {
    let a = SealingKey::generate().unwrap();
    let b = SealingKey::generate().unwrap();
    assert_ne!(a.expose_secret(), b.expose_secret());
    assert_ne!(a.expose_secret(), &[0; 32]);
    let c = SealingKey::generate_with_rng(&mut CountingRng(0)).unwrap();
    assert_eq!(c.expose_secret()[..3], [1, 2, 3]);
    let copy = SealingKey::from_bytes(c.expose_secret()).unwrap();
    let sealed = Keyring::new(KeyId::new(1), c)
        .seal(&secret(), &context(), &mut CountingRng(9))
        .unwrap();
    assert!(
        Keyring::new(KeyId::new(1), copy)
            .open(sealed.as_bytes(), &context())
            .is_ok()
    );
    for len in [0, 16, 31, 33, 64] {
        assert_eq!(
            SealingKey::from_bytes(&vec![7; len]).unwrap_err(),
            SealingError::KeyLength
        );
    }
}

#[test]
fn debug_is_redacted() {
    let raw = [0xabu8; 32];
    let sealing_key = SealingKey::from_bytes(&raw).unwrap();
    let shown = format!("{sealing_key:?}");
    assert_eq!(shown, "SealingKey([REDACTED])");

    let builder = Keyring::builder(KeyId::new(4), sealing_key).previous(KeyId::new(3), key(0xcd));
    let shown = format!("{builder:?}");
    assert!(
        shown.contains("REDACTED") && shown.contains("KeyId(3)"),
        "{shown}"
    );
    assert!(!shown.contains("171") && !shown.contains("ab") && !shown.contains("205"));
    let keyring = builder.build().unwrap();
    let shown = format!("{keyring:?}");
    assert!(
        shown.contains("REDACTED") && shown.contains("KeyId(4)"),
        "{shown}"
    );
    assert!(!shown.contains("171") && !shown.contains("ab") && !shown.contains("205"));

    let context = SealContext::authenticator_secret(b"alice@example.com", b"phone-app");
    let shown = format!("{context:?}");
    assert!(shown.contains(SealContext::AUTHENTICATOR_SECRET), "{shown}");
    assert!(
        !shown.contains("alice") && !shown.contains("phone"),
        "{shown}"
    );

    let sealed = keyring.seal_with_os_rng(&secret(), &context).unwrap();
    let shown = format!("{sealed:?}");
    assert!(
        shown.starts_with("SealedSecret { key_id: KeyId(4), len: 65"),
        "{shown}"
    );

    let opened = keyring.open(sealed.as_bytes(), &context).unwrap();
    assert_eq!(format!("{opened:?}"), "SecretKey([REDACTED])");

    for err in [
        OpenError::Malformed,
        OpenError::UnsupportedVersion(9),
        OpenError::UnknownKeyId(KeyId::new(8)),
        OpenError::Forged,
    ] {
        let shown = format!("{err:?} {err} {}", Error::from(err));
        assert!(
            !shown.contains("1234") && !shown.contains("alice"),
            "{shown}"
        );
    }
}

/// A label and named fields.
type ContextParts = (String, Vec<(Vec<u8>, Vec<u8>)>);

fn arb_context() -> impl Strategy<Value = ContextParts> {
    (
        ".{0,40}",
        prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 0..16),
                prop::collection::vec(any::<u8>(), 0..40),
            ),
            0..4,
        ),
    )
}

fn build(label: &str, fields: &[(Vec<u8>, Vec<u8>)]) -> SealContext {
    fields
        .iter()
        .fold(SealContext::new(label), |c, (n, v)| c.with(n, v))
}

proptest! {
    #[test]
    fn round_trip_any_key_and_context(
        secret in prop::collection::vec(any::<u8>(), 10..=256),
        (label, fields) in arb_context(),
        seed in any::<u8>(),
    ) {
        let context = build(&label, &fields);
        let secret = SecretKey::from_bytes_allow_short(&secret).unwrap();
        let sealed = keyring().seal(&secret, &context, &mut CountingRng(seed)).unwrap();
        let opened = keyring().open(sealed.as_bytes(), &context).unwrap();
        prop_assert_eq!(opened.expose_bytes(), secret.expose_bytes());
        prop_assert!(!keyring().needs_reseal(sealed.as_bytes()));
    }

    /// Distinct label/field lists always encode to distinct associated data.
    #[test]
    fn context_encoding_is_injective(a in arb_context(), b in arb_context()) {
        let (ca, cb) = (build(&a.0, &a.1), build(&b.0, &b.1));
        prop_assert_eq!(a == b, ca.associated_data() == cb.associated_data());
    }

    #[test]
    fn open_is_total_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let keyring = keyring();
        prop_assert!(keyring.open(&bytes, &context()).is_err());
        let _ = keyring.needs_reseal(&bytes);
    }

    /// Arbitrary bodies behind a valid header reach the cipher, and still never open.
    #[test]
    fn open_is_total_behind_a_valid_header(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = vec![1, 0, 0, 0, 1];
        bytes.extend_from_slice(&body);
        let err = keyring().open(&bytes, &context()).unwrap_err();
        let parses = (45 + 10..=SealedSecret::MAX_LEN).contains(&bytes.len());
        prop_assert_eq!(err, if parses { OpenError::Forged } else { OpenError::Malformed });
        prop_assert!(!keyring().needs_reseal(&bytes));
    }
}

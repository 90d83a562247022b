//! Passwords: PHC strings, rehash detection, peppers, dummy verification, policy, temporary
//! passwords.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)]

use authcore::credential::password::{
    ContextKind, HashParams, NewPasswordError, PasswordContext, PasswordError, PasswordPolicy,
    PasswordVerified, Pepper, PepperId, PolicyViolation, RehashReason, TemporaryPassword,
    VerifyError,
};
use authcore::{Password, PasswordHasher};
use proptest::prelude::*;

/// Small parameters so the suite stays fast; only tests about the defaults use the defaults.
fn fast_params() -> HashParams {
    HashParams::dangerous_weak(64, 1, 1).unwrap()
}

fn fast() -> PasswordHasher {
    PasswordHasher::builder()
        .params(fast_params())
        .build()
        .unwrap()
}

fn pepper(id: &[u8], byte: u8) -> Pepper {
    Pepper::new(PepperId::new(id).unwrap(), &[byte; 32]).unwrap()
}

fn pw(text: &str) -> Password {
    Password::from(text)
}

/// Splits a PHC string into its `$`-separated fields.
fn fields(phc: &str) -> Vec<&str> {
    phc.split('$').collect()
}

fn b64_len(field: &str) -> usize {
    // Unpadded standard base64: 4 characters per 3 bytes.
    field.len() * 3 / 4
}

// ---------------------------------------------------------------------------------------------
// PHC format and parameters

#[test]
fn default_hash_is_argon2id_v19_owasp_params_16_byte_salt() {
    let hasher = PasswordHasher::builder().build().unwrap();
    assert_eq!(hasher.params(), HashParams::new(19_456, 2, 1).unwrap());
    let stored = hasher.hash(&pw("correct horse battery staple")).unwrap();
    let f = fields(stored.as_str());
    assert_eq!(f.len(), 6, "{}", stored.as_str());
    assert_eq!(f[0], "");
    assert_eq!(f[1], "argon2id");
    assert_eq!(f[2], "v=19");
    assert_eq!(f[3], "m=19456,t=2,p=1");
    assert_eq!(b64_len(f[4]), 16, "salt {}", f[4]);
    assert_eq!(b64_len(f[5]), 32, "output {}", f[5]);
    assert_eq!(
        hasher.verify(&pw("correct horse battery staple"), stored.as_str()),
        Ok(PasswordVerified::Current)
    );
    assert_eq!(
        hasher.verify(&pw("correct horse battery stapl"), stored.as_str()),
        Err(VerifyError::Rejected)
    );
}

#[test]
fn each_hash_has_a_fresh_salt() {
    let hasher = fast();
    let a = hasher.hash(&pw("same password")).unwrap();
    let b = hasher.hash(&pw("same password")).unwrap();
    assert_ne!(a.as_str(), b.as_str());
    assert_ne!(fields(a.as_str())[4], fields(b.as_str())[4]);
    assert!(hasher.verify(&pw("same password"), a.as_str()).is_ok());
    assert!(hasher.verify(&pw("same password"), b.as_str()).is_ok());
}

#[test]
fn weak_params_are_refused_outside_the_dangerous_constructor() {
    assert_eq!(HashParams::new(64, 1, 1), Err(PasswordError::WeakParams));
    assert_eq!(
        HashParams::new(47_103, 1, 1),
        Err(PasswordError::WeakParams)
    );
    assert!(HashParams::new(47_104, 1, 1).is_ok());
    assert!(HashParams::new(12_288, 3, 1).is_ok());
    assert!(HashParams::dangerous_weak(64, 1, 1).is_ok());
    assert!(
        !HashParams::dangerous_weak(64, 1, 1)
            .unwrap()
            .meets_minimum()
    );
}

/// Known answers from the reference implementation's test suite (password `password`, salt
/// `somesalt`), also used by the `argon2` crate's tests.
#[test]
fn reference_phc_strings_verify() {
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(256, 2, 1).unwrap())
        .build()
        .unwrap();
    let password = pw("password");
    let cases = [
        (
            "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
            // An 8-byte salt is below the 16 bytes of new hashes.
            RehashReason::Parameters,
        ),
        (
            "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
            RehashReason::Algorithm,
        ),
        (
            "$argon2i$v=16$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY",
            RehashReason::Algorithm,
        ),
        (
            // No `v=`: version 16, as the reference implementation reads it.
            "$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY",
            RehashReason::Algorithm,
        ),
    ];
    for (phc, reason) in cases {
        assert_eq!(
            hasher.verify(&password, phc),
            Ok(PasswordVerified::NeedsRehash(reason)),
            "{phc}"
        );
        assert_eq!(
            hasher.verify(&pw("Password"), phc),
            Err(VerifyError::Rejected),
            "{phc}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Rehash detection

/// Hashes with the `argon2` crate directly, to make hashes this crate would not produce.
fn foreign_hash(
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    m: u32,
    t: u32,
    salt: &[u8],
    password: &str,
) -> String {
    use argon2::PasswordHasher as _;
    let params = argon2::Params::new(m, t, 1, Some(32)).unwrap();
    argon2::Argon2::new(algorithm, version, params)
        .hash_password_with_salt(password.as_bytes(), salt)
        .unwrap()
        .to_string()
}

#[test]
fn rehash_detection() {
    use argon2::{Algorithm, Version};
    let hasher = fast();
    let salt = [9u8; 16];
    let check = |phc: &str| hasher.verify(&pw("pass phrase"), phc);

    let current = foreign_hash(
        Algorithm::Argon2id,
        Version::V0x13,
        64,
        1,
        &salt,
        "pass phrase",
    );
    assert_eq!(check(&current), Ok(PasswordVerified::Current));
    assert!(!check(&current).unwrap().needs_rehash());

    let argon2i = foreign_hash(
        Algorithm::Argon2i,
        Version::V0x13,
        64,
        1,
        &salt,
        "pass phrase",
    );
    assert_eq!(
        check(&argon2i),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Algorithm))
    );
    let argon2d = foreign_hash(
        Algorithm::Argon2d,
        Version::V0x13,
        64,
        1,
        &salt,
        "pass phrase",
    );
    assert_eq!(
        check(&argon2d),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Algorithm))
    );
    let v16 = foreign_hash(
        Algorithm::Argon2id,
        Version::V0x10,
        64,
        1,
        &salt,
        "pass phrase",
    );
    assert!(v16.starts_with("$argon2id$v=16$"));
    assert_eq!(
        check(&v16),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Version))
    );

    let less_memory = foreign_hash(
        Algorithm::Argon2id,
        Version::V0x13,
        32,
        1,
        &salt,
        "pass phrase",
    );
    assert_eq!(
        check(&less_memory),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Parameters))
    );
    let short_salt = foreign_hash(
        Algorithm::Argon2id,
        Version::V0x13,
        64,
        1,
        &[9; 8],
        "pass phrase",
    );
    assert_eq!(
        check(&short_salt),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Parameters))
    );
    // Stronger than current: no rehash (never downgrade).
    let stronger = foreign_hash(
        Algorithm::Argon2id,
        Version::V0x13,
        128,
        2,
        &salt,
        "pass phrase",
    );
    assert_eq!(check(&stronger), Ok(PasswordVerified::Current));

    // Raising the policy makes old hashes stale; a fresh hash under the new policy is current.
    let old = fast().hash(&pw("pass phrase")).unwrap();
    let raised = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 2, 1).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        raised.verify(&pw("pass phrase"), old.as_str()),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Parameters))
    );
    let new = raised.hash(&pw("pass phrase")).unwrap();
    assert_eq!(
        raised.verify(&pw("pass phrase"), new.as_str()),
        Ok(PasswordVerified::Current)
    );
    // A wrong password never reports anything about the hash.
    assert_eq!(
        raised.verify(&pw("pass phrase?"), old.as_str()),
        Err(VerifyError::Rejected)
    );
}

#[test]
fn default_hasher_flags_weak_stored_hashes() {
    let weak = fast().hash(&pw("pass phrase")).unwrap();
    let default = PasswordHasher::builder().build().unwrap();
    assert_eq!(
        default.verify(&pw("pass phrase"), weak.as_str()),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Parameters))
    );
}

// ---------------------------------------------------------------------------------------------
// Peppers

#[test]
fn pepper_is_recorded_as_keyid_and_needed_to_verify() {
    let peppered = PasswordHasher::builder()
        .params(fast_params())
        .current_pepper(pepper(b"k1", 1))
        .build()
        .unwrap();
    let stored = peppered.hash(&pw("pass phrase")).unwrap();
    // keyid = base64("k1") = "azE"
    assert_eq!(fields(stored.as_str())[3], "m=64,t=1,p=1,keyid=azE");
    assert_eq!(
        peppered.verify(&pw("pass phrase"), stored.as_str()),
        Ok(PasswordVerified::Current)
    );

    // Without the pepper the hash cannot be checked at all.
    assert_eq!(
        fast().verify(&pw("pass phrase"), stored.as_str()),
        Err(VerifyError::UnusableHash(PasswordError::UnknownPepper))
    );
    // The same id with different key bytes: the hash does not match.
    let wrong_key = PasswordHasher::builder()
        .params(fast_params())
        .current_pepper(pepper(b"k1", 2))
        .build()
        .unwrap();
    assert_eq!(
        wrong_key.verify(&pw("pass phrase"), stored.as_str()),
        Err(VerifyError::Rejected)
    );
    // The pepper changes the output: the unpeppered hash of the same salt differs.
    let plain = fast().hash(&pw("pass phrase")).unwrap();
    assert_eq!(
        peppered.verify(&pw("pass phrase"), plain.as_str()),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Pepper))
    );
}

#[test]
fn pepper_rotation() {
    let before = PasswordHasher::builder()
        .params(fast_params())
        .current_pepper(pepper(b"2025a", 1))
        .build()
        .unwrap();
    let old = before.hash(&pw("pass phrase")).unwrap();

    let during = PasswordHasher::builder()
        .params(fast_params())
        .pepper(pepper(b"2025a", 1))
        .current_pepper(pepper(b"2025b", 2))
        .build()
        .unwrap();
    assert_eq!(
        during.current_pepper(),
        Some(PepperId::new(b"2025b").unwrap())
    );
    // Old hashes still verify, and ask to be re-hashed under the new pepper.
    assert_eq!(
        during.verify(&pw("pass phrase"), old.as_str()),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Pepper))
    );
    let new = during.hash(&pw("pass phrase")).unwrap();
    assert!(new.as_str().contains(",keyid=MjAyNWI$"), "{}", new.as_str());
    assert_eq!(
        during.verify(&pw("pass phrase"), new.as_str()),
        Ok(PasswordVerified::Current)
    );

    // Once every hash is migrated, the old pepper can be dropped.
    let after = PasswordHasher::builder()
        .params(fast_params())
        .current_pepper(pepper(b"2025b", 2))
        .build()
        .unwrap();
    assert_eq!(
        after.verify(&pw("pass phrase"), new.as_str()),
        Ok(PasswordVerified::Current)
    );
    assert_eq!(
        after.verify(&pw("pass phrase"), old.as_str()),
        Err(VerifyError::UnusableHash(PasswordError::UnknownPepper))
    );

    // Known peppers but none current: new hashes are unpeppered, peppered ones want a rehash.
    let retired = PasswordHasher::builder()
        .params(fast_params())
        .pepper(pepper(b"2025b", 2))
        .build()
        .unwrap();
    assert_eq!(
        retired.verify(&pw("pass phrase"), new.as_str()),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Pepper))
    );
}

#[test]
fn pepper_configuration_errors() {
    assert_eq!(PepperId::new(b"").unwrap_err(), PasswordError::PepperId);
    assert_eq!(
        PepperId::new(b"123456789").unwrap_err(),
        PasswordError::PepperId
    );
    assert!(PepperId::new(b"12345678").is_ok());
    let id = PepperId::new(b"k").unwrap();
    assert_eq!(
        Pepper::new(id, &[0; 15]).unwrap_err(),
        PasswordError::PepperLength
    );
    assert_eq!(
        Pepper::new(id, &[0; 65]).unwrap_err(),
        PasswordError::PepperLength
    );
    assert_eq!(
        PasswordHasher::builder()
            .pepper(pepper(b"k1", 1))
            .current_pepper(pepper(b"k1", 2))
            .build()
            .unwrap_err(),
        PasswordError::DuplicatePepper
    );
}

// ---------------------------------------------------------------------------------------------
// Dummy verification and unusable stored hashes

/// A login for a missing account is rejected like a wrong password. What it costs is compared
/// with a wrong password side by side in the `password` bench group (`verify_dummy` beside
/// `verify_wrong`), never timed in a test; that the dummy hash carries the current parameters
/// and pepper is pinned by the hasher's own unit test.
#[test]
fn dummy_verification_always_rejects() {
    let hasher = fast();
    for candidate in ["", "password", "correct horse battery staple", "\u{0}"] {
        assert_eq!(
            hasher.verify_dummy(&pw(candidate)),
            Err(VerifyError::Rejected)
        );
    }
}

#[test]
fn unusable_stored_hashes_are_reported_for_operators() {
    let hasher = fast();
    let password = pw("pass phrase");
    let malformed = [
        "",
        "argon2id",
        "$argon2id$v=19$m=64,t=1,p=1",
        "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzYWx0",
        "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzYWx0$!!!",
        "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHRzYWx0$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=4,t=1,p=1$c29tZXNhbHRzYWx0$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=64,t=1,p=1,x=1$c29tZXNhbHRzYWx0$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
    ];
    for stored in malformed {
        assert_eq!(
            hasher.verify(&password, stored),
            Err(VerifyError::UnusableHash(PasswordError::MalformedHash)),
            "{stored}"
        );
    }
    for stored in [
        "$pbkdf2-sha256$i=1000$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=18$m=64,t=1,p=1$c29tZXNhbHRzYWx0$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
    ] {
        assert_eq!(
            hasher.verify(&password, stored),
            Err(VerifyError::UnusableHash(
                PasswordError::UnsupportedAlgorithm
            )),
            "{stored}"
        );
    }
    // A tampered hash asking for 4 TiB is not computed.
    assert_eq!(
        hasher.verify(
            &password,
            "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzYWx0$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
        ),
        Err(VerifyError::UnusableHash(PasswordError::CostAboveCeiling))
    );
    let tight = PasswordHasher::builder()
        .params(fast_params())
        .max_stored_cost(64, 1, 1)
        .build()
        .unwrap();
    let stronger = foreign_hash(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        128,
        1,
        &[1; 16],
        "pass phrase",
    );
    assert_eq!(
        tight.verify(&password, &stronger),
        Err(VerifyError::UnusableHash(PasswordError::CostAboveCeiling))
    );
    assert_eq!(
        PasswordHasher::builder()
            .params(fast_params())
            .max_stored_cost(32, 1, 1)
            .build()
            .unwrap_err(),
        PasswordError::CeilingBelowParams
    );
}

#[test]
fn over_long_passwords() {
    let hasher = fast();
    let longest = pw(&"é".repeat(256));
    let stored = hasher.hash(&longest).unwrap();
    assert!(hasher.verify(&longest, stored.as_str()).is_ok());
    let too_long = pw(&"é".repeat(257));
    assert_eq!(hasher.hash(&too_long).unwrap_err(), PasswordError::TooLong);
    assert_eq!(
        hasher.verify(&too_long, stored.as_str()),
        Err(VerifyError::Rejected)
    );
}

// ---------------------------------------------------------------------------------------------
// Policy

#[test]
fn length_is_counted_in_code_points_after_nfc() {
    let policy = PasswordPolicy::new(9, 64).unwrap();
    let none = PasswordContext::new();
    // Eight é typed decomposed (e + U+0301) are 16 code points before normalisation, 8 after.
    let decomposed = pw(&"e\u{301}".repeat(8));
    let composed = pw(&"\u{e9}".repeat(8));
    assert_eq!(decomposed.char_count(), 8);
    assert_eq!(decomposed.expose_secret(), composed.expose_secret());
    for candidate in [&decomposed, &composed] {
        assert_eq!(
            policy.check(candidate, &none),
            Err(PolicyViolation::TooShort { min: 9, length: 8 })
        );
        assert_eq!(PasswordPolicy::with_mfa().check(candidate, &none), Ok(()));
    }
    // Multi-byte characters count once: nine emoji are nine characters.
    assert_eq!(policy.check(&pw(&"🔑".repeat(9)), &none), Ok(()));
}

#[test]
fn length_bounds() {
    let none = PasswordContext::new();
    let mfa = PasswordPolicy::with_mfa();
    let only = PasswordPolicy::password_only();
    assert_eq!(
        mfa.check(&pw("tulip7x"), &none),
        Err(PolicyViolation::TooShort { min: 8, length: 7 })
    );
    assert_eq!(mfa.check(&pw("tulip7xq"), &none), Ok(()));
    assert_eq!(
        only.check(&pw("tulip7xq"), &none),
        Err(PolicyViolation::TooShort { min: 15, length: 8 })
    );
    assert_eq!(only.check(&pw("tulips and kale"), &none), Ok(()));
    // At least 64 characters are always accepted, even by the tightest maximum.
    let sixty_four = "a quiet river bends past seven old mills under the grey hills ok";
    assert_eq!(sixty_four.chars().count(), 64);
    let tight = PasswordPolicy::new(8, 64).unwrap();
    assert_eq!(tight.check(&pw(sixty_four), &none), Ok(()));
    assert_eq!(
        tight.check(&pw(&format!("{sixty_four}!")), &none),
        Err(PolicyViolation::TooLong {
            max: 64,
            length: 65
        })
    );
    // The default maximum is 256 code points, and nothing is truncated.
    let long = "xyzzy plugh ".repeat(21) + "quux";
    assert_eq!(long.chars().count(), 256);
    assert_eq!(only.check(&pw(&long), &none), Ok(()));
    assert_eq!(
        only.check(&pw(&format!("{long}!")), &none),
        Err(PolicyViolation::TooLong {
            max: 256,
            length: 257
        })
    );
}

#[test]
fn no_composition_rules() {
    let none = PasswordContext::new();
    let only = PasswordPolicy::password_only();
    for candidate in [
        "all lower case words here",
        "ALLUPPERCASEANDLONGENOUGH",
        "123987456012398745601",
        "     fifteen spaces and more",
        "😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍",
    ] {
        assert_eq!(only.check(&pw(candidate), &none), Ok(()), "{candidate}");
    }
}

#[test]
fn common_passwords_are_refused_case_insensitively() {
    let none = PasswordContext::new();
    let mfa = PasswordPolicy::with_mfa();
    for candidate in [
        "password",
        "PASSWORD",
        "PassWord",
        "qwertyuiop",
        "Iloveyou",
        "password123",
    ] {
        assert_eq!(
            mfa.check(&pw(candidate), &none),
            Err(PolicyViolation::Common),
            "{candidate}"
        );
    }
    // Case folding is Unicode-aware: "пїѕпїѕпїѕпїѕ" is on the list.
    assert_eq!(
        mfa.check(&pw("ПЇЅПЇЅПЇЅПЇЅ"), &none),
        Err(PolicyViolation::Common)
    );
    // The whole password is compared, not a substring.
    assert_eq!(mfa.check(&pw("password-rhubarb"), &none), Ok(()));
}

#[test]
fn context_words_are_refused() {
    let mfa = PasswordPolicy::with_mfa();
    let context = PasswordContext::new()
        .service_name("Acme Jobs")
        .user_name("jdoe42")
        .email("Jane.Doe@example.com")
        .word("Roadrunner")
        .user_name("al");
    let cases = [
        ("i love acme jobs", Some(ContextKind::ServiceName)),
        ("ACMEACMEACME", Some(ContextKind::ServiceName)),
        ("my name is JDOE42", Some(ContextKind::UserName)),
        ("hello jane.doe", Some(ContextKind::Email)),
        ("janexxxxxxx", Some(ContextKind::Email)),
        ("beep beep roadrunner", Some(ContextKind::Other)),
        // Words and parts of words shorter than four characters are ignored ("al", "doe")...
        ("totally normal", None),
        ("doe a deer, a female deer", None),
        // ...but "jobs", a part of the service name, is long enough.
        ("jobs to be done", Some(ContextKind::ServiceName)),
        // Only the local part of the e-mail address counts.
        ("example of a password", None),
    ];
    for (candidate, expected) in cases {
        assert_eq!(
            mfa.check(&pw(candidate), &context),
            expected.map_or(Ok(()), |kind| Err(PolicyViolation::ContainsContextWord(
                kind
            ))),
            "{candidate}"
        );
    }
}

#[test]
fn host_checks_run_last() {
    let breached = |p: &Password| {
        if p.expose_secret() == "Tr0ub4dor&3 is breached" {
            Err(PolicyViolation::Breached)
        } else {
            Ok(())
        }
    };
    let mfa = PasswordPolicy::with_mfa();
    let context = PasswordContext::new()
        .user_name("tester")
        .extra_check(&breached);
    assert_eq!(
        mfa.check(&pw("Tr0ub4dor&3 is breached"), &context),
        Err(PolicyViolation::Breached)
    );
    assert_eq!(mfa.check(&pw("Tr0ub4dor&3 is fine"), &context), Ok(()));
    // Built-in rules come first.
    assert_eq!(
        mfa.check(&pw("tester"), &context),
        Err(PolicyViolation::TooShort { min: 8, length: 6 })
    );

    struct Denylist(&'static [&'static str]);
    impl authcore::credential::password::PasswordCheck for Denylist {
        fn check(&self, password: &Password) -> Result<(), PolicyViolation> {
            if self.0.contains(&password.expose_secret()) {
                Err(PolicyViolation::Host { reason: "denylist" })
            } else {
                Ok(())
            }
        }
    }
    let denylist = Denylist(&["company2025!"]);
    let context = PasswordContext::new().extra_check(&denylist);
    assert_eq!(
        mfa.check(&pw("company2025!"), &context),
        Err(PolicyViolation::Host { reason: "denylist" })
    );
}

#[test]
fn rejections_never_show_the_password() {
    let secret = "Zebra-Quantum-88";
    let context = PasswordContext::new().word("zebra");
    let violation = PasswordPolicy::with_mfa()
        .check(&pw(secret), &context)
        .unwrap_err();
    assert_eq!(
        violation,
        PolicyViolation::ContainsContextWord(ContextKind::Other)
    );
    for shown in [format!("{violation}"), format!("{violation:?}")] {
        assert!(!shown.to_lowercase().contains("zebra"), "{shown}");
        assert!(!shown.contains("Quantum"), "{shown}");
    }
    assert_eq!(format!("{:?}", pw(secret)), "Password([REDACTED])");
}

// ---------------------------------------------------------------------------------------------
// Temporary passwords

const NOW: u64 = 1_700_000_000;

#[test]
fn temporary_passwords_are_readable_and_meet_the_policy() {
    let policy = PasswordPolicy::password_only();
    let context = PasswordContext::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let temp = TemporaryPassword::generate(&policy, &context, NOW).unwrap();
        let text = temp.expose_secret();
        assert_eq!(text.len(), 19, "{text}");
        assert!(text.chars().count() >= policy.min_length());
        for (i, c) in text.chars().enumerate() {
            if i % 5 == 4 {
                assert_eq!(c, '-', "{text}");
            } else {
                assert!(
                    c.is_ascii_digit() || c.is_ascii_lowercase(),
                    "{text}: {c:?}"
                );
                assert!(!"01lIoO".contains(c), "{text}: {c:?}");
            }
        }
        assert_eq!(policy.check(temp.password(), &context), Ok(()));
        assert_eq!(temp.expires_at(), NOW + 72 * 3600);
        assert!(seen.insert(text.to_owned()), "repeated {text}");
        assert!(format!("{temp:?}").contains("REDACTED"));
        assert!(!format!("{temp:?}").contains(text));
    }
    // Longer minimums give longer passwords.
    let long = PasswordPolicy::new(40, 64).unwrap();
    let temp = TemporaryPassword::generate(&long, &context, NOW).unwrap();
    assert_eq!(temp.expose_secret().chars().count(), 40);
    assert_eq!(long.check(temp.password(), &context), Ok(()));
    let longest = PasswordPolicy::new(256, 256).unwrap();
    let temp = TemporaryPassword::generate(&longest, &context, NOW).unwrap();
    assert_eq!(temp.expose_secret().chars().count(), 256);
}

#[test]
fn temporary_password_lifetime() {
    let policy = PasswordPolicy::default();
    let context = PasswordContext::new();
    let mut rng = getrandom::SysRng;
    let one_hour =
        TemporaryPassword::generate_with_rng(&mut rng, &policy, &context, NOW, 3600).unwrap();
    assert_eq!(one_hour.expires_at(), NOW + 3600);
    for ttl in [0, TemporaryPassword::MAX_TTL + 1] {
        assert_eq!(
            TemporaryPassword::generate_with_rng(&mut rng, &policy, &context, NOW, ttl)
                .unwrap_err(),
            PasswordError::Ttl
        );
    }
    assert_eq!(
        TemporaryPassword::generate_with_rng(&mut rng, &policy, &context, u64::MAX, 60)
            .unwrap_err(),
        PasswordError::Ttl
    );
}

#[test]
fn temporary_password_sign_in_only_allows_choosing_a_new_one() {
    let hasher = fast();
    let policy = PasswordPolicy::with_mfa();
    let context = PasswordContext::new().user_name("newhire");
    let temp = TemporaryPassword::generate(&policy, &context, NOW).unwrap();
    let credential = temp.hash(&hasher).unwrap();
    assert_eq!(
        credential.expires_at(),
        NOW + TemporaryPassword::DEFAULT_TTL
    );
    assert!(!format!("{credential:?}").contains(credential.hash()));

    // Stored and reloaded by the host.
    let credential = authcore::credential::password::TemporaryCredential::new(
        credential.hash().to_owned(),
        credential.expires_at(),
    );
    let typed = pw(temp.expose_secret());
    assert!(credential.verify(&hasher, &typed, NOW).is_ok());
    assert!(
        credential
            .verify(&hasher, &typed, NOW + 72 * 3600 - 1)
            .is_ok()
    );
    assert_eq!(
        credential.verify(&hasher, &typed, NOW + 72 * 3600),
        Err(VerifyError::Expired)
    );
    assert_eq!(
        credential.verify(&hasher, &pw("not the temporary password"), NOW),
        Err(VerifyError::Rejected)
    );
    // Expired and wrong: still the opaque rejection.
    assert_eq!(
        credential.verify(
            &hasher,
            &pw("not the temporary password"),
            NOW + 10 * 72 * 3600
        ),
        Err(VerifyError::Rejected)
    );

    // The temporary hash is not a long-term password hash.
    assert_eq!(
        hasher.verify(&typed, credential.hash()),
        Err(VerifyError::UnusableHash(PasswordError::WrongHashKind))
    );
    // And a long-term hash is not a temporary credential.
    let long_term = hasher.hash(&typed).unwrap();
    let mislabelled =
        authcore::credential::password::TemporaryCredential::new(long_term.into_string(), NOW + 60);
    assert_eq!(
        mislabelled.verify(&hasher, &typed, NOW),
        Err(VerifyError::UnusableHash(PasswordError::WrongHashKind))
    );

    // The new password must meet the policy and differ from the temporary one.
    assert_eq!(
        credential.check_new_password(&hasher, &policy, &context, &typed),
        Err(NewPasswordError::Policy(PolicyViolation::SameAsTemporary))
    );
    assert_eq!(
        credential.check_new_password(&hasher, &policy, &context, &pw("short")),
        Err(NewPasswordError::Policy(PolicyViolation::TooShort {
            min: 8,
            length: 5
        }))
    );
    assert_eq!(
        credential.check_new_password(&hasher, &policy, &context, &pw("newhire rocks")),
        Err(NewPasswordError::Policy(
            PolicyViolation::ContainsContextWord(ContextKind::UserName)
        ))
    );
    assert_eq!(
        credential.check_new_password(&hasher, &policy, &context, &pw("my own long secret")),
        Ok(())
    );
    // Differing only in case is a different password.
    let upper = pw(&temp.expose_secret().to_uppercase());
    assert_eq!(
        credential.check_new_password(&hasher, &policy, &context, &upper),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

fn tiny() -> PasswordHasher {
    PasswordHasher::builder()
        .params(HashParams::dangerous_weak(8, 1, 1).unwrap())
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// A hashed password verifies, and any other string does not.
    #[test]
    fn hashed_password_verifies_and_nothing_else_does(
        password in "\\PC{0,40}",
        other in "\\PC{0,40}",
    ) {
        let hasher = tiny();
        let stored = hasher.hash(&pw(&password)).unwrap();
        prop_assert_eq!(
            hasher.verify(&pw(&password), stored.as_str()),
            Ok(PasswordVerified::Current)
        );
        let same_after_nfc = pw(&password).expose_secret() == pw(&other).expose_secret();
        prop_assume!(!same_after_nfc);
        prop_assert_eq!(
            hasher.verify(&pw(&other), stored.as_str()),
            Err(VerifyError::Rejected)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Stored hashes come from storage, which may be corrupt: verification never panics.
    #[test]
    fn verify_never_panics_on_arbitrary_stored_hashes(
        stored in prop_oneof![
            "\\PC{0,120}",
            "\\$argon2(id|i|d)\\$(v=(16|19|\\d{1,3})\\$)?(m=\\d{1,6},t=\\d{1,2},p=\\d{1,2}(,keyid=[A-Za-z0-9+/]{0,12})?(,data=[A-Za-z0-9+/]{0,12})?\\$)?[A-Za-z0-9+/]{0,30}(\\$[A-Za-z0-9+/]{0,90})?",
        ],
    ) {
        let hasher = PasswordHasher::builder()
            .params(HashParams::dangerous_weak(8, 1, 1).unwrap())
            .max_stored_cost(256, 4, 4)
            .build()
            .unwrap();
        let result = hasher.verify(&pw("pass phrase"), &stored);
        prop_assert!(result.is_err() || stored.starts_with("$argon2"));
    }
}

// ---------------------------------------------------------------------------------------------
// Boundaries of the hasher (written from its mutation-testing run)

/// An argon2id hash made with the `argon2` crate, with any lanes and output length.
fn foreign_argon2id(m: u32, t: u32, p: u32, output_len: usize, password: &str) -> String {
    use argon2::PasswordHasher as _;
    let params = argon2::Params::new(m, t, p, Some(output_len)).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), &[7; 16])
        .unwrap()
        .to_string()
}

#[test]
fn hash_params_read_back_what_they_were_built_with() {
    let params = HashParams::dangerous_weak(96, 3, 2).unwrap();
    assert_eq!(params.memory_kib(), 96);
    assert_eq!(params.iterations(), 3);
    assert_eq!(params.lanes(), 2);
    let owasp = HashParams::new(47_104, 1, 1).unwrap();
    assert_eq!(
        (owasp.memory_kib(), owasp.iterations(), owasp.lanes()),
        (47_104, 1, 1)
    );
    // The hasher reads back the parameters it was built with, not the default.
    assert_eq!(fast().params(), fast_params());
    assert_eq!(fast().params().memory_kib(), 64);
}

#[test]
fn needs_rehash_is_true_exactly_for_a_rehash() {
    assert!(PasswordVerified::NeedsRehash(RehashReason::Parameters).needs_rehash());
    assert!(PasswordVerified::NeedsRehash(RehashReason::Pepper).needs_rehash());
    assert!(!PasswordVerified::Current.needs_rehash());
}

#[test]
fn verify_error_texts_and_sources() {
    use std::error::Error as _;
    assert_eq!(VerifyError::Rejected.to_string(), "verification failed");
    assert_eq!(
        VerifyError::Expired.to_string(),
        "the temporary password has expired"
    );
    let unusable = VerifyError::UnusableHash(PasswordError::Hashing);
    assert_eq!(
        unusable.to_string(),
        "the stored password hash is unusable: argon2 failed to run"
    );
    assert_eq!(
        unusable.source().map(|s| s.to_string()),
        Some("argon2 failed to run".to_string())
    );
    assert!(VerifyError::Rejected.source().is_none());
    assert!(VerifyError::Expired.source().is_none());
}

#[test]
fn each_ceiling_below_the_parameters_is_refused_alone() {
    let build = |params: HashParams, m: u32, t: u32, p: u32| {
        PasswordHasher::builder()
            .params(params)
            .max_stored_cost(m, t, p)
            .build()
            .map(|_| ())
    };
    let params = HashParams::dangerous_weak(64, 2, 2).unwrap();
    assert_eq!(build(params, 64, 2, 2), Ok(()));
    assert_eq!(
        build(params, 63, 2, 2),
        Err(PasswordError::CeilingBelowParams)
    );
    assert_eq!(
        build(params, 64, 1, 2),
        Err(PasswordError::CeilingBelowParams)
    );
    assert_eq!(
        build(params, 64, 2, 1),
        Err(PasswordError::CeilingBelowParams)
    );
}

#[test]
fn stored_hashes_at_the_ceiling_verify_and_one_past_it_do_not() {
    let hasher = PasswordHasher::builder()
        .params(fast_params())
        .max_stored_cost(128, 2, 2)
        .build()
        .unwrap();
    let password = pw("pass phrase");
    let at_ceiling = foreign_argon2id(128, 2, 2, 32, "pass phrase");
    assert_eq!(
        hasher.verify(&password, &at_ceiling),
        Ok(PasswordVerified::Current)
    );
    for (m, t, p) in [(136, 1, 1), (64, 3, 1), (64, 1, 3)] {
        let above = foreign_argon2id(m, t, p, 32, "pass phrase");
        assert_eq!(
            hasher.verify(&password, &above),
            Err(VerifyError::UnusableHash(PasswordError::CostAboveCeiling)),
            "m={m} t={t} p={p}"
        );
    }
}

#[test]
fn a_stored_hash_without_its_output_is_malformed_before_its_cost_is_read() {
    // A salt but no output, with a cost above any ceiling: malformed, whatever else it says.
    assert_eq!(
        fast().verify(
            &pw("pass phrase"),
            "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzYWx0"
        ),
        Err(VerifyError::UnusableHash(PasswordError::MalformedHash))
    );
}

#[test]
fn a_stored_output_shorter_than_32_bytes_wants_a_rehash_and_a_longer_one_does_not() {
    let hasher = fast();
    let password = pw("pass phrase");
    assert_eq!(
        hasher.verify(&password, &foreign_argon2id(64, 1, 1, 31, "pass phrase")),
        Ok(PasswordVerified::NeedsRehash(RehashReason::Parameters))
    );
    assert_eq!(
        hasher.verify(&password, &foreign_argon2id(64, 1, 1, 32, "pass phrase")),
        Ok(PasswordVerified::Current)
    );
    assert_eq!(
        hasher.verify(&password, &foreign_argon2id(64, 1, 1, 64, "pass phrase")),
        Ok(PasswordVerified::Current)
    );
}

#[test]
fn the_hasher_debug_shows_its_settings_and_pepper_ids_only() {
    let hasher = PasswordHasher::builder()
        .params(fast_params())
        .current_pepper(pepper(b"k1", 0xab))
        .build()
        .unwrap();
    assert_eq!(
        format!("{hasher:?}"),
        "PasswordHasher { params: HashParams { m_kib: 64, t: 1, p: 1 }, \
         max_stored_cost: HashParams { m_kib: 262144, t: 16, p: 16 }, \
         peppers: [PepperId(\"k1\")], current_pepper: Some(PepperId(\"k1\")), .. }"
    );
}

#[test]
fn temporary_password_lifetimes_at_their_bounds() {
    assert_eq!(TemporaryPassword::DEFAULT_TTL, 259_200);
    assert_eq!(TemporaryPassword::MAX_TTL, 2_592_000);
    let policy = PasswordPolicy::default();
    let context = PasswordContext::new();
    let mut rng = getrandom::SysRng;
    for ttl in [1, 2_592_000] {
        let temp =
            TemporaryPassword::generate_with_rng(&mut rng, &policy, &context, NOW, ttl).unwrap();
        assert_eq!(temp.expires_at(), NOW + ttl);
    }
    assert_eq!(
        TemporaryPassword::generate_with_rng(&mut rng, &policy, &context, NOW, 2_592_001)
            .unwrap_err(),
        PasswordError::Ttl
    );
    // The last second that can be added to `now` without overflow.
    assert!(
        TemporaryPassword::generate_with_rng(&mut rng, &policy, &context, u64::MAX - 60, 60)
            .is_ok()
    );
}

#[test]
fn a_temporary_credential_expires_at_its_last_second() {
    use authcore::credential::password::TemporaryCredential;
    let credential = TemporaryCredential::new("$argon2id$stored".to_owned(), NOW);
    assert_eq!(credential.hash(), "$argon2id$stored");
    assert_eq!(credential.expires_at(), NOW);
    assert!(!credential.is_expired(NOW - 1));
    assert!(credential.is_expired(NOW));
    assert!(credential.is_expired(NOW + 1));
    assert_eq!(
        format!("{credential:?}"),
        format!("TemporaryCredential {{ hash: \"[REDACTED]\", expires_at: {NOW} }}")
    );
}

#[test]
fn a_temporary_password_debug_shows_only_its_expiry() {
    let temp =
        TemporaryPassword::generate(&PasswordPolicy::default(), &PasswordContext::new(), NOW)
            .unwrap();
    assert_eq!(
        format!("{temp:?}"),
        format!(
            "TemporaryPassword {{ password: Password([REDACTED]), expires_at: {} }}",
            NOW + TemporaryPassword::DEFAULT_TTL
        )
    );
    assert_eq!(temp.password().expose_secret(), temp.expose_secret());
}

#[test]
fn a_new_password_against_an_unusable_temporary_hash_is_an_operator_error() {
    use authcore::credential::password::TemporaryCredential;
    use std::error::Error as _;
    let credential = TemporaryCredential::new("not a hash".to_owned(), NOW + 60);
    let refused = credential
        .check_new_password(
            &fast(),
            &PasswordPolicy::with_mfa(),
            &PasswordContext::new(),
            &pw("my own long secret"),
        )
        .unwrap_err();
    assert_eq!(
        refused,
        NewPasswordError::UnusableHash(PasswordError::MalformedHash)
    );
    assert_eq!(
        refused.to_string(),
        "the temporary password hash is unusable: the stored hash is not a valid argon2 PHC string"
    );
    assert_eq!(
        refused.source().map(|s| s.to_string()),
        Some("the stored hash is not a valid argon2 PHC string".to_owned())
    );
    let policy = NewPasswordError::Policy(PolicyViolation::SameAsTemporary);
    assert_eq!(
        policy.to_string(),
        "the new password must differ from the temporary password"
    );
    assert_eq!(
        policy.source().map(|s| s.to_string()),
        Some("the new password must differ from the temporary password".to_owned())
    );
}

#[test]
fn password_error_texts() {
    let cases = [
        (
            PasswordError::WeakParams,
            "argon2 parameters below the OWASP/ASVS minimum \
             (t=1: m>=47104 KiB; t=2: m>=19456 KiB; t>=3: m>=12288 KiB)",
        ),
        (
            PasswordError::InvalidParams,
            "argon2 parameters out of range (t >= 1, 1 <= p < 2^24, m >= 8*p KiB)",
        ),
        (
            PasswordError::CeilingBelowParams,
            "the stored-hash cost ceiling is below the hashing parameters",
        ),
        (
            PasswordError::PepperLength,
            "a pepper must be 16 to 64 bytes long",
        ),
        (PasswordError::PepperId, "a pepper id must be 1 to 8 bytes"),
        (
            PasswordError::DuplicatePepper,
            "two peppers have the same id",
        ),
        (
            PasswordError::UnknownPepper,
            "no pepper is known under this id",
        ),
        (
            PasswordError::TooLong,
            "the password is longer than 256 code points",
        ),
        (
            PasswordError::MalformedHash,
            "the stored hash is not a valid argon2 PHC string",
        ),
        (
            PasswordError::UnsupportedAlgorithm,
            "the stored hash uses an unsupported algorithm or version",
        ),
        (
            PasswordError::CostAboveCeiling,
            "the stored hash's cost is above the configured ceiling",
        ),
        (
            PasswordError::WrongHashKind,
            "a temporary-password hash where a long-term one was expected, or the reverse",
        ),
        (PasswordError::Hashing, "argon2 failed to run"),
        (
            PasswordError::MinLength,
            "the minimum password length must be at least 8 and at most the maximum",
        ),
        (
            PasswordError::MaxLength,
            "the maximum password length must be between 64 and 256",
        ),
        (
            PasswordError::Ttl,
            "a temporary password must live between 1 and 2592000 seconds",
        ),
        (
            PasswordError::GenerationRejected,
            "the policy refused every generated temporary password",
        ),
        (PasswordError::Random, "the random number generator failed"),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text, "{error:?}");
    }
}

#[test]
fn a_context_debug_shows_its_words_and_whether_a_check_is_set() {
    let check = |_: &Password| Ok(());
    let context = PasswordContext::new()
        .user_name("jdoe42")
        .email("jane@example.com")
        .extra_check(&check);
    assert_eq!(
        format!("{context:?}"),
        "PasswordContext { words: [(UserName, \"jdoe42\"), (Email, \"jane@example.com\")], \
         extra_check: true }"
    );
    assert_eq!(
        format!("{:?}", PasswordContext::new()),
        "PasswordContext { words: [], extra_check: false }"
    );
}

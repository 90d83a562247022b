//! Recovery codes: generation, normalisation, redemption, the stored form, and known answers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use authcore::credential::{RecoveryCode, RecoveryCodeSet, RecoveryError, RecoveryParams};
use authcore::otp::Rejected;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// A deterministic generator for tests: SHA-256 in counter mode over a seed.
struct TestRng {
    seed: u64,
    counter: u64,
    buf: [u8; 32],
    used: usize,
}

impl TestRng {
    fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: 0,
            buf: [0; 32],
            used: 32,
        }
    }
}

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst {
            if self.used == 32 {
                let mut h = Sha256::new();
                h.update(self.seed.to_le_bytes());
                h.update(self.counter.to_le_bytes());
                self.buf = h.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.buf[self.used];
            self.used += 1;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

/// A generator that always fails.
struct BrokenRng;

impl rand_core::TryRng for BrokenRng {
    type Error = core::fmt::Error;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Err(core::fmt::Error)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Err(core::fmt::Error)
    }
    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
        Err(core::fmt::Error)
    }
}

impl rand_core::TryCryptoRng for BrokenRng {}

/// Cheap argon2id parameters: the algorithm is the same, only the cost differs.
fn cheap(count: u8) -> RecoveryParams {
    RecoveryParams::builder()
        .count(count)
        .dangerous_argon2(8, 1, 1)
        .build()
        .unwrap()
}

fn is_canonical(text: &str) -> bool {
    let alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    text.len() == 19
        && text.char_indices().all(|(i, c)| {
            if i % 5 == 4 {
                c == '-'
            } else {
                alphabet.contains(c)
            }
        })
}

#[test]
fn defaults() {
    let p = RecoveryParams::default();
    assert_eq!(p.count(), 10);
    assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19_456, 2, 1));
    assert!(p.meets_floor());
    assert_eq!(RecoveryParams::builder().build().unwrap(), p);
}

#[test]
fn parameter_validation() {
    let count = |n| RecoveryParams::builder().count(n).build();
    assert_eq!(count(0), Err(RecoveryError::Count));
    assert_eq!(count(17), Err(RecoveryError::Count));
    assert!(count(1).is_ok());
    assert!(count(16).is_ok());

    let kdf = |m, t, p| RecoveryParams::builder().argon2(m, t, p).build();
    assert_eq!(kdf(19_455, 2, 1), Err(RecoveryError::WeakKdf));
    assert_eq!(kdf(47_103, 1, 1), Err(RecoveryError::WeakKdf));
    assert!(kdf(47_104, 1, 1).is_ok());
    assert!(kdf(12_288, 3, 1).is_ok());
    assert_eq!(kdf(1 << 21, 2, 1), Err(RecoveryError::KdfParams));
    assert_eq!(kdf(19_456, 17, 1), Err(RecoveryError::KdfParams));
    assert_eq!(kdf(19_456, 2, 0), Err(RecoveryError::KdfParams));

    let weak = RecoveryParams::builder()
        .dangerous_argon2(8, 1, 1)
        .build()
        .unwrap();
    assert!(!weak.meets_floor());
    // Even the dangerous constructor keeps argon2's own minimum (m >= 8 p).
    assert_eq!(
        RecoveryParams::builder().dangerous_argon2(8, 1, 2).build(),
        Err(RecoveryError::KdfParams)
    );
    // A later `argon2` call re-arms the floor.
    assert_eq!(
        RecoveryParams::builder()
            .dangerous_argon2(8, 1, 1)
            .argon2(8, 1, 1)
            .build(),
        Err(RecoveryError::WeakKdf)
    );
}

#[test]
fn single_code_set() {
    let new = RecoveryCodeSet::generate_with_rng(&cheap(1), &mut TestRng::new(1)).unwrap();
    assert_eq!(new.codes.len(), 1);
    let mut set = new.set;
    assert_eq!((set.len(), set.remaining()), (1, 1));
    assert!(set.is_low());
    let code = new.codes.as_slice()[0].expose_secret();
    assert!(is_canonical(code), "{code}");
    let slot = set.redeem(code).unwrap();
    assert_eq!(slot.index(), 0);
    assert_eq!(slot.spent_bit(), 1);
    assert_eq!(slot.remaining_after(), 0);
    assert!(slot.is_low_after());
    assert_eq!(set.mark_spent(slot.index()), Ok(true));
    assert_eq!(set.remaining(), 0);
    assert_eq!(set.redeem(code), Err(Rejected));
    assert_eq!(set.mark_spent(0), Ok(false));
    assert_eq!(set.mark_spent(1), Err(RecoveryError::Slot));
}

#[test]
fn a_spent_code_is_told_apart_from_a_wrong_one_for_the_audit() {
    use authcore::otp::Refusal;
    let new = RecoveryCodeSet::generate_with_rng(&cheap(2), &mut TestRng::new(9)).unwrap();
    let mut set = new.set;
    let code = new.codes.as_slice()[0].expose_secret();
    let slot = set.redeem_detailed(code).unwrap();
    assert!(set.mark_spent(slot.index()).unwrap());
    // The spent slot's code is a replay; the person still sees the one opaque answer.
    assert_eq!(set.redeem_detailed(code), Err(Refusal::Replayed));
    assert_eq!(set.redeem(code), Err(Rejected));
    // A code of no slot, or a malformed one, is invalid.
    assert_eq!(
        set.redeem_detailed("04HM-ASW9-NF6Y-Y094"),
        Err(Refusal::Invalid)
    );
    assert_eq!(set.redeem_detailed("not a code"), Err(Refusal::Invalid));
    // The unspent code still opens its slot.
    let other = new.codes.as_slice()[1].expose_secret();
    assert_eq!(set.redeem_detailed(other).map(|s| s.index()), Ok(1));
}

#[test]
fn ten_codes_low_water() {
    let new = RecoveryCodeSet::generate_with_rng(&cheap(10), &mut TestRng::new(2)).unwrap();
    let mut set = new.set;
    for (i, code) in new.codes.iter().enumerate() {
        let slot = set.redeem(code.expose_secret()).unwrap();
        assert_eq!(usize::from(slot.index()), i);
        assert_eq!(slot.remaining_after(), 9 - i as u8);
        assert_eq!(slot.is_low_after(), 9 - i <= 2);
        assert_eq!(set.is_low(), 10 - i <= 2);
        assert!(set.mark_spent(slot.index()).unwrap());
        assert!(set.is_spent(slot.index()));
    }
    assert_eq!(set.spent_mask(), 0x03ff);
    assert_eq!(set.remaining(), 0);
    for code in &new.codes {
        assert_eq!(set.redeem(code.expose_secret()), Err(Rejected));
    }
}

#[test]
fn lenient_input_redeems_the_same_slot() {
    let new = RecoveryCodeSet::generate_with_rng(&cheap(3), &mut TestRng::new(3)).unwrap();
    let code = new.codes.as_slice()[2].expose_secret();
    let variants = [
        code.to_string(),
        code.to_lowercase(),
        code.replace('-', ""),
        code.replace('-', " "),
        format!("  {}  ", code.replace('0', "O").replace('1', "l")),
    ];
    for v in &variants {
        assert_eq!(new.set.redeem(v).map(|s| s.index()), Ok(2), "{v:?}");
    }
    for bad in ["", "not a code", &code[..18], &format!("{code}0")] {
        assert_eq!(new.set.redeem(bad), Err(Rejected), "{bad:?}");
    }
}

#[test]
fn a_dummy_redemption_rejects_everything() {
    let params = cheap(3);
    let new = RecoveryCodeSet::generate_with_rng(&params, &mut TestRng::new(5)).unwrap();
    let real = new.codes.as_slice()[0].expose_secret();
    for input in [real, "0000-0000-0000-0000", "", "not a code"] {
        assert_eq!(params.redeem_dummy(input), Err(Rejected), "{input:?}");
    }
    // That it costs what a wrong code costs is measured side by side by the `recovery_redeem`
    // bench group (`dummy` beside `wrong`), not timed here.
}

#[test]
fn regeneration_replaces_the_set() {
    let mut rng = TestRng::new(4);
    let old = RecoveryCodeSet::generate_with_rng(&cheap(4), &mut rng).unwrap();
    let new = RecoveryCodeSet::generate_with_rng(&cheap(4), &mut rng).unwrap();
    assert_ne!(old.set.set_id(), new.set.set_id());
    for code in &old.codes {
        assert_eq!(new.set.redeem(code.expose_secret()), Err(Rejected));
    }
    for code in &new.codes {
        assert!(new.set.redeem(code.expose_secret()).is_ok());
    }
}

#[test]
fn spent_mask_merges_and_never_unspends() {
    let new = RecoveryCodeSet::generate_with_rng(&cheap(5), &mut TestRng::new(5)).unwrap();
    let mut set = new.set;
    set.merge_spent_mask(0b00101).unwrap();
    assert_eq!(set.remaining(), 3);
    set.merge_spent_mask(0).unwrap();
    assert_eq!(set.spent_mask(), 0b00101);
    assert_eq!(set.merge_spent_mask(0b100000), Err(RecoveryError::Slot));
    assert_eq!(set.spent_mask(), 0b00101);
    assert!(set.redeem(new.codes.as_slice()[0].expose_secret()).is_err());
    assert!(set.redeem(new.codes.as_slice()[1].expose_secret()).is_ok());
}

#[test]
fn rng_failure_is_reported() {
    assert_eq!(
        RecoveryCodeSet::generate_with_rng(&cheap(2), &mut BrokenRng).unwrap_err(),
        RecoveryError::Random
    );
}

#[test]
fn stored_form_round_trips() {
    let new = RecoveryCodeSet::generate_with_rng(&cheap(16), &mut TestRng::new(6)).unwrap();
    let mut set = new.set;
    set.mark_spent(3).unwrap();
    let bytes = set.to_stored_bytes();
    assert_eq!(bytes.len(), 36 + 32 * 16);
    let back = RecoveryCodeSet::from_stored_bytes(&bytes).unwrap();
    assert_eq!(back, set);
    assert_eq!(back.params(), cheap(16));
    assert!(!back.params().meets_floor());
    assert!(
        back.redeem(new.codes.as_slice()[3].expose_secret())
            .is_err()
    );
    assert_eq!(
        back.redeem(new.codes.as_slice()[15].expose_secret())
            .map(|s| s.index()),
        Ok(15)
    );
    // No plaintext code appears in the stored bytes, in any written form.
    for code in &new.codes {
        let text = code.expose_secret();
        for form in [text.to_string(), text.replace('-', "")] {
            assert!(!bytes.windows(form.len()).any(|w| w == form.as_bytes()));
        }
    }
}

#[test]
fn stored_form_rejects_damage() {
    let set = RecoveryCodeSet::generate_with_rng(&cheap(2), &mut TestRng::new(7))
        .unwrap()
        .set;
    let good = set.to_stored_bytes();
    let fmt = Err(RecoveryError::StoredFormat);
    for len in 0..good.len() {
        assert!(RecoveryCodeSet::from_stored_bytes(&good[..len]).is_err());
    }
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(RecoveryCodeSet::from_stored_bytes(&longer), fmt);

    let patched = |at: usize, value: u8| {
        let mut b = good.clone();
        b[at] = value;
        RecoveryCodeSet::from_stored_bytes(&b)
    };
    assert_eq!(patched(0, b'X'), fmt);
    assert_eq!(patched(4, 2), Err(RecoveryError::StoredVersion));
    // m_cost high byte: 0x01000008 KiB is above the bound.
    assert_eq!(patched(5, 1), Err(RecoveryError::KdfParams));
    // t_cost = 0.
    assert_eq!(patched(12, 0), Err(RecoveryError::KdfParams));
    // count = 0, and count = 17.
    assert_eq!(patched(33, 0), fmt);
    assert_eq!(patched(33, 17), fmt);
    // count = 1 with two digests present.
    assert_eq!(patched(33, 1), fmt);
    // A spent bit outside the set.
    assert_eq!(patched(35, 0b100), fmt);
}

/// Known answer: a stored set assembled by hand, with digests computed by an independent argon2id
/// implementation (OpenSSL 3.2+ through Python's `cryptography`):
/// `Argon2id(salt=bytes(range(16)), length=32, iterations=t, lanes=p, memory_cost=m)
///  .derive(b"authcore recovery code v1\0" + bytes.fromhex("0123456789abcdef0123"))`.
#[test]
fn known_answer() {
    fn stored(m: u32, t: u32, p: u32, digests: &[[u8; 32]], spent: u16) -> Vec<u8> {
        let mut b = b"ACRC\x01".to_vec();
        b.extend_from_slice(&m.to_be_bytes());
        b.extend_from_slice(&t.to_be_bytes());
        b.extend_from_slice(&p.to_be_bytes());
        b.extend((0u8..16).collect::<Vec<_>>());
        b.push(digests.len() as u8);
        b.extend_from_slice(&spent.to_be_bytes());
        for d in digests {
            b.extend_from_slice(d);
        }
        b
    }
    fn hex(s: &str) -> [u8; 32] {
        let mut out = [0; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
    // 0x0123456789abcdef0123 in Crockford base32.
    let code = "04HM-ASW9-NF6Y-Y093";
    let other = [0x55; 32];

    let d1 = hex("dcf791008857beaa95911c16b3fd3e74f3772f166c542603d9f97e78aeea30da");
    let set = RecoveryCodeSet::from_stored_bytes(&stored(64, 2, 1, &[other, d1], 0)).unwrap();
    assert_eq!(set.redeem(code).map(|s| s.index()), Ok(1));
    assert_eq!(set.redeem("04HM-ASW9-NF6Y-Y094"), Err(Rejected));
    let spent = RecoveryCodeSet::from_stored_bytes(&stored(64, 2, 1, &[other, d1], 0b10)).unwrap();
    assert_eq!(spent.redeem(code), Err(Rejected));

    let d2 = hex("49db34b9b66da04cbb4f0b78809ed4a85e1aba94c5f0216f629fac84e11cdfbd");
    let set = RecoveryCodeSet::from_stored_bytes(&stored(32, 3, 2, &[d2], 0)).unwrap();
    assert_eq!(set.redeem("04hm asw9 nf6y y093").map(|s| s.index()), Ok(0));
    // The same digest under other parameters does not match.
    let wrong = RecoveryCodeSet::from_stored_bytes(&stored(64, 2, 1, &[d2], 0)).unwrap();
    assert_eq!(wrong.redeem(code), Err(Rejected));
}

#[cfg(feature = "std")]
#[test]
fn default_parameters_with_the_os_rng() {
    let params = RecoveryParams::builder().count(1).build().unwrap();
    let new = RecoveryCodeSet::generate(&params).unwrap();
    let code = new.codes.as_slice()[0].expose_secret();
    assert!(is_canonical(code));
    assert_eq!(new.set.redeem(code).map(|s| s.index()), Ok(0));
    assert!(new.set.params().meets_floor());
}

#[test]
fn secrets_are_redacted() {
    let new = RecoveryCodeSet::generate_with_rng(&cheap(3), &mut TestRng::new(8)).unwrap();
    let shown = format!("{new:?} {:?} {:?}", new.codes, new.set);
    assert!(shown.contains("REDACTED"));
    for code in &new.codes {
        let text = code.expose_secret();
        assert!(!shown.contains(text));
        assert!(!shown.contains(&text.replace('-', "")));
    }
}

/// Strings shaped like recovery codes: alphabet symbols, confusables, separators, noise.
fn code_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9A-Za-z \\-]{0,24}",
        "[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}",
        "[0-9a-zOoIiLl\u{2013}\u{a0} -]{14,22}",
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn normalisation_is_idempotent(input in code_like()) {
        if let Ok(code) = RecoveryCode::normalize(&input) {
            let text = code.expose_secret();
            prop_assert!(is_canonical(text), "{text}");
            let again = RecoveryCode::normalize(text).unwrap();
            prop_assert_eq!(again.expose_secret(), text);
            let lower = RecoveryCode::normalize(&text.to_lowercase()).unwrap();
            prop_assert_eq!(lower.expose_secret(), text);
        }
    }

    #[test]
    fn normalisation_never_panics(input in ".*") {
        let _ = RecoveryCode::normalize(&input);
    }

    #[test]
    fn decoding_stored_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(set) = RecoveryCodeSet::from_stored_bytes(&bytes) {
            prop_assert_eq!(set.to_stored_bytes(), bytes);
        }
    }

    /// Damaged copies of a valid stored set either decode to something that re-encodes to the
    /// same bytes, or give a typed error.
    #[test]
    fn decoding_damaged_sets_is_total(
        count in 1u8..=16,
        patches in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = RecoveryCodeSet::generate_with_rng(&cheap(count), &mut TestRng::new(9))
            .unwrap()
            .set
            .to_stored_bytes();
        for (at, value) in &patches {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        match RecoveryCodeSet::from_stored_bytes(&bytes) {
            Ok(set) => prop_assert_eq!(set.to_stored_bytes(), bytes),
            Err(e) => prop_assert!(
                matches!(
                    e,
                    RecoveryError::StoredFormat
                        | RecoveryError::StoredVersion
                        | RecoveryError::KdfParams
                ),
                "{e:?}"
            ),
        }
    }
}

proptest! {
    // Each case runs about 2 × count cheap argon2id evaluations.
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every generated code redeems exactly once, into its own slot; nothing else ever redeems.
    #[test]
    fn every_code_redeems_exactly_once(
        seed in any::<u64>(),
        count in 1u8..=16,
        order_seed in any::<u64>(),
        strangers in proptest::collection::vec(
            "[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}",
            1..4,
        ),
    ) {
        let new = RecoveryCodeSet::generate_with_rng(&cheap(count), &mut TestRng::new(seed)).unwrap();
        let codes: Vec<String> = new.codes.iter().map(|c| c.expose_secret().to_string()).collect();
        let mut set = new.set;
        for stranger in &strangers {
            if !codes.contains(stranger) {
                prop_assert_eq!(set.redeem(stranger), Err(Rejected));
            }
        }
        // Redeem in a shuffled order, storing and reloading the set between attempts.
        let mut order: Vec<usize> = (0..codes.len()).collect();
        let mut s = order_seed;
        for i in (1..order.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        for (done, &i) in order.iter().enumerate() {
            let slot = set.redeem(&codes[i]).unwrap();
            prop_assert_eq!(usize::from(slot.index()), i);
            prop_assert_eq!(usize::from(slot.remaining_after()), codes.len() - done - 1);
            prop_assert!(set.mark_spent(slot.index()).unwrap());
            set = RecoveryCodeSet::from_stored_bytes(&set.to_stored_bytes()).unwrap();
            prop_assert_eq!(set.redeem(&codes[i]), Err(Rejected));
        }
        for code in &codes {
            prop_assert_eq!(set.redeem(code), Err(Rejected));
        }
        prop_assert_eq!(set.remaining(), 0);
    }
}

#[test]
fn each_cost_bound_is_inclusive_and_one_past_it_is_refused() {
    let kdf = |m, t, p| RecoveryParams::builder().argon2(m, t, p).build();
    assert_eq!(RecoveryParams::MAX_M_COST, 1 << 20);
    assert_eq!(RecoveryParams::MAX_T_COST, 16);
    assert_eq!(RecoveryParams::MAX_P_COST, 16);
    assert!(kdf(1 << 20, 2, 1).is_ok());
    assert_eq!(kdf((1 << 20) + 1, 2, 1), Err(RecoveryError::KdfParams));
    assert!(kdf(19_456, 16, 1).is_ok());
    assert_eq!(kdf(19_456, 17, 1), Err(RecoveryError::KdfParams));
    assert_eq!(kdf(19_456, 0, 1), Err(RecoveryError::KdfParams));
    let p16 = kdf(19_456, 2, 16).unwrap();
    assert_eq!((p16.m_cost(), p16.t_cost(), p16.p_cost()), (19_456, 2, 16));
    assert_eq!(kdf(19_456, 2, 17), Err(RecoveryError::KdfParams));
    let p = kdf(12_288, 3, 2).unwrap();
    assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (12_288, 3, 2));
    assert!(p.meets_floor());
}

#[test]
fn input_is_read_up_to_64_bytes_and_not_one_more() {
    let code = "04HM-ASW9-NF6Y-Y093";
    let padded = |total: usize| format!("{code}{}", " ".repeat(total - code.len()));
    let at_limit = RecoveryCode::normalize(&padded(64)).unwrap();
    assert_eq!(at_limit.expose_secret(), code);
    assert_eq!(RecoveryCode::normalize(&padded(65)).unwrap_err(), Rejected);
    // Seventeen symbols are one too many, also before the end of the input.
    assert!(RecoveryCode::normalize("04HM-ASW9-NF6Y-Y0930").is_err());
    assert!(RecoveryCode::normalize("04HM-ASW9-NF6Y-Y0930-").is_err());
}

#[test]
fn a_malformed_input_never_opens_the_all_zero_code() {
    // A generator of zero bytes: the salt and the one code are all zeros, the code a malformed
    // input stands for in the one derivation every attempt costs.
    struct Zeros;
    impl rand_core::TryRng for Zeros {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(0);
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Zeros {}
    use authcore::otp::Refusal;
    let new = RecoveryCodeSet::generate_with_rng(&cheap(1), &mut Zeros).unwrap();
    assert_eq!(
        new.codes.as_slice()[0].expose_secret(),
        "0000-0000-0000-0000"
    );
    for malformed in [
        "",
        "not a code",
        "0000-0000-0000-000",
        "0000-0000-0000-000U",
    ] {
        assert_eq!(
            new.set.redeem_detailed(malformed),
            Err(Refusal::Invalid),
            "{malformed:?}"
        );
    }
    let mut set = new.set;
    assert_eq!(set.redeem("0000 0000 0000 0000").map(|s| s.index()), Ok(0));
    set.mark_spent(0).unwrap();
    assert_eq!(set.redeem_detailed("not a code"), Err(Refusal::Invalid));
    assert_eq!(
        set.redeem_detailed("0000-0000-0000-0000"),
        Err(Refusal::Replayed)
    );
}

#[test]
fn slots_report_their_own_bit_and_unspent_slots_read_unspent() {
    let new = RecoveryCodeSet::generate_with_rng(&cheap(16), &mut TestRng::new(11)).unwrap();
    assert_eq!(new.codes.len(), 16);
    assert!(!new.codes.is_empty());
    assert_eq!((&new.codes).into_iter().count(), 16);
    assert_eq!(new.codes.iter().count(), 16);
    let mut set = new.set;
    assert!(!set.is_empty());
    assert_eq!(set.len(), 16);
    for i in 0..=16u8 {
        assert!(!set.is_spent(i), "slot {i} of a fresh set");
    }
    assert!(!set.is_spent(200));
    let slot = set.redeem(new.codes.as_slice()[3].expose_secret()).unwrap();
    assert_eq!(slot.index(), 3);
    assert_eq!(slot.spent_bit(), 1 << 3);
    assert_eq!(slot.remaining_after(), 15);
    assert!(!slot.is_low_after());
    assert!(set.mark_spent(3).unwrap());
    assert!(set.is_spent(3));
    assert!(!set.is_spent(2) && !set.is_spent(4));
    assert_eq!(set.spent_mask(), 1 << 3);
    let last = set
        .redeem(new.codes.as_slice()[15].expose_secret())
        .unwrap();
    assert_eq!(last.spent_bit(), 1 << 15);
    assert!(set.mark_spent(15).unwrap());
    assert!(set.is_spent(15));
    assert!(!set.is_spent(16), "past the last slot of a full set");
    assert_eq!(set.mark_spent(16), Err(RecoveryError::Slot));
    // A stored full set reads back whole.
    let back = RecoveryCodeSet::from_stored_bytes(&set.to_stored_bytes()).unwrap();
    assert_eq!(back.spent_mask(), (1 << 3) | (1 << 15));
    assert_eq!(back.remaining(), 14);
}

#[test]
fn debug_shows_counts_and_parameters_only() {
    let new = RecoveryCodeSet::generate_with_rng(&cheap(3), &mut TestRng::new(12)).unwrap();
    assert_eq!(format!("{:?}", new.codes), "RecoveryCodes([REDACTED; 3])");
    let mut set = new.set;
    set.mark_spent(1).unwrap();
    assert_eq!(
        format!("{set:?}"),
        "RecoveryCodeSet { len: 3, remaining: 2, m_cost: 8, t_cost: 1, p_cost: 1, .. }"
    );
    assert_eq!(
        format!("{:?}", new.codes.as_slice()[0]),
        "RecoveryCode([REDACTED])"
    );
}

#[test]
fn errors_say_what_was_refused() {
    let texts = [
        (
            RecoveryError::Count,
            "a recovery-code set holds 1 to 16 codes",
        ),
        (
            RecoveryError::WeakKdf,
            "argon2id parameters below the floor (t=1: m>=47104, t=2: m>=19456, t>=3: m>=12288 KiB)",
        ),
        (RecoveryError::KdfParams, "argon2id parameters out of range"),
        (
            RecoveryError::Kdf,
            "the argon2id evaluation failed (out of memory)",
        ),
        (RecoveryError::Slot, "the slot index is outside the set"),
        (
            RecoveryError::StoredFormat,
            "the stored bytes are not a recovery-code set",
        ),
        (
            RecoveryError::StoredVersion,
            "unknown recovery-code set format version",
        ),
        (RecoveryError::Random, "the random number generator failed"),
    ];
    for (error, text) in texts {
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn a_stored_set_of_no_codes_or_of_seventeen_is_refused_whole() {
    let good = RecoveryCodeSet::generate_with_rng(&cheap(1), &mut TestRng::new(13))
        .unwrap()
        .set
        .to_stored_bytes();
    let header = &good[..36];
    // Count 0 and no digests at all: nothing is left over to give it away but the count.
    let mut empty = header.to_vec();
    empty[33] = 0;
    assert_eq!(
        RecoveryCodeSet::from_stored_bytes(&empty),
        Err(RecoveryError::StoredFormat)
    );
    // Count 17 with seventeen digests.
    let mut seventeen = header.to_vec();
    seventeen[33] = 17;
    seventeen.extend(std::iter::repeat_n(0x5a, 17 * 32));
    assert_eq!(
        RecoveryCodeSet::from_stored_bytes(&seventeen),
        Err(RecoveryError::StoredFormat)
    );
    // Count 16 with sixteen digests loads.
    let mut sixteen = header.to_vec();
    sixteen[33] = 16;
    sixteen.extend(std::iter::repeat_n(0x5a, 16 * 32));
    assert_eq!(
        RecoveryCodeSet::from_stored_bytes(&sixteen).unwrap().len(),
        16
    );
}

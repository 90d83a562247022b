//! Out-of-band codes: issuing, expiry, attempts, single use, cooldown, hourly cap, stored form.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::VecDeque;

use authcore::credential::{
    OobChallenge, OobConfig, OobError, OobIssue, OobKey, OobOutcome, OobSendLog, OobStatus,
    SendDecision, SendRefusal,
};
use authcore::otp::{Digits, Rejected};
use proptest::prelude::*;

/// A generator that returns scripted 32-bit draws, then a counter; bytes come from a counter.
struct ScriptRng {
    draws: VecDeque<u32>,
    next: u32,
}

impl ScriptRng {
    fn new(draws: &[u32]) -> Self {
        Self {
            draws: draws.iter().copied().collect(),
            next: 7,
        }
    }
}

impl rand_core::TryRng for ScriptRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.draws.pop_front().unwrap_or_else(|| {
            self.next = self
                .next
                .wrapping_mul(747_796_405)
                .wrapping_add(2_891_336_453);
            self.next
        }))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from(self.try_next_u32()?))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            self.next = self
                .next
                .wrapping_mul(747_796_405)
                .wrapping_add(2_891_336_453);
            *b = (self.next >> 24) as u8;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for ScriptRng {}

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

const T0: u64 = 1_700_000_000;

fn key() -> OobKey {
    OobKey::from_bytes(&[0x42; 32]).unwrap()
}

/// Issues a code with a scripted first draw; returns the code text and the challenge.
fn issue(config: &OobConfig, draw: u32, now: u64) -> (String, OobChallenge) {
    match config
        .issue(
            &key(),
            &OobSendLog::new(),
            now,
            &mut ScriptRng::new(&[draw]),
        )
        .unwrap()
    {
        OobIssue::Send {
            code, challenge, ..
        } => (code.expose_secret().to_string(), challenge),
        refused => panic!("refused: {refused:?}"),
    }
}

#[test]
fn config_bounds() {
    let c = OobConfig::default();
    assert_eq!(c.digits(), Digits::Six);
    assert_eq!(c.ttl(), 300);
    assert_eq!(c.max_attempts(), 5);
    assert_eq!(c.resend_cooldown(), 60);
    assert_eq!(c.hourly_cap(), 5);
    assert_eq!(OobConfig::builder().build().unwrap(), c);

    assert_eq!(OobConfig::builder().ttl(601).build(), Err(OobError::Ttl));
    assert!(OobConfig::builder().ttl(600).build().is_ok());
    assert!(OobConfig::builder().ttl(0).build().is_err());
    assert!(OobConfig::builder().digits(5).build().is_err());
    assert!(OobConfig::builder().digits(9).build().is_err());
    assert_eq!(
        OobConfig::builder().digits(8).build().unwrap().digits(),
        Digits::Eight
    );
    assert_eq!(
        OobConfig::builder().max_attempts(0).build(),
        Err(OobError::Attempts)
    );
    assert!(OobConfig::builder().max_attempts(11).build().is_err());
    assert!(OobConfig::builder().resend_cooldown(3601).build().is_err());
    assert!(OobConfig::builder().resend_cooldown(0).build().is_ok());
    assert_eq!(
        OobConfig::builder().hourly_cap(0).build(),
        Err(OobError::HourlyCap)
    );
    assert!(OobConfig::builder().hourly_cap(11).build().is_err());
}

#[test]
fn key_bounds_and_redaction() {
    assert_eq!(
        OobKey::from_bytes(&[1; 31]).unwrap_err(),
        OobError::KeyLength
    );
    assert!(OobKey::from_bytes(&[1; 129]).is_err());
    assert!(OobKey::from_bytes(&[1; 128]).is_ok());
    let k = OobKey::generate_with_rng(&mut ScriptRng::new(&[])).unwrap();
    assert_eq!(k.expose_secret().len(), 32);
    assert_eq!(format!("{k:?}"), "OobKey([REDACTED])");
}

#[test]
fn codes_are_uniform_by_rejection() {
    let config = OobConfig::default();
    // 4_294_000_000 is the largest multiple of 10^6 below 2^32: draws at or above it are
    // rejected rather than reduced (which would favour codes below 967_296).
    let rejected = [u32::MAX, 4_294_000_000, 4_294_967_295];
    let mut script = rejected.to_vec();
    script.push(4_293_999_999);
    let issued = config
        .issue(&key(), &OobSendLog::new(), T0, &mut ScriptRng::new(&script))
        .unwrap();
    let OobIssue::Send { code, .. } = issued else {
        panic!("refused")
    };
    assert_eq!(code.expose_secret(), "999999");
    assert_eq!(format!("{code:?}"), "OobCode([REDACTED])");

    let (text, _) = issue(&config, 42, T0);
    assert_eq!(text, "000042");
    let eight = OobConfig::builder().digits(8).build().unwrap();
    // 2^32 - 2^32 mod 10^8 = 4_200_000_000.
    let issued = eight
        .issue(
            &key(),
            &OobSendLog::new(),
            T0,
            &mut ScriptRng::new(&[4_200_000_000, 4_199_999_999]),
        )
        .unwrap();
    let OobIssue::Send { code, .. } = issued else {
        panic!("refused")
    };
    assert_eq!(code.expose_secret(), "99999999");
}

#[test]
fn a_stuck_or_broken_rng_is_an_error() {
    let config = OobConfig::default();
    let stuck = [u32::MAX; 64];
    assert_eq!(
        config
            .issue(&key(), &OobSendLog::new(), T0, &mut ScriptRng::new(&stuck))
            .unwrap_err(),
        OobError::Random
    );
    assert_eq!(
        config
            .issue(&key(), &OobSendLog::new(), T0, &mut BrokenRng)
            .unwrap_err(),
        OobError::Random
    );
}

#[test]
fn accepted_once() {
    let config = OobConfig::default();
    let (code, challenge) = issue(&config, 123_456, T0);
    assert_eq!(code, "123456");
    assert_eq!(challenge.status(), OobStatus::Pending);
    assert_eq!(challenge.expires_at(), T0 + 300);

    let v = challenge.verify(&key(), "123 456", T0 + 10);
    assert_eq!(v.result(), Ok(()));
    assert_eq!(v.outcome(), OobOutcome::Accepted);
    assert!(v.must_persist());
    let spent = v.into_challenge();
    assert_eq!(spent.status(), OobStatus::Spent);

    let again = spent.verify(&key(), "123456", T0 + 11);
    assert_eq!(again.result(), Err(Rejected));
    assert_eq!(again.outcome(), OobOutcome::AlreadySpent);
    assert!(!again.must_persist());
    assert_eq!(again.challenge(), &spent);
}

#[test]
fn expiry() {
    let config = OobConfig::builder().ttl(120).build().unwrap();
    let (code, challenge) = issue(&config, 555_000, T0);
    assert_eq!(
        challenge.verify(&key(), &code, T0 + 119).outcome(),
        OobOutcome::Accepted
    );
    // A clock slightly behind the issuing server still accepts.
    assert_eq!(
        challenge.verify(&key(), &code, T0 - 5).outcome(),
        OobOutcome::Accepted
    );
    let late = challenge.verify(&key(), &code, T0 + 120);
    assert_eq!(late.result(), Err(Rejected));
    assert_eq!(late.outcome(), OobOutcome::Expired);
    assert_eq!(late.challenge().status(), OobStatus::Void);
    assert_eq!(
        late.challenge().verify(&key(), &code, T0 + 1).outcome(),
        OobOutcome::AlreadyVoid
    );
}

#[test]
fn attempts_then_void() {
    let config = OobConfig::default();
    let (code, mut challenge) = issue(&config, 314_159, T0);
    for left in (1..5).rev() {
        let v = challenge.verify(&key(), "000000", T0 + 1);
        assert_eq!(v.result(), Err(Rejected));
        assert_eq!(
            v.outcome(),
            OobOutcome::Wrong {
                attempts_left: left
            }
        );
        assert!(v.must_persist());
        challenge = v.into_challenge();
        assert_eq!(challenge.attempts_left(), left);
    }
    // A malformed code uses an attempt too.
    let last = challenge.verify(&key(), "31415", T0 + 2);
    assert_eq!(last.outcome(), OobOutcome::WrongAndVoided);
    let void = last.into_challenge();
    assert_eq!(void.status(), OobStatus::Void);
    let after = void.verify(&key(), &code, T0 + 3);
    assert_eq!(after.result(), Err(Rejected));
    assert_eq!(after.outcome(), OobOutcome::AlreadyVoid);
}

#[test]
fn wrong_key_or_digits_count_rejects() {
    let config = OobConfig::builder().digits(8).build().unwrap();
    let (code, challenge) = issue(&config, 12_345_678, T0);
    let other = OobKey::from_bytes(&[0x43; 32]).unwrap();
    assert_eq!(
        challenge.verify(&other, &code, T0).outcome(),
        OobOutcome::Wrong { attempts_left: 4 }
    );
    assert_eq!(
        challenge.verify(&key(), &code[..6], T0).result(),
        Err(Rejected)
    );
    assert_eq!(challenge.verify(&key(), &code, T0).result(), Ok(()));
}

#[test]
fn cooldown_and_hourly_cap() {
    let config = OobConfig::default();
    let key = key();
    let mut rng = ScriptRng::new(&[]);
    let mut log = OobSendLog::new();
    let mut send = |log: &OobSendLog, now: u64| config.issue(&key, log, now, &mut rng).unwrap();

    let OobIssue::Send { log: l, .. } = send(&log, T0) else {
        panic!("first send refused")
    };
    log = l;
    assert_eq!(log.sends(), [T0]);
    match send(&log, T0 + 59) {
        OobIssue::Refused { reason, retry_at } => {
            assert_eq!(reason, SendRefusal::Cooldown);
            assert_eq!(retry_at, T0 + 60);
        }
        other => panic!("{other:?}"),
    }
    for i in 1..5 {
        let OobIssue::Send { log: l, .. } = send(&log, T0 + 60 * i) else {
            panic!("send {i} refused")
        };
        log = l;
    }
    assert_eq!(log.sends().len(), 5);
    // Five sends in the hour: the sixth waits until the first leaves the hour.
    assert_eq!(
        config.check_send(&log, T0 + 600),
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: T0 + 3600
        }
    );
    assert_eq!(
        config.check_send(&log, T0 + 3599),
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: T0 + 3600
        }
    );
    assert_eq!(config.check_send(&log, T0 + 3600), SendDecision::Allowed);
    let OobIssue::Send { log: l, .. } = send(&log, T0 + 3600) else {
        panic!("refused after the hour")
    };
    // The expired send is dropped from the log.
    assert_eq!(
        l.sends(),
        [T0 + 60, T0 + 120, T0 + 180, T0 + 240, T0 + 3600]
    );
    assert_eq!(config.check_send(&l, T0 + 3660), SendDecision::Allowed);
}

#[test]
fn hourly_cap_slides() {
    let config = OobConfig::builder().resend_cooldown(0).build().unwrap();
    let mut log = OobSendLog::new();
    for t in [0, 10, 20, 30, 40] {
        assert_eq!(config.check_send(&log, T0 + t), SendDecision::Allowed);
        log = log.record(T0 + t);
    }
    assert_eq!(
        config.check_send(&log, T0 + 100),
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: T0 + 3600
        }
    );
    log = log.record(T0 + 3600);
    // The next slot opens when the send at T0 + 10 leaves the hour, not a whole hour later.
    assert_eq!(
        config.check_send(&log, T0 + 3605),
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: T0 + 3610
        }
    );
    assert_eq!(config.check_send(&log, T0 + 3610), SendDecision::Allowed);
    // Never more than the cap in any hour-long window.
    let mut log = OobSendLog::new();
    let mut sent = Vec::new();
    for t in (0..4 * 3600).step_by(7) {
        if config.check_send(&log, T0 + t) == SendDecision::Allowed {
            log = log.record(T0 + t);
            sent.push(t);
        }
    }
    for (i, &t) in sent.iter().enumerate() {
        let in_hour = sent[i..].iter().take_while(|&&u| u < t + 3600).count();
        assert!(in_hour <= 5, "{in_hour} sends in the hour from {t}");
    }
    assert_eq!(sent.len(), 20);
}

#[test]
fn send_log_storage() {
    let log = OobSendLog::from_sends(&[30, 10, 20]).unwrap();
    assert_eq!(log.sends(), [10, 20, 30]);
    assert_eq!(
        OobSendLog::from_sends(&[0; 11]).unwrap_err(),
        OobError::SendLog
    );
    // A full log keeps the newest times.
    let mut log = OobSendLog::new();
    for t in 0..15 {
        log = log.record(T0 + t);
    }
    assert_eq!(log.sends().len(), OobSendLog::CAPACITY);
    assert_eq!(log.sends()[0], T0 + 5);
    assert_eq!(*log.sends().last().unwrap(), T0 + 14);
}

#[test]
fn stored_form() {
    let config = OobConfig::default();
    let (code, challenge) = issue(&config, 271_828, T0);
    let bytes = challenge.to_stored_bytes();
    assert_eq!(bytes.len(), 72);
    assert!(!bytes.windows(6).any(|w| w == code.as_bytes()));
    let back = OobChallenge::from_stored_bytes(&bytes).unwrap();
    assert_eq!(back, challenge);
    assert_eq!(back.verify(&key(), &code, T0 + 1).result(), Ok(()));

    let fmt = Err(OobError::StoredFormat);
    for len in 0..bytes.len() {
        assert_eq!(OobChallenge::from_stored_bytes(&bytes[..len]), fmt);
    }
    let patched = |at: usize, value: u8| {
        let mut b = bytes;
        b[at] = value;
        OobChallenge::from_stored_bytes(&b)
    };
    assert_eq!(patched(0, b'X'), fmt);
    assert_eq!(patched(4, 9), fmt);
    // digits = 9.
    assert_eq!(patched(53, 9), fmt);
    // An expiry more than 10 minutes after issue.
    assert_eq!(patched(62, 0xff), fmt);
    // attempts = 11, status = 3.
    assert_eq!(patched(70, 11), fmt);
    assert_eq!(patched(71, 3), fmt);
    let debug = format!("{back:?}");
    assert!(!debug.contains(&code));
}

/// Known answer: a challenge assembled by hand with its MAC computed independently (Python's
/// `hmac`): `HMAC-SHA-256(key = bytes(range(32)),
///  b"authcore out-of-band code v1\0" + bytes(range(100, 116)) + bytes([digits]) + ascii8)`,
/// where `ascii8` is the code's ASCII digits zero-padded to 8 bytes.
#[test]
fn known_answer() {
    fn stored(digits: u8, mac: &str) -> Vec<u8> {
        let mut b = b"ACOB\x01".to_vec();
        b.extend(100u8..116);
        for i in 0..32 {
            b.push(u8::from_str_radix(&mac[2 * i..2 * i + 2], 16).unwrap());
        }
        b.push(digits);
        b.extend_from_slice(&T0.to_be_bytes());
        b.extend_from_slice(&(T0 + 300).to_be_bytes());
        b.push(5);
        b.push(0);
        b
    }
    let key = OobKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap();
    let six = OobChallenge::from_stored_bytes(&stored(
        6,
        "2007c850af99bb7a3c87348462fc1a1b68672ffdcca46b33c96f59125f80944a",
    ))
    .unwrap();
    assert_eq!(six.verify(&key, "123456", T0).result(), Ok(()));
    assert_eq!(six.verify(&key, "123457", T0).result(), Err(Rejected));
    let eight = OobChallenge::from_stored_bytes(&stored(
        8,
        "3d6fba23bc4fe88fda32ba92ead965645fd3c11a18cf36eb005e6bad0b356678",
    ))
    .unwrap();
    assert_eq!(eight.verify(&key, "0000-0042", T0).result(), Ok(()));
    assert_eq!(eight.verify(&key, "000042", T0).result(), Err(Rejected));
}

proptest! {
    #[test]
    fn decoding_challenges_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        if let Ok(c) = OobChallenge::from_stored_bytes(&bytes) {
            prop_assert_eq!(c.to_stored_bytes().to_vec(), bytes);
        }
    }

    /// Only the issued code is accepted, and only once.
    #[test]
    fn only_the_issued_code_is_accepted(draw in any::<u32>(), guess in "[0-9]{6}") {
        let config = OobConfig::default();
        let (code, challenge) = issue(&config, draw % 1_000_000, T0);
        let v = challenge.verify(&key(), &guess, T0 + 1);
        prop_assert_eq!(v.result().is_ok(), guess == code);
        let v = challenge.verify(&key(), &code, T0 + 1);
        prop_assert_eq!(v.result(), Ok(()));
        let spent = v.into_challenge();
        prop_assert_eq!(spent.verify(&key(), &code, T0 + 2).result(), Err(Rejected));
    }
}

#[test]
fn the_daily_verification_cap_is_validated_and_counted_per_window() {
    assert_eq!(OobConfig::default().daily_verification_cap(), 10);
    for bad in [0, OobConfig::MAX_DAILY_VERIFICATIONS + 1] {
        assert_eq!(
            OobConfig::builder()
                .daily_verification_cap(bad)
                .build()
                .unwrap_err(),
            OobError::DailyCap
        );
    }
    let config = OobConfig::builder()
        .resend_cooldown(0)
        .hourly_cap(10)
        .daily_verification_cap(2)
        .build()
        .unwrap();
    let day = 24 * 3600;
    let mut log = OobSendLog::new();
    for t in [T0, T0 + 10] {
        assert_eq!(
            config.check_verification_send(&log, t),
            SendDecision::Allowed
        );
        log = log.record_verification(t);
    }
    assert_eq!((log.day_start(), log.day_sends()), (T0, 2));
    assert_eq!(
        config.check_verification_send(&log, T0 + 20),
        SendDecision::Refused {
            reason: SendRefusal::DailyCap,
            retry_at: T0 + day
        }
    );
    // Sign-in sends from a log are not capped per day, and do not count towards the day.
    assert_eq!(config.check_send(&log, T0 + 20), SendDecision::Allowed);
    assert_eq!(log.record(T0 + 20).day_sends(), 2);
    // The log matters until its day window ends, then a new window starts.
    assert_eq!(log.expires_at(), Some(T0 + day));
    assert_eq!(
        config.check_verification_send(&log, T0 + day),
        SendDecision::Allowed
    );
    let next = log.record_verification(T0 + day);
    assert_eq!((next.day_start(), next.day_sends()), (T0 + day, 1));
    let stored = OobSendLog::from_parts(next.sends(), next.day_start(), next.day_sends()).unwrap();
    assert_eq!(stored, next);
}

#[test]
fn each_config_bound_is_inclusive() {
    let b = OobConfig::builder;
    let top = b()
        .ttl(OobConfig::MAX_TTL)
        .max_attempts(OobConfig::MAX_ATTEMPTS)
        .resend_cooldown(OobConfig::MAX_COOLDOWN)
        .hourly_cap(10)
        .daily_verification_cap(OobConfig::MAX_DAILY_VERIFICATIONS)
        .digits(7)
        .build()
        .unwrap();
    assert_eq!(
        (
            top.ttl(),
            top.max_attempts(),
            top.resend_cooldown(),
            top.hourly_cap(),
            top.daily_verification_cap(),
            top.digits()
        ),
        (600, 10, 3600, 10, 100, Digits::Seven)
    );
    let bottom = b()
        .ttl(1)
        .max_attempts(1)
        .resend_cooldown(0)
        .hourly_cap(1)
        .daily_verification_cap(1)
        .build()
        .unwrap();
    assert_eq!(
        (
            bottom.ttl(),
            bottom.max_attempts(),
            bottom.resend_cooldown(),
            bottom.hourly_cap(),
            bottom.daily_verification_cap()
        ),
        (1, 1, 0, 1, 1)
    );
    assert_eq!(b().max_attempts(11).build(), Err(OobError::Attempts));
    assert_eq!(b().resend_cooldown(3601).build(), Err(OobError::Cooldown));
    assert_eq!(b().hourly_cap(11).build(), Err(OobError::HourlyCap));
    assert!(matches!(b().digits(9).build(), Err(OobError::Otp(_))));
}

#[test]
fn a_challenge_reads_back_its_times_digits_and_every_status() {
    let config = OobConfig::builder()
        .digits(8)
        .ttl(OobConfig::MAX_TTL)
        .max_attempts(OobConfig::MAX_ATTEMPTS)
        .build()
        .unwrap();
    let issued = config
        .issue(
            &key(),
            &OobSendLog::new(),
            T0,
            &mut ScriptRng::new(&[12_345_678]),
        )
        .unwrap();
    let OobIssue::Send {
        code, challenge, ..
    } = issued
    else {
        panic!("refused")
    };
    assert_eq!(code.digits(), Digits::Eight);
    assert_eq!(challenge.digits(), Digits::Eight);
    assert_eq!(challenge.issued_at(), T0);
    assert_eq!(challenge.expires_at(), T0 + 600);
    assert_eq!(challenge.attempts_left(), 10);
    assert_eq!(
        format!("{challenge:?}"),
        "OobChallenge { digits: Eight, issued_at: 1700000000, expires_at: 1700000600, \
         attempts_left: 10, status: Pending, .. }"
    );
    // The longest lifetime and the most attempts load back.
    let back = OobChallenge::from_stored_bytes(&challenge.to_stored_bytes()).unwrap();
    assert_eq!(back, challenge);
    // So do a spent and a void challenge.
    let spent = challenge.verify(&key(), "12345678", T0).into_challenge();
    assert_eq!(spent.status(), OobStatus::Spent);
    assert_eq!(
        OobChallenge::from_stored_bytes(&spent.to_stored_bytes()).unwrap(),
        spent
    );
    let void = challenge
        .verify(&key(), "12345678", T0 + 600)
        .into_challenge();
    assert_eq!(void.status(), OobStatus::Void);
    assert_eq!(
        OobChallenge::from_stored_bytes(&void.to_stored_bytes()).unwrap(),
        void
    );
}

#[test]
fn stored_times_must_be_in_order_and_at_most_the_longest_lifetime_apart() {
    let (_, challenge) = issue(&OobConfig::default(), 1, T0);
    let with_times = |issued: u64, expires: u64| {
        let mut b = challenge.to_stored_bytes();
        b[54..62].copy_from_slice(&issued.to_be_bytes());
        b[62..70].copy_from_slice(&expires.to_be_bytes());
        OobChallenge::from_stored_bytes(&b)
    };
    let fmt = Err(OobError::StoredFormat);
    assert_eq!(with_times(T0, T0 - 1), fmt, "expiring before its issue");
    let at_once = with_times(T0, T0).unwrap();
    assert_eq!(at_once.expires_at(), T0);
    assert_eq!(
        at_once.verify(&key(), "000001", T0).outcome(),
        OobOutcome::Expired
    );
    assert!(with_times(T0, T0 + 600).is_ok());
    assert_eq!(with_times(T0, T0 + 601), fmt);
}

#[test]
fn a_valid_code_inside_a_longer_or_dirtier_input_is_refused() {
    let (code, challenge) = issue(&OobConfig::default(), 123_456, T0);
    assert_eq!(code, "123456");
    // Up to 32 bytes are read; separators included.
    let padded = format!("{code}{}", " ".repeat(26));
    assert_eq!(padded.len(), 32);
    assert_eq!(challenge.verify(&key(), &padded, T0).result(), Ok(()));
    let longer = format!("{code}{}", " ".repeat(27));
    for bad in [longer.as_str(), "123456x", "x123456", "123456\u{0}"] {
        assert_eq!(
            challenge.verify(&key(), bad, T0).outcome(),
            OobOutcome::Wrong { attempts_left: 4 },
            "{bad:?}"
        );
    }
}

#[test]
fn a_send_log_holds_up_to_its_capacity_and_matters_only_while_it_counts() {
    let times: Vec<u64> = (0..10).map(|i| T0 + 10 * i).collect();
    assert_eq!(OobSendLog::CAPACITY, 10);
    assert_eq!(OobSendLog::from_sends(&times).unwrap().sends(), times);
    assert_eq!(OobSendLog::new().expires_at(), None);
    assert_eq!(OobSendLog::default(), OobSendLog::new());
    // Sign-in sends only: an hour after the last.
    let signin = OobSendLog::new().record(T0).record(T0 + 100);
    assert_eq!(signin.expires_at(), Some(T0 + 100 + 3600));
    // A day window alone (its sends older than the hour were dropped): the window's end.
    let day = OobSendLog::from_parts(&[], T0, 3).unwrap();
    assert_eq!(day.expires_at(), Some(T0 + 24 * 3600));
    assert_eq!(day.sends_today(T0 + 24 * 3600 - 1), 3);
    assert_eq!(day.sends_today(T0 + 24 * 3600), 0);
    // Both: the later of the two.
    let late = OobSendLog::from_parts(&[T0 + 24 * 3600 - 60], T0, 3).unwrap();
    assert_eq!(late.expires_at(), Some(T0 + 24 * 3600 - 60 + 3600));
}

#[test]
fn errors_say_what_was_refused() {
    let otp = match OobConfig::builder().digits(5).build() {
        Err(OobError::Otp(e)) => e,
        other => panic!("{other:?}"),
    };
    let texts = [
        (
            OobError::Ttl,
            "a code's lifetime must be 1 to 600 seconds".to_string(),
        ),
        (
            OobError::Attempts,
            "the attempts per code must be 1 to 10".to_string(),
        ),
        (
            OobError::Cooldown,
            "the resend cooldown must be at most 3600 seconds".to_string(),
        ),
        (
            OobError::HourlyCap,
            "the hourly send cap must be 1 to 10".to_string(),
        ),
        (
            OobError::DailyCap,
            "the daily verification cap must be 1 to 100".to_string(),
        ),
        (
            OobError::KeyLength,
            "the MAC key must be 32 to 128 bytes".to_string(),
        ),
        (
            OobError::SendLog,
            "a send log holds at most 10 times".to_string(),
        ),
        (
            OobError::StoredFormat,
            "the stored bytes are not an out-of-band challenge".to_string(),
        ),
        (OobError::Otp(otp), otp.to_string()),
        (
            OobError::Random,
            "the random number generator failed".to_string(),
        ),
    ];
    for (error, text) in texts {
        assert_eq!(error.to_string(), text);
    }
    assert!(!otp.to_string().is_empty());
    use std::error::Error as _;
    assert_eq!(
        OobError::Otp(otp).source().map(|s| s.to_string()),
        Some(otp.to_string())
    );
    assert!(OobError::Ttl.source().is_none());
    assert_eq!(OobError::from(otp), OobError::Otp(otp));
}

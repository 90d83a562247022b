//! Out-of-band challenges and send budgets are read back from the database, which may be corrupt or
//! tampered with: decoding any bytes must give a value or a typed error, never a panic, and a
//! challenge that decodes must be exactly what its encoder writes (so no two stored forms stand
//! for one challenge).
#![no_main]

use authcore::credential::{OobChallenge, OobSendLog};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(challenge) = OobChallenge::from_stored_bytes(data) {
        assert_eq!(challenge.to_stored_bytes().as_slice(), data);
    }

    // A send budget as a SQL store keeps it: the day window in its own two columns (taken from
    // the first 12 bytes here), then big-endian send times, at most the capacity.
    let (day, rest) = data.split_at(data.len().min(12));
    let day_start = day
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes);
    let day_sends = day
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_be_bytes);
    let times: Vec<u64> = rest
        .chunks_exact(8)
        .map(|chunk| u64::from_be_bytes(chunk.try_into().unwrap_or_default()))
        .collect();
    match OobSendLog::from_parts(&times, day_start, day_sends) {
        Ok(log) => {
            assert!(times.len() <= OobSendLog::CAPACITY);
            assert_eq!(log.sends().len(), times.len());
            assert!(log.sends().is_sorted());
            assert_eq!((log.day_start(), log.day_sends()), (day_start, day_sends));
            // Re-encoded, it reads back unchanged; recording never panics on any stored value.
            let again = OobSendLog::from_parts(log.sends(), log.day_start(), log.day_sends());
            assert_eq!(again.ok(), Some(log));
            let now = log.sends().last().copied().unwrap_or(day_start);
            let _ = log.record_verification(now).expires_at();
            let _ = log.record(now.saturating_add(1)).expires_at();
        }
        Err(_) => assert!(times.len() > OobSendLog::CAPACITY),
    }
});

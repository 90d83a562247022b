//! Out-of-band challenges and send logs are read back from the database, which may be corrupt or
//! tampered with: decoding any bytes must give a value or a typed error, never a panic, and a
//! challenge that decodes must be exactly what its encoder writes (so no two stored forms stand
//! for one challenge).
#![no_main]

use authcore::{OobChallenge, OobSendLog};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(challenge) = OobChallenge::from_stored_bytes(data) {
        assert_eq!(challenge.to_stored_bytes().as_slice(), data);
    }

    // A send log as a SQL store keeps it: big-endian send times, at most the capacity.
    let times: Vec<u64> = data
        .chunks_exact(8)
        .map(|chunk| u64::from_be_bytes(chunk.try_into().unwrap_or_default()))
        .collect();
    match OobSendLog::from_sends(&times) {
        Ok(log) => {
            assert!(times.len() <= OobSendLog::CAPACITY);
            assert_eq!(log.sends().len(), times.len());
            assert!(log.sends().is_sorted());
        }
        Err(_) => assert!(times.len() > OobSendLog::CAPACITY),
    }
});

//! Algorithm names come from otpauth URIs, configuration and the command line: parsing any text
//! gives one of the three RFC 6238 hashes or a typed error, never a panic. Case and dashes are
//! ignored and nothing else is: the accepted inputs are exactly the spellings of `SHA1`, `SHA256`
//! and `SHA512`, and every algorithm's name parses back to itself.
#![no_main]

use authcore::otp::{Algorithm, OtpError, ParamError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = text.parse::<Algorithm>();
    let normal: String = text
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let expected = match normal.as_str() {
        "SHA1" => Some(Algorithm::Sha1),
        "SHA256" => Some(Algorithm::Sha256),
        "SHA512" => Some(Algorithm::Sha512),
        _ => None,
    };
    match (&parsed, expected) {
        (Ok(algorithm), Some(expected)) => {
            assert_eq!(*algorithm, expected);
            assert_eq!(algorithm.name().parse::<Algorithm>().ok(), Some(*algorithm));
            assert_eq!(algorithm.to_string(), algorithm.name());
            assert_eq!(normal, algorithm.name());
        }
        (Err(OtpError::Param(ParamError::UnsupportedAlgorithm)), None) => {}
        (other, expected) => panic!("{text:?} parsed to {other:?}, expected {expected:?}"),
    }
    // Parsing the upper-cased, dash-free form gives the same answer.
    assert_eq!(normal.parse::<Algorithm>().ok(), parsed.ok());
});

//! The one-time-password engine: `no_std`, allocation-light, and independent of every other
//! layer.
//!
//! This layer holds the RFC 4226 (HOTP) and RFC 6238 (TOTP) computations and what they are made
//! of: hash algorithms, keyed MACs, codes, secret keys, otpauth URIs and their QR rendering, and
//! the injected clock. It imports nothing from the rest of the crate; every layer above may import
//! it.
//!
//! | module | idea |
//! |---|---|
//! | `algorithm` | the HMAC hash functions an authenticator app understands |
//! | `mac` | keyed HMAC state, batched blocks and RFC 4226 dynamic truncation |
//! | `counter` | the code for a counter value, and scans over counter ranges |
//! | `code` | digits and presented codes, compared in constant time |
//! | `secret` | secret keys that wipe on drop and print redacted |
//! | `hotp` | counter-based codes with a look-ahead |
//! | `totp` | time-based codes with a window and a replay watermark |
//! | `uri` | the otpauth URI format |
//! | `qr` | QR rendering of otpauth URIs (feature `qr`) |
//! | `clock` | time as an injected capability |
//! | `error` | the engine's errors: [`Rejected`](error::Rejected), [`Refusal`](error::Refusal), and [`OtpError`](error::OtpError) with why a secret, parameter or URI was refused |

pub(crate) mod algorithm;
pub(crate) mod clock;
pub(crate) mod code;
pub(crate) mod counter;
pub(crate) mod error;
pub(crate) mod hotp;
pub(crate) mod mac;
#[cfg(feature = "qr")]
pub(crate) mod qr;
pub(crate) mod secret;
pub(crate) mod totp;
pub(crate) mod uri;

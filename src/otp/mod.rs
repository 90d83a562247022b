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
//! | `error` | the engine's errors: [`Rejected`], [`Refusal`], and [`OtpError`] with why a secret, parameter or URI was refused |
//!
//! # Example
//!
//! A key, its otpauth URI and a verification with the replay watermark (the key is drawn from
//! the operating system, so this needs feature `std`; the rest builds on `core` + `alloc`):
//!
//! ```
//! use authcore::otp::{Algorithm, OtpAuthUri, Rejected, SecretKey, Totp, TotpParams, Window};
//!
//! # fn main() -> Result<(), authcore::Error> {
//! // Enrollment: a fresh 160-bit key and the URI the authenticator app scans.
//! let key = SecretKey::generate(Algorithm::Sha1)?;
//! let params = TotpParams::default(); // SHA-1, 6 digits, 30 s: what every app understands
//! let uri = OtpAuthUri::totp(Some("Acme"), "alice@example.com", key, &params)?;
//! assert!(uri.expose_uri().starts_with("otpauth://totp/Acme:alice%40example.com?secret="));
//!
//! // Login: verify the code the person typed against the stored replay watermark.
//! let totp = Totp::new(params, uri.secret());
//! let now = 1_700_000_000; // unix seconds, from the host's `Clock`
//! let typed = totp.generate(now)?; // stands in for the authenticator app
//! let last_accepted = None; // no code accepted yet
//! match totp.verify(typed.expose_secret(), now, Window::default(), last_accepted) {
//!     Ok(accepted) => {
//!         // Store `accepted.step()` as the new watermark (atomically, only if higher), then let
//!         // the person in. The same code is refused from now on:
//!         let replay = totp.verify(typed.expose_secret(), now, Window::default(), Some(accepted.step()));
//!         assert!(replay.is_err());
//!     }
//!     Err(Rejected) => unreachable!("a freshly generated code verifies"),
//! }
//! # Ok(())
//! # }
//! ```

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

pub use algorithm::Algorithm;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use code::{Digits, OtpCode};
pub use error::{OtpError, ParamError, Refusal, Rejected, SecretError, UriError};
pub use hotp::{Hotp, HotpMatch, LookAhead};
#[cfg(feature = "qr")]
#[cfg_attr(docsrs, doc(cfg(feature = "qr")))]
pub use qr::TerminalStyle;
pub use secret::SecretKey;
pub use totp::{AcceptedStep, Totp, TotpParams, TotpParamsBuilder, Window};
pub use uri::{OtpAuthUri, OtpKind};

#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod algorithm;
mod audit;
mod clock;
mod code;
mod error;
mod hotp;
mod mac;
mod policy;
mod secret;
mod totp;

pub use algorithm::Algorithm;
pub use audit::{Actor, AuditEvent, AuditKind};
#[cfg(feature = "std")]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use code::{Digits, OtpCode};
pub use error::{Error, ParamError, Rejected, SecretError, UriError};
pub use hotp::{Hotp, HotpMatch, LookAhead};
pub use policy::*;
pub use secret::SecretKey;
pub use totp::{AcceptedStep, Totp, TotpParams, TotpParamsBuilder, Window};

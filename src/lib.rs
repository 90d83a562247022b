#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod algorithm;
mod clock;
mod code;
mod error;
mod hotp;
mod mac;
mod password;
mod secret;
mod totp;

pub use algorithm::Algorithm;
#[cfg(feature = "std")]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use code::{Digits, OtpCode};
pub use error::{Error, ParamError, Rejected, SecretError, UriError};
pub use hotp::{Hotp, HotpMatch, LookAhead};
pub use password::{
    ContextKind, HashParams, MustChangePassword, NewPasswordError, Password, PasswordCheck,
    PasswordContext, PasswordError, PasswordHash, PasswordHasher, PasswordHasherBuilder,
    PasswordPolicy, PasswordVerified, Pepper, PepperId, PolicyViolation, RehashReason,
    TemporaryCredential, TemporaryPassword, VerifyError,
};
pub use secret::SecretKey;
pub use totp::{AcceptedStep, Totp, TotpParams, TotpParamsBuilder, Window};

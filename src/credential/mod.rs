//! Credentials other than the one-time-password engine: passwords, recovery codes, out-of-band
//! codes, phone numbers, bearer tokens, sealing at rest and attempt throttling.
//!
//! Each module is one kind of credential or one protection around credentials. This layer may
//! import only [`otp`](crate::otp) below it; policy, the stores and the service build on it.
//!
//! The items of each module are re-exported here (`authcore::credential::RecoveryCodes`), except
//! the passwords', which have a module of their own (`authcore::credential::password`).
//!
//! | module | idea |
//! |---|---|
//! | `password` | password rules, argon2id hashing (with its wiped working memory), temporary passwords |
//! | `recovery` | single-use recovery codes, stored hashed |
//! | `oob` | out-of-band (SMS) codes, their challenges and send budgets |
//! | `phone` | phone numbers in E.164 form |
//! | `token` | bearer tokens and the digests that are stored in their place |
//! | `sealing` | sealing secrets at rest under host-held keys (feature `sealing`) |
//! | `throttle` | per-account attempt throttling and lockout |
//! | `factor` | the factor kinds that throttling and the service talk about |
//! | `passkey` | WebAuthn passkeys and security keys: the relying party and the ceremonies (feature `passkeys`) |

pub(crate) mod factor;
pub(crate) mod oob;
#[cfg(feature = "passkeys")]
pub mod passkey;
pub mod password;
pub(crate) mod phone;
pub(crate) mod recovery;
#[cfg(feature = "sealing")]
pub(crate) mod sealing;
pub(crate) mod throttle;
#[cfg(feature = "std")]
pub(crate) mod token;

pub use factor::{FactorKind, ThrottledFactor};
pub use oob::{
    OobChallenge, OobCode, OobConfig, OobConfigBuilder, OobError, OobIssue, OobKey, OobOutcome,
    OobSendLog, OobStatus, OobVerification, SendDecision, SendRefusal,
};
pub use phone::{PhoneError, PhoneNumber};
pub use recovery::{
    NewRecoveryCodes, RecoveryCode, RecoveryCodeSet, RecoveryCodes, RecoveryError, RecoveryParams,
    RecoveryParamsBuilder, RedeemedSlot,
};
#[cfg(feature = "sealing")]
#[cfg_attr(docsrs, doc(cfg(feature = "sealing")))]
pub use sealing::{
    KeyId, Keyring, KeyringBuilder, OpenError, SealContext, SealedSecret, SealingError, SealingKey,
};
pub use throttle::{
    AccountThrottle, MAX_CONSECUTIVE_FAILURES, ThrottleDecision, ThrottleError, ThrottleEvent,
    ThrottlePolicy, ThrottlePolicyBuilder, ThrottleReservation, ThrottleState, ThrottleUpdate,
};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use token::{BearerToken, TokenDigest, TokenError};

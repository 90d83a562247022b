#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod algorithm;
mod argon2_memory;
mod audit;
mod clock;
mod code;
#[cfg(feature = "test-util")]
pub mod conformance;
mod error;
mod factor;
mod hotp;
mod mac;
mod oob;
mod password;
mod phone;
mod policy;
#[cfg(feature = "qr")]
mod qr;
mod recovery;
#[cfg(feature = "sealing")]
mod sealing;
mod secret;
#[cfg(feature = "std")]
pub mod service;
#[cfg(feature = "std")]
mod store;
mod throttle;
#[cfg(feature = "std")]
mod token;
mod totp;
mod uri;

pub use algorithm::Algorithm;
pub use audit::{Actor, AuditEvent, AuditKind, NotificationKind};
#[cfg(feature = "std")]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use code::{Digits, OtpCode};
pub use error::{Error, ParamError, Refusal, Rejected, SecretError, UriError};
pub use factor::{FactorKind, ThrottledFactor};
pub use hotp::{Hotp, HotpMatch, LookAhead};
pub use oob::{OobChallenge, OobCode, OobConfig, OobConfigBuilder, OobError, OobIssue, OobKey};
pub use oob::{OobOutcome, OobSendLog, OobStatus, OobVerification, SendDecision, SendRefusal};
pub use password::{
    ContextKind, HashParams, MustChangePassword, NewPasswordError, Password, PasswordCheck,
    PasswordContext, PasswordError, PasswordHash, PasswordHasher, PasswordHasherBuilder,
    PasswordPolicy, PasswordVerified, Pepper, PepperId, PolicyViolation, RehashReason,
    TemporaryCredential, TemporaryPassword, VerifyError,
};
pub use phone::{PhoneError, PhoneNumber};
pub use policy::*;
#[cfg(feature = "qr")]
pub use qr::TerminalStyle;
pub use recovery::{NewRecoveryCodes, RecoveryCode, RecoveryCodeSet, RecoveryCodes};
pub use recovery::{RecoveryError, RecoveryParams, RecoveryParamsBuilder, RedeemedSlot};
#[cfg(feature = "sealing")]
pub use sealing::{
    KeyId, Keyring, KeyringBuilder, OpenError, SealContext, SealedSecret, SealingError, SealingKey,
};
pub use secret::SecretKey;
#[cfg(feature = "std")]
pub use service::{
    Authenticator, DeliveryStatus, EnrollmentSetup, HashJob, HashOutput, LoginStep, NewMember,
    PasswordHashing, ServiceConfig, ServiceConfigBuilder, ServiceError, Services, SignedUp,
};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
#[cfg(feature = "std")]
pub use store::{
    AuditSink, CreateOutcome, Login, Notification, Notifier, OobChallengeRecord, OobPurpose,
    OrganisationWrite, PendingStep, PersonRecord, PruneReport, RecoverySlot, SecretStore,
    SecurityNotice, SetupTokenRecord, ThrottleKey, ThrottleOp, TicketRecord, TokenDigest,
    UserStore, Versioned,
};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use store::{DatabaseError, SqlStoreError};
#[cfg(feature = "memory")]
pub use store::{Delivery, MemoryAuditLog, MemoryStore, MemoryStoreError, RecordingNotifier};
pub use throttle::{AccountThrottle, MAX_CONSECUTIVE_FAILURES, ThrottleDecision, ThrottleError};
pub use throttle::{ThrottleEvent, ThrottlePolicy, ThrottlePolicyBuilder, ThrottleState};
pub use throttle::{ThrottleReservation, ThrottleUpdate};
#[cfg(feature = "std")]
pub use token::BearerToken;
pub use totp::{AcceptedStep, Totp, TotpParams, TotpParamsBuilder, Window};
pub use uri::{OtpAuthUri, OtpKind};

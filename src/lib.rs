#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// The layers, bottom to top. Each module imports only from its own layer and the layers below
// it (see each layer's module docs); `tests/layers.rs` checks the graph.
mod credential;
mod error;
mod otp;
mod policy;
#[cfg(feature = "std")]
pub mod service;
#[cfg(feature = "std")]
mod store;

/// The store conformance suite: every storage contract, races included, run against any
/// `UserStore + SecretStore`.
#[cfg(feature = "test-util")]
pub use store::conformance;

pub use credential::factor::{FactorKind, ThrottledFactor};
pub use credential::oob::{
    OobChallenge, OobCode, OobConfig, OobConfigBuilder, OobError, OobIssue, OobKey,
};
pub use credential::oob::{
    OobOutcome, OobSendLog, OobStatus, OobVerification, SendDecision, SendRefusal,
};
pub use credential::password::{
    ContextKind, HashParams, MustChangePassword, NewPasswordError, Password, PasswordCheck,
    PasswordContext, PasswordError, PasswordHash, PasswordHasher, PasswordHasherBuilder,
    PasswordPolicy, PasswordVerified, Pepper, PepperId, PolicyViolation, RehashReason,
    TemporaryCredential, TemporaryPassword, VerifyError,
};
pub use credential::phone::{PhoneError, PhoneNumber};
pub use credential::recovery::{NewRecoveryCodes, RecoveryCode, RecoveryCodeSet, RecoveryCodes};
pub use credential::recovery::{
    RecoveryError, RecoveryParams, RecoveryParamsBuilder, RedeemedSlot,
};
#[cfg(feature = "sealing")]
pub use credential::sealing::{
    KeyId, Keyring, KeyringBuilder, OpenError, SealContext, SealedSecret, SealingError, SealingKey,
};
pub use credential::throttle::{
    AccountThrottle, MAX_CONSECUTIVE_FAILURES, ThrottleDecision, ThrottleError,
};
pub use credential::throttle::{
    ThrottleEvent, ThrottlePolicy, ThrottlePolicyBuilder, ThrottleState,
};
pub use credential::throttle::{ThrottleReservation, ThrottleUpdate};
#[cfg(feature = "std")]
pub use credential::token::BearerToken;
pub use error::Error;
pub use otp::algorithm::Algorithm;
#[cfg(feature = "std")]
pub use otp::clock::SystemClock;
pub use otp::clock::{Clock, ManualClock};
pub use otp::code::{Digits, OtpCode};
pub use otp::error::{ParamError, Refusal, Rejected, SecretError, UriError};
pub use otp::hotp::{Hotp, HotpMatch, LookAhead};
#[cfg(feature = "qr")]
pub use otp::qr::TerminalStyle;
pub use otp::secret::SecretKey;
pub use otp::totp::{AcceptedStep, Totp, TotpParams, TotpParamsBuilder, Window};
pub use otp::uri::{OtpAuthUri, OtpKind};
pub use policy::audit::{Actor, AuditEvent, AuditKind, NotificationKind};
pub use policy::*;
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
pub use store::login::{
    CounterWrite, LoginCounters, LoginSnapshot, LoginStore, MfaWrite, NextTicket, OobWrite,
    SnapshotAt, StepWrite,
};
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

//! One person's authenticator apps: enrolling them, the replay watermark, removing them and
//! turning MFA off.
//!
//! | file | idea |
//! |---|---|
//! | `state` | the state ([`Mfa`], [`Enrollment`], [`AuthenticatorApp`]), its accessors and shared checks |
//! | `config` | the settings: [`EnrollmentConfig`] |
//! | `name` | authenticator names: [`AuthenticatorName`] |
//! | `start` | enrolling an authenticator: start, confirm the first code, cancel |
//! | `recovery_codes` | the last steps: recovery codes issued and acknowledged |
//! | `login_codes` | verifying login codes and raising the replay watermark |
//! | `turning_off` | removing authenticators and turning MFA off |
//! | `error` | [`MfaError`] |

mod config;
mod error;
mod login_codes;
mod name;
mod recovery_codes;
mod start;
mod state;
mod turning_off;

pub use crate::policy::phase::EnrollmentPhase;
pub use config::{EnrollmentConfig, EnrollmentConfigBuilder};
pub use error::MfaError;
pub use login_codes::LoginCodeAccepted;
pub use name::AuthenticatorName;
pub use recovery_codes::{AcknowledgeOutcome, IssueOutcome};
pub use start::{ConfirmOutcome, EnrollmentPurpose};
#[cfg(feature = "serde")]
pub(crate) use state::Step;
pub use state::{AuthenticatorApp, Enrollment, Mfa};
pub use turning_off::DisableOutcome;

//! The [`Authenticator`] service: a thin async layer that loads what it needs through the host's
//! [`UserStore`] and [`SecretStore`], asks the pure core to decide, persists the outcome with the
//! stores' atomic verbs, records [`AuditEvent`]s through the [`AuditSink`] and delivers codes,
//! setup links and security notices through the [`Notifier`].
//!
//! The top layer: it may import every layer below (`policy`, `credential`, `otp`, the crate-wide
//! [`Error`](crate::Error)) and, from the stores, the traits and records only, never an
//! implementation.
//!
//! | module | idea |
//! |---|---|
//! | `backend` | [`Backend`]: the store, clock, audit sink, notifier and hasher behind one type parameter; [`Services`], the ready-made one |
//! | `ready` | the ready backends of the bundled stores (`MemoryStore::backend`, …) |
//! | `error` | [`ServiceError`]: one uniform failure for credentials, precise developer errors |
//! | `status` | [`ErrorClass`]: what each error means to a client, in HTTP terms (the full table) |
//! | `hashing` | [`PasswordHashing`]: where argon2 runs (inline, or tokio's blocking pool) |
//! | `breach` | [`BreachedPasswords`]: the breach corpus new passwords are looked up in (k-anonymity), and the one check every new password goes through |
//! | `config` | [`ServiceConfig`]: issuer, lifetimes, throttle, recovery and SMS settings |
//! | `login` | the password step, pending-login tickets, second factors, enrollment at login |
//! | `find_org` | the login that finds the organisation: [`Authenticator::login`] without an org, [`Authenticator::choose_organisation`] |
//! | `steps` | what every login step shares: its snapshot, the counted attempt, the decision, the guarded commit |
//! | `factors` | the factor checks login and account share: TOTP, out-of-band codes, passwords |
//! | `enroll` | enrolling an authenticator app (signed in or at login) |
//! | `passkeys` | passkeys and security keys: registering, acknowledging, removing, the second-factor step (feature `passkeys`) |
//! | `passkey_enroll` | enrolling a passkey during a login the organisation's policy sends to enrolment |
//! | `passwordless` | passwordless sign-in with a discoverable passkey |
//! | `account` | a signed-in person's MFA, recovery codes and password |
//! | `sessions` | server-side sessions: [`Authenticator::authenticate`], labels, freshness, listing, revoking, "sign out everywhere" |
//! | `devices` | "remember this device": [`Authenticator::remember_device`], the login step [`Authenticator::verify_remembered_device`], the organisation's choice |
//! | `members` | sign-up, adding members, setup links, roles, delegation, organisation policy |
//! | `unlock` | an administrator clears a member's throttle counters |
//! | `admin` | an administrator resets a member's second factors |
//! | `leaving` | a member leaves an organisation: removed, or by their own choice |
//!
//! The service is runtime-agnostic: it spawns nothing and needs no particular executor (the
//! `BlockingPoolHasher` of feature `tokio` hands argon2 to tokio's blocking pool when it runs on
//! tokio).
//!
//! ## What a login step asks of the store
//!
//! Each step reads what it decides on once ([`LoginStore::login_snapshot`], or inside
//! [`LoginStore::locked_step`]), computes the login decision once, and commits its outcome once.
//! On the SQL stores (statements not counting `BEGIN` and `COMMIT`; tested per step and store by
//! `tests/login_budgets.rs`):
//!
//! | step | statements | commits |
//! |---|---|---|
//! | app or SMS code, right | 3: the read, the watermark or challenge, the ticket | 1 |
//! | app code, wrong | 2: the read, the counted failure (the ticket stays) | 1 |
//! | app code, right after a failure | 4: the failure's counter is cleared too | 1 |
//! | password | 4: the read, the attempt counted before argon2, the settled count, the next ticket | 2 |
//! | password without the organisation ([`Authenticator::login`]), one organisation | 6: as the password, and after argon2 the person's organisations and each of them (one more per organisation) | 2 |
//! | recovery code | 5: as the password, and the spent slot | 2 |
//! | a remembered device in place of the second factor | 3: the device token's read, then as an app code without the watermark | 1 |
//! | confirming an enrollment | the reads, then one transaction | 1 |
//!
//! A step that completes the login then creates its session: one statement more, which commits
//! alone, guarded by the security epoch the password step read (a login started before a
//! password reset or "sign out everywhere" ends without a session:
//! [`SessionRefused::StaleEpoch`](crate::policy::SessionRefused::StaleEpoch)).
//!
//! The steps that hash (argon2) count their attempt in a commit of its own before hashing, and
//! hold no lock while they hash.
//!
//! ## When the notifier fails
//!
//! A message is sent only after the change it reports is committed, so a failed delivery never
//! undoes or loses that change: a committed change returns its outcome. Every failed delivery is
//! audited as [`AuditKind::NotificationFailed`], and:
//!
//! - a security notice (new authenticator, MFA off, phone removed, recovery code used or running
//!   low, password changed, lock) is not retried by the service: the verb still returns its
//!   result (a spent recovery code still yields its grant), and the audit event lets the host
//!   tell the person another way;
//! - a setup link failure is reported in the result ([`NewMember::setup_link`] is
//!   [`DeliveryStatus::Failed`]) together with the temporary password, and
//!   [`Authenticator::resend_setup_link`] issues a new link;
//! - an out-of-band code that did not go out is an error ([`ServiceError::Undelivered`]): the
//!   code was the outcome. The send counts against the budget, and the person may ask again
//!   after the cooldown.
//!
//! [`LoginStore::login_snapshot`]: crate::store::login::LoginStore::login_snapshot
//! [`LoginStore::locked_step`]: crate::store::login::LoginStore::locked_step

use alloc::vec::Vec;

use crate::credential::factor::{FactorKind, ThrottledFactor};
use crate::credential::throttle::{ThrottleDecision, ThrottleEvent};
use crate::otp::clock::Clock;
use crate::policy::audit::{Actor, AuditEvent, AuditKind, NotificationKind};
use crate::policy::factors::Factor;
use crate::policy::ids::{OrgId, PersonId};
use crate::store::records::{PersonRecord, PruneReport, ThrottleKey, ThrottleOp};
use crate::store::{AuditSink, Notification, Notifier, SecretStore, SecurityNotice, UserStore};

pub(crate) mod account;
pub(crate) mod address;
pub(crate) mod admin;
pub(crate) mod backend;
pub(crate) mod breach;
pub(crate) mod config;
pub(crate) mod devices;
pub(crate) mod enroll;
pub(crate) mod error;
pub(crate) mod factors;
pub(crate) mod find_org;
pub(crate) mod hashing;
pub(crate) mod leaving;
pub(crate) mod lifecycle;
pub(crate) mod login;
pub(crate) mod members;
#[cfg(feature = "passkeys")]
pub(crate) mod passkey_enroll;
#[cfg(feature = "passkeys")]
pub(crate) mod passkeys;
pub(crate) mod password_reset;
#[cfg(feature = "passkeys")]
pub(crate) mod passwordless;
#[cfg(any(feature = "memory", feature = "sqlite", feature = "postgres"))]
pub(crate) mod ready;
pub(crate) mod sessions;
pub(crate) mod status;
pub(crate) mod steps;
pub(crate) mod unlock;

pub use backend::{Backend, DefaultHashing, Services};
pub use breach::{BreachSettings, BreachedPasswords, OnUnavailable, RangeFuture};
pub use config::{ServiceConfig, ServiceConfigBuilder};
pub use devices::RememberedDevice;
pub use enroll::EnrollmentSetup;
pub use error::ServiceError;
#[cfg(feature = "tokio")]
pub use hashing::BlockingPoolHasher;
pub use hashing::{HashJob, HashOutput, PasswordHashing};
pub use members::{NewMember, SignedUp};
#[cfg(feature = "passkeys")]
pub use passkey_enroll::LoginPasskeyEnrollment;
#[cfg(feature = "passkeys")]
pub use passkeys::{MAX_PASSKEYS, PASSKEY_CEREMONY_TTL, PasskeyInfo, PasskeyRegistration};
#[cfg(feature = "memory")]
pub use ready::MemoryBackend;
pub use sessions::OpenedSession;
pub use status::ErrorClass;
pub use steps::LoginStep;

/// Whether the [`Notifier`] delivered a message. A failure has already been audited
/// ([`AuditKind::NotificationFailed`]); the notifier's error is kept for the host's own logs.
#[derive(Debug)]
#[must_use]
pub enum DeliveryStatus {
    /// The notifier accepted the message.
    Delivered,
    /// The notifier failed.
    Failed(alloc::boxed::Box<dyn std::error::Error + Send + Sync>),
}

impl DeliveryStatus {
    /// Whether the notifier accepted the message.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered)
    }
}

/// How many times a compare-and-swap update is recomputed from a fresh read before giving up
/// with [`ServiceError::Conflict`].
const CAS_ATTEMPTS: usize = 8;

/// The authentication service a host application calls.
///
/// Every operation reads the current time from the clock once, loads what it needs, asks the
/// pure core to decide, writes through the stores' atomic verbs (recomputing from a fresh read
/// when a compare-and-swap loses), and records audit events. Share it between tasks with an
/// `Arc`: it holds no per-request state.
///
/// Failures a person can cause by guessing are the single [`ServiceError::InvalidCredentials`];
/// the audit trail says what actually happened.
///
/// Its one type parameter is the [`Backend`]: the store, clock, audit sink, notifier and password
/// hasher it drives. The bundled stores come with ready ones:
///
/// ```
/// # #[cfg(feature = "memory")] {
/// use authcore::{Authenticator, MemoryStore, ServiceConfig};
///
/// # fn main() -> Result<(), authcore::Error> {
/// let auth = Authenticator::new(MemoryStore::backend()?, ServiceConfig::builder("Example Co").build()?);
/// assert_eq!(auth.config().issuer(), "Example Co");
/// # Ok(()) }
/// # main().unwrap(); }
/// ```
#[derive(Debug)]
pub struct Authenticator<B> {
    backend: B,
    config: ServiceConfig,
}

impl<B: Backend> Authenticator<B> {
    /// Builds the service over the host's backend.
    pub fn new(backend: B, config: ServiceConfig) -> Self {
        Self { backend, config }
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The backend (for example to read a test store back).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Maintenance: deletes the tickets, setup tokens, out-of-band challenges and send logs that
    /// can no longer be used at the clock's time ([`SecretStore::prune_expired`]), the
    /// throttle counters that are forgotten ([`UserStore::prune_throttles`]: among them those of
    /// login names nobody holds), and the expired invitations
    /// ([`InvitationStore::prune_invitations`](crate::store::InvitationStore::prune_invitations)),
    /// and reports how many of each went.
    ///
    /// Call it from a periodic job (every few minutes to once an hour), on one server or on
    /// several: concurrent and repeated runs are harmless, and it never deletes a row that is
    /// still live. Nothing depends on it for correctness — expired rows are refused anyway —
    /// but without it they accumulate in the store.
    ///
    /// ```no_run
    /// # #[cfg(feature = "memory")] {
    /// # use std::sync::Arc;
    /// # use authcore::{Authenticator, MemoryStore, ServiceConfig};
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), authcore::Error> {
    /// # let config = ServiceConfig::builder("Example Co").build()?;
    /// # let service = Arc::new(Authenticator::new(MemoryStore::backend()?, config));
    /// let service = Arc::clone(&service);
    /// tokio::spawn(async move {
    ///     let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    ///     loop {
    ///         every.tick().await;
    ///         if let Err(e) = service.prune_expired().await {
    ///             eprintln!("pruning expired authentication rows failed: {e}");
    ///         }
    ///     }
    /// });
    /// # Ok(()) }
    /// # }
    /// ```
    pub async fn prune_expired(&self) -> Result<PruneReport, ServiceError> {
        let now = self.now();
        let mut report = self
            .backend
            .store()
            .prune_expired(now)
            .await
            .map_err(ServiceError::storage)?;
        report.throttles = self
            .backend
            .store()
            .prune_throttles(now)
            .await
            .map_err(ServiceError::storage)?;
        report.invitations =
            crate::store::InvitationStore::prune_invitations(self.backend.store(), now)
                .await
                .map_err(ServiceError::storage)?;
        Ok(report)
    }

    pub(crate) fn now(&self) -> u64 {
        self.backend.clock().now()
    }

    async fn record(&self, events: &[AuditEvent]) -> Result<(), ServiceError> {
        if events.is_empty() {
            return Ok(());
        }
        self.backend
            .audit()
            .record(events)
            .await
            .map_err(ServiceError::storage)
    }

    async fn record_one(
        &self,
        now: u64,
        actor: Actor,
        subject: Option<PersonId>,
        org: Option<OrgId>,
        what: AuditKind,
    ) -> Result<(), ServiceError> {
        self.record(&[AuditEvent::new(now, actor, subject, org, what)])
            .await
    }

    /// Delivers a message after the change it reports is committed. A failure is audited (at the
    /// clock's time of the failure) and returned as [`DeliveryStatus::Failed`], never as an
    /// error: only the audit sink's own failure is.
    async fn notify(&self, message: Notification<'_>) -> Result<DeliveryStatus, ServiceError> {
        let (person, org, kind) = match &message {
            Notification::OobCode { person, .. } => (*person, None, NotificationKind::OobCode),
            Notification::SetupLink { person, org, .. } => {
                (*person, Some(*org), NotificationKind::SetupLink)
            }
            Notification::Security { person, .. } => {
                (*person, None, NotificationKind::SecurityNotice)
            }
            Notification::Invitation { person, org, .. } => {
                (*person, Some(*org), NotificationKind::Invitation)
            }
            Notification::MfaReminder { person, org, .. } => {
                (*person, Some(*org), NotificationKind::MfaReminder)
            }
            Notification::PasswordReset { person, .. } => {
                (*person, None, NotificationKind::PasswordReset)
            }
            Notification::AddressVerification { person, .. } => {
                (*person, None, NotificationKind::AddressVerification)
            }
            Notification::AddressChanged { person, .. } => {
                (*person, None, NotificationKind::AddressChanged)
            }
        };
        match self.backend.notifier().deliver(message).await {
            Ok(()) => Ok(DeliveryStatus::Delivered),
            Err(error) => {
                let now = self.now();
                let what = AuditKind::NotificationFailed { message: kind };
                self.record_one(now, Actor::System, Some(person), org, what)
                    .await?;
                Ok(DeliveryStatus::Failed(alloc::boxed::Box::new(error)))
            }
        }
    }

    /// Sends a security notice; a failed delivery is audited and does not fail the verb.
    async fn notice(&self, person: PersonId, notice: SecurityNotice) -> Result<(), ServiceError> {
        let _ = self
            .notify(Notification::Security { person, notice })
            .await?;
        Ok(())
    }

    /// Reserves an attempt at the counter `key` before the guess is verified
    /// ([`UserStore::reserve_attempt`]): a throttled counter is [`ServiceError::Throttled`] and a
    /// locked one [`ServiceError::Locked`], without verifying anything. An allowed attempt is
    /// already counted as a failure; settle it with [`Self::accept_attempt`] or
    /// [`Self::reject_attempt`].
    async fn reserve_attempt(
        &self,
        key: ThrottleKey,
        factor: Factor,
        now: u64,
    ) -> Result<Reserved, ServiceError> {
        let reservation = self
            .backend
            .store()
            .reserve_attempt(&key, &self.config.throttle, now)
            .await
            .map_err(ServiceError::storage)?;
        match reservation.decision() {
            ThrottleDecision::Allowed => Ok(Reserved {
                key,
                factor,
                event: reservation.event(),
            }),
            ThrottleDecision::RetryAfter { at, .. } => {
                Err(ServiceError::Throttled { retry_at: at })
            }
            ThrottleDecision::Locked { .. } => Err(ServiceError::Locked),
        }
    }

    /// The reserved attempt failed: it stays counted. Audits the rejection (`rejected`) and
    /// what counting it changed, and notifies `subject` when the counter locked.
    async fn reject_attempt(
        &self,
        reserved: Reserved,
        subject: Option<PersonId>,
        org: Option<OrgId>,
        rejected: AuditKind,
        now: u64,
    ) -> Result<(), ServiceError> {
        let factor = reserved.factor;
        let actor = subject.map_or(Actor::System, Actor::Person);
        let mut events = Vec::with_capacity(2);
        events.push(AuditEvent::new(now, actor, subject, org, rejected));
        let mut locked = false;
        match reserved.event {
            Some(
                ThrottleEvent::BackoffStarted { failures, retry_at }
                | ThrottleEvent::BackoffExtended { failures, retry_at },
            ) => events.push(AuditEvent::new(
                now,
                Actor::System,
                subject,
                org,
                AuditKind::Throttled {
                    factor,
                    failures,
                    retry_at,
                },
            )),
            Some(ThrottleEvent::Locked { .. }) => {
                locked = true;
                events.push(AuditEvent::new(
                    now,
                    Actor::System,
                    subject,
                    org,
                    AuditKind::FactorLocked { factor },
                ));
            }
            _ => {}
        }
        self.record(&events).await?;
        if let (true, Some(person)) = (locked, subject) {
            self.notice(person, SecurityNotice::Locked).await?;
        }
        Ok(())
    }

    /// The reserved attempt of `person` failed: audits it as a rejected credential.
    async fn reject_credential(
        &self,
        reserved: Reserved,
        person: PersonId,
        org: Option<OrgId>,
        replayed: bool,
        now: u64,
    ) -> Result<(), ServiceError> {
        let factor = reserved.factor;
        self.reject_attempt(
            reserved,
            Some(person),
            org,
            AuditKind::CredentialRejected { factor, replayed },
            now,
        )
        .await
    }

    /// The reserved attempt verified: clears its counter ([`ThrottleOp::Success`]).
    async fn accept_attempt(&self, reserved: Reserved, now: u64) -> Result<(), ServiceError> {
        self.clear_throttle(&reserved.key, ThrottleOp::Success, now)
            .await
            .map(drop)
    }

    async fn clear_throttle(
        &self,
        key: &ThrottleKey,
        op: ThrottleOp,
        now: u64,
    ) -> Result<Option<ThrottleEvent>, ServiceError> {
        let update = self
            .backend
            .store()
            .apply_throttle(key, op, &self.config.throttle, now)
            .await
            .map_err(ServiceError::storage)?;
        Ok(update.event())
    }

    /// Clears every counter of `person` — the second factors' and their login's password
    /// counter — with `op`; whether any was locked.
    async fn clear_throttles(
        &self,
        person: &PersonRecord,
        op: ThrottleOp,
        now: u64,
    ) -> Result<bool, ServiceError> {
        let mut unlocked = false;
        // Every second factor's counter (the password's is the login name's, below).
        for factor in ThrottledFactor::ALL
            .into_iter()
            .filter(|f| *f != ThrottledFactor::Password)
        {
            let event = self
                .clear_throttle(&ThrottleKey::factor(person.id, factor), op, now)
                .await?;
            unlocked |= event == Some(ThrottleEvent::Unlocked);
        }
        let event = self
            .clear_throttle(&ThrottleKey::login(&person.login), op, now)
            .await?;
        unlocked |= event == Some(ThrottleEvent::Unlocked);
        Ok(unlocked)
    }
}

/// An attempt reserved against a throttle counter: counted as a failure until it is settled.
#[must_use = "a reserved attempt is settled as accepted or rejected"]
struct Reserved {
    key: ThrottleKey,
    factor: Factor,
    event: Option<ThrottleEvent>,
}

/// The throttle counter of a person's second factor.
const fn factor_key(person: PersonId, kind: FactorKind) -> ThrottleKey {
    ThrottleKey::factor(person, kind.throttled())
}

/// A fresh random identifier for a new person or organisation.
fn random_id() -> Result<u128, ServiceError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| crate::error::Error::Random)?;
    Ok(u128::from_le_bytes(bytes))
}

//! One person's authenticator apps: enrolling them, the replay watermark, removing them and
//! turning MFA off.

use alloc::string::String;
use alloc::vec::Vec;

use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use crate::credential::factor::FactorKind;
use crate::otp::error::{OtpError, Refusal, Rejected};
use crate::otp::secret::SecretKey;
use crate::otp::totp::{AcceptedStep, Totp, TotpParams, Window};
use crate::policy::Transition;
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::error::PolicyError;
use crate::policy::factors::Aal;
use crate::policy::factors::SecondFactors;
use crate::policy::ids::{AuthenticatorId, PersonId};
use crate::policy::login::{Grant, LoginProgress};
use crate::policy::org_policy::OrgStanding;
pub use crate::policy::phase::EnrollmentPhase;

/// Why a transition of a person's MFA state ([`Mfa`]) failed: refused by policy, or the engine
/// could not make the new secret (the random number generator failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MfaError {
    /// The policy refused the transition; the state passed in is unchanged.
    Policy(PolicyError),
    /// The engine could not make or copy a secret.
    Otp(OtpError),
}

impl core::fmt::Display for MfaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Policy(e) => write!(f, "refused by policy: {e}"),
            Self::Otp(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MfaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Policy(e) => Some(e),
            Self::Otp(e) => Some(e),
        }
    }
}

impl From<PolicyError> for MfaError {
    fn from(e: PolicyError) -> Self {
        Self::Policy(e)
    }
}

impl From<OtpError> for MfaError {
    fn from(e: OtpError) -> Self {
        Self::Otp(e)
    }
}

/// The settings of enrollment and of turning MFA off. Built through
/// [`EnrollmentConfig::builder`], which checks them; the default is what the stories ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnrollmentConfig {
    params: TotpParams,
    window: Window,
    pending_ttl: u64,
    max_authenticators: u8,
    reauth_max_age: u64,
}

impl EnrollmentConfig {
    /// The default time an enrollment may wait for each step: 15 minutes.
    pub const DEFAULT_PENDING_TTL: u64 = 15 * 60;
    /// The default number of authenticators per person.
    pub const DEFAULT_MAX_AUTHENTICATORS: u8 = 5;
    /// The largest limit of authenticators per person that can be configured.
    pub const MAX_AUTHENTICATORS: u8 = 16;
    /// The default freshness of the re-authentication that removing an authenticator or turning
    /// MFA off needs: 5 minutes.
    pub const DEFAULT_REAUTH_MAX_AGE: u64 = 5 * 60;

    /// Starts from the defaults.
    pub fn builder() -> EnrollmentConfigBuilder {
        EnrollmentConfigBuilder {
            config: Self::default(),
        }
    }

    /// The TOTP parameters of new authenticators.
    pub const fn params(&self) -> TotpParams {
        self.params
    }

    /// The window for the confirming code.
    pub const fn window(&self) -> Window {
        self.window
    }

    /// How long an enrollment waits for its next step, in seconds.
    pub const fn pending_ttl(&self) -> u64 {
        self.pending_ttl
    }

    /// The most authenticators one person may have.
    pub const fn max_authenticators(&self) -> u8 {
        self.max_authenticators
    }

    /// How recent the second-factor re-authentication must be to remove an authenticator or turn
    /// MFA off, in seconds.
    pub const fn reauth_max_age(&self) -> u64 {
        self.reauth_max_age
    }
}

impl Default for EnrollmentConfig {
    /// Default TOTP parameters, a window of 1, 15 minutes per step, 5 authenticators, 5 minutes
    /// to re-authenticate.
    fn default() -> Self {
        Self {
            params: TotpParams::default(),
            window: Window::default(),
            pending_ttl: Self::DEFAULT_PENDING_TTL,
            max_authenticators: Self::DEFAULT_MAX_AUTHENTICATORS,
            reauth_max_age: Self::DEFAULT_REAUTH_MAX_AGE,
        }
    }
}

/// Builder for [`EnrollmentConfig`]; [`EnrollmentConfigBuilder::build`] checks the values.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct EnrollmentConfigBuilder {
    config: EnrollmentConfig,
}

impl EnrollmentConfigBuilder {
    /// The TOTP parameters of new authenticators (default: SHA-1, 6 digits, 30 s).
    pub fn params(mut self, params: TotpParams) -> Self {
        self.config.params = params;
        self
    }

    /// The window for the confirming code (default 1 step either side).
    pub fn window(mut self, window: Window) -> Self {
        self.config.window = window;
        self
    }

    /// Seconds an enrollment waits for each step, 60 to 86 400 (default 900).
    pub fn pending_ttl(mut self, seconds: u64) -> Self {
        self.config.pending_ttl = seconds;
        self
    }

    /// Authenticators per person, 1 to [`EnrollmentConfig::MAX_AUTHENTICATORS`] (default 5).
    pub fn max_authenticators(mut self, max: u8) -> Self {
        self.config.max_authenticators = max;
        self
    }

    /// Seconds a re-authentication stays fresh enough to turn MFA off, 30 to 3 600 (default 300).
    pub fn reauth_max_age(mut self, seconds: u64) -> Self {
        self.config.reauth_max_age = seconds;
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<EnrollmentConfig, PolicyError> {
        let config = self.config;
        if !(60..=86_400).contains(&config.pending_ttl) {
            Err(PolicyError::InvalidEnrollmentTtl)
        } else if !(1..=EnrollmentConfig::MAX_AUTHENTICATORS).contains(&config.max_authenticators) {
            Err(PolicyError::InvalidAuthenticatorLimit)
        } else if !(30..=3_600).contains(&config.reauth_max_age) {
            Err(PolicyError::InvalidReauthWindow)
        } else {
            Ok(config)
        }
    }
}

/// The name a person gives an authenticator ("Phone", "Backup tablet"): 1 to 64 characters,
/// no control characters, surrounding spaces removed. Names are compared ignoring ASCII case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "String", into = "String")
)]
pub struct AuthenticatorName(String);

impl AuthenticatorName {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Checks and wraps a name.
    pub fn new(name: &str) -> Result<Self, PolicyError> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || name.chars().any(char::is_control) {
            Err(PolicyError::InvalidName)
        } else {
            Ok(Self(String::from(name)))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn same_as(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl TryFrom<String> for AuthenticatorName {
    type Error = PolicyError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::new(&name)
    }
}

impl From<AuthenticatorName> for String {
    fn from(name: AuthenticatorName) -> Self {
        name.0
    }
}

/// What a new enrollment is for. It is always explicit, so that completing it can never leave two
/// secrets standing for one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrollmentPurpose {
    /// A new authenticator with its own name (the first one, or a backup device).
    Add(AuthenticatorName),
    /// A new secret for an existing authenticator (a new phone): the old one stops working when
    /// the new one becomes active.
    Replace(AuthenticatorId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum Step {
    AwaitingCode,
    Confirmed {
        accepted_step: u64,
        confirmed_at: u64,
    },
    CodesIssued {
        accepted_step: u64,
        confirmed_at: u64,
        issued_at: u64,
    },
}

impl Step {
    const fn phase(self) -> EnrollmentPhase {
        match self {
            Self::AwaitingCode => EnrollmentPhase::AwaitingCode,
            Self::Confirmed { .. } => EnrollmentPhase::AwaitingRecoveryCodes,
            Self::CodesIssued { .. } => EnrollmentPhase::AwaitingAcknowledgement,
        }
    }
}

/// An enrollment in progress. Holds the new secret: it serialises only through
/// [`crate::policy::server_side::ServerSideOnly`], and must never leave the server except as the QR code and manual
/// key shown to the person during step 1.
#[derive(Debug)]
pub struct Enrollment {
    pub(crate) authenticator: AuthenticatorId,
    pub(crate) name: AuthenticatorName,
    pub(crate) replaces: Option<AuthenticatorId>,
    pub(crate) secret: SecretKey,
    pub(crate) params: TotpParams,
    pub(crate) started_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) step: Step,
}

impl Enrollment {
    /// The id the authenticator will have.
    pub const fn authenticator(&self) -> AuthenticatorId {
        self.authenticator
    }

    /// Its name (for a replacement, the name of the authenticator it replaces).
    pub const fn name(&self) -> &AuthenticatorName {
        &self.name
    }

    /// The active authenticator it will replace, if any.
    pub const fn replaces(&self) -> Option<AuthenticatorId> {
        self.replaces
    }

    /// The new secret, for building the `otpauth://` URI shown as a QR code.
    pub const fn expose_secret(&self) -> &SecretKey {
        &self.secret
    }

    /// The new secret as base32 text, for people who type the key instead of scanning.
    pub fn manual_key(&self) -> Zeroizing<String> {
        self.secret.expose_base32()
    }

    /// The TOTP parameters the app must use.
    pub const fn params(&self) -> TotpParams {
        self.params
    }

    /// When it started.
    pub const fn started_at(&self) -> u64 {
        self.started_at
    }

    /// When the current step expires.
    pub const fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether the current step has expired at `now`.
    pub const fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// The step it is waiting for.
    pub const fn phase(&self) -> EnrollmentPhase {
        self.step.phase()
    }

    fn duplicate(&self) -> Result<Self, MfaError> {
        Ok(Self {
            name: self.name.clone(),
            secret: copy_key(&self.secret)?,
            ..*self
        })
    }
}

/// An active authenticator. Holds its secret: it serialises only through
/// [`crate::policy::server_side::ServerSideOnly`].
#[derive(Debug)]
pub struct AuthenticatorApp {
    pub(crate) id: AuthenticatorId,
    pub(crate) name: AuthenticatorName,
    pub(crate) secret: SecretKey,
    pub(crate) params: TotpParams,
    pub(crate) last_accepted_step: u64,
    pub(crate) enrolled_at: u64,
}

impl AuthenticatorApp {
    /// Its id.
    pub const fn id(&self) -> AuthenticatorId {
        self.id
    }

    /// Its name.
    pub const fn name(&self) -> &AuthenticatorName {
        &self.name
    }

    /// Its TOTP parameters.
    pub const fn params(&self) -> TotpParams {
        self.params
    }

    /// The replay watermark: the newest step accepted (at first, the confirming code's step).
    /// Codes at or below it are refused.
    pub const fn last_accepted_step(&self) -> u64 {
        self.last_accepted_step
    }

    /// When it became active.
    pub const fn enrolled_at(&self) -> u64 {
        self.enrolled_at
    }

    /// Its secret.
    pub const fn expose_secret(&self) -> &SecretKey {
        &self.secret
    }

    /// Verifies a login code against this authenticator and its watermark.
    pub fn verify(&self, code: &str, now: u64, window: Window) -> Result<AcceptedStep, Rejected> {
        self.verify_detailed(code, now, window)
            .map_err(Rejected::from)
    }

    /// [`Self::verify`], saying for the audit trail whether a refused code was a replay (see
    /// [`Totp::verify_detailed`]).
    pub fn verify_detailed(
        &self,
        code: &str,
        now: u64,
        window: Window,
    ) -> Result<AcceptedStep, Refusal> {
        Totp::new(self.params, &self.secret).verify_detailed(
            code,
            now,
            window,
            Some(self.last_accepted_step),
        )
    }

    fn duplicate(&self) -> Result<Self, MfaError> {
        Ok(Self {
            name: self.name.clone(),
            secret: copy_key(&self.secret)?,
            ..*self
        })
    }
}

/// A login code one of the person's authenticators accepted. Record it with
/// [`Mfa::record_login_code`] (the new watermark) before treating the factor as verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the accepted step must be recorded as the authenticator's replay watermark"]
pub struct LoginCodeAccepted {
    authenticator: AuthenticatorId,
    step: AcceptedStep,
}

impl LoginCodeAccepted {
    /// The authenticator that produced the code.
    pub const fn authenticator(&self) -> AuthenticatorId {
        self.authenticator
    }

    /// The accepted step.
    pub const fn step(&self) -> AcceptedStep {
        self.step
    }
}

/// How [`Mfa::confirm_enrollment`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum ConfirmOutcome {
    /// The code was valid: issue recovery codes next.
    Confirmed,
    /// The code was wrong (or malformed): the enrollment still waits. Count this towards the
    /// throttle and tell the person only that it failed.
    CodeRejected,
    /// The enrollment had expired and is gone: start again.
    Expired,
}

impl ConfirmOutcome {
    /// Whether the throttle must count this attempt as a failure.
    pub const fn counts_as_failure(self) -> bool {
        matches!(self, Self::CodeRejected)
    }
}

/// How [`Mfa::recovery_codes_issued`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum IssueOutcome {
    /// Recorded: ask the person to acknowledge.
    Recorded,
    /// The enrollment had expired and is gone: discard the new codes and start again.
    Expired,
}

/// How [`Mfa::acknowledge_recovery_codes`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum AcknowledgeOutcome {
    /// The authenticator is active: make the new recovery codes the live set.
    Activated {
        /// The new authenticator.
        authenticator: AuthenticatorId,
        /// The authenticator it replaced, which no longer works.
        replaced: Option<AuthenticatorId>,
    },
    /// The enrollment had expired and is gone: discard the new codes and start again.
    Expired,
}

/// What removing authenticators did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum DisableOutcome {
    /// One authenticator was removed; MFA stays on with the others.
    AuthenticatorRemoved,
    /// No authenticator remains: MFA is off. Delete the person's recovery codes.
    MfaOff,
}

/// One person's MFA state: their active authenticators, at most one enrollment in progress, and
/// whether recovery codes were issued.
///
/// Holds secrets: it serialises only through [`crate::policy::server_side::ServerSideOnly`]. Transitions take `&self`
/// and return a new state.
///
/// The enrollment ceremony, each step a transition:
///
/// 1. [`Mfa::start_enrollment`] issues a fresh secret. The host shows
///    [`Enrollment::manual_key`] and an `otpauth://` URI built from [`Enrollment::expose_secret`]
///    and [`Enrollment::params`]. The enrollment expires after [`EnrollmentConfig::pending_ttl`]
///    (15 minutes by default) and must then restart.
/// 2. [`Mfa::confirm_enrollment`] checks a code from the app. A wrong code keeps the enrollment
///    waiting and says so ([`ConfirmOutcome::CodeRejected`]: count it towards the throttle). The
///    step of the confirming code becomes the new authenticator's replay watermark, so the same
///    code cannot be replayed as the first login code.
/// 3. The host generates recovery codes, stores them beside the pending enrollment, shows them once
///    and calls [`Mfa::recovery_codes_issued`]. This core never sees them.
/// 4. [`Mfa::acknowledge_recovery_codes`] — the person ticked "I have safely recorded this" — makes
///    the authenticator active, replacing the one named at the start or adding a new, named one.
///    The host then makes the new recovery codes the live set.
///
/// An enrollment in progress never disturbs the active authenticators: they keep working until
/// the acknowledgement, and then exactly the one named for replacement stops. A person has at
/// most [`EnrollmentConfig::max_authenticators`] authenticators, each with its own name and secret;
/// a name is never used twice, so two secrets cannot silently stand for one device.
#[derive(Debug)]
pub struct Mfa {
    pub(crate) person: PersonId,
    pub(crate) authenticators: Vec<AuthenticatorApp>,
    pub(crate) enrollment: Option<Enrollment>,
    pub(crate) recovery_codes_issued_at: Option<u64>,
    pub(crate) next_authenticator: u32,
}

impl Mfa {
    /// A person without MFA.
    pub const fn new(person: PersonId) -> Self {
        Self {
            person,
            authenticators: Vec::new(),
            enrollment: None,
            recovery_codes_issued_at: None,
            next_authenticator: 1,
        }
    }

    /// The person.
    pub const fn person(&self) -> PersonId {
        self.person
    }

    /// The active authenticators, oldest first.
    pub fn authenticators(&self) -> &[AuthenticatorApp] {
        &self.authenticators
    }

    /// One active authenticator.
    pub fn authenticator(&self, id: AuthenticatorId) -> Option<&AuthenticatorApp> {
        self.authenticators.iter().find(|a| a.id == id)
    }

    /// The enrollment in progress, if any.
    pub const fn enrollment(&self) -> Option<&Enrollment> {
        self.enrollment.as_ref()
    }

    /// Whether MFA is active: at least one authenticator completed every enrollment step.
    pub fn is_active(&self) -> bool {
        !self.authenticators.is_empty()
    }

    /// When the live recovery codes were issued (`None` while MFA is off).
    pub const fn recovery_codes_issued_at(&self) -> Option<u64> {
        self.recovery_codes_issued_at
    }

    /// The second factors this state provides: the authenticator app, and recovery codes beside
    /// it. (The host removes [`FactorKind::RecoveryCode`] once every code is spent, and adds
    /// [`FactorKind::OutOfBandSms`] for a verified phone.)
    pub fn factors(&self) -> SecondFactors {
        if !self.is_active() {
            SecondFactors::EMPTY
        } else if self.recovery_codes_issued_at.is_some() {
            SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode)
        } else {
            SecondFactors::of(FactorKind::Totp)
        }
    }

    /// Starts enrolling an authenticator with a secret drawn from `rng`, replacing any enrollment
    /// already in progress (its secret is discarded). Active authenticators are not touched.
    ///
    /// While MFA is active, adding or replacing an authenticator needs `reauth`: this person's
    /// grant, AAL2, verified within [`EnrollmentConfig::reauth_max_age`]. For the first
    /// authenticator it may be `None`; during a login's "company account verification" use
    /// [`Self::start_enrollment_at_login`]. This state knows only the authenticator apps: a host
    /// whose person holds another factor (a verified phone) must ask for the fresh grant itself.
    pub fn start_enrollment<R: TryCryptoRng + ?Sized>(
        &self,
        purpose: EnrollmentPurpose,
        reauth: Option<&Grant>,
        config: &EnrollmentConfig,
        rng: &mut R,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        if self.is_active() {
            self.check_reauth(reauth, config, now)?;
        }
        self.begin_enrollment(purpose, config, rng, now)
    }

    /// Starts enrolling an authenticator during a login ("company account verification"), with
    /// the login itself as the re-authentication: `progress` must be this person's, still
    /// pending ([`LoginProgress::MAX_AGE`]), and — while MFA is active — hold a second factor
    /// verified in this login. Otherwise as [`Self::start_enrollment`].
    ///
    /// The host calls it only when [`crate::policy::login::login_decision`] answers
    /// [`crate::policy::login::LoginDecision::EnrollMfa`] for `progress`: that decision asks a person who holds
    /// any factor (a verified phone included, which this state does not know) to present it
    /// first, so an attacker who knows only the password cannot bind their own authenticator.
    pub fn start_enrollment_at_login<R: TryCryptoRng + ?Sized>(
        &self,
        purpose: EnrollmentPurpose,
        progress: &LoginProgress,
        config: &EnrollmentConfig,
        rng: &mut R,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        if progress.person() != self.person {
            return Err(PolicyError::WrongPerson.into());
        }
        let pending = now
            .checked_sub(progress.started_at())
            .is_some_and(|age| age <= LoginProgress::MAX_AGE);
        if !pending || (self.is_active() && progress.factors().second_factors().is_empty()) {
            return Err(PolicyError::ReauthenticationRequired.into());
        }
        self.begin_enrollment(purpose, config, rng, now)
    }

    /// [`Self::start_enrollment_at_login`] with the operating system's random number generator.
    #[cfg(feature = "std")]
    pub fn start_enrollment_at_login_with_os_rng(
        &self,
        purpose: EnrollmentPurpose,
        progress: &LoginProgress,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        self.start_enrollment_at_login(purpose, progress, config, &mut getrandom::SysRng, now)
    }

    fn begin_enrollment<R: TryCryptoRng + ?Sized>(
        &self,
        purpose: EnrollmentPurpose,
        config: &EnrollmentConfig,
        rng: &mut R,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        let (name, replaces) = match purpose {
            EnrollmentPurpose::Add(name) => {
                self.check_can_add(&name, config)?;
                (name, None)
            }
            EnrollmentPurpose::Replace(id) => {
                let old = self
                    .authenticator(id)
                    .ok_or(PolicyError::UnknownAuthenticator)?;
                (old.name.clone(), Some(id))
            }
        };
        let secret = SecretKey::generate_with_rng(rng, config.params.algorithm().output_len())?;
        let id = AuthenticatorId::new(self.next_authenticator);
        let mut next = self.duplicate()?;
        next.next_authenticator = self
            .next_authenticator
            .checked_add(1)
            .ok_or(PolicyError::InvalidState("authenticator ids exhausted"))?;
        let mut events = Vec::new();
        if let Some(old) = &self.enrollment {
            events.push(self.event(
                now,
                AuditKind::EnrollmentAbandoned {
                    authenticator: old.authenticator,
                },
            ));
        }
        events.push(self.event(
            now,
            AuditKind::EnrollmentStarted {
                authenticator: id,
                replacing: replaces,
            },
        ));
        next.enrollment = Some(Enrollment {
            authenticator: id,
            name,
            replaces,
            secret,
            params: config.params,
            started_at: now,
            expires_at: now.saturating_add(config.pending_ttl),
            step: Step::AwaitingCode,
        });
        Ok(Transition::new(next, (), events))
    }

    /// [`Self::start_enrollment`] with the operating system's random number generator.
    #[cfg(feature = "std")]
    pub fn start_enrollment_with_os_rng(
        &self,
        purpose: EnrollmentPurpose,
        reauth: Option<&Grant>,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        self.start_enrollment(purpose, reauth, config, &mut getrandom::SysRng, now)
    }

    /// Checks the code the person typed from their app (step 2).
    ///
    /// Errors only on misuse (no enrollment, or one at another step); a wrong code and an expired
    /// enrollment are outcomes.
    pub fn confirm_enrollment(
        &self,
        code: &str,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, ConfirmOutcome>, MfaError> {
        let pending = self.pending(EnrollmentPhase::AwaitingCode)?;
        if pending.is_expired(now) {
            let (next, events) = self.expire(now)?;
            return Ok(Transition::new(next, ConfirmOutcome::Expired, events));
        }
        let mut next = self.duplicate()?;
        let id = pending.authenticator;
        match Totp::new(pending.params, &pending.secret).verify(code, now, config.window, None) {
            Ok(step) => {
                if let Some(enrollment) = next.enrollment.as_mut() {
                    enrollment.step = Step::Confirmed {
                        accepted_step: step.step(),
                        confirmed_at: now,
                    };
                    enrollment.expires_at = now.saturating_add(config.pending_ttl);
                }
                let event = self.event(now, AuditKind::EnrollmentConfirmed { authenticator: id });
                Ok(Transition::new(
                    next,
                    ConfirmOutcome::Confirmed,
                    alloc::vec![event],
                ))
            }
            Err(Rejected) => {
                let event =
                    self.event(now, AuditKind::EnrollmentCodeRejected { authenticator: id });
                Ok(Transition::new(
                    next,
                    ConfirmOutcome::CodeRejected,
                    alloc::vec![event],
                ))
            }
        }
    }

    /// Records that the host generated, stored (beside the enrollment) and showed new recovery
    /// codes (step 3).
    pub fn recovery_codes_issued(
        &self,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, IssueOutcome>, MfaError> {
        let pending = self.pending(EnrollmentPhase::AwaitingRecoveryCodes)?;
        if pending.is_expired(now) {
            let (next, events) = self.expire(now)?;
            return Ok(Transition::new(next, IssueOutcome::Expired, events));
        }
        let Step::Confirmed {
            accepted_step,
            confirmed_at,
        } = pending.step
        else {
            return Err(PolicyError::InvalidState("enrollment step").into());
        };
        let mut next = self.duplicate()?;
        if let Some(enrollment) = next.enrollment.as_mut() {
            enrollment.step = Step::CodesIssued {
                accepted_step,
                confirmed_at,
                issued_at: now,
            };
            enrollment.expires_at = now.saturating_add(config.pending_ttl);
        }
        let event = self.event(
            now,
            AuditKind::RecoveryCodesIssued {
                authenticator: pending.authenticator,
            },
        );
        Ok(Transition::new(
            next,
            IssueOutcome::Recorded,
            alloc::vec![event],
        ))
    }

    /// The person acknowledged the recovery codes (step 4): the authenticator becomes active, with
    /// the confirming code's step as its replay watermark.
    pub fn acknowledge_recovery_codes(
        &self,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, AcknowledgeOutcome>, MfaError> {
        let pending = self.pending(EnrollmentPhase::AwaitingAcknowledgement)?;
        if pending.is_expired(now) {
            let (next, events) = self.expire(now)?;
            return Ok(Transition::new(next, AcknowledgeOutcome::Expired, events));
        }
        let Step::CodesIssued {
            accepted_step,
            issued_at,
            ..
        } = pending.step
        else {
            return Err(PolicyError::InvalidState("enrollment step").into());
        };
        let replaced = pending
            .replaces
            .filter(|id| self.authenticator(*id).is_some());
        if replaced.is_none() {
            self.check_can_add(&pending.name, config)?;
        }
        let mut next = self.duplicate()?;
        let Some(enrollment) = next.enrollment.take() else {
            return Err(PolicyError::NoEnrollment.into());
        };
        let authenticator = AuthenticatorApp {
            id: enrollment.authenticator,
            name: enrollment.name.clone(),
            secret: copy_key(&enrollment.secret)?,
            params: enrollment.params,
            last_accepted_step: accepted_step,
            enrolled_at: now,
        };
        let id = authenticator.id;
        match next
            .authenticators
            .iter_mut()
            .find(|a| Some(a.id) == replaced)
        {
            Some(slot) => *slot = authenticator,
            None => next.authenticators.push(authenticator),
        }
        next.recovery_codes_issued_at = Some(issued_at);
        let event = self.event(
            now,
            AuditKind::AuthenticatorActivated {
                authenticator: id,
                replaced,
            },
        );
        Ok(Transition::new(
            next,
            AcknowledgeOutcome::Activated {
                authenticator: id,
                replaced,
            },
            alloc::vec![event],
        ))
    }

    /// Abandons the enrollment in progress; its secret is discarded.
    pub fn cancel_enrollment(&self, now: u64) -> Result<Transition<Self>, MfaError> {
        let pending = self.enrollment.as_ref().ok_or(PolicyError::NoEnrollment)?;
        let event = self.event(
            now,
            AuditKind::EnrollmentAbandoned {
                authenticator: pending.authenticator,
            },
        );
        let mut next = self.duplicate()?;
        next.enrollment = None;
        Ok(Transition::new(next, (), alloc::vec![event]))
    }

    /// Verifies a login code against every active authenticator, each with its own watermark.
    /// All are tried (no early exit); an enrollment in progress never counts.
    pub fn verify_login_code(
        &self,
        code: &str,
        now: u64,
        window: Window,
    ) -> Result<LoginCodeAccepted, Rejected> {
        self.verify_login_code_detailed(code, now, window)
            .map_err(Rejected::from)
    }

    /// [`Self::verify_login_code`], saying for the audit trail why a code was refused: when no
    /// authenticator accepts it but one matched it at or below its watermark, it is
    /// [`Refusal::Replayed`]. Every authenticator is tried either way; show the person only the
    /// opaque failure.
    pub fn verify_login_code_detailed(
        &self,
        code: &str,
        now: u64,
        window: Window,
    ) -> Result<LoginCodeAccepted, Refusal> {
        let mut found = None;
        let mut replayed = false;
        for authenticator in &self.authenticators {
            let result = authenticator.verify_detailed(code, now, window);
            replayed |= result == Err(Refusal::Replayed);
            if let (None, Ok(step)) = (found, result) {
                found = Some(LoginCodeAccepted {
                    authenticator: authenticator.id,
                    step,
                });
            }
        }
        match (found, replayed) {
            (Some(accepted), _) => Ok(accepted),
            (None, true) => Err(Refusal::Replayed),
            (None, false) => Err(Refusal::Invalid),
        }
    }

    /// Raises the authenticator's replay watermark to the accepted step (never lowers it).
    ///
    /// Between servers, this update must be one atomic "raise if higher" on the stored
    /// authenticator; this transition is its single-process form.
    pub fn record_login_code(
        &self,
        accepted: LoginCodeAccepted,
        now: u64,
    ) -> Result<Transition<Self>, MfaError> {
        let mut next = self.duplicate()?;
        let authenticator = next
            .authenticators
            .iter_mut()
            .find(|a| a.id == accepted.authenticator)
            .ok_or(PolicyError::UnknownAuthenticator)?;
        authenticator.last_accepted_step =
            authenticator.last_accepted_step.max(accepted.step.step());
        let event = self.event(
            now,
            AuditKind::LoginCodeAccepted {
                authenticator: accepted.authenticator,
            },
        );
        Ok(Transition::new(next, (), alloc::vec![event]))
    }

    /// Removes one authenticator. Removing the last one turns MFA off and follows the rules of
    /// [`Self::disable`]; removing any needs the same fresh re-authentication.
    pub fn remove_authenticator(
        &self,
        id: AuthenticatorId,
        reauth: &Grant,
        standings: &[OrgStanding],
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, DisableOutcome>, MfaError> {
        self.check_reauth(Some(reauth), config, now)?;
        if self.authenticator(id).is_none() {
            return Err(PolicyError::UnknownAuthenticator.into());
        }
        if self.authenticators.len() == 1 {
            return self.disable(reauth, standings, config, now);
        }
        let mut next = self.duplicate()?;
        next.authenticators.retain(|a| a.id != id);
        let event = self.event(now, AuditKind::AuthenticatorRemoved { authenticator: id });
        Ok(Transition::new(
            next,
            DisableOutcome::AuthenticatorRemoved,
            alloc::vec![event],
        ))
    }

    /// Turns MFA off: every authenticator and any enrollment are removed, and the host must delete
    /// the recovery codes.
    ///
    /// Needs `reauth`: this person's grant, AAL2, verified within
    /// [`EnrollmentConfig::reauth_max_age`]. Refused while any organisation in `standings` — which
    /// must list every organisation the person belongs to — enforces MFA; the sole owner of an
    /// enforcing organisation is told so specifically (they can never turn theirs off, since they
    /// can neither leave nor be replaced without another owner).
    pub fn disable(
        &self,
        reauth: &Grant,
        standings: &[OrgStanding],
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<Transition<Self, DisableOutcome>, MfaError> {
        self.check_reauth(Some(reauth), config, now)?;
        if standings.iter().any(|s| s.person() != self.person) {
            return Err(PolicyError::WrongPerson.into());
        }
        OrgStanding::allow_mfa_off(standings)?;
        let mut events = Vec::new();
        if let Some(pending) = &self.enrollment {
            events.push(self.event(
                now,
                AuditKind::EnrollmentAbandoned {
                    authenticator: pending.authenticator,
                },
            ));
        }
        for authenticator in &self.authenticators {
            events.push(self.event(
                now,
                AuditKind::AuthenticatorRemoved {
                    authenticator: authenticator.id,
                },
            ));
        }
        events.push(self.event(now, AuditKind::MfaDisabled));
        let next = Self {
            next_authenticator: self.next_authenticator,
            ..Self::new(self.person)
        };
        Ok(Transition::new(next, DisableOutcome::MfaOff, events))
    }

    fn check_reauth(
        &self,
        reauth: Option<&Grant>,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<(), PolicyError> {
        let grant = reauth.ok_or(PolicyError::ReauthenticationRequired)?;
        if grant.person() != self.person {
            return Err(PolicyError::WrongPerson);
        }
        grant.require_fresh(now, config.reauth_max_age, Aal::Aal2)
    }

    fn check_can_add(
        &self,
        name: &AuthenticatorName,
        config: &EnrollmentConfig,
    ) -> Result<(), PolicyError> {
        if self.authenticators.iter().any(|a| a.name.same_as(name)) {
            Err(PolicyError::NameTaken)
        } else if self.authenticators.len() >= usize::from(config.max_authenticators) {
            Err(PolicyError::AuthenticatorLimit {
                max: config.max_authenticators,
            })
        } else {
            Ok(())
        }
    }

    fn pending(&self, expected: EnrollmentPhase) -> Result<&Enrollment, PolicyError> {
        let pending = self.enrollment.as_ref().ok_or(PolicyError::NoEnrollment)?;
        let actual = pending.phase();
        if actual == expected {
            Ok(pending)
        } else {
            Err(PolicyError::WrongEnrollmentPhase { expected, actual })
        }
    }

    fn expire(&self, now: u64) -> Result<(Self, Vec<AuditEvent>), MfaError> {
        let mut next = self.duplicate()?;
        let mut events = Vec::new();
        if let Some(old) = next.enrollment.take() {
            events.push(AuditEvent::new(
                now,
                Actor::System,
                Some(self.person),
                None,
                AuditKind::EnrollmentExpired {
                    authenticator: old.authenticator,
                },
            ));
        }
        Ok((next, events))
    }

    fn event(&self, now: u64, what: AuditKind) -> AuditEvent {
        AuditEvent::new(
            now,
            Actor::Person(self.person),
            Some(self.person),
            None,
            what,
        )
    }

    /// Raises an authenticator's replay watermark to `step` if that is higher, and says whether
    /// it changed. Stores call this to reflect
    /// [`SecretStore::advance_watermark`](crate::store::SecretStore::advance_watermark) in the state they
    /// return; it never lowers a watermark.
    pub fn restore_watermark(&mut self, authenticator: AuthenticatorId, step: u64) -> bool {
        match self
            .authenticators
            .iter_mut()
            .find(|a| a.id == authenticator)
        {
            Some(a) if a.last_accepted_step < step => {
                a.last_accepted_step = step;
                true
            }
            _ => false,
        }
    }

    /// An independent copy of the state, secrets included. Explicitly named: copying key
    /// material is a decision, not an accident (`Mfa` is not `Clone`).
    pub fn duplicate_secret_state(&self) -> Result<Self, MfaError> {
        self.duplicate()
    }

    fn duplicate(&self) -> Result<Self, MfaError> {
        Ok(Self {
            person: self.person,
            authenticators: self
                .authenticators
                .iter()
                .map(AuthenticatorApp::duplicate)
                .collect::<Result<_, _>>()?,
            enrollment: self
                .enrollment
                .as_ref()
                .map(Enrollment::duplicate)
                .transpose()?,
            recovery_codes_issued_at: self.recovery_codes_issued_at,
            next_authenticator: self.next_authenticator,
        })
    }

    /// Checks the invariants of a decoded state.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.authenticators.len() > usize::from(EnrollmentConfig::MAX_AUTHENTICATORS) {
            return Err("too many authenticators");
        }
        let issued = |id: AuthenticatorId| id.get() >= 1 && id.get() < self.next_authenticator;
        for (index, a) in self.authenticators.iter().enumerate() {
            if !issued(a.id) {
                return Err("an authenticator id that was never issued");
            }
            let later = self
                .authenticators
                .get(index.saturating_add(1)..)
                .unwrap_or_default();
            if later
                .iter()
                .any(|b| b.id == a.id || b.name.same_as(&a.name))
            {
                return Err("two authenticators with one id or name");
            }
        }
        if self.authenticators.is_empty() != self.recovery_codes_issued_at.is_none() {
            return Err("recovery codes without MFA, or MFA without recovery codes");
        }
        if let Some(pending) = &self.enrollment {
            if !issued(pending.authenticator) || self.authenticator(pending.authenticator).is_some()
            {
                return Err("an enrollment with an invalid id");
            }
            if pending.expires_at < pending.started_at {
                return Err("an enrollment that expires before it starts");
            }
        }
        Ok(())
    }
}

/// A second copy of a key, for a new state value. Both copies are wiped when dropped.
fn copy_key(key: &SecretKey) -> Result<SecretKey, OtpError> {
    SecretKey::from_bytes_allow_short(key.expose_bytes())
}

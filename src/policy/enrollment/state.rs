//! One person's MFA state and what it holds: the active authenticators, the enrollment in
//! progress, their accessors, and the checks the transitions share.

use alloc::string::String;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::credential::factor::FactorKind;
use crate::otp::error::OtpError;
use crate::otp::secret::SecretKey;
use crate::otp::totp::TotpParams;
use crate::policy::audit::{Actor, AuditEvent, AuditKind};
use crate::policy::enrollment::config::EnrollmentConfig;
use crate::policy::enrollment::error::MfaError;
use crate::policy::enrollment::name::AuthenticatorName;
use crate::policy::error::PolicyError;
use crate::policy::factors::{Aal, SecondFactors};
use crate::policy::ids::{AuthenticatorId, PersonId};
use crate::policy::login::Grant;
use crate::policy::phase::EnrollmentPhase;

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

    fn duplicate(&self) -> Result<Self, MfaError> {
        Ok(Self {
            name: self.name.clone(),
            secret: copy_key(&self.secret)?,
            ..*self
        })
    }
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
///
/// [`ConfirmOutcome::CodeRejected`]: crate::policy::enrollment::ConfirmOutcome::CodeRejected
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

    pub(super) fn check_reauth(
        &self,
        reauth: Option<&Grant>,
        config: &EnrollmentConfig,
        now: u64,
    ) -> Result<(), PolicyError> {
        let grant = reauth.ok_or(PolicyError::ReauthenticationRequired)?;
        if grant.person() != self.person {
            return Err(PolicyError::WrongPerson);
        }
        grant.require_fresh(now, config.reauth_max_age(), Aal::Aal2)
    }

    pub(super) fn check_can_add(
        &self,
        name: &AuthenticatorName,
        config: &EnrollmentConfig,
    ) -> Result<(), PolicyError> {
        if self.authenticators.iter().any(|a| a.name.same_as(name)) {
            Err(PolicyError::NameTaken)
        } else if self.authenticators.len() >= usize::from(config.max_authenticators()) {
            Err(PolicyError::AuthenticatorLimit {
                max: config.max_authenticators(),
            })
        } else {
            Ok(())
        }
    }

    pub(super) fn pending(&self, expected: EnrollmentPhase) -> Result<&Enrollment, PolicyError> {
        let pending = self.enrollment.as_ref().ok_or(PolicyError::NoEnrollment)?;
        let actual = pending.phase();
        if actual == expected {
            Ok(pending)
        } else {
            Err(PolicyError::WrongEnrollmentPhase { expected, actual })
        }
    }

    pub(super) fn expire(&self, now: u64) -> Result<(Self, Vec<AuditEvent>), MfaError> {
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

    pub(super) fn event(&self, now: u64, what: AuditKind) -> AuditEvent {
        AuditEvent::new(
            now,
            Actor::Person(self.person),
            Some(self.person),
            None,
            what,
        )
    }

    /// An independent copy of the state, secrets included. Explicitly named: copying key
    /// material is a decision, not an accident (`Mfa` is not `Clone`).
    pub fn duplicate_secret_state(&self) -> Result<Self, MfaError> {
        self.duplicate()
    }

    pub(super) fn duplicate(&self) -> Result<Self, MfaError> {
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
pub(super) fn copy_key(key: &SecretKey) -> Result<SecretKey, OtpError> {
    SecretKey::from_bytes_allow_short(key.expose_bytes())
}

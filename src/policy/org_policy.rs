//! A company's MFA policy: off or on, enforced or not, a grace period, the factor kinds that
//! count, and each member's enrollment deadline.

use crate::credential::factor::FactorKind;
use crate::policy::error::PolicyError;
use crate::policy::factors::{FactorSet, SecondFactors};
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::roles::{Member, Role};

/// At most this many reminder lead times ([`MfaSettings::with_reminders`]).
pub const MAX_REMINDERS: usize = 4;

/// An organisation's MFA policy.
///
/// Grace deadlines avoid the traps other products fell into:
///
/// - A deadline belongs to one membership, not to the person: someone in several organisations
///   has an independent deadline in each, and each organisation's policy applies when they sign in
///   to it.
/// - A member's deadline is fixed when they become subject to the policy (the policy was
///   enforced, or they joined later): that moment plus the grace period of their role
///   ([`MfaSettings::grace_for`]). It is stored with the membership and only ever moves earlier
///   while they stay subject: when the settings or the member's role change, it is recomputed
///   from that same moment and kept if the new one is later. Tightening the grace period takes
///   effect at once; loosening it, or a demotion, never extends a deadline already set.
/// - Joining by any path (founding, being added, an invitation, an access request) and any role
///   change leave the member subject; nothing a member does to their own account restarts their
///   grace period (and MFA cannot be turned off while the policy is enforced). Only turning
///   enforcement off and on again starts new deadlines.
/// - Reminders go out at the lead times the settings name ([`MfaSettings::with_reminders`]),
///   each at most once per deadline ([`MfaPolicy::reminder_due`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MfaPolicy {
    /// No organisation-wide MFA: each person's own MFA applies as they set it up.
    #[default]
    Off,
    /// MFA is on for the organisation.
    On(MfaSettings),
}

impl MfaPolicy {
    /// Whether the policy is on.
    pub const fn is_on(&self) -> bool {
        matches!(self, Self::On(_))
    }

    /// Whether every member must use MFA.
    pub const fn enforces(&self) -> bool {
        matches!(self, Self::On(settings) if settings.enforce)
    }

    /// The settings, when the policy is on.
    pub const fn settings(&self) -> Option<&MfaSettings> {
        match self {
            Self::Off => None,
            Self::On(settings) => Some(settings),
        }
    }

    /// The second-factor kinds that count in this organisation (every kind when the policy is off).
    pub const fn counted_factors(&self) -> SecondFactors {
        match self {
            Self::Off => SecondFactors::ALL,
            Self::On(settings) => settings.factors,
        }
    }

    /// The grace period, or 0 when the policy does not enforce.
    pub const fn grace_period(&self) -> u64 {
        match self {
            Self::On(settings) if settings.enforce => settings.grace_period,
            _ => 0,
        }
    }

    /// Whether a person with these second factors satisfies the policy's MFA requirement: they
    /// have a primary kind ([`FactorKind::is_primary`]) the policy counts. Recovery codes alone
    /// never do. This is the requirement of the lowest role; a policy that asks some roles for
    /// phishing-resistant factors ([`MfaSettings::with_phishing_resistance_from`]) asks more of
    /// them: [`Self::satisfied_for`].
    pub const fn satisfied_by(&self, factors: SecondFactors) -> bool {
        factors.intersection(self.counted_factors()).has_primary()
    }

    /// The second-factor kinds that count for a member whose own role is `role`: the
    /// organisation's, narrowed to the phishing-resistant kinds
    /// ([`FactorKind::is_phishing_resistant`], passkeys) and the recovery codes it counts as
    /// their backup, where the policy asks that role for phishing resistance.
    pub fn counted_factors_for(&self, role: Role) -> SecondFactors {
        match self {
            Self::On(settings)
                if settings
                    .phishing_resistant_from
                    .is_some_and(|from| role >= from) =>
            {
                settings
                    .factors
                    .filter(|k| k.is_phishing_resistant() || k == FactorKind::RecoveryCode)
            }
            _ => self.counted_factors(),
        }
    }

    /// [`Self::satisfied_by`] for a member whose own role is `role`
    /// ([`Self::counted_factors_for`]).
    pub fn satisfied_for(&self, role: Role, factors: SecondFactors) -> bool {
        factors
            .intersection(self.counted_factors_for(role))
            .has_primary()
    }

    /// Whether a grant resting on `factors` still stands for `member` at `now`: once the policy
    /// enforces MFA and the member's deadline has passed (or they have none), the grant must hold
    /// a second factor of a kind the policy counts (a recovery code included, when counted),
    /// whenever it was issued. Before the deadline, and while the policy does not enforce, any
    /// grant stands.
    ///
    /// This is what [`crate::policy::login::login_decision`] would demand of a new login, applied to grants
    /// already issued, so that turning enforcement on reaches sessions that predate it. A
    /// remembered device ([`Factor::RememberedDevice`](crate::policy::factors::Factor::RememberedDevice))
    /// counts as the second factor: it was issued after a full MFA login, and a login presents
    /// it only where the person would be challenged for a factor (see [`SessionRecord`](crate::policy::SessionRecord)).
    pub fn admits(&self, member: &Member, factors: FactorSet, now: u64) -> bool {
        if !self.enforces() {
            return true;
        }
        match self.deadline_for(member) {
            Some(deadline) if now < deadline => true,
            _ => {
                factors.contains(crate::policy::factors::Factor::RememberedDevice)
                    || !factors
                        .second_factors()
                        .intersection(self.counted_factors_for(member.role()))
                        .is_empty()
            }
        }
    }

    /// The grace period for a member with `role` (0 when the policy does not enforce).
    pub fn grace_for(&self, role: Role) -> u64 {
        match self {
            Self::On(settings) if settings.enforce => settings.grace_for(role),
            _ => 0,
        }
    }

    /// A member's deadline for enrolling, when the policy enforces MFA (the stored one:
    /// [`Member::mfa_deadline`]). `None` while the policy does not enforce.
    pub fn deadline_for(&self, member: &Member) -> Option<u64> {
        if !self.enforces() {
            return None;
        }
        member.mfa_deadline()
    }

    /// The deadline `member` would get from these settings: the moment they became subject
    /// plus their role's grace period.
    pub(crate) fn fresh_deadline(&self, member: &Member) -> Option<u64> {
        member
            .mfa_subject_since()
            .map(|since| since.saturating_add(self.grace_for(member.role())))
    }

    /// The reminder to send `member` at `now`, as its lead time, if one is due: the policy
    /// enforces, the member is active and before their deadline, a lead time has been reached
    /// and no reminder of that lead time or a shorter one was sent for this deadline. Of several
    /// reached at once, only the shortest is due (nobody gets the "7 days left" reminder the day
    /// before). Whether the member already has MFA is for the caller to check
    /// ([`Self::satisfied_by`]).
    pub fn reminder_due(&self, member: &Member, now: u64) -> Option<u64> {
        let settings = self.settings().filter(|s| s.enforce)?;
        let deadline = member.mfa_deadline()?;
        if !member.is_active() || now >= deadline {
            return None;
        }
        let left = deadline.saturating_sub(now);
        let sent = member.mfa_reminded().unwrap_or(u64::MAX);
        settings
            .reminders()
            .filter(|&lead| left <= lead && lead < sent)
            .min()
    }
}

/// A grace period for members at or above a role, shorter than the one for everyone else
/// ([`MfaSettings::with_grace_from`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RoleGrace {
    from: Role,
    grace_period: u64,
}

impl RoleGrace {
    /// The lowest role it applies to.
    pub const fn from(&self) -> Role {
        self.from
    }

    /// Its grace period in seconds.
    pub const fn grace_period(&self) -> u64 {
        self.grace_period
    }
}

/// The settings of an MFA policy that is on. Always valid: built only through
/// [`MfaSettings::optional`] and [`MfaSettings::enforced`], which check them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "MfaSettingsRepr")
)]
pub struct MfaSettings {
    enforce: bool,
    grace_period: u64,
    factors: SecondFactors,
    by_role: Option<RoleGrace>,
    reminders: [u64; MAX_REMINDERS],
    phishing_resistant_from: Option<Role>,
}

impl MfaSettings {
    /// The longest grace period: 90 days.
    pub const MAX_GRACE_PERIOD: u64 = 90 * 24 * 60 * 60;

    /// The factor kinds counted by default: the authenticator app, with recovery codes as backup.
    #[cfg(not(feature = "passkeys"))]
    pub const DEFAULT_FACTORS: SecondFactors =
        SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode);

    /// The factor kinds counted by default: the authenticator app and passkeys (feature
    /// `passkeys`), with recovery codes as backup.
    #[cfg(feature = "passkeys")]
    pub const DEFAULT_FACTORS: SecondFactors = SecondFactors::of(FactorKind::Totp)
        .with(FactorKind::RecoveryCode)
        .with(FactorKind::Passkey);

    /// MFA on, not forced: members without MFA are invited to enroll at login and may skip it.
    ///
    /// `factors` are the kinds that count and must include a primary kind
    /// ([`FactorKind::is_primary`]: anything but recovery codes). An organisation refuses
    /// restricted authenticators (SMS, [`FactorKind::is_restricted`]) by leaving them out, for
    /// example with [`SecondFactors::without_restricted`]; one that follows NIST SP 800-63B
    /// strictly also leaves out e-mail ([`FactorKind::is_recognised_by_nist`]).
    pub const fn optional(factors: SecondFactors) -> Result<Self, PolicyError> {
        Self::checked(false, 0, factors)
    }

    /// MFA forced for every member, each with `grace_period` seconds (0 for none, at most
    /// [`Self::MAX_GRACE_PERIOD`]) from the moment they become subject to it. `factors` as for
    /// [`Self::optional`].
    pub const fn enforced(factors: SecondFactors, grace_period: u64) -> Result<Self, PolicyError> {
        Self::checked(true, grace_period, factors)
    }

    const fn checked(
        enforce: bool,
        grace_period: u64,
        factors: SecondFactors,
    ) -> Result<Self, PolicyError> {
        if !factors.has_primary() {
            Err(PolicyError::NoCountedFactor)
        } else if grace_period > Self::MAX_GRACE_PERIOD || (!enforce && grace_period != 0) {
            Err(PolicyError::InvalidGracePeriod)
        } else {
            Ok(Self {
                enforce,
                grace_period,
                factors,
                by_role: None,
                reminders: [0; MAX_REMINDERS],
                phishing_resistant_from: None,
            })
        }
    }

    /// Enforcement per role: members whose own role is `from` or above get `grace_period`
    /// (at most the grace period of everyone else), for example Owners and Admins at once
    /// (`with_grace_from(Role::Admin, 0)`) and everyone else after the general grace period.
    /// Only for enforced settings ([`PolicyError::InvalidGracePeriod`] otherwise, or for a
    /// longer grace period).
    pub const fn with_grace_from(self, from: Role, grace_period: u64) -> Result<Self, PolicyError> {
        if !self.enforce || grace_period > self.grace_period {
            return Err(PolicyError::InvalidGracePeriod);
        }
        Ok(Self {
            by_role: Some(RoleGrace { from, grace_period }),
            ..self
        })
    }

    /// Reminders at these lead times before each member's deadline (seconds; for example
    /// `[7 * DAY, DAY]`), sent by
    /// [`Authenticator::send_mfa_reminders`](crate::service::Authenticator::send_mfa_reminders).
    /// At most [`MAX_REMINDERS`], each distinct, 1 second to [`Self::MAX_GRACE_PERIOD`]; only
    /// for enforced settings ([`PolicyError::InvalidReminders`] otherwise). An empty list sends
    /// none (the default).
    pub fn with_reminders(self, before: &[u64]) -> Result<Self, PolicyError> {
        let reminders = Self::checked_reminders(self.enforce, before)?;
        Ok(Self { reminders, ..self })
    }

    fn checked_reminders(
        enforce: bool,
        before: &[u64],
    ) -> Result<[u64; MAX_REMINDERS], PolicyError> {
        let mut reminders = [0; MAX_REMINDERS];
        let nonzero: alloc::vec::Vec<u64> = before.iter().copied().filter(|&r| r != 0).collect();
        if nonzero.len() != before.len()
            || before.len() > MAX_REMINDERS
            || (!enforce && !before.is_empty())
            || before.iter().any(|&r| r > Self::MAX_GRACE_PERIOD)
        {
            return Err(PolicyError::InvalidReminders);
        }
        let mut sorted = nonzero;
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let count = sorted.len();
        sorted.dedup();
        if sorted.len() != count {
            return Err(PolicyError::InvalidReminders);
        }
        for (slot, lead) in reminders.iter_mut().zip(sorted) {
            *slot = lead;
        }
        Ok(reminders)
    }

    /// Phishing-resistant factors (passkeys and security keys,
    /// [`FactorKind::is_phishing_resistant`]) for members whose own role is `from` or above:
    /// `Role::User` for every member, `Role::Admin` for Admins and Owners. Only the
    /// phishing-resistant kinds among [`Self::factors`] count for them, with the recovery codes
    /// as backup if the settings count those (leave recovery codes out for a stricter policy).
    /// A member of such a role who holds only other kinds presents them at login and is then
    /// sent to enrol a passkey ([`LoginDecision::EnrollMfa`](crate::policy::LoginDecision)),
    /// as the enforcement does for a member without MFA; their sessions resting on other kinds
    /// no longer stand once their deadline has passed. The settings must count a
    /// phishing-resistant kind ([`PolicyError::NoCountedFactor`] otherwise).
    pub fn with_phishing_resistance_from(self, from: Role) -> Result<Self, PolicyError> {
        if self
            .factors
            .filter(FactorKind::is_phishing_resistant)
            .is_empty()
        {
            return Err(PolicyError::NoCountedFactor);
        }
        Ok(Self {
            phishing_resistant_from: Some(from),
            ..self
        })
    }

    /// The lowest role asked for phishing-resistant factors, if any.
    pub const fn phishing_resistance_from(&self) -> Option<Role> {
        self.phishing_resistant_from
    }

    /// The grace period for a member whose own role is `role`.
    pub fn grace_for(&self, role: Role) -> u64 {
        match self.by_role {
            Some(by_role) if role >= by_role.from => by_role.grace_period,
            _ => self.grace_period,
        }
    }

    /// The shorter grace period for higher roles, if any.
    pub const fn grace_by_role(&self) -> Option<RoleGrace> {
        self.by_role
    }

    /// The reminder lead times, longest first.
    pub fn reminders(&self) -> impl Iterator<Item = u64> + '_ {
        self.reminders.iter().copied().filter(|&lead| lead != 0)
    }

    /// Whether every member must use MFA.
    pub const fn enforce(&self) -> bool {
        self.enforce
    }

    /// The grace period in seconds.
    pub const fn grace_period(&self) -> u64 {
        self.grace_period
    }

    /// The factor kinds that count (recovery codes, if included, as backup only).
    pub const fn factors(&self) -> SecondFactors {
        self.factors
    }
}

#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct MfaSettingsRepr {
    enforce: bool,
    grace_period: u64,
    factors: SecondFactors,
    #[serde(default)]
    by_role: Option<RoleGrace>,
    #[serde(default)]
    reminders: [u64; MAX_REMINDERS],
    #[serde(default)]
    phishing_resistant_from: Option<Role>,
}

#[cfg(feature = "serde")]
impl TryFrom<MfaSettingsRepr> for MfaSettings {
    type Error = PolicyError;

    fn try_from(repr: MfaSettingsRepr) -> Result<Self, Self::Error> {
        let mut settings = Self::checked(repr.enforce, repr.grace_period, repr.factors)?;
        if let Some(by_role) = repr.by_role {
            settings = settings.with_grace_from(by_role.from, by_role.grace_period)?;
        }
        let leads: alloc::vec::Vec<u64> =
            repr.reminders.iter().copied().filter(|&r| r != 0).collect();
        settings = settings.with_reminders(&leads)?;
        match repr.phishing_resistant_from {
            Some(from) => settings.with_phishing_resistance_from(from),
            None => Ok(settings),
        }
    }
}

/// What one organisation demands of one member's MFA: the input to
/// [`crate::policy::enrollment::Mfa::disable`], gathered from every organisation the person belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OrgStanding {
    person: PersonId,
    org: OrgId,
    role: Role,
    enforces_mfa: bool,
    sole_owner: bool,
}

impl OrgStanding {
    pub(crate) const fn new(
        person: PersonId,
        org: OrgId,
        role: Role,
        enforces_mfa: bool,
        sole_owner: bool,
    ) -> Self {
        Self {
            person,
            org,
            role,
            enforces_mfa,
            sole_owner,
        }
    }

    /// The person.
    pub const fn person(&self) -> PersonId {
        self.person
    }

    /// The organisation.
    pub const fn org(&self) -> OrgId {
        self.org
    }

    /// The person's own role there.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// Whether the organisation enforces MFA.
    pub const fn enforces_mfa(&self) -> bool {
        self.enforces_mfa
    }

    /// Whether the person is its only active owner.
    pub const fn sole_owner(&self) -> bool {
        self.sole_owner
    }

    /// Whether these standings (every organisation the person belongs to) let them go without
    /// MFA: refused while any of them enforces it, and the sole owner of an enforcing
    /// organisation is told so specifically.
    pub(crate) fn allow_mfa_off(standings: &[Self]) -> Result<(), PolicyError> {
        if let Some(standing) = standings
            .iter()
            .find(|s| s.enforces_mfa() && s.sole_owner())
        {
            return Err(PolicyError::SoleOwnerOfEnforcingOrganisation {
                org: standing.org(),
            });
        }
        match standings.iter().find(|s| s.enforces_mfa()) {
            Some(standing) => Err(PolicyError::RequiredByOrganisation {
                org: standing.org(),
            }),
            None => Ok(()),
        }
    }
}

//! The login decision: what a person must do next to sign in to an organisation, and the
//! [`Grant`] they hold once every requirement is met.

use crate::credential::factor::FactorKind;
use crate::policy::audit::{Actor, AuditEvent, AuditKind, DenyReason, LoginOutcome};
use crate::policy::error::PolicyError;
use crate::policy::factors::Aal;
use crate::policy::factors::{Factor, FactorSet, SecondFactors};
use crate::policy::ids::{OrgId, PersonId, SessionId};
use crate::policy::org_policy::MfaPolicy;
use crate::policy::roles::{Member, Role};

/// Whether the password may be used as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PasswordState {
    /// The person's own password.
    #[default]
    Current,
    /// A temporary password set by an admin: the person must set their own before anything else.
    Temporary,
    /// The password is known to be compromised (for example found in a breach list).
    Compromised,
}

/// The person-level facts the login decision needs, assembled by the host from its stores.
///
/// Locking is an input: the throttle that decides it lives elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Account {
    person: PersonId,
    deactivated: bool,
    locked: bool,
    password: PasswordState,
    factors: SecondFactors,
}

impl Account {
    /// An active, unlocked account with its own password and no second factor.
    pub const fn new(person: PersonId) -> Self {
        Self {
            person,
            deactivated: false,
            locked: false,
            password: PasswordState::Current,
            factors: SecondFactors::EMPTY,
        }
    }

    /// Sets whether the whole account is deactivated.
    #[must_use]
    pub const fn deactivated(mut self, deactivated: bool) -> Self {
        self.deactivated = deactivated;
        self
    }

    /// Sets whether the account is locked (by the throttle, or by an administrator).
    #[must_use]
    pub const fn locked(mut self, locked: bool) -> Self {
        self.locked = locked;
        self
    }

    /// Sets the password state.
    #[must_use]
    pub const fn password(mut self, password: PasswordState) -> Self {
        self.password = password;
        self
    }

    /// Sets the second factors the person has active (see [`crate::policy::enrollment::Mfa::factors`]; add
    /// [`FactorKind::OutOfBandSms`] for a verified phone, and leave out recovery codes once none
    /// remain).
    #[must_use]
    pub const fn factors(mut self, factors: SecondFactors) -> Self {
        self.factors = factors;
        self
    }

    /// The person.
    pub const fn person(&self) -> PersonId {
        self.person
    }

    /// Whether the account is deactivated.
    pub const fn is_deactivated(&self) -> bool {
        self.deactivated
    }

    /// Whether the account is locked.
    pub const fn is_locked(&self) -> bool {
        self.locked
    }

    /// The password state.
    pub const fn password_state(&self) -> PasswordState {
        self.password
    }

    /// The second factors the person has.
    pub const fn second_factors(&self) -> SecondFactors {
        self.factors
    }
}

/// A login in progress: the restricted, single-purpose state a person holds between verifying
/// their password and being allowed in. It grants no access of any kind.
///
/// Build it only after the password was verified; add each second factor only after it was
/// verified (and, for a TOTP code or a recovery code, after its single use was recorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "LoginProgressRepr")
)]
pub struct LoginProgress {
    person: PersonId,
    org: Option<OrgId>,
    started_at: u64,
    factors: FactorSet,
    enrollment_deferred: bool,
    epoch: u64,
}

impl LoginProgress {
    /// How long a login may stay pending (time to change a password or enroll MFA): 30 minutes.
    pub const MAX_AGE: u64 = 30 * 60;

    /// A login to `org` whose password the host has just verified.
    pub const fn password_verified(person: PersonId, org: OrgId, now: u64) -> Self {
        Self {
            person,
            org: Some(org),
            started_at: now,
            factors: FactorSet::of(Factor::Password),
            enrollment_deferred: false,
            epoch: 0,
        }
    }

    /// A passwordless login to `org`: the person's passkey has just verified them and signed
    /// (feature `passkeys`; [`Factor::UserVerified`] beside [`FactorKind::Passkey`] stands in
    /// for the password and the second factor at once).
    #[cfg(feature = "passkeys")]
    pub const fn passkey_verified(person: PersonId, org: OrgId, now: u64) -> Self {
        Self {
            person,
            org: Some(org),
            started_at: now,
            factors: FactorSet::of(Factor::UserVerified).with(Factor::Second(FactorKind::Passkey)),
            enrollment_deferred: false,
            epoch: 0,
        }
    }

    /// A passwordless login whose passkey has just verified the person, before they have chosen
    /// which of their organisations to sign in to (feature `passkeys`; the factors of
    /// [`Self::passkey_verified`]). [`login_decision`] denies it until
    /// [`Self::in_organisation`] names one.
    #[cfg(feature = "passkeys")]
    pub const fn passkey_organisation_pending(person: PersonId, now: u64) -> Self {
        Self {
            person,
            org: None,
            started_at: now,
            factors: FactorSet::of(Factor::UserVerified).with(Factor::Second(FactorKind::Passkey)),
            enrollment_deferred: false,
            epoch: 0,
        }
    }

    /// A login whose password the host has just verified, before the person has chosen which
    /// of their organisations to sign in to. [`login_decision`] denies it
    /// ([`DenyReason::NotAMember`]) until [`Self::in_organisation`] names one.
    pub const fn organisation_pending(person: PersonId, now: u64) -> Self {
        Self {
            person,
            org: None,
            started_at: now,
            factors: FactorSet::of(Factor::Password),
            enrollment_deferred: false,
            epoch: 0,
        }
    }

    /// The login continued in the organisation the person chose. A login that already names
    /// an organisation cannot move to another: [`PolicyError::InvalidState`].
    pub const fn in_organisation(mut self, org: OrgId) -> Result<Self, PolicyError> {
        if self.org.is_some() {
            return Err(PolicyError::InvalidState(
                "the login's organisation is already chosen",
            ));
        }
        self.org = Some(org);
        Ok(self)
    }

    /// The person's security epoch when the password was verified: the session this login ends
    /// in is created only at that epoch, so a login started before a bump (a password reset,
    /// "sign out everywhere") never yields a session.
    #[must_use]
    pub const fn at_epoch(mut self, epoch: u64) -> Self {
        self.epoch = epoch;
        self
    }

    /// The security epoch the login started at ([`Self::at_epoch`]).
    pub const fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Records a verified second factor. After enrolling an authenticator during the login, the
    /// confirming code counts as a verified [`FactorKind::Totp`]: [`login_decision`] asks a person
    /// who held a factor for it before the enrollment, so the new one stands alone only for a
    /// person who had none.
    #[must_use]
    pub const fn with_second_factor(mut self, kind: FactorKind) -> Self {
        self.factors = self.factors.with(Factor::Second(kind));
        self
    }

    /// Records that the person presented a remembered device this login may trust (its token
    /// issued to them after a full MFA login, unexpired, at their current epoch, in an
    /// organisation that allows remembered devices: the service checks all of it). It stands in
    /// for the second factor at the challenge ([`login_decision`] step 2), and the grant holds
    /// [`Factor::RememberedDevice`] instead of a second factor.
    #[must_use]
    pub const fn with_remembered_device(mut self) -> Self {
        self.factors = self.factors.with(Factor::RememberedDevice);
        self
    }

    /// Records that the person chose to skip a skippable MFA enrollment for this login.
    /// [`login_decision`] ignores it once the enrollment is mandatory.
    #[must_use]
    pub const fn defer_enrollment(mut self) -> Self {
        self.enrollment_deferred = true;
        self
    }

    /// The person.
    pub const fn person(&self) -> PersonId {
        self.person
    }

    /// The organisation being signed in to; `None` until the person has chosen one
    /// ([`Self::organisation_pending`]).
    pub const fn org(&self) -> Option<OrgId> {
        self.org
    }

    /// When the password was verified.
    pub const fn started_at(&self) -> u64 {
        self.started_at
    }

    /// The factors verified so far.
    pub const fn factors(&self) -> FactorSet {
        self.factors
    }

    /// Whether the person skipped a skippable enrollment.
    pub const fn enrollment_deferred(&self) -> bool {
        self.enrollment_deferred
    }
}

#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct LoginProgressRepr {
    person: PersonId,
    #[serde(default)]
    org: Option<OrgId>,
    started_at: u64,
    factors: FactorSet,
    enrollment_deferred: bool,
    #[serde(default)]
    epoch: u64,
}

#[cfg(feature = "serde")]
impl TryFrom<LoginProgressRepr> for LoginProgress {
    type Error = PolicyError;

    fn try_from(repr: LoginProgressRepr) -> Result<Self, Self::Error> {
        // A login starts from a first factor: the password, or (feature `passkeys`) a passkey
        // that verified the user, as a passwordless login's choice of organisation carries.
        if !repr.factors.has_first_factor() {
            return Err(PolicyError::InvalidState("a login without a first factor"));
        }
        Ok(Self {
            person: repr.person,
            org: repr.org,
            started_at: repr.started_at,
            factors: repr.factors,
            enrollment_deferred: repr.enrollment_deferred,
            epoch: repr.epoch,
        })
    }
}

/// How strongly the organisation asks the person to enroll MFA now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EnrollmentDemand {
    /// The policy is on but not forced: recommended, skippable.
    Suggested,
    /// Forced, but the person's grace period runs until `deadline`: skippable until then.
    BeforeDeadline {
        /// The deadline (unix seconds).
        deadline: u64,
    },
    /// Forced and the deadline has passed: no access until enrolled.
    Mandatory,
}

impl EnrollmentDemand {
    /// Whether the person may skip enrolling for this login.
    pub const fn is_skippable(self) -> bool {
        !matches!(self, Self::Mandatory)
    }
}

/// What the person must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a login is allowed only by `LoginDecision::Allowed`"]
pub enum LoginDecision {
    /// Refused; say why only as far as the host's policy allows (a locked account is told so).
    Denied(DenyReason),
    /// Set a new password (the current one is temporary or compromised). A person with a second
    /// factor gets here only after presenting it.
    ChangePassword(PasswordState),
    /// Enroll an authenticator ("company account verification").
    EnrollMfa {
        /// Whether it may be skipped (then call [`LoginProgress::defer_enrollment`]).
        demand: EnrollmentDemand,
        /// The kinds that satisfy the organisation.
        factors: SecondFactors,
    },
    /// Present a second factor of one of these kinds.
    Challenge(SecondFactors),
    /// Every requirement is met.
    Allowed(Grant),
}

impl LoginDecision {
    /// The grant, if the login is allowed.
    pub const fn grant(&self) -> Option<&Grant> {
        match self {
            Self::Allowed(grant) => Some(grant),
            _ => None,
        }
    }

    /// The decision as a copyable outcome for the audit trail.
    pub const fn outcome(&self) -> LoginOutcome {
        match self {
            Self::Denied(reason) => LoginOutcome::Denied(*reason),
            Self::ChangePassword(_) => LoginOutcome::PasswordChangeRequired,
            Self::EnrollMfa { demand, .. } => LoginOutcome::EnrollmentRequired {
                mandatory: !demand.is_skippable(),
            },
            Self::Challenge(_) => LoginOutcome::SecondFactorRequired,
            Self::Allowed(grant) => LoginOutcome::Allowed { aal: grant.aal },
        }
    }

    /// The audit event for this decision about `progress`.
    pub const fn audit_event(&self, progress: &LoginProgress, now: u64) -> AuditEvent {
        AuditEvent::new(
            now,
            Actor::Person(progress.person),
            Some(progress.person),
            progress.org,
            AuditKind::Login {
                outcome: self.outcome(),
            },
        )
    }
}

/// A completed login: who, in which organisation, with which role, on which factors, at which
/// assurance level, and when.
///
/// Made only by [`login_decision`] (and refreshed by [`Grant::reauthenticated`]). The role is the
/// one in force at login, for the record; [`crate::policy::authorize::authorize`] always uses the member's current
/// role.
///
/// With the `serde` feature a grant serialises (for a log line or an interface showing who is
/// signed in) but never deserialises: a grant read back from a cookie, a host's session store or
/// a request could have been edited (a password-only login turned into `"aal":"Aal2"`), so
/// nothing outside this crate can turn text into one.
///
/// # A view of a live session
///
/// The grants of this module's decisions ([`login_decision`], [`Grant::reauthenticated`]) are
/// for a host that runs the pure core itself: they name no session ([`Grant::session`] is
/// `None`), and the [`Authenticator`](crate::service::Authenticator) accepts none of them. The
/// service's grants come from a session — the one a login opened, or the one
/// [`Authenticator::authenticate`](crate::service::Authenticator::authenticate) checked — and
/// every verb that takes one reads that session again and decides on what is stored, not on
/// the grant: a grant whose session was revoked, expired or outlived by a security change is
/// refused, and a grant "refreshed" in memory gains nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Grant {
    person: PersonId,
    org: OrgId,
    role: Role,
    factors: FactorSet,
    aal: Aal,
    authenticated_at: u64,
    verified_at: u64,
    session: Option<SessionId>,
}

impl Grant {
    /// The person.
    pub const fn person(&self) -> PersonId {
        self.person
    }

    /// The organisation.
    pub const fn org(&self) -> OrgId {
        self.org
    }

    /// The role in force at login.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The factors the login (or the latest re-authentication) rests on.
    pub const fn factors(&self) -> FactorSet {
        self.factors
    }

    /// The assurance level.
    pub const fn aal(&self) -> Aal {
        self.aal
    }

    /// When the login completed.
    pub const fn authenticated_at(&self) -> u64 {
        self.authenticated_at
    }

    /// The server-side session this grant is a view of; `None` for a grant of the pure core
    /// (see [the type's documentation](Grant#a-view-of-a-live-session)).
    pub const fn session(&self) -> Option<SessionId> {
        self.session
    }

    /// The same grant, as a view of the session `id` (the service, once the session exists).
    #[must_use]
    pub(crate) const fn in_session(self, id: SessionId) -> Self {
        Self {
            session: Some(id),
            ..self
        }
    }

    /// When the factors were last verified (the login, or the latest re-authentication).
    pub const fn verified_at(&self) -> u64 {
        self.verified_at
    }

    /// Whether the factors were verified at most `max_age` seconds before `now` (a grant from the
    /// future is stale). A grant resting on a remembered device
    /// ([`FactorSet::rests_on_remembered_device`]) is never fresh: its second factor was verified
    /// when the device was remembered, not at this login.
    pub const fn is_fresh(&self, now: u64, max_age: u64) -> bool {
        if self.factors.rests_on_remembered_device() {
            return false;
        }
        match now.checked_sub(self.verified_at) {
            Some(age) => age <= max_age,
            None => false,
        }
    }

    /// The freshness check for sensitive actions: at least `aal`, verified within `max_age`.
    pub const fn require_fresh(&self, now: u64, max_age: u64, aal: Aal) -> Result<(), PolicyError> {
        if self.is_fresh(now, max_age) && self.aal as u8 >= aal as u8 {
            Ok(())
        } else {
            Err(PolicyError::ReauthenticationRequired)
        }
    }

    /// The grant after the person re-verified `factors` at `now` (the host verified them). The
    /// assurance level becomes the one those factors reach: a password-only re-authentication
    /// lowers an AAL2 grant to AAL1.
    #[must_use]
    pub const fn reauthenticated(&self, factors: FactorSet, now: u64) -> Self {
        Self {
            factors,
            aal: aal_of(factors),
            verified_at: now,
            ..*self
        }
    }

    /// The grant a standing session yields for one request, before it names the session
    /// ([`Grant::in_session`]): the role is the live membership's (see [`crate::policy::session`]).
    pub(crate) const fn from_session(
        person: PersonId,
        org: OrgId,
        role: Role,
        factors: FactorSet,
        aal: Aal,
        authenticated_at: u64,
        verified_at: u64,
    ) -> Self {
        Self {
            person,
            org,
            role,
            factors,
            aal,
            authenticated_at,
            verified_at,
            session: None,
        }
    }

    /// The audit event for a re-authentication that produced this grant.
    pub const fn reauthentication_event(&self) -> AuditEvent {
        AuditEvent::new(
            self.verified_at,
            Actor::Person(self.person),
            Some(self.person),
            Some(self.org),
            AuditKind::Reauthenticated { aal: self.aal },
        )
    }
}

/// The assurance level `factors` reach: AAL2 for the password with a second factor, or with a
/// remembered device standing in for it (bound by an AAL2 login; never fresh, see
/// [`Grant::is_fresh`]).
pub(crate) const fn aal_of(factors: FactorSet) -> Aal {
    let second = !factors.second_factors().is_empty() || factors.contains(Factor::RememberedDevice);
    // A passkey that verified the user is a multi-factor authenticator on its own.
    if factors.has_first_factor() && second {
        Aal::Aal2
    } else {
        Aal::Aal1
    }
}

/// Decides the next step of a login. Pure and allocation-free; the order is fixed (below).
///
/// `member` is the person's current membership of `progress.org()` (`None` if they have none) and
/// `policy` that organisation's MFA policy.
///
/// The MFA rules: when the policy is on, the kinds it counts decide whether the person "has MFA"
/// for it (a primary kind, [`FactorKind::is_primary`]: recovery codes are backup only). A person
/// who has MFA is challenged with their kinds the policy counts (recovery codes included when
/// counted); a person whose own MFA the policy does not count is challenged with their own kinds
/// (they prove they hold them before anything else, enrolling included). With the policy off, a
/// person's own MFA applies.
///
/// It is a function of the person's account, their membership, the organisation's MFA policy, the
/// factors verified so far in this login ([`LoginProgress`]) and `now`, in this order:
///
/// 1. **Denied** — the login is stale or inconsistent, the account or membership is deactivated,
///    the account is locked, or the person is not a member.
/// 2. **Challenge** — the person holds a second factor and has not yet presented one (of a kind
///    the policy counts, when their MFA satisfies it) in this login, nor a remembered device
///    ([`LoginProgress::with_remembered_device`]) standing in for it. This comes before the
///    password change, so that a stolen temporary or compromised password cannot be replaced
///    without the second factor, and before enrolling, so that a new authenticator cannot be
///    added in place of presenting the factors the person already holds (NIST SP 800-63B §6.1.2.1:
///    binding an additional authenticator needs an existing one).
/// 3. **Change password** — the password is temporary (set by an admin) or marked compromised.
/// 4. **Enroll MFA** — the organisation's policy asks for MFA and the person has none of a kind it
///    counts ("company account verification"): mandatory once their deadline has passed,
///    skippable before it (or when the policy only recommends MFA). A person who already holds a
///    factor reaches this step only after presenting it (step 2), and enrolls with this login as
///    the re-authentication ([`crate::policy::enrollment::Mfa::start_enrollment_at_login`]). The authenticator enrolled
///    here then counts as this login's second factor ([`LoginProgress::with_second_factor`]): it
///    is the only one for a person who had none, and comes on top of the one presented otherwise.
/// 5. **Allowed** — with a [`Grant`].
///
/// Until step 5 the person holds only the [`LoginProgress`]: a single-purpose pending state that
/// no authorisation accepts. A [`Grant`] can only come from this function: it has no
/// `Deserialize`.
pub fn login_decision(
    account: &Account,
    member: Option<&Member>,
    policy: &MfaPolicy,
    progress: &LoginProgress,
    now: u64,
) -> LoginDecision {
    // 1. Denied.
    let age = now.checked_sub(progress.started_at);
    if !matches!(age, Some(age) if age <= LoginProgress::MAX_AGE) {
        return LoginDecision::Denied(DenyReason::Expired);
    }
    if account.person != progress.person || !progress.factors.has_first_factor() {
        return LoginDecision::Denied(DenyReason::Inconsistent);
    }
    let member_active = member.is_none_or(Member::is_active);
    if account.deactivated || !member_active {
        return LoginDecision::Denied(DenyReason::Deactivated);
    }
    if account.locked {
        return LoginDecision::Denied(DenyReason::Locked);
    }
    let Some(member) = member else {
        return LoginDecision::Denied(DenyReason::NotAMember);
    };
    if member.person() != progress.person || Some(member.org()) != progress.org {
        return LoginDecision::Denied(DenyReason::NotAMember);
    }

    let own = own_factors(account.factors);
    let counted = policy.counted_factors_for(member.role());
    let satisfied = policy.satisfied_for(member.role(), own);

    // 2. Challenge: whoever holds a factor presents it first.
    let challenge = if policy.is_on() && satisfied {
        own.intersection(counted)
    } else {
        own
    };
    let presented = progress.factors.second_factors().intersection(challenge);
    // A remembered device answers the challenge only in place of a second factor.
    let device = !challenge.is_empty()
        && presented.is_empty()
        && progress.factors.contains(Factor::RememberedDevice);
    if !challenge.is_empty() && presented.is_empty() && !device {
        return LoginDecision::Challenge(challenge);
    }

    // 3. Change the password.
    if !matches!(account.password, PasswordState::Current) {
        return LoginDecision::ChangePassword(account.password);
    }

    // 4. Enroll MFA.
    if policy.is_on() && !satisfied {
        let demand = if policy.enforces() {
            match policy.deadline_for(member) {
                Some(deadline) if now < deadline => EnrollmentDemand::BeforeDeadline { deadline },
                _ => EnrollmentDemand::Mandatory,
            }
        } else {
            EnrollmentDemand::Suggested
        };
        if !(demand.is_skippable() && progress.enrollment_deferred) {
            return LoginDecision::EnrollMfa {
                demand,
                factors: counted,
            };
        }
    }

    // 5. Allowed. A kind the organisation does not count was presented only to protect the
    // person's account (whoever holds a factor presents it): it adds nothing to a grant there.
    let admitted = if policy.is_on() {
        presented.intersection(counted)
    } else {
        presented
    };
    let mut factors = progress
        .factors
        .first_factors()
        .union(FactorSet::from(admitted));
    if device {
        factors = factors.with(Factor::RememberedDevice);
    }
    LoginDecision::Allowed(Grant {
        person: progress.person,
        org: member.org(),
        role: member.effective_role(now),
        factors,
        aal: aal_of(factors),
        authenticated_at: now,
        verified_at: now,
        session: None,
    })
}

/// A person's usable second factors: recovery codes count only beside a primary factor.
const fn own_factors(factors: SecondFactors) -> SecondFactors {
    if factors.has_primary() {
        factors
    } else {
        factors.without(FactorKind::RecoveryCode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_in_a_session_names_it_and_keeps_the_rest() {
        let factors = FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::Totp));
        let grant = Grant::from_session(
            PersonId::new(1),
            OrgId::new(2),
            Role::Admin,
            factors,
            Aal::Aal2,
            10,
            20,
        );
        assert_eq!(grant.session(), None);
        let id = SessionId::new(7);
        let viewed = grant.in_session(id);
        assert_eq!(viewed.session(), Some(id));
        assert_eq!(viewed.person(), PersonId::new(1));
        assert_eq!(viewed.org(), OrgId::new(2));
        assert_eq!(viewed.role(), Role::Admin);
        assert_eq!(viewed.factors(), factors);
        assert_eq!(viewed.aal(), Aal::Aal2);
        assert_eq!(viewed.authenticated_at(), 10);
        assert_eq!(viewed.verified_at(), 20);
        // A re-authentication keeps the session it is a view of.
        assert_eq!(viewed.reauthenticated(factors, 30).session(), Some(id));
    }
}

//! Server-side sessions: the record a completed login leaves, the timeouts it lives under, and
//! the per-request decision that turns it into a [`Grant`] or a typed refusal.
//!
//! A session is kept by the store, keyed by the digest of an opaque 256-bit token the client
//! holds ([`BearerToken`](crate::credential::token::BearerToken)); the host never keeps a grant
//! of its own. On every request the store reads the session together with the person's
//! [security epoch](SessionRecord::epoch) and deactivation, and the membership and MFA policy of
//! its organisation ([`SessionView`], one joined read), and [`SessionView::check`] decides.
//!
//! The decisions (what ends a session, roles re-read, recovery codes counting as fresh, remembered
//! devices) and the timeouts are documented on [`SessionRecord`].

use alloc::string::String;

use crate::policy::error::PolicyError;
use crate::policy::factors::{Aal, Factor, FactorSet};
use crate::policy::ids::{OrgId, PersonId, SessionId};
use crate::policy::login::{Grant, aal_of};
use crate::policy::org_policy::MfaPolicy;
use crate::policy::roles::Member;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The session lifetimes and the remembered-device settings. Built by
/// [`SessionConfig::builder`]; `build()` refuses values outside the bounds below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    aal1_lifetime: u64,
    aal1_idle: u64,
    aal2_lifetime: u64,
    aal2_idle: u64,
    touch_interval: u64,
    device_lifetime: u64,
    max_devices: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            aal1_lifetime: Self::MAX_AAL1_LIFETIME,
            aal1_idle: Self::MAX_AAL1_LIFETIME,
            aal2_lifetime: Self::MAX_AAL2_LIFETIME,
            aal2_idle: Self::MAX_AAL2_IDLE,
            touch_interval: MINUTE,
            device_lifetime: 30 * DAY,
            max_devices: 10,
        }
    }
}

impl SessionConfig {
    /// The longest an AAL1 session lives without reauthentication: 30 days (NIST SP 800-63B
    /// rev. 4 §2.1.3), also the default.
    pub const MAX_AAL1_LIFETIME: u64 = 30 * DAY;
    /// The longest an AAL2 session lives without reauthentication: 24 hours (§2.2.3), also the
    /// default.
    pub const MAX_AAL2_LIFETIME: u64 = DAY;
    /// The longest an AAL2 session may stay idle: 1 hour (§2.2.3), also the default.
    pub const MAX_AAL2_IDLE: u64 = HOUR;
    /// The shortest lifetime or idle timeout: 5 minutes.
    pub const MIN_TIMEOUT: u64 = 5 * MINUTE;
    /// The longest a remembered device stays trusted: 90 days (default 30 days).
    pub const MAX_DEVICE_LIFETIME: u64 = 90 * DAY;
    /// The most remembered devices one person may have (default 10).
    pub const MAX_DEVICES: u32 = 50;

    /// Starts from the defaults.
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder {
            config: Self::default(),
        }
    }

    /// How long a session at `aal` lives from its latest full authentication.
    pub const fn lifetime(&self, aal: Aal) -> u64 {
        match aal {
            Aal::Aal1 => self.aal1_lifetime,
            Aal::Aal2 => self.aal2_lifetime,
        }
    }

    /// How long a session at `aal` may stay idle.
    pub const fn idle_timeout(&self, aal: Aal) -> u64 {
        match aal {
            Aal::Aal1 => self.aal1_idle,
            Aal::Aal2 => self.aal2_idle,
        }
    }

    /// The least time between two writes of a session's `last_seen` (default 1 minute).
    pub const fn touch_interval(&self) -> u64 {
        self.touch_interval
    }

    /// How long a remembered device stays trusted.
    pub const fn device_lifetime(&self) -> u64 {
        self.device_lifetime
    }

    /// The most remembered devices one person may have: remembering one more forgets the
    /// oldest.
    pub const fn max_devices(&self) -> u32 {
        self.max_devices
    }
}

/// Builds a [`SessionConfig`].
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct SessionConfigBuilder {
    config: SessionConfig,
}

impl SessionConfigBuilder {
    /// The lifetime of an AAL1 session: 5 minutes to 30 days.
    pub const fn aal1_lifetime(mut self, seconds: u64) -> Self {
        self.config.aal1_lifetime = seconds;
        self
    }

    /// The idle timeout of an AAL1 session: 5 minutes up to its lifetime.
    pub const fn aal1_idle_timeout(mut self, seconds: u64) -> Self {
        self.config.aal1_idle = seconds;
        self
    }

    /// The lifetime of an AAL2 session: 5 minutes to 24 hours.
    pub const fn aal2_lifetime(mut self, seconds: u64) -> Self {
        self.config.aal2_lifetime = seconds;
        self
    }

    /// The idle timeout of an AAL2 session: 5 minutes to 1 hour, and at most its lifetime.
    pub const fn aal2_idle_timeout(mut self, seconds: u64) -> Self {
        self.config.aal2_idle = seconds;
        self
    }

    /// The least time between two writes of `last_seen`: 1 second to a quarter of the shorter
    /// idle timeout.
    pub const fn touch_interval(mut self, seconds: u64) -> Self {
        self.config.touch_interval = seconds;
        self
    }

    /// How long a remembered device stays trusted: 1 day to 90 days.
    pub const fn device_lifetime(mut self, seconds: u64) -> Self {
        self.config.device_lifetime = seconds;
        self
    }

    /// The most remembered devices per person: 1 to 50.
    pub const fn max_devices(mut self, count: u32) -> Self {
        self.config.max_devices = count;
        self
    }

    /// Checks and returns the configuration: [`PolicyError::InvalidSessionConfig`] names the
    /// first value out of bounds.
    pub fn build(self) -> Result<SessionConfig, PolicyError> {
        let c = self.config;
        let invalid = |what| Err(PolicyError::InvalidSessionConfig(what));
        let shorter_idle = if c.aal1_idle < c.aal2_idle {
            c.aal1_idle
        } else {
            c.aal2_idle
        };
        if !(SessionConfig::MIN_TIMEOUT..=SessionConfig::MAX_AAL1_LIFETIME)
            .contains(&c.aal1_lifetime)
        {
            invalid("the AAL1 lifetime must be 5 minutes to 30 days")
        } else if !(SessionConfig::MIN_TIMEOUT..=c.aal1_lifetime).contains(&c.aal1_idle) {
            invalid("the AAL1 idle timeout must be 5 minutes up to the AAL1 lifetime")
        } else if !(SessionConfig::MIN_TIMEOUT..=SessionConfig::MAX_AAL2_LIFETIME)
            .contains(&c.aal2_lifetime)
        {
            invalid("the AAL2 lifetime must be 5 minutes to 24 hours")
        } else if !(SessionConfig::MIN_TIMEOUT..=SessionConfig::MAX_AAL2_IDLE)
            .contains(&c.aal2_idle)
            || c.aal2_idle > c.aal2_lifetime
        {
            invalid("the AAL2 idle timeout must be 5 minutes to 1 hour, and at most its lifetime")
        } else if !(1..=shorter_idle / 4).contains(&c.touch_interval) {
            invalid("the touch interval must be 1 second to a quarter of the idle timeout")
        } else if !(DAY..=SessionConfig::MAX_DEVICE_LIFETIME).contains(&c.device_lifetime) {
            invalid("the device lifetime must be 1 day to 90 days")
        } else if !(1..=SessionConfig::MAX_DEVICES).contains(&c.max_devices) {
            invalid("the remembered-device limit must be 1 to 50")
        } else {
            Ok(c)
        }
    }
}

/// What the host says about where a session was opened, for a "where you're signed in" list:
/// each label at most [`SessionLabels::MAX_LEN`] characters, control characters dropped. Not
/// secrets, but personal data: they are shown to the person and never decide anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionLabels {
    user_agent: Option<String>,
    ip: Option<String>,
}

impl SessionLabels {
    /// The longest label kept, in characters; longer ones are cut.
    pub const MAX_LEN: usize = 256;

    /// No labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// With the client's user agent.
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = clean(user_agent);
        self
    }

    /// With the client's address, as the host sees it.
    #[must_use]
    pub fn with_ip(mut self, ip: &str) -> Self {
        self.ip = clean(ip);
        self
    }

    /// The user agent, if given.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The address, if given.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

fn clean(label: &str) -> Option<String> {
    let kept: String = label
        .chars()
        .filter(|c| !c.is_control())
        .take(SessionLabels::MAX_LEN)
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// A session as the store keeps it (keyed by its token's digest, which is not part of it).
///
/// Made by [`SessionRecord::start`] from the grant of a completed login; changed only by the
/// transitions below, each written back with a store verb.
///
/// # Decisions
///
/// - **Roles are re-read on every check.** The grant is built from the live membership
///   ([`Member::effective_role`] at the time of the request), so a role change (or a delegation
///   starting or lapsing) takes effect on the next request without touching the session, and a
///   role change does not bump the epoch. Removal from the organisation and deactivation of the
///   membership refuse the session at once ([`SessionRefused::NotAMember`],
///   [`SessionRefused::MemberDeactivated`]).
/// - **The security epoch ends sessions.** A person's epoch is a counter the store bumps on
///   every change that must end their other sessions: a password change or reset, MFA turned on
///   or off, a factor added or removed, an administrator's MFA reset, deactivation, and "sign
///   out everywhere". A session records the epoch it was created at; once the person's epoch
///   has moved on, the session is dead ([`SessionRefused::StaleEpoch`]), even if its row
///   survived a race with the bump. Device tokens die with the epoch in the same way.
/// - **A recovery code counts as fresh.** A recovery code is a look-up secret, an AAL2 factor
///   (NIST SP 800-63B §5.1.2), and the person who signs in with one has usually lost their
///   authenticator and must be able to remove it: a re-authentication with a recovery code
///   satisfies [`SessionRecord::require_fresh`] like any other second factor. The use is audited
///   and noticed to the person by the service, as every recovery-code sign-in is.
/// - **A remembered device stands in for the second factor, and is never fresh.** "Remember
///   this device" ([`DeviceTokenRecord`]) is issued only from a session at AAL2 whose real
///   second factor was verified within the pending-login ticket lifetime, in an organisation
///   that allows remembered devices. At a later login of the same person it answers the
///   second-factor challenge: the grant's factors are the password and
///   [`Factor::RememberedDevice`]; it is AAL2 for authorisation and satisfies the
///   organisation's MFA policy (the device was bound by a full MFA login), but it is never
///   fresh ([`FactorSet::rests_on_remembered_device`], [`Grant::is_fresh`],
///   [`SessionRecord::require_fresh`]): the sensitive verbs (factors, MFA off, the password,
///   organisation security settings, roles) ask for a re-authentication with a real second
///   factor, which replaces the device in the session's factors, and a device login cannot
///   remember another device. A device token vouches for the person, not for the kind of
///   factor that bound it: an organisation that counts only some kinds and wants every login
///   to show one forbids remembered devices
///   ([`Organisation::allows_remembered_devices`](crate::policy::organisation::Organisation::allows_remembered_devices)).
///   Forbidding them stops their use at the next login to that organisation; sessions already
///   open run their course (end them with an epoch bump). A device token dies with the epoch,
///   at its expiry ([`SessionConfig::device_lifetime`]), and when remembering one more than
///   [`SessionConfig::max_devices`] forgets the person's oldest.
/// - **The token rotates whenever privilege changes**: the login completing creates a new
///   token, and a step-up or re-authentication ([`SessionRecord::reauthenticated`],
///   [`SessionRecord::raised`]) is written with
///   [`SessionStore::rotate_session`](crate::store::SessionStore::rotate_session), which replaces
///   the digest, so a token fixated before the change is worthless after it.
///
/// # Timeouts
///
/// [`SessionConfig`] holds them, with the defaults of NIST SP 800-63B rev. 4 §2.2.3 and §2.1.3:
/// at AAL2, reauthentication at least every 24 hours and after 1 hour of inactivity; at AAL1,
/// every 30 days. `last_seen` is written at most once per [`SessionConfig::touch_interval`], so
/// the idle timeout is measured from a moment at most that long before the last request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The public handle.
    pub id: SessionId,
    /// The person.
    pub person: PersonId,
    /// The organisation signed in to.
    pub org: OrgId,
    /// The assurance level.
    pub aal: Aal,
    /// The factors presented (at the login, or at the latest re-authentication).
    pub factors: FactorSet,
    /// When the login completed.
    pub authenticated_at: u64,
    /// When the factors were last verified (the login, or the latest re-authentication).
    pub verified_at: u64,
    /// When the session was last seen (written at most once per touch interval).
    pub last_seen: u64,
    /// When it expires for inactivity, unless seen again: `last_seen` plus the idle timeout,
    /// never past `expires_at`.
    pub idle_expires_at: u64,
    /// When it expires, however active: the latest full authentication plus the lifetime at
    /// its assurance level.
    pub expires_at: u64,
    /// The person's security epoch when the session was created (or last carried over).
    pub epoch: u64,
}

impl SessionRecord {
    /// The session a completed login opens: `grant`'s person, organisation, factors and
    /// assurance level, at the person's current security `epoch` (read before the login
    /// completed: [`SessionStore::create_session`](crate::store::SessionStore::create_session)
    /// writes it only if the epoch is still that one).
    pub fn start(id: SessionId, grant: &Grant, epoch: u64, config: &SessionConfig) -> Self {
        let now = grant.verified_at();
        let expires_at = now.saturating_add(config.lifetime(grant.aal()));
        Self {
            id,
            person: grant.person(),
            org: grant.org(),
            aal: grant.aal(),
            factors: grant.factors(),
            authenticated_at: grant.authenticated_at(),
            verified_at: now,
            last_seen: now,
            idle_expires_at: idle_expiry(now, grant.aal(), expires_at, config),
            expires_at,
            epoch,
        }
    }

    /// The session after the person verified `factors` again at `now` (the host verified
    /// them): its assurance level becomes the one they reach (a password-only
    /// re-authentication lowers an AAL2 session to AAL1), it is fresh, and its lifetime starts
    /// again. Write it with a new token
    /// ([`SessionStore::rotate_session`](crate::store::SessionStore::rotate_session)).
    #[must_use]
    pub fn reauthenticated(&self, factors: FactorSet, config: &SessionConfig, now: u64) -> Self {
        let aal = aal_of(factors);
        let expires_at = now.saturating_add(config.lifetime(aal));
        Self {
            aal,
            factors,
            verified_at: now,
            last_seen: now,
            idle_expires_at: idle_expiry(now, aal, expires_at, config),
            expires_at,
            ..*self
        }
    }

    /// The session after the person confirmed a second factor inside it at `now` (their first
    /// authenticator, or a step-up): `second` joins the factors, so a password session reaches
    /// AAL2 and is fresh. The lifetime never grows: the session ends at the earlier of its old
    /// end and the AAL2 lifetime from now. Write it with a new token
    /// ([`SessionStore::rotate_session`](crate::store::SessionStore::rotate_session)).
    #[must_use]
    pub fn raised(&self, second: Factor, config: &SessionConfig, now: u64) -> Self {
        let factors = self.factors.with(second);
        let aal = aal_of(factors);
        let expires_at = self
            .expires_at
            .min(now.saturating_add(config.lifetime(aal)));
        Self {
            aal,
            factors,
            verified_at: now,
            last_seen: now,
            idle_expires_at: idle_expiry(now, aal, expires_at, config),
            expires_at,
            ..*self
        }
    }

    /// Whether the factors were verified at most `max_age` seconds before `now` at assurance
    /// level `aal` or above: GitHub's "sudo mode" for the sensitive verbs. A session verified
    /// in the future is not fresh, nor one resting on a remembered device
    /// ([`FactorSet::rests_on_remembered_device`]).
    /// [`PolicyError::ReauthenticationRequired`] otherwise.
    pub const fn require_fresh(&self, now: u64, max_age: u64, aal: Aal) -> Result<(), PolicyError> {
        let fresh = match now.checked_sub(self.verified_at) {
            Some(age) => age <= max_age && !self.factors.rests_on_remembered_device(),
            None => false,
        };
        if fresh && self.aal as u8 >= aal as u8 {
            Ok(())
        } else {
            Err(PolicyError::ReauthenticationRequired)
        }
    }
}

fn idle_expiry(now: u64, aal: Aal, expires_at: u64, config: &SessionConfig) -> u64 {
    now.saturating_add(config.idle_timeout(aal)).min(expires_at)
}

/// A session listed for a "where you're signed in" page: the record and its labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedSession {
    /// The session.
    pub record: SessionRecord,
    /// Where it was opened.
    pub labels: SessionLabels,
}

/// What the per-request read returns: the session, and the live state it is checked against,
/// read together ([`SessionStore::session`](crate::store::SessionStore::session)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// The stored session.
    pub session: SessionRecord,
    /// The person's current security epoch.
    pub epoch: u64,
    /// Whether the person is deactivated everywhere.
    pub deactivated: bool,
    /// The person's membership of the session's organisation, if they are still a member.
    pub member: Option<Member>,
    /// The organisation's MFA policy ([`MfaPolicy::Off`] if the organisation is gone, which
    /// also leaves `member` empty).
    pub policy: MfaPolicy,
}

/// Why a session no longer signs anyone in. Precise, for the host's logs and for a message such
/// as "you were signed out after your password changed"; the client gets the same answer
/// whatever the reason (sign in again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionRefused {
    /// No session has this token: it was revoked, signed out, rotated, pruned, or never issued.
    Revoked,
    /// The person's security epoch moved on (a password change, MFA change, factor change,
    /// deactivation or "sign out everywhere").
    StaleEpoch,
    /// The person is deactivated.
    PersonDeactivated,
    /// The session lived its lifetime: sign in again.
    Expired,
    /// The session stayed idle past its idle timeout.
    IdleExpired,
    /// The person is no longer a member of the session's organisation.
    NotAMember,
    /// The person's membership is deactivated.
    MemberDeactivated,
    /// The organisation enforces MFA, the member's deadline has passed, and the session rests
    /// on no second factor the policy counts.
    MfaRequired,
}

impl core::fmt::Display for SessionRefused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Revoked => "no session has this token",
            Self::StaleEpoch => "the session predates a security change to the account",
            Self::PersonDeactivated => "the person is deactivated",
            Self::Expired => "the session expired",
            Self::IdleExpired => "the session expired for inactivity",
            Self::NotAMember => "the person is no longer a member of the organisation",
            Self::MemberDeactivated => "the membership is deactivated",
            Self::MfaRequired => "the organisation requires a second factor",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SessionRefused {}

/// A `last_seen` write the caller must make
/// ([`SessionStore::touch_session`](crate::store::SessionStore::touch_session)): guarded by the
/// value read, so that of concurrent requests one writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "write it with SessionStore::touch_session"]
pub struct SessionTouch {
    /// The `last_seen` the decision read.
    pub expected_last_seen: u64,
    /// The new `last_seen`.
    pub last_seen: u64,
    /// The new idle expiry.
    pub idle_expires_at: u64,
}

/// A session that stands: the grant for this request, and the `last_seen` write due, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct SessionCheck {
    /// The grant, built from the session and the live membership.
    pub grant: Grant,
    /// The `last_seen` write due (at most one per touch interval).
    pub touch: Option<SessionTouch>,
}

impl SessionView {
    /// The per-request decision at `now`: the grant, or why the session no longer stands. In
    /// order: a stale epoch, a deactivated person, the lifetime, the idle timeout, the
    /// membership, and the organisation's MFA policy ([`MfaPolicy::admits`]).
    pub fn check(&self, config: &SessionConfig, now: u64) -> Result<SessionCheck, SessionRefused> {
        let s = &self.session;
        if s.epoch != self.epoch {
            return Err(SessionRefused::StaleEpoch);
        }
        if self.deactivated {
            return Err(SessionRefused::PersonDeactivated);
        }
        if now >= s.expires_at {
            return Err(SessionRefused::Expired);
        }
        if now >= s.idle_expires_at {
            return Err(SessionRefused::IdleExpired);
        }
        let member = match &self.member {
            Some(member) if member.person() == s.person && member.org() == s.org => member,
            _ => return Err(SessionRefused::NotAMember),
        };
        if !member.is_active() {
            return Err(SessionRefused::MemberDeactivated);
        }
        if !self.policy.admits(member, s.factors, now) {
            return Err(SessionRefused::MfaRequired);
        }
        let grant = Grant::from_session(
            s.person,
            s.org,
            member.effective_role(now),
            s.factors,
            s.aal,
            s.authenticated_at,
            s.verified_at,
        )
        .in_session(s.id);
        let touch =
            (now >= s.last_seen.saturating_add(config.touch_interval())).then(|| SessionTouch {
                expected_last_seen: s.last_seen,
                last_seen: now,
                idle_expires_at: idle_expiry(now, s.aal, s.expires_at, config),
            });
        Ok(SessionCheck { grant, touch })
    }
}

/// A remembered device ("remember this device"), as the store keeps it (keyed by its token's
/// digest): after a full MFA login, its token lets the same person's next login on that device
/// skip the second factor until it expires or the person's security epoch moves on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceTokenRecord {
    /// The person it was issued to.
    pub person: PersonId,
    /// The person's security epoch when it was issued.
    pub epoch: u64,
    /// When it was issued.
    pub created_at: u64,
    /// When it stops working.
    pub expires_at: u64,
}

impl DeviceTokenRecord {
    /// A device token for `person`, issued at `now` at their current `epoch`.
    pub const fn issue(person: PersonId, epoch: u64, config: &SessionConfig, now: u64) -> Self {
        Self {
            person,
            epoch,
            created_at: now,
            expires_at: now.saturating_add(config.device_lifetime()),
        }
    }
}

/// What reading a device token returns: the record and the person's live state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceTokenView {
    /// The stored device token.
    pub token: DeviceTokenRecord,
    /// The person's current security epoch.
    pub epoch: u64,
    /// Whether the person is deactivated.
    pub deactivated: bool,
}

impl DeviceTokenView {
    /// Whether the device token lets `person` skip the second factor at `now`: it was issued to
    /// them, has not expired, and their epoch has not moved on since, and they are active.
    pub const fn trusts(&self, person: PersonId, now: u64) -> bool {
        self.token.person.get() == person.get()
            && now < self.token.expires_at
            && self.token.epoch == self.epoch
            && !self.deactivated
    }
}

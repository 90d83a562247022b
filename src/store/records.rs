//! The plain records the storage traits read and write.

use alloc::string::String;
use core::fmt;

use crate::credential::factor::ThrottledFactor;
use crate::credential::oob::{OobChallenge, OobConfig, OobSendLog, SendDecision};
use crate::credential::phone::PhoneNumber;
use crate::credential::token::TokenDigest;
use crate::policy::ids::{OrgId, PersonId};
use crate::policy::login::{LoginProgress, PasswordState};

/// A stored value with the version it was read at, for compare-and-swap replacement.
///
/// Stores start every record at version 1 and add one on each successful replacement.
#[derive(Debug)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// The version it was read at.
    pub version: u64,
}

/// A person's login name: trimmed and lower-cased (ASCII case folding), so `Alice@Example.com`
/// and `alice@example.com ` are one login. 1 to 254 bytes, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Login(String);

impl Login {
    /// The longest login accepted, in bytes (the longest e-mail address SMTP carries).
    pub const MAX_LEN: usize = 254;

    /// Normalises and checks a login name; `None` if it is empty, too long or has control
    /// characters.
    pub fn new(login: &str) -> Option<Self> {
        let trimmed = login.trim();
        if trimmed.is_empty()
            || trimmed.len() > Self::MAX_LEN
            || trimmed.chars().any(char::is_control)
        {
            return None;
        }
        Some(Self(trimmed.to_ascii_lowercase()))
    }

    /// The normalised login.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The local part of an e-mail login (before the last `@`), or the whole login.
    pub fn local_part(&self) -> &str {
        self.0
            .rsplit_once('@')
            .map_or(self.0.as_str(), |(local, _)| local)
    }
}

/// A person, as the [`UserStore`](crate::store::UserStore) keeps them.
///
/// `password_hash` is a PHC string: not the password, but still an offline-guessing target, so
/// `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// The person's id.
    pub id: PersonId,
    /// The unique login name or e-mail address.
    pub login: Login,
    /// The argon2id PHC string of the password (temporary or their own).
    pub password_hash: String,
    /// Whether the password is their own, temporary, or known compromised.
    pub password_state: PasswordState,
    /// For a temporary password: when it expires (unix seconds).
    pub password_expires_at: Option<u64>,
    /// A deactivated person cannot sign in to any organisation.
    pub deactivated: bool,
    /// A verified phone number for out-of-band codes, if any.
    pub phone: Option<PhoneNumber>,
    /// When the person was created.
    pub created_at: u64,
    /// When the login, an e-mail address, was last proven to reach the person (a verification
    /// link followed, or a setup link completed); `None` while it is unverified. A password
    /// reset goes only to a verified address.
    pub address_verified_at: Option<u64>,
}

impl fmt::Debug for PersonRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonRecord")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("password_hash", &"[REDACTED]")
            .field("password_state", &self.password_state)
            .field("password_expires_at", &self.password_expires_at)
            .field("deactivated", &self.deactivated)
            .field("phone", &self.phone)
            .field("created_at", &self.created_at)
            .field("address_verified_at", &self.address_verified_at)
            .finish()
    }
}

/// A setup token: lets a person added by an administrator set their password once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupTokenRecord {
    /// The digest of the token.
    pub digest: TokenDigest,
    /// Who it is for.
    pub person: PersonId,
    /// The organisation that added them.
    pub org: OrgId,
    /// When it stops working.
    pub expires_at: u64,
}

/// What an account token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccountTokenPurpose {
    /// A forgotten-password link: lets the person choose a new password once.
    PasswordReset,
    /// A link proving that the person's current login, an e-mail address, reaches them.
    VerifyAddress,
    /// A link sent to a new address: following it makes that address the person's login.
    ChangeAddress,
}

/// A single-use token sent to an e-mail address: a password reset or an address verification.
/// Only its digest is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountTokenRecord {
    /// The digest of the token.
    pub digest: TokenDigest,
    /// Who it is for.
    pub person: PersonId,
    /// What it does.
    pub purpose: AccountTokenPurpose,
    /// The person's login when it was issued: the token stands only while it is still theirs.
    pub login: Login,
    /// Where it was sent: the login itself, or for [`AccountTokenPurpose::ChangeAddress`] the
    /// new address.
    pub address: Login,
    /// The person's security epoch when it was issued: a token of any purpose stands only
    /// while the epoch has not moved (a password change, a reset, an MFA change… ends it).
    pub epoch: u64,
    /// When it stops working.
    pub expires_at: u64,
}

/// What [`UserStore::change_login`](crate::store::UserStore::change_login) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginChange {
    /// The login is the new one, verified.
    Changed,
    /// Nothing was written: the person does not exist or their login is no longer the
    /// expected one.
    Stale,
    /// Nothing was written: another person holds the new login.
    Taken,
}

/// What a pending-login ticket allows its holder to do next — and nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PendingStep {
    /// Choose a new password (after a temporary or compromised one).
    ChangePassword,
    /// Enroll an authenticator ("company account verification").
    EnrollMfa,
    /// Present a second factor.
    SecondFactor,
    /// Choose which of the person's organisations to sign in to (the password is verified; the
    /// ticket's progress names no organisation yet).
    ChooseOrganisation,
}

/// A pending-login ticket: the restricted, single-purpose state between the password step and
/// a completed login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketRecord {
    /// The digest of the ticket.
    pub digest: TokenDigest,
    /// What the ticket allows.
    pub step: PendingStep,
    /// The factors verified so far, bound to one person and one organisation (none yet for
    /// [`PendingStep::ChooseOrganisation`]).
    pub progress: LoginProgress,
    /// When it stops working.
    pub expires_at: u64,
}

/// Which of a person's recovery-code sets: the active one, or the one issued during an
/// enrollment that is not acknowledged yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecoverySlot {
    /// The set that signs in.
    Active,
    /// The set shown during an enrollment, made active when the enrollment is acknowledged.
    Pending,
}

/// What an out-of-band challenge is for. A person has at most one challenge per purpose, kept
/// apart by the store, so a code sent for one purpose never answers (or replaces) the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum OobPurpose {
    /// A sign-in code sent to the person's verified phone.
    SignIn,
    /// A code sent to a new phone number to prove possession before it becomes a factor.
    VerifyPhone,
}

impl OobPurpose {
    /// Whether a code for this purpose may be sent now, against the asking person's send log
    /// for this purpose: [`OobConfig::check_send`] for sign-in codes, and
    /// [`OobConfig::check_verification_send`] (the daily cap as well) for phone verifications.
    /// What a store's [`SecretStore::record_oob_send`](crate::store::SecretStore::record_oob_send)
    /// decides with.
    pub fn check_send(self, config: &OobConfig, log: &OobSendLog, now: u64) -> SendDecision {
        match self {
            Self::SignIn => config.check_send(log, now),
            Self::VerifyPhone => config.check_verification_send(log, now),
        }
    }

    /// The send log after an allowed send at `now`: [`OobSendLog::record`] for sign-in codes,
    /// [`OobSendLog::record_verification`] for phone verifications.
    pub fn record_send(self, log: &OobSendLog, now: u64) -> OobSendLog {
        match self {
            Self::SignIn => log.record(now),
            Self::VerifyPhone => log.record_verification(now),
        }
    }
}

/// A stored out-of-band challenge and where its code was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OobChallengeRecord {
    /// Where the code was sent. For [`OobPurpose::VerifyPhone`], the number that becomes the
    /// person's phone once the code is confirmed.
    pub destination: PhoneNumber,
    /// The keyed hash of the code, with its expiry, attempts left and status.
    pub challenge: OobChallenge,
}

/// What [`SecretStore::prune_expired`](crate::store::SecretStore::prune_expired) deleted: how many rows
/// of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PruneReport {
    /// Pending-login tickets past their expiry.
    pub tickets: u64,
    /// Setup tokens past their expiry.
    pub setup_tokens: u64,
    /// Out-of-band challenges past their expiry (any purpose).
    pub oob_challenges: u64,
    /// Out-of-band send logs whose last send left the hourly window.
    pub oob_send_logs: u64,
    /// Password-reset and address-verification tokens past their expiry.
    pub account_tokens: u64,
    /// Throttle counters that are forgotten ([`ThrottleState::forget_at`](crate::credential::throttle::ThrottleState::forget_at)
    /// `<= now`), from [`UserStore::prune_throttles`](crate::store::UserStore::prune_throttles); filled
    /// in by [`Authenticator::prune_expired`](crate::service::Authenticator::prune_expired).
    pub throttles: u64,
    /// Invitations past their expiry, from
    /// [`InvitationStore::prune_invitations`](crate::store::InvitationStore::prune_invitations);
    /// filled in by [`Authenticator::prune_expired`](crate::service::Authenticator::prune_expired).
    pub invitations: u64,
    /// Passkey ceremony states past their expiry (feature `passkeys`; 0 without it), from
    /// [`PasskeyStore::prune_passkey_challenges`](crate::store::PasskeyStore::prune_passkey_challenges),
    /// which the bundled stores run from their `prune_expired`.
    pub passkey_ceremonies: u64,
}

impl PruneReport {
    /// The rows deleted, all kinds together.
    pub fn total(&self) -> u64 {
        self.tickets
            .saturating_add(self.setup_tokens)
            .saturating_add(self.oob_challenges)
            .saturating_add(self.oob_send_logs)
            .saturating_add(self.account_tokens)
            .saturating_add(self.throttles)
            .saturating_add(self.invitations)
            .saturating_add(self.passkey_ceremonies)
    }
}

/// A change to a throttle counter, applied atomically by
/// [`UserStore::apply_throttle`](crate::store::UserStore::apply_throttle). Failures are not among them:
/// an attempt is counted before it is verified, by
/// [`UserStore::reserve_attempt`](crate::store::UserStore::reserve_attempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleOp {
    /// A verified attempt: settles its reservation by clearing the counter, lock included
    /// ([`ThrottlePolicy::record_success`](crate::credential::throttle::ThrottlePolicy::record_success)).
    Success,
    /// An explicit reset (an administrator, or a re-enrollment): clears failures and lock.
    Reset,
}

/// Which throttle counter: one second-factor counter of a person, or the password counter of a
/// login name.
///
/// The service counts password attempts per normalised login name ([`ThrottleKey::Login`]),
/// whether or not a person holds that login, so that an unknown name is throttled exactly as a
/// real one and the answers do not tell which logins exist (OWASP ASVS V2.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ThrottleKey {
    /// One factor's counter of one person (the service uses it for the second factors).
    Factor(PersonId, ThrottledFactor),
    /// The password counter of a normalised login name, known or not. Since counters exist for
    /// names nobody holds (a mistyped login, a password typed into the login field), a store
    /// that writes to disk keeps a keyed digest of the name, never the name: the SQL stores key
    /// `throttle_keys` by HMAC-SHA-256 under a key derived from the current sealing key. A
    /// counter for a name nobody holds lives only until it is forgotten and pruned
    /// ([`UserStore::prune_throttles`](crate::store::UserStore::prune_throttles)).
    Login(Login),
    /// The password-reset requests for a normalised login name, known or not (so that an
    /// unknown name is throttled exactly as a real one). Stored like [`ThrottleKey::Login`]:
    /// the SQL stores keep a keyed digest of the name.
    ResetLogin(Login),
    /// The password-reset requests of one requester: the host's key for the client (its IP
    /// address, say). The SQL stores keep a keyed digest of it, never the value.
    Requester(String),
}

impl ThrottleKey {
    /// A person's counter for a second factor (or, for hosts that keep one, the password).
    pub const fn factor(person: PersonId, factor: ThrottledFactor) -> Self {
        Self::Factor(person, factor)
    }

    /// The password counter of a login name.
    pub fn login(login: &Login) -> Self {
        Self::Login(login.clone())
    }

    /// The password-reset request counter of a login name.
    pub fn reset_login(login: &Login) -> Self {
        Self::ResetLogin(login.clone())
    }

    /// The password-reset request counter of a requester (the host's key for the client).
    pub fn requester(requester: &str) -> Self {
        Self::Requester(String::from(requester))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_normalisation() {
        let login = Login::new("  Alice@Example.COM ").unwrap();
        assert_eq!(login.as_str(), "alice@example.com");
        assert_eq!(login.local_part(), "alice");
        assert!(Login::new("   ").is_none());
        assert!(Login::new("a\nb").is_none());
        assert!(Login::new(&"a".repeat(255)).is_none());
    }
}

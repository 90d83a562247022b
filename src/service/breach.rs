//! Breached passwords at the service: [`BreachedPasswords`], the async range query a host plugs
//! in (an online range API, or any offline [`BreachCorpus`]), and the one check every new
//! password goes through.
//!
//! Where a password is set or changed ([`Authenticator::sign_up`],
//! [`Authenticator::change_password`], [`Authenticator::change_password_at_login`],
//! [`Authenticator::complete_setup`], and any later verb that sets one), the service runs the
//! [`PasswordPolicy`](crate::credential::password::PasswordPolicy) first (length, the built-in
//! list of common passwords, context words), then, if a corpus is configured
//! ([`ServiceConfigBuilder::breached_passwords`]), one range query: only the five-hex-digit
//! SHA-1 prefix leaves the process, and the suffix is compared here in constant time. A
//! password seen at least [`BreachSettings::min_count`] times is refused with
//! [`PolicyViolation::Breached`] (as [`ServiceError::PasswordPolicy`]), before any argon2 work
//! and before anything is written.
//!
//! # When the corpus cannot answer
//!
//! By default the password is **accepted** and the failure audited
//! ([`AuditKind::BreachCheckUnavailable`] with `refused: false`): the password still met the
//! policy and the built-in list, and refusing would stop every sign-up and every password
//! change while the range API is down — among them the change of a person whose password has
//! just leaked. A host that prefers to fail closed sets [`OnUnavailable::Refuse`]: the verb then
//! fails with [`ServiceError::BreachCheckUnavailable`] (with the corpus's [`BreachError`]), nothing written, also audited. Never a
//! panic either way.
//!
//! [`ServiceConfigBuilder::breached_passwords`]: super::ServiceConfigBuilder::breached_passwords

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;

use super::{Authenticator, ServiceError};
use crate::credential::password::Password;
use crate::credential::password::breach::{
    BreachCorpus, BreachError, BreachQuery, BreachRange, RangePrefix,
};
use crate::credential::password::policy::{PasswordContext, PolicyViolation};
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::ids::PersonId;
use crate::service::backend::Backend;

/// The future a [`BreachedPasswords`] returns: boxed, so the trait can be held as
/// `dyn BreachedPasswords` in the [`ServiceConfig`](super::ServiceConfig).
pub type RangeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<BreachRange, BreachError>> + Send + 'a>>;

/// A breach corpus the service queries by k-anonymity: given the five hex digits of a SHA-1
/// prefix, every suffix it holds under them, with counts.
///
/// Every offline [`BreachCorpus`] is one ([`RangeFile`], [`RangeDirectory`],
/// [`CommonPasswords`]: answered inline on the calling task). A host implements it for an online
/// range API with its own HTTP client: send `prefix.as_str()`, parse the body with
/// [`BreachRange::parse`], map any transport failure, timeout or error status to
/// [`BreachError::Unavailable`]. The README shows one. The implementation never sees the
/// password or its full hash.
///
/// [`RangeFile`]: crate::credential::password::RangeFile
/// [`RangeDirectory`]: crate::credential::password::RangeDirectory
/// [`CommonPasswords`]: crate::credential::password::CommonPasswords
pub trait BreachedPasswords: Send + Sync {
    /// Every entry the corpus holds under `prefix`.
    fn fetch_range(&self, prefix: RangePrefix) -> RangeFuture<'_>;
}

impl<C: BreachCorpus> BreachedPasswords for C {
    fn fetch_range(&self, prefix: RangePrefix) -> RangeFuture<'_> {
        Box::pin(core::future::ready(BreachCorpus::range(self, &prefix)))
    }
}

/// What happens to a new password when the corpus cannot answer (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnUnavailable {
    /// Accept the password (it met the policy); audit the failure. The default.
    #[default]
    Accept,
    /// Refuse it with [`ServiceError::BreachCheckUnavailable`]; audit the failure.
    Refuse,
}

/// The breach check of a [`ServiceConfig`](super::ServiceConfig): the corpus, how many
/// sightings refuse a password, and what a failure to answer means.
#[derive(Clone)]
pub struct BreachSettings {
    corpus: Arc<dyn BreachedPasswords>,
    min_count: u64,
    on_unavailable: OnUnavailable,
}

impl BreachSettings {
    /// Queries `corpus`; a password seen once is refused; a failure accepts it (audited).
    pub fn new(corpus: impl BreachedPasswords + 'static) -> Self {
        Self {
            corpus: Arc::new(corpus),
            min_count: 1,
            on_unavailable: OnUnavailable::Accept,
        }
    }

    /// Refuses a password seen at least `count` times (at least 1: 0 is taken as 1, since a
    /// count of 0 means "not found", and the padding some APIs add has count 0).
    #[must_use]
    pub fn min_count(mut self, count: u64) -> Self {
        self.min_count = count.max(1);
        self
    }

    /// What a failure to answer means (default [`OnUnavailable::Accept`]).
    #[must_use]
    pub fn on_unavailable(mut self, choice: OnUnavailable) -> Self {
        self.on_unavailable = choice;
        self
    }

    /// How many sightings refuse a password.
    pub fn threshold(&self) -> u64 {
        self.min_count
    }

    /// What a failure to answer means.
    pub fn when_unavailable(&self) -> OnUnavailable {
        self.on_unavailable
    }
}

impl fmt::Debug for BreachSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreachSettings")
            .field("min_count", &self.min_count)
            .field("on_unavailable", &self.on_unavailable)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Authenticator<B> {
    /// Checks a new password: the policy, then the breach corpus if one is configured. The one
    /// gate every verb that sets a password goes through (a password reset too), before any
    /// hashing or writing. `person` is whose password it is, when they exist yet (for the
    /// audit trail).
    pub(super) async fn check_new_password(
        &self,
        password: &Password,
        context: &PasswordContext<'_>,
        person: Option<PersonId>,
        now: u64,
    ) -> Result<(), ServiceError> {
        self.config
            .password_policy
            .check(password, context)
            .map_err(ServiceError::PasswordPolicy)?;
        let Some(breach) = &self.config.breach else {
            return Ok(());
        };
        let query = BreachQuery::new(password);
        match breach.corpus.fetch_range(query.prefix()).await {
            Ok(range) if query.count_in(&range) >= breach.min_count => {
                Err(ServiceError::PasswordPolicy(PolicyViolation::Breached))
            }
            Ok(_) => Ok(()),
            Err(error) => {
                let refused = breach.on_unavailable == OnUnavailable::Refuse;
                let actor = person.map_or(Actor::System, Actor::Person);
                self.record_one(
                    now,
                    actor,
                    person,
                    None,
                    AuditKind::BreachCheckUnavailable { refused },
                )
                .await?;
                if refused {
                    Err(ServiceError::BreachCheckUnavailable(error))
                } else {
                    Ok(())
                }
            }
        }
    }
}

//! What an [`Authenticator`](crate::service::Authenticator) drives, behind one type parameter:
//! the [`Backend`] trait, and [`Services`], the ready-made backend that holds the five parts side
//! by side.

#[cfg(not(feature = "tokio"))]
use crate::credential::password::hash::PasswordHasher;
use crate::error::Error;
use crate::otp::clock::{Clock, SystemClock};
#[cfg(feature = "tokio")]
use crate::service::hashing::BlockingPoolHasher;
use crate::service::hashing::PasswordHashing;
use crate::store::login::LoginStore;
use crate::store::{AuditSink, Notifier};

/// The capabilities an [`Authenticator`](crate::service::Authenticator) drives: the store, the
/// clock, the audit sink, the notifier and the password hasher.
///
/// [`Services`] implements it for any five parts, and the bundled stores come with ready ones
/// ([`MemoryStore::backend`](crate::store::MemoryStore::backend), `SqliteStore::backend`,
/// `PostgresStore::backend`). A host implements it itself when the parts already live together
/// in its own application state.
///
/// ```
/// # #[cfg(feature = "memory")] {
/// use authcore::otp::SystemClock;
/// use authcore::store::{MemoryAuditLog, RecordingNotifier};
/// use authcore::{Backend, MemoryStore, PasswordHasher};
///
/// /// The host's application state, which holds the parts already.
/// struct AppState {
///     db: MemoryStore,
///     audit: MemoryAuditLog,
///     mail: RecordingNotifier,
///     hasher: PasswordHasher,
/// }
///
/// impl Backend for AppState {
///     type Store = MemoryStore;
///     type Clock = SystemClock;
///     type Audit = MemoryAuditLog;
///     type Notifier = RecordingNotifier;
///     type Hasher = PasswordHasher;
///
///     fn store(&self) -> &MemoryStore {
///         &self.db
///     }
///     fn clock(&self) -> &SystemClock {
///         &SystemClock
///     }
///     fn audit(&self) -> &MemoryAuditLog {
///         &self.audit
///     }
///     fn notifier(&self) -> &RecordingNotifier {
///         &self.mail
///     }
///     fn hasher(&self) -> &PasswordHasher {
///         &self.hasher
///     }
/// }
/// # }
/// ```
pub trait Backend: Send + Sync {
    /// People, organisations, memberships and throttle counters ([`UserStore`]), and
    /// authenticator secrets, recovery codes, out-of-band codes, setup tokens and tickets
    /// ([`SecretStore`]), sessions, remembered devices and security epochs ([`SessionStore`]),
    /// with the login steps over them ([`LoginStore`]), and invitations
    /// ([`InvitationStore`](crate::store::InvitationStore)): one store.
    ///
    /// One type, because a login step reads the person, their organisation, the throttle
    /// counters, the MFA state and the pending-login ticket together, and writes its outcome to
    /// several of them at once: they belong in one database, where one transaction can cover
    /// them. A host whose data is split implements both traits on one type that holds both
    /// handles.
    ///
    /// [`UserStore`]: crate::store::UserStore
    /// [`SecretStore`]: crate::store::SecretStore
    /// [`SessionStore`]: crate::store::SessionStore
    type Store: LoginStore;
    /// The time.
    type Clock: Clock;
    /// The audit trail.
    type Audit: AuditSink;
    /// Delivers codes, setup links and security notices.
    type Notifier: Notifier;
    /// Runs password hashing and recovery-code derivation.
    type Hasher: PasswordHashing;

    /// The store.
    fn store(&self) -> &Self::Store;
    /// The clock.
    fn clock(&self) -> &Self::Clock;
    /// The audit sink.
    fn audit(&self) -> &Self::Audit;
    /// The notifier.
    fn notifier(&self) -> &Self::Notifier;
    /// The password hasher.
    fn hasher(&self) -> &Self::Hasher;
}

/// The hasher of the ready backends: argon2id with the OWASP parameters
/// ([`PasswordHasher::builder`](crate::credential::password::PasswordHasher::builder) with no
/// change), run on tokio's blocking pool with feature `tokio`
/// ([`BlockingPoolHasher`](crate::service::BlockingPoolHasher)), inline on the calling thread
/// without it ([`PasswordHasher`](crate::credential::password::PasswordHasher)).
///
/// Turning on `tokio` changes this type. Code that names it through the defaults of
/// [`Services`] and builds the value with [`Services::new`] or a store's `backend` compiles either
/// way; code that needs one particular hasher names it.
#[cfg(feature = "tokio")]
pub type DefaultHashing = BlockingPoolHasher;

/// The hasher of the ready backends: argon2id with the OWASP parameters
/// ([`PasswordHasher::builder`](crate::credential::password::PasswordHasher::builder) with no
/// change), run on tokio's blocking pool with feature `tokio` (`BlockingPoolHasher`), inline on
/// the calling thread without it ([`PasswordHasher`](crate::credential::password::PasswordHasher)).
///
/// Turning on `tokio` changes this type. Code that names it through the defaults of
/// [`Services`] and builds the value with [`Services::new`] or a store's `backend` compiles either
/// way; code that needs one particular hasher names it.
#[cfg(not(feature = "tokio"))]
pub type DefaultHashing = PasswordHasher;

/// A [`Backend`] made of its five parts, each a public field.
///
/// [`Services::new`] takes the store, the audit sink and the notifier and adds the defaults: the
/// [`SystemClock`] and the [`DefaultHashing`] hasher. The `with_*` methods swap one part, for
/// example a hand-driven clock in tests or a peppered hasher:
///
/// ```
/// # #[cfg(feature = "memory")] {
/// use std::sync::Arc;
///
/// use authcore::otp::ManualClock;
/// use authcore::{Authenticator, MemoryStore, ServiceConfig};
///
/// # fn main() -> Result<(), authcore::Error> {
/// let clock = Arc::new(ManualClock::new(1_800_000_000));
/// let backend = MemoryStore::backend()?.with_clock(Arc::clone(&clock));
/// let auth = Authenticator::new(backend, ServiceConfig::builder("Example Co").build()?);
/// # let _ = auth;
/// # Ok(()) }
/// # main().unwrap(); }
/// ```
#[derive(Debug)]
pub struct Services<S, A, N, C = SystemClock, H = DefaultHashing> {
    /// People, organisations, memberships and throttle counters, and authenticator secrets,
    /// recovery codes, out-of-band codes, setup tokens and tickets (see [`Backend::Store`]).
    pub store: S,
    /// The audit trail.
    pub audit: A,
    /// Delivers codes, setup links and security notices.
    pub notifier: N,
    /// The time.
    pub clock: C,
    /// Runs password hashing ([`DefaultHashing`], or any [`PasswordHashing`]).
    pub hasher: H,
}

impl<S, A, N> Services<S, A, N> {
    /// The parts the host supplies, with the [`SystemClock`] and the [`DefaultHashing`] hasher.
    ///
    /// Fails only if the default argon2 parameters cannot be set up, which does not happen with
    /// a working argon2.
    pub fn new(store: S, audit: A, notifier: N) -> Result<Self, Error> {
        Ok(Self {
            store,
            audit,
            notifier,
            clock: SystemClock,
            hasher: default_hasher()?,
        })
    }
}

/// argon2id with the OWASP parameters, on tokio's blocking pool with feature `tokio`.
fn default_hasher() -> Result<DefaultHashing, Error> {
    let hasher = crate::credential::password::hash::PasswordHasher::builder().build()?;
    #[cfg(feature = "tokio")]
    let hasher = BlockingPoolHasher::new(hasher);
    Ok(hasher)
}

impl<S, A, N, C, H> Services<S, A, N, C, H> {
    /// The same parts with `clock` in place of the clock.
    pub fn with_clock<C2>(self, clock: C2) -> Services<S, A, N, C2, H> {
        let Self {
            store,
            audit,
            notifier,
            hasher,
            ..
        } = self;
        Services {
            store,
            audit,
            notifier,
            clock,
            hasher,
        }
    }

    /// The same parts with `audit` in place of the audit sink.
    pub fn with_audit<A2>(self, audit: A2) -> Services<S, A2, N, C, H> {
        let Self {
            store,
            notifier,
            clock,
            hasher,
            ..
        } = self;
        Services {
            store,
            audit,
            notifier,
            clock,
            hasher,
        }
    }

    /// The same parts with `notifier` in place of the notifier.
    pub fn with_notifier<N2>(self, notifier: N2) -> Services<S, A, N2, C, H> {
        let Self {
            store,
            audit,
            clock,
            hasher,
            ..
        } = self;
        Services {
            store,
            audit,
            notifier,
            clock,
            hasher,
        }
    }

    /// The same parts with `hasher` in place of the password hasher.
    pub fn with_hasher<H2>(self, hasher: H2) -> Services<S, A, N, C, H2> {
        let Self {
            store,
            audit,
            notifier,
            clock,
            ..
        } = self;
        Services {
            store,
            audit,
            notifier,
            clock,
            hasher,
        }
    }
}

impl<S, A, N, C, H> Backend for Services<S, A, N, C, H>
where
    S: LoginStore,
    A: AuditSink,
    N: Notifier,
    C: Clock,
    H: PasswordHashing,
{
    type Store = S;
    type Clock = C;
    type Audit = A;
    type Notifier = N;
    type Hasher = H;

    fn store(&self) -> &S {
        &self.store
    }

    fn clock(&self) -> &C {
        &self.clock
    }

    fn audit(&self) -> &A {
        &self.audit
    }

    fn notifier(&self) -> &N {
        &self.notifier
    }

    fn hasher(&self) -> &H {
        &self.hasher
    }
}

//! The ready backends of the bundled stores: a store with its defaults beside it, so that a host
//! writes none of the parts it does not want to choose.
//!
//! This is the one service module that names store implementations (tests/layers.rs allows it
//! and no other): it only assembles them, and holds no service logic.

use crate::error::Error;
#[cfg(feature = "memory")]
use crate::otp::clock::SystemClock;
#[cfg(feature = "memory")]
use crate::service::backend::DefaultHashing;
use crate::service::backend::Services;
#[cfg(feature = "memory")]
use crate::store::memory::{MemoryAuditLog, MemoryStore, RecordingNotifier};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::store::{AuditSink, Notifier};

/// The ready backend of [`MemoryStore`]: the store, its [`MemoryAuditLog`] and
/// [`RecordingNotifier`], a clock (the [`SystemClock`] unless swapped) and a hasher (the
/// [`DefaultHashing`] one unless swapped). [`MemoryStore::backend`] makes one.
#[cfg(feature = "memory")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory")))]
pub type MemoryBackend<C = SystemClock, H = DefaultHashing> =
    Services<MemoryStore, MemoryAuditLog, RecordingNotifier, C, H>;

#[cfg(feature = "memory")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory")))]
impl MemoryStore {
    /// A fresh store in a ready [`Backend`](crate::service::Backend): an empty audit log, a
    /// notifier that records what it would send, the [`SystemClock`] and the default hasher
    /// ([`DefaultHashing`]). Swap a part with the `with_*` methods of [`Services`]; read the
    /// parts back through [`Authenticator::backend`](crate::service::Authenticator::backend).
    ///
    /// Fails only if the default argon2 parameters cannot be set up.
    pub fn backend() -> Result<MemoryBackend, Error> {
        Services::new(
            MemoryStore::new(),
            MemoryAuditLog::new(),
            RecordingNotifier::new(),
        )
    }
}

#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
impl crate::store::sql::sqlite::SqliteStore {
    /// This store in a ready [`Backend`](crate::service::Backend) with the host's audit sink and
    /// notifier, the [`SystemClock`](crate::otp::clock::SystemClock) and the default hasher
    /// ([`DefaultHashing`](crate::service::DefaultHashing)): [`Services::new`] with this store.
    ///
    /// Fails only if the default argon2 parameters cannot be set up.
    pub fn backend<A: AuditSink, N: Notifier>(
        self,
        audit: A,
        notifier: N,
    ) -> Result<Services<Self, A, N>, Error> {
        Services::new(self, audit, notifier)
    }
}

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
impl crate::store::sql::postgres::PostgresStore {
    /// This store in a ready [`Backend`](crate::service::Backend) with the host's audit sink and
    /// notifier, the [`SystemClock`](crate::otp::clock::SystemClock) and the default hasher
    /// ([`DefaultHashing`](crate::service::DefaultHashing)): [`Services::new`] with this store.
    ///
    /// Fails only if the default argon2 parameters cannot be set up.
    pub fn backend<A: AuditSink, N: Notifier>(
        self,
        audit: A,
        notifier: N,
    ) -> Result<Services<Self, A, N>, Error> {
        Services::new(self, audit, notifier)
    }
}

#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// The layers, bottom to top. Each module imports only from its own layer and the layers below
// it (see each layer's module docs); `tests/layers.rs` checks the graph. Each layer's `mod.rs`
// re-exports its public items, so they are reachable at a short path (`authcore::otp::Totp`,
// `authcore::credential::password::PasswordHasher`, `authcore::policy::OrgId`); the crate root
// re-exports only what a host needs to put the service together.
pub mod credential;
mod error;
pub mod otp;
pub mod policy;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod service;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod store;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod web;

/// The store conformance suite: every storage contract, races included, run against any
/// `LoginStore` (which is a `UserStore` and a `SecretStore`).
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use store::conformance;

// The front door: the service, its configuration and its backend.
#[cfg(feature = "std")]
pub use service::{
    Authenticator, Backend, ErrorClass, LoginStep, ServiceConfig, ServiceConfigBuilder,
    ServiceError, Services,
};

// What a host implements, or picks ready-made.
pub use credential::password::PasswordHasher;
pub use otp::Clock;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use service::BlockingPoolHasher;
#[cfg(feature = "std")]
pub use service::PasswordHashing;
#[cfg(feature = "std")]
pub use store::{AuditSink, LoginStore, Notifier, SecretStore, UserStore};

// The bundled stores.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::PostgresStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use store::SqlStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
#[cfg(feature = "memory")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory")))]
pub use store::{MemoryStore, MemoryStoreError};

// The errors.
pub use error::Error;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use store::{DatabaseError, SqlStoreError};

// The values every host handles.
#[cfg(feature = "std")]
pub use credential::BearerToken;
pub use credential::password::Password;
pub use policy::{Grant, OrgId, PersonId};

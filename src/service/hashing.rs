//! Pluggable password hashing: where the argon2 work runs.
//!
//! An argon2id verification takes tens of milliseconds of CPU and tens of MiB of memory. On an
//! async executor that work must not run on a worker thread, or every other task on it stalls.
//! The service therefore never calls the [`PasswordHasher`] itself: it hands a [`HashJob`] to a
//! [`PasswordHashing`] implementation, which decides where it runs.
//!
//! Recovery codes take the same path: generating a set ([`RecoveryCodeSet::generate`]) and
//! redeeming a code ([`RecoveryCodeSet::redeem`], or [`RecoveryParams::redeem_dummy`] when the
//! person has no set) each derive with argon2id under the
//! [`RecoveryParams`](crate::credential::recovery::RecoveryParams), so they too are [`HashJob`]s (the
//! [`PasswordHasher`] is not used for them).
//!
//! [`PasswordHasher`] itself implements [`PasswordHashing`] by running the job inline: right for
//! tests, benchmarks and hosts without an async runtime. Hosts on tokio move the job to the
//! blocking pool with [`BlockingPoolHasher`] (feature `tokio`), the default hasher of the ready
//! backends when the feature is on. A hasher of the host's own is a few lines; this one counts
//! the jobs and hands them on:
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use authcore::service::{HashJob, HashOutput, PasswordHashing};
//!
//! struct Counting<H> {
//!     inner: H,
//!     jobs: AtomicUsize,
//! }
//!
//! impl<H: PasswordHashing> PasswordHashing for Counting<H> {
//!     async fn run(&self, job: HashJob) -> HashOutput {
//!         self.jobs.fetch_add(1, Ordering::Relaxed);
//!         self.inner.run(job).await
//!     }
//! }
//! # fn main() -> Result<(), authcore::Error> {
//! # let inner = authcore::credential::password::PasswordHasher::builder().build()?;
//! # let _ = Counting { inner, jobs: AtomicUsize::new(0) };
//! # Ok(()) }
//! ```

use core::fmt;
use core::future::Future;

use alloc::boxed::Box;
use alloc::string::String;

use super::ServiceError;
use crate::credential::password::Password;
use crate::credential::password::hash::HashKind;
use crate::credential::password::hash::{
    PasswordHash, PasswordHasher, PasswordVerified, VerifyError,
};
use crate::credential::recovery::{
    NewRecoveryCodes, RecoveryCodeSet, RecoveryParams, RedeemedSlot,
};
use crate::otp::error::Refusal;

/// Runs argon2 jobs (passwords and recovery codes): inline, on a blocking pool, or on dedicated
/// threads.
pub trait PasswordHashing: Send + Sync {
    /// Runs one job with a [`PasswordHasher`] (call [`HashJob::run`]) and returns its output. A
    /// pool that loses the job (a panicked or cancelled task) returns [`HashOutput::failed`].
    fn run(&self, job: HashJob) -> impl Future<Output = HashOutput> + Send;
}

impl PasswordHashing for PasswordHasher {
    /// Runs the job inline, on the calling thread.
    fn run(&self, job: HashJob) -> impl Future<Output = HashOutput> + Send {
        core::future::ready(job.run(self))
    }
}

/// A [`PasswordHasher`] whose jobs run on tokio's blocking pool
/// ([`tokio::task::spawn_blocking`]), so argon2 never stalls the async workers: the hasher for
/// hosts on tokio, and the default of the ready backends with feature `tokio`.
///
/// A job whose blocking task is lost (it panicked, or the runtime shut down) is
/// [`HashOutput::failed`]: the operation fails with [`ServiceError::Hashing`]. Called outside a
/// tokio runtime, where there is no pool to move to, the job runs inline on the calling thread,
/// as with [`PasswordHasher`].
///
/// ```
/// use authcore::credential::password::{HashParams, PasswordHasher};
/// use authcore::service::BlockingPoolHasher;
///
/// # fn main() -> Result<(), authcore::Error> {
/// // A hasher of your own (here: the default parameters, as a peppered one would be built).
/// let hasher = PasswordHasher::builder().params(HashParams::default()).build()?;
/// let on_the_pool = BlockingPoolHasher::new(hasher);
/// # let _ = on_the_pool;
/// # Ok(()) }
/// ```
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Clone, Debug)]
pub struct BlockingPoolHasher {
    hasher: alloc::sync::Arc<PasswordHasher>,
}

#[cfg(feature = "tokio")]
impl BlockingPoolHasher {
    /// Runs `hasher`'s jobs on tokio's blocking pool.
    pub fn new(hasher: PasswordHasher) -> Self {
        Self {
            hasher: alloc::sync::Arc::new(hasher),
        }
    }

    /// The hasher the jobs run with.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }
}

#[cfg(feature = "tokio")]
impl From<PasswordHasher> for BlockingPoolHasher {
    fn from(hasher: PasswordHasher) -> Self {
        Self::new(hasher)
    }
}

#[cfg(feature = "tokio")]
impl PasswordHashing for BlockingPoolHasher {
    /// Runs the job with [`tokio::task::spawn_blocking`] on the current runtime, inline when
    /// there is none.
    fn run(&self, job: HashJob) -> impl Future<Output = HashOutput> + Send {
        let hasher = alloc::sync::Arc::clone(&self.hasher);
        async move {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => runtime
                    .spawn_blocking(move || job.run(&hasher))
                    .await
                    .unwrap_or_else(|_| HashOutput::failed()),
                Err(_) => job.run(&hasher),
            }
        }
    }
}

/// Which kind of hash: a person's own password, or a temporary one set by an administrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    LongTerm,
    Temporary,
}

impl Kind {
    fn core(self) -> HashKind {
        match self {
            Self::LongTerm => HashKind::LongTerm,
            Self::Temporary => HashKind::Temporary,
        }
    }
}

enum Op {
    Hash(Kind),
    Verify(Kind, String),
    VerifyDummy,
    RecoveryGenerate(RecoveryParams),
    RecoveryRedeem(Box<RecoveryCodeSet>),
    RecoveryRedeemDummy(RecoveryParams),
}

/// One unit of argon2 work (a password, or a recovery-code set), owned (`Send + 'static`) so it
/// can move to another thread. Opaque: run it with [`HashJob::run`]. The password or presented
/// code inside is wiped when the job is dropped.
pub struct HashJob {
    /// The password, or the presented recovery code; empty when generating recovery codes.
    password: Password,
    op: Op,
}

impl fmt::Debug for HashJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashJob([REDACTED])")
    }
}

impl HashJob {
    pub(crate) fn hash(password: Password, temporary: bool) -> Self {
        let kind = if temporary {
            Kind::Temporary
        } else {
            Kind::LongTerm
        };
        Self {
            password,
            op: Op::Hash(kind),
        }
    }

    pub(crate) fn verify(password: Password, stored: String, temporary: bool) -> Self {
        let kind = if temporary {
            Kind::Temporary
        } else {
            Kind::LongTerm
        };
        Self {
            password,
            op: Op::Verify(kind, stored),
        }
    }

    pub(crate) fn verify_dummy(password: Password) -> Self {
        Self {
            password,
            op: Op::VerifyDummy,
        }
    }

    /// Generates a recovery-code set under `params`.
    pub(crate) fn recovery_generate(params: RecoveryParams) -> Self {
        Self {
            password: Password::from(""),
            op: Op::RecoveryGenerate(params),
        }
    }

    /// Redeems a presented recovery code against `set` (which slot, if any, it opens).
    pub(crate) fn recovery_redeem(set: RecoveryCodeSet, code: &str) -> Self {
        Self {
            password: Password::from(code),
            op: Op::RecoveryRedeem(Box::new(set)),
        }
    }

    /// Checks a presented recovery code when there is no set to check it against: the same
    /// argon2 work under `params` as a redemption, always rejected.
    pub(crate) fn recovery_redeem_dummy(params: RecoveryParams, code: &str) -> Self {
        Self {
            password: Password::from(code),
            op: Op::RecoveryRedeemDummy(params),
        }
    }

    /// Does the work (blocking: argon2 runs here).
    pub fn run(self, hasher: &PasswordHasher) -> HashOutput {
        let result = match &self.op {
            Op::Hash(kind) => Output::Hashed(hasher.hash_kind(
                &mut getrandom::SysRng,
                &self.password,
                kind.core(),
            )),
            Op::Verify(kind, stored) => {
                Output::Verified(hasher.verify_kind(&self.password, stored, kind.core()))
            }
            Op::VerifyDummy => Output::Verified(hasher.verify_dummy(&self.password)),
            Op::RecoveryGenerate(params) => {
                Output::RecoveryGenerated(RecoveryCodeSet::generate(params).map(Box::new))
            }
            Op::RecoveryRedeem(set) => {
                Output::RecoveryRedeemed(set.redeem_detailed(self.password.expose_secret()))
            }
            Op::RecoveryRedeemDummy(params) => Output::RecoveryRedeemed(
                params
                    .redeem_dummy(self.password.expose_secret())
                    .map_err(|_| Refusal::Invalid),
            ),
        };
        HashOutput(result)
    }
}

enum Output {
    Hashed(Result<PasswordHash, crate::credential::password::PasswordError>),
    Verified(Result<PasswordVerified, VerifyError>),
    RecoveryGenerated(Result<Box<NewRecoveryCodes>, crate::credential::recovery::RecoveryError>),
    RecoveryRedeemed(Result<RedeemedSlot, Refusal>),
    Failed,
}

/// The output of a [`HashJob`]. Opaque: the service reads it.
pub struct HashOutput(Output);

impl fmt::Debug for HashOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashOutput")
    }
}

impl HashOutput {
    /// The output of a job the pool lost (its task panicked or was cancelled): the operation
    /// fails with [`ServiceError::Hashing`].
    pub fn failed() -> Self {
        Self(Output::Failed)
    }

    pub(crate) fn into_hash(self) -> Result<PasswordHash, ServiceError> {
        match self.0 {
            Output::Hashed(result) => result.map_err(ServiceError::from),
            _ => Err(ServiceError::Hashing),
        }
    }

    pub(crate) fn into_verified(
        self,
    ) -> Result<Result<PasswordVerified, VerifyError>, ServiceError> {
        match self.0 {
            Output::Verified(result) => Ok(result),
            _ => Err(ServiceError::Hashing),
        }
    }

    pub(crate) fn into_recovery_codes(self) -> Result<NewRecoveryCodes, ServiceError> {
        match self.0 {
            Output::RecoveryGenerated(result) => result.map(|b| *b).map_err(ServiceError::from),
            _ => Err(ServiceError::Hashing),
        }
    }

    pub(crate) fn into_redeemed(self) -> Result<Result<RedeemedSlot, Refusal>, ServiceError> {
        match self.0 {
            Output::RecoveryRedeemed(result) => Ok(result),
            _ => Err(ServiceError::Hashing),
        }
    }
}

#[cfg(all(test, feature = "tokio"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use alloc::sync::Arc;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    use crate::credential::password::hash::HashParams;

    fn pool() -> BlockingPoolHasher {
        BlockingPoolHasher::new(
            PasswordHasher::builder()
                .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
                .build()
                .unwrap(),
        )
    }

    fn job() -> HashJob {
        HashJob::hash(Password::from("correct horse battery staple"), false)
    }

    /// Polls `future` to completion on the calling thread, outside any runtime.
    fn block_on<F: Future>(future: F) -> F::Output {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_job_waits_for_the_blocking_pool_not_the_caller() {
        // One blocking thread, held busy: a job on the pool cannot finish until it is free,
        // where a job run inline would finish at its first poll.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        runtime.block_on(async {
            let (release, busy) = std::sync::mpsc::channel::<()>();
            let blocker = tokio::task::spawn_blocking(move || busy.recv());
            let pool = pool();
            let hashing = tokio::spawn(async move { pool.run(job()).await });
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            assert!(
                !hashing.is_finished(),
                "the job waits for the pool's thread"
            );
            release.send(()).unwrap();
            blocker.await.unwrap().unwrap();
            let hash = hashing.await.unwrap().into_hash().unwrap();
            assert!(hash.as_str().starts_with("$argon2id$"));
        });
    }

    #[test]
    fn a_lost_job_fails_the_operation() {
        // A runtime that has shut down takes no more blocking tasks: the job is cancelled.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let handle = runtime.handle().clone();
        drop(runtime);
        let _entered = handle.enter();
        let output = block_on(pool().run(job()));
        assert!(matches!(output.into_hash(), Err(ServiceError::Hashing)));
    }

    #[test]
    fn outside_a_runtime_the_job_runs_inline() {
        let hash = block_on(pool().run(job())).into_hash().unwrap();
        let verified = block_on(pool().run(HashJob::verify(
            Password::from("correct horse battery staple"),
            String::from(hash.as_str()),
            false,
        )));
        assert!(verified.into_verified().unwrap().is_ok());
    }
}

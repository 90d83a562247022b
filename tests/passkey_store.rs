//! The passkey store contracts (`authcore::conformance::run_passkeys`) against the in-memory
//! store: in one task, and with the racing calls spawned on a multi-threaded runtime.
#![cfg(all(feature = "memory", feature = "test-util", feature = "passkeys"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authcore::MemoryStore;
use authcore::conformance::{self, Spawner};
use authcore::otp::ManualClock;

/// Hands each racing call to the tokio runtime, so that they run on several threads.
struct Tokio;

impl Spawner for Tokio {
    fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let handle = tokio::spawn(task);
        async move { handle.await.expect("a contender panicked") }
    }
}

const T0: u64 = 1_700_000_000;

/// The passkey checks, each named in the report.
const CHECKS: [&str; 6] = [
    "passkey_user_handle",
    "passkey_challenge_single_use",
    "passkey_unique_credential_id",
    "passkey_use_guarded",
    "race_passkey_challenge",
    "race_passkey_use",
];

#[tokio::test]
async fn memory_store_keeps_the_passkey_contracts() {
    let clock = ManualClock::new(T0);
    let report = conformance::run_passkeys(Arc::new(MemoryStore::new()), &clock)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.checks(), CHECKS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_keeps_the_passkey_contracts_racing_on_threads() {
    let clock = ManualClock::new(T0);
    let store = Arc::new(MemoryStore::new());
    for _ in 0..2 {
        let report = conformance::run_passkeys_with(Arc::clone(&store), &clock, &Tokio)
            .await
            .unwrap_or_else(|failure| panic!("{failure}"));
        assert_eq!(report.checks(), CHECKS);
    }
}

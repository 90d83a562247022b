//! The store conformance suite against the in-memory store: in one task, and with the racing
//! calls spawned on a multi-threaded runtime.

#![cfg(all(feature = "memory", feature = "test-util"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/conformance.rs"]
mod contract;

use std::sync::Arc;

use authcore::MemoryStore;
use authcore::conformance::{self, RACE_CONTENDERS};
use authcore::otp::ManualClock;

const T0: u64 = 1_700_000_000;

/// How many checks the suite runs: one per contract, each named in the report.
const CHECKS: usize = 57;

#[tokio::test]
async fn memory_store_conforms_in_one_task() {
    let clock = ManualClock::new(T0);
    let report = conformance::run_all(Arc::new(MemoryStore::new()), &clock)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(report.checks().len(), CHECKS, "{:?}", report.checks());
    assert!(report.checks().contains(&"race_throttle"));
    assert!(report.checks().contains(&"oob_purposes_apart"));
    assert!(report.checks().contains(&"unique_person_id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_conforms_racing_on_threads() {
    let clock = ManualClock::new(T0);
    let store = Arc::new(MemoryStore::new());
    // Twice over one store: the suite's fresh ids keep the runs apart.
    for _ in 0..2 {
        conformance::run_all_with(Arc::clone(&store), &clock, &contract::Tokio)
            .await
            .unwrap_or_else(|failure| panic!("{failure}"));
    }
    // And the way the SQL stores' tests run it: in one task, then on the threads.
    assert_eq!(contract::conforms(store, &clock).await.len(), CHECKS);
}

#[test]
fn the_suite_needs_no_runtime() {
    let clock = ManualClock::new(T0);
    let report =
        futures_executor_free::block_on(conformance::run_all(Arc::new(MemoryStore::new()), &clock))
            .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(report.checks().len() > RACE_CONTENDERS / 2);
}

/// A minimal executor: polls on the current thread, parking between wake-ups.
mod futures_executor_free {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::{self, Thread};

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    pub fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            thread::park();
        }
    }
}

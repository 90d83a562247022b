//! The public conformance suite (`authcore::conformance`), the storage contract, run the way
//! every store's test file runs it: racing in one task, then racing on tokio's worker threads.

use std::sync::Arc;

use authcore::LoginStore;
use authcore::conformance::{self, Spawner};
use authcore::otp::ManualClock;

/// Hands each racing call to the tokio runtime, so that they run on several threads.
pub struct Tokio;

impl Spawner for Tokio {
    fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let handle = tokio::spawn(task);
        async move { handle.await.expect("a contender panicked") }
    }
}

/// Runs every check against `store`, first racing in this task and then on the runtime's
/// threads (call it from a multi-threaded runtime), and returns the names of the checks. Both
/// runs pass the same checks; a failure panics with the check's name and message.
pub async fn conforms<S: LoginStore + 'static>(
    store: Arc<S>,
    clock: &ManualClock,
) -> Vec<&'static str> {
    let in_place = conformance::run_all(Arc::clone(&store), clock)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    let on_threads = conformance::run_all_with(store, clock, &Tokio)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(in_place.checks(), on_threads.checks());
    in_place.checks().to_vec()
}

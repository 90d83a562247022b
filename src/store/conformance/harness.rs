//! What every check is written with: its failure, the `ensure!` macros, and the race runner.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use futures_util::future::join_all;

use super::{RACE_CONTENDERS, Spawner};

/// A failure inside one check, before it is named.
#[derive(Debug)]
pub(super) struct Fail {
    pub(super) message: String,
    pub(super) source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Fail {
    fn from(e: E) -> Self {
        Self {
            message: format!("unexpected error: {e}"),
            source: Some(Box::new(e)),
        }
    }
}

pub(super) fn fail(message: String) -> Fail {
    Fail {
        message,
        source: None,
    }
}

/// Fails the check with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(fail(format!($($message)+)));
        }
    };
}

/// Fails the check unless the two values are equal.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($message:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(fail(format!(
                "{}: expected {:?}, got {:?}",
                format!($($message)+),
                right,
                left
            )));
        }
    }};
}

pub(super) type Checked = Result<(), Fail>;

/// Runs `contenders` concurrently through `spawner` and collects their results.
pub(super) async fn race<P, T, Fut>(spawner: &P, contenders: Vec<Fut>) -> Result<Vec<T>, Fail>
where
    P: Spawner,
    T: Send + 'static,
    Fut: Future<Output = Result<T, Fail>> + Send + 'static,
{
    let running: Vec<_> = contenders.into_iter().map(|c| spawner.spawn(c)).collect();
    join_all(running).await.into_iter().collect()
}

pub(super) fn exactly_one(wins: usize, what: &str) -> Checked {
    ensure!(
        wins == 1,
        "{RACE_CONTENDERS} concurrent attempts to {what}: expected exactly one to win, {wins} did"
    );
    Ok(())
}

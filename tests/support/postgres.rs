//! Whether the PostgreSQL tests run: they do when `AUTHCORE_TEST_POSTGRES_URL` names a server,
//! and skip visibly when it does not.

use std::io::Write as _;

/// `true`, after printing `skipped: <test>: set AUTHCORE_TEST_POSTGRES_URL …`, when the variable
/// is unset or empty: the test then returns at once. The line goes straight to the process's
/// standard error rather than through `eprintln!`, which the test harness would capture and hide
/// for a passing test.
pub fn skip(test: &str) -> bool {
    match std::env::var("AUTHCORE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => false,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {test}: set AUTHCORE_TEST_POSTGRES_URL to run the PostgreSQL tests"
            );
            true
        }
    }
}

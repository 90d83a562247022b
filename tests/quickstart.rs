//! Runs the quickstart example and checks it tells its story to the end: on SQLite (the
//! default) and, with `AUTHCORE_TEST_POSTGRES_URL`, on PostgreSQL.
#![cfg(all(feature = "memory", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;

/// The features this test was built with, so the example reuses the same build.
fn features() -> String {
    let all = [
        ("std", cfg!(feature = "std")),
        ("memory", cfg!(feature = "memory")),
        ("sqlite", cfg!(feature = "sqlite")),
        ("postgres", cfg!(feature = "postgres")),
        ("qr", cfg!(feature = "qr")),
        ("serde", cfg!(feature = "serde")),
        ("sealing", cfg!(feature = "sealing")),
        ("test-util", cfg!(feature = "test-util")),
    ];
    all.iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the example with `args` and checks it finishes as narrated, time driven by its clock.
fn run_quickstart(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline", "--no-default-features"])
        .args(["--features", &features(), "--example", "quickstart", "--"])
        .args(args)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("All steps behaved as narrated."),
        "{stdout}"
    );
    assert!(stdout.contains("(30 seconds later)"), "{stdout}");
    // Times read as durations, every recovery code is shown, and the audit trail names people.
    assert!(stdout.contains("throttled for 30 s"), "{stdout}");
    assert_eq!(
        stdout.matches("recovery codes, shown once:").count(),
        3,
        "{stdout}"
    );
    assert!(
        stdout.contains("(system) [Max]: app code throttled for 30 s after 6 failures"),
        "{stdout}"
    );
    assert!(!stdout.contains("PersonId("), "{stdout}");
    // The lost-phone story: the admin's reset, then the member enrols again.
    assert!(
        stdout.contains("Olivia [Max]: second factors reset by an administrator"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Max is back in, at AAL2 with the new phone"),
        "{stdout}"
    );
    stdout
}

#[test]
fn quickstart_runs_as_narrated_on_sqlite() {
    let stdout = run_quickstart(&[]);
    assert!(stdout.contains("SQLite at"), "{stdout}");
}

#[test]
fn quickstart_keeps_its_database_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quickstart.db");
    run_quickstart(&["--database", path.to_str().unwrap()]);
    assert!(path.exists());
}

#[cfg(feature = "postgres")]
#[test]
fn quickstart_runs_as_narrated_on_postgres() {
    if crate::pg::skip("quickstart_runs_as_narrated_on_postgres") {
        return;
    }
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL")
        .expect("set AUTHCORE_TEST_POSTGRES_URL to run the PostgreSQL tests");
    let stdout = run_quickstart(&["--database", &url]);
    assert!(stdout.contains("PostgreSQL, schema"), "{stdout}");
}

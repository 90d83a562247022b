//! Runs the passkeys example and checks it tells its story to the end.
#![cfg(all(feature = "memory", feature = "passkeys"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
        ("passkeys", cfg!(feature = "passkeys")),
    ];
    all.iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn the_passkeys_example_runs_as_narrated() {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline", "--no-default-features"])
        .args(["--features", &features(), "--example", "passkeys"])
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
    assert_eq!(stdout.matches("   ✓ ").count(), 10, "{stdout}");
    assert!(!stdout.contains("✗"), "{stdout}");
}

//! Runs the quickstart example and checks it tells its story to the end.

#[test]
fn quickstart_runs_as_narrated() {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline", "--example", "quickstart"])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("All steps behaved as narrated."));
}

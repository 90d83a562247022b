//! The `otp` example, run as a developer would run it: `cargo run --example otp -- ...`.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

const RFC6238_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// Runs the example through cargo with the same features as this test, so nothing is rebuilt
/// beyond the example itself.
fn otp(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "run",
        "--quiet",
        "--offline",
        "--example",
        "otp",
    ]);
    if !cfg!(feature = "std") {
        command.arg("--no-default-features");
    }
    if cfg!(feature = "qr") {
        command.args(["--features", "qr"]);
    }
    let output = command.arg("--").args(args).output().unwrap();
    // A failure to build shows up as cargo's own exit status 101.
    assert_ne!(
        output.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> &str {
    std::str::from_utf8(&output.stdout).unwrap()
}

#[test]
fn code_matches_rfc6238() {
    let out = otp(&[
        "code",
        "--secret",
        RFC6238_SEED,
        "--time",
        "59",
        "--digits",
        "8",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "94287082\n");
}

#[test]
fn verify_accepts_then_refuses_a_replay() {
    let base = [
        "verify",
        "--secret",
        RFC6238_SEED,
        "--code",
        "94287082",
        "--time",
        "89",
        "--digits",
        "8",
    ];
    // At t = 89 (step 2) the step-1 code is inside the default one-step window.
    let accepted = otp(&base);
    assert_eq!(accepted.status.code(), Some(0));
    assert_eq!(stdout(&accepted), "accepted step=1\n");

    let replayed = otp(&[&base[..], &["--after", "1"]].concat());
    assert_eq!(replayed.status.code(), Some(1));
    assert_eq!(stdout(&replayed), "rejected\n");
}

#[test]
fn parse_prints_every_field() {
    let out = otp(&[
        "parse",
        "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\
         &issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "type=totp\nsecret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\nalgorithm=SHA1\ndigits=6\n\
         period=30\nissuer=ACME Co\naccount=john.doe@email.com\n"
    );
}

#[test]
fn bad_uri_exits_2_with_the_error() {
    let out = otp(&[
        "parse",
        "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SHA1, SHA256 or SHA512"), "{stderr}");
}

#[test]
fn uri_builds_what_parse_reads() {
    let out = otp(&[
        "uri",
        "--secret",
        "jbswy3dpehpk3pxp",
        "--issuer",
        "Big Corp",
        "--account",
        "a@b.c",
        "--digits",
        "8",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "otpauth://totp/Big%20Corp:a%40b.c?secret=JBSWY3DPEHPK3PXP&issuer=Big%20Corp\
         &algorithm=SHA1&digits=8&period=30\n"
    );
}

#[test]
fn bad_usage_exits_2_with_the_usage() {
    let out = otp(&["code", "--secret"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--secret needs a value"), "{stderr}");
    assert!(stderr.contains("usage: otp"), "{stderr}");
}

#[test]
fn new_prints_a_fresh_secret_and_its_uri() {
    let out = otp(&[
        "new",
        "--issuer",
        "Demo",
        "--account",
        "dev",
        "--qr",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<&str> = stdout(&out).lines().collect();
    let secret = lines[0].strip_prefix("secret=").unwrap();
    // 160 bits for SHA-1: 32 base32 characters.
    assert_eq!(secret.len(), 32);
    assert_eq!(
        lines[1],
        format!(
            "uri=otpauth://totp/Demo:dev?secret={secret}&issuer=Demo&algorithm=SHA1&digits=6&period=30"
        )
    );
    assert_eq!(lines.len(), 2);
}

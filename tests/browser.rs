//! The web example (`examples/web`) driven end to end in headless Chromium through chromedriver
//! (WebDriver, with `fantoccini`): every story the example tells, as a person would click
//! through it. The app runs in-process on 127.0.0.1 with a fresh SQLite database, opened as
//! `http://localhost:PORT` (a secure context, for the `__Host-` cookies and for WebAuthn); the
//! tests compute authenticator codes from the manual key the enrolment page shows, read the
//! e-mails and text messages on the outbox page, and save a screenshot of each key page under
//! `target/browser-screenshots/` (`$CARGO_TARGET_DIR` when set). With feature `passkeys`, the
//! passkey story adds Chromium's virtual authenticator (the WebDriver WebAuthn extension) to
//! its browser.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`). Without them the test says so and passes, unless
//! `AUTHCORE_REQUIRE_BROWSER=1` (as in CI), where it fails.
#![cfg(all(feature = "axum", feature = "memory", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[allow(dead_code)]
#[path = "../examples/web/app.rs"]
mod app;

#[path = "browser/stories.rs"]
mod stories;
#[path = "browser/support.rs"]
mod support;

/// One chromedriver and one app for every story, each story in its own browser profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_story_in_a_real_browser() {
    if !support::browser_available() {
        return;
    }
    let started = std::time::Instant::now();
    let driver = support::start_driver().await;
    let server = support::start_server().await;
    stories::run(&driver, &server).await;
    eprintln!(
        "browser stories done in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        support::screenshot_dir().display()
    );
}

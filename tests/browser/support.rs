//! The browser tests' harness: chromedriver started once, the example app served in-process on
//! 127.0.0.1 with a fresh SQLite database and a hand-driven clock, opened as
//! `http://localhost:PORT` (the secure context WebAuthn needs), and a thin page driver with
//! Chromium's virtual authenticator for the passkey story.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use authcore::credential::password::HashParams;
use authcore::credential::{KeyId, Keyring, OobKey, RecoveryParams, SealingKey};
use authcore::otp::{Clock, ManualClock, SecretKey, SystemClock, Totp};
use authcore::policy::EnrollmentConfig;
use authcore::store::MemoryAuditLog;
use authcore::web::WebKey;
use authcore::{Authenticator, PasswordHasher, Services, SqliteStore};

use super::app;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(10);

/// chromedriver, ended when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Whether the browser is here; without it the tests are skipped, saying why, unless
/// `AUTHCORE_REQUIRE_BROWSER=1` (CI), where its absence fails them.
pub fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMEDRIVER, CHROMIUM]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "browser tests skipped: {} not installed (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    if std::env::var("AUTHCORE_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("AUTHCORE_REQUIRE_BROWSER=1 but {why}");
    }
    eprintln!("{why}");
    false
}

/// Starts chromedriver on a free loopback port and waits until it answers.
pub async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

/// The example app, served in-process.
pub struct Server {
    pub base: String,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Moves the service's clock on, so that the next authenticator code is a new one.
    pub fn next_code_window(&self) {
        self.clock.advance(30);
    }

    /// The code an authenticator app that holds `key` shows now (on the service's clock).
    pub fn totp(&self, manual_key: &str) -> String {
        let compact: String = manual_key.chars().filter(|c| !c.is_whitespace()).collect();
        let key = SecretKey::from_base32(&compact).expect("the manual key is base32");
        Totp::new(EnrollmentConfig::default().params(), &key)
            .generate(self.clock.now())
            .expect("a code")
            .expose_secret()
            .to_owned()
    }
}

/// Serves the example app on 127.0.0.1 (opened as localhost) with a fresh SQLite database,
/// fast (weak) argon2 parameters and a hand-driven clock.
pub async fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let keyring = Keyring::new(KeyId::new(1), SealingKey::generate().expect("a key"));
    let store = SqliteStore::open(dir.path().join("web.db"), keyring)
        .await
        .expect("the database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("an address").port();
    // Opened as localhost: a secure context, so passkeys (relying party `localhost`) work.
    let origin = format!("http://localhost:{port}");
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let outbox = app::Outbox::new();
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).expect("parameters"))
        .build()
        .expect("a hasher");
    let backend = Services::new(store, MemoryAuditLog::new(), outbox.clone())
        .expect("a backend")
        .with_clock(Arc::clone(&clock))
        .with_hasher(hasher);
    let config = app::service_config(
        &origin,
        OobKey::generate_with_rng(&mut getrandom::SysRng).expect("an SMS key"),
    )
    .recovery(
        RecoveryParams::builder()
            .dangerous_argon2(64, 1, 1)
            .build()
            .expect("recovery parameters"),
    )
    .build()
    .expect("the configuration");
    let auth = Arc::new(Authenticator::new(backend, config));
    let router = app::router(auth, outbox, &origin, WebKey::generate().expect("a key"))
        .expect("the web configuration");
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        base: origin,
        clock,
        _dir: dir,
    }
}

/// Where screenshots go: `$CARGO_TARGET_DIR/browser-screenshots`, or `target/…`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

/// Whether `e`, the answer to a question about an element, says that the element's page has
/// been left: the standard stale-reference error, or chromedriver's inspector error for a
/// node of a document that has since been replaced.
fn left_behind(e: &CmdError) -> bool {
    e.is_stale_element_reference()
        || matches!(e, CmdError::Standard(w)
            if w.error == ErrorStatus::UnknownError
                && w.message.contains("does not belong to the document"))
}

/// One browser (its own profile, so its own cookies) on the app.
pub struct Browser {
    pub client: Client,
    pub base: String,
}

impl Browser {
    /// A new headless Chromium through `driver`.
    pub async fn open(driver: &Driver, base: &str) -> Self {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1100,1000"
                ]
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a browser session");
        Self {
            client,
            base: base.to_owned(),
        }
    }

    /// Opens a page of the app.
    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("the page opens");
    }

    /// Waits for the element `css` and returns it.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let source = self.client.source().await.unwrap_or_default();
                panic!("no {css} on {url:?}: {e}\n{source}");
            }
        }
    }

    /// Whether the page shows `css` now.
    pub async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Types `text` into the field `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("the field clears");
        field.send_keys(text).await.expect("the field takes text");
    }

    /// Clicks `css`, which stays on this page (a checkbox, a choice).
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("the click");
    }

    /// Clicks `css`, which leads to another page (a link, a form's button, a passkey button
    /// whose script goes on to a page), and waits until that page has replaced this one. What
    /// a test reads next is then never this page's copy of an element both pages show.
    pub async fn follow(&self, css: &str) {
        let this_page = self
            .client
            .find(Locator::Css("html"))
            .await
            .expect("the page's root");
        self.click(css).await;
        let deadline = Instant::now() + WAIT;
        loop {
            match this_page.tag_name().await {
                Err(e) if left_behind(&e) => return,
                Err(e) => panic!("the page after {css}: {e}"),
                Ok(_) if Instant::now() > deadline => {
                    let url = self.client.current_url().await.map(|u| u.to_string());
                    panic!("{css} did not lead to another page (still on {url:?})");
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }

    /// Follows `css` to the next page, then waits for `next` there.
    pub async fn submit(&self, css: &str, next: &str) -> Element {
        self.follow(css).await;
        self.find(next).await
    }

    /// The text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("its text")
    }

    /// The path of the current page.
    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("a URL")
            .path()
            .to_owned()
    }

    /// Saves a PNG screenshot of the page as `name.png`.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png)
            .expect("the screenshot is saved");
    }

    /// The outbox page's messages, newest first, as text.
    pub async fn outbox(&self) -> Vec<String> {
        self.goto("/dev/outbox").await;
        self.find("#messages").await;
        let mut texts = Vec::new();
        for m in self
            .client
            .find_all(Locator::Css(".message"))
            .await
            .expect("the messages")
        {
            texts.push(m.text().await.expect("a message's text"));
        }
        texts
    }

    /// Adds a virtual authenticator to this browser (the WebDriver WebAuthn extension): a
    /// platform authenticator (CTAP2, internal transport) that keeps discoverable credentials
    /// and verifies the user at every use, as a fingerprint reader would.
    #[cfg(feature = "passkeys")]
    pub async fn add_virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(VirtualAuthenticator)
            .await
            .expect("a virtual authenticator");
        answer
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| answer.to_string())
    }

    /// The credentials the virtual authenticator `id` holds (their count).
    #[cfg(feature = "passkeys")]
    pub async fn virtual_credentials(&self, id: &str) -> usize {
        let answer = self
            .client
            .issue_cmd(Credentials(id.to_owned()))
            .await
            .expect("the credentials");
        answer.as_array().map_or(0, Vec::len)
    }

    /// Ends the browser session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// `POST /session/{id}/webauthn/authenticator` (Web Authentication Level 2, §11.3 Add Virtual
/// Authenticator).
#[cfg(feature = "passkeys")]
#[derive(Debug)]
struct VirtualAuthenticator;

#[cfg(feature = "passkeys")]
impl fantoccini::wd::WebDriverCompatibleCommand for VirtualAuthenticator {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/authenticator",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// `GET /session/{id}/webauthn/authenticator/{authenticator}/credentials` (§11.7 Get
/// Credentials).
#[cfg(feature = "passkeys")]
#[derive(Debug)]
struct Credentials(String);

#[cfg(feature = "passkeys")]
impl fantoccini::wd::WebDriverCompatibleCommand for Credentials {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/authenticator/{}/credentials",
            session.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::GET, None)
    }
}

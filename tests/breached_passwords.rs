//! Breached passwords: the k-anonymity range query, the offline corpora and their file formats,
//! and the check wired into every verb that sets a password, on every store.
//!
//! - Only the five-hex-digit SHA-1 prefix reaches a corpus (a recording corpus sees nothing else);
//!   found / not found / the case of the hex / the count threshold.
//! - [`RangeFile`] (one sorted file of full hashes, binary-searched on disk) agrees with a plain
//!   filter of its hashes for any set (a property test), and every kind of bad file is a typed
//!   error; [`RangeDirectory`] likewise.
//! - `sign_up`, `change_password`, `change_password_at_login`, `complete_setup` and
//!   `complete_password_reset` refuse a
//!   breached password with `PolicyViolation::Breached` and write nothing; a corpus that cannot
//!   answer lets the password through, audited, or refuses it when configured to fail closed.
#![cfg(all(feature = "memory", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;

#[path = "support/stores.rs"]
mod stores;
use stores::*;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use authcore::credential::RecoveryParams;
use authcore::credential::password::{
    BreachCorpus, BreachError, BreachRange, HashParams, PolicyViolation, RangeDirectory, RangeFile,
    RangePrefix, breach_count,
};
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{AuditKind, AuthenticatorName, EnrollmentPurpose, Role};
use authcore::service::{BreachSettings, BreachedPasswords, OnUnavailable, RangeFuture};
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{
    Authenticator, BearerToken, LoginStep, LoginStore, MemoryStore, Password, PasswordHasher,
    ServiceConfig, ServiceError, Services,
};
use proptest::prelude::*;
use sha1::{Digest, Sha1};

const T0: u64 = 1_700_000_010;
/// Meets the policy (long, not a common password), and is in every test corpus here.
const BREACHED: &str = "purple monkey dishwasher 1999";
/// Meets the policy, and is in no corpus.
const FRESH: &str = "correct horse battery staple 42";
const OTHER_FRESH: &str = "violet tuesday lantern river";

/// SHA-1, upper-case hex: computed here, independently of the library.
fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

// --- A fake online range API --------------------------------------------------------------

/// A range API in memory: the bodies it would serve per prefix, every prefix it was asked for,
/// and a switch that makes it fail. Its answer is awaited (it yields once), as a network call's.
#[derive(Default)]
struct FakeApi {
    bodies: BTreeMap<String, String>,
    asked: Mutex<Vec<String>>,
    down: AtomicBool,
}

impl FakeApi {
    /// Serves `password` as seen `count` times, among unrelated suffixes of the same range.
    fn with(mut self, password: &str, count: u64) -> Self {
        let hash = sha1_hex(password);
        let (prefix, suffix) = hash.split_at(5);
        let body = self.bodies.entry(prefix.to_owned()).or_insert_with(|| {
            // Unrelated suffixes (and a padding entry), the way a real range looks.
            "0018A45C4D1DEF81644B54AB7F969B88D65:3\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n"
                .to_owned()
        });
        // The API's hex is upper case; serve this one in lower case to show either is read.
        body.push_str(&format!("{}:{count}\r\n", suffix.to_ascii_lowercase()));
        self
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl BreachedPasswords for FakeApi {
    fn fetch_range(&self, prefix: RangePrefix) -> RangeFuture<'_> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.asked.lock().unwrap().push(prefix.as_str().to_owned());
            if self.down.load(Ordering::SeqCst) {
                return Err(BreachError::Unavailable);
            }
            match self.bodies.get(prefix.as_str()) {
                Some(body) => BreachRange::parse(body),
                None => Ok(BreachRange::new()),
            }
        })
    }
}

/// A shared handle, so a test keeps the API after handing it to the configuration.
struct Shared(Arc<FakeApi>);

impl BreachedPasswords for Shared {
    fn fetch_range(&self, prefix: RangePrefix) -> RangeFuture<'_> {
        self.0.fetch_range(prefix)
    }
}

// --- The service --------------------------------------------------------------------------

type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

fn service<S: LoginStore>(store: S, breach: Option<BreachSettings>) -> Service<S> {
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap();
    let mut config = ServiceConfig::builder("Example").recovery(
        RecoveryParams::builder()
            .dangerous_argon2(64, 1, 1)
            .build()
            .unwrap(),
    );
    if let Some(breach) = breach {
        config = config.breach_check(breach);
    }
    let backend = Services::new(store, MemoryAuditLog::new(), RecordingNotifier::new())
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(T0)))
        .with_hasher(hasher);
    Authenticator::new(backend, config.build().unwrap())
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(authcore::policy::EnrollmentConfig::default().params(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn breached<T: std::fmt::Debug>(result: Result<T, ServiceError>, what: &str) {
    assert!(
        matches!(
            result,
            Err(ServiceError::PasswordPolicy(PolicyViolation::Breached))
        ),
        "{what}: {result:?}"
    );
}

fn unavailable_events<S: LoginStore>(s: &Service<S>) -> Vec<bool> {
    s.backend()
        .audit
        .events()
        .into_iter()
        .filter_map(|e| match e.what {
            AuditKind::BreachCheckUnavailable { refused } => Some(refused),
            _ => None,
        })
        .collect()
}

/// Every verb that sets a password refuses a breached one, writes nothing, and takes a fresh one.
async fn every_verb_refuses_a_breached_password<S: LoginStore>(store: S) {
    let api = Arc::new(FakeApi::default().with(BREACHED, 12));
    let s = service(store, Some(BreachSettings::new(Shared(Arc::clone(&api)))));

    // Sign-up: refused, and the login stays free.
    breached(
        s.sign_up("owner@example.com", Password::from(BREACHED))
            .await,
        "sign_up",
    );
    let up = s
        .sign_up("owner@example.com", Password::from(FRESH))
        .await
        .unwrap();
    // The owner turns MFA on (adding members needs AAL2) and signs in with it.
    let clock = Arc::clone(&s.backend().clock);
    let first = s
        .login_to(up.org, "owner@example.com", Password::from(FRESH))
        .await
        .unwrap()
        .into_session()
        .expect("signed in");
    let setup = s
        .start_enrollment(
            &first.grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let _codes = s
        .confirm_enrollment(&first.grant, &code(&key, clock.now()))
        .await
        .unwrap();
    s.acknowledge_enrollment(&first.grant).await.unwrap();
    clock.advance(30);
    let step = s
        .login_to(up.org, "owner@example.com", Password::from(FRESH))
        .await
        .unwrap();
    let owner = s
        .verify_totp(up.org, &ticket(&step), &code(&key, clock.now()))
        .await
        .unwrap()
        .into_session()
        .expect("signed in");

    // A change while signed in: refused, the old password still works, the session lives.
    breached(
        s.change_password(
            &owner.grant,
            Password::from(FRESH),
            Password::from(BREACHED),
        )
        .await,
        "change_password",
    );
    assert!(s.authenticate(&owner.token.expose_secret()).await.is_ok());
    assert!(
        s.login_to(up.org, "owner@example.com", Password::from(FRESH))
            .await
            .is_ok()
    );

    // The change a temporary password forces at login: refused, the ticket still takes a
    // fresh password.
    let new = s
        .add_member(&owner.grant, "member@example.com", Role::User)
        .await
        .unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(up.org, "member@example.com", Password::from(temp.as_str()))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::ChangePassword { .. }));
    let t = ticket(&step);
    breached(
        s.change_password_at_login(up.org, &t, Password::from(BREACHED))
            .await,
        "change_password_at_login",
    );
    assert!(
        s.login_to(up.org, "member@example.com", Password::from(BREACHED))
            .await
            .is_err()
    );
    let step = s
        .change_password_at_login(up.org, &t, Password::from(OTHER_FRESH))
        .await
        .unwrap();
    assert!(step.into_session().is_some());

    // A setup link: refused, and the member is still on their temporary password.
    let other = s
        .add_member(&owner.grant, "newcomer@example.com", Role::User)
        .await
        .unwrap();
    let token = s
        .backend()
        .notifier
        .take_last_setup_token(other.person)
        .expect("a link");
    let token = BearerToken::parse(&token).unwrap();
    breached(
        s.complete_setup(&token, Password::from(BREACHED)).await,
        "complete_setup",
    );
    let temp = other.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(
            up.org,
            "newcomer@example.com",
            Password::from(temp.as_str()),
        )
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::ChangePassword { .. }));

    // A forgotten password: the new one is checked before the link is spent.
    let link = s
        .backend()
        .notifier
        .take_last_address_token(up.person)
        .expect("the sign-up's verification link");
    s.verify_address(&BearerToken::parse(&link).unwrap())
        .await
        .unwrap();
    s.request_password_reset("owner@example.com", "192.0.2.9")
        .await
        .unwrap();
    let reset = s
        .backend()
        .notifier
        .take_last_reset_token(up.person)
        .expect("a reset link");
    let reset = BearerToken::parse(&reset).unwrap();
    breached(
        s.complete_password_reset(&reset, Password::from(BREACHED))
            .await,
        "complete_password_reset",
    );
    s.complete_password_reset(&reset, Password::from("a fresh unbreached passphrase 91"))
        .await
        .expect("the link was not spent by the refusal");

    // Each refusal and each acceptance asked the corpus once, with the prefix alone.
    let asked = api.asked();
    let breached_prefix = &sha1_hex(BREACHED)[..5];
    assert_eq!(
        asked.iter().filter(|p| *p == breached_prefix).count(),
        5,
        "{asked:?}"
    );
    assert!(asked.iter().all(|p| p.len() == 5), "{asked:?}");
    assert!(unavailable_events(&s).is_empty());
}

/// A corpus that cannot answer: accepted and audited by default, refused when failing closed.
async fn an_unreachable_corpus<S: LoginStore>(open: S, closed: S) {
    let api = Arc::new(FakeApi::default().with(BREACHED, 1));
    api.down.store(true, Ordering::SeqCst);
    let s = service(open, Some(BreachSettings::new(Shared(Arc::clone(&api)))));
    let up = s
        .sign_up("open@example.com", Password::from(FRESH))
        .await
        .unwrap();
    assert_eq!(unavailable_events(&s), [false]);
    let event = s
        .backend()
        .audit
        .events()
        .into_iter()
        .find(|e| matches!(e.what, AuditKind::BreachCheckUnavailable { .. }))
        .unwrap();
    assert_eq!(event.subject, None, "no person yet at sign-up");
    // A signed-in change names the person.
    let owner = s
        .login_to(up.org, "open@example.com", Password::from(FRESH))
        .await
        .unwrap()
        .into_session()
        .unwrap();
    s.change_password(
        &owner.grant,
        Password::from(FRESH),
        Password::from(OTHER_FRESH),
    )
    .await
    .unwrap();
    assert_eq!(unavailable_events(&s), [false, false]);
    assert!(s.backend().audit.events().iter().any(|e| matches!(
        e.what,
        AuditKind::BreachCheckUnavailable { .. }
    ) && e.subject == Some(up.person)));

    let s = service(
        closed,
        Some(BreachSettings::new(Shared(Arc::clone(&api))).on_unavailable(OnUnavailable::Refuse)),
    );
    let refused = s.sign_up("closed@example.com", Password::from(FRESH)).await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::BreachCheckUnavailable(
                BreachError::Unavailable
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(unavailable_events(&s), [true]);
    // Nothing was written: once the corpus is back, the same login signs up.
    api.down.store(false, Ordering::SeqCst);
    assert!(
        s.sign_up("closed@example.com", Password::from(FRESH))
            .await
            .is_ok()
    );
}

async fn scenarios<S: LoginStore>(new_store: &NewStore<S>) {
    every_verb_refuses_a_breached_password(new_store().await).await;
    an_unreachable_corpus(new_store().await, new_store().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn breached_passwords_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn breached_passwords_on_sqlite() {
    scenarios(&sqlite_stores()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn breached_passwords_on_postgres() {
    if pg::skip("breached_passwords_on_postgres") {
        return;
    }
    scenarios(&postgres_stores("authcore_breach")).await;
}

// --- The query itself (no store needed) -----------------------------------------------------

#[tokio::test]
async fn only_the_prefix_reaches_the_corpus() {
    let api = Arc::new(FakeApi::default());
    let s = service(
        MemoryStore::new(),
        Some(BreachSettings::new(Shared(Arc::clone(&api)))),
    );
    s.sign_up("a@example.com", Password::from(FRESH))
        .await
        .unwrap();
    assert_eq!(api.asked(), [sha1_hex(FRESH)[..5].to_owned()]);
    // A password the policy refuses is never looked up.
    let short = s
        .sign_up("b@example.com", Password::from("too short"))
        .await;
    assert!(matches!(
        short,
        Err(ServiceError::PasswordPolicy(
            PolicyViolation::TooShort { .. }
        ))
    ));
    let common = s
        .sign_up("c@example.com", Password::from("1234567890QWERTYUIOP"))
        .await;
    assert!(
        matches!(
            common,
            Err(ServiceError::PasswordPolicy(PolicyViolation::Common))
        ),
        "{common:?}"
    );
    assert_eq!(api.asked().len(), 1);
}

#[tokio::test]
async fn the_count_threshold() {
    let api = Arc::new(FakeApi::default().with(BREACHED, 3).with(OTHER_FRESH, 10));
    let settings = BreachSettings::new(Shared(Arc::clone(&api))).min_count(10);
    assert_eq!(settings.threshold(), 10);
    let s = service(MemoryStore::new(), Some(settings));
    // Seen 3 times: under the threshold, accepted.
    assert!(
        s.sign_up("a@example.com", Password::from(BREACHED))
            .await
            .is_ok()
    );
    breached(
        s.sign_up("b@example.com", Password::from(OTHER_FRESH))
            .await,
        "seen 10 times",
    );
    // 0 is taken as 1: "not found" never refuses, a single sighting does.
    assert_eq!(
        BreachSettings::new(Shared(Arc::clone(&api)))
            .min_count(0)
            .threshold(),
        1
    );
}

#[tokio::test]
async fn without_a_corpus_only_the_policy_applies() {
    let s = service(MemoryStore::new(), None);
    assert!(s.config().breach().is_none());
    assert!(
        s.sign_up("a@example.com", Password::from(BREACHED))
            .await
            .is_ok()
    );
}

// --- The offline corpora ----------------------------------------------------------------------

/// Writes `lines` (each with `end`) to a new file in `dir`.
fn write_file(
    dir: &std::path::Path,
    name: &str,
    lines: &[String],
    end: &str,
) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    for line in lines {
        write!(file, "{line}{end}").unwrap();
    }
    path
}

/// A sorted corpus of `hashes` with their counts, as `HASH:COUNT` lines.
fn corpus_lines(hashes: &BTreeMap<String, u64>) -> Vec<String> {
    hashes.iter().map(|(h, c)| format!("{h}:{c}")).collect()
}

#[test]
fn a_range_file_finds_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut hashes = BTreeMap::new();
    for (i, word) in ["alpha", "beta", "gamma", BREACHED, "delta"]
        .iter()
        .enumerate()
    {
        hashes.insert(sha1_hex(word), (i as u64 + 1) * 100);
    }
    // Neighbours in BREACHED's range, around its suffix.
    let hash = sha1_hex(BREACHED);
    let prefix = &hash[..5];
    hashes.insert(format!("{prefix}{}", "0".repeat(35)), 1);
    hashes.insert(format!("{prefix}{}", "F".repeat(35)), 2);
    // The very first and last hashes of the whole space.
    hashes.insert("0".repeat(40), 7);
    hashes.insert("F".repeat(40), 8);
    let lines = corpus_lines(&hashes);
    for (name, end) in [("lf.txt", "\n"), ("crlf.txt", "\r\n")] {
        let file = RangeFile::open(write_file(dir.path(), name, &lines, end)).unwrap();
        assert_eq!(file.verify(), Ok(hashes.len() as u64));
        assert_eq!(breach_count(&file, &Password::from(BREACHED)), Ok(400));
        assert_eq!(breach_count(&file, &Password::from("alpha")), Ok(100));
        assert_eq!(breach_count(&file, &Password::from(FRESH)), Ok(0));
        let range = file.range(&RangePrefix::parse(prefix).unwrap()).unwrap();
        assert_eq!(range.len(), 3);
        assert_eq!(
            file.range(&RangePrefix::parse("00000").unwrap())
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            file.range(&RangePrefix::parse("fffff").unwrap())
                .unwrap()
                .len(),
            1
        );
    }
    // Lower-case hex, bare hashes (counted once), no final newline.
    let lower: Vec<String> = hashes.keys().map(|h| h.to_ascii_lowercase()).collect();
    let path = dir.path().join("lower.txt");
    std::fs::write(&path, lower.join("\n")).unwrap();
    let file = RangeFile::open(&path).unwrap();
    assert_eq!(file.verify(), Ok(hashes.len() as u64));
    assert_eq!(breach_count(&file, &Password::from(BREACHED)), Ok(1));
    assert_eq!(breach_count(&file, &Password::from("delta")), Ok(1));
    // An empty file holds nothing.
    let empty = RangeFile::open(write_file(dir.path(), "empty.txt", &[], "\n")).unwrap();
    assert_eq!(empty.verify(), Ok(0));
    assert_eq!(breach_count(&empty, &Password::from(BREACHED)), Ok(0));
}

#[test]
fn a_bad_range_file_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        RangeFile::open(dir.path().join("missing.txt")).map(|_| ()),
        Err(BreachError::Io)
    );
    let hash = sha1_hex(BREACHED);
    let good = format!("{hash}:5");
    let malformed = [
        format!("{}:5", &hash[..39]),
        format!("{hash}0:5"),
        format!("{}G:5", &hash[..39]),
        format!("{hash}:"),
        format!("{hash}:five"),
        format!("{hash}: 5"),
        format!("{hash}:{}", "9".repeat(30)),
        String::new(),
        "x".repeat(500),
    ];
    for bad in &malformed {
        // Verifying the whole file finds the bad second line, at its offset.
        let path = write_file(dir.path(), "bad.txt", &[good.clone(), bad.clone()], "\n");
        let file = RangeFile::open(&path).unwrap();
        let offset = good.len() as u64 + 1;
        assert_eq!(
            file.verify(),
            Err(BreachError::Malformed { offset }),
            "{bad:?}"
        );
        // A query that reads it fails with a typed error, never a wrong answer or a panic.
        let bad_first = write_file(
            dir.path(),
            "bad-first.txt",
            &[bad.clone(), good.clone()],
            "\n",
        );
        let answer = breach_count(
            &RangeFile::open(&bad_first).unwrap(),
            &Password::from(BREACHED),
        );
        assert!(
            matches!(answer, Err(BreachError::Malformed { .. })),
            "{bad:?}: {answer:?}"
        );
    }
    // Out of order: verify finds it; a query that meets it in its range refuses it.
    let (low, high) = (
        format!("{}:1", &hash),
        format!("{}0{}:1", &hash[..5], "0".repeat(34)),
    );
    let path = write_file(
        dir.path(),
        "unsorted.txt",
        &[low.clone(), high.clone()],
        "\n",
    );
    let file = RangeFile::open(&path).unwrap();
    assert_eq!(
        file.verify(),
        Err(BreachError::Unsorted {
            offset: low.len() as u64 + 1
        })
    );
    let mut many: Vec<String> = (0..50)
        .map(|i| format!("{}{:035X}:1", &hash[..5], i + 1_000_000))
        .collect();
    many.push(format!("{}{:035X}:1", &hash[..5], 1));
    many.push(good);
    let path = write_file(dir.path(), "unsorted-range.txt", &many, "\n");
    let answer = breach_count(&RangeFile::open(&path).unwrap(), &Password::from(BREACHED));
    assert!(
        matches!(answer, Err(BreachError::Unsorted { .. })),
        "{answer:?}"
    );
}

#[test]
fn a_range_directory_serves_one_file_per_prefix() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        RangeDirectory::open(dir.path().join("nowhere")).map(|_| ()),
        Err(BreachError::Io)
    );
    let hash = sha1_hex(BREACHED);
    let (prefix, suffix) = hash.split_at(5);
    std::fs::write(
        dir.path().join(format!("{prefix}.txt")),
        format!("0018A45C4D1DEF81644B54AB7F969B88D65:3\r\n{suffix}:42\r\n"),
    )
    .unwrap();
    let corpus = RangeDirectory::open(dir.path()).unwrap();
    assert_eq!(breach_count(&corpus, &Password::from(BREACHED)), Ok(42));
    // A missing range file is an incomplete corpus, not an empty range.
    assert_eq!(
        breach_count(&corpus, &Password::from(FRESH)),
        Err(BreachError::Io)
    );
    let fresh = sha1_hex(FRESH);
    std::fs::write(dir.path().join(&fresh[..5]), "not a range\n").unwrap();
    assert_eq!(
        breach_count(&corpus, &Password::from(FRESH)),
        Err(BreachError::Line(1))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// For any sorted set of hashes (crowded into few ranges, so ranges hold many lines and
    /// lines of neighbouring ranges sit side by side), the binary search on disk returns
    /// exactly the entries a plain filter finds, in every queried range.
    #[test]
    fn a_range_file_agrees_with_a_filter(
        picks in proptest::collection::btree_set((0u8..6, any::<u64>()), 0..120),
        queries in proptest::collection::vec(0u8..8, 1..6),
        crlf in any::<bool>(),
    ) {
        let prefix_of = |p: u8| format!("{:05X}", u32::from(p) * 0x2_0000);
        let hashes: BTreeSet<String> = picks
            .iter()
            .map(|(p, rest)| format!("{}{:035X}", prefix_of(*p), rest))
            .collect();
        let counted: BTreeMap<String, u64> =
            hashes.iter().enumerate().map(|(i, h)| (h.clone(), i as u64 + 1)).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "c.txt", &corpus_lines(&counted), if crlf { "\r\n" } else { "\n" });
        let file = RangeFile::open(&path).unwrap();
        prop_assert_eq!(file.verify(), Ok(counted.len() as u64));
        for q in queries {
            let prefix = prefix_of(q);
            let range = file.range(&RangePrefix::parse(&prefix).unwrap()).unwrap();
            let expected: Vec<(&String, &u64)> =
                counted.iter().filter(|(h, _)| h.starts_with(&prefix)).collect();
            prop_assert_eq!(range.len(), expected.len());
            let mut again = BreachRange::new();
            for (h, c) in &expected {
                again.push(&h.as_bytes()[5..], **c).unwrap();
            }
            prop_assert_eq!(range, again);
        }
    }
}

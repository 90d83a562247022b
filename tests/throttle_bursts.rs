//! Bursts of concurrent wrong attempts through the `Authenticator`, on every store: no more are
//! verified than the throttle allows at that instant, because each attempt is reserved (counted)
//! before it is verified. With 2 free attempts and a lock at 5, a burst at one instant verifies
//! exactly 3: the two free ones and the one that starts the back-off.
//!
//! The PostgreSQL variants run on the server named by `AUTHCORE_TEST_POSTGRES_URL`, in a schema
//! of their own; without the variable each prints that it is skipped and passes.
#![cfg(feature = "memory")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;

#[path = "support/doubles.rs"]
mod doubles;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use doubles::{CountingHasher, Recording};

use authcore::LoginStore;
use authcore::credential::{FactorKind, ThrottlePolicy};
use authcore::otp::{ManualClock, SecretKey, Totp, TotpParams};
use authcore::policy::{AuditKind, AuthenticatorName, EnrollmentPurpose, Factor};
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{
    Authenticator, BearerToken, Clock, LoginStep, MemoryStore, OrgId, Password, ServiceConfig,
    ServiceError, Services,
};

const T0: u64 = 1_700_000_010;
const LOGIN: &str = "owner@example.com";
const PW: &str = "correct horse battery staple 42";
const BURST: usize = 100;

type Service<St> = Authenticator<
    Services<St, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, CountingHasher>,
>;

/// 2 free attempts, a lock at 5.
fn policy() -> ThrottlePolicy {
    ThrottlePolicy::builder()
        .free_attempts(2)
        .lock_after(5)
        .build()
        .unwrap()
}

fn service<St: LoginStore>(store: St) -> (Arc<Service<St>>, Arc<ManualClock>, Arc<AtomicUsize>) {
    let clock = Arc::new(ManualClock::new(T0));
    let (hasher, jobs) = CountingHasher::cheap();
    let services = Services {
        store,
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock: Arc::clone(&clock),
        hasher,
    };
    let config = ServiceConfig::builder("Example")
        .throttle(policy())
        .build()
        .unwrap();
    (Arc::new(Authenticator::new(services, config)), clock, jobs)
}

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(TotpParams::builder().build().unwrap(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// A six-digit code that differs from `code` in every digit.
fn wrong(code: &str) -> String {
    code.bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 5) % 10))
        .collect()
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

/// How many of [`BURST`] concurrent wrong passwords — for the owner's login, then for a login
/// nobody holds — were verified (argon2 jobs run), on the store `name`.
async fn password_bursts<St>(name: &str, store: St) -> (usize, usize)
where
    St: LoginStore + 'static,
{
    let (s, _clock, jobs) = service(store);
    let up = s.sign_up(LOGIN, Password::from(PW)).await.unwrap();
    let mut verified = Vec::new();
    for login in [LOGIN, "nobody@example.com"] {
        let before = jobs.load(Ordering::SeqCst);
        let tasks: Vec<_> = (0..BURST)
            .map(|i| {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    s.login_to(
                        up.org,
                        login,
                        Password::from(format!("wrong guess {i}").as_str()),
                    )
                    .await
                })
            })
            .collect();
        let mut throttled = 0;
        for task in tasks {
            match task.await.unwrap() {
                Err(ServiceError::InvalidCredentials) => {}
                Err(ServiceError::Throttled { .. } | ServiceError::Locked) => throttled += 1,
                other => panic!("{other:?}"),
            }
        }
        let n = jobs.load(Ordering::SeqCst) - before;
        println!("{name}: {n} of {BURST} concurrent wrong passwords for {login} verified");
        assert_eq!(
            n + throttled,
            BURST,
            "every refused attempt was left unverified"
        );
        verified.push(n);
    }
    (verified[0], verified[1])
}

/// How many of [`BURST`] concurrent wrong TOTP codes, each on its own second-factor ticket, were
/// verified (audited as rejected), on the store `name`.
async fn totp_burst<St>(name: &str, store: St) -> usize
where
    St: LoginStore + 'static,
{
    let (s, clock, _jobs) = service(store);
    let up = s.sign_up(LOGIN, Password::from(PW)).await.unwrap();
    let org: OrgId = up.org;
    let step = s.login_to(org, LOGIN, Password::from(PW)).await.unwrap();
    let grant = *step.grant().expect("signed in");
    let setup = s
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    s.confirm_enrollment(&grant, &code(&key, clock.now()))
        .await
        .unwrap();
    s.acknowledge_enrollment(&grant).await.unwrap();
    clock.advance(30);
    let mut tickets = Vec::with_capacity(BURST);
    for _ in 0..BURST {
        let step = s.login_to(org, LOGIN, Password::from(PW)).await.unwrap();
        assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
        tickets.push(ticket(&step));
    }
    let bad = wrong(&code(&key, clock.now()));
    let rejected = |s: &Service<St>| {
        s.backend()
            .audit
            .events()
            .iter()
            .filter(|e| {
                matches!(
                    e.what,
                    AuditKind::CredentialRejected {
                        factor: Factor::Second(FactorKind::Totp),
                        ..
                    }
                )
            })
            .count()
    };
    let before = rejected(&s);
    let tasks: Vec<_> = tickets
        .into_iter()
        .map(|t| {
            let s = Arc::clone(&s);
            let bad = bad.clone();
            tokio::spawn(async move { s.verify_totp(org, &t, &bad).await })
        })
        .collect();
    for task in tasks {
        match task.await.unwrap() {
            Err(
                ServiceError::InvalidCredentials
                | ServiceError::Throttled { .. }
                | ServiceError::Locked,
            ) => {}
            other => panic!("{other:?}"),
        }
    }
    let n = rejected(&s) - before;
    println!("{name}: {n} of {BURST} concurrent wrong TOTP codes verified");
    n
}

/// The most a burst at one instant may verify: the free attempts and the one that starts the
/// back-off.
fn allowed_at_once() -> usize {
    usize::from(policy().free_attempts()) + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_wrong_passwords_is_verified_no_more_than_allowed_memory() {
    // Every store call yields, as a networked store's would.
    let (real, unknown) = password_bursts("memory", Recording::new(MemoryStore::new())).await;
    assert_eq!((real, unknown), (allowed_at_once(), allowed_at_once()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_wrong_totp_codes_is_verified_no_more_than_allowed_memory() {
    let n = totp_burst("memory", Recording::new(MemoryStore::new())).await;
    assert_eq!(n, allowed_at_once());
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use authcore::SqliteStore;
    use authcore::credential::{KeyId, Keyring, SealingKey};

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap());
        let store = SqliteStore::open(dir.path().join("authcore.db"), keyring)
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_wrong_passwords_is_verified_no_more_than_allowed_sqlite() {
        let (_dir, store) = store().await;
        let (real, unknown) = password_bursts("sqlite", store).await;
        assert_eq!((real, unknown), (allowed_at_once(), allowed_at_once()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_wrong_totp_codes_is_verified_no_more_than_allowed_sqlite() {
        let (_dir, store) = store().await;
        let n = totp_burst("sqlite", store).await;
        assert_eq!(n, allowed_at_once());
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use authcore::PostgresStore;
    use authcore::credential::{KeyId, Keyring, SealingKey};
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;

    /// A store in a fresh schema with a random name.
    async fn store() -> PostgresStore {
        let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL")
            .expect("set AUTHCORE_TEST_POSTGRES_URL to run the PostgreSQL tests");
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).unwrap();
        let schema = format!("authcore_bursts_{}", u64::from_le_bytes(suffix));
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .unwrap();
        admin.close().await;
        let search_path = format!("SET search_path TO {schema}");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .after_connect(move |conn, _| {
                let search_path = search_path.clone();
                Box::pin(async move {
                    conn.execute(search_path.as_str()).await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .unwrap();
        let keyring = Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap());
        let store = PostgresStore::from_pool(pool, keyring);
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_wrong_passwords_is_verified_no_more_than_allowed_postgres() {
        if crate::pg::skip("a_burst_of_wrong_passwords_is_verified_no_more_than_allowed_postgres") {
            return;
        }
        let store = store().await;
        let (real, unknown) = password_bursts("postgres", store).await;
        assert_eq!((real, unknown), (allowed_at_once(), allowed_at_once()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_wrong_totp_codes_is_verified_no_more_than_allowed_postgres() {
        if crate::pg::skip("a_burst_of_wrong_totp_codes_is_verified_no_more_than_allowed_postgres")
        {
            return;
        }
        let store = store().await;
        let n = totp_burst("postgres", store).await;
        assert_eq!(n, allowed_at_once());
    }
}

//! Logins on the database stores: a full password + TOTP login, and the second-factor step alone
//! (take the ticket, verify the code, advance the watermark). The PostgreSQL ids run when
//! `AUTHCORE_TEST_POSTGRES_URL` names a server (each run in a schema of its own).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use authcore::{Authenticator, Services};
use authcore::{
    AuthenticatorName, BearerToken, Clock, EnrollmentPurpose, HashParams, KeyId, Keyring,
    LoginStep, ManualClock, MemoryAuditLog, OrgId, Password, PasswordHasher, RecordingNotifier,
    SealingKey, SecretKey, SecretStore, ServiceConfig, SqliteStore, Totp, TotpParams, UserStore,
};
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use tokio::runtime::Runtime;

const LOGIN: &str = "bench@example.com";
const PW: &str = "correct horse battery staple 42";

type Service<U, S> =
    Authenticator<U, S, Arc<ManualClock>, MemoryAuditLog, RecordingNotifier, PasswordHasher>;

/// One person with an enrolled authenticator app, on a service over `users` and `secrets`.
struct Bench<U, S> {
    service: Service<U, S>,
    clock: Arc<ManualClock>,
    org: OrgId,
    key: SecretKey,
}

fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap())
}

fn code(key: &SecretKey, now: u64) -> String {
    let params = TotpParams::builder().build().unwrap();
    Totp::new(params, key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().unwrap().expose_secret()).unwrap()
}

impl<U: UserStore, S: SecretStore> Bench<U, S> {
    async fn new(users: U, secrets: S, hasher: PasswordHasher) -> Self {
        let clock = Arc::new(ManualClock::new(1_700_000_010));
        let services = Services {
            users,
            secrets,
            clock: Arc::clone(&clock),
            audit: MemoryAuditLog::new(),
            notifier: RecordingNotifier::new(),
            hasher,
        };
        let service =
            Authenticator::new(services, ServiceConfig::builder("Bench").build().unwrap());
        let up = service.sign_up(LOGIN, Password::from(PW)).await.unwrap();
        let step = service
            .login(up.org, LOGIN, Password::from(PW))
            .await
            .unwrap();
        let grant = *step.grant().unwrap();
        let name = AuthenticatorName::new("phone").unwrap();
        let setup = service
            .start_enrollment(&grant, EnrollmentPurpose::Add(name))
            .await
            .unwrap();
        let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
        let _codes = service
            .confirm_enrollment(&grant, &code(&key, clock.now()))
            .await
            .unwrap();
        service.acknowledge_enrollment(&grant).await.unwrap();
        Self {
            service,
            clock,
            org: up.org,
            key,
        }
    }

    /// A full login at the next TOTP step, as the person's next login would be.
    async fn login(&self) {
        self.clock.advance(30);
        let code = code(&self.key, self.clock.now());
        let step = self
            .service
            .login(self.org, LOGIN, Password::from(PW))
            .await
            .unwrap();
        self.second_factor(&ticket(&step), &code).await;
    }

    /// The password step at the next TOTP step: the ticket and the code for the second factor.
    async fn password_step(&self) -> (BearerToken, String) {
        self.clock.advance(30);
        let code = code(&self.key, self.clock.now());
        let step = self
            .service
            .login(self.org, LOGIN, Password::from(PW))
            .await
            .unwrap();
        (ticket(&step), code)
    }

    async fn second_factor(&self, ticket: &BearerToken, code: &str) {
        let done = self
            .service
            .verify_totp(self.org, ticket, code)
            .await
            .unwrap();
        assert!(matches!(done, LoginStep::Granted(_)));
    }
}

/// Argon2 with the production parameters, for the full login.
fn production_hasher() -> PasswordHasher {
    PasswordHasher::builder().build().unwrap()
}

/// Cheap argon2, for the step alone: the password step is set-up, outside the measurement.
fn weak_hasher() -> PasswordHasher {
    PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap()
}

fn bench_pair<U: UserStore, S: SecretStore>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    full: &Bench<U, S>,
    step: &Bench<U, S>,
) {
    group.bench_function(format!("{name}_password_totp"), |b| {
        b.iter(|| rt.block_on(full.login()));
    });
    group.bench_function(format!("{name}_totp_step"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let (ticket, code) = step.password_step().await;
                    let started = Instant::now();
                    step.second_factor(&ticket, &code).await;
                    spent += started.elapsed();
                }
                spent
            })
        });
    });
}

async fn sqlite(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(path, keyring()).await.unwrap()
}

/// A PostgreSQL store in `schema` (created if missing).
#[cfg(feature = "postgres")]
async fn postgres(url: &str, schema: &str) -> authcore::PostgresStore {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;
    let search_path = format!("SET search_path TO {schema}");
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .after_connect(move |conn, _| {
            let search_path = search_path.clone();
            Box::pin(async move {
                conn.execute(search_path.as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .unwrap();
    pool.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
        .await
        .unwrap();
    let store = authcore::PostgresStore::from_pool(pool, keyring());
    store.migrate().await.unwrap();
    store
}

fn login_store(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut group = c.benchmark_group("login_store");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    let dir = tempfile::tempdir().unwrap();
    let (full, step) = rt.block_on(async {
        let full = sqlite(&dir.path().join("full.db")).await;
        let step = sqlite(&dir.path().join("step.db")).await;
        (
            Bench::new(full.clone(), full, production_hasher()).await,
            Bench::new(step.clone(), step, weak_hasher()).await,
        )
    });
    bench_pair(&mut group, &rt, "sqlite", &full, &step);

    #[cfg(feature = "postgres")]
    match std::env::var("AUTHCORE_TEST_POSTGRES_URL") {
        Ok(url) => bench_postgres(&mut group, &rt, &url),
        Err(_) => println!(
            "login_store: AUTHCORE_TEST_POSTGRES_URL is not set, skipping postgres_password_totp \
             and postgres_totp_step"
        ),
    }
    #[cfg(not(feature = "postgres"))]
    println!(
        "login_store: built without the postgres feature, skipping postgres_password_totp and \
         postgres_totp_step"
    );
    group.finish();
}

/// The PostgreSQL ids, in two fresh schemas dropped afterwards.
#[cfg(feature = "postgres")]
fn bench_postgres(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, url: &str) {
    use sqlx::Executor;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let schema = format!("authcore_bench_{}", u64::from_le_bytes(suffix));
    let (full, step) = rt.block_on(async {
        let full = postgres(url, &format!("{schema}_full")).await;
        let step = postgres(url, &format!("{schema}_step")).await;
        (
            Bench::new(full.clone(), full, production_hasher()).await,
            Bench::new(step.clone(), step, weak_hasher()).await,
        )
    });
    bench_pair(group, rt, "postgres", &full, &step);
    rt.block_on(async {
        let pool = full.service.services().store.pool();
        let drop = format!("DROP SCHEMA {schema}_full CASCADE; DROP SCHEMA {schema}_step CASCADE");
        pool.execute(drop.as_str()).await.unwrap();
    });
}

criterion_group!(benches, login_store);
criterion_main!(benches);

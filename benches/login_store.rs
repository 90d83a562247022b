//! Logins on the database stores: a full password + TOTP login, and the second-factor step alone
//! (`verify_totp`: one locked transaction that reads the ticket with what the step decides on,
//! verifies the code, and commits the watermark and the spent ticket), beside the floor measured
//! in the same run on the same pool: one indexed `SELECT` and one guarded `UPDATE` in one
//! transaction (begun as the step begins its own), `COMMIT`. The PostgreSQL ids run when
//! `AUTHCORE_TEST_POSTGRES_URL` names a server (each run in a schema of its own). After each
//! store's group, the ratio of the step to the floor is printed from a measurement of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use authcore::credential::password::HashParams;
use authcore::credential::{KeyId, Keyring, SealingKey};
use authcore::otp::{ManualClock, SecretKey, Totp, TotpParams};
use authcore::policy::{AuthenticatorName, EnrollmentPurpose};
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{Authenticator, Services};
use authcore::{
    BearerToken, Clock, LoginStep, LoginStore, OrgId, Password, PasswordHasher, ServiceConfig,
    SqliteStore,
};
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use tokio::runtime::Runtime;

const LOGIN: &str = "bench@example.com";
const PW: &str = "correct horse battery staple 42";

type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

/// One person with an enrolled authenticator app, on a service over `store`.
struct Bench<S> {
    service: Service<S>,
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

impl<S: LoginStore> Bench<S> {
    async fn new(store: S, hasher: PasswordHasher) -> Self {
        let clock = Arc::new(ManualClock::new(1_700_000_010));
        let services = Services {
            store,
            audit: MemoryAuditLog::new(),
            notifier: RecordingNotifier::new(),
            clock: Arc::clone(&clock),
            hasher,
        };
        let service =
            Authenticator::new(services, ServiceConfig::builder("Bench").build().unwrap());
        let up = service.sign_up(LOGIN, Password::from(PW)).await.unwrap();
        let step = service
            .login_to(up.org, LOGIN, Password::from(PW))
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
            .login_to(self.org, LOGIN, Password::from(PW))
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
            .login_to(self.org, LOGIN, Password::from(PW))
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

fn bench_pair<S: LoginStore>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    full: &Bench<S>,
    step: &Bench<S>,
) {
    group.bench_function(format!("{name}_password_totp"), |b| {
        b.iter(|| rt.block_on(full.login()));
    });
    group.bench_function(format!("{name}_totp_step"), |b| {
        b.iter_custom(|iters| rt.block_on(step_time(step, iters)));
    });
}

/// The TOTP step alone, `iters` times: the password step before each is set-up, not measured.
async fn step_time<S: LoginStore>(step: &Bench<S>, iters: u64) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let (ticket, code) = step.password_step().await;
        let started = Instant::now();
        step.second_factor(&ticket, &code).await;
        spent += started.elapsed();
    }
    spent
}

/// The floor on SQLite, `iters` times: `BEGIN IMMEDIATE` (as the step begins), one indexed
/// `SELECT` of the person, one guarded `UPDATE` of their watermark row (rewriting its value),
/// `COMMIT`.
async fn sqlite_floor(pool: &sqlx::SqlitePool, iters: u64) -> Duration {
    use sqlx::Row as _;
    let id: Vec<u8> = sqlx::query("SELECT id FROM people WHERE login = $1")
        .bind(LOGIN)
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    let started = Instant::now();
    for _ in 0..iters {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        let row = sqlx::query("SELECT id, login FROM people WHERE login = $1")
            .bind(LOGIN)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let _: Vec<u8> = row.get(0);
        let done = sqlx::query(
            "UPDATE authenticator_watermarks SET last_step = last_step \
             WHERE person = $1 AND last_step < $2",
        )
        .bind(&id)
        .bind(i64::MAX)
        .execute(&mut *tx)
        .await
        .unwrap();
        assert_eq!(done.rows_affected(), 1);
        tx.commit().await.unwrap();
    }
    started.elapsed()
}

/// The floor on PostgreSQL, as [`sqlite_floor`] (a plain `BEGIN`, as the step begins).
#[cfg(feature = "postgres")]
async fn postgres_floor(pool: &sqlx::PgPool, iters: u64) -> Duration {
    use sqlx::Row as _;
    let id: Vec<u8> = sqlx::query("SELECT id FROM people WHERE login = $1")
        .bind(LOGIN)
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    let started = Instant::now();
    for _ in 0..iters {
        let mut tx = pool.begin().await.unwrap();
        let row = sqlx::query("SELECT id, login FROM people WHERE login = $1")
            .bind(LOGIN)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let _: Vec<u8> = row.get(0);
        let done = sqlx::query(
            "UPDATE authenticator_watermarks SET last_step = last_step \
             WHERE person = $1 AND last_step < $2",
        )
        .bind(&id)
        .bind(i64::MAX)
        .execute(&mut *tx)
        .await
        .unwrap();
        assert_eq!(done.rows_affected(), 1);
        tx.commit().await.unwrap();
    }
    started.elapsed()
}

/// Prints the step's time over the floor's, each measured over `iters` runs here.
fn print_ratio(name: &str, step: Duration, floor: Duration, iters: u64) {
    let per = |d: Duration| d.as_secs_f64() * 1e6 / iters as f64;
    println!(
        "login_store: {name}: verify_totp {:.0} µs, floor {:.0} µs, ratio {:.2}",
        per(step),
        per(floor),
        step.as_secs_f64() / floor.as_secs_f64()
    );
}

/// How many runs the printed ratio is measured over.
const RATIO_RUNS: u64 = 200;

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
            Bench::new(full, production_hasher()).await,
            Bench::new(step, weak_hasher()).await,
        )
    });
    bench_pair(&mut group, &rt, "sqlite", &full, &step);
    let pool = step.service.backend().store.pool().clone();
    group.bench_function("sqlite_floor", |b| {
        b.iter_custom(|iters| rt.block_on(sqlite_floor(&pool, iters)));
    });
    let (spent, floor) = rt.block_on(async {
        (
            step_time(&step, RATIO_RUNS).await,
            sqlite_floor(&pool, RATIO_RUNS).await,
        )
    });
    print_ratio("sqlite", spent, floor, RATIO_RUNS);

    #[cfg(feature = "postgres")]
    match std::env::var("AUTHCORE_TEST_POSTGRES_URL") {
        Ok(url) => bench_postgres(&mut group, &rt, &url),
        Err(_) => println!(
            "login_store: AUTHCORE_TEST_POSTGRES_URL is not set, skipping postgres_password_totp, \
             postgres_totp_step and postgres_floor"
        ),
    }
    #[cfg(not(feature = "postgres"))]
    println!(
        "login_store: built without the postgres feature, skipping postgres_password_totp, \
         postgres_totp_step and postgres_floor"
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
            Bench::new(full, production_hasher()).await,
            Bench::new(step, weak_hasher()).await,
        )
    });
    bench_pair(group, rt, "postgres", &full, &step);
    let pool = step.service.backend().store.pool().clone();
    group.bench_function("postgres_floor", |b| {
        b.iter_custom(|iters| rt.block_on(postgres_floor(&pool, iters)));
    });
    let (spent, floor) = rt.block_on(async {
        (
            step_time(&step, RATIO_RUNS).await,
            postgres_floor(&pool, RATIO_RUNS).await,
        )
    });
    print_ratio("postgres", spent, floor, RATIO_RUNS);
    rt.block_on(async {
        let pool = full.service.backend().store.pool();
        let drop = format!("DROP SCHEMA {schema}_full CASCADE; DROP SCHEMA {schema}_step CASCADE");
        pool.execute(drop.as_str()).await.unwrap();
    });
}

criterion_group!(benches, login_store);
criterion_main!(benches);

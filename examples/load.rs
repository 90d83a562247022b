//! A scale check on the database stores: `cargo run --release --example load --features postgres`.
//!
//! For each store (SQLite in a temporary directory; PostgreSQL in a fresh schema, dropped at the
//! end, when `AUTHCORE_TEST_POSTGRES_URL` or `--postgres URL` names a server):
//!
//! 1. enrolls 100 people through the service: 80 with production argon2 parameters (for the
//!    login rate) and 20 "probes" with cheap ones (their password step is set-up for timing the
//!    second-factor step and should cost little);
//! 2. times the second-factor step (take the ticket, verify the TOTP code, advance the watermark)
//!    for the probes;
//! 3. grows the database to 100,000 people (`--people N` to change) by copying a probe's rows
//!    under new ids: person, organisation, membership, sealed MFA state, watermark, recovery
//!    codes, and one abandoned (expired) login ticket each. This is plain `INSERT … SELECT` in
//!    one transaction, seconds instead of the hours 100,000 sign-ups with production argon2
//!    would take; the copied MFA states stay sealed to the probe, so they are never opened, only
//!    counted by the indexes, which is what the check is about;
//! 4. times the second-factor step again and compares the medians (within 1.2×, or the example
//!    exits non-zero);
//! 5. reports full logins (password with production argon2 on tokio's blocking pool, then TOTP)
//!    per second with 1, 4 and 16 concurrent tasks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::exit;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authcore::LoginStore;
use authcore::credential::password::HashParams;
use authcore::credential::{KeyId, Keyring, SealingKey};
use authcore::otp::{ManualClock, SecretKey, SystemClock, Totp, TotpParams};
use authcore::policy::{AuthenticatorName, EnrollmentPurpose};
use authcore::service::{HashJob, HashOutput};
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{Authenticator, Services};
use authcore::{
    BearerToken, Clock, LoginStep, OrgId, Password, PasswordHasher, PasswordHashing, ServiceConfig,
    SqliteStore,
};

const PW: &str = "correct horse battery staple 42";
/// People enrolled with production argon2, who log in for the login rate.
const PEOPLE: usize = 80;
/// People enrolled with cheap argon2, whose second-factor step is timed.
const PROBES: usize = 20;
/// Timing passes per scale; the best median counts (the machine may be shared).
const PASSES: usize = 3;
/// Rounds per pass: every probe logs in once per round (100 samples per pass).
const ROUNDS: usize = 5;

/// Runs argon2 on tokio's blocking pool, so concurrent logins hash in parallel.
struct BlockingHasher(Arc<PasswordHasher>);

impl PasswordHashing for BlockingHasher {
    async fn run(&self, job: HashJob) -> HashOutput {
        let hasher = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || job.run(&hasher))
            .await
            .unwrap_or_else(|_| HashOutput::failed())
    }
}

/// Argon2 either on the blocking pool (production parameters) or inline (cheap ones).
enum Hasher {
    Blocking(BlockingHasher),
    Inline(Box<PasswordHasher>),
}

impl PasswordHashing for Hasher {
    async fn run(&self, job: HashJob) -> HashOutput {
        match self {
            Self::Blocking(hasher) => hasher.run(job).await,
            Self::Inline(hasher) => job.run(hasher),
        }
    }
}

type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, Hasher>>;

/// Someone who can log in: their organisation, login name and authenticator key.
struct Person {
    org: OrgId,
    login: String,
    key: SecretKey,
}

fn service<S: LoginStore>(store: S, clock: &Arc<ManualClock>, hasher: Hasher) -> Service<S> {
    let services = Services {
        store,
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock: Arc::clone(clock),
        hasher,
    };
    Authenticator::new(services, ServiceConfig::builder("Load").build().unwrap())
}

fn production() -> Hasher {
    Hasher::Blocking(BlockingHasher(Arc::new(
        PasswordHasher::builder().build().unwrap(),
    )))
}

fn cheap() -> Hasher {
    Hasher::Inline(Box::new(
        PasswordHasher::builder()
            .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
            .build()
            .unwrap(),
    ))
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
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

/// Signs `login` up and enrolls an authenticator app.
async fn enroll<S: LoginStore>(s: &Service<S>, login: String) -> Person {
    let up = s.sign_up(&login, Password::from(PW)).await.unwrap();
    let step = s
        .login_to(up.org, &login, Password::from(PW))
        .await
        .unwrap();
    let grant = *step.grant().expect("signed in");
    let name = AuthenticatorName::new("phone").unwrap();
    let setup = s
        .start_enrollment(&grant, EnrollmentPurpose::Add(name))
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let now = s.backend().clock.now();
    let _codes = s
        .confirm_enrollment(&grant, &code(&key, now))
        .await
        .unwrap();
    s.acknowledge_enrollment(&grant).await.unwrap();
    Person {
        org: up.org,
        login,
        key,
    }
}

/// Enrolls `count` people named `prefix-N@load.example`, 16 at a time.
///
/// The tasks run on a `LocalSet`: `sign_up`'s future is not `Send` (it keeps the password
/// policy's context, which may hold a non-`Sync` host check, across an await).
async fn enroll_many<S>(s: &Arc<Service<S>>, prefix: &str, count: usize) -> Vec<Person>
where
    S: LoginStore + 'static,
{
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let workers: Vec<_> = (0..16)
                .map(|w| {
                    let s = Arc::clone(s);
                    let prefix = prefix.to_owned();
                    tokio::task::spawn_local(async move {
                        let mut people = Vec::new();
                        for i in (w..count).step_by(16) {
                            people.push(enroll(&s, format!("{prefix}-{i}@load.example")).await);
                        }
                        people
                    })
                })
                .collect();
            let mut people = Vec::new();
            for worker in workers {
                people.extend(worker.await.unwrap());
            }
            people
        })
        .await
}

/// A full login at the current time; panics unless it is granted.
async fn login<S: LoginStore>(s: &Service<S>, person: &Person) {
    let step = s
        .login_to(person.org, &person.login, Password::from(PW))
        .await
        .unwrap();
    let now = s.backend().clock.now();
    let done = s
        .verify_totp(person.org, &ticket(&step), &code(&person.key, now))
        .await
        .unwrap();
    assert!(matches!(done, LoginStep::Granted(_)), "{done:?}");
}

/// The median duration of the second-factor step alone, the best of [`PASSES`] passes.
async fn second_factor_median<S: LoginStore>(s: &Service<S>, probes: &[Person]) -> Duration {
    let clock = &s.backend().clock;
    let mut best = Duration::MAX;
    for _ in 0..PASSES {
        let mut samples = Vec::new();
        for _ in 0..ROUNDS {
            clock.advance(30);
            let now = clock.now();
            for person in probes {
                let step = s
                    .login_to(person.org, &person.login, Password::from(PW))
                    .await
                    .unwrap();
                let (ticket, code) = (ticket(&step), code(&person.key, now));
                let started = Instant::now();
                let done = s.verify_totp(person.org, &ticket, &code).await.unwrap();
                samples.push(started.elapsed());
                assert!(matches!(done, LoginStep::Granted(_)), "{done:?}");
            }
        }
        samples.sort();
        let median = samples.get(samples.len() / 2).copied().unwrap();
        best = best.min(median);
    }
    best
}

/// Full logins per second with `tasks` concurrent tasks, each person logging in once.
async fn logins_per_second<S>(s: &Arc<Service<S>>, people: &Arc<Vec<Person>>, tasks: usize) -> f64
where
    S: LoginStore + 'static,
{
    s.backend().clock.advance(30);
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|w| {
            let (s, people) = (Arc::clone(s), Arc::clone(people));
            tokio::spawn(async move {
                for person in people.iter().skip(w).step_by(tasks) {
                    login(&s, person).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    people.len() as f64 / started.elapsed().as_secs_f64()
}

/// Grows the database to `people` people by copying the probe `template`'s rows.
trait Grow {
    /// Returns the rows added to each table.
    async fn grow(&self, template: &str, copies: i64) -> Vec<u64>;

    /// Refreshes the planner's statistics (and, on SQLite, folds the write-ahead log into the
    /// database file), as in a database that has been running a while; before each timing.
    async fn settle(&self);
}

/// The `INSERT … SELECT` statements that copy the template's rows `$1` times; `with` introduces
/// the series `s(n)`, `series` is its `FROM` item, `id(prefix)` makes a 16-byte id from `s.n`.
fn copy_statements(
    with: &str,
    series: &str,
    id: impl Fn(&str) -> String,
    digest: &str,
) -> Vec<String> {
    let (person, org) = (id("ff"), id("fe"));
    let of = |table: &str, column: &str| {
        format!(
            "FROM {table} JOIN people p ON p.id = {table}.{column}, {series} WHERE p.login = $2"
        )
    };
    vec![
        format!(
            "{with}INSERT INTO people (id, login, password_hash, password_state, \
             password_expires_at, deactivated, phone, created_at) \
             SELECT {person}, 'filler-' || s.n || '@load.example', password_hash, password_state, \
             password_expires_at, deactivated, phone, created_at FROM people, {series} \
             WHERE login = $2"
        ),
        format!(
            "{with}INSERT INTO organisations (id, state, version) \
             SELECT {org}, o.state, o.version FROM organisations o \
             JOIN memberships m ON m.org = o.id JOIN people p ON p.id = m.person, {series} \
             WHERE p.login = $2"
        ),
        format!(
            "{with}INSERT INTO memberships (person, org) SELECT {person}, {org} {}",
            of("memberships", "person")
        ),
        format!(
            "{with}INSERT INTO mfa (person, state_key, state, version) \
             SELECT {person}, state_key, state, version {}",
            of("mfa", "person")
        ),
        format!(
            "{with}INSERT INTO authenticator_watermarks (person, authenticator, last_step) \
             SELECT {person}, authenticator, last_step {}",
            of("authenticator_watermarks", "person")
        ),
        format!(
            "{with}INSERT INTO recovery_sets (person, slot, set_id, codes, spent, stored) \
             SELECT {person}, slot, set_id, codes, spent, stored {}",
            of("recovery_sets", "person")
        ),
        // One abandoned login each: a ticket like the template's, long expired.
        format!(
            "{with}INSERT INTO tickets (digest, step, progress, expires_at) \
             SELECT {digest}, t.step, t.progress, 0 \
             FROM (SELECT step, progress FROM tickets LIMIT 1) t, {series} WHERE $2 = $2"
        ),
    ]
}

impl Grow for SqliteStore {
    async fn grow(&self, template: &str, copies: i64) -> Vec<u64> {
        let statements = copy_statements(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $1) ",
            "s",
            |prefix| format!("unhex('{prefix}' || printf('%030x', s.n))"),
            "randomblob(32)",
        );
        let mut tx = self.pool().begin().await.unwrap();
        let mut added = Vec::new();
        for statement in statements {
            let done = sqlx::query(&statement)
                .bind(copies)
                .bind(template)
                .execute(&mut *tx)
                .await
                .unwrap();
            added.push(done.rows_affected());
        }
        tx.commit().await.unwrap();
        added
    }

    async fn settle(&self) {
        sqlx::query("ANALYZE").execute(self.pool()).await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(self.pool())
            .await
            .unwrap();
    }
}

#[cfg(feature = "postgres")]
impl Grow for authcore::PostgresStore {
    async fn grow(&self, template: &str, copies: i64) -> Vec<u64> {
        let statements = copy_statements(
            "",
            "generate_series(1, $1) AS s(n)",
            |prefix| format!("decode('{prefix}' || lpad(to_hex(s.n), 30, '0'), 'hex')"),
            "sha256(('abandoned-' || s.n)::bytea)",
        );
        let mut tx = self.pool().begin().await.unwrap();
        let mut added = Vec::new();
        for statement in statements {
            let done = sqlx::query(&statement)
                .bind(copies)
                .bind(template)
                .execute(&mut *tx)
                .await
                .unwrap();
            added.push(done.rows_affected());
        }
        tx.commit().await.unwrap();
        added
    }

    async fn settle(&self) {
        sqlx::query("ANALYZE").execute(self.pool()).await.unwrap();
    }
}

/// The whole check on one store; returns whether the step stayed within 1.2×.
async fn check<T>(name: &str, store: T, people: usize) -> bool
where
    T: LoginStore + Grow + Clone + 'static,
{
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let full = Arc::new(service(store.clone(), &clock, production()));
    let probe = Arc::new(service(store.clone(), &clock, cheap()));
    let started = Instant::now();
    let users = Arc::new(enroll_many(&full, "person", PEOPLE).await);
    let probes = enroll_many(&probe, "probe", PROBES).await;
    println!(
        "{name}: enrolled {} people through the service in {:.1?}",
        PEOPLE + PROBES,
        started.elapsed()
    );
    store.settle().await;
    let small = second_factor_median(&probe, &probes).await;
    println!(
        "{name}: second-factor step with {} people: median {small:.2?}",
        PEOPLE + PROBES
    );

    // An abandoned login by the template leaves the ticket the copies are modelled on.
    let template = &probes.first().unwrap().login;
    let _ = probe
        .login_to(probes.first().unwrap().org, template, Password::from(PW))
        .await
        .unwrap();
    let copies = people.saturating_sub(PEOPLE + PROBES) as i64;
    let started = Instant::now();
    let added = store.grow(template, copies).await;
    println!(
        "{name}: grew to {people} people in {:.1?}; rows added to people, organisations, \
         memberships, mfa, authenticator_watermarks, recovery_sets, tickets: {added:?}",
        started.elapsed()
    );
    store.settle().await;
    let large = second_factor_median(&probe, &probes).await;
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    let within = ratio <= 1.2;
    println!(
        "{name}: second-factor step with {people} people: median {large:.2?} ({ratio:.2}× the \
         small database: {})",
        if within {
            "within 1.2×"
        } else {
            "NOT within 1.2×"
        }
    );
    for tasks in [1, 4, 16] {
        let rate = logins_per_second(&full, &users, tasks).await;
        println!(
            "{name}: {rate:.1} full logins/s with {tasks:>2} concurrent task(s) \
             ({PEOPLE} logins, production argon2)"
        );
    }
    within
}

#[tokio::main]
async fn main() {
    let mut people = 100_000;
    let mut postgres = std::env::var("AUTHCORE_TEST_POSTGRES_URL").ok();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--people", Some(n)) => people = n.parse().expect("--people takes a number"),
            ("--postgres", Some(url)) => postgres = Some(url),
            _ => {
                eprintln!("usage: load [--people N] [--postgres postgres://…]");
                exit(2);
            }
        }
    }
    let key = SealingKey::generate().unwrap();
    let keyring = || {
        Keyring::new(
            KeyId::new(1),
            SealingKey::from_bytes(key.expose_secret()).unwrap(),
        )
    };
    let mut ok = true;

    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("load.db"), keyring())
        .await
        .unwrap();
    ok &= check("sqlite", sqlite, people).await;

    match postgres {
        #[cfg(feature = "postgres")]
        Some(url) => ok &= check_postgres(&url, keyring(), people).await,
        #[cfg(not(feature = "postgres"))]
        Some(_) => println!(
            "postgres: skipped, this build has no PostgreSQL store (add `--features postgres`)"
        ),
        None => {
            println!("postgres: skipped, set AUTHCORE_TEST_POSTGRES_URL or pass --postgres URL")
        }
    }
    if !ok {
        exit(1);
    }
}

/// The check on PostgreSQL, in a fresh schema dropped afterwards.
#[cfg(feature = "postgres")]
async fn check_postgres(url: &str, keyring: Keyring, people: usize) -> bool {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;

    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let schema = format!("authcore_load_{}", u64::from_le_bytes(suffix));
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
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
        .connect(url)
        .await
        .unwrap();
    let store = authcore::PostgresStore::from_pool(pool, keyring);
    store.migrate().await.unwrap();
    let within = check("postgres", store.clone(), people).await;
    store.pool().close().await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .unwrap();
    within
}

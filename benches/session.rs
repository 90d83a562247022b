//! The per-request session check, `Authenticator::authenticate`: on the memory store (target
//! under 1 µs and no heap allocation, counted by a counting global allocator), and on SQLite and
//! PostgreSQL side by side with one indexed `SELECT` of one row on the same pool (target at most
//! 1.2 times it). The PostgreSQL ids run when `AUTHCORE_TEST_POSTGRES_URL` names a server (in a
//! schema of its own, dropped afterwards).
#![allow(unsafe_code)] // implementing `GlobalAlloc` requires it; the library itself forbids it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use authcore::credential::password::HashParams;
use authcore::credential::{KeyId, Keyring, SealingKey};
use authcore::otp::ManualClock;
use authcore::policy::SessionLabels;
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{
    Authenticator, LoginStore, MemoryStore, Password, PasswordHasher, ServiceConfig, Services,
    SqliteStore,
};
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use tokio::runtime::Runtime;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

struct CountingAllocator;

// SAFETY: delegates every call to the system allocator unchanged; only counts allocations.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// How many alternating pairs the side-by-side ratio is taken over.
const PAIRS: usize = 4000;

const LOGIN: &str = "bench@example.com";
const PW: &str = "correct horse battery staple 42";

type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

/// Polls a future that completes without waiting (the memory store's) to its end, with no
/// runtime and no allocation.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// A service over `store` with one signed-up person and one open session; its token.
async fn signed_in<S: LoginStore>(store: S) -> (Service<S>, String) {
    let clock = Arc::new(ManualClock::new(1_700_000_010));
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap();
    let services = Services {
        store,
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock,
        hasher,
    };
    let service = Authenticator::new(services, ServiceConfig::builder("Bench").build().unwrap());
    let up = service.sign_up(LOGIN, Password::from(PW)).await.unwrap();
    let step = service
        .login_to(up.org, LOGIN, Password::from(PW))
        .await
        .unwrap();
    let opened = step.into_session().unwrap();
    let token = opened.token.expose_secret().to_string();
    let labels = SessionLabels::new().with_user_agent("bench");
    service.label_session(&token, &labels).await.unwrap();
    (service, token)
}

fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap())
}

fn memory(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime) {
    let (service, token) = rt.block_on(signed_in(MemoryStore::new()));
    ready(service.authenticate(&token)).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        ready(service.authenticate(&token)).unwrap();
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("session/memory_authenticate: {allocations} heap allocations in 1000 calls");
    assert_eq!(allocations, 0, "authenticate on the memory store allocates");
    group.bench_function("memory_authenticate", |b| {
        b.iter(|| ready(service.authenticate(std::hint::black_box(&token))).unwrap());
    });
}

/// `authenticate` against the one indexed `SELECT` of one row it is measured by (`select`, on
/// the same pool), both run to completion on the runtime the same way.
fn sql_pair<S, F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    service: &Service<S>,
    token: &str,
    select: F,
) where
    S: LoginStore,
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    assert!(rt.block_on(select()), "the session row is there");
    // Side by side: alternate the two, so that load from elsewhere on the machine falls on both
    // alike, and compare the medians.
    let (mut plain, mut checked) = (Vec::new(), Vec::new());
    for n in 0..PAIRS {
        // Each goes first every other time, so that neither gains from following the other.
        let (first, second) = if n % 2 == 0 {
            (&mut plain, &mut checked)
        } else {
            (&mut checked, &mut plain)
        };
        let start = Instant::now();
        if n % 2 == 0 {
            assert!(rt.block_on(select()));
        } else {
            rt.block_on(service.authenticate(token)).unwrap();
        }
        let middle = Instant::now();
        if n % 2 == 0 {
            rt.block_on(service.authenticate(token)).unwrap();
        } else {
            assert!(rt.block_on(select()));
        }
        first.push(middle - start);
        second.push(middle.elapsed());
    }
    plain.sort_unstable();
    checked.sort_unstable();
    let (plain, checked) = (plain[PAIRS / 2], checked[PAIRS / 2]);
    println!(
        "session/{name}: authenticate {checked:?} vs one indexed SELECT {plain:?} (medians of \
         {PAIRS} alternating pairs): {:.2}x",
        checked.as_secs_f64() / plain.as_secs_f64()
    );
    group.bench_function(format!("{name}_select_one_row"), |b| {
        b.iter(|| assert!(rt.block_on(select())));
    });
    group.bench_function(format!("{name}_authenticate"), |b| {
        b.iter(|| rt.block_on(service.authenticate(token)).unwrap());
    });
}

/// The digest column's value for `token`.
fn digest(token: &str) -> Vec<u8> {
    authcore::BearerToken::parse(token)
        .unwrap()
        .digest()
        .0
        .to_vec()
}

fn session(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut group = c.benchmark_group("session");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    memory(&mut group, &rt);

    let dir = tempfile::tempdir().unwrap();
    let (service, token) = rt.block_on(async {
        let store = SqliteStore::open(dir.path().join("session.db"), keyring())
            .await
            .unwrap();
        signed_in(store).await
    });
    let pool = service.backend().store.pool().clone();
    let key = digest(&token);
    sql_pair(&mut group, &rt, "sqlite", &service, &token, || {
        let (pool, key) = (pool.clone(), key.clone());
        async move {
            sqlx::query("SELECT digest FROM sessions WHERE digest = $1")
                .bind(key)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .is_some()
        }
    });

    #[cfg(feature = "postgres")]
    match std::env::var("AUTHCORE_TEST_POSTGRES_URL") {
        Ok(url) => postgres(&mut group, &rt, &url),
        Err(_) => println!("session: AUTHCORE_TEST_POSTGRES_URL is not set, skipping postgres"),
    }
    group.finish();
}

#[cfg(feature = "postgres")]
fn postgres(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, url: &str) {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let schema = format!("authcore_bench_session_{}", u64::from_le_bytes(suffix));
    let (service, token) = rt.block_on(async {
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
        signed_in(store).await
    });
    let pool = service.backend().store.pool().clone();
    let key = digest(&token);
    sql_pair(group, rt, "postgres", &service, &token, || {
        let (pool, key) = (pool.clone(), key.clone());
        async move {
            sqlx::query("SELECT digest FROM sessions WHERE digest = $1")
                .bind(key)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .is_some()
        }
    });
    rt.block_on(async {
        let pool = service.backend().store.pool();
        pool.execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
            .await
            .unwrap();
    });
}

criterion_group!(benches, session);
criterion_main!(benches);

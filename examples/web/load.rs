//! `--load CxN`: a small load run against the served app, over loopback only. C concurrent
//! clients each sign in N times (the password form, answered with the session cookie), and the
//! run reports logins per second and the latency percentiles next to the argon2 floor: the
//! cores divided by one password hash's time, measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use authcore::{Password, PasswordHasher};

/// Parses `CxN` (for example `8x50`), each at most 64 and 1000.
pub fn parse(spec: &str) -> Option<(usize, usize)> {
    let (c, n) = spec.split_once('x')?;
    let (c, n) = (c.parse().ok()?, n.parse().ok()?);
    ((1..=64).contains(&c) && (1..=1000).contains(&n)).then_some((c, n))
}

type Http = Client<HttpConnector, Full<Bytes>>;

async fn post(http: &Http, origin: &str, path: &str, form: String) -> (u16, Option<String>) {
    let request = axum::http::Request::post(format!("{origin}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", origin)
        .body(Full::new(Bytes::from(form)))
        .expect("a request");
    let response = http.request(request).await.expect("a response");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    let _ = response.into_body().collect().await;
    (status, location)
}

fn form(login: &str, password: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!("login={}&password={}", enc(login), enc(password))
}

/// One hash with the default (production) argon2 parameters, best of five.
fn hash_time() -> Duration {
    let hasher = PasswordHasher::builder()
        .build()
        .expect("the default hasher");
    let password = Password::from("a password to time the hash with");
    (0..5)
        .map(|_| {
            let started = Instant::now();
            hasher.hash(&password).expect("a hash");
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Runs the load against `origin` and prints the figures.
pub async fn run(origin: &str, clients: usize, rounds: usize) {
    let http: Arc<Http> = Arc::new(Client::builder(TokioExecutor::new()).build_http());
    const PW: &str = "load test passphrase, long enough";
    for c in 0..clients {
        let (status, _) = post(
            &http,
            origin,
            "/signup",
            form(&format!("load{c}@example.com"), PW),
        )
        .await;
        assert_eq!(status, 303, "sign-up of client {c}");
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = Arc::clone(&http);
        let origin = origin.to_owned();
        tasks.push(tokio::spawn(async move {
            let body = form(&format!("load{c}@example.com"), PW);
            let mut latencies = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let t = Instant::now();
                let (status, location) = post(&http, &origin, "/login", body.clone()).await;
                assert_eq!((status, location.as_deref()), (303, Some("/account")));
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a client"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies.get(i).copied().unwrap_or_default()
    };
    let hash = hash_time();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    let floor = cores as f64 / hash.as_secs_f64();
    println!(
        "load {clients}x{rounds}: {} logins in {:.2} s = {rate:.1} logins/s; latency p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
    );
    println!(
        "argon2 floor: {cores} cores / {:.1} ms per hash = {floor:.1} logins/s (the run reaches {:.0} %)",
        hash.as_secs_f64() * 1e3,
        100.0 * rate / floor
    );
}

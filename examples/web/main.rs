//! The web example: every story of authcore as server-rendered pages, on axum.
//!
//! ```text
//! cargo run --example web --features axum,qr            # SQLite in a temporary directory
//! cargo run --example web --features axum,qr,passkeys   # with passkeys
//! cargo run --example web --features axum,qr -- --port 8080 --database app.db
//! cargo run --example web --features axum,qr,postgres -- --database postgres://user@host/db
//! ```
//!
//! It serves on 127.0.0.1 (port 3000 by default, `--port 0` for any free one) and prints the
//! address to open, `http://localhost:PORT` (WebAuthn needs a secure context, which
//! `localhost` is, for the relying party `localhost`), and the development outbox
//! (`/dev/outbox`), where the e-mails and text messages it "sent" can be read.
//! `tests/browser.rs` drives these pages in headless Chromium.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod app;
mod load;

use std::process::exit;
use std::sync::Arc;

use authcore::credential::{KeyId, Keyring, OobKey, SealingKey};
use authcore::store::MemoryAuditLog;
use authcore::web::WebKey;
use authcore::{Authenticator, LoginStore, Services, SqliteStore};

use app::Outbox;

struct Args {
    port: u16,
    database: Option<String>,
    load: Option<(usize, usize)>,
}

fn usage() -> ! {
    eprintln!("usage: web [--port N] [--database PATH | --database postgres://…] [--load CxN]");
    exit(2);
}

fn args() -> Args {
    let mut args = Args {
        port: 3000,
        database: None,
        load: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--port", Some(port)) => args.port = port.parse().unwrap_or_else(|_| usage()),
            ("--database", Some(database)) => args.database = Some(database),
            ("--load", Some(spec)) => {
                args.load = Some(load::parse(&spec).unwrap_or_else(|| usage()))
            }
            _ => usage(),
        }
    }
    args
}

/// The key that seals authenticator secrets at rest. A real host loads it from its secret
/// manager; the example makes a fresh one (so a database file outlives it only as a record).
fn keyring() -> Keyring {
    Keyring::new(
        KeyId::new(1),
        SealingKey::generate().expect("a sealing key"),
    )
}

#[tokio::main]
async fn main() {
    let args = args();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on 127.0.0.1:{}: {e}", args.port);
            exit(1);
        });
    let port = listener.local_addr().expect("a local address").port();
    match args.database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            postgres(listener, port, &url, args.load).await;
        }
        Some(path) => {
            let store = SqliteStore::open(&path, keyring())
                .await
                .expect("the SQLite database");
            println!("database: SQLite at {path}");
            serve(listener, port, store, args.load).await;
        }
        None => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join("authcore.db");
            let store = SqliteStore::open(&path, keyring())
                .await
                .expect("the SQLite database");
            println!("database: SQLite at {} (removed on exit)", path.display());
            serve(listener, port, store, args.load).await;
        }
    }
}

#[cfg(feature = "postgres")]
async fn postgres(
    listener: tokio::net::TcpListener,
    port: u16,
    url: &str,
    load: Option<(usize, usize)>,
) {
    let store = authcore::PostgresStore::connect(url, keyring())
        .await
        .expect("the PostgreSQL database");
    println!("database: PostgreSQL");
    serve(listener, port, store, load).await;
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_: tokio::net::TcpListener, _: u16, _: &str, _: Option<(usize, usize)>) {
    eprintln!("PostgreSQL needs the `postgres` feature: --features axum,postgres");
    exit(2);
}

async fn serve<S: LoginStore + 'static>(
    listener: tokio::net::TcpListener,
    port: u16,
    store: S,
    load: Option<(usize, usize)>,
) {
    // Listening on 127.0.0.1, opened as localhost: the secure context passkeys need.
    let origin = format!("http://localhost:{port}");
    let outbox = Outbox::new();
    let backend = Services::new(store, MemoryAuditLog::new(), outbox.clone()).expect("a backend");
    let config = app::service_config(
        &origin,
        OobKey::generate_with_rng(&mut getrandom::SysRng).expect("an SMS key"),
    )
    .build()
    .expect("the service configuration");
    let auth = Arc::new(Authenticator::new(backend, config));
    let router = app::router(
        auth,
        outbox,
        &origin,
        WebKey::generate().expect("a web key"),
    )
    .expect("the web configuration");
    println!("serving on {origin}/");
    println!("dev outbox: {origin}/dev/outbox");
    if let Some((clients, rounds)) = load {
        // The load run: the server in the background, the clients here, then exit.
        tokio::spawn(async move { axum::serve(listener, router).await });
        // The load clients connect to the address itself (also an allowed origin).
        load::run(&format!("http://127.0.0.1:{port}"), clients, rounds).await;
        return;
    }
    axum::serve(listener, router).await.expect("the server");
}

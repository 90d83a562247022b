//! Two `Authenticator` values sharing one PostgreSQL database stand for two application servers:
//! a TOTP code or recovery code accepted by one is refused by the other, also when both race.
//! Runs on the server named by `AUTHCORE_TEST_POSTGRES_URL`, in a schema of its own; without the
//! variable each test prints that it is skipped and passes.
#![cfg(all(feature = "postgres", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/postgres.rs"]
mod pg;

use std::sync::Arc;

use authcore::credential::password::HashParams;
use authcore::credential::{KeyId, Keyring, SealingKey};
use authcore::otp::{ManualClock, SecretKey, Totp, TotpParams};
use authcore::policy::{AuthenticatorName, EnrollmentPurpose};
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{Authenticator, Services};
use authcore::{
    BearerToken, Clock, LoginStep, OrgId, Password, PasswordHasher, PostgresStore, ServiceConfig,
    ServiceError,
};
use sqlx::Executor;
use sqlx::postgres::PgPoolOptions;

type Server = Authenticator<
    Services<PostgresStore, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>,
>;

const LOGIN: &str = "olivia@example.com";
const PW: &str = "correct horse battery staple 42";

/// A fresh schema with a random name; dropped by [`drop_schema`] when the test passes.
async fn schema(url: &str) -> String {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let name = format!("authcore_two_servers_{}", u64::from_le_bytes(suffix));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    pool.execute(format!("CREATE SCHEMA {name}").as_str())
        .await
        .unwrap();
    pool.close().await;
    name
}

async fn drop_schema(url: &str, schema: &str) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    pool.execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .unwrap();
    pool.close().await;
}

/// One application server: its own connection pool, audit log and notifier; the database, the
/// sealing key and the time are shared.
async fn server(url: &str, schema: &str, key: &[u8; 32], clock: &Arc<ManualClock>) -> Server {
    let search_path = format!("SET search_path TO {schema}");
    let pool = PgPoolOptions::new()
        .max_connections(8)
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
    let keyring = Keyring::new(KeyId::new(1), SealingKey::from_bytes(key).unwrap());
    let store = PostgresStore::from_pool(pool, keyring);
    store.migrate().await.unwrap();
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap();
    let services = Services {
        store,
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock: Arc::clone(clock),
        hasher,
    };
    Authenticator::new(
        services,
        ServiceConfig::builder("Example Co").build().unwrap(),
    )
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

/// Signs Olivia up on `server` and enrolls her authenticator: her organisation, her TOTP key and
/// her recovery codes.
async fn enrolled(server: &Server) -> (OrgId, SecretKey, Vec<String>) {
    let up = server.sign_up(LOGIN, Password::from(PW)).await.unwrap();
    let step = server
        .login_to(up.org, LOGIN, Password::from(PW))
        .await
        .unwrap();
    let grant = *step.grant().expect("signed in");
    let setup = server
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let now = server.backend().clock.now();
    let codes = server
        .confirm_enrollment(&grant, &code(&key, now))
        .await
        .unwrap();
    let codes = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
    server.acknowledge_enrollment(&grant).await.unwrap();
    (up.org, key, codes)
}

/// A second-factor ticket for Olivia, from `server`'s password step.
async fn pending(server: &Server, org: OrgId) -> BearerToken {
    let step = server
        .login_to(org, LOGIN, Password::from(PW))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    ticket(&step)
}

fn url() -> String {
    std::env::var("AUTHCORE_TEST_POSTGRES_URL")
        .expect("set AUTHCORE_TEST_POSTGRES_URL to run the PostgreSQL tests")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_accepted_by_one_server_is_refused_by_the_other() {
    if crate::pg::skip("a_code_accepted_by_one_server_is_refused_by_the_other") {
        return;
    }
    let url = url();
    let schema = schema(&url).await;
    let key = [7u8; 32];
    let clock = Arc::new(ManualClock::new(1_700_000_010));
    let a = server(&url, &schema, &key, &clock).await;
    let b = server(&url, &schema, &key, &clock).await;
    let (org, totp, recovery) = enrolled(&a).await;

    // A TOTP code accepted by A is a replay on B, even with a fresh ticket from B.
    clock.advance(30);
    let now = clock.now();
    let (on_a, on_b) = (pending(&a, org).await, pending(&b, org).await);
    let done = a.verify_totp(org, &on_a, &code(&totp, now)).await.unwrap();
    assert!(matches!(done, LoginStep::Granted(_)), "{done:?}");
    let replay = b.verify_totp(org, &on_b, &code(&totp, now)).await;
    assert!(
        matches!(replay, Err(ServiceError::InvalidCredentials)),
        "{replay:?}"
    );

    // And the other way round, at the next step: B accepts, A refuses.
    clock.advance(30);
    let now = clock.now();
    let on_a = pending(&a, org).await;
    let done = b.verify_totp(org, &on_b, &code(&totp, now)).await.unwrap();
    assert!(matches!(done, LoginStep::Granted(_)), "{done:?}");
    let replay = a.verify_totp(org, &on_a, &code(&totp, now)).await;
    assert!(
        matches!(replay, Err(ServiceError::InvalidCredentials)),
        "{replay:?}"
    );

    // A recovery code spent on B is refused on A, and one spent on A is refused on B.
    let on_a = pending(&a, org).await;
    let on_b = pending(&b, org).await;
    let done = b
        .verify_recovery_code(org, &on_b, &recovery[0])
        .await
        .unwrap();
    assert!(matches!(done, LoginStep::Granted(_)), "{done:?}");
    let spent = a.verify_recovery_code(org, &on_a, &recovery[0]).await;
    assert!(
        matches!(spent, Err(ServiceError::InvalidCredentials)),
        "{spent:?}"
    );
    let on_b = pending(&b, org).await;
    let done = a
        .verify_recovery_code(org, &on_a, &recovery[1])
        .await
        .unwrap();
    assert!(matches!(done, LoginStep::Granted(_)), "{done:?}");
    let spent = b.verify_recovery_code(org, &on_b, &recovery[1]).await;
    assert!(
        matches!(spent, Err(ServiceError::InvalidCredentials)),
        "{spent:?}"
    );

    drop_schema(&url, &schema).await;
}

/// Both servers submit the same TOTP code at once, 8 times each: exactly one login succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_racing_on_one_code_let_exactly_one_in() {
    if crate::pg::skip("two_servers_racing_on_one_code_let_exactly_one_in") {
        return;
    }
    let url = url();
    let schema = schema(&url).await;
    let key = [9u8; 32];
    let clock = Arc::new(ManualClock::new(1_700_000_010));
    let a = Arc::new(server(&url, &schema, &key, &clock).await);
    let b = Arc::new(server(&url, &schema, &key, &clock).await);
    let (org, totp, _) = enrolled(&a).await;
    clock.advance(30);
    let code = code(&totp, clock.now());

    let mut tickets = Vec::new();
    for i in 0..16 {
        let server = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tickets.push((pending(&server, org).await, server));
    }
    let attempts: Vec<_> = tickets
        .into_iter()
        .map(|(ticket, server)| {
            let code = code.clone();
            tokio::spawn(async move { server.verify_totp(org, &ticket, &code).await })
        })
        .collect();
    let mut granted = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(LoginStep::Granted(_)) => granted += 1,
            Ok(other) => panic!("unexpected step {other:?}"),
            Err(ServiceError::InvalidCredentials | ServiceError::Throttled { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(granted, 1);
    drop_schema(&url, &schema).await;
}

/// A server keeps the rows its session checks have checked. A change of the roster made on
/// another server reaches the next check all the same: a role changed there is the role here,
/// and a member deactivated there is signed out here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_roster_change_on_one_server_reaches_the_session_checks_of_the_other() {
    if crate::pg::skip("a_roster_change_on_one_server_reaches_the_session_checks_of_the_other") {
        return;
    }
    let url = url();
    let schema = schema(&url).await;
    let key = [7u8; 32];
    let clock = Arc::new(ManualClock::new(1_700_000_010));
    let a = server(&url, &schema, &key, &clock).await;
    let b = server(&url, &schema, &key, &clock).await;
    let (org, totp, _) = enrolled(&a).await;
    clock.advance(30);
    let on_a = pending(&a, org).await;
    let owner = *a
        .verify_totp(org, &on_a, &code(&totp, clock.now()))
        .await
        .unwrap()
        .grant()
        .expect("signed in with the app");
    let new = a
        .add_member(&owner, "uma@example.com", authcore::policy::Role::User)
        .await
        .unwrap();
    let temporary = new.temporary_password.expose_secret().to_owned();
    let step = a
        .login_to(org, "uma@example.com", Password::from(temporary.as_str()))
        .await
        .unwrap();
    let done = a
        .change_password_at_login(org, &ticket(&step), Password::from("uma's own passphrase"))
        .await
        .unwrap();
    let token = done.session().unwrap().token.expose_secret().to_string();
    let checked = a.authenticate(&token).await.unwrap();
    assert_eq!(checked.role(), authcore::policy::Role::User);
    assert_eq!(
        a.authenticate(&token).await.unwrap(),
        checked,
        "checked again"
    );

    b.change_role(&owner, new.person, authcore::policy::Role::Manager)
        .await
        .unwrap();
    let raised = a.authenticate(&token).await.unwrap();
    assert_eq!(raised.role(), authcore::policy::Role::Manager);

    b.deactivate_member(&owner, new.person).await.unwrap();
    let gone = a.authenticate(&token).await;
    assert!(matches!(gone, Err(ServiceError::Session(_))), "{gone:?}");

    drop_schema(&url, &schema).await;
}

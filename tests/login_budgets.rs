//! The login steps' store traffic, as a tested budget. Each step runs against every store: on
//! the memory store the test asserts which store verbs each step calls; on SQLite and
//! PostgreSQL it also counts, in the store itself, the statements and commits those verbs run,
//! and asserts the budgets. `BEGIN` and `COMMIT` are not counted as statements; a commit is an
//! explicit `COMMIT` or a write statement that commits alone.
//!
//! | step | budget |
//! |---|---|
//! | second factor (app code, SMS code), right | ≤ 3 statements (the read, the watermark or challenge, the ticket), 1 commit; then the session it grants (1 statement, 1 commit) |
//! | app code, wrong | ≤ 2 statements (the read, the counted failure), 1 commit |
//! | app code, right after a failure | ≤ 4 statements (the failure's counter cleared too), 1 commit |
//! | password step | ≤ 4 statements (the read, the attempt counted and committed before argon2, the settled count, the next ticket), ≤ 2 commits |
//! | password step, no org (`login`), a person in one organisation | ≤ 6 statements (as above, and after argon2 the person's organisations and that one organisation: one more per organisation), ≤ 2 commits |
//! | recovery code | the password step's shape: ≤ 5 statements, ≤ 2 commits (argon2 never runs under a lock); then its session, as above |
//! | confirm an enrollment | 1 commit |
//!
//! The counts are printed as a table (`cargo test --test login_budgets -- --nocapture`).
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

use doubles::{CountingHasher, Recording};

use authcore::credential::SealingKey;
use authcore::credential::{KeyId, Keyring, OobConfig, OobKey, PhoneNumber, RecoveryParams};
use authcore::otp::{ManualClock, SecretKey, Totp, TotpParams};
use authcore::policy::{AuthenticatorName, EnrollmentPurpose};
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{
    Authenticator, BearerToken, Clock, LoginStep, LoginStore, MemoryStore, OrgId, Password,
    ServiceConfig, Services,
};

const T0: u64 = 1_700_000_010;
const LOGIN: &str = "owner@example.com";
const PW: &str = "correct horse battery staple 42";

type Service<S> = Authenticator<
    Services<Recording<S>, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, CountingHasher>,
>;

/// What one step cost: the store verbs it called, and the statements and commits they ran (none
/// counted on the memory store).
#[derive(Debug)]
struct Cost {
    step: &'static str,
    calls: Vec<&'static str>,
    statements: u64,
    commits: u64,
}

/// A store whose statements and commits the test can read (and reset).
trait Counted: LoginStore + 'static {
    const NAME: &'static str;
    /// The statements and commits since the last call.
    fn take_counts(&self) -> (u64, u64);
}

impl Counted for MemoryStore {
    const NAME: &'static str = "memory";
    fn take_counts(&self) -> (u64, u64) {
        (0, 0)
    }
}

fn service<S: Counted>(store: S) -> (Service<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let (hasher, _jobs) = CountingHasher::cheap();
    let services = Services {
        store: Recording::new(store),
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock: Arc::clone(&clock),
        hasher,
    };
    let config = ServiceConfig::builder("Example")
        .recovery(
            RecoveryParams::builder()
                .dangerous_argon2(64, 1, 1)
                .build()
                .unwrap(),
        )
        .sms(
            OobConfig::builder().resend_cooldown(0).build().unwrap(),
            OobKey::from_bytes(&[9u8; 32]).unwrap(),
        )
        .build()
        .unwrap();
    (Authenticator::new(services, config), clock)
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

/// Runs every budgeted step once on `store` and returns what each cost.
async fn costs<S: Counted>(store: S) -> Vec<Cost> {
    let (s, clock) = service(store);
    let store = &s.backend().store;
    let mut costs = Vec::new();
    let mut measure = |step: &'static str, store: &Recording<S>| {
        let (statements, commits) = store.inner.take_counts();
        costs.push(Cost {
            step,
            calls: store.take_log(),
            statements,
            commits,
        });
    };

    // An owner with an authenticator app, recovery codes and a verified phone.
    let up = s.sign_up(LOGIN, Password::from(PW)).await.unwrap();
    let org: OrgId = up.org;
    let opened = s
        .login_to(org, LOGIN, Password::from(PW))
        .await
        .unwrap()
        .into_session()
        .expect("signed in");
    let (grant, token) = (opened.grant, opened.token.expose_secret().to_string());
    let setup = s
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let _ = (store.take_log(), store.inner.take_counts());
    let codes = s
        .confirm_enrollment(&grant, &code(&key, clock.now()))
        .await
        .unwrap();
    measure("confirm enrollment", store);
    s.acknowledge_enrollment(&grant).await.unwrap();
    clock.advance(30);
    let fresh = s
        .reauthenticate_session(&token, Password::from(PW), &code(&key, clock.now()))
        .await
        .unwrap()
        .grant;
    let phone = PhoneNumber::parse("+442079460000").unwrap();
    s.start_phone_verification(&fresh, &phone).await.unwrap();
    let sent = s
        .backend()
        .notifier
        .take_last_code(up.person)
        .expect("a code");
    s.confirm_phone(&fresh, &sent).await.unwrap();

    // The password step, and an app code.
    clock.advance(30);
    let _ = (store.take_log(), store.inner.take_counts());
    let step = s.login_to(org, LOGIN, Password::from(PW)).await.unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    measure("password step", store);
    // The same password step without the organisation: one organisation, found after the
    // password.
    let found = s.login(LOGIN, Password::from(PW)).await.unwrap();
    assert!(
        matches!(found, LoginStep::SecondFactor { org: o, .. } if o == org),
        "{found:?}"
    );
    measure("password step, no org", store);
    let granted = s
        .verify_totp(org, &ticket(&step), &code(&key, clock.now()))
        .await
        .unwrap();
    assert!(granted.grant().is_some());
    measure("TOTP, correct", store);
    // "Remember this device", from the session that login opened (not budgeted here).
    let device = s
        .remember_device(&granted.session().unwrap().token.expose_secret())
        .await
        .unwrap();

    // A wrong app code, then the right one on the same ticket.
    clock.advance(30);
    let step = s.login_to(org, LOGIN, Password::from(PW)).await.unwrap();
    let t = ticket(&step);
    let _ = (store.take_log(), store.inner.take_counts());
    assert!(
        s.verify_totp(org, &t, &wrong(&code(&key, clock.now())))
            .await
            .is_err()
    );
    measure("TOTP, wrong", store);
    let granted = s
        .verify_totp(org, &t, &code(&key, clock.now()))
        .await
        .unwrap();
    assert!(granted.grant().is_some());
    measure("TOTP, correct after one failure", store);

    // A recovery code.
    let step = s.login_to(org, LOGIN, Password::from(PW)).await.unwrap();
    let _ = (store.take_log(), store.inner.take_counts());
    let granted = s
        .verify_recovery_code(
            org,
            &ticket(&step),
            codes.iter().next().unwrap().expose_secret(),
        )
        .await
        .unwrap();
    assert!(granted.grant().is_some());
    measure("recovery code", store);

    // An SMS code (the send is not budgeted here).
    let step = s.login_to(org, LOGIN, Password::from(PW)).await.unwrap();
    let t = ticket(&step);
    s.send_sms_code(org, &t).await.unwrap();
    let sms = s
        .backend()
        .notifier
        .take_last_code(up.person)
        .expect("a code");
    let _ = (store.take_log(), store.inner.take_counts());
    let granted = s.verify_sms_code(org, &t, &sms).await.unwrap();
    assert!(granted.grant().is_some());
    measure("SMS code", store);

    // The remembered device in place of the second factor.
    let step = s.login_to(org, LOGIN, Password::from(PW)).await.unwrap();
    let _ = (store.take_log(), store.inner.take_counts());
    let granted = s
        .verify_remembered_device(org, &ticket(&step), &device.token.expose_secret())
        .await
        .unwrap();
    assert!(granted.grant().is_some());
    measure("remembered device", store);
    costs
}

/// Prints the table of `costs` on `store`.
fn print(store: &str, costs: &[Cost]) {
    println!("\n{store}: | step | store calls | statements | commits |");
    println!("{store}: |---|---|---|---|");
    for c in costs {
        println!(
            "{store}: | {} | {} | {} | {} |",
            c.step,
            c.calls.join(", "),
            c.statements,
            c.commits
        );
    }
}

fn cost<'a>(costs: &'a [Cost], step: &str) -> &'a Cost {
    costs.iter().find(|c| c.step == step).expect(step)
}

/// The store verbs each step calls: the login verbs only, once or twice.
fn assert_calls(costs: &[Cost]) {
    let calls = |step| cost(costs, step).calls.clone();
    assert_eq!(
        calls("password step"),
        ["login_snapshot", "apply_step", "apply_step"],
        "the password step: one read, the counted attempt, the outcome"
    );
    assert_eq!(
        calls("password step, no org"),
        [
            "login_snapshot",
            "apply_step",
            "organisations_of",
            "organisation",
            "apply_step"
        ],
        "without the organisation: the person's organisations and each of them read too"
    );
    assert_eq!(
        calls("TOTP, wrong"),
        ["locked_step"],
        "a wrong code: one locked step"
    );
    for step in [
        "TOTP, correct",
        "TOTP, correct after one failure",
        "SMS code",
    ] {
        assert_eq!(
            calls(step),
            ["locked_step", "create_session"],
            "{step}: one locked step, and the session it grants"
        );
    }
    assert_eq!(
        calls("remembered device"),
        ["device_token", "locked_step", "create_session"],
        "a remembered device: its read, one locked step, and the session it grants"
    );
    assert_eq!(
        calls("recovery code"),
        [
            "login_snapshot",
            "apply_step",
            "apply_step",
            "create_session"
        ],
        "a recovery code: one read, the counted attempt, the outcome, the session"
    );
    assert_eq!(
        calls("confirm enrollment"),
        [
            "session_by_id",
            "login_snapshot",
            "login_snapshot",
            "locked_step"
        ],
        "confirming an enrollment: the grant's session, the grant's read, the code's first \
         read, one locked step"
    );
}

#[tokio::test]
async fn each_step_calls_only_the_login_verbs_memory() {
    let costs = costs(MemoryStore::new()).await;
    print("memory", &costs);
    assert_calls(&costs);
}

/// The statement and commit budgets of each step on a SQL store.
fn assert_budgets(store: &str, costs: &[Cost]) {
    let within = |step: &str, statements: u64, commits: u64| {
        let c = cost(costs, step);
        assert!(
            c.statements <= statements && c.commits <= commits,
            "{store}: {step}: {} statements and {} commits, over the budget of {statements} and \
             {commits}",
            c.statements,
            c.commits
        );
        assert!(c.statements > 0, "{store}: {step}: nothing counted");
    };
    // A granting step creates its session after its commit: one statement and commit more.
    for step in ["TOTP, correct", "SMS code"] {
        within(step, 4, 2);
    }
    // The counter the failure left is cleared in the same commit: one statement more.
    within("TOTP, correct after one failure", 5, 2);
    within("TOTP, wrong", 2, 1);
    assert_eq!(
        cost(costs, "TOTP, wrong").commits,
        1,
        "{store}: a wrong code commits its count"
    );
    // The device's read, then the locked step and the session, as for an app code.
    within("remembered device", 4, 2);
    within("password step", 4, 2);
    // The person's organisations, and the one they belong to.
    within("password step, no org", 6, 2);
    within("recovery code", 6, 3);
    assert_eq!(
        cost(costs, "confirm enrollment").commits,
        1,
        "{store}: confirming an enrollment is one transaction"
    );
}

#[cfg(feature = "sqlite")]
impl Counted for authcore::SqliteStore {
    const NAME: &'static str = "sqlite";
    fn take_counts(&self) -> (u64, u64) {
        self.take_statement_counts()
    }
}

#[cfg(feature = "postgres")]
impl Counted for authcore::PostgresStore {
    const NAME: &'static str = "postgres";
    fn take_counts(&self) -> (u64, u64) {
        self.take_statement_counts()
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn each_step_runs_within_its_budget_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap());
    let store = authcore::SqliteStore::open(dir.path().join("authcore.db"), keyring)
        .await
        .unwrap();
    let costs = costs(store).await;
    print(<authcore::SqliteStore as Counted>::NAME, &costs);
    assert_calls(&costs);
    assert_budgets("sqlite", &costs);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn each_step_runs_within_its_budget_postgres() {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;
    if pg::skip("each_step_runs_within_its_budget_postgres") {
        return;
    }
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL").unwrap();
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let schema = format!("authcore_budgets_{}", u64::from_le_bytes(suffix));
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
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
        .connect(&url)
        .await
        .unwrap();
    let keyring = Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[7; 32]).unwrap());
    let store = authcore::PostgresStore::from_pool(pool, keyring);
    store.migrate().await.unwrap();
    let costs = costs(store).await;
    print(<authcore::PostgresStore as Counted>::NAME, &costs);
    assert_calls(&costs);
    assert_budgets("postgres", &costs);
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .unwrap();
}

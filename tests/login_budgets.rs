//! The login steps' store traffic, as a tested budget. Each step runs against every store: on
//! the memory store the test asserts which store verbs each step calls; on SQLite and
//! PostgreSQL it also counts, in the store itself, the statements and commits those verbs run,
//! and asserts the budgets. `BEGIN` and `COMMIT` are not counted as statements; a commit is an
//! explicit `COMMIT` or a write statement that commits alone.
//!
//! | step | budget |
//! |---|---|
//! | second factor (app code, SMS code; wrong or right) | ≤ 3 statements, ≤ 1 commit |
//! | password step | ≤ 4 statements: the read, the counted attempt (committed before argon2), the settled count and the next ticket |
//! | recovery code | the password step's shape: ≤ 5 statements, ≤ 2 commits (argon2 never runs under a lock) |
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

use authcore::{
    Authenticator, AuthenticatorName, BearerToken, Clock, EnrollmentPurpose, LoginStep, LoginStore,
    ManualClock, MemoryAuditLog, MemoryStore, OobConfig, OobKey, OrgId, Password, PhoneNumber,
    RecordingNotifier, SecretKey, ServiceConfig, Services, Totp, TotpParams,
};

const T0: u64 = 1_700_000_010;
const LOGIN: &str = "owner@example.com";
const PW: &str = "correct horse battery staple 42";

type Service<S> = Authenticator<
    Recording<S>,
    Arc<ManualClock>,
    MemoryAuditLog,
    RecordingNotifier,
    CountingHasher,
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
        clock: Arc::clone(&clock),
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        hasher,
    };
    let config = ServiceConfig::builder("Example")
        .recovery(
            authcore::RecoveryParams::builder()
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
    let store = &s.services().store;
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
    let grant = *s
        .login(org, LOGIN, Password::from(PW))
        .await
        .unwrap()
        .grant()
        .expect("signed in");
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
        .reauthenticate(&grant, Password::from(PW), &code(&key, clock.now()))
        .await
        .unwrap();
    let phone = PhoneNumber::parse("+442079460000").unwrap();
    s.start_phone_verification(&fresh, &phone).await.unwrap();
    let sent = s
        .services()
        .notifier
        .take_last_code(up.person)
        .expect("a code");
    s.confirm_phone(&fresh, &sent).await.unwrap();

    // The password step, and an app code.
    clock.advance(30);
    let _ = (store.take_log(), store.inner.take_counts());
    let step = s.login(org, LOGIN, Password::from(PW)).await.unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    measure("password step", store);
    let granted = s
        .verify_totp(org, &ticket(&step), &code(&key, clock.now()))
        .await
        .unwrap();
    assert!(granted.grant().is_some());
    measure("TOTP, correct", store);

    // A wrong app code, then the right one on the same ticket.
    clock.advance(30);
    let step = s.login(org, LOGIN, Password::from(PW)).await.unwrap();
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
    let step = s.login(org, LOGIN, Password::from(PW)).await.unwrap();
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
    let step = s.login(org, LOGIN, Password::from(PW)).await.unwrap();
    let t = ticket(&step);
    s.send_sms_code(org, &t).await.unwrap();
    let sms = s
        .services()
        .notifier
        .take_last_code(up.person)
        .expect("a code");
    let _ = (store.take_log(), store.inner.take_counts());
    let granted = s.verify_sms_code(org, &t, &sms).await.unwrap();
    assert!(granted.grant().is_some());
    measure("SMS code", store);
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
    for step in [
        "TOTP, correct",
        "TOTP, wrong",
        "TOTP, correct after one failure",
        "SMS code",
    ] {
        assert_eq!(calls(step), ["locked_step"], "{step}: one locked step");
    }
    assert_eq!(
        calls("recovery code"),
        ["login_snapshot", "apply_step", "apply_step"],
        "a recovery code: one read, the counted attempt, the outcome"
    );
    assert_eq!(
        calls("confirm enrollment"),
        ["login_snapshot", "login_snapshot", "locked_step"],
        "confirming an enrollment: the grant's read, the code's first read, one locked step"
    );
}

#[tokio::test]
async fn each_step_calls_only_the_login_verbs_memory() {
    let costs = costs(MemoryStore::new()).await;
    print("memory", &costs);
    assert_calls(&costs);
}

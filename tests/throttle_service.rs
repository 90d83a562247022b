//! The throttle through the `Authenticator` on the in-memory store (each store call yielding, as
//! over a network): every guessable check reserves its attempt before verifying, locks lapse, a
//! completed login clears the person's counters, an administrator unlocks (audited, notified),
//! and an unknown login answers — and calls the store — exactly as a real one with a wrong
//! password, its counter pruned once forgotten.
#![cfg(feature = "memory")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/doubles.rs"]
mod doubles;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use authcore::credential::{
    FactorKind, OobConfig, OobKey, PhoneNumber, ThrottlePolicy, ThrottleState, ThrottledFactor,
};
use authcore::otp::{ManualClock, SecretKey, Totp, TotpParams};
use authcore::policy::{
    Actor, AuditKind, AuthenticatorName, EnrollmentPurpose, Factor, PolicyError, Role,
};
use authcore::store::{
    Delivery, Login, MemoryAuditLog, RecordingNotifier, SecurityNotice, ThrottleKey,
};
use authcore::{
    Authenticator, BearerToken, Clock, Grant, LoginStep, MemoryStore, OrgId, Password, PersonId,
    ServiceConfig, ServiceError, Services, UserStore,
};
use doubles::{CountingHasher, Recording};

type Store = Recording<MemoryStore>;
type Service = Authenticator<
    Services<Store, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, CountingHasher>,
>;

const T0: u64 = 1_700_000_010;
const OWNER: &str = "owner@example.com";
const PW: &str = "correct horse battery staple 42";
const BURST: usize = 20;

struct Fixture {
    s: Arc<Service>,
    clock: Arc<ManualClock>,
    jobs: Arc<AtomicUsize>,
}

impl Fixture {
    fn jobs(&self) -> usize {
        self.jobs.load(Ordering::SeqCst)
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Rejections of `factor` audited so far.
    fn rejected(&self, factor: Factor) -> usize {
        self.s
            .backend()
            .audit
            .events()
            .iter()
            .filter(|e| matches!(e.what, AuditKind::CredentialRejected { factor: f, .. } if f == factor))
            .count()
    }

    fn notices(&self, person: PersonId, notice: SecurityNotice) -> usize {
        self.s
            .backend()
            .notifier
            .deliveries()
            .iter()
            .filter(|d| **d == Delivery::Security { person, notice })
            .count()
    }

    async fn counter(&self, key: &ThrottleKey) -> ThrottleState {
        self.s.backend().store.inner.throttle(key).await.unwrap()
    }
}

/// 2 free attempts and a lock at 5: a burst at one instant verifies 3.
fn burst_policy() -> ThrottlePolicy {
    ThrottlePolicy::builder()
        .free_attempts(2)
        .lock_after(5)
        .build()
        .unwrap()
}

/// 2 free attempts and a lock at 3 (so a burst locks), for 10 minutes; forgotten an hour after.
fn locking_policy() -> ThrottlePolicy {
    ThrottlePolicy::builder()
        .free_attempts(2)
        .lock_after(3)
        .lock_duration(600)
        .forget_after(3600)
        .build()
        .unwrap()
}

fn fixture(policy: ThrottlePolicy) -> Fixture {
    let clock = Arc::new(ManualClock::new(T0));
    let (hasher, jobs) = CountingHasher::cheap();
    let services = Services {
        store: Recording::new(MemoryStore::new()),
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock: Arc::clone(&clock),
        hasher,
    };
    let sms = OobConfig::builder().max_attempts(10).build().unwrap();
    let config = ServiceConfig::builder("Example")
        .recovery(
            authcore::credential::RecoveryParams::builder()
                .dangerous_argon2(64, 1, 1)
                .build()
                .unwrap(),
        )
        .sms(sms, OobKey::from_bytes(&[9u8; 32]).unwrap())
        .throttle(policy)
        .build()
        .unwrap();
    Fixture {
        s: Arc::new(Authenticator::new(services, config)),
        clock,
        jobs,
    }
}

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(TotpParams::builder().build().unwrap(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

/// A code of the same length that differs from `code` in every digit.
fn wrong(code: &str) -> String {
    code.bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 5) % 10))
        .collect()
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

async fn login(f: &Fixture, org: OrgId, login: &str, pw: &str) -> Result<LoginStep, ServiceError> {
    f.s.login_to(org, login, Password::from(pw)).await
}

/// Signs the owner up and enrolls their app; the org and the key.
async fn owner_with_mfa(f: &Fixture) -> (OrgId, SecretKey) {
    let up = f.s.sign_up(OWNER, Password::from(PW)).await.unwrap();
    let grant = *login(f, up.org, OWNER, PW).await.unwrap().grant().unwrap();
    let setup =
        f.s.start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    f.s.confirm_enrollment(&grant, &code(&key, f.now()))
        .await
        .unwrap();
    f.s.acknowledge_enrollment(&grant).await.unwrap();
    f.clock.advance(30);
    (up.org, key)
}

/// The token of a fresh AAL2 session of the owner (password and app).
async fn owner_token(f: &Fixture, org: OrgId, key: &SecretKey) -> String {
    let step = login(f, org, OWNER, PW).await.unwrap();
    let step =
        f.s.verify_totp(org, &ticket(&step), &code(key, f.now()))
            .await
            .unwrap();
    step.session()
        .expect("granted")
        .token
        .expose_secret()
        .to_string()
}

/// A fresh AAL2 grant for the owner (password and app).
async fn owner_grant(f: &Fixture, org: OrgId, key: &SecretKey) -> Grant {
    let step = login(f, org, OWNER, PW).await.unwrap();
    let step =
        f.s.verify_totp(org, &ticket(&step), &code(key, f.now()))
            .await
            .unwrap();
    f.clock.advance(30);
    *step.grant().expect("granted")
}

/// `n` second-factor tickets for the owner.
async fn tickets(f: &Fixture, org: OrgId, n: usize) -> Vec<BearerToken> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(ticket(&login(f, org, OWNER, PW).await.unwrap()));
    }
    out
}

/// Runs `attempt` [`BURST`] times concurrently; every answer must be a refusal.
async fn burst<F, Fut>(attempt: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), ServiceError>> + Send + 'static,
{
    let tasks: Vec<_> = (0..BURST).map(|i| tokio::spawn(attempt(i))).collect();
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
}

fn allowed_at_once() -> usize {
    usize::from(burst_policy().free_attempts()) + 1
}

// ---- every guessable check reserves before verifying ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_second_factor_and_step_up_reserves_before_verifying() {
    let f = fixture(burst_policy());
    let (org, key) = owner_with_mfa(&f).await;
    let totp = Factor::Second(FactorKind::Totp);

    // Re-authentication: a wrong password, then the right one with a wrong code.
    f.clock.advance(60);
    let token = owner_token(&f, org, &key).await;
    let before = f.jobs();
    burst(|i| {
        let (s, token) = (Arc::clone(&f.s), token.clone());
        async move {
            s.reauthenticate_session(
                &token,
                Password::from(format!("wrong {i}").as_str()),
                "000000",
            )
            .await
            .map(drop)
        }
    })
    .await;
    assert_eq!(
        f.jobs() - before,
        allowed_at_once(),
        "reauthenticate: passwords"
    );
    f.clock.advance(60);
    let token = owner_token(&f, org, &key).await;
    let before = f.rejected(totp);
    let bad = wrong(&code(&key, f.now()));
    burst(|_| {
        let (s, bad, token) = (Arc::clone(&f.s), bad.clone(), token.clone());
        async move {
            s.reauthenticate_session(&token, Password::from(PW), &bad)
                .await
                .map(drop)
        }
    })
    .await;
    assert_eq!(
        f.rejected(totp) - before,
        allowed_at_once(),
        "reauthenticate: codes"
    );

    // Changing the password with a wrong current one.
    f.clock.advance(60);
    let grant = owner_grant(&f, org, &key).await;
    let before = f.jobs();
    burst(|i| {
        let s = Arc::clone(&f.s);
        async move {
            s.change_password(
                &grant,
                Password::from(format!("wrong {i}").as_str()),
                Password::from("a new passphrase for the owner 7"),
            )
            .await
        }
    })
    .await;
    assert_eq!(f.jobs() - before, allowed_at_once(), "change_password");

    // Recovery codes at sign-in, each attempt on its own ticket.
    f.clock.advance(60);
    let _ = owner_grant(&f, org, &key).await;
    let pending = Arc::new(tickets(&f, org, BURST).await);
    let before = f.jobs();
    burst(|i| {
        let (s, p) = (Arc::clone(&f.s), Arc::clone(&pending));
        async move {
            s.verify_recovery_code(org, &p[i], "AAAA-BBBB-CCCC-DDDD")
                .await
                .map(drop)
        }
    })
    .await;
    assert_eq!(f.jobs() - before, allowed_at_once(), "recovery codes");

    // Confirming a new enrollment.
    f.clock.advance(60);
    let grant = owner_grant(&f, org, &key).await;
    let _setup =
        f.s.start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("backup").unwrap()),
        )
        .await
        .unwrap();
    let before = f.rejected(totp);
    burst(|_| {
        let s = Arc::clone(&f.s);
        async move { s.confirm_enrollment(&grant, "000000").await.map(drop) }
    })
    .await;
    assert_eq!(
        f.rejected(totp) - before,
        allowed_at_once(),
        "enrollment codes"
    );

    // Phone verification codes, then SMS sign-in codes.
    let sms = Factor::Second(FactorKind::OutOfBandSms);
    f.clock.advance(60);
    let grant = owner_grant(&f, org, &key).await;
    let phone = PhoneNumber::parse("+44 20 7946 0958").unwrap();
    f.s.start_phone_verification(&grant, &phone).await.unwrap();
    let sent =
        f.s.backend()
            .notifier
            .take_last_code(grant.person())
            .unwrap()
            .to_string();
    let before = f.rejected(sms);
    let bad = wrong(&sent);
    burst(|_| {
        let (s, bad) = (Arc::clone(&f.s), bad.clone());
        async move { s.confirm_phone(&grant, &bad).await }
    })
    .await;
    assert_eq!(
        f.rejected(sms) - before,
        allowed_at_once(),
        "phone verification"
    );
    f.clock.advance(60);
    let grant = owner_grant(&f, org, &key).await;
    f.s.start_phone_verification(&grant, &phone).await.unwrap();
    let sent =
        f.s.backend()
            .notifier
            .take_last_code(grant.person())
            .unwrap()
            .to_string();
    f.s.confirm_phone(&grant, &sent).await.unwrap();
    f.clock.advance(3600);
    f.clock.advance(60);
    let _ = owner_grant(&f, org, &key).await;
    let pending = Arc::new(tickets(&f, org, BURST).await);
    f.s.send_sms_code(org, &pending[0]).await.unwrap();
    let sent =
        f.s.backend()
            .notifier
            .take_last_code(grant.person())
            .unwrap()
            .to_string();
    let before = f.rejected(sms);
    let bad = wrong(&sent);
    burst(|i| {
        let (s, p, bad) = (Arc::clone(&f.s), Arc::clone(&pending), bad.clone());
        async move { s.verify_sms_code(org, &p[i], &bad).await.map(drop) }
    })
    .await;
    assert_eq!(
        f.rejected(sms) - before,
        allowed_at_once(),
        "SMS sign-in codes"
    );
}

// ---- locks lapse; a login clears; an administrator unlocks ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_locks_the_owner_only_until_the_lock_lapses() {
    let f = fixture(locking_policy());
    let up = f.s.sign_up(OWNER, Password::from(PW)).await.unwrap();
    let before = f.jobs();
    burst(|i| {
        let s = Arc::clone(&f.s);
        async move {
            s.login_to(up.org, OWNER, Password::from(format!("wrong {i}").as_str()))
                .await
                .map(drop)
        }
    })
    .await;
    assert_eq!(
        f.jobs() - before,
        3,
        "two free attempts and the locking one"
    );
    assert!(matches!(
        login(&f, up.org, OWNER, PW).await,
        Err(ServiceError::Locked)
    ));
    assert_eq!(f.notices(up.person, SecurityNotice::Locked), 1);
    f.clock.advance(599);
    assert!(matches!(
        login(&f, up.org, OWNER, PW).await,
        Err(ServiceError::Locked)
    ));
    // The lock lapses: the correct password gets in, and the count starts afresh.
    f.clock.advance(1);
    assert!(
        login(&f, up.org, OWNER, PW)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    let key = ThrottleKey::login(&Login::new(OWNER).unwrap());
    assert_eq!(f.counter(&key).await, ThrottleState::new());
    for _ in 0..2 {
        assert!(matches!(
            login(&f, up.org, OWNER, "wrong").await,
            Err(ServiceError::InvalidCredentials)
        ));
    }
}

#[tokio::test]
async fn a_completed_login_clears_every_counter_of_the_person() {
    let f = fixture(burst_policy());
    let (org, key) = owner_with_mfa(&f).await;
    let owner = owner_grant(&f, org, &key).await.person();
    let t = ticket(&login(&f, org, OWNER, PW).await.unwrap());
    let bad = wrong(&code(&key, f.now()));
    for _ in 0..2 {
        assert!(f.s.verify_totp(org, &t, &bad).await.is_err());
    }
    assert!(
        f.s.verify_recovery_code(org, &t, "AAAA-BBBB-CCCC-DDDD")
            .await
            .is_err()
    );
    assert!(login(&f, org, OWNER, "wrong").await.is_err());
    let totp = ThrottleKey::factor(owner, ThrottledFactor::Totp);
    let recovery = ThrottleKey::factor(owner, ThrottledFactor::RecoveryCode);
    let password = ThrottleKey::login(&Login::new(OWNER).unwrap());
    assert_eq!(f.counter(&totp).await.failures(), 2);
    assert_eq!(f.counter(&recovery).await.failures(), 1);
    assert_eq!(f.counter(&password).await.failures(), 1);
    let _ = owner_grant(&f, org, &key).await;
    for key in [totp, recovery, password] {
        assert_eq!(f.counter(&key).await, ThrottleState::new(), "{key:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_administrator_unlocks_a_member_audited_and_notified() {
    let f = fixture(locking_policy());
    let (org, key) = owner_with_mfa(&f).await;
    let owner = owner_grant(&f, org, &key).await;
    let user_login = "user@example.com";
    let user_pw = "a passphrase of my own choosing 123";
    let new =
        f.s.add_member(&owner, user_login, Role::User)
            .await
            .unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = login(&f, org, user_login, &temp).await.unwrap();
    let step =
        f.s.change_password_at_login(org, &ticket(&step), Password::from(user_pw))
            .await
            .unwrap();
    let user = *step.grant().expect("the user is signed in");

    // An attacker locks the user's login.
    burst(|i| {
        let s = Arc::clone(&f.s);
        async move {
            s.login_to(
                org,
                user_login,
                Password::from(format!("wrong {i}").as_str()),
            )
            .await
            .map(drop)
        }
    })
    .await;
    assert!(matches!(
        login(&f, org, user_login, user_pw).await,
        Err(ServiceError::Locked)
    ));

    // A member who may not manage members cannot unlock anyone; nobody unlocks themselves.
    assert!(matches!(
        f.s.unlock_member(&user, owner.person()).await,
        Err(ServiceError::Denied(_))
    ));
    assert!(matches!(
        f.s.unlock_member(&owner, owner.person()).await,
        Err(ServiceError::Policy(PolicyError::CannotActOnSelf))
    ));
    assert!(matches!(
        f.s.unlock_member(&owner, PersonId::new(42)).await,
        Err(ServiceError::Policy(PolicyError::NotAMember))
    ));

    // The owner unlocks the user: audited, notified, and the password works at once.
    let events = f.s.backend().audit.events().len();
    f.s.unlock_member(&owner, new.person).await.unwrap();
    let audited: Vec<_> = f.s.backend().audit.events()[events..]
        .iter()
        .map(|e| (e.actor, e.subject, e.organisation, e.what))
        .collect();
    assert_eq!(
        audited,
        [(
            Actor::Person(owner.person()),
            Some(new.person),
            Some(org),
            AuditKind::MemberUnlocked { was_locked: true }
        )]
    );
    assert_eq!(f.notices(new.person, SecurityNotice::Unlocked), 1);
    assert!(
        login(&f, org, user_login, user_pw)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
}

// ---- the throttle does not tell which logins exist ----

/// The answers to, and the store calls of, ten wrong sign-ins for `name` (the owner's login or
/// one nobody holds), waiting out each back-off and lock as it comes.
async fn wrong_sign_ins(name: &str) -> (Vec<String>, Vec<Vec<&'static str>>) {
    let f = fixture(
        ThrottlePolicy::builder()
            .free_attempts(2)
            .lock_after(4)
            .base_delay(30)
            .max_delay(60)
            .lock_duration(600)
            .forget_after(3600)
            .build()
            .unwrap(),
    );
    let up = f.s.sign_up(OWNER, Password::from(PW)).await.unwrap();
    let store = &f.s.backend().store;
    let _ = store.take_log();
    let mut answers = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..10 {
        let before = f.jobs();
        let answer = login(&f, up.org, name, "a wrong password").await.map(drop);
        let mut log = store.take_log();
        log.extend(std::iter::repeat_n("argon2", f.jobs() - before));
        calls.push(log);
        match answer {
            Err(ServiceError::Throttled { retry_at }) => {
                answers.push(format!("Throttled({})", retry_at - f.now()));
                f.clock.set(retry_at);
            }
            Err(ServiceError::Locked) => {
                answers.push("Locked".into());
                f.clock.advance(600);
            }
            other => answers.push(format!("{other:?}")),
        }
    }
    (answers, calls)
}

#[tokio::test]
async fn an_unknown_login_answers_and_calls_the_store_as_a_wrong_password_does() {
    let real = wrong_sign_ins(OWNER).await;
    let unknown = wrong_sign_ins("nobody@example.com").await;
    assert_eq!(
        real.0,
        [
            "Err(InvalidCredentials)",
            "Err(InvalidCredentials)",
            "Err(InvalidCredentials)",
            "Throttled(30)",
            "Err(InvalidCredentials)",
            "Locked",
            "Err(InvalidCredentials)",
            "Locked",
            "Err(InvalidCredentials)",
            "Locked",
        ]
    );
    assert_eq!(real.0, unknown.0, "the same answers");
    assert_eq!(real.1, unknown.1, "the same store calls and argon2 work");
    assert_eq!(
        real.1[0],
        ["login_snapshot", "apply_step", "argon2"],
        "one read, the attempt counted on the login, then verify"
    );
}

#[tokio::test]
async fn counters_of_unknown_logins_are_pruned_once_forgotten() {
    let f = fixture(locking_policy());
    let up = f.s.sign_up(OWNER, Password::from(PW)).await.unwrap();
    for name in [
        "nobody@example.com",
        "NoBody@Example.com ",
        "somebody@example.com",
    ] {
        assert!(login(&f, up.org, name, "guess").await.is_err());
    }
    let nobody = ThrottleKey::login(&Login::new("nobody@example.com").unwrap());
    assert_eq!(
        f.counter(&nobody).await.failures(),
        2,
        "counted per normalised name"
    );
    let forget_at = f.counter(&nobody).await.forget_at();
    assert_eq!(forget_at, T0 + 3600);
    f.clock.set(forget_at - 1);
    assert_eq!(f.s.prune_expired().await.unwrap().throttles, 0);
    f.clock.set(forget_at);
    let report = f.s.prune_expired().await.unwrap();
    assert_eq!(report.throttles, 2);
    assert_eq!(f.counter(&nobody).await, ThrottleState::new());
}

//! The ready backend with feature `tokio`: argon2 on tokio's blocking pool, through a whole
//! login on a multi-thread runtime.
#![cfg(all(feature = "tokio", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use authcore::credential::RecoveryParams;
use authcore::otp::{ManualClock, SecretKey, Totp, TotpParams};
use authcore::policy::{AuthenticatorName, EnrollmentPurpose};
use authcore::service::MemoryBackend;
use authcore::{
    Authenticator, BlockingPoolHasher, Clock, LoginStep, MemoryStore, Password, ServiceConfig,
};

const PW: &str = "correct horse battery staple 42";

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(TotpParams::default(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_runs_its_argon2_on_the_blocking_pool() {
    // The default hasher of the ready backend is the blocking pool's, with the OWASP parameters.
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let backend: MemoryBackend<_, BlockingPoolHasher> = MemoryStore::backend()
        .unwrap()
        .with_clock(Arc::clone(&clock));
    assert_eq!(
        backend.hasher.hasher().params(),
        authcore::credential::password::HashParams::default()
    );
    let config = ServiceConfig::builder("Example Co")
        .recovery(
            RecoveryParams::builder()
                .dangerous_argon2(64, 1, 1)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let auth = Arc::new(Authenticator::new(backend, config));

    let up = auth
        .sign_up("alice@example.com", Password::from(PW))
        .await
        .unwrap();
    let step = auth
        .login_to(up.org, "alice@example.com", Password::from(PW))
        .await
        .unwrap();
    let grant = *step.grant().unwrap();
    let setup = auth
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let codes = auth
        .confirm_enrollment(&grant, &code(&key, clock.now()))
        .await
        .unwrap();
    assert!(codes.iter().next().is_some());
    auth.acknowledge_enrollment(&grant).await.unwrap();
    clock.advance(30);

    // Four logins at once, each hashing on the pool while the workers serve the others.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let auth = Arc::clone(&auth);
            tokio::spawn(async move {
                auth.login_to(up.org, "alice@example.com", Password::from(PW))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        let step = task.await.unwrap();
        assert!(matches!(step, LoginStep::SecondFactor { .. }));
    }
    let step = auth
        .login_to(up.org, "alice@example.com", Password::from(PW))
        .await
        .unwrap();
    let ticket = authcore::BearerToken::parse(&step.ticket().unwrap().expose_secret()).unwrap();
    let done = auth
        .verify_totp(up.org, &ticket, &code(&key, clock.now()))
        .await
        .unwrap();
    assert_eq!(done.grant().unwrap().person(), up.person);
    // A wrong password is refused the same way through the pool.
    assert!(
        auth.login_to(up.org, "alice@example.com", Password::from("wrong"))
            .await
            .is_err()
    );
}

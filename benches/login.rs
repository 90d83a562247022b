//! A full password + TOTP login on the in-memory store, against one argon2 verification.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use authcore::otp::{ManualClock, SecretKey, Totp, TotpParams};
use authcore::policy::{AuthenticatorName, EnrollmentPurpose};
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{Authenticator, Services};
use authcore::{BearerToken, LoginStep, MemoryStore, Password, PasswordHasher, ServiceConfig};
use criterion::{Criterion, criterion_group, criterion_main};

const PW: &str = "correct horse battery staple 42";

fn login(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_010));
    let services = Services {
        store: MemoryStore::new(),
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock: Arc::clone(&clock),
        hasher: PasswordHasher::builder().build().unwrap(),
    };
    let s = Authenticator::new(services, ServiceConfig::builder("Bench").build().unwrap());
    let params = TotpParams::builder().build().unwrap();
    let (org, key) = rt.block_on(async {
        let up = s
            .sign_up("bench@example.com", Password::from(PW))
            .await
            .unwrap();
        let step = s
            .login_to(up.org, "bench@example.com", Password::from(PW))
            .await
            .unwrap();
        let grant = *step.grant().unwrap();
        let name = AuthenticatorName::new("phone").unwrap();
        let setup = s
            .start_enrollment(&grant, EnrollmentPurpose::Add(name))
            .await
            .unwrap();
        let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
        let now = authcore::Clock::now(&*clock);
        let code = Totp::new(params, &key).generate(now).unwrap();
        let _ = s
            .confirm_enrollment(&grant, code.expose_secret())
            .await
            .unwrap();
        s.acknowledge_enrollment(&grant).await.unwrap();
        (up.org, key)
    });
    let hasher = PasswordHasher::builder().build().unwrap();
    let stored = hasher.hash(&Password::from(PW)).unwrap();

    let mut group = c.benchmark_group("login");
    // Each login costs ~15 ms and single samples vary by ±15% on a shared machine: 30 samples
    // over 20 seconds per id keep that noise from deciding the comparison between the two.
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("password_totp_memory", |b| {
        b.iter(|| {
            // Each login uses the next TOTP step, as a real person's next login would.
            clock.advance(30);
            let now = authcore::Clock::now(&*clock);
            let code = Totp::new(params, &key).generate(now).unwrap();
            rt.block_on(async {
                let step = s
                    .login_to(org, "bench@example.com", Password::from(PW))
                    .await
                    .unwrap();
                let ticket = BearerToken::parse(&step.ticket().unwrap().expose_secret()).unwrap();
                let done = s
                    .verify_totp(org, &ticket, code.expose_secret())
                    .await
                    .unwrap();
                assert!(matches!(done, LoginStep::Granted(_)));
            });
        });
    });
    group.bench_function("argon2_verify", |b| {
        b.iter(|| hasher.verify(&Password::from(PW), stored.as_str()).unwrap());
    });
    group.finish();
}

criterion_group!(benches, login);
criterion_main!(benches);

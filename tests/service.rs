//! The service stories end to end on the in-memory store with a manual clock.
#![cfg(feature = "memory")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use authcore::{
    AuditEvent, BearerToken, EnrollmentPurpose, FactorKind, Grant, HashParams, LoginStep,
    ManualClock, MemoryAuditLog, MemoryStore, MfaSettings, OrgId, Password, PasswordHasher,
    Permission, RecordingNotifier, RecoveryParams, Resource, Role, SecretKey, ServiceConfig,
    ServiceError, Totp,
};
use authcore::{Authenticator, Services};

type Service = Authenticator<
    MemoryStore,
    MemoryStore,
    Arc<ManualClock>,
    MemoryAuditLog,
    RecordingNotifier,
    PasswordHasher,
>;

const T0: u64 = 1_700_000_010;
const OWNER_PW: &str = "correct horse battery staple 42";

fn service() -> (Service, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap();
    let config = ServiceConfig::builder("Example")
        .recovery(
            RecoveryParams::builder()
                .dangerous_argon2(64, 1, 1)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let services = Services {
        users: MemoryStore::new(),
        secrets: MemoryStore::new(),
        clock: Arc::clone(&clock),
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        hasher,
    };
    (Authenticator::new(services, config), clock)
}

fn code(key: &SecretKey, now: u64) -> String {
    let params = authcore::TotpParams::builder().build().unwrap();
    Totp::new(params, key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a ticket").expose_secret()).unwrap()
}

/// Signs up the owner and turns on their own MFA; returns the org, the key and a recovery code.
async fn owner_with_mfa(s: &Service, clock: &ManualClock) -> (OrgId, SecretKey, Vec<String>) {
    let up = s
        .sign_up("owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let step = s
        .login(up.org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let LoginStep::Granted(grant) = step else {
        panic!("{step:?}")
    };
    let setup = s
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(authcore::AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let codes = s
        .confirm_enrollment(&grant, &code(&key, clock_now(clock)))
        .await
        .unwrap();
    let codes: Vec<String> = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
    s.acknowledge_enrollment(&grant).await.unwrap();
    clock.advance(30);
    (up.org, key, codes)
}

fn clock_now(clock: &ManualClock) -> u64 {
    authcore::Clock::now(clock)
}

async fn owner_grant(s: &Service, clock: &ManualClock, org: OrgId, key: &SecretKey) -> Grant {
    let step = s
        .login(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let LoginStep::SecondFactor { factors, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(factors.contains(FactorKind::Totp));
    let step = s
        .verify_totp(org, &ticket(&step), &code(key, clock_now(clock)))
        .await
        .unwrap();
    clock.advance(30);
    *step.grant().expect("granted")
}

#[tokio::test]
async fn owner_signs_up_and_mfa_then_needs_a_code() {
    let (s, clock) = service();
    let (org, key, codes) = owner_with_mfa(&s, &clock).await;
    assert_eq!(codes.len(), 10);
    let grant = owner_grant(&s, &clock, org, &key).await;
    assert_eq!(grant.role(), Role::Owner);
    assert_eq!(grant.aal(), authcore::Aal::Aal2);

    // A replayed code: the same step again is refused, uniformly.
    let step = s
        .login(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let t = ticket(&step);
    let now = clock_now(&clock);
    let _ = s.verify_totp(org, &t, &code(&key, now)).await.unwrap();
    let step = s
        .login(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let err = s
        .verify_totp(org, &ticket(&step), &code(&key, now))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::InvalidCredentials), "{err}");

    // The ticket was spent by the success: reusing it fails.
    let err = s
        .verify_totp(org, &t, &code(&key, now + 30))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::InvalidCredentials));

    // A recovery code signs in once.
    let step = s
        .login(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let done = s
        .verify_recovery_code(org, &ticket(&step), &codes[0])
        .await
        .unwrap();
    assert!(done.grant().is_some());
    let step = s
        .login(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let err = s
        .verify_recovery_code(org, &ticket(&step), &codes[0])
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::InvalidCredentials));
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same_and_throttle() {
    let (s, clock) = service();
    let up = s
        .sign_up("owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let a = s
        .login(up.org, "nobody@example.com", Password::from("x"))
        .await
        .unwrap_err();
    let b = s
        .login(up.org, "owner@example.com", Password::from("wrong"))
        .await
        .unwrap_err();
    assert_eq!(a.to_string(), b.to_string());
    for _ in 0..5 {
        let _ = s
            .login(up.org, "owner@example.com", Password::from("wrong"))
            .await;
    }
    let err = s
        .login(up.org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap_err();
    let ServiceError::Throttled { retry_at } = err else {
        panic!("{err:?}")
    };
    clock.set(retry_at);
    assert!(
        s.login(up.org, "owner@example.com", Password::from(OWNER_PW))
            .await
            .unwrap()
            .grant()
            .is_some()
    );
}

#[tokio::test]
async fn company_mfa_forces_a_new_manager_through_password_change_and_enrollment() {
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let settings = MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap();
    s.set_mfa_policy(&grant, settings).await.unwrap();
    let new = s
        .add_member(&grant, "manager@example.com", Role::Manager)
        .await
        .unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    assert!(
        s.services()
            .notifier
            .take_last_setup_token(new.person)
            .is_some()
    );

    let step = s
        .login(org, "manager@example.com", Password::from(temp.as_str()))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::ChangePassword { .. }));
    let t = ticket(&step);
    // Another organisation's ticket use fails, and spends it.
    let other = OrgId::new(7);
    assert!(matches!(
        s.change_password_at_login(other, &t, Password::from("violet tuesday lantern river"))
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    let step = s
        .login(org, "manager@example.com", Password::from(temp.as_str()))
        .await
        .unwrap();
    let t = ticket(&step);
    let err = s
        .change_password_at_login(org, &t, Password::from(temp.as_str()))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::PasswordPolicy(_)), "{err}");
    let step = s
        .change_password_at_login(org, &t, Password::from("violet tuesday lantern river"))
        .await
        .unwrap();
    let LoginStep::EnrolMfa { .. } = &step else {
        panic!("{step:?}")
    };
    let t = ticket(&step);
    // A second-factor path cannot bypass the enrollment.
    assert!(s.verify_totp(org, &t, "123456").await.is_err());
    let step = s
        .login(
            org,
            "manager@example.com",
            Password::from("violet tuesday lantern river"),
        )
        .await
        .unwrap();
    let t = ticket(&step);
    let setup = s.start_login_enrollment(org, &t, "phone").await.unwrap();
    let mkey = SecretKey::from_base32(&setup.manual_key()).unwrap();
    assert!(matches!(
        s.confirm_login_enrollment(org, &t, "000000").await,
        Err(ServiceError::InvalidCredentials)
    ));
    let codes = s
        .confirm_login_enrollment(org, &t, &code(&mkey, clock_now(&clock)))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    let done = s.acknowledge_login_enrollment(org, &t).await.unwrap();
    let mgrant = *done.grant().expect("granted");
    assert_eq!(mgrant.role(), Role::Manager);

    // Roles: a Manager sees reports but may not manage members or add anyone.
    let all = Resource::of_org(org);
    assert!(
        s.authorize(&mgrant, &Permission::ViewReports, &all)
            .await
            .is_ok()
    );
    assert!(matches!(
        s.authorize(&mgrant, &Permission::ManageMembers, &all).await,
        Err(ServiceError::Denied(_))
    ));
    assert!(
        s.add_member(&mgrant, "x@example.com", Role::User)
            .await
            .is_err()
    );
    // Escalation attempts: a manager raising themselves; the owner making someone Owner.
    assert!(
        s.change_role(&mgrant, mgrant.person(), Role::Admin)
            .await
            .is_err()
    );
    assert!(
        s.change_role(&grant, new.person, Role::Owner)
            .await
            .is_err()
    );
    // The owner cannot turn their own MFA off while the company enforces it.
    assert!(s.disable_mfa(&grant).await.is_err());
}

#[tokio::test]
async fn tickets_expire() {
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let step = s
        .login(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    clock.advance(ServiceConfig::DEFAULT_TICKET_TTL + 1);
    let err = s
        .verify_totp(org, &ticket(&step), &code(&key, clock_now(&clock)))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::InvalidCredentials));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_totp_code_wins_once_among_32_tasks() {
    let (s, clock) = service();
    let (org, key, codes) = owner_with_mfa(&s, &clock).await;
    let s = Arc::new(s);
    for (label, recovery) in [("totp", false), ("recovery", true)] {
        let mut tickets = Vec::new();
        for _ in 0..32 {
            let step = s
                .login(org, "owner@example.com", Password::from(OWNER_PW))
                .await
                .unwrap();
            tickets.push(ticket(&step));
        }
        let c = if recovery {
            codes[1].clone()
        } else {
            code(&key, clock_now(&clock))
        };
        let mut handles = Vec::new();
        for t in tickets {
            let s = Arc::clone(&s);
            let c = c.clone();
            handles.push(tokio::spawn(async move {
                if recovery {
                    s.verify_recovery_code(org, &t, &c).await.is_ok()
                } else {
                    s.verify_totp(org, &t, &c).await.is_ok()
                }
            }));
        }
        let mut wins = 0;
        for h in handles {
            wins += usize::from(h.await.unwrap());
        }
        assert_eq!(wins, 1, "{label}");
        clock.advance(30);
    }
}

#[tokio::test]
async fn no_secret_in_any_event_or_error() {
    let (s, clock) = service();
    let (org, key, codes) = owner_with_mfa(&s, &clock).await;
    let mut texts = Vec::new();
    let step = s
        .login(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let t = ticket(&step);
    let now = clock_now(&clock);
    for attempt in [code(&key, now + 300), code(&key, now)] {
        if let Err(e) = s.verify_totp(org, &t, &attempt).await {
            texts.push(format!("{e} {e:?}"));
        }
    }
    if let Err(e) = s.verify_totp(org, &t, &code(&key, now)).await {
        texts.push(format!("{e} {e:?}"));
    }
    if let Err(e) = s
        .login(org, "owner@example.com", Password::from("hunter2 wrong"))
        .await
    {
        texts.push(format!("{e} {e:?}"));
    }
    let events: Vec<AuditEvent> = s.services().audit.events();
    assert!(!events.is_empty());
    texts.extend(events.iter().map(|e| format!("{e:?}")));
    let secrets = [
        key.expose_base32().to_string(),
        OWNER_PW.to_owned(),
        "hunter2".to_owned(),
        codes[0].clone(),
        code(&key, now),
        t.expose_secret().to_string(),
    ];
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
    }
}

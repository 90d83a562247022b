//! The service stories end to end on the in-memory store with a manual clock.
#![cfg(feature = "memory")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

#[path = "support/doubles.rs"]
mod doubles;

use authcore::credential::password::HashParams;
use authcore::credential::{FactorKind, OobConfig, OobKey, PhoneNumber, RecoveryParams};
use authcore::otp::{ManualClock, SecretKey, Totp};
use authcore::policy::{
    Aal, AuditEvent, AuditKind, EnrollmentDemand, EnrollmentPurpose, MfaSettings, Permission,
    Resource, Role, SessionRefused,
};
use authcore::service::MemoryBackend;
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{Authenticator, Services};
use authcore::{
    BearerToken, Grant, LoginStep, MemoryStore, OrgId, Password, PasswordHasher, PersonId,
    ServiceConfig, ServiceError,
};

type Service = Authenticator<MemoryBackend<Arc<ManualClock>, PasswordHasher>>;

const T0: u64 = 1_700_000_010;
const OWNER_PW: &str = "correct horse battery staple 42";

fn service() -> (Service, Arc<ManualClock>) {
    service_with(None)
}

/// SMS codes with 3 attempts per code and 3 sends an hour (60 s apart, valid 5 minutes).
fn sms_config() -> OobConfig {
    OobConfig::builder()
        .max_attempts(3)
        .hourly_cap(3)
        .build()
        .unwrap()
}

fn service_with(sms: Option<OobConfig>) -> (Service, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let hasher = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
        .build()
        .unwrap();
    let mut config = ServiceConfig::builder("Example").recovery(
        RecoveryParams::builder()
            .dangerous_argon2(64, 1, 1)
            .build()
            .unwrap(),
    );
    if let Some(sms) = sms {
        config = config.sms(sms, OobKey::from_bytes(&[9u8; 32]).unwrap());
    }
    let config = config.build().unwrap();
    let backend = MemoryStore::backend()
        .unwrap()
        .with_clock(Arc::clone(&clock))
        .with_hasher(hasher);
    (Authenticator::new(backend, config), clock)
}

fn code(key: &SecretKey, now: u64) -> String {
    let params = authcore::otp::TotpParams::builder().build().unwrap();
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
        .login_to(up.org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let LoginStep::Granted(opened) = step else {
        panic!("{step:?}")
    };
    let grant = opened.grant;
    let setup = s
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("phone").unwrap()),
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
        .login_to(org, "owner@example.com", Password::from(OWNER_PW))
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
    assert_eq!(grant.aal(), authcore::policy::Aal::Aal2);

    // A replayed code: the same step again is refused, uniformly.
    let step = s
        .login_to(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let t = ticket(&step);
    let now = clock_now(&clock);
    let _ = s.verify_totp(org, &t, &code(&key, now)).await.unwrap();
    let step = s
        .login_to(org, "owner@example.com", Password::from(OWNER_PW))
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
        .login_to(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let done = s
        .verify_recovery_code(org, &ticket(&step), &codes[0])
        .await
        .unwrap();
    assert!(done.grant().is_some());
    let step = s
        .login_to(org, "owner@example.com", Password::from(OWNER_PW))
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
        .login_to(up.org, "nobody@example.com", Password::from("x"))
        .await
        .unwrap_err();
    let b = s
        .login_to(up.org, "owner@example.com", Password::from("wrong"))
        .await
        .unwrap_err();
    assert_eq!(a.to_string(), b.to_string());
    for _ in 0..5 {
        let _ = s
            .login_to(up.org, "owner@example.com", Password::from("wrong"))
            .await;
    }
    let err = s
        .login_to(up.org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap_err();
    let ServiceError::Throttled { retry_at } = err else {
        panic!("{err:?}")
    };
    clock.set(retry_at);
    assert!(
        s.login_to(up.org, "owner@example.com", Password::from(OWNER_PW))
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
        s.backend()
            .notifier
            .take_last_setup_token(new.person)
            .is_some()
    );

    let step = s
        .login_to(org, "manager@example.com", Password::from(temp.as_str()))
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
        .login_to(org, "manager@example.com", Password::from(temp.as_str()))
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
    let LoginStep::EnrollMfa { .. } = &step else {
        panic!("{step:?}")
    };
    let t = ticket(&step);
    // A second-factor path cannot bypass the enrollment.
    assert!(s.verify_totp(org, &t, "123456").await.is_err());
    let step = s
        .login_to(
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
    let from = s.backend().audit.events().len();
    let done = s.acknowledge_login_enrollment(org, &t).await.unwrap();
    let mgrant = *done.grant().expect("granted");
    assert_eq!(mgrant.role(), Role::Manager);
    // MFA turned on at login bumps the epoch, as when signed in; the login's session is at the
    // new one.
    assert!(
        s.backend().audit.events()[from..]
            .iter()
            .any(|e| e.subject == Some(mgrant.person())
                && matches!(e.what, AuditKind::SecurityEpochBumped { .. }))
    );
    let token = done.session().unwrap().token.expose_secret().to_string();
    assert_eq!(s.authenticate(&token).await.unwrap().aal(), Aal::Aal2);

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
        .login_to(org, "owner@example.com", Password::from(OWNER_PW))
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
                .login_to(org, "owner@example.com", Password::from(OWNER_PW))
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

/// Whether `text` holds the numeric `code` as a whole run of digits: not inside a longer number
/// such as a timestamp or an id, where six digits turn up by chance.
fn holds_digit_run(text: &str, code: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run == code)
}

#[test]
fn the_digit_run_matcher_finds_a_code_on_its_own_only() {
    for text in [
        "123456",
        "code 123456",
        "Code(\"123456\")",
        "x:123456,",
        "a123456b",
    ] {
        assert!(holds_digit_run(text, "123456"), "{text}");
    }
    for text in ["1700123456", "1234567", "0123456", "12345", "12 3456", ""] {
        assert!(!holds_digit_run(text, "123456"), "{text}");
    }
}

#[tokio::test]
async fn no_secret_in_any_event_or_error() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, recovery) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let owner = grant.person();
    let verification =
        verify_phone(&s, &grant, &PhoneNumber::parse("+44 20 7946 0958").unwrap()).await;
    // Past the number's resend cooldown.
    clock.advance(60);
    let mut texts = Vec::new();
    let step = owner_login(&s, org).await;
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
    // Recovery codes: a wrong one, then a right one.
    let step = owner_login(&s, org).await;
    let t_recovery = ticket(&step);
    let e = s
        .verify_recovery_code(org, &t_recovery, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
        .await
        .unwrap_err();
    texts.push(format!("{e} {e:?}"));
    let done = s
        .verify_recovery_code(org, &t_recovery, &recovery[0])
        .await
        .unwrap();
    assert!(done.grant().is_some());
    // SMS codes: a wrong one, the right one, then the spent one again.
    let step = owner_login(&s, org).await;
    let t_sms = ticket(&step);
    let sms = send_and_read(&s, org, &t_sms, owner).await;
    let e = s
        .verify_sms_code(org, &t_sms, &wrong(&sms))
        .await
        .unwrap_err();
    texts.push(format!("{e} {e:?}"));
    let done = s.verify_sms_code(org, &t_sms, &sms).await.unwrap();
    assert!(done.grant().is_some());
    let step = owner_login(&s, org).await;
    let e = s
        .verify_sms_code(org, &ticket(&step), &sms)
        .await
        .unwrap_err();
    texts.push(format!("{e} {e:?}"));
    if let Err(e) = s
        .login_to(org, "owner@example.com", Password::from("hunter2 wrong"))
        .await
    {
        texts.push(format!("{e} {e:?}"));
    }
    let events: Vec<AuditEvent> = s.backend().audit.events();
    assert!(!events.is_empty());
    texts.extend(events.iter().map(|e| format!("{e:?}")));
    let secrets = [
        key.expose_base32().to_string(),
        OWNER_PW.to_owned(),
        "hunter2".to_owned(),
        recovery[0].clone(),
        recovery[1].clone(),
        t.expose_secret().to_string(),
        t_recovery.expose_secret().to_string(),
        t_sms.expose_secret().to_string(),
    ];
    // Six-digit codes also occur inside timestamps and ids: they count only as a whole number.
    let codes = [
        code(&key, now + 300),
        code(&key, now),
        sms.clone(),
        wrong(&sms),
        verification,
    ];
    assert!(holds_digit_run(&format!("{:?}", sms.as_str()), &sms));
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
        for code in &codes {
            assert!(!holds_digit_run(text, code), "{code} in {text}");
        }
    }
}

// ---- SMS codes ----

const MEMBER_PW: &str = "violet tuesday lantern river";

async fn owner_login(s: &Service, org: OrgId) -> LoginStep {
    s.login_to(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap()
}

/// A wrong code of the same length as `code`.
fn wrong(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_owned()
}

/// The owner with MFA and a verified phone; returns the org, the key and the owner's id.
async fn owner_with_phone(s: &Service, clock: &ManualClock) -> (OrgId, SecretKey, PersonId) {
    let (org, key, _) = owner_with_mfa(s, clock).await;
    let grant = owner_grant(s, clock, org, &key).await;
    let phone = PhoneNumber::parse("+44 20 7946 0958").unwrap();
    verify_phone(s, &grant, &phone).await;
    // The verification code counts in the number's send log: let it leave the hour.
    clock.advance(3600);
    (org, key, grant.person())
}

/// Binds `phone` to the grant's person through the verification ceremony; returns the code.
async fn verify_phone(s: &Service, grant: &Grant, phone: &PhoneNumber) -> String {
    s.start_phone_verification(grant, phone).await.unwrap();
    let code = s
        .backend()
        .notifier
        .take_last_code(grant.person())
        .expect("a verification code was delivered")
        .to_string();
    s.confirm_phone(grant, &code).await.unwrap();
    code
}

/// Sends an SMS code on the ticket and reads it from the notifier.
async fn send_and_read(s: &Service, org: OrgId, t: &BearerToken, person: PersonId) -> String {
    s.send_sms_code(org, t).await.unwrap();
    s.backend()
        .notifier
        .take_last_code(person)
        .expect("a code was delivered")
        .to_string()
}

#[tokio::test]
async fn sms_codes_are_sent_verified_throttled_and_expire() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, _key, owner) = owner_with_phone(&s, &clock).await;

    // The phone is offered as a second factor; nothing to verify before a code is sent.
    let step = owner_login(&s, org).await;
    let LoginStep::SecondFactor { factors, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(factors.contains(FactorKind::OutOfBandSms));
    let t = ticket(&step);
    assert!(matches!(
        s.verify_sms_code(org, &t, "123456").await,
        Err(ServiceError::InvalidCredentials)
    ));

    // Send, then a resend within the cooldown is refused with its time.
    let t1 = clock_now(&clock);
    let code1 = send_and_read(&s, org, &t, owner).await;
    assert_eq!(code1.len(), 6);
    let err = s.send_sms_code(org, &t).await.unwrap_err();
    assert!(
        matches!(err, ServiceError::Throttled { retry_at } if retry_at == t1 + 60),
        "{err:?}"
    );
    assert!(s.backend().notifier.take_last_code(owner).is_none());

    // A wrong code is refused and the ticket stays; the right one signs in.
    assert!(matches!(
        s.verify_sms_code(org, &t, &wrong(&code1)).await,
        Err(ServiceError::InvalidCredentials)
    ));
    let done = s.verify_sms_code(org, &t, &code1).await.unwrap();
    assert!(done.grant().is_some());

    // The spent code does not sign in again.
    let step = owner_login(&s, org).await;
    assert!(matches!(
        s.verify_sms_code(org, &ticket(&step), &code1).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // Three wrong attempts void a code: the right one is then refused.
    clock.advance(60);
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let code2 = send_and_read(&s, org, &t, owner).await;
    for _ in 0..3 {
        assert!(matches!(
            s.verify_sms_code(org, &t, &wrong(&code2)).await,
            Err(ServiceError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        s.verify_sms_code(org, &t, &code2).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // The third send of the hour; a fourth is refused until the first leaves the hour.
    clock.advance(60);
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let code3 = send_and_read(&s, org, &t, owner).await;
    assert!(
        s.verify_sms_code(org, &t, &code3)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    clock.advance(60);
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let err = s.send_sms_code(org, &t).await.unwrap_err();
    assert!(
        matches!(err, ServiceError::Throttled { retry_at } if retry_at == t1 + 3600),
        "{err:?}"
    );
    assert!(s.backend().notifier.take_last_code(owner).is_none());

    // After the hour a code is sent again; it expires after its 5 minutes.
    clock.set(t1 + 3600);
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let code4 = send_and_read(&s, org, &t, owner).await;
    clock.advance(300);
    assert!(matches!(
        s.verify_sms_code(org, &t, &code4).await,
        Err(ServiceError::InvalidCredentials)
    ));
}

// ---- phone verification ----

fn phone_b() -> PhoneNumber {
    PhoneNumber::parse("+44 20 7946 0959").unwrap()
}

async fn phone_of(s: &Service, person: PersonId) -> Option<PhoneNumber> {
    use authcore::UserStore;
    s.backend()
        .store
        .person(person)
        .await
        .unwrap()
        .unwrap()
        .phone
}

fn notices(s: &Service, person: PersonId, notice: authcore::store::SecurityNotice) -> usize {
    s.backend()
        .notifier
        .deliveries()
        .iter()
        .filter(|d| **d == authcore::store::Delivery::Security { person, notice })
        .count()
}

fn audited(s: &Service, from: usize, what: authcore::policy::AuditKind) -> bool {
    s.backend().audit.events()[from..]
        .iter()
        .any(|e| e.what == what)
}

const SMS_REJECTED: authcore::policy::AuditKind = authcore::policy::AuditKind::CredentialRejected {
    factor: authcore::policy::Factor::Second(FactorKind::OutOfBandSms),
    replayed: false,
};

#[tokio::test]
async fn a_phone_becomes_a_factor_only_with_its_code() {
    use authcore::policy::AuditKind;
    use authcore::store::{Delivery, OobPurpose, SecurityNotice};
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let owner = grant.person();
    let phone = PhoneNumber::parse("+44 20 7946 0958").unwrap();
    let added = notices(&s, owner, SecurityNotice::AuthenticatorAdded);

    // Step 1 sends a code to the new number, marked as a verification; nothing is bound yet.
    let from = s.backend().audit.events().len();
    s.start_phone_verification(&grant, &phone).await.unwrap();
    let code1 = s
        .backend()
        .notifier
        .take_last_code(owner)
        .unwrap()
        .to_string();
    assert_eq!(
        s.backend().notifier.deliveries().last(),
        Some(&Delivery::OobCode {
            person: owner,
            purpose: OobPurpose::VerifyPhone,
            to: phone.clone()
        })
    );
    assert!(audited(&s, from, AuditKind::PhoneVerificationSent));
    assert_eq!(phone_of(&s, owner).await, None);
    // The number is not a factor, and its code does not sign in.
    let step = owner_login(&s, org).await;
    let LoginStep::SecondFactor { factors, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(!factors.contains(FactorKind::OutOfBandSms));
    assert!(matches!(
        s.verify_sms_code(org, &ticket(&step), &code1).await,
        Err(ServiceError::FactorUnavailable)
    ));

    // A wrong code: the uniform failure, counted and audited; still nothing bound.
    let from = s.backend().audit.events().len();
    assert!(matches!(
        s.confirm_phone(&grant, &wrong(&code1)).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(audited(&s, from, SMS_REJECTED));
    assert_eq!(phone_of(&s, owner).await, None);
    assert_eq!(
        notices(&s, owner, SecurityNotice::AuthenticatorAdded),
        added
    );

    // The right code binds the number, tells the person and is audited, once.
    let from = s.backend().audit.events().len();
    s.confirm_phone(&grant, &code1).await.unwrap();
    assert_eq!(phone_of(&s, owner).await, Some(phone.clone()));
    assert_eq!(
        notices(&s, owner, SecurityNotice::AuthenticatorAdded),
        added + 1
    );
    assert!(audited(&s, from, AuditKind::PhoneVerified));
    assert!(matches!(
        s.confirm_phone(&grant, &code1).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // Now SMS is offered at sign-in, and sign-in codes are marked as such.
    clock.advance(60);
    let step = owner_login(&s, org).await;
    let LoginStep::SecondFactor { factors, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(factors.contains(FactorKind::OutOfBandSms));
    let sms = send_and_read(&s, org, &ticket(&step), owner).await;
    assert_eq!(
        s.backend().notifier.deliveries().last(),
        Some(&Delivery::OobCode {
            person: owner,
            purpose: OobPurpose::SignIn,
            to: phone
        })
    );
    assert!(
        s.verify_sms_code(org, &ticket(&step), &sms)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
}

#[tokio::test]
async fn phone_codes_expire_run_out_of_attempts_and_are_throttled() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let owner = grant.person();

    // Expired after its five minutes.
    s.start_phone_verification(&grant, &phone_b())
        .await
        .unwrap();
    let c = s
        .backend()
        .notifier
        .take_last_code(owner)
        .unwrap()
        .to_string();
    clock.advance(300);
    let grant = owner_grant(&s, &clock, org, &key).await;
    assert!(matches!(
        s.confirm_phone(&grant, &c).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // Void after three wrong attempts.
    let grant = owner_grant(&s, &clock, org, &key).await;
    s.start_phone_verification(&grant, &phone_b())
        .await
        .unwrap();
    let c = s
        .backend()
        .notifier
        .take_last_code(owner)
        .unwrap()
        .to_string();
    for _ in 0..3 {
        assert!(matches!(
            s.confirm_phone(&grant, &wrong(&c)).await,
            Err(ServiceError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        s.confirm_phone(&grant, &c).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(phone_of(&s, owner).await, None);

    // Past the free attempts the factor is throttled, and refused without checking the code.
    // (The sign-in for this grant cleared the counter: these are its 5 free failures and the
    // one that starts the back-off.)
    for _ in 0..2 {
        assert!(matches!(
            s.confirm_phone(&grant, &c).await,
            Err(ServiceError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        s.confirm_phone(&grant, &c).await,
        Err(ServiceError::Throttled { .. })
    ));

    // A grant that is no longer fresh cannot start or confirm a verification.
    clock.advance(301);
    assert!(matches!(
        s.start_phone_verification(&grant, &phone_b()).await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::ReauthenticationRequired
        ))
    ));
    assert!(matches!(
        s.confirm_phone(&grant, &c).await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::ReauthenticationRequired
        ))
    ));

    // Without SMS configured there is nothing to verify with.
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    assert!(matches!(
        s.start_phone_verification(&grant, &phone_b()).await,
        Err(ServiceError::FactorUnavailable)
    ));
}

#[tokio::test]
async fn a_phone_verification_and_a_sign_in_code_never_answer_each_other() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, owner) = owner_with_phone(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    // A verification for a new number is pending while a sign-in code goes to the old one.
    s.start_phone_verification(&grant, &phone_b())
        .await
        .unwrap();
    let verification = s
        .backend()
        .notifier
        .take_last_code(owner)
        .unwrap()
        .to_string();
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let sign_in = send_and_read(&s, org, &t, owner).await;
    assert_ne!(verification, sign_in);

    // Each code is refused for the other purpose, and neither challenge is disturbed.
    assert!(matches!(
        s.verify_sms_code(org, &t, &verification).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(matches!(
        s.confirm_phone(&grant, &sign_in).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(
        phone_of(&s, owner).await,
        Some(PhoneNumber::parse("+44 20 7946 0958").unwrap())
    );
    assert!(
        s.verify_sms_code(org, &t, &sign_in)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    s.confirm_phone(&grant, &verification).await.unwrap();
    assert_eq!(phone_of(&s, owner).await, Some(phone_b()));

    // A sign-in code sent to the old number does not count once the number changed.
    clock.advance(3600);
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let to_new = send_and_read(&s, org, &t, owner).await;
    assert!(
        s.verify_sms_code(org, &t, &to_new)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
}

#[tokio::test]
async fn removing_the_phone_is_refused_where_it_would_turn_enforced_mfa_off() {
    use authcore::policy::{AuditKind, PolicyError};
    use authcore::store::SecurityNotice;
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, owner) = owner_with_phone(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let day = 24 * 3600;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(
            MfaSettings::DEFAULT_FACTORS.with(FactorKind::OutOfBandSms),
            3 * day,
        )
        .unwrap(),
    )
    .await
    .unwrap();

    // A member whose only factor is the phone.
    let (member, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let member_grant = *s
        .skip_enrollment(org, &ticket(&step))
        .await
        .unwrap()
        .grant()
        .unwrap();
    verify_phone(&s, &member_grant, &phone_b()).await;
    // An AAL1 grant cannot remove a factor.
    assert!(matches!(
        s.remove_phone(&member_grant).await,
        Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
    ));
    clock.advance(60);
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    let LoginStep::SecondFactor { factors, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(factors.contains(FactorKind::OutOfBandSms));
    let sms = send_and_read(&s, org, &ticket(&step), member).await;
    let member_grant = *s
        .verify_sms_code(org, &ticket(&step), &sms)
        .await
        .unwrap()
        .grant()
        .unwrap();
    // Removing it would turn MFA off in an organisation that enforces it.
    assert!(matches!(
        s.remove_phone(&member_grant).await,
        Err(ServiceError::Policy(PolicyError::RequiredByOrganisation { org: o })) if o == org
    ));
    assert_eq!(phone_of(&s, member).await, Some(phone_b()));

    // The owner keeps the authenticator app: the phone can go.
    let grant = owner_grant(&s, &clock, org, &key).await;
    let from = s.backend().audit.events().len();
    s.remove_phone(&grant).await.unwrap();
    assert_eq!(phone_of(&s, owner).await, None);
    assert!(audited(&s, from, AuditKind::PhoneRemoved));
    assert_eq!(notices(&s, owner, SecurityNotice::PhoneRemoved), 1);
    let step = owner_login(&s, org).await;
    let LoginStep::SecondFactor { factors, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(!factors.contains(FactorKind::OutOfBandSms));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_sms_code_wins_once_among_32_tasks() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, _key, owner) = owner_with_phone(&s, &clock).await;
    let s = Arc::new(s);
    let mut tickets = Vec::new();
    for _ in 0..32 {
        tickets.push(ticket(&owner_login(&s, org).await));
    }
    let c = send_and_read(&s, org, &tickets[0], owner).await;
    let mut handles = Vec::new();
    for t in tickets {
        let s = Arc::clone(&s);
        let c = c.clone();
        handles.push(tokio::spawn(async move {
            s.verify_sms_code(org, &t, &c).await.is_ok()
        }));
    }
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.unwrap());
    }
    assert_eq!(wins, 1);
}

// ---- maintenance ----

#[tokio::test]
async fn pruning_deletes_what_expired_and_keeps_what_is_live() {
    use authcore::store::PruneReport;
    let (s, clock) = service_with(Some(sms_config()));
    let (org, _key, owner) = owner_with_phone(&s, &clock).await;
    // A pending login with an SMS code sent: its ticket, challenge and send log are live.
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let sms = send_and_read(&s, org, &t, owner).await;
    assert_eq!(s.prune_expired().await.unwrap(), PruneReport::default());
    let done = s.verify_sms_code(org, &t, &sms).await.unwrap();
    assert!(done.grant().is_some());

    // Another pending login and code; an hour later all of it has expired and goes.
    clock.advance(60);
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let sms = send_and_read(&s, org, &t, owner).await;
    clock.advance(3600);
    let report = s.prune_expired().await.unwrap();
    assert_eq!(
        report,
        PruneReport {
            tickets: 1,
            setup_tokens: 0,
            oob_challenges: 1,
            oob_send_logs: 1,
            account_tokens: 0,
            throttles: 0,
            invitations: 0,
            passkey_ceremonies: 0,
        }
    );
    assert_eq!(report.total(), 3);
    assert_eq!(s.prune_expired().await.unwrap(), PruneReport::default());
    assert!(matches!(
        s.verify_sms_code(org, &t, &sms).await,
        Err(ServiceError::InvalidCredentials)
    ));
}

// ---- members: grace deadlines, delegation, deactivation, setup links ----

/// Adds a member and walks them through the temporary password; returns their id and the step
/// after the password change.
async fn member_signs_in(
    s: &Service,
    grant: &Grant,
    login: &str,
    role: Role,
) -> (PersonId, LoginStep) {
    let new = s.add_member(grant, login, role).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(grant.org(), login, Password::from(temp.as_str()))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::ChangePassword { .. }), "{step:?}");
    let step = s
        .change_password_at_login(grant.org(), &ticket(&step), Password::from(MEMBER_PW))
        .await
        .unwrap();
    (new.person, step)
}

async fn member_login(s: &Service, org: OrgId, login: &str) -> Result<LoginStep, ServiceError> {
    s.login_to(org, login, Password::from(MEMBER_PW)).await
}

#[tokio::test]
async fn grace_deadline_allows_skipping_until_it_passes_and_moves_with_the_policy() {
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let day = 24 * 3600;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 3 * day).unwrap(),
    )
    .await
    .unwrap();
    let (member, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let deadline = s
        .organisation(org)
        .await
        .unwrap()
        .mfa_deadline(member)
        .expect("a deadline");
    let LoginStep::EnrollMfa { demand, .. } = &step else {
        panic!("{step:?}")
    };
    assert_eq!(*demand, EnrollmentDemand::BeforeDeadline { deadline });
    assert!(deadline > clock_now(&clock) && deadline <= clock_now(&clock) + 3 * day);

    // Skippable until the deadline.
    let done = s.skip_enrollment(org, &ticket(&step)).await.unwrap();
    assert_eq!(done.grant().expect("granted").person(), member);
    clock.set(deadline - 1);
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    assert!(
        s.skip_enrollment(org, &ticket(&step))
            .await
            .unwrap()
            .grant()
            .is_some()
    );

    // From the deadline on: mandatory, and skipping gives the same step back.
    clock.set(deadline);
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    let LoginStep::EnrollMfa { demand, .. } = &step else {
        panic!("{step:?}")
    };
    assert_eq!(*demand, EnrollmentDemand::Mandatory);
    let again = s.skip_enrollment(org, &ticket(&step)).await.unwrap();
    assert!(
        matches!(
            again,
            LoginStep::EnrollMfa {
                demand: EnrollmentDemand::Mandatory,
                ..
            }
        ),
        "{again:?}"
    );

    // A longer grace period never extends a deadline already set: still mandatory.
    let grant = owner_grant(&s, &clock, org, &key).await;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 10 * day).unwrap(),
    )
    .await
    .unwrap();
    let kept = s
        .organisation(org)
        .await
        .unwrap()
        .mfa_deadline(member)
        .unwrap();
    assert_eq!(kept, deadline);
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    assert!(
        matches!(
            step,
            LoginStep::EnrollMfa {
                demand: EnrollmentDemand::Mandatory,
                ..
            }
        ),
        "{step:?}"
    );

    // A shorter one can make it mandatory at once.
    let grant = owner_grant(&s, &clock, org, &key).await;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, day).unwrap(),
    )
    .await
    .unwrap();
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    assert!(
        matches!(
            step,
            LoginStep::EnrollMfa {
                demand: EnrollmentDemand::Mandatory,
                ..
            }
        ),
        "{step:?}"
    );
}

#[tokio::test]
async fn a_delegation_lapses_by_itself() {
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let (member, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let mgrant = *step.grant().expect("no policy: signed in");
    let all = Resource::of_org(org);
    assert!(matches!(
        s.authorize(&mgrant, &Permission::ViewReports, &all).await,
        Err(ServiceError::Denied(_))
    ));
    let until = clock_now(&clock) + 3600;
    s.delegate(&grant, member, Role::Manager, until)
        .await
        .unwrap();
    assert!(
        s.authorize(&mgrant, &Permission::ViewReports, &all)
            .await
            .is_ok()
    );
    clock.set(until);
    assert!(matches!(
        s.authorize(&mgrant, &Permission::ViewReports, &all).await,
        Err(ServiceError::Denied(_))
    ));
    // The member's own role is untouched: their own jobs, not everyone's.
    let own = Resource::owned_by(org, member);
    assert!(
        s.authorize(&mgrant, &Permission::ViewJobs, &own)
            .await
            .is_ok()
    );
}

/// Adds a member who sets their password and turns on their own MFA; returns them and an AAL2
/// grant.
async fn member_with_mfa(
    s: &Service,
    clock: &ManualClock,
    grant: &Grant,
    login: &str,
    role: Role,
) -> (PersonId, Grant) {
    let (person, step) = member_signs_in(s, grant, login, role).await;
    let first = *step.grant().expect("no policy: signed in");
    let setup = s
        .start_enrollment(
            &first,
            EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("app").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    s.confirm_enrollment(&first, &code(&key, clock_now(clock)))
        .await
        .unwrap();
    s.acknowledge_enrollment(&first).await.unwrap();
    clock.advance(30);
    let step = member_login(s, grant.org(), login).await.unwrap();
    let step = s
        .verify_totp(grant.org(), &ticket(&step), &code(&key, clock_now(clock)))
        .await
        .unwrap();
    clock.advance(30);
    (person, *step.grant().expect("granted"))
}

#[tokio::test]
async fn a_delegate_mints_no_admin_and_loses_the_delegation_with_the_delegator() {
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let owner = owner_grant(&s, &clock, org, &key).await;
    let (admin, agrant) =
        member_with_mfa(&s, &clock, &owner, "admin@example.com", Role::Admin).await;
    let (delegate, dgrant) =
        member_with_mfa(&s, &clock, &owner, "user@example.com", Role::User).await;
    let (colleague, _) = member_signs_in(&s, &owner, "colleague@example.com", Role::User).await;
    let until = clock_now(&clock) + 8 * 3600;
    s.delegate(&agrant, delegate, Role::Admin, until)
        .await
        .unwrap();
    let members = Resource::of_org(org);
    assert!(
        s.authorize(&dgrant, &Permission::ManageMembers, &members)
            .await
            .is_ok()
    );
    // Covering for an Admin, the delegate adds and promotes nobody above their own role.
    assert!(matches!(
        s.add_member(&dgrant, "new-admin@example.com", Role::Admin)
            .await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::AboveOwnRole
        ))
    ));
    assert!(matches!(
        s.change_role(&dgrant, colleague, Role::Admin).await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::AboveOwnRole
        ))
    ));
    assert!(matches!(
        s.delegate(&dgrant, colleague, Role::Manager, until).await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::NotPermitted
        ))
    ));
    // The login was not taken by the refused attempt, and a User may be added.
    s.add_member(&dgrant, "new-admin@example.com", Role::User)
        .await
        .unwrap();
    let roster = s.organisation(org).await.unwrap();
    assert_eq!(roster.member(colleague).unwrap().role(), Role::User);

    // The delegator is demoted: the delegation ends at once, not at `until`.
    s.change_role(&owner, admin, Role::Manager).await.unwrap();
    assert!(matches!(
        s.authorize(&dgrant, &Permission::ManageMembers, &members)
            .await,
        Err(ServiceError::Denied(_))
    ));
    let roster = s.organisation(org).await.unwrap();
    assert!(roster.member(delegate).unwrap().delegation().is_none());
    assert_eq!(roster.owners().count(), 1);
}

#[tokio::test]
async fn deactivation_takes_effect_at_the_next_check() {
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let (member, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let mgrant = *step.grant().expect("signed in");
    let own = Resource::owned_by(org, member);
    assert!(
        s.authorize(&mgrant, &Permission::ViewJobs, &own)
            .await
            .is_ok()
    );
    s.deactivate_member(&grant, member).await.unwrap();
    // The grant already issued stops working at once: its session ended with the deactivation.
    assert!(matches!(
        s.authorize(&mgrant, &Permission::ViewJobs, &own).await,
        Err(ServiceError::Session(_))
    ));
    assert!(matches!(
        member_login(&s, org, "user@example.com").await,
        Err(ServiceError::Deactivated | ServiceError::InvalidCredentials)
    ));
    s.reactivate_member(&grant, member).await.unwrap();
    assert!(
        member_login(&s, org, "user@example.com")
            .await
            .unwrap()
            .grant()
            .is_some()
    );
}

#[tokio::test]
async fn a_setup_link_is_single_use_and_expires() {
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let notifier = &s.backend().notifier;

    let first = s
        .add_member(&grant, "first@example.com", Role::User)
        .await
        .unwrap();
    let token = notifier
        .take_last_setup_token(first.person)
        .expect("a link");
    let token = BearerToken::parse(&token).unwrap();
    assert_eq!(
        s.complete_setup(&token, Password::from(MEMBER_PW))
            .await
            .unwrap(),
        first.person
    );
    assert!(matches!(
        s.complete_setup(&token, Password::from("another fine password 77"))
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    // The chosen password signs in; the temporary one no longer does.
    assert!(
        member_login(&s, org, "first@example.com")
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    let temp = first.temporary_password.expose_secret().to_owned();
    assert!(
        s.login_to(org, "first@example.com", Password::from(temp.as_str()))
            .await
            .is_err()
    );

    let second = s
        .add_member(&grant, "second@example.com", Role::User)
        .await
        .unwrap();
    let token = notifier.take_last_setup_token(second.person).unwrap();
    let token = BearerToken::parse(&token).unwrap();
    clock.advance(ServiceConfig::DEFAULT_SETUP_TTL);
    assert!(matches!(
        s.complete_setup(&token, Password::from(MEMBER_PW)).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // A made-up token is refused the same way.
    let forged = BearerToken::generate().unwrap();
    assert!(matches!(
        s.complete_setup(&forged, Password::from(MEMBER_PW)).await,
        Err(ServiceError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn a_setup_link_stops_when_its_member_is_deactivated() {
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let new = s
        .add_member(&grant, "later@example.com", Role::User)
        .await
        .unwrap();
    let token = s
        .backend()
        .notifier
        .take_last_setup_token(new.person)
        .expect("a link");
    let token = BearerToken::parse(&token).unwrap();
    s.deactivate_member(&grant, new.person).await.unwrap();
    assert!(matches!(
        s.complete_setup(&token, Password::from(MEMBER_PW)).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // Nothing was written: the password is still the temporary one.
    s.reactivate_member(&grant, new.person).await.unwrap();
    assert!(member_login(&s, org, "later@example.com").await.is_err());
}

// ---- policy bypass attempts through every login path ----

// ---- the login's order: the held factor first, then the password change or the enrollment ----

/// A member whose only factor is a verified phone, in an organisation that enforces MFA with
/// `factors` (grace `grace`); returns the service, clock, org, owner grant, member and the
/// member's password-only grant from before the policy.
async fn member_with_phone_only(
    factors: authcore::policy::SecondFactors,
    grace: u64,
) -> (Service, Arc<ManualClock>, OrgId, Grant, PersonId, Grant) {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let (member, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let mgrant = *step.grant().expect("signed in without MFA");
    verify_phone(&s, &mgrant, &phone_b()).await;
    // The verification code counts in the number's send log: let it leave the hour.
    clock.advance(3600);
    let grant = owner_grant(&s, &clock, org, &key).await;
    s.set_mfa_policy(&grant, MfaSettings::enforced(factors, grace).unwrap())
        .await
        .unwrap();
    (s, clock, org, grant, member, mgrant)
}

#[tokio::test]
async fn a_held_phone_is_presented_before_an_authenticator_is_enrolled_at_login() {
    // The default factors leave SMS out: the phone does not satisfy the policy.
    let (s, clock, org, _, member, _) =
        member_with_phone_only(MfaSettings::DEFAULT_FACTORS, 0).await;
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    let LoginStep::SecondFactor { factors, .. } = &step else {
        panic!("the password alone reached {step:?}")
    };
    assert_eq!(
        *factors,
        authcore::policy::SecondFactors::of(FactorKind::OutOfBandSms)
    );
    let t = ticket(&step);
    // The password alone cannot enroll the attacker's own app, nor skip the phone.
    assert!(matches!(
        s.start_login_enrollment(org, &t, "attacker").await,
        Err(ServiceError::InvalidCredentials)
    ));
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    let t = ticket(&step);
    assert!(matches!(
        s.skip_enrollment(org, &t).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // The owner of the phone presents it, then enrolls an app the organisation counts.
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    let t = ticket(&step);
    let sms = send_and_read(&s, org, &t, member).await;
    let step = s.verify_sms_code(org, &t, &sms).await.unwrap();
    let LoginStep::EnrollMfa { demand, .. } = &step else {
        panic!("{step:?}")
    };
    assert_eq!(*demand, EnrollmentDemand::Mandatory);
    let t = ticket(&step);
    let setup = s
        .start_login_enrollment(org, &t, "phone app")
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    s.confirm_login_enrollment(org, &t, &code(&key, clock_now(&clock)))
        .await
        .unwrap();
    let done = s.acknowledge_login_enrollment(org, &t).await.unwrap();
    let grant = done.grant().expect("granted");
    assert_eq!(grant.aal(), authcore::policy::Aal::Aal2);
}

#[tokio::test]
async fn an_enrollment_ticket_stops_working_once_the_person_holds_a_factor() {
    // Before the deadline, a member without MFA is offered the enrollment.
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 24 * 3600).unwrap(),
    )
    .await
    .unwrap();
    let (_, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let mgrant = *s
        .skip_enrollment(org, &ticket(&step))
        .await
        .unwrap()
        .grant()
        .expect("skipped");
    // Someone who knows the password holds an enrollment ticket...
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    assert!(matches!(step, LoginStep::EnrollMfa { .. }), "{step:?}");
    let t = ticket(&step);
    // ...when the member binds their phone.
    verify_phone(&s, &mgrant, &phone_b()).await;
    assert!(matches!(
        s.start_login_enrollment(org, &t, "attacker").await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::ReauthenticationRequired
        ))
    ));
}

#[tokio::test]
async fn a_signed_in_enrollment_needs_a_fresh_factor_once_a_phone_is_held() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let (_, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let mgrant = *step.grant().expect("signed in without MFA");
    verify_phone(&s, &mgrant, &phone_b()).await;
    // The password-only grant from before the phone binds no new authenticator.
    let name = || EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("app").unwrap());
    assert!(matches!(
        s.start_enrollment(&mgrant, name()).await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::ReauthenticationRequired
        ))
    ));
    // Nor a second phone.
    assert!(matches!(
        s.start_phone_verification(&mgrant, &PhoneNumber::parse("+44 20 7946 0999").unwrap())
            .await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::ReauthenticationRequired
        ))
    ));
}

#[tokio::test]
async fn a_compromised_or_temporary_password_is_changed_only_after_the_second_factor() {
    use authcore::UserStore;
    use authcore::policy::PasswordState;
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let owner = owner_grant(&s, &clock, org, &key).await.person();
    let record = s.backend().store.person(owner).await.unwrap().unwrap();
    s.backend()
        .store
        .set_password(
            owner,
            &record.password_hash,
            PasswordState::Compromised,
            None,
        )
        .await
        .unwrap();
    let step = owner_login(&s, org).await;
    let LoginStep::SecondFactor { .. } = &step else {
        panic!("the password alone reached {step:?}")
    };
    let t = ticket(&step);
    assert!(matches!(
        s.change_password_at_login(org, &t, Password::from(MEMBER_PW))
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    let step = owner_login(&s, org).await;
    let step = s
        .verify_totp(org, &ticket(&step), &code(&key, clock_now(&clock)))
        .await
        .unwrap();
    let LoginStep::ChangePassword { .. } = &step else {
        panic!("{step:?}")
    };
    let done = s
        .change_password_at_login(org, &ticket(&step), Password::from(MEMBER_PW))
        .await
        .unwrap();
    assert_eq!(
        done.grant().expect("granted").aal(),
        authcore::policy::Aal::Aal2
    );
}

#[tokio::test]
async fn a_password_change_ticket_stops_working_once_the_person_holds_a_factor() {
    use authcore::UserStore;
    use authcore::policy::PasswordState;
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let (member, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let mgrant = *step.grant().expect("signed in without MFA");
    // The password turns up in a breach; someone who knows it gets the change ticket...
    let record = s.backend().store.person(member).await.unwrap().unwrap();
    s.backend()
        .store
        .set_password(
            member,
            &record.password_hash,
            PasswordState::Compromised,
            None,
        )
        .await
        .unwrap();
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    assert!(matches!(step, LoginStep::ChangePassword { .. }), "{step:?}");
    // ...when the member binds their phone: the ticket no longer replaces the password.
    verify_phone(&s, &mgrant, &phone_b()).await;
    assert!(matches!(
        s.change_password_at_login(
            org,
            &ticket(&step),
            Password::from("amber quiet harbour seven")
        )
        .await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::ReauthenticationRequired
        ))
    ));
    let record = s.backend().store.person(member).await.unwrap().unwrap();
    assert_eq!(record.password_state, PasswordState::Compromised);
}

#[tokio::test]
async fn a_rehash_at_login_keeps_the_compromised_mark() {
    use authcore::UserStore;
    use authcore::policy::PasswordState;
    let (s, _clock) = service();
    let up = s
        .sign_up("owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    // A hash under older, weaker parameters, marked compromised.
    let old = PasswordHasher::builder()
        .params(HashParams::dangerous_weak(32, 1, 1).unwrap())
        .build()
        .unwrap()
        .hash(&Password::from(OWNER_PW))
        .unwrap();
    s.backend()
        .store
        .set_password(up.person, old.as_str(), PasswordState::Compromised, None)
        .await
        .unwrap();
    let step = owner_login(&s, up.org).await;
    assert!(matches!(step, LoginStep::ChangePassword { .. }), "{step:?}");
    let record = s.backend().store.person(up.person).await.unwrap().unwrap();
    assert_ne!(record.password_hash, old.as_str(), "the hash was upgraded");
    assert_eq!(record.password_state, PasswordState::Compromised);
    assert_eq!(record.password_expires_at, None);
    // The next login still has to change it.
    let step = owner_login(&s, up.org).await;
    assert!(matches!(step, LoginStep::ChangePassword { .. }), "{step:?}");
}

// ---- grants stand only while the roster and the policy admit them ----

/// Refused for `why`: by the roster check ([`ServiceError::Denied`]), or already by the grant's
/// session, which the same change ended (a deactivation bumps the epoch) or no longer admits.
fn denied(result: Result<impl std::fmt::Debug, ServiceError>, why: authcore::policy::AccessDenied) {
    use authcore::policy::AccessDenied;
    match (result, why) {
        (Err(ServiceError::Denied(reason)), _) if reason == why => {}
        (
            Err(ServiceError::Session(
                SessionRefused::Revoked
                | SessionRefused::StaleEpoch
                | SessionRefused::PersonDeactivated
                | SessionRefused::MemberDeactivated,
            )),
            AccessDenied::Deactivated,
        ) => {}
        (Err(ServiceError::Session(SessionRefused::MfaRequired)), AccessDenied::MfaRequired) => {}
        (other, _) => panic!("expected Denied({why:?}), got {other:?}"),
    }
}

#[tokio::test]
async fn enforcement_reaches_grants_issued_before_it() {
    use authcore::policy::AccessDenied::MfaRequired;
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let (member, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let mgrant = *step.grant().expect("no policy: signed in on the password");
    let own = Resource::owned_by(org, member);
    let day = 24 * 3600;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, day).unwrap(),
    )
    .await
    .unwrap();
    // Within the grace period the password-only grant still stands.
    assert!(
        s.authorize(&mgrant, &Permission::ViewJobs, &own)
            .await
            .is_ok()
    );
    let deadline = s
        .organisation(org)
        .await
        .unwrap()
        .mfa_deadline(member)
        .unwrap();
    // A day after the deadline it does not, for any operation.
    clock.set(deadline + day);
    denied(
        s.authorize(&mgrant, &Permission::ViewJobs, &own).await,
        MfaRequired,
    );
    let name = EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("app").unwrap());
    denied(s.start_enrollment(&mgrant, name).await, MfaRequired);
    denied(
        s.change_password(
            &mgrant,
            Password::from(MEMBER_PW),
            Password::from("amber quiet harbour seven"),
        )
        .await,
        MfaRequired,
    );
    // The owner's grant rests on the app, which the policy counts.
    let grant = owner_grant(&s, &clock, org, &key).await;
    assert!(
        s.authorize(&grant, &Permission::ManageMembers, &Resource::of_org(org))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_deactivated_persons_or_members_grant_changes_nothing() {
    use authcore::UserStore;
    use authcore::policy::AccessDenied::Deactivated;
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let (member, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    let mgrant = *step.grant().expect("signed in");
    let (admin, step) = member_signs_in(&s, &grant, "admin@example.com", Role::Admin).await;
    let agrant = *step.grant().expect("signed in");
    let name = || EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("app").unwrap());

    // A deactivated membership: every account change with the old grant is refused.
    s.deactivate_member(&grant, member).await.unwrap();
    denied(s.start_enrollment(&mgrant, name()).await, Deactivated);
    denied(s.confirm_enrollment(&mgrant, "123456").await, Deactivated);
    denied(s.acknowledge_enrollment(&mgrant).await, Deactivated);
    denied(
        s.change_password(
            &mgrant,
            Password::from(MEMBER_PW),
            Password::from("amber quiet harbour seven"),
        )
        .await,
        Deactivated,
    );
    denied(
        s.start_phone_verification(&mgrant, &phone_b()).await,
        Deactivated,
    );
    denied(s.confirm_phone(&mgrant, "123456").await, Deactivated);
    denied(s.remove_phone(&mgrant).await, Deactivated);
    denied(s.disable_mfa(&mgrant).await, Deactivated);
    denied(s.regenerate_recovery_codes(&mgrant).await, Deactivated);
    s.reactivate_member(&grant, member).await.unwrap();
    // Reactivation revives no session: the old grant stays refused, and a new login acts.
    denied(s.start_enrollment(&mgrant, name()).await, Deactivated);
    let step = member_login(&s, org, "user@example.com").await.unwrap();
    let again = *step.grant().expect("signed in again");
    assert!(s.start_enrollment(&again, name()).await.is_ok());

    // A person deactivated everywhere: their admin grant adds and changes nobody.
    assert!(
        s.backend()
            .store
            .set_deactivated(admin, true)
            .await
            .unwrap()
    );
    denied(
        s.add_member(&agrant, "new@example.com", Role::User).await,
        Deactivated,
    );
    denied(
        s.change_role(&agrant, member, Role::Manager).await,
        Deactivated,
    );
    denied(s.deactivate_member(&agrant, member).await, Deactivated);
    denied(
        s.authorize(&agrant, &Permission::ManageMembers, &Resource::of_org(org))
            .await,
        Deactivated,
    );
    denied(
        s.change_password(
            &agrant,
            Password::from(MEMBER_PW),
            Password::from("amber quiet harbour seven"),
        )
        .await,
        Deactivated,
    );
}

#[tokio::test]
async fn a_used_code_is_audited_as_a_replay_and_answered_like_a_wrong_one() {
    use authcore::policy::{AuditKind, Factor};
    let rejected = |kind, replayed| AuditKind::CredentialRejected {
        factor: Factor::Second(kind),
        replayed,
    };
    let (s, clock) = service();
    let (org, key, codes) = owner_with_mfa(&s, &clock).await;

    // A TOTP code already accepted (the step is at the watermark).
    let now = clock_now(&clock);
    let step = owner_login(&s, org).await;
    assert!(
        s.verify_totp(org, &ticket(&step), &code(&key, now))
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    let step = owner_login(&s, org).await;
    let from = s.backend().audit.events().len();
    let replay = s
        .verify_totp(org, &ticket(&step), &code(&key, now))
        .await
        .unwrap_err();
    assert!(audited(&s, from, rejected(FactorKind::Totp, true)));
    assert!(!audited(&s, from, rejected(FactorKind::Totp, false)));
    // A wrong code: the same answer, not a replay.
    let step = owner_login(&s, org).await;
    let from = s.backend().audit.events().len();
    let wrong_answer = s
        .verify_totp(org, &ticket(&step), &wrong(&code(&key, now)))
        .await
        .unwrap_err();
    assert_eq!(replay.to_string(), wrong_answer.to_string());
    assert!(matches!(replay, ServiceError::InvalidCredentials));
    assert!(audited(&s, from, rejected(FactorKind::Totp, false)));
    clock.advance(30);

    // A spent recovery code.
    let step = owner_login(&s, org).await;
    assert!(
        s.verify_recovery_code(org, &ticket(&step), &codes[0])
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    let step = owner_login(&s, org).await;
    let from = s.backend().audit.events().len();
    assert!(matches!(
        s.verify_recovery_code(org, &ticket(&step), &codes[0]).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(audited(&s, from, rejected(FactorKind::RecoveryCode, true)));
    let from = s.backend().audit.events().len();
    assert!(matches!(
        s.verify_recovery_code(org, &ticket(&step), "AAAA-BBBB-CCCC-DDDD")
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(audited(&s, from, rejected(FactorKind::RecoveryCode, false)));
}

#[tokio::test]
async fn tickets_only_open_their_own_step_for_their_own_person_and_organisation() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, owner) = owner_with_phone(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;

    // A ticket for the password change opens no second-factor path, and the reverse.
    let (_, step) = member_signs_in(&s, &grant, "user@example.com", Role::User).await;
    assert!(step.grant().is_some());
    let new = s
        .add_member(&grant, "other@example.com", Role::User)
        .await
        .unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(org, "other@example.com", Password::from(temp.as_str()))
        .await
        .unwrap();
    let change = ticket(&step);
    assert!(
        s.verify_totp(org, &change, &code(&key, clock_now(&clock)))
            .await
            .is_err()
    );
    assert!(
        s.verify_recovery_code(org, &change, "AAAA-BBBB")
            .await
            .is_err()
    );
    assert!(s.send_sms_code(org, &change).await.is_err());
    assert!(s.verify_sms_code(org, &change, "123456").await.is_err());
    assert!(s.skip_enrollment(org, &change).await.is_err());
    assert!(
        s.start_login_enrollment(org, &change, "phone")
            .await
            .is_err()
    );
    assert!(s.acknowledge_login_enrollment(org, &change).await.is_err());

    let second = ticket(&owner_login(&s, org).await);
    assert!(s.skip_enrollment(org, &second).await.is_err());
    assert!(
        s.change_password_at_login(org, &second, Password::from(MEMBER_PW))
            .await
            .is_err()
    );
    assert!(
        s.start_login_enrollment(org, &second, "phone")
            .await
            .is_err()
    );
    assert!(s.acknowledge_login_enrollment(org, &second).await.is_err());

    // Another person's ticket: the member's second-factor ticket does not accept the owner's
    // code. The member enrolls an app to get one.
    let member_key = {
        let step = member_login(&s, org, "user@example.com").await.unwrap();
        let mgrant = *step.grant().unwrap();
        let setup = s
            .start_enrollment(
                &mgrant,
                EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("app").unwrap()),
            )
            .await
            .unwrap();
        let mkey = SecretKey::from_base32(&setup.manual_key()).unwrap();
        let _ = s
            .confirm_enrollment(&mgrant, &code(&mkey, clock_now(&clock)))
            .await
            .unwrap();
        s.acknowledge_enrollment(&mgrant).await.unwrap();
        clock.advance(30);
        mkey
    };
    let member_step = member_login(&s, org, "user@example.com").await.unwrap();
    assert!(matches!(member_step, LoginStep::SecondFactor { .. }));
    let member_ticket = ticket(&member_step);
    let now = clock_now(&clock);
    assert!(matches!(
        s.verify_totp(org, &member_ticket, &code(&key, now)).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // The owner's SMS code does not open the member's login either (they have no phone).
    let owner_ticket = ticket(&owner_login(&s, org).await);
    let sms = send_and_read(&s, org, &owner_ticket, owner).await;
    assert!(s.verify_sms_code(org, &member_ticket, &sms).await.is_err());
    // Each ticket still works with its own person's code.
    assert!(
        s.verify_totp(org, &member_ticket, &code(&member_key, now))
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    assert!(
        s.verify_sms_code(org, &owner_ticket, &sms)
            .await
            .unwrap()
            .grant()
            .is_some()
    );

    // Another organisation's ticket: refused, with the right code.
    let other = s
        .sign_up("founder@example.org", Password::from(OWNER_PW))
        .await
        .unwrap();
    let other_step = s
        .login_to(other.org, "founder@example.org", Password::from(OWNER_PW))
        .await
        .unwrap();
    assert!(other_step.grant().is_some());
    clock.advance(30);
    let owner_ticket = ticket(&owner_login(&s, org).await);
    assert!(matches!(
        s.verify_totp(other.org, &owner_ticket, &code(&key, clock_now(&clock)))
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn sms_is_refused_when_the_organisation_refuses_restricted_factors() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, owner) = owner_with_phone(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    // The default factors leave SMS out.
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap(),
    )
    .await
    .unwrap();
    let step = owner_login(&s, org).await;
    let LoginStep::SecondFactor { factors, .. } = &step else {
        panic!("{step:?}")
    };
    assert!(!factors.contains(FactorKind::OutOfBandSms));
    let t = ticket(&step);
    assert!(matches!(
        s.send_sms_code(org, &t).await,
        Err(ServiceError::FactorUnavailable)
    ));
    assert!(s.backend().notifier.take_last_code(owner).is_none());
    assert!(matches!(
        s.verify_sms_code(org, &t, "123456").await,
        Err(ServiceError::FactorUnavailable)
    ));
    // The ticket is still good for a factor the organisation counts.
    assert!(
        s.verify_totp(org, &t, &code(&key, clock_now(&clock)))
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    clock.advance(30);

    // An organisation that accepts SMS offers it.
    let grant = owner_grant(&s, &clock, org, &key).await;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(
            MfaSettings::DEFAULT_FACTORS.with(FactorKind::OutOfBandSms),
            0,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let sms = send_and_read(&s, org, &t, owner).await;
    assert!(
        s.verify_sms_code(org, &t, &sms)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
}

// ---- where the argon2 work runs ----

/// Runs every job on tokio's blocking pool and counts them.
struct BlockingCountingHasher {
    hasher: Arc<PasswordHasher>,
    jobs: Arc<std::sync::atomic::AtomicUsize>,
}

impl authcore::PasswordHashing for BlockingCountingHasher {
    fn run(
        &self,
        job: authcore::service::HashJob,
    ) -> impl Future<Output = authcore::service::HashOutput> + Send {
        self.jobs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let hasher = Arc::clone(&self.hasher);
        async move {
            tokio::task::spawn_blocking(move || job.run(&hasher))
                .await
                .unwrap_or_else(|_| authcore::service::HashOutput::failed())
        }
    }
}

/// A service with cheap argon2 whose every job runs on the blocking pool and is counted, over
/// `store`; with its clock and job counter.
type CountingService<S> = Authenticator<
    Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, BlockingCountingHasher>,
>;

fn counting_service<S: authcore::LoginStore>(
    store: S,
) -> (
    CountingService<S>,
    Arc<ManualClock>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    let clock = Arc::new(ManualClock::new(T0));
    let jobs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hasher = BlockingCountingHasher {
        hasher: Arc::new(
            PasswordHasher::builder()
                .params(HashParams::dangerous_weak(64, 1, 1).unwrap())
                .build()
                .unwrap(),
        ),
        jobs: Arc::clone(&jobs),
    };
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
        store,
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock: Arc::clone(&clock),
        hasher,
    };
    (Authenticator::new(services, config), clock, jobs)
}

/// An owner signed in with a fresh grant who has started adding an authenticator app: the
/// organisation, the grant and the app's key.
async fn owner_adding_an_app<S: authcore::LoginStore>(
    s: &CountingService<S>,
) -> (OrgId, Grant, SecretKey) {
    let up = s
        .sign_up("owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let step = s
        .login_to(up.org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let grant = *step.grant().unwrap();
    let setup = s
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(authcore::policy::AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    (up.org, grant, key)
}

#[tokio::test]
async fn recovery_codes_are_derived_on_the_pluggable_hasher() {
    let (s, clock, jobs) = counting_service(MemoryStore::new());
    let count = || jobs.load(std::sync::atomic::Ordering::SeqCst);
    let (org, grant, key) = owner_adding_an_app(&s).await;
    // Generating the recovery codes is one job.
    let before = count();
    let codes = s.confirm_enrollment(&grant, &code(&key, T0)).await.unwrap();
    assert_eq!(count() - before, 1);
    let first = codes.iter().next().unwrap().expose_secret().to_owned();
    s.acknowledge_enrollment(&grant).await.unwrap();
    clock.advance(30);
    let step = s
        .login_to(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    // Redeeming a code is one job, right or wrong.
    let before = count();
    assert!(
        s.verify_recovery_code(org, &ticket(&step), "AAAA-BBBB-CCCC")
            .await
            .is_err()
    );
    assert_eq!(count() - before, 1);
    let done = s
        .verify_recovery_code(org, &ticket(&step), &first)
        .await
        .unwrap();
    assert!(done.grant().is_some());
    assert_eq!(count() - before, 2);
}

/// A store whose active recovery-code set disappears after a number of reads: the set removed
/// by another server between the login's factor check and the redemption. The login reads it in
/// its snapshot, so the removal is seen when the snapshot is read again: after a lost count
/// (`lose_next_count`: the next compare-and-swap of counters alone loses, as when a concurrent
/// attempt moved the counter).
struct VanishingSetStore {
    inner: MemoryStore,
    /// Reads of the active set that still see it (`usize::MAX`: all of them).
    visible_reads: std::sync::atomic::AtomicUsize,
    /// Whether the next write of counters alone loses its compare-and-swap.
    lose_next_count: std::sync::atomic::AtomicBool,
}

impl VanishingSetStore {
    fn visible(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.visible_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n != usize::MAX).then(|| n.saturating_sub(1))
            })
            .map_or(true, |before| before > 0)
    }
}

impl authcore::UserStore for VanishingSetStore {
    type Error = authcore::MemoryStoreError;

    fn create_person(
        &self,
        person: &authcore::store::PersonRecord,
        organisation: authcore::store::OrganisationWrite<'_>,
    ) -> impl Future<Output = Result<authcore::store::CreateOutcome, Self::Error>> + Send {
        self.inner.create_person(person, organisation)
    }
    fn person_by_login(
        &self,
        login: &str,
    ) -> impl Future<Output = Result<Option<authcore::store::PersonRecord>, Self::Error>> + Send
    {
        self.inner.person_by_login(login)
    }
    fn person(
        &self,
        id: PersonId,
    ) -> impl Future<Output = Result<Option<authcore::store::PersonRecord>, Self::Error>> + Send
    {
        self.inner.person(id)
    }
    fn set_password(
        &self,
        id: PersonId,
        password_hash: &str,
        state: authcore::policy::PasswordState,
        expires_at: Option<u64>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner
            .set_password(id, password_hash, state, expires_at)
    }
    fn upgrade_password_hash(
        &self,
        id: PersonId,
        expected_hash: &str,
        new_hash: &str,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner
            .upgrade_password_hash(id, expected_hash, new_hash)
    }
    fn set_phone(
        &self,
        id: PersonId,
        phone: Option<&PhoneNumber>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.set_phone(id, phone)
    }
    fn set_deactivated(
        &self,
        id: PersonId,
        deactivated: bool,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.set_deactivated(id, deactivated)
    }
    fn mark_address_verified(
        &self,
        id: PersonId,
        login: &authcore::store::Login,
        at: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.mark_address_verified(id, login, at)
    }
    fn change_login(
        &self,
        id: PersonId,
        from: &authcore::store::Login,
        to: &authcore::store::Login,
        verified_at: u64,
    ) -> impl Future<Output = Result<authcore::store::LoginChange, Self::Error>> + Send {
        self.inner.change_login(id, from, to, verified_at)
    }
    fn throttle(
        &self,
        key: &authcore::store::ThrottleKey,
    ) -> impl Future<Output = Result<authcore::credential::ThrottleState, Self::Error>> + Send {
        self.inner.throttle(key)
    }
    fn reserve_attempt(
        &self,
        key: &authcore::store::ThrottleKey,
        policy: &authcore::credential::ThrottlePolicy,
        now: u64,
    ) -> impl Future<Output = Result<authcore::credential::ThrottleReservation, Self::Error>> + Send
    {
        self.inner.reserve_attempt(key, policy, now)
    }
    fn apply_throttle(
        &self,
        key: &authcore::store::ThrottleKey,
        op: authcore::store::ThrottleOp,
        policy: &authcore::credential::ThrottlePolicy,
        now: u64,
    ) -> impl Future<Output = Result<authcore::credential::ThrottleUpdate, Self::Error>> + Send
    {
        self.inner.apply_throttle(key, op, policy, now)
    }
    fn prune_throttles(&self, now: u64) -> impl Future<Output = Result<u64, Self::Error>> + Send {
        self.inner.prune_throttles(now)
    }
    fn organisation(
        &self,
        id: OrgId,
    ) -> impl Future<
        Output = Result<
            Option<authcore::store::Versioned<authcore::policy::Organisation>>,
            Self::Error,
        >,
    > + Send {
        self.inner.organisation(id)
    }
    fn replace_organisation(
        &self,
        organisation: &authcore::policy::Organisation,
        expected_version: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner
            .replace_organisation(organisation, expected_version)
    }
    fn organisations_of(
        &self,
        id: PersonId,
    ) -> impl Future<Output = Result<Vec<OrgId>, Self::Error>> + Send {
        self.inner.organisations_of(id)
    }
}

impl authcore::LoginStore for VanishingSetStore {
    async fn login_snapshot(
        &self,
        at: authcore::store::SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
    ) -> Result<authcore::store::LoginSnapshot, authcore::MemoryStoreError> {
        let mut snapshot = self.inner.login_snapshot(at, org, now).await?;
        if snapshot.recovery.is_some() && !self.visible() {
            snapshot.recovery = None;
        }
        Ok(snapshot)
    }
    async fn apply_step(
        &self,
        write: &authcore::store::StepWrite,
    ) -> Result<bool, authcore::MemoryStoreError> {
        use std::sync::atomic::Ordering;
        let counters_alone = write.watermark.is_none()
            && write.recovery_spend.is_none()
            && write.spend_ticket.is_none()
            && write.next_ticket.is_none();
        if counters_alone && self.lose_next_count.swap(false, Ordering::SeqCst) {
            return Ok(false);
        }
        self.inner.apply_step(write).await
    }
    fn locked_step<T, F>(
        &self,
        at: authcore::store::SnapshotAt<'_>,
        org: Option<OrgId>,
        now: u64,
        decide: F,
    ) -> impl Future<Output = Result<T, authcore::MemoryStoreError>> + Send
    where
        F: FnMut(&authcore::store::LoginSnapshot) -> (authcore::store::StepWrite, T) + Send,
        T: Send,
    {
        self.inner.locked_step(at, org, now, decide)
    }
    fn remove_factor(
        &self,
        person: PersonId,
        factor: &authcore::store::FactorRemoval,
        expected_epoch: u64,
        keep: Option<authcore::policy::SessionId>,
    ) -> impl Future<Output = Result<Option<u64>, authcore::MemoryStoreError>> + Send {
        self.inner
            .remove_factor(person, factor, expected_epoch, keep)
    }
}

/// Sessions as the memory store keeps them.
impl authcore::store::InvitationStore for VanishingSetStore {
    type Error = authcore::MemoryStoreError;

    async fn insert_invitation(
        &self,
        invitation: &authcore::store::InvitationRecord,
    ) -> Result<(), Self::Error> {
        self.inner.insert_invitation(invitation).await
    }

    async fn invitation(
        &self,
        digest: &authcore::store::TokenDigest,
        person: authcore::PersonId,
        now: u64,
    ) -> Result<Option<authcore::policy::Invitation>, Self::Error> {
        self.inner.invitation(digest, person, now).await
    }

    async fn take_invitation(
        &self,
        digest: &authcore::store::TokenDigest,
        person: authcore::PersonId,
        now: u64,
    ) -> Result<Option<authcore::store::InvitationRecord>, Self::Error> {
        self.inner.take_invitation(digest, person, now).await
    }

    async fn prune_invitations(&self, now: u64) -> Result<u64, Self::Error> {
        self.inner.prune_invitations(now).await
    }

    async fn organisation_ids(&self) -> Result<Vec<authcore::OrgId>, Self::Error> {
        self.inner.organisation_ids().await
    }
}

impl authcore::store::SessionStore for VanishingSetStore {
    type Error = authcore::MemoryStoreError;

    async fn security_epoch(&self, person: authcore::PersonId) -> Result<Option<u64>, Self::Error> {
        self.inner.security_epoch(person).await
    }

    async fn bump_epoch(
        &self,
        person: authcore::PersonId,
        keep: Option<authcore::policy::SessionId>,
    ) -> Result<Option<u64>, Self::Error> {
        self.inner.bump_epoch(person, keep).await
    }

    async fn create_session(
        &self,
        digest: &authcore::store::TokenDigest,
        session: &authcore::policy::SessionRecord,
        labels: &authcore::policy::SessionLabels,
    ) -> Result<bool, Self::Error> {
        self.inner.create_session(digest, session, labels).await
    }

    async fn session(
        &self,
        digest: &authcore::store::TokenDigest,
    ) -> Result<Option<authcore::policy::SessionView>, Self::Error> {
        self.inner.session(digest).await
    }

    async fn session_by_id(
        &self,
        person: authcore::PersonId,
        id: authcore::policy::SessionId,
    ) -> Result<Option<authcore::policy::SessionView>, Self::Error> {
        self.inner.session_by_id(person, id).await
    }

    async fn label_session(
        &self,
        digest: &authcore::store::TokenDigest,
        labels: &authcore::policy::SessionLabels,
    ) -> Result<bool, Self::Error> {
        self.inner.label_session(digest, labels).await
    }

    async fn touch_session(
        &self,
        digest: &authcore::store::TokenDigest,
        touch: &authcore::policy::SessionTouch,
    ) -> Result<bool, Self::Error> {
        self.inner.touch_session(digest, touch).await
    }

    async fn rotate_session(
        &self,
        old: &authcore::store::TokenDigest,
        new: &authcore::store::TokenDigest,
        session: &authcore::policy::SessionRecord,
    ) -> Result<bool, Self::Error> {
        self.inner.rotate_session(old, new, session).await
    }

    async fn revoke_session(
        &self,
        person: authcore::PersonId,
        id: authcore::policy::SessionId,
    ) -> Result<bool, Self::Error> {
        self.inner.revoke_session(person, id).await
    }

    async fn sessions_of(
        &self,
        person: authcore::PersonId,
    ) -> Result<Vec<authcore::policy::ListedSession>, Self::Error> {
        self.inner.sessions_of(person).await
    }

    async fn insert_device_token(
        &self,
        digest: &authcore::store::TokenDigest,
        token: &authcore::policy::DeviceTokenRecord,
        max_per_person: u32,
    ) -> Result<bool, Self::Error> {
        self.inner
            .insert_device_token(digest, token, max_per_person)
            .await
    }

    async fn device_token(
        &self,
        digest: &authcore::store::TokenDigest,
    ) -> Result<Option<authcore::policy::DeviceTokenView>, Self::Error> {
        self.inner.device_token(digest).await
    }

    async fn prune_sessions(
        &self,
        now: u64,
    ) -> Result<authcore::store::SessionPruneReport, Self::Error> {
        self.inner.prune_sessions(now).await
    }
}

impl authcore::SecretStore for VanishingSetStore {
    type Error = authcore::MemoryStoreError;

    fn mfa(
        &self,
        person: PersonId,
    ) -> impl Future<
        Output = Result<Option<authcore::store::Versioned<authcore::policy::Mfa>>, Self::Error>,
    > + Send {
        self.inner.mfa(person)
    }
    fn replace_mfa(
        &self,
        person: PersonId,
        mfa: &authcore::policy::Mfa,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.replace_mfa(person, mfa, expected_version)
    }
    fn advance_watermark(
        &self,
        person: PersonId,
        authenticator: authcore::policy::AuthenticatorId,
        step: u64,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.advance_watermark(person, authenticator, step)
    }
    async fn recovery_codes(
        &self,
        person: PersonId,
        slot: authcore::store::RecoverySlot,
    ) -> Result<Option<authcore::credential::RecoveryCodeSet>, Self::Error> {
        let set = self.inner.recovery_codes(person, slot).await?;
        if slot != authcore::store::RecoverySlot::Active {
            return Ok(set);
        }
        Ok(set.filter(|_| self.visible()))
    }
    fn replace_recovery_codes(
        &self,
        person: PersonId,
        slot: authcore::store::RecoverySlot,
        set: Option<&authcore::credential::RecoveryCodeSet>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.replace_recovery_codes(person, slot, set)
    }
    fn activate_pending_recovery_codes(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.activate_pending_recovery_codes(person)
    }
    fn spend_recovery_code(
        &self,
        person: PersonId,
        set_id: [u8; 16],
        index: u8,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.spend_recovery_code(person, set_id, index)
    }
    fn oob_challenge(
        &self,
        person: PersonId,
        purpose: authcore::store::OobPurpose,
    ) -> impl Future<Output = Result<Option<authcore::store::OobChallengeRecord>, Self::Error>> + Send
    {
        self.inner.oob_challenge(person, purpose)
    }
    fn replace_oob_challenge(
        &self,
        person: PersonId,
        purpose: authcore::store::OobPurpose,
        expected: Option<&authcore::credential::OobChallenge>,
        new: Option<&authcore::store::OobChallengeRecord>,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner
            .replace_oob_challenge(person, purpose, expected, new)
    }
    fn record_oob_send(
        &self,
        person: PersonId,
        purpose: authcore::store::OobPurpose,
        config: &OobConfig,
        now: u64,
    ) -> impl Future<Output = Result<authcore::credential::SendDecision, Self::Error>> + Send {
        self.inner.record_oob_send(person, purpose, config, now)
    }
    fn insert_setup_token(
        &self,
        token: &authcore::store::SetupTokenRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.insert_setup_token(token)
    }
    fn take_setup_token(
        &self,
        digest: &authcore::store::TokenDigest,
        now: u64,
    ) -> impl Future<Output = Result<Option<authcore::store::SetupTokenRecord>, Self::Error>> + Send
    {
        self.inner.take_setup_token(digest, now)
    }
    fn insert_account_token(
        &self,
        token: &authcore::store::AccountTokenRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.insert_account_token(token)
    }
    fn account_token(
        &self,
        digest: &authcore::store::TokenDigest,
        purpose: authcore::store::AccountTokenPurpose,
        now: u64,
    ) -> impl Future<Output = Result<Option<authcore::store::AccountTokenRecord>, Self::Error>> + Send
    {
        self.inner.account_token(digest, purpose, now)
    }
    fn take_account_token(
        &self,
        digest: &authcore::store::TokenDigest,
        purpose: authcore::store::AccountTokenPurpose,
        now: u64,
    ) -> impl Future<Output = Result<Option<authcore::store::AccountTokenRecord>, Self::Error>> + Send
    {
        self.inner.take_account_token(digest, purpose, now)
    }
    fn insert_ticket(
        &self,
        ticket: &authcore::store::TicketRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.insert_ticket(ticket)
    }
    fn take_ticket(
        &self,
        digest: &authcore::store::TokenDigest,
        now: u64,
    ) -> impl Future<Output = Result<Option<authcore::store::TicketRecord>, Self::Error>> + Send
    {
        self.inner.take_ticket(digest, now)
    }
    fn prune_expired(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<authcore::store::PruneReport, Self::Error>> + Send {
        self.inner.prune_expired(now)
    }
}

/// What a failed recovery-code attempt leaves behind: the audit events it added (without their
/// times) and the recovery-code failure count.
async fn rejection_trace<S: authcore::LoginStore>(
    s: &CountingService<S>,
    person: PersonId,
    before: usize,
) -> (
    Vec<(
        authcore::policy::Actor,
        Option<PersonId>,
        Option<OrgId>,
        authcore::policy::AuditKind,
    )>,
    u8,
) {
    let events = s.backend().audit.events()[before..]
        .iter()
        .map(|e| (e.actor, e.subject, e.organisation, e.what))
        .collect();
    let failures = s
        .backend()
        .store
        .throttle(&authcore::store::ThrottleKey::factor(
            person,
            authcore::credential::ThrottledFactor::RecoveryCode,
        ))
        .await
        .unwrap()
        .failures();
    (events, failures)
}

#[tokio::test]
async fn no_recovery_set_costs_and_records_what_a_wrong_code_does() {
    use std::sync::atomic::Ordering;
    let (s, clock, jobs) = counting_service(VanishingSetStore {
        inner: MemoryStore::new(),
        visible_reads: std::sync::atomic::AtomicUsize::new(usize::MAX),
        lose_next_count: std::sync::atomic::AtomicBool::new(false),
    });
    let count = || jobs.load(Ordering::SeqCst);
    let (org, grant, key) = owner_adding_an_app(&s).await;
    s.confirm_enrollment(&grant, &code(&key, T0)).await.unwrap();
    s.acknowledge_enrollment(&grant).await.unwrap();
    clock.advance(30);
    let step = s
        .login_to(org, "owner@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let t = ticket(&step);
    let person = grant.person();

    // A wrong code: one derivation, one counted and audited rejection.
    let (jobs_before, events_before) = (count(), s.backend().audit.events().len());
    assert!(matches!(
        s.verify_recovery_code(org, &t, "AAAA-BBBB-CCCC-DDDD").await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(count() - jobs_before, 1);
    let (wrong_events, wrong_failures) = rejection_trace(&s, person, events_before).await;
    assert_eq!(wrong_failures, 1);
    assert!(wrong_events.iter().any(|e| matches!(
        e.3,
        authcore::policy::AuditKind::CredentialRejected {
            factor: authcore::policy::Factor::Second(FactorKind::RecoveryCode),
            replayed: false
        }
    )));

    // The set is gone by the time the code is checked (the factor check still saw it, and the
    // count was made again on a fresh read after losing to a concurrent attempt): the same
    // answer, the same derivation, the same events, and one more failure counted.
    s.backend().store.visible_reads.store(1, Ordering::SeqCst);
    s.backend()
        .store
        .lose_next_count
        .store(true, Ordering::SeqCst);
    let (jobs_before, events_before) = (count(), s.backend().audit.events().len());
    assert!(matches!(
        s.verify_recovery_code(org, &t, "AAAA-BBBB-CCCC-DDDD").await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(s.backend().store.visible_reads.load(Ordering::SeqCst), 0);
    assert_eq!(count() - jobs_before, 1, "no argon2 work without a set");
    let (none_events, none_failures) = rejection_trace(&s, person, events_before).await;
    assert_eq!(none_events, wrong_events);
    assert_eq!(none_failures, wrong_failures + 1);
}

/// Every operation's future is `Send`: hosts run them on multi-threaded runtimes (and web
/// frameworks require it). A non-`Send` future fails this test at compile time.
#[test]
fn operation_futures_are_send() {
    fn assert_send<F: std::future::Future + Send>(future: F) -> F {
        future
    }
    let (s, _clock) = service();
    let token = BearerToken::generate().unwrap();
    let org = OrgId::new(1);
    drop(assert_send(
        s.sign_up("owner@example.com", Password::from(OWNER_PW)),
    ));
    drop(assert_send(s.login_to(
        org,
        "owner@example.com",
        Password::from(OWNER_PW),
    )));
    drop(assert_send(s.change_password_at_login(
        org,
        &token,
        Password::from(OWNER_PW),
    )));
    drop(assert_send(
        s.complete_setup(&token, Password::from(OWNER_PW)),
    ));
    drop(assert_send(s.verify_totp(org, &token, "123456")));
    drop(assert_send(s.verify_recovery_code(
        org,
        &token,
        "AAAA-BBBB-CCCC-DDDD",
    )));
}

// ---- a failing notifier never undoes a committed change ----

fn delivery_failed(what: authcore::policy::NotificationKind) -> authcore::policy::AuditKind {
    authcore::policy::AuditKind::NotificationFailed { message: what }
}

#[tokio::test]
async fn a_failed_setup_link_keeps_the_member_and_can_be_resent() {
    use authcore::policy::{AuditKind, NotificationKind};
    let (s, clock) = service();
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let notifier = &s.backend().notifier;

    notifier.fail_deliveries(true);
    let from = s.backend().audit.events().len();
    let new = s
        .add_member(&grant, "member@example.com", Role::User)
        .await
        .expect("the member is stored whatever the notifier does");
    assert!(!new.setup_link.is_delivered());
    assert!(audited(
        &s,
        from,
        delivery_failed(NotificationKind::SetupLink)
    ));
    assert!(notifier.take_last_setup_token(new.person).is_none());
    // The member exists; a second add is refused as before, and nothing else is lost.
    assert!(matches!(
        s.add_member(&grant, "member@example.com", Role::User).await,
        Err(ServiceError::LoginTaken)
    ));
    let roster = s.organisation(org).await.unwrap();
    assert!(roster.member(new.person).is_some());

    // While the notifier is still down, a resend reports the failure again.
    assert!(
        !s.resend_setup_link(&grant, new.person)
            .await
            .unwrap()
            .is_delivered()
    );
    notifier.fail_deliveries(false);
    let from = s.backend().audit.events().len();
    assert!(
        s.resend_setup_link(&grant, new.person)
            .await
            .unwrap()
            .is_delivered()
    );
    assert!(audited(&s, from, AuditKind::SetupLinkReissued));
    let token = BearerToken::parse(&notifier.take_last_setup_token(new.person).unwrap()).unwrap();
    s.complete_setup(&token, Password::from(MEMBER_PW))
        .await
        .unwrap();
    assert!(matches!(
        s.resend_setup_link(&grant, new.person).await,
        Err(ServiceError::AlreadyActivated)
    ));
    // Only someone who may manage the member resends; never for oneself.
    let (_, step) = member_signs_in(&s, &grant, "other@example.com", Role::User).await;
    let other = *step.grant().unwrap();
    assert!(matches!(
        s.resend_setup_link(&other, new.person).await,
        Err(ServiceError::Policy(_))
    ));
    // The temporary password handed over with a failed link also works.
    notifier.fail_deliveries(true);
    let third = s
        .add_member(&grant, "third@example.com", Role::User)
        .await
        .unwrap();
    notifier.fail_deliveries(false);
    let temp = third.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(org, "third@example.com", Password::from(temp.as_str()))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::ChangePassword { .. }), "{step:?}");
}

#[tokio::test]
async fn a_failed_notice_after_a_recovery_code_still_grants() {
    use authcore::policy::NotificationKind;
    let (s, clock) = service();
    let (org, _key, codes) = owner_with_mfa(&s, &clock).await;
    s.backend().notifier.fail_deliveries(true);
    let step = owner_login(&s, org).await;
    let from = s.backend().audit.events().len();
    let step = s
        .verify_recovery_code(org, &ticket(&step), &codes[0])
        .await
        .expect("the spent code yields its grant");
    assert!(step.grant().is_some());
    assert!(audited(
        &s,
        from,
        delivery_failed(NotificationKind::SecurityNotice)
    ));
}

#[tokio::test]
async fn failed_security_notices_leave_every_change_in_place() {
    use authcore::policy::NotificationKind;
    use authcore::store::SecurityNotice;
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let owner = grant.person();
    let notifier = &s.backend().notifier;
    let failed = delivery_failed(NotificationKind::SecurityNotice);

    // A phone verified while notices fail is bound all the same (the code itself went out).
    let phone = PhoneNumber::parse("+44 20 7946 0958").unwrap();
    s.start_phone_verification(&grant, &phone).await.unwrap();
    let sms = notifier.take_last_code(owner).unwrap().to_string();
    notifier.fail_deliveries(true);
    let from = s.backend().audit.events().len();
    s.confirm_phone(&grant, &sms).await.unwrap();
    assert_eq!(phone_of(&s, owner).await, Some(phone));
    assert!(audited(&s, from, failed));

    // Removing it: the same. It ends every session, this one included.
    let from = s.backend().audit.events().len();
    s.remove_phone(&grant).await.unwrap();
    assert_eq!(phone_of(&s, owner).await, None);
    assert!(audited(&s, from, failed));
    let grant = owner_grant(&s, &clock, org, &key).await;

    // A password change stands, and the new password signs in.
    let from = s.backend().audit.events().len();
    s.change_password(
        &grant,
        Password::from(OWNER_PW),
        Password::from("violet lantern meadow quartz 31"),
    )
    .await
    .unwrap();
    assert!(audited(&s, from, failed));
    assert!(
        s.login_to(
            org,
            "owner@example.com",
            Password::from("violet lantern meadow quartz 31")
        )
        .await
        .is_ok()
    );
    // The change ended every session: sign in again with the new password and the app.
    let step = s
        .login_to(
            org,
            "owner@example.com",
            Password::from("violet lantern meadow quartz 31"),
        )
        .await
        .unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &code(&key, clock_now(&clock)))
        .await
        .unwrap();
    let grant = *step.grant().expect("signed in");
    clock.advance(30);

    // An extra authenticator is active although its notice failed.
    let setup = s
        .start_enrollment(
            &grant,
            authcore::policy::EnrollmentPurpose::Add(
                authcore::policy::AuthenticatorName::new("backup").unwrap(),
            ),
        )
        .await
        .unwrap();
    let backup = SecretKey::from_base32(&setup.manual_key()).unwrap();
    s.confirm_enrollment(&grant, &code(&backup, clock_now(&clock)))
        .await
        .unwrap();
    let from = s.backend().audit.events().len();
    s.acknowledge_enrollment(&grant).await.unwrap();
    assert!(audited(&s, from, failed));

    // MFA off stands too.
    let from = s.backend().audit.events().len();
    s.disable_mfa(&grant).await.unwrap();
    assert!(audited(&s, from, failed));
    assert_eq!(notices(&s, owner, SecurityNotice::MfaTurnedOff), 0);
    let step = s
        .login_to(
            org,
            "owner@example.com",
            Password::from("violet lantern meadow quartz 31"),
        )
        .await
        .unwrap();
    assert!(step.grant().is_some(), "{step:?}");
}

#[tokio::test]
async fn an_undelivered_sms_code_is_an_error_and_audited() {
    use authcore::policy::NotificationKind;
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, owner) = owner_with_phone(&s, &clock).await;
    let notifier = &s.backend().notifier;
    notifier.fail_deliveries(true);
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let from = s.backend().audit.events().len();
    assert!(matches!(
        s.send_sms_code(org, &t).await,
        Err(ServiceError::Undelivered(_))
    ));
    assert!(audited(
        &s,
        from,
        delivery_failed(NotificationKind::OobCode)
    ));
    assert!(!audited(
        &s,
        from,
        authcore::policy::AuditKind::OutOfBandCodeSent
    ));
    // Once the gateway is back, the person asks again after the cooldown.
    notifier.fail_deliveries(false);
    clock.advance(60);
    let sms = send_and_read(&s, org, &t, owner).await;
    assert!(
        s.verify_sms_code(org, &t, &sms)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    // A phone verification whose code cannot go out: the same error.
    let grant = owner_grant(&s, &clock, org, &key).await;
    notifier.fail_deliveries(true);
    assert!(matches!(
        s.start_phone_verification(&grant, &phone_b()).await,
        Err(ServiceError::Undelivered(_))
    ));
}

// ---- SMS send budgets belong to the person who asks ----

#[tokio::test]
async fn someone_elses_verifications_never_throttle_the_owners_sign_in_codes() {
    let (s, clock) = service_with(Some(sms_config()));
    let (org, key, owner) = owner_with_phone(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let victim = phone_of(&s, owner).await.unwrap();
    let (attacker, step) = member_signs_in(&s, &grant, "mallory@example.com", Role::User).await;
    let agrant = *step.grant().unwrap();

    // The other account points every verification it may send at the owner's number.
    for _ in 0..3 {
        s.start_phone_verification(&agrant, &victim).await.unwrap();
        clock.advance(60);
    }
    assert!(matches!(
        s.start_phone_verification(&agrant, &victim).await,
        Err(ServiceError::Throttled { .. })
    ));
    // The owner's sign-in code still goes out, and works.
    let step = owner_login(&s, org).await;
    let t = ticket(&step);
    let sms = send_and_read(&s, org, &t, owner).await;
    assert!(
        s.verify_sms_code(org, &t, &sms)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    // And the number stays the owner's: the other account never confirmed it.
    assert_eq!(phone_of(&s, attacker).await, None);
}

#[tokio::test]
async fn verification_sends_are_capped_per_account_and_day() {
    let sms = OobConfig::builder()
        .hourly_cap(3)
        .daily_verification_cap(4)
        .build()
        .unwrap();
    let (s, clock) = service_with(Some(sms));
    let (org, key, _) = owner_with_mfa(&s, &clock).await;
    let grant = owner_grant(&s, &clock, org, &key).await;
    let _ = member_signs_in(&s, &grant, "pump@example.com", Role::User).await;
    // A fresh sign-in for each (binding a first factor needs a fresh session).
    let fresh = || async {
        *member_login(&s, org, "pump@example.com")
            .await
            .unwrap()
            .grant()
            .unwrap()
    };
    let start = clock_now(&clock);
    // Spread out so that the hourly cap never bites: only the daily cap does.
    for i in 0..4u64 {
        let to = PhoneNumber::parse(&format!("+44 20 7946 09{i:02}")).unwrap();
        s.start_phone_verification(&fresh().await, &to)
            .await
            .unwrap();
        clock.advance(1800);
    }
    let fifth = PhoneNumber::parse("+44 20 7946 0999").unwrap();
    let Err(ServiceError::Throttled { retry_at }) =
        s.start_phone_verification(&fresh().await, &fifth).await
    else {
        panic!("the fifth verification of the day is refused")
    };
    assert_eq!(retry_at, start + 24 * 3600);
    clock.set(retry_at);
    s.start_phone_verification(&fresh().await, &fifth)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lock_notice_that_cannot_be_delivered_still_answers_as_the_throttle_decides() {
    use authcore::policy::{AuditKind, NotificationKind};
    let (s, clock) = service();
    let (org, _key, _) = owner_with_mfa(&s, &clock).await;
    s.backend().notifier.fail_deliveries(true);
    let mut locked = false;
    for _ in 0..200 {
        match s
            .login_to(
                org,
                "owner@example.com",
                Password::from("not the password at all"),
            )
            .await
        {
            Err(ServiceError::InvalidCredentials | ServiceError::Throttled { .. }) => {}
            Err(ServiceError::Locked) => {
                locked = true;
                break;
            }
            other => panic!("a throttle answer, not {other:?}"),
        }
        clock.advance(3600);
    }
    let events = s.backend().audit.events();
    let lock_noticed = events
        .iter()
        .any(|e| matches!(e.what, AuditKind::FactorLocked { .. }));
    // The lock was reached, its notice failed and was audited, and no answer was an error.
    assert!(
        lock_noticed,
        "the burst reaches the lock (answered Locked: {locked})"
    );
    assert!(events.iter().any(|e| e.what
        == AuditKind::NotificationFailed {
            message: NotificationKind::SecurityNotice
        }));
}

#[cfg(feature = "passkeys")]
impl authcore::store::PasskeyStore for VanishingSetStore {
    type Error = authcore::MemoryStoreError;

    fn ensure_user_handle(
        &self,
        person: PersonId,
        candidate: authcore::credential::passkey::UserHandle,
    ) -> impl Future<Output = Result<Option<authcore::credential::passkey::UserHandle>, Self::Error>>
    + Send {
        self.inner.ensure_user_handle(person, candidate)
    }
    fn put_passkey_challenge(
        &self,
        record: &authcore::store::PasskeyChallengeRecord,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.put_passkey_challenge(record)
    }
    fn take_passkey_challenge(
        &self,
        person: PersonId,
        purpose: authcore::store::PasskeyPurpose,
        ticket: Option<&authcore::store::TokenDigest>,
        now: u64,
    ) -> impl Future<Output = Result<Option<authcore::store::PasskeyChallengeRecord>, Self::Error>> + Send
    {
        self.inner
            .take_passkey_challenge(person, purpose, ticket, now)
    }
    fn insert_passkey(
        &self,
        record: &authcore::store::PasskeyRecord,
        epoch: u64,
        keep: Option<authcore::policy::SessionId>,
    ) -> impl Future<Output = Result<Option<u64>, Self::Error>> + Send {
        self.inner.insert_passkey(record, epoch, keep)
    }
    fn passkey_by_id(
        &self,
        credential_id: &[u8],
    ) -> impl Future<Output = Result<Option<authcore::store::PasskeyRecord>, Self::Error>> + Send
    {
        self.inner.passkey_by_id(credential_id)
    }
    fn passkeys(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<Vec<authcore::store::PasskeyRecord>, Self::Error>> + Send {
        authcore::store::PasskeyStore::passkeys(&self.inner, person)
    }
    fn record_passkey_use(
        &self,
        person: PersonId,
        credential_id: &[u8],
        write: &authcore::store::PasskeyUseWrite,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.record_passkey_use(person, credential_id, write)
    }
    fn remove_passkeys(
        &self,
        person: PersonId,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send {
        self.inner.remove_passkeys(person)
    }
    fn prune_passkey_challenges(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send {
        self.inner.prune_passkey_challenges(now)
    }
}

//! "Remember this device" through the service, on every store: a device token issued after a
//! full MFA login lets the same person's next login skip the second factor (audited, never
//! fresh), and nothing else does — another person's token, an expired one, one from before an
//! epoch bump (a password change, "sign out everywhere", MFA off, deactivation), one presented
//! to an organisation that forbids remembered devices, one forgotten beyond the per-person
//! limit. Issuing needs a fresh AAL2 session. A wrong token is one opaque failure, counted on
//! the login name's password counter.
#![cfg(all(feature = "memory", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;

#[path = "support/stores.rs"]
mod stores;
use stores::*;

use std::sync::Arc;

use authcore::credential::RecoveryParams;
use authcore::credential::password::HashParams;
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{
    Aal, AuditEvent, AuditKind, AuthenticatorName, EnrollmentPurpose, Factor, LoginOutcome,
    MfaSettings, PolicyError, Role, SessionConfig, SessionRefused,
};
use authcore::service::RememberedDevice;
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{
    Authenticator, BearerToken, Grant, LoginStep, LoginStore, MemoryStore, OrgId, Password,
    PasswordHasher, PersonId, ServiceConfig, ServiceError, Services,
};

const T0: u64 = 1_700_000_010;
const OWNER: &str = "olivia@example.com";
const OWNER_PW: &str = "correct horse battery staple 42";
const NEW_PW: &str = "another long passphrase 77";
const MEMBER: &str = "uma@example.com";
const MEMBER_PW: &str = "member passphrase of some length";

type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

fn service<S: LoginStore>(store: S, sessions: SessionConfig) -> (Service<S>, Arc<ManualClock>) {
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
        .sessions(sessions)
        .build()
        .unwrap();
    let backend = Services::new(store, MemoryAuditLog::new(), RecordingNotifier::new())
        .unwrap()
        .with_clock(Arc::clone(&clock))
        .with_hasher(hasher);
    (Authenticator::new(backend, config), clock)
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(authcore::policy::EnrollmentConfig::default().params(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn text(token: &BearerToken) -> String {
    token.expose_secret().to_string()
}

/// The password step to `org`.
async fn login<S: LoginStore>(
    s: &Service<S>,
    org: OrgId,
    who: &str,
    password: &str,
) -> Result<LoginStep, ServiceError> {
    s.login_to(org, who, Password::from(password)).await
}

/// The password step, which must ask for a second factor.
async fn challenged<S: LoginStore>(
    s: &Service<S>,
    org: OrgId,
    who: &str,
    password: &str,
) -> BearerToken {
    let step = login(s, org, who, password).await.unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    ticket(&step)
}

/// A full MFA login (the password, then a fresh app code); returns the session's token.
async fn mfa_session<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    who: &str,
    password: &str,
    key: &SecretKey,
) -> String {
    clock.advance(30);
    let ticket = challenged(s, org, who, password).await;
    let step = s
        .verify_totp(org, &ticket, &code(key, clock.now()))
        .await
        .unwrap();
    text(&step.into_session().expect("signed in").token)
}

/// The password, then the remembered device.
async fn device_login<S: LoginStore>(
    s: &Service<S>,
    org: OrgId,
    who: &str,
    password: &str,
    device: &str,
) -> Result<LoginStep, ServiceError> {
    let ticket = challenged(s, org, who, password).await;
    s.verify_remembered_device(org, &ticket, device).await
}

fn refused<T: std::fmt::Debug>(result: Result<T, ServiceError>, what: &str) {
    assert!(
        matches!(result, Err(ServiceError::InvalidCredentials)),
        "{what}: {result:?}"
    );
}

fn needs_reauthentication<T: std::fmt::Debug>(result: Result<T, ServiceError>, what: &str) {
    assert!(
        matches!(
            result,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ),
        "{what}: {result:?}"
    );
}

fn events<S: LoginStore>(s: &Service<S>) -> Vec<AuditEvent> {
    s.backend().audit.events()
}

fn count<S: LoginStore>(s: &Service<S>, what: impl Fn(&AuditKind) -> bool) -> usize {
    events(s).iter().filter(|e| what(&e.what)).count()
}

fn device_rejections<S: LoginStore>(s: &Service<S>, person: PersonId) -> usize {
    events(s)
        .iter()
        .filter(|e| {
            e.subject == Some(person)
                && e.what
                    == AuditKind::CredentialRejected {
                        factor: Factor::RememberedDevice,
                        replayed: false,
                    }
        })
        .count()
}

/// Enrols an authenticator app with `grant`; returns its key.
async fn enrol<S: LoginStore>(s: &Service<S>, clock: &ManualClock, grant: &Grant) -> SecretKey {
    let setup = s
        .start_enrollment(
            grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
        )
        .await
        .unwrap();
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let _codes = s
        .confirm_enrollment(grant, &code(&key, clock.now()))
        .await
        .unwrap();
    s.acknowledge_enrollment(grant).await.unwrap();
    key
}

/// The owner with an authenticator app: their organisation, id and key.
async fn owner<S: LoginStore>(s: &Service<S>, clock: &ManualClock) -> (OrgId, PersonId, SecretKey) {
    let up = s.sign_up(OWNER, Password::from(OWNER_PW)).await.unwrap();
    let step = login(s, up.org, OWNER, OWNER_PW).await.unwrap();
    let grant = *step.grant().expect("a password-only login");
    let key = enrol(s, clock, &grant).await;
    (up.org, up.person, key)
}

/// A member (a User) with their own authenticator app, added by the owner's fresh session.
async fn member<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    owner_session: &str,
) -> (PersonId, SecretKey) {
    let admin = s.authenticate(owner_session).await.unwrap();
    let new = s.add_member(&admin, MEMBER, Role::User).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = login(s, admin.org(), MEMBER, &temp).await.unwrap();
    let step = s
        .change_password_at_login(admin.org(), &ticket(&step), Password::from(MEMBER_PW))
        .await
        .unwrap();
    let grant = *step.grant().expect("signed in");
    let key = enrol(s, clock, &grant).await;
    (new.person, key)
}

async fn remember<S: LoginStore>(s: &Service<S>, session: &str) -> String {
    let device: RememberedDevice = s.remember_device(session).await.unwrap();
    text(&device.token)
}

/// Every scenario, run against one store.
async fn scenarios<S: LoginStore + 'static>(new_store: &NewStore<S>) {
    // A remembered device skips the second factor: the login completes as with a code, is
    // audited, rests on the device, and is never fresh.
    {
        let (s, clock) = service(new_store().await, SessionConfig::default());
        let (org, olivia, key) = owner(&s, &clock).await;
        let session = mfa_session(&s, &clock, org, OWNER, OWNER_PW, &key).await;
        let issued = s.remember_device(&session).await.unwrap();
        assert_eq!(
            issued.expires_at,
            clock.now() + SessionConfig::default().device_lifetime()
        );
        assert!(!format!("{issued:?}").contains(issued.token.expose_secret().as_str()));
        let device = text(&issued.token);
        assert_eq!(
            count(&s, |k| matches!(
                k,
                AuditKind::DeviceRemembered { expires_at } if *expires_at == issued.expires_at
            )),
            1
        );
        clock.advance(3600);
        let ticket = challenged(&s, org, OWNER, OWNER_PW).await;
        let step = s
            .verify_remembered_device(org, &ticket, &device)
            .await
            .unwrap();
        let opened = step.into_session().expect("signed in with the device");
        let grant = opened.grant;
        assert_eq!(grant.person(), olivia);
        assert_eq!(grant.aal(), Aal::Aal2);
        assert!(grant.factors().contains(Factor::RememberedDevice));
        assert!(grant.factors().contains(Factor::Password));
        assert!(grant.factors().second_factors().is_empty());
        assert!(!grant.is_fresh(clock.now(), 300), "never fresh");
        let used: Vec<AuditKind> = events(&s)
            .iter()
            .rev()
            .take(2)
            .rev()
            .map(|e| e.what)
            .collect();
        assert_eq!(
            used,
            [
                AuditKind::DeviceTokenUsed,
                AuditKind::Login {
                    outcome: LoginOutcome::Allowed { aal: Aal::Aal2 }
                }
            ]
        );
        // The ticket was spent with the step.
        refused(
            s.verify_remembered_device(org, &ticket, &device).await,
            "the ticket again",
        );
        refused(
            s.verify_totp(org, &ticket, &code(&key, clock.now())).await,
            "the ticket with a code",
        );
        // The session stands, at AAL2 for authorisation, but the sensitive verbs want more.
        let token = text(&opened.token);
        assert_eq!(s.authenticate(&token).await.unwrap().aal(), Aal::Aal2);
        assert!(s.require_fresh(&token, 300, Aal::Aal1).await.is_err());
        needs_reauthentication(
            s.require_fresh(&token, 300, Aal::Aal2).await,
            "require_fresh on a device session",
        );
        needs_reauthentication(
            s.remember_device(&token).await,
            "a device session remembers no device",
        );
        let here = s.authenticate(&token).await.unwrap();
        needs_reauthentication(
            s.set_remember_devices(&here, false).await,
            "an organisation setting from a device session",
        );
        let disabled = s.disable_mfa(&here).await;
        assert!(
            format!("{disabled:?}").contains("ReauthenticationRequired"),
            "MFA off from a device session: {disabled:?}"
        );
        // A real second factor makes it fresh, and the device no longer stands in.
        clock.advance(30);
        let again = s
            .reauthenticate_session(&token, Password::from(OWNER_PW), &code(&key, clock.now()))
            .await
            .unwrap();
        let fresh = text(&again.token);
        assert!(s.require_fresh(&fresh, 300, Aal::Aal2).await.is_ok());
        assert!(!again.grant.factors().contains(Factor::RememberedDevice));
        // The device still works for the next login.
        clock.advance(30);
        let step = device_login(&s, org, OWNER, OWNER_PW, &device).await;
        assert!(step.unwrap().session().is_some(), "the device again");
        assert_eq!(count(&s, |k| *k == AuditKind::DeviceTokenUsed), 2);
    }

    // Issuing needs a standing session at AAL2 verified within the ticket lifetime.
    {
        let (s, clock) = service(new_store().await, SessionConfig::default());
        let up = s.sign_up(OWNER, Password::from(OWNER_PW)).await.unwrap();
        let step = login(&s, up.org, OWNER, OWNER_PW).await.unwrap();
        let password_only = text(&step.session().unwrap().token);
        needs_reauthentication(
            s.remember_device(&password_only).await,
            "a password-only session",
        );
        let grant = *step.grant().unwrap();
        let key = enrol(&s, &clock, &grant).await;
        let session = mfa_session(&s, &clock, up.org, OWNER, OWNER_PW, &key).await;
        let ttl = ServiceConfig::DEFAULT_TICKET_TTL;
        clock.advance(ttl);
        assert!(s.remember_device(&session).await.is_ok(), "at the edge");
        clock.advance(1);
        assert!(s.authenticate(&session).await.is_ok(), "the session stands");
        needs_reauthentication(s.remember_device(&session).await, "a stale login");
        assert!(matches!(
            s.remember_device("not a token").await,
            Err(ServiceError::Session(SessionRefused::Revoked))
        ));
        s.sign_out(&session).await.unwrap();
        assert!(matches!(
            s.remember_device(&session).await,
            Err(ServiceError::Session(SessionRefused::Revoked))
        ));
        assert_eq!(
            count(&s, |k| matches!(k, AuditKind::DeviceRemembered { .. })),
            1
        );
    }

    // Another person's, unknown or malformed tokens are one opaque failure, audited and counted
    // on the login name's password counter; the ticket stays for a real second factor.
    {
        let (s, clock) = service(new_store().await, SessionConfig::default());
        let (org, olivia, key) = owner(&s, &clock).await;
        let session = mfa_session(&s, &clock, org, OWNER, OWNER_PW, &key).await;
        let (uma, uma_key) = member(&s, &clock, &session).await;
        // Olivia's token at the same epoch as Uma's logins: only its person tells it apart.
        let store = &s.backend().store;
        let umas_epoch = store.security_epoch(uma).await.unwrap();
        while store.security_epoch(olivia).await.unwrap() < umas_epoch {
            s.sign_out_everywhere(&session, true).await.unwrap();
        }
        assert_eq!(store.security_epoch(olivia).await.unwrap(), umas_epoch);
        let olivias = remember(&s, &session).await;
        let ticket = challenged(&s, org, MEMBER, MEMBER_PW).await;
        let unknown = text(&BearerToken::generate().unwrap());
        for wrong in [olivias.as_str(), unknown.as_str(), "not a token", ""] {
            refused(
                s.verify_remembered_device(org, &ticket, wrong).await,
                "a token that is not Uma's",
            );
        }
        assert_eq!(device_rejections(&s, uma), 4);
        clock.advance(30);
        let step = s
            .verify_totp(org, &ticket, &code(&uma_key, clock.now()))
            .await
            .unwrap();
        let umas_session = text(&step.session().expect("the ticket stayed").token);
        let umas = remember(&s, &umas_session).await;
        // Olivia's own device still works for her.
        assert!(
            device_login(&s, org, OWNER, OWNER_PW, &olivias)
                .await
                .is_ok()
        );
        // Guessing is throttled on the password counter, whatever the token.
        let ticket = challenged(&s, org, MEMBER, MEMBER_PW).await;
        let mut retry_at = None;
        for _ in 0..10 {
            let unknown = text(&BearerToken::generate().unwrap());
            match s.verify_remembered_device(org, &ticket, &unknown).await {
                Err(ServiceError::InvalidCredentials) => {}
                Err(ServiceError::Throttled { retry_at: at }) => {
                    retry_at = Some(at);
                    break;
                }
                other => panic!("a guess: {other:?}"),
            }
        }
        let retry_at = retry_at.expect("guessing is throttled");
        assert!(matches!(
            s.verify_remembered_device(org, &ticket, &umas).await,
            Err(ServiceError::Throttled { .. })
        ));
        assert!(
            matches!(
                login(&s, org, MEMBER, MEMBER_PW).await,
                Err(ServiceError::Throttled { .. })
            ),
            "the same counter as the password"
        );
        clock.advance(retry_at - clock.now());
        let step = s.verify_remembered_device(org, &ticket, &umas).await;
        assert!(step.unwrap().session().is_some(), "Uma's own device");
        // The completed login cleared the counter.
        let ticket = challenged(&s, org, MEMBER, MEMBER_PW).await;
        refused(
            s.verify_remembered_device(org, &ticket, &olivias).await,
            "after the counter was cleared",
        );
    }

    // A device token expires.
    {
        let (s, clock) = service(new_store().await, SessionConfig::default());
        let (org, olivia, key) = owner(&s, &clock).await;
        let session = mfa_session(&s, &clock, org, OWNER, OWNER_PW, &key).await;
        let device = remember(&s, &session).await;
        clock.advance(SessionConfig::default().device_lifetime() - 1);
        assert!(
            device_login(&s, org, OWNER, OWNER_PW, &device)
                .await
                .is_ok(),
            "just before its expiry"
        );
        clock.advance(1);
        refused(
            device_login(&s, org, OWNER, OWNER_PW, &device).await,
            "at its expiry",
        );
        assert_eq!(device_rejections(&s, olivia), 1);
        assert_eq!(s.prune_sessions().await.unwrap().device_tokens, 1);
    }

    // Every epoch bump ends it: a password change, "sign out everywhere else", MFA off, a
    // deactivation.
    {
        let (s, clock) = service(new_store().await, SessionConfig::default());
        let (org, _, key) = owner(&s, &clock).await;
        let session = mfa_session(&s, &clock, org, OWNER, OWNER_PW, &key).await;
        let device = remember(&s, &session).await;
        let kept = s
            .change_password_in_session(&session, Password::from(OWNER_PW), Password::from(NEW_PW))
            .await
            .unwrap();
        assert!(s.authenticate(&text(&kept.token)).await.is_ok());
        refused(
            device_login(&s, org, OWNER, NEW_PW, &device).await,
            "after a password change",
        );

        let session = mfa_session(&s, &clock, org, OWNER, NEW_PW, &key).await;
        let device = remember(&s, &session).await;
        s.sign_out_everywhere(&session, true).await.unwrap();
        assert!(s.authenticate(&session).await.is_ok(), "this one stays");
        refused(
            device_login(&s, org, OWNER, NEW_PW, &device).await,
            "after signing out everywhere else",
        );

        let session = mfa_session(&s, &clock, org, OWNER, NEW_PW, &key).await;
        let device = remember(&s, &session).await;
        let grant = s.authenticate(&session).await.unwrap();
        s.disable_mfa(&grant).await.unwrap();
        let digest = BearerToken::parse(&device).unwrap().digest();
        assert!(
            s.backend()
                .store
                .device_token(&digest)
                .await
                .unwrap()
                .is_none(),
            "MFA off deletes it"
        );
        let step = login(&s, org, OWNER, NEW_PW).await.unwrap();
        let grant = *step.grant().expect("no second factor any more");
        let key = enrol(&s, &clock, &grant).await;
        refused(
            device_login(&s, org, OWNER, NEW_PW, &device).await,
            "after MFA off (and on again)",
        );

        let session = mfa_session(&s, &clock, org, OWNER, NEW_PW, &key).await;
        let (uma, uma_key) = member(&s, &clock, &session).await;
        let umas_session = mfa_session(&s, &clock, org, MEMBER, MEMBER_PW, &uma_key).await;
        let umas = remember(&s, &umas_session).await;
        let admin = s.authenticate(&session).await.unwrap();
        s.deactivate_member(&admin, uma).await.unwrap();
        assert!(
            login(&s, org, MEMBER, MEMBER_PW).await.is_err(),
            "deactivated"
        );
        s.reactivate_member(&admin, uma).await.unwrap();
        refused(
            device_login(&s, org, MEMBER, MEMBER_PW, &umas).await,
            "after a deactivation",
        );
    }

    // An organisation may forbid remembered devices; an Owner with a fresh AAL2 session sets it.
    {
        let (s, clock) = service(new_store().await, SessionConfig::default());
        let (org, _, key) = owner(&s, &clock).await;
        let session = mfa_session(&s, &clock, org, OWNER, OWNER_PW, &key).await;
        let device = remember(&s, &session).await;
        let (_, uma_key) = member(&s, &clock, &session).await;
        let umas_session = mfa_session(&s, &clock, org, MEMBER, MEMBER_PW, &uma_key).await;
        let uma = s.authenticate(&umas_session).await.unwrap();
        assert!(
            matches!(
                s.set_remember_devices(&uma, false).await,
                Err(ServiceError::Policy(_) | ServiceError::Denied(_))
            ),
            "a User may not"
        );
        assert!(
            s.organisation(org)
                .await
                .unwrap()
                .allows_remembered_devices()
        );
        let admin = s.authenticate(&session).await.unwrap();
        s.set_remember_devices(&admin, false).await.unwrap();
        s.set_remember_devices(&admin, false).await.unwrap();
        assert_eq!(
            count(&s, |k| *k
                == AuditKind::RememberDevicesSet { allowed: false }),
            1,
            "audited once, when it changed"
        );
        assert!(
            !s.organisation(org)
                .await
                .unwrap()
                .allows_remembered_devices()
        );
        let ticket = challenged(&s, org, OWNER, OWNER_PW).await;
        assert!(matches!(
            s.verify_remembered_device(org, &ticket, &device).await,
            Err(ServiceError::FactorUnavailable)
        ));
        assert!(matches!(
            s.remember_device(&session).await,
            Err(ServiceError::Policy(
                PolicyError::RememberedDevicesForbidden
            ))
        ));
        // The ticket stays for a real second factor.
        clock.advance(30);
        let step = s
            .verify_totp(org, &ticket, &code(&key, clock.now()))
            .await
            .unwrap();
        let fresh = step.into_session().unwrap().grant;
        // Allowed again, the token (never deleted) works again; and it satisfies an enforced
        // MFA policy.
        s.set_remember_devices(&fresh, true).await.unwrap();
        s.set_mfa_policy(
            &fresh,
            MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap(),
        )
        .await
        .unwrap();
        clock.advance(60);
        let step = device_login(&s, org, OWNER, OWNER_PW, &device)
            .await
            .unwrap();
        let token = text(&step.session().expect("allowed again").token);
        clock.advance(60);
        assert!(
            s.authenticate(&token).await.is_ok(),
            "the enforced policy admits the device session"
        );
    }

    // Remembering more than the limit forgets the oldest.
    {
        let sessions = SessionConfig::builder().max_devices(2).build().unwrap();
        let (s, clock) = service(new_store().await, sessions);
        let (org, olivia, key) = owner(&s, &clock).await;
        let session = mfa_session(&s, &clock, org, OWNER, OWNER_PW, &key).await;
        let mut devices = Vec::new();
        for _ in 0..3 {
            devices.push(remember(&s, &session).await);
            clock.advance(1);
        }
        refused(
            device_login(&s, org, OWNER, OWNER_PW, &devices[0]).await,
            "the oldest is forgotten",
        );
        assert_eq!(device_rejections(&s, olivia), 1);
        for device in &devices[1..] {
            assert!(
                device_login(&s, org, OWNER, OWNER_PW, device).await.is_ok(),
                "the two newest stay"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn remembered_devices_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn remembered_devices_on_sqlite() {
    scenarios(&sqlite_stores()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn remembered_devices_on_postgres() {
    if pg::skip("remembered_devices_on_postgres") {
        return;
    }
    scenarios(&postgres_stores("authcore_devices")).await;
}

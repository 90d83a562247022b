//! A pending enrollment can be shown again, on every store: reloading the page that shows the QR
//! code gives the same secret (the same URI, the same QR code, the same manual key) until the
//! enrollment is confirmed or expires; only the explicit "start over" verbs make a new secret,
//! and then the old one no longer confirms. Signed in and at login ("company account
//! verification") alike, and two tabs starting at once end up showing one secret.
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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use authcore::credential::password::HashParams;
use authcore::credential::{KeyId, Keyring, RecoveryParams, SealingKey};
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{
    AuditKind, AuthenticatorName, EnrollmentConfig, EnrollmentPurpose, MfaSettings, PolicyError,
    Role,
};
use authcore::service::EnrollmentSetup;
use authcore::store::{MemoryAuditLog, RecordingNotifier};
use authcore::{
    Authenticator, BearerToken, Grant, LoginStep, LoginStore, MemoryStore, OrgId, Password,
    PasswordHasher, ServiceConfig, ServiceError, Services, SqliteStore,
};

const T0: u64 = 1_700_000_010;
const OWNER: &str = "olivia@example.com";
const OWNER_PW: &str = "correct horse battery staple 42";
const MEMBER: &str = "uma@example.com";
const MEMBER_PW: &str = "member passphrase of some length";

type Service<S> =
    Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, PasswordHasher>>;

fn service<S: LoginStore>(store: S) -> (Service<S>, Arc<ManualClock>) {
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
    let backend = Services::new(store, MemoryAuditLog::new(), RecordingNotifier::new())
        .unwrap()
        .with_clock(Arc::clone(&clock))
        .with_hasher(hasher);
    (Authenticator::new(backend, config), clock)
}

fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::from_bytes(&[4; 32]).unwrap())
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

fn key_of(setup: &EnrollmentSetup) -> SecretKey {
    SecretKey::from_base32(&setup.manual_key()).unwrap()
}

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(EnrollmentConfig::default().params(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn add(name: &str) -> EnrollmentPurpose {
    EnrollmentPurpose::Add(AuthenticatorName::new(name).unwrap())
}

/// The same secret, shown the same way: the manual key, the URI and (with `qr`) the QR code.
fn same(a: &EnrollmentSetup, b: &EnrollmentSetup, what: &str) {
    assert_eq!(*a.manual_key(), *b.manual_key(), "{what}: the manual key");
    assert_eq!(
        *a.uri().expose_uri(),
        *b.uri().expose_uri(),
        "{what}: the URI"
    );
    #[cfg(feature = "qr")]
    assert_eq!(
        *a.uri().qr_svg().unwrap(),
        *b.uri().qr_svg().unwrap(),
        "{what}: the QR code"
    );
}

fn different(a: &EnrollmentSetup, b: &EnrollmentSetup, what: &str) {
    assert_ne!(*a.manual_key(), *b.manual_key(), "{what}");
}

fn abandoned<S: LoginStore>(s: &Service<S>) -> usize {
    s.backend()
        .audit
        .events()
        .iter()
        .filter(|e| matches!(e.what, AuditKind::EnrollmentAbandoned { .. }))
        .count()
}

/// The owner signed up and signed in with the password alone (no MFA yet).
async fn owner<S: LoginStore>(s: &Service<S>) -> (OrgId, Grant) {
    let up = s.sign_up(OWNER, Password::from(OWNER_PW)).await.unwrap();
    let step = s
        .login_to(up.org, OWNER, Password::from(OWNER_PW))
        .await
        .unwrap();
    (up.org, *step.grant().expect("signed in"))
}

/// A new password sign-in of the owner: a fresh grant.
async fn signed_in<S: LoginStore>(s: &Service<S>, org: OrgId) -> Grant {
    let step = s
        .login_to(org, OWNER, Password::from(OWNER_PW))
        .await
        .unwrap();
    *step.grant().expect("signed in")
}

async fn scenarios<S: LoginStore + 'static>(
    new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>,
) {
    // Signed in: shown again until confirmed; "start over" makes a new secret, and the old one
    // stops confirming; the new one is what is shown again from then on.
    {
        let (s, clock) = service(new_store().await);
        let (_, grant) = owner(&s).await;
        let first = s.start_enrollment(&grant, add("phone")).await.unwrap();
        clock.advance(60);
        let again = s.start_enrollment(&grant, add("phone")).await.unwrap();
        same(&first, &again, "the page reloaded");
        let again = s.start_enrollment(&grant, add("PHONE")).await.unwrap();
        same(&first, &again, "the same name, as names compare");
        assert_eq!(
            abandoned(&s),
            0,
            "nothing was abandoned by showing it again"
        );
        let over = s.restart_enrollment(&grant, add("phone")).await.unwrap();
        different(&first, &over, "start over");
        assert_eq!(abandoned(&s), 1, "the first was abandoned, audited");
        let shown = s.start_enrollment(&grant, add("phone")).await.unwrap();
        same(&over, &shown, "the new secret is the one shown again");
        clock.advance(30);
        assert!(
            matches!(
                s.confirm_enrollment(&grant, &code(&key_of(&first), clock.now()))
                    .await,
                Err(ServiceError::InvalidCredentials)
            ),
            "the abandoned secret does not confirm"
        );
        clock.advance(30);
        let _codes = s
            .confirm_enrollment(&grant, &code(&key_of(&over), clock.now()))
            .await
            .unwrap();
        // Confirmed: no longer shown again (its QR code is done with).
        let after = s.start_enrollment(&grant, add("phone")).await.unwrap();
        different(&over, &after, "an enrollment already confirmed");
    }
    // Another purpose is another enrollment: a new secret.
    {
        let (s, _) = service(new_store().await);
        let (_, grant) = owner(&s).await;
        let phone = s.start_enrollment(&grant, add("phone")).await.unwrap();
        let tablet = s.start_enrollment(&grant, add("tablet")).await.unwrap();
        different(&phone, &tablet, "another name");
        let again = s.start_enrollment(&grant, add("tablet")).await.unwrap();
        same(&tablet, &again, "the latest one, shown again");
    }
    // Expired: a new secret, and it confirms.
    {
        let (s, clock) = service(new_store().await);
        let (org, grant) = owner(&s).await;
        let first = s.start_enrollment(&grant, add("phone")).await.unwrap();
        clock.advance(EnrollmentConfig::DEFAULT_PENDING_TTL - 1);
        // The pending secret is shown again only to a fresh session, as it was first shown.
        assert!(matches!(
            s.start_enrollment(&grant, add("phone")).await,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ));
        let grant = signed_in(&s, org).await;
        let still = s.start_enrollment(&grant, add("phone")).await.unwrap();
        same(&first, &still, "a second before it expires");
        clock.advance(1);
        let late = s.start_enrollment(&grant, add("phone")).await.unwrap();
        different(&first, &late, "expired");
        let _codes = s
            .confirm_enrollment(&grant, &code(&key_of(&late), clock.now()))
            .await
            .unwrap();
        s.acknowledge_enrollment(&grant).await.unwrap();
    }
    // Two tabs at once: one secret for both.
    {
        let (s, _) = service(new_store().await);
        let (_, grant) = owner(&s).await;
        let (a, b) = tokio::join!(
            s.start_enrollment(&grant, add("phone")),
            s.start_enrollment(&grant, add("phone")),
        );
        same(&a.unwrap(), &b.unwrap(), "two tabs");
        assert_eq!(abandoned(&s), 0);
    }
    // Showing it again makes the same checks as starting: a grant whose session ended shows
    // nothing.
    {
        let (s, _) = service(new_store().await);
        let up = s.sign_up(OWNER, Password::from(OWNER_PW)).await.unwrap();
        let opened = s
            .login_to(up.org, OWNER, Password::from(OWNER_PW))
            .await
            .unwrap()
            .into_session()
            .unwrap();
        let _ = s
            .start_enrollment(&opened.grant, add("phone"))
            .await
            .unwrap();
        s.sign_out(&opened.token.expose_secret()).await.unwrap();
        assert!(matches!(
            s.start_enrollment(&opened.grant, add("phone")).await,
            Err(ServiceError::Session(_))
        ));
    }
    // At login ("company account verification"): shown again, started over, then confirmed with
    // the new secret and acknowledged into a session.
    {
        let (s, clock) = service(new_store().await);
        let (org, first) = owner(&s).await;
        let setup = s.start_enrollment(&first, add("phone")).await.unwrap();
        let key = key_of(&setup);
        let _codes = s
            .confirm_enrollment(&first, &code(&key, clock.now()))
            .await
            .unwrap();
        s.acknowledge_enrollment(&first).await.unwrap();
        clock.advance(30);
        let step = s
            .login_to(org, OWNER, Password::from(OWNER_PW))
            .await
            .unwrap();
        let owner = *s
            .verify_totp(org, &ticket(&step), &code(&key, clock.now()))
            .await
            .unwrap()
            .grant()
            .unwrap();
        s.set_mfa_policy(
            &owner,
            MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap(),
        )
        .await
        .unwrap();
        let new = s.add_member(&owner, MEMBER, Role::User).await.unwrap();
        let temp = new.temporary_password.expose_secret().to_owned();
        let step = s
            .login_to(org, MEMBER, Password::from(temp.as_str()))
            .await
            .unwrap();
        let step = s
            .change_password_at_login(org, &ticket(&step), Password::from(MEMBER_PW))
            .await
            .unwrap();
        assert!(matches!(step, LoginStep::EnrollMfa { .. }), "{step:?}");
        let t = ticket(&step);
        let shown = s.start_login_enrollment(org, &t, "phone").await.unwrap();
        let again = s.start_login_enrollment(org, &t, "phone").await.unwrap();
        same(&shown, &again, "the verification page reloaded");
        let over = s.restart_login_enrollment(org, &t, "phone").await.unwrap();
        different(&shown, &over, "start over at login");
        let again = s.start_login_enrollment(org, &t, "phone").await.unwrap();
        same(&over, &again, "the new one shown again");
        clock.advance(30);
        let _codes = s
            .confirm_login_enrollment(org, &t, &code(&key_of(&over), clock.now()))
            .await
            .unwrap();
        let done = s.acknowledge_login_enrollment(org, &t).await.unwrap();
        assert!(matches!(done, LoginStep::Granted(_)), "{done:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_enrollment_is_shown_again_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_enrollment_is_shown_again_on_sqlite() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    scenarios(&move || {
        let dir = Arc::clone(&dir);
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move {
            SqliteStore::open(dir.path().join(format!("r{n}.db")), keyring())
                .await
                .unwrap()
        })
    })
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn a_pending_enrollment_is_shown_again_on_postgres() {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;
    if pg::skip("a_pending_enrollment_is_shown_again_on_postgres") {
        return;
    }
    let url = std::env::var("AUTHCORE_TEST_POSTGRES_URL").unwrap();
    scenarios(&move || {
        let url = url.clone();
        Box::pin(async move {
            let mut suffix = [0u8; 8];
            getrandom::fill(&mut suffix).unwrap();
            let schema = format!("authcore_reshow_{}", u64::from_le_bytes(suffix));
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap();
            admin
                .execute(format!("CREATE SCHEMA {schema}").as_str())
                .await
                .unwrap();
            admin.close().await;
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
            let store = authcore::PostgresStore::from_pool(pool, keyring());
            store.migrate().await.unwrap();
            store
        })
    })
    .await;
}

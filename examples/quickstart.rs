//! The seed stories end to end on SQLite (a file in a temporary directory):
//! `cargo run --example quickstart`. Add `-- --database PATH` to keep the SQLite file at `PATH`,
//! or `--features postgres -- --database postgres://user@host/db` to run the same story on
//! PostgreSQL, in a fresh schema that is dropped at the end.
//!
//! Time is a `ManualClock` seeded from the system clock, so "30 seconds later" takes no time.
//! The QR code is drawn in the terminal when built with `--features qr`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::exit;
use std::sync::Arc;

use getrandom::SysRng;

use authcore::LoginStore;
use authcore::PersonId;
use authcore::credential::FactorKind;
use authcore::credential::{KeyId, Keyring, OobConfig, OobKey, PhoneNumber, SealingKey};
use authcore::otp::{ManualClock, SecretKey, SystemClock, Totp, TotpParams};
use authcore::policy::{Aal, Actor, AuditEvent, AuditKind, Factor, LoginOutcome};
use authcore::policy::{
    AuthenticatorName, EnrollmentPurpose, MfaSettings, Permission, Resource, Role, SessionLabels,
};
use authcore::store::{Delivery, MemoryAuditLog, RecordingNotifier};
use authcore::{Authenticator, Services};
use authcore::{BearerToken, Clock, LoginStep, Password, ServiceConfig, ServiceError, SqliteStore};

/// The service over a store, with the audit log and notifier the story prints, and the default
/// hasher (on tokio's blocking pool with `--features tokio`).
type Service<S> = Authenticator<Services<S, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>>>;

fn check(ok: bool, what: &str) {
    if ok {
        println!("   ✓ {what}");
    } else {
        eprintln!("   ✗ {what}: not as narrated");
        exit(1);
    }
}

/// The authenticator app: computes the current code from the key it scanned.
fn app_code(key: &SecretKey, now: u64) -> String {
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

/// Moves the clock to the next 30-second TOTP step, so a fresh code is not a replay.
fn next_step(clock: &ManualClock) {
    clock.advance(30);
    println!("   (30 seconds later)");
}

/// The service over `store`, with the clock starting at the system time.
fn service<S: LoginStore>(store: S, clock: &Arc<ManualClock>) -> Service<S> {
    // The ready backend (the system clock and the default hasher), with the audit log and
    // notifier the story reads back, and the hand-driven clock swapped in.
    let backend = Services::new(store, MemoryAuditLog::new(), RecordingNotifier::new())
        .unwrap()
        .with_clock(Arc::clone(clock));
    Authenticator::new(
        backend,
        ServiceConfig::builder("Example Co")
            // SMS codes: the key for their MACs lives outside the database, like the keyring.
            .sms(
                OobConfig::default(),
                OobKey::generate_with_rng(&mut SysRng).unwrap(),
            )
            .build()
            .unwrap(),
    )
}

/// The key that seals authenticator secrets at rest. A real host loads it from its secret
/// manager; the example makes a fresh one.
fn keyring() -> Keyring {
    Keyring::new(KeyId::new(1), SealingKey::generate().unwrap())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let database = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--database"), Some(database)) => Some(database),
        _ => {
            eprintln!("usage: quickstart [--database PATH | --database postgres://…]");
            exit(2);
        }
    };
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            postgres(&url, &clock).await;
        }
        Some(path) => {
            println!("0. The stores: SQLite at {path}.");
            let store = SqliteStore::open(&path, keyring()).await.unwrap();
            story(&service(store, &clock), &clock).await;
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("authcore.db");
            println!("0. The stores: SQLite at {}.", path.display());
            let store = SqliteStore::open(&path, keyring()).await.unwrap();
            story(&service(store, &clock), &clock).await;
        }
    }
}

/// Runs the story on PostgreSQL, in a fresh schema dropped afterwards so reruns start clean.
#[cfg(feature = "postgres")]
async fn postgres(url: &str, clock: &Arc<ManualClock>) {
    use sqlx::Executor;
    use sqlx::postgres::PgPoolOptions;

    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let schema = format!("authcore_quickstart_{}", u64::from_le_bytes(suffix));
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    println!("0. The stores: PostgreSQL, schema {schema}.");
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
    let store = authcore::PostgresStore::from_pool(pool, keyring());
    store.migrate().await.unwrap();
    story(&service(store.clone(), clock), clock).await;
    store.pool().close().await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .unwrap();
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_url: &str, _clock: &Arc<ManualClock>) {
    eprintln!("this build has no PostgreSQL store: add `--features postgres`");
    exit(2);
}

/// A factor as a person would name it.
fn factor(factor: Factor) -> &'static str {
    match factor {
        Factor::Password => "password",
        Factor::Second(FactorKind::Totp) => "app code",
        Factor::Second(FactorKind::RecoveryCode) => "recovery code",
        Factor::Second(FactorKind::OutOfBandSms) => "SMS code",
        Factor::Second(FactorKind::OutOfBandEmail) => "e-mail code",
        Factor::Second(_) => "second factor",
        Factor::RememberedDevice => "remembered device",
        #[cfg(feature = "passkeys")]
        Factor::UserVerified => "PIN or fingerprint on the passkey",
    }
}

/// Seconds from `start` to `at`, as a duration ("+30 s").
fn offset(start: u64, at: u64) -> String {
    match at.checked_sub(start) {
        Some(seconds) => format!("+{seconds} s"),
        None => format!("-{} s", start - at),
    }
}

/// A duration in seconds, in the largest whole unit that fits.
fn duration(seconds: u64) -> String {
    match seconds {
        0 => "now".to_owned(),
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// One audit event as a line a person can read: when (from the story's start), who, about whom,
/// what happened. Ids become the names the story introduced; times become durations.
fn describe(event: &AuditEvent, names: &HashMap<PersonId, &str>, start: u64) -> String {
    let name = |id: PersonId| names.get(&id).copied().unwrap_or("someone").to_owned();
    let at = event.at;
    let after = |until: u64| duration(until.saturating_sub(at));
    let who = match event.actor {
        Actor::Person(id) => name(id),
        Actor::System => "(system)".to_owned(),
    };
    let what = match event.what {
        AuditKind::OrganisationFounded => "founded the organisation".to_owned(),
        AuditKind::MemberAdded { role, .. } => format!("added as {role:?}"),
        AuditKind::RoleChanged { from, to } => format!("role changed from {from:?} to {to:?}"),
        AuditKind::Login { outcome } => match outcome {
            LoginOutcome::Allowed { aal } => format!("login: signed in at {aal:?}"),
            LoginOutcome::SecondFactorRequired => "login: password ok, second factor next".into(),
            LoginOutcome::PasswordChangeRequired => "login: must change password".into(),
            LoginOutcome::OrganisationChoiceRequired => {
                "login: password ok, choosing an organisation".into()
            }
            LoginOutcome::EnrollmentRequired { mandatory: true } => {
                "login: must enroll an authenticator".into()
            }
            LoginOutcome::EnrollmentRequired { mandatory: false } => {
                "login: invited to enroll an authenticator".into()
            }
            LoginOutcome::Denied(reason) => format!("login: denied ({reason:?})"),
        },
        AuditKind::EnrollmentStarted { .. } => "started enrolling an authenticator app".into(),
        AuditKind::EnrollmentConfirmed { .. } => "confirmed the app with a code".into(),
        AuditKind::RecoveryCodesIssued { .. } => "recovery codes issued".into(),
        AuditKind::AuthenticatorActivated { .. } => "authenticator app active".into(),
        AuditKind::LoginCodeAccepted { .. } => "app code accepted".into(),
        AuditKind::MfaPolicySet {
            enforced,
            grace_period,
            ..
        } => match (enforced, grace_period) {
            (false, _) => "company MFA on, not enforced".into(),
            (true, 0) => "company MFA enforced, no grace period".into(),
            (true, grace) => format!("company MFA enforced, grace period {}", duration(grace)),
        },
        AuditKind::SubjectToMfaPolicy { deadline } if deadline <= at => {
            "must use MFA from now on".into()
        }
        AuditKind::SubjectToMfaPolicy { deadline } => {
            format!("must use MFA within {}", after(deadline))
        }
        AuditKind::TemporaryPasswordIssued { expires_at } => {
            format!("temporary password issued, valid for {}", after(expires_at))
        }
        AuditKind::PasswordChanged => "password changed".into(),
        AuditKind::MfaReset => "second factors reset by an administrator".into(),
        AuditKind::AuthenticatorRemoved { .. } => "authenticator app removed".into(),
        AuditKind::CredentialRejected {
            factor: f,
            replayed,
        } => format!(
            "{} rejected{}",
            factor(f),
            if replayed { " (already used)" } else { "" }
        ),
        AuditKind::Throttled {
            factor: f,
            failures,
            retry_at,
        } => format!(
            "{} throttled for {} after {failures} failures",
            factor(f),
            after(retry_at)
        ),
        AuditKind::FactorLocked { factor: f } => format!("{} locked", factor(f)),
        AuditKind::RecoveryCodeUsed { remaining } => {
            format!("recovery code used, {remaining} left")
        }
        AuditKind::PhoneVerificationSent => "verification code sent to a phone".into(),
        AuditKind::PhoneVerified => "phone number verified".into(),
        AuditKind::UnknownLogin => "login attempt for an unknown name".into(),
        AuditKind::TicketRejected => "login ticket rejected".into(),
        AuditKind::SessionRevoked => "signed a session out".into(),
        AuditKind::OtherSessionsRevoked => "signed out everywhere else".into(),
        AuditKind::AllSessionsRevoked => "signed out everywhere".into(),
        AuditKind::SecurityEpochBumped { epoch } => {
            format!("every older session ended (security epoch {epoch})")
        }
        other => format!("{other:?}"),
    };
    let about = match (event.actor, event.subject) {
        (Actor::Person(actor), Some(subject)) if actor != subject => {
            format!(" [{}]", name(subject))
        }
        (Actor::System, Some(subject)) => format!(" [{}]", name(subject)),
        _ => String::new(),
    };
    format!("{:>6}  {who}{about}: {what}", offset(start, at))
}

/// The seed stories, narrated; exits non-zero at the first step that does not behave.
async fn story<S: LoginStore>(s: &Service<S>, clock: &ManualClock) {
    let now = || clock.now();
    let start = now();
    let mut names: HashMap<PersonId, &str> = HashMap::new();
    let owner_pw = "correct horse battery staple 42";

    println!("1. Olivia signs up: her own login, and a company account she owns.");
    let up = s
        .sign_up("olivia@example.com", Password::from(owner_pw))
        .await
        .unwrap();
    names.insert(up.person, "Olivia");
    let org = up.org;
    let step = s
        .login("olivia@example.com", Password::from(owner_pw))
        .await
        .unwrap();
    let grant = *step.grant().expect("signed in");
    check(
        grant.role() == Role::Owner,
        "she is the Owner, signed in with her password",
    );

    println!("2. She turns on MFA for her own login.");
    let setup = s
        .start_enrollment(
            &grant,
            EnrollmentPurpose::Add(AuthenticatorName::new("Olivia's phone").unwrap()),
        )
        .await
        .unwrap();
    println!("   scan: {}", setup.uri().expose_uri().as_str());
    println!("   or type the key: {}", setup.manual_key().as_str());
    #[cfg(not(feature = "qr"))]
    println!("   (the QR code is drawn here with: cargo run --example quickstart --features qr)");
    #[cfg(feature = "qr")]
    println!(
        "{}",
        setup
            .uri()
            .qr_terminal(authcore::otp::TerminalStyle::default())
            .unwrap()
            .as_str()
    );
    let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let codes = s
        .confirm_enrollment(&grant, &app_code(&key, now()))
        .await
        .unwrap();
    println!("   her {} recovery codes, shown once:", codes.len());
    for code in &codes {
        println!("     {}", code.expose_secret());
    }
    println!("   she ticks \"I have safely recorded these\"");
    let recovery = codes.iter().next().unwrap().expose_secret().to_owned();
    s.acknowledge_enrollment(&grant).await.unwrap();
    check(true, "MFA active on her login");

    println!("3. She signs in again with password + code, and forces MFA on every member.");
    next_step(clock);
    let step = s
        .login("olivia@example.com", Password::from(owner_pw))
        .await
        .unwrap();
    check(
        matches!(step, LoginStep::SecondFactor { .. }),
        "the password alone is not enough now",
    );
    let grant = *s
        .verify_totp(org, &ticket(&step), &app_code(&key, now()))
        .await
        .unwrap()
        .grant()
        .unwrap();
    let forced = MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap();
    check(
        s.set_mfa_policy(&grant, forced).await.is_ok(),
        "company MFA on, forced for everyone",
    );

    println!("4. She adds Max as a Manager with a temporary password.");
    let max = s
        .add_member(&grant, "max@example.com", Role::Manager)
        .await
        .unwrap();
    names.insert(max.person, "Max");
    let temp = max.temporary_password.expose_secret().to_owned();
    check(
        s.backend()
            .notifier
            .take_last_setup_token(max.person)
            .is_some(),
        "a setup link went to Max",
    );

    println!("5. Max signs in: new password, company account verification, then in.");
    let step = s
        .login("max@example.com", Password::from(temp.as_str()))
        .await
        .unwrap();
    check(
        matches!(step, LoginStep::ChangePassword { .. }),
        "he must choose his own password",
    );
    let t = ticket(&step);
    let same = s
        .change_password_at_login(org, &t, Password::from(temp.as_str()))
        .await;
    check(
        matches!(same, Err(ServiceError::PasswordPolicy(_))),
        "the temporary one is refused",
    );
    let max_pw = "violet tuesday lantern river";
    let step = s
        .change_password_at_login(org, &t, Password::from(max_pw))
        .await
        .unwrap();
    check(
        matches!(step, LoginStep::EnrollMfa { .. }),
        "stopped for company account verification",
    );
    let t = ticket(&step);
    let setup = s
        .start_login_enrollment(org, &t, "Max's phone")
        .await
        .unwrap();
    let max_key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let codes = s
        .confirm_login_enrollment(org, &t, &app_code(&max_key, now()))
        .await
        .unwrap();
    println!("   his {} recovery codes, shown once:", codes.len());
    for code in &codes {
        println!("     {}", code.expose_secret());
    }
    let step = s.acknowledge_login_enrollment(org, &t).await.unwrap();
    let max_grant = *step.grant().expect("Max is in");
    // The login opened a server-side session; its token goes to Max's browser (a cookie).
    let laptop = step
        .session()
        .expect("Max is in")
        .token
        .expose_secret()
        .to_string();
    check(
        max_grant.role() == Role::Manager,
        "Max is signed in as a Manager",
    );

    println!("6. Wrong codes get throttled.");
    let step = s
        .login("max@example.com", Password::from(max_pw))
        .await
        .unwrap();
    let t = ticket(&step);
    let mut throttled = false;
    for _ in 0..8 {
        match s.verify_totp(org, &t, "000000").await {
            Err(ServiceError::Throttled { retry_at }) => {
                println!("   throttled for {} s", retry_at.saturating_sub(now()));
                throttled = true;
                break;
            }
            Err(e) => println!("   {e}"),
            Ok(_) => break,
        }
    }
    check(throttled, "repeated wrong codes are throttled");

    println!("7. Olivia signs in with her recovery code, without her phone.");
    let step = s
        .login("olivia@example.com", Password::from(owner_pw))
        .await
        .unwrap();
    let done = s
        .verify_recovery_code(org, &ticket(&step), &recovery)
        .await
        .unwrap();
    check(done.grant().is_some(), "the recovery code signs her in");
    let step = s
        .login("olivia@example.com", Password::from(owner_pw))
        .await
        .unwrap();
    let again = s.verify_recovery_code(org, &ticket(&step), &recovery).await;
    check(
        matches!(again, Err(ServiceError::InvalidCredentials)),
        "and never again",
    );

    println!(
        "8. Olivia adds her mobile number for SMS codes: a code sent to it proves she has it."
    );
    let grant = *done.grant().unwrap();
    let mobile = PhoneNumber::parse("+44 7700 900123").unwrap();
    s.start_phone_verification(&grant, &mobile).await.unwrap();
    let sms = s
        .backend()
        .notifier
        .take_last_code(grant.person())
        .expect("a code was sent");
    let wrong = if sms.as_str() == "000000" {
        "111111"
    } else {
        "000000"
    };
    check(
        matches!(
            s.confirm_phone(&grant, wrong).await,
            Err(ServiceError::InvalidCredentials)
        ),
        "a wrong code does not register the number",
    );
    s.confirm_phone(&grant, &sms).await.unwrap();
    let olivia = s.backend().store.person(grant.person()).await.unwrap();
    check(
        olivia.and_then(|p| p.phone) == Some(mobile),
        "the code she received does",
    );

    println!("9. What each role may do.");
    let all = Resource::of_org(org);
    check(
        s.authorize(&max_grant, &Permission::ViewReports, &all)
            .await
            .is_ok(),
        "a Manager sees all reports",
    );
    check(
        s.authorize(&max_grant, &Permission::ManageMembers, &all)
            .await
            .is_err(),
        "a Manager may not manage users",
    );
    println!("   Olivia adds Uma as a User, to try role changes on.");
    let user = s
        .add_member(&grant, "uma@example.com", Role::User)
        .await
        .unwrap();
    names.insert(user.person, "Uma");
    check(
        s.change_role(&max_grant, user.person, Role::Admin)
            .await
            .is_err(),
        "a Manager may not promote anyone",
    );
    check(
        s.change_role(&grant, user.person, Role::Admin)
            .await
            .is_ok(),
        "an Owner may make Uma an Admin",
    );
    check(
        s.change_role(&grant, user.person, Role::Owner)
            .await
            .is_err(),
        "ownership moves only by transfer",
    );

    println!("10. Max's sessions: where he is signed in, signing out everywhere else, and a");
    println!("    password change ending them all.");
    s.label_session(
        &laptop,
        &SessionLabels::new()
            .with_user_agent("Firefox on Linux")
            .with_ip("192.0.2.10"),
    )
    .await
    .unwrap();
    // Later he signs in on his phone too: password, then a code from the app.
    clock.advance(5 * 60);
    let step = s
        .login_to(org, "max@example.com", Password::from(max_pw))
        .await
        .unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &app_code(&max_key, now()))
        .await
        .unwrap();
    let phone = step
        .session()
        .expect("Max is in on his phone")
        .token
        .expose_secret()
        .to_string();
    s.label_session(
        &phone,
        &SessionLabels::new().with_user_agent("Safari on iPhone"),
    )
    .await
    .unwrap();
    check(
        s.authenticate(&laptop).await.is_ok(),
        "each request presents the session token and gets the grant",
    );
    let listed = s.sessions(&laptop).await.unwrap();
    println!("   where you're signed in:");
    for session in &listed {
        println!(
            "     {} from {}, since {}",
            session.labels.user_agent().unwrap_or("an unknown browser"),
            session.labels.ip().unwrap_or("an unknown address"),
            offset(start, session.record.authenticated_at)
        );
    }
    check(
        listed.len() == 2,
        "both devices are listed, each with its labels",
    );
    s.sign_out_everywhere(&laptop, true).await.unwrap();
    check(
        s.authenticate(&phone).await.is_err(),
        "\"sign out everywhere else\" ends the phone's session",
    );
    check(
        s.authenticate(&laptop).await.is_ok(),
        "and keeps the laptop signed in",
    );
    s.change_password(
        &max_grant,
        Password::from(max_pw),
        Password::from("a brand new passphrase for max"),
    )
    .await
    .unwrap();
    check(
        s.authenticate(&laptop).await.is_err(),
        "after his password change, the session is gone: he signs in again",
    );

    println!("11. Max loses his phone, and his recovery codes with it: Olivia resets his MFA.");
    // He signs in once more on the laptop before the phone goes missing.
    let max_pw = "a brand new passphrase for max";
    next_step(clock);
    let step = s
        .login_to(org, "max@example.com", Password::from(max_pw))
        .await
        .unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &app_code(&max_key, now()))
        .await
        .unwrap();
    let laptop = step
        .session()
        .expect("Max is in")
        .token
        .expose_secret()
        .to_string();
    // Without the phone or a code, the login stops at the second factor.
    let step = s
        .login_to(org, "max@example.com", Password::from(max_pw))
        .await
        .unwrap();
    check(
        matches!(step, LoginStep::SecondFactor { .. }),
        "without his phone, Max cannot get past the second factor",
    );
    // A reset is a sensitive action: Olivia signs in afresh with password + app code.
    next_step(clock);
    let step = s
        .login_to(org, "olivia@example.com", Password::from(owner_pw))
        .await
        .unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &app_code(&key, now()))
        .await
        .unwrap();
    let fresh = *step.grant().expect("Olivia is in");
    check(
        matches!(
            s.reset_member_mfa(&fresh, fresh.person()).await,
            Err(ServiceError::Policy(_))
        ),
        "nobody resets their own MFA",
    );
    s.reset_member_mfa(&fresh, max.person).await.unwrap();
    check(
        s.authenticate(&laptop).await.is_err(),
        "the reset ends every session of Max's",
    );
    check(
        s.backend().notifier.deliveries().iter().any(|d| {
            matches!(
                d,
                Delivery::Security { person, .. } if *person == max.person
            )
        }),
        "and Max is told",
    );
    println!("   Max signs in again and enrols his new phone.");
    next_step(clock);
    let step = s
        .login_to(org, "max@example.com", Password::from(max_pw))
        .await
        .unwrap();
    check(
        matches!(step, LoginStep::EnrollMfa { .. }),
        "his next login enrols a new authenticator: the old app is gone",
    );
    let t = ticket(&step);
    let setup = s
        .start_login_enrollment(org, &t, "Max's new phone")
        .await
        .unwrap();
    let new_key = SecretKey::from_base32(&setup.manual_key()).unwrap();
    let codes = s
        .confirm_login_enrollment(org, &t, &app_code(&new_key, now()))
        .await
        .unwrap();
    println!("   his {} new recovery codes, shown once:", codes.len());
    for code in &codes {
        println!("     {}", code.expose_secret());
    }
    let step = s.acknowledge_login_enrollment(org, &t).await.unwrap();
    check(
        step.grant().is_some_and(|g| g.aal() == Aal::Aal2),
        "Max is back in, at AAL2 with the new phone",
    );
    next_step(clock);
    let step = s
        .login_to(org, "max@example.com", Password::from(max_pw))
        .await
        .unwrap();
    check(
        matches!(
            s.verify_totp(org, &ticket(&step), &app_code(&max_key, now()))
                .await,
            Err(ServiceError::InvalidCredentials)
        ),
        "a code from the lost phone is refused",
    );

    println!("12. The audit trail (time from the start; who [about whom]: what):");
    for event in s.backend().audit.events() {
        println!("   {}", describe(&event, &names, start));
    }
    println!("All steps behaved as narrated.");
}

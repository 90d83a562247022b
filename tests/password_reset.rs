//! The forgotten password, through the service on every store: one answer for every request
//! (unknown login, unverified address, deactivated person, throttled), a single-use expiring
//! link only to a verified address, the password policy before the token is spent, two servers
//! completing one token, no session and no skipped second factor after a reset, every session
//! and remembered device ended, throttling per login name and per requester.
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

#[path = "support/accounts.rs"]
mod accounts;
use accounts::*;
#[path = "support/stores.rs"]
mod stores;
use stores::*;

use std::future::Future;
use std::pin::Pin;

use authcore::otp::Clock;
use authcore::policy::{Aal, Actor, AuditKind, ResetRequest};
use authcore::store::{AccountTokenPurpose, Delivery, SecurityNotice};
use authcore::{
    BearerToken, LoginStep, LoginStore, MemoryStore, Password, ServiceConfig, ServiceError,
};

/// How many reset links went out, to anyone.
fn reset_mails<S: LoginStore>(s: &Service<S>) -> usize {
    s.backend()
        .notifier
        .deliveries()
        .iter()
        .filter(|d| matches!(d, Delivery::PasswordReset { .. }))
        .count()
}

const NOBODY: &str = "nobody@example.com";

/// The whole story for a person with MFA: the link, a refused password that keeps the token,
/// the reset, the old sessions and remembered device dead, the next login meeting the second
/// factor, the token spent.
async fn reset_happy_path<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = verified(&s, OLIVIA).await;
    let (key, _grant, session) = with_mfa(&s, &clock, org, OLIVIA).await;
    let device = s.remember_device(&session).await.unwrap();
    let device = device.token.expose_secret().to_string();
    let (_, other_session) = sign_in(&s, &clock, org, OLIVIA, Some(&key)).await;

    s.request_password_reset(OLIVIA, "203.0.113.7")
        .await
        .unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert!(s.backend().notifier.deliveries().iter().any(|d| matches!(
        d,
        Delivery::PasswordReset { person, to } if *person == olivia && to.as_str() == OLIVIA
    )));
    let token = reset_token(&s, olivia).expect("a reset link");

    // A password the policy refuses: a typed refusal, and the token still works.
    let refused = s
        .complete_password_reset(&token, Password::from("short"))
        .await;
    assert!(
        matches!(refused, Err(ServiceError::PasswordPolicy(_))),
        "{refused:?}"
    );
    // Nothing changed: the old password and sessions still stand.
    assert!(s.authenticate(&session).await.is_ok());

    s.complete_password_reset(&token, Password::from(NEW_PW))
        .await
        .unwrap();
    // Spent.
    invalid(
        s.complete_password_reset(&token, Password::from("yet another passphrase 99"))
            .await,
        "the token again",
    );
    // Every session and remembered device is gone.
    assert!(s.authenticate(&session).await.is_err());
    assert!(s.authenticate(&other_session).await.is_err());
    // The old password is gone.
    invalid(
        s.login(OLIVIA, Password::from(PW)).await,
        "the old password",
    );
    // The new password reaches the second factor, never a session on its own.
    clock.advance(30);
    let step = s.login(OLIVIA, Password::from(NEW_PW)).await.unwrap();
    assert!(
        matches!(step, LoginStep::SecondFactor { .. }),
        "a reset never skips the second factor: {step:?}"
    );
    invalid(
        s.verify_remembered_device(org, &ticket(&step), &device)
            .await,
        "the remembered device after the reset",
    );
    let step = s.login(OLIVIA, Password::from(NEW_PW)).await.unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &code(&key, clock.now()))
        .await
        .unwrap();
    let opened = step
        .into_session()
        .expect("signed in with the second factor");
    assert_eq!(opened.grant.aal(), Aal::Aal2);

    // Audited and notified.
    assert_eq!(
        events(&s, |k| *k == AuditKind::PasswordReset, olivia),
        vec![Actor::Person(olivia)]
    );
    assert_eq!(notices(&s, olivia, SecurityNotice::PasswordReset), 1);
    assert!(
        !events(
            &s,
            |k| matches!(k, AuditKind::SecurityEpochBumped { .. }),
            olivia
        )
        .is_empty()
    );
}

/// Every request the requester cannot tell apart: unknown login, unverified address,
/// deactivated person, a malformed login. Expired tokens, tokens outlived by a password change
/// or a deactivation.
async fn reset_refusals<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = verified(&s, OLIVIA).await;
    // Ada signs up and never follows her verification link.
    let (_, ada) = founder(&s, ADA).await;
    let before = s.backend().notifier.deliveries().len();

    s.request_password_reset(NOBODY, "ip-1").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    s.request_password_reset("", "ip-1").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    s.request_password_reset(ADA, "ip-1").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(ada), ResetRequest::Unverified));
    // Nothing went out for any of them: the notifier heard nothing.
    assert_eq!(s.backend().notifier.deliveries().len(), before);
    assert!(reset_token(&s, ada).is_none());

    // An unknown token, and an expired one.
    invalid(
        s.complete_password_reset(&BearerToken::generate().unwrap(), Password::from(NEW_PW))
            .await,
        "an unknown token",
    );
    s.request_password_reset(OLIVIA, "ip-2").await.unwrap();
    let expired = reset_token(&s, olivia).unwrap();
    clock.advance(ServiceConfig::DEFAULT_RESET_TTL);
    invalid(
        s.complete_password_reset(&expired, Password::from(NEW_PW))
            .await,
        "an expired token",
    );

    // A token outlived by a password change (the epoch moved on).
    s.request_password_reset(OLIVIA, "ip-2").await.unwrap();
    let outlived = reset_token(&s, olivia).unwrap();
    let (grant, _) = sign_in(&s, &clock, org, OLIVIA, None).await;
    s.change_password(
        &grant,
        Password::from(PW),
        Password::from("changed passphrase 2025"),
    )
    .await
    .unwrap();
    invalid(
        s.complete_password_reset(&outlived, Password::from(NEW_PW))
            .await,
        "a token issued before a password change",
    );

    // A deactivated person gets no link, and a link sent before cannot be used.
    clock.advance(3 * 3600);
    s.request_password_reset(OLIVIA, "ip-3").await.unwrap();
    let before_deactivation = reset_token(&s, olivia).unwrap();
    assert!(
        s.backend()
            .store
            .set_deactivated(olivia, true)
            .await
            .unwrap()
    );
    let mails = reset_mails(&s);
    s.request_password_reset(OLIVIA, "ip-3").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Deactivated));
    assert_eq!(reset_mails(&s), mails);
    invalid(
        s.complete_password_reset(&before_deactivation, Password::from(NEW_PW))
            .await,
        "a deactivated person's token",
    );
    // A reset token is no address-verification token, and the reverse.
    invalid(
        s.verify_address(&before_deactivation).await,
        "a reset token as an address link",
    );
}

/// Per login name (known or not, alike) and per requester.
async fn reset_throttling<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (_, olivia) = verified(&s, OLIVIA).await;

    // Three links at once, then nothing for a while, whoever asks.
    for i in 0..3 {
        s.request_password_reset(OLIVIA, &format!("ip-{i}"))
            .await
            .unwrap();
        assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    }
    s.request_password_reset(OLIVIA, "ip-9").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::Throttled));
    assert_eq!(reset_mails(&s), 3);
    // An unknown login throttles exactly alike.
    for _ in 0..3 {
        s.request_password_reset(NOBODY, "ip-10").await.unwrap();
        assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    }
    s.request_password_reset(NOBODY, "ip-11").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::Throttled));
    // The wait passes: one more link.
    clock.advance(1201);
    s.request_password_reset(OLIVIA, "ip-12").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert_eq!(reset_mails(&s), 4);

    // One requester asking for many logins is stopped, and spends nothing of the logins'
    // budgets once it is.
    clock.advance(2 * 3600);
    for i in 0..11 {
        s.request_password_reset(&format!("someone{i}@example.com"), "ip-greedy")
            .await
            .unwrap();
        assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    }
    s.request_password_reset(OLIVIA, "ip-greedy").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::Throttled));
    assert_eq!(reset_mails(&s), 4);
    // Olivia herself, from elsewhere, still gets her link.
    s.request_password_reset(OLIVIA, "ip-home").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert_eq!(reset_mails(&s), 5);
}

/// Two servers completing one token: one wins. Two links completed at once by the person both
/// work only if each still stands; a reset never leaves a session behind.
async fn reset_races<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (_, olivia) = verified(&s, OLIVIA).await;
    for round in 0..3 {
        s.request_password_reset(OLIVIA, &format!("ip-{round}"))
            .await
            .unwrap();
        let token = reset_token(&s, olivia).unwrap();
        let (a, b) = tokio::join!(
            s.complete_password_reset(&token, Password::from(NEW_PW)),
            s.complete_password_reset(&token, Password::from("the other server's passphrase")),
        );
        assert!(
            matches!(
                (&a, &b),
                (Ok(()), Err(ServiceError::InvalidCredentials))
                    | (Err(ServiceError::InvalidCredentials), Ok(()))
            ),
            "round {round}: {a:?} {b:?}"
        );
    }
    assert_eq!(
        events(&s, |k| *k == AuditKind::PasswordReset, olivia).len(),
        3
    );
    // A reset with the notifier down still stands; the failure is audited, and the link that
    // did not go out is never usable by anyone.
    clock.advance(3 * 3600);
    s.backend().notifier.fail_deliveries(true);
    s.request_password_reset(OLIVIA, "ip-down").await.unwrap();
    s.backend().notifier.fail_deliveries(false);
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert!(reset_token(&s, olivia).is_none());
    assert!(
        s.backend()
            .audit
            .events()
            .iter()
            .any(|e| e.subject == Some(olivia)
                && e.what
                    == AuditKind::NotificationFailed {
                        message: authcore::policy::NotificationKind::PasswordReset
                    })
    );
    let _ = AccountTokenPurpose::PasswordReset;
}

/// A person who lost their phone resets the password and still cannot get past the second
/// factor: the reset does not unlock a locked factor nor clear MFA.
async fn reset_keeps_mfa_and_locks<S: LoginStore>(new_store: &NewStore<S>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = verified(&s, OLIVIA).await;
    let (_key, _, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    // Wrong codes until the TOTP counter throttles.
    let mut throttled = false;
    for _ in 0..12 {
        clock.advance(1);
        let step = s.login(OLIVIA, Password::from(PW)).await.unwrap();
        match s.verify_totp(org, &ticket(&step), "000000").await {
            Err(ServiceError::Throttled { .. } | ServiceError::Locked) => {
                throttled = true;
                break;
            }
            Err(_) => {}
            Ok(step) => panic!("a wrong code signed in: {step:?}"),
        }
    }
    assert!(throttled, "the TOTP counter throttles");
    s.request_password_reset(OLIVIA, "ip").await.unwrap();
    let token = reset_token(&s, olivia).unwrap();
    s.complete_password_reset(&token, Password::from(NEW_PW))
        .await
        .unwrap();
    let step = s.login(OLIVIA, Password::from(NEW_PW)).await.unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    let still = s.verify_totp(org, &ticket(&step), "000000").await;
    assert!(
        matches!(
            still,
            Err(ServiceError::Throttled { .. } | ServiceError::Locked)
        ),
        "the reset did not clear the second factor's counter: {still:?}"
    );
    assert!(!bare(&s, olivia).await, "MFA is untouched");
}

async fn scenarios<S: LoginStore + 'static>(new_store: &NewStore<S>) {
    reset_happy_path(new_store).await;
    reset_refusals(new_store).await;
    reset_throttling(new_store).await;
    reset_races(new_store).await;
    reset_keeps_mfa_and_locks(new_store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_on_sqlite() {
    scenarios(&sqlite_stores()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn password_reset_on_postgres() {
    if pg::skip("password_reset_on_postgres") {
        return;
    }
    scenarios(&postgres_stores("authcore_reset")).await;
}

//! A passkey or security key as the second factor of a login, through the service, on every
//! store (memory, SQLite, and PostgreSQL when `AUTHCORE_TEST_POSTGRES_URL` is set), against a
//! software authenticator: offered once registered, the full ceremony to a grant, and the bad
//! paths — a replayed assertion, another person's credential, another origin, an expired
//! ceremony, a ceremony of another ticket, a tampered assertion, and a counter that goes
//! backwards (a cloned key), refused and audited.
#![cfg(all(feature = "memory", feature = "sqlite", feature = "passkeys"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/accounts.rs"]
mod accounts;
#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg;
#[path = "support/soft_key.rs"]
#[allow(dead_code)]
mod soft_key;
#[path = "support/passkeys.rs"]
#[macro_use]
mod support;

use authcore::credential::FactorKind;
use authcore::policy::{Aal, AuditKind, Factor};
use authcore::service::PASSKEY_CEREMONY_TTL;
use authcore::{BearerToken, LoginStep, OrgId, Password, ServiceError};
use support::*;

fn count<S: Store>(s: &Service<S>, what: fn(&AuditKind) -> bool) -> usize {
    s.backend()
        .audit
        .events()
        .iter()
        .filter(|e| what(&e.what))
        .count()
}

/// The password step, which now asks for the second factor.
async fn password<S: Store>(s: &Service<S>, org: OrgId, login: &str) -> BearerToken {
    let step = s.login_to(org, login, Password::from(PW)).await.unwrap();
    match &step {
        LoginStep::SecondFactor { factors, .. } => {
            assert!(factors.contains(FactorKind::Passkey), "{factors:?}");
        }
        other => panic!("expected the second-factor step, got {other:?}"),
    }
    ticket(&step)
}

async fn signs_in_with_a_key<S: Store>(store: S) {
    let (s, _) = service(store);
    let ada = unique("ada");
    let (org, _, mut key) = with_key(&s, &ada).await;
    let t = password(&s, org, &ada).await;
    let options = s.start_passkey_login(org, &t).await.unwrap();
    let o: serde_json::Value = serde_json::from_str(&options).unwrap();
    assert_eq!(o["publicKey"]["rpId"], "example.com");
    assert_eq!(
        o["publicKey"]["allowCredentials"].as_array().unwrap().len(),
        1
    );
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let step = s.finish_passkey_login(org, &t, &assertion).await.unwrap();
    let grant = *step.grant().expect("signed in");
    assert_eq!(grant.aal(), Aal::Aal2);
    assert!(
        grant
            .factors()
            .contains(Factor::Second(FactorKind::Passkey))
    );
    // The use is recorded.
    let grant_keys = s.passkeys(&grant).await.unwrap();
    assert!(grant_keys[0].last_used_at.is_some());

    // Replayed: the same assertion on the next login's ceremony (and the spent one) fails.
    let t2 = password(&s, org, &ada).await;
    let _ = s.start_passkey_login(org, &t2).await.unwrap();
    assert!(matches!(
        s.finish_passkey_login(org, &t2, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert!(matches!(
        s.finish_passkey_login(org, &t2, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // The ticket stays: a fresh ceremony on it succeeds.
    let options = s.start_passkey_login(org, &t2).await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    assert!(
        s.finish_passkey_login(org, &t2, &assertion)
            .await
            .unwrap()
            .grant()
            .is_some()
    );
    let rejected = count(&s, |k| matches!(k, AuditKind::CredentialRejected { .. }));
    assert_eq!(rejected, 2);
}

async fn bad_paths<S: Store>(store: S) {
    let (s, clock) = service(store);
    let login = unique("ada");
    let (org, _, mut ada) = with_key(&s, &login).await;
    let (_, _, mut eve) = with_key(&s, &unique("eve")).await;

    // Another person's credential answers Ada's ceremony.
    let t = password(&s, org, &login).await;
    let options = s.start_passkey_login(org, &t).await.unwrap();
    let mut o: serde_json::Value = serde_json::from_str(&options).unwrap();
    o["publicKey"]["allowCredentials"] = serde_json::Value::Array(vec![]);
    let assertion = eve.get(ORIGIN, &o.to_string()).await.unwrap();
    assert!(matches!(
        s.finish_passkey_login(org, &t, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // Another origin.
    let options = s.start_passkey_login(org, &t).await.unwrap();
    let assertion = ada.get("https://evil.example.com", &options).await.unwrap();
    assert!(matches!(
        s.finish_passkey_login(org, &t, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // A tampered signature.
    let options = s.start_passkey_login(org, &t).await.unwrap();
    let assertion = ada.get(ORIGIN, &options).await.unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&assertion).unwrap();
    let sig = v["response"]["signature"].as_str().unwrap().to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    v["response"]["signature"] = format!("{flipped}{}", &sig[1..]).into();
    assert!(matches!(
        s.finish_passkey_login(org, &t, &v.to_string()).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // An expired ceremony.
    let options = s.start_passkey_login(org, &t).await.unwrap();
    let assertion = ada.get(ORIGIN, &options).await.unwrap();
    clock.advance(PASSKEY_CEREMONY_TTL);
    assert!(matches!(
        s.finish_passkey_login(org, &t, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));

    // A ceremony started with another ticket of the same person.
    let t1 = password(&s, org, &login).await;
    let t2 = password(&s, org, &login).await;
    let options = s.start_passkey_login(org, &t1).await.unwrap();
    let assertion = ada.get(ORIGIN, &options).await.unwrap();
    assert!(matches!(
        s.finish_passkey_login(org, &t2, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // Every failure was counted and audited as a rejected credential.
    assert_eq!(
        count(&s, |k| matches!(k, AuditKind::CredentialRejected { .. })),
        5
    );
}

async fn cloned_key<S: Store>(store: S) {
    let (s, _) = service(store);
    let ada = unique("ada");
    let (org, person, mut key) = with_key(&s, &ada).await;
    key.set_counter(5);
    let mut clone = key.clone_key();

    // The clone starts a ceremony while the stored counter is still 0.
    let t_clone = password(&s, org, &ada).await;
    let clone_options = s.start_passkey_login(org, &t_clone).await.unwrap();

    // The genuine key signs in: the stored counter moves to 6.
    let t = password(&s, org, &ada).await;
    let options = s.start_passkey_login(org, &t).await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let step = s.finish_passkey_login(org, &t, &assertion).await.unwrap();
    assert!(step.grant().is_some());
    let token = step
        .session()
        .expect("signed in")
        .token
        .expose_secret()
        .to_string();
    assert!(s.authenticate(&token).await.is_ok());
    let told = |s: &Service<S>| {
        accounts::notices(
            s,
            person,
            authcore::store::SecurityNotice::PasskeyCloneSuspected,
        )
    };
    assert_eq!(told(&s), 0);

    // The clone, behind at counter 3, answers its ceremony (whose state saw 0): refused when the
    // use is recorded against the stored 6, and audited.
    clone.set_counter(2);
    let assertion = clone.get(ORIGIN, &clone_options).await.unwrap();
    assert!(matches!(
        s.finish_passkey_login(org, &t_clone, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(
        count(&s, |k| matches!(k, AuditKind::PasskeyCounterRegressed)),
        1
    );
    // Either copy may be the clone: every session of the person ends, and the person is told.
    assert!(s.authenticate(&token).await.is_err(), "signed out");
    assert_eq!(told(&s), 1);
    // And on a new ceremony (whose state saw 6), refused by the verification itself.
    let options = s.start_passkey_login(org, &t_clone).await.unwrap();
    let assertion = clone.get(ORIGIN, &options).await.unwrap();
    assert!(matches!(
        s.finish_passkey_login(org, &t_clone, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(
        count(&s, |k| matches!(k, AuditKind::PasskeyCounterRegressed)),
        2
    );
}

async fn not_offered_without_a_key<S: Store>(store: S) {
    let (s, _) = service(store);
    let ada = unique("ada");
    let up = s.sign_up(&ada, Password::from(PW)).await.unwrap();
    // No factor: the password alone signs in; there is no ticket to present a passkey with.
    let step = s.login_to(up.org, &ada, Password::from(PW)).await.unwrap();
    assert!(step.grant().is_some());
}

on_every_store! {
    signs_in_with_a_key => signs_in_with_a_key,
    refuses_the_bad_paths => bad_paths,
    refuses_a_cloned_key => cloned_key,
    a_password_alone_without_a_key => not_offered_without_a_key,
}

//! E-mail verification, through the service on every store: the link sent at sign-up, the setup
//! link counting as verification, resending, and changing the address (step-up, the new address
//! counting for nothing until verified, the old one notified, the login moved atomically, a
//! taken address refused, the sessions ended).
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
use authcore::policy::{Aal, AuditKind, ResetRequest};
use authcore::store::{AccountTokenPurpose, Delivery, SecurityNotice};
use authcore::{
    BearerToken, LoginStep, LoginStore, MemoryStore, Password, PersonId, ServiceConfig,
    ServiceError,
};

const NEW: &str = "olivia@new.example.org";

fn address_links<S: LoginStore>(s: &Service<S>, to: &str) -> Vec<AccountTokenPurpose> {
    s.backend()
        .notifier
        .deliveries()
        .iter()
        .filter_map(|d| match d {
            Delivery::AddressVerification { purpose, to: t, .. } if t.as_str() == to => {
                Some(*purpose)
            }
            _ => None,
        })
        .collect()
}

async fn verified_at<S: LoginStore>(s: &Service<S>, person: PersonId) -> Option<u64> {
    s.backend()
        .store
        .person(person)
        .await
        .unwrap()
        .unwrap()
        .address_verified_at
}

/// The link sent at sign-up, used once; an expired one; resending; the setup link counting.
async fn verification<S: LoginStore>(new_store: &dyn Fn() -> Pin<Box<dyn Future<Output = S>>>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = founder(&s, OLIVIA).await;
    assert_eq!(
        address_links(&s, OLIVIA),
        [AccountTokenPurpose::VerifyAddress]
    );
    assert_eq!(verified_at(&s, olivia).await, None);
    // Unverified: no reset link.
    s.request_password_reset(OLIVIA, "ip").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Unverified));
    let token = address_token(&s, olivia);
    assert_eq!(s.verify_address(&token).await.unwrap(), olivia);
    assert_eq!(verified_at(&s, olivia).await, Some(clock.now()));
    invalid(s.verify_address(&token).await, "the link again");
    invalid(
        s.complete_password_reset(&token, Password::from(NEW_PW))
            .await,
        "an address link as a reset token",
    );
    s.request_password_reset(OLIVIA, "ip").await.unwrap();
    assert_eq!(last_outcome(&s), (Some(olivia), ResetRequest::Sent));
    assert!(
        events(&s, |k| *k == AuditKind::AddressVerified, olivia).len() == 1,
        "audited once"
    );
    // Verified already: nothing to resend.
    let (grant, _) = sign_in(&s, &clock, org, OLIVIA, None).await;
    assert!(matches!(
        s.send_address_verification(&grant).await,
        Err(ServiceError::AddressAlreadyVerified)
    ));

    // Ada's link expires; she asks for another.
    let (ada_org, ada) = founder(&s, ADA).await;
    let expired = address_token(&s, ada);
    clock.advance(ServiceConfig::DEFAULT_ADDRESS_TTL);
    invalid(s.verify_address(&expired).await, "an expired link");
    assert_eq!(verified_at(&s, ada).await, None);
    let (grant, _) = sign_in(&s, &clock, ada_org, ADA, None).await;
    assert!(
        s.send_address_verification(&grant)
            .await
            .unwrap()
            .is_delivered()
    );
    s.verify_address(&address_token(&s, ada)).await.unwrap();
    assert!(verified_at(&s, ada).await.is_some());

    // A member added by an administrator: completing the setup link verifies the address.
    let (_, og, _) = with_mfa(&s, &clock, org, OLIVIA).await;
    let new = s
        .add_member(&og, "bob@example.com", authcore::policy::Role::User)
        .await
        .unwrap();
    assert_eq!(verified_at(&s, new.person).await, None);
    let setup = s
        .backend()
        .notifier
        .take_last_setup_token(new.person)
        .unwrap();
    s.complete_setup(&BearerToken::parse(&setup).unwrap(), Password::from(PW))
        .await
        .unwrap();
    assert_eq!(verified_at(&s, new.person).await, Some(clock.now()));
    s.request_password_reset("bob@example.com", "ip-bob")
        .await
        .unwrap();
    assert_eq!(last_outcome(&s), (Some(new.person), ResetRequest::Sent));
}

/// Changing the address: step-up, the pending address counts for nothing, the old address is
/// told, the login moves and the sessions end; a taken address.
async fn change_of_address<S: LoginStore>(new_store: &NewStore<S>) {
    let (s, clock) = service(new_store().await);
    let (org, olivia) = verified(&s, OLIVIA).await;
    let (key, grant, _) = with_mfa(&s, &clock, org, OLIVIA).await;

    // Step-up: a grant older than the re-authentication age is refused, and nothing is sent.
    clock.advance(10 * 60);
    let stale = s.change_address(&grant, NEW).await;
    assert!(
        matches!(
            stale,
            Err(ServiceError::Policy(
                authcore::policy::PolicyError::ReauthenticationRequired
            ))
        ),
        "{stale:?}"
    );
    assert!(address_links(&s, NEW).is_empty());
    // Someone else's address, and the current one, are refused.
    let (_, ada) = verified(&s, ADA).await;
    let (grant, session) = sign_in(&s, &clock, org, OLIVIA, Some(&key)).await;
    assert!(matches!(
        s.change_address(&grant, ADA).await,
        Err(ServiceError::LoginTaken)
    ));
    assert!(matches!(
        s.change_address(&grant, OLIVIA).await,
        Err(ServiceError::InvalidLogin)
    ));

    assert!(s.change_address(&grant, NEW).await.unwrap().is_delivered());
    assert_eq!(address_links(&s, NEW), [AccountTokenPurpose::ChangeAddress]);
    assert_eq!(
        notices(&s, olivia, SecurityNotice::AddressChangeRequested),
        1
    );
    // Pending: the new address signs nobody in and gets no reset; the old one still works.
    invalid(
        s.login(NEW, Password::from(PW)).await,
        "the pending address",
    );
    s.request_password_reset(NEW, "ip").await.unwrap();
    assert_eq!(last_outcome(&s), (None, ResetRequest::UnknownLogin));
    assert!(s.authenticate(&session).await.is_ok());
    assert_eq!(
        s.backend()
            .store
            .person(olivia)
            .await
            .unwrap()
            .unwrap()
            .login
            .as_str(),
        OLIVIA
    );

    let token = address_token(&s, olivia);
    assert_eq!(s.verify_address(&token).await.unwrap(), olivia);
    let now = s.backend().store.person(olivia).await.unwrap().unwrap();
    assert_eq!(now.login.as_str(), NEW);
    assert_eq!(now.address_verified_at, Some(clock.now()));
    // The old address is told; the sessions ended; the login is the new address, with MFA.
    assert!(s.backend().notifier.deliveries().iter().any(|d| matches!(
        d,
        Delivery::AddressChanged { person, old } if *person == olivia && old.as_str() == OLIVIA
    )));
    assert!(s.authenticate(&session).await.is_err());
    invalid(s.login(OLIVIA, Password::from(PW)).await, "the old address");
    let step = s.login(NEW, Password::from(PW)).await.unwrap();
    assert!(matches!(step, LoginStep::SecondFactor { .. }), "{step:?}");
    assert_eq!(
        events(&s, |k| *k == AuditKind::AddressChanged, olivia).len(),
        1
    );
    invalid(s.verify_address(&token).await, "the change link again");
    // The old address is free again; the new one is taken.
    assert!(
        s.backend()
            .store
            .person_by_login(OLIVIA)
            .await
            .unwrap()
            .is_none()
    );

    // A change whose address someone takes before it is verified: refused, nothing moves.
    let (grant, _) = sign_in(&s, &clock, org, NEW, Some(&key)).await;
    let _ = s.change_address(&grant, "taken@example.com").await.unwrap();
    let link = address_token(&s, olivia);
    let _ = founder(&s, "taken@example.com").await;
    assert!(matches!(
        s.verify_address(&link).await,
        Err(ServiceError::LoginTaken)
    ));
    assert_eq!(
        s.backend()
            .store
            .person(olivia)
            .await
            .unwrap()
            .unwrap()
            .login
            .as_str(),
        NEW
    );
    assert_eq!(
        events(&s, |k| *k == AuditKind::AddressChangeRefused, olivia).len(),
        1
    );

    // A change link outlived by a password reset (the epoch moved on) is refused.
    let (grant, _) = sign_in(&s, &clock, org, NEW, Some(&key)).await;
    let _ = s.change_address(&grant, "later@example.com").await.unwrap();
    let outlived = address_token(&s, olivia);
    clock.advance(3 * 3600);
    s.request_password_reset(NEW, "ip-x").await.unwrap();
    let reset = reset_token(&s, olivia).unwrap();
    s.complete_password_reset(&reset, Password::from(NEW_PW))
        .await
        .unwrap();
    invalid(
        s.verify_address(&outlived).await,
        "a change link from before a reset",
    );

    // A person without a second factor steps up with a fresh password sign-in (AAL1).
    let ada_org = s.backend().store.organisations_of(ada).await.unwrap()[0];
    let (ada_grant, _) = sign_in(&s, &clock, ada_org, ADA, None).await;
    assert_eq!(ada_grant.aal(), Aal::Aal1);
    assert!(
        s.change_address(&ada_grant, "ada@new.example.org")
            .await
            .is_ok()
    );
    clock.advance(10 * 60);
    assert!(matches!(
        s.change_address(&ada_grant, "ada@other.example.org").await,
        Err(ServiceError::Policy(
            authcore::policy::PolicyError::ReauthenticationRequired
        ))
    ));
}

async fn scenarios<S: LoginStore + 'static>(new_store: &NewStore<S>) {
    verification(new_store).await;
    change_of_address(new_store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn address_verification_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn address_verification_on_sqlite() {
    scenarios(&sqlite_stores()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn address_verification_on_postgres() {
    if pg::skip("address_verification_on_postgres") {
        return;
    }
    scenarios(&postgres_stores("authcore_address")).await;
}

//! Passwordless sign-in with a discoverable passkey, on every store (memory, SQLite, and
//! PostgreSQL when `AUTHCORE_TEST_POSTGRES_URL` is set), through the service against a software
//! authenticator: the same session and grant as a password and a second factor, the attempt
//! spent once, another person's user handle and a credential nobody holds refused and audited,
//! an expired attempt, and an organisation whose policy does not count passkeys.
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
use authcore::otp::Clock;
use authcore::policy::{
    Aal, AuditKind, DenyReason, Factor, LoginOutcome, MfaSettings, PolicyError, Role, SecondFactors,
};
use authcore::{BearerToken, LoginStep, Password, PersonId, ServiceError};
use soft_key::SoftKey;
use support::*;

fn events<S: Store>(
    s: &Service<S>,
    subject: Option<PersonId>,
    what: fn(&AuditKind) -> bool,
) -> usize {
    s.backend()
        .audit
        .events()
        .iter()
        .filter(|e| e.subject == subject && what(&e.what))
        .count()
}

async fn signs_in_without_a_password<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (org, person, mut key) = with_key(&s, &ada).await;
    clock.advance(30);
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let o: serde_json::Value = serde_json::from_str(&options).unwrap();
    assert_eq!(o["publicKey"]["userVerification"], "required");
    assert!(
        o["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{o}"
    );
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let step = s
        .finish_passwordless_login_to(org, &attempt, &assertion)
        .await
        .unwrap();
    let opened = step.into_session().expect("signed in");
    assert_eq!(opened.grant.person(), person);
    assert_eq!(opened.grant.aal(), Aal::Aal2);
    assert!(
        opened
            .grant
            .factors()
            .contains(Factor::Second(FactorKind::Passkey))
    );
    assert!(opened.grant.factors().contains(Factor::UserVerified));
    assert!(!opened.grant.factors().contains(Factor::Password));
    let again = s.authenticate(&opened.token.expose_secret()).await.unwrap();
    assert_eq!(again.aal(), Aal::Aal2);
    // The use is recorded.
    assert!(s.passkeys(&again).await.unwrap()[0].last_used_at.is_some());
    // Replayed: the attempt is spent, and a new attempt has another challenge.
    assert!(matches!(
        s.finish_passwordless_login_to(org, &attempt, &assertion)
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    let (_, second) = s.start_passwordless_login().await.unwrap();
    assert!(matches!(
        s.finish_passwordless_login_to(org, &second, &assertion)
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    // An expired attempt.
    let (options, late) = s.start_passwordless_login().await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    clock.advance(authcore::service::PASSKEY_CEREMONY_TTL);
    assert!(matches!(
        s.finish_passwordless_login_to(org, &late, &assertion).await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(
        events(&s, None, |k| matches!(k, AuditKind::PasswordlessRefused)),
        2
    );
    assert_eq!(
        events(&s, Some(person), |k| matches!(
            k,
            AuditKind::CredentialRejected { .. }
        )),
        1
    );
}

async fn another_persons_handle_is_refused<S: Store>(store: S) {
    let (s, _) = service(store);
    let (ada, eve) = (unique("ada"), unique("eve"));
    let (org, _, mut ada_key) = with_key(&s, &ada).await;
    let (_, _, mut eve_key) = with_key(&s, &eve).await;
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let eves: serde_json::Value =
        serde_json::from_str(&eve_key.get(ORIGIN, &options).await.unwrap()).unwrap();
    let mut adas: serde_json::Value =
        serde_json::from_str(&ada_key.get(ORIGIN, &options).await.unwrap()).unwrap();
    // Ada's assertion under Eve's user handle.
    adas["response"]["userHandle"] = eves["response"]["userHandle"].clone();
    assert!(matches!(
        s.finish_passwordless_login_to(org, &attempt, &adas.to_string())
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    // A credential nobody holds.
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let mut stranger = SoftKey::default();
    let mut unknown: serde_json::Value =
        serde_json::from_str(&ada_key.get(ORIGIN, &options).await.unwrap()).unwrap();
    unknown["id"] = "AAAAAAAAAAAAAAAAAAAAAA".into();
    unknown["rawId"] = "AAAAAAAAAAAAAAAAAAAAAA".into();
    let _ = &mut stranger;
    assert!(matches!(
        s.finish_passwordless_login_to(org, &attempt, &unknown.to_string())
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    assert_eq!(
        events(&s, None, |k| matches!(k, AuditKind::PasswordlessRefused)),
        2
    );
}

async fn refused_where_passkeys_do_not_count<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let up = s.sign_up(&ada, Password::from(PW)).await.unwrap();
    let org = up.org;
    let grant = sign_in(&s, &clock, org, &ada, None).await;
    let app = enrol(&s, &clock, &grant).await;
    let grant = sign_in(&s, &clock, org, &ada, Some(&app)).await;
    let mut key = SoftKey::default();
    let options = s
        .start_passkey_registration(&grant, "YubiKey")
        .await
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    let _ = s
        .finish_passkey_registration(&grant, &response)
        .await
        .unwrap();
    let grant = sign_in(&s, &clock, org, &ada, Some(&app)).await;
    s.set_mfa_policy(
        &grant,
        MfaSettings::enforced(
            SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode),
            0,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let asked = |s: &Service<S>| {
        events(s, Some(grant.person()), |k| {
            matches!(
                k,
                AuditKind::Login {
                    outcome: LoginOutcome::SecondFactorRequired
                }
            )
        })
    };
    let before = asked(&s);
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let refused = s
        .finish_passwordless_login_to(org, &attempt, &assertion)
        .await;
    assert!(
        matches!(refused, Err(ServiceError::FactorUnavailable)),
        "{refused:?}"
    );
    // The decision is audited: the login would have needed another factor.
    assert_eq!(asked(&s), before + 1);
}

async fn refused_for_a_deactivated_member<S: Store>(store: S) {
    let (s, clock) = service(store);
    let (olivia, uma) = (unique("olivia"), unique("uma"));
    let (org, _, okey, og) = with_app(&s, &clock, &olivia).await;
    let new = s.add_member(&og, &uma, Role::User).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(org, &uma, Password::from(temp.as_str()))
        .await
        .unwrap();
    let step = s
        .change_password_at_login(org, &ticket(&step), Password::from(PW))
        .await
        .unwrap();
    let ug = step.into_session().expect("signed in").grant;
    let mut key = SoftKey::default();
    let options = s.start_passkey_registration(&ug, "YubiKey").await.unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    let _ = s.finish_passkey_registration(&ug, &response).await.unwrap();
    s.acknowledge_passkey(&ug).await.unwrap();
    let og = sign_in(&s, &clock, org, &olivia, Some(&okey)).await;
    s.deactivate_member(&og, new.person).await.unwrap();
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let refused = s
        .finish_passwordless_login_to(org, &attempt, &assertion)
        .await;
    assert!(
        matches!(refused, Err(ServiceError::Deactivated)),
        "{refused:?}"
    );
    // Audited as the password sign-in's denial is.
    assert_eq!(
        events(&s, Some(new.person), |k| matches!(
            k,
            AuditKind::Login {
                outcome: LoginOutcome::Denied(DenyReason::Deactivated)
            }
        )),
        1
    );
    // Through the organisation found from the credential too.
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let refused = s.finish_passwordless_login(&attempt, &assertion).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(
        events(&s, Some(new.person), |k| matches!(
            k,
            AuditKind::Login {
                outcome: LoginOutcome::Denied(_)
            }
        )) >= 2
    );
}

/// Passwordless sign-in passes a passkey assertion to `finish_passwordless_login`, no
/// organisation named.
async fn passwordless<S: Store>(
    s: &Service<S>,
    key: &mut SoftKey,
) -> Result<LoginStep, ServiceError> {
    let (options, attempt) = s.start_passwordless_login().await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    s.finish_passwordless_login(&attempt, &assertion).await
}

async fn finds_the_organisation<S: Store>(store: S) {
    let (s, clock) = service(store);
    let (ada, bob) = (unique("ada"), unique("bob"));
    let (a, person, mut key) = with_key(&s, &ada).await;
    // In one organisation: straight on, with the passkey's factors.
    let step = passwordless(&s, &mut key).await.unwrap();
    let opened = step
        .into_session()
        .expect("signed in to her one organisation");
    assert_eq!(opened.grant.org(), a);
    assert!(opened.grant.factors().contains(Factor::UserVerified));
    // Invited to Bob's organisation too: she chooses.
    let (b, _, app, bobs) = with_app(&s, &clock, &bob).await;
    s.invite_member(&bobs, &ada, Role::User).await.unwrap();
    let token = s
        .backend()
        .notifier
        .take_last_invitation_token(person)
        .expect("an invitation delivered");
    let token = BearerToken::parse(&token).unwrap();
    assert_eq!(s.accept_invitation(&opened.grant, &token).await.unwrap(), b);
    clock.advance(30);
    let step = passwordless(&s, &mut key).await.unwrap();
    let LoginStep::ChooseOrganisation { organisations, .. } = &step else {
        panic!("two organisations: {step:?}")
    };
    let mut both = vec![a, b];
    both.sort();
    assert_eq!(organisations, &both);
    assert_eq!(step.org(), None);
    assert_eq!(
        events(&s, Some(person), |k| matches!(
            k,
            AuditKind::Login {
                outcome: LoginOutcome::OrganisationChoiceRequired
            }
        )),
        1
    );
    let choice = ticket(&step);
    // An organisation not hers: refused, and the ticket stays for another choice.
    let eve = s.sign_up(&unique("eve"), Password::from(PW)).await.unwrap();
    let other = s.choose_organisation(&choice, eve.org).await;
    assert!(
        matches!(other, Err(ServiceError::InvalidCredentials)),
        "{other:?}"
    );
    let chosen = s.choose_organisation(&choice, b).await.unwrap();
    let opened = chosen.into_session().expect("signed in to the one chosen");
    assert_eq!(opened.grant.org(), b);
    assert_eq!(opened.grant.aal(), Aal::Aal2);
    assert!(opened.grant.factors().contains(Factor::UserVerified));
    assert!(
        opened
            .grant
            .factors()
            .contains(Factor::Second(FactorKind::Passkey))
    );
    assert!(!opened.grant.factors().contains(Factor::Password));
    // The choice was spent with it.
    assert!(matches!(
        s.choose_organisation(&choice, a).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // Where one of them would not sign her in with a passkey (Bob's now counts only the app),
    // straight on into the other.
    let bobs = sign_in(&s, &clock, b, &bob, Some(&app)).await;
    s.set_mfa_policy(
        &bobs,
        MfaSettings::enforced(
            SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode),
            0,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let step = passwordless(&s, &mut key).await.unwrap();
    assert_eq!(step.org(), Some(a), "{step:?}");
    assert!(step.session().is_some(), "{step:?}");
}

async fn steps_up_with_a_verifying_passkey_alone<S: Store>(store: S) {
    let (s, clock) = service(store);
    let ada = unique("ada");
    let (_, _, mut key) = with_key(&s, &ada).await;
    let opened = passwordless(&s, &mut key)
        .await
        .unwrap()
        .into_session()
        .expect("signed in");
    let window = s.config().enrollment().reauth_max_age();
    clock.advance(window + 1);
    let token = opened.token.expose_secret().to_owned();
    let stale = s.authenticate(&token).await.unwrap();
    assert!(stale.require_fresh(clock.now(), window, Aal::Aal2).is_err());
    // The passkey verified her: it steps the session up alone, and the token rotates.
    let options = s.start_passkey_reauthentication(&token).await.unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let fresh = s
        .reauthenticate_session_with_verified_passkey(&token, &assertion)
        .await
        .unwrap();
    assert!(
        fresh
            .grant
            .require_fresh(clock.now(), window, Aal::Aal2)
            .is_ok()
    );
    assert!(fresh.grant.factors().contains(Factor::UserVerified));
    assert!(!fresh.grant.factors().contains(Factor::Password));
    assert!(s.authenticate(&token).await.is_err(), "the old token ended");
    let token = fresh.token.expose_secret().to_owned();
    // The same assertion again: its ceremony is spent.
    assert!(matches!(
        s.reauthenticate_session_with_verified_passkey(&token, &assertion)
            .await,
        Err(ServiceError::InvalidCredentials)
    ));
    // A second key that only ever is touched (no PIN): alone it is one factor.
    let mut touch = SoftKey::touch_only();
    let options = s
        .start_passkey_registration(&fresh.grant, "Touch")
        .await
        .unwrap();
    let response = touch.create(ORIGIN, &options).await.unwrap();
    let _ = s
        .finish_passkey_registration(&fresh.grant, &response)
        .await
        .unwrap();
    clock.advance(window + 1);
    let options = s.start_passkey_reauthentication(&token).await.unwrap();
    let assertion = touch.get(ORIGIN, &options).await.unwrap();
    let refused = s
        .reauthenticate_session_with_verified_passkey(&token, &assertion)
        .await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ),
        "{refused:?}"
    );
    let still = s.authenticate(&token).await.unwrap();
    assert!(still.require_fresh(clock.now(), window, Aal::Aal2).is_err());
    // With the password it steps up.
    let options = s.start_passkey_reauthentication(&token).await.unwrap();
    let assertion = touch.get(ORIGIN, &options).await.unwrap();
    let fresh = s
        .reauthenticate_session_with_passkey(&token, Password::from(PW), &assertion)
        .await
        .unwrap();
    assert!(
        fresh
            .grant
            .require_fresh(clock.now(), window, Aal::Aal2)
            .is_ok()
    );
    assert!(fresh.grant.factors().contains(Factor::Password));
    assert!(!fresh.grant.factors().contains(Factor::UserVerified));
}

on_every_store! {
    signs_in_without_a_password => signs_in_without_a_password,
    another_persons_user_handle_is_refused => another_persons_handle_is_refused,
    refused_where_the_organisation_does_not_count_passkeys => refused_where_passkeys_do_not_count,
    refused_for_a_deactivated_member => refused_for_a_deactivated_member,
    finds_the_organisation_as_a_password_login_does => finds_the_organisation,
    steps_up_with_a_verifying_passkey_alone => steps_up_with_a_verifying_passkey_alone,
}

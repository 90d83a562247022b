//! Server-side sessions through the service, on every store: a session opened after a login
//! stands until something ends it, and each revocation trigger ends it — a password change, MFA
//! turned on, MFA turned off, a phone added, a member deactivated, "sign out everywhere" — while
//! "sign out everywhere else" keeps the current one, a role change is seen at the next request
//! (roles are re-read, not frozen in the session), and the timeouts end it too.
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

#[path = "support/doubles.rs"]
mod doubles;

#[path = "support/accounts.rs"]
mod accounts;
use accounts::*;
#[path = "support/stores.rs"]
mod stores;
use stores::*;

use authcore::credential::PhoneNumber;
use authcore::otp::{Clock, ManualClock, SecretKey};
use authcore::policy::{
    Aal, Account, AuditKind, AuthenticatorName, EnrollmentConfig, EnrollmentPurpose, LoginProgress,
    Permission, PolicyError, Resource, Role, SessionConfig, SessionLabels, SessionRefused,
    login_decision,
};
use authcore::{
    Grant, LoginStep, LoginStore, MemoryStore, OrgId, Password, PersonId, ServiceError,
};

const OWNER_PW: &str = "correct horse battery staple 42";
const NEW_PW: &str = "another long passphrase 77";
const MEMBER_PW: &str = "member passphrase of some length";

/// The owner, signed up and signed in with the password, and the session that login opened.
async fn owner<S: LoginStore>(s: &Service<S>) -> (OrgId, Grant, String) {
    let up = s
        .sign_up("olivia@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let step = s
        .login_to(up.org, "olivia@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let opened = step.into_session().expect("signed in");
    let token = opened.token.expose_secret().to_string();
    (up.org, opened.grant, token)
}

/// Another session of the grant's person (the owner or Uma, by password alone): a new login,
/// labelled with where it was opened.
async fn session_for<S: LoginStore>(s: &Service<S>, grant: &Grant) -> String {
    let (login, password) = if grant.role() == Role::Owner {
        ("olivia@example.com", OWNER_PW)
    } else {
        ("uma@example.com", MEMBER_PW)
    };
    let step = s
        .login_to(grant.org(), login, Password::from(password))
        .await
        .unwrap();
    let token = step
        .session()
        .expect("a password-only login")
        .token
        .expose_secret()
        .to_string();
    let labels = SessionLabels::new()
        .with_user_agent("Firefox on Linux")
        .with_ip("192.0.2.1");
    s.label_session(&token, &labels).await.unwrap();
    token
}

/// A session of the owner who has an authenticator: password and a code from the app.
async fn session_with_code<S: LoginStore>(
    s: &Service<S>,
    clock: &ManualClock,
    org: OrgId,
    key: &SecretKey,
) -> (Grant, String) {
    clock.advance(30);
    let step = s
        .login_to(org, "olivia@example.com", Password::from(OWNER_PW))
        .await
        .unwrap();
    let step = s
        .verify_totp(org, &ticket(&step), &code(key, clock.now()))
        .await
        .unwrap();
    let opened = step.into_session().expect("signed in at AAL2");
    (opened.grant, opened.token.expose_secret().to_string())
}

/// Adds a member and walks them through the temporary password; returns their id and grant.
async fn member<S: LoginStore>(s: &Service<S>, grant: &Grant) -> (PersonId, Grant) {
    let new = s
        .add_member(grant, "uma@example.com", Role::User)
        .await
        .unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s
        .login_to(
            grant.org(),
            "uma@example.com",
            Password::from(temp.as_str()),
        )
        .await
        .unwrap();
    let step = s
        .change_password_at_login(grant.org(), &ticket(&step), Password::from(MEMBER_PW))
        .await
        .unwrap();
    (new.person, *step.grant().expect("signed in"))
}

/// Every scenario, run against one store.
async fn scenarios<S: LoginStore + 'static>(new_store: &NewStore<S>) {
    // A session stands, is listed, and is signed out.
    {
        let (s, clock) = service(new_store().await);
        let (_, grant, token) = owner(&s).await;
        let got = s.authenticate(&token).await.unwrap();
        assert_eq!(got.person(), grant.person());
        assert_eq!(got.role(), Role::Owner);
        let listed = s.sessions(&token).await.unwrap();
        assert_eq!(listed.len(), 1, "the login opened one");
        assert_eq!(listed[0].labels.user_agent(), None);
        let labelled = session_for(&s, &grant).await;
        let listed = s.sessions(&token).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|l| {
            l.labels.user_agent() == Some("Firefox on Linux") && l.labels.ip() == Some("192.0.2.1")
        }));
        s.sign_out(&labelled).await.unwrap();
        clock.advance(120);
        assert!(s.authenticate(&token).await.is_ok(), "touched");
        s.sign_out(&token).await.unwrap();
        assert!(matches!(
            s.authenticate(&token).await,
            Err(ServiceError::Session(SessionRefused::Revoked))
        ));
        assert!(matches!(
            s.authenticate("not a token").await,
            Err(ServiceError::Session(SessionRefused::Revoked))
        ));
    }
    // A login started before a bump never yields a session; one started after it does.
    {
        let (s, clock) = service(new_store().await);
        let (org, grant, _) = owner(&s).await;
        let key = enrol(&s, &clock, &grant).await;
        clock.advance(30);
        let early = s
            .login_to(org, "olivia@example.com", Password::from(OWNER_PW))
            .await
            .unwrap();
        assert!(matches!(early, LoginStep::SecondFactor { .. }), "{early:?}");
        let other = s
            .login_to(org, "olivia@example.com", Password::from(OWNER_PW))
            .await
            .unwrap();
        let done = s
            .verify_totp(org, &ticket(&other), &code(&key, clock.now()))
            .await
            .unwrap();
        let opened = done.into_session().expect("granted");
        let token = opened.token.expose_secret().to_string();
        assert_eq!(s.authenticate(&token).await.unwrap().aal(), Aal::Aal2);
        s.sign_out_everywhere(&token, false).await.unwrap();
        ended(s.authenticate(&token).await, "signed out everywhere");
        clock.advance(30);
        assert!(matches!(
            s.verify_totp(org, &ticket(&early), &code(&key, clock.now()))
                .await,
            Err(ServiceError::Session(SessionRefused::StaleEpoch))
        ));
        let late = s
            .login_to(org, "olivia@example.com", Password::from(OWNER_PW))
            .await
            .unwrap();
        clock.advance(30);
        let done = s
            .verify_totp(org, &ticket(&late), &code(&key, clock.now()))
            .await
            .unwrap();
        let token = done.session().unwrap().token.expose_secret().to_string();
        assert!(
            s.authenticate(&token).await.is_ok(),
            "a login after the bump"
        );
    }
    // A password change at login bumps the epoch (audited); the login goes on to a session at
    // the new epoch, and a login started before it is stale.
    {
        let (s, clock) = service(new_store().await);
        let (org, first, _) = owner(&s).await;
        let key = enrol(&s, &clock, &first).await;
        clock.advance(30);
        let step = s
            .login_to(org, "olivia@example.com", Password::from(OWNER_PW))
            .await
            .unwrap();
        let step = s
            .verify_totp(org, &ticket(&step), &code(&key, clock.now()))
            .await
            .unwrap();
        let grant = *step.grant().expect("signed in at AAL2");
        let bumps = |who: PersonId| {
            s.backend()
                .audit
                .events()
                .iter()
                .filter(|e| {
                    e.subject == Some(who)
                        && matches!(e.what, AuditKind::SecurityEpochBumped { .. })
                })
                .count()
        };
        let new = s
            .add_member(&grant, "uma@example.com", Role::User)
            .await
            .unwrap();
        let temp = new.temporary_password.expose_secret().to_owned();
        let early = s
            .login_to(org, "uma@example.com", Password::from(temp.as_str()))
            .await
            .unwrap();
        let step = s
            .login_to(org, "uma@example.com", Password::from(temp.as_str()))
            .await
            .unwrap();
        let before = bumps(new.person);
        let done = s
            .change_password_at_login(org, &ticket(&step), Password::from(MEMBER_PW))
            .await
            .unwrap();
        assert_eq!(
            bumps(new.person),
            before + 2,
            "the password change at login, before the write and after it"
        );
        let token = done.session().unwrap().token.expose_secret().to_string();
        assert!(s.authenticate(&token).await.is_ok(), "at the new epoch");
        assert!(
            s.change_password_at_login(org, &ticket(&early), Password::from(NEW_PW))
                .await
                .is_err(),
            "a login started before the change"
        );
    }
    // A password change ends every session.
    {
        let (s, _) = service(new_store().await);
        let (_, grant, token) = owner(&s).await;
        s.change_password(&grant, Password::from(OWNER_PW), Password::from(NEW_PW))
            .await
            .unwrap();
        ended(s.authenticate(&token).await, "after a password change");
    }
    // A password change inside a session keeps that session (a new token) and ends the others.
    {
        let (s, _) = service(new_store().await);
        let (_, grant, token) = owner(&s).await;
        let other = session_for(&s, &grant).await;
        let kept = s
            .change_password_in_session(&token, Password::from(OWNER_PW), Password::from(NEW_PW))
            .await
            .unwrap();
        let kept = kept.token.expose_secret().to_string();
        assert_eq!(
            s.authenticate(&kept).await.unwrap().person(),
            grant.person()
        );
        ended(s.authenticate(&token).await, "the token before the change");
        ended(s.authenticate(&other).await, "another session");
        assert_eq!(s.sessions(&kept).await.unwrap().len(), 1);
    }
    // Turning MFA on (an authenticator added) ends every other session; the one it was turned
    // on in stays, at its assurance level.
    {
        let (s, clock) = service(new_store().await);
        let (_, grant, token) = owner(&s).await;
        let other = session_for(&s, &grant).await;
        let _key = enrol(&s, &clock, &grant).await;
        ended(s.authenticate(&other).await, "after MFA was turned on");
        assert_eq!(
            s.authenticate(&token).await.unwrap().aal(),
            Aal::Aal1,
            "the session MFA was turned on in"
        );
    }
    // Turning MFA off ends every session.
    {
        let (s, clock) = service(new_store().await);
        let (org, grant, _) = owner(&s).await;
        let key = enrol(&s, &clock, &grant).await;
        let (_, token) = session_with_code(&s, &clock, org, &key).await;
        let (_, other) = session_with_code(&s, &clock, org, &key).await;
        assert!(s.authenticate(&token).await.is_ok());
        clock.advance(30);
        let fresh = s
            .reauthenticate_session(&token, Password::from(OWNER_PW), &code(&key, clock.now()))
            .await
            .unwrap();
        ended(s.authenticate(&token).await, "the token before the step-up");
        s.disable_mfa(&fresh.grant).await.unwrap();
        ended(
            s.authenticate(&fresh.token.expose_secret()).await,
            "the session MFA was turned off in (it rested on the app)",
        );
        ended(s.authenticate(&other).await, "after MFA was turned off");
    }
    // A phone added as a factor ends every other session; the one it was added in stays.
    {
        let (s, _) = service(new_store().await);
        let (_, grant, token) = owner(&s).await;
        let other = session_for(&s, &grant).await;
        let phone = PhoneNumber::parse("+15555550100").unwrap();
        s.start_phone_verification(&grant, &phone).await.unwrap();
        let sent = s
            .backend()
            .notifier
            .take_last_code(grant.person())
            .expect("a code was sent");
        s.confirm_phone(&grant, &sent).await.unwrap();
        ended(s.authenticate(&other).await, "after a phone was added");
        assert!(
            s.authenticate(&token).await.is_ok(),
            "the session the phone was added in"
        );
    }
    // Removing the phone ends every session, the one it was removed in too (it may rest on
    // the phone); replacing the recovery codes ends the others and keeps this one.
    {
        let (s, clock) = service(new_store().await);
        let (org, grant, _) = owner(&s).await;
        let key = enrol(&s, &clock, &grant).await;
        let (aal2, here) = session_with_code(&s, &clock, org, &key).await;
        let (_, there) = session_with_code(&s, &clock, org, &key).await;
        s.regenerate_recovery_codes(&aal2).await.unwrap();
        ended(
            s.authenticate(&there).await,
            "after the recovery codes were replaced",
        );
        assert!(
            s.authenticate(&here).await.is_ok(),
            "the session they were replaced in"
        );
        let phone = PhoneNumber::parse("+15555550100").unwrap();
        s.start_phone_verification(&aal2, &phone).await.unwrap();
        let sent = s
            .backend()
            .notifier
            .take_last_code(aal2.person())
            .expect("a code was sent");
        s.confirm_phone(&aal2, &sent).await.unwrap();
        let (_, there) = session_with_code(&s, &clock, org, &key).await;
        s.remove_phone(&aal2).await.unwrap();
        ended(s.authenticate(&there).await, "after the phone was removed");
        ended(
            s.authenticate(&here).await,
            "the session the phone was removed in",
        );
    }
    // Deactivating a member ends their sessions; a role change is seen at the next request.
    {
        let (s, clock) = service(new_store().await);
        let (org, grant, _) = owner(&s).await;
        let key = enrol(&s, &clock, &grant).await;
        clock.advance(30);
        let step = s
            .login_to(org, "olivia@example.com", Password::from(OWNER_PW))
            .await
            .unwrap();
        let step = s
            .verify_totp(org, &ticket(&step), &code(&key, clock.now()))
            .await
            .unwrap();
        let owner_again = *step.grant().expect("signed in at AAL2");
        let (uma, uma_grant) = member(&s, &owner_again).await;
        let uma_token = session_for(&s, &uma_grant).await;
        assert_eq!(s.authenticate(&uma_token).await.unwrap().role(), Role::User);
        s.change_role(&owner_again, uma, Role::Admin).await.unwrap();
        assert_eq!(
            s.authenticate(&uma_token).await.unwrap().role(),
            Role::Admin,
            "roles are re-read on every check"
        );
        s.deactivate_member(&owner_again, uma).await.unwrap();
        ended(s.authenticate(&uma_token).await, "after deactivation");
    }
    // "Sign out everywhere else" keeps this session; "everywhere" ends it too.
    {
        let (s, _) = service(new_store().await);
        let (_, grant, here) = owner(&s).await;
        let there = session_for(&s, &grant).await;
        assert_eq!(s.sessions(&here).await.unwrap().len(), 2);
        s.sign_out_everywhere(&here, true).await.unwrap();
        assert!(s.authenticate(&here).await.is_ok(), "this session stays");
        ended(s.authenticate(&there).await, "the other session");
        assert_eq!(s.sessions(&here).await.unwrap().len(), 1);
        s.sign_out_everywhere(&here, false).await.unwrap();
        ended(s.authenticate(&here).await, "signed out everywhere");
        let kinds: Vec<AuditKind> = s
            .backend()
            .audit
            .events()
            .iter()
            .map(|e| e.what)
            .filter(|k| {
                matches!(
                    k,
                    AuditKind::OtherSessionsRevoked
                        | AuditKind::AllSessionsRevoked
                        | AuditKind::SecurityEpochBumped { .. }
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                AuditKind::SecurityEpochBumped { epoch: 1 },
                AuditKind::OtherSessionsRevoked,
                AuditKind::SecurityEpochBumped { epoch: 2 },
                AuditKind::AllSessionsRevoked,
            ]
        );
        // The grant of the ended session acts no more; a new login stands.
        ended(
            s.change_password(&grant, Password::from(OWNER_PW), Password::from(NEW_PW))
                .await,
            "a grant of an ended session",
        );
        let again = session_for(&s, &grant).await;
        assert!(s.authenticate(&again).await.is_ok());
    }
    // Revoking one listed session by its id.
    {
        let (s, _) = service(new_store().await);
        let (_, grant, here) = owner(&s).await;
        let there = session_for(&s, &grant).await;
        let id = s.authenticate(&there).await.unwrap().session().unwrap();
        assert!(
            s.sessions(&here)
                .await
                .unwrap()
                .iter()
                .any(|l| l.record.id == id)
        );
        assert!(s.revoke_session(&here, id).await.unwrap());
        let revoked = |s: &Service<S>| {
            s.backend()
                .audit
                .events()
                .iter()
                .filter(|e| e.what == AuditKind::SessionRevoked)
                .count()
        };
        assert_eq!(revoked(&s), 1, "the revocation is audited");
        assert!(matches!(
            s.authenticate(&there).await,
            Err(ServiceError::Session(SessionRefused::Revoked))
        ));
        assert!(s.authenticate(&here).await.is_ok(), "the other one stays");
        assert!(!s.revoke_session(&here, id).await.unwrap());
        s.sign_out(&here).await.unwrap();
        assert_eq!(revoked(&s), 2, "so is signing out");
    }
    // Confirming the first authenticator inside a session raises it to AAL2 (a new token), so
    // the newcomer can enforce MFA at once; other sessions end. Re-authenticating in the
    // session rotates the token again and makes it fresh.
    {
        let (s, clock) = service(new_store().await);
        let (_, grant, token) = owner(&s).await;
        let elsewhere = session_for(&s, &grant).await;
        let setup = s
            .start_enrollment(
                &grant,
                EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap()),
            )
            .await
            .unwrap();
        let key = SecretKey::from_base32(&setup.manual_key()).unwrap();
        let _codes = s
            .confirm_enrollment(&grant, &code(&key, clock.now()))
            .await
            .unwrap();
        let (_, raised) = s.acknowledge_enrollment_in_session(&token).await.unwrap();
        assert_eq!(raised.grant.aal(), Aal::Aal2);
        assert!(
            matches!(
                s.authenticate(&token).await,
                Err(ServiceError::Session(SessionRefused::Revoked))
            ),
            "the token rotated"
        );
        ended(s.authenticate(&elsewhere).await, "the other session");
        let new_token = raised.token.expose_secret().to_string();
        let aal2 = s.require_fresh(&new_token, 300, Aal::Aal2).await.unwrap();
        s.set_mfa_policy(
            &aal2,
            authcore::policy::MfaSettings::enforced(
                authcore::policy::MfaSettings::DEFAULT_FACTORS,
                0,
            )
            .unwrap(),
        )
        .await
        .unwrap();
        clock.advance(600);
        assert!(matches!(
            s.require_fresh(&new_token, 300, Aal::Aal2).await,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ));
        let again = s
            .reauthenticate_session(
                &new_token,
                Password::from(OWNER_PW),
                &code(&key, clock.now()),
            )
            .await
            .unwrap();
        let newest = again.token.expose_secret().to_string();
        assert!(s.require_fresh(&newest, 300, Aal::Aal2).await.is_ok());
        assert!(s.authenticate(&new_token).await.is_err(), "rotated again");
    }
    // A grant is a view of its session: the pure core's grants name none and act on nothing,
    // a grant "refreshed" in memory gains nothing, and a grant of a revoked session is refused.
    {
        let (s, clock) = service(new_store().await);
        let (org, grant, token) = owner(&s).await;
        assert_eq!(
            s.authenticate(&token).await.unwrap().session(),
            grant.session(),
            "the login's grant names its session"
        );
        let organisation = s.organisation(org).await.unwrap();
        let progress = LoginProgress::password_verified(grant.person(), org, clock.now());
        let forged = *login_decision(
            &Account::new(grant.person()),
            organisation.member(grant.person()),
            organisation.policy(),
            &progress,
            clock.now(),
        )
        .grant()
        .expect("the pure core allows a password-only login");
        assert_eq!(forged.session(), None);
        let revoked = |r: Result<(), ServiceError>| {
            matches!(r, Err(ServiceError::Session(SessionRefused::Revoked)))
        };
        assert!(revoked(
            s.authorize(&forged, &Permission::ManageMembers, &Resource::of_org(org))
                .await
        ));
        assert!(revoked(
            s.change_password(&forged, Password::from(OWNER_PW), Password::from(NEW_PW))
                .await
        ));
        assert!(
            s.add_member(&forged, "mallory@example.com", Role::Admin)
                .await
                .is_err(),
            "a forged grant adds nobody"
        );
        // The owner enrols; a stale AAL2 grant refreshed in memory is still stale.
        let key = enrol(&s, &clock, &grant).await;
        let (aal2, aal2_token) = session_with_code(&s, &clock, org, &key).await;
        clock.advance(SessionConfig::MAX_AAL2_IDLE / 2);
        assert!(s.authenticate(&aal2_token).await.is_ok());
        let refreshed = aal2.reauthenticated(aal2.factors(), clock.now());
        assert!(refreshed.is_fresh(clock.now(), 60), "fresh in memory");
        assert!(matches!(
            s.disable_mfa(&refreshed).await,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ));
        assert!(s.authenticate(&aal2_token).await.is_ok(), "nothing changed");
        // Signing the session out ends its grant too.
        s.sign_out(&aal2_token).await.unwrap();
        assert!(revoked(
            s.authorize(&aal2, &Permission::ViewJobs, &Resource::of_org(org))
                .await
        ));
        // Labels name where a session was opened; a dead token labels nothing.
        s.label_session(&token, &SessionLabels::new().with_user_agent("Lynx"))
            .await
            .unwrap();
        let listed = s.sessions(&token).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].labels.user_agent(), Some("Lynx"));
        assert_eq!(listed[0].labels.ip(), None, "a new label replaces the old");
        assert!(matches!(
            s.label_session(&aal2_token, &SessionLabels::new()).await,
            Err(ServiceError::Session(SessionRefused::Revoked))
        ));
    }
    // A first factor is bound only from a fresh session: once the password is older than the
    // re-authentication window, a password-only session re-enters it (alone: an empty code;
    // a code for an app it does not have is refused) before it may add an app or a phone.
    {
        let (s, clock) = service(new_store().await);
        let (_, grant, token) = owner(&s).await;
        let app = || EnrollmentPurpose::Add(AuthenticatorName::new("phone").unwrap());
        let phone = PhoneNumber::parse("+15555550100").unwrap();
        let stale = |r: &Result<_, ServiceError>| {
            matches!(
                r,
                Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
            )
        };
        // The last second of the window is still fresh; the next is not.
        clock.advance(EnrollmentConfig::DEFAULT_REAUTH_MAX_AGE);
        assert!(s.start_phone_verification(&grant, &phone).await.is_ok());
        clock.advance(1);
        let r = s.start_enrollment(&grant, app()).await.map(|_| ());
        assert!(stale(&r), "{r:?}");
        let r = s.start_phone_verification(&grant, &phone).await;
        assert!(stale(&r), "{r:?}");
        let r = s
            .reauthenticate_session(&token, Password::from(OWNER_PW), "123456")
            .await
            .map(|_| ());
        assert!(matches!(r, Err(ServiceError::InvalidCredentials)), "{r:?}");
        let r = s
            .reauthenticate_session(&token, Password::from(NEW_PW), "")
            .await
            .map(|_| ());
        assert!(matches!(r, Err(ServiceError::InvalidCredentials)), "{r:?}");
        let fresh = s
            .reauthenticate_session(&token, Password::from(OWNER_PW), "")
            .await
            .unwrap();
        assert_eq!(fresh.grant.aal(), Aal::Aal1);
        ended(s.authenticate(&token).await, "the token before the step-up");
        assert!(s.start_enrollment(&fresh.grant, app()).await.is_ok());
    }
    // Idle and absolute timeouts; freshness.
    {
        let (s, clock) = service(new_store().await);
        let (_, grant, token) = owner(&s).await;
        assert!(s.require_fresh(&token, 300, Aal::Aal1).await.is_ok());
        assert!(matches!(
            s.require_fresh(&token, 300, Aal::Aal2).await,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ));
        clock.advance(301);
        assert!(matches!(
            s.require_fresh(&token, 300, Aal::Aal1).await,
            Err(ServiceError::Policy(PolicyError::ReauthenticationRequired))
        ));
        clock.advance(SessionConfig::MAX_AAL1_LIFETIME);
        assert!(matches!(
            s.authenticate(&token).await,
            Err(ServiceError::Session(SessionRefused::Expired))
        ));
        let pruned = s.prune_sessions().await.unwrap();
        assert_eq!(pruned.sessions, 1);
        assert_eq!(grant.aal(), Aal::Aal1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_trigger_ends_sessions_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_trigger_ends_sessions_on_sqlite() {
    scenarios(&sqlite_stores()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn every_trigger_ends_sessions_on_postgres() {
    if pg::skip("every_trigger_ends_sessions_on_postgres") {
        return;
    }
    scenarios(&postgres_stores("authcore_sessions")).await;
}

/// A password change ends the other sessions before it writes the new password, and again
/// after: a crash between the writes leaves no session (a stolen one, say) on the old password,
/// and a login with the old password that completes in between ends too.
#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_ends_sessions_before_and_after_the_write() {
    let (s, _clock) = service(doubles::Recording::new(MemoryStore::new()));
    let (_, grant, token) = owner(&s).await;
    let other = session_for(&s, &grant).await;
    let _ = s.backend().store.take_log();
    let opened = s
        .change_password_in_session(
            &token,
            Password::from(OWNER_PW),
            Password::from("a new and different passphrase"),
        )
        .await
        .unwrap();
    let log = s.backend().store.take_log();
    let writes: Vec<_> = log
        .iter()
        .copied()
        .filter(|call| matches!(*call, "bump_epoch" | "set_password"))
        .collect();
    assert_eq!(
        writes,
        ["bump_epoch", "set_password", "bump_epoch"],
        "{log:?}"
    );
    assert!(s.authenticate(&other).await.is_err());
    s.authenticate(&opened.token.expose_secret()).await.unwrap();
}

/// Turning MFA off ends the sessions before the factor goes as well as after (a crash between
/// the writes leaves no session resting on it), and a refused attempt ends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn turning_mfa_off_ends_sessions_first_and_a_refusal_ends_none() {
    let (s, clock) = service(doubles::Recording::new(MemoryStore::new()));
    let (org, grant, _) = owner(&s).await;
    let key = enrol(&s, &clock, &grant).await;
    let (fresh, _) = session_with_code(&s, &clock, org, &key).await;
    let (_, other) = session_with_code(&s, &clock, org, &key).await;

    // Refused while the organisation enforces MFA: every session stands.
    s.set_mfa_policy(
        &fresh,
        authcore::policy::MfaSettings::enforced(authcore::policy::MfaSettings::DEFAULT_FACTORS, 0)
            .unwrap(),
    )
    .await
    .unwrap();
    let _ = s.backend().store.take_log();
    assert!(s.disable_mfa(&fresh).await.is_err());
    let log = s.backend().store.take_log();
    assert!(!log.contains(&"bump_epoch"), "{log:?}");
    s.authenticate(&other).await.unwrap();

    // Allowed once the policy is off: the epoch moves before the state is written, and after.
    s.turn_off_mfa_policy(&fresh).await.unwrap();
    let _ = s.backend().store.take_log();
    s.disable_mfa(&fresh).await.unwrap();
    let log = s.backend().store.take_log();
    let writes: Vec<_> = log
        .iter()
        .copied()
        .filter(|call| matches!(*call, "bump_epoch" | "replace_mfa"))
        .collect();
    assert_eq!(writes.first(), Some(&"bump_epoch"), "{log:?}");
    assert_eq!(writes.last(), Some(&"bump_epoch"), "{log:?}");
    assert!(writes.contains(&"replace_mfa"), "{log:?}");
    assert!(s.authenticate(&other).await.is_err());
}

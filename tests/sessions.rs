//! The session core through the public API: the timeouts and their bounds, the per-request
//! decision and each refusal, the `last_seen` touch rule, freshness, step-up and re-authentication,
//! remembered devices.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authcore::credential::FactorKind;
use authcore::policy::{
    Aal, Account, DeviceTokenRecord, Factor, FactorSet, LoginDecision, LoginProgress, MfaPolicy,
    MfaSettings, Organisation, PolicyError, SecondFactors, SessionConfig, SessionId, SessionRecord,
    SessionRefused, SessionView, login_decision,
};
use authcore::{Grant, OrgId, PersonId};

const T0: u64 = 1_700_000_000;
const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;
const ALICE: PersonId = PersonId::new(1);
const ORG: OrgId = OrgId::new(10);

fn org() -> Organisation {
    Organisation::found(ORG, ALICE, T0).state
}

fn grant(org: &Organisation, second: Option<FactorKind>) -> Grant {
    let mut account = Account::new(ALICE);
    let mut progress = LoginProgress::password_verified(ALICE, ORG, T0);
    if let Some(kind) = second {
        account = account.factors(SecondFactors::of(kind));
        progress = progress.with_second_factor(kind);
    }
    match login_decision(&account, org.member(ALICE), org.policy(), &progress, T0) {
        LoginDecision::Allowed(grant) => grant,
        other => panic!("{other:?}"),
    }
}

fn view(org: &Organisation, session: SessionRecord) -> SessionView {
    SessionView {
        session,
        epoch: session.epoch,
        deactivated: false,
        member: org.member(ALICE).copied(),
        policy: *org.policy(),
    }
}

#[test]
fn defaults_follow_nist_800_63b_rev4() {
    let config = SessionConfig::default();
    assert_eq!(config.lifetime(Aal::Aal2), DAY);
    assert_eq!(config.idle_timeout(Aal::Aal2), HOUR);
    assert_eq!(config.lifetime(Aal::Aal1), 30 * DAY);
    assert_eq!(config.device_lifetime(), 30 * DAY);
    assert_eq!(SessionConfig::builder().build(), Ok(config));
}

#[test]
fn build_rejects_timeouts_out_of_bounds() {
    let b = SessionConfig::builder;
    for bad in [
        b().aal2_lifetime(DAY + 1),
        b().aal2_lifetime(60),
        b().aal2_idle_timeout(HOUR + 1),
        b().aal2_lifetime(HOUR)
            .aal2_idle_timeout(HOUR)
            .touch_interval(0),
        b().aal2_lifetime(30 * 60).aal2_idle_timeout(HOUR),
        b().aal1_lifetime(31 * DAY),
        b().aal1_lifetime(DAY).aal1_idle_timeout(2 * DAY),
        b().touch_interval(HOUR),
        b().device_lifetime(91 * DAY),
        b().max_devices(0),
        b().max_devices(51),
    ] {
        assert!(
            matches!(bad.build(), Err(PolicyError::InvalidSessionConfig(_))),
            "{bad:?}"
        );
    }
    let ok = b()
        .aal2_lifetime(12 * HOUR)
        .aal2_idle_timeout(15 * 60)
        .touch_interval(30)
        .build()
        .unwrap();
    assert_eq!(ok.lifetime(Aal::Aal2), 12 * HOUR);
}

#[test]
fn a_fresh_session_stands_with_the_live_role() {
    let org = org();
    let config = SessionConfig::default();
    let session = SessionRecord::start(SessionId::new(7), &grant(&org, None), 3, &config);
    assert_eq!(session.epoch, 3);
    assert_eq!(session.aal, Aal::Aal1);
    assert_eq!(session.expires_at, T0 + 30 * DAY);
    let checked = view(&org, session).check(&config, T0 + 1).unwrap();
    assert_eq!(checked.grant.person(), ALICE);
    assert_eq!(checked.grant.role(), org.member(ALICE).unwrap().role());
    assert_eq!(checked.touch, None);
}

#[test]
fn each_refusal_has_its_reason() {
    let org = org();
    let config = SessionConfig::default();
    let aal2 = SessionRecord::start(
        SessionId::new(1),
        &grant(&org, Some(FactorKind::Totp)),
        0,
        &config,
    );
    assert_eq!(aal2.aal, Aal::Aal2);
    let good = view(&org, aal2);
    let check = |v: SessionView, now| v.check(&config, now).map(|c| c.grant);
    assert!(check(good, T0).is_ok());
    assert_eq!(
        check(SessionView { epoch: 1, ..good }, T0),
        Err(SessionRefused::StaleEpoch)
    );
    assert_eq!(
        check(
            SessionView {
                deactivated: true,
                ..good
            },
            T0
        ),
        Err(SessionRefused::PersonDeactivated)
    );
    assert_eq!(
        check(good, T0 + HOUR),
        Err(SessionRefused::IdleExpired),
        "an hour idle at AAL2"
    );
    let active = SessionView {
        session: SessionRecord {
            idle_expires_at: T0 + 2 * DAY,
            ..aal2
        },
        ..good
    };
    assert_eq!(
        check(active, T0 + DAY),
        Err(SessionRefused::Expired),
        "24 hours at AAL2, however active"
    );
    assert_eq!(
        check(
            SessionView {
                member: None,
                ..good
            },
            T0
        ),
        Err(SessionRefused::NotAMember)
    );
}

#[test]
fn an_enforced_policy_past_the_deadline_refuses_a_password_session() {
    let org = org();
    let config = SessionConfig::default();
    let session = SessionRecord::start(SessionId::new(1), &grant(&org, None), 0, &config);
    let settings = MfaSettings::enforced(SecondFactors::of(FactorKind::Totp), 0).unwrap();
    let enforced = SessionView {
        policy: MfaPolicy::On(settings),
        ..view(&org, session)
    };
    assert_eq!(
        enforced.check(&config, T0 + 1).map(|c| c.grant),
        Err(SessionRefused::MfaRequired)
    );
}

#[test]
fn last_seen_is_touched_at_most_once_per_interval() {
    let org = org();
    let config = SessionConfig::default();
    let session = SessionRecord::start(SessionId::new(1), &grant(&org, None), 0, &config);
    let interval = config.touch_interval();
    let v = view(&org, session);
    assert_eq!(v.check(&config, T0 + interval - 1).unwrap().touch, None);
    let touch = v.check(&config, T0 + interval).unwrap().touch.unwrap();
    assert_eq!(touch.expected_last_seen, T0);
    assert_eq!(touch.last_seen, T0 + interval);
    assert_eq!(
        touch.idle_expires_at,
        (T0 + interval + config.idle_timeout(Aal::Aal1)).min(session.expires_at)
    );
}

#[test]
fn step_up_raises_to_aal2_without_extending_the_lifetime() {
    let org = org();
    let config = SessionConfig::default();
    let session = SessionRecord::start(SessionId::new(1), &grant(&org, None), 0, &config);
    assert!(
        session.require_fresh(T0 + 10, 300, Aal::Aal2).is_err(),
        "a password session is not AAL2"
    );
    let raised = session.raised(Factor::Second(FactorKind::Totp), &config, T0 + 100);
    assert_eq!(raised.aal, Aal::Aal2);
    assert_eq!(raised.id, session.id);
    assert_eq!(raised.verified_at, T0 + 100);
    assert_eq!(raised.expires_at, T0 + 100 + DAY);
    assert!(raised.require_fresh(T0 + 200, 300, Aal::Aal2).is_ok());
    assert_eq!(
        raised.require_fresh(T0 + 401, 300, Aal::Aal2),
        Err(PolicyError::ReauthenticationRequired)
    );
    // Near the end of an AAL1 session, a step-up does not extend it.
    let late = session.raised(
        Factor::Second(FactorKind::Totp),
        &config,
        T0 + 30 * DAY - 10,
    );
    assert_eq!(late.expires_at, session.expires_at);
}

#[test]
fn reauthentication_refreshes_and_a_recovery_code_counts() {
    let org = org();
    let config = SessionConfig::default();
    let session = SessionRecord::start(
        SessionId::new(1),
        &grant(&org, Some(FactorKind::Totp)),
        0,
        &config,
    );
    let later = T0 + 20 * HOUR;
    assert!(session.require_fresh(later, 300, Aal::Aal2).is_err());
    let with_code = FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::RecoveryCode));
    let again = session.reauthenticated(with_code, &config, later);
    assert!(again.require_fresh(later + 1, 300, Aal::Aal2).is_ok());
    assert_eq!(again.expires_at, later + DAY);
    let password_only = session.reauthenticated(FactorSet::of(Factor::Password), &config, later);
    assert_eq!(
        password_only.aal,
        Aal::Aal1,
        "a password alone lowers the session"
    );
}

#[test]
fn a_remembered_device_dies_with_the_epoch() {
    let config = SessionConfig::default();
    let token = DeviceTokenRecord::issue(ALICE, 4, &config, T0);
    let view = authcore::policy::DeviceTokenView {
        token,
        epoch: 4,
        deactivated: false,
    };
    assert!(view.trusts(ALICE, T0 + DAY));
    assert!(!view.trusts(PersonId::new(2), T0 + DAY));
    assert!(!view.trusts(ALICE, T0 + 30 * DAY));
    assert!(
        !authcore::policy::DeviceTokenView { epoch: 5, ..view }.trusts(ALICE, T0 + DAY),
        "a bumped epoch"
    );
    assert!(
        !authcore::policy::DeviceTokenView {
            deactivated: true,
            ..view
        }
        .trusts(ALICE, T0 + DAY)
    );
}

const MINUTE: u64 = 60;
const BOB: PersonId = PersonId::new(2);

/// `org` with Bob added as a User by Alice (the Owner).
fn org_with_bob(org: &Organisation) -> Organisation {
    org.add_member(
        &grant(org, Some(FactorKind::Totp)),
        BOB,
        authcore::policy::Role::User,
        T0,
    )
    .unwrap()
    .state
}

#[test]
fn each_timeout_bound_is_inclusive_and_one_past_it_is_refused() {
    let b = SessionConfig::builder;
    let min = SessionConfig::MIN_TIMEOUT;
    assert_eq!(min, 5 * MINUTE);
    assert_eq!(SessionConfig::MAX_AAL1_LIFETIME, 30 * DAY);
    assert_eq!(SessionConfig::MAX_AAL2_LIFETIME, DAY);
    assert_eq!(SessionConfig::MAX_AAL2_IDLE, HOUR);
    assert_eq!(SessionConfig::MAX_DEVICE_LIFETIME, 90 * DAY);
    assert_eq!(SessionConfig::MAX_DEVICES, 50);
    // (accepted at the bound, refused one past it)
    let pairs = [
        (b().aal1_lifetime(30 * DAY), b().aal1_lifetime(30 * DAY + 1)),
        (
            b().aal1_lifetime(min)
                .aal1_idle_timeout(min)
                .touch_interval(1),
            b().aal1_lifetime(min - 1)
                .aal1_idle_timeout(min - 1)
                .touch_interval(1),
        ),
        (
            b().aal1_lifetime(DAY).aal1_idle_timeout(DAY),
            b().aal1_lifetime(DAY).aal1_idle_timeout(DAY + 1),
        ),
        (
            b().aal1_idle_timeout(min).touch_interval(1),
            b().aal1_idle_timeout(min - 1).touch_interval(1),
        ),
        (b().aal2_lifetime(DAY), b().aal2_lifetime(DAY + 1)),
        (
            b().aal2_lifetime(min)
                .aal2_idle_timeout(min)
                .touch_interval(1),
            b().aal2_lifetime(min - 1)
                .aal2_idle_timeout(min - 1)
                .touch_interval(1),
        ),
        (b().aal2_idle_timeout(HOUR), b().aal2_idle_timeout(HOUR + 1)),
        (
            b().aal2_idle_timeout(min).touch_interval(1),
            b().aal2_idle_timeout(min - 1).touch_interval(1),
        ),
        (
            b().aal2_lifetime(HOUR).aal2_idle_timeout(HOUR),
            b().aal2_lifetime(HOUR - 1).aal2_idle_timeout(HOUR),
        ),
        (b().touch_interval(1), b().touch_interval(0)),
        // A quarter of the AAL2 idle hour.
        (
            b().touch_interval(15 * MINUTE),
            b().touch_interval(15 * MINUTE + 1),
        ),
        // A quarter of the AAL1 idle timeout, when it is the shorter one.
        (
            b().aal1_idle_timeout(10 * MINUTE).touch_interval(150),
            b().aal1_idle_timeout(10 * MINUTE).touch_interval(151),
        ),
        (b().device_lifetime(DAY), b().device_lifetime(DAY - 1)),
        (
            b().device_lifetime(90 * DAY),
            b().device_lifetime(90 * DAY + 1),
        ),
        (b().max_devices(1), b().max_devices(0)),
        (b().max_devices(50), b().max_devices(51)),
    ];
    for (good, bad) in pairs {
        assert!(good.build().is_ok(), "{good:?}");
        assert!(
            matches!(bad.build(), Err(PolicyError::InvalidSessionConfig(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn build_names_the_value_out_of_bounds() {
    let b = SessionConfig::builder;
    let reason = |bad: authcore::policy::SessionConfigBuilder| match bad.build() {
        Err(PolicyError::InvalidSessionConfig(what)) => what,
        other => panic!("{other:?}"),
    };
    assert!(reason(b().aal1_lifetime(0)).contains("AAL1 lifetime"));
    assert!(reason(b().aal1_idle_timeout(0)).contains("AAL1 idle"));
    assert!(reason(b().aal2_lifetime(0)).contains("AAL2 lifetime"));
    assert!(reason(b().aal2_idle_timeout(0)).contains("AAL2 idle"));
    assert!(reason(b().touch_interval(0)).contains("touch interval"));
    assert!(reason(b().device_lifetime(0)).contains("device lifetime"));
    assert!(reason(b().max_devices(0)).contains("remembered-device"));
}

#[test]
fn every_setting_reads_back_as_built() {
    let config = SessionConfig::builder()
        .aal1_lifetime(7 * DAY)
        .aal1_idle_timeout(2 * DAY)
        .aal2_lifetime(8 * HOUR)
        .aal2_idle_timeout(20 * MINUTE)
        .touch_interval(90)
        .device_lifetime(60 * DAY)
        .max_devices(3)
        .build()
        .unwrap();
    assert_eq!(config.lifetime(Aal::Aal1), 7 * DAY);
    assert_eq!(config.idle_timeout(Aal::Aal1), 2 * DAY);
    assert_eq!(config.lifetime(Aal::Aal2), 8 * HOUR);
    assert_eq!(config.idle_timeout(Aal::Aal2), 20 * MINUTE);
    assert_eq!(config.touch_interval(), 90);
    assert_eq!(config.device_lifetime(), 60 * DAY);
    assert_eq!(config.max_devices(), 3);
    let defaults = SessionConfig::default();
    assert_eq!(defaults.idle_timeout(Aal::Aal1), 30 * DAY);
    assert_eq!(defaults.touch_interval(), MINUTE);
    assert_eq!(defaults.max_devices(), 10);
    assert_eq!(SessionId::new(0x1234_5678).get(), 0x1234_5678);
}

#[test]
fn a_session_starts_with_the_grants_times_and_both_expiries() {
    let org = org();
    let config = SessionConfig::builder()
        .aal2_lifetime(8 * HOUR)
        .aal2_idle_timeout(20 * MINUTE)
        .build()
        .unwrap();
    let totp = grant(&org, Some(FactorKind::Totp));
    let session = SessionRecord::start(SessionId::new(9), &totp, 2, &config);
    assert_eq!(session.id, SessionId::new(9));
    assert_eq!((session.person, session.org), (ALICE, ORG));
    assert_eq!(session.factors, totp.factors());
    assert_eq!(session.authenticated_at, T0);
    assert_eq!(session.verified_at, T0);
    assert_eq!(session.last_seen, T0);
    assert_eq!(session.idle_expires_at, T0 + 20 * MINUTE);
    assert_eq!(session.expires_at, T0 + 8 * HOUR);
    // The idle expiry never passes the lifetime: an AAL1 session with a 5-minute lifetime.
    let short = SessionConfig::builder()
        .aal1_lifetime(5 * MINUTE)
        .aal1_idle_timeout(5 * MINUTE)
        .touch_interval(1)
        .build()
        .unwrap();
    let aal1 = SessionRecord::start(SessionId::new(1), &grant(&org, None), 0, &short);
    assert_eq!(aal1.expires_at, T0 + 5 * MINUTE);
    assert_eq!(aal1.idle_expires_at, T0 + 5 * MINUTE);
}

#[test]
fn the_lifetime_ends_at_its_last_second_and_not_before() {
    let org = org();
    let config = SessionConfig::default();
    let session = SessionRecord::start(SessionId::new(1), &grant(&org, None), 0, &config);
    let v = view(&org, session);
    let end = T0 + 30 * DAY;
    // Kept active: the idle expiry is the lifetime's end.
    assert_eq!(session.idle_expires_at, end);
    assert!(v.check(&config, end - 1).is_ok());
    assert_eq!(
        v.check(&config, end).map(|c| c.grant),
        Err(SessionRefused::Expired)
    );
    // An expired session is Expired, not IdleExpired, when both have passed.
    let both = SessionView {
        session: SessionRecord {
            idle_expires_at: T0 + HOUR,
            expires_at: T0 + HOUR,
            ..session
        },
        ..v
    };
    assert_eq!(
        both.check(&config, T0 + HOUR).map(|c| c.grant),
        Err(SessionRefused::Expired)
    );
}

#[test]
fn the_idle_timeout_ends_at_its_last_second_and_not_before() {
    let org = org();
    let config = SessionConfig::default();
    let aal2 = SessionRecord::start(
        SessionId::new(1),
        &grant(&org, Some(FactorKind::Totp)),
        0,
        &config,
    );
    let v = view(&org, aal2);
    let checked = v.check(&config, T0 + HOUR - 1).unwrap();
    assert_eq!(checked.grant.aal(), Aal::Aal2);
    assert_eq!(
        v.check(&config, T0 + HOUR).map(|c| c.grant),
        Err(SessionRefused::IdleExpired)
    );
    // The touch due just before pushes the idle expiry an hour on, never past the lifetime.
    let touch = checked.touch.unwrap();
    assert_eq!(touch.expected_last_seen, T0);
    assert_eq!(touch.last_seen, T0 + HOUR - 1);
    assert_eq!(touch.idle_expires_at, T0 + 2 * HOUR - 1);
    let late = SessionView {
        session: SessionRecord {
            last_seen: T0 + DAY - 2 * MINUTE,
            idle_expires_at: T0 + DAY,
            ..aal2
        },
        ..v
    };
    let touch = late
        .check(&config, T0 + DAY - MINUTE)
        .unwrap()
        .touch
        .unwrap();
    assert_eq!(touch.idle_expires_at, T0 + DAY, "capped at the lifetime");
}

#[test]
fn the_epoch_must_match_exactly() {
    let org = org();
    let config = SessionConfig::default();
    let session = SessionRecord::start(SessionId::new(1), &grant(&org, None), 5, &config);
    let v = view(&org, session);
    assert!(v.check(&config, T0).is_ok());
    for epoch in [4, 6, 0, u64::MAX] {
        assert_eq!(
            SessionView { epoch, ..v }
                .check(&config, T0)
                .map(|c| c.grant),
            Err(SessionRefused::StaleEpoch),
            "epoch {epoch}"
        );
    }
    // The epoch is checked first: a stale, deactivated, expired session is StaleEpoch.
    let everything = SessionView {
        epoch: 6,
        deactivated: true,
        member: None,
        ..v
    };
    assert_eq!(
        everything.check(&config, T0 + 31 * DAY).map(|c| c.grant),
        Err(SessionRefused::StaleEpoch)
    );
    assert_eq!(
        SessionView {
            epoch: 5,
            ..everything
        }
        .check(&config, T0 + 31 * DAY)
        .map(|c| c.grant),
        Err(SessionRefused::PersonDeactivated)
    );
}

#[test]
fn the_membership_must_be_the_sessions_own_and_active() {
    let alice_org = org();
    let org = org_with_bob(&alice_org);
    let config = SessionConfig::default();
    let alice = SessionRecord::start(SessionId::new(1), &grant(&org, None), 0, &config);
    let bob = SessionRecord {
        person: BOB,
        ..alice
    };
    let bob_view = SessionView {
        member: org.member(BOB).copied(),
        ..view(&org, bob)
    };
    let checked = bob_view.check(&config, T0 + 1).unwrap();
    assert_eq!(checked.grant.person(), BOB);
    assert_eq!(checked.grant.role(), authcore::policy::Role::User);
    // Alice's membership does not carry Bob's session, nor Bob's Alice's.
    assert_eq!(
        SessionView {
            member: org.member(ALICE).copied(),
            ..bob_view
        }
        .check(&config, T0 + 1)
        .map(|c| c.grant),
        Err(SessionRefused::NotAMember)
    );
    // Bob's membership of another organisation does not carry a session in this one.
    let elsewhere = SessionRecord {
        org: OrgId::new(11),
        ..bob
    };
    assert_eq!(
        SessionView {
            session: elsewhere,
            ..bob_view
        }
        .check(&config, T0 + 1)
        .map(|c| c.grant),
        Err(SessionRefused::NotAMember)
    );
    let deactivated = org
        .deactivate_member(&grant(&org, Some(FactorKind::Totp)), BOB, T0 + 1)
        .unwrap()
        .state;
    assert_eq!(
        SessionView {
            member: deactivated.member(BOB).copied(),
            ..bob_view
        }
        .check(&config, T0 + 2)
        .map(|c| c.grant),
        Err(SessionRefused::MemberDeactivated)
    );
}

#[test]
fn freshness_holds_to_its_last_second() {
    let org = org();
    let config = SessionConfig::default();
    let aal2 = SessionRecord::start(
        SessionId::new(1),
        &grant(&org, Some(FactorKind::Totp)),
        0,
        &config,
    );
    assert_eq!(aal2.require_fresh(T0, 300, Aal::Aal2), Ok(()));
    assert_eq!(aal2.require_fresh(T0 + 300, 300, Aal::Aal2), Ok(()));
    assert_eq!(
        aal2.require_fresh(T0 + 301, 300, Aal::Aal2),
        Err(PolicyError::ReauthenticationRequired)
    );
    assert_eq!(
        aal2.require_fresh(T0 + 300, 300, Aal::Aal1),
        Ok(()),
        "AAL2 is above AAL1"
    );
    assert_eq!(
        aal2.require_fresh(T0 - 1, 300, Aal::Aal2),
        Err(PolicyError::ReauthenticationRequired),
        "verified in the future"
    );
    assert_eq!(
        aal2.require_fresh(T0 - 1, u64::MAX, Aal::Aal1),
        Err(PolicyError::ReauthenticationRequired),
        "verified in the future, however long the window"
    );
    let aal1 = SessionRecord::start(SessionId::new(2), &grant(&org, None), 0, &config);
    assert_eq!(aal1.require_fresh(T0 + 300, 300, Aal::Aal1), Ok(()));
    assert_eq!(
        aal1.require_fresh(T0 + 301, 300, Aal::Aal1),
        Err(PolicyError::ReauthenticationRequired)
    );
    assert_eq!(
        aal1.require_fresh(T0, 300, Aal::Aal2),
        Err(PolicyError::ReauthenticationRequired),
        "fresh but below the level"
    );
}

#[test]
fn a_device_token_lapses_at_its_expiry() {
    let config = SessionConfig::builder()
        .device_lifetime(2 * DAY)
        .build()
        .unwrap();
    let token = DeviceTokenRecord::issue(ALICE, 4, &config, T0);
    assert_eq!(token.person, ALICE);
    assert_eq!(token.epoch, 4);
    assert_eq!(token.created_at, T0);
    assert_eq!(token.expires_at, T0 + 2 * DAY);
    let view = authcore::policy::DeviceTokenView {
        token,
        epoch: 4,
        deactivated: false,
    };
    assert!(view.trusts(ALICE, T0));
    assert!(view.trusts(ALICE, T0 + 2 * DAY - 1));
    assert!(!view.trusts(ALICE, T0 + 2 * DAY));
    assert!(!view.trusts(ALICE, T0 + 3 * DAY));
    // Each condition alone refuses, the others holding.
    assert!(!view.trusts(BOB, T0));
    assert!(!authcore::policy::DeviceTokenView { epoch: 3, ..view }.trusts(ALICE, T0));
    assert!(
        !authcore::policy::DeviceTokenView {
            deactivated: true,
            ..view
        }
        .trusts(ALICE, T0)
    );
}

#[test]
fn labels_drop_control_characters_and_are_cut() {
    use authcore::policy::SessionLabels;
    let labels = SessionLabels::new()
        .with_user_agent("Firefox\u{7}/\n128")
        .with_ip("192.0.2.1\r");
    assert_eq!(labels.user_agent(), Some("Firefox/128"));
    assert_eq!(labels.ip(), Some("192.0.2.1"));
    assert_eq!(SessionLabels::new().user_agent(), None);
    assert_eq!(SessionLabels::new().ip(), None);
    let only_controls = SessionLabels::new().with_user_agent("\n\t").with_ip("");
    assert_eq!(only_controls.user_agent(), None);
    assert_eq!(only_controls.ip(), None);
    let long = "é".repeat(SessionLabels::MAX_LEN + 1);
    let cut = SessionLabels::new().with_user_agent(&long);
    assert_eq!(SessionLabels::MAX_LEN, 256);
    assert_eq!(
        cut.user_agent().unwrap().chars().count(),
        SessionLabels::MAX_LEN
    );
}

#[test]
fn refusals_say_why() {
    let texts = [
        (SessionRefused::Revoked, "no session has this token"),
        (
            SessionRefused::StaleEpoch,
            "the session predates a security change to the account",
        ),
        (
            SessionRefused::PersonDeactivated,
            "the person is deactivated",
        ),
        (SessionRefused::Expired, "the session expired"),
        (
            SessionRefused::IdleExpired,
            "the session expired for inactivity",
        ),
        (
            SessionRefused::NotAMember,
            "the person is no longer a member of the organisation",
        ),
        (
            SessionRefused::MemberDeactivated,
            "the membership is deactivated",
        ),
        (
            SessionRefused::MfaRequired,
            "the organisation requires a second factor",
        ),
    ];
    for (refusal, text) in texts {
        assert_eq!(refusal.to_string(), text);
    }
}

#[test]
fn reauthentication_and_step_up_rewrite_every_moving_field() {
    let org = org();
    let config = SessionConfig::default();
    let aal2 = SessionRecord::start(
        SessionId::new(3),
        &grant(&org, Some(FactorKind::Totp)),
        7,
        &config,
    );
    let later = T0 + 20 * HOUR;
    let with_code = FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::RecoveryCode));
    let again = aal2.reauthenticated(with_code, &config, later);
    assert_eq!(again.factors, with_code);
    assert_eq!(again.aal, Aal::Aal2);
    assert_eq!(again.verified_at, later);
    assert_eq!(again.last_seen, later);
    assert_eq!(again.idle_expires_at, later + HOUR);
    assert_eq!(again.expires_at, later + DAY);
    // What identifies the session and its login stays.
    assert_eq!(
        (
            again.id,
            again.person,
            again.org,
            again.authenticated_at,
            again.epoch
        ),
        (aal2.id, ALICE, ORG, T0, 7)
    );

    let aal1 = SessionRecord::start(SessionId::new(4), &grant(&org, None), 7, &config);
    let at = T0 + 2 * HOUR;
    let raised = aal1.raised(Factor::Second(FactorKind::Totp), &config, at);
    assert_eq!(
        raised.factors,
        FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::Totp))
    );
    assert_eq!(raised.aal, Aal::Aal2);
    assert_eq!(raised.verified_at, at);
    assert_eq!(raised.last_seen, at);
    assert_eq!(raised.idle_expires_at, at + HOUR);
    assert_eq!(raised.expires_at, at + DAY);
    assert_eq!(
        (raised.id, raised.authenticated_at, raised.epoch),
        (aal1.id, T0, 7)
    );
}

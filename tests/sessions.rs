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

//! Benchmarks of the policy hot paths: the authorisation check and the login decision. Both are
//! allocation-free by construction (plain `Copy` inputs, no `Vec` or `String` on the path).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use authcore::credential::FactorKind;
use authcore::policy::{
    Account, LoginDecision, LoginProgress, MfaSettings, Organisation, Permission, Resource, Role,
    SecondFactors, authorize, login_decision,
};
use authcore::{OrgId, PersonId};
use criterion::{Criterion, criterion_group, criterion_main};

const T0: u64 = 1_700_000_000;
const OWNER: PersonId = PersonId::new(1);
const ADMIN: PersonId = PersonId::new(2);
const ORG: OrgId = OrgId::new(10);

fn factors() -> SecondFactors {
    SecondFactors::of(FactorKind::Totp).with(FactorKind::RecoveryCode)
}

fn grant_for(org: &Organisation, person: PersonId) -> authcore::Grant {
    let progress =
        LoginProgress::password_verified(person, ORG, T0).with_second_factor(FactorKind::Totp);
    match login_decision(
        &Account::new(person).factors(factors()),
        org.member(person),
        org.policy(),
        &progress,
        T0,
    ) {
        LoginDecision::Allowed(grant) => grant,
        other => panic!("not allowed: {other:?}"),
    }
}

/// An organisation enforcing MFA, with an owner and an admin.
fn organisation() -> Organisation {
    let org = Organisation::found(ORG, OWNER, T0).state;
    let owner = grant_for(&org, OWNER);
    let org = org
        .set_mfa_policy(
            &owner,
            factors(),
            MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 7 * 86_400).unwrap(),
            T0,
        )
        .unwrap()
        .state;
    org.add_member(&owner, ADMIN, Role::Admin, T0)
        .unwrap()
        .state
}

fn bench_authorize(c: &mut Criterion) {
    let org = organisation();
    let grant = grant_for(&org, ADMIN);
    let member = *org.member(ADMIN).unwrap();
    let resource = Resource::of_org(ORG);
    assert!(authorize(&grant, &member, &Permission::ManageBilling, &resource, T0).is_ok());
    let mut group = c.benchmark_group("authorize");
    group.bench_function("check", |b| {
        b.iter(|| {
            authorize(
                black_box(&grant),
                black_box(&member),
                black_box(&Permission::ManageBilling),
                black_box(&resource),
                black_box(T0 + 60),
            )
        })
    });
    group.finish();
}

fn bench_login_decision(c: &mut Criterion) {
    let org = organisation();
    let member = *org.member(ADMIN).unwrap();
    let policy = *org.policy();
    let account = Account::new(ADMIN).factors(factors());
    let progress =
        LoginProgress::password_verified(ADMIN, ORG, T0).with_second_factor(FactorKind::Totp);
    // The longest path: every check passes and a grant is built.
    assert!(matches!(
        login_decision(&account, Some(&member), &policy, &progress, T0 + 60),
        LoginDecision::Allowed(_)
    ));
    let mut group = c.benchmark_group("login_decision");
    group.bench_function("evaluate", |b| {
        b.iter(|| {
            login_decision(
                black_box(&account),
                black_box(Some(&member)),
                black_box(&policy),
                black_box(&progress),
                black_box(T0 + 60),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench_authorize, bench_login_decision);
criterion_main!(benches);

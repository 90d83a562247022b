//! The login that finds the organisation, on every store: `login(login, password)` goes straight
//! on for a person in one organisation, offers the choice to a person in several (after the
//! password, never before), and `choose_organisation` continues with the chosen organisation's
//! own decision; an organisation not theirs, or a deactivated membership, is refused without
//! spending the ticket, and the spent ticket is refused. An unknown login and a person in no
//! organisation cannot be told from a wrong password: the same error, the same audit kinds as
//! `login_to`, the same argon2 work, the same store calls, the same throttling.
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

#[path = "support/stores.rs"]
mod stores;
use stores::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use doubles::{CountingHasher, Recording};

use authcore::credential::FactorKind;
use authcore::otp::{Clock, ManualClock, SecretKey, Totp};
use authcore::policy::{Account, LoginDecision, LoginProgress, SecondFactors, login_decision};
use authcore::policy::{
    AuditKind, AuthenticatorName, DenyReason, EnrollmentDemand, EnrollmentPurpose, Factor,
    LoginOutcome, MfaSettings, Role,
};
use authcore::store::{Login, MemoryAuditLog, RecordingNotifier, ThrottleKey};
use authcore::{
    Authenticator, BearerToken, Grant, LoginStep, LoginStore, MemoryStore, OrgId, Password,
    PersonId, ServiceConfig, ServiceError, Services, UserStore,
};

const T0: u64 = 1_700_000_010;
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";
const PW: &str = "correct horse battery staple 42";
const CAROL_PW: &str = "a passphrase of her own choosing 9";
const WRONG: &str = "not the password at all 0000";

type Service<S> = Authenticator<
    Services<Recording<S>, MemoryAuditLog, RecordingNotifier, Arc<ManualClock>, CountingHasher>,
>;

struct World<S: LoginStore> {
    s: Service<S>,
    clock: Arc<ManualClock>,
    jobs: Arc<AtomicUsize>,
    alice: PersonId,
    /// Alice's own organisation: no MFA policy.
    a: OrgId,
    /// Bob's organisation: MFA enforced, no grace period; Alice is a member.
    b: OrgId,
    bob: Grant,
    carol: PersonId,
}

fn service<S: LoginStore>(store: S) -> (Service<S>, Arc<ManualClock>, Arc<AtomicUsize>) {
    let clock = Arc::new(ManualClock::new(T0));
    let (hasher, jobs) = CountingHasher::cheap();
    let services = Services {
        store: Recording::new(store),
        audit: MemoryAuditLog::new(),
        notifier: RecordingNotifier::new(),
        clock: Arc::clone(&clock),
        hasher,
    };
    let config = ServiceConfig::builder("Example").build().unwrap();
    (Authenticator::new(services, config), clock, jobs)
}

fn ticket(step: &LoginStep) -> BearerToken {
    BearerToken::parse(&step.ticket().expect("a pending step").expose_secret()).unwrap()
}

fn code(key: &SecretKey, now: u64) -> String {
    Totp::new(authcore::policy::EnrollmentConfig::default().params(), key)
        .generate(now)
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn granted_in(step: &Result<LoginStep, ServiceError>, org: OrgId, what: &str) -> Grant {
    match step {
        Ok(LoginStep::Granted(opened)) => {
            assert_eq!(opened.grant.org(), org, "{what}");
            opened.grant
        }
        other => panic!("{what}: {other:?}"),
    }
}

fn refused(step: &Result<LoginStep, ServiceError>, what: &str) {
    assert!(
        matches!(step, Err(ServiceError::InvalidCredentials)),
        "{what}: {step:?}"
    );
}

/// Bob founds B, enrols an app and enforces MFA there; Alice founds A and is added to B; Carol
/// was a member of B, set her own password, and was removed: she is in no organisation.
async fn world<S: LoginStore>(store: S) -> World<S> {
    let (s, clock, jobs) = service(store);
    let up = s.sign_up(BOB, Password::from(PW)).await.unwrap();
    let b = up.org;
    // One organisation: straight on, as `login_to` would.
    let step = s.login(BOB, Password::from(PW)).await;
    let grant = granted_in(&step, b, "Bob, in one organisation");
    assert_eq!(step.as_ref().unwrap().org(), Some(b));
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
    s.acknowledge_enrollment(&grant).await.unwrap();
    clock.advance(30);
    let step = s.login(BOB, Password::from(PW)).await.unwrap();
    let LoginStep::SecondFactor { org, .. } = &step else {
        panic!("Bob now has MFA: {step:?}")
    };
    assert_eq!(*org, b, "the pending step names the organisation it found");
    let bob = *s
        .verify_totp(b, &ticket(&step), &code(&key, clock.now()))
        .await
        .unwrap()
        .grant()
        .unwrap();
    s.set_mfa_policy(
        &bob,
        MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, 0).unwrap(),
    )
    .await
    .unwrap();

    let alice = s.sign_up(ALICE, Password::from(PW)).await.unwrap();
    let a = alice.org;
    let step = s.login(ALICE, Password::from(PW)).await;
    let _ = granted_in(&step, a, "Alice, in her one organisation");
    add_to(&s, b, bob.person(), alice.person).await;

    // Carol: added to B, sets her password at her first login, then removed.
    let new = s.add_member(&bob, CAROL, Role::User).await.unwrap();
    let temp = new.temporary_password.expose_secret().to_owned();
    let step = s.login(CAROL, Password::from(temp.as_str())).await.unwrap();
    assert!(
        matches!(step, LoginStep::ChangePassword { org, .. } if org == b),
        "{step:?}"
    );
    let step = s
        .change_password_at_login(b, &ticket(&step), Password::from(CAROL_PW))
        .await
        .unwrap();
    assert!(
        matches!(
            step,
            LoginStep::EnrollMfa {
                demand: EnrollmentDemand::Mandatory,
                ..
            }
        ),
        "her own password set, B's enrollment next: {step:?}"
    );
    let store = &s.backend().store;
    let org = store.organisation(b).await.unwrap().unwrap();
    let removed = org
        .value
        .remove_member(&bob, new.person, clock.now())
        .unwrap();
    assert!(
        store
            .replace_organisation(&removed.state, org.version)
            .await
            .unwrap()
    );
    assert!(store.organisations_of(new.person).await.unwrap().is_empty());
    World {
        s,
        clock,
        jobs,
        alice: alice.person,
        a,
        b,
        bob,
        carol: new.person,
    }
}

/// Adds `person` to `org` as its owner `owner` would, through the store (no verb adds an
/// existing person to another organisation), with an AAL2 grant made by the pure login decision.
async fn add_to<S: LoginStore>(s: &Service<S>, org: OrgId, owner: PersonId, person: PersonId) {
    let store = &s.backend().store;
    let stored = store.organisation(org).await.unwrap().unwrap();
    let now = s.backend().clock.now();
    let account = Account::new(owner).factors(SecondFactors::of(FactorKind::Totp));
    let progress =
        LoginProgress::password_verified(owner, org, now).with_second_factor(FactorKind::Totp);
    let LoginDecision::Allowed(grant) = login_decision(
        &account,
        stored.value.member(owner),
        stored.value.policy(),
        &progress,
        now,
    ) else {
        panic!("the owner's AAL2 grant")
    };
    let added = stored
        .value
        .add_member(&grant, person, Role::User, now)
        .unwrap();
    assert!(
        store
            .replace_organisation(&added.state, stored.version)
            .await
            .unwrap()
    );
}

/// Alice's password step without an organisation: the choice between A and B.
async fn choice<S: LoginStore>(w: &World<S>) -> BearerToken {
    let step = w.s.login(ALICE, Password::from(PW)).await.unwrap();
    let LoginStep::ChooseOrganisation { organisations, .. } = &step else {
        panic!("two organisations: {step:?}")
    };
    let mut both = vec![w.a, w.b];
    both.sort_unstable();
    assert_eq!(*organisations, both, "her active memberships, in id order");
    assert_eq!(step.org(), None);
    ticket(&step)
}

fn last_login_outcome<S: LoginStore>(w: &World<S>) -> (Option<OrgId>, AuditKind) {
    let events = w.s.backend().audit.events();
    let event = events
        .iter()
        .rev()
        .find(|e| {
            matches!(
                e.what,
                AuditKind::Login { .. }
                    | AuditKind::UnknownLogin
                    | AuditKind::CredentialRejected { .. }
            )
        })
        .unwrap();
    (event.organisation, event.what)
}

async fn two_organisations_choose<S: LoginStore>(w: &World<S>) {
    // The choice is audited, for the person, with no organisation.
    let t = choice(w).await;
    assert_eq!(
        last_login_outcome(w),
        (
            None,
            AuditKind::Login {
                outcome: LoginOutcome::OrganisationChoiceRequired
            }
        )
    );
    // A: no policy, a password-only grant.
    let step = w.s.choose_organisation(&t, w.a).await;
    let grant = granted_in(&step, w.a, "A has no MFA policy");
    assert_eq!(grant.person(), w.alice);
    assert_eq!(grant.aal(), authcore::policy::Aal::Aal1);
    // The choice's ticket is spent.
    refused(
        &w.s.choose_organisation(&t, w.a).await,
        "the choice's ticket again",
    );
    refused(
        &w.s.choose_organisation(&t, w.b).await,
        "the choice's ticket again, another organisation",
    );

    // B: MFA enforced, Alice has none: the mandatory enrollment, exactly as `login_to` says.
    let t = choice(w).await;
    let step = w.s.choose_organisation(&t, w.b).await.unwrap();
    let LoginStep::EnrollMfa {
        org,
        demand,
        factors,
        ..
    } = &step
    else {
        panic!("B enforces MFA: {step:?}")
    };
    assert_eq!((*org, *demand), (w.b, EnrollmentDemand::Mandatory));
    assert_eq!(*factors, MfaSettings::DEFAULT_FACTORS);
    let direct = w.s.login_to(w.b, ALICE, Password::from(PW)).await.unwrap();
    assert!(
        matches!(&direct, LoginStep::EnrollMfa { org, demand, factors: f, .. }
            if *org == w.b && *demand == EnrollmentDemand::Mandatory && f == factors),
        "login_to decides the same: {direct:?}"
    );
    // The next step's ticket carries the choice: it works for B, not for A.
    let next = ticket(&step);
    assert!(
        w.s.start_login_enrollment(w.b, &next, "phone")
            .await
            .is_ok(),
        "the enrollment ticket is B's"
    );
    assert!(matches!(
        w.s.skip_enrollment(w.a, &next).await,
        Err(ServiceError::InvalidCredentials)
    ));
    // A mandatory enrollment cannot be skipped; the choice ticket is no enrollment ticket.
    let t = choice(w).await;
    refused(
        &w.s.skip_enrollment(w.b, &t).await,
        "the choice ticket at another step",
    );
    refused(
        &w.s.choose_organisation(&t, w.a).await,
        "a choice ticket presented at another step is spent",
    );
}

async fn not_theirs_keeps_the_ticket<S: LoginStore>(w: &World<S>) {
    let t = choice(w).await;
    let strangers = [
        OrgId::new(0xdead_beef),
        w.s.sign_up("dave@example.com", Password::from(PW))
            .await
            .unwrap()
            .org,
    ];
    for org in strangers {
        let before = w.jobs.load(Ordering::SeqCst);
        refused(&w.s.choose_organisation(&t, org).await, "not hers");
        assert_eq!(w.jobs.load(Ordering::SeqCst), before, "no argon2");
        assert_eq!(
            last_login_outcome(w),
            (
                Some(org),
                AuditKind::Login {
                    outcome: LoginOutcome::Denied(DenyReason::NotAMember)
                }
            )
        );
    }
    // The ticket still chooses one of hers, until it expires.
    let _ = granted_in(
        &w.s.choose_organisation(&t, w.a).await,
        w.a,
        "after a refused choice",
    );
    let t = choice(w).await;
    w.clock
        .advance(ServiceConfig::builder("x").build().unwrap().ticket_ttl() + 1);
    refused(&w.s.choose_organisation(&t, w.a).await, "an expired ticket");
}

async fn deactivated_membership<S: LoginStore>(w: &World<S>) {
    let early = choice(w).await;
    w.s.deactivate_member(&w.bob, w.alice).await.unwrap();
    // The list is read now: only A is left, so she goes straight on.
    let step = w.s.login(ALICE, Password::from(PW)).await;
    let _ = granted_in(&step, w.a, "one active membership left");
    // The deactivation ended her sessions: a login pending from before it ends too.
    assert!(
        matches!(
            w.s.choose_organisation(&early, w.a).await,
            Err(ServiceError::Session(
                authcore::policy::SessionRefused::StaleEpoch
            ))
        ),
        "a choice pending from before the epoch moved"
    );
    // `login_to` B says what it always said for a deactivated member.
    assert!(matches!(
        w.s.login_to(w.b, ALICE, Password::from(PW)).await,
        Err(ServiceError::Deactivated)
    ));
    // In A and D (B deactivated): the choice offers A and D only, and refuses B without
    // spending the ticket.
    let dave =
        w.s.sign_up("dave@example.com", Password::from(PW))
            .await
            .unwrap();
    let step = w.s.login("dave@example.com", Password::from(PW)).await;
    let _ = granted_in(&step, dave.org, "Dave, in one organisation");
    add_to(&w.s, dave.org, dave.person, w.alice).await;
    let step = w.s.login(ALICE, Password::from(PW)).await.unwrap();
    let LoginStep::ChooseOrganisation { organisations, .. } = &step else {
        panic!("two active memberships: {step:?}")
    };
    let mut active = vec![w.a, dave.org];
    active.sort_unstable();
    assert_eq!(
        *organisations, active,
        "the deactivated membership is not offered"
    );
    let t = ticket(&step);
    refused(
        &w.s.choose_organisation(&t, w.b).await,
        "a deactivated membership",
    );
    let _ = granted_in(
        &w.s.choose_organisation(&t, dave.org).await,
        dave.org,
        "the ticket stays for an active one",
    );
    // Deactivated everywhere but one: straight on; reactivated: the choice again, of three.
    w.s.reactivate_member(&w.bob, w.alice).await.unwrap();
    let step = w.s.login(ALICE, Password::from(PW)).await.unwrap();
    assert!(
        matches!(&step, LoginStep::ChooseOrganisation { organisations, .. } if organisations.len() == 3),
        "{step:?}"
    );
}

/// One password step's answer, argon2 jobs, store calls, and the name's counter afterwards.
async fn attempt<S: LoginStore>(
    w: &World<S>,
    login: &str,
    pw: &str,
) -> (String, usize, Vec<&'static str>, u8) {
    let store = &w.s.backend().store;
    let _ = store.take_log();
    let before = w.jobs.load(Ordering::SeqCst);
    let result = w.s.login(login, Password::from(pw)).await;
    let jobs = w.jobs.load(Ordering::SeqCst) - before;
    let calls = store.take_log();
    let counter = store
        .inner
        .throttle(&ThrottleKey::login(&Login::new(login).unwrap()))
        .await
        .unwrap();
    (
        format!("{:?}", result.map(|_| "a step")),
        jobs,
        calls,
        counter.failures(),
    )
}

async fn strangers_learn_nothing<S: LoginStore>(w: &World<S>) {
    const NOBODY: &str = "nobody@example.com";
    // Each attempt, repeated past the free ones into the backoff: the same answers, the same
    // argon2 work, the same store calls, the same counting. Carol's password is right, and
    // still counted as a failure.
    let mut seen = Vec::new();
    for (login, pw) in [(NOBODY, PW), (CAROL, CAROL_PW), (ALICE, WRONG)] {
        let mut runs = Vec::new();
        for _ in 0..8 {
            runs.push(attempt(w, login, pw).await);
        }
        seen.push((login, runs));
    }
    let (_, first) = &seen[0];
    assert_eq!(
        first[0],
        (
            format!("{:?}", Err::<(), _>(ServiceError::InvalidCredentials)),
            1,
            vec!["login_snapshot", "apply_step", "organisations_of"],
            1
        ),
        "the first attempt"
    );
    assert!(
        first.last().unwrap().0.contains("Throttled"),
        "the backoff starts: {first:?}"
    );
    assert_eq!(
        first.last().unwrap().1,
        0,
        "a throttled attempt is not hashed"
    );
    for (login, runs) in &seen[1..] {
        assert_eq!(runs, first, "{login} against an unknown login");
    }

    // The audit trail tells them apart, as `login_to`'s does.
    w.clock.advance(2 * 86_400);
    let _ = w.s.login(NOBODY, Password::from(PW)).await;
    let unknown = last_login_outcome(w);
    assert_eq!(unknown, (None, AuditKind::UnknownLogin));
    let _ = w.s.login_to(w.a, NOBODY, Password::from(PW)).await;
    assert_eq!(last_login_outcome(w), (Some(w.a), AuditKind::UnknownLogin));
    let _ = w.s.login(ALICE, Password::from(WRONG)).await;
    let wrong = (
        None,
        AuditKind::CredentialRejected {
            factor: Factor::Password,
            replayed: false,
        },
    );
    assert_eq!(last_login_outcome(w), wrong);
    let _ = w.s.login(CAROL, Password::from(CAROL_PW)).await;
    let no_org = last_login_outcome(w);
    let subject = w.s.backend().audit.events().last().unwrap().subject;
    assert_eq!(subject, Some(w.carol));
    let _ = w.s.login_to(w.a, CAROL, Password::from(CAROL_PW)).await;
    assert_eq!(
        (no_org.1, last_login_outcome(w)),
        (
            AuditKind::Login {
                outcome: LoginOutcome::Denied(DenyReason::NotAMember)
            },
            (
                Some(w.a),
                AuditKind::Login {
                    outcome: LoginOutcome::Denied(DenyReason::NotAMember)
                }
            )
        ),
        "a right password with no organisation, as login_to to one not hers"
    );
    assert_eq!(no_org.0, None, "no organisation named");
}

async fn scenarios<S: LoginStore + 'static>(new_store: &NewStore<S>) {
    two_organisations_choose(&world(new_store().await).await).await;
    not_theirs_keeps_the_ticket(&world(new_store().await).await).await;
    deactivated_membership(&world(new_store().await).await).await;
    strangers_learn_nothing(&world(new_store().await).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_finds_the_organisation_on_the_memory_store() {
    scenarios(&|| Box::pin(async { MemoryStore::new() })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_finds_the_organisation_on_sqlite() {
    scenarios(&sqlite_stores()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn login_finds_the_organisation_on_postgres() {
    if pg::skip("login_finds_the_organisation_on_postgres") {
        return;
    }
    scenarios(&postgres_stores("authcore_orgs")).await;
}

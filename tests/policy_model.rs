//! Model-based property tests: random sequences of enrollment, organisation, role and login events
//! against the policy's invariants.
//!
//! - MFA never becomes active without a valid code and an acknowledgement.
//! - An enforcing organisation never lets in a member without an active authenticator after their
//!   deadline.
//! - No sequence of role changes leaves an organisation without an active owner, lets anyone
//!   raise their own role, or grants a role above the granter's own.
//! - A User is never authorised for another person's job.
//! - Nothing crosses organisations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::convert::Infallible;

use authcore::credential::FactorKind;
use authcore::otp::Totp;
use authcore::policy::{
    Aal, Account, AcknowledgeOutcome, AuthenticatorId, AuthenticatorName, ConfirmOutcome,
    EnrollmentConfig, EnrollmentPhase, EnrollmentPurpose, Invitation, LoginDecision, LoginProgress,
    Mfa, MfaError, MfaSettings, Organisation, Permission, PolicyError, Resource, Role, Scope,
    Transition, authorize, login_decision,
};
use authcore::{Grant, OrgId, PersonId};
use proptest::prelude::*;
use rand_core::{TryCryptoRng, TryRng};

const PEOPLE: usize = 4;
const ORGS: usize = 2;
const T0: u64 = 1_700_000_000;

/// A deterministic generator for tests (SplitMix64). Not for production use.
struct TestRng(u64);

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

/// Which grant an actor presents.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// A fresh login now.
    Fresh,
    /// The grant from their last login to this organisation (possibly stale or outdated).
    Stored,
    /// The grant from their last login to the other organisation.
    OtherOrg,
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    Login {
        person: usize,
        org: usize,
        claim_totp: bool,
        defer: bool,
    },
    Start {
        person: usize,
        replace: bool,
        name: u8,
    },
    Confirm {
        person: usize,
        right: bool,
    },
    /// Every enrollment step in order, each checked as its own event.
    Enroll {
        person: usize,
        replace: bool,
        name: u8,
    },
    Issue {
        person: usize,
    },
    Acknowledge {
        person: usize,
    },
    Cancel {
        person: usize,
    },
    Disable {
        person: usize,
        org: usize,
    },
    Add {
        org: usize,
        actor: usize,
        pick: Pick,
        target: usize,
        role: Role,
        by_request: bool,
    },
    Invite {
        org: usize,
        actor: usize,
        pick: Pick,
        role: Role,
    },
    Accept {
        org: usize,
        person: usize,
    },
    ChangeRole {
        org: usize,
        actor: usize,
        pick: Pick,
        target: usize,
        role: Role,
    },
    Remove {
        org: usize,
        actor: usize,
        pick: Pick,
        target: usize,
    },
    Leave {
        org: usize,
        person: usize,
        pick: Pick,
    },
    Deactivate {
        org: usize,
        actor: usize,
        pick: Pick,
        target: usize,
        reactivate: bool,
    },
    Transfer {
        org: usize,
        actor: usize,
        pick: Pick,
        to: usize,
        becomes: Role,
    },
    Delegate {
        org: usize,
        actor: usize,
        pick: Pick,
        to: usize,
        role: Role,
        seconds: u64,
    },
    Expire {
        org: usize,
    },
    SetPolicy {
        org: usize,
        actor: usize,
        pick: Pick,
        enforce: bool,
        grace: u64,
    },
    PolicyOff {
        org: usize,
        actor: usize,
        pick: Pick,
    },
    Authorize {
        person: usize,
        pick: Pick,
        member_org: usize,
        permission: Permission,
        resource_org: usize,
        owner: Option<usize>,
    },
}

fn person() -> impl Strategy<Value = usize> {
    0..PEOPLE
}

fn org() -> impl Strategy<Value = usize> {
    0..ORGS
}

/// Actors: the founders more often than anyone.
fn actor() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0..ORGS, 2 => 0..PEOPLE]
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![6 => Just(Pick::Fresh), 2 => Just(Pick::Stored), 1 => Just(Pick::OtherOrg)]
}

fn op() -> impl Strategy<Value = Op> {
    let time = prop::sample::select(vec![0u64, 29, 31, 300, 901, 3_600, 3 * 86_400, 8 * 86_400]);
    prop_oneof![
        3 => time.prop_map(Op::Advance),
        6 => (person(), org(), any::<bool>(), any::<bool>()).prop_map(
            |(person, org, claim_totp, defer)| Op::Login { person, org, claim_totp, defer }),
        3 => (person(), any::<bool>(), 0..3u8)
            .prop_map(|(person, replace, name)| Op::Start { person, replace, name }),
        4 => (person(), any::<bool>()).prop_map(|(person, right)| Op::Confirm { person, right }),
        4 => (person(), any::<bool>(), 0..3u8)
            .prop_map(|(person, replace, name)| Op::Enroll { person, replace, name }),
        2 => person().prop_map(|person| Op::Issue { person }),
        2 => person().prop_map(|person| Op::Acknowledge { person }),
        1 => person().prop_map(|person| Op::Cancel { person }),
        1 => (person(), org()).prop_map(|(person, org)| Op::Disable { person, org }),
        4 => (org(), actor(), pick(), person(), role(), any::<bool>()).prop_map(
            |(org, actor, pick, target, role, by_request)|
                Op::Add { org, actor, pick, target, role, by_request }),
        1 => (org(), actor(), pick(), role())
            .prop_map(|(org, actor, pick, role)| Op::Invite { org, actor, pick, role }),
        1 => (org(), person()).prop_map(|(org, person)| Op::Accept { org, person }),
        3 => (org(), actor(), pick(), person(), role()).prop_map(
            |(org, actor, pick, target, role)| Op::ChangeRole { org, actor, pick, target, role }),
        1 => (org(), actor(), pick(), person())
            .prop_map(|(org, actor, pick, target)| Op::Remove { org, actor, pick, target }),
        1 => (org(), person(), pick()).prop_map(|(org, person, pick)| Op::Leave { org, person, pick }),
        2 => (org(), actor(), pick(), person(), any::<bool>()).prop_map(
            |(org, actor, pick, target, reactivate)|
                Op::Deactivate { org, actor, pick, target, reactivate }),
        2 => (org(), actor(), pick(), person(), role()).prop_map(
            |(org, actor, pick, to, becomes)| Op::Transfer { org, actor, pick, to, becomes }),
        2 => (org(), actor(), pick(), person(), role(), prop::sample::select(vec![0u64, 60, 3_600, 86_400]))
            .prop_map(|(org, actor, pick, to, role, seconds)|
                Op::Delegate { org, actor, pick, to, role, seconds }),
        1 => org().prop_map(|org| Op::Expire { org }),
        4 => (org(), actor(), pick(), any::<bool>(), prop::sample::select(vec![0u64, 3_600, 7 * 86_400]))
            .prop_map(|(org, actor, pick, enforce, grace)|
                Op::SetPolicy { org, actor, pick, enforce, grace }),
        1 => (org(), actor(), pick()).prop_map(|(org, actor, pick)| Op::PolicyOff { org, actor, pick }),
        5 => (person(), pick(), org(), prop::sample::select(Permission::ALL.to_vec()), org(),
              prop::option::of(person()))
            .prop_map(|(person, pick, member_org, permission, resource_org, owner)|
                Op::Authorize { person, pick, member_org, permission, resource_org, owner }),
    ]
}

fn pid(index: usize) -> PersonId {
    PersonId::new(index as u128 + 1)
}

fn oid(index: usize) -> OrgId {
    OrgId::new(index as u128 + 100)
}

struct World {
    now: u64,
    config: EnrollmentConfig,
    mfa: Vec<Mfa>,
    orgs: Vec<Organisation>,
    grants: HashMap<(usize, usize), Grant>,
    invitations: Vec<Option<Invitation>>,
    /// Per person: the enrollment that a valid code confirmed, if any.
    confirmed: Vec<Option<AuthenticatorId>>,
    rng: TestRng,
}

impl World {
    fn new() -> Self {
        Self {
            now: T0,
            config: EnrollmentConfig::default(),
            mfa: (0..PEOPLE).map(|p| Mfa::new(pid(p))).collect(),
            orgs: (0..ORGS)
                .map(|o| Organisation::found(oid(o), pid(o), T0).state)
                .collect(),
            grants: HashMap::new(),
            invitations: vec![None; ORGS],
            confirmed: vec![None; PEOPLE],
            rng: TestRng(7),
        }
    }

    fn account(&self, person: usize) -> Account {
        Account::new(pid(person)).factors(self.mfa[person].factors())
    }

    /// A login with every factor the person has, skipping skippable enrollments.
    fn fresh_grant(&self, person: usize, org: usize) -> Option<Grant> {
        let mut progress =
            LoginProgress::password_verified(pid(person), oid(org), self.now).defer_enrollment();
        if self.mfa[person].is_active() {
            progress = progress.with_second_factor(FactorKind::Totp);
        }
        let organisation = &self.orgs[org];
        match login_decision(
            &self.account(person),
            organisation.member(pid(person)),
            organisation.policy(),
            &progress,
            self.now,
        ) {
            LoginDecision::Allowed(grant) => Some(grant),
            _ => None,
        }
    }

    fn grant(&self, person: usize, org: usize, pick: Pick) -> Option<Grant> {
        match pick {
            Pick::Fresh => self.fresh_grant(person, org),
            Pick::Stored => self.grants.get(&(person, org)).copied(),
            Pick::OtherOrg => self.grants.get(&(person, (org + 1) % ORGS)).copied(),
        }
    }

    fn code(&self, person: usize, right: bool) -> Option<String> {
        let pending = self.mfa[person].enrollment()?;
        let totp = Totp::new(pending.params(), pending.expose_secret());
        let current = totp.generate(self.now).unwrap().expose_secret().to_owned();
        if right {
            return Some(current);
        }
        let step = pending.params().step_at(self.now).unwrap();
        let valid: Vec<String> = (step - 1..=step + 1)
            .map(|s| totp.generate_at_step(s).expose_secret().to_owned())
            .collect();
        (0..)
            .map(|n| format!("{n:06}"))
            .find(|candidate| !valid.contains(candidate))
    }

    /// Applies an organisation transition by `actor` and checks the role invariants.
    fn org_step(
        &mut self,
        org: usize,
        actor: Option<usize>,
        result: Result<Transition<Organisation>, PolicyError>,
    ) {
        let Ok(transition) = result else { return };
        let before = &self.orgs[org];
        let after = &transition.state;
        let now = self.now;
        assert!(
            after.owners().count() >= 1,
            "an organisation without an owner"
        );
        if let Some(actor) = actor {
            let actor_id = pid(actor);
            let actor_before = before.member(actor_id).expect("the actor was a member");
            if let Some(actor_after) = after.member(actor_id) {
                assert!(actor_after.role() <= actor_before.role(), "raised own role");
                assert!(
                    actor_after.effective_role(now) <= actor_before.effective_role(now),
                    "raised own effective role"
                );
            }
            for member in after.members() {
                if member.person() == actor_id {
                    continue;
                }
                let old = before.member(member.person());
                let old_role = old.map(|m| m.role());
                if old_role.is_none_or(|r| member.role() > r) {
                    assert!(
                        member.role() <= actor_before.effective_role(now),
                        "granted a role above the granter's own"
                    );
                }
                let old_effective = old.map_or(Role::User, |m| m.effective_role(now));
                if member.effective_role(now) > member.role().max(old_effective) {
                    assert!(
                        member.effective_role(now) <= actor_before.role(),
                        "delegated a role above the delegator's own"
                    );
                }
            }
        }
        for member in after.members() {
            assert_eq!(member.org(), after.id());
            assert_eq!(
                member.mfa_subject_since().is_some(),
                after.policy().enforces()
            );
        }
        self.orgs[org] = transition.state;
    }

    fn apply(&mut self, op: &Op) {
        let before_ids: Vec<Vec<AuthenticatorId>> = self
            .mfa
            .iter()
            .map(|m| m.authenticators().iter().map(|a| a.id()).collect())
            .collect();
        let config = self.config;
        let now = self.now;
        match *op {
            Op::Advance(seconds) => self.now += seconds,
            Op::Login {
                person,
                org,
                claim_totp,
                defer,
            } => self.login(person, org, claim_totp, defer),
            Op::Start {
                person,
                replace,
                name,
            } => {
                let mfa = &self.mfa[person];
                let purpose = match (replace, mfa.authenticators().first()) {
                    (true, Some(first)) => EnrollmentPurpose::Replace(first.id()),
                    _ => EnrollmentPurpose::Add(
                        AuthenticatorName::new(&format!("device {name}")).unwrap(),
                    ),
                };
                let reauth = (0..ORGS).find_map(|o| self.fresh_grant(person, o));
                if let Ok(t) =
                    mfa.start_enrollment(purpose, reauth.as_ref(), &config, &mut self.rng, now)
                {
                    self.mfa[person] = t.state;
                    self.confirmed[person] = None;
                }
            }
            Op::Confirm { person, right } => {
                let Some(code) = self.code(person, right) else {
                    return;
                };
                let mfa = &self.mfa[person];
                let pending = mfa.enrollment().unwrap();
                let id = pending.authenticator();
                let expired = pending.is_expired(now);
                let awaiting = pending.phase() == EnrollmentPhase::AwaitingCode;
                match mfa.confirm_enrollment(&code, &config, now) {
                    Ok(t) => {
                        assert!(awaiting);
                        match t.outcome {
                            ConfirmOutcome::Confirmed => {
                                assert!(right && !expired, "a wrong or late code confirmed");
                                self.confirmed[person] = Some(id);
                            }
                            ConfirmOutcome::CodeRejected => assert!(!right && !expired),
                            ConfirmOutcome::Expired => assert!(expired),
                        }
                        self.mfa[person] = t.state;
                    }
                    Err(MfaError::Policy(PolicyError::WrongEnrollmentPhase { .. })) => {
                        assert!(!awaiting)
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            Op::Enroll {
                person,
                replace,
                name,
            } => {
                self.apply(&Op::Start {
                    person,
                    replace,
                    name,
                });
                self.apply(&Op::Confirm {
                    person,
                    right: true,
                });
                self.apply(&Op::Issue { person });
                self.apply(&Op::Acknowledge { person });
            }
            Op::Issue { person } => {
                if let Ok(t) = self.mfa[person].recovery_codes_issued(&config, now) {
                    self.mfa[person] = t.state;
                }
            }
            Op::Acknowledge { person } => {
                if let Ok(t) = self.mfa[person].acknowledge_recovery_codes(&config, now) {
                    if let AcknowledgeOutcome::Activated { authenticator, .. } = t.outcome {
                        assert_eq!(
                            self.confirmed[person],
                            Some(authenticator),
                            "activated without a valid code"
                        );
                    }
                    self.mfa[person] = t.state;
                }
            }
            Op::Cancel { person } => {
                if let Ok(t) = self.mfa[person].cancel_enrollment(now) {
                    self.mfa[person] = t.state;
                }
            }
            Op::Disable { person, org } => {
                let Some(grant) = self.fresh_grant(person, org) else {
                    return;
                };
                let standings: Vec<_> = self
                    .orgs
                    .iter()
                    .filter_map(|o| o.standing(pid(person)))
                    .collect();
                let enforced = standings.iter().any(|s| s.enforces_mfa());
                match self.mfa[person].disable(&grant, &standings, &config, now) {
                    Ok(t) => {
                        assert!(!enforced, "turned off MFA under an enforcing organisation");
                        self.mfa[person] = t.state;
                    }
                    Err(MfaError::Policy(
                        PolicyError::RequiredByOrganisation { .. }
                        | PolicyError::SoleOwnerOfEnforcingOrganisation { .. },
                    )) => assert!(enforced),
                    Err(_) => {}
                }
            }
            Op::Add {
                org,
                actor,
                pick,
                target,
                role,
                by_request,
            } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                let o = &self.orgs[org];
                let result = if by_request {
                    o.approve_access_request(&grant, pid(target), role, now)
                } else {
                    o.add_member(&grant, pid(target), role, now)
                };
                self.org_step(org, Some(actor), result);
            }
            Op::Invite {
                org,
                actor,
                pick,
                role,
            } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                if let Ok(t) = self.orgs[org].invite(&grant, role, 86_400, now) {
                    let inviter = self.orgs[org].member(pid(actor)).unwrap();
                    assert!(t.state.role() <= inviter.effective_role(now));
                    assert_ne!(t.state.role(), Role::Owner);
                    self.invitations[org] = Some(t.state);
                }
            }
            Op::Accept { org, person } => {
                let Some(invitation) = self.invitations[org] else {
                    return;
                };
                let o = &self.orgs[org];
                if let Ok(t) = o.accept_invitation(
                    &invitation,
                    pid(person),
                    authcore::policy::SecondFactors::ALL,
                    now,
                ) {
                    let inviter = o.member(invitation.invited_by()).unwrap();
                    assert!(inviter.is_active());
                    assert!(invitation.role() <= inviter.effective_role(now));
                    assert!(now < invitation.expires_at());
                    self.org_step(org, None, Ok(t));
                }
            }
            Op::ChangeRole {
                org,
                actor,
                pick,
                target,
                role,
            } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                let result = self.orgs[org].change_role(&grant, pid(target), role, now);
                if actor == target {
                    assert!(result.is_err(), "changed own role");
                }
                self.org_step(org, Some(actor), result);
            }
            Op::Remove {
                org,
                actor,
                pick,
                target,
            } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                let result = self.orgs[org].remove_member(&grant, pid(target), now);
                self.org_step(org, Some(actor), result);
            }
            Op::Leave { org, person, pick } => {
                let Some(grant) = self.grant(person, org, pick) else {
                    return;
                };
                let result = self.orgs[org].leave(&grant, now);
                self.org_step(org, None, result);
            }
            Op::Deactivate {
                org,
                actor,
                pick,
                target,
                reactivate,
            } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                let o = &self.orgs[org];
                let result = if reactivate {
                    o.reactivate_member(&grant, pid(target), now)
                } else {
                    o.deactivate_member(&grant, pid(target), now)
                };
                self.org_step(org, Some(actor), result);
            }
            Op::Transfer {
                org,
                actor,
                pick,
                to,
                becomes,
            } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                let factors = self.mfa[to].factors();
                let o = &self.orgs[org];
                let result = o.transfer_ownership(&grant, pid(to), factors, becomes, now);
                if result.is_ok() && o.policy().enforces() {
                    assert!(self.mfa[to].is_active(), "ownership to someone without MFA");
                }
                self.org_step(org, Some(actor), result);
            }
            Op::Delegate {
                org,
                actor,
                pick,
                to,
                role,
                seconds,
            } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                let result = self.orgs[org].delegate(&grant, pid(to), role, now + seconds, now);
                self.org_step(org, Some(actor), result);
            }
            Op::Expire { org } => {
                let t = self.orgs[org].expire_delegations(now);
                self.org_step(org, None, Ok(t));
            }
            Op::SetPolicy {
                org,
                actor,
                pick,
                enforce,
                grace,
            } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                let settings = if enforce {
                    MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, grace).unwrap()
                } else {
                    MfaSettings::optional(MfaSettings::DEFAULT_FACTORS).unwrap()
                };
                let factors = self.mfa[actor].factors();
                let result = self.orgs[org].set_mfa_policy(&grant, factors, settings, now);
                if result.is_ok() {
                    assert!(
                        self.mfa[actor].is_active(),
                        "policy on by an owner without MFA"
                    );
                    let member = self.orgs[org].member(pid(actor)).unwrap();
                    assert_eq!(member.role(), Role::Owner);
                }
                self.org_step(org, Some(actor), result);
            }
            Op::PolicyOff { org, actor, pick } => {
                let Some(grant) = self.grant(actor, org, pick) else {
                    return;
                };
                let result = self.orgs[org].turn_off_mfa_policy(&grant, now);
                self.org_step(org, Some(actor), result);
            }
            Op::Authorize {
                person,
                pick,
                member_org,
                permission,
                resource_org,
                owner,
            } => self.authorize(person, pick, member_org, permission, resource_org, owner),
        }

        // MFA never becomes active without a valid code and an acknowledgement.
        for (person, mfa) in self.mfa.iter().enumerate() {
            for authenticator in mfa.authenticators() {
                if !before_ids[person].contains(&authenticator.id()) {
                    assert!(matches!(
                        op,
                        Op::Acknowledge { person: p } | Op::Enroll { person: p, .. } if *p == person
                    ));
                    assert_eq!(self.confirmed[person], Some(authenticator.id()));
                }
            }
            assert_eq!(mfa.is_active(), mfa.recovery_codes_issued_at().is_some());
        }
        for organisation in &self.orgs {
            assert!(organisation.owners().count() >= 1);
        }
    }

    fn login(&mut self, person: usize, org: usize, claim_totp: bool, defer: bool) {
        let mut progress = LoginProgress::password_verified(pid(person), oid(org), self.now);
        if claim_totp {
            // The host claims a verified code, even for someone without an authenticator.
            progress = progress.with_second_factor(FactorKind::Totp);
        }
        if defer {
            progress = progress.defer_enrollment();
        }
        let organisation = &self.orgs[org];
        let member = organisation.member(pid(person));
        let decision = login_decision(
            &self.account(person),
            member,
            organisation.policy(),
            &progress,
            self.now,
        );
        if let LoginDecision::Allowed(grant) = decision {
            let member = member.expect("allowed without a membership");
            assert!(member.is_active());
            assert_eq!(grant.org(), oid(org));
            assert_eq!(grant.person(), pid(person));
            let mfa = &self.mfa[person];
            if organisation.policy().enforces() && !mfa.is_active() {
                let deadline = organisation.policy().deadline_for(member).unwrap();
                assert!(
                    self.now < deadline,
                    "an enforcing organisation let in a member without MFA after the deadline"
                );
            }
            if mfa.is_active() {
                assert_eq!(grant.aal(), Aal::Aal2, "MFA active but not challenged");
            } else {
                assert_eq!(grant.aal(), Aal::Aal1, "AAL2 without an authenticator");
            }
            self.grants.insert((person, org), grant);
        }
    }

    fn authorize(
        &mut self,
        person: usize,
        pick: Pick,
        member_org: usize,
        permission: Permission,
        resource_org: usize,
        owner: Option<usize>,
    ) {
        let Some(grant) = self.grant(person, member_org, pick) else {
            return;
        };
        let Some(member) = self.orgs[member_org].member(pid(person)) else {
            return;
        };
        let resource = match owner {
            Some(owner) => Resource::owned_by(oid(resource_org), pid(owner)),
            None => Resource::of_org(oid(resource_org)),
        };
        let direct = authorize(&grant, member, &permission, &resource, self.now);
        let via_org = self.orgs[member_org].authorize(&grant, &permission, &resource, self.now);
        // The roster adds the MFA policy: what the role allows, a grant the enforced policy no
        // longer admits may still not do.
        let admitted = self.orgs[member_org]
            .policy()
            .admits(member, grant.factors(), self.now);
        if direct.is_ok() && !admitted {
            assert_eq!(via_org, Err(authcore::policy::AccessDenied::MfaRequired));
        } else {
            assert_eq!(direct, via_org);
        }
        if direct.is_ok() {
            // Nothing crosses organisations.
            assert_eq!(grant.org(), resource.org());
            assert_eq!(member.org(), grant.org());
            assert_eq!(member.person(), grant.person());
            assert!(member.is_active());
            let role = member.effective_role(self.now);
            match role.scope(permission) {
                Scope::None => panic!("authorised without the permission"),
                // A User is never authorised for another person's job.
                Scope::Own => assert_eq!(resource.owner(), Some(grant.person())),
                Scope::All => assert_ne!(role, Role::User),
            }
            if permission.is_administrative() {
                assert_eq!(grant.aal(), Aal::Aal2);
            }
        }
    }
}

/// A starting state: for each organisation and person, a role to join with (or none); for each
/// organisation, whether its founder enforces MFA (and with which grace period); and whether the
/// founders keep the MFA they set up to build it.
#[derive(Clone, Debug)]
struct Setup {
    roster: Vec<Option<Role>>,
    enforce: Vec<Option<u64>>,
    founders_keep_mfa: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    let joining = prop::option::of(prop::sample::select(vec![
        Role::User,
        Role::Manager,
        Role::Admin,
    ]));
    let grace = prop::option::of(prop::sample::select(vec![0u64, 3_600, 7 * 86_400]));
    (
        prop::collection::vec(joining, ORGS * PEOPLE),
        prop::collection::vec(grace, ORGS),
        prop::bool::weighted(0.75),
    )
        .prop_map(|(roster, enforce, founders_keep_mfa)| Setup {
            roster,
            enforce,
            founders_keep_mfa,
        })
}

impl World {
    /// Builds the starting state through the ordinary events, so every step is checked.
    fn set_up(&mut self, setup: &Setup) {
        for founder in 0..ORGS {
            self.apply(&Op::Enroll {
                person: founder,
                replace: false,
                name: 0,
            });
        }
        for (index, role) in setup.roster.iter().enumerate() {
            let (org, target) = (index / PEOPLE, index % PEOPLE);
            if let Some(role) = *role {
                self.apply(&Op::Add {
                    org,
                    actor: org,
                    pick: Pick::Fresh,
                    target,
                    role,
                    by_request: index % 2 == 0,
                });
            }
        }
        for (org, grace) in setup.enforce.iter().enumerate() {
            if let Some(grace) = *grace {
                self.apply(&Op::SetPolicy {
                    org,
                    actor: org,
                    pick: Pick::Fresh,
                    enforce: true,
                    grace,
                });
                assert!(self.orgs[org].policy().enforces());
            }
        }
        if !setup.founders_keep_mfa {
            for founder in 0..ORGS {
                self.apply(&Op::Disable {
                    person: founder,
                    org: founder,
                });
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_event_sequence(
        setup in setup(),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut world = World::new();
        world.set_up(&setup);
        for op in &ops {
            world.apply(op);
        }
    }
}

/// A scripted run that reaches the interesting states, so the model is known to exercise them.
#[test]
fn the_model_reaches_enforcement_and_delegation() {
    let mut world = World::new();
    let script = [
        Op::Start {
            person: 0,
            replace: false,
            name: 0,
        },
        Op::Confirm {
            person: 0,
            right: false,
        },
        Op::Confirm {
            person: 0,
            right: true,
        },
        Op::Issue { person: 0 },
        Op::Acknowledge { person: 0 },
        Op::Add {
            org: 0,
            actor: 0,
            pick: Pick::Fresh,
            target: 2,
            role: Role::Admin,
            by_request: false,
        },
        Op::SetPolicy {
            org: 0,
            actor: 0,
            pick: Pick::Fresh,
            enforce: true,
            grace: 3_600,
        },
        Op::Login {
            person: 2,
            org: 0,
            claim_totp: true,
            defer: true,
        },
        Op::Advance(3_600),
        Op::Login {
            person: 2,
            org: 0,
            claim_totp: true,
            defer: true,
        },
        Op::Add {
            org: 0,
            actor: 0,
            pick: Pick::Fresh,
            target: 3,
            role: Role::User,
            by_request: true,
        },
        Op::Delegate {
            org: 0,
            actor: 0,
            pick: Pick::Fresh,
            to: 3,
            role: Role::Manager,
            seconds: 60,
        },
        Op::Disable { person: 0, org: 0 },
        Op::Authorize {
            person: 0,
            pick: Pick::Fresh,
            member_org: 0,
            permission: Permission::ManageMembers,
            resource_org: 1,
            owner: None,
        },
    ];
    for op in &script {
        world.apply(op);
    }
    assert!(
        world.mfa[0].is_active(),
        "disable refused under enforcement"
    );
    assert!(world.orgs[0].policy().enforces());
    assert_eq!(world.orgs[0].member(pid(2)).unwrap().role(), Role::Admin);
    assert!(
        world.grants.contains_key(&(2, 0)),
        "allowed before the deadline"
    );
    assert_eq!(
        world.fresh_grant(2, 0),
        None,
        "after the deadline the member without MFA is stopped"
    );
    let backup = world.orgs[0].member(pid(3)).unwrap();
    assert_eq!(backup.effective_role(world.now), Role::Manager);
    assert_eq!(backup.effective_role(world.now + 60), Role::User);
}

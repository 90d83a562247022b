//! Fuzz target: arbitrary sequences of enrollment, organisation, role and login events, checked
//! against the policy invariants after every event.
//!
//! - MFA never becomes active without a valid code and an acknowledgement.
//! - An enforcing organisation never lets in a member without an active authenticator after
//!   their deadline.
//! - No organisation is left without an active owner; nobody raises their own role or grants a
//!   role above their own.
//! - A User is never authorised for another person's job; nothing crosses organisations.
//!
//! Needs, in `fuzz/Cargo.toml`: `authcore = { path = ".." }`, `rand_core = "0.10"`,
//! `libfuzzer-sys`.
#![no_main]

use core::convert::Infallible;

use authcore::credential::FactorKind;
use authcore::otp::Totp;
use authcore::policy::{
    Aal, Account, AcknowledgeOutcome, AuthenticatorId, AuthenticatorName, ConfirmOutcome,
    EnrollmentConfig, EnrollmentPurpose, LoginDecision, LoginProgress, Mfa, MfaSettings,
    Organisation, Permission, PolicyError, Resource, Role, Scope, Transition, authorize,
    login_decision,
};
use authcore::{Grant, OrgId, PersonId};
use libfuzzer_sys::fuzz_target;
use rand_core::{TryCryptoRng, TryRng};

const PEOPLE: usize = 4;
const ORGS: usize = 2;
const T0: u64 = 1_700_000_000;
const STEPS: [u64; 8] = [0, 29, 31, 300, 901, 3_600, 3 * 86_400, 8 * 86_400];

/// Deterministic bytes for new secrets (the fuzzer explores behaviour, not randomness).
struct CounterRng(u64);

impl TryRng for CounterRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        Ok(self.0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            *byte = (self.try_next_u64()? >> 33) as u8;
        }
        Ok(())
    }
}

impl TryCryptoRng for CounterRng {}

/// Reads the fuzzer's bytes as small numbers, then zeros.
struct Input<'a>(core::slice::Iter<'a, u8>);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn role(&mut self) -> Role {
        Role::ALL[self.below(4)]
    }

    fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
}

fn pid(i: usize) -> PersonId {
    PersonId::new(i as u128 + 1)
}

fn oid(i: usize) -> OrgId {
    OrgId::new(i as u128 + 100)
}

struct World {
    now: u64,
    config: EnrollmentConfig,
    mfa: Vec<Mfa>,
    orgs: Vec<Organisation>,
    stored: Vec<Option<Grant>>,
    confirmed: Vec<Option<AuthenticatorId>>,
    rng: CounterRng,
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
            stored: vec![None; PEOPLE * ORGS],
            confirmed: vec![None; PEOPLE],
            rng: CounterRng(1),
        }
    }

    fn grant(&self, person: usize, org: usize, stored: bool) -> Option<Grant> {
        if stored {
            return self.stored[person * ORGS + org];
        }
        let mut progress =
            LoginProgress::password_verified(pid(person), oid(org), self.now).defer_enrollment();
        if self.mfa[person].is_active() {
            progress = progress.with_second_factor(FactorKind::Totp);
        }
        let account = Account::new(pid(person)).factors(self.mfa[person].factors());
        let o = &self.orgs[org];
        login_decision(
            &account,
            o.member(pid(person)),
            o.policy(),
            &progress,
            self.now,
        )
        .grant()
        .copied()
    }

    fn org_step(
        &mut self,
        org: usize,
        actor: Option<usize>,
        result: Result<Transition<Organisation>, PolicyError>,
    ) {
        let Ok(t) = result else { return };
        let (before, after, now) = (&self.orgs[org], &t.state, self.now);
        assert!(after.owners().count() >= 1);
        if let Some(actor) = actor {
            let was = before.member(pid(actor)).expect("the actor was a member");
            if let Some(is) = after.member(pid(actor)) {
                assert!(is.role() <= was.role());
                assert!(is.effective_role(now) <= was.effective_role(now));
            }
            for member in after.members().iter().filter(|m| m.person() != pid(actor)) {
                let old = before.member(member.person());
                if old.is_none_or(|m| member.role() > m.role()) {
                    assert!(member.role() <= was.effective_role(now));
                }
                let old_effective = old.map_or(Role::User, |m| m.effective_role(now));
                if member.effective_role(now) > member.role().max(old_effective) {
                    assert!(member.effective_role(now) <= was.role());
                }
            }
        }
        self.orgs[org] = t.state;
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let before: Vec<Vec<AuthenticatorId>> = self
            .mfa
            .iter()
            .map(|m| m.authenticators().iter().map(|a| a.id()).collect())
            .collect();
        let (config, now) = (self.config, self.now);
        let person = input.below(PEOPLE);
        let org = input.below(ORGS);
        let mut acknowledged = None;
        match input.below(12) {
            0 => self.now += STEPS[input.below(STEPS.len())],
            1 => {
                let mut progress = LoginProgress::password_verified(pid(person), oid(org), now);
                if input.flag() {
                    progress = progress.with_second_factor(FactorKind::Totp);
                }
                if input.flag() {
                    progress = progress.defer_enrollment();
                }
                let account = Account::new(pid(person)).factors(self.mfa[person].factors());
                let o = &self.orgs[org];
                let member = o.member(pid(person));
                if let LoginDecision::Allowed(grant) =
                    login_decision(&account, member, o.policy(), &progress, now)
                {
                    let member = member.expect("allowed without a membership");
                    assert!(member.is_active());
                    let active = self.mfa[person].is_active();
                    if o.policy().enforces() && !active {
                        assert!(now < o.policy().deadline_for(member).expect("subject"));
                    }
                    assert_eq!(grant.aal() == Aal::Aal2, active);
                    self.stored[person * ORGS + org] = Some(grant);
                }
            }
            2 => {
                let mfa = &self.mfa[person];
                match input.below(6) {
                    0 => {
                        let purpose = match mfa.authenticators().first() {
                            Some(first) if input.flag() => EnrollmentPurpose::Replace(first.id()),
                            _ => EnrollmentPurpose::Add(
                                AuthenticatorName::new(&format!("device {}", input.below(3)))
                                    .expect("a valid name"),
                            ),
                        };
                        let reauth = (0..ORGS).find_map(|o| self.grant(person, o, false));
                        if let Ok(t) = mfa.start_enrollment(
                            purpose,
                            reauth.as_ref(),
                            &config,
                            &mut self.rng,
                            now,
                        ) {
                            self.mfa[person] = t.state;
                            self.confirmed[person] = None;
                        }
                    }
                    1 | 2 => {
                        let Some(pending) = mfa.enrollment() else {
                            return;
                        };
                        let totp = Totp::new(pending.params(), pending.expose_secret());
                        let right = input.flag();
                        let code = if right {
                            totp.generate(now).expect("time").expose_secret().to_owned()
                        } else {
                            let step = pending.params().step_at(now).expect("time");
                            let valid: Vec<String> = (step - 1..=step + 1)
                                .map(|s| totp.generate_at_step(s).expose_secret().to_owned())
                                .collect();
                            (0..)
                                .map(|n| format!("{n:06}"))
                                .find(|c| !valid.contains(c))
                                .expect("a wrong code")
                        };
                        let id = pending.authenticator();
                        let expired = pending.is_expired(now);
                        if let Ok(t) = mfa.confirm_enrollment(&code, &config, now) {
                            match t.outcome {
                                ConfirmOutcome::Confirmed => {
                                    assert!(right && !expired);
                                    self.confirmed[person] = Some(id);
                                }
                                ConfirmOutcome::CodeRejected => assert!(!right && !expired),
                                ConfirmOutcome::Expired => assert!(expired),
                            }
                            self.mfa[person] = t.state;
                        }
                    }
                    3 => {
                        if let Ok(t) = mfa.recovery_codes_issued(&config, now) {
                            self.mfa[person] = t.state;
                        }
                    }
                    4 => {
                        if let Ok(t) = mfa.acknowledge_recovery_codes(&config, now) {
                            if let AcknowledgeOutcome::Activated { authenticator, .. } = t.outcome {
                                assert_eq!(self.confirmed[person], Some(authenticator));
                                acknowledged = Some(person);
                            }
                            self.mfa[person] = t.state;
                        }
                    }
                    _ => {
                        if let Ok(t) = mfa.cancel_enrollment(now) {
                            self.mfa[person] = t.state;
                        }
                    }
                }
            }
            3 => {
                let (target, role, stored) = (input.below(PEOPLE), input.role(), input.flag());
                let Some(grant) = self.grant(person, org, stored) else {
                    return;
                };
                let result = self.orgs[org].add_member(&grant, pid(target), role, now);
                self.org_step(org, Some(person), result);
            }
            4 => {
                let (target, role, stored) = (input.below(PEOPLE), input.role(), input.flag());
                let Some(grant) = self.grant(person, org, stored) else {
                    return;
                };
                let result = self.orgs[org].change_role(&grant, pid(target), role, now);
                assert!(target != person || result.is_err());
                self.org_step(org, Some(person), result);
            }
            5 => {
                let (target, stored) = (input.below(PEOPLE), input.flag());
                let Some(grant) = self.grant(person, org, stored) else {
                    return;
                };
                if input.flag() {
                    let result = self.orgs[org].leave(&grant, now);
                    self.org_step(org, None, result);
                } else {
                    let result = self.orgs[org].remove_member(&grant, pid(target), now);
                    self.org_step(org, Some(person), result);
                }
            }
            6 => {
                let (target, stored) = (input.below(PEOPLE), input.flag());
                let Some(grant) = self.grant(person, org, stored) else {
                    return;
                };
                let o = &self.orgs[org];
                let result = if input.flag() {
                    o.reactivate_member(&grant, pid(target), now)
                } else {
                    o.deactivate_member(&grant, pid(target), now)
                };
                self.org_step(org, Some(person), result);
            }
            7 => {
                let (to, becomes, stored) = (input.below(PEOPLE), input.role(), input.flag());
                let Some(grant) = self.grant(person, org, stored) else {
                    return;
                };
                let o = &self.orgs[org];
                let factors = self.mfa[to].factors();
                let result = o.transfer_ownership(&grant, pid(to), factors, becomes, now);
                if result.is_ok() && o.policy().enforces() {
                    assert!(self.mfa[to].is_active());
                }
                self.org_step(org, Some(person), result);
            }
            8 => {
                let (to, role, stored) = (input.below(PEOPLE), input.role(), input.flag());
                let seconds = STEPS[input.below(STEPS.len())];
                let Some(grant) = self.grant(person, org, stored) else {
                    return;
                };
                let o = &self.orgs[org];
                match input.below(3) {
                    0 => {
                        let result = o.delegate(&grant, pid(to), role, now + seconds, now);
                        self.org_step(org, Some(person), result);
                    }
                    1 => {
                        let result = o.revoke_delegation(&grant, pid(to), now);
                        self.org_step(org, Some(person), result);
                    }
                    // Maintenance, not an action of anyone's: there is no actor to check.
                    _ => {
                        let result = Ok(o.expire_delegations(now));
                        self.org_step(org, None, result);
                    }
                }
            }
            9 => {
                let (enforce, stored) = (input.flag(), input.flag());
                let grace = STEPS[input.below(STEPS.len())].min(MfaSettings::MAX_GRACE_PERIOD);
                let Some(grant) = self.grant(person, org, stored) else {
                    return;
                };
                let o = &self.orgs[org];
                let result = if input.flag() {
                    o.turn_off_mfa_policy(&grant, now)
                } else {
                    let settings = if enforce {
                        MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, grace)
                    } else {
                        MfaSettings::optional(MfaSettings::DEFAULT_FACTORS)
                    }
                    .expect("valid settings");
                    let result =
                        o.set_mfa_policy(&grant, self.mfa[person].factors(), settings, now);
                    if result.is_ok() {
                        assert!(self.mfa[person].is_active());
                    }
                    result
                };
                self.org_step(org, Some(person), result);
            }
            10 => {
                let (stored, member_org) = (input.flag(), input.below(ORGS));
                let permission = Permission::ALL[input.below(Permission::ALL.len())];
                let resource = match input.below(PEOPLE + 1) {
                    0 => Resource::of_org(oid(input.below(ORGS))),
                    n => Resource::owned_by(oid(input.below(ORGS)), pid(n - 1)),
                };
                let Some(grant) = self.grant(person, org, stored) else {
                    return;
                };
                let Some(member) = self.orgs[member_org].member(pid(person)) else {
                    return;
                };
                if authorize(&grant, member, &permission, &resource, now).is_ok() {
                    assert_eq!(grant.org(), resource.org());
                    assert_eq!(member.org(), grant.org());
                    assert!(member.is_active());
                    match member.effective_role(now).scope(permission) {
                        Scope::None => panic!("authorised without the permission"),
                        Scope::Own => assert_eq!(resource.owner(), Some(grant.person())),
                        Scope::All => assert_ne!(member.effective_role(now), Role::User),
                    }
                    if permission.is_administrative() {
                        assert_eq!(grant.aal(), Aal::Aal2);
                    }
                }
            }
            _ => {
                let Some(grant) = self.grant(person, org, false) else {
                    return;
                };
                let standings: Vec<_> = self
                    .orgs
                    .iter()
                    .filter_map(|o| o.standing(pid(person)))
                    .collect();
                if let Ok(t) = self.mfa[person].disable(&grant, &standings, &config, now) {
                    assert!(standings.iter().all(|s| !s.enforces_mfa()));
                    self.mfa[person] = t.state;
                }
            }
        }
        for (p, mfa) in self.mfa.iter().enumerate() {
            if mfa
                .authenticators()
                .iter()
                .any(|a| !before[p].contains(&a.id()))
            {
                assert_eq!(
                    acknowledged,
                    Some(p),
                    "MFA activated without an acknowledgement"
                );
            }
            assert_eq!(mfa.is_active(), mfa.recovery_codes_issued_at().is_some());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data.iter());
    let mut world = World::new();
    let mut steps = 0;
    while !input.is_empty() && steps < 256 {
        world.step(&mut input);
        steps += 1;
    }
});

//! Roles and permissions: the permission table, the one authorisation check, role-change rules,
//! ownership transfer, deactivation and time-boxed delegation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use authcore::credential::FactorKind;
use authcore::policy::{
    Aal, AccessDenied, Account, Action, AuditKind, Delegation, JoinPath, LoginDecision,
    LoginProgress, MfaSettings, Organisation, Permission, PolicyError, Resource, Role, Scope,
    SecondFactors, authorize, login_decision,
};
use authcore::{Grant, OrgId, PersonId};

const T0: u64 = 1_700_000_000;
const HOUR: u64 = 60 * 60;
const OWNER: PersonId = PersonId::new(1);
const ADMIN: PersonId = PersonId::new(2);
const MANAGER: PersonId = PersonId::new(3);
const USER: PersonId = PersonId::new(4);
const OTHER_USER: PersonId = PersonId::new(5);
const NEWCOMER: PersonId = PersonId::new(6);
const ORG: OrgId = OrgId::new(10);
const ELSEWHERE: OrgId = OrgId::new(20);

fn mfa() -> SecondFactors {
    SecondFactors::of(FactorKind::Totp)
}

/// Logs a person in; with `aal2`, they have and present an authenticator code.
fn login(org: &Organisation, person: PersonId, aal2: bool, now: u64) -> Grant {
    let factors = if aal2 { mfa() } else { SecondFactors::EMPTY };
    let account = Account::new(person).factors(factors);
    let mut progress = LoginProgress::password_verified(person, org.id(), now).defer_enrollment();
    if aal2 {
        progress = progress.with_second_factor(FactorKind::Totp);
    }
    match login_decision(&account, org.member(person), org.policy(), &progress, now) {
        LoginDecision::Allowed(grant) => grant,
        other => panic!("not allowed: {other:?}"),
    }
}

/// An organisation with one member of each role, plus a second user.
fn company() -> Organisation {
    let org = Organisation::found(ORG, OWNER, T0).state;
    let owner = login(&org, OWNER, true, T0);
    let mut org = org;
    for (person, role) in [
        (ADMIN, Role::Admin),
        (MANAGER, Role::Manager),
        (USER, Role::User),
        (OTHER_USER, Role::User),
    ] {
        org = org.add_member(&owner, person, role, T0).unwrap().state;
    }
    org
}

fn job_of(person: PersonId) -> Resource {
    Resource::owned_by(ORG, person)
}

#[test]
fn the_permission_table() {
    assert_eq!(Role::User.scope(Permission::ViewJobs), Scope::Own);
    assert_eq!(Role::User.scope(Permission::ViewReports), Scope::None);
    assert_eq!(Role::Manager.scope(Permission::EditJobs), Scope::All);
    assert_eq!(Role::Manager.scope(Permission::ManageMembers), Scope::None);
    assert_eq!(Role::Admin.scope(Permission::ManageBilling), Scope::All);
    assert_eq!(
        Role::Admin.scope(Permission::ManageSecurityPolicy),
        Scope::None
    );
    assert_eq!(Role::Owner.scope(Permission::TransferOwnership), Scope::All);
    assert!(Role::User < Role::Manager && Role::Admin < Role::Owner);
    assert!(Permission::ManageMembers.is_administrative());
    assert!(!Permission::ViewReports.is_administrative());
}

#[test]
fn users_see_only_their_own_jobs() {
    let org = company();
    let now = T0 + 10;
    let user = login(&org, USER, false, now);
    assert_eq!(
        org.authorize(&user, &Permission::ViewJobs, &job_of(USER), now),
        Ok(())
    );
    assert_eq!(
        org.authorize(&user, &Permission::EditJobs, &job_of(USER), now),
        Ok(())
    );
    assert_eq!(
        org.authorize(&user, &Permission::ViewJobs, &job_of(OTHER_USER), now),
        Err(AccessDenied::NotOwner)
    );
    assert_eq!(
        org.authorize(&user, &Permission::ViewJobs, &Resource::of_org(ORG), now),
        Err(AccessDenied::NotOwner)
    );
    assert_eq!(
        org.authorize(&user, &Permission::ViewReports, &Resource::of_org(ORG), now),
        Err(AccessDenied::NotPermitted)
    );
    assert_eq!(
        org.authorize(
            &user,
            &Permission::ManageMembers,
            &Resource::of_org(ORG),
            now
        ),
        Err(AccessDenied::NotPermitted)
    );
}

#[test]
fn managers_see_all_jobs_and_reports_but_not_members() {
    let org = company();
    let now = T0 + 10;
    let manager = login(&org, MANAGER, false, now);
    for resource in [job_of(USER), job_of(OTHER_USER), Resource::of_org(ORG)] {
        assert_eq!(
            org.authorize(&manager, &Permission::EditJobs, &resource, now),
            Ok(())
        );
    }
    assert_eq!(
        org.authorize(
            &manager,
            &Permission::ViewReports,
            &Resource::of_org(ORG),
            now
        ),
        Ok(())
    );
    assert_eq!(
        org.authorize(
            &manager,
            &Permission::ManageBilling,
            &Resource::of_org(ORG),
            now
        ),
        Err(AccessDenied::NotPermitted)
    );
    assert_eq!(
        org.add_member(&manager, NEWCOMER, Role::User, now)
            .unwrap_err(),
        PolicyError::NotPermitted
    );
}

#[test]
fn admin_permissions_need_aal2_and_security_is_for_owners() {
    let org = company();
    let now = T0 + 10;
    let admin_aal1 = login(&org, ADMIN, false, now);
    assert_eq!(admin_aal1.aal(), Aal::Aal1);
    assert_eq!(
        org.authorize(
            &admin_aal1,
            &Permission::ManageBilling,
            &Resource::of_org(ORG),
            now
        ),
        Err(AccessDenied::Aal2Required)
    );
    assert_eq!(
        org.add_member(&admin_aal1, NEWCOMER, Role::User, now)
            .unwrap_err(),
        PolicyError::Aal2Required
    );
    let admin = login(&org, ADMIN, true, now);
    for permission in [
        Permission::ManageBilling,
        Permission::ManageMembers,
        Permission::ManageSettings,
        Permission::ViewReports,
    ] {
        assert_eq!(
            org.authorize(&admin, &permission, &Resource::of_org(ORG), now),
            Ok(())
        );
    }
    assert_eq!(
        org.authorize(
            &admin,
            &Permission::ManageSecurityPolicy,
            &Resource::of_org(ORG),
            now
        ),
        Err(AccessDenied::NotPermitted)
    );
    let owner = login(&org, OWNER, true, now);
    assert_eq!(
        org.authorize(
            &owner,
            &Permission::TransferOwnership,
            &Resource::of_org(ORG),
            now
        ),
        Ok(())
    );
}

#[test]
fn nothing_crosses_organisations() {
    let org = company();
    let other = Organisation::found(ELSEWHERE, OWNER, T0).state;
    let now = T0 + 10;
    let owner_here = login(&org, OWNER, true, now);
    let owner_there = login(&other, OWNER, true, now);
    // Even the owner of both cannot use one organisation's grant on the other's resources.
    assert_eq!(
        org.authorize(
            &owner_here,
            &Permission::ViewJobs,
            &Resource::owned_by(ELSEWHERE, OWNER),
            now
        ),
        Err(AccessDenied::OtherOrganisation)
    );
    assert_eq!(
        org.authorize(&owner_there, &Permission::ViewJobs, &job_of(OWNER), now),
        Err(AccessDenied::OtherOrganisation)
    );
    // Nor present another organisation's member record.
    assert_eq!(
        authorize(
            &owner_here,
            other.member(OWNER).unwrap(),
            &Permission::ViewJobs,
            &job_of(OWNER),
            now
        ),
        Err(AccessDenied::OtherOrganisation)
    );
    // Nor someone else's member record.
    assert_eq!(
        authorize(
            &owner_here,
            org.member(USER).unwrap(),
            &Permission::ViewJobs,
            &job_of(USER),
            now
        ),
        Err(AccessDenied::WrongPerson)
    );
    assert_eq!(
        org.add_member(&owner_there, NEWCOMER, Role::User, now)
            .unwrap_err(),
        PolicyError::OtherOrganisation
    );
}

#[test]
fn hosts_map_their_own_actions() {
    enum Shop {
        ExportInvoices,
        CancelJob,
    }
    impl Action for Shop {
        fn permission(&self) -> Permission {
            match self {
                Self::ExportInvoices => Permission::ManageBilling,
                Self::CancelJob => Permission::EditJobs,
            }
        }
    }
    let org = company();
    let now = T0 + 10;
    let user = login(&org, USER, false, now);
    assert_eq!(
        org.authorize(&user, &Shop::CancelJob, &job_of(USER), now),
        Ok(())
    );
    assert_eq!(
        org.authorize(&user, &Shop::ExportInvoices, &Resource::of_org(ORG), now),
        Err(AccessDenied::NotPermitted)
    );
    let dynamic: &dyn Action = &Shop::CancelJob;
    assert_eq!(
        org.authorize(&user, dynamic, &job_of(OTHER_USER), now),
        Err(AccessDenied::NotOwner)
    );
}

#[test]
fn role_change_rules() {
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    let owner = login(&org, OWNER, true, now);

    // Admins manage ordinary members.
    let changed = org.change_role(&admin, USER, Role::Manager, now).unwrap();
    assert_eq!(
        changed.events[0].what,
        AuditKind::RoleChanged {
            from: Role::User,
            to: Role::Manager
        }
    );
    assert_eq!(changed.events[0].subject, Some(USER));
    assert_eq!(changed.state.member(USER).unwrap().role(), Role::Manager);
    // Setting the same role changes nothing.
    let same = org.change_role(&admin, USER, Role::User, now).unwrap();
    assert!(same.events.is_empty());

    // Nobody changes their own role.
    assert_eq!(
        org.change_role(&admin, ADMIN, Role::User, now).unwrap_err(),
        PolicyError::CannotActOnSelf
    );
    assert_eq!(
        org.change_role(&owner, OWNER, Role::Admin, now)
            .unwrap_err(),
        PolicyError::CannotActOnSelf
    );
    // An Admin cannot create, change or remove an Owner.
    assert_eq!(
        org.add_member(&admin, NEWCOMER, Role::Owner, now)
            .unwrap_err(),
        PolicyError::OwnershipByTransferOnly
    );
    assert_eq!(
        org.change_role(&admin, USER, Role::Owner, now).unwrap_err(),
        PolicyError::OwnershipByTransferOnly
    );
    assert_eq!(
        org.change_role(&admin, OWNER, Role::User, now).unwrap_err(),
        PolicyError::OwnersOnly
    );
    assert_eq!(
        org.remove_member(&admin, OWNER, now).unwrap_err(),
        PolicyError::OwnersOnly
    );
    assert_eq!(
        org.deactivate_member(&admin, OWNER, now).unwrap_err(),
        PolicyError::OwnersOnly
    );
    // Even an Owner makes owners only by transfer.
    assert_eq!(
        org.change_role(&owner, ADMIN, Role::Owner, now)
            .unwrap_err(),
        PolicyError::OwnershipByTransferOnly
    );
    // Members are unique.
    assert_eq!(
        org.add_member(&admin, USER, Role::User, now).unwrap_err(),
        PolicyError::AlreadyMember
    );
    assert_eq!(
        org.change_role(&admin, NEWCOMER, Role::User, now)
            .unwrap_err(),
        PolicyError::NotAMember
    );
    // Admins may remove ordinary members.
    let removed = org.remove_member(&admin, OTHER_USER, now).unwrap();
    assert!(removed.state.member(OTHER_USER).is_none());
    assert_eq!(removed.events[0].what, AuditKind::MemberRemoved);
    assert_eq!(
        org.remove_member(&admin, ADMIN, now).unwrap_err(),
        PolicyError::CannotActOnSelf
    );
}

#[test]
fn the_last_owner_stays() {
    let org = company();
    let now = T0 + 10;
    let owner = login(&org, OWNER, true, now);
    assert_eq!(org.leave(&owner, now).unwrap_err(), PolicyError::LastOwner);
    assert_eq!(org.owners().count(), 1);

    // With a co-owner, either may leave, but not both.
    let shared = org
        .transfer_ownership(&owner, ADMIN, mfa(), Role::Owner, now)
        .unwrap()
        .state;
    assert_eq!(shared.owners().count(), 2);
    let left = shared.leave(&owner, now).unwrap();
    assert_eq!(left.events[0].what, AuditKind::MemberLeft);
    let left = left.state;
    let admin_now_owner = login(&left, ADMIN, true, now);
    assert_eq!(
        left.leave(&admin_now_owner, now).unwrap_err(),
        PolicyError::LastOwner
    );
    // One owner may demote or deactivate the other while one remains.
    let co_owner = login(&shared, ADMIN, true, now);
    let demoted = shared
        .change_role(&co_owner, OWNER, Role::Admin, now)
        .unwrap()
        .state;
    assert_eq!(demoted.owners().count(), 1);
    let deactivated = shared
        .deactivate_member(&co_owner, OWNER, now)
        .unwrap()
        .state;
    assert_eq!(deactivated.owners().count(), 1);
    // A deactivated owner does not count: the remaining active one cannot go.
    let remaining = login(&deactivated, ADMIN, true, now);
    assert_eq!(
        deactivated.leave(&remaining, now).unwrap_err(),
        PolicyError::LastOwner
    );
}

#[test]
fn ownership_transfer_needs_mfa_while_enforced() {
    let org = company();
    let now = T0 + 10;
    let owner = login(&org, OWNER, true, now);
    let enforced = org
        .set_mfa_policy(
            &owner,
            mfa(),
            MfaSettings::enforced(MfaSettings::DEFAULT_FACTORS, HOUR).unwrap(),
            now,
        )
        .unwrap()
        .state;
    assert_eq!(
        enforced
            .transfer_ownership(&owner, ADMIN, SecondFactors::EMPTY, Role::Admin, now)
            .unwrap_err(),
        PolicyError::TargetNeedsMfa
    );
    assert_eq!(
        enforced
            .transfer_ownership(
                &owner,
                ADMIN,
                SecondFactors::of(FactorKind::RecoveryCode),
                Role::Admin,
                now
            )
            .unwrap_err(),
        PolicyError::TargetNeedsMfa
    );
    let transferred = enforced
        .transfer_ownership(&owner, ADMIN, mfa(), Role::Admin, now)
        .unwrap();
    assert!(transferred.events.iter().any(|e| e.what
        == AuditKind::OwnershipTransferred { from: OWNER }
        && e.subject == Some(ADMIN)));
    let state = transferred.state;
    assert_eq!(state.member(ADMIN).unwrap().role(), Role::Owner);
    assert_eq!(state.member(OWNER).unwrap().role(), Role::Admin);
    assert_eq!(state.owners().count(), 1);
    // Without enforcement the new owner's MFA is not required.
    assert!(
        org.transfer_ownership(&owner, USER, SecondFactors::EMPTY, Role::Admin, now)
            .is_ok()
    );
    // Only owners transfer, freshly authenticated, to someone else who is an active member.
    let admin = login(&org, ADMIN, true, now);
    assert_eq!(
        org.transfer_ownership(&admin, USER, mfa(), Role::User, now)
            .unwrap_err(),
        PolicyError::NotPermitted
    );
    let stale = now + authcore::policy::SENSITIVE_ACTION_MAX_AGE + 1;
    assert_eq!(
        org.transfer_ownership(&owner, ADMIN, mfa(), Role::Admin, stale)
            .unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
    assert_eq!(
        org.transfer_ownership(&owner, OWNER, mfa(), Role::Admin, now)
            .unwrap_err(),
        PolicyError::CannotActOnSelf
    );
    assert_eq!(
        org.transfer_ownership(&owner, NEWCOMER, mfa(), Role::Admin, now)
            .unwrap_err(),
        PolicyError::NotAMember
    );
}

#[test]
fn deactivation_takes_effect_at_the_next_check() {
    let org = company();
    let now = T0 + 10;
    let user = login(&org, USER, false, now);
    assert_eq!(
        org.authorize(&user, &Permission::ViewJobs, &job_of(USER), now),
        Ok(())
    );
    let admin = login(&org, ADMIN, true, now);
    let deactivated = org.deactivate_member(&admin, USER, now + 1).unwrap();
    assert_eq!(deactivated.events[0].what, AuditKind::MemberDeactivated);
    let org = deactivated.state;
    // The same grant, one second later: refused.
    assert_eq!(
        org.authorize(&user, &Permission::ViewJobs, &job_of(USER), now + 2),
        Err(AccessDenied::Deactivated)
    );
    // And no new login either.
    let progress = LoginProgress::password_verified(USER, ORG, now + 2);
    assert_eq!(
        login_decision(
            &Account::new(USER),
            org.member(USER),
            org.policy(),
            &progress,
            now + 2
        ),
        LoginDecision::Denied(authcore::policy::DenyReason::Deactivated)
    );
    // A deactivated admin cannot act with an old grant.
    let owner = login(&org, OWNER, true, now);
    let org = org.deactivate_member(&owner, ADMIN, now + 3).unwrap().state;
    assert_eq!(
        org.add_member(&admin, NEWCOMER, Role::User, now + 4)
            .unwrap_err(),
        PolicyError::ActorDeactivated
    );
    // Reactivation restores access; a removed member has no record to present.
    let org = org.reactivate_member(&owner, USER, now + 5).unwrap().state;
    assert_eq!(
        org.authorize(&user, &Permission::ViewJobs, &job_of(USER), now + 5),
        Ok(())
    );
    let org = org.remove_member(&owner, USER, now + 6).unwrap().state;
    assert_eq!(
        org.authorize(&user, &Permission::ViewJobs, &job_of(USER), now + 6),
        Err(AccessDenied::NotAMember)
    );
    // Role changes also apply at the next check, whatever role the grant recorded.
    let manager = login(&org, MANAGER, false, now);
    assert_eq!(manager.role(), Role::Manager);
    let org = org
        .change_role(&owner, MANAGER, Role::User, now + 7)
        .unwrap()
        .state;
    assert_eq!(
        org.authorize(
            &manager,
            &Permission::ViewReports,
            &Resource::of_org(ORG),
            now + 7
        ),
        Err(AccessDenied::NotPermitted)
    );
}

#[test]
fn delegation_is_time_boxed() {
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    let until = now + 8 * HOUR;
    let delegated = org
        .delegate(&admin, MANAGER, Role::Admin, until, now)
        .unwrap();
    assert_eq!(
        delegated.events[0].what,
        AuditKind::DelegationGranted {
            role: Role::Admin,
            until
        }
    );
    let org = delegated.state;
    let member = org.member(MANAGER).unwrap();
    assert_eq!(member.role(), Role::Manager);
    assert_eq!(member.effective_role(now), Role::Admin);
    assert_eq!(member.delegation().unwrap().granted_by(), ADMIN);

    // The backup acts with their own login while the delegation runs...
    let backup = login(&org, MANAGER, true, now);
    assert_eq!(backup.role(), Role::Admin);
    assert_eq!(
        org.authorize(
            &backup,
            &Permission::ManageBilling,
            &Resource::of_org(ORG),
            until - 1
        ),
        Ok(())
    );
    let added = org.add_member(&backup, NEWCOMER, Role::User, now).unwrap();
    assert_eq!(
        added.state.member(NEWCOMER).unwrap().path(),
        JoinPath::Added
    );
    // ...but cannot pass it on: no delegating further, whatever the role.
    assert_eq!(
        org.delegate(&backup, USER, Role::Admin, until, now)
            .unwrap_err(),
        PolicyError::NotPermitted
    );
    assert_eq!(
        org.delegate(&backup, USER, Role::Manager, until, now)
            .unwrap_err(),
        PolicyError::NotPermitted
    );
    // It lapses by itself.
    assert_eq!(
        org.authorize(
            &backup,
            &Permission::ManageBilling,
            &Resource::of_org(ORG),
            until
        ),
        Err(AccessDenied::NotPermitted)
    );
    assert_eq!(
        org.add_member(&backup, PersonId::new(9), Role::User, until)
            .unwrap_err(),
        PolicyError::NotPermitted
    );
    let expired = org.expire_delegations(until);
    assert_eq!(expired.events.len(), 1);
    assert_eq!(expired.events[0].what, AuditKind::DelegationLapsed);
    assert!(
        expired
            .state
            .member(MANAGER)
            .unwrap()
            .delegation()
            .is_none()
    );
    assert!(org.expire_delegations(until - 1).events.is_empty());

    // Revoking ends it early.
    let revoked = org.revoke_delegation(&admin, MANAGER, now).unwrap().state;
    assert_eq!(
        revoked.member(MANAGER).unwrap().effective_role(now),
        Role::Manager
    );
    assert_eq!(
        revoked.revoke_delegation(&admin, MANAGER, now).unwrap_err(),
        PolicyError::NoDelegation
    );

    // Limits: never Owner, never a demotion, never too long or in the past, never to oneself.
    let owner = login(&org, OWNER, true, now);
    for (to, role, until) in [
        (ADMIN, Role::Owner, now + HOUR),
        (ADMIN, Role::Manager, now + HOUR),
        (USER, Role::Manager, now),
        (USER, Role::Manager, now + Delegation::MAX_LENGTH + 1),
    ] {
        assert_eq!(
            org.delegate(&owner, to, role, until, now).unwrap_err(),
            PolicyError::InvalidDelegation
        );
    }
    assert_eq!(
        org.delegate(&admin, ADMIN, Role::Admin, now + HOUR, now)
            .unwrap_err(),
        PolicyError::CannotActOnSelf
    );
}

/// A User covering for an Admin, and the roster with the delegation in force.
fn user_with_admin_delegation(until: u64) -> (Organisation, Grant) {
    let org = company();
    let admin = login(&org, ADMIN, true, T0 + 10);
    let org = org
        .delegate(&admin, USER, Role::Admin, until, T0 + 10)
        .unwrap()
        .state;
    let delegate = login(&org, USER, true, T0 + 20);
    assert_eq!(delegate.role(), Role::Admin);
    (org, delegate)
}

#[test]
fn a_delegate_grants_nothing_above_their_own_role() {
    let now = T0 + 30;
    let (org, delegate) = user_with_admin_delegation(T0 + 8 * HOUR);
    // The delegation lets them manage members...
    let added = org
        .add_member(&delegate, NEWCOMER, Role::User, now)
        .unwrap();
    assert_eq!(added.state.member(NEWCOMER).unwrap().role(), Role::User);
    // ...but every role they hand out is capped by their own role, on every path.
    for role in [Role::Manager, Role::Admin] {
        assert_eq!(
            org.add_member(&delegate, NEWCOMER, role, now).unwrap_err(),
            PolicyError::AboveOwnRole
        );
        assert_eq!(
            org.approve_access_request(&delegate, NEWCOMER, role, now)
                .unwrap_err(),
            PolicyError::AboveOwnRole
        );
        assert_eq!(
            org.invite(&delegate, role, HOUR, now).unwrap_err(),
            PolicyError::AboveOwnRole
        );
        assert_eq!(
            org.change_role(&delegate, OTHER_USER, role, now)
                .unwrap_err(),
            PolicyError::AboveOwnRole
        );
        assert_eq!(
            org.delegate(&delegate, OTHER_USER, role, now + HOUR, now)
                .unwrap_err(),
            PolicyError::NotPermitted
        );
    }
    // A delegate's invitation is for their own role at most, and only while the delegation runs.
    let invitation = org
        .invite(&delegate, Role::User, 9 * HOUR, now)
        .unwrap()
        .state;
    let joined = org
        .accept_invitation(
            &invitation,
            NEWCOMER,
            authcore::policy::SecondFactors::ALL,
            now,
        )
        .unwrap();
    assert_eq!(joined.state.member(NEWCOMER).unwrap().role(), Role::User);
    let lapsed = T0 + 8 * HOUR;
    assert_eq!(
        org.accept_invitation(
            &invitation,
            NEWCOMER,
            authcore::policy::SecondFactors::ALL,
            lapsed
        )
        .unwrap_err(),
        PolicyError::InvitationInvalid
    );
}

#[test]
fn a_delegation_ends_with_its_delegators_standing() {
    let now = T0 + 30;
    let until = T0 + 8 * HOUR;
    let (org, _) = user_with_admin_delegation(until);
    let owner = login(&org, OWNER, true, now);
    let delegated = |org: &Organisation| org.member(USER).unwrap().effective_role(now);
    assert_eq!(delegated(&org), Role::Admin);

    // Demoted below the delegated role: the delegation ends in the same update, audited.
    let demoted = org.change_role(&owner, ADMIN, Role::Manager, now).unwrap();
    assert_eq!(delegated(&demoted.state), Role::User);
    assert!(demoted.state.member(USER).unwrap().delegation().is_none());
    assert!(
        demoted
            .events
            .iter()
            .any(|e| { e.what == AuditKind::DelegationEnded && e.subject == Some(USER) })
    );
    // Deactivated, removed, or gone of their own accord: the same.
    let deactivated = org.deactivate_member(&owner, ADMIN, now).unwrap();
    assert_eq!(delegated(&deactivated.state), Role::User);
    assert!(
        deactivated
            .events
            .iter()
            .any(|e| e.what == AuditKind::DelegationEnded)
    );
    let reactivated = deactivated
        .state
        .reactivate_member(&owner, ADMIN, now)
        .unwrap()
        .state;
    assert_eq!(delegated(&reactivated), Role::User);
    let removed = org.remove_member(&owner, ADMIN, now).unwrap();
    assert_eq!(delegated(&removed.state), Role::User);
    let admin = login(&org, ADMIN, true, now);
    let left = org.leave(&admin, now).unwrap();
    assert_eq!(delegated(&left.state), Role::User);

    // An Owner who steps down to Manager ends what they delegated; the org keeps an Owner.
    let owner_delegated = org
        .delegate(&owner, MANAGER, Role::Admin, until, now)
        .unwrap()
        .state;
    let owner = login(&owner_delegated, OWNER, true, now);
    let handed = owner_delegated
        .transfer_ownership(&owner, ADMIN, mfa(), Role::Manager, now)
        .unwrap();
    assert_eq!(
        handed.state.member(MANAGER).unwrap().effective_role(now),
        Role::Manager
    );
    assert_eq!(handed.state.owners().count(), 1);
    // A demotion that still leaves the delegator able to grant the role keeps the delegation.
    let to_manager = org
        .delegate(&owner, OTHER_USER, Role::Manager, until, now)
        .unwrap()
        .state;
    let kept = to_manager
        .change_role(&owner, ADMIN, Role::Admin, now)
        .unwrap()
        .state;
    assert_eq!(
        kept.member(OTHER_USER).unwrap().effective_role(now),
        Role::Manager
    );
    // Every result still has an active Owner.
    for state in [
        &demoted.state,
        &deactivated.state,
        &removed.state,
        &left.state,
    ] {
        assert!(state.owners().count() >= 1);
    }
}

#[test]
fn invitations() {
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    assert_eq!(
        org.invite(&admin, Role::Owner, HOUR, now).unwrap_err(),
        PolicyError::OwnershipByTransferOnly
    );
    assert_eq!(
        org.invite(&admin, Role::User, 0, now).unwrap_err(),
        PolicyError::InvitationInvalid
    );
    let invited = org.invite(&admin, Role::Manager, HOUR, now).unwrap();
    assert_eq!(
        invited.events[0].what,
        AuditKind::Invited {
            role: Role::Manager
        }
    );
    let invitation = invited.state;
    assert_eq!(invitation.expires_at(), now + HOUR);

    let joined = org
        .accept_invitation(
            &invitation,
            NEWCOMER,
            authcore::policy::SecondFactors::ALL,
            now + 60,
        )
        .unwrap();
    assert_eq!(
        joined.events[0].what,
        AuditKind::MemberAdded {
            role: Role::Manager,
            path: JoinPath::Invitation
        }
    );
    let member = *joined.state.member(NEWCOMER).unwrap();
    assert_eq!(member.role(), Role::Manager);
    assert_eq!(member.path(), JoinPath::Invitation);
    assert_eq!(member.joined_at(), now + 60);

    // Expired, or the inviter can no longer grant it.
    assert_eq!(
        org.accept_invitation(
            &invitation,
            NEWCOMER,
            authcore::policy::SecondFactors::ALL,
            now + HOUR
        )
        .unwrap_err(),
        PolicyError::InvitationInvalid
    );
    let owner = login(&org, OWNER, true, now);
    let demoted = org
        .change_role(&owner, ADMIN, Role::User, now)
        .unwrap()
        .state;
    assert_eq!(
        demoted
            .accept_invitation(
                &invitation,
                NEWCOMER,
                authcore::policy::SecondFactors::ALL,
                now + 60
            )
            .unwrap_err(),
        PolicyError::InvitationInvalid
    );
    let elsewhere = Organisation::found(ELSEWHERE, OWNER, now).state;
    assert_eq!(
        elsewhere
            .accept_invitation(
                &invitation,
                NEWCOMER,
                authcore::policy::SecondFactors::ALL,
                now + 60
            )
            .unwrap_err(),
        PolicyError::OtherOrganisation
    );
}

#[cfg(feature = "serde")]
#[test]
fn members_and_grants_persist() {
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    let org = org
        .delegate(&admin, USER, Role::Manager, now + HOUR, now)
        .unwrap()
        .state;
    let member = org.member(USER).unwrap();
    let stored = serde_json::to_string(member).unwrap();
    assert_eq!(
        serde_json::from_str::<authcore::policy::Member>(&stored).unwrap(),
        *member
    );
    // A delegation to Owner, or one that would lower the role, is refused on the way in.
    for (from, to) in [
        ("\"role\":\"Manager\"", "\"role\":\"Owner\""),
        ("\"role\":\"Manager\"", "\"role\":\"User\""),
    ] {
        let edited = stored.replace(from, to);
        assert_ne!(edited, stored);
        assert!(serde_json::from_str::<authcore::policy::Member>(&edited).is_err());
    }

    // A roster holding a delegation whose delegator no longer stands is refused on the way in.
    let mut roster = serde_json::to_value(&org).unwrap();
    assert!(serde_json::from_value::<Organisation>(roster.clone()).is_ok());
    for entry in roster["members"].as_array_mut().unwrap() {
        if entry["person"] == serde_json::to_value(ADMIN).unwrap() {
            entry["role"] = serde_json::json!("User");
        }
    }
    assert!(serde_json::from_value::<Organisation>(roster).is_err());
}

/// Whether `T` implements `Deserialize`, told at compile time by method resolution: the method
/// of `Parses` applies to `&Probe<T>` only when `T: DeserializeOwned`; otherwise the autoref finds
/// the fallback on `&&Probe<T>`.
#[cfg(feature = "serde")]
struct Probe<T>(core::marker::PhantomData<T>);

#[cfg(feature = "serde")]
trait Parses {
    fn parses(&self) -> bool {
        true
    }
}

#[cfg(feature = "serde")]
impl<T: serde::de::DeserializeOwned> Parses for Probe<T> {}

#[cfg(feature = "serde")]
trait DoesNotParse {
    fn parses(&self) -> bool {
        false
    }
}

#[cfg(feature = "serde")]
impl<T> DoesNotParse for &Probe<T> {}

#[cfg(feature = "serde")]
#[test]
// The probes are borrowed on purpose: without `Deserialize` the call falls to `&&Probe`.
#[allow(clippy::needless_borrow)]
fn a_grant_edited_to_aal2_cannot_be_parsed_back() {
    let org = company();
    let now = T0 + 10;
    let grant = login(&org, USER, false, now);
    assert_eq!(grant.aal(), Aal::Aal1);
    // A grant still serialises (for a log line or a "signed in as" page)...
    let stored = serde_json::to_string(&grant).unwrap();
    assert!(stored.contains("\"aal\":\"Aal1\""));
    // ... but the forgery of a host's session (a password-only grant edited to AAL2 with a
    // second factor) has nothing to be parsed into: `Grant` has no `Deserialize`.
    let forged = stored
        .replace("\"aal\":\"Aal1\"", "\"aal\":\"Aal2\"")
        .replace(
            &format!("\"factors\":{}", grant.factors().bits()),
            &format!(
                "\"factors\":{}",
                grant
                    .factors()
                    .with(authcore::policy::Factor::Second(FactorKind::Totp))
                    .bits()
            ),
        );
    assert_ne!(forged, stored);
    assert!(serde_json::from_str::<serde_json::Value>(&forged).is_ok());
    assert!(!(&Probe::<Grant>(core::marker::PhantomData)).parses());
    // The probe does tell a state that parses.
    assert!((&Probe::<authcore::policy::Member>(core::marker::PhantomData)).parses());
    assert!((&Probe::<Organisation>(core::marker::PhantomData)).parses());
}

#[test]
fn a_sensitive_action_needs_a_login_within_the_last_fifteen_minutes() {
    assert_eq!(authcore::policy::SENSITIVE_ACTION_MAX_AGE, 15 * 60);
    let org = company();
    let now = T0 + 10;
    let owner = login(&org, OWNER, true, now);
    // The last second of the window: still fresh.
    assert!(
        org.transfer_ownership(&owner, ADMIN, mfa(), Role::Admin, now + 15 * 60)
            .is_ok()
    );
    // The first second after it: log in again.
    assert_eq!(
        org.transfer_ownership(&owner, ADMIN, mfa(), Role::Admin, now + 15 * 60 + 1)
            .unwrap_err(),
        PolicyError::ReauthenticationRequired
    );
}

#[test]
fn a_delegation_lasts_one_second_to_ninety_days() {
    assert_eq!(Delegation::MAX_LENGTH, 90 * 24 * HOUR);
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    let longest = now + 90 * 24 * HOUR;
    let granted = org
        .delegate(&admin, USER, Role::Manager, longest, now)
        .unwrap()
        .state;
    let delegation = *granted.member(USER).unwrap().delegation().unwrap();
    assert_eq!(delegation.role(), Role::Manager);
    assert_eq!(delegation.until(), longest);
    assert_eq!(delegation.granted_at(), now);
    assert_eq!(
        org.delegate(&admin, USER, Role::Manager, longest + 1, now)
            .unwrap_err(),
        PolicyError::InvalidDelegation
    );
    // The shortest: it applies for its one second and lapses at its end.
    let brief = org
        .delegate(&admin, USER, Role::Manager, now + 1, now)
        .unwrap()
        .state;
    let member = brief.member(USER).unwrap();
    assert!(member.delegation().unwrap().is_current(now));
    assert!(!member.delegation().unwrap().is_current(now + 1));
    assert_eq!(member.effective_role(now), Role::Manager);
    assert_eq!(member.effective_role(now + 1), Role::User);
}

#[test]
fn a_stored_delegation_is_checked_at_its_limits() {
    use authcore::policy::Member;
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    let longest = now + Delegation::MAX_LENGTH;
    let org = org
        .delegate(&admin, USER, Role::Admin, longest, now)
        .unwrap()
        .state;
    let stored = serde_json::to_value(org.member(USER).unwrap()).unwrap();
    let decodes = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value = stored.clone();
        edit(&mut value);
        serde_json::from_value::<Member>(value).is_ok()
    };
    // As granted: Admin, the highest delegated role, for exactly 90 days.
    assert!(decodes(&|_| {}));
    // One second longer, or ending when granted: refused.
    assert!(!decodes(
        &|v| v["delegation"]["until"] = (longest + 1).into()
    ));
    assert!(!decodes(&|v| v["delegation"]["until"] = now.into()));
    assert!(decodes(&|v| v["delegation"]["until"] = (now + 1).into()));
    // Granted by the member themself: refused.
    assert!(!decodes(&|v| {
        v["delegation"]["granted_by"] = v["person"].clone();
    }));
    // A delegation must raise the role: not to the own role, and never to Owner.
    assert!(!decodes(&|v| v["role"] = "Admin".into()));
    assert!(decodes(&|v| v["role"] = "Manager".into()));
    assert!(!decodes(&|v| v["delegation"]["role"] = "Owner".into()));
}

#[test]
fn a_deactivation_records_when() {
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    assert_eq!(org.member(USER).unwrap().deactivated_at(), None);
    let org = org.deactivate_member(&admin, USER, now + 1).unwrap().state;
    let member = org.member(USER).unwrap();
    assert_eq!(member.deactivated_at(), Some(now + 1));
    assert!(!member.is_active());
    let org = org.reactivate_member(&admin, USER, now + 2).unwrap().state;
    assert_eq!(org.member(USER).unwrap().deactivated_at(), None);
    assert!(org.member(USER).unwrap().is_active());
}

#[test]
fn a_role_change_drops_a_delegation_it_makes_redundant() {
    let org = company();
    let now = T0 + 10;
    let owner = login(&org, OWNER, true, now);
    let org = org
        .delegate(&owner, USER, Role::Admin, now + HOUR, now)
        .unwrap()
        .state;
    // Promoted to Manager: the Admin delegation still raises the role, so it stays.
    let kept = org
        .change_role(&owner, USER, Role::Manager, now)
        .unwrap()
        .state;
    let member = kept.member(USER).unwrap();
    assert_eq!(member.delegation().unwrap().role(), Role::Admin);
    assert_eq!(member.effective_role(now), Role::Admin);
    // Promoted to Admin: the delegation adds nothing and is dropped.
    let dropped = org
        .change_role(&owner, USER, Role::Admin, now)
        .unwrap()
        .state;
    assert!(dropped.member(USER).unwrap().delegation().is_none());
}

#[test]
fn refusals_and_phases_say_what_they_are() {
    use authcore::policy::EnrollmentPhase;
    for (denied, text) in [
        (
            AccessDenied::OtherOrganisation,
            "the resource belongs to another organisation",
        ),
        (
            AccessDenied::WrongPerson,
            "the member record is not the grant holder's",
        ),
        (AccessDenied::NotAMember, "not a member of the organisation"),
        (AccessDenied::Deactivated, "the member is deactivated"),
        (
            AccessDenied::NotPermitted,
            "the role does not have this permission",
        ),
        (
            AccessDenied::NotOwner,
            "the role may act only on its own resources",
        ),
        (
            AccessDenied::Aal2Required,
            "this needs a login with a second factor",
        ),
        (
            AccessDenied::MfaRequired,
            "the organisation requires a second factor it counts: sign in again",
        ),
    ] {
        assert_eq!(denied.to_string(), text);
    }
    assert_eq!(
        PolicyError::from(AccessDenied::Deactivated),
        PolicyError::ActorDeactivated
    );
    assert_eq!(
        PolicyError::from(AccessDenied::MfaRequired),
        PolicyError::Aal2Required
    );
    assert_eq!(
        PolicyError::NoOwnershipOffer.to_string(),
        "no ownership offer stands for you"
    );
    assert_eq!(
        PolicyError::InvalidState("two owners").to_string(),
        "inconsistent persisted state: two owners"
    );
    for (phase, text) in [
        (EnrollmentPhase::AwaitingCode, "awaiting a code"),
        (
            EnrollmentPhase::AwaitingRecoveryCodes,
            "awaiting recovery codes",
        ),
        (
            EnrollmentPhase::AwaitingAcknowledgement,
            "awaiting acknowledgement",
        ),
    ] {
        assert_eq!(phase.to_string(), text);
    }
}

#[test]
fn an_invitation_lasts_up_to_thirty_days_and_lapses_at_its_end() {
    use authcore::policy::Invitation;
    assert_eq!(Invitation::MAX_TTL, 2_592_000, "30 days");
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    let longest = org
        .invite(&admin, Role::User, 2_592_000, now)
        .unwrap()
        .state;
    assert_eq!(longest.org(), ORG);
    assert_eq!(longest.role(), Role::User);
    assert_eq!(longest.invited_by(), ADMIN);
    assert_eq!(longest.issued_at(), now);
    assert_eq!(longest.expires_at(), now + 2_592_000);
    assert_eq!(
        org.invite(&admin, Role::User, 2_592_001, now).unwrap_err(),
        PolicyError::InvitationInvalid
    );
    // A one-second invitation: accepted at its issue, lapsed one second later.
    let short = org.invite(&admin, Role::User, 1, now).unwrap().state;
    assert!(
        org.accept_invitation(&short, NEWCOMER, SecondFactors::EMPTY, now)
            .is_ok()
    );
    assert_eq!(
        org.accept_invitation(&short, NEWCOMER, SecondFactors::EMPTY, now + 1)
            .unwrap_err(),
        PolicyError::InvitationInvalid
    );
    // An invitation from a Manager's grant is refused: managing members is needed.
    let manager = login(&org, MANAGER, true, now);
    assert!(org.invite(&manager, Role::User, HOUR, now).is_err());
}

#[cfg(feature = "serde")]
#[test]
fn a_stored_roster_holds_one_membership_per_person() {
    let org = company();
    let mut roster = serde_json::to_value(&org).unwrap();
    let members = roster["members"].as_array_mut().unwrap();
    let user = members
        .iter()
        .find(|entry| entry["person"] == serde_json::to_value(USER).unwrap())
        .unwrap()
        .clone();
    // Another person's membership at the end is fine; the same person's twice is not.
    let mut newcomer = user.clone();
    newcomer["person"] = serde_json::to_value(NEWCOMER).unwrap();
    members.push(newcomer);
    assert!(serde_json::from_value::<Organisation>(roster.clone()).is_ok());
    roster["members"].as_array_mut().unwrap().push(user);
    assert!(serde_json::from_value::<Organisation>(roster).is_err());
}

#[test]
fn who_may_manage_whom_and_whose_grant_stands() {
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    let owner = login(&org, OWNER, true, now);
    assert_eq!(org.may_manage(&admin, USER, now), Ok(()));
    assert_eq!(org.may_manage(&owner, ADMIN, now), Ok(()));
    assert_eq!(
        org.may_manage(&admin, OWNER, now),
        Err(PolicyError::OwnersOnly)
    );
    assert_eq!(
        org.may_manage(&admin, ADMIN, now),
        Err(PolicyError::CannotActOnSelf)
    );
    assert_eq!(
        org.may_manage(&admin, NEWCOMER, now),
        Err(PolicyError::NotAMember)
    );
    let manager = login(&org, MANAGER, true, now);
    assert!(org.may_manage(&manager, USER, now).is_err());

    // A grant stands while its holder is an active member of this organisation.
    let user = login(&org, USER, false, now);
    assert_eq!(org.check_grant(&user, now).map(|m| m.person()), Ok(USER));
    let gone = org.deactivate_member(&admin, USER, now).unwrap().state;
    assert_eq!(
        gone.check_grant(&user, now).map(|m| m.person()),
        Err(AccessDenied::Deactivated)
    );
    let removed = org.remove_member(&admin, USER, now).unwrap().state;
    assert_eq!(
        removed.check_grant(&user, now).map(|m| m.person()),
        Err(AccessDenied::NotAMember)
    );
    let elsewhere = Organisation::found(ELSEWHERE, USER, now).state;
    assert_eq!(
        elsewhere.check_grant(&user, now).map(|m| m.person()),
        Err(AccessDenied::OtherOrganisation)
    );
    // Reactivation is recorded, and reactivating an active member changes nothing.
    let back = gone.reactivate_member(&admin, USER, now).unwrap();
    assert!(matches!(
        back.events[..],
        [ref e] if e.what == AuditKind::MemberReactivated && e.subject == Some(USER)
    ));
    assert!(back.state.check_grant(&user, now).is_ok());
    let again = back.state.reactivate_member(&admin, USER, now).unwrap();
    assert!(again.events.is_empty());
}

#[test]
fn the_roster_lists_every_member_in_the_order_they_joined() {
    let org = company();
    let people: Vec<PersonId> = org.members().iter().map(|member| member.person()).collect();
    assert_eq!(people, [OWNER, ADMIN, MANAGER, USER, OTHER_USER]);
    let deactivated = org
        .deactivate_member(&login(&org, OWNER, true, T0), USER, T0)
        .unwrap()
        .state;
    assert_eq!(deactivated.members().len(), 5);
}

#[test]
fn an_admin_may_grant_their_own_role_by_a_role_change() {
    let org = company();
    let now = T0 + 10;
    let admin = login(&org, ADMIN, true, now);
    let promoted = org.change_role(&admin, USER, Role::Admin, now).unwrap();
    assert_eq!(promoted.state.member(USER).unwrap().role(), Role::Admin);
    assert_eq!(
        promoted.events[0].what,
        AuditKind::RoleChanged {
            from: Role::User,
            to: Role::Admin
        }
    );
}

/// Each event of a transition: whom it concerns and what happened.
fn subjects_and_kinds(
    events: &[authcore::policy::AuditEvent],
) -> Vec<(Option<PersonId>, AuditKind)> {
    events
        .iter()
        .map(|event| (event.subject, event.what))
        .collect()
}

#[test]
fn an_ownership_transfer_records_exactly_the_role_changes_it_makes() {
    let org = company();
    let now = T0 + 10;
    let owner = login(&org, OWNER, true, now);
    let owner_to_admin = (
        Some(OWNER),
        AuditKind::RoleChanged {
            from: Role::Owner,
            to: Role::Admin,
        },
    );
    let admin_to_owner = (
        Some(ADMIN),
        AuditKind::RoleChanged {
            from: Role::Admin,
            to: Role::Owner,
        },
    );
    let transferred = (Some(ADMIN), AuditKind::OwnershipTransferred { from: OWNER });

    // Handing over: both roles change.
    let handed = org
        .transfer_ownership(&owner, ADMIN, mfa(), Role::Admin, now)
        .unwrap();
    assert_eq!(
        subjects_and_kinds(&handed.events),
        [admin_to_owner, transferred, owner_to_admin]
    );

    // Sharing: the acting Owner stays an Owner, and no role change is recorded for them.
    let shared = org
        .transfer_ownership(&owner, ADMIN, mfa(), Role::Owner, now)
        .unwrap();
    assert_eq!(
        subjects_and_kinds(&shared.events),
        [admin_to_owner, transferred]
    );
    assert_eq!(shared.state.owners().count(), 2);

    // Towards a co-owner: their role does not change, and none is recorded.
    let to_co_owner = shared
        .state
        .transfer_ownership(&owner, ADMIN, mfa(), Role::Admin, now)
        .unwrap();
    assert_eq!(
        subjects_and_kinds(&to_co_owner.events),
        [transferred, owner_to_admin]
    );
    assert_eq!(to_co_owner.state.member(ADMIN).unwrap().role(), Role::Owner);
    assert_eq!(to_co_owner.state.member(OWNER).unwrap().role(), Role::Admin);
}

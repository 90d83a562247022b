//! The one authorisation check, [`authorize`]: a grant, the member's current record, an action
//! and a resource.

use crate::policy::error::AccessDenied;
use crate::policy::factors::Aal;
use crate::policy::login::Grant;
use crate::policy::roles::{Action, Member, Resource, Scope};

/// The one authorisation check: may the holder of `grant`, whose membership is now `member`, do
/// `action` to `resource` at `now`?
///
/// Deny by default, in this order: a resource or member record of another organisation; a member
/// record of another person; a deactivated member (so deactivation takes effect at the next
/// check, not the next login); a role (the member's current role, including an unexpired
/// delegation — so role changes also apply at once) without the permission; a permission scoped
/// to the member's own resources on a resource someone else (or no one) owns; an administrative
/// permission without an AAL2 grant.
///
/// Pass the member record as stored now, not as it was at login. Allocation-free.
pub fn authorize<A: Action + ?Sized>(
    grant: &Grant,
    member: &Member,
    action: &A,
    resource: &Resource,
    now: u64,
) -> Result<(), AccessDenied> {
    if resource.org() != grant.org() || member.org() != grant.org() {
        return Err(AccessDenied::OtherOrganisation);
    }
    if member.person() != grant.person() {
        return Err(AccessDenied::WrongPerson);
    }
    if member.deactivated_at().is_some() {
        return Err(AccessDenied::Deactivated);
    }
    let permission = action.permission();
    match member.effective_role(now).scope(permission) {
        Scope::None => return Err(AccessDenied::NotPermitted),
        Scope::Own if resource.owner() != Some(grant.person()) => {
            return Err(AccessDenied::NotOwner);
        }
        Scope::Own | Scope::All => {}
    }
    if permission.is_administrative() && grant.aal() < Aal::Aal2 {
        return Err(AccessDenied::Aal2Required);
    }
    Ok(())
}

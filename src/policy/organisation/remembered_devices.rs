//! An organisation's choice about "remember this device": allowed (the default) or forbidden.

use crate::policy::Transition;
use crate::policy::audit::{Actor, AuditKind};
use crate::policy::error::PolicyError;
use crate::policy::login::Grant;
use crate::policy::organisation::Organisation;
use crate::policy::roles::{Permission, SENSITIVE_ACTION_MAX_AGE};

impl Organisation {
    /// Whether logins to this organisation may present a remembered device in place of the
    /// second factor, and its sessions may remember one (default: allowed). See
    /// [`SessionRecord`](crate::policy::SessionRecord) for what a remembered device yields.
    pub const fn allows_remembered_devices(&self) -> bool {
        self.remember_devices
    }

    /// Allows or forbids remembered devices. Same authority as [`Self::set_mfa_policy`]: an
    /// active owner with a fresh (within [`SENSITIVE_ACTION_MAX_AGE`]) AAL2 grant — never one
    /// resting on a remembered device. Once forbidden, device tokens already issued stop
    /// working for logins to this organisation (they still work elsewhere, until their own
    /// end). Setting the current value changes nothing and records nothing.
    pub fn set_remember_devices(
        &self,
        actor: &Grant,
        allowed: bool,
        now: u64,
    ) -> Result<Transition<Self>, PolicyError> {
        self.acting_member(actor, Permission::ManageSecurityPolicy, now)?;
        if !actor.is_fresh(now, SENSITIVE_ACTION_MAX_AGE) {
            return Err(PolicyError::ReauthenticationRequired);
        }
        if self.remember_devices == allowed {
            return Ok(Transition::new(self.clone(), (), alloc::vec::Vec::new()));
        }
        let mut next = self.clone();
        next.remember_devices = allowed;
        let event = self.event(
            now,
            Actor::Person(actor.person()),
            None,
            AuditKind::RememberDevicesSet { allowed },
        );
        Ok(Transition::new(next, (), alloc::vec![event]))
    }
}

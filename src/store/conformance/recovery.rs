//! Recovery-code sets: a slot spent once, in the active set only; pending becomes active once.

use alloc::format;

use crate::store::records::RecoverySlot;
use crate::store::{SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, fail};

pub(super) async fn recovery_codes<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let set = fx.recovery_set()?;
    let active = RecoverySlot::Active;
    s.replace_recovery_codes(id, active, Some(&set)).await?;
    let stored = s
        .recovery_codes(id, active)
        .await?
        .ok_or_else(|| fail("the set was not written".into()))?;
    ensure_eq!(stored, set, "the stored set");
    ensure!(
        s.recovery_codes(id, RecoverySlot::Pending).await?.is_none(),
        "the pending slot is separate"
    );
    ensure!(
        s.spend_recovery_code(id, set.set_id(), 2).await?,
        "spending an unspent slot must be true"
    );
    ensure!(
        !s.spend_recovery_code(id, set.set_id(), 2).await?,
        "spending a spent slot must be false"
    );
    ensure!(
        !s.spend_recovery_code(id, set.set_id(), set.len()).await?,
        "spending a slot outside the set must be false"
    );
    ensure!(
        !s.spend_recovery_code(id, set.set_id(), 200).await?,
        "spending a slot far outside the set must be false"
    );
    ensure!(
        !s.spend_recovery_code(id, [0xA5; 16], 1).await?,
        "spending in another set must be false"
    );
    ensure!(
        !s.spend_recovery_code(fx.person_id(), set.set_id(), 1)
            .await?,
        "spending this set's slot as another person must be false"
    );
    ensure!(
        !s.activate_pending_recovery_codes(id).await?,
        "activating with no pending set must be false"
    );
    let stored = s
        .recovery_codes(id, active)
        .await?
        .ok_or_else(|| fail("the set vanished".into()))?;
    ensure!(stored.is_spent(2), "the spent slot is spent when read back");
    ensure_eq!(
        stored.remaining(),
        set.len().saturating_sub(1),
        "remaining codes"
    );
    ensure_eq!(stored.set_id(), set.set_id(), "the set id");
    // Writing the same set back (a host's read-modify-write, or a copy taken before the spend)
    // keeps its spent slots: a spent code never comes back.
    s.replace_recovery_codes(id, active, Some(&set)).await?;
    let rewritten = s
        .recovery_codes(id, active)
        .await?
        .ok_or_else(|| fail("the rewritten set vanished".into()))?;
    ensure!(
        rewritten.is_spent(2),
        "a spent slot stays spent when the same set is written back"
    );
    ensure!(
        !s.spend_recovery_code(id, set.set_id(), 2).await?,
        "a spent slot of a set written back cannot be spent again"
    );
    // Regenerating: the old set's slots are no longer spendable, the new set's are.
    let regenerated = fx.recovery_set()?;
    s.replace_recovery_codes(id, active, Some(&regenerated))
        .await?;
    ensure!(
        !s.spend_recovery_code(id, set.set_id(), 0).await?,
        "a slot of a replaced set must not be spendable"
    );
    ensure!(
        s.spend_recovery_code(id, regenerated.set_id(), 2).await?,
        "the same slot of the new set is spendable"
    );
    s.replace_recovery_codes(id, active, None).await?;
    ensure!(
        s.recovery_codes(id, active).await?.is_none(),
        "a deleted set is gone"
    );
    ensure!(
        !s.spend_recovery_code(id, regenerated.set_id(), 0).await?,
        "a deleted set cannot be spent"
    );
    Ok(())
}

pub(super) async fn recovery_pending<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let live = fx.recovery_set()?;
    let pending = fx.recovery_set()?;
    s.replace_recovery_codes(id, RecoverySlot::Active, Some(&live))
        .await?;
    s.replace_recovery_codes(id, RecoverySlot::Pending, Some(&pending))
        .await?;
    ensure!(
        !s.spend_recovery_code(id, pending.set_id(), 0).await?,
        "a pending set must not be spendable"
    );
    ensure!(
        s.spend_recovery_code(id, live.set_id(), 0).await?,
        "the live set is spendable while another is pending"
    );
    ensure!(
        s.activate_pending_recovery_codes(id).await?,
        "activating a pending set must be true"
    );
    ensure!(
        !s.activate_pending_recovery_codes(id).await?,
        "activating again must be false"
    );
    ensure!(
        s.recovery_codes(id, RecoverySlot::Pending).await?.is_none(),
        "the pending slot is empty after activation"
    );
    let active = s
        .recovery_codes(id, RecoverySlot::Active)
        .await?
        .ok_or_else(|| fail("no active set after activation".into()))?;
    ensure!(
        active.set_id() == pending.set_id(),
        "the active set is the formerly pending one"
    );
    ensure_eq!(active.remaining(), pending.len(), "nothing of it is spent");
    ensure!(
        !s.spend_recovery_code(id, live.set_id(), 1).await?,
        "the previous set is no longer spendable"
    );
    ensure!(
        s.spend_recovery_code(id, pending.set_id(), 0).await?,
        "the activated set is spendable"
    );
    Ok(())
}

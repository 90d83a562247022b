//! Removing a factor ([`LoginStore::remove_factor`]): only at the epoch it was decided at, only
//! a factor the person holds, moving the epoch on with the other sessions ending in the same
//! commit; and of removals decided at one epoch, exactly one lands.

use alloc::format;
use alloc::sync::Arc;

use crate::store::login::{FactorRemoval, LoginStore};

use super::Spawner;
use super::fixture::Fixture;
use super::harness::{Checked, Fail, exactly_one, fail, race};
use super::sessions::{Store, open, signed_in};

/// The person's epoch, which a stored person has.
pub(super) async fn epoch_of<S: LoginStore>(
    fx: &Fixture<'_, S>,
    person: crate::policy::ids::PersonId,
) -> Result<u64, Fail> {
    fx.store
        .security_epoch(person)
        .await?
        .ok_or_else(|| fail("a stored person has no epoch".into()))
}

/// A phone goes only at the epoch it was decided at, once, ending every other session and
/// carrying the kept one over; another epoch, or no phone, writes nothing.
pub(super) async fn remove_factor<S: Store>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (person, _, grant) = signed_in(fx).await?;
    let phone = fx.phone()?;
    ensure!(s.set_phone(person.id, Some(&phone)).await?, "a phone set");
    let (kept, kept_session) = open(fx, &grant).await?;
    let (other, _) = open(fx, &grant).await?;
    let epoch = epoch_of(fx, person.id).await?;
    let stranger = signed_in(fx).await?.0;
    ensure_eq!(
        s.remove_factor(stranger.id, &FactorRemoval::Phone, epoch, None)
            .await?,
        None,
        "a person without a phone has none removed"
    );
    for stale in [epoch.saturating_add(1), epoch.saturating_add(7)] {
        ensure_eq!(
            s.remove_factor(person.id, &FactorRemoval::Phone, stale, None)
                .await?,
            None,
            "a removal at another epoch"
        );
    }
    ensure_eq!(
        s.person(person.id).await?.and_then(|p| p.phone),
        Some(phone),
        "the phone stays after the refused removals"
    );
    ensure_eq!(
        epoch_of(fx, person.id).await?,
        epoch,
        "the epoch stays after the refused removals"
    );
    ensure!(
        s.session(&other).await?.is_some(),
        "the sessions stay after the refused removals"
    );
    let next = epoch.saturating_add(1);
    ensure_eq!(
        s.remove_factor(
            person.id,
            &FactorRemoval::Phone,
            epoch,
            Some(kept_session.id)
        )
        .await?,
        Some(next),
        "the phone removed at the epoch it was decided at"
    );
    ensure!(
        s.person(person.id)
            .await?
            .is_some_and(|p| p.phone.is_none()),
        "the phone is gone"
    );
    ensure!(
        s.session(&other).await?.is_none(),
        "the other session ended with the removal"
    );
    let view = s
        .session(&kept)
        .await?
        .ok_or_else(|| fail("the kept session stays".into()))?;
    ensure_eq!(view.session.epoch, next, "the kept session is carried over");
    ensure_eq!(
        s.remove_factor(person.id, &FactorRemoval::Phone, next, None)
            .await?,
        None,
        "a phone removed twice"
    );
    ensure_eq!(
        epoch_of(fx, person.id).await?,
        next,
        "a refused removal leaves the epoch"
    );
    Ok(())
}

/// Of [`super::RACE_CONTENDERS`] removals of one phone decided at one epoch, exactly one lands,
/// and the epoch moved once.
pub(super) async fn race_remove_factor<S: Store, P: Spawner>(
    fx: &Fixture<'_, S>,
    spawner: &P,
) -> Checked {
    let (person, _, _) = signed_in(fx).await?;
    ensure!(
        fx.store.set_phone(person.id, Some(&fx.phone()?)).await?,
        "a phone set"
    );
    let epoch = epoch_of(fx, person.id).await?;
    let contenders = (0..super::RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move {
                Ok::<_, Fail>(
                    store
                        .remove_factor(person.id, &FactorRemoval::Phone, epoch, None)
                        .await?
                        .is_some(),
                )
            }
        })
        .collect();
    let wins = race(spawner, contenders).await?;
    exactly_one(
        wins.into_iter().filter(|w| *w).count(),
        "remove one phone at one epoch",
    )?;
    ensure_eq!(
        epoch_of(fx, person.id).await?,
        epoch.saturating_add(1),
        "the epoch moved once"
    );
    Ok(())
}

//! Invitations: read without spending, taken once and only by the invitee, refused from their
//! expiry on, pruned; of many concurrent takes, one wins.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::credential::factor::FactorKind;
use crate::credential::token::BearerToken;
use crate::policy::factors::SecondFactors;
use crate::policy::login::{Account, Grant, LoginDecision, LoginProgress, login_decision};
use crate::policy::organisation::Organisation;
use crate::policy::roles::Role;
use crate::store::invitations::{InvitationRecord, InvitationStore};
use crate::store::{SecretStore, UserStore};

use super::Spawner;
use super::fixture::Fixture;
use super::harness::{Checked, Fail, exactly_one, fail, race};

/// An invitation into a new organisation for a new person (both stored), valid `ttl` seconds.
async fn invitation<S: UserStore + SecretStore + InvitationStore + 'static>(
    fx: &Fixture<'_, S>,
    ttl: u64,
) -> Result<(InvitationRecord, Organisation), Fail> {
    let (owner, org) = fx.founder().await?;
    let (invitee, _) = fx.founder().await?;
    let now = fx.now();
    let account = Account::new(owner.id).factors(SecondFactors::of(FactorKind::Totp));
    let progress = LoginProgress::password_verified(owner.id, org.id(), now)
        .with_second_factor(FactorKind::Totp);
    let grant: Grant =
        match login_decision(&account, org.member(owner.id), org.policy(), &progress, now) {
            LoginDecision::Allowed(grant) => grant,
            other => return Err(fail(format!("the owner could not sign in: {other:?}"))),
        };
    let issued = org.invite(&grant, Role::User, ttl, now)?;
    let record = InvitationRecord {
        digest: BearerToken::generate()?.digest(),
        person: invitee.id,
        invitation: issued.state,
    };
    Ok((record, org))
}

pub(super) async fn invitations<S: UserStore + SecretStore + InvitationStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (record, org) = invitation(fx, 300).await?;
    s.insert_invitation(&record).await?;
    let (digest, invitee, now) = (record.digest, record.person, fx.now());
    ensure_eq!(
        s.invitation(&digest, invitee, now).await?,
        Some(record.invitation),
        "reading the invitation back"
    );
    ensure_eq!(
        s.invitation(&digest, invitee, now).await?,
        Some(record.invitation),
        "reading spends nothing"
    );
    let other = BearerToken::generate()?.digest();
    ensure!(
        s.invitation(&other, invitee, now).await?.is_none(),
        "another digest reads nothing"
    );
    ensure!(
        s.take_invitation(&other, invitee, now).await?.is_none(),
        "another digest takes nothing"
    );
    let stranger = fx.person_id();
    ensure!(
        s.invitation(&digest, stranger, now).await?.is_none(),
        "someone else reads nothing"
    );
    ensure!(
        s.take_invitation(&digest, stranger, now).await?.is_none(),
        "someone else takes nothing"
    );
    ensure_eq!(
        s.invitation(&digest, invitee, now).await?,
        Some(record.invitation),
        "someone else's attempt leaves the invitation in place"
    );
    ensure!(
        s.organisation_ids().await?.contains(&org.id()),
        "the organisation's id is listed"
    );
    ensure_eq!(
        s.take_invitation(&digest, invitee, now).await?,
        Some(record),
        "the invitee takes the invitation"
    );
    ensure!(
        s.take_invitation(&digest, invitee, now).await?.is_none(),
        "an invitation is taken once"
    );
    ensure!(
        s.invitation(&digest, invitee, now).await?.is_none(),
        "a taken invitation reads nothing"
    );
    Ok(())
}

pub(super) async fn invitation_expiry<S: UserStore + SecretStore + InvitationStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (expiring, _) = invitation(fx, 300).await?;
    s.insert_invitation(&expiring).await?;
    let (digest, invitee) = (expiring.digest, expiring.person);
    fx.clock.advance(299);
    ensure!(
        s.invitation(&digest, invitee, fx.now()).await?.is_some(),
        "an invitation reads just before its expiry"
    );
    let (live, _) = invitation(fx, 300).await?;
    s.insert_invitation(&live).await?;
    fx.clock.advance(1);
    ensure!(
        s.invitation(&digest, invitee, fx.now()).await?.is_none(),
        "an invitation reads nothing at its expiry time"
    );
    ensure!(
        s.take_invitation(&digest, invitee, fx.now())
            .await?
            .is_none(),
        "an invitation is refused at its expiry time"
    );
    // Other rows may share the store: at least the expired one goes, the live one stays.
    ensure!(
        s.prune_invitations(fx.now()).await? >= 1,
        "pruning deletes the expired invitation"
    );
    ensure_eq!(
        s.take_invitation(&live.digest, live.person, fx.now())
            .await?,
        Some(live),
        "pruning leaves a live invitation"
    );
    Ok(())
}

pub(super) async fn race_invitation<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + InvitationStore + 'static,
    P: Spawner,
{
    let (record, _) = invitation(fx, 300).await?;
    fx.store.insert_invitation(&record).await?;
    let now = fx.now();
    let contenders = (0..super::RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move {
                Ok::<_, Fail>(
                    store
                        .take_invitation(&record.digest, record.person, now)
                        .await?,
                )
            }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let taken: Vec<_> = results.into_iter().flatten().collect();
    exactly_one(taken.len(), "take one invitation")?;
    ensure_eq!(taken, alloc::vec![record], "the invitation taken");
    Ok(())
}

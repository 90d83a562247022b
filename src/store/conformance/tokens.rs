//! Setup tokens and pending-login tickets: taken once, refused from their expiry on.

use alloc::format;

use crate::credential::token::BearerToken;
use crate::store::{SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, fail};

pub(super) async fn setup_tokens<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (person, org) = (fx.person_id(), fx.org_id());
    let token = fx.setup_token(person, org, 60)?;
    s.insert_setup_token(&token).await?;
    let other = BearerToken::generate()?.digest();
    ensure!(
        s.take_setup_token(&other, fx.now()).await?.is_none(),
        "another digest takes nothing"
    );
    ensure_eq!(
        s.take_setup_token(&token.digest, fx.now()).await?,
        Some(token),
        "taking the token"
    );
    ensure!(
        s.take_setup_token(&token.digest, fx.now()).await?.is_none(),
        "a token is taken once"
    );
    let expiring = fx.setup_token(person, org, 60)?;
    s.insert_setup_token(&expiring).await?;
    fx.clock.advance(60);
    ensure!(
        s.take_setup_token(&expiring.digest, fx.now())
            .await?
            .is_none(),
        "a token is refused at its expiry time"
    );
    Ok(())
}

pub(super) async fn tickets<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (person, org) = (fx.person_id(), fx.org_id());
    let ticket = fx.ticket(person, org, 300)?;
    s.insert_ticket(&ticket).await?;
    let other = BearerToken::generate()?.digest();
    ensure!(
        s.take_ticket(&other, fx.now()).await?.is_none(),
        "another digest takes nothing"
    );
    // Tickets and setup tokens are kept apart: neither's digest takes the other.
    let token = fx.setup_token(person, org, 300)?;
    s.insert_setup_token(&token).await?;
    ensure!(
        s.take_ticket(&token.digest, fx.now()).await?.is_none(),
        "a setup token's digest takes no ticket"
    );
    ensure!(
        s.take_setup_token(&ticket.digest, fx.now())
            .await?
            .is_none(),
        "a ticket's digest takes no setup token"
    );
    ensure_eq!(
        s.take_setup_token(&token.digest, fx.now()).await?,
        Some(token),
        "the setup token is still there"
    );
    fx.clock.advance(299);
    ensure_eq!(
        s.take_ticket(&ticket.digest, fx.now()).await?,
        Some(ticket),
        "taking the ticket just before its expiry"
    );
    ensure!(
        s.take_ticket(&ticket.digest, fx.now()).await?.is_none(),
        "a ticket is taken once"
    );
    let expiring = fx.ticket(person, org, 300)?;
    s.insert_ticket(&expiring).await?;
    fx.clock.advance(300);
    ensure!(
        s.take_ticket(&expiring.digest, fx.now()).await?.is_none(),
        "a ticket is refused at its expiry time"
    );
    fx.clock.advance(1000);
    ensure!(
        s.take_ticket(&expiring.digest, fx.now()).await?.is_none(),
        "a ticket is refused after its expiry time"
    );
    Ok(())
}

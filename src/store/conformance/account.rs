//! Account tokens (password resets, address verifications) and verified addresses: a token is
//! read without being spent, taken once and only for its purpose, refused from its expiry on;
//! a login changes only from the expected one and never to a taken one.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::credential::token::BearerToken;
use crate::store::records::{AccountTokenPurpose, AccountTokenRecord, Login, LoginChange};
use crate::store::{SecretStore, UserStore};

use super::Spawner;
use super::fixture::Fixture;
use super::harness::{Checked, Fail, exactly_one, fail, race};

fn token<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
    login: &Login,
    purpose: AccountTokenPurpose,
    ttl: u64,
) -> Result<AccountTokenRecord, Fail> {
    Ok(AccountTokenRecord {
        digest: BearerToken::generate()?.digest(),
        person: fx.person_id(),
        purpose,
        login: login.clone(),
        address: login.clone(),
        epoch: 3,
        expires_at: fx.now().saturating_add(ttl),
    })
}

fn login(text: &str) -> Result<Login, Fail> {
    Login::new(text).ok_or_else(|| fail(String::from("a valid login")))
}

pub(super) async fn account_tokens<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let reset = AccountTokenPurpose::PasswordReset;
    let mut issued = token(fx, &login("a@example.test")?, reset, 60)?;
    issued.address = login("b@example.test")?;
    s.insert_account_token(&issued).await?;
    ensure_eq!(
        s.account_token(&issued.digest, reset, fx.now()).await?,
        Some(issued.clone()),
        "reading a token round-trips every field"
    );
    ensure_eq!(
        s.account_token(&issued.digest, reset, fx.now()).await?,
        Some(issued.clone()),
        "reading does not spend it"
    );
    for other in [
        AccountTokenPurpose::VerifyAddress,
        AccountTokenPurpose::ChangeAddress,
    ] {
        ensure!(
            s.account_token(&issued.digest, other, fx.now())
                .await?
                .is_none()
                && s.take_account_token(&issued.digest, other, fx.now())
                    .await?
                    .is_none(),
            "a token of another purpose is neither read nor taken"
        );
    }
    let unknown = BearerToken::generate()?.digest();
    ensure!(
        s.take_account_token(&unknown, reset, fx.now())
            .await?
            .is_none(),
        "another digest takes nothing"
    );
    ensure_eq!(
        s.take_account_token(&issued.digest, reset, fx.now())
            .await?,
        Some(issued.clone()),
        "taking the token"
    );
    ensure!(
        s.take_account_token(&issued.digest, reset, fx.now())
            .await?
            .is_none()
            && s.account_token(&issued.digest, reset, fx.now())
                .await?
                .is_none(),
        "a token is taken once"
    );
    let expiring = token(fx, &login("c@example.test")?, reset, 60)?;
    s.insert_account_token(&expiring).await?;
    fx.clock.advance(60);
    ensure!(
        s.account_token(&expiring.digest, reset, fx.now())
            .await?
            .is_none()
            && s.take_account_token(&expiring.digest, reset, fx.now())
                .await?
                .is_none(),
        "a token is refused at its expiry time"
    );
    let report = s.prune_expired(fx.now()).await?;
    ensure!(report.account_tokens >= 1, "the expired token is pruned");
    Ok(())
}

pub(super) async fn addresses<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (person, _) = fx.founder().await?;
    let (other, _) = fx.founder().await?;
    ensure_eq!(
        person.address_verified_at,
        None,
        "a new person is unverified"
    );
    let stale = login("somewhere-else@example.test")?;
    ensure!(
        !s.mark_address_verified(person.id, &stale, 7).await?,
        "an address the person does not hold is not marked"
    );
    ensure!(
        s.mark_address_verified(person.id, &person.login, 7).await?,
        "marking the address verified"
    );
    ensure!(
        !s.mark_address_verified(person.id, &person.login, 9).await?,
        "a verified address is marked once"
    );
    let read = s
        .person(person.id)
        .await?
        .ok_or_else(|| fail(String::from("the person")))?;
    ensure_eq!(read.address_verified_at, Some(7), "the verification time");

    ensure_eq!(
        s.change_login(person.id, &person.login, &other.login, 11)
            .await?,
        LoginChange::Taken,
        "a login another person holds"
    );
    ensure_eq!(
        s.change_login(person.id, &stale, &login("new@example.test")?, 11)
            .await?,
        LoginChange::Stale,
        "a change from a login the person no longer holds"
    );
    let new = login(&format!("moved-{}", person.login.as_str()))?;
    ensure_eq!(
        s.change_login(person.id, &person.login, &new, 11).await?,
        LoginChange::Changed,
        "changing the login"
    );
    let read = s
        .person(person.id)
        .await?
        .ok_or_else(|| fail(String::from("the person")))?;
    ensure!(
        read.login == new && read.address_verified_at == Some(11),
        "the new login, verified at the change: {read:?}"
    );
    ensure!(
        s.person_by_login(new.as_str()).await?.map(|p| p.id) == Some(person.id)
            && s.person_by_login(person.login.as_str()).await?.is_none(),
        "the person is found by the new login only"
    );
    Ok(())
}

pub(super) async fn race_account_token<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let reset = AccountTokenPurpose::PasswordReset;
    let issued = token(fx, &login("race@example.test")?, reset, 300)?;
    fx.store.insert_account_token(&issued).await?;
    let now = fx.now();
    let contenders = (0..super::RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            let digest = issued.digest;
            async move { Ok::<_, Fail>(store.take_account_token(&digest, reset, now).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let taken: Vec<_> = results.into_iter().flatten().collect();
    exactly_one(taken.len(), "take one account token")?;
    ensure_eq!(taken, alloc::vec![issued], "the token taken");
    Ok(())
}

pub(super) async fn race_change_login<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let mut people = Vec::new();
    for _ in 0..super::RACE_CONTENDERS {
        people.push(fx.founder().await?.0);
    }
    let wanted = login(&format!("wanted-{:x}@example.test", fx.fresh()))?;
    let contenders = people
        .iter()
        .map(|p| {
            let store = Arc::clone(&fx.store);
            let (id, from, to) = (p.id, p.login.clone(), wanted.clone());
            async move { Ok::<_, Fail>(store.change_login(id, &from, &to, 5).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    exactly_one(
        results
            .iter()
            .filter(|r| **r == LoginChange::Changed)
            .count(),
        "change to one login",
    )?;
    ensure!(
        results
            .iter()
            .all(|r| matches!(r, LoginChange::Changed | LoginChange::Taken)),
        "the others are told the login is taken: {results:?}"
    );
    Ok(())
}

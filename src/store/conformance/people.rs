//! People and organisations: creation all-or-nothing, unique logins, updates, versions.

use alloc::format;
use alloc::sync::Arc;

use crate::credential::phone::PhoneNumber;
use crate::policy::login::PasswordState;
use crate::policy::organisation::Organisation;
use crate::store::records::Login;
use crate::store::{CreateOutcome, OrganisationWrite, SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, Fail, exactly_one, fail, race};
use super::{RACE_CONTENDERS, Spawner};

pub(super) async fn create_person<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (person, org) = fx.founder().await?;
    ensure_eq!(
        s.person(person.id).await?,
        Some(person.clone()),
        "person(id) after create_person"
    );
    let shouted = format!("  {}  ", fx.login_for(person.id).to_ascii_uppercase());
    ensure_eq!(
        s.person_by_login(&shouted).await?,
        Some(person.clone()),
        "person_by_login with another case and surrounding spaces"
    );
    let stored = UserStore::organisation(s, org.id())
        .await?
        .ok_or_else(|| fail("the organisation was not written".into()))?;
    ensure_eq!(stored.version, 1, "a new organisation's version");
    ensure_eq!(stored.value, org, "the stored organisation");
    ensure_eq!(
        s.organisations_of(person.id).await?,
        alloc::vec![org.id()],
        "organisations_of the founder"
    );
    Ok(())
}

pub(super) async fn unique_login<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (first, _) = fx.founder().await?;
    let mut second = fx.record(fx.person_id())?;
    second.login = Login::new(&first.login.as_str().to_ascii_uppercase())
        .ok_or_else(|| fail("bad login".into()))?;
    let org = Organisation::found(fx.org_id(), second.id, fx.now()).state;
    ensure_eq!(
        s.create_person(&second, OrganisationWrite::Insert(&org))
            .await?,
        CreateOutcome::LoginTaken,
        "create_person with a taken login"
    );
    ensure!(
        s.person(second.id).await?.is_none(),
        "a refused person must not be written"
    );
    ensure!(
        UserStore::organisation(s, org.id()).await?.is_none(),
        "the organisation of a refused person must not be written"
    );
    ensure_eq!(
        s.person_by_login(first.login.as_str()).await?.map(|p| p.id),
        Some(first.id),
        "the login still names the first person"
    );
    Ok(())
}

/// A person id that is taken is never given to a second person: the store refuses (with an
/// error or an outcome other than `Created`) and writes nothing, neither the person, nor their
/// login, nor their organisation, and the first person is left as they were.
pub(super) async fn unique_person_id<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (first, first_org) = fx.founder().await?;
    let mut second = fx.record(fx.person_id())?;
    second.id = first.id;
    let org = Organisation::found(fx.org_id(), second.id, fx.now()).state;
    let outcome = s
        .create_person(&second, OrganisationWrite::Insert(&org))
        .await;
    ensure!(
        !matches!(outcome, Ok(CreateOutcome::Created)),
        "create_person with a taken person id must not create a second person"
    );
    ensure_eq!(
        s.person(first.id).await?,
        Some(first.clone()),
        "the person who holds the id is unchanged"
    );
    ensure!(
        s.person_by_login(second.login.as_str()).await?.is_none(),
        "the refused person's login must not be written"
    );
    ensure!(
        UserStore::organisation(s, org.id()).await?.is_none(),
        "the refused person's organisation must not be written"
    );
    ensure_eq!(
        s.organisations_of(first.id).await?,
        alloc::vec![first_org.id()],
        "the first person's organisations are unchanged"
    );
    Ok(())
}

pub(super) async fn create_all_or_nothing<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (owner, org) = fx.founder().await?;
    // Inserting an organisation that exists: nothing is written.
    let newcomer = fx.record(fx.person_id())?;
    let clash = Organisation::found(org.id(), newcomer.id, fx.now()).state;
    ensure_eq!(
        s.create_person(&newcomer, OrganisationWrite::Insert(&clash))
            .await?,
        CreateOutcome::OrganisationConflict,
        "create_person inserting an existing organisation"
    );
    ensure!(
        s.person(newcomer.id).await?.is_none()
            && s.person_by_login(newcomer.login.as_str()).await?.is_none(),
        "a person whose organisation write failed must not be written"
    );
    // Replacing from a stale version: nothing is written.
    let added = fx.with_member(&org, owner.id, newcomer.id)?;
    ensure_eq!(
        s.create_person(
            &newcomer,
            OrganisationWrite::Replace {
                organisation: &added,
                expected_version: 2,
            },
        )
        .await?,
        CreateOutcome::OrganisationConflict,
        "create_person replacing from a stale version"
    );
    ensure!(
        s.person(newcomer.id).await?.is_none(),
        "a person whose organisation replacement failed must not be written"
    );
    let stored = UserStore::organisation(s, org.id())
        .await?
        .ok_or_else(|| fail("organisation lost".into()))?;
    ensure_eq!(
        stored.version,
        1,
        "a refused replacement leaves the version"
    );
    ensure_eq!(
        stored.value,
        org,
        "a refused replacement leaves the organisation"
    );
    // Replacing an organisation that does not exist: nothing is written.
    let ghost = Organisation::found(fx.org_id(), newcomer.id, fx.now()).state;
    ensure_eq!(
        s.create_person(
            &newcomer,
            OrganisationWrite::Replace {
                organisation: &ghost,
                expected_version: 1,
            },
        )
        .await?,
        CreateOutcome::OrganisationConflict,
        "create_person replacing a missing organisation"
    );
    ensure!(
        s.person(newcomer.id).await?.is_none(),
        "nothing is written when the organisation is missing"
    );
    // From the right version: both are written.
    ensure_eq!(
        s.create_person(
            &newcomer,
            OrganisationWrite::Replace {
                organisation: &added,
                expected_version: 1,
            },
        )
        .await?,
        CreateOutcome::Created,
        "create_person replacing from the current version"
    );
    let stored = UserStore::organisation(s, org.id())
        .await?
        .ok_or_else(|| fail("organisation lost".into()))?;
    ensure_eq!(stored.version, 2, "the version after a replacement");
    ensure_eq!(stored.value, added, "the replaced organisation");
    ensure_eq!(
        s.person(newcomer.id).await?,
        Some(newcomer.clone()),
        "the added person"
    );
    ensure_eq!(
        s.organisations_of(newcomer.id).await?,
        alloc::vec![org.id()],
        "organisations_of the added person"
    );
    Ok(())
}

pub(super) async fn person_updates<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (person, _) = fx.founder().await?;
    let expires = fx.now().saturating_add(3600);
    ensure!(
        s.set_password(
            person.id,
            "$argon2id$new",
            PasswordState::Temporary,
            Some(expires)
        )
        .await?,
        "set_password must report the update"
    );
    let phone = PhoneNumber::parse("+44 20 7946 0958")?;
    ensure!(
        s.set_phone(person.id, Some(&phone)).await?,
        "set_phone must report the update"
    );
    ensure!(
        s.set_deactivated(person.id, true).await?,
        "set_deactivated must report the update"
    );
    let stored = s
        .person(person.id)
        .await?
        .ok_or_else(|| fail("the person vanished".into()))?;
    ensure_eq!(
        stored.password_hash.as_str(),
        "$argon2id$new",
        "password hash"
    );
    ensure_eq!(
        stored.password_state,
        PasswordState::Temporary,
        "password state"
    );
    ensure_eq!(stored.password_expires_at, Some(expires), "password expiry");
    ensure_eq!(stored.phone, Some(phone), "phone");
    ensure!(stored.deactivated, "the person must be deactivated");
    ensure!(
        s.set_phone(person.id, None).await? && s.set_deactivated(person.id, false).await?,
        "clearing the phone and reactivating must report the update"
    );
    let stored = s
        .person(person.id)
        .await?
        .ok_or_else(|| fail("the person vanished".into()))?;
    ensure!(
        stored.phone.is_none() && !stored.deactivated,
        "phone cleared and person reactivated"
    );
    ensure_eq!(stored.login, person.login, "the login is unchanged");
    Ok(())
}

/// `upgrade_password_hash` replaces only the hash it expects, keeps the state and expiry, and
/// lets exactly one of several racing upgrades from one hash win.
pub(super) async fn upgrade_password_hash<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let s = &*fx.store;
    ensure!(
        !s.upgrade_password_hash(fx.person_id(), "$argon2id$a", "$argon2id$b")
            .await?,
        "upgrade_password_hash(unknown) must be false"
    );
    let (person, _) = fx.founder().await?;
    let expires = fx.now().saturating_add(3600);
    ensure!(
        s.set_password(
            person.id,
            "$argon2id$old",
            PasswordState::Compromised,
            Some(expires)
        )
        .await?,
        "set_password must report the update"
    );
    ensure!(
        !s.upgrade_password_hash(person.id, "$argon2id$changed", "$argon2id$rehash")
            .await?,
        "upgrade_password_hash from another hash must be false"
    );
    ensure!(
        s.upgrade_password_hash(person.id, "$argon2id$old", "$argon2id$rehash")
            .await?,
        "upgrade_password_hash from the stored hash must be true"
    );
    let stored = s
        .person(person.id)
        .await?
        .ok_or_else(|| fail("the person vanished".into()))?;
    ensure_eq!(
        stored.password_hash.as_str(),
        "$argon2id$rehash",
        "the upgraded hash"
    );
    ensure_eq!(
        stored.password_state,
        PasswordState::Compromised,
        "the password state is kept"
    );
    ensure_eq!(
        stored.password_expires_at,
        Some(expires),
        "the password expiry is kept"
    );
    let id = person.id;
    let contenders = (0..RACE_CONTENDERS)
        .map(|i| {
            let store = Arc::clone(&fx.store);
            async move {
                let new = format!("$argon2id$race{i}");
                Ok::<_, Fail>(
                    store
                        .upgrade_password_hash(id, "$argon2id$rehash", &new)
                        .await?,
                )
            }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "upgrade one password hash",
    )?;
    Ok(())
}

pub(super) async fn organisation_versions<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (owner, org) = fx.founder().await?;
    let changed = fx.with_member(&org, owner.id, fx.person_id())?;
    ensure!(
        !s.replace_organisation(&changed, 2).await?,
        "replace_organisation from a future version must be false"
    );
    ensure!(
        s.replace_organisation(&changed, 1).await?,
        "replace_organisation from the current version must be true"
    );
    ensure!(
        !s.replace_organisation(&org, 1).await?,
        "replace_organisation from a stale version must be false"
    );
    let stored = UserStore::organisation(s, org.id())
        .await?
        .ok_or_else(|| fail("organisation lost".into()))?;
    ensure_eq!(stored.version, 2, "the version after one replacement");
    ensure_eq!(stored.value, changed, "the replaced organisation");
    Ok(())
}

pub(super) async fn organisations_of<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let (first_owner, first) = fx.founder().await?;
    let (member, second) = fx.founder().await?;
    let joined = fx.with_member(&first, first_owner.id, member.id)?;
    ensure!(
        s.replace_organisation(&joined, 1).await?,
        "adding a member must succeed"
    );
    let mut orgs = s.organisations_of(member.id).await?;
    orgs.sort_unstable();
    let mut expected = alloc::vec![first.id(), second.id()];
    expected.sort_unstable();
    ensure_eq!(orgs, expected, "organisations_of a member of two");
    ensure_eq!(
        s.organisations_of(first_owner.id).await?,
        alloc::vec![first.id()],
        "organisations_of the first owner"
    );
    Ok(())
}

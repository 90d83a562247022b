//! The [`PasskeyStore`] contracts (features `test-util` and `passkeys`): user handles made once
//! per person, ceremony states spent once and only while live, credential ids unique across
//! people, and uses recorded only over the counter they were checked against — with the two
//! races (servers finishing the same ceremony, servers recording uses of the same credential).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::credential::passkey::{CredentialKey, UserHandle};
use crate::credential::token::TokenDigest;
use crate::otp::clock::ManualClock;
use crate::policy::ids::PersonId;
use crate::store::login::{FactorRemoval, LoginStore};
use crate::store::passkeys::{
    PasskeyChallengeRecord, PasskeyPurpose, PasskeyRecord, PasskeyStore, PasskeyUseWrite,
};
use crate::store::sessions::SessionStore;

use super::factors::epoch_of;
use super::fixture::Fixture;
use super::harness::{Checked, Fail, exactly_one, fail, race};
use super::{ConformanceFailure, InPlace, RACE_CONTENDERS, Report, Spawner};

/// The stores the passkey checks run on.
pub trait PasskeyConformance: LoginStore + PasskeyStore + 'static {}

impl<S: LoginStore + PasskeyStore + 'static> PasskeyConformance for S {}

/// Runs every passkey check, racing in the calling task.
pub async fn run_passkeys<S: PasskeyConformance>(
    store: Arc<S>,
    clock: &ManualClock,
) -> Result<Report, ConformanceFailure> {
    run_passkeys_with(store, clock, &InPlace).await
}

/// Runs every passkey check, handing the racing calls to `spawner`.
pub async fn run_passkeys_with<S: PasskeyConformance, P: Spawner>(
    store: Arc<S>,
    clock: &ManualClock,
    spawner: &P,
) -> Result<Report, ConformanceFailure> {
    let fx = Fixture::new(store, clock)?;
    let mut report = Report::default();
    macro_rules! run {
        ($name:literal, $check:expr) => {
            $check.await.map_err(|f: Fail| ConformanceFailure {
                check: $name,
                message: f.message,
                source: f.source,
            })?;
            report.checks.push($name);
        };
    }
    run!("passkey_user_handle", user_handle(&fx));
    run!("passkey_challenge_single_use", challenge_single_use(&fx));
    run!("passkey_unique_credential_id", unique_credential_id(&fx));
    run!("passkey_use_guarded", use_guarded(&fx));
    run!("race_passkey_challenge", race_challenge(&fx, spawner));
    run!("race_passkey_use", race_use(&fx, spawner));
    run!("passkey_insert_epoch", insert_epoch(&fx));
    run!("passkey_remove", remove(&fx));
    run!("passkey_prune", prune(&fx));
    run!("race_passkey_remove", race_remove(&fx, spawner));
    run!("race_passkey_insert", race_insert(&fx, spawner));
    Ok(report)
}

async fn person<S: PasskeyConformance>(fx: &Fixture<'_, S>) -> Result<PersonId, Fail> {
    Ok(fx.founder().await?.0.id)
}

fn challenge(
    person: PersonId,
    purpose: PasskeyPurpose,
    state: &str,
    expires_at: u64,
) -> PasskeyChallengeRecord {
    PasskeyChallengeRecord {
        person,
        purpose,
        name: String::from("key"),
        ticket: None,
        state: String::from(state),
        expires_at,
    }
}

/// Stores `key` at its owner's current security epoch (0 for a person who does not exist),
/// keeping no session: whether it was stored.
async fn insert<S: PasskeyConformance>(
    fx: &Fixture<'_, S>,
    key: &PasskeyRecord,
) -> Result<bool, Fail> {
    let epoch = fx.store.security_epoch(key.person).await?.unwrap_or(0);
    Ok(fx.store.insert_passkey(key, epoch, None).await?.is_some())
}

fn credential(fx_fresh: u128, person: PersonId, now: u64) -> PasskeyRecord {
    PasskeyRecord {
        person,
        credential_id: fx_fresh.to_be_bytes().to_vec(),
        name: String::from("YubiKey"),
        key: CredentialKey::from_stored(String::from("{\"cred\":{}}")),
        counter: 0,
        backup_eligible: false,
        backup_state: false,
        created_at: now,
        last_used_at: None,
    }
}

fn use_at(expected: u32, counter: u32, now: u64) -> PasskeyUseWrite {
    PasskeyUseWrite {
        expected_counter: expected,
        counter,
        key: CredentialKey::from_stored(format!("{{\"cred\":{{\"counter\":{counter}}}}}")),
        backup_state: true,
        backup_eligible: true,
        used_at: now,
    }
}

/// A handle is stored once per person; an unknown person gets none.
async fn user_handle<S: PasskeyConformance>(fx: &Fixture<'_, S>) -> Checked {
    let nobody = fx.person_id();
    let first = UserHandle::from_bytes(fx.fresh().to_be_bytes());
    let second = UserHandle::from_bytes(fx.fresh().to_be_bytes());
    ensure_eq!(
        fx.store.ensure_user_handle(nobody, first).await?,
        None,
        "a handle for an unknown person"
    );
    let id = person(fx).await?;
    ensure_eq!(
        fx.store.ensure_user_handle(id, first).await?,
        Some(first),
        "the first handle is stored"
    );
    ensure_eq!(
        fx.store.ensure_user_handle(id, second).await?,
        Some(first),
        "a second candidate does not replace the stored handle"
    );
    Ok(())
}

/// A state is taken once, only while live, per person and purpose; a new start replaces it.
async fn challenge_single_use<S: PasskeyConformance>(fx: &Fixture<'_, S>) -> Checked {
    let id = person(fx).await?;
    let other = person(fx).await?;
    let now = fx.now();
    let store = &fx.store;
    store
        .put_passkey_challenge(&challenge(
            id,
            PasskeyPurpose::Register,
            "old",
            now.saturating_add(300),
        ))
        .await?;
    store
        .put_passkey_challenge(&challenge(
            id,
            PasskeyPurpose::Register,
            "new",
            now.saturating_add(300),
        ))
        .await?;
    store
        .put_passkey_challenge(&challenge(
            id,
            PasskeyPurpose::SignIn,
            "sign-in",
            now.saturating_add(300),
        ))
        .await?;
    ensure_eq!(
        store
            .take_passkey_challenge(other, PasskeyPurpose::Register, None, now)
            .await?,
        None,
        "another person's state"
    );
    let taken = store
        .take_passkey_challenge(id, PasskeyPurpose::Register, None, now)
        .await?
        .ok_or_else(|| fail("the live state was not found".into()))?;
    ensure_eq!(
        taken.state.as_str(),
        "new",
        "a new start replaces the pending state"
    );
    ensure_eq!(
        store
            .take_passkey_challenge(id, PasskeyPurpose::Register, None, now)
            .await?,
        None,
        "a state taken twice"
    );
    let sign_in = store
        .take_passkey_challenge(id, PasskeyPurpose::SignIn, None, now)
        .await?;
    ensure!(
        sign_in.is_some_and(|c| c.state == "sign-in"),
        "purposes are kept apart"
    );
    // Two logins of one person: each ticket has its own ceremony.
    let (first, second) = (TokenDigest([1; 32]), TokenDigest([2; 32]));
    for (ticket, state) in [(first, "first"), (second, "second")] {
        let mut record = challenge(id, PasskeyPurpose::SignIn, state, now.saturating_add(300));
        record.ticket = Some(ticket);
        store.put_passkey_challenge(&record).await?;
    }
    let taken = store
        .take_passkey_challenge(id, PasskeyPurpose::SignIn, Some(&second), now)
        .await?;
    ensure!(
        taken.is_some_and(|c| c.state == "second" && c.ticket == Some(second)),
        "a login's ceremony is found by its ticket"
    );
    let taken = store
        .take_passkey_challenge(id, PasskeyPurpose::SignIn, Some(&first), now)
        .await?;
    ensure!(
        taken.is_some_and(|c| c.state == "first"),
        "another login's ceremony of the person is kept apart"
    );
    ensure_eq!(
        store
            .take_passkey_challenge(id, PasskeyPurpose::SignIn, None, now)
            .await?,
        None,
        "a login's ceremony taken without its ticket"
    );
    store
        .put_passkey_challenge(&challenge(
            id,
            PasskeyPurpose::Register,
            "late",
            now.saturating_add(300),
        ))
        .await?;
    ensure_eq!(
        store
            .take_passkey_challenge(id, PasskeyPurpose::Register, None, now.saturating_add(300))
            .await?,
        None,
        "a state at its expiry"
    );
    Ok(())
}

/// A credential id belongs to one person.
async fn unique_credential_id<S: PasskeyConformance>(fx: &Fixture<'_, S>) -> Checked {
    let ada = person(fx).await?;
    let eve = person(fx).await?;
    let now = fx.now();
    let key = credential(fx.fresh(), ada, now);
    ensure!(insert(fx, &key).await?, "a new credential");
    let mut stolen = key.clone();
    stolen.person = eve;
    ensure!(
        !insert(fx, &stolen).await?,
        "a credential id registered to a second person"
    );
    ensure!(
        !insert(fx, &key).await?,
        "the same credential registered twice"
    );
    ensure_eq!(
        fx.store.passkeys(eve).await?,
        Vec::new(),
        "the second person's credentials"
    );
    ensure_eq!(
        fx.store.passkey_by_id(&key.credential_id).await?,
        Some(key.clone()),
        "the credential found by its id"
    );
    ensure_eq!(
        fx.store.passkey_by_id(&fx.fresh().to_be_bytes()).await?,
        None,
        "an unknown credential id"
    );
    ensure_eq!(
        fx.store.passkeys(ada).await?,
        alloc::vec![key],
        "the owner's credentials"
    );
    Ok(())
}

/// A use is recorded only over the counter it was checked against, and only by the owner.
async fn use_guarded<S: PasskeyConformance>(fx: &Fixture<'_, S>) -> Checked {
    let ada = person(fx).await?;
    let eve = person(fx).await?;
    let now = fx.now();
    let key = credential(fx.fresh(), ada, now);
    ensure!(insert(fx, &key).await?, "a new credential");
    let id = key.credential_id.as_slice();
    ensure!(
        !fx.store
            .record_passkey_use(eve, id, &use_at(0, 5, now))
            .await?,
        "another person records a use of the credential"
    );
    ensure!(
        fx.store
            .record_passkey_use(ada, id, &use_at(0, 5, now))
            .await?,
        "a use over the stored counter"
    );
    ensure!(
        !fx.store
            .record_passkey_use(ada, id, &use_at(0, 9, now))
            .await?,
        "a use checked against a stale counter"
    );
    let stored = fx.store.passkeys(ada).await?;
    let stored = stored
        .first()
        .ok_or_else(|| fail("the credential is gone".into()))?;
    ensure_eq!(stored.counter, 5, "the counter after one use");
    ensure_eq!(
        stored.key,
        use_at(0, 5, now).key,
        "the credential after one use"
    );
    ensure!(
        stored.backup_state && stored.backup_eligible && stored.last_used_at == Some(now),
        "the flags and time of the use"
    );
    Ok(())
}

/// Of [`RACE_CONTENDERS`] servers finishing the same ceremony, exactly one gets its state.
async fn race_challenge<S: PasskeyConformance, P: Spawner>(
    fx: &Fixture<'_, S>,
    spawner: &P,
) -> Checked {
    let id = person(fx).await?;
    let now = fx.now();
    fx.store
        .put_passkey_challenge(&challenge(
            id,
            PasskeyPurpose::SignIn,
            "once",
            now.saturating_add(300),
        ))
        .await?;
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move {
                Ok::<_, Fail>(
                    store
                        .take_passkey_challenge(id, PasskeyPurpose::SignIn, None, now)
                        .await?
                        .is_some(),
                )
            }
        })
        .collect();
    let wins = race(spawner, contenders).await?;
    exactly_one(
        wins.into_iter().filter(|w| *w).count(),
        "finish one ceremony",
    )
}

/// Of [`RACE_CONTENDERS`] uses checked against the same counter, exactly one is recorded.
async fn race_use<S: PasskeyConformance, P: Spawner>(fx: &Fixture<'_, S>, spawner: &P) -> Checked {
    let ada = person(fx).await?;
    let now = fx.now();
    let key = credential(fx.fresh(), ada, now);
    ensure!(insert(fx, &key).await?, "a new credential");
    let contenders = (1..=RACE_CONTENDERS)
        .map(|n| {
            let store = Arc::clone(&fx.store);
            let id = key.credential_id.clone();
            let counter = u32::try_from(n).unwrap_or(u32::MAX);
            async move {
                Ok::<_, Fail>(
                    store
                        .record_passkey_use(ada, &id, &use_at(0, counter, now))
                        .await?,
                )
            }
        })
        .collect();
    let wins = race(spawner, contenders).await?;
    exactly_one(
        wins.into_iter().filter(|w| *w).count(),
        "record a use of one credential",
    )
}

/// A credential is stored only at the person's current security epoch, and never for a person
/// who does not exist.
async fn insert_epoch<S: PasskeyConformance>(fx: &Fixture<'_, S>) -> Checked {
    let ada = person(fx).await?;
    let now = fx.now();
    let nobody = credential(fx.fresh(), fx.person_id(), now);
    ensure!(
        !insert(fx, &nobody).await?,
        "a credential of a person who does not exist"
    );
    let epoch = SessionStore::bump_epoch(&*fx.store, ada, None)
        .await?
        .ok_or_else(|| fail("the person has no epoch".into()))?;
    let stale = credential(fx.fresh(), ada, now);
    ensure!(
        fx.store
            .insert_passkey(&stale, epoch.saturating_sub(1), None)
            .await?
            .is_none(),
        "a credential stored at a stale epoch"
    );
    ensure_eq!(
        fx.store.insert_passkey(&stale, epoch, None).await?,
        Some(epoch.saturating_add(1)),
        "a credential stored at the current epoch moves it on"
    );
    ensure_eq!(
        fx.store.passkeys(ada).await?,
        alloc::vec![stale],
        "the credentials after the refused and the stored one"
    );
    // The epoch moves with the credential: every other session ends, the kept one is carried
    // over, and a decision made at the old epoch no longer lands.
    let (person, _, grant) = super::sessions::signed_in(fx).await?;
    let (kept, kept_session) = super::sessions::open(fx, &grant).await?;
    let (other, _) = super::sessions::open(fx, &grant).await?;
    let epoch = super::factors::epoch_of(fx, person.id).await?;
    let added = credential(fx.fresh(), person.id, now);
    let next = epoch.saturating_add(1);
    ensure_eq!(
        fx.store
            .insert_passkey(&added, epoch, Some(kept_session.id))
            .await?,
        Some(next),
        "a credential stored, keeping a session"
    );
    ensure!(
        fx.store.session(&other).await?.is_none(),
        "the other session ended with the credential"
    );
    let view = fx
        .store
        .session(&kept)
        .await?
        .ok_or_else(|| fail("the kept session stays".into()))?;
    ensure_eq!(view.session.epoch, next, "the kept session is carried over");
    let removal = FactorRemoval::Passkey {
        credential_id: added.credential_id.clone(),
    };
    ensure_eq!(
        fx.store
            .remove_factor(person.id, &removal, epoch, None)
            .await?,
        None,
        "a removal decided before the credential was added"
    );
    Ok(())
}

/// A credential goes only at its owner's epoch, only its owner's, once, moving the epoch on; all
/// of a person's go with their ceremony states, nobody else's.
async fn remove<S: PasskeyConformance>(fx: &Fixture<'_, S>) -> Checked {
    let ada = person(fx).await?;
    let eve = person(fx).await?;
    let now = fx.now();
    let store = &fx.store;
    let first = credential(fx.fresh(), ada, now);
    let second = credential(fx.fresh(), ada, now.saturating_add(1));
    let eves = credential(fx.fresh(), eve, now);
    for key in [&first, &second, &eves] {
        ensure!(insert(fx, key).await?, "a new credential");
    }
    let removal = FactorRemoval::Passkey {
        credential_id: first.credential_id.clone(),
    };
    let epoch = epoch_of(fx, ada).await?;
    ensure_eq!(
        store
            .remove_factor(eve, &removal, epoch_of(fx, eve).await?, None)
            .await?,
        None,
        "another person removes a credential"
    );
    ensure_eq!(
        store
            .remove_factor(ada, &removal, epoch.saturating_add(1), None)
            .await?,
        None,
        "a removal at another epoch"
    );
    ensure_eq!(
        store.remove_factor(ada, &removal, epoch, None).await?,
        Some(epoch.saturating_add(1)),
        "a removal at the epoch it was decided at"
    );
    ensure_eq!(
        store
            .remove_factor(ada, &removal, epoch.saturating_add(1), None)
            .await?,
        None,
        "a credential removed twice"
    );
    ensure_eq!(
        store.passkeys(ada).await?,
        alloc::vec![second.clone()],
        "the credentials after one removal"
    );
    for (who, purpose) in [
        (ada, PasskeyPurpose::Register),
        (ada, PasskeyPurpose::Acknowledge),
        (eve, PasskeyPurpose::Register),
    ] {
        store
            .put_passkey_challenge(&challenge(who, purpose, "s", now.saturating_add(300)))
            .await?;
    }
    ensure_eq!(
        store.remove_passkeys(ada).await?,
        1,
        "the credentials removed with the person's"
    );
    ensure_eq!(store.passkeys(ada).await?, Vec::new(), "no credential left");
    for purpose in [PasskeyPurpose::Register, PasskeyPurpose::Acknowledge] {
        ensure_eq!(
            store
                .take_passkey_challenge(ada, purpose, None, now)
                .await?,
            None,
            "a ceremony state left after removing the person's credentials"
        );
    }
    ensure!(
        store
            .take_passkey_challenge(eve, PasskeyPurpose::Register, None, now)
            .await?
            .is_some(),
        "another person's ceremony state removed"
    );
    ensure_eq!(
        store.passkeys(eve).await?,
        alloc::vec![eves],
        "another person's credentials removed"
    );
    Ok(())
}

/// Pruning deletes the expired ceremony states and keeps the live ones.
async fn prune<S: PasskeyConformance>(fx: &Fixture<'_, S>) -> Checked {
    let ada = person(fx).await?;
    let now = fx.now();
    let store = &fx.store;
    store
        .put_passkey_challenge(&challenge(ada, PasskeyPurpose::Register, "old", now))
        .await?;
    store
        .put_passkey_challenge(&challenge(
            ada,
            PasskeyPurpose::Acknowledge,
            "live",
            now.saturating_add(1),
        ))
        .await?;
    // Other runs share the store: at least this one expired state went.
    ensure!(
        store.prune_passkey_challenges(now).await? >= 1,
        "the expired state pruned"
    );
    ensure_eq!(
        store
            .take_passkey_challenge(ada, PasskeyPurpose::Register, None, now.saturating_sub(1))
            .await?,
        None,
        "the expired state is gone"
    );
    ensure!(
        store
            .take_passkey_challenge(ada, PasskeyPurpose::Acknowledge, None, now)
            .await?
            .is_some_and(|c| c.state == "live"),
        "the live state kept"
    );
    Ok(())
}

/// A person holds a passkey and a phone, their last two factors: of [`RACE_CONTENDERS`]
/// removals decided at one epoch, half of the passkey and half of the phone (each decided on the
/// other staying), exactly one lands, and exactly one factor is left.
async fn race_remove<S: PasskeyConformance, P: Spawner>(
    fx: &Fixture<'_, S>,
    spawner: &P,
) -> Checked {
    let ada = person(fx).await?;
    let now = fx.now();
    let key = credential(fx.fresh(), ada, now);
    ensure!(insert(fx, &key).await?, "a new credential");
    ensure!(
        fx.store.set_phone(ada, Some(&fx.phone()?)).await?,
        "a phone set"
    );
    let epoch = epoch_of(fx, ada).await?;
    let contenders = (0..RACE_CONTENDERS)
        .map(|n| {
            let store = Arc::clone(&fx.store);
            let removal = if n % 2 == 0 {
                FactorRemoval::Passkey {
                    credential_id: key.credential_id.clone(),
                }
            } else {
                FactorRemoval::Phone
            };
            async move {
                Ok::<_, Fail>(
                    store
                        .remove_factor(ada, &removal, epoch, None)
                        .await?
                        .is_some(),
                )
            }
        })
        .collect();
    let wins = race(spawner, contenders).await?;
    exactly_one(
        wins.into_iter().filter(|w| *w).count(),
        "remove one of the last two factors (a passkey, a phone), each keeping the other",
    )?;
    let passkeys = fx.store.passkeys(ada).await?.len();
    let phones = usize::from(
        fx.store
            .person(ada)
            .await?
            .is_some_and(|p| p.phone.is_some()),
    );
    ensure_eq!(
        passkeys.saturating_add(phones),
        1,
        "one factor left (passkeys and phones)"
    );
    Ok(())
}

/// Of [`RACE_CONTENDERS`] servers storing one credential id, each for another person, exactly
/// one does, and the credential is that person's alone.
async fn race_insert<S: PasskeyConformance, P: Spawner>(
    fx: &Fixture<'_, S>,
    spawner: &P,
) -> Checked {
    let id = fx.fresh();
    let now = fx.now();
    let mut people = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        people.push(person(fx).await?);
    }
    let contenders = people
        .iter()
        .map(|p| {
            let store = Arc::clone(&fx.store);
            let key = credential(id, *p, now);
            async move { Ok::<_, Fail>(store.insert_passkey(&key, 0, None).await?.is_some()) }
        })
        .collect();
    let wins = race(spawner, contenders).await?;
    exactly_one(
        wins.into_iter().filter(|w| *w).count(),
        "store one credential id",
    )?;
    let owner = fx
        .store
        .passkey_by_id(&id.to_be_bytes())
        .await?
        .ok_or_else(|| fail("the credential is gone".into()))?;
    let mut holders = 0;
    for p in &people {
        holders = fx.store.passkeys(*p).await?.len().saturating_add(holders);
    }
    ensure!(
        holders == 1 && people.contains(&owner.person),
        "one credential id held by one person"
    );
    Ok(())
}

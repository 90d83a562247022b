//! Races: of many concurrent calls to one atomic verb, exactly as many win as the contract allows.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::credential::factor::ThrottledFactor;
use crate::credential::oob::{OobConfig, SendDecision, SendRefusal};
use crate::credential::throttle::{ThrottleDecision, ThrottleEvent, ThrottlePolicy};
use crate::policy::organisation::Organisation;
use crate::store::records::{Login, OobPurpose, RecoverySlot, ThrottleKey};
use crate::store::{CreateOutcome, OrganisationWrite, SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, Fail, exactly_one, fail, race};
use super::{RACE_CONTENDERS, Spawner, THROTTLE_CONTENDERS};

pub(super) async fn race_watermark<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let id = fx.person_id();
    let mfa = fx.enrolled(id)?;
    let (auth, start) = mfa
        .authenticators()
        .first()
        .map(|a| (a.id(), a.last_accepted_step()))
        .ok_or_else(|| fail("no authenticator".into()))?;
    ensure!(fx.store.replace_mfa(id, &mfa, None).await?, "storing MFA");
    let step = start.saturating_add(1);
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move { Ok::<_, Fail>(store.advance_watermark(id, auth, step).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "advance one watermark",
    )?;
    let stored = fx
        .store
        .mfa(id)
        .await?
        .and_then(|m| m.value.authenticator(auth).map(|a| a.last_accepted_step()));
    ensure_eq!(stored, Some(step), "the watermark after the race");
    Ok(())
}

pub(super) async fn race_recovery_slot<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let id = fx.person_id();
    let set = fx.recovery_set()?;
    fx.store
        .replace_recovery_codes(id, RecoverySlot::Active, Some(&set))
        .await?;
    let set_id = set.set_id();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move { Ok::<_, Fail>(store.spend_recovery_code(id, set_id, 1).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "spend one recovery slot",
    )?;
    let stored = fx.store.recovery_codes(id, RecoverySlot::Active).await?;
    ensure_eq!(
        stored.map(|s| (s.is_spent(1), s.remaining())),
        Some((true, set.len().saturating_sub(1))),
        "the set after the race"
    );
    Ok(())
}

pub(super) async fn race_oob<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let id = fx.person_id();
    let stored = fx.oob_challenge()?;
    ensure!(
        fx.store
            .replace_oob_challenge(id, OobPurpose::SignIn, None, Some(&fx.oob_record(&stored)?))
            .await?,
        "storing the challenge"
    );
    let mut contenders = Vec::with_capacity(RACE_CONTENDERS);
    let mut replacements = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let expected = stored.clone();
        let new = fx.oob_record(&fx.oob_challenge()?)?;
        replacements.push(new.clone());
        contenders.push(async move {
            Ok::<_, Fail>(
                store
                    .replace_oob_challenge(id, OobPurpose::SignIn, Some(&expected), Some(&new))
                    .await?,
            )
        });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "swap one out-of-band challenge",
    )?;
    let winner = results
        .iter()
        .zip(&replacements)
        .find(|(won, _)| **won)
        .map(|(_, challenge)| challenge.clone());
    ensure_eq!(
        fx.store.oob_challenge(id, OobPurpose::SignIn).await?,
        winner,
        "the stored challenge is the winner's"
    );
    Ok(())
}

pub(super) async fn race_oob_send<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let cap = 5u8;
    let config = OobConfig::builder()
        .resend_cooldown(0)
        .hourly_cap(cap)
        .build()?;
    let person = fx.person_id();
    let now = fx.now();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move {
                Ok::<_, Fail>(
                    store
                        .record_oob_send(person, OobPurpose::SignIn, &config, now)
                        .await?,
                )
            }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let allowed = results
        .iter()
        .filter(|d| **d == SendDecision::Allowed)
        .count();
    ensure_eq!(
        allowed,
        usize::from(cap),
        "{RACE_CONTENDERS} concurrent sends from one budget: the sends allowed"
    );
    ensure_eq!(
        fx.store
            .record_oob_send(person, OobPurpose::SignIn, &config, now)
            .await?,
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: now.saturating_add(3600)
        },
        "a send after the race"
    );

    // The daily verification cap holds under the same race.
    let daily = 3u16;
    let config = OobConfig::builder()
        .resend_cooldown(0)
        .hourly_cap(10)
        .daily_verification_cap(daily)
        .build()?;
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move {
                Ok::<_, Fail>(
                    store
                        .record_oob_send(person, OobPurpose::VerifyPhone, &config, now)
                        .await?,
                )
            }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let allowed = results
        .iter()
        .filter(|d| **d == SendDecision::Allowed)
        .count();
    ensure_eq!(
        allowed,
        usize::from(daily),
        "{RACE_CONTENDERS} concurrent verification sends: the sends allowed under the daily cap"
    );
    Ok(())
}

pub(super) async fn race_ticket<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let ticket = fx.ticket(fx.person_id(), fx.org_id(), 300)?;
    fx.store.insert_ticket(&ticket).await?;
    let now = fx.now();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move { Ok::<_, Fail>(store.take_ticket(&ticket.digest, now).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let taken: Vec<_> = results.into_iter().flatten().collect();
    exactly_one(taken.len(), "take one ticket")?;
    ensure_eq!(taken, alloc::vec![ticket], "the ticket taken");
    Ok(())
}

pub(super) async fn race_setup_token<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let token = fx.setup_token(fx.person_id(), fx.org_id(), 300)?;
    fx.store.insert_setup_token(&token).await?;
    let now = fx.now();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move { Ok::<_, Fail>(store.take_setup_token(&token.digest, now).await?) }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    let taken: Vec<_> = results.into_iter().flatten().collect();
    exactly_one(taken.len(), "take one setup token")?;
    ensure_eq!(taken, alloc::vec![token], "the token taken");
    Ok(())
}

pub(super) async fn race_replace_mfa<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let id = fx.person_id();
    let mfa = fx.enrolled(id)?;
    ensure!(fx.store.replace_mfa(id, &mfa, None).await?, "storing MFA");
    let mut contenders = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let copy = mfa.duplicate_secret_state()?;
        contenders.push(async move { Ok::<_, Fail>(store.replace_mfa(id, &copy, Some(1)).await?) });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "replace one MFA version",
    )?;
    ensure_eq!(
        fx.store.mfa(id).await?.map(|m| m.version),
        Some(2),
        "the MFA version after the race"
    );
    Ok(())
}

pub(super) async fn race_replace_organisation<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let (owner, org) = fx.founder().await?;
    let mut contenders = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let changed = fx.with_member(&org, owner.id, fx.person_id())?;
        contenders
            .push(async move { Ok::<_, Fail>(store.replace_organisation(&changed, 1).await?) });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "replace one organisation version",
    )?;
    let stored = UserStore::organisation(&*fx.store, org.id())
        .await?
        .ok_or_else(|| fail("organisation lost".into()))?;
    ensure_eq!(stored.version, 2, "the version after the race");
    ensure_eq!(stored.value.members().len(), 2, "one member was added");
    Ok(())
}

pub(super) async fn race_create_person<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let login = Login::new(&fx.login_for(fx.person_id())).ok_or_else(|| fail("login".into()))?;
    let mut contenders = Vec::with_capacity(RACE_CONTENDERS);
    let mut attempts = Vec::with_capacity(RACE_CONTENDERS);
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let mut person = fx.record(fx.person_id())?;
        person.login = login.clone();
        let org = Organisation::found(fx.org_id(), person.id, fx.now()).state;
        attempts.push((person.id, org.id()));
        contenders.push(async move {
            Ok::<_, Fail>(
                store
                    .create_person(&person, OrganisationWrite::Insert(&org))
                    .await?,
            )
        });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results
            .iter()
            .filter(|o| **o == CreateOutcome::Created)
            .count(),
        "create people with one login",
    )?;
    ensure!(
        results
            .iter()
            .all(|o| matches!(o, CreateOutcome::Created | CreateOutcome::LoginTaken)),
        "the losers must be told the login is taken: {results:?}"
    );
    for ((person, org), outcome) in attempts.iter().zip(&results) {
        let written = fx.store.person(*person).await?.is_some();
        let org_written = UserStore::organisation(&*fx.store, *org).await?.is_some();
        let created = *outcome == CreateOutcome::Created;
        ensure!(
            written == created && org_written == created,
            "exactly the winner's person and organisation are written"
        );
    }
    Ok(())
}

pub(super) async fn race_throttle<S, P>(fx: &Fixture<'_, S>, spawner: &P) -> Checked
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let now = fx.now();
    // Everything allowed at this instant up to the lock: 99 free attempts, locked at 100.
    let policy = ThrottlePolicy::builder()
        .free_attempts(99)
        .lock_after(100)
        .build()?;
    let key = ThrottleKey::factor(fx.person_id(), ThrottledFactor::Totp);
    let reservations = reserve_racing(fx, spawner, &key, policy, now).await?;
    let lock_after = usize::from(policy.lock_after());
    let mut counted: Vec<u8> = Vec::new();
    let mut locks = 0usize;
    let mut refused = 0usize;
    for reservation in &reservations {
        match (reservation.decision(), reservation.event()) {
            (ThrottleDecision::Locked { .. }, None) => refused = refused.saturating_add(1),
            (ThrottleDecision::Allowed, Some(ThrottleEvent::Locked { failures, .. })) => {
                locks = locks.saturating_add(1);
                counted.push(failures);
            }
            (
                ThrottleDecision::Allowed,
                Some(
                    ThrottleEvent::FailureCounted { failures, .. }
                    | ThrottleEvent::BackoffStarted { failures, .. }
                    | ThrottleEvent::BackoffExtended { failures, .. },
                ),
            ) => counted.push(failures),
            other => return Err(fail(format!("unexpected reservation {other:?}"))),
        }
    }
    counted.sort_unstable();
    let expected: Vec<u8> = (1..=policy.lock_after()).collect();
    ensure!(
        counted == expected,
        "{THROTTLE_CONTENDERS} concurrent reservations must report the failure counts 1 to \
         {lock_after} once each (a lost or doubled update otherwise); got {} counts: {counted:?}",
        counted.len()
    );
    ensure_eq!(locks, 1, "exactly one reservation locks");
    ensure_eq!(
        refused,
        THROTTLE_CONTENDERS.saturating_sub(lock_after),
        "reservations after the lock are refused"
    );
    let state = fx.store.throttle(&key).await?;
    ensure!(
        state.is_locked() && usize::from(state.failures()) == lock_after,
        "the final state is locked at {lock_after} failures: got {state:?}"
    );

    // 2 free attempts and a lock at 5: at one instant only the 2 free ones and the one that
    // starts the back-off are allowed.
    let policy = ThrottlePolicy::builder()
        .free_attempts(2)
        .lock_after(5)
        .build()?;
    let key = ThrottleKey::login(
        &Login::new(&fx.login_for(fx.person_id())).ok_or_else(|| fail("bad login".into()))?,
    );
    let reservations = reserve_racing(fx, spawner, &key, policy, now).await?;
    let allowed = reservations
        .iter()
        .filter(|r| r.decision().is_allowed())
        .count();
    ensure_eq!(
        allowed,
        usize::from(policy.free_attempts()).saturating_add(1),
        "concurrent reservations allowed with 2 free attempts"
    );
    ensure!(
        reservations.iter().all(|r| r.decision().is_allowed()
            || matches!(r.decision(), ThrottleDecision::RetryAfter { .. })),
        "the others are told to retry"
    );
    ensure_eq!(
        usize::from(fx.store.throttle(&key).await?.failures()),
        allowed,
        "each allowed reservation is counted once"
    );
    Ok(())
}

/// [`THROTTLE_CONTENDERS`] concurrent reservations on `key` at `now`.
pub(super) async fn reserve_racing<S, P>(
    fx: &Fixture<'_, S>,
    spawner: &P,
    key: &ThrottleKey,
    policy: ThrottlePolicy,
    now: u64,
) -> Result<Vec<crate::credential::throttle::ThrottleReservation>, Fail>
where
    S: UserStore + SecretStore + 'static,
    P: Spawner,
{
    let contenders = (0..THROTTLE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            let key = key.clone();
            async move { Ok::<_, Fail>(store.reserve_attempt(&key, &policy, now).await?) }
        })
        .collect();
    race(spawner, contenders).await
}

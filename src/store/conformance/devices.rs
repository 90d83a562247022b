//! Remembered devices under concurrency: remembering racing an epoch bump (no device token
//! remembered at the old epoch trusts anyone after it), and remembering racing itself against
//! the per-person limit (the limit holds).

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::credential::token::BearerToken;
use crate::policy::session::{DeviceTokenRecord, SessionConfig};

use super::RACE_CONTENDERS;
use super::Spawner;
use super::fixture::Fixture;
use super::harness::{Checked, Fail, fail, race};
use super::sessions::{Store, signed_in};

/// [`RACE_CONTENDERS`] device tokens remembered at the person's epoch while it is bumped: once
/// the bump has returned, none of them trusts the person, and pruning removes any row that
/// survived.
pub(super) async fn race_device_vs_bump<S: Store, P: Spawner>(
    fx: &Fixture<'_, S>,
    spawner: &P,
) -> Checked {
    let config = SessionConfig::default();
    let (person, _, _) = signed_in(fx).await?;
    let epoch = fx
        .store
        .security_epoch(person.id)
        .await?
        .ok_or_else(|| fail("no epoch".into()))?;
    let mut contenders = Vec::new();
    let mut digests = Vec::new();
    for n in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let digest = BearerToken::generate()?.digest();
        digests.push(digest);
        let token = DeviceTokenRecord::issue(person.id, epoch, &config, fx.now());
        let bump = n == RACE_CONTENDERS / 2;
        contenders.push(async move {
            if bump {
                Ok::<_, Fail>(store.bump_epoch(person.id, None).await?.is_some())
            } else {
                Ok(store
                    .insert_device_token(&digest, &token, SessionConfig::MAX_DEVICES)
                    .await?)
            }
        });
    }
    race(spawner, contenders).await?;
    let now = fx.now();
    for digest in &digests {
        if let Some(view) = fx.store.device_token(digest).await? {
            ensure!(
                !view.trusts(person.id, now),
                "a device remembered concurrently with an epoch bump trusts nobody after it"
            );
        }
    }
    let _ = fx.store.prune_sessions(now).await?;
    for digest in &digests {
        ensure!(
            fx.store.device_token(digest).await?.is_none(),
            "pruning removes a device token older than its person's epoch"
        );
    }
    Ok(())
}

/// [`RACE_CONTENDERS`] devices of one person remembered at once under a limit of two: each is
/// stored, and two remain.
pub(super) async fn race_device_limit<S: Store, P: Spawner>(
    fx: &Fixture<'_, S>,
    spawner: &P,
) -> Checked {
    const LIMIT: u32 = 2;
    let config = SessionConfig::default();
    let (person, _, _) = signed_in(fx).await?;
    let epoch = fx
        .store
        .security_epoch(person.id)
        .await?
        .ok_or_else(|| fail("no epoch".into()))?;
    let mut contenders = Vec::new();
    let mut digests = Vec::new();
    for n in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let digest = BearerToken::generate()?.digest();
        digests.push(digest);
        let at = fx.now().saturating_add(n as u64);
        let token = DeviceTokenRecord::issue(person.id, epoch, &config, at);
        contenders.push(async move {
            Ok::<_, Fail>(store.insert_device_token(&digest, &token, LIMIT).await?)
        });
    }
    let stored = race(spawner, contenders).await?;
    ensure!(
        stored.iter().all(|stored| *stored),
        "every concurrent remember is stored"
    );
    let mut remaining = 0usize;
    for digest in &digests {
        if fx.store.device_token(digest).await?.is_some() {
            remaining = remaining.saturating_add(1);
        }
    }
    ensure_eq!(
        remaining,
        LIMIT as usize,
        "concurrent remembers keep the per-person limit"
    );
    Ok(())
}

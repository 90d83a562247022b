//! Sessions, remembered devices and the security epoch: created only at the current epoch, read
//! with the live state, touched once, rotated once, revoked, listed, pruned; and the races.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::credential::factor::FactorKind;
use crate::credential::token::{BearerToken, TokenDigest};
use crate::policy::factors::{Aal, Factor};
use crate::policy::ids::SessionId;
use crate::policy::login::{Account, Grant, LoginDecision, LoginProgress, login_decision};
use crate::policy::organisation::Organisation;
use crate::policy::session::{
    DeviceTokenRecord, SessionConfig, SessionLabels, SessionRecord, SessionRefused,
};
use crate::store::login::LoginStore;
use crate::store::records::PersonRecord;

use super::RACE_CONTENDERS;
use super::Spawner;
use super::fixture::Fixture;
use super::harness::{Checked, Fail, exactly_one, fail, race};

/// The bound of every check here.
pub(super) trait Store: LoginStore + 'static {}

impl<S: LoginStore + 'static> Store for S {}

/// A founder of a fresh organisation, signed in with their password.
pub(super) async fn signed_in<S: Store>(
    fx: &Fixture<'_, S>,
) -> Result<(PersonRecord, Organisation, Grant), Fail> {
    let (person, org) = fx.founder().await?;
    let now = fx.now();
    let progress = LoginProgress::password_verified(person.id, org.id(), now);
    match login_decision(
        &Account::new(person.id),
        org.member(person.id),
        org.policy(),
        &progress,
        now,
    ) {
        LoginDecision::Allowed(grant) => Ok((person, org, grant)),
        other => Err(fail(format!("the founder could not sign in: {other:?}"))),
    }
}

/// A new session for `grant` at the person's current epoch, stored under a fresh token.
pub(super) async fn open<S: Store>(
    fx: &Fixture<'_, S>,
    grant: &Grant,
) -> Result<(TokenDigest, SessionRecord), Fail> {
    let epoch = fx
        .store
        .security_epoch(grant.person())
        .await?
        .ok_or_else(|| fail("a stored person has no epoch".into()))?;
    let session = SessionRecord::start(
        SessionId::new(fx.fresh()),
        grant,
        epoch,
        &SessionConfig::default(),
    );
    let digest = BearerToken::generate()?.digest();
    let labels = SessionLabels::new().with_user_agent("conformance");
    ensure!(
        fx.store.create_session(&digest, &session, &labels).await?,
        "creating a session at the current epoch"
    );
    Ok((digest, session))
}

pub(super) async fn sessions<S: Store>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let config = SessionConfig::default();
    let (person, org, grant) = signed_in(fx).await?;
    ensure_eq!(
        s.security_epoch(person.id).await?,
        Some(0),
        "a new person's epoch"
    );
    let (digest, session) = open(fx, &grant).await?;
    ensure!(
        !s.create_session(&digest, &session, &SessionLabels::new())
            .await?,
        "a taken digest creates nothing"
    );
    let stale = SessionRecord {
        id: SessionId::new(fx.fresh()),
        epoch: 1,
        ..session
    };
    let other = BearerToken::generate()?.digest();
    ensure!(
        !s.create_session(&other, &stale, &SessionLabels::new())
            .await?,
        "a session at another epoch is not created"
    );
    ensure!(
        s.session(&other).await?.is_none(),
        "another digest reads nothing"
    );
    let view = s
        .session(&digest)
        .await?
        .ok_or_else(|| fail("the session reads back".into()))?;
    ensure_eq!(view.session, session, "the session reads back as written");
    ensure_eq!(view.epoch, 0, "the person's epoch beside it");
    ensure!(!view.deactivated, "the person is active");
    ensure_eq!(
        view.member.as_ref(),
        org.member(person.id),
        "the live membership beside it"
    );
    let checked = view
        .check(&config, fx.now())
        .map_err(|r| fail(format!("a fresh session is refused: {r}")))?;
    ensure_eq!(checked.grant.person(), person.id, "the grant's person");
    ensure!(checked.touch.is_none(), "no touch right after the login");

    // Touches: guarded by the last_seen read.
    fx.clock.advance(config.touch_interval());
    let touch = view
        .check(&config, fx.now())
        .map_err(|r| fail(format!("refused: {r}")))?
        .touch
        .ok_or_else(|| fail("a touch is due after the interval".into()))?;
    ensure!(
        s.touch_session(&digest, &touch).await?,
        "the first touch writes"
    );
    ensure!(
        !s.touch_session(&digest, &touch).await?,
        "a touch from the same read writes once"
    );
    let touched = s
        .session(&digest)
        .await?
        .ok_or_else(|| fail("the touched session reads back".into()))?;
    ensure_eq!(
        touched.session.last_seen,
        fx.now(),
        "last_seen after a touch"
    );

    // Rotation: the old digest goes, the new one reads the new record.
    let raised = touched
        .session
        .raised(Factor::Second(FactorKind::Totp), &config, fx.now());
    ensure_eq!(raised.aal, Aal::Aal2, "a second factor raises the session");
    let rotated = BearerToken::generate()?.digest();
    ensure!(
        s.rotate_session(&digest, &rotated, &raised).await?,
        "rotating the token"
    );
    ensure!(
        s.session(&digest).await?.is_none(),
        "the old token reads nothing"
    );
    ensure!(
        !s.rotate_session(&digest, &other, &raised).await?,
        "the old token rotates no more"
    );
    ensure_eq!(
        s.session(&rotated).await?.map(|v| v.session),
        Some(raised),
        "the rotated session"
    );

    // Listing and revoking one.
    let (second, second_session) = open(fx, &grant).await?;
    let listed = s.sessions_of(person.id).await?;
    ensure_eq!(listed.len(), 2, "two sessions listed");
    ensure!(
        listed.iter().all(
            |l| l.labels.user_agent() == Some("conformance") || l.labels.user_agent().is_none()
        ),
        "labels read back"
    );
    ensure!(
        listed
            .iter()
            .any(|l| l.record.id == second_session.id
                && l.labels.user_agent() == Some("conformance")),
        "the second session is listed with its label"
    );
    ensure!(
        !s.revoke_session(fx.person_id(), second_session.id).await?,
        "another person revokes nothing"
    );
    ensure!(
        s.revoke_session(person.id, second_session.id).await?,
        "revoking one session"
    );
    ensure!(
        s.session(&second).await?.is_none(),
        "a revoked session reads nothing"
    );
    ensure!(
        s.session(&rotated).await?.is_some(),
        "the other session stays"
    );
    Ok(())
}

/// A grant's session read by the person and the session's id, and the labels a session is
/// given after the login that opened it.
pub(super) async fn session_by_id<S: Store>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let config = SessionConfig::default();
    let (person, _, grant) = signed_in(fx).await?;
    let (digest, session) = open(fx, &grant).await?;
    let by_digest = s
        .session(&digest)
        .await?
        .ok_or_else(|| fail("the session reads back".into()))?;
    ensure_eq!(
        s.session_by_id(person.id, session.id).await?,
        Some(by_digest),
        "by id, the session reads as by its digest"
    );
    ensure!(
        s.session_by_id(person.id, SessionId::new(fx.fresh()))
            .await?
            .is_none(),
        "an unknown id reads nothing"
    );
    let (stranger, _, _) = signed_in(fx).await?;
    ensure!(
        s.session_by_id(stranger.id, session.id).await?.is_none(),
        "another person's session is not read by its id"
    );
    // A rotation keeps the id.
    let rotated = BearerToken::generate()?.digest();
    let later = session.reauthenticated(session.factors, &config, fx.now());
    ensure!(
        s.rotate_session(&digest, &rotated, &later).await?,
        "rotating the session"
    );
    ensure_eq!(
        s.session_by_id(person.id, session.id)
            .await?
            .map(|v| v.session),
        Some(later),
        "the rotated session, by its unchanged id"
    );
    // Labels are replaced, and decide nothing: the session stands as it was.
    let labels = SessionLabels::new()
        .with_user_agent("Safari on iPhone")
        .with_ip("198.51.100.7");
    ensure!(
        s.label_session(&rotated, &labels).await?,
        "labelling the session"
    );
    ensure!(
        !s.label_session(&digest, &labels).await?,
        "the digest before the rotation labels nothing"
    );
    let listed = s.sessions_of(person.id).await?;
    ensure_eq!(listed.len(), 1, "one session listed");
    ensure_eq!(
        listed.first().map(|l| &l.labels),
        Some(&labels),
        "the new labels are listed"
    );
    let view = s
        .session(&rotated)
        .await?
        .ok_or_else(|| fail("a labelled session reads back".into()))?;
    ensure_eq!(view.session, later, "labelling changes nothing else");
    ensure!(
        view.check(&config, fx.now()).is_ok(),
        "the labelled session stands"
    );
    Ok(())
}

pub(super) async fn security_epoch<S: Store>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let config = SessionConfig::default();
    ensure!(
        s.security_epoch(fx.person_id()).await?.is_none(),
        "an unknown person has no epoch"
    );
    ensure!(
        s.bump_epoch(fx.person_id(), None).await?.is_none(),
        "an unknown person's epoch is not bumped"
    );
    let (person, _, grant) = signed_in(fx).await?;
    let (kept, kept_session) = open(fx, &grant).await?;
    let (other, _) = open(fx, &grant).await?;
    let device = BearerToken::generate()?.digest();
    let token = DeviceTokenRecord::issue(person.id, 0, &config, fx.now());
    ensure!(
        s.insert_device_token(&device, &token, 5).await?,
        "remembering a device"
    );
    // "Sign out everywhere else": the kept session is carried over.
    ensure_eq!(
        s.bump_epoch(person.id, Some(kept_session.id)).await?,
        Some(1),
        "the bumped epoch"
    );
    ensure_eq!(
        s.security_epoch(person.id).await?,
        Some(1),
        "the epoch reads back"
    );
    ensure!(
        s.session(&other).await?.is_none(),
        "the other session is gone"
    );
    ensure!(
        s.device_token(&device).await?.is_none(),
        "the device token is gone"
    );
    let view = s
        .session(&kept)
        .await?
        .ok_or_else(|| fail("the kept session stays".into()))?;
    ensure_eq!(view.session.epoch, 1, "the kept session is carried over");
    ensure_eq!(view.session.id, kept_session.id, "the kept session's id");
    ensure!(
        view.check(&config, fx.now()).is_ok(),
        "the kept session stands"
    );
    ensure!(
        !s.create_session(
            &BearerToken::generate()?.digest(),
            &kept_session,
            &SessionLabels::new()
        )
        .await?,
        "a session computed at the old epoch is not created"
    );
    // Another person's bump keeps nothing of this person's, and changes nothing of theirs.
    let (stranger, _, _) = signed_in(fx).await?;
    ensure_eq!(
        s.bump_epoch(stranger.id, Some(kept_session.id)).await?,
        Some(1),
        "a stranger's bump"
    );
    ensure_eq!(
        s.session(&kept).await?.map(|v| v.session.epoch),
        Some(1),
        "a stranger's bump naming this session leaves it as it was"
    );
    // "Sign out everywhere".
    ensure_eq!(
        s.bump_epoch(person.id, None).await?,
        Some(2),
        "bumped again"
    );
    ensure!(s.session(&kept).await?.is_none(), "every session is gone");
    ensure!(s.sessions_of(person.id).await?.is_empty(), "none is listed");
    Ok(())
}

pub(super) async fn device_tokens<S: Store>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let config = SessionConfig::default();
    let (person, _, _) = signed_in(fx).await?;
    let mut digests = Vec::new();
    for _ in 0..3 {
        let digest = BearerToken::generate()?.digest();
        let token = DeviceTokenRecord::issue(person.id, 0, &config, fx.now());
        ensure!(
            s.insert_device_token(&digest, &token, 2).await?,
            "remembering a device"
        );
        digests.push((digest, token));
        fx.clock.advance(1);
    }
    let [(first, _), (second, second_token), (third, _)] = digests.as_slice() else {
        return Err(fail("three devices".into()));
    };
    ensure!(
        s.device_token(first).await?.is_none(),
        "the oldest device beyond the limit is forgotten"
    );
    let view = s
        .device_token(second)
        .await?
        .ok_or_else(|| fail("a remembered device reads back".into()))?;
    ensure_eq!(view.token, *second_token, "the device token reads back");
    ensure!(view.trusts(person.id, fx.now()), "it trusts its person");
    ensure!(!view.trusts(fx.person_id(), fx.now()), "and nobody else");
    ensure!(
        !view.trusts(person.id, second_token.expires_at),
        "and not from its expiry"
    );
    ensure!(
        !s.insert_device_token(third, second_token, 2).await?,
        "a taken digest writes nothing"
    );
    let stale = DeviceTokenRecord::issue(person.id, 7, &config, fx.now());
    ensure!(
        !s.insert_device_token(&BearerToken::generate()?.digest(), &stale, 2)
            .await?,
        "a device token at another epoch is not stored"
    );
    ensure!(s.device_token(third).await?.is_some(), "the newest stays");
    Ok(())
}

pub(super) async fn prune_sessions<S: Store>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let config = SessionConfig::default();
    // Earlier checks' rows (and other data) may be pruned too: count only this check's.
    let _ = s.prune_sessions(fx.now()).await?;
    let (_, _, grant) = signed_in(fx).await?;
    let (idle, _) = open(fx, &grant).await?;
    let (_, _, other_grant) = signed_in(fx).await?;
    let (stale, _) = open(fx, &other_grant).await?;
    ensure!(
        s.bump_epoch(other_grant.person(), None).await?.is_some(),
        "bumping"
    );
    fx.clock
        .advance(config.idle_timeout(Aal::Aal1).saturating_sub(1));
    let (_, _, later_grant) = signed_in(fx).await?;
    let (live, _) = open(fx, &later_grant).await?;
    let device = BearerToken::generate()?.digest();
    let token = DeviceTokenRecord::issue(later_grant.person(), 0, &config, fx.now());
    ensure!(
        s.insert_device_token(&device, &token, 5).await?,
        "remembering a device"
    );
    ensure!(
        s.session(&stale).await?.is_none(),
        "the bump deleted the stale one"
    );
    fx.clock.advance(1);
    let report = s.prune_sessions(fx.now()).await?;
    ensure!(
        report.sessions >= 1,
        "the session idle since its login is pruned"
    );
    ensure!(
        s.session(&idle).await?.is_none(),
        "the idle session is gone"
    );
    ensure!(s.session(&live).await?.is_some(), "the live session stays");
    ensure!(
        s.device_token(&device).await?.is_some(),
        "a live device token stays"
    );
    fx.clock.advance(config.device_lifetime());
    let report = s.prune_sessions(fx.now()).await?;
    ensure!(
        report.device_tokens >= 1,
        "an expired device token is pruned"
    );
    ensure!(
        s.device_token(&device).await?.is_none(),
        "the device token is gone"
    );
    ensure_eq!(
        s.prune_sessions(fx.now()).await?,
        crate::store::sessions::SessionPruneReport::default(),
        "pruning again finds nothing"
    );
    Ok(())
}

pub(super) async fn race_revoke_all<S: Store, P: Spawner>(
    fx: &Fixture<'_, S>,
    spawner: &P,
) -> Checked {
    let config = SessionConfig::default();
    let (person, _, grant) = signed_in(fx).await?;
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
        let session = SessionRecord::start(SessionId::new(fx.fresh()), &grant, epoch, &config);
        let bump = n == RACE_CONTENDERS / 2;
        contenders.push(async move {
            if bump {
                Ok::<_, Fail>(store.bump_epoch(person.id, None).await?.is_some())
            } else {
                Ok(store
                    .create_session(&digest, &session, &SessionLabels::new())
                    .await?)
            }
        });
    }
    race(spawner, contenders).await?;
    for digest in &digests {
        if let Some(view) = fx.store.session(digest).await? {
            ensure_eq!(
                view.check(&config, fx.now()).map(|c| c.grant.person()),
                Err(SessionRefused::StaleEpoch),
                "a session created concurrently with a revoke-all"
            );
        }
    }
    ensure!(
        fx.store.sessions_of(person.id).await?.is_empty(),
        "no session outlives the revoke-all"
    );
    Ok(())
}

pub(super) async fn race_touch<S: Store, P: Spawner>(fx: &Fixture<'_, S>, spawner: &P) -> Checked {
    let config = SessionConfig::default();
    let (_, _, grant) = signed_in(fx).await?;
    let (digest, _) = open(fx, &grant).await?;
    fx.clock.advance(config.touch_interval());
    let view = fx
        .store
        .session(&digest)
        .await?
        .ok_or_else(|| fail("the session".into()))?;
    let now = fx.now();
    let contenders = (0..RACE_CONTENDERS)
        .map(|_| {
            let store = Arc::clone(&fx.store);
            async move {
                let touch = view
                    .check(&config, now)
                    .map_err(|r| fail(format!("refused: {r}")))?
                    .touch
                    .ok_or_else(|| fail("a touch is due".into()))?;
                Ok::<_, Fail>(store.touch_session(&digest, &touch).await?)
            }
        })
        .collect();
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "touch one session's last_seen",
    )
}

pub(super) async fn race_rotate<S: Store, P: Spawner>(fx: &Fixture<'_, S>, spawner: &P) -> Checked {
    let config = SessionConfig::default();
    let (_, _, grant) = signed_in(fx).await?;
    let (digest, session) = open(fx, &grant).await?;
    let now = fx.now();
    let mut news = Vec::new();
    let mut contenders = Vec::new();
    for _ in 0..RACE_CONTENDERS {
        let store = Arc::clone(&fx.store);
        let new = BearerToken::generate()?.digest();
        news.push(new);
        let raised = session.raised(Factor::Second(FactorKind::Totp), &config, now);
        contenders.push(async move {
            Ok::<_, Fail>(store.rotate_session(&digest, &new, &raised).await?)
        });
    }
    let results = race(spawner, contenders).await?;
    exactly_one(
        results.iter().filter(|won| **won).count(),
        "rotate one token",
    )?;
    let mut readable = 0usize;
    for new in &news {
        if fx.store.session(new).await?.is_some() {
            readable = readable.saturating_add(1);
        }
    }
    ensure_eq!(readable, 1, "exactly one new token reads the session");
    Ok(())
}

//! MFA state versions and the replay watermark, which only rises.

use alloc::format;

use crate::policy::enrollment::Mfa;
use crate::store::{SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, Fail, fail};

pub(super) async fn mfa_versions<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let mfa = fx.enrolled(id)?;
    ensure!(
        !s.replace_mfa(id, &mfa, Some(1)).await?,
        "replace_mfa expecting a version when there is none must be false"
    );
    ensure!(
        s.replace_mfa(id, &mfa, None).await?,
        "the first replace_mfa expecting none must be true"
    );
    ensure!(
        !s.replace_mfa(id, &mfa, None).await?,
        "replace_mfa expecting none when there is one must be false"
    );
    let stored = s
        .mfa(id)
        .await?
        .ok_or_else(|| fail("the MFA state was not written".into()))?;
    ensure_eq!(stored.version, 1, "a new MFA state's version");
    ensure_eq!(
        stored.value.authenticators().len(),
        1,
        "authenticators stored"
    );
    ensure!(
        same_authenticators(&stored.value, &mfa),
        "the authenticators read back (id, name, parameters, enrollment time, watermark and \
         secret) must be the ones written"
    );
    ensure!(
        s.replace_mfa(id, &Mfa::new(id), Some(1)).await?,
        "replace_mfa from the current version must be true"
    );
    ensure!(
        !s.replace_mfa(id, &mfa, Some(1)).await?,
        "replace_mfa from a stale version must be false"
    );
    let stored = s
        .mfa(id)
        .await?
        .ok_or_else(|| fail("the MFA state vanished".into()))?;
    ensure_eq!(stored.version, 2, "the version after one replacement");
    ensure!(
        !stored.value.is_active(),
        "the replacement (MFA off) is what is stored"
    );
    Ok(())
}

pub(super) async fn watermark<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let mfa = fx.enrolled(id)?;
    let (auth, start) = mfa
        .authenticators()
        .first()
        .map(|a| (a.id(), a.last_accepted_step()))
        .ok_or_else(|| fail("no authenticator".into()))?;
    ensure!(
        s.replace_mfa(id, &mfa, None).await?,
        "storing the MFA state"
    );
    let step = |n: u64| start.saturating_add(n);
    let watermark_now = || async {
        let mfa = s
            .mfa(id)
            .await?
            .ok_or_else(|| fail("the MFA state vanished".into()))?;
        let current = mfa
            .value
            .authenticator(auth)
            .map(|a| a.last_accepted_step());
        Ok::<_, Fail>((current, mfa.version))
    };
    ensure!(
        !s.advance_watermark(id, auth, start).await?,
        "advancing to the current watermark must be false"
    );
    ensure!(
        s.advance_watermark(id, auth, step(5)).await?,
        "advancing to a higher step must be true"
    );
    ensure!(
        !s.advance_watermark(id, auth, step(5)).await?,
        "advancing to the same step again must be false"
    );
    ensure!(
        !s.advance_watermark(id, auth, step(3)).await?,
        "advancing to a lower step must be false"
    );
    let other = crate::policy::ids::AuthenticatorId::new(auth.get().saturating_add(100));
    ensure!(
        !s.advance_watermark(id, other, step(9)).await?,
        "advancing an unknown authenticator must be false"
    );
    ensure_eq!(
        watermark_now().await?,
        (Some(step(5)), 1),
        "the watermark read back (and the version, which it does not change)"
    );
    // A write computed from the state read before the advance keeps the higher watermark.
    ensure!(
        s.replace_mfa(id, &mfa, Some(1)).await?,
        "replace_mfa from the current version"
    );
    ensure_eq!(
        watermark_now().await?,
        (Some(step(5)), 2),
        "the watermark after writing an older state"
    );
    ensure!(
        !s.advance_watermark(id, auth, step(5)).await?,
        "the kept watermark still refuses its step"
    );
    // A write that carries a higher watermark raises it.
    let mut higher = mfa.duplicate_secret_state()?;
    let _ = higher.restore_watermark(auth, step(8));
    ensure!(
        s.replace_mfa(id, &higher, Some(2)).await?,
        "replace_mfa with a higher watermark"
    );
    ensure_eq!(
        watermark_now().await?,
        (Some(step(8)), 3),
        "the watermark after writing a higher one"
    );
    ensure!(
        !s.advance_watermark(id, auth, step(8)).await?,
        "the written watermark refuses its step"
    );
    ensure!(
        s.advance_watermark(id, auth, step(9)).await?,
        "a higher step still advances after the writes"
    );
    ensure_eq!(
        watermark_now().await?,
        (Some(step(9)), 3),
        "the watermark after the last advance"
    );
    Ok(())
}

/// Whether two MFA states hold the same authenticators, secrets included, compared without
/// printing them (a failure message must not carry a secret).
fn same_authenticators(a: &Mfa, b: &Mfa) -> bool {
    a.authenticators().len() == b.authenticators().len()
        && a.authenticators()
            .iter()
            .zip(b.authenticators())
            .all(|(x, y)| {
                x.id() == y.id()
                    && x.name().as_str() == y.name().as_str()
                    && x.params() == y.params()
                    && x.enrolled_at() == y.enrolled_at()
                    && x.last_accepted_step() == y.last_accepted_step()
                    && x.expose_secret().expose_bytes() == y.expose_secret().expose_bytes()
            })
}

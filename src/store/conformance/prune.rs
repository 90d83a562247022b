//! Pruning: what expired goes from its expiry time on, nothing live goes.

use alloc::format;

use crate::credential::oob::{OobConfig, SendDecision};
use crate::store::records::{OobPurpose, PruneReport};
use crate::store::{SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, fail};

/// Pruning deletes what expired and nothing live: short-lived tickets, tokens and challenges at
/// their expiry, a send log an hour after its last send; a pruned ticket or token is gone even
/// for a time it was live; pruning again finds nothing. Other data may be pruned too (the counts
/// are at least those of this check's rows).
pub(super) async fn prune<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let (person, org) = (fx.person_id(), fx.org_id());
    let t0 = fx.now();
    let short_ticket = fx.ticket(person, org, 300)?;
    let long_ticket = fx.ticket(person, org, 7200)?;
    let short_token = fx.setup_token(person, org, 300)?;
    let long_token = fx.setup_token(person, org, 7200)?;
    s.insert_ticket(&short_ticket).await?;
    s.insert_ticket(&long_ticket).await?;
    s.insert_setup_token(&short_token).await?;
    s.insert_setup_token(&long_token).await?;
    // A challenge issued now (the default lifetime: it expires at t0 + 300), and a send.
    let old = fx.oob_challenge()?;
    ensure!(
        s.replace_oob_challenge(
            person,
            OobPurpose::SignIn,
            None,
            Some(&fx.oob_record(&old)?)
        )
        .await?,
        "storing a challenge"
    );
    let config = OobConfig::builder()
        .resend_cooldown(OobConfig::MAX_COOLDOWN)
        .build()?;
    let early = fx.person_id();
    ensure_eq!(
        s.record_oob_send(early, OobPurpose::SignIn, &config, t0)
            .await?,
        SendDecision::Allowed,
        "a first send"
    );
    // 200 seconds later: a challenge expiring at t0 + 500, and a send to another number.
    fx.clock.advance(200);
    let young = fx.oob_challenge()?;
    ensure!(
        s.replace_oob_challenge(
            person,
            OobPurpose::VerifyPhone,
            None,
            Some(&fx.oob_record(&young)?)
        )
        .await?,
        "storing a second challenge"
    );
    let late = fx.person_id();
    ensure_eq!(
        s.record_oob_send(late, OobPurpose::SignIn, &config, fx.now())
            .await?,
        SendDecision::Allowed,
        "a send for another person"
    );

    // At t0 + 300: what expired then goes, at its expiry time.
    fx.clock.advance(100);
    let report = s.prune_expired(fx.now()).await?;
    ensure!(
        report.tickets >= 1 && report.setup_tokens >= 1 && report.oob_challenges >= 1,
        "pruning at the expiry time must delete the expired ticket, token and challenge: {report:?}"
    );
    ensure!(
        s.take_ticket(&short_ticket.digest, t0).await?.is_none(),
        "a pruned ticket can no longer be taken, even at a time it was live"
    );
    ensure!(
        s.take_setup_token(&short_token.digest, t0).await?.is_none(),
        "a pruned setup token can no longer be taken, even at a time it was live"
    );
    ensure!(
        s.oob_challenge(person, OobPurpose::SignIn).await?.is_none(),
        "the expired challenge is pruned"
    );
    ensure_eq!(
        s.oob_challenge(person, OobPurpose::VerifyPhone)
            .await?
            .map(|r| r.challenge),
        Some(young.clone()),
        "a live challenge stays"
    );
    ensure_eq!(
        s.prune_expired(fx.now()).await?,
        PruneReport::default(),
        "pruning twice at one time: the second finds nothing"
    );

    // At t0 + 3600: the first send left the hourly window, its log goes; the later one's log
    // stays (its cooldown still refuses a send).
    fx.clock.advance(3300);
    let report = s.prune_expired(fx.now()).await?;
    ensure!(
        report.oob_send_logs >= 1 && report.oob_challenges >= 1,
        "pruning an hour after a send must delete its log, and the expired challenge: {report:?}"
    );
    ensure!(
        s.oob_challenge(person, OobPurpose::VerifyPhone)
            .await?
            .is_none(),
        "the second challenge is pruned once expired"
    );
    ensure!(
        matches!(
            s.record_oob_send(late, OobPurpose::SignIn, &config, fx.now())
                .await?,
            SendDecision::Refused { .. }
        ),
        "a live send log stays: its cooldown still refuses a send"
    );
    ensure_eq!(
        s.take_ticket(&long_ticket.digest, fx.now()).await?,
        Some(long_ticket),
        "a live ticket stays"
    );
    ensure_eq!(
        s.take_setup_token(&long_token.digest, fx.now()).await?,
        Some(long_token),
        "a live setup token stays"
    );
    ensure_eq!(
        s.prune_expired(fx.now()).await?,
        PruneReport::default(),
        "pruning again finds nothing"
    );
    Ok(())
}

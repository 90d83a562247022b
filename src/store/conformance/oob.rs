//! Out-of-band challenges (compare-and-swap, purposes apart) and the send budgets.

use alloc::format;

use crate::credential::oob::{OobConfig, SendDecision, SendRefusal};
use crate::store::records::{OobChallengeRecord, OobPurpose};
use crate::store::{SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, fail};

pub(super) async fn oob<S: UserStore + SecretStore + 'static>(fx: &Fixture<'_, S>) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let sign_in = OobPurpose::SignIn;
    let first = fx.oob_challenge()?;
    let second = fx.oob_challenge()?;
    let first_record = fx.oob_record(&first)?;
    let second_record = fx.oob_record(&second)?;
    ensure!(
        !s.replace_oob_challenge(id, sign_in, Some(&first), Some(&second_record))
            .await?,
        "expecting a challenge when there is none must be false"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, None, None).await?,
        "clearing when there is none, expecting none, must be true"
    );
    ensure!(
        s.oob_challenge(id, sign_in).await?.is_none(),
        "nothing is stored by clearing nothing"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, None, Some(&first_record))
            .await?,
        "storing the first challenge must be true"
    );
    ensure!(
        !s.replace_oob_challenge(id, sign_in, None, Some(&second_record))
            .await?,
        "expecting none when there is one must be false"
    );
    ensure!(
        !s.replace_oob_challenge(id, sign_in, None, None).await?,
        "clearing expecting none when there is one must be false"
    );
    ensure!(
        !s.replace_oob_challenge(id, sign_in, Some(&second), None)
            .await?,
        "expecting another challenge must be false"
    );
    ensure_eq!(
        s.oob_challenge(id, sign_in).await?,
        Some(first_record.clone()),
        "the stored challenge and its destination"
    );
    // A copy with one attempt used differs from the stored one: refused.
    let tried = first
        .verify(&fx.oob_key, "not a code", fx.now())
        .into_challenge();
    let tried_record = OobChallengeRecord {
        destination: first_record.destination.clone(),
        challenge: tried.clone(),
    };
    ensure!(
        !s.replace_oob_challenge(id, sign_in, Some(&tried), Some(&second_record))
            .await?,
        "expecting a challenge that differs in attempts must be false"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, Some(&first), Some(&tried_record))
            .await?,
        "swapping from the stored challenge must be true"
    );
    ensure_eq!(
        s.oob_challenge(id, sign_in).await?,
        Some(tried_record),
        "the swapped challenge"
    );
    // A swap writes the destination with the challenge.
    ensure!(
        s.replace_oob_challenge(id, sign_in, Some(&tried), Some(&second_record))
            .await?,
        "swapping to a challenge for another destination must be true"
    );
    ensure_eq!(
        s.oob_challenge(id, sign_in).await?,
        Some(second_record),
        "the new challenge and its new destination"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, Some(&second), None)
            .await?,
        "clearing from the stored challenge must be true"
    );
    ensure!(
        s.oob_challenge(id, sign_in).await?.is_none(),
        "the challenge is gone"
    );
    Ok(())
}

/// A person's sign-in challenge and phone-verification challenge are kept apart: each is stored,
/// compared and cleared on its own, even when they hold the same challenge.
pub(super) async fn oob_purposes<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let id = fx.person_id();
    let (sign_in, verify) = (OobPurpose::SignIn, OobPurpose::VerifyPhone);
    let login = fx.oob_challenge()?;
    let login_record = fx.oob_record(&login)?;
    let phone = fx.oob_challenge()?;
    let phone_record = fx.oob_record(&phone)?;
    ensure!(
        s.replace_oob_challenge(id, sign_in, None, Some(&login_record))
            .await?,
        "storing a sign-in challenge must be true"
    );
    ensure!(
        s.oob_challenge(id, verify).await?.is_none(),
        "a sign-in challenge is not a phone verification"
    );
    ensure!(
        !s.replace_oob_challenge(id, verify, Some(&login), Some(&phone_record))
            .await?,
        "the sign-in challenge must not be expected as a phone verification"
    );
    ensure!(
        s.replace_oob_challenge(id, verify, None, Some(&phone_record))
            .await?,
        "storing a phone verification beside a sign-in challenge must be true"
    );
    ensure_eq!(
        s.oob_challenge(id, sign_in).await?,
        Some(login_record.clone()),
        "the sign-in challenge after the phone verification was stored"
    );
    ensure_eq!(
        s.oob_challenge(id, verify).await?,
        Some(phone_record.clone()),
        "the phone verification"
    );
    // The same challenge under both purposes: clearing one leaves the other.
    let same = OobChallengeRecord {
        destination: phone_record.destination.clone(),
        challenge: login.clone(),
    };
    ensure!(
        s.replace_oob_challenge(id, verify, Some(&phone), Some(&same))
            .await?,
        "swapping the phone verification must be true"
    );
    ensure!(
        s.replace_oob_challenge(id, sign_in, Some(&login), None)
            .await?,
        "clearing the sign-in challenge must be true"
    );
    ensure!(
        s.oob_challenge(id, sign_in).await?.is_none(),
        "the sign-in challenge is gone"
    );
    ensure_eq!(
        s.oob_challenge(id, verify).await?,
        Some(same),
        "the phone verification stays when the sign-in challenge is cleared"
    );
    ensure!(
        s.replace_oob_challenge(id, verify, Some(&login), None)
            .await?,
        "clearing the phone verification must be true"
    );
    ensure!(
        s.oob_challenge(id, verify).await?.is_none(),
        "the phone verification is gone"
    );
    Ok(())
}

pub(super) async fn oob_send_log<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let config = OobConfig::builder()
        .resend_cooldown(60)
        .hourly_cap(3)
        .build()?;
    let (person, other) = (fx.person_id(), fx.person_id());
    let (sign_in, verify) = (OobPurpose::SignIn, OobPurpose::VerifyPhone);
    let t0 = fx.now();
    let at = |offset: u64| t0.saturating_add(offset);
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, t0).await?,
        SendDecision::Allowed,
        "the first send"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(59)).await?,
        SendDecision::Refused {
            reason: SendRefusal::Cooldown,
            retry_at: at(60)
        },
        "a send within the cooldown"
    );
    ensure_eq!(
        s.record_oob_send(other, sign_in, &config, at(59)).await?,
        SendDecision::Allowed,
        "another person is not held by the first one's cooldown"
    );
    ensure_eq!(
        s.record_oob_send(person, verify, &config, at(59)).await?,
        SendDecision::Allowed,
        "the person's verification budget is apart from their sign-in budget"
    );
    // A refused send is not recorded: the cooldown still runs from the first send.
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(200)).await?,
        SendDecision::Allowed,
        "the second send, after the cooldown"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(300)).await?,
        SendDecision::Allowed,
        "the third send"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(400)).await?,
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: at(3600)
        },
        "a fourth send within the hour"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(3600))
            .await?,
        SendDecision::Allowed,
        "a send once the first one left the hour"
    );
    ensure_eq!(
        s.record_oob_send(person, sign_in, &config, at(3700))
            .await?,
        SendDecision::Refused {
            reason: SendRefusal::HourlyCap,
            retry_at: at(3800)
        },
        "the cap counts the sends of the sliding hour"
    );
    Ok(())
}

/// Verification sends are capped per person and day (a window from the first counted send);
/// sign-in sends are not, and other people's verifications never count.
pub(super) async fn oob_daily_cap<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let config = OobConfig::builder()
        .resend_cooldown(0)
        .hourly_cap(10)
        .daily_verification_cap(3)
        .build()?;
    let (person, other) = (fx.person_id(), fx.person_id());
    let verify = OobPurpose::VerifyPhone;
    let t0 = fx.now();
    let day: u64 = 86_400;
    let at = |offset: u64| t0.saturating_add(offset);
    for (i, offset) in [0, 3600, 7200].into_iter().enumerate() {
        ensure_eq!(
            s.record_oob_send(person, verify, &config, at(offset))
                .await?,
            SendDecision::Allowed,
            "verification send {i} within the daily cap"
        );
    }
    ensure_eq!(
        s.record_oob_send(person, verify, &config, at(10_800))
            .await?,
        SendDecision::Refused {
            reason: SendRefusal::DailyCap,
            retry_at: at(day)
        },
        "a fourth verification send the same day"
    );
    ensure_eq!(
        s.record_oob_send(other, verify, &config, at(10_800))
            .await?,
        SendDecision::Allowed,
        "another person's verification budget is their own"
    );
    for i in 0..4u64 {
        ensure_eq!(
            s.record_oob_send(
                person,
                OobPurpose::SignIn,
                &config,
                at(10_800_u64.saturating_add(i))
            )
            .await?,
            SendDecision::Allowed,
            "sign-in sends know no daily cap ({i})"
        );
    }
    ensure_eq!(
        s.record_oob_send(person, verify, &config, at(day.saturating_sub(1)))
            .await?,
        SendDecision::Refused {
            reason: SendRefusal::DailyCap,
            retry_at: at(day)
        },
        "the cap holds to the end of the day window"
    );
    ensure_eq!(
        s.record_oob_send(person, verify, &config, at(day)).await?,
        SendDecision::Allowed,
        "a new day window"
    );
    Ok(())
}

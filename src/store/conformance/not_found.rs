//! "Not found" is `None`, `false`, an empty list or the default state, never an error.

use alloc::format;

use crate::credential::factor::ThrottledFactor;
use crate::credential::throttle::ThrottleState;
use crate::credential::token::BearerToken;
use crate::policy::login::PasswordState;
use crate::policy::organisation::Organisation;
use crate::store::records::{OobPurpose, RecoverySlot, ThrottleKey};
use crate::store::{SecretStore, UserStore};

use super::fixture::Fixture;
use super::harness::{Checked, fail};

pub(super) async fn not_found<S: UserStore + SecretStore + 'static>(
    fx: &Fixture<'_, S>,
) -> Checked {
    let s = &*fx.store;
    let nobody = fx.person_id();
    let nowhere = fx.org_id();
    ensure!(
        s.person(nobody).await?.is_none(),
        "person(unknown) must be None"
    );
    ensure!(
        s.person_by_login(&fx.login_for(nobody)).await?.is_none(),
        "person_by_login(unknown) must be None"
    );
    for blank in ["", "   "] {
        ensure!(
            s.person_by_login(blank).await?.is_none(),
            "person_by_login({blank:?}) must be None"
        );
    }
    ensure!(
        !s.set_password(nobody, "x", PasswordState::Current, None)
            .await?,
        "set_password(unknown) must be false"
    );
    ensure!(
        !s.set_phone(nobody, None).await?,
        "set_phone(unknown) must be false"
    );
    ensure!(
        !s.set_deactivated(nobody, true).await?,
        "set_deactivated(unknown) must be false"
    );
    ensure_eq!(
        s.throttle(&ThrottleKey::factor(nobody, ThrottledFactor::Totp))
            .await?,
        ThrottleState::new(),
        "throttle(unknown)"
    );
    ensure!(
        UserStore::organisation(s, nowhere).await?.is_none(),
        "organisation(unknown) must be None"
    );
    let org = Organisation::found(nowhere, nobody, fx.now()).state;
    ensure!(
        !s.replace_organisation(&org, 1).await?,
        "replace_organisation(unknown) must be false"
    );
    ensure!(
        s.organisations_of(nobody).await?.is_empty(),
        "organisations_of(unknown) must be empty"
    );
    ensure!(s.mfa(nobody).await?.is_none(), "mfa(unknown) must be None");
    ensure!(
        !s.advance_watermark(nobody, crate::policy::ids::AuthenticatorId::new(1), 10)
            .await?,
        "advance_watermark(unknown person) must be false"
    );
    for slot in [RecoverySlot::Active, RecoverySlot::Pending] {
        ensure!(
            s.recovery_codes(nobody, slot).await?.is_none(),
            "recovery_codes(unknown, {slot:?}) must be None"
        );
    }
    ensure!(
        !s.activate_pending_recovery_codes(nobody).await?,
        "activate_pending_recovery_codes(unknown) must be false"
    );
    ensure!(
        !s.spend_recovery_code(nobody, [0; 16], 0).await?,
        "spend_recovery_code(unknown) must be false"
    );
    for purpose in [OobPurpose::SignIn, OobPurpose::VerifyPhone] {
        ensure!(
            s.oob_challenge(nobody, purpose).await?.is_none(),
            "oob_challenge(unknown, {purpose:?}) must be None"
        );
    }
    let digest = BearerToken::generate()?.digest();
    ensure!(
        s.take_setup_token(&digest, fx.now()).await?.is_none(),
        "take_setup_token(unknown) must be None"
    );
    ensure!(
        s.take_ticket(&digest, fx.now()).await?.is_none(),
        "take_ticket(unknown) must be None"
    );
    Ok(())
}

//! The creation options the browser gets for a registration.
//!
//! `webauthn-rs`'s security-key ceremony (user verification *preferred*, §5.8.6) fits a second
//! factor, and its verification is what this crate wants. Its creation options, though, are made
//! for roaming keys only, and three of them do not fit a passkey that may also sign in alone:
//!
//! - `residentKey: "discouraged"` (§5.4.4): passwordless sign-in (§7.2 with an empty
//!   `allowCredentials`) finds only discoverable credentials. Here it is `"preferred"`: an
//!   authenticator that can store the credential does, one that cannot still registers it as a
//!   second factor.
//! - the `credProtect` level `userVerificationRequired` (CTAP 2.1 §12.1) beside user verification
//!   *preferred*: Chromium refuses that pair before any authenticator is asked
//!   (`NotSupportedError`). Here it is `userVerificationOptionalWithCredentialIDList`, not
//!   enforced: a discoverable credential is listed only after user verification (so a found key
//!   does not tell who holds an account), and with its id it still serves as a second factor
//!   without a PIN.
//! - the hint `security-key` (§5.4.7), which steers the browser's dialog away from the
//!   platform's passkeys: no hint, the browser offers every kind.
//!
//! None of these is checked when the registration finishes (the state keeps the user
//! verification policy, which is unchanged), so the ceremony's verification is the library's.

use webauthn_rs::prelude::CreationChallengeResponse;
use webauthn_rs_proto::{CredProtect, CredentialProtectionPolicy, ResidentKeyRequirement};

/// `options` as the browser gets them: a discoverable credential preferred, a `credProtect`
/// level that fits user verification *preferred*, and no hint.
pub(super) fn passkey_options(mut options: CreationChallengeResponse) -> CreationChallengeResponse {
    let public_key = &mut options.public_key;
    let selection = public_key
        .authenticator_selection
        .get_or_insert_with(Default::default);
    selection.resident_key = Some(ResidentKeyRequirement::Preferred);
    selection.require_resident_key = false;
    if let Some(extensions) = public_key.extensions.as_mut() {
        extensions.cred_protect = Some(CredProtect {
            credential_protection_policy:
                CredentialProtectionPolicy::UserVerificationOptionalWithCredentialIDList,
            enforce_credential_protection_policy: None,
        });
    }
    public_key.hints = None;
    options
}

//! The creation options a browser gets for a registration: shaped for a passkey that may also
//! sign in alone, and consistent enough that Chromium accepts them (the browser test runs them
//! through Chromium's virtual authenticator).
#![cfg(feature = "passkeys")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use authcore::credential::passkey::{Ceremonies, RelyingParty, UserHandle};
use serde_json::Value;

fn creation_options(exclude: Vec<Vec<u8>>) -> Value {
    let rp = RelyingParty::new("example.com", "Example", &["https://example.com"]).unwrap();
    let ceremonies = Ceremonies::new(rp).unwrap();
    let (options, _state) = ceremonies
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", exclude)
        .unwrap();
    serde_json::from_str(&options).unwrap()
}

#[test]
fn a_discoverable_credential_is_preferred_never_required() {
    let options = creation_options(vec![]);
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "preferred");
    assert_eq!(selection["requireResidentKey"], false);
    assert_eq!(selection["userVerification"], "preferred");
}

#[test]
fn the_protection_level_fits_user_verification_preferred() {
    let options = creation_options(vec![]);
    let extensions = &options["publicKey"]["extensions"];
    assert_eq!(
        extensions["credentialProtectionPolicy"],
        "userVerificationOptionalWithCredentialIDList"
    );
    assert!(
        extensions
            .get("enforceCredentialProtectionPolicy")
            .is_none()
    );
    assert_eq!(extensions["credProps"], true);
}

#[test]
fn no_hint_steers_the_browser_to_one_kind_of_authenticator() {
    let options = creation_options(vec![]);
    assert!(options["publicKey"].get("hints").is_none());
}

#[test]
fn the_rest_of_the_options_is_the_ceremony_s() {
    let options = creation_options(vec![vec![7; 16]]);
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "example.com");
    assert_eq!(public_key["user"]["name"], "ada");
    assert_eq!(
        public_key["excludeCredentials"].as_array().unwrap().len(),
        1
    );
    assert!(public_key["timeout"].as_u64().unwrap() <= 300_000);
    assert!(!public_key["challenge"].as_str().unwrap().is_empty());
}

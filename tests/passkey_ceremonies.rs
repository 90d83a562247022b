//! The WebAuthn ceremonies of `authcore::credential::passkey` against a software authenticator
//! behind a WebAuthn client: a full registration and authentication, and the bad paths a relying
//! party must refuse (WebAuthn Level 3 §7.1 and §7.2): another origin, another RP id, a replayed
//! assertion, a tampered client data JSON or signature, another credential, a counter that goes
//! backwards.
#![cfg(feature = "passkeys")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/soft_key.rs"]
mod soft_key;

use authcore::credential::passkey::{
    Ceremonies, PasskeyError, RegisteredKey, RelyingParty, UserHandle, updated_key,
};
use serde_json::Value;
use soft_key::SoftKey;

const ORIGIN: &str = "https://example.com";

fn ceremonies() -> Ceremonies {
    let rp = RelyingParty::new(
        "example.com",
        "Example",
        &[ORIGIN, "https://login.example.com"],
    )
    .unwrap();
    Ceremonies::new(rp).unwrap()
}

async fn register(c: &Ceremonies, key: &mut SoftKey) -> RegisteredKey {
    let (options, state) = c
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", vec![])
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    c.finish_registration(&state, &response).unwrap()
}

/// Rewrites one base64url field of a response's `response` object with `f` on its bytes.
fn tamper(response: &str, field: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut value: Value = serde_json::from_str(response).unwrap();
    let text = value["response"][field].as_str().unwrap().to_owned();
    let mut bytes = b64.decode(text.trim_end_matches('=')).unwrap();
    f(&mut bytes);
    value["response"][field] = Value::String(b64.encode(bytes));
    value.to_string()
}

#[tokio::test]
async fn register_then_authenticate() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let registered = register(&c, &mut key).await;
    assert!(!registered.credential_id.is_empty());
    assert_eq!(format!("{:?}", registered.key), "CredentialKey([REDACTED])");

    let (options, state) = c
        .start_authentication(std::slice::from_ref(&registered.key))
        .unwrap();
    let options_json: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(options_json["publicKey"]["rpId"], "example.com");
    assert_eq!(options_json["publicKey"]["userVerification"], "preferred");
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let (id, used) = c.finish_authentication(&state, &assertion).unwrap();
    assert_eq!(id, registered.credential_id);
    assert!(used.user_verified);
    assert!(used.advances(registered.counter));
    updated_key(&registered.key, &used).unwrap();
}

#[tokio::test]
async fn registration_options_ask_for_a_second_factor() {
    let c = ceremonies();
    let (options, state) = c
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", vec![])
        .unwrap();
    let o: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(o["publicKey"]["rp"]["id"], "example.com");
    assert_eq!(o["publicKey"]["rp"]["name"], "Example");
    assert_eq!(
        o["publicKey"]["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    // The state stays server-side: its Debug is redacted, and it is not the options.
    assert_eq!(format!("{state:?}"), "RegistrationState([REDACTED])");
    assert_ne!(state.as_str(), options);
}

#[tokio::test]
async fn registration_from_another_origin_is_rejected() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let (options, state) = c
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", vec![])
        .unwrap();
    // A page under the RP id that is not an allowed origin.
    let response = key
        .create("https://evil.example.com", &options)
        .await
        .unwrap();
    assert_eq!(
        c.finish_registration(&state, &response).unwrap_err(),
        PasskeyError::Rejected
    );
}

#[tokio::test]
async fn registration_for_another_rp_id_is_rejected() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let (options, state) = c
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", vec![])
        .unwrap();
    // The client is told another RP id (one its origin may claim): the authenticator data
    // carries that RP id's hash.
    let mut o: Value = serde_json::from_str(&options).unwrap();
    o["publicKey"]["rp"]["id"] = "login.example.com".into();
    let response = key
        .create("https://login.example.com", &o.to_string())
        .await
        .unwrap();
    assert_eq!(
        c.finish_registration(&state, &response).unwrap_err(),
        PasskeyError::Rejected
    );
}

#[tokio::test]
async fn registration_against_another_challenge_is_rejected() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let (options, _) = c
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", vec![])
        .unwrap();
    let (_, other_state) = c
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", vec![])
        .unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    assert_eq!(
        c.finish_registration(&other_state, &response).unwrap_err(),
        PasskeyError::Rejected
    );
}

#[tokio::test]
async fn assertion_from_another_origin_is_rejected() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let registered = register(&c, &mut key).await;
    let (options, state) = c.start_authentication(&[registered.key]).unwrap();
    let assertion = key.get("https://evil.example.com", &options).await.unwrap();
    assert_eq!(
        c.finish_authentication(&state, &assertion).unwrap_err(),
        PasskeyError::Rejected
    );
}

#[tokio::test]
async fn assertion_replayed_on_a_new_challenge_is_rejected() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let registered = register(&c, &mut key).await;
    let (options, state) = c
        .start_authentication(std::slice::from_ref(&registered.key))
        .unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    c.finish_authentication(&state, &assertion).unwrap();
    // The same assertion against the next ceremony's state: its challenge differs. (Replaying
    // it against the same state is stopped by the store: a state is spent once.)
    let (_, next) = c.start_authentication(&[registered.key]).unwrap();
    assert_eq!(
        c.finish_authentication(&next, &assertion).unwrap_err(),
        PasskeyError::Rejected
    );
}

#[tokio::test]
async fn tampered_client_data_or_signature_is_rejected() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let registered = register(&c, &mut key).await;
    let (options, state) = c.start_authentication(&[registered.key]).unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();

    let client_data = tamper(&assertion, "clientDataJSON", |bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        *bytes = text
            .replace("https://example.com", "https://evil.example.com")
            .into_bytes();
    });
    assert_eq!(
        c.finish_authentication(&state, &client_data).unwrap_err(),
        PasskeyError::Rejected
    );
    let signature = tamper(&assertion, "signature", |bytes| {
        let last = bytes.last_mut().unwrap();
        *last ^= 1;
    });
    assert_eq!(
        c.finish_authentication(&state, &signature).unwrap_err(),
        PasskeyError::Rejected
    );
    let flags = tamper(&assertion, "authenticatorData", |bytes| bytes[32] ^= 0x04);
    assert_eq!(
        c.finish_authentication(&state, &flags).unwrap_err(),
        PasskeyError::Rejected
    );
    // The untouched assertion still verifies: the refusals were the tampering's.
    c.finish_authentication(&state, &assertion).unwrap();
}

#[tokio::test]
async fn another_persons_credential_is_rejected() {
    let c = ceremonies();
    let mut ada = SoftKey::default();
    let mut eve = SoftKey::default();
    let ada_key = register(&c, &mut ada).await;
    let eve_key = register(&c, &mut eve).await;
    // Ada's ceremony allows Ada's credential only; Eve's authenticator answers it.
    let (options, state) = c.start_authentication(&[ada_key.key]).unwrap();
    let mut o: Value = serde_json::from_str(&options).unwrap();
    o["publicKey"]["allowCredentials"] = Value::Array(vec![]);
    let assertion = eve.get(ORIGIN, &o.to_string()).await.unwrap();
    assert_eq!(
        c.finish_authentication(&state, &assertion).unwrap_err(),
        PasskeyError::Rejected
    );
    drop(eve_key);
}

#[tokio::test]
async fn counter_going_backwards_is_refused() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    key_with_counter(&mut key);
    let registered = register(&c, &mut key).await;
    let mut stored = registered.key.clone();

    // A use at counter 10 moves the stored counter.
    key.set_counter(9);
    let (options, state) = c
        .start_authentication(std::slice::from_ref(&stored))
        .unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let (_, used) = c.finish_authentication(&state, &assertion).unwrap();
    assert_eq!(used.counter, 10);
    stored = updated_key(&stored, &used).unwrap();

    // A clone still at counter 3 is refused.
    let mut clone = key.clone_key();
    clone.set_counter(2);
    let (options, state) = c
        .start_authentication(std::slice::from_ref(&stored))
        .unwrap();
    let assertion = clone.get(ORIGIN, &options).await.unwrap();
    assert_eq!(
        c.finish_authentication(&state, &assertion).unwrap_err(),
        PasskeyError::CounterRegression
    );
    assert!(!used.advances(10));
    assert!(!used.advances(11));
}

/// Makes the authenticator keep a signature counter from its first credential on.
fn key_with_counter(key: &mut SoftKey) {
    key.set_counter(0);
}

#[tokio::test]
async fn malformed_json_is_a_typed_error() {
    let c = ceremonies();
    let (_, state) = c
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", vec![])
        .unwrap();
    for bad in ["", "{}", "null", "[1,2]", "{\"id\":5}", &"x".repeat(70_000)] {
        assert_eq!(
            c.finish_registration(&state, bad).unwrap_err(),
            PasskeyError::Malformed
        );
    }
}

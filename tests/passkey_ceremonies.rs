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

#[tokio::test]
async fn registration_options_exclude_the_given_credentials_only() {
    use base64::Engine as _;
    let c = ceremonies();
    let mut key = SoftKey::default();
    let registered = register(&c, &mut key).await;
    let (options, _) = c
        .start_registration(
            UserHandle::generate().unwrap(),
            "ada",
            "Ada",
            vec![registered.credential_id.clone()],
        )
        .unwrap();
    let o: Value = serde_json::from_str(&options).unwrap();
    let excluded = o["publicKey"]["excludeCredentials"].as_array().unwrap();
    assert_eq!(excluded.len(), 1, "{o}");
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(excluded[0]["id"].as_str().unwrap().trim_end_matches('='))
        .unwrap();
    assert_eq!(id, registered.credential_id);
    let (none, _) = c
        .start_registration(UserHandle::generate().unwrap(), "ada", "Ada", vec![])
        .unwrap();
    let o: Value = serde_json::from_str(&none).unwrap();
    assert!(
        o["publicKey"]["excludeCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{o}"
    );
}

#[tokio::test]
async fn a_registered_key_reports_what_its_stored_form_holds() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    key_with_counter(&mut key);
    let registered = register(&c, &mut key).await;
    let stored: Value = serde_json::from_str(registered.key.as_str()).unwrap();
    let cred = &stored["cred"];
    assert_eq!(
        cred["counter"].as_u64(),
        Some(u64::from(registered.counter))
    );
    assert_eq!(
        cred["backup_eligible"].as_bool(),
        Some(registered.backup_eligible)
    );
    assert_eq!(
        cred["backup_state"].as_bool(),
        Some(registered.backup_state)
    );
}

#[tokio::test]
async fn an_updated_key_keeps_the_highest_counter_and_the_reported_backup_flags() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let registered = register(&c, &mut key).await;
    let read = |key: &authcore::credential::passkey::CredentialKey| -> (u64, bool, bool) {
        let value: Value = serde_json::from_str(key.as_str()).unwrap();
        let cred = &value["cred"];
        (
            cred["counter"].as_u64().unwrap(),
            cred["backup_eligible"].as_bool().unwrap(),
            cred["backup_state"].as_bool().unwrap(),
        )
    };
    let used = |counter, backup_eligible, backup_state| authcore::credential::passkey::PasskeyUse {
        counter,
        user_verified: true,
        backup_eligible,
        backup_state,
    };
    // The stored form of a key that is not backed up and may not be.
    let mut value: Value = serde_json::from_str(registered.key.as_str()).unwrap();
    value["cred"]["backup_eligible"] = false.into();
    value["cred"]["backup_state"] = false.into();
    let local = authcore::credential::passkey::CredentialKey::from_stored(value.to_string());
    let plain = updated_key(&local, &used(10, false, false)).unwrap();
    assert_eq!(read(&plain), (10, false, false));
    // A lower counter never moves it back.
    let lower = updated_key(&plain, &used(3, false, false)).unwrap();
    assert_eq!(read(&lower), (10, false, false));
    // Backed up now: both flags recorded.
    let synced = updated_key(&plain, &used(11, true, true)).unwrap();
    assert_eq!(read(&synced), (11, true, true));
    // No longer backed up: the state follows, eligibility stays.
    let unsynced = updated_key(&synced, &used(12, false, false)).unwrap();
    assert_eq!(read(&unsynced), (12, true, false));
    // An updated key is still a credential to authenticate with.
    assert!(c.start_authentication(&[unsynced]).is_ok());
}

#[tokio::test]
async fn a_passwordless_assertion_names_its_person_and_verifies_with_their_key() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    let handle = UserHandle::from_bytes([9; 16]);
    let (options, state) = c.start_registration(handle, "ada", "Ada", vec![]).unwrap();
    let response = key.create(ORIGIN, &options).await.unwrap();
    let registered = c.finish_registration(&state, &response).unwrap();

    let (options, state) = c.start_passwordless().unwrap();
    let o: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(o["publicKey"]["userVerification"], "required");
    assert_eq!(o["publicKey"]["rpId"], "example.com");
    assert_eq!(format!("{state:?}"), "AuthenticationState([REDACTED])");
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let (who, id) = c.identify_passwordless(&assertion).unwrap();
    assert_eq!(who, handle);
    assert_eq!(id, registered.credential_id);
    let (used_id, used) = c
        .finish_passwordless(&state, &assertion, &registered.key)
        .unwrap();
    assert_eq!(used_id, registered.credential_id);
    assert!(used.user_verified);

    // Another person's credential does not verify it; a malformed or altered state is typed.
    let mut eve = SoftKey::default();
    let eve_key = register(&c, &mut eve).await;
    assert_eq!(
        c.finish_passwordless(&state, &assertion, &eve_key.key)
            .unwrap_err(),
        PasskeyError::Rejected
    );
    let altered = authcore::credential::passkey::AuthenticationState::from_stored("{}".into());
    assert_eq!(
        c.finish_passwordless(&altered, &assertion, &registered.key)
            .unwrap_err(),
        PasskeyError::Stored
    );
    assert_eq!(
        c.identify_passwordless("{}").unwrap_err(),
        PasskeyError::Malformed
    );
    assert_eq!(
        c.finish_authentication(&altered, &assertion).unwrap_err(),
        PasskeyError::Stored
    );
    let bad_key = authcore::credential::passkey::CredentialKey::from_stored("{}".into());
    assert_eq!(
        c.start_authentication(&[bad_key]).unwrap_err(),
        PasskeyError::Stored
    );
}

#[tokio::test]
async fn a_passwordless_assertion_from_a_clone_behind_the_counter_is_refused() {
    let c = ceremonies();
    let mut key = SoftKey::default();
    key_with_counter(&mut key);
    let registered = register(&c, &mut key).await;

    // A passwordless use at counter 10 moves the stored counter.
    key.set_counter(9);
    let (options, state) = c.start_passwordless().unwrap();
    let assertion = key.get(ORIGIN, &options).await.unwrap();
    let (_, used) = c
        .finish_passwordless(&state, &assertion, &registered.key)
        .unwrap();
    assert_eq!(used.counter, 10);
    let stored = updated_key(&registered.key, &used).unwrap();

    // A clone still at counter 3 is refused as a counter regression, not as any rejection.
    let mut clone = key.clone_key();
    clone.set_counter(2);
    let (options, state) = c.start_passwordless().unwrap();
    let assertion = clone.get(ORIGIN, &options).await.unwrap();
    assert_eq!(
        c.finish_passwordless(&state, &assertion, &stored)
            .unwrap_err(),
        PasskeyError::CounterRegression
    );
}

#[test]
fn a_stored_ceremony_state_prints_redacted() {
    let record = authcore::store::PasskeyChallengeRecord {
        person: authcore::PersonId::new(7),
        purpose: authcore::store::PasskeyPurpose::Acknowledge,
        name: String::from("laptop"),
        ticket: None,
        state: String::from(r#"{"challenge":"c2VjcmV0LWNoYWxsZW5nZQ","credential":"k"}"#),
        expires_at: 300,
    };
    let printed = format!("{record:?}");
    assert!(printed.contains("[redacted]"), "{printed}");
    assert!(
        printed.contains("laptop") && printed.contains("300"),
        "{printed}"
    );
    assert!(
        !printed.contains("challenge\"") && !printed.contains("c2VjcmV0"),
        "{printed}"
    );
}

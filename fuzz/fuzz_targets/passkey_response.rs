//! The JSON a host passes in from the browser at the end of a WebAuthn ceremony: any bytes, as a
//! registration response or an assertion, must give a typed error (or, for a real
//! authenticator's answer, a result), never a panic; and a stored credential read back from a
//! tampered database must decode or be refused, never panic.
#![no_main]

use std::sync::OnceLock;

use authcore::credential::passkey::{
    AuthenticationState, Ceremonies, CredentialKey, PasskeyUse, RegistrationState, RelyingParty,
    UserHandle, updated_key,
};
use libfuzzer_sys::fuzz_target;

/// A credential as the relying party stores it (made by a software authenticator).
const KEY: &str = r#"{"cred":{"cred_id":"DZ6ZcKuoPbonkAHzxEpBTA","cred":{"type_":"ES256","key":{"EC_EC2":{"curve":"SECP256R1","x":"qu8z34Z2i2cKHP4VmF4XJHxBVdiwV_YBxJYaMK9EiBQ","y":"96ZjVe682aQVoj7V0hwO2nN0z8qJyyH8tigSPJm3qOw"}}},"counter":0,"transports":null,"user_verified":true,"backup_eligible":true,"backup_state":true,"registration_policy":"preferred","extensions":{"cred_protect":"Ignored","hmac_create_secret":"NotRequested","appid":"NotRequested","cred_props":{"Unsigned":{"rk":true}}},"attestation":{"data":"None","metadata":"None"},"attestation_format":"none"}}"#;

struct Fixture {
    ceremonies: Ceremonies,
    registration: RegistrationState,
    authentication: AuthenticationState,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rp = RelyingParty::new("example.com", "Example", &["https://example.com"])
            .expect("a valid relying party");
        let ceremonies = Ceremonies::new(rp).expect("ceremonies");
        let (_, registration) = ceremonies
            .start_registration(UserHandle::from_bytes([7; 16]), "ada", "Ada", vec![])
            .expect("a registration");
        let key = CredentialKey::from_stored(KEY.to_owned());
        let (_, authentication) = ceremonies
            .start_authentication(&[key])
            .expect("an authentication");
        Fixture {
            ceremonies,
            registration,
            authentication,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Nothing random can answer a fresh challenge: every input is refused.
    assert!(f.ceremonies.finish_registration(&f.registration, text).is_err());
    assert!(
        f.ceremonies
            .finish_authentication(&f.authentication, text)
            .is_err()
    );
    // A tampered stored credential or state.
    let used = PasskeyUse {
        counter: data.len() as u32,
        user_verified: true,
        backup_eligible: false,
        backup_state: false,
    };
    let _ = updated_key(&CredentialKey::from_stored(text.to_owned()), &used);
    let _ = f.ceremonies.start_authentication(&[CredentialKey::from_stored(text.to_owned())]);
    let _ = f
        .ceremonies
        .finish_registration(&RegistrationState::from_stored(text.to_owned()), "{}");
});

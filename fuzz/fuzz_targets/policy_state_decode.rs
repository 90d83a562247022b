//! Fuzz target: decode every persisted policy state from arbitrary bytes.
//!
//! Decoding must never panic; whatever decodes must uphold the state's invariants and survive a
//! re-encode/decode round trip unchanged. Ids are decoded too, as text and as JSON. Needs, in `fuzz/Cargo.toml`:
//! `authcore = { path = "..", features = ["serde"] }`, `serde_json = "1"`, `libfuzzer-sys`.
#![no_main]

use authcore::policy::{
    Account, AuditEvent, Invitation, LoginProgress, Member, Mfa, MfaPolicy, Organisation,
    ServerSideOnly,
};
use authcore::{OrgId, PersonId};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decodes `data` as `T`; if it decodes, encoding and decoding again gives the same value.
fn round_trip<T>(data: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug,
{
    let value: T = serde_json::from_slice(data).ok()?;
    let encoded = serde_json::to_vec(&value).expect("a decoded state encodes");
    let again: T = serde_json::from_slice(&encoded).expect("an encoded state decodes");
    assert_eq!(again, value);
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    // Ids: only 32 lowercase hex digits parse, as text or as a JSON string, and write back as
    // they were read.
    if let Ok(text) = core::str::from_utf8(data) {
        let parsed = text.parse::<PersonId>();
        let strict =
            text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        assert_eq!(parsed.is_ok(), strict);
        if let Ok(id) = parsed {
            assert_eq!(id.to_string(), text);
            assert_eq!(text.parse::<OrgId>().map(|org| org.get()), Ok(id.get()));
        }
    }
    if let Some(id) = round_trip::<PersonId>(data) {
        assert_eq!(serde_json::to_vec(&id).expect("encodes").len(), 34);
    }
    let _ = round_trip::<OrgId>(data);
    if let Some(org) = round_trip::<Organisation>(data) {
        assert!(
            org.owners().count() >= 1,
            "an organisation without an owner"
        );
        for (index, member) in org.members().iter().enumerate() {
            assert_eq!(member.org(), org.id());
            assert_eq!(
                member.mfa_subject_since().is_some(),
                org.policy().enforces()
            );
            assert!(
                org.members()[index + 1..]
                    .iter()
                    .all(|other| other.person() != member.person())
            );
            if let Some(delegation) = member.delegation() {
                assert!(delegation.role() > member.role());
                assert!(delegation.role() <= authcore::policy::Role::MAX_DELEGATED);
            }
        }
    }
    if let Some(member) = round_trip::<Member>(data) {
        if let Some(delegation) = member.delegation() {
            assert!(delegation.role() > member.role());
            assert!(delegation.until() > delegation.granted_at());
        }
    }
    if let Some(policy) = round_trip::<MfaPolicy>(data) {
        if let Some(settings) = policy.settings() {
            assert!(settings.factors().has_primary());
            assert!(settings.grace_period() <= authcore::policy::MfaSettings::MAX_GRACE_PERIOD);
        }
    }
    if let Some(progress) = round_trip::<LoginProgress>(data) {
        assert!(
            progress
                .factors()
                .contains(authcore::policy::Factor::Password)
        );
    }
    let _ = round_trip::<Account>(data);
    let _ = round_trip::<Invitation>(data);
    let _ = round_trip::<AuditEvent>(data);

    // States holding secrets decode only through the server-side wrapper.
    if let Ok(stored) = serde_json::from_slice::<ServerSideOnly<Mfa>>(data) {
        let mfa = stored.into_inner();
        assert_eq!(mfa.is_active(), mfa.recovery_codes_issued_at().is_some());
        assert!(
            mfa.authenticators().len()
                <= usize::from(authcore::policy::EnrollmentConfig::MAX_AUTHENTICATORS)
        );
        let once = serde_json::to_vec(&ServerSideOnly::new(&mfa)).expect("encodes");
        let again: ServerSideOnly<Mfa> = serde_json::from_slice(&once).expect("decodes");
        let twice = serde_json::to_vec(&ServerSideOnly::new(again.get())).expect("encodes");
        assert_eq!(once, twice);
    }
});

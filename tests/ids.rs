//! The text form of person and organisation ids: 32 lowercase hexadecimal digits, written by
//! `Display` and serialisation and read back strictly by `FromStr` and deserialisation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use authcore::policy::ParseIdError;
use authcore::policy::SessionId;
use authcore::{OrgId, PersonId};
use proptest::prelude::*;

/// Whether `text` is exactly 32 lowercase hexadecimal digits.
fn is_id_text(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[test]
fn ids_are_32_lowercase_hex_digits() {
    assert_eq!(
        PersonId::new(0).to_string(),
        "00000000000000000000000000000000"
    );
    assert_eq!(
        OrgId::new(255).to_string(),
        "000000000000000000000000000000ff"
    );
    assert_eq!(
        PersonId::new(u128::MAX).to_string(),
        "ffffffffffffffffffffffffffffffff"
    );
    assert_eq!(
        PersonId::new(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210).to_string(),
        "0123456789abcdeffedcba9876543210"
    );
}

#[test]
fn anything_else_is_refused() {
    for text in [
        "",
        "0",
        "ff",
        "0000000000000000000000000000000",   // 31 digits
        "000000000000000000000000000000000", // 33 digits
        "0000000000000000000000000000000A",
        "ABCDEF00000000000000000000000000",
        "+0000000000000000000000000000000",
        "-0000000000000000000000000000000",
        "0x000000000000000000000000000000",
        " 0000000000000000000000000000000",
        "0000000000000000000000000000000 ",
        "0000000000000000000000000000000\n",
        "0000000000000000_000000000000000",
        "00000000-0000-0000-0000-000000000000",
        "0000000000000000000000000000000g",
        "000000000000000000000000000000é",
    ] {
        let error: ParseIdError = text.parse::<PersonId>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "an id is exactly 32 lowercase hexadecimal digits"
        );
        assert!(text.parse::<OrgId>().is_err(), "{text:?}");
        #[cfg(feature = "serde")]
        {
            let json = serde_json::to_string(text).unwrap();
            assert!(serde_json::from_str::<PersonId>(&json).is_err(), "{text:?}");
            assert!(serde_json::from_str::<OrgId>(&json).is_err(), "{text:?}");
        }
    }
}

/// The issue that made the text form: a 128-bit id did not fit a JSON number (a host's session
/// store holding `serde_json::Value`s refused it, and JavaScript rounds past 53 bits).
#[cfg(feature = "serde")]
#[test]
fn ids_fit_json_values_as_strings() {
    let person = PersonId::new(u128::MAX - 1);
    assert_eq!(
        serde_json::to_value(person).unwrap(),
        serde_json::Value::String("fffffffffffffffffffffffffffffffe".into())
    );
    assert_eq!(
        serde_json::from_value::<PersonId>(serde_json::to_value(person).unwrap()).unwrap(),
        person
    );
    let org = OrgId::new(7);
    assert_eq!(
        serde_json::to_string(&org).unwrap(),
        "\"00000000000000000000000000000007\""
    );
}

/// The number form earlier versions wrote is not an id any more (only the SQL stores still read
/// it from their own rows).
#[cfg(feature = "serde")]
#[test]
fn json_numbers_are_refused() {
    for json in [
        "7",
        "0",
        "340282366920938463463374607431768211455",
        "-1",
        "7.0",
        "null",
    ] {
        assert!(serde_json::from_str::<PersonId>(json).is_err(), "{json}");
        assert!(serde_json::from_str::<OrgId>(json).is_err(), "{json}");
    }
}

proptest! {
    #[test]
    fn display_and_from_str_round_trip(id in any::<u128>()) {
        let text = PersonId::new(id).to_string();
        prop_assert!(is_id_text(&text));
        prop_assert_eq!(text.parse::<PersonId>(), Ok(PersonId::new(id)));
        let text = OrgId::new(id).to_string();
        prop_assert!(is_id_text(&text));
        prop_assert_eq!(text.parse::<OrgId>(), Ok(OrgId::new(id)));
        let text = SessionId::new(id).to_string();
        prop_assert!(is_id_text(&text));
        prop_assert_eq!(text.parse::<SessionId>(), Ok(SessionId::new(id)));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serialisation_round_trips(id in any::<u128>()) {
        let json = serde_json::to_string(&PersonId::new(id)).unwrap();
        prop_assert_eq!(&json, &format!("\"{id:032x}\""));
        prop_assert_eq!(serde_json::from_str::<PersonId>(&json).unwrap(), PersonId::new(id));
        let json = serde_json::to_string(&OrgId::new(id)).unwrap();
        prop_assert_eq!(serde_json::from_str::<OrgId>(&json).unwrap(), OrgId::new(id));
        let json = serde_json::to_string(&SessionId::new(id)).unwrap();
        prop_assert_eq!(&json, &format!("\"{id:032x}\""));
        prop_assert_eq!(serde_json::from_str::<SessionId>(&json).unwrap(), SessionId::new(id));
    }

    /// Any text parses exactly when it is 32 lowercase hexadecimal digits, to the id it spells.
    #[test]
    fn parsing_accepts_only_the_text_form(text in "[0-9a-fA-F +x_-]{0,34}|\\PC{0,40}") {
        let parsed = text.parse::<PersonId>();
        prop_assert_eq!(parsed.is_ok(), is_id_text(&text));
        if let Ok(id) = parsed {
            prop_assert_eq!(id.to_string(), text.clone());
        }
        prop_assert_eq!(text.parse::<OrgId>().is_ok(), is_id_text(&text));
    }

    /// One character changed in a valid text (to an uppercase digit, a sign, a space, any other
    /// character), one dropped or one added: refused.
    #[test]
    fn a_near_miss_is_refused(id in any::<u128>(), at in 0usize..32, c in any::<char>()) {
        let text = PersonId::new(id).to_string();
        let mut changed: Vec<char> = text.chars().collect();
        changed[at] = c;
        let changed: String = changed.into_iter().collect();
        prop_assert_eq!(changed.parse::<PersonId>().is_ok(), is_id_text(&changed));
        let mut shorter = text.clone();
        shorter.remove(at);
        prop_assert!(shorter.parse::<PersonId>().is_err());
        let mut longer = text.clone();
        longer.insert(at, '0');
        prop_assert!(longer.parse::<PersonId>().is_err());
        let upper = text.to_uppercase();
        prop_assert_eq!(upper.parse::<PersonId>().is_ok(), upper == text);
        #[cfg(feature = "serde")]
        prop_assert!(serde_json::from_str::<PersonId>(&id.to_string()).is_err());
    }
}

#[test]
fn each_id_gives_back_its_number() {
    assert_eq!(PersonId::new(0x1234).get(), 0x1234);
    assert_eq!(PersonId::new(u128::MAX).get(), u128::MAX);
    assert_eq!(OrgId::new(0xabcd).get(), 0xabcd);
    assert_eq!(SessionId::new(42).get(), 42);
    assert_eq!(authcore::policy::AuthenticatorId::new(7).get(), 7);
    assert_eq!(
        authcore::policy::AuthenticatorId::new(u32::MAX).get(),
        u32::MAX
    );
}

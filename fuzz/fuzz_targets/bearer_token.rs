//! Bearer tokens (setup links, login tickets) arrive from clients as text: parsing any string
//! gives a token or the opaque `Rejected`, never a panic. Only the one canonical 43-character
//! base64url form of 32 bytes is accepted, so a token has exactly one spelling and one digest.
#![no_main]

use authcore::BearerToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(token) = BearerToken::parse(&text) else {
        assert!(
            text.len() != 43
                || !text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                // 43 characters carry 258 bits: the last character's two spare bits must be 0.
                || !"AEIMQUYcgkosw048".contains(&text[42..]),
            "a canonical token was refused: {text:?}"
        );
        return;
    };
    // Accepted: exactly the canonical form, which round-trips to the same token and digest.
    assert_eq!(text.len(), 43);
    let shown = token.expose_secret();
    assert_eq!(shown.as_str(), text.as_ref());
    let again = BearerToken::parse(&shown).expect("the canonical form parses");
    assert_eq!(again.digest(), token.digest());
    // Secrets print redacted.
    assert!(!format!("{token:?}").contains(shown.as_str()));
    assert!(!format!("{:?}", token.digest()).contains(shown.as_str()));
    // Any other spelling of the same bytes is refused: a changed character is another token
    // or no token at all, never this one.
    let mut altered = shown.as_bytes().to_vec();
    let index = usize::from(data.first().copied().unwrap_or(0)) % altered.len();
    altered[index] = if altered[index] == b'A' { b'B' } else { b'A' };
    if let Ok(other) = BearerToken::parse(std::str::from_utf8(&altered).unwrap_or("")) {
        assert_ne!(other.digest(), token.digest());
    }
});

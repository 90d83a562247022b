//! Login names arrive from anonymous callers: normalising any text gives a login or `None`,
//! never a panic. What is accepted is trimmed, ASCII-lower-cased, 1 to 254 bytes with no control
//! characters; normalisation is idempotent and ignores ASCII case, so one person has one login.
#![no_main]

use authcore::store::Login;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let upper = text.to_ascii_uppercase();
    let login = Login::new(&text);
    // ASCII case never makes two logins.
    assert_eq!(Login::new(&upper), login);
    let Some(login) = login else {
        let trimmed = text.trim();
        assert!(
            trimmed.is_empty()
                || trimmed.len() > Login::MAX_LEN
                || trimmed.chars().any(char::is_control),
            "a valid login was refused: {text:?}"
        );
        return;
    };
    let normal = login.as_str();
    assert!(!normal.is_empty() && normal.len() <= Login::MAX_LEN);
    assert_eq!(normal, normal.trim());
    assert!(!normal.chars().any(char::is_control));
    assert!(!normal.bytes().any(|b| b.is_ascii_uppercase()));
    assert_eq!(normal, text.trim().to_ascii_lowercase());
    // Idempotent.
    assert_eq!(Login::new(normal).as_ref(), Some(&login));
    // The local part is a prefix without an `@` after it... or the whole login.
    let local = login.local_part();
    assert!(normal.starts_with(local));
    if normal.contains('@') {
        assert_eq!(&normal[local.len()..local.len() + 1], "@");
        assert!(!normal[local.len() + 1..].contains('@'));
    } else {
        assert_eq!(local, normal);
    }
});

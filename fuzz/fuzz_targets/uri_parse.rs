//! Anything `OtpAuthUri::parse` accepts must build back into a URI that parses to the same value.
#![no_main]

use authcore::otp::OtpAuthUri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = OtpAuthUri::parse(text) else {
        return;
    };
    let rebuilt = parsed.expose_uri();
    let reparsed = OtpAuthUri::parse(&rebuilt).expect("a rebuilt URI parses");
    assert_eq!(parsed.kind(), reparsed.kind());
    assert_eq!(parsed.algorithm(), reparsed.algorithm());
    assert_eq!(parsed.digits(), reparsed.digits());
    assert_eq!(parsed.issuer(), reparsed.issuer());
    assert_eq!(parsed.account(), reparsed.account());
    assert_eq!(
        parsed.secret().expose_bytes(),
        reparsed.secret().expose_bytes()
    );
    assert_eq!(
        *rebuilt,
        *reparsed.expose_uri(),
        "building is deterministic"
    );
});

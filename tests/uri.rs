//! otpauth URIs: golden cases from the Key Uri Format, refusals, round trips and QR renderings.

use authcore::Error;
use authcore::otp::{
    Algorithm, Digits, OtpAuthUri, OtpKind, ParamError, SecretError, SecretKey, TotpParams,
    UriError,
};
use proptest::prelude::*;

const WIKI: &str = "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";
const ACME: &str = "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30";
/// What the crate builds for the ACME example: `@` is not an RFC 3986 unreserved character, so it
/// is percent-encoded like everything else outside `A-Z a-z 0-9 - . _ ~`.
const ACME_BUILT: &str = "otpauth://totp/ACME%20Co:john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30";
const BIGCO: &str = "otpauth://totp/Big%20Corporation%3A%20alice%40bigco.com?secret=JBSWY3DPEHPK3PXP&issuer=Big%20Corporation";

#[test]
fn wiki_example() {
    let uri = OtpAuthUri::parse(WIKI).unwrap();
    assert_eq!(uri.kind(), OtpKind::Totp { period: 30 });
    assert_eq!(uri.issuer(), Some("Example"));
    assert_eq!(uri.account(), "alice@google.com");
    assert_eq!(uri.algorithm(), Algorithm::Sha1);
    assert_eq!(uri.digits(), Digits::Six);
    // An 80-bit secret imports, and says it is below the floor for new secrets.
    assert_eq!(uri.secret().len_bits(), 80);
    assert!(uri.secret().is_below_minimum());
    assert_eq!(&*uri.secret().expose_base32(), "JBSWY3DPEHPK3PXP");
}

#[test]
fn acme_example() {
    let uri = OtpAuthUri::parse(ACME).unwrap();
    assert_eq!(uri.issuer(), Some("ACME Co"));
    assert_eq!(uri.account(), "john.doe@email.com");
    assert_eq!(uri.period(), Some(30));
    assert_eq!(uri.counter(), None);
    assert!(!uri.secret().is_below_minimum());
    assert_eq!(&*uri.expose_uri(), ACME_BUILT);
    assert_eq!(
        &*OtpAuthUri::parse(ACME_BUILT).unwrap().expose_uri(),
        ACME_BUILT
    );
}

#[test]
fn encoded_colon_and_spaces_in_the_label() {
    let uri = OtpAuthUri::parse(BIGCO).unwrap();
    assert_eq!(uri.issuer(), Some("Big Corporation"));
    assert_eq!(uri.account(), "alice@bigco.com");
    assert_eq!(
        &*uri.expose_uri(),
        "otpauth://totp/Big%20Corporation:alice%40bigco.com?secret=JBSWY3DPEHPK3PXP\
         &issuer=Big%20Corporation&algorithm=SHA1&digits=6&period=30"
    );
}

#[test]
fn issuer_from_either_place() {
    let only_prefix =
        OtpAuthUri::parse("otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP").unwrap();
    assert_eq!(only_prefix.issuer(), Some("Example"));
    let only_param =
        OtpAuthUri::parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=Example").unwrap();
    assert_eq!(only_param.issuer(), Some("Example"));
    assert_eq!(only_param.account(), "alice");
    let neither = OtpAuthUri::parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP").unwrap();
    assert_eq!(neither.issuer(), None);
}

#[test]
fn builds_the_acme_uri() {
    let key = SecretKey::from_base32("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ").unwrap();
    let uri = OtpAuthUri::totp(
        Some("ACME Co"),
        "john.doe@email.com",
        key,
        &TotpParams::default(),
    )
    .unwrap();
    assert_eq!(&*uri.expose_uri(), ACME_BUILT);
}

#[test]
fn every_refusal_is_precise() {
    let s = "secret=JBSWY3DPEHPK3PXP";
    let cases: Vec<(String, Error)> = vec![
        (format!("http://totp/a?{s}"), UriError::Scheme.into()),
        (format!("otpauth//totp/a?{s}"), UriError::Scheme.into()),
        (format!("otpauth://steam/a?{s}"), UriError::Type.into()),
        (format!("otpauth://totp/?{s}"), UriError::Label.into()),
        (
            format!("otpauth://totp/Iss:?{s}"),
            UriError::EmptyAccount.into(),
        ),
        (
            format!("otpauth://totp/a:b:c?{s}"),
            UriError::ColonInLabel.into(),
        ),
        (
            format!("otpauth://totp/a%3Ab%3Ac?{s}"),
            UriError::ColonInLabel.into(),
        ),
        (
            format!("otpauth://totp/a%1B%5B2J?{s}"),
            UriError::ControlCharacter.into(),
        ),
        (
            format!("otpauth://totp/a%2?{s}"),
            UriError::PercentEncoding.into(),
        ),
        (
            format!("otpauth://totp/a%C3%28?{s}"),
            UriError::PercentEncoding.into(),
        ),
        (
            "otpauth://totp/a?issuer=x".into(),
            UriError::MissingSecret.into(),
        ),
        (
            format!("otpauth://hotp/a?{s}"),
            UriError::MissingCounter.into(),
        ),
        (
            format!("otpauth://totp/a?{s}&period=thirty"),
            UriError::Number.into(),
        ),
        (
            format!("otpauth://totp/a?{s}&period=30&period=30"),
            UriError::DuplicateParameter.into(),
        ),
        (
            format!("otpauth://totp/A:a?{s}&issuer=B"),
            UriError::IssuerMismatch.into(),
        ),
        (
            format!("otpauth://totp/a?{s}&algorithm=MD5"),
            ParamError::UnsupportedAlgorithm.into(),
        ),
        (
            format!("otpauth://totp/a?{s}&algorithm=SHA3-256"),
            ParamError::UnsupportedAlgorithm.into(),
        ),
        (
            format!("otpauth://totp/a?{s}&digits=4"),
            ParamError::Digits.into(),
        ),
        (
            format!("otpauth://totp/a?{s}&digits=10"),
            ParamError::Digits.into(),
        ),
        (
            format!("otpauth://totp/a?{s}&period=0"),
            ParamError::Period.into(),
        ),
        (
            format!("otpauth://totp/a?{s}&period=99999999999"),
            ParamError::Period.into(),
        ),
        (
            "otpauth://totp/a?secret=JBSWY3DPEHPK3PX0".into(),
            SecretError::InvalidBase32.into(),
        ),
        (
            "otpauth://totp/a?secret=GEZDGNBVGY3TQ===".into(),
            SecretError::TooShortToImport { bits: 64 }.into(),
        ),
        (
            format!(
                "otpauth://totp/a?{s}&image={}",
                "A".repeat(OtpAuthUri::MAX_LEN)
            ),
            UriError::TooLong.into(),
        ),
    ];
    for (uri, expected) in cases {
        assert_eq!(
            Error::from(OtpAuthUri::parse(&uri).unwrap_err()),
            expected,
            "{uri}"
        );
    }
}

#[test]
fn unknown_parameters_are_ignored() {
    let uri = OtpAuthUri::parse(&format!(
        "{ACME}&image=https%3A%2F%2Fexample.com%2Flogo.png&color=red&lock=true"
    ))
    .unwrap();
    assert_eq!(&*uri.expose_uri(), ACME_BUILT);
}

#[test]
fn hotp_rfc4226_vectors_through_a_uri() {
    // RFC 4226 appendix D: the secret "12345678901234567890".
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, code) in expected.iter().enumerate() {
        let uri = OtpAuthUri::parse(&format!(
            "otpauth://hotp/Test:rfc?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter={counter}"
        ))
        .unwrap();
        let start = uri.counter().unwrap();
        assert_eq!(start, counter as u64);
        assert_eq!(
            uri.to_hotp().unwrap().generate(start).expose_secret(),
            *code
        );
    }
}

#[test]
fn totp_rfc6238_vector_through_a_uri() {
    let uri = OtpAuthUri::parse(
        "otpauth://totp/Test:rfc?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8",
    )
    .unwrap();
    let totp = uri.to_totp().unwrap();
    assert_eq!(totp.generate(59).unwrap().expose_secret(), "94287082");
    assert_eq!(
        totp.generate(1111111109).unwrap().expose_secret(),
        "07081804"
    );
}

#[test]
fn key_longer_than_the_hash_block() {
    // 100 bytes: longer than the 64-byte SHA-1/SHA-256 block, so HMAC hashes the key first.
    let bytes: Vec<u8> = (0..100u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    for (algorithm, theirs) in [
        (Algorithm::Sha1, totp_rs::Algorithm::SHA1),
        (Algorithm::Sha256, totp_rs::Algorithm::SHA256),
        (Algorithm::Sha512, totp_rs::Algorithm::SHA512),
    ] {
        let params = TotpParams::builder()
            .algorithm(algorithm)
            .digits(8)
            .build()
            .unwrap();
        let key = SecretKey::from_bytes(&bytes).unwrap();
        let built = OtpAuthUri::totp(Some("Long"), "key", key, &params).unwrap();
        let parsed = OtpAuthUri::parse(&built.expose_uri()).unwrap();
        assert_eq!(parsed.secret().expose_bytes(), bytes.as_slice());
        assert_eq!(parsed.algorithm(), algorithm);
        let reference = totp_rs::Builder::new()
            .with_algorithm(theirs)
            .with_digits(8)
            .with_step_duration(30)
            .with_secret(bytes.clone())
            .build_noncompliant();
        let ours = parsed.to_totp().unwrap();
        for now in [0u64, 59, 1_700_000_000, 4_000_000_000] {
            assert_eq!(
                ours.generate(now).unwrap().expose_secret(),
                reference.generate(now).to_string(),
                "{algorithm} at {now}"
            );
        }
    }
}

/// Issuer and account names: any Unicode except `:` and control characters (which the crate
/// refuses so that a parsed name is always safe to print), not starting with a space.
fn name() -> impl Strategy<Value = String> {
    "[^:\\p{Cc}][^:\\p{Cc}]{0,30}".prop_filter("no leading space", |s| !s.starts_with(' '))
}

fn any_algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

proptest! {
    #[test]
    fn build_then_parse_round_trips(
        issuer in proptest::option::of(name()),
        account in name(),
        key in proptest::collection::vec(any::<u8>(), SecretKey::MIN_LEN..=100),
        algorithm in any_algorithm(),
        digits in 6u8..=8,
        period in 1u32..=120,
        counter in proptest::option::of(any::<u64>()),
    ) {
        let secret = SecretKey::from_bytes(&key).unwrap();
        let built = match counter {
            Some(counter) => OtpAuthUri::hotp(
                issuer.as_deref(), &account, secret, algorithm,
                Digits::try_from(digits).unwrap(), counter,
            ),
            None => {
                let params = TotpParams::builder()
                    .algorithm(algorithm).digits(digits).period(period).build().unwrap();
                OtpAuthUri::totp(issuer.as_deref(), &account, secret, &params)
            }
        }.unwrap();
        let text = built.expose_uri();
        prop_assert!(!text.contains(' '));
        let parsed = OtpAuthUri::parse(&text).unwrap();
        prop_assert_eq!(parsed.issuer(), issuer.as_deref());
        prop_assert_eq!(parsed.account(), account.as_str());
        prop_assert_eq!(parsed.secret().expose_bytes(), key.as_slice());
        prop_assert_eq!(parsed.algorithm(), algorithm);
        prop_assert_eq!(parsed.digits().get(), digits);
        prop_assert_eq!(parsed.kind(), built.kind());
        prop_assert_eq!(&*parsed.expose_uri(), &*text);
    }

    #[test]
    fn names_with_a_colon_or_control_character_are_refused(
        before in name(),
        bad in prop_oneof![Just(':'), proptest::char::range('\0', '\u{1f}'), Just('\u{7f}'), Just('\u{85}')],
    ) {
        let account = format!("{before}{bad}");
        let key = SecretKey::from_bytes(&[1; 20]).unwrap();
        let err = OtpAuthUri::totp(None, &account, key, &TotpParams::default()).unwrap_err();
        let expected = if bad == ':' { UriError::ColonInLabel } else { UriError::ControlCharacter };
        prop_assert_eq!(Error::from(err), Error::Uri(expected));
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let _ = OtpAuthUri::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_uri_shaped_text(
        kind in "(?i)(totp|hotp|xotp|)",
        label in "[a-zA-Z0-9%:@ .é]{0,20}",
        params in proptest::collection::vec(
            ("(secret|issuer|algorithm|digits|period|counter|image|SECRET|)",
             "[A-Za-z2-7%=:0-9 +-]{0,40}"),
            0..8,
        ),
        fragment in proptest::option::of("[a-z#?/]{0,5}"),
    ) {
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut text = format!("otpauth://{kind}/{label}?{}", query.join("&"));
        if let Some(fragment) = fragment {
            text.push('#');
            text.push_str(&fragment);
        }
        if let Ok(uri) = OtpAuthUri::parse(&text) {
            // Whatever parses builds again and parses to the same thing.
            let again = OtpAuthUri::parse(&uri.expose_uri()).unwrap();
            prop_assert_eq!(again.issuer(), uri.issuer());
            prop_assert_eq!(again.account(), uri.account());
            prop_assert_eq!(again.kind(), uri.kind());
            prop_assert_eq!(again.secret().expose_bytes(), uri.secret().expose_bytes());
        }
    }
}

#[cfg(feature = "qr")]
mod qr {
    //! The renderings are decoded back with an independent QR reader.

    use super::*;
    use authcore::otp::TerminalStyle;

    /// Pixels per module when handing a module grid to the reader.
    const SCALE: usize = 4;

    #[allow(clippy::unwrap_used, clippy::indexing_slicing)]
    fn decode(size: usize, dark: impl Fn(usize, usize) -> bool) -> String {
        let mut image =
            rqrr::PreparedImage::prepare_from_bitmap(size * SCALE, size * SCALE, |x, y| {
                dark(x / SCALE, y / SCALE)
            });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn terminal_rendering_decodes_to_the_uri() {
        let uri = OtpAuthUri::parse(ACME).unwrap();
        for style in [
            TerminalStyle::Ansi,
            TerminalStyle::PlainForLightBackground,
            TerminalStyle::PlainForDarkBackground,
        ] {
            let text = uri.qr_terminal(style).unwrap();
            let plain = text.replace("\x1b[30;47m", "").replace("\x1b[0m", "");
            let lines: Vec<Vec<char>> = plain.lines().map(|l| l.chars().collect()).collect();
            let size = lines[0].len();
            assert_eq!(lines.len(), size.div_ceil(2));
            let invert = style == TerminalStyle::PlainForDarkBackground;
            let module = |x: usize, y: usize| {
                let glyph = lines[y / 2][x];
                let drawn = match (glyph, y % 2) {
                    ('\u{2588}', _) | ('\u{2580}', 0) | ('\u{2584}', 1) => true,
                    (' ' | '\u{2580}' | '\u{2584}', _) => false,
                    (other, _) => panic!("unexpected {other:?}"),
                };
                drawn != invert
            };
            assert_eq!(decode(size, module), ACME_BUILT, "{style:?}");
        }
    }

    #[test]
    fn svg_rendering_decodes_to_the_uri() {
        let uri = OtpAuthUri::parse(ACME).unwrap();
        let svg = uri.qr_svg().unwrap();
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
        let view_box = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
        let size: usize = view_box.split(' ').next().unwrap().parse().unwrap();
        let mut dark = vec![false; size * size];
        let path = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        // Every run is `M{x} {y}h{run}v1h-{run}z`.
        for run in path.split('z').filter(|r| !r.is_empty()) {
            let (start, rest) = run.strip_prefix('M').unwrap().split_once('h').unwrap();
            let (x, y) = start.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let (width, back) = rest.split_once("v1h-").unwrap();
            assert_eq!(width, back);
            for dx in 0..width.parse::<usize>().unwrap() {
                dark[y * size + x + dx] = true;
            }
        }
        assert_eq!(decode(size, |x, y| dark[y * size + x]), ACME_BUILT);
    }
}

#[test]
fn a_uri_of_the_longest_length_parses_and_one_byte_more_is_refused() {
    let base = "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&image=";
    let at = |len: usize| format!("{base}{}", "A".repeat(len - base.len()));
    let longest = at(OtpAuthUri::MAX_LEN);
    assert_eq!(longest.len(), OtpAuthUri::MAX_LEN);
    assert_eq!(OtpAuthUri::parse(&longest).unwrap().account(), "a");
    assert_eq!(
        Error::from(OtpAuthUri::parse(&at(OtpAuthUri::MAX_LEN + 1)).unwrap_err()),
        UriError::TooLong.into()
    );
}

#[test]
fn an_empty_issuer_parameter_counts_as_none() {
    let bare = OtpAuthUri::parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=").unwrap();
    assert_eq!(bare.issuer(), None);
    let prefixed =
        OtpAuthUri::parse("otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=").unwrap();
    assert_eq!(prefixed.issuer(), Some("Example"));
    assert_eq!(prefixed.account(), "alice");
}

#[test]
fn the_parameters_read_back_as_given() {
    let uri = OtpAuthUri::parse(
        "otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA256&digits=7&period=45",
    )
    .unwrap();
    let params = TotpParams::builder()
        .algorithm(Algorithm::Sha256)
        .digits(7)
        .period(45)
        .build()
        .unwrap();
    assert_eq!(uri.totp_params(), Some(params));
    assert_eq!((uri.period(), uri.counter()), (Some(45), None));
    assert_eq!(uri.digits(), Digits::Seven);
    let hotp = OtpAuthUri::parse(
        "otpauth://hotp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=123456789012",
    )
    .unwrap();
    assert_eq!(
        (hotp.period(), hotp.counter()),
        (None, Some(123_456_789_012))
    );
    assert_eq!(
        hotp.kind(),
        OtpKind::Hotp {
            counter: 123_456_789_012
        }
    );
    assert!(hotp.to_hotp().is_some());
}

#[test]
fn a_built_uri_of_the_longest_length_is_accepted_and_one_byte_more_is_refused() {
    let key = || SecretKey::from_base32("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ").unwrap();
    let params = TotpParams::default();
    let short = OtpAuthUri::totp(None, "a", key(), &params).unwrap();
    let rest = short.expose_uri().len() - 1;
    let account = "a".repeat(OtpAuthUri::MAX_LEN - rest);
    let longest = OtpAuthUri::totp(None, &account, key(), &params).unwrap();
    assert_eq!(longest.expose_uri().len(), OtpAuthUri::MAX_LEN);
    let over = format!("{account}a");
    assert_eq!(
        Error::from(OtpAuthUri::totp(None, &over, key(), &params).unwrap_err()),
        UriError::TooLong.into()
    );
    // The limit counts the percent-encoded text: one `ü` takes six bytes.
    let encoded = format!("{}ü", "a".repeat(OtpAuthUri::MAX_LEN - rest - 6));
    assert_eq!(
        OtpAuthUri::totp(None, &encoded, key(), &params)
            .unwrap()
            .expose_uri()
            .len(),
        OtpAuthUri::MAX_LEN
    );
}

//! TOTP verification on arbitrary code strings, times, windows and watermarks: never panics, and
//! never accepts a step outside the window or at or below the watermark.
#![no_main]

use arbitrary::Arbitrary;
use authcore::otp::{Algorithm, SecretKey, Totp, TotpParams, Window};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    algorithm: u8,
    digits: u8,
    period: u32,
    t0: u64,
    now: u64,
    window: u8,
    watermark: Option<u64>,
    key: &'a [u8],
    code: &'a str,
    use_generated: bool,
}

fuzz_target!(|input: Input<'_>| {
    let algorithm = match input.algorithm % 3 {
        0 => Algorithm::Sha1,
        1 => Algorithm::Sha256,
        _ => Algorithm::Sha512,
    };
    let Ok(params) = TotpParams::builder()
        .algorithm(algorithm)
        .digits(input.digits)
        .period(input.period)
        .t0(input.t0)
        .build()
    else {
        return;
    };
    let Ok(key) = SecretKey::from_bytes(input.key) else {
        return;
    };
    let Ok(window) = Window::new(input.window) else {
        return;
    };
    let totp = Totp::new(params, &key);
    let generated = totp.generate(input.now).ok();
    let code = match (&generated, input.use_generated) {
        (Some(code), true) => code.expose_secret(),
        _ => input.code,
    };
    if let Ok(accepted) = totp.verify(code, input.now, window, input.watermark) {
        let current = params
            .step_at(input.now)
            .expect("accepted implies a valid step");
        let steps = u64::from(window.steps());
        assert!(accepted.step() >= current.saturating_sub(steps));
        assert!(accepted.step() <= current.saturating_add(steps));
        if let Some(watermark) = input.watermark {
            assert!(accepted.step() > watermark);
        }
        assert_eq!(totp.generate_at_step(accepted.step()).expose_secret(), code);
    } else if input.use_generated && input.watermark.is_none() && generated.is_some() {
        panic!("a freshly generated code must verify without a watermark");
    }
});

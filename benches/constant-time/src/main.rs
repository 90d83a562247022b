//! dudect-style timing tests for TOTP verification (Reparaz, Balasch, Verbauwhede, 2017).
//!
//! Each bench times `Totp::verify` on two classes of inputs and applies Welch's t-test to the two
//! timing distributions; `|max t|` well below 5 means no timing difference was detected.
//!
//! - `*_correct_vs_wrong`: a code of the current step vs a code matching no step of the window.
//! - `*_past_vs_future`: a code matching step t−1 vs a code matching step t+1.
//!
//! Run with `cargo run --release --manifest-path benches/constant-time/Cargo.toml`.

use authcore::otp::{Algorithm, SecretKey, Totp, TotpParams, Window};
use dudect_bencher::rand::{Rng, RngExt};
use dudect_bencher::{BenchRng, Class, CtRunner, ctbench_main};

const SAMPLES: usize = 100_000;

fn totp(algorithm: Algorithm, rng: &mut BenchRng) -> Totp {
    let mut key = vec![0u8; algorithm.output_len()];
    rng.fill_bytes(&mut key);
    let params = TotpParams::builder().algorithm(algorithm).build().unwrap();
    Totp::new(params, &SecretKey::from_bytes(&key).unwrap())
}

fn code(totp: &Totp, step: u64) -> String {
    totp.generate_at_step(step).expose_secret().to_owned()
}

/// A random time, and the step it falls in.
fn random_time(rng: &mut BenchRng) -> (u64, u64) {
    let now = 1_600_000_000 + rng.random_range(0..400_000_000u64);
    (now, now / 30)
}

/// Times each input. Codes are stored inline (not as separately allocated strings) so both
/// classes are read from equally laid-out memory: heap addresses that differ by class would add a
/// timing difference of their own, unrelated to the code under test.
fn run(runner: &mut CtRunner, totp: &Totp, inputs: Vec<(Class, String, u64)>) {
    let window = Window::default();
    let inline: Vec<(Class, [u8; 6], u64)> = inputs
        .into_iter()
        .map(|(class, code, now)| (class, code.as_bytes().try_into().unwrap(), now))
        .collect();
    for (class, code, now) in &inline {
        let code = std::str::from_utf8(code).unwrap();
        runner.run_one(*class, || totp.verify(code, *now, window, None).is_ok());
    }
}

fn correct_vs_wrong(algorithm: Algorithm, runner: &mut CtRunner, rng: &mut BenchRng) {
    let totp = totp(algorithm, rng);
    let mut inputs = Vec::with_capacity(SAMPLES);
    while inputs.len() < SAMPLES {
        let (now, step) = random_time(rng);
        if rng.random::<bool>() {
            inputs.push((Class::Left, code(&totp, step), now));
        } else {
            let wrong = format!("{:06}", rng.random_range(0..1_000_000u32));
            let window: Vec<String> = (step - 1..=step + 1).map(|s| code(&totp, s)).collect();
            if !window.contains(&wrong) {
                inputs.push((Class::Right, wrong, now));
            }
        }
    }
    run(runner, &totp, inputs);
}

fn past_vs_future(algorithm: Algorithm, runner: &mut CtRunner, rng: &mut BenchRng) {
    let totp = totp(algorithm, rng);
    let mut inputs = Vec::with_capacity(SAMPLES);
    while inputs.len() < SAMPLES {
        let (now, step) = random_time(rng);
        let (past, current, future) = (
            code(&totp, step - 1),
            code(&totp, step),
            code(&totp, step + 1),
        );
        if past == current || past == future || current == future {
            continue; // a coincidence would put the sample in both classes
        }
        if rng.random::<bool>() {
            inputs.push((Class::Left, past, now));
        } else {
            inputs.push((Class::Right, future, now));
        }
    }
    run(runner, &totp, inputs);
}

fn sha1_correct_vs_wrong(runner: &mut CtRunner, rng: &mut BenchRng) {
    correct_vs_wrong(Algorithm::Sha1, runner, rng);
}
fn sha1_past_vs_future(runner: &mut CtRunner, rng: &mut BenchRng) {
    past_vs_future(Algorithm::Sha1, runner, rng);
}
fn sha256_correct_vs_wrong(runner: &mut CtRunner, rng: &mut BenchRng) {
    correct_vs_wrong(Algorithm::Sha256, runner, rng);
}
fn sha256_past_vs_future(runner: &mut CtRunner, rng: &mut BenchRng) {
    past_vs_future(Algorithm::Sha256, runner, rng);
}
fn sha512_correct_vs_wrong(runner: &mut CtRunner, rng: &mut BenchRng) {
    correct_vs_wrong(Algorithm::Sha512, runner, rng);
}
fn sha512_past_vs_future(runner: &mut CtRunner, rng: &mut BenchRng) {
    past_vs_future(Algorithm::Sha512, runner, rng);
}

ctbench_main!(
    sha1_correct_vs_wrong,
    sha1_past_vs_future,
    sha256_correct_vs_wrong,
    sha256_past_vs_future,
    sha512_correct_vs_wrong,
    sha512_past_vs_future
);

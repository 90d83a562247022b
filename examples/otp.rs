//! `otp`: a command-line tool to generate, verify and inspect one-time passwords and otpauth URIs
//! while debugging an authenticator setup.
//!
//! ```text
//! cargo run --example otp -- code --secret GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ --time 59 --digits 8
//! cargo run --example otp -- verify --secret JBSWY3DPEHPK3PXP --code 123456
//! cargo run --example otp -- uri --secret JBSWY3DPEHPK3PXP --issuer Example --account alice@example.com
//! cargo run --example otp -- parse 'otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP'
//! cargo run --features qr --example otp -- new --issuer Example --account alice@example.com
//! ```
//!
//! Exit status: 0 on success (and for an accepted code), 1 for a rejected code, 2 for bad usage or
//! invalid input (the error goes to stderr). Secrets given as arguments are visible to other local
//! users and kept in shell history: use it with test secrets.

use std::process::ExitCode;

use authcore::otp::{
    Algorithm, Digits, Hotp, OtpAuthUri, OtpError, OtpKind, SecretKey, Totp, TotpParams, Window,
};

const USAGE: &str = "\
usage: otp <command> [options]

commands:
  code   --secret B32 [--algorithm A] [--digits D] [--period S] [--time T] [--counter C]
         print the code (TOTP at time T, default now; HOTP with --counter)
  verify --secret B32 --code C [--window W] [--after STEP] [--time T] [--algorithm A]
         [--digits D] [--period S]
         exit 0 and print `accepted step=N`, or exit 1 and print `rejected`
  uri    --secret B32 --account A [--issuer I] [--algorithm A] [--digits D] [--period S]
         [--counter C] [--qr STYLE]
         print the otpauth URI (hotp with --counter)
  parse  URI
         print type, secret, algorithm, digits, period or counter, issuer and account
  new    --account A [--issuer I] [--algorithm A] [--digits D] [--period S] [--qr STYLE]
         generate a secret and print it with its URI and (with --features qr) a QR code

options:
  --algorithm  SHA1 (default), SHA256 or SHA512
  --digits     6 (default), 7 or 8
  --period     seconds per step, 1 to 120 (default 30)
  --time       unix seconds (default now)
  --window     steps accepted either side of the current one, 0 to 5 (default 1)
  --after      the last accepted step: it and older steps are refused (replay watermark)
  --qr         ansi (default for new), light, dark or none (needs --features qr)

Secrets are base32 (lower case, spaces and padding accepted); 80-bit secrets are accepted.";

/// Why the command failed, and so the exit status.
enum Failure {
    /// Bad usage: a message and the usage text on stderr, exit 2.
    Usage(String),
    /// Invalid input: the error on stderr, exit 2.
    Invalid(OtpError),
    /// A code was rejected: `rejected` on stdout, exit 1.
    Rejected,
}

impl From<OtpError> for Failure {
    fn from(e: OtpError) -> Self {
        Self::Invalid(e)
    }
}

fn usage<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Usage(message.into()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Rejected) => {
            println!("rejected");
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("otp: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Invalid(error)) => {
            eprintln!("otp: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let Some((command, rest)) = args.split_first() else {
        return usage("no command given");
    };
    match command.as_str() {
        "code" => code(&Options::parse(rest, &["secret", "counter", "time"], true)?),
        "verify" => verify(&Options::parse(
            rest,
            &["secret", "code", "window", "after", "time"],
            true,
        )?),
        "uri" => uri(&Options::parse(
            rest,
            &["secret", "issuer", "account", "counter", "qr"],
            true,
        )?),
        "parse" => parse(rest),
        "new" => new(&Options::parse(rest, &["issuer", "account", "qr"], true)?),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => usage(format!("unknown command `{other}`")),
    }
}

/// `--name value` or `--name=value` options, each at most once, from a per-command list.
struct Options {
    values: Vec<(String, String)>,
}

impl Options {
    const PARAMS: [&'static str; 3] = ["algorithm", "digits", "period"];

    fn parse(args: &[String], allowed: &[&str], params: bool) -> Result<Self, Failure> {
        let mut values: Vec<(String, String)> = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                return usage(format!("unexpected argument `{arg}`"));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, value.to_owned()),
                None => match iter.next() {
                    Some(value) => (flag, value.clone()),
                    None => return usage(format!("--{flag} needs a value")),
                },
            };
            let known = allowed.contains(&name) || (params && Self::PARAMS.contains(&name));
            if !known {
                return usage(format!("unknown option --{name}"));
            }
            if values.iter().any(|(seen, _)| seen == name) {
                return usage(format!("--{name} given twice"));
            }
            values.push((name.to_owned(), value));
        }
        Ok(Self { values })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(seen, _)| seen == name)
            .map(|(_, value)| value.as_str())
    }

    fn require(&self, name: &str) -> Result<&str, Failure> {
        match self.get(name) {
            Some(value) => Ok(value),
            None => usage(format!("--{name} is required")),
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Failure> {
        match self.get(name) {
            None => Ok(None),
            Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                match text.parse() {
                    Ok(value) => Ok(Some(value)),
                    Err(_) => usage(format!("--{name} is out of range")),
                }
            }
            Some(_) => usage(format!("--{name} must be a number")),
        }
    }

    fn secret(&self) -> Result<SecretKey, Failure> {
        Ok(SecretKey::from_base32_allow_short(self.require("secret")?)?)
    }

    fn algorithm(&self) -> Result<Algorithm, Failure> {
        match self.get("algorithm") {
            Some(name) => Ok(name.parse()?),
            None => Ok(Algorithm::default()),
        }
    }

    fn digits(&self) -> Result<Digits, Failure> {
        let digits = self.number::<u8>("digits")?.unwrap_or(6);
        Ok(Digits::try_from(digits)?)
    }

    fn params(&self) -> Result<TotpParams, Failure> {
        let mut builder = TotpParams::builder()
            .algorithm(self.algorithm()?)
            .digits(self.digits()?.get());
        if let Some(period) = self.number::<u32>("period")? {
            builder = builder.period(period);
        }
        Ok(builder.build()?)
    }

    fn time(&self) -> Result<u64, Failure> {
        Ok(self.number("time")?.unwrap_or_else(now))
    }

    fn qr(&self, default: &str) -> Result<Option<QrStyle>, Failure> {
        match self.get("qr").unwrap_or(default) {
            "none" => Ok(None),
            "ansi" => Ok(Some(QrStyle::Ansi)),
            "light" => Ok(Some(QrStyle::Light)),
            "dark" => Ok(Some(QrStyle::Dark)),
            other => usage(format!(
                "--qr must be ansi, light, dark or none, not `{other}`"
            )),
        }
    }
}

fn code(options: &Options) -> Result<(), Failure> {
    let secret = options.secret()?;
    if let Some(counter) = options.number::<u64>("counter")? {
        if options.get("time").is_some() || options.get("period").is_some() {
            return usage("--counter (HOTP) cannot be combined with --time or --period");
        }
        let hotp = Hotp::new(options.algorithm()?, options.digits()?, &secret);
        println!("{}", hotp.generate(counter).expose_secret());
    } else {
        let totp = Totp::new(options.params()?, &secret);
        println!("{}", totp.generate(options.time()?)?.expose_secret());
    }
    Ok(())
}

fn verify(options: &Options) -> Result<(), Failure> {
    let totp = Totp::new(options.params()?, &options.secret()?);
    let presented = options.require("code")?;
    let window = match options.number::<u8>("window")? {
        Some(steps) => Window::new(steps)?,
        None => Window::default(),
    };
    let after = options.number::<u64>("after")?;
    match totp.verify(presented, options.time()?, window, after) {
        Ok(step) => {
            println!("accepted step={}", step.step());
            Ok(())
        }
        Err(_) => Err(Failure::Rejected),
    }
}

fn uri(options: &Options) -> Result<(), Failure> {
    let secret = options.secret()?;
    let issuer = options.get("issuer");
    let account = options.require("account")?;
    let uri = match options.number::<u64>("counter")? {
        Some(counter) => {
            if options.get("period").is_some() {
                return usage("--counter (HOTP) cannot be combined with --period");
            }
            let (algorithm, digits) = (options.algorithm()?, options.digits()?);
            OtpAuthUri::hotp(issuer, account, secret, algorithm, digits, counter)?
        }
        None => OtpAuthUri::totp(issuer, account, secret, &options.params()?)?,
    };
    println!("{}", uri.expose_uri().as_str());
    print_qr(&uri, options.qr("none")?)
}

fn parse(args: &[String]) -> Result<(), Failure> {
    let [text] = args else {
        return usage("parse takes exactly one URI");
    };
    let uri = OtpAuthUri::parse(text)?;
    println!("type={}", uri.kind().name());
    println!("secret={}", uri.secret().expose_base32().as_str());
    println!("algorithm={}", uri.algorithm().name());
    println!("digits={}", uri.digits().get());
    match uri.kind() {
        OtpKind::Totp { period } => println!("period={period}"),
        OtpKind::Hotp { counter } => println!("counter={counter}"),
        _ => {}
    }
    println!("issuer={}", uri.issuer().unwrap_or_default());
    println!("account={}", uri.account());
    if uri.secret().is_below_minimum() {
        eprintln!(
            "otp: note: the secret has {} bits, below the 128-bit minimum for new secrets",
            uri.secret().len_bits()
        );
    }
    Ok(())
}

fn new(options: &Options) -> Result<(), Failure> {
    let params = options.params()?;
    let secret = generate(params.algorithm())?;
    println!("secret={}", secret.expose_base32().as_str());
    let uri = OtpAuthUri::totp(
        options.get("issuer"),
        options.require("account")?,
        secret,
        &params,
    )?;
    println!("uri={}", uri.expose_uri().as_str());
    print_qr(
        &uri,
        options.qr(if cfg!(feature = "qr") { "ansi" } else { "none" })?,
    )
}

enum QrStyle {
    Ansi,
    Light,
    Dark,
}

#[cfg(feature = "qr")]
fn print_qr(uri: &OtpAuthUri, style: Option<QrStyle>) -> Result<(), Failure> {
    use authcore::otp::TerminalStyle;
    let style = match style {
        None => return Ok(()),
        Some(QrStyle::Ansi) => TerminalStyle::Ansi,
        Some(QrStyle::Light) => TerminalStyle::PlainForLightBackground,
        Some(QrStyle::Dark) => TerminalStyle::PlainForDarkBackground,
    };
    print!("{}", uri.qr_terminal(style)?.as_str());
    Ok(())
}

#[cfg(not(feature = "qr"))]
fn print_qr(_uri: &OtpAuthUri, style: Option<QrStyle>) -> Result<(), Failure> {
    match style {
        None => Ok(()),
        Some(_) => usage("QR codes need the `qr` feature: cargo run --features qr --example otp"),
    }
}

#[cfg(feature = "std")]
fn now() -> u64 {
    authcore::Clock::now(&authcore::otp::SystemClock)
}

#[cfg(not(feature = "std"))]
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(feature = "std")]
fn generate(algorithm: Algorithm) -> Result<SecretKey, Failure> {
    Ok(SecretKey::generate(algorithm)?)
}

#[cfg(not(feature = "std"))]
fn generate(_algorithm: Algorithm) -> Result<SecretKey, Failure> {
    usage("`new` needs the `std` feature (the operating system's random number generator)")
}

//! Out-of-band one-time codes sent by SMS or e-mail (NIST SP 800-63B §5.1.3).
//!
//! A code is 6 to 8 random decimal digits, valid for a short time (default 5 minutes, never more
//! than 10), usable once, and void after a few wrong attempts (default 5). The host stores only an
//! [`OobChallenge`]: an HMAC-SHA-256 of the code under a key the host keeps outside the database
//! ([`OobKey`]), bound to a random per-challenge nonce, with its expiry, attempts left and status.
//!
//! Sending is limited by an [`OobSendLog`]: a cooldown between sends (default 60 s) and a cap on
//! sends in any sliding hour (default 5); codes that verify a new phone number are also capped per
//! day ([`OobConfig::check_verification_send`], default 10).
//!
//! A send log is a *budget of the person who asks*, kept per person and purpose — never per
//! destination. A per-destination budget can be spent by anyone who names the number: another
//! account pointing phone verifications at a victim's number would throttle the victim's own
//! sign-in codes. So a verified owner's sign-in codes count only against their own sign-in
//! budget, and verification codes sent to a number that is not (yet) anyone's factor count
//! against the asking account's verification budget, hourly and daily. No per-destination guard
//! is kept, since every such guard can be turned against the number's owner: how many messages
//! reach one number from many accounts is bounded by the per-account caps times the accounts,
//! and limiting account creation is the host's part.
//!
//! Everything here is pure: the host passes `now` and an RNG, sends the code itself, and persists
//! the returned challenge and send log — each in one guarded update, so that two servers cannot
//! both spend the same code or both count from the same attempt.
//!
//! SMS through the public telephone network is a *restricted* authenticator and e-mail is not an
//! out-of-band authenticator at all in NIST SP 800-63B; see [`crate::credential::factor::FactorKind`].
//!
//! | file | idea |
//! |---|---|
//! | `config` | how codes are issued and checked: [`OobConfig`] and its builder |
//! | `key` | the host's MAC key: [`OobKey`] |
//! | `code` | a generated code, to send and drop: [`OobCode`] |
//! | `challenge` | what the host stores for a code, and its stored form: [`OobChallenge`] |
//! | `verification` | checking a presented code: [`OobVerification`], [`OobOutcome`] |
//! | `send_log` | one send budget as stored: [`OobSendLog`] |
//! | `budget` | whether a code may be sent now: [`SendDecision`] |
//! | `issue` | issuing a code against a budget: [`OobIssue`] |
//! | `error` | [`OobError`] |

mod budget;
mod challenge;
mod code;
mod config;
mod error;
mod issue;
mod key;
mod send_log;
mod verification;

pub use budget::{SendDecision, SendRefusal};
pub use challenge::{OobChallenge, OobStatus};
pub use code::OobCode;
pub use config::{OobConfig, OobConfigBuilder};
pub use error::OobError;
pub use issue::OobIssue;
pub use key::OobKey;
pub use send_log::OobSendLog;
pub use verification::{OobOutcome, OobVerification};

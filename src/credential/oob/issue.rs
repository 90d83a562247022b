//! Issuing a code: [`OobConfig::issue`] and what it returns, [`OobIssue`].

use rand_core::TryCryptoRng;

use crate::credential::oob::budget::{SendDecision, SendRefusal};
use crate::credential::oob::challenge::{OobChallenge, OobStatus};
use crate::credential::oob::code::OobCode;
use crate::credential::oob::config::OobConfig;
use crate::credential::oob::error::OobError;
use crate::credential::oob::key::{NONCE_LEN, OobKey};
use crate::credential::oob::send_log::OobSendLog;

/// The result of [`OobConfig::issue`].
#[derive(Debug)]
#[must_use = "the code must be sent and the challenge and send log persisted"]
pub enum OobIssue {
    /// Send `code` to the destination; persist `challenge` and `log`.
    Send {
        /// The code to send, then drop.
        code: OobCode,
        /// What to store for verification.
        challenge: OobChallenge,
        /// The destination's updated send log.
        log: OobSendLog,
    },
    /// Nothing was generated; tell the person when they may ask again.
    Refused {
        /// Why.
        reason: SendRefusal,
        /// The unix time from which a send may be allowed.
        retry_at: u64,
    },
}

impl OobConfig {
    /// Issues a code for a destination if its send log allows: generates the code, builds the
    /// challenge to store and the updated send log. The host sends the code, persists both
    /// values, and drops the code.
    ///
    /// Issuing a new code for a destination should replace its previous challenge.
    pub fn issue<R: TryCryptoRng + ?Sized>(
        &self,
        key: &OobKey,
        log: &OobSendLog,
        now: u64,
        rng: &mut R,
    ) -> Result<OobIssue, OobError> {
        if let SendDecision::Refused { reason, retry_at } = self.check_send(log, now) {
            return Ok(OobIssue::Refused { reason, retry_at });
        }
        let code = OobCode::generate(self.digits, rng)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.try_fill_bytes(&mut nonce)
            .map_err(|_| OobError::Random)?;
        let challenge = OobChallenge {
            nonce,
            mac: key.mac(&nonce, self.digits, &code.mac_input()),
            digits: self.digits,
            issued_at: now,
            expires_at: now.saturating_add(u64::from(self.ttl)),
            attempts_left: self.max_attempts,
            status: OobStatus::Pending,
        };
        Ok(OobIssue::Send {
            code,
            challenge,
            log: log.record(now),
        })
    }

    /// [`OobConfig::issue`] with the operating system's CSPRNG.
    #[cfg(feature = "std")]
    pub fn issue_with_os_rng(
        &self,
        key: &OobKey,
        log: &OobSendLog,
        now: u64,
    ) -> Result<OobIssue, OobError> {
        self.issue(key, log, now, &mut getrandom::SysRng)
    }
}

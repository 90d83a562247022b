//! The send budget decision: whether a code may be sent now, given the send log of the budget
//! it counts against ([`SendDecision`], [`SendRefusal`]).

use crate::credential::oob::config::OobConfig;
use crate::credential::oob::send_log::{DAY, HOUR, OobSendLog};

/// Why a send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendRefusal {
    /// A code was sent from this budget less than the cooldown ago.
    Cooldown,
    /// This budget has had the hourly cap of sends in the last hour.
    HourlyCap,
    /// The account has had its daily cap of phone-verification codes.
    DailyCap,
}

/// Whether a code may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub enum SendDecision {
    /// Send.
    Allowed,
    /// Do not send.
    Refused {
        /// Why.
        reason: SendRefusal,
        /// The unix time from which a send may be allowed.
        retry_at: u64,
    },
}

impl OobConfig {
    /// Whether a code may be sent now, given the send log of the budget it counts against: the
    /// cooldown and the hourly cap.
    pub fn check_send(&self, log: &OobSendLog, now: u64) -> SendDecision {
        if let Some(last) = log.last() {
            let ready_at = last.saturating_add(u64::from(self.resend_cooldown));
            if now < ready_at {
                return SendDecision::Refused {
                    reason: SendRefusal::Cooldown,
                    retry_at: ready_at,
                };
            }
        }
        let recent = log.recent(now);
        let cap = usize::from(self.hourly_cap);
        if recent.len() >= cap {
            // The send that must leave the hour before another fits under the cap.
            let blocking = recent
                .len()
                .checked_sub(cap)
                .and_then(|i| recent.get(i))
                .copied()
                .unwrap_or(now);
            return SendDecision::Refused {
                reason: SendRefusal::HourlyCap,
                retry_at: blocking.saturating_add(HOUR).max(now.saturating_add(1)),
            };
        }
        SendDecision::Allowed
    }

    /// Whether a code verifying a new phone number may be sent now, given the asking account's
    /// verification send log: [`Self::check_send`], then the daily cap. Record an allowed send
    /// with [`OobSendLog::record_verification`].
    pub fn check_verification_send(&self, log: &OobSendLog, now: u64) -> SendDecision {
        let decision = self.check_send(log, now);
        if decision != SendDecision::Allowed {
            return decision;
        }
        if log.sends_today(now) >= u32::from(self.daily_verification_cap) {
            return SendDecision::Refused {
                reason: SendRefusal::DailyCap,
                retry_at: log.day_start.saturating_add(DAY).max(now.saturating_add(1)),
            };
        }
        SendDecision::Allowed
    }
}

//! [`OobSendLog`]: one send budget as stored, the recent send times and the day window.

use crate::credential::oob::error::OobError;

/// One hour, in seconds.
pub(super) const HOUR: u64 = 3600;
/// One day, in seconds.
pub(super) const DAY: u64 = 24 * HOUR;

/// One send budget — a person's, for one purpose — as stored: the recent send times (at most
/// [`OobSendLog::CAPACITY`], oldest first) for the cooldown and the hourly cap over a sliding
/// hour, and the count of phone-verification sends in the current day window for the daily
/// cap.
///
/// A send log is the budget of the person who asks, kept per person and purpose, never per
/// destination: a per-destination budget can be spent by anyone who names the number, so another
/// account pointing phone verifications at a victim's number would throttle the victim's own
/// sign-in codes. No per-destination guard is kept, since any such guard can be turned against
/// the number's owner; what reaches one number from many accounts is bounded by the per-account
/// caps (hourly, and daily for verifications) times the accounts, and limiting account creation
/// is the host's part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct OobSendLog {
    times: [u64; Self::CAPACITY],
    len: u8,
    pub(super) day_start: u64,
    day_sends: u32,
}

impl OobSendLog {
    /// The most send times a log keeps, and so the highest hourly cap.
    pub const CAPACITY: usize = 10;

    /// An empty log.
    pub const fn new() -> Self {
        Self {
            times: [0; Self::CAPACITY],
            len: 0,
            day_start: 0,
            day_sends: 0,
        }
    }

    /// Rebuilds a log from stored parts: the send times (in any order; at most
    /// [`Self::CAPACITY`]) and the day window ([`Self::day_start`], [`Self::day_sends`]).
    pub fn from_parts(times: &[u64], day_start: u64, day_sends: u32) -> Result<Self, OobError> {
        let mut log = Self::from_sends(times)?;
        log.day_start = day_start;
        log.day_sends = day_sends;
        Ok(log)
    }

    /// When the current day window of verification sends started (0 before the first).
    pub fn day_start(&self) -> u64 {
        self.day_start
    }

    /// The verification sends counted in the window that starts at [`Self::day_start`] (it may
    /// have ended: see [`Self::sends_today`]).
    pub fn day_sends(&self) -> u32 {
        self.day_sends
    }

    /// The verification sends counted in the day window still running at `now`.
    pub fn sends_today(&self, now: u64) -> u32 {
        if self.day_sends > 0 && now < self.day_start.saturating_add(DAY) {
            self.day_sends
        } else {
            0
        }
    }

    /// [`Self::record`], and the send counted in the day window (a new window starts at `now`
    /// once the last one ended): what [`OobConfig::check_verification_send`] caps.
    ///
    /// [`OobConfig::check_verification_send`]: crate::credential::oob::OobConfig::check_verification_send
    pub fn record_verification(&self, now: u64) -> Self {
        let mut next = self.record(now);
        if self.sends_today(now) == 0 {
            next.day_start = now;
            next.day_sends = 1;
        } else {
            next.day_sends = self.day_sends.saturating_add(1);
        }
        next
    }

    /// Rebuilds a log from stored send times (in any order; at most [`Self::CAPACITY`]).
    pub fn from_sends(times: &[u64]) -> Result<Self, OobError> {
        if times.len() > Self::CAPACITY {
            return Err(OobError::SendLog);
        }
        let mut log = Self::new();
        for (dst, src) in log.times.iter_mut().zip(times) {
            *dst = *src;
        }
        log.len = u8::try_from(times.len()).map_err(|_| OobError::SendLog)?;
        if let Some(filled) = log.times.get_mut(..times.len()) {
            filled.sort_unstable();
        }
        Ok(log)
    }

    /// The send times, oldest first.
    pub fn sends(&self) -> &[u64] {
        self.times.get(..usize::from(self.len)).unwrap_or_default()
    }

    pub(super) fn last(&self) -> Option<u64> {
        self.sends().last().copied()
    }

    /// When the log stops mattering: an hour after its last send, when no send is left in the
    /// hourly window and the cooldown (at most [`OobConfig::MAX_COOLDOWN`], an hour) is over, and
    /// not before its day window of verification sends (if any) ends. A store may delete the log
    /// from then on ([`SecretStore::prune_expired`]); an empty log (`None`) never matters.
    ///
    /// [`SecretStore::prune_expired`]: crate::store::SecretStore::prune_expired
    /// [`OobConfig::MAX_COOLDOWN`]: crate::credential::oob::OobConfig::MAX_COOLDOWN
    pub fn expires_at(&self) -> Option<u64> {
        let hourly = self.last().map(|t| t.saturating_add(HOUR));
        let daily = (self.day_sends > 0).then(|| self.day_start.saturating_add(DAY));
        match (hourly, daily) {
            (Some(h), Some(d)) => Some(h.max(d)),
            (h, d) => h.or(d),
        }
    }

    /// The sends within the hour before `now`, oldest first.
    pub(super) fn recent(&self, now: u64) -> &[u64] {
        let sends = self.sends();
        let old = sends
            .iter()
            .take_while(|&&t| t.saturating_add(HOUR) <= now)
            .count();
        sends.get(old..).unwrap_or_default()
    }

    /// The log with a send at `now` added; sends older than an hour are dropped, and when the
    /// log is full the oldest goes. The day window is kept as it is.
    pub fn record(&self, now: u64) -> Self {
        let mut next = Self::new();
        next.day_start = self.day_start;
        next.day_sends = self.day_sends;
        let recent = self.recent(now);
        let keep = recent
            .get(
                recent
                    .len()
                    .saturating_sub(Self::CAPACITY.saturating_sub(1))..,
            )
            .unwrap_or_default();
        for (dst, src) in next.times.iter_mut().zip(keep.iter().chain([now].iter())) {
            *dst = *src;
        }
        next.len = u8::try_from(keep.len().saturating_add(1)).unwrap_or(u8::MAX);
        if let Some(filled) = next.times.get_mut(..usize::from(next.len)) {
            filled.sort_unstable();
        }
        next
    }
}

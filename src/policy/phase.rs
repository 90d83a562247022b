//! The steps of the enrollment ceremony, named apart from the ceremony itself so that the
//! policy errors can say which step a call needed without importing the enrollment.

/// The step an enrollment is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EnrollmentPhase {
    /// A code from the app, to prove the secret was scanned.
    AwaitingCode,
    /// The host to issue and show recovery codes.
    AwaitingRecoveryCodes,
    /// The person to acknowledge they recorded the recovery codes.
    AwaitingAcknowledgement,
}

impl core::fmt::Display for EnrollmentPhase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::AwaitingCode => "awaiting a code",
            Self::AwaitingRecoveryCodes => "awaiting recovery codes",
            Self::AwaitingAcknowledgement => "awaiting acknowledgement",
        })
    }
}

//! The factors a policy speaks of, and small copyable sets of them.
//!
//! [`SecondFactor`] is the policy's own list of second-factor kinds. It is deliberately minimal:
//! the credential modules that verify each kind own the details.

/// A kind of second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SecondFactor {
    /// A code from an authenticator app (TOTP, RFC 6238).
    Totp,
    /// A single-use recovery code. Backup only: it proves a second factor at login, but having
    /// recovery codes alone never counts as having MFA.
    RecoveryCode,
    /// A code sent to a registered phone number.
    Sms,
}

impl SecondFactor {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 3] = [Self::Totp, Self::RecoveryCode, Self::Sms];

    /// Whether this kind can be a person's MFA on its own (everything but recovery codes).
    pub const fn is_primary(self) -> bool {
        !matches!(self, Self::RecoveryCode)
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Totp => 1,
            Self::RecoveryCode => 2,
            Self::Sms => 4,
        }
    }
}

/// Any factor a login can present: the password and the second factors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Factor {
    /// The password (something you know).
    Password,
    /// A code from an authenticator app.
    Totp,
    /// A recovery code.
    RecoveryCode,
    /// A code sent by SMS.
    Sms,
}

impl Factor {
    /// Every factor, in declaration order.
    pub const ALL: [Self; 4] = [Self::Password, Self::Totp, Self::RecoveryCode, Self::Sms];

    /// The second-factor kind, or `None` for the password.
    pub const fn second(self) -> Option<SecondFactor> {
        match self {
            Self::Password => None,
            Self::Totp => Some(SecondFactor::Totp),
            Self::RecoveryCode => Some(SecondFactor::RecoveryCode),
            Self::Sms => Some(SecondFactor::Sms),
        }
    }

    const fn bit(self) -> u8 {
        match self.second() {
            None => 8,
            Some(second) => second.bit(),
        }
    }
}

impl From<SecondFactor> for Factor {
    fn from(kind: SecondFactor) -> Self {
        match kind {
            SecondFactor::Totp => Self::Totp,
            SecondFactor::RecoveryCode => Self::RecoveryCode,
            SecondFactor::Sms => Self::Sms,
        }
    }
}

/// A set of second-factor kinds (what a person has, what a policy counts, what to challenge).
///
/// `Copy`, one byte, no allocation. Serialises as its bit mask (`Totp = 1`, `RecoveryCode = 2`,
/// `Sms = 4`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "u8", into = "u8")
)]
pub struct SecondFactors(u8);

impl SecondFactors {
    /// No kinds.
    pub const EMPTY: Self = Self(0);
    /// Every kind.
    pub const ALL: Self = Self(7);
    const PRIMARY: Self = Self(SecondFactor::Totp.bit() | SecondFactor::Sms.bit());

    /// A set holding one kind.
    pub const fn of(kind: SecondFactor) -> Self {
        Self(kind.bit())
    }

    /// This set plus `kind`.
    #[must_use]
    pub const fn with(self, kind: SecondFactor) -> Self {
        Self(self.0 | kind.bit())
    }

    /// This set without `kind`.
    #[must_use]
    pub const fn without(self, kind: SecondFactor) -> Self {
        Self(self.0 & !kind.bit())
    }

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: SecondFactor) -> bool {
        self.0 & kind.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in both sets.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The kinds in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Only the primary kinds (authenticator app, SMS): the ones that count as having MFA.
    #[must_use]
    pub const fn primary(self) -> Self {
        self.intersection(Self::PRIMARY)
    }

    /// Whether the set holds a primary kind.
    pub const fn has_primary(self) -> bool {
        !self.primary().is_empty()
    }

    /// The kinds in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = SecondFactor> {
        SecondFactor::ALL
            .into_iter()
            .filter(move |kind| self.contains(*kind))
    }

    /// The bit mask.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl FromIterator<SecondFactor> for SecondFactors {
    fn from_iter<I: IntoIterator<Item = SecondFactor>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl core::fmt::Debug for SecondFactors {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl TryFrom<u8> for SecondFactors {
    type Error = crate::PolicyError;

    /// Rebuilds a set from its bit mask; unknown bits are refused.
    fn try_from(bits: u8) -> Result<Self, Self::Error> {
        if bits & !Self::ALL.0 == 0 {
            Ok(Self(bits))
        } else {
            Err(crate::PolicyError::InvalidState(
                "unknown second-factor bits",
            ))
        }
    }
}

impl From<SecondFactors> for u8 {
    fn from(set: SecondFactors) -> Self {
        set.0
    }
}

/// A set of factors: what a login presented, what a grant rests on.
///
/// `Copy`, one byte, no allocation. Serialises as its bit mask (`Totp = 1`, `RecoveryCode = 2`,
/// `Sms = 4`, `Password = 8`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "u8", into = "u8")
)]
pub struct FactorSet(u8);

impl FactorSet {
    /// No factors.
    pub const EMPTY: Self = Self(0);
    const ALL_BITS: u8 = 15;

    /// A set holding one factor.
    pub const fn of(factor: Factor) -> Self {
        Self(factor.bit())
    }

    /// This set plus `factor`.
    #[must_use]
    pub const fn with(self, factor: Factor) -> Self {
        Self(self.0 | factor.bit())
    }

    /// Whether `factor` is in the set.
    pub const fn contains(self, factor: Factor) -> bool {
        self.0 & factor.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The second factors in the set.
    pub const fn second_factors(self) -> SecondFactors {
        SecondFactors(self.0 & SecondFactors::ALL.0)
    }

    /// The factors in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The factors in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Factor> {
        Factor::ALL
            .into_iter()
            .filter(move |factor| self.contains(*factor))
    }

    /// The bit mask.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl From<SecondFactors> for FactorSet {
    fn from(set: SecondFactors) -> Self {
        Self(set.0)
    }
}

impl FromIterator<Factor> for FactorSet {
    fn from_iter<I: IntoIterator<Item = Factor>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl core::fmt::Debug for FactorSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl TryFrom<u8> for FactorSet {
    type Error = crate::PolicyError;

    /// Rebuilds a set from its bit mask; unknown bits are refused.
    fn try_from(bits: u8) -> Result<Self, Self::Error> {
        if bits & !Self::ALL_BITS == 0 {
            Ok(Self(bits))
        } else {
            Err(crate::PolicyError::InvalidState("unknown factor bits"))
        }
    }
}

impl From<FactorSet> for u8 {
    fn from(set: FactorSet) -> Self {
        set.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets() {
        let set = SecondFactors::of(SecondFactor::RecoveryCode);
        assert!(!set.has_primary());
        let set = set.with(SecondFactor::Sms);
        assert!(set.has_primary());
        assert_eq!(set.primary(), SecondFactors::of(SecondFactor::Sms));
        assert_eq!(set.iter().count(), 2);
        assert!(SecondFactors::try_from(8).is_err());
        let factors = FactorSet::of(Factor::Password).with(Factor::Totp);
        assert_eq!(
            factors.second_factors(),
            SecondFactors::of(SecondFactor::Totp)
        );
        assert!(FactorSet::try_from(16).is_err());
        assert_eq!(FactorSet::try_from(15).map(FactorSet::bits), Ok(15));
    }
}

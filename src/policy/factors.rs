//! The factors a policy speaks of, and small copyable sets of them.
//!
//! The kinds of second factor are [`FactorKind`], shared with the throttle and the credential
//! modules; this module adds the password beside them ([`Factor`]) and the sets the policy works
//! with ([`SecondFactors`], [`FactorSet`]).

use crate::credential::factor::FactorKind;

/// The bit of `kind` in [`SecondFactors`] and [`FactorSet`].
const fn bit(kind: FactorKind) -> u8 {
    match kind {
        FactorKind::Totp => 1,
        FactorKind::RecoveryCode => 2,
        FactorKind::OutOfBandSms => 4,
        FactorKind::OutOfBandEmail => 8,
        #[cfg(feature = "passkeys")]
        FactorKind::Passkey => 16,
    }
}

/// The bit of the password in [`FactorSet`]: the top bit, clear of the kinds' bits (which grow
/// from the lowest).
const PASSWORD_BIT: u8 = 0x80;

/// The bit of a remembered device in [`FactorSet`]: below the password's, clear of the kinds'.
const DEVICE_BIT: u8 = 0x40;

/// The bit of user verification in [`FactorSet`] (feature `passkeys`): below the device's.
#[cfg(feature = "passkeys")]
const USER_VERIFIED_BIT: u8 = 0x20;

/// Any factor a login can present: the password, a second factor, or a remembered device
/// standing in for the second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Factor {
    /// The password (something you know).
    Password,
    /// A second factor of this kind.
    Second(FactorKind),
    /// A remembered device ("remember this device"): a device token issued after a full MFA
    /// login, standing in for the second factor at a later login of the same person. It is not
    /// a second-factor kind: it is never challenged for, never counted among
    /// [`SecondFactors`], and a grant resting on it is never fresh
    /// ([`FactorSet::rests_on_remembered_device`]; see [`SessionRecord`](crate::policy::SessionRecord)).
    RememberedDevice,
    /// The person's passkey verified them itself (a PIN or biometrics, WebAuthn flag UV) in the
    /// same gesture as its signature: beside [`FactorKind::Passkey`] it makes a multi-factor
    /// cryptographic authenticator (NIST SP 800-63B §5.1.8), standing in for the password in a
    /// passwordless sign-in. Feature `passkeys`.
    #[cfg(feature = "passkeys")]
    UserVerified,
}

impl Factor {
    /// The second-factor kind, or `None` for the password.
    pub const fn second(self) -> Option<FactorKind> {
        match self {
            Self::Password | Self::RememberedDevice => None,
            #[cfg(feature = "passkeys")]
            Self::UserVerified => None,
            Self::Second(kind) => Some(kind),
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Password => PASSWORD_BIT,
            Self::Second(kind) => bit(kind),
            Self::RememberedDevice => DEVICE_BIT,
            #[cfg(feature = "passkeys")]
            Self::UserVerified => USER_VERIFIED_BIT,
        }
    }
}

impl From<FactorKind> for Factor {
    fn from(kind: FactorKind) -> Self {
        Self::Second(kind)
    }
}

/// A set of second-factor kinds (what a person has, what a policy counts, what to challenge).
///
/// `Copy`, one byte, no allocation. Serialises as its bit mask (`Totp = 1`, `RecoveryCode = 2`,
/// `OutOfBandSms = 4`, `OutOfBandEmail = 8`).
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
    pub const ALL: Self = {
        let mut set = Self::EMPTY;
        let mut rest: &[FactorKind] = &FactorKind::ALL;
        while let [kind, tail @ ..] = rest {
            set = set.with(*kind);
            rest = tail;
        }
        set
    };
    /// The kinds that count as having MFA ([`FactorKind::is_primary`]).
    const PRIMARY: Self = {
        let mut set = Self::EMPTY;
        let mut rest: &[FactorKind] = &FactorKind::ALL;
        while let [kind, tail @ ..] = rest {
            if kind.is_primary() {
                set = set.with(*kind);
            }
            rest = tail;
        }
        set
    };
    /// The restricted kinds ([`FactorKind::is_restricted`]).
    const RESTRICTED: Self = {
        let mut set = Self::EMPTY;
        let mut rest: &[FactorKind] = &FactorKind::ALL;
        while let [kind, tail @ ..] = rest {
            if kind.is_restricted() {
                set = set.with(*kind);
            }
            rest = tail;
        }
        set
    };

    /// A set holding one kind.
    pub const fn of(kind: FactorKind) -> Self {
        Self(bit(kind))
    }

    /// This set plus `kind`.
    #[must_use]
    pub const fn with(self, kind: FactorKind) -> Self {
        Self(self.0 | bit(kind))
    }

    /// This set without `kind`.
    #[must_use]
    pub const fn without(self, kind: FactorKind) -> Self {
        Self(self.0 & !bit(kind))
    }

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: FactorKind) -> bool {
        self.0 & bit(kind) != 0
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

    /// The kinds in the set for which `keep` holds, for example
    /// `set.filter(FactorKind::is_recognised_by_nist)`.
    #[must_use]
    pub fn filter(self, mut keep: impl FnMut(FactorKind) -> bool) -> Self {
        self.iter().filter(|kind| keep(*kind)).collect()
    }

    /// Only the primary kinds ([`FactorKind::is_primary`]: all but recovery codes): the ones that
    /// count as having MFA.
    #[must_use]
    pub const fn primary(self) -> Self {
        self.intersection(Self::PRIMARY)
    }

    /// Whether the set holds a primary kind.
    pub const fn has_primary(self) -> bool {
        !self.primary().is_empty()
    }

    /// This set without the restricted kinds ([`FactorKind::is_restricted`]: SMS). An
    /// organisation refuses restricted authenticators by counting only such a set, for example
    /// `MfaSettings::enforced(SecondFactors::ALL.without_restricted(), grace)`.
    #[must_use]
    pub const fn without_restricted(self) -> Self {
        Self(self.0 & !Self::RESTRICTED.0)
    }

    /// Whether the set holds a restricted kind.
    pub const fn has_restricted(self) -> bool {
        self.0 & Self::RESTRICTED.0 != 0
    }

    /// The kinds in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = FactorKind> {
        FactorKind::ALL
            .into_iter()
            .filter(move |kind| self.contains(*kind))
    }

    /// The bit mask.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl FromIterator<FactorKind> for SecondFactors {
    fn from_iter<I: IntoIterator<Item = FactorKind>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl core::fmt::Debug for SecondFactors {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl TryFrom<u8> for SecondFactors {
    type Error = crate::policy::error::PolicyError;

    /// Rebuilds a set from its bit mask; unknown bits are refused.
    fn try_from(bits: u8) -> Result<Self, Self::Error> {
        if bits & !Self::ALL.0 == 0 {
            Ok(Self(bits))
        } else {
            Err(crate::policy::error::PolicyError::InvalidState(
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
/// `Copy`, one byte, no allocation. Serialises as its bit mask: the second factors' bits as in
/// [`SecondFactors`], `RememberedDevice = 64` and `Password = 128`.
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
    #[cfg(not(feature = "passkeys"))]
    const ALL_BITS: u8 = PASSWORD_BIT | DEVICE_BIT | SecondFactors::ALL.0;
    #[cfg(feature = "passkeys")]
    const ALL_BITS: u8 = PASSWORD_BIT | DEVICE_BIT | USER_VERIFIED_BIT | SecondFactors::ALL.0;

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

    /// Whether a remembered device stands in for the second factor: the set holds
    /// [`Factor::RememberedDevice`] and no second factor. Such a login reaches AAL2 for
    /// authorisation and the organisation's MFA policy, but is never fresh: the sensitive verbs
    /// ask for a re-authentication with a real second factor.
    pub const fn rests_on_remembered_device(self) -> bool {
        self.contains(Factor::RememberedDevice) && self.second_factors().is_empty()
    }

    /// The factors in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The factors in the set: the password first, then the second factors in declaration order,
    /// then a remembered device, then user verification.
    pub fn iter(self) -> impl Iterator<Item = Factor> {
        let password = self.contains(Factor::Password).then_some(Factor::Password);
        let device = self
            .contains(Factor::RememberedDevice)
            .then_some(Factor::RememberedDevice);
        #[cfg(feature = "passkeys")]
        let verified = self
            .contains(Factor::UserVerified)
            .then_some(Factor::UserVerified);
        #[cfg(not(feature = "passkeys"))]
        let verified = None;
        password
            .into_iter()
            .chain(self.second_factors().iter().map(Factor::Second))
            .chain(device)
            .chain(verified)
    }

    /// Whether the set holds a first factor: the password, or (feature `passkeys`) a passkey
    /// that verified the user ([`Factor::UserVerified`]), which stands in for it.
    pub const fn has_first_factor(self) -> bool {
        #[cfg(feature = "passkeys")]
        {
            self.contains(Factor::Password)
                || (self.contains(Factor::UserVerified)
                    && self.contains(Factor::Second(FactorKind::Passkey)))
        }
        #[cfg(not(feature = "passkeys"))]
        {
            self.contains(Factor::Password)
        }
    }

    /// Only the first factors of the set: the password, and user verification.
    #[must_use]
    pub const fn first_factors(self) -> Self {
        #[cfg(feature = "passkeys")]
        {
            Self(self.0 & (PASSWORD_BIT | USER_VERIFIED_BIT))
        }
        #[cfg(not(feature = "passkeys"))]
        {
            Self(self.0 & PASSWORD_BIT)
        }
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
    type Error = crate::policy::error::PolicyError;

    /// Rebuilds a set from its bit mask; unknown bits are refused (with feature `passkeys`
    /// every bit has a meaning).
    fn try_from(bits: u8) -> Result<Self, Self::Error> {
        let unknown = u8::MAX ^ Self::ALL_BITS;
        if bits & unknown == 0 {
            Ok(Self(bits))
        } else {
            Err(crate::policy::error::PolicyError::InvalidState(
                "unknown factor bits",
            ))
        }
    }
}

impl From<FactorSet> for u8 {
    fn from(set: FactorSet) -> Self {
        set.0
    }
}

/// Authenticator assurance level (NIST SP 800-63B §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Aal {
    /// One factor (the password).
    Aal1,
    /// Two factors: the password and a second factor.
    Aal2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets() {
        let set = SecondFactors::of(FactorKind::RecoveryCode);
        assert!(!set.has_primary());
        let set = set.with(FactorKind::OutOfBandSms);
        assert!(set.has_primary());
        assert_eq!(set.primary(), SecondFactors::of(FactorKind::OutOfBandSms));
        assert_eq!(set.iter().count(), 2);
        // The lowest bit no kind uses.
        let unknown = if cfg!(feature = "passkeys") { 0x20 } else { 16 };
        assert!(SecondFactors::try_from(unknown).is_err());
        let factors = FactorSet::of(Factor::Password).with(Factor::Second(FactorKind::Totp));
        assert_eq!(
            factors.second_factors(),
            SecondFactors::of(FactorKind::Totp)
        );
        #[cfg(not(feature = "passkeys"))]
        assert!(FactorSet::try_from(unknown).is_err());
        // Without the feature 0x20 is nobody's; with it, user verification's.
        #[cfg(not(feature = "passkeys"))]
        assert!(FactorSet::try_from(0x20).is_err());
        #[cfg(feature = "passkeys")]
        assert_eq!(
            FactorSet::try_from(0x20),
            Ok(FactorSet::of(Factor::UserVerified))
        );
        assert_eq!(FactorSet::try_from(0xcf).map(FactorSet::bits), Ok(0xcf));
    }

    #[test]
    fn every_kind_has_its_own_bit() {
        let mut seen = 0u8;
        for kind in FactorKind::ALL {
            let bit = SecondFactors::of(kind).bits();
            assert_eq!(bit.count_ones(), 1, "{kind:?}");
            assert_eq!(seen & bit, 0, "{kind:?}");
            assert_eq!(bit & PASSWORD_BIT, 0, "{kind:?}");
            seen |= bit;
        }
        assert_eq!(SecondFactors::ALL.bits(), seen);
        assert_eq!(
            SecondFactors::ALL.iter().collect::<alloc::vec::Vec<_>>(),
            FactorKind::ALL
        );
        let factors: FactorSet = FactorKind::ALL
            .into_iter()
            .map(Factor::from)
            .chain([Factor::Password, Factor::RememberedDevice])
            .collect();
        #[cfg(feature = "passkeys")]
        let factors = factors.with(Factor::UserVerified);
        assert_eq!(factors.bits(), FactorSet::ALL_BITS);
        assert_eq!(factors.iter().next(), Some(Factor::Password));
        #[cfg(not(feature = "passkeys"))]
        assert_eq!(factors.iter().last(), Some(Factor::RememberedDevice));
        #[cfg(feature = "passkeys")]
        assert_eq!(factors.iter().last(), Some(Factor::UserVerified));
        let others = if cfg!(feature = "passkeys") { 3 } else { 2 };
        assert_eq!(factors.iter().count(), FactorKind::ALL.len() + others);
        assert_eq!(Factor::RememberedDevice.second(), None);
    }

    #[test]
    fn a_remembered_device_stands_in_only_alone() {
        let password = FactorSet::of(Factor::Password);
        let device = password.with(Factor::RememberedDevice);
        assert!(device.rests_on_remembered_device());
        assert!(
            device.second_factors().is_empty(),
            "not a second-factor kind"
        );
        assert!(!password.rests_on_remembered_device());
        assert!(
            !device
                .with(Factor::Second(FactorKind::Totp))
                .rests_on_remembered_device(),
            "a real second factor beside it"
        );
        assert_eq!(device.bits(), PASSWORD_BIT | DEVICE_BIT);
        assert_eq!(DEVICE_BIT & SecondFactors::ALL.bits(), 0);
    }

    #[test]
    fn set_operations_at_their_edges() {
        let totp = SecondFactors::of(FactorKind::Totp);
        let backup = totp.with(FactorKind::RecoveryCode);
        // Adding a kind already present, or uniting overlapping sets, keeps it.
        assert_eq!(totp.with(FactorKind::Totp), totp);
        assert_eq!(totp.union(backup), backup);
        assert_eq!(backup.union(totp), backup);
        // Taking out a kind that is absent changes nothing; one that is present, only it.
        assert_eq!(totp.without(FactorKind::OutOfBandSms), totp);
        assert_eq!(backup.without(FactorKind::RecoveryCode), totp);
        assert_eq!(
            backup.intersection(totp.with(FactorKind::OutOfBandSms)),
            totp
        );
        assert!(backup.contains(FactorKind::RecoveryCode));
        assert!(!backup.contains(FactorKind::OutOfBandSms));
        assert!(!SecondFactors::EMPTY.contains(FactorKind::Totp));
        assert!(SecondFactors::EMPTY.is_empty());
        assert!(!totp.is_empty());

        let password = FactorSet::of(Factor::Password);
        let both = password.with(Factor::Second(FactorKind::Totp));
        assert_eq!(password.with(Factor::Password), password);
        assert_eq!(both.union(password), both);
        assert_eq!(password.union(both), both);
        assert!(both.contains(Factor::Password));
        assert!(!both.contains(Factor::RememberedDevice));
        assert!(!FactorSet::EMPTY.contains(Factor::Password));
        assert!(FactorSet::EMPTY.is_empty());
        assert!(!password.is_empty());
        assert_eq!(both.second_factors(), totp);
        assert_eq!(password.second_factors(), SecondFactors::EMPTY);
    }

    #[test]
    fn conversions_and_debug_forms() {
        assert_eq!(
            Factor::Second(FactorKind::OutOfBandSms).second(),
            Some(FactorKind::OutOfBandSms)
        );
        assert_eq!(Factor::Password.second(), None);
        assert_eq!(
            Factor::from(FactorKind::RecoveryCode),
            Factor::Second(FactorKind::RecoveryCode)
        );

        let set = SecondFactors::of(FactorKind::Totp).with(FactorKind::OutOfBandSms);
        assert_eq!(u8::from(set), 5);
        assert_eq!(SecondFactors::try_from(5), Ok(set));
        assert_eq!(SecondFactors::try_from(0), Ok(SecondFactors::EMPTY));
        assert_eq!(
            SecondFactors::try_from(SecondFactors::ALL.bits()),
            Ok(SecondFactors::ALL)
        );
        assert_eq!(
            SecondFactors::try_from(0x40),
            Err(crate::policy::error::PolicyError::InvalidState(
                "unknown second-factor bits"
            ))
        );
        assert_eq!(
            FactorSet::from(set),
            FactorSet::of(Factor::Second(FactorKind::Totp))
                .with(Factor::Second(FactorKind::OutOfBandSms))
        );
        let factors = FactorSet::of(Factor::Password).with(Factor::RememberedDevice);
        assert_eq!(u8::from(factors), 0xc0);
        assert_eq!(FactorSet::try_from(0xc0), Ok(factors));
        assert_eq!(FactorSet::try_from(0), Ok(FactorSet::EMPTY));
        #[cfg(not(feature = "passkeys"))]
        assert_eq!(
            FactorSet::try_from(0x20),
            Err(crate::policy::error::PolicyError::InvalidState(
                "unknown factor bits"
            ))
        );
        // With passkeys every bit names a factor: 0x20 is the user verification.
        #[cfg(feature = "passkeys")]
        assert_eq!(
            FactorSet::try_from(0x20),
            Ok(FactorSet::of(Factor::UserVerified))
        );

        assert_eq!(alloc::format!("{set:?}"), "{Totp, OutOfBandSms}");
        assert_eq!(alloc::format!("{:?}", SecondFactors::EMPTY), "{}");
        assert_eq!(
            alloc::format!("{:?}", factors.with(Factor::Second(FactorKind::Totp))),
            "{Password, Second(Totp), RememberedDevice}"
        );
    }

    #[test]
    fn classes_follow_the_kinds() {
        assert_eq!(
            SecondFactors::ALL.primary(),
            SecondFactors::ALL.filter(FactorKind::is_primary)
        );
        assert_eq!(
            SecondFactors::ALL.without_restricted(),
            SecondFactors::ALL.filter(|kind| !kind.is_restricted())
        );
        assert!(!SecondFactors::ALL.without_restricted().has_restricted());
        assert!(
            !SecondFactors::ALL
                .without_restricted()
                .contains(FactorKind::OutOfBandSms)
        );
        assert!(SecondFactors::ALL.has_restricted());
        assert_eq!(
            SecondFactors::ALL.filter(FactorKind::is_recognised_by_nist),
            SecondFactors::ALL.without(FactorKind::OutOfBandEmail)
        );
    }

    #[test]
    fn a_first_factor_is_the_password_or_a_user_verifying_passkey() {
        let password = FactorSet::of(Factor::Password);
        assert!(password.has_first_factor());
        assert!(
            password
                .with(Factor::Second(FactorKind::Totp))
                .has_first_factor()
        );
        assert!(!FactorSet::EMPTY.has_first_factor());
        assert!(!FactorSet::of(Factor::Second(FactorKind::Totp)).has_first_factor());
        assert!(!FactorSet::of(Factor::RememberedDevice).has_first_factor());
        let everything: FactorSet = FactorKind::ALL
            .into_iter()
            .map(Factor::from)
            .chain([Factor::Password, Factor::RememberedDevice])
            .collect();
        assert_eq!(everything.first_factors(), password);
        assert_eq!(password.first_factors(), password);
        assert_eq!(FactorSet::EMPTY.first_factors(), FactorSet::EMPTY);
        assert_eq!(
            FactorSet::of(Factor::Second(FactorKind::Totp)).first_factors(),
            FactorSet::EMPTY
        );
        #[cfg(feature = "passkeys")]
        {
            let passkey = FactorSet::of(Factor::Second(FactorKind::Passkey));
            let verified = FactorSet::of(Factor::UserVerified);
            assert!(passkey.with(Factor::UserVerified).has_first_factor());
            assert!(!passkey.has_first_factor(), "a passkey alone");
            assert!(!verified.has_first_factor(), "user verification alone");
            assert!(
                !verified
                    .with(Factor::Second(FactorKind::Totp))
                    .has_first_factor(),
                "user verification beside another kind"
            );
            let all = everything.with(Factor::UserVerified);
            assert_eq!(all.first_factors(), password.with(Factor::UserVerified));
            assert_eq!(passkey.with(Factor::UserVerified).first_factors(), verified);
        }
    }
}

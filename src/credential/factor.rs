//! The kinds of second factor a person can hold, and how NIST SP 800-63B classes them.

/// A kind of second factor (an authenticator used in addition to the password).
///
/// The crate's one vocabulary for second factors: a person's factors, the kinds an organisation's
/// policy counts and the factors a login presented are sets of it
/// ([`SecondFactors`](crate::policy::factors::SecondFactors), [`FactorSet`](crate::policy::factors::FactorSet)); the throttle maps
/// it to its failure counter with [`FactorKind::throttled`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum FactorKind {
    /// An authenticator app producing TOTP codes (RFC 6238; NIST SP 800-63B §5.1.4,
    /// single-factor OTP device).
    Totp,
    /// A single-use recovery code from a set shown once at enrollment (NIST SP 800-63B §5.1.2,
    /// look-up secret). Backup only: it proves a second factor at login, but having recovery codes
    /// alone never counts as having MFA (see [`FactorKind::is_primary`]).
    RecoveryCode,
    /// A one-time code sent by SMS to a registered phone number (NIST SP 800-63B §5.1.3.3, out of
    /// band through the public telephone network: a restricted authenticator).
    OutOfBandSms,
    /// A one-time code sent by e-mail. NIST SP 800-63B §5.1.3.1 does not accept e-mail as an
    /// out-of-band authenticator, because it does not prove possession of a specific device.
    OutOfBandEmail,
    /// A passkey or security key (WebAuthn; NIST SP 800-63B §5.1.8, multi-factor cryptographic
    /// authenticator when it verifies the user, single-factor otherwise): bound to the relying
    /// party's origin, so it is phishing-resistant (§5.2.5). Feature `passkeys`.
    #[cfg(feature = "passkeys")]
    Passkey,
}

impl FactorKind {
    /// Every kind, in declaration order.
    #[cfg(not(feature = "passkeys"))]
    pub const ALL: [Self; 4] = [
        Self::Totp,
        Self::RecoveryCode,
        Self::OutOfBandSms,
        Self::OutOfBandEmail,
    ];

    /// Every kind, in declaration order.
    #[cfg(feature = "passkeys")]
    pub const ALL: [Self; 5] = [
        Self::Totp,
        Self::RecoveryCode,
        Self::OutOfBandSms,
        Self::OutOfBandEmail,
        Self::Passkey,
    ];

    /// Whether this kind resists phishing (NIST SP 800-63B §5.2.5, verifier-impersonation
    /// resistance): only a passkey or security key, whose signature covers the origin.
    pub const fn is_phishing_resistant(self) -> bool {
        #[cfg(feature = "passkeys")]
        {
            matches!(self, Self::Passkey)
        }
        #[cfg(not(feature = "passkeys"))]
        {
            let _ = self;
            false
        }
    }

    /// Whether this kind can be a person's MFA on its own: every kind but recovery codes, which
    /// are a backup beside another kind.
    pub const fn is_primary(self) -> bool {
        !matches!(self, Self::RecoveryCode)
    }

    /// Whether NIST SP 800-63B classes this kind as a *restricted* authenticator (§5.2.10): one
    /// with known weaknesses that a verifier may offer only with an alternative, a notice to the
    /// subscriber and a migration plan. SMS through the public telephone network is restricted
    /// (§5.1.3.3): numbers can be ported or redirected and messages intercepted.
    ///
    /// An organisation policy refuses every restricted kind by leaving them out of the kinds it
    /// counts, for example with [`crate::policy::factors::SecondFactors::without_restricted`].
    pub const fn is_restricted(self) -> bool {
        matches!(self, Self::OutOfBandSms)
    }

    /// Whether NIST SP 800-63B recognises this kind as an authenticator at all. E-mail is not
    /// (§5.1.3.1): a policy that follows the guideline strictly should refuse it, restricted or not.
    pub const fn is_recognised_by_nist(self) -> bool {
        !matches!(self, Self::OutOfBandEmail)
    }

    /// Whether this kind delivers a code out of band (SMS or e-mail).
    pub const fn is_out_of_band(self) -> bool {
        matches!(self, Self::OutOfBandSms | Self::OutOfBandEmail)
    }

    /// The failure counter this kind is throttled under. SMS and e-mail codes share the
    /// out-of-band counter.
    pub const fn throttled(self) -> ThrottledFactor {
        match self {
            Self::Totp => ThrottledFactor::Totp,
            Self::RecoveryCode => ThrottledFactor::RecoveryCode,
            Self::OutOfBandSms | Self::OutOfBandEmail => ThrottledFactor::OutOfBand,
            #[cfg(feature = "passkeys")]
            Self::Passkey => ThrottledFactor::Passkey,
        }
    }
}

/// The separate failure counters an account has: one per kind of secret an attacker could guess,
/// so that guessing passwords cannot lock out the second factor, and the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThrottledFactor {
    /// The password.
    Password,
    /// TOTP codes.
    Totp,
    /// Recovery codes.
    RecoveryCode,
    /// Out-of-band codes (SMS and e-mail).
    OutOfBand,
    /// Passkey and security-key assertions (feature `passkeys`).
    #[cfg(feature = "passkeys")]
    Passkey,
}

impl ThrottledFactor {
    /// Every counter, in declaration order.
    #[cfg(not(feature = "passkeys"))]
    pub const ALL: [Self; 4] = [
        Self::Password,
        Self::Totp,
        Self::RecoveryCode,
        Self::OutOfBand,
    ];

    /// Every counter, in declaration order.
    #[cfg(feature = "passkeys")]
    pub const ALL: [Self; 5] = [
        Self::Password,
        Self::Totp,
        Self::RecoveryCode,
        Self::OutOfBand,
        Self::Passkey,
    ];
}

impl From<FactorKind> for ThrottledFactor {
    fn from(kind: FactorKind) -> Self {
        kind.throttled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sms_is_restricted() {
        let restricted: alloc::vec::Vec<_> = FactorKind::ALL
            .into_iter()
            .filter(|k| k.is_restricted())
            .collect();
        assert_eq!(restricted, [FactorKind::OutOfBandSms]);
        assert!(!FactorKind::OutOfBandEmail.is_recognised_by_nist());
        assert!(FactorKind::OutOfBandSms.is_recognised_by_nist());
        assert!(FactorKind::Totp.is_recognised_by_nist());
    }

    #[test]
    fn only_recovery_codes_are_backup() {
        let backup: alloc::vec::Vec<_> = FactorKind::ALL
            .into_iter()
            .filter(|k| !k.is_primary())
            .collect();
        assert_eq!(backup, [FactorKind::RecoveryCode]);
    }

    #[test]
    fn throttle_counters() {
        assert_eq!(
            ThrottledFactor::from(FactorKind::OutOfBandSms),
            ThrottledFactor::OutOfBand
        );
        assert_eq!(
            FactorKind::OutOfBandEmail.throttled(),
            ThrottledFactor::OutOfBand
        );
        assert_eq!(FactorKind::Totp.throttled(), ThrottledFactor::Totp);
        assert_eq!(
            FactorKind::RecoveryCode.throttled(),
            ThrottledFactor::RecoveryCode
        );
    }

    #[test]
    fn only_sms_and_email_are_out_of_band() {
        let out_of_band: alloc::vec::Vec<_> = FactorKind::ALL
            .into_iter()
            .filter(|k| k.is_out_of_band())
            .collect();
        assert_eq!(
            out_of_band,
            [FactorKind::OutOfBandSms, FactorKind::OutOfBandEmail]
        );
    }

    #[test]
    fn only_a_passkey_resists_phishing() {
        let resistant: alloc::vec::Vec<_> = FactorKind::ALL
            .into_iter()
            .filter(|k| k.is_phishing_resistant())
            .collect();
        #[cfg(feature = "passkeys")]
        assert_eq!(resistant, [FactorKind::Passkey]);
        #[cfg(not(feature = "passkeys"))]
        assert!(resistant.is_empty());
    }
}

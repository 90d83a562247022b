//! [`ServerSideOnly`]: the one door through which a state holding a secret is serialised.

use core::fmt;

/// Marks a secret-holding state as being serialised for server-side storage only.
///
/// `ServerSideOnly<&T>` serialises and `ServerSideOnly<T>` deserialises, for `T` one of
/// [`crate::policy::enrollment::Mfa`], [`crate::policy::enrollment::AuthenticatorApp`] and [`crate::policy::enrollment::Enrollment`] (with the `serde` feature).
/// Its `Debug` prints a redaction.
///
/// [`crate::policy::enrollment::Mfa`], [`crate::policy::enrollment::AuthenticatorApp`] and [`crate::policy::enrollment::Enrollment`] hold TOTP secrets, so they
/// do not implement `Serialize` or `Deserialize` themselves: a state cannot end up in a cookie, a
/// log line or an API response because someone derived or called `serde_json::to_string` on it.
/// To store one, wrap it by name:
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use authcore::PersonId;
/// use authcore::policy::{Mfa, ServerSideOnly};
///
/// let mfa = Mfa::new(PersonId::new(7));
/// let stored = serde_json::to_string(&ServerSideOnly::new(&mfa)).unwrap();
/// let loaded: ServerSideOnly<Mfa> = serde_json::from_str(&stored).unwrap();
/// assert_eq!(loaded.into_inner().person(), PersonId::new(7));
/// # }
/// ```
///
/// The output contains the secrets (base32). It belongs only in server-side storage that the
/// host protects like any other key material (ideally encrypted at rest); never send it to a
/// browser or app, never log it. Decoding checks the state's invariants and refuses anything
/// inconsistent.
pub struct ServerSideOnly<T>(T);

impl<T> ServerSideOnly<T> {
    /// Wraps a state (or a reference to one) for server-side storage.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The state.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// The state, borrowed.
    pub const fn get(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for ServerSideOnly<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSideOnly([REDACTED])")
    }
}

#[cfg(feature = "serde")]
mod codec {
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::fmt;

    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;
    use serde::{Deserialize, Serialize};

    use super::ServerSideOnly;
    use crate::otp::algorithm::Algorithm;
    use crate::otp::secret::SecretKey;
    use crate::otp::totp::TotpParams;
    use crate::policy::enrollment::Step;
    use crate::policy::enrollment::{AuthenticatorApp, AuthenticatorName, Enrollment, Mfa};
    use crate::policy::ids::{AuthenticatorId, PersonId};

    /// The version of the stored form: 2 writes the person in the text form of [`PersonId`]; 1,
    /// still read, held it as a JSON number.
    const VERSION: u8 = 2;

    /// The version whose person is a number.
    const NUMBER_PERSON: u8 = 1;

    /// A key written as base32 text.
    struct KeyOut<'a>(&'a SecretKey);

    impl Serialize for KeyOut<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&self.0.expose_base32())
        }
    }

    /// A key read from base32 text, straight into a wiped-on-drop key.
    struct KeyIn(SecretKey);

    impl<'de> Deserialize<'de> for KeyIn {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeyVisitor;

            impl Visitor<'_> for KeyVisitor {
                type Value = KeyIn;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a base32 secret key")
                }

                fn visit_str<E: de::Error>(self, text: &str) -> Result<KeyIn, E> {
                    SecretKey::from_base32_allow_short(text)
                        .map(KeyIn)
                        .map_err(|_| E::custom("invalid secret key"))
                }
            }

            deserializer.deserialize_str(KeyVisitor)
        }
    }

    #[derive(Serialize, Deserialize)]
    struct ParamsRepr {
        algorithm: String,
        digits: u8,
        period: u32,
        t0: u64,
    }

    impl From<TotpParams> for ParamsRepr {
        fn from(params: TotpParams) -> Self {
            Self {
                algorithm: String::from(params.algorithm().name()),
                digits: params.digits().get(),
                period: params.period(),
                t0: params.t0(),
            }
        }
    }

    impl ParamsRepr {
        fn into_params<E: de::Error>(self) -> Result<TotpParams, E> {
            let algorithm: Algorithm = self
                .algorithm
                .parse()
                .map_err(|_| E::custom("unknown algorithm"))?;
            TotpParams::builder()
                .algorithm(algorithm)
                .digits(self.digits)
                .period(self.period)
                .t0(self.t0)
                .build()
                .map_err(|_| E::custom("invalid TOTP parameters"))
        }
    }

    #[derive(Serialize)]
    struct AuthenticatorOut<'a> {
        id: AuthenticatorId,
        name: &'a AuthenticatorName,
        secret: KeyOut<'a>,
        params: ParamsRepr,
        last_accepted_step: u64,
        enrolled_at: u64,
    }

    impl<'a> From<&'a AuthenticatorApp> for AuthenticatorOut<'a> {
        fn from(a: &'a AuthenticatorApp) -> Self {
            Self {
                id: a.id,
                name: &a.name,
                secret: KeyOut(&a.secret),
                params: a.params.into(),
                last_accepted_step: a.last_accepted_step,
                enrolled_at: a.enrolled_at,
            }
        }
    }

    #[derive(Deserialize)]
    struct AuthenticatorIn {
        id: AuthenticatorId,
        name: AuthenticatorName,
        secret: KeyIn,
        params: ParamsRepr,
        last_accepted_step: u64,
        enrolled_at: u64,
    }

    impl AuthenticatorIn {
        fn into_state<E: de::Error>(self) -> Result<AuthenticatorApp, E> {
            Ok(AuthenticatorApp {
                id: self.id,
                name: self.name,
                secret: self.secret.0,
                params: self.params.into_params()?,
                last_accepted_step: self.last_accepted_step,
                enrolled_at: self.enrolled_at,
            })
        }
    }

    #[derive(Serialize)]
    struct EnrollmentOut<'a> {
        authenticator: AuthenticatorId,
        name: &'a AuthenticatorName,
        replaces: Option<AuthenticatorId>,
        secret: KeyOut<'a>,
        params: ParamsRepr,
        started_at: u64,
        expires_at: u64,
        step: Step,
    }

    impl<'a> From<&'a Enrollment> for EnrollmentOut<'a> {
        fn from(e: &'a Enrollment) -> Self {
            Self {
                authenticator: e.authenticator,
                name: &e.name,
                replaces: e.replaces,
                secret: KeyOut(&e.secret),
                params: e.params.into(),
                started_at: e.started_at,
                expires_at: e.expires_at,
                step: e.step,
            }
        }
    }

    #[derive(Deserialize)]
    struct EnrollmentIn {
        authenticator: AuthenticatorId,
        name: AuthenticatorName,
        replaces: Option<AuthenticatorId>,
        secret: KeyIn,
        params: ParamsRepr,
        started_at: u64,
        expires_at: u64,
        step: Step,
    }

    impl EnrollmentIn {
        fn into_state<E: de::Error>(self) -> Result<Enrollment, E> {
            if self.expires_at < self.started_at {
                return Err(E::custom("an enrollment that expires before it starts"));
            }
            Ok(Enrollment {
                authenticator: self.authenticator,
                name: self.name,
                replaces: self.replaces,
                secret: self.secret.0,
                params: self.params.into_params()?,
                started_at: self.started_at,
                expires_at: self.expires_at,
                step: self.step,
            })
        }
    }

    #[derive(Serialize)]
    struct MfaOut<'a> {
        version: u8,
        person: PersonId,
        authenticators: Vec<AuthenticatorOut<'a>>,
        enrollment: Option<EnrollmentOut<'a>>,
        recovery_codes_issued_at: Option<u64>,
        next_authenticator: u32,
    }

    /// The stored MFA state, read field by field because the form of the person depends on the
    /// version, which therefore comes first (as [`MfaOut`] writes it).
    struct MfaIn {
        person: PersonId,
        authenticators: Vec<AuthenticatorIn>,
        enrollment: Option<EnrollmentIn>,
        recovery_codes_issued_at: Option<u64>,
        next_authenticator: u32,
    }

    #[derive(Deserialize)]
    #[serde(field_identifier, rename_all = "snake_case")]
    enum MfaField {
        Version,
        Person,
        Authenticators,
        Enrollment,
        RecoveryCodesIssuedAt,
        NextAuthenticator,
        #[serde(other)]
        Unknown,
    }

    const MFA_FIELDS: &[&str] = &[
        "version",
        "person",
        "authenticators",
        "enrollment",
        "recovery_codes_issued_at",
        "next_authenticator",
    ];

    /// The person of a state of `version`: a number in version 1, the text form since.
    fn person_of<'de, A: de::MapAccess<'de>>(
        version: Option<u8>,
        map: &mut A,
    ) -> Result<PersonId, A::Error> {
        match version {
            None => Err(de::Error::custom(
                "the version of the stored MFA state comes before the person",
            )),
            Some(NUMBER_PERSON) => map.next_value::<u128>().map(PersonId::new),
            Some(version) => {
                check_version(version)?;
                map.next_value()
            }
        }
    }

    struct MfaVisitor;

    impl<'de> Visitor<'de> for MfaVisitor {
        type Value = MfaIn;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a stored MFA state")
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<MfaIn, A::Error> {
            fn once<T, E: de::Error>(
                slot: &mut Option<T>,
                value: T,
                name: &'static str,
            ) -> Result<(), E> {
                if slot.replace(value).is_some() {
                    Err(E::duplicate_field(name))
                } else {
                    Ok(())
                }
            }
            let mut version = None;
            let mut person = None;
            let mut authenticators = None;
            let mut enrollment = None;
            let mut recovery_codes_issued_at = None;
            let mut next_authenticator = None;
            while let Some(field) = map.next_key::<MfaField>()? {
                match field {
                    MfaField::Version => once(&mut version, map.next_value()?, "version")?,
                    MfaField::Person => {
                        let value = person_of(version, &mut map)?;
                        once(&mut person, value, "person")?;
                    }
                    MfaField::Authenticators => {
                        once(&mut authenticators, map.next_value()?, "authenticators")?;
                    }
                    MfaField::Enrollment => once(&mut enrollment, map.next_value()?, "enrollment")?,
                    MfaField::RecoveryCodesIssuedAt => once(
                        &mut recovery_codes_issued_at,
                        map.next_value()?,
                        "recovery_codes_issued_at",
                    )?,
                    MfaField::NextAuthenticator => once(
                        &mut next_authenticator,
                        map.next_value()?,
                        "next_authenticator",
                    )?,
                    MfaField::Unknown => {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
            }
            if version.is_none() {
                return Err(de::Error::missing_field("version"));
            }
            Ok(MfaIn {
                person: person.ok_or_else(|| de::Error::missing_field("person"))?,
                authenticators: authenticators
                    .ok_or_else(|| de::Error::missing_field("authenticators"))?,
                enrollment: enrollment.unwrap_or_default(),
                recovery_codes_issued_at: recovery_codes_issued_at.unwrap_or_default(),
                next_authenticator: next_authenticator
                    .ok_or_else(|| de::Error::missing_field("next_authenticator"))?,
            })
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<MfaIn, A::Error> {
            let version: u8 = seq
                .next_element()?
                .ok_or_else(|| de::Error::invalid_length(0, &self))?;
            let person = if version == NUMBER_PERSON {
                seq.next_element::<u128>()?.map(PersonId::new)
            } else {
                check_version(version)?;
                seq.next_element()?
            };
            Ok(MfaIn {
                person: person.ok_or_else(|| de::Error::invalid_length(1, &self))?,
                authenticators: seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(2, &self))?,
                enrollment: seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(3, &self))?,
                recovery_codes_issued_at: seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(4, &self))?,
                next_authenticator: seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(5, &self))?,
            })
        }
    }

    impl<'de> Deserialize<'de> for MfaIn {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_struct("MfaIn", MFA_FIELDS, MfaVisitor)
        }
    }

    fn check_version<E: de::Error>(version: u8) -> Result<(), E> {
        if version == VERSION {
            Ok(())
        } else {
            Err(E::custom("unknown version of the stored MFA state"))
        }
    }

    impl Serialize for ServerSideOnly<&Mfa> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mfa = self.0;
            MfaOut {
                version: VERSION,
                person: mfa.person,
                authenticators: mfa.authenticators.iter().map(Into::into).collect(),
                enrollment: mfa.enrollment.as_ref().map(Into::into),
                recovery_codes_issued_at: mfa.recovery_codes_issued_at,
                next_authenticator: mfa.next_authenticator,
            }
            .serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for ServerSideOnly<Mfa> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let stored = MfaIn::deserialize(deserializer)?;
            let mfa = Mfa {
                person: stored.person,
                authenticators: stored
                    .authenticators
                    .into_iter()
                    .map(AuthenticatorIn::into_state)
                    .collect::<Result<_, _>>()?,
                enrollment: stored
                    .enrollment
                    .map(EnrollmentIn::into_state)
                    .transpose()?,
                recovery_codes_issued_at: stored.recovery_codes_issued_at,
                next_authenticator: stored.next_authenticator,
            };
            mfa.check().map_err(de::Error::custom)?;
            Ok(Self(mfa))
        }
    }

    impl Serialize for ServerSideOnly<&AuthenticatorApp> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            AuthenticatorOut::from(self.0).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for ServerSideOnly<AuthenticatorApp> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            AuthenticatorIn::deserialize(deserializer)?
                .into_state()
                .map(Self)
        }
    }

    impl Serialize for ServerSideOnly<&Enrollment> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            EnrollmentOut::from(self.0).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for ServerSideOnly<Enrollment> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            EnrollmentIn::deserialize(deserializer)?
                .into_state()
                .map(Self)
        }
    }
}

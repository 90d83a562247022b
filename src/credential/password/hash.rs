//! argon2id password hashing in PHC strings (RFC 9106, the PHC string format).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use argon2::{Algorithm, Argon2, AssociatedData, KeyId, Params, ParamsBuilder, Version};
use password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use rand_core::TryCryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use super::{Password, PasswordError, PasswordPolicy};

/// The cost parameters of argon2id: memory in KiB, iterations, lanes.
///
/// [`HashParams::new`] refuses anything weaker than the OWASP Password Storage Cheat Sheet /
/// ASVS 5 table: `t = 1` needs `m ≥ 47104` KiB, `t = 2` needs `m ≥ 19456` KiB, `t ≥ 3` needs
/// `m ≥ 12288` KiB. The default is `m = 19456` KiB (19 MiB), `t = 2`, `p = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

impl HashParams {
    /// The default: m = 19456 KiB, t = 2, p = 1.
    pub const DEFAULT: Self = Self {
        m_kib: 19_456,
        t: 2,
        p: 1,
    };

    /// Parameters at or above the OWASP / ASVS 5 minimum; weaker ones are
    /// [`PasswordError::WeakParams`], impossible ones [`PasswordError::InvalidParams`].
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Result<Self, PasswordError> {
        let params = Self::dangerous_weak(memory_kib, iterations, lanes)?;
        if params.meets_minimum() {
            Ok(params)
        } else {
            Err(PasswordError::WeakParams)
        }
    }

    /// Parameters that may be weaker than the OWASP / ASVS minimum, down to argon2's own floor
    /// (`t ≥ 1`, `m ≥ 8·p` KiB). For tests, which would otherwise spend most of their time
    /// hashing: never use this for stored passwords.
    pub fn dangerous_weak(
        memory_kib: u32,
        iterations: u32,
        lanes: u32,
    ) -> Result<Self, PasswordError> {
        Params::new(memory_kib, iterations, lanes, None)
            .map_err(|_| PasswordError::InvalidParams)?;
        Ok(Self {
            m_kib: memory_kib,
            t: iterations,
            p: lanes,
        })
    }

    /// Memory, in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.m_kib
    }

    /// Iterations (passes over memory).
    pub fn iterations(&self) -> u32 {
        self.t
    }

    /// Lanes (degree of parallelism).
    pub fn lanes(&self) -> u32 {
        self.p
    }

    /// Whether these parameters meet the OWASP / ASVS 5 minimum.
    pub fn meets_minimum(&self) -> bool {
        let floor = match self.t {
            0 => return false,
            1 => 47_104,
            2 => 19_456,
            _ => 12_288,
        };
        self.m_kib >= floor
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The name of a pepper, written into each PHC string as the argon2 `keyid` parameter so the
/// right pepper can be found after a rotation. 1 to 8 bytes, for example `b"2025a"`.
///
/// The id is metadata only: argon2 does not mix it into the hash. It is not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PepperId {
    bytes: [u8; PepperId::MAX_LEN],
    len: u8,
}

impl PepperId {
    /// The longest id, in bytes (the argon2 `keyid` limit).
    pub const MAX_LEN: usize = 8;

    /// Builds an id of 1 to [`Self::MAX_LEN`] bytes.
    pub fn new(id: &[u8]) -> Result<Self, PasswordError> {
        let mut bytes = [0u8; Self::MAX_LEN];
        let len = u8::try_from(id.len()).map_err(|_| PasswordError::PepperId)?;
        match bytes.get_mut(..id.len()) {
            Some(slot) if !id.is_empty() => slot.copy_from_slice(id),
            _ => return Err(PasswordError::PepperId),
        }
        Ok(Self { bytes, len })
    }

    /// The id bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl fmt::Debug for PepperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PepperId(\"")?;
        for byte in self.as_bytes() {
            write!(f, "{}", byte.escape_ascii())?;
        }
        f.write_str("\")")
    }
}

/// A pepper: a secret key given to argon2 as its secret input `K`, kept outside the database
/// (configuration, a secrets manager, an HSM-backed store), so a stolen database alone cannot be
/// attacked offline.
///
/// Wiped on drop; `Debug` shows only the id; the key is reachable through
/// [`Pepper::expose_secret`].
pub struct Pepper {
    id: PepperId,
    key: Zeroizing<Vec<u8>>,
}

impl Pepper {
    /// The shortest key, in bytes (128 bits).
    pub const MIN_LEN: usize = 16;
    /// The longest key, in bytes.
    pub const MAX_LEN: usize = 64;

    /// A pepper of [`Self::MIN_LEN`] to [`Self::MAX_LEN`] bytes under `id`.
    pub fn new(id: PepperId, key: &[u8]) -> Result<Self, PasswordError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&key.len()) {
            return Err(PasswordError::PepperLength);
        }
        Ok(Self {
            id,
            key: Zeroizing::new(key.to_vec()),
        })
    }

    /// The id.
    pub fn id(&self) -> PepperId {
        self.id
    }

    /// The key bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.key
    }
}

impl ZeroizeOnDrop for Pepper {}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("id", &self.id)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// A PHC string to store: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (with `keyid=` when a
/// pepper is in use).
///
/// Not a secret, but useful to an attacker offline, so `Debug` does not print it; store it with
/// [`PasswordHash::as_str`].
#[derive(PartialEq, Eq)]
pub struct PasswordHash {
    phc: String,
}

impl PasswordHash {
    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.phc
    }

    /// The PHC string, owned.
    pub fn into_string(self) -> String {
        self.phc
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

/// A password matched its stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "when `NeedsRehash`, hash the password again now and store the new hash"]
pub enum PasswordVerified {
    /// The stored hash already uses the current algorithm, parameters and pepper.
    Current,
    /// The login may proceed, and the host should hash the same password again with
    /// [`PasswordHasher::hash`] and replace the stored hash, while the password is at hand.
    NeedsRehash(RehashReason),
}

impl PasswordVerified {
    /// Whether the stored hash should be replaced.
    pub fn needs_rehash(self) -> bool {
        matches!(self, Self::NeedsRehash(_))
    }
}

/// Why a stored hash should be replaced (the first that applies, in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RehashReason {
    /// argon2i or argon2d instead of argon2id.
    Algorithm,
    /// argon2 version 16 (or no version) instead of 19.
    Version,
    /// Less memory or fewer iterations than the current parameters, a salt shorter than 16
    /// bytes, or an output shorter than 32 bytes.
    Parameters,
    /// A different pepper than the current one (including none where one is now current, or one
    /// where none is).
    Pepper,
}

/// Why a password was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The password is wrong — or the account does not exist ([`PasswordHasher::verify_dummy`]),
    /// or the password is longer than any password that can have been stored. Deliberately
    /// detail-free: show the person the same message in every case.
    Rejected,
    /// The temporary password matched but has expired (only from
    /// [`crate::credential::password::temporary::TemporaryCredential::verify`], and only after the password matched, so it tells
    /// nothing to someone who does not know the password).
    Expired,
    /// The stored hash cannot be checked: a storage or configuration problem for operators (the
    /// person logging in should see the same as [`VerifyError::Rejected`]). The verification
    /// still costs as much as a real one.
    UnusableHash(PasswordError),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected => f.write_str("verification failed"),
            Self::Expired => f.write_str("the temporary password has expired"),
            Self::UnusableHash(e) => write!(f, "the stored password hash is unusable: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::UnusableHash(e) => Some(e),
            _ => None,
        }
    }
}

/// Which kind of credential a hash belongs to. Temporary-password hashes carry argon2 associated
/// data (`data=` in the PHC string) that is mixed into the hash, so neither kind can stand in for
/// the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HashKind {
    LongTerm,
    Temporary,
}

/// The associated data that marks a temporary-password hash.
const TEMPORARY_MARK: &[u8] = b"temporary";

/// The salt length of new hashes, in bytes.
const SALT_LEN: usize = 16;
/// The output length of new hashes, in bytes.
const OUTPUT_LEN: usize = 32;

/// Hashes and verifies passwords with argon2id.
///
/// Build it once at start-up with [`PasswordHasher::builder`] and share it; it holds the
/// parameters for new hashes, the known peppers and which one is current, and a ceiling on the
/// cost of stored hashes it will compute.
///
/// ```
/// # fn main() -> Result<(), authcore::Error> {
/// use authcore::{Password, PasswordHasher};
/// use authcore::credential::password::{HashParams, PasswordVerified};
///
/// // Tests may use weak parameters; production uses `PasswordHasher::builder().build()`.
/// let hasher = PasswordHasher::builder()
///     .params(HashParams::dangerous_weak(64, 1, 1)?)
///     .build()?;
/// # #[cfg(feature = "std")] {
/// let stored = hasher.hash(&Password::from("correct horse battery staple"))?;
/// let verified = hasher.verify(&Password::from("correct horse battery staple"), stored.as_str());
/// assert_eq!(verified, Ok(PasswordVerified::Current));
/// assert!(hasher.verify(&Password::from("wrong"), stored.as_str()).is_err());
/// # }
/// # Ok(()) }
/// ```
pub struct PasswordHasher {
    params: HashParams,
    ceiling: HashParams,
    peppers: Vec<Pepper>,
    current: Option<PepperId>,
    long_term: Params,
    temporary: Params,
    dummy: String,
}

/// Builds a [`PasswordHasher`].
#[must_use]
pub struct PasswordHasherBuilder {
    params: HashParams,
    ceiling: Option<HashParams>,
    peppers: Vec<Pepper>,
    current: Option<PepperId>,
}

impl PasswordHasherBuilder {
    /// The parameters for new hashes (default [`HashParams::DEFAULT`]).
    pub fn params(mut self, params: HashParams) -> Self {
        self.params = params;
        self
    }

    /// Adds a pepper that verification may need (a stored hash names it in its `keyid`), without
    /// using it for new hashes: an old pepper kept during a rotation.
    pub fn pepper(mut self, pepper: Pepper) -> Self {
        self.peppers.push(pepper);
        self
    }

    /// Adds a pepper and uses it for new hashes. Hashes under any other pepper (or none) verify,
    /// and report [`RehashReason::Pepper`].
    pub fn current_pepper(mut self, pepper: Pepper) -> Self {
        self.current = Some(pepper.id);
        self.peppers.push(pepper);
        self
    }

    /// The most memory (KiB), iterations and lanes a stored hash may ask for; a stored hash above
    /// any of them is [`PasswordError::CostAboveCeiling`] and is not computed. The default is
    /// 262144 KiB (256 MiB), 16 iterations and 16 lanes, or the parameters for new hashes where
    /// those are higher. It must be at least the parameters for new hashes.
    pub fn max_stored_cost(mut self, memory_kib: u32, iterations: u32, lanes: u32) -> Self {
        self.ceiling = Some(HashParams {
            m_kib: memory_kib,
            t: iterations,
            p: lanes,
        });
        self
    }

    /// Checks the configuration and builds the hasher.
    pub fn build(self) -> Result<PasswordHasher, PasswordError> {
        let Self {
            params,
            ceiling,
            peppers,
            current,
        } = self;
        let ceiling = match ceiling {
            Some(ceiling) => {
                if ceiling.m_kib < params.m_kib || ceiling.t < params.t || ceiling.p < params.p {
                    return Err(PasswordError::CeilingBelowParams);
                }
                ceiling
            }
            None => HashParams {
                m_kib: params.m_kib.max(PasswordHasher::DEFAULT_MAX_STORED.m_kib),
                t: params.t.max(PasswordHasher::DEFAULT_MAX_STORED.t),
                p: params.p.max(PasswordHasher::DEFAULT_MAX_STORED.p),
            },
        };
        for (i, pepper) in peppers.iter().enumerate() {
            if peppers
                .iter()
                .skip(i.saturating_add(1))
                .any(|p| p.id == pepper.id)
            {
                return Err(PasswordError::DuplicatePepper);
            }
        }
        let long_term = argon2_params(&params, current.as_ref(), None)?;
        let temporary = argon2_params(&params, current.as_ref(), Some(TEMPORARY_MARK))?;
        let dummy = dummy_hash(&long_term)?;
        Ok(PasswordHasher {
            params,
            ceiling,
            peppers,
            current,
            long_term,
            temporary,
            dummy,
        })
    }
}

fn argon2_params(
    params: &HashParams,
    keyid: Option<&PepperId>,
    data: Option<&[u8]>,
) -> Result<Params, PasswordError> {
    let mut builder = ParamsBuilder::new();
    builder
        .m_cost(params.m_kib)
        .t_cost(params.t)
        .p_cost(params.p)
        .output_len(OUTPUT_LEN);
    if let Some(id) = keyid {
        builder.keyid(KeyId::new(id.as_bytes()).map_err(|_| PasswordError::PepperId)?);
    }
    if let Some(data) = data {
        builder.data(AssociatedData::new(data).map_err(|_| PasswordError::InvalidParams)?);
    }
    builder.build().map_err(|_| PasswordError::InvalidParams)
}

/// A PHC string with the current parameters and pepper id, a fixed salt and an output no
/// password is known to produce: verifying against it costs exactly a real verification.
fn dummy_hash(params: &Params) -> Result<String, PasswordError> {
    Ok(argon2id_phc(params, &[0x5a; SALT_LEN], &[0u8; OUTPUT_LEN])?.to_string())
}

/// The PHC form of an argon2id (version 19) hash: parameters (with the pepper id and associated
/// data they carry), salt and output.
fn argon2id_phc(params: &Params, salt: &[u8], output: &[u8]) -> Result<Phc, PasswordError> {
    Ok(Phc {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13 as u32),
        params: ParamsString::try_from(params).map_err(|_| PasswordError::InvalidParams)?,
        salt: Some(Salt::new(salt).map_err(|_| PasswordError::InvalidParams)?),
        hash: Some(Output::new(output).map_err(|_| PasswordError::InvalidParams)?),
    })
}

/// A stored hash, parsed and checked against the configuration, ready to compute.
struct Parsed<'a> {
    phc: Phc,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    pepper: Option<&'a Pepper>,
}

impl PasswordHasher {
    /// The default ceiling on stored-hash costs: 262144 KiB, 16 iterations, 16 lanes.
    pub const DEFAULT_MAX_STORED: HashParams = HashParams {
        m_kib: 262_144,
        t: 16,
        p: 16,
    };

    /// Starts building a hasher with the default parameters and no pepper.
    pub fn builder() -> PasswordHasherBuilder {
        PasswordHasherBuilder {
            params: HashParams::DEFAULT,
            ceiling: None,
            peppers: Vec::new(),
            current: None,
        }
    }

    /// The parameters for new hashes.
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// The id of the pepper used for new hashes, if any.
    pub fn current_pepper(&self) -> Option<PepperId> {
        self.current
    }

    /// Hashes a password with a 16-byte salt from the operating system's CSPRNG.
    ///
    /// Refuses passwords longer than [`PasswordPolicy::MAX_LENGTH_LIMIT`] code points
    /// ([`PasswordError::TooLong`]); check new passwords with a [`PasswordPolicy`] first.
    #[cfg(feature = "std")]
    pub fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordError> {
        self.hash_with_rng(&mut getrandom::SysRng, password)
    }

    /// Hashes a password with a 16-byte salt from a caller-supplied CSPRNG.
    pub fn hash_with_rng<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        password: &Password,
    ) -> Result<PasswordHash, PasswordError> {
        self.hash_kind(rng, password, HashKind::LongTerm)
    }

    pub(crate) fn hash_kind<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        password: &Password,
        kind: HashKind,
    ) -> Result<PasswordHash, PasswordError> {
        if password.char_count() > PasswordPolicy::MAX_LENGTH_LIMIT {
            return Err(PasswordError::TooLong);
        }
        let mut salt = [0u8; SALT_LEN];
        rng.try_fill_bytes(&mut salt)
            .map_err(|_| PasswordError::Random)?;
        let params = match kind {
            HashKind::LongTerm => &self.long_term,
            HashKind::Temporary => &self.temporary,
        };
        let pepper = self.pepper(self.current.as_ref())?;
        let argon2 = context(pepper, Algorithm::Argon2id, Version::V0x13, params.clone())?;
        let mut output = Zeroizing::new([0u8; OUTPUT_LEN]);
        crate::credential::password::argon2_memory::hash_into(
            &argon2,
            password.expose_secret().as_bytes(),
            &salt,
            output.as_mut_slice(),
        )
        .map_err(|_| PasswordError::Hashing)?;
        Ok(PasswordHash {
            phc: argon2id_phc(params, &salt, output.as_slice())?.to_string(),
        })
    }

    /// Verifies a password against a stored PHC string, in constant time with respect to the
    /// stored output.
    ///
    /// On a match, says whether the stored hash should be replaced ([`PasswordVerified`]). A wrong
    /// password is the one opaque [`VerifyError::Rejected`]. A stored hash that cannot be used
    /// (malformed, an unknown pepper id, a cost above the ceiling, a temporary-password hash) is
    /// [`VerifyError::UnusableHash`], after spending the same time as a real verification.
    ///
    /// Any argon2 variant (argon2id, argon2i, argon2d) and version (19, or 16; a PHC string
    /// without `v=` is version 16, as in the reference implementation) is verified.
    pub fn verify(
        &self,
        password: &Password,
        stored: &str,
    ) -> Result<PasswordVerified, VerifyError> {
        self.verify_kind(password, stored, HashKind::LongTerm)
    }

    /// For a login naming an account that does not exist: verifies the password against a dummy
    /// hash with the current parameters and pepper, so the answer takes as long as for a wrong
    /// password, and returns [`VerifyError::Rejected`].
    pub fn verify_dummy(&self, password: &Password) -> Result<PasswordVerified, VerifyError> {
        let _ = self.verify_kind(password, &self.dummy, HashKind::LongTerm);
        Err(VerifyError::Rejected)
    }

    pub(crate) fn verify_kind(
        &self,
        password: &Password,
        stored: &str,
        kind: HashKind,
    ) -> Result<PasswordVerified, VerifyError> {
        if password.char_count() > PasswordPolicy::MAX_LENGTH_LIMIT {
            return Err(VerifyError::Rejected);
        }
        match self.parse(stored, kind) {
            Ok(parsed) => self.compute(password, &parsed),
            Err(e) => {
                // Spend the time a real verification would, then report the stored hash.
                if let Ok(dummy) = self.parse(&self.dummy, HashKind::LongTerm) {
                    let _ = self.compute(password, &dummy);
                }
                Err(VerifyError::UnusableHash(e))
            }
        }
    }

    fn compute(
        &self,
        password: &Password,
        parsed: &Parsed<'_>,
    ) -> Result<PasswordVerified, VerifyError> {
        let argon2 = context(
            parsed.pepper,
            parsed.algorithm,
            parsed.version,
            parsed.params.clone(),
        )
        .map_err(VerifyError::UnusableHash)?;
        let malformed = VerifyError::UnusableHash(PasswordError::MalformedHash);
        let (Some(salt), Some(stored)) = (parsed.phc.salt.as_ref(), parsed.phc.hash.as_ref())
        else {
            return Err(malformed);
        };
        // Recompute with the stored parameters (`Params::try_from` took the output length from
        // the stored hash) and compare the outputs in constant time.
        let mut output = Zeroizing::new([0u8; Output::MAX_LENGTH]);
        let computed = output.get_mut(..stored.len()).ok_or(malformed)?;
        match crate::credential::password::argon2_memory::hash_into(
            &argon2,
            password.expose_secret().as_bytes(),
            salt,
            computed,
        ) {
            Ok(()) => {}
            Err(argon2::Error::OutOfMemory) => {
                return Err(VerifyError::UnusableHash(PasswordError::Hashing));
            }
            Err(_) => return Err(malformed),
        }
        if bool::from(computed.ct_eq(stored.as_bytes())) {
            Ok(self.freshness(parsed))
        } else {
            Err(VerifyError::Rejected)
        }
    }

    fn parse(&self, stored: &str, kind: HashKind) -> Result<Parsed<'_>, PasswordError> {
        let mut phc = Phc::new(stored).map_err(|_| PasswordError::MalformedHash)?;
        let algorithm: Algorithm = phc
            .algorithm
            .as_str()
            .parse()
            .map_err(|_| PasswordError::UnsupportedAlgorithm)?;
        // The reference implementation reads a missing `v=` as version 16; compute it that way.
        let version = match phc.version {
            Some(v) => Version::try_from(v).map_err(|_| PasswordError::UnsupportedAlgorithm)?,
            None => Version::V0x10,
        };
        phc.version = Some(version as u32);
        if phc.salt.is_none() || phc.hash.is_none() {
            return Err(PasswordError::MalformedHash);
        }
        let params = Params::try_from(&phc).map_err(|_| PasswordError::MalformedHash)?;
        if params.m_cost() > self.ceiling.m_kib
            || params.t_cost() > self.ceiling.t
            || params.p_cost() > self.ceiling.p
        {
            return Err(PasswordError::CostAboveCeiling);
        }
        let is_temporary = params.data() == TEMPORARY_MARK;
        if is_temporary != (kind == HashKind::Temporary) {
            return Err(PasswordError::WrongHashKind);
        }
        let pepper = if params.keyid().is_empty() {
            None
        } else {
            let id = PepperId::new(params.keyid()).map_err(|_| PasswordError::UnknownPepper)?;
            self.pepper(Some(&id))?
        };
        Ok(Parsed {
            phc,
            algorithm,
            version,
            params,
            pepper,
        })
    }

    /// The pepper for an id; `None` for no id. An unknown id is an error.
    fn pepper(&self, id: Option<&PepperId>) -> Result<Option<&Pepper>, PasswordError> {
        match id {
            None => Ok(None),
            Some(id) => self
                .peppers
                .iter()
                .find(|p| p.id == *id)
                .map(Some)
                .ok_or(PasswordError::UnknownPepper),
        }
    }

    fn freshness(&self, parsed: &Parsed<'_>) -> PasswordVerified {
        let salt_len = parsed.phc.salt.as_ref().map_or(0, |s| s.len());
        let output_len = parsed.phc.hash.as_ref().map_or(0, Output::len);
        let stored_pepper = parsed.pepper.map(|p| p.id);
        let reason = if parsed.algorithm != Algorithm::Argon2id {
            Some(RehashReason::Algorithm)
        } else if parsed.version != Version::V0x13 {
            Some(RehashReason::Version)
        } else if parsed.params.m_cost() < self.params.m_kib
            || parsed.params.t_cost() < self.params.t
            || salt_len < SALT_LEN
            || output_len < OUTPUT_LEN
        {
            Some(RehashReason::Parameters)
        } else if stored_pepper != self.current {
            Some(RehashReason::Pepper)
        } else {
            None
        };
        reason.map_or(PasswordVerified::Current, PasswordVerified::NeedsRehash)
    }
}

fn context<'k>(
    pepper: Option<&'k Pepper>,
    algorithm: Algorithm,
    version: Version,
    params: Params,
) -> Result<Argon2<'k>, PasswordError> {
    match pepper {
        None => Ok(Argon2::new(algorithm, version, params)),
        Some(pepper) => Argon2::new_with_secret(pepper.expose_secret(), algorithm, version, params)
            .map_err(|_| PasswordError::PepperLength),
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<PepperId> = self.peppers.iter().map(|p| p.id).collect();
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("max_stored_cost", &self.ceiling)
            .field("peppers", &ids)
            .field("current_pepper", &self.current)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn fast() -> PasswordHasher {
        PasswordHasher::builder()
            .params(HashParams::dangerous_weak(32, 1, 1).unwrap())
            .build()
            .unwrap()
    }

    struct Counter(u8);
    impl rand_core::TryRng for Counter {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for byte in dst {
                self.0 = self.0.wrapping_add(1);
                *byte = self.0;
            }
            Ok(())
        }
    }
    impl TryCryptoRng for Counter {}

    #[test]
    fn hashes_interoperate_with_the_argon2_crate() {
        use password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let pepper = Pepper::new(PepperId::new(b"k1").unwrap(), &[7u8; 32]).unwrap();
        let hasher = PasswordHasher::builder()
            .params(HashParams::dangerous_weak(64, 2, 1).unwrap())
            .current_pepper(pepper)
            .build()
            .unwrap();
        let password = Password::from("correct horse battery staple");
        let ours = hasher.hash_with_rng(&mut Counter(0), &password).unwrap();
        // The argon2 crate computes the same PHC string for the same salt, pepper and parameters…
        let salt: [u8; SALT_LEN] = core::array::from_fn(|i| (i + 1) as u8);
        let params =
            argon2_params(&hasher.params, Some(&PepperId::new(b"k1").unwrap()), None).unwrap();
        let theirs =
            Argon2::new_with_secret(&[7u8; 32], Algorithm::Argon2id, Version::V0x13, params)
                .unwrap();
        let expected = theirs.hash_password_with_salt(password.expose_secret().as_bytes(), &salt);
        assert_eq!(ours.as_str(), expected.unwrap().to_string());
        // …and verifies it, while another password does not.
        let phc = Phc::new(ours.as_str()).unwrap();
        assert!(
            theirs
                .verify_password(b"correct horse battery staple", &phc)
                .is_ok()
        );
        assert!(
            theirs
                .verify_password(b"correct horse battery stapler", &phc)
                .is_err()
        );
    }

    #[test]
    fn owasp_table() {
        assert!(HashParams::new(47_104, 1, 1).is_ok());
        assert!(HashParams::new(19_456, 2, 1).is_ok());
        assert!(HashParams::new(12_288, 3, 1).is_ok());
        assert!(HashParams::new(12_288, 7, 1).is_ok());
        for (m, t) in [(47_103, 1), (19_455, 2), (12_287, 3), (65_536, 0)] {
            assert!(HashParams::new(m, t, 1).is_err(), "m={m} t={t}");
        }
        assert_eq!(
            HashParams::new(19_455, 2, 1),
            Err(PasswordError::WeakParams)
        );
        assert_eq!(
            HashParams::dangerous_weak(7, 1, 1),
            Err(PasswordError::InvalidParams)
        );
        assert_eq!(
            HashParams::dangerous_weak(64, 1, 9),
            Err(PasswordError::InvalidParams)
        );
        assert!(HashParams::dangerous_weak(8, 1, 1).is_ok());
        assert_eq!(
            HashParams::default(),
            HashParams::new(19_456, 2, 1).unwrap()
        );
    }

    #[test]
    fn deterministic_salt_from_rng() {
        let hasher = fast();
        let hash = hasher
            .hash_with_rng(&mut Counter(0), &Password::from("pass phrase"))
            .unwrap();
        // Salt bytes 1..=16 in unpadded standard base64.
        assert!(
            hash.as_str()
                .starts_with("$argon2id$v=19$m=32,t=1,p=1$AQIDBAUGBwgJCgsMDQ4PEA$"),
            "{}",
            hash.as_str()
        );
    }

    #[test]
    fn temporary_and_long_term_hashes_do_not_mix() {
        let hasher = fast();
        let password = Password::from("pass phrase");
        let temp = hasher
            .hash_kind(&mut Counter(0), &password, HashKind::Temporary)
            .unwrap();
        assert!(temp.as_str().contains(",data="), "{}", temp.as_str());
        assert_eq!(
            hasher.verify(&password, temp.as_str()),
            Err(VerifyError::UnusableHash(PasswordError::WrongHashKind))
        );
        assert_eq!(
            hasher.verify_kind(&password, temp.as_str(), HashKind::Temporary),
            Ok(PasswordVerified::Current)
        );
        let long = hasher.hash_with_rng(&mut Counter(0), &password).unwrap();
        assert_eq!(
            hasher.verify_kind(&password, long.as_str(), HashKind::Temporary),
            Err(VerifyError::UnusableHash(PasswordError::WrongHashKind))
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let pepper = Pepper::new(PepperId::new(b"k1").unwrap(), &[0xab; 32]).unwrap();
        assert_eq!(
            format!("{pepper:?}"),
            "Pepper { id: PepperId(\"k1\"), key: \"[REDACTED]\" }"
        );
        let hasher = PasswordHasher::builder()
            .params(HashParams::dangerous_weak(32, 1, 1).unwrap())
            .current_pepper(pepper)
            .build()
            .unwrap();
        let shown = format!("{hasher:?}");
        assert!(
            !shown.contains("ab, ab") && !shown.contains("171"),
            "{shown}"
        );
        let hash = hasher
            .hash_with_rng(&mut Counter(0), &Password::from("x"))
            .unwrap();
        assert_eq!(format!("{hash:?}"), "PasswordHash([REDACTED])");
    }

    #[test]
    fn dummy_is_well_formed_with_current_settings() {
        let pepper = Pepper::new(PepperId::new(b"k1").unwrap(), &[7; 16]).unwrap();
        let hasher = PasswordHasher::builder()
            .params(HashParams::dangerous_weak(32, 1, 1).unwrap())
            .current_pepper(pepper)
            .build()
            .unwrap();
        assert!(
            hasher
                .dummy
                .starts_with("$argon2id$v=19$m=32,t=1,p=1,keyid=azE$"),
            "{}",
            hasher.dummy
        );
        assert!(hasher.parse(&hasher.dummy, HashKind::LongTerm).is_ok());
        // With the default parameters the dummy costs a real verification's work.
        let default = PasswordHasher::builder().build().unwrap();
        assert!(
            default.dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            default.dummy
        );
    }
}

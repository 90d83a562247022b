//! Recovery codes: a set of single-use look-up secrets (NIST SP 800-63B §5.1.2), shown once,
//! stored salted and slow-hashed, checked with one key-derivation evaluation per attempt.
//!
//! # Codes
//!
//! Each code carries 80 bits from a cryptographically secure RNG, written as 16 symbols of
//! Crockford's base32 in four groups: `7KQ2-M9XD-4HRT-WP3J`. The alphabet has no `I`, `L`, `O` or
//! `U`; on input, case, spaces and dashes are ignored and the confusable letters are read as the
//! digits they resemble (`O` → `0`, `I`/`L` → `1`), so a code read aloud or copied by hand still
//! works ([`RecoveryCode::normalize`]).
//!
//! A set holds 1 to 16 codes (default 10). The plaintext codes exist only in the
//! [`RecoveryCodes`] returned by generation, to show once; nothing the host stores contains them.
//!
//! # Storage and cost
//!
//! [`RecoveryCodeSet`] is what the host stores (through [`RecoveryCodeSet::to_stored_bytes`]). It
//! holds one random 128-bit salt for the set, the argon2id parameters, and for each code
//! `argon2id(code, salt)`. A candidate is checked by computing `argon2id(candidate, salt)` **once**
//! and comparing that digest, in constant time, with every stored digest — so an attempt costs one
//! argon2id evaluation whatever the size of the set (hashing each code with its own salt would
//! cost one evaluation per code per attempt: seconds for a set of ten).
//!
//! # NIST SP 800-63B §5.1.2.2
//!
//! Look-up secrets must be stored in a form resistant to offline attack; secrets with fewer than
//! 112 bits of entropy must be salted and hashed with a key-derivation function of the kind
//! §5.1.1.2 describes for passwords, with a salt of at least 32 bits chosen so that salts rarely
//! collide. Our codes have 80 bits, so this set uses argon2id (RFC 9106) with a 128-bit random
//! salt per set, at the same cost floor as passwords. The salt is shared by the codes of one set
//! (that is what makes one evaluation per attempt possible); sets never share one. The trade-off
//! is that one offline guess can be tested against all N codes of a stolen set at once; with 80
//! bits per code and at most 16 codes that still leaves about 2^76 argon2id evaluations per
//! expected hit. A code matches once: [`RecoveryCodeSet::redeem`] reports the slot, the store
//! spends it atomically, and a spent slot never matches again (§5.1.2.2: "used successfully only
//! once").

use alloc::vec::Vec;
use core::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::TryCryptoRng;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::otp::error::{Refusal, Rejected};

/// Crockford's base32 alphabet: digits and upper-case letters without `I`, `L`, `O` and `U`.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random bytes per code (80 bits).
const CODE_BYTES: usize = 10;
/// Symbols per code (80 / 5).
const SYMBOLS: usize = 16;
/// Symbols per group in the written form.
const GROUP: usize = 4;
/// The written form: 16 symbols and 3 dashes.
const DISPLAY_LEN: usize = SYMBOLS + SYMBOLS / GROUP - 1;
/// The longest input [`RecoveryCode::normalize`] looks at, in bytes.
const MAX_INPUT_LEN: usize = 64;
/// Digest bytes per code.
const DIGEST_LEN: usize = 32;
/// Salt bytes per set.
const SALT_LEN: usize = 16;
/// Domain separation for the key-derivation input.
const KDF_CONTEXT: &[u8] = b"authcore recovery code v1\0";
/// Stored form: magic and version.
const MAGIC: &[u8; 4] = b"ACRC";
const FORMAT_VERSION: u8 = 1;
/// Stored form: bytes before the digests (magic, version, m, t, p, salt, count, spent mask).
const HEADER_LEN: usize = 4 + 1 + 4 + 4 + 4 + SALT_LEN + 1 + 2;

/// Why recovery-code parameters, a slot or a stored set were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The number of codes must be 1 to [`RecoveryParams::MAX_COUNT`].
    Count,
    /// The argon2id parameters are below the floor (t=1 needs m ≥ 47104 KiB, t=2 needs
    /// m ≥ 19456 KiB, t ≥ 3 needs m ≥ 12288 KiB); use `dangerous_argon2` only in tests.
    WeakKdf,
    /// The argon2id parameters are outside what argon2 or this crate accepts (m up to
    /// [`RecoveryParams::MAX_M_COST`] KiB and at least 8 × p, t 1 to
    /// [`RecoveryParams::MAX_T_COST`], p 1 to [`RecoveryParams::MAX_P_COST`]).
    KdfParams,
    /// The key-derivation function failed (memory could not be allocated).
    Kdf,
    /// A slot index is not below the number of codes in the set.
    Slot,
    /// Stored bytes are not a recovery-code set: wrong length, magic, count or spent mask.
    StoredFormat,
    /// Stored bytes use a format version this build does not know.
    StoredVersion,
    /// The random number generator failed (or kept drawing a code already in the set).
    Random,
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count => write!(
                f,
                "a recovery-code set holds 1 to {} codes",
                RecoveryParams::MAX_COUNT
            ),
            Self::WeakKdf => f.write_str(
                "argon2id parameters below the floor (t=1: m>=47104, t=2: m>=19456, t>=3: m>=12288 KiB)",
            ),
            Self::KdfParams => f.write_str("argon2id parameters out of range"),
            Self::Kdf => f.write_str("the argon2id evaluation failed (out of memory)"),
            Self::Slot => f.write_str("the slot index is outside the set"),
            Self::StoredFormat => f.write_str("the stored bytes are not a recovery-code set"),
            Self::StoredVersion => f.write_str("unknown recovery-code set format version"),
            Self::Random => f.write_str("the random number generator failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecoveryError {}

/// Argon2id cost parameters, always within bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct KdfParams {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
}

impl KdfParams {
    const DEFAULT: Self = Self {
        m_cost: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    fn check_bounds(self) -> Result<Params, RecoveryError> {
        if self.m_cost > RecoveryParams::MAX_M_COST
            || self.t_cost == 0
            || self.t_cost > RecoveryParams::MAX_T_COST
            || self.p_cost == 0
            || self.p_cost > RecoveryParams::MAX_P_COST
        {
            return Err(RecoveryError::KdfParams);
        }
        Params::new(self.m_cost, self.t_cost, self.p_cost, Some(DIGEST_LEN))
            .map_err(|_| RecoveryError::KdfParams)
    }

    /// The OWASP / ASVS 5 cost table also used for passwords.
    fn meets_floor(self) -> bool {
        let floor = match self.t_cost {
            0 => return false,
            1 => 47_104,
            2 => 19_456,
            _ => 12_288,
        };
        self.m_cost >= floor
    }

    /// `argon2id(context || code, salt)`.
    fn derive(
        self,
        code: &[u8; CODE_BYTES],
        salt: &[u8; SALT_LEN],
    ) -> Result<[u8; DIGEST_LEN], RecoveryError> {
        let params = self.check_bounds()?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut input = Zeroizing::new([0u8; KDF_CONTEXT.len() + CODE_BYTES]);
        for (dst, src) in input.iter_mut().zip(KDF_CONTEXT.iter().chain(code.iter())) {
            *dst = *src;
        }
        let mut out = [0u8; DIGEST_LEN];
        crate::credential::password::argon2_memory::hash_into(
            &argon,
            input.as_slice(),
            salt,
            &mut out,
        )
        .map_err(|_| RecoveryError::Kdf)?;
        Ok(out)
    }
}

/// How many codes a set holds and what each attempt costs.
///
/// The default is 10 codes and argon2id with m = 19456 KiB (19 MiB), t = 2, p = 1: the OWASP
/// password-storage minimum, about the cost of one password check. Build other values with
/// [`RecoveryParams::builder`], which refuses anything weaker unless the explicitly named
/// [`RecoveryParamsBuilder::dangerous_argon2`] is used (for tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecoveryParams {
    count: u8,
    kdf: KdfParams,
}

impl Default for RecoveryParams {
    fn default() -> Self {
        Self {
            count: Self::DEFAULT_COUNT,
            kdf: KdfParams::DEFAULT,
        }
    }
}

impl RecoveryParams {
    /// The default number of codes in a set.
    pub const DEFAULT_COUNT: u8 = 10;
    /// The largest number of codes in a set.
    pub const MAX_COUNT: u8 = 16;
    /// The largest argon2id memory cost accepted, in KiB (1 GiB). Also bounds what a tampered
    /// stored set can make a redemption allocate.
    pub const MAX_M_COST: u32 = 1 << 20;
    /// The largest argon2id time cost accepted.
    pub const MAX_T_COST: u32 = 16;
    /// The largest argon2id parallelism accepted.
    pub const MAX_P_COST: u32 = 16;

    /// Starts building parameters from the defaults.
    pub fn builder() -> RecoveryParamsBuilder {
        RecoveryParamsBuilder {
            params: Self::default(),
            allow_weak: false,
        }
    }

    /// The number of codes generated.
    pub fn count(&self) -> u8 {
        self.count
    }

    /// The argon2id memory cost, in KiB.
    pub fn m_cost(&self) -> u32 {
        self.kdf.m_cost
    }

    /// The argon2id time cost (passes over memory).
    pub fn t_cost(&self) -> u32 {
        self.kdf.t_cost
    }

    /// The argon2id parallelism.
    pub fn p_cost(&self) -> u32 {
        self.kdf.p_cost
    }

    /// Whether the argon2id parameters meet the floor (false only for parameters built through
    /// [`RecoveryParamsBuilder::dangerous_argon2`]).
    pub fn meets_floor(&self) -> bool {
        self.kdf.meets_floor()
    }

    /// Checks a presented code when the person has no set: does the work a
    /// [`RecoveryCodeSet::redeem`] under these parameters does — parse the input, one argon2id
    /// evaluation, the constant-time comparison with every slot — and rejects it.
    ///
    /// For the path where there is no active set to redeem against, so that the answer costs the
    /// same as a wrong code and timing does not tell whether the person has recovery codes. Always
    /// the opaque [`Rejected`].
    pub fn redeem_dummy(&self, input: &str) -> Result<RedeemedSlot, Rejected> {
        let parsed = RecoveryCode::normalize(input);
        let zero = [0u8; CODE_BYTES];
        let candidate = parsed.as_ref().map_or(&zero, |code| &code.bytes);
        // A fixed salt: nothing is stored under it, so nothing can match.
        let salt = [0u8; SALT_LEN];
        if let Ok(digest) = self.kdf.derive(candidate, &salt) {
            let digest = Zeroizing::new(digest);
            let empty = [0u8; DIGEST_LEN];
            let mut matched = Choice::from(0);
            for _ in 0..RecoveryParams::MAX_COUNT {
                matched |= digest.ct_eq(&empty);
            }
            core::hint::black_box(bool::from(matched));
        }
        Err(Rejected)
    }
}

/// Builder for [`RecoveryParams`]; [`RecoveryParamsBuilder::build`] validates.
#[derive(Clone, Debug)]
#[must_use]
pub struct RecoveryParamsBuilder {
    params: RecoveryParams,
    allow_weak: bool,
}

impl RecoveryParamsBuilder {
    /// The number of codes in a set, 1 to 16 (default 10).
    pub fn count(mut self, count: u8) -> Self {
        self.params.count = count;
        self
    }

    /// Argon2id costs: memory in KiB, time (passes), parallelism. They must meet the floor:
    /// t = 1 needs m ≥ 47104, t = 2 needs m ≥ 19456, t ≥ 3 needs m ≥ 12288.
    pub fn argon2(mut self, m_cost: u32, t_cost: u32, p_cost: u32) -> Self {
        self.params.kdf = KdfParams {
            m_cost,
            t_cost,
            p_cost,
        };
        self.allow_weak = false;
        self
    }

    /// Argon2id costs below the floor, down to argon2's own minimum (m ≥ 8 × p KiB, t ≥ 1).
    ///
    /// Only for tests: codes stored this way are much cheaper to attack offline.
    pub fn dangerous_argon2(mut self, m_cost: u32, t_cost: u32, p_cost: u32) -> Self {
        self.params.kdf = KdfParams {
            m_cost,
            t_cost,
            p_cost,
        };
        self.allow_weak = true;
        self
    }

    /// Validates and returns the parameters.
    pub fn build(self) -> Result<RecoveryParams, RecoveryError> {
        let p = self.params;
        if p.count == 0 || p.count > RecoveryParams::MAX_COUNT {
            return Err(RecoveryError::Count);
        }
        p.kdf.check_bounds()?;
        if !self.allow_weak && !p.kdf.meets_floor() {
            return Err(RecoveryError::WeakKdf);
        }
        Ok(p)
    }
}

/// One recovery code in clear: 80 bits, written `XXXX-XXXX-XXXX-XXXX`.
///
/// A secret: wiped on drop, `Debug` prints a redaction, no `Display` or `Clone`, compared in
/// constant time, read only through [`RecoveryCode::expose_secret`].
pub struct RecoveryCode {
    bytes: [u8; CODE_BYTES],
    text: [u8; DISPLAY_LEN],
}

impl RecoveryCode {
    fn from_bytes(bytes: [u8; CODE_BYTES]) -> Self {
        let mut value = 0u128;
        for byte in bytes {
            value = (value << 8) | u128::from(byte);
        }
        let mut text = [b'-'; DISPLAY_LEN];
        let positions = (0..DISPLAY_LEN).filter(|i| i % (GROUP + 1) != GROUP);
        for position in positions {
            // The top 5 of the 80 bits, then move the next 5 up.
            let index = ((value >> 75) & 0x1f) as usize;
            value = (value << 5) & ((1u128 << 80) - 1);
            if let (Some(slot), Some(&letter)) = (text.get_mut(position), ALPHABET.get(index)) {
                *slot = letter;
            }
        }
        value.zeroize();
        Self { bytes, text }
    }

    /// Reads a code as a person may type it: case, ASCII whitespace, dashes (including Unicode
    /// hyphens and the non-breaking space) are ignored; `O` reads as `0`, `I` and `L` as `1`.
    /// Exactly 16 symbols must remain. Anything else is the opaque [`Rejected`].
    ///
    /// Normalisation is idempotent: normalising [`RecoveryCode::expose_secret`] of the result gives
    /// the same code.
    pub fn normalize(input: &str) -> Result<Self, Rejected> {
        if input.len() > MAX_INPUT_LEN {
            return Err(Rejected);
        }
        let mut value = Zeroizing::new(0u128);
        let mut symbols = 0usize;
        for c in input.chars() {
            let symbol = match c {
                ' '
                | '\t'
                | '\n'
                | '\r'
                | '-'
                | '\u{00a0}'
                | '\u{2010}'..='\u{2015}'
                | '\u{2212}' => continue,
                _ => decode_symbol(c).ok_or(Rejected)?,
            };
            symbols = symbols.saturating_add(1);
            if symbols > SYMBOLS {
                return Err(Rejected);
            }
            *value = (*value << 5) | u128::from(symbol);
        }
        if symbols != SYMBOLS {
            return Err(Rejected);
        }
        let mut bytes = [0u8; CODE_BYTES];
        for byte in bytes.iter_mut().rev() {
            *byte = *value as u8;
            *value >>= 8;
        }
        let code = Self::from_bytes(bytes);
        bytes.zeroize();
        Ok(code)
    }

    /// The code in its written form, `XXXX-XXXX-XXXX-XXXX`.
    pub fn expose_secret(&self) -> &str {
        core::str::from_utf8(&self.text).unwrap_or_default()
    }
}

/// The value of one Crockford symbol, reading confusables as digits; `None` for anything else.
fn decode_symbol(c: char) -> Option<u8> {
    let upper = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    let byte = u8::try_from(upper).ok()?;
    ALPHABET
        .iter()
        .position(|&letter| letter == byte)
        .and_then(|i| u8::try_from(i).ok())
}

impl ConstantTimeEq for RecoveryCode {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.bytes.ct_eq(&other.bytes)
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([REDACTED])")
    }
}

impl Drop for RecoveryCode {
    fn drop(&mut self) {
        self.bytes.zeroize();
        self.text.zeroize();
    }
}

impl ZeroizeOnDrop for RecoveryCode {}

/// The codes of a freshly generated set, in slot order: show them once, then drop this value.
///
/// Each code is a [`RecoveryCode`] secret; `Debug` prints only how many there are.
pub struct RecoveryCodes {
    codes: Vec<RecoveryCode>,
}

impl RecoveryCodes {
    /// The codes, in slot order (slot `i` is `as_slice()[i]`).
    pub fn as_slice(&self) -> &[RecoveryCode] {
        &self.codes
    }

    /// Iterates over the codes in slot order.
    pub fn iter(&self) -> core::slice::Iter<'_, RecoveryCode> {
        self.codes.iter()
    }

    /// The number of codes.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are no codes (never true for a generated set).
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

impl<'a> IntoIterator for &'a RecoveryCodes {
    type Item = &'a RecoveryCode;
    type IntoIter = core::slice::Iter<'a, RecoveryCode>;

    fn into_iter(self) -> Self::IntoIter {
        self.codes.iter()
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes([REDACTED; {}])", self.codes.len())
    }
}

/// A newly generated set: the codes to show once, and the set to store.
///
/// Storing `set` replaces any previous set of the account as a whole (regeneration): the new set
/// has a new salt and [`RecoveryCodeSet::set_id`], so no code of the old set matches it.
#[derive(Debug)]
#[must_use = "the set must be stored and the codes shown to the person"]
pub struct NewRecoveryCodes {
    /// The plaintext codes, to show once.
    pub codes: RecoveryCodes,
    /// What to store.
    pub set: RecoveryCodeSet,
}

/// A stored set of recovery codes: salt, argon2id parameters, one digest per code and which slots
/// are spent. Contains no plaintext code.
///
/// Persist it with [`RecoveryCodeSet::to_stored_bytes`] and load it with
/// [`RecoveryCodeSet::from_stored_bytes`]. `Debug` shows the counts and parameters only.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodeSet {
    kdf: KdfParams,
    salt: [u8; SALT_LEN],
    count: u8,
    spent: u16,
    digests: [[u8; DIGEST_LEN]; RecoveryParams::MAX_COUNT as usize],
}

/// The slot a redeemed code occupies.
///
/// The host must spend the slot atomically — in one guarded update that succeeds only if the set
/// is still the one identified by [`RecoveryCodeSet::set_id`] and the slot's bit
/// ([`RedeemedSlot::spent_bit`]) is not yet set — and treat the login as successful only if that
/// update succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "the slot must be spent atomically before the login succeeds"]
pub struct RedeemedSlot {
    index: u8,
    remaining_after: u8,
}

impl RedeemedSlot {
    /// The slot index, `0..len`.
    pub fn index(self) -> u8 {
        self.index
    }

    /// The slot's bit in [`RecoveryCodeSet::spent_mask`].
    pub fn spent_bit(self) -> u16 {
        1u16.checked_shl(u32::from(self.index)).unwrap_or(0)
    }

    /// Unspent codes left once this slot is spent.
    pub fn remaining_after(self) -> u8 {
        self.remaining_after
    }

    /// Whether the set is running low once this slot is spent (at most
    /// [`RecoveryCodeSet::LOW_WATER`] codes left): prompt the person to generate a new set.
    pub fn is_low_after(self) -> bool {
        self.remaining_after <= RecoveryCodeSet::LOW_WATER
    }
}

impl RecoveryCodeSet {
    /// The number of unspent codes at or below which the set counts as running low.
    pub const LOW_WATER: u8 = 2;

    /// Generates a set from the operating system's CSPRNG.
    #[cfg(feature = "std")]
    pub fn generate(params: &RecoveryParams) -> Result<NewRecoveryCodes, RecoveryError> {
        Self::generate_with_rng(params, &mut getrandom::SysRng)
    }

    /// Generates a set from a caller-supplied cryptographically secure RNG.
    ///
    /// Costs one argon2id evaluation per code. Two equal codes (2^-80 for a working RNG) are
    /// taken as a broken generator and reported as [`RecoveryError::Random`].
    pub fn generate_with_rng<R: TryCryptoRng + ?Sized>(
        params: &RecoveryParams,
        rng: &mut R,
    ) -> Result<NewRecoveryCodes, RecoveryError> {
        if params.count == 0 || params.count > RecoveryParams::MAX_COUNT {
            return Err(RecoveryError::Count);
        }
        let mut salt = [0u8; SALT_LEN];
        rng.try_fill_bytes(&mut salt)
            .map_err(|_| RecoveryError::Random)?;
        let mut set = Self {
            kdf: params.kdf,
            salt,
            count: params.count,
            spent: 0,
            digests: [[0u8; DIGEST_LEN]; RecoveryParams::MAX_COUNT as usize],
        };
        let mut codes: Vec<RecoveryCode> = Vec::with_capacity(usize::from(params.count));
        for digest in set.digests.iter_mut().take(usize::from(params.count)) {
            let mut bytes = Zeroizing::new([0u8; CODE_BYTES]);
            rng.try_fill_bytes(bytes.as_mut_slice())
                .map_err(|_| RecoveryError::Random)?;
            if codes.iter().any(|c| c.bytes == *bytes) {
                return Err(RecoveryError::Random);
            }
            *digest = params.kdf.derive(&bytes, &set.salt)?;
            codes.push(RecoveryCode::from_bytes(*bytes));
        }
        Ok(NewRecoveryCodes {
            codes: RecoveryCodes { codes },
            set,
        })
    }

    /// Checks a presented code.
    ///
    /// Costs exactly one argon2id evaluation, whatever the number of codes and whether the input
    /// is well formed; the digest is then compared in constant time with all 16 digest slots
    /// (unused and spent slots masked out), so timing reveals neither whether nor which slot
    /// matched. A wrong, spent, or malformed code is the opaque [`Rejected`]; so is the
    /// (allocation) failure of the key-derivation function, so that it fails closed.
    ///
    /// Success does not spend the code: the host must spend the returned slot atomically (see
    /// [`RedeemedSlot`]) and then may call [`RecoveryCodeSet::mark_spent`] on its copy.
    pub fn redeem(&self, input: &str) -> Result<RedeemedSlot, Rejected> {
        self.redeem_detailed(input).map_err(Rejected::from)
    }

    /// [`Self::redeem`], saying for the audit trail why a code was refused: a code whose slot is
    /// already spent is [`Refusal::Replayed`], anything else [`Refusal::Invalid`]. The same one
    /// argon2id evaluation and the same constant-time scan of every slot as [`Self::redeem`];
    /// show the person only the opaque failure.
    pub fn redeem_detailed(&self, input: &str) -> Result<RedeemedSlot, Refusal> {
        let parsed = RecoveryCode::normalize(input);
        let well_formed = Choice::from(u8::from(parsed.is_ok()));
        let zero = [0u8; CODE_BYTES];
        let candidate = parsed.as_ref().map_or(&zero, |code| &code.bytes);
        let digest = self
            .kdf
            .derive(candidate, &self.salt)
            .map_err(|_| Refusal::Invalid)?;
        let mut index = 0u8;
        let mut matched = Choice::from(0);
        let mut replayed = Choice::from(0);
        for (i, stored) in (0u8..).zip(self.digests.iter()) {
            let in_set = Choice::from(u8::from(i < self.count));
            let unspent = Choice::from(u8::from((self.spent >> i) & 1 == 0));
            let same = digest.ct_eq(stored) & in_set;
            let hit = same & unspent;
            index.conditional_assign(&i, hit);
            matched |= hit;
            replayed |= same & !unspent;
        }
        if bool::from(matched & well_formed) {
            Ok(RedeemedSlot {
                index,
                remaining_after: self.remaining().saturating_sub(1),
            })
        } else if bool::from(replayed & well_formed) {
            Err(Refusal::Replayed)
        } else {
            Err(Refusal::Invalid)
        }
    }

    /// Marks a slot spent. Returns `true` if it was unspent, `false` if it already was spent;
    /// [`RecoveryError::Slot`] if `index` is outside the set.
    pub fn mark_spent(&mut self, index: u8) -> Result<bool, RecoveryError> {
        if index >= self.count {
            return Err(RecoveryError::Slot);
        }
        let bit = 1u16 << index;
        let was_unspent = self.spent & bit == 0;
        self.spent |= bit;
        Ok(was_unspent)
    }

    /// Adds spent slots from a mask kept elsewhere (for a store that keeps the mask in its own
    /// column). Only ever spends: bits already set stay set. A bit outside the set is
    /// [`RecoveryError::Slot`], and nothing changes.
    pub fn merge_spent_mask(&mut self, mask: u16) -> Result<(), RecoveryError> {
        if mask & !self.full_mask() != 0 {
            return Err(RecoveryError::Slot);
        }
        self.spent |= mask;
        Ok(())
    }

    fn full_mask(&self) -> u16 {
        1u32.checked_shl(u32::from(self.count))
            .map_or(u16::MAX, |bit| (bit.saturating_sub(1)) as u16)
    }

    /// Whether a slot is spent (`false` for an index outside the set).
    pub fn is_spent(&self, index: u8) -> bool {
        index < self.count && (self.spent >> index) & 1 == 1
    }

    /// One bit per spent slot (bit `i` for slot `i`).
    pub fn spent_mask(&self) -> u16 {
        self.spent
    }

    /// The number of codes in the set, spent or not.
    pub fn len(&self) -> u8 {
        self.count
    }

    /// Whether the set has no codes (never true: a set holds at least one).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The number of unspent codes.
    pub fn remaining(&self) -> u8 {
        let spent = (self.spent & self.full_mask()).count_ones();
        self.count
            .saturating_sub(u8::try_from(spent).unwrap_or(u8::MAX))
    }

    /// Whether at most [`RecoveryCodeSet::LOW_WATER`] codes remain: prompt the person to generate
    /// a new set.
    pub fn is_low(&self) -> bool {
        self.remaining() <= Self::LOW_WATER
    }

    /// A random identifier of this set (its salt), different for every generated set. A store
    /// spending a slot should require it in its guarded update, so that a slot redeemed against
    /// a set that was meanwhile regenerated is not spent in the new one.
    pub fn set_id(&self) -> [u8; SALT_LEN] {
        self.salt
    }

    /// The argon2id parameters the set was hashed with, as [`RecoveryParams`] with this set's
    /// count. Compare with the current policy to decide whether to suggest regenerating.
    pub fn params(&self) -> RecoveryParams {
        RecoveryParams {
            count: self.count,
            kdf: self.kdf,
        }
    }

    /// The stored form: `ACRC`, format version 1, argon2id m, t, p (big-endian `u32`), 16-byte
    /// salt, count, spent mask (big-endian `u16`), then 32 bytes per code. `36 + 32 × count`
    /// bytes. Contains no plaintext code.
    pub fn to_stored_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER_LEN.saturating_add(usize::from(self.count).saturating_mul(DIGEST_LEN)),
        );
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.kdf.m_cost.to_be_bytes());
        out.extend_from_slice(&self.kdf.t_cost.to_be_bytes());
        out.extend_from_slice(&self.kdf.p_cost.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out.push(self.count);
        out.extend_from_slice(&self.spent.to_be_bytes());
        for digest in self.digests.iter().take(usize::from(self.count)) {
            out.extend_from_slice(digest);
        }
        out
    }

    /// Reads the stored form. Total: any bytes give a set or a [`RecoveryError`], never a panic.
    ///
    /// The argon2id parameters are checked against the crate's bounds (so a tampered row cannot
    /// make a redemption allocate more than [`RecoveryParams::MAX_M_COST`]) but not against the
    /// floor, so sets hashed under older or test parameters still load; see
    /// [`RecoveryParams::meets_floor`] on [`RecoveryCodeSet::params`].
    pub fn from_stored_bytes(bytes: &[u8]) -> Result<Self, RecoveryError> {
        let mut r = Reader(bytes);
        if r.take::<4>()? != *MAGIC {
            return Err(RecoveryError::StoredFormat);
        }
        if r.take::<1>()? != [FORMAT_VERSION] {
            return Err(RecoveryError::StoredVersion);
        }
        let kdf = KdfParams {
            m_cost: u32::from_be_bytes(r.take()?),
            t_cost: u32::from_be_bytes(r.take()?),
            p_cost: u32::from_be_bytes(r.take()?),
        };
        kdf.check_bounds()?;
        let salt = r.take::<SALT_LEN>()?;
        let [count] = r.take::<1>()?;
        if count == 0 || count > RecoveryParams::MAX_COUNT {
            return Err(RecoveryError::StoredFormat);
        }
        let spent = u16::from_be_bytes(r.take()?);
        let mut digests = [[0u8; DIGEST_LEN]; RecoveryParams::MAX_COUNT as usize];
        for digest in digests.iter_mut().take(usize::from(count)) {
            *digest = r.take()?;
        }
        if !r.0.is_empty() {
            return Err(RecoveryError::StoredFormat);
        }
        let set = Self {
            kdf,
            salt,
            count,
            spent,
            digests,
        };
        if spent & !set.full_mask() != 0 {
            return Err(RecoveryError::StoredFormat);
        }
        Ok(set)
    }
}

/// A cursor over stored bytes that fails, rather than panics, when they run out.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], RecoveryError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(RecoveryError::StoredFormat)?;
        self.0 = rest;
        Ok(*head)
    }
}

impl fmt::Debug for RecoveryCodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodeSet")
            .field("len", &self.count)
            .field("remaining", &self.remaining())
            .field("m_cost", &self.kdf.m_cost)
            .field("t_cost", &self.kdf.t_cost)
            .field("p_cost", &self.kdf.p_cost)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

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
            for b in dst {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Counter {}

    fn test_params(count: u8) -> RecoveryParams {
        RecoveryParams::builder()
            .count(count)
            .dangerous_argon2(8, 1, 1)
            .build()
            .unwrap()
    }

    #[test]
    fn written_form() {
        let zero = RecoveryCode::from_bytes([0; CODE_BYTES]);
        assert_eq!(zero.expose_secret(), "0000-0000-0000-0000");
        let ones = RecoveryCode::from_bytes([0xff; CODE_BYTES]);
        assert_eq!(ones.expose_secret(), "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
        // 0x0123456789abcdef0123 in 5-bit groups.
        let code =
            RecoveryCode::from_bytes([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23]);
        assert_eq!(code.expose_secret(), "04HM-ASW9-NF6Y-Y093");
        let back = RecoveryCode::normalize("04hm asw9 nf6y y093").unwrap();
        assert_eq!(back.bytes, code.bytes);
    }

    #[test]
    fn confusables_and_separators() {
        let a = RecoveryCode::normalize("0111-0000-1111-0000").unwrap();
        for variant in [
            "OIL1-oooo-iIlL-0O0o",
            "oil1oooo iill 0o0o",
            "  OIL1\u{2013}OOOO\u{00a0}IILL-OOOO\n",
        ] {
            let b = RecoveryCode::normalize(variant).unwrap();
            assert!(bool::from(a.ct_eq(&b)), "{variant:?}");
        }
        for bad in [
            "",
            "0000-0000-0000-000",
            "0000-0000-0000-00000",
            "0000-0000-0000-000U",
            "0000-0000-0000-000!",
            "0000_0000_0000_0000",
            "０000-0000-0000-0000",
        ] {
            assert!(RecoveryCode::normalize(bad).is_err(), "{bad:?}");
        }
        let long = "-".repeat(65);
        assert!(RecoveryCode::normalize(&long).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let code = RecoveryCode::from_bytes([7; CODE_BYTES]);
        let shown = format!("{code:?}");
        assert!(shown.contains("REDACTED"));
        assert!(!shown.contains(&code.expose_secret()[..4]));
        let new = RecoveryCodeSet::generate_with_rng(&test_params(2), &mut Counter(0)).unwrap();
        let shown = format!("{new:?}");
        for code in &new.codes {
            assert!(!shown.contains(&code.expose_secret()[..9]));
        }
    }

    #[test]
    fn repeated_codes_mean_a_broken_rng() {
        struct Stuck;
        impl rand_core::TryRng for Stuck {
            type Error = core::convert::Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Ok(0)
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Ok(0)
            }
            fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
                dst.fill(9);
                Ok(())
            }
        }
        impl rand_core::TryCryptoRng for Stuck {}
        assert_eq!(
            RecoveryCodeSet::generate_with_rng(&test_params(2), &mut Stuck).unwrap_err(),
            RecoveryError::Random
        );
        assert!(RecoveryCodeSet::generate_with_rng(&test_params(1), &mut Stuck).is_ok());
    }

    #[test]
    fn the_header_length_is_the_stored_header() {
        let new = RecoveryCodeSet::generate_with_rng(&test_params(3), &mut Counter(0)).unwrap();
        let bytes = new.set.to_stored_bytes();
        assert_eq!(HEADER_LEN, 36);
        assert_eq!(bytes.len(), HEADER_LEN + 3 * DIGEST_LEN);
    }

    #[test]
    fn floor_table() {
        let floor = |m, t| {
            KdfParams {
                m_cost: m,
                t_cost: t,
                p_cost: 1,
            }
            .meets_floor()
        };
        assert!(floor(47_104, 1));
        assert!(!floor(47_103, 1));
        assert!(floor(19_456, 2));
        assert!(!floor(19_455, 2));
        assert!(floor(12_288, 3));
        assert!(!floor(12_287, 5));
        // t = 0 never meets the floor, whatever the memory (check_bounds refuses it first).
        assert!(!floor(1 << 20, 0));
        assert!(RecoveryParams::default().meets_floor());
    }
}

//! Sealing authenticator secrets for storage at rest (feature `sealing`): XChaCha20-Poly1305
//! under host-held keys, with key ids for rotation and the row's identity as associated data.
//! The public documentation is on [`Keyring`] (why, what the host keeps, rotation) and
//! [`SealedSecret`] (the stored format).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use rand_core::TryCryptoRng;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::otp::secret::SecretKey;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// Why a sealing key or keyring was refused, or a secret could not be sealed or opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealingError {
    /// A sealing key must be exactly [`SealingKey::LEN`] bytes.
    KeyLength,
    /// Two keys in a keyring have the same id.
    DuplicateKeyId(KeyId),
    /// The cipher refused the input. Not possible for keys within [`SecretKey::MAX_LEN`]; kept so
    /// that an impossible failure is an error rather than a panic.
    Cipher,
    /// A sealed secret did not open.
    Open(OpenError),
    /// The random number generator failed.
    Random,
}

/// Why a sealed secret did not open. Never contains secret material.
///
/// Any of these on a value read from the database is a storage or configuration fault, never a
/// reason to skip the second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// Too short or too long to be a sealed secret.
    Malformed,
    /// The format version is not one this build reads.
    UnsupportedVersion(u8),
    /// No key in the keyring has this id (a key was removed too early, or the configuration is
    /// wrong).
    UnknownKeyId(KeyId),
    /// Authentication failed: the value was altered, was sealed for another context (another row),
    /// or the key under this id is not the one it was sealed with.
    Forged,
}

impl fmt::Display for SealingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyLength => write!(f, "a sealing key must be {} bytes", SealingKey::LEN),
            Self::DuplicateKeyId(id) => write!(f, "two sealing keys have the id {}", id.get()),
            Self::Cipher => f.write_str("the cipher refused the input"),
            Self::Open(e) => write!(f, "the sealed secret did not open: {e}"),
            Self::Random => f.write_str("the random number generator failed"),
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("not a sealed secret (wrong length)"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported sealed format version {v}"),
            Self::UnknownKeyId(id) => write!(f, "no sealing key with id {}", id.get()),
            Self::Forged => f.write_str(
                "authentication failed (altered, sealed for another row, or a different key)",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SealingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for OpenError {}

impl From<OpenError> for SealingError {
    fn from(e: OpenError) -> Self {
        Self::Open(e)
    }
}

/// The public id of a sealing key, stored in every value sealed under it so the right key can be
/// found after a rotation.
///
/// A `u32`, stored as 4 big-endian bytes. Any numbering works as long as ids are never reused for
/// a different key: a counter (1, 2, 3, …) or a date (`20250131`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(u32);

impl KeyId {
    /// The id `id`.
    pub const fn new(id: u32) -> Self {
        Self(id)
    }

    /// The id as a number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for KeyId {
    fn from(id: u32) -> Self {
        Self(id)
    }
}

/// A 256-bit XChaCha20-Poly1305 key that seals authenticator secrets. Keep it outside the
/// database (see [`Keyring`]).
///
/// A secret: wiped on drop, redacted `Debug`, no `Display`, `Clone` or `Serialize`, read through
/// [`SealingKey::expose_secret`] (to store a generated key in the host's secrets manager).
pub struct SealingKey {
    bytes: Zeroizing<[u8; SealingKey::LEN]>,
}

impl SealingKey {
    /// The key length, in bytes.
    pub const LEN: usize = 32;

    /// Builds a key from exactly [`Self::LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealingError> {
        let mut key = Zeroizing::new([0u8; Self::LEN]);
        if bytes.len() != Self::LEN {
            return Err(SealingError::KeyLength);
        }
        key.copy_from_slice(bytes);
        Ok(Self { bytes: key })
    }

    /// Generates a key from the operating system's CSPRNG.
    #[cfg(feature = "std")]
    pub fn generate() -> Result<Self, SealingError> {
        Self::generate_with_rng(&mut getrandom::SysRng)
    }

    /// Generates a key from a caller-supplied cryptographically secure RNG.
    pub fn generate_with_rng<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, SealingError> {
        let mut bytes = Zeroizing::new([0u8; Self::LEN]);
        rng.try_fill_bytes(bytes.as_mut_slice())
            .map_err(|_| SealingError::Random)?;
        Ok(Self { bytes })
    }

    /// The raw key bytes.
    pub fn expose_secret(&self) -> &[u8; Self::LEN] {
        &self.bytes
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        // The cipher holds its own copy of the key and wipes it on drop (feature `zeroize`).
        XChaCha20Poly1305::new((&*self.bytes).into())
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey([REDACTED])")
    }
}

impl ZeroizeOnDrop for SealingKey {}

/// What a sealed secret is bound to: a domain label and the identity of the row that holds it,
/// authenticated as associated data.
///
/// The encoding is deterministic and unambiguous: the label, then each field's name and value,
/// each preceded by its length as a big-endian `u64`, so no two different label/field lists give
/// the same bytes. Fields are order-sensitive: seal and open with the same calls in the same order.
///
/// ```
/// # use authcore::credential::SealContext;
/// let context = SealContext::new("authcore/authenticator-secret/v1")
///     .with(b"person", b"42")
///     .with(b"authenticator", b"7");
/// assert_eq!(context, SealContext::authenticator_secret(b"42", b"7"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SealContext {
    label: String,
    fields: usize,
    encoded: Vec<u8>,
}

impl SealContext {
    /// The label used by [`SealContext::authenticator_secret`].
    pub const AUTHENTICATOR_SECRET: &'static str = "authcore/authenticator-secret/v1";

    /// A context with a domain label (for example `"authcore/authenticator-secret/v1"`) and no
    /// fields yet.
    pub fn new(label: &str) -> Self {
        let mut encoded = Vec::new();
        push_prefixed(&mut encoded, label.as_bytes());
        Self {
            label: String::from(label),
            fields: 0,
            encoded,
        }
    }

    /// The context for an authenticator secret: label [`Self::AUTHENTICATOR_SECRET`], then the
    /// fields `person` and `authenticator` with the row's ids (for example their UUID bytes or
    /// decimal text — the same form every time).
    pub fn authenticator_secret(person_id: &[u8], authenticator_id: &[u8]) -> Self {
        Self::new(Self::AUTHENTICATOR_SECRET)
            .with(b"person", person_id)
            .with(b"authenticator", authenticator_id)
    }

    /// Adds a named field.
    #[must_use]
    pub fn with(mut self, name: &[u8], value: &[u8]) -> Self {
        push_prefixed(&mut self.encoded, name);
        push_prefixed(&mut self.encoded, value);
        self.fields = self.fields.saturating_add(1);
        self
    }

    /// The encoded label and fields: the associated data, after the stored value's header.
    pub fn associated_data(&self) -> &[u8] {
        &self.encoded
    }
}

impl fmt::Debug for SealContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealContext")
            .field("label", &self.label)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

fn push_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    // usize is at most 64 bits on every Rust target, so this never saturates.
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A sealed authenticator secret, to store as bytes (a `BLOB` or `BYTEA` of at most
/// [`SealedSecret::MAX_LEN`] bytes).
///
/// Not secret without the sealing key, but `Debug` shows only the key id and length.
///
/// # Stored format (version 1)
///
/// | bytes           | field                                                        |
/// |-----------------|--------------------------------------------------------------|
/// | 1               | version, `1`                                                 |
/// | 4               | key id, `u32` big-endian                                     |
/// | 24              | nonce, random per seal                                       |
/// | `n` (10 to 256) | ciphertext of the secret key bytes (as long as the key)      |
/// | 16              | Poly1305 tag                                                 |
///
/// The associated data is the 5 header bytes (version and key id) followed by
/// [`SealContext::associated_data`], so neither can be changed without detection. A stored value
/// is 55 to [`SealedSecret::MAX_LEN`] (301) bytes. The 192-bit random nonce keeps the chance of a
/// nonce repeating under one key negligible however many values are sealed.
#[must_use = "the sealed secret must be stored"]
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    key_id: KeyId,
    bytes: Vec<u8>,
}

impl SealedSecret {
    /// The format version written.
    pub const VERSION: u8 = VERSION;
    /// The longest sealed value, in bytes: the 45 bytes of header, nonce and tag plus the longest
    /// secret key.
    pub const MAX_LEN: usize = OVERHEAD + SecretKey::MAX_LEN;

    /// The id of the key it is sealed under.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes to store, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl AsRef<[u8]> for SealedSecret {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// Seals authenticator secrets for storage at rest: the current sealing key plus the previous
/// keys still accepted for opening.
///
/// # Why sealed, not hashed
///
/// Passwords, recovery codes and out-of-band codes are stored as hashes: the server only has to
/// recognise them. An authenticator secret is different: to check a TOTP or HOTP code the server
/// computes `HMAC(K, counter)`, so it needs the key `K` itself, and a hash of it would be useless.
/// Kept in clear, a leaked database (a backup, a replica, an injection) would hand over every
/// person's second factor. So the secret is *sealed*: encrypted and authenticated with
/// XChaCha20-Poly1305 under a [`SealingKey`] that never enters the database.
///
/// # What the host keeps outside the database
///
/// The sealing keys and their [`KeyId`]s: in a secrets manager, a KMS-unwrapped configuration
/// value or an environment variable — never in the database that holds the sealed secrets. With
/// the database alone the secrets cannot be read. Without the keys they cannot be read either:
/// losing every key means every person must enroll their authenticator again.
///
/// # Binding to the row
///
/// Each seal takes a [`SealContext`]: a domain label and the row's identity (the person and the
/// authenticator ids), authenticated as associated data. A sealed value copied into another row,
/// or used for another purpose, does not open there ([`OpenError::Forged`]).
///
/// # Rotation
///
/// New values are sealed under the current key; values sealed under the current key or any
/// previous one open. To rotate:
///
/// 1. generate a new key under a new id and deploy a keyring with it as current and the old key as
///    [previous](KeyringBuilder::previous);
/// 2. re-seal old values: whenever [`Keyring::needs_reseal`] is true for a value read (or in a
///    background pass), open it, seal it again and write it back in a guarded update. The SQL
///    stores do this for every stored MFA state and every row tag with `SqliteStore::reseal` and
///    `PostgresStore::reseal`;
/// 3. once no stored value names the old id (bytes 1 to 4 of the stored value, big-endian, see
///    [`SealedSecret`]), drop the old key from the keyring.
///
/// ```
/// # use authcore::credential::{KeyId, Keyring, SealContext, SealingKey};
/// # use authcore::otp::SecretKey;
/// # #[cfg(feature = "std")]
/// # fn main() -> Result<(), authcore::Error> {
/// # let (old_key_bytes, new_key_bytes) = ([1u8; 32], [2u8; 32]);
/// // Both keys come from the host's secrets manager, never from the database.
/// let old = SealingKey::from_bytes(&old_key_bytes)?;
/// let new = SealingKey::from_bytes(&new_key_bytes)?;
/// let keyring = Keyring::builder(KeyId::new(2), new)
///     .previous(KeyId::new(1), old)
///     .build()?;
///
/// let secret = SecretKey::from_bytes(b"12345678901234567890")?;
/// let context = SealContext::authenticator_secret(b"person 42", b"authenticator 7");
/// let sealed = keyring.seal_with_os_rng(&secret, &context)?;
/// // store sealed.as_bytes() …
/// let opened = keyring.open(sealed.as_bytes(), &context)?;
/// assert_eq!(opened.expose_bytes(), secret.expose_bytes());
/// assert!(!keyring.needs_reseal(sealed.as_bytes()));
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "std"))]
/// # fn main() {}
/// ```
#[derive(Debug)]
pub struct Keyring {
    current: KeyId,
    keys: Vec<(KeyId, SealingKey)>,
}

/// Builds a [`Keyring`].
#[must_use]
#[derive(Debug)]
pub struct KeyringBuilder {
    current: KeyId,
    keys: Vec<(KeyId, SealingKey)>,
}

impl KeyringBuilder {
    /// Adds a previous key: values sealed under it still open, and report
    /// [`Keyring::needs_reseal`].
    pub fn previous(mut self, id: KeyId, key: SealingKey) -> Self {
        self.keys.push((id, key));
        self
    }

    /// Checks that every id is distinct and builds the keyring.
    pub fn build(self) -> Result<Keyring, SealingError> {
        let Self { current, keys } = self;
        for (i, (id, _)) in keys.iter().enumerate() {
            if keys.iter().skip(i.saturating_add(1)).any(|(o, _)| o == id) {
                return Err(SealingError::DuplicateKeyId(*id));
            }
        }
        Ok(Keyring { current, keys })
    }
}

/// The parts of a well-formed version-1 value.
struct Parts<'a> {
    header: &'a [u8; HEADER_LEN],
    key_id: KeyId,
    nonce: &'a [u8; NONCE_LEN],
    ciphertext: &'a [u8],
    tag: &'a [u8; TAG_LEN],
}

/// Splits a stored value; total over any input.
fn parse(sealed: &[u8]) -> Result<Parts<'_>, OpenError> {
    let (header, rest) = sealed
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(match sealed.first() {
            Some(&v) if v != VERSION => OpenError::UnsupportedVersion(v),
            _ => OpenError::Malformed,
        })?;
    let [version, id @ ..] = *header;
    if version != VERSION {
        return Err(OpenError::UnsupportedVersion(version));
    }
    let (nonce, rest) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(OpenError::Malformed)?;
    let (ciphertext, tag) = rest
        .split_last_chunk::<TAG_LEN>()
        .ok_or(OpenError::Malformed)?;
    if !(SecretKey::MIN_IMPORT_LEN..=SecretKey::MAX_LEN).contains(&ciphertext.len()) {
        return Err(OpenError::Malformed);
    }
    Ok(Parts {
        header,
        key_id: KeyId(u32::from_be_bytes(id)),
        nonce,
        ciphertext,
        tag,
    })
}

/// HMAC-SHA-256 under a 32-byte key (zero-padded to the block, as HMAC pads any short key).
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = Zeroizing::new([0u8; 64]);
    if let Some(head) = block.get_mut(..32) {
        head.copy_from_slice(key);
    }
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new(&(*block).into());
    hmac::Mac::update(&mut mac, message);
    hmac::Mac::finalize(mac).into_bytes().into()
}

fn associated_data(header: &[u8; HEADER_LEN], context: &SealContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER_LEN.saturating_add(context.encoded.len()));
    aad.extend_from_slice(header);
    aad.extend_from_slice(&context.encoded);
    aad
}

impl Keyring {
    /// A keyring with one key, used for sealing and opening.
    pub fn new(id: KeyId, key: SealingKey) -> Self {
        Self {
            current: id,
            keys: alloc::vec![(id, key)],
        }
    }

    /// Starts a keyring whose current key (the one new values are sealed under) is `key`.
    pub fn builder(id: KeyId, key: SealingKey) -> KeyringBuilder {
        KeyringBuilder {
            current: id,
            keys: alloc::vec![(id, key)],
        }
    }

    /// The id new values are sealed under.
    pub fn current_key_id(&self) -> KeyId {
        self.current
    }

    fn key(&self, id: KeyId) -> Option<&SealingKey> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, key)| key)
    }

    /// A keyed digest of `value` for `label`: HMAC-SHA-256 of `value` under a key derived from
    /// the current key for `label` (HMAC-SHA-256 of the label), so the sealing key itself is
    /// never used outside the AEAD. Deterministic, for looking a row up by a value that must not
    /// be stored in clear; it changes when the current key does.
    pub(crate) fn keyed_digest(&self, label: &str, value: &[u8]) -> [u8; 32] {
        let key = self
            .key(self.current)
            .map_or(&[0u8; SealingKey::LEN], SealingKey::expose_secret);
        let derived = Zeroizing::new(hmac_sha256(key, label.as_bytes()));
        hmac_sha256(&derived, value)
    }

    /// Seals `secret` under the current key for `context`, with a fresh nonce from the
    /// operating system's CSPRNG.
    #[cfg(feature = "std")]
    pub fn seal_with_os_rng(
        &self,
        secret: &SecretKey,
        context: &SealContext,
    ) -> Result<SealedSecret, SealingError> {
        self.seal(secret, context, &mut getrandom::SysRng)
    }

    /// Seals `secret` under the current key for `context`, with a fresh nonce from `rng`.
    pub fn seal<R: TryCryptoRng + ?Sized>(
        &self,
        secret: &SecretKey,
        context: &SealContext,
        rng: &mut R,
    ) -> Result<SealedSecret, SealingError> {
        let key = self.key(self.current).ok_or(SealingError::Cipher)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.try_fill_bytes(&mut nonce)
            .map_err(|_| SealingError::Random)?;
        let mut header = [VERSION; HEADER_LEN];
        if let Some(id) = header.last_chunk_mut::<KEY_ID_LEN>() {
            *id = self.current.0.to_be_bytes();
        }
        let plaintext = secret.expose_bytes();
        let mut ciphertext = alloc::vec![0u8; plaintext.len()];
        let buffer = InOutBuf::new(plaintext, &mut ciphertext).map_err(|_| SealingError::Cipher)?;
        let tag = key
            .cipher()
            .encrypt_inout_detached(
                &XNonce::from(nonce),
                &associated_data(&header, context),
                buffer,
            )
            .map_err(|_| SealingError::Cipher)?;
        let mut bytes = Vec::with_capacity(OVERHEAD.saturating_add(ciphertext.len()));
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        bytes.extend_from_slice(&tag);
        Ok(SealedSecret {
            key_id: self.current,
            bytes,
        })
    }

    /// Opens a stored value sealed for `context` under any key in the keyring.
    ///
    /// Total over any input: arbitrary bytes give an [`OpenError`], never a panic.
    pub fn open(&self, sealed: &[u8], context: &SealContext) -> Result<SecretKey, OpenError> {
        let parts = parse(sealed)?;
        let key = self
            .key(parts.key_id)
            .ok_or(OpenError::UnknownKeyId(parts.key_id))?;
        let mut plaintext = Zeroizing::new(alloc::vec![0u8; parts.ciphertext.len()]);
        let buffer =
            InOutBuf::new(parts.ciphertext, &mut plaintext).map_err(|_| OpenError::Malformed)?;
        key.cipher()
            .decrypt_inout_detached(
                &XNonce::from(*parts.nonce),
                &associated_data(parts.header, context),
                buffer,
                &Tag::from(*parts.tag),
            )
            .map_err(|_| OpenError::Forged)?;
        // The length was checked against the SecretKey bounds before decrypting.
        SecretKey::from_bytes_allow_short(&plaintext).map_err(|_| OpenError::Malformed)
    }

    /// Whether a stored value is well-formed but sealed under a key other than the current one:
    /// open it and seal it again ([`Keyring::seal`]) to finish a rotation. False for values that
    /// do not parse; [`Keyring::open`] reports those.
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        parse(sealed).is_ok_and(|parts| parts.key_id != self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    /// Fills with a counter, so values are reproducible.
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

    struct Broken;

    impl rand_core::TryRng for Broken {
        type Error = fmt::Error;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Err(fmt::Error)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Err(fmt::Error)
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
            Err(fmt::Error)
        }
    }

    impl rand_core::TryCryptoRng for Broken {}

    fn keyring() -> Keyring {
        Keyring::new(KeyId::new(7), SealingKey::from_bytes(&[0x42; 32]).unwrap())
    }

    #[test]
    fn layout() {
        let secret = SecretKey::from_bytes(b"12345678901234567890").unwrap();
        let context = SealContext::authenticator_secret(b"p", b"a");
        let sealed = keyring().seal(&secret, &context, &mut Counter(0)).unwrap();
        let bytes = sealed.as_bytes();
        assert_eq!(bytes.len(), 1 + 4 + 24 + 20 + 16);
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..5], &[0, 0, 0, 7]);
        assert_eq!(
            &bytes[5..29],
            &core::array::from_fn::<u8, 24, _>(|i| i as u8 + 1)
        );
        assert_eq!(sealed.key_id(), KeyId::new(7));
        let parts = parse(bytes).unwrap();
        assert_eq!(parts.ciphertext.len(), 20);
        assert_eq!(parts.tag.as_slice(), &bytes[49..]);
    }

    /// A value sealed by this version must open in every later one: the stored format is pinned.
    #[test]
    fn stored_format_is_stable() {
        let secret = SecretKey::from_bytes(b"12345678901234567890").unwrap();
        let context = SealContext::authenticator_secret(b"p", b"a");
        let sealed = keyring().seal(&secret, &context, &mut Counter(0)).unwrap();
        let expected = data_encoding::HEXLOWER.decode(PINNED.as_bytes()).unwrap();
        assert_eq!(sealed.as_bytes(), expected.as_slice());
        let opened = keyring().open(&expected, &context).unwrap();
        assert_eq!(opened.expose_bytes(), b"12345678901234567890");
    }

    /// Key `[0x42; 32]`, id 7, nonce 1..=24, secret `"12345678901234567890"`, context
    /// `authenticator_secret(b"p", b"a")`. Cross-checked against an independent implementation
    /// (HChaCha20 per draft-irtf-cfrg-xchacha §2.2, then RFC 8439 ChaCha20-Poly1305 from a
    /// different library) over the same header, nonce and associated data.
    const PINNED: &str = concat!(
        "0100000007",
        "0102030405060708090a0b0c0d0e0f101112131415161718",
        "da9133ae16c679d79b9f25a939808bc4eb88a972",
        "62e77677d7ed1cd60eaf3e9801201b76",
    );

    #[test]
    fn context_encoding_is_unambiguous() {
        let a = SealContext::new("l").with(b"ab", b"c");
        let b = SealContext::new("l").with(b"a", b"bc");
        let c = SealContext::new("la").with(b"b", b"c");
        let d = SealContext::new("l").with(b"ab", b"c").with(b"", b"");
        assert_ne!(a.associated_data(), b.associated_data());
        assert_ne!(a.associated_data(), c.associated_data());
        assert_ne!(a.associated_data(), d.associated_data());
        assert_eq!(
            SealContext::new("x").with(b"k", b"v").associated_data(),
            b"\0\0\0\0\0\0\0\x01x\0\0\0\0\0\0\0\x01k\0\0\0\0\0\0\0\x01v"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            SealingKey::from_bytes(&[0; 31]).unwrap_err(),
            SealingError::KeyLength
        );
        assert_eq!(
            SealingKey::generate_with_rng(&mut Broken).unwrap_err(),
            SealingError::Random
        );
        let secret = SecretKey::from_bytes(&[1; 16]).unwrap();
        let context = SealContext::new("t");
        assert_eq!(
            keyring().seal(&secret, &context, &mut Broken).unwrap_err(),
            SealingError::Random
        );
        let dup = Keyring::builder(KeyId::new(1), SealingKey::from_bytes(&[1; 32]).unwrap())
            .previous(KeyId::new(2), SealingKey::from_bytes(&[2; 32]).unwrap())
            .previous(KeyId::new(1), SealingKey::from_bytes(&[3; 32]).unwrap())
            .build()
            .unwrap_err();
        assert_eq!(dup, SealingError::DuplicateKeyId(KeyId::new(1)));
        assert_eq!(
            SealingError::from(OpenError::Forged),
            SealingError::Open(OpenError::Forged)
        );
        assert!(format!("{dup}").contains("id 1"));
    }

    #[test]
    fn keyed_digest_is_hmac_under_a_key_derived_from_the_current_key() {
        // HMAC-SHA-256(HMAC-SHA-256([0x42; 32], "login"), "alice"), computed independently.
        let expected = data_encoding::HEXLOWER
            .decode(b"b09c5936e1a5c0cd3250dcb70f0df71fcf46929f57c9ca49006525212baef5fe")
            .unwrap();
        assert_eq!(
            keyring().keyed_digest("login", b"alice").as_slice(),
            expected
        );
        // The current key is the one used, not a previous one.
        let rotated = Keyring::builder(KeyId::new(8), SealingKey::from_bytes(&[0x43; 32]).unwrap())
            .previous(KeyId::new(7), SealingKey::from_bytes(&[0x42; 32]).unwrap())
            .build()
            .unwrap();
        let expected = data_encoding::HEXLOWER
            .decode(b"1e0c583723f909e4d4c814a268848c5d5b03e2aebdefdde834c92e11fef05dc0")
            .unwrap();
        assert_eq!(rotated.keyed_digest("login", b"alice").as_slice(), expected);
    }

    #[test]
    fn error_texts_and_sources() {
        for (error, text) in [
            (SealingError::KeyLength, "a sealing key must be 32 bytes"),
            (
                SealingError::DuplicateKeyId(KeyId::new(9)),
                "two sealing keys have the id 9",
            ),
            (SealingError::Cipher, "the cipher refused the input"),
            (
                SealingError::Open(OpenError::Malformed),
                "the sealed secret did not open: not a sealed secret (wrong length)",
            ),
            (SealingError::Random, "the random number generator failed"),
        ] {
            assert_eq!(format!("{error}"), text);
        }
        for (error, text) in [
            (OpenError::Malformed, "not a sealed secret (wrong length)"),
            (
                OpenError::UnsupportedVersion(3),
                "unsupported sealed format version 3",
            ),
            (
                OpenError::UnknownKeyId(KeyId::new(5)),
                "no sealing key with id 5",
            ),
            (
                OpenError::Forged,
                "authentication failed (altered, sealed for another row, or a different key)",
            ),
        ] {
            assert_eq!(format!("{error}"), text);
        }
        #[cfg(feature = "std")]
        {
            use std::error::Error as _;
            let source = SealingError::Open(OpenError::Forged).source().unwrap();
            assert_eq!(format!("{source}"), format!("{}", OpenError::Forged));
            assert!(SealingError::Cipher.source().is_none());
            assert!(SealingError::KeyLength.source().is_none());
        }
    }

    #[test]
    fn accessors_read_back() {
        assert_eq!(KeyId::new(12).get(), 12);
        assert_eq!(KeyId::from(12), KeyId::new(12));
        assert_eq!(keyring().current_key_id(), KeyId::new(7));
        let secret = SecretKey::from_bytes(b"12345678901234567890").unwrap();
        let context = SealContext::new("t").with(b"a", b"b").with(b"c", b"d");
        let sealed = keyring().seal(&secret, &context, &mut Counter(0)).unwrap();
        assert_eq!(sealed.as_ref(), sealed.as_bytes());
        assert_eq!(
            format!("{sealed:?}"),
            "SealedSecret { key_id: KeyId(7), len: 65, .. }"
        );
        assert_eq!(
            format!("{context:?}"),
            "SealContext { label: \"t\", fields: 2, .. }"
        );
        let bytes = sealed.as_bytes().to_vec();
        assert_eq!(sealed.into_bytes(), bytes);
    }

    #[test]
    fn parse_edges() {
        assert!(matches!(parse(&[]), Err(OpenError::Malformed)));
        assert!(matches!(parse(&[1]), Err(OpenError::Malformed)));
        assert!(matches!(parse(&[2]), Err(OpenError::UnsupportedVersion(2))));
        assert!(matches!(
            parse(&[0; 100]),
            Err(OpenError::UnsupportedVersion(0))
        ));
        let mut v = alloc::vec![1u8; OVERHEAD + 9];
        assert!(matches!(parse(&v), Err(OpenError::Malformed)));
        v.push(0);
        assert!(parse(&v).is_ok());
        let v = alloc::vec![1u8; SealedSecret::MAX_LEN];
        assert!(parse(&v).is_ok());
        let v = alloc::vec![1u8; SealedSecret::MAX_LEN + 1];
        assert!(matches!(parse(&v), Err(OpenError::Malformed)));
    }
}

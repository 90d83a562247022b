//! Breached passwords, looked up by k-anonymity: a range query on a SHA-1 prefix.
//!
//! NIST SP 800-63B asks for new passwords to be refused when they appear in "passwords obtained
//! from previous breach corpuses". The corpora are large (Have I Been Pwned's holds close to a
//! billion hashes), so they are queried, not shipped. The query never reveals the password:
//!
//! 1. [`BreachQuery::new`] hashes the (NFC-normalised) password with SHA-1 and keeps the 40
//!    upper-case hex digits, wiped on drop;
//! 2. only its first five hex digits, the [`RangePrefix`], go to the corpus
//!    ([`BreachCorpus::range`]), which answers with every suffix it holds under that prefix
//!    (several hundred for a real corpus) and their counts, a [`BreachRange`];
//! 3. [`BreachQuery::count_in`] compares the remaining 35 digits with every suffix of the range,
//!    in constant time and without stopping at a match.
//!
//! The corpus learns one of 2^20 buckets; it never learns the hash, let alone the password.
//!
//! [`BreachCorpus`] is synchronous, as this crate's core is: it is implemented by the offline
//! [`RangeFile`](super::RangeFile) (feature `std`) and by [`CommonPasswords`], the built-in list
//! of common passwords. A corpus behind the network (an online range API) belongs in the async
//! service layer: see `authcore::service::BreachedPasswords`.

use alloc::vec::Vec;
use core::fmt;

use sha1::{Digest, Sha1};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

use super::{Password, blocklist};

/// Hex digits in a SHA-1 hash.
const HASH_DIGITS: usize = 40;
/// Hex digits in a range prefix: 5 (2^20 ranges).
pub(crate) const PREFIX_DIGITS: usize = 5;
/// Hex digits in a range suffix: 35.
pub(crate) const SUFFIX_DIGITS: usize = HASH_DIGITS - PREFIX_DIGITS;

/// The first five hex digits of a SHA-1 hash, upper case: all that a corpus is told.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RangePrefix([u8; PREFIX_DIGITS]);

impl RangePrefix {
    /// Parses five hex digits, either case ([`BreachError::Prefix`] otherwise).
    pub fn parse(text: &str) -> Result<Self, BreachError> {
        let bytes: [u8; PREFIX_DIGITS] = text
            .as_bytes()
            .try_into()
            .map_err(|_| BreachError::Prefix)?;
        upper_hex(bytes).map(Self).ok_or(BreachError::Prefix)
    }

    /// The five upper-case hex digits, as a range API's path takes them (`/range/{prefix}`).
    pub fn as_str(&self) -> &str {
        // Always ASCII hex digits: built only by `upper_hex`.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    #[cfg(feature = "std")]
    pub(crate) fn as_bytes(&self) -> &[u8; PREFIX_DIGITS] {
        &self.0
    }
}

impl fmt::Display for RangePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RangePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RangePrefix({})", self.as_str())
    }
}

/// `bytes` upper-cased, if every one is a hex digit.
fn upper_hex<const N: usize>(mut bytes: [u8; N]) -> Option<[u8; N]> {
    for byte in &mut bytes {
        if !byte.is_ascii_hexdigit() {
            return None;
        }
        byte.make_ascii_uppercase();
    }
    Some(bytes)
}

/// A corpus's answer for one [`RangePrefix`]: the suffixes it holds (35 hex digits each, stored
/// upper case) and how many times each was seen.
///
/// Parse the text of a range API ([`BreachRange::parse`]) or build it entry by entry
/// ([`BreachRange::push`]). Entries with count 0 (the padding some APIs add so that the size of
/// the answer says nothing) are kept and never match.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BreachRange {
    entries: Vec<([u8; SUFFIX_DIGITS], u64)>,
}

impl BreachRange {
    /// The most entries one range may hold: 65,536, far above the two thousand or so of the
    /// largest real range, so a corpus that answers with a flood is refused
    /// ([`BreachError::RangeTooLarge`]) rather than compared line by line.
    pub const MAX_ENTRIES: usize = 1 << 16;

    /// An empty range (nothing breached under the prefix).
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the body of a range answer: one `SUFFIX:COUNT` per line (35 hex digits in either
    /// case, a colon, a decimal count), lines ending in `\n` or `\r\n`, blank lines ignored.
    /// This is the format of Have I Been Pwned's `GET /range/{prefix}`.
    ///
    /// A malformed line is [`BreachError::Line`] with its number (from 1); nothing of a
    /// malformed answer is kept.
    pub fn parse(text: &str) -> Result<Self, BreachError> {
        let mut range = Self::new();
        for (index, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let number = index.saturating_add(1);
            let (suffix, count) =
                parse_entry(line, SUFFIX_DIGITS).ok_or(BreachError::Line(number))?;
            range.push(&suffix, count)?;
        }
        Ok(range)
    }

    /// Adds one entry: `suffix` is 35 hex digits in either case ([`BreachError::Suffix`]
    /// otherwise).
    pub fn push(&mut self, suffix: &[u8], count: u64) -> Result<(), BreachError> {
        let suffix: [u8; SUFFIX_DIGITS] = suffix.try_into().map_err(|_| BreachError::Suffix)?;
        let suffix = upper_hex(suffix).ok_or(BreachError::Suffix)?;
        if self.entries.len() >= Self::MAX_ENTRIES {
            return Err(BreachError::RangeTooLarge);
        }
        self.entries.push((suffix, count));
        Ok(())
    }

    /// How many entries the range holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the range holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for BreachRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreachRange")
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// Parses `HEX:COUNT` (or a bare `HEX`, counted once) with `digits` hex digits.
pub(crate) fn parse_entry(line: &str, digits: usize) -> Option<(Vec<u8>, u64)> {
    let (hex, count) = match line.split_once(':') {
        Some((hex, count)) => (hex, parse_count(count)?),
        None => (line, 1),
    };
    let hex = hex.as_bytes();
    (hex.len() == digits && hex.iter().all(u8::is_ascii_hexdigit))
        .then(|| (hex.to_ascii_uppercase(), count))
}

/// A decimal count: digits only (no sign, no spaces), within `u64`.
fn parse_count(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A password's SHA-1, ready for a range query: the prefix to send, the suffix to look for.
///
/// Wiped on drop; `Debug` prints only the prefix, which is all that leaves the process anyway.
pub struct BreachQuery {
    hex: Zeroizing<[u8; HASH_DIGITS]>,
}

impl BreachQuery {
    /// Hashes the password (its NFC-normalised UTF-8, as every breach corpus hashes it).
    pub fn new(password: &Password) -> Self {
        let mut digest = Sha1::digest(password.expose_secret().as_bytes());
        let mut hex = Zeroizing::new([0u8; HASH_DIGITS]);
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest.iter()) {
            const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
            if let [high, low] = pair {
                *high = DIGITS.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
                *low = DIGITS
                    .get(usize::from(byte & 0x0f))
                    .copied()
                    .unwrap_or(b'0');
            }
        }
        digest.as_mut_slice().zeroize();
        Self { hex }
    }

    /// The five hex digits to send to the corpus.
    pub fn prefix(&self) -> RangePrefix {
        let mut prefix = [0u8; PREFIX_DIGITS];
        prefix.copy_from_slice(self.hex.get(..PREFIX_DIGITS).unwrap_or(&[0; PREFIX_DIGITS]));
        RangePrefix(prefix)
    }

    fn suffix(&self) -> &[u8] {
        self.hex.get(PREFIX_DIGITS..).unwrap_or_default()
    }

    /// How many times the corpus saw this password (0: not found). Every entry of the range is
    /// compared, in constant time, whether or not an earlier one matched.
    pub fn count_in(&self, range: &BreachRange) -> u64 {
        let suffix = self.suffix();
        let mut count = 0u64;
        for (entry, seen) in &range.entries {
            let hit = entry.as_slice().ct_eq(suffix);
            count.conditional_assign(seen, hit);
        }
        count
    }
}

impl fmt::Debug for BreachQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BreachQuery({}…)", self.prefix())
    }
}

/// A breach corpus that answers range queries synchronously: a local file, an in-memory table,
/// the built-in list.
///
/// It is given only the [`RangePrefix`] and returns every entry under it; it never sees the
/// password or its full hash. A corpus that cannot answer returns an error (for example
/// [`BreachError::Unavailable`]); what that means for the password is the caller's choice (the
/// service's is in `authcore::service::BreachSettings`).
pub trait BreachCorpus: Send + Sync {
    /// Every entry the corpus holds under `prefix`.
    fn range(&self, prefix: &RangePrefix) -> Result<BreachRange, BreachError>;
}

/// How many times `password` appears in `corpus`: one range query, then a constant-time
/// comparison.
pub fn breach_count<C: BreachCorpus + ?Sized>(
    corpus: &C,
    password: &Password,
) -> Result<u64, BreachError> {
    let query = BreachQuery::new(password);
    let range = corpus.range(&query.prefix())?;
    Ok(query.count_in(&range))
}

/// The built-in list of common passwords (the one [`PasswordPolicy`](super::PasswordPolicy)
/// always applies) as a [`BreachCorpus`]: each entry counts once.
///
/// The policy already refuses these passwords case-insensitively, before any corpus is asked,
/// so the two combine: a host that configures no corpus of its own still refuses the common
/// passwords, and one that does gets both. This corpus is for hosts and tests that want the
/// range-query path without a file or a network; it hashes the 19,640 entries on each query
/// (a few milliseconds) and holds nothing in memory. Entries are matched as listed (lower case).
#[derive(Clone, Copy, Debug, Default)]
pub struct CommonPasswords;

impl BreachCorpus for CommonPasswords {
    fn range(&self, prefix: &RangePrefix) -> Result<BreachRange, BreachError> {
        let mut range = BreachRange::new();
        for entry in blocklist::entries() {
            let query = BreachQuery::new(&Password::from(entry));
            if &query.prefix() == prefix {
                range.push(query.suffix(), 1)?;
            }
        }
        Ok(range)
    }
}

/// Why a breach look-up could not be answered. Never contains a password or a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreachError {
    /// A range prefix is not five hex digits.
    Prefix,
    /// A suffix is not 35 hex digits.
    Suffix,
    /// Line `n` (from 1) of a range answer is not `SUFFIX:COUNT`.
    Line(usize),
    /// A range holds more than [`BreachRange::MAX_ENTRIES`] entries.
    RangeTooLarge,
    /// A corpus file has a malformed line starting at this byte offset (not `HASH` or
    /// `HASH:COUNT` with 40 hex digits), or one of its lines is longer than a line can be.
    Malformed {
        /// The byte offset of the line in the file.
        offset: u64,
    },
    /// A corpus file's lines are not sorted by hash near this byte offset.
    Unsorted {
        /// The byte offset of the out-of-order line.
        offset: u64,
    },
    /// The corpus file could not be read (opened, sought or read).
    Io,
    /// The corpus could not be reached or answered with an error (for a host's own corpus: a
    /// network failure, a timeout, an HTTP error status).
    Unavailable,
}

impl fmt::Display for BreachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Prefix => f.write_str("a range prefix must be 5 hex digits"),
            Self::Suffix => f.write_str("a range suffix must be 35 hex digits"),
            Self::Line(n) => write!(f, "line {n} of the range answer is not SUFFIX:COUNT"),
            Self::RangeTooLarge => write!(
                f,
                "the range answer holds more than {} entries",
                BreachRange::MAX_ENTRIES
            ),
            Self::Malformed { offset } => {
                write!(f, "the corpus file has a malformed line at byte {offset}")
            }
            Self::Unsorted { offset } => {
                write!(f, "the corpus file is not sorted by hash at byte {offset}")
            }
            Self::Io => f.write_str("the corpus file could not be read"),
            Self::Unavailable => f.write_str("the breach corpus could not be reached"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BreachError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    /// SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8.
    const PASSWORD_SUFFIX: &str = "1E4C9B93F3F0682250B6CF8331B7EE68FD8";

    #[test]
    fn query_splits_the_sha1() {
        let query = BreachQuery::new(&Password::from("password"));
        assert_eq!(query.prefix().as_str(), "5BAA6");
        assert_eq!(query.suffix(), PASSWORD_SUFFIX.as_bytes());
        let shown = format!("{query:?}");
        assert!(!shown.contains("1E4C9"), "{shown}");
    }

    #[test]
    fn query_hashes_the_nfc_form() {
        let composed = BreachQuery::new(&Password::from("caf\u{e9}"));
        let decomposed = BreachQuery::new(&Password::from("cafe\u{301}"));
        assert_eq!(composed.hex.as_slice(), decomposed.hex.as_slice());
    }

    #[test]
    fn count_found_not_found_and_case() {
        let query = BreachQuery::new(&Password::from("password"));
        let lower = PASSWORD_SUFFIX.to_ascii_lowercase();
        let text = format!(
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n{lower}:10437277\r\n\
             00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n"
        );
        let range = BreachRange::parse(&text).unwrap();
        assert_eq!(range.len(), 3);
        assert_eq!(query.count_in(&range), 10_437_277);
        let other = BreachQuery::new(&Password::from("plum kettle orbit"));
        assert_eq!(other.count_in(&range), 0);
        assert_eq!(query.count_in(&BreachRange::new()), 0);
    }

    #[test]
    fn padding_entries_never_match() {
        let query = BreachQuery::new(&Password::from("password"));
        let range = BreachRange::parse(&format!("{PASSWORD_SUFFIX}:0\n")).unwrap();
        assert_eq!(query.count_in(&range), 0);
    }

    #[test]
    fn bad_answers_are_typed() {
        let good = "0018A45C4D1DEF81644B54AB7F969B88D65:1";
        assert_eq!(BreachRange::parse("").map(|r| r.len()), Ok(0));
        assert_eq!(BreachRange::parse("\n\r\n").map(|r| r.len()), Ok(0));
        for (text, line) in [
            ("0018A45C4D1DEF81644B54AB7F969B88D6:1", 1),
            ("0018A45C4D1DEF81644B54AB7F969B88D655:1", 1),
            ("0018A45C4D1DEF81644B54AB7F969B88D6G:1", 1),
            ("0018A45C4D1DEF81644B54AB7F969B88D65:", 1),
            ("0018A45C4D1DEF81644B54AB7F969B88D65:-1", 1),
            ("0018A45C4D1DEF81644B54AB7F969B88D65: 1", 1),
            (
                "0018A45C4D1DEF81644B54AB7F969B88D65:99999999999999999999999",
                1,
            ),
            ("0018A45C4D1DEF81644B54AB7F969B88D65:1:2", 1),
            ("<html>", 1),
        ] {
            assert_eq!(
                BreachRange::parse(text),
                Err(BreachError::Line(line)),
                "{text}"
            );
            let two = format!("{good}\n{text}\n");
            assert_eq!(
                BreachRange::parse(&two),
                Err(BreachError::Line(2)),
                "{text}"
            );
        }
        assert_eq!(
            RangePrefix::parse("5baa6").map(|p| p.to_string()),
            Ok("5BAA6".into())
        );
        for bad in ["5BAA", "5BAA61", "5BAG6", "", "5BAA\u{e9}"] {
            assert_eq!(RangePrefix::parse(bad), Err(BreachError::Prefix), "{bad}");
        }
        let mut range = BreachRange::new();
        assert_eq!(range.push(b"ABC", 1), Err(BreachError::Suffix));
        assert!(range.is_empty());
    }

    #[test]
    fn a_flooding_answer_is_refused() {
        let mut range = BreachRange::new();
        for _ in 0..BreachRange::MAX_ENTRIES {
            range.push(PASSWORD_SUFFIX.as_bytes(), 1).unwrap();
        }
        assert_eq!(
            range.push(PASSWORD_SUFFIX.as_bytes(), 1),
            Err(BreachError::RangeTooLarge)
        );
    }

    #[test]
    fn the_common_list_answers_ranges() {
        assert_eq!(
            breach_count(&CommonPasswords, &Password::from("password")),
            Ok(1)
        );
        assert_eq!(
            breach_count(&CommonPasswords, &Password::from("123456")),
            Ok(1)
        );
        assert_eq!(
            breach_count(&CommonPasswords, &Password::from("plum kettle orbit")),
            Ok(0)
        );
        // The range holds every listed password under the prefix, not only the one asked for.
        let range = CommonPasswords
            .range(&RangePrefix::parse("5BAA6").unwrap())
            .unwrap();
        assert!(!range.is_empty());
    }

    #[test]
    fn a_count_with_a_sign_is_malformed() {
        // `u64::from_str` would take `+1`: the count must be digits only.
        assert_eq!(
            BreachRange::parse("0018A45C4D1DEF81644B54AB7F969B88D65:+1"),
            Err(BreachError::Line(1))
        );
        assert_eq!(parse_count("+1"), None);
        assert_eq!(parse_count(""), None);
        assert_eq!(parse_count("007"), Some(7));
    }

    #[test]
    fn debug_forms_show_the_prefix_and_sizes_only() {
        let query = BreachQuery::new(&Password::from("password"));
        assert_eq!(format!("{query:?}"), "BreachQuery(5BAA6…)");
        assert_eq!(format!("{:?}", query.prefix()), "RangePrefix(5BAA6)");
        let range = BreachRange::parse(&format!("{PASSWORD_SUFFIX}:3\n")).unwrap();
        assert_eq!(format!("{range:?}"), "BreachRange { entries: 1 }");
    }

    #[test]
    fn breach_error_texts() {
        let cases = [
            (BreachError::Prefix, "a range prefix must be 5 hex digits"),
            (BreachError::Suffix, "a range suffix must be 35 hex digits"),
            (
                BreachError::Line(7),
                "line 7 of the range answer is not SUFFIX:COUNT",
            ),
            (
                BreachError::RangeTooLarge,
                "the range answer holds more than 65536 entries",
            ),
            (
                BreachError::Malformed { offset: 42 },
                "the corpus file has a malformed line at byte 42",
            ),
            (
                BreachError::Unsorted { offset: 43 },
                "the corpus file is not sorted by hash at byte 43",
            ),
            (BreachError::Io, "the corpus file could not be read"),
            (
                BreachError::Unavailable,
                "the breach corpus could not be reached",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text, "{error:?}");
        }
    }
}

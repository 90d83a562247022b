//! Offline breach corpora on the local disk: [`RangeFile`] (one sorted file of full SHA-1
//! hashes) and [`RangeDirectory`] (one file per range prefix).
//!
//! Both are the formats Have I Been Pwned's `PwnedPasswordsDownloader` writes, so a host can
//! download the corpus once and answer range queries without the network.

use alloc::vec::Vec;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::breach::{
    BreachCorpus, BreachError, BreachRange, PREFIX_DIGITS, RangePrefix, parse_entry,
};

/// Hex digits of a full SHA-1 hash.
const HASH_DIGITS: usize = 40;
/// The longest line: 40 hex digits, `:`, a `u64` count (20 digits), `\r`, `\n`.
const MAX_LINE: usize = HASH_DIGITS + 1 + 20 + 2;
/// The most bytes read at one probe: the rest of the line `pos` falls in, and the whole next one.
const PROBE: usize = 2 * MAX_LINE;
/// The largest per-prefix file [`RangeDirectory`] reads: 4 MiB (real ones are about 30 KiB).
const MAX_RANGE_FILE: u64 = 4 << 20;

/// A breach corpus in one local file of full SHA-1 hashes, sorted, looked up by binary search
/// on the disk (about 30 small reads for the full 40 GB corpus; nothing is loaded in memory).
///
/// # Format
///
/// One hash per line: 40 hex digits (either case), optionally followed by `:` and a decimal
/// count (a bare hash counts once), for example
///
/// ```text
/// 000000005AD76BD555C1D6D771DE417A4B87E4B4:10
/// 00000000A8DAE4228F821FB418F59826079BF368:4
/// ```
///
/// Lines end in `\n` or `\r\n`; there are no blank lines or comments; the lines are sorted by
/// hash, ignoring case. This is the output of `haveibeenpwned-downloader` in its default
/// single-file mode (`pwnedpasswords.txt`), and what
/// `sort -u` of `sha1sum`-style upper-case hashes gives.
///
/// A query reads and checks only the lines around its range: a malformed line met there is
/// [`BreachError::Malformed`], lines out of order [`BreachError::Unsorted`], a read failure
/// [`BreachError::Io`]. Run [`RangeFile::verify`] once after installing a file to check it
/// whole.
///
/// The file is opened for each query, so it may be replaced (atomically, by a rename) while the
/// service runs. Reading the disk blocks the calling thread for the few reads of a query.
#[derive(Clone, Debug)]
pub struct RangeFile {
    path: PathBuf,
}

impl RangeFile {
    /// A corpus in the file at `path`; fails with [`BreachError::Io`] if it cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BreachError> {
        let path = path.as_ref().to_path_buf();
        let _ = File::open(&path).map_err(|_| BreachError::Io)?;
        Ok(Self { path })
    }

    /// Reads the whole file and checks every line and their order; returns the number of
    /// hashes. Linear in the file's size: for installation and tests, not for each query.
    pub fn verify(&self) -> Result<u64, BreachError> {
        let file = File::open(&self.path).map_err(|_| BreachError::Io)?;
        let mut reader = Lines::new(BufReader::new(file), 0);
        let mut previous: Option<[u8; HASH_DIGITS]> = None;
        let mut hashes = 0u64;
        while let Some((offset, hash, _)) = reader.next_hash()? {
            if previous.is_some_and(|before| hash < before) {
                return Err(BreachError::Unsorted { offset });
            }
            previous = Some(hash);
            hashes = hashes.saturating_add(1);
        }
        Ok(hashes)
    }

    fn range_in<R: Read + Seek>(
        source: &mut R,
        len: u64,
        prefix: &RangePrefix,
    ) -> Result<BreachRange, BreachError> {
        // The first position whose next line holds a hash at or above the prefix (or no line).
        let at_or_above = |source: &mut R, pos: u64| -> Result<bool, BreachError> {
            Ok(match line_at(source, len, pos)? {
                None => true,
                Some((_, hash)) => hash.get(..PREFIX_DIGITS) >= Some(prefix.as_bytes().as_slice()),
            })
        };
        let (mut low, mut high) = (0u64, len);
        while low < high {
            let mid = low.saturating_add(high.saturating_sub(low) / 2);
            if at_or_above(source, mid)? {
                high = mid;
            } else {
                low = mid.saturating_add(1);
            }
        }
        let Some((start, _)) = line_at(source, len, low)? else {
            return Ok(BreachRange::new());
        };
        source
            .seek(SeekFrom::Start(start))
            .map_err(|_| BreachError::Io)?;
        let mut reader = Lines::new(BufReader::new(source), start);
        let mut range = BreachRange::new();
        let mut previous: Option<[u8; HASH_DIGITS]> = None;
        while let Some((offset, hash, count)) = reader.next_hash()? {
            if previous.is_some_and(|before| hash < before) {
                return Err(BreachError::Unsorted { offset });
            }
            previous = Some(hash);
            let (head, suffix) = hash.split_at(PREFIX_DIGITS);
            match head.cmp(prefix.as_bytes().as_slice()) {
                core::cmp::Ordering::Equal => range.push(suffix, count)?,
                core::cmp::Ordering::Greater => break,
                // Below the prefix after the binary search landed at or above it.
                core::cmp::Ordering::Less => return Err(BreachError::Unsorted { offset }),
            }
        }
        Ok(range)
    }
}

impl BreachCorpus for RangeFile {
    fn range(&self, prefix: &RangePrefix) -> Result<BreachRange, BreachError> {
        let mut file = File::open(&self.path).map_err(|_| BreachError::Io)?;
        let len = file.metadata().map_err(|_| BreachError::Io)?.len();
        Self::range_in(&mut file, len, prefix)
    }
}

/// The first line starting at or after `pos`: its offset and its hash (upper case).
fn line_at<R: Read + Seek>(
    source: &mut R,
    len: u64,
    pos: u64,
) -> Result<Option<(u64, [u8; HASH_DIGITS])>, BreachError> {
    // Start one byte early, so that a line starting exactly at `pos` is found after its `\n`.
    let from = pos.saturating_sub(1);
    if from >= len {
        return Ok(None);
    }
    source
        .seek(SeekFrom::Start(from))
        .map_err(|_| BreachError::Io)?;
    let mut buffer = [0u8; PROBE];
    let filled = read_up_to(source, &mut buffer)?;
    let window = buffer.get(..filled).unwrap_or_default();
    let skip = if pos == 0 {
        0
    } else {
        match window.iter().position(|&b| b == b'\n') {
            Some(newline) => newline.saturating_add(1),
            None if filled < PROBE => return Ok(None),
            None => return Err(BreachError::Malformed { offset: from }),
        }
    };
    let start = from.saturating_add(skip as u64);
    if start >= len {
        return Ok(None);
    }
    let rest = window.get(skip..).unwrap_or_default();
    let end = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => end,
        // The last line, without a final newline.
        None if from.saturating_add(filled as u64) >= len => rest.len(),
        None => return Err(BreachError::Malformed { offset: start }),
    };
    let line = rest.get(..end).unwrap_or_default();
    let hash = parse_line(line).ok_or(BreachError::Malformed { offset: start })?;
    Ok(Some((start, hash.0)))
}

/// Reads until `buffer` is full or the source ends; returns how many bytes were read.
fn read_up_to<R: Read>(source: &mut R, buffer: &mut [u8]) -> Result<usize, BreachError> {
    let mut filled = 0usize;
    while let Some(free) = buffer.get_mut(filled..) {
        if free.is_empty() {
            break;
        }
        match source.read(free) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(BreachError::Io),
        }
    }
    Ok(filled)
}

/// One line of a [`RangeFile`] (without its `\n`): the hash upper-cased, and the count.
fn parse_line(line: &[u8]) -> Option<([u8; HASH_DIGITS], u64)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = core::str::from_utf8(line).ok()?;
    let (hash, count) = parse_entry(line, HASH_DIGITS)?;
    Some((hash.try_into().ok()?, count))
}

/// Reads lines one by one, keeping their byte offsets.
struct Lines<R> {
    reader: R,
    offset: u64,
    line: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R, offset: u64) -> Self {
        Self {
            reader,
            offset,
            line: Vec::with_capacity(MAX_LINE),
        }
    }

    /// The next line's offset, hash and count; `None` at the end of the file.
    fn next_hash(&mut self) -> Result<Option<(u64, [u8; HASH_DIGITS], u64)>, BreachError> {
        self.line.clear();
        let offset = self.offset;
        let read = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut self.line)
            .map_err(|_| BreachError::Io)?;
        if read == 0 {
            return Ok(None);
        }
        self.offset = offset.saturating_add(read as u64);
        let line = self.line.strip_suffix(b"\n");
        let (hash, count) = line
            .and_then(parse_line)
            .or_else(|| {
                // The last line may lack its newline; a line that filled the limit without one
                // is too long.
                (read < MAX_LINE).then(|| parse_line(&self.line)).flatten()
            })
            .ok_or(BreachError::Malformed { offset })?;
        Ok(Some((offset, hash, count)))
    }
}

/// A breach corpus as a directory of range files, one per prefix: `ABCDE.txt` (or `ABCDE`,
/// upper-case name) holds the lines `SUFFIX:COUNT` of that range, the body of a range API's
/// answer ([`BreachRange::parse`]).
///
/// This is the output of `haveibeenpwned-downloader -s false`. A missing file for a prefix is
/// [`BreachError::Io`] (an incomplete corpus is a failure, not an empty range), a file above
/// 4 MiB is [`BreachError::RangeTooLarge`], and a malformed one [`BreachError::Line`].
#[derive(Clone, Debug)]
pub struct RangeDirectory {
    dir: PathBuf,
}

impl RangeDirectory {
    /// A corpus in the directory `dir`; fails with [`BreachError::Io`] if it is not one.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, BreachError> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(BreachError::Io);
        }
        Ok(Self { dir })
    }
}

impl BreachCorpus for RangeDirectory {
    fn range(&self, prefix: &RangePrefix) -> Result<BreachRange, BreachError> {
        let named = self.dir.join(prefix.as_str());
        let file = File::open(named.with_extension("txt"))
            .or_else(|_| File::open(&named))
            .map_err(|_| BreachError::Io)?;
        let mut text = alloc::string::String::new();
        let read = file
            .take(MAX_RANGE_FILE.saturating_add(1))
            .read_to_string(&mut text)
            .map_err(|_| BreachError::Io)?;
        if read as u64 > MAX_RANGE_FILE {
            return Err(BreachError::RangeTooLarge);
        }
        BreachRange::parse(&text)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::password::{BreachQuery, Password, breach_count};
    use alloc::format;
    use alloc::string::String;
    use std::io::{Cursor, Write as _};

    /// SHA-1("password").
    const PASSWORD: &str = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8";

    fn prefix(text: &str) -> RangePrefix {
        RangePrefix::parse(text).unwrap()
    }

    fn range(text: &str, at: &str) -> Result<BreachRange, BreachError> {
        let bytes = text.as_bytes();
        RangeFile::range_in(&mut Cursor::new(bytes), bytes.len() as u64, &prefix(at))
    }

    fn file(text: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text).unwrap();
        file.flush().unwrap();
        file
    }

    /// Two hashes under each of 1,000 prefixes (every 97th), counts 1 and 2, sorted.
    fn large() -> String {
        let mut text = String::new();
        for i in 0..1_000u32 {
            for count in 1..=2u32 {
                text.push_str(&format!("{:05X}{count:035X}:{count}\n", i * 97));
            }
        }
        text
    }

    #[test]
    fn a_range_holds_exactly_the_lines_under_its_prefix() {
        let text = format!(
            "0000000000000000000000000000000000000001:5\n\
             0000000000000000000000000000000000000002\r\n\
             {PASSWORD}:10437277\n\
             5baa6ffffffffffffffffffffffffffffffffff0:2\n\
             FFFFF00000000000000000000000000000000000:1"
        );
        let found = range(&text, "5BAA6").unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            BreachQuery::new(&Password::from("password")).count_in(&found),
            10_437_277
        );
        assert_eq!(range(&text, "00000").unwrap().len(), 2);
        assert_eq!(range(&text, "fffff").unwrap().len(), 1);
        for absent in ["00001", "12345", "5BAA5", "5BAA7", "FFFFE"] {
            assert_eq!(range(&text, absent).unwrap().len(), 0, "{absent}");
        }
        assert_eq!(range("", "5BAA6").unwrap().len(), 0);
    }

    #[test]
    fn a_binary_search_finds_every_range_of_a_large_file() {
        let text = large();
        for i in 0..1_000u32 {
            let present = format!("{:05X}", i * 97);
            assert_eq!(range(&text, &present).unwrap().len(), 2, "{present}");
            let absent = format!("{:05X}", i * 97 + 1);
            assert_eq!(range(&text, &absent).unwrap().len(), 0, "{absent}");
        }
    }

    #[test]
    fn lines_of_the_longest_length_are_read_and_one_byte_more_is_malformed() {
        // 40 hex digits, `:`, the largest count (20 digits), `\r\n`: 63 bytes.
        let mut text = String::new();
        for i in 0..200u32 {
            text.push_str(&format!("{:05X}{:035X}:18446744073709551615\r\n", i * 7, i));
        }
        assert_eq!(text.len(), 200 * MAX_LINE);
        let corpus = file(text.as_bytes());
        let corpus = RangeFile::open(corpus.path()).unwrap();
        assert_eq!(corpus.verify(), Ok(200));
        for i in 0..200u32 {
            let found = corpus.range(&prefix(&format!("{:05X}", i * 7))).unwrap();
            assert_eq!(found.len(), 1, "{i}");
        }
        // A leading zero makes the line 64 bytes: too long, though its count would parse.
        let long = "0000000000000000000000000000000000000001:018446744073709551615\r\n";
        assert_eq!(long.len(), MAX_LINE + 1);
        let corpus = file(long.as_bytes());
        assert_eq!(
            RangeFile::open(corpus.path()).unwrap().verify(),
            Err(BreachError::Malformed { offset: 0 })
        );
    }

    #[test]
    fn verify_counts_the_hashes_and_finds_the_first_fault() {
        let corpus = file(large().as_bytes());
        assert_eq!(RangeFile::open(corpus.path()).unwrap().verify(), Ok(2_000));
        let one = file(b"0000000000000000000000000000000000000001\n");
        assert_eq!(RangeFile::open(one.path()).unwrap().verify(), Ok(1));
        let unterminated = file(
            b"0000000000000000000000000000000000000001\n0000000000000000000000000000000000000002",
        );
        assert_eq!(
            RangeFile::open(unterminated.path()).unwrap().verify(),
            Ok(2)
        );
        // A last line without its newline that fills the limit is too long.
        let full = file(b"0000000000000000000000000000000000000001:018446744073709551615\r");
        assert_eq!(
            RangeFile::open(full.path()).unwrap().verify(),
            Err(BreachError::Malformed { offset: 0 })
        );
        let empty = file(b"");
        assert_eq!(RangeFile::open(empty.path()).unwrap().verify(), Ok(0));
        // Equal neighbours are sorted; a smaller one is not, at its own offset.
        let line = |n: u32| format!("{n:040X}\n");
        let equal = file(format!("{}{}", line(1), line(1)).as_bytes());
        assert_eq!(RangeFile::open(equal.path()).unwrap().verify(), Ok(2));
        let unsorted = file(format!("{}{}{}", line(1), line(3), line(2)).as_bytes());
        assert_eq!(
            RangeFile::open(unsorted.path()).unwrap().verify(),
            Err(BreachError::Unsorted { offset: 82 })
        );
        let malformed = file(format!("{}nonsense\n", line(1)).as_bytes());
        assert_eq!(
            RangeFile::open(malformed.path()).unwrap().verify(),
            Err(BreachError::Malformed { offset: 41 })
        );
    }

    #[test]
    fn faults_inside_a_range_are_typed() {
        let a = format!("5BAA6{:035X}\n", 2);
        let b = format!("5BAA6{:035X}\n", 1);
        assert_eq!(
            range(&format!("{a}{b}"), "5BAA6"),
            Err(BreachError::Unsorted { offset: 41 })
        );
        // Equal neighbours are sorted.
        assert_eq!(range(&format!("{a}{a}"), "5BAA6").map(|r| r.len()), Ok(2));
        let text = format!("{a}5BAA6 not a hash\n");
        assert_eq!(
            range(&text, "5BAA6"),
            Err(BreachError::Malformed { offset: 41 })
        );
    }

    #[test]
    fn line_at_finds_the_line_starting_at_or_after_a_position() {
        let text = format!("{:040X}\n{:040X}:7\n{:040X}", 1, 2, 3);
        let bytes = text.as_bytes();
        let len = bytes.len() as u64;
        let at = |pos: u64| {
            line_at(&mut Cursor::new(bytes), len, pos)
                .map(|found| found.map(|(start, hash)| (start, hash[39])))
        };
        assert_eq!(at(0), Ok(Some((0, b'1'))));
        assert_eq!(at(1), Ok(Some((41, b'2'))));
        assert_eq!(at(41), Ok(Some((41, b'2'))));
        assert_eq!(at(42), Ok(Some((84, b'3'))));
        assert_eq!(at(84), Ok(Some((84, b'3'))));
        assert_eq!(at(85), Ok(None));
        assert_eq!(at(len), Ok(None));
        assert_eq!(at(len + 1), Ok(None));
        // A position in a line followed by nothing but its newline: no line after it.
        let one = format!("{:040X}\n", 1);
        assert_eq!(
            line_at(&mut Cursor::new(one.as_bytes()), one.len() as u64, 5),
            Ok(None)
        );
        // A window of garbage without a newline is malformed, at the probe's start.
        let garbage = alloc::vec![b'x'; 3 * PROBE];
        assert_eq!(
            line_at(&mut Cursor::new(&garbage), garbage.len() as u64, 10),
            Err(BreachError::Malformed { offset: 9 })
        );
        assert_eq!(
            line_at(&mut Cursor::new(&garbage), garbage.len() as u64, 0),
            Err(BreachError::Malformed { offset: 0 })
        );
        // A line that runs past the window is malformed even when the window's part of it
        // would read as a hash.
        let long = format!("{}\n{}\n", "x".repeat(100), "A".repeat(60));
        assert_eq!(
            line_at(&mut Cursor::new(long.as_bytes()), long.len() as u64, 16),
            Err(BreachError::Malformed { offset: 101 })
        );
    }

    /// Reads one byte at a time, failing with `Interrupted` before each.
    struct Stuttering<'a> {
        bytes: &'a [u8],
        interrupt: bool,
    }

    impl Read for Stuttering<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let Some((first, rest)) = self.bytes.split_first() else {
                return Ok(0);
            };
            let Some(slot) = buffer.first_mut() else {
                return Ok(0);
            };
            *slot = *first;
            self.bytes = rest;
            Ok(1)
        }
    }

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::Other.into())
        }
    }

    #[test]
    fn reads_go_on_after_an_interruption_and_stop_at_a_failure() {
        let mut buffer = [0u8; 8];
        let mut source = Stuttering {
            bytes: b"abcdefghij",
            interrupt: false,
        };
        assert_eq!(read_up_to(&mut source, &mut buffer), Ok(8));
        assert_eq!(&buffer, b"abcdefgh");
        let mut short = Stuttering {
            bytes: b"xyz",
            interrupt: false,
        };
        assert_eq!(read_up_to(&mut short, &mut buffer), Ok(3));
        assert_eq!(read_up_to(&mut Failing, &mut buffer), Err(BreachError::Io));
    }

    #[test]
    fn a_directory_holds_one_file_per_prefix() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            RangeDirectory::open(dir.path().join("missing")).map(|_| ()),
            Err(BreachError::Io)
        );
        let corpus = RangeDirectory::open(dir.path()).unwrap();
        assert_eq!(
            breach_count(&corpus, &Password::from("password")),
            Err(BreachError::Io)
        );
        std::fs::write(
            dir.path().join("5BAA6.txt"),
            "1E4C9B93F3F0682250B6CF8331B7EE68FD8:3\r\n",
        )
        .unwrap();
        assert_eq!(breach_count(&corpus, &Password::from("password")), Ok(3));
        // SHA-1("123456") = 7C4A8D09CA3762AF61E59520943DC26494F8941B, in a file without extension.
        std::fs::write(
            dir.path().join("7C4A8"),
            "D09CA3762AF61E59520943DC26494F8941B:9\n",
        )
        .unwrap();
        assert_eq!(breach_count(&corpus, &Password::from("123456")), Ok(9));
        // A range file of 4 MiB is read; one byte more is refused.
        let exactly = alloc::vec![b'\n'; 4 << 20];
        std::fs::write(dir.path().join("00000.txt"), &exactly).unwrap();
        assert_eq!(corpus.range(&prefix("00000")).map(|r| r.len()), Ok(0));
        let mut over = exactly;
        over.push(b'\n');
        std::fs::write(dir.path().join("00000.txt"), &over).unwrap();
        assert_eq!(
            corpus.range(&prefix("00000")).map(|r| r.len()),
            Err(BreachError::RangeTooLarge)
        );
        std::fs::write(dir.path().join("00001.txt"), "not a line\n").unwrap();
        assert_eq!(
            corpus.range(&prefix("00001")).map(|r| r.len()),
            Err(BreachError::Line(1))
        );
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corpus.txt");
        assert_eq!(RangeFile::open(&path).map(|_| ()), Err(BreachError::Io));
        std::fs::write(&path, format!("{PASSWORD}:1\n")).unwrap();
        let corpus = RangeFile::open(&path).unwrap();
        assert_eq!(breach_count(&corpus, &Password::from("password")), Ok(1));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(corpus.verify(), Err(BreachError::Io));
        assert_eq!(
            breach_count(&corpus, &Password::from("password")),
            Err(BreachError::Io)
        );
    }
}

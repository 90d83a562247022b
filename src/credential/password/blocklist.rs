//! The built-in list of common passwords, searched without allocating.
//!
//! `data/common-passwords.txt` is Django's list of the 20,000 most common passwords (lower-cased,
//! de-duplicated: 19,640 entries; BSD-3-Clause, credited in the file header), sorted by byte value.
//! The text is embedded as is and binary-searched in place, line by line, so the check works
//! without `std` and without building a table at start-up.

use core::cmp::Ordering;

/// The embedded file: a header, one blank line, then one lower-case password per line.
const FILE: &str = include_str!("../../../data/common-passwords.txt");

/// The sorted entries, one per line, without the header.
fn body() -> &'static [u8] {
    match FILE.split_once("\n\n") {
        Some((_, body)) => body.trim_end_matches('\n').as_bytes(),
        None => &[],
    }
}

/// Every entry, in order.
pub(crate) fn entries() -> impl Iterator<Item = &'static str> {
    let body = match FILE.split_once("\n\n") {
        Some((_, body)) => body.trim_end_matches('\n'),
        None => "",
    };
    body.split('\n').filter(|entry| !entry.is_empty())
}

/// Whether `lowercase` (a password already lower-cased) is on the list.
pub(crate) fn contains(lowercase: &str) -> bool {
    search(body(), lowercase.as_bytes())
}

/// Binary search over `\n`-separated lines sorted by byte value.
///
/// `low` and `high` are always line starts (or the end); each round finds the line around the
/// midpoint and discards the half that cannot hold `needle`.
fn search(lines: &[u8], needle: &[u8]) -> bool {
    let mut low = 0usize;
    let mut high = lines.len();
    while low < high {
        let mid = low.saturating_add(high.saturating_sub(low) / 2);
        let start = lines
            .get(low..mid)
            .and_then(|before| before.iter().rposition(|&b| b == b'\n'))
            .map_or(low, |at| low.saturating_add(at).saturating_add(1));
        let end = lines
            .get(start..high)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map_or(high, |at| start.saturating_add(at));
        let Some(line) = lines.get(start..end) else {
            return false;
        };
        match line.cmp(needle) {
            Ordering::Equal => return true,
            Ordering::Less => low = end.saturating_add(1),
            Ordering::Greater => high = start,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;
    use unicode_normalization::is_nfc;

    fn entries() -> Vec<&'static str> {
        core::str::from_utf8(body()).unwrap().split('\n').collect()
    }

    #[test]
    fn list_is_large_sorted_lowercase_and_nfc() {
        let entries = entries();
        assert!(entries.len() >= 10_000, "{} entries", entries.len());
        assert_eq!(entries.len(), 19_640);
        for pair in entries.windows(2) {
            assert!(pair[0] < pair[1], "{:?} !< {:?}", pair[0], pair[1]);
        }
        for entry in &entries {
            assert!(!entry.is_empty());
            assert_eq!(&entry.to_lowercase(), entry);
            assert!(is_nfc(entry));
        }
    }

    #[test]
    fn finds_every_entry_and_nothing_between() {
        let entries = entries();
        for entry in &entries {
            assert!(contains(entry), "{entry:?} not found");
            let mut longer = String::from(*entry);
            longer.push('\u{1}');
            assert!(!contains(&longer), "{longer:?} found");
        }
        assert!(contains("password"));
        assert!(contains("123456"));
        assert!(contains("#1bitch"));
        assert!(contains("friend of emily"));
        assert!(contains("я"));
        assert!(!contains(""));
        assert!(!contains("correct horse battery staple"));
        assert!(!contains("Password"));
        assert!(!contains("\u{10ffff}"));
    }

    #[test]
    fn search_edges() {
        assert!(!search(b"", b"a"));
        assert!(search(b"a", b"a"));
        assert!(!search(b"a", b"b"));
        assert!(search(b"a\nb\nc", b"a"));
        assert!(search(b"a\nb\nc", b"c"));
        assert!(!search(b"a\nb\nc", b"bb"));
        assert!(!search(b"b\nc", b"a"));
        assert!(!search(b"b\nc", b"d"));
    }

    #[test]
    fn search_takes_logarithmic_rounds() {
        // 200,000 sorted lines: a binary search answers 20,000 look-ups at once, a linear scan
        // (a midpoint that stops halving) would take minutes and time out.
        let mut lines = alloc::vec::Vec::new();
        for i in 0..200_000u32 {
            if i > 0 {
                lines.push(b'\n');
            }
            lines.extend_from_slice(alloc::format!("{i:08}").as_bytes());
        }
        for i in 180_000..200_000u32 {
            assert!(search(&lines, alloc::format!("{i:08}").as_bytes()));
        }
        assert!(!search(&lines, b"00200000"));
    }
}

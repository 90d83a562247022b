//! Phone numbers for out-of-band codes, in E.164 form (ITU-T E.164: `+`, country code, at most
//! 15 digits).
//!
//! Input is read as people write numbers: spaces, dashes, dots and parentheses may separate
//! digits, and the trunk prefix written in brackets after the country code (`+44 (0)20 …`) is
//! dropped. The number must start with `+` and a country code; anything else is a precise
//! [`PhoneError`] (this is enrollment input, shown back to the person who typed it).
//!
//! A phone number is personal data, not a secret: `Debug` shows the masked form
//! (`+44 •••• ••• 123`), and the full number is reached through [`PhoneNumber::e164`].

use alloc::string::String;
use core::fmt;

/// The most digits an E.164 number has, country code included.
const MAX_DIGITS: usize = 15;
/// The fewest digits accepted, country code included (the shortest numbering plans in use have
/// a 3-digit country code and 4-digit subscriber numbers).
const MIN_DIGITS: usize = 7;
/// The longest input looked at, in bytes.
const MAX_INPUT_LEN: usize = 64;
/// Trailing digits left visible by [`PhoneNumber::masked`].
const VISIBLE_TAIL: usize = 3;

/// Why a phone number was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneError {
    /// Nothing but separators.
    Empty,
    /// The number does not start with `+` and a country code (`00` is not accepted either: write
    /// `+`).
    MissingCountryCode,
    /// A country code cannot start with 0.
    InvalidCountryCode,
    /// A character other than digits, one leading `+`, spaces, dashes, dots and parentheses.
    InvalidCharacter,
    /// Parentheses are unbalanced, nested, or empty, or a `+` is not at the start.
    Malformed,
    /// Fewer than 7 digits.
    TooShort,
    /// More than 15 digits (or an input longer than 64 bytes).
    TooLong,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the phone number is empty",
            Self::MissingCountryCode => "the phone number must start with + and the country code",
            Self::InvalidCountryCode => "a country code cannot start with 0",
            Self::InvalidCharacter => {
                "the phone number may contain only digits, a leading +, spaces, dashes, dots \
                 and parentheses"
            }
            Self::Malformed => "misplaced + or unbalanced parentheses in the phone number",
            Self::TooShort => "the phone number has fewer than 7 digits",
            Self::TooLong => "the phone number has more than 15 digits",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PhoneError {}

/// A phone number in E.164 form: `+` followed by 7 to 15 digits, the first not 0.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    /// `+` and the digits.
    text: [u8; MAX_DIGITS + 1],
    /// Number of digits.
    len: u8,
    /// Digits in the country code (1 to 3).
    cc_len: u8,
}

impl PhoneNumber {
    /// Parses a number written with its country code, for example `+44 20 7946 0958`,
    /// `+1 (415) 555-2671`, `+49 (0)30 901820` or `+33.1.23.45.67.89`.
    ///
    /// Accepted between digits: spaces (including non-breaking), `-`, `.`, and parentheses; a
    /// parenthesised `0` directly after the country code is a trunk prefix and is dropped.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(PhoneError::TooLong);
        }
        let trimmed = input.trim();
        let Some(rest) = trimmed.strip_prefix('+') else {
            return Err(if trimmed.is_empty() {
                PhoneError::Empty
            } else if trimmed.starts_with(|c: char| c.is_ascii_digit() || c == '(') {
                PhoneError::MissingCountryCode
            } else {
                PhoneError::InvalidCharacter
            });
        };
        let mut digits = [0u8; MAX_DIGITS];
        let mut count = 0usize;
        // Digits inside the open parenthesis group, and where the group began.
        let mut group: Option<(usize, usize)> = None;
        for c in rest.chars() {
            match c {
                '0'..='9' => {
                    let slot = digits.get_mut(count).ok_or(PhoneError::TooLong)?;
                    *slot = c as u8;
                    count = count.saturating_add(1);
                    if let Some((_, inside)) = group.as_mut() {
                        *inside = inside.saturating_add(1);
                    }
                }
                ' ' | '\u{00a0}' | '\t' | '-' | '.' => {}
                '(' => {
                    if group.is_some() {
                        return Err(PhoneError::Malformed);
                    }
                    group = Some((count, 0));
                }
                ')' => {
                    let (start, inside) = group.take().ok_or(PhoneError::Malformed)?;
                    if inside == 0 {
                        return Err(PhoneError::Malformed);
                    }
                    // "(0)" right after the country code: the national trunk prefix.
                    let is_trunk = inside == 1
                        && digits.get(start) == Some(&b'0')
                        && start > 0
                        && start <= 3
                        && country_code_len(digits.get(..start).unwrap_or_default()) == Some(start);
                    if is_trunk {
                        count = start;
                    }
                }
                '+' => return Err(PhoneError::Malformed),
                _ => return Err(PhoneError::InvalidCharacter),
            }
        }
        if group.is_some() {
            return Err(PhoneError::Malformed);
        }
        let digits = digits.get(..count).unwrap_or_default();
        match digits.first() {
            None => return Err(PhoneError::Empty),
            Some(b'0') => return Err(PhoneError::InvalidCountryCode),
            Some(_) => {}
        }
        if count < MIN_DIGITS {
            return Err(PhoneError::TooShort);
        }
        let cc_len = country_code_len(digits).ok_or(PhoneError::InvalidCountryCode)?;
        let mut text = [0u8; MAX_DIGITS + 1];
        for (dst, src) in text.iter_mut().zip(core::iter::once(&b'+').chain(digits)) {
            *dst = *src;
        }
        Ok(Self {
            text,
            len: u8::try_from(count).map_err(|_| PhoneError::TooLong)?,
            cc_len: u8::try_from(cc_len).map_err(|_| PhoneError::InvalidCountryCode)?,
        })
    }

    /// The number in E.164 form, for example `+442079460958`: what an SMS gateway expects.
    pub fn e164(&self) -> &str {
        let end = usize::from(self.len).saturating_add(1);
        core::str::from_utf8(self.text.get(..end).unwrap_or_default()).unwrap_or_default()
    }

    /// The country calling code without `+`, for example `44`.
    pub fn country_code(&self) -> &str {
        let end = usize::from(self.cc_len).saturating_add(1);
        core::str::from_utf8(self.text.get(1..end).unwrap_or_default()).unwrap_or_default()
    }

    /// The digits after the country code.
    pub fn national_number(&self) -> &str {
        let start = usize::from(self.cc_len).saturating_add(1);
        let end = usize::from(self.len).saturating_add(1);
        core::str::from_utf8(self.text.get(start..end).unwrap_or_default()).unwrap_or_default()
    }

    /// The number with all but the country code and the last 3 digits hidden, for showing which
    /// phone a code went to: `+44 •••• ••• 123`. Hidden digits are grouped in fours.
    pub fn masked(&self) -> String {
        let national = self.national_number();
        let hidden = national.len().saturating_sub(VISIBLE_TAIL);
        let tail = national.get(hidden..).unwrap_or_default();
        let mut out = String::with_capacity(40);
        out.push('+');
        out.push_str(self.country_code());
        for i in 0..hidden {
            if i % 4 == 0 {
                out.push(' ');
            }
            out.push('•');
        }
        out.push(' ');
        out.push_str(tail);
        out
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

/// The length of the ITU-T country calling code a digit string starts with (1 to 3), or `None`
/// if it starts with 0 or is too short to tell.
///
/// Codes are prefix-free: `1` (North America) and `7` (Russia, Kazakhstan) are the only one-digit
/// codes; the two-digit codes are listed below; every other code has three digits.
fn country_code_len(digits: &[u8]) -> Option<usize> {
    let first = *digits.first()?;
    match first {
        b'0' => None,
        b'1' | b'7' => Some(1),
        _ => {
            let second = *digits.get(1)?;
            // 20, 27, 30-34, 36, 39, 40, 41, 43-49, 51-58, 60-66, 81, 82, 84, 86, 90-95, 98.
            let is_two_digit = matches!(
                (first, second),
                (b'2', b'0' | b'7')
                    | (b'3', b'0'..=b'4' | b'6' | b'9')
                    | (b'4', b'0' | b'1' | b'3'..=b'9')
                    | (b'5', b'1'..=b'8')
                    | (b'6', b'0'..=b'6')
                    | (b'8', b'1' | b'2' | b'4' | b'6')
                    | (b'9', b'0'..=b'5' | b'8')
            );
            if is_two_digit {
                Some(2)
            } else if digits.len() >= 3 {
                Some(3)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes() {
        assert_eq!(country_code_len(b"14155552671"), Some(1));
        assert_eq!(country_code_len(b"79161234567"), Some(1));
        assert_eq!(country_code_len(b"442079460958"), Some(2));
        assert_eq!(country_code_len(b"4930901820"), Some(2));
        assert_eq!(country_code_len(b"353861234567"), Some(3));
        assert_eq!(country_code_len(b"420601123456"), Some(3));
        assert_eq!(country_code_len(b"8801712345678"), Some(3));
        assert_eq!(country_code_len(b"0"), None);
    }

    fn e164(input: &str) -> Result<String, PhoneError> {
        PhoneNumber::parse(input).map(|n| String::from(n.e164()))
    }

    #[test]
    fn parses_written_forms() {
        for (input, want) in [
            ("+44 20 7946 0958", "+442079460958"),
            ("+44 (0)20 7946 0958", "+442079460958"),
            ("+44(0)7700-900123", "+447700900123"),
            ("+1 (415) 555-2671", "+14155552671"),
            ("+1.415.555.2671", "+14155552671"),
            (" +49 (0)30 901820 ", "+4930901820"),
            ("+33 1 23 45 67 89", "+33123456789"),
            ("+353\u{a0}86 123 4567", "+353861234567"),
            ("+290 1234", "+2901234"),
            ("+999999999999999", "+999999999999999"),
        ] {
            assert_eq!(e164(input).as_deref(), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn refuses_with_a_reason() {
        let err = |input: &str| PhoneNumber::parse(input).unwrap_err();
        assert_eq!(err(""), PhoneError::Empty);
        assert_eq!(err("  "), PhoneError::Empty);
        assert_eq!(err("+ - ."), PhoneError::Empty);
        assert_eq!(err("020 7946 0958"), PhoneError::MissingCountryCode);
        assert_eq!(err("0044 20 7946 0958"), PhoneError::MissingCountryCode);
        assert_eq!(err("(415) 555-2671"), PhoneError::MissingCountryCode);
        assert_eq!(err("+0 123 456 789"), PhoneError::InvalidCountryCode);
        assert_eq!(err("+44 20 7946 095x"), PhoneError::InvalidCharacter);
        assert_eq!(err("+44 20/7946 0958"), PhoneError::InvalidCharacter);
        assert_eq!(err("tel:+442079460958"), PhoneError::InvalidCharacter);
        assert_eq!(err("+４４ 20 7946 0958"), PhoneError::InvalidCharacter);
        assert_eq!(err("+44 +20 7946 0958"), PhoneError::Malformed);
        assert_eq!(err("+44 (20 7946 0958"), PhoneError::Malformed);
        assert_eq!(err("+44 20) 7946 0958"), PhoneError::Malformed);
        assert_eq!(err("+44 ((20)) 7946"), PhoneError::Malformed);
        assert_eq!(err("+44 () 7946 0958"), PhoneError::Malformed);
        assert_eq!(err("+44 123"), PhoneError::TooShort);
        assert_eq!(err("+1234567890123456"), PhoneError::TooLong);
        assert_eq!(
            err(&alloc::format!("+44{}", " ".repeat(70))),
            PhoneError::TooLong
        );
    }

    #[test]
    fn two_and_three_digit_country_codes_need_their_digits() {
        assert_eq!(country_code_len(b"1"), Some(1));
        assert_eq!(country_code_len(b"44"), Some(2));
        assert_eq!(country_code_len(b"35"), None);
        assert_eq!(country_code_len(b"353"), Some(3));
        assert_eq!(country_code_len(b"3"), None);
        assert_eq!(country_code_len(b""), None);
        // No country code starts with 0, however many digits follow.
        assert_eq!(country_code_len(b"012"), None);
        assert_eq!(country_code_len(b"0201234567"), None);
    }

    #[test]
    fn length_limits_at_their_boundary() {
        // 64 bytes of input are read, 65 are not.
        let padded = |len: usize| alloc::format!("+44 20 7946 0958{}", " ".repeat(len - 16));
        assert_eq!(padded(64).len(), 64);
        assert_eq!(e164(&padded(64)).as_deref(), Ok("+442079460958"));
        assert_eq!(e164(&padded(65)), Err(PhoneError::TooLong));
        // 7 digits are enough, 6 are not; 15 digits are the most.
        assert_eq!(e164("+290 1234").as_deref(), Ok("+2901234"));
        assert_eq!(e164("+290 123"), Err(PhoneError::TooShort));
        assert_eq!(
            e164("+44 1234 5678 90123").as_deref(),
            Ok("+441234567890123")
        );
        assert_eq!(e164("+44 1234 5678 901234"), Err(PhoneError::TooLong));
    }

    #[test]
    fn only_a_parenthesised_zero_right_after_the_country_code_is_a_trunk_prefix() {
        for (input, want) in [
            // After a one-, two- and three-digit country code.
            ("+1 (0) 415 555 2671", "+14155552671"),
            ("+44 (0)20 7946 0958", "+442079460958"),
            ("+353 (0)86 123 4567", "+353861234567"),
            // Not a lone 0, or not right after the country code: kept.
            ("+44 (00)20 7946 095", "+4400207946095"),
            ("+44 (1)20 7946 0958", "+4412079460958"),
            ("+44 20 (0)7946 0958", "+4420079460958"),
            ("+4 (0)4 20 7946 0958", "+4042079460958"),
            ("+353 8 (0)6 123 4567", "+3538061234567"),
        ] {
            assert_eq!(e164(input).as_deref(), Ok(want), "{input:?}");
        }
        // A group before any digit is never a trunk prefix.
        assert_eq!(
            e164("+(0)44 20 7946 0958"),
            Err(PhoneError::InvalidCountryCode)
        );
        assert_eq!(e164("+(4)4 20 7946 0958").as_deref(), Ok("+442079460958"));
    }

    #[test]
    fn error_texts() {
        for (error, text) in [
            (PhoneError::Empty, "the phone number is empty"),
            (
                PhoneError::MissingCountryCode,
                "the phone number must start with + and the country code",
            ),
            (
                PhoneError::InvalidCountryCode,
                "a country code cannot start with 0",
            ),
            (
                PhoneError::InvalidCharacter,
                "the phone number may contain only digits, a leading +, spaces, dashes, dots \
                 and parentheses",
            ),
            (
                PhoneError::Malformed,
                "misplaced + or unbalanced parentheses in the phone number",
            ),
            (
                PhoneError::TooShort,
                "the phone number has fewer than 7 digits",
            ),
            (
                PhoneError::TooLong,
                "the phone number has more than 15 digits",
            ),
        ] {
            assert_eq!(alloc::format!("{error}"), text);
        }
    }

    #[test]
    fn masks_all_but_country_code_and_last_three() {
        let masked = |input: &str| PhoneNumber::parse(input).unwrap().masked();
        assert_eq!(masked("+44 7700 900123"), "+44 •••• ••• 123");
        assert_eq!(masked("+1 415 555 2671"), "+1 •••• ••• 671");
        assert_eq!(masked("+353 86 123 4567"), "+353 •••• •• 567");
        assert_eq!(masked("+290 1234"), "+290 • 234");
        let n = PhoneNumber::parse("+44 7700 900123").unwrap();
        assert_eq!(n.country_code(), "44");
        assert_eq!(n.national_number(), "7700900123");
        let debug = alloc::format!("{n:?}");
        assert!(debug.contains("+44 •••• ••• 123"));
        assert!(!debug.contains("7700"));
    }
}

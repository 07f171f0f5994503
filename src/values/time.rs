//! Timestamp parsing: the formats of the README's "Input", normalised to UTC
//! milliseconds since the Unix epoch, plus the calendar arithmetic the
//! features need (UTC days and hours).
//!
//! Owns no I/O; errors are plain values that the reader positions.

use std::fmt;
use std::str::FromStr;

/// Milliseconds in one UTC day.
pub const MS_PER_DAY: i64 = 86_400_000;
/// Milliseconds in one hour.
pub const MS_PER_HOUR: i64 = 3_600_000;

/// How the time column is written. `Auto` is resolved once per input file,
/// from its first data row (see [`TimeFormat::detect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// Detected from the file's first data row ([`TimeFormat::detect`]);
    /// a value parsed as `Auto` is detected on its own.
    #[default]
    Auto,
    /// `YYYY-MM-DD HH:MM:SS`, ISO 8601 with `T`, fractional seconds and
    /// `Z`/offset, or a bare `YYYY-MM-DD`.
    Iso,
    /// `YYYYMMDD`.
    Ymd,
    /// Seconds since the epoch (a fraction is allowed).
    Unix,
    /// Milliseconds since the epoch.
    UnixMs,
}

impl TimeFormat {
    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            TimeFormat::Auto => "auto",
            TimeFormat::Iso => "iso",
            TimeFormat::Ymd => "ymd",
            TimeFormat::Unix => "unix",
            TimeFormat::UnixMs => "unix-ms",
        }
    }

    /// What a value of this format looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            TimeFormat::Auto => "a time (iso, YYYYMMDD, unix seconds or unix milliseconds)",
            TimeFormat::Iso => "an ISO 8601 time (YYYY-MM-DD[ HH:MM[:SS[.fff]]][Z|+HH:MM])",
            TimeFormat::Ymd => "a date as YYYYMMDD",
            TimeFormat::Unix => "unix seconds",
            TimeFormat::UnixMs => "unix milliseconds",
        }
    }

    /// Picks the concrete format of one sample value. 8-digit values that are
    /// valid dates read as `YYYYMMDD` (README, "Input"); other integers read as
    /// milliseconds when their magnitude is at least 1e11 (1e11 seconds is the
    /// year 5138, 1e11 milliseconds is 1973), else as seconds.
    pub fn detect(sample: &[u8]) -> Option<TimeFormat> {
        let s = trim(sample);
        if s.len() >= 10 && s[4] == b'-' {
            return parse_iso(s).is_ok().then_some(TimeFormat::Iso);
        }
        if s.len() == 8 && s.iter().all(u8::is_ascii_digit) && parse_ymd(s).is_ok() {
            return Some(TimeFormat::Ymd);
        }
        let digits = s.strip_prefix(b"-").unwrap_or(s);
        let int_len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if int_len == 0 {
            return None;
        }
        if int_len >= 12 && !digits.contains(&b'.') {
            return parse_unix_ms(s).is_ok().then_some(TimeFormat::UnixMs);
        }
        parse_unix(s).is_ok().then_some(TimeFormat::Unix)
    }

    /// Parses one value in this (concrete) format.
    pub fn parse(self, value: &[u8]) -> Result<i64, TimeError> {
        TimeParser::new(self).parse(value)
    }
}

/// Parses many values of one format, remembering the last ISO date: rows
/// of a log come mostly in time order, so most dates repeat the previous
/// row's, and the calendar arithmetic is skipped for them.
#[derive(Clone, Debug)]
pub struct TimeParser {
    format: TimeFormat,
    /// The last `YYYY-MM-DD` seen, as two words (see `date_words`), and
    /// its day number.
    last_date: (u64, u16),
    last_day: i64,
}

/// The ten bytes of a date as two words, compared without a memcmp call.
#[inline(always)]
fn date_words(date: &[u8]) -> (u64, u16) {
    let mut head = [0u8; 8];
    head.copy_from_slice(&date[..8]);
    (
        u64::from_le_bytes(head),
        u16::from_le_bytes([date[8], date[9]]),
    )
}

impl TimeParser {
    /// A parser of values in `format`, with no date remembered yet.
    pub fn new(format: TimeFormat) -> Self {
        TimeParser {
            format,
            // A real date, so that a cache hit is always a valid date.
            last_date: date_words(b"1970-01-01"),
            last_day: 0,
        }
    }

    /// The format values are parsed in.
    pub fn format(&self) -> TimeFormat {
        self.format
    }

    /// Parses one value.
    #[inline]
    pub fn parse(&mut self, value: &[u8]) -> Result<i64, TimeError> {
        if self.format == TimeFormat::Iso
            && let Ok(value) = <&[u8; 19]>::try_from(value)
            && let Some(ms) = self.same_day_seconds(value)
        {
            return Ok(ms);
        }
        self.parse_any(value)
    }

    /// `YYYY-MM-DD HH:MM:SS` (or with `T`) on the date of the previous
    /// value, the bulk of a log in time order: the date is compared as two
    /// words and the time read as one, its six digits checked and the
    /// colons found with word arithmetic. `None` for anything else, errors
    /// included, which [`Self::parse_any`] then reads (and explains).
    #[inline(always)]
    fn same_day_seconds(&self, value: &[u8; 19]) -> Option<i64> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        // Bytes 2 and 5 of `HH:MM:SS`.
        const COLON_LANES: u64 = 0x0000_FF00_00FF_0000;
        if date_words(value) != self.last_date || !matches!(value[10], b' ' | b'T') {
            return None;
        }
        let word = u64::from_le_bytes(value[11..].try_into().expect("eight bytes"));
        if word & COLON_LANES != COLON_LANES & (ONES * u64::from(b':')) {
            return None;
        }
        // The colons become '0' and every byte must then be a digit: no
        // byte borrows below '0' or carries above '9' into its top bit.
        let text = (word & !COLON_LANES) | (COLON_LANES & (ONES * u64::from(b'0')));
        let digits = text.wrapping_sub(ONES * u64::from(b'0'));
        let above = text.wrapping_add(ONES * u64::from(0x7F - b'9'));
        if (digits | above) & (ONES * 0x80) != 0 {
            return None;
        }
        let pair = |at: u32| (digits >> (8 * at) & 0xFF) * 10 + (digits >> (8 * at + 8) & 0xFF);
        let (h, m, s) = (pair(0), pair(3), pair(6));
        if h > 23 || m > 59 || s > 59 {
            return None;
        }
        let time = h * 3_600_000 + m * 60_000 + s * 1000;
        Some(self.last_day * MS_PER_DAY + time as i64)
    }

    /// Parses one value of any layout, keeping the date cache.
    #[inline(never)]
    fn parse_any(&mut self, value: &[u8]) -> Result<i64, TimeError> {
        if self.format == TimeFormat::Iso && value.len() >= 10 {
            let words = date_words(value);
            let day = if words == self.last_date {
                self.last_day
            } else {
                let day = date_part(&value[..10])?;
                self.last_date = words;
                self.last_day = day;
                day
            };
            if value.len() == 19 && value[10] == b' ' && value[13] == b':' && value[16] == b':' {
                // `YYYY-MM-DD HH:MM:SS`, the most common layout.
                let (h, m, sec) = (
                    two_digits(value, 11)?,
                    two_digits(value, 14)?,
                    two_digits(value, 17)?,
                );
                if h > 23 || m > 59 || sec > 59 {
                    return Err(TimeError::Impossible);
                }
                return Ok(day * MS_PER_DAY + h * MS_PER_HOUR + m * 60_000 + sec * 1000);
            }
        }
        let s = trim(value);
        match self.format {
            TimeFormat::Iso => parse_iso(s),
            TimeFormat::Ymd => parse_ymd(s),
            TimeFormat::Unix => parse_unix(s),
            TimeFormat::UnixMs => parse_unix_ms(s),
            TimeFormat::Auto => match TimeFormat::detect(s) {
                Some(format) => format.parse(s),
                None => Err(TimeError::Malformed),
            },
        }
    }
}

impl FromStr for TimeFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "auto" => TimeFormat::Auto,
            "iso" => TimeFormat::Iso,
            "ymd" => TimeFormat::Ymd,
            "unix" => TimeFormat::Unix,
            "unix-ms" => TimeFormat::UnixMs,
            _ => {
                return Err(format!(
                    "unknown time format {s:?}: expected auto, iso, ymd, unix or unix-ms"
                ));
            }
        })
    }
}

impl fmt::Display for TimeFormat {
    /// The spelling [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeFormat::Auto => "auto",
            TimeFormat::Iso => "iso",
            TimeFormat::Ymd => "ymd",
            TimeFormat::Unix => "unix",
            TimeFormat::UnixMs => "unix-ms",
        })
    }
}

/// Why a time value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// Not of the expected shape.
    Malformed,
    /// Of the right shape, but not a real calendar time (2025-02-30, 25:00).
    Impossible,
    /// Outside the years 0000 to 9999.
    OutOfRange,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeError::Malformed => "malformed",
            TimeError::Impossible => "not a real calendar date or time",
            TimeError::OutOfRange => "outside the years 0000 to 9999",
        })
    }
}

/// Smallest and largest accepted instants: 0000-01-01 and 9999-12-31T23:59:59.999Z.
const MIN_MS: i64 = -62_167_219_200_000;
const MAX_MS: i64 = 253_402_300_799_999;

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Some(v)
}

/// Days since 1970-01-01 of a proleptic Gregorian date, or `None` when the
/// date does not exist. Standard era-based civil-to-days conversion.
#[inline]
pub fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The (year, month, day) of a day number; inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Two ASCII digits at `s[i..i + 2]`.
#[inline(always)]
fn two_digits(s: &[u8], i: usize) -> Result<i64, TimeError> {
    let (a, b) = (s[i].wrapping_sub(b'0'), s[i + 1].wrapping_sub(b'0'));
    if a < 10 && b < 10 {
        Ok(i64::from(a * 10 + b))
    } else {
        Err(TimeError::Malformed)
    }
}

fn date_part(s: &[u8]) -> Result<i64, TimeError> {
    // YYYY-MM-DD
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return Err(TimeError::Malformed);
    }
    let year = two_digits(s, 0)? * 100 + two_digits(s, 2)?;
    let month = two_digits(s, 5)?;
    let day = two_digits(s, 8)?;
    days_from_civil(year, month, day).ok_or(TimeError::Impossible)
}

fn parse_iso(s: &[u8]) -> Result<i64, TimeError> {
    if s.len() < 10 {
        return Err(TimeError::Malformed);
    }
    let days = date_part(&s[..10])?;
    let mut ms = days * MS_PER_DAY;
    let rest = &s[10..];
    if rest.is_empty() {
        return Ok(ms);
    }
    if rest[0] != b'T' && rest[0] != b't' && rest[0] != b' ' {
        return Err(TimeError::Malformed);
    }
    let rest = &rest[1..];
    // HH:MM
    if rest.len() < 5 || rest[2] != b':' {
        return Err(TimeError::Malformed);
    }
    let hour = two_digits(rest, 0)?;
    let minute = two_digits(rest, 3)?;
    let mut rest = &rest[5..];
    let mut second = 0;
    let mut millis = 0;
    if let Some(r) = rest.strip_prefix(b":") {
        if r.len() < 2 {
            return Err(TimeError::Malformed);
        }
        second = two_digits(r, 0)?;
        rest = &r[2..];
        if let Some(r) = rest.strip_prefix(b".").or_else(|| rest.strip_prefix(b",")) {
            let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return Err(TimeError::Malformed);
            }
            // Millisecond resolution: further digits are truncated.
            for i in 0..3 {
                millis = millis * 10
                    + r.get(i)
                        .filter(|_| i < n)
                        .map_or(0, |b| i64::from(b - b'0'));
            }
            rest = &r[n..];
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(TimeError::Impossible);
    }
    ms += hour * MS_PER_HOUR + minute * 60_000 + second * 1000 + millis;
    // Zone: none (taken as UTC), Z, or +HH[:MM] / -HH[:MM].
    match rest {
        [] | [b'Z'] | [b'z'] => {}
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let (h, m) = match zone {
                [h1, h2] => (&[*h1, *h2][..], &b"00"[..]),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (&[*h1, *h2][..], &[*m1, *m2][..]),
                _ => return Err(TimeError::Malformed),
            };
            let h = digits(h).ok_or(TimeError::Malformed)?;
            let m = digits(m).ok_or(TimeError::Malformed)?;
            if h > 23 || m > 59 {
                return Err(TimeError::Impossible);
            }
            let offset = h * MS_PER_HOUR + m * 60_000;
            // Local time = UTC + offset, so UTC = local - offset.
            ms -= if *sign == b'+' { offset } else { -offset };
        }
        _ => return Err(TimeError::Malformed),
    }
    Ok(ms)
}

fn parse_ymd(s: &[u8]) -> Result<i64, TimeError> {
    if s.len() != 8 {
        return Err(TimeError::Malformed);
    }
    let year = digits(&s[0..4]).ok_or(TimeError::Malformed)?;
    let month = digits(&s[4..6]).ok_or(TimeError::Malformed)?;
    let day = digits(&s[6..8]).ok_or(TimeError::Malformed)?;
    days_from_civil(year, month, day)
        .map(|d| d * MS_PER_DAY)
        .ok_or(TimeError::Impossible)
}

fn signed(s: &[u8]) -> (bool, &[u8]) {
    match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    }
}

fn in_range(ms: i64) -> Result<i64, TimeError> {
    if (MIN_MS..=MAX_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(TimeError::OutOfRange)
    }
}

fn parse_unix(s: &[u8]) -> Result<i64, TimeError> {
    let (negative, s) = signed(s);
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &b""[..]),
    };
    if int.len() > 12 {
        return Err(TimeError::OutOfRange);
    }
    let seconds = digits(int).ok_or(TimeError::Malformed)?;
    let mut millis = 0;
    if !frac.is_empty() || s.ends_with(b".") {
        if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
            return Err(TimeError::Malformed);
        }
        for i in 0..3 {
            millis = millis * 10 + frac.get(i).map_or(0, |b| i64::from(b - b'0'));
        }
    }
    let ms = seconds * 1000 + millis;
    in_range(if negative { -ms } else { ms })
}

fn parse_unix_ms(s: &[u8]) -> Result<i64, TimeError> {
    let (negative, s) = signed(s);
    if s.len() > 16 {
        return Err(TimeError::OutOfRange);
    }
    let ms = digits(s).ok_or(TimeError::Malformed)?;
    in_range(if negative { -ms } else { ms })
}

/// The UTC day number (days since 1970-01-01) of an instant.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

/// The UTC hour number (hours since 1970-01-01T00:00Z) of an instant.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_HOUR)
}

/// Formats an instant as ISO 8601 in UTC: `2025-03-01T18:04:05Z`, with
/// `.mmm` only when the milliseconds are not zero.
pub fn format_iso(ms: i64) -> String {
    let mut buf = Vec::with_capacity(24);
    write_iso(&mut buf, ms);
    String::from_utf8(buf).expect("ASCII")
}

/// [`format_iso`] into a byte buffer, without allocating: the CSV writer
/// calls it twice per user.
pub fn write_iso(buf: &mut Vec<u8>, ms: i64) {
    let (y, mo, d) = civil_from_days(day_of(ms));
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let two = |buf: &mut Vec<u8>, v: i64| {
        buf.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
    };
    if (0..=9999).contains(&y) {
        two(buf, y / 100);
        two(buf, y % 100);
    } else {
        buf.extend_from_slice(y.to_string().as_bytes());
    }
    buf.push(b'-');
    two(buf, mo);
    buf.push(b'-');
    two(buf, d);
    buf.push(b'T');
    two(buf, in_day / MS_PER_HOUR);
    buf.push(b':');
    two(buf, in_day / 60_000 % 60);
    buf.push(b':');
    two(buf, in_day / 1000 % 60);
    let milli = in_day % 1000;
    if milli != 0 {
        let digits = [
            b'.',
            b'0' + (milli / 100) as u8,
            b'0' + (milli / 10 % 10) as u8,
            b'0' + (milli % 10) as u8,
        ];
        buf.extend_from_slice(&digits);
    }
    buf.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> Result<i64, TimeError> {
        TimeFormat::Iso.parse(s.as_bytes())
    }

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days));
        }
    }

    #[test]
    fn iso_variants_agree() {
        let base = 1_740_852_245_000; // 2025-03-01T18:04:05Z
        assert_eq!(iso("2025-03-01 18:04:05"), Ok(base));
        assert_eq!(iso("2025-03-01T18:04:05Z"), Ok(base));
        assert_eq!(iso("2025-03-01T20:04:05+02:00"), Ok(base));
        assert_eq!(iso("2025-03-01T13:04:05-0500"), Ok(base));
        assert_eq!(iso("2025-03-01T18:04:05.250Z"), Ok(base + 250));
        assert_eq!(iso("2025-03-01T18:04:05.2509Z"), Ok(base + 250));
        assert_eq!(iso("2025-03-01T18:04"), Ok(base - 5000));
        assert_eq!(iso("2025-03-01"), Ok(base - (18 * 3600 + 245) * 1000));
    }

    #[test]
    fn impossible_and_malformed_times_are_rejected() {
        assert_eq!(iso("2025-02-29"), Err(TimeError::Impossible));
        assert_eq!(
            iso("2024-02-29"),
            Ok(days_from_civil(2024, 2, 29).unwrap() * MS_PER_DAY)
        );
        assert_eq!(iso("2025-13-01"), Err(TimeError::Impossible));
        assert_eq!(iso("2025-01-01 24:00:00"), Err(TimeError::Impossible));
        assert_eq!(iso("2025-01-01 12:00:00+25:00"), Err(TimeError::Impossible));
        assert_eq!(iso("2025/01/01"), Err(TimeError::Malformed));
        assert_eq!(iso("2025-01-01 12"), Err(TimeError::Malformed));
        assert_eq!(
            TimeFormat::Ymd.parse(b"20250230"),
            Err(TimeError::Impossible)
        );
        assert_eq!(TimeFormat::Unix.parse(b"12a"), Err(TimeError::Malformed));
        assert_eq!(
            TimeFormat::UnixMs.parse(b"99999999999999999"),
            Err(TimeError::OutOfRange)
        );
    }

    #[test]
    fn the_date_cache_never_accepts_what_parsing_rejects() {
        let mut parser = TimeParser::new(TimeFormat::Iso);
        assert_eq!(
            parser.parse(b"\0\0\0\0\0\0\0\0\0\0 00:00:00"),
            Err(TimeError::Malformed)
        );
        assert_eq!(parser.parse(b"1970-01-01 00:00:01"), Ok(1000));
        assert_eq!(parser.parse(b"2025-03-01 18:04:05"), Ok(1_740_852_245_000));
        assert_eq!(parser.parse(b"2025-03-01 18:04:06"), Ok(1_740_852_246_000));
        assert_eq!(
            parser.parse(b"2025-03-01 24:04:06"),
            Err(TimeError::Impossible)
        );
        assert_eq!(parser.parse(b"2025-03-01T18:04:06Z"), Ok(1_740_852_246_000));
    }

    /// The warm cache's fast path against the stateless parser, for a
    /// value of the cached date with `edits` applied.
    fn check_same_day(edits: &[(usize, u8)]) {
        let base = *b"2025-03-01 18:04:05";
        let mut value = base;
        for &(at, byte) in edits {
            value[at] = byte;
        }
        let mut parser = TimeParser::new(TimeFormat::Iso);
        assert_eq!(parser.parse(&base), Ok(1_740_852_245_000));
        assert_eq!(
            parser.parse(&value),
            TimeFormat::Iso.parse(&value),
            "{:?}",
            String::from_utf8_lossy(&value)
        );
    }

    #[test]
    fn same_day_fast_path_agrees_on_every_single_byte_change() {
        for at in 0..19 {
            for byte in 0..=255 {
                check_same_day(&[(at, byte)]);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn same_day_fast_path_agrees_on_any_changes(
            edits in proptest::collection::vec((0usize..19, proptest::prelude::any::<u8>()), 1..5)
        ) {
            check_same_day(&edits);
        }

        #[test]
        fn same_day_fast_path_agrees_on_any_time(h in 0u8..100, m in 0u8..100, s in 0u8..100, t: bool) {
            let value = format!("2025-03-01{}{h:02}:{m:02}:{s:02}", if t { 'T' } else { ' ' });
            let edits: Vec<(usize, u8)> = value.bytes().enumerate().collect();
            check_same_day(&edits);
        }
    }

    #[test]
    fn unix_and_ymd() {
        assert_eq!(TimeFormat::Unix.parse(b"1740852245"), Ok(1_740_852_245_000));
        assert_eq!(
            TimeFormat::Unix.parse(b"1740852245.5"),
            Ok(1_740_852_245_500)
        );
        assert_eq!(
            TimeFormat::UnixMs.parse(b"1740852245123"),
            Ok(1_740_852_245_123)
        );
        assert_eq!(TimeFormat::Unix.parse(b"-86400"), Ok(-MS_PER_DAY));
        assert_eq!(
            TimeFormat::Ymd.parse(b"20250301"),
            Ok(iso("2025-03-01").unwrap())
        );
    }

    #[test]
    fn detection() {
        assert_eq!(
            TimeFormat::detect(b"2025-03-01 10:00:00"),
            Some(TimeFormat::Iso)
        );
        assert_eq!(TimeFormat::detect(b"20250301"), Some(TimeFormat::Ymd));
        // 8 digits that are not a date are seconds.
        assert_eq!(TimeFormat::detect(b"99999999"), Some(TimeFormat::Unix));
        assert_eq!(TimeFormat::detect(b"1740852245"), Some(TimeFormat::Unix));
        assert_eq!(
            TimeFormat::detect(b"1740852245123"),
            Some(TimeFormat::UnixMs)
        );
        assert_eq!(TimeFormat::detect(b"yesterday"), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_iso(1_740_852_245_000), "2025-03-01T18:04:05Z");
        assert_eq!(format_iso(1_740_852_245_007), "2025-03-01T18:04:05.007Z");
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59.999Z");
    }
}

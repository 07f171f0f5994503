//! Money amounts as exact fixed-point integers.
//!
//! Amounts are summed per user across chunks and threads; summing `f64`s in
//! a different order changes the last bits, which would break the promise of
//! byte-identical output for any chunk or thread count. Amounts are therefore
//! parsed into nano-units (1e-9) held in an `i128`, whose sums are exact and
//! associative. Decimal text is converted exactly up to nine decimals (the
//! tenth rounds half away from zero); exponent notation goes through `f64`.

use std::fmt;

/// Nano-units per unit of currency.
const SCALE: i128 = 1_000_000_000;

/// An exact amount of money, in nano-units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i128);

impl Money {
    /// No money: the start of every sum.
    pub const ZERO: Money = Money(0);

    /// The amount as a float (for ratios and transforms).
    pub fn to_f64(self) -> f64 {
        // Split to keep the integer part exact for any realistic sum.
        let whole = (self.0 / SCALE) as f64;
        let frac = (self.0 % SCALE) as f64 / SCALE as f64;
        whole + frac
    }

    /// Parses a decimal amount: `12`, `-3.50`, `+0.125`, `.5`, `1e3`.
    /// Surrounding ASCII spaces are ignored.
    pub fn parse(text: &[u8]) -> Result<Money, AmountError> {
        match parse_nanos(text) {
            Some(nanos) => Ok(Money(i128::from(nanos))),
            None => parse_general(text.trim_ascii()),
        }
    }
}

/// Powers of ten up to 1e9.
const POW10: [i64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// The common case, on the hot path of every row, in nano-units: an
/// optional minus, at most nine digits, and optionally a `.` and at most
/// nine more digits; such an amount always fits an `i64`. `None` for
/// anything else, which [`Money::parse`] then reads the general way (or
/// rejects).
#[inline]
pub fn parse_nanos(s: &[u8]) -> Option<i64> {
    let (negative, body) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mut units: i64 = 0;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        let d = b.wrapping_sub(b'0');
        if d >= 10 {
            break;
        }
        if i == 9 {
            return None;
        }
        units = units * 10 + i64::from(d);
        i += 1;
    }
    let whole_digits = i;
    let mut fraction: i64 = 0;
    if i < body.len() {
        if body[i] != b'.' {
            return None;
        }
        i += 1;
        for &b in &body[i..] {
            let d = b.wrapping_sub(b'0');
            if d >= 10 || i - whole_digits > 9 {
                return None;
            }
            fraction = fraction * 10 + i64::from(d);
            i += 1;
        }
    }
    let decimals = body.len() - whole_digits - usize::from(whole_digits < body.len());
    if whole_digits + decimals == 0 {
        return None;
    }
    let nanos = units * POW10[9] + fraction * POW10[9 - decimals];
    Some(if negative { -nanos } else { nanos })
}

/// Any other form: a plus sign, surrounding spaces, more digits (rounded at
/// the ninth decimal), exponents; and the errors.
fn parse_general(s: &[u8]) -> Result<Money, AmountError> {
    let (negative, body) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let int_len = body.iter().take_while(|b| b.is_ascii_digit()).count();
    let (int, rest) = body.split_at(int_len);
    let (frac, rest) = match rest {
        [b'.', r @ ..] => {
            let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
            r.split_at(n)
        }
        _ => (&b""[..], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(classify_non_number(s));
    }
    let exponent = match rest {
        [] => 0,
        [b'e' | b'E', e @ ..] => parse_exponent(e).ok_or(AmountError::NotANumber)?,
        _ => return Err(AmountError::NotANumber),
    };
    // The digits without the point, and where the point falls in them once
    // the exponent moves it; leading zeros dropped.
    let count = int.len() + frac.len();
    let nth = |k: usize| -> u8 {
        if k < int.len() {
            int[k] - b'0'
        } else {
            frac[k - int.len()] - b'0'
        }
    };
    let zeros = (0..count).take_while(|&k| nth(k) == 0).count();
    if zeros == count {
        return Ok(Money::ZERO);
    }
    let point = int.len() as i64 - zeros as i64 + exponent;
    if point > 20 {
        return Err(AmountError::TooLarge);
    }
    // Digit `i` of the number counted from the point: 0 is the first
    // decimal, -1 the units; zeros beyond the digits given.
    let digit = |i: i64| -> i128 {
        let at = point + i;
        if at < 0 || at >= (count - zeros) as i64 {
            0
        } else {
            i128::from(nth(zeros + at as usize))
        }
    };
    let units = (-point.max(0)..0).fold(0i128, |v, i| v * 10 + digit(i));
    let mut nanos = (0..9).fold(0i128, |v, i| v * 10 + digit(i));
    // The tenth decimal rounds half away from zero (the sign comes last).
    if digit(9) >= 5 {
        nanos += 1;
    }
    let value = units * SCALE + nanos;
    Ok(Money(if negative { -value } else { value }))
}

/// The exponent after `e`: an optional sign and digits, clamped far past
/// any amount's range (the value then overflows or rounds to 0 anyway).
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (sign, digits) = match text {
        [b'-', rest @ ..] => (-1, rest),
        [b'+', rest @ ..] => (1, rest),
        _ => (1, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits
        .iter()
        .fold(0i64, |v, &b| (v * 10 + i64::from(b - b'0')).min(1_000_000));
    Some(sign * magnitude)
}

fn classify_non_number(s: &[u8]) -> AmountError {
    let lower = s.to_ascii_lowercase();
    let body = lower
        .strip_prefix(b"-")
        .or_else(|| lower.strip_prefix(b"+"))
        .unwrap_or(&lower);
    if matches!(body, b"nan" | b"inf" | b"infinity") {
        AmountError::NotFinite
    } else {
        AmountError::NotANumber
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        Money(self.0 - other.0)
    }
}

impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, other: Money) {
        self.0 += other.0;
    }
}

impl Money {
    /// Exact decimal, trailing zeros trimmed: `12.5`, `-0.000001`, `7`;
    /// appended to `buf` without going through `fmt` (a million of them
    /// are written per feature table).
    pub fn push_decimal(self, buf: &mut Vec<u8>) {
        if self.0 < 0 {
            buf.push(b'-');
        }
        let abs = self.0.unsigned_abs();
        let whole = abs / SCALE as u128;
        let mut frac = (abs % SCALE as u128) as u32;
        buf.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
        if frac == 0 {
            return;
        }
        let mut digits = [b'0'; 9];
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        let end = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
        buf.push(b'.');
        buf.extend_from_slice(&digits[..end]);
    }
}

impl fmt::Display for Money {
    /// See [`Money::push_decimal`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(48);
        self.push_decimal(&mut buf);
        f.write_str(std::str::from_utf8(&buf).expect("ASCII"))
    }
}

/// Why an amount was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountError {
    /// The text is not a decimal number (empty, letters, a stray sign or
    /// a bad exponent).
    NotANumber,
    /// The text is `nan`, `inf` or `infinity`, in any case, signed or not.
    NotFinite,
    /// The amount is 1e20 or more in magnitude.
    TooLarge,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AmountError::NotANumber => "expected a decimal number",
            AmountError::NotFinite => "expected a finite number, not NaN or infinity",
            AmountError::TooLarge => "expected a number below 1e20 in magnitude",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Money, AmountError> {
        Money::parse(s.as_bytes())
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse("12.34"), Ok(Money(12_340_000_000)));
        assert_eq!(parse("-0.5"), Ok(Money(-500_000_000)));
        assert_eq!(parse("+3"), Ok(Money(3 * SCALE)));
        assert_eq!(parse(".25"), Ok(Money(250_000_000)));
        assert_eq!(parse("7."), Ok(Money(7 * SCALE)));
        assert_eq!(parse(" 1.000000001 "), Ok(Money(1_000_000_001)));
        assert_eq!(parse("0.0000000015"), Ok(Money(2)));
        assert_eq!(parse("0.0000000014"), Ok(Money(1)));
        assert_eq!(parse("1e3"), Ok(Money(1000 * SCALE)));
        assert_eq!(parse("2.5E-1"), Ok(Money(250_000_000)));
    }

    #[test]
    fn exponents_are_exact() {
        let exact = |s: &str| parse(s).unwrap().to_string();
        assert_eq!(exact("1.5e17"), "150000000000000000");
        assert_eq!(
            (parse("1.5e17").unwrap() + parse("1").unwrap()).to_string(),
            "150000000000000001"
        );
        assert_eq!(exact("1.23456789012345e10"), "12345678901.2345");
        assert_eq!(exact("9.99999999999999999999E19"), "99999999999999999999.9");
        assert_eq!(exact("-12.5e-3"), "-0.0125");
        assert_eq!(exact("125e-11"), "0.000000001");
        assert_eq!(exact("-1.5e-9"), "-0.000000002");
        assert_eq!(exact("1.4e-10"), "0");
        assert_eq!(exact("0.000e+300"), "0");
        assert_eq!(exact("0001e+2"), "100");
        assert_eq!(exact("+.5e1"), "5");
        assert_eq!(exact("1e-99999999999"), "0");
        // Leading zeros do not count towards the 20 digits.
        assert_eq!(exact("000000000000000000000000001"), "1");
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_one() {
        for text in [
            "0",
            "-0",
            "12.34",
            "-0.0450",
            ".5",
            "5.",
            "123456789",
            "-999999999.999999999",
            "1.123456789",
            "-99.000000001",
        ] {
            let fast = parse_nanos(text.as_bytes()).map(|n| Ok(Money(i128::from(n))));
            assert_eq!(fast, Some(parse_general(text.as_bytes())), "{text}");
        }
        // Left to the general reading (which takes the first three).
        for text in [
            "1234567890",
            "123456789012345678",
            "0.1234567891",
            "",
            "-",
            ".",
            "-.",
            "1.2.3",
            "+1",
            " 1",
            "1e3",
            "--1",
            "1-",
        ] {
            assert_eq!(parse_nanos(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn bad_amounts() {
        assert_eq!(parse(""), Err(AmountError::NotANumber));
        assert_eq!(parse("abc"), Err(AmountError::NotANumber));
        assert_eq!(parse("1,5"), Err(AmountError::NotANumber));
        assert_eq!(parse("1.2.3"), Err(AmountError::NotANumber));
        assert_eq!(parse("NaN"), Err(AmountError::NotFinite));
        assert_eq!(parse("-inf"), Err(AmountError::NotFinite));
        assert_eq!(parse("1e400"), Err(AmountError::TooLarge));
        assert_eq!(parse("123456789012345678901"), Err(AmountError::TooLarge));
        assert_eq!(parse("1e20"), Err(AmountError::TooLarge));
        assert_eq!(parse("1e"), Err(AmountError::NotANumber));
        assert_eq!(parse("1e+"), Err(AmountError::NotANumber));
        assert_eq!(parse("1e2.5"), Err(AmountError::NotANumber));
        assert_eq!(parse("e5"), Err(AmountError::NotANumber));
    }

    #[test]
    fn display_is_exact_and_trimmed() {
        assert_eq!(parse("12.50").unwrap().to_string(), "12.5");
        assert_eq!(parse("-0.000001").unwrap().to_string(), "-0.000001");
        assert_eq!(parse("7").unwrap().to_string(), "7");
        assert_eq!(parse("-7").unwrap().to_string(), "-7");
        assert_eq!(parse("0").unwrap().to_string(), "0");
        assert_eq!(parse("-0.5").unwrap().to_string(), "-0.5");
        assert_eq!(parse("0.000000001").unwrap().to_string(), "0.000000001");
        assert_eq!(parse("1.100000000").unwrap().to_string(), "1.1");
        assert_eq!(
            Money(i128::MIN).to_string(),
            "-170141183460469231731687303715.884105728"
        );
        assert_eq!(
            Money(-1_234_567_890_123_456_789).to_string(),
            "-1234567890.123456789"
        );
        assert_eq!(
            (parse("0.1").unwrap() + parse("0.2").unwrap()).to_string(),
            "0.3"
        );
    }
}

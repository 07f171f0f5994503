//! How every CSV file segmint writes spells its cells (features, scores,
//! sweeps): one place, so that a number reads the same in each.

/// A text cell, quoted (RFC 4180) only when it must be.
pub fn push_text(buf: &mut Vec<u8>, text: impl AsRef<[u8]>) {
    let text = text.as_ref();
    if !text
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        buf.extend_from_slice(text);
        return;
    }
    buf.push(b'"');
    for &b in text {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}

/// Shortest round-trip form; integral values without `.0`; `-0` as `0`.
pub fn push_float(buf: &mut Vec<u8>, x: f64) {
    if x == 0.0 {
        buf.push(b'0');
        return;
    }
    let mut ryu = ryu::Buffer::new();
    let s = ryu.format(x);
    buf.extend_from_slice(s.strip_suffix(".0").unwrap_or(s).as_bytes());
}

/// The shortest text that reads back to the same f32 (values computed in
/// f32 have no more digits worth printing).
pub fn push_f32(buf: &mut Vec<u8>, x: f32) {
    if x == 0.0 {
        buf.push(b'0');
        return;
    }
    let mut ryu = ryu::Buffer::new();
    let s = ryu.format(x);
    buf.extend_from_slice(s.strip_suffix(".0").unwrap_or(s).as_bytes());
}

/// A value computed in f32 but kept in f64 (a distance, scaled back): the
/// shortest f32 text where f32 holds it, else eight significant digits.
pub fn push_distance(buf: &mut Vec<u8>, x: f64) {
    let narrow = x as f32;
    if narrow.is_finite() {
        push_f32(buf, narrow);
    } else {
        let text = format!("{x:.7e}");
        let (mantissa, exponent) = text.split_once('e').expect("exponent notation");
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        buf.extend_from_slice(format!("{mantissa}e{exponent}").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut buf = Vec::new();
        f(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn cells() {
        assert_eq!(text(|b| push_text(b, "plain")), "plain");
        assert_eq!(text(|b| push_text(b, "a,\"b\"")), "\"a,\"\"b\"\"\"");
        assert_eq!(text(|b| push_float(b, 2.0)), "2");
        assert_eq!(text(|b| push_float(b, -0.0)), "0");
        assert_eq!(text(|b| push_float(b, 0.1)), "0.1");
        assert_eq!(text(|b| push_f32(b, 0.1)), "0.1");
        assert_eq!(text(|b| push_distance(b, 2.5)), "2.5");
        assert_eq!(text(|b| push_distance(b, 5e38)), "5e38");
        assert_eq!(
            text(|b| push_distance(b, 4.9999994260985805e38)),
            "4.9999994e38"
        );
    }
}

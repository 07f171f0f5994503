//! Numbers and summaries for people (the terminal, and the HTML page's
//! figures): thousands separators, money, percentages, segment sizes, and
//! the few lines `report` and `demo` print.

use super::summary::Summary;

/// 1234567 -> "1,234,567".
pub fn thousands(n: u64) -> String {
    group_digits(&n.to_string())
}

/// A run of decimal digits with a comma between groups of three.
fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a number that is not one (NaN, an infinity) shows as: never
/// "NaN" or "inf" on a page or a terminal.
pub const NO_NUMBER: &str = "–";

/// Money with two decimals and thousands separators: `-1,234.50`. Cents
/// round half away from zero; a value that rounds to zero has no sign;
/// NaN and infinities are [`NO_NUMBER`].
pub fn money(v: f64) -> String {
    if !v.is_finite() {
        return NO_NUMBER.to_string();
    }
    let cents = (v.abs() * 100.0).round();
    let sign = if v < 0.0 && cents > 0.0 { "-" } else { "" };
    if cents < 2f64.powi(53) {
        // Exact whole cents.
        let cents = cents as u64;
        format!("{sign}{}.{:02}", thousands(cents / 100), cents % 100)
    } else {
        // Beyond 2^53 cents (about 90 trillion) f64 has no cents to show.
        let text = format!("{:.2}", v.abs());
        let (whole, decimals) = text.split_once('.').unwrap_or((&text, "00"));
        format!("{sign}{}.{decimals}", group_digits(whole))
    }
}

/// Magnitudes from which [`compact_count`] and [`compact_money`]
/// abbreviate; below it numbers are shown in full.
pub const COMPACT_FROM: f64 = 10_000.0;

/// A magnitude of at least [`COMPACT_FROM`] in three or so characters and
/// a suffix: `23.6k`, `2.5M`, `1.2B`, `999k`, `1.0T`; one decimal below
/// 100 of the unit, none from 100 (rounded half away from zero, and a
/// value that rounds up to 1,000 of a unit is 1.0 of the next:
/// 999,500 is `1.0M`). From 1,000 trillion, exponent notation (`1.2e15`).
fn abbreviate(magnitude: f64) -> String {
    const UNITS: [(f64, &str); 4] = [(1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")];
    for (unit, suffix) in UNITS {
        let tenths = (magnitude / (unit / 10.0)).round();
        if tenths < 1000.0 {
            return format!("{:.1}{suffix}", tenths / 10.0);
        }
        let whole = (magnitude / unit).round();
        if whole < 1000.0 {
            return format!("{whole:.0}{suffix}");
        }
    }
    format!("{magnitude:.1e}")
}

/// A number of any magnitude in a few characters, its sign kept: in full
/// below [`COMPACT_FROM`] (with at most two decimals, trailing zeros
/// dropped: `9,999`, `12.5`), abbreviated from it (`-23.6k`, `2.5M`);
/// NaN and infinities are [`NO_NUMBER`].
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return NO_NUMBER.to_string();
    }
    let magnitude = v.abs();
    if magnitude >= COMPACT_FROM {
        let sign = if v < 0.0 { "-" } else { "" };
        return format!("{sign}{}", abbreviate(magnitude));
    }
    let full = money(v);
    full.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A count for a card: in full below 10,000 (`9,999`), abbreviated from
/// it (`23.6k`, `1.0M`).
pub fn compact_count(n: u64) -> String {
    if (n as f64) < COMPACT_FROM {
        thousands(n)
    } else {
        abbreviate(n as f64)
    }
}

/// Money for a card: in full with cents below 10,000 (`9,999.99`),
/// abbreviated from it, its sign kept (`2.5M`, `-23.6k`); NaN and
/// infinities are [`NO_NUMBER`].
pub fn compact_money(v: f64) -> String {
    if v.is_finite() && v.abs() < COMPACT_FROM {
        money(v)
    } else {
        compact(v)
    }
}

/// A quantity that is not money (expected transactions, anything a
/// model estimates in units) in whole units with thousands separators,
/// its sign kept: `5,697`, `-12`; NaN and infinities are [`NO_NUMBER`].
pub fn whole(v: f64) -> String {
    if !v.is_finite() {
        return NO_NUMBER.to_string();
    }
    money(v.round()).trim_end_matches(".00").to_string()
}

/// A quantity for a card: in whole units below [`COMPACT_FROM`]
/// (`5,697`), abbreviated from it (`23.6k`), its sign kept.
pub fn compact_whole(v: f64) -> String {
    if v.is_finite() && v.abs() < COMPACT_FROM {
        whole(v)
    } else {
        compact(v)
    }
}

/// Days as people write them: whole days without decimals (`65`), others
/// to one decimal (`254.5`, `0.2`); NaN and infinities are [`NO_NUMBER`].
pub fn days(v: f64) -> String {
    if !v.is_finite() {
        NO_NUMBER.to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        whole(v)
    } else {
        let tenths = (v * 10.0).round() / 10.0;
        if tenths.fract() == 0.0 {
            whole(tenths)
        } else {
            format!("{tenths:.1}")
        }
    }
}

/// English month abbreviations, January first.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `2025-03` or `2025-03-31` as `Mar 2025` (or `31 Mar 2025`); the text
/// itself when it is not such a date.
pub fn date_words(date: &str) -> String {
    let mut parts = date.split('-');
    let (Some(year), Some(month)) = (parts.next(), parts.next()) else {
        return date.to_string();
    };
    let day = parts.next();
    let name = month
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    match (name, day.map(str::parse::<u32>)) {
        (Some(name), None) => format!("{name} {year}"),
        (Some(name), Some(Ok(day))) => format!("{day} {name} {year}"),
        _ => date.to_string(),
    }
}

/// A fraction as a percentage with one decimal: 0.256 -> "25.6%".
pub fn percent(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", 100.0 * v)
    } else {
        NO_NUMBER.to_string()
    }
}

/// "Power User 3, Loyal User 12, Casual User 5"; past a dozen segments
/// the first ones and how many more.
pub fn sizes_by_name(names: &[String], sizes: &[u64]) -> String {
    const SHOWN: usize = 12;
    let mut parts: Vec<String> = names
        .iter()
        .zip(sizes)
        .take(SHOWN)
        .map(|(name, &size)| format!("{name} {}", thousands(size)))
        .collect();
    if names.len() > SHOWN {
        parts.push(format!("and {} more", names.len() - SHOWN));
    }
    parts.join(", ")
}

/// A report's key figures and segments in a few lines.
pub fn report_lines(summary: &Summary) -> String {
    let k = &summary.kpis;
    let mut text = format!(
        "{} users, {} transactions, revenue {}, success rate {}",
        thousands(k.users),
        thousands(k.transactions),
        money(k.revenue),
        k.success_rate.map_or("-".into(), percent),
    );
    let seg = &summary.segmentation;
    text.push_str(&format!("\n{} segments:", seg.k));
    for p in &seg.profiles {
        text.push_str(&format!(
            "\n  {:<16} {:>8} users ({:>5.1}%)  {:>5.1}% of revenue",
            p.name,
            thousands(p.users),
            100.0 * p.user_share,
            100.0 * p.revenue_share
        ));
    }
    text.push_str(&format!(
        "\nchurn risk: {} users flagged, {} of revenue",
        thousands(k.at_risk_users),
        money(k.revenue_at_risk)
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(money(-1234.5), "-1,234.50");
        assert_eq!(percent(0.1234), "12.3%");
        let names: Vec<String> = (1..=14).map(|i| format!("T{i}")).collect();
        let sizes: Vec<u64> = (1..=14).collect();
        assert_eq!(sizes_by_name(&names[..2], &sizes), "T1 1, T2 2");
        assert!(sizes_by_name(&names, &sizes).ends_with("T12 12, and 2 more"));
    }

    #[test]
    fn sizes_have_separators() {
        let names = vec!["Power User".to_string(), "Loyal User".to_string()];
        assert_eq!(
            sizes_by_name(&names, &[23_570, 999]),
            "Power User 23,570, Loyal User 999"
        );
    }

    #[test]
    fn money_in_full() {
        assert_eq!(money(2_500_315.625), "2,500,315.63");
        assert_eq!(money(0.0), "0.00");
        assert_eq!(money(-0.0), "0.00");
        // Rounds to zero: no sign.
        assert_eq!(money(-0.004), "0.00");
        assert_eq!(money(-0.005), "-0.01");
        assert_eq!(money(999.999), "1,000.00");
        // Past 2^53 cents, still digits and separators, no wrap-around.
        assert_eq!(money(1e20), "100,000,000,000,000,000,000.00");
        assert_eq!(money(-1.5e17), "-150,000,000,000,000,000.00");
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(money(v), NO_NUMBER);
            assert_eq!(percent(v), NO_NUMBER);
        }
    }

    #[test]
    fn counts_shorten_from_ten_thousand() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (9_999, "9,999"),
            (10_000, "10.0k"),
            (23_570, "23.6k"),
            (99_949, "99.9k"),
            (99_950, "100k"),
            (100_000, "100k"),
            (999_499, "999k"),
            (999_500, "1.0M"),
            (1_000_000, "1.0M"),
            (2_500_315, "2.5M"),
            (99_950_000, "100M"),
            (999_500_000, "1.0B"),
            (1_234_567_890, "1.2B"),
            (999_499_999_999, "999B"),
            (999_500_000_000, "1.0T"),
            (999_499_000_000_000, "999T"),
            (999_500_000_000_000, "1.0e15"),
            (u64::MAX, "1.8e19"),
        ] {
            assert_eq!(compact_count(n), text, "{n}");
        }
    }

    #[test]
    fn money_shortens_from_ten_thousand_and_keeps_its_sign() {
        for (v, text) in [
            (0.0, "0.00"),
            (-0.0, "0.00"),
            (873.1, "873.10"),
            (999.0, "999.00"),
            (1_000.0, "1,000.00"),
            (9_999.99, "9,999.99"),
            (-9_999.99, "-9,999.99"),
            // 9,999.995 rounds to 10,000.00 in full: shown in full.
            (9_999.994, "9,999.99"),
            (10_000.0, "10.0k"),
            (-10_000.0, "-10.0k"),
            (130_964.61, "131k"),
            (999_499.99, "999k"),
            (999_500.0, "1.0M"),
            (-999_500.0, "-1.0M"),
            (2_500_315.63, "2.5M"),
            (-2_500_315.63, "-2.5M"),
            (1_234_567_890.0, "1.2B"),
            (1e20, "1.0e20"),
        ] {
            assert_eq!(compact_money(v), text, "{v}");
        }
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(compact_money(v), NO_NUMBER);
            assert_eq!(compact(v), NO_NUMBER);
        }
    }

    #[test]
    fn quantities_days_and_dates() {
        assert_eq!(whole(5_696.84), "5,697");
        assert_eq!(whole(-12.2), "-12");
        assert_eq!(whole(-0.3), "0");
        assert_eq!(whole(f64::NAN), NO_NUMBER);
        assert_eq!(compact_whole(5_696.84), "5,697");
        assert_eq!(compact_whole(23_570.4), "23.6k");
        assert_eq!(days(65.0), "65");
        assert_eq!(days(254.5), "254.5");
        assert_eq!(days(0.15), "0.2");
        assert_eq!(days(1_000.0), "1,000");
        assert_eq!(days(19.96), "20");
        assert_eq!(date_words("1997-01"), "Jan 1997");
        assert_eq!(date_words("2025-03-31"), "31 Mar 2025");
        assert_eq!(date_words("2025-13"), "2025-13");
        assert_eq!(date_words("soon"), "soon");
    }

    #[test]
    fn any_number_in_a_few_characters() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(12.5), "12.5");
        assert_eq!(compact(-9_999.0), "-9,999");
        assert_eq!(compact(0.004), "0");
        assert_eq!(compact(25_000.0), "25.0k");
        assert_eq!(compact(-1.5e6), "-1.5M");
    }
}

//! Numbers and summaries for people (the terminal, and the HTML page's
//! figures): thousands separators, money, percentages, segment sizes, and
//! the few lines `report` and `demo` print.

use super::summary::Summary;

/// 1234567 -> "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Money with two decimals and thousands separators.
pub fn money(v: f64) -> String {
    let sign = if v < 0.0 { "-" } else { "" };
    let cents = (v.abs() * 100.0).round();
    let whole = (cents / 100.0).trunc() as u64;
    format!("{sign}{}.{:02}", thousands(whole), (cents % 100.0) as u64)
}

/// A fraction as a percentage with one decimal: 0.256 -> "25.6%".
pub fn percent(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

/// "Power User 3, Loyal User 12, Casual User 5"; past a dozen segments
/// the first ones and how many more.
pub fn sizes_by_name(names: &[String], sizes: &[u64]) -> String {
    const SHOWN: usize = 12;
    let mut parts: Vec<String> = names
        .iter()
        .zip(sizes)
        .take(SHOWN)
        .map(|(name, size)| format!("{name} {size}"))
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
        "{} users, {} transactions, revenue {:.2}, success rate {}",
        thousands(k.users),
        thousands(k.transactions),
        k.revenue,
        k.success_rate
            .map_or("-".into(), |r| format!("{:.1}%", 100.0 * r)),
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
        "\nchurn risk: {} users flagged, {:.2} of revenue",
        thousands(k.at_risk_users),
        k.revenue_at_risk
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
}

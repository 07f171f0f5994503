//! Bad rows: the file, line and column to blame, and what was expected.

use super::*;

#[test]
fn wrong_field_count() {
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1.5,SMS,read\nu2,2025-01-01,2\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[&at_line(&case, 3), "expected 5 fields, found 3"],
    );
    // Too many fields too.
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1.5,SMS,read,extra\nu2,2025-01-01,2,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[&at_line(&case, 2), "expected 5 fields, found 6"],
    );
}

#[test]
fn unparsable_amount() {
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1.5,SMS,read\nu2,2025-01-01,abc,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[
            &at(&case, 3, 3, "total_price"),
            "expected a decimal number",
            "found \"abc\"",
        ],
    );
}

#[test]
fn nan_and_infinite_amounts() {
    for value in ["NaN", "nan", "inf", "-inf", "Infinity"] {
        let case = Case::with(format!(
            "{HEADER}u1,2025-01-01,1.5,SMS,read\nu1,2025-01-02,2,SMS,read\nu2,2025-01-01,{value},SMS,read\n"
        ));
        expect_failure(
            &case,
            &[],
            3,
            &[
                &at(&case, 4, 3, "total_price"),
                "expected a finite number",
                &format!("found \"{value}\""),
            ],
        );
    }
}

#[test]
fn unparsable_time() {
    // The first row settles the format (iso); a later row does not fit it.
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01 10:00:00,1,SMS,read\nu1,yesterday,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[
            &at(&case, 3, 2, "created_at"),
            "expected an ISO 8601 time",
            "found \"yesterday\"",
        ],
    );
    // No row to detect the format from.
    let case = Case::with(format!("{HEADER}u1,yesterday,1,SMS,read\n"));
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 2, 2, "created_at"), "yesterday", "--time-format"],
    );
    // A forced format.
    let case = Case::with(format!(
        "{HEADER}u1,1735689600,1,SMS,read\nu1,17356896x0,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &["--time-format", "unix"],
        3,
        &[
            &at(&case, 3, 2, "created_at"),
            "expected unix seconds",
            "found \"17356896x0\"",
        ],
    );
}

#[test]
fn impossible_times() {
    for (value, format) in [
        ("2025-02-30", "auto"),
        ("2025-01-02 25:00:00", "auto"),
        ("2025-01-02 10:60:00", "iso"),
        ("2025-13-01", "iso"),
        ("2023-02-29T00:00:00Z", "auto"),
    ] {
        let case = Case::with(format!(
            "{HEADER}u1,2025-01-01 10:00:00,1,SMS,read\nu1,{value},1,SMS,read\n"
        ));
        expect_failure(
            &case,
            &["--time-format", format],
            3,
            &[
                &at(&case, 3, 2, "created_at"),
                "expected an ISO 8601 time",
                &format!("found \"{value}\""),
            ],
        );
    }
    let case = Case::with(format!(
        "{HEADER}u1,20250101,1,SMS,read\nu1,20250230,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[
            &at(&case, 3, 2, "created_at"),
            "expected a date as YYYYMMDD",
            "found \"20250230\"",
        ],
    );
}

#[test]
fn empty_user_key() {
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1,SMS,read\n,2025-01-01,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 3, 1, "user_id"), "expected a user key"],
    );
    // Quoted empty key is empty too.
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1,SMS,read\n\"\",2025-01-01,1,SMS,read\n"
    ));
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 3, 1, "user_id"), "expected a user key"],
    );
}

#[test]
fn invalid_utf8_in_key() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"u1,2025-01-01,1,SMS,read\nu\xff\xfe2,2025-01-01,1,SMS,read\n");
    let case = Case::with(bytes);
    expect_failure(&case, &[], 3, &[&at(&case, 3, 1, "user_id"), "UTF-8"]);
}

/// The input is UTF-8 (README, "Input"); channel values become column names
/// (`share_<channel>`), so invalid bytes there are bad input too. Without
/// the check, two different invalid values both became `share_\u{FFFD}`.
#[test]
fn invalid_utf8_in_channel() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"u1,2025-01-01,1,SMS,read\nu1,2025-01-01,1,\xff,read\nu1,2025-01-01,1,\xfe,read\n",
    );
    let case = Case::with(bytes);
    expect_failure(&case, &[], 3, &[&at(&case, 3, 4, "channel"), "UTF-8"]);
}

#[test]
fn crlf_line_ends_do_not_leak_into_values_or_lines() {
    let case = Case::with(
        "user_id,created_at,total_price\r\nu1,2025-01-01,1\r\nu2,2025-01-01,abc\r\nu3,2025-01-01,1\r\n",
    );
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 3, 3, "total_price"), "found \"abc\""],
    );
}

#[test]
fn quoted_fields_with_newlines_count_physical_lines() {
    // The record on line 2 spans lines 2-3; the bad row starts on line 4.
    let case =
        Case::with("user_id,created_at,total_price\n\"u\n1\",2025-01-01,1\nu2,2025-01-01,abc\n");
    expect_failure(
        &case,
        &[],
        3,
        &[&at(&case, 4, 3, "total_price"), "found \"abc\""],
    );
}

#[test]
fn other_delimiters_and_no_header() {
    let case = Case::with("user_id;created_at;total_price\nu1;2025-01-01;1\nu2;2025-01-01;1,5x\n");
    expect_failure(
        &case,
        &["--delimiter", ";"],
        3,
        &[&at(&case, 3, 3, "total_price"), "found \"1,5x\""],
    );
    let case = Case::with("  u1  2025-01-01  1\n\tu2 2025-01-01 zz\n");
    let err = expect_failure(
        &case,
        &[
            "--delimiter",
            "whitespace",
            "--no-header",
            "--user-col",
            "1",
            "--time-col",
            "2",
            "--amount-col",
            "3",
        ],
        3,
        &[
            &format!("{}: line 2, column 3", case.input().display()),
            "expected a decimal number",
            "found \"zz\"",
        ],
    );
    // Without a header there is no name to show.
    assert!(!err.contains("column 3 ("), "{err}");
}

#[test]
fn unterminated_quote() {
    let case = Case::with(format!(
        "{HEADER}u1,2025-01-01,1,SMS,read\n\"u2,2025-01-01,1,SMS,read\nu3,2025-01-01,1,SMS,read\n"
    ));
    expect_failure(&case, &[], 3, &[&at_line(&case, 3), "quote"]);
    // At the very end of the input.
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n\""));
    expect_failure(&case, &[], 3, &[&at_line(&case, 3), "quote"]);
}

//! Positions of bad rows in big inputs, however they are read: threads,
//! chunks, memory maps or reads, standard input, several files.

use super::*;

#[test]
fn bad_row_in_a_later_chunk_reports_its_line() {
    let case = Case::with(big_log(
        10_000,
        &[(5000, "user5000,2025-03-05 10:00:00,12.x5,SMS,read")],
    ));
    for variant in READ_VARIANTS {
        expect_failure(
            &case,
            variant,
            3,
            &[&at(&case, 5000, 3, "total_price"), "found \"12.x5\""],
        );
    }
}

#[test]
fn first_of_two_bad_rows_is_reported() {
    // The later one is a different error, so the message tells them apart.
    let case = Case::with(big_log(
        10_000,
        &[
            (3001, "user3001,2025-03-05 10:00:00,1,SMS"),
            (7002, "user7002,2025-03-05 10:00:00,oops,SMS,read"),
        ],
    ));
    for variant in READ_VARIANTS {
        let err = expect_failure(
            &case,
            variant,
            3,
            &[&at_line(&case, 3001), "expected 5 fields, found 4"],
        );
        assert!(!err.contains("oops"), "{variant:?}: {err}");
    }
    // Reversed: the earlier one is now the amount.
    let case = Case::with(big_log(
        10_000,
        &[
            (2999, "user2999,2025-03-05 10:00:00,oops,SMS,read"),
            (3000, "user3000,2025-03-05 10:00:00,1,SMS"),
            (9999, ",2025-03-05 10:00:00,1,SMS,read"),
        ],
    ));
    for variant in READ_VARIANTS {
        expect_failure(
            &case,
            variant,
            3,
            &[&at(&case, 2999, 3, "total_price"), "found \"oops\""],
        );
    }
}

#[test]
fn unterminated_quote_in_a_later_chunk() {
    let case = Case::with(big_log(
        10_000,
        &[(6000, "user6000,\"2025-03-05 10:00:00,1,SMS,read")],
    ));
    for variant in READ_VARIANTS {
        expect_failure(&case, variant, 3, &[&at_line(&case, 6000), "quote"]);
    }
}

#[test]
fn a_quote_after_a_bad_row_still_has_the_block_read_quoted() {
    // Read quoted, the quote left open at line 9000 comes first (before
    // any row is read), whichever chunks the bad row at line 3000 stops.
    let case = Case::with(big_log(
        10_000,
        &[
            (3000, "user3000,2025-03-05 10:00:00,12.x5,SMS,read"),
            (9000, "user9000,\"2025-03-05 10:00:00,1,SMS,read"),
        ],
    ));
    for variant in READ_VARIANTS {
        expect_failure(&case, variant, 3, &[&at_line(&case, 9000), "quote"]);
    }
    // Read quoted, a lone carriage return ends a record: line 3000 is
    // then short of fields, not a bad amount.
    let case = Case::with(big_log(
        10_000,
        &[
            (3000, "user3000,2025-03-05 10:00:00,1\r5,SMS,read"),
            (9000, "\"user9000\",2025-03-05 10:00:00,1,SMS,read"),
        ],
    ));
    for variant in READ_VARIANTS {
        expect_failure(
            &case,
            variant,
            3,
            &[&at_line(&case, 3000), "expected 5 fields, found 3"],
        );
    }
}

#[test]
fn bad_row_read_from_stdin_names_stdin() {
    let log = big_log(
        10_000,
        &[(5000, "user5000,2025-03-05 10:00:00,12.x5,SMS,read")],
    );
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.csv");
    for variant in [&["--chunk-bytes", "4096"][..], &[]] {
        let out = segmint()
            .args(["features", "-", "-o"])
            .arg(&target)
            .args(variant)
            .write_stdin(log.clone())
            .output()
            .unwrap();
        assert_eq!(code(&out), 3, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("<stdin>: line 5000, column 3 (total_price): "),
            "{}",
            stderr(&out)
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

#[test]
fn error_in_the_second_file_names_it() {
    let mut case = Case::new();
    case.add(
        "day1.csv",
        format!("{HEADER}u1,2025-01-01,1,SMS,read\nu2,2025-01-01,2,SMS,read\n"),
    );
    let second = case.add(
        "day2.csv",
        format!("{HEADER}u1,2025-01-02,1,SMS,read\nu2,2025-01-02,bad,SMS,read\n"),
    );
    let err = expect_failure(
        &case,
        &[],
        3,
        &[&format!(
            "{}: line 3, column 3 (total_price): ",
            second.display()
        )],
    );
    assert!(!err.contains("day1.csv"), "{err}");
    // A header problem in the second file names it too.
    let mut case = Case::new();
    case.add("day1.csv", format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    let second = case.add("day2.csv", "user_id,when,total_price\nu1,2025-01-02,1\n");
    expect_failure(
        &case,
        &[],
        3,
        &[&second.display().to_string(), "\"created_at\"", "\"when\""],
    );
}

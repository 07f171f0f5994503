//! Bad headers, empty files, unreadable inputs and unwritable outputs.

use super::*;

#[test]
fn missing_required_column_lists_the_header() {
    let case = Case::with("user_id,created_at,price\nu1,2025-01-01,1\n");
    expect_failure(
        &case,
        &[],
        3,
        &[
            &case.input().display().to_string(),
            "\"total_price\"",
            "--amount-col",
            "\"user_id\", \"created_at\", \"price\"",
        ],
    );
}

#[test]
fn unknown_column_given_with_a_flag() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    expect_failure(
        &case,
        &["--amount-col", "price"],
        3,
        &[
            &case.input().display().to_string(),
            "\"price\"",
            "--amount-col",
            "\"user_id\", \"created_at\", \"total_price\", \"channel\", \"status\"",
        ],
    );
    // An optional column named explicitly must exist too.
    expect_failure(
        &case,
        &["--channel-col", "medium"],
        3,
        &["\"medium\"", "--channel-col"],
    );
}

#[test]
fn empty_file() {
    let case = Case::with("");
    expect_failure(
        &case,
        &[],
        3,
        &[&case.input().display().to_string(), "empty"],
    );
}

#[test]
fn header_only_file() {
    for text in [
        HEADER,
        "user_id,created_at,total_price",
        "user_id,created_at,total_price\r\n",
    ] {
        let case = Case::with(text);
        expect_failure(&case, &[], 3, &["no transactions"]);
    }
}

#[test]
fn every_row_after_as_of_is_no_transactions() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    expect_failure(
        &case,
        &["--as-of", "2024-12-31"],
        3,
        &["no transactions", "after --as-of"],
    );
}

// --------------------------------------------------------------- I/O errors

#[test]
fn nonexistent_input() {
    let mut case = Case::new();
    let missing = case.dir.path().join("missing.csv");
    case.inputs.push(missing.clone());
    let out = case.run(&[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains(&missing.display().to_string()));
    assert!(!case.out().exists());
    assert_eq!(fs::read_dir(case.dir.path()).unwrap().count(), 0);
}

#[test]
fn directory_as_input() {
    let mut case = Case::new();
    let sub = case.dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    case.inputs.push(sub.clone());
    let out = case.run(&[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains(&sub.display().to_string()));
    assert!(!case.out().exists());
    assert_eq!(fs::read_dir(case.dir.path()).unwrap().count(), 1);
}

#[test]
fn unwritable_output_is_an_io_error() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    let target = case.dir.path().join("no/such/dir/out.csv");
    let out = segmint()
        .arg("features")
        .arg(case.input())
        .arg("-o")
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("out.csv"), "{}", stderr(&out));
}

#[test]
fn output_path_that_is_a_directory_is_an_io_error() {
    let case = Case::with(format!("{HEADER}u1,2025-01-01,1,SMS,read\n"));
    let target = case.dir.path().join("sub");
    fs::create_dir(&target).unwrap();
    let out = segmint()
        .arg("features")
        .arg(case.input())
        .arg("-o")
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(fs::read_dir(&target).unwrap().count(), 0);
    let names: BTreeSet<String> = fs::read_dir(case.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["in.csv".to_string(), "sub".to_string()])
    );
}

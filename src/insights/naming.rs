//! Segment names (SPEC section 5): the default tier names for K segments
//! and the checked `--segment-names` override. Segments arrive already
//! numbered by value (segment 0 has the highest mean monetary); ranking
//! clusters is not this module's job, nor is writing the names anywhere.

/// The largest K that gets word names; above it segments are `Tier 1` ..
/// `Tier K`.
pub const MAX_DEFAULT_NAMED: usize = 8;

/// Word names for K = 1 ..= [`MAX_DEFAULT_NAMED`], highest value first.
/// Each K keeps the names of the K below where it can, so a segment's name
/// reads the same across a K sweep.
const NAMED: [&[&str]; MAX_DEFAULT_NAMED] = [
    &["All Users"],
    &["Power User", "Casual User"],
    &["Power User", "Loyal User", "Casual User"],
    &["Power User", "Loyal User", "Regular User", "Casual User"],
    &[
        "Power User",
        "Loyal User",
        "Regular User",
        "Occasional User",
        "Casual User",
    ],
    &[
        "VIP",
        "Power User",
        "Loyal User",
        "Regular User",
        "Occasional User",
        "Casual User",
    ],
    &[
        "VIP",
        "Power User",
        "Loyal User",
        "Regular User",
        "Occasional User",
        "Casual User",
        "Light User",
    ],
    &[
        "VIP",
        "Power User",
        "Loyal User",
        "Regular User",
        "Occasional User",
        "Casual User",
        "Light User",
        "Minimal User",
    ],
];

/// Default names for `k` segments, highest value first: word names up to
/// K = [`MAX_DEFAULT_NAMED`] (K = 3 gives `Power User`, `Loyal User`,
/// `Casual User`), `Tier 1` .. `Tier K` above, none for K = 0.
pub fn default_names(k: usize) -> Vec<String> {
    match k {
        0 => Vec::new(),
        1..=MAX_DEFAULT_NAMED => NAMED[k - 1].iter().map(|s| s.to_string()).collect(),
        _ => (1..=k).map(|i| format!("Tier {i}")).collect(),
    }
}

/// A `--segment-names` list that cannot name the segments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    #[error(
        "--segment-names gives {given} names but K = {k}: give one name per segment, highest value first"
    )]
    WrongCount { given: usize, k: usize },
    #[error("--segment-names: name {position} is empty: every segment needs a name")]
    Empty { position: usize },
    #[error("--segment-names: {name:?} is given twice: names must be distinct")]
    Duplicate { name: String },
    #[error(
        "--segment-names: {name:?} contains a line break or a double quote, which names cannot hold (they go into CSV cells unquoted)"
    )]
    BadCharacter { name: String },
}

/// Parses a comma-separated `--segment-names` list for `k` segments,
/// highest value first. Whitespace around each name is trimmed; the list
/// must give exactly `k` names, none empty, none twice (compared after
/// trimming, case-sensitive), none holding a line break (`\n`, `\r`) or a
/// double quote. A comma cannot occur inside a name: it is the separator.
///
/// Empty names are reported before a wrong count, so that a trailing
/// comma (`a,b,`) is named as such.
pub fn parse_names(list: &str, k: usize) -> Result<Vec<String>, NamingError> {
    let names: Vec<&str> = list.split(',').map(str::trim).collect();
    if let Some(i) = names.iter().position(|name| name.is_empty()) {
        return Err(NamingError::Empty { position: i + 1 });
    }
    if names.len() != k {
        return Err(NamingError::WrongCount {
            given: names.len(),
            k,
        });
    }
    if let Some(name) = names.iter().find(|name| name.contains(['\n', '\r', '"'])) {
        return Err(NamingError::BadCharacter {
            name: name.to_string(),
        });
    }
    // K is small (one name per segment): a quadratic scan is clearer than
    // a set and reports the first repeated name in list order.
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(NamingError::Duplicate {
                name: name.to_string(),
            });
        }
    }
    Ok(names.into_iter().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_for_each_k() {
        assert!(default_names(0).is_empty());
        assert_eq!(default_names(1), ["All Users"]);
        assert_eq!(default_names(2), ["Power User", "Casual User"]);
        // SPEC section 5 fixes K = 3.
        assert_eq!(
            default_names(3),
            ["Power User", "Loyal User", "Casual User"]
        );
        assert_eq!(
            default_names(4),
            ["Power User", "Loyal User", "Regular User", "Casual User"]
        );
        assert_eq!(
            default_names(5),
            [
                "Power User",
                "Loyal User",
                "Regular User",
                "Occasional User",
                "Casual User"
            ]
        );
        assert_eq!(
            default_names(6),
            [
                "VIP",
                "Power User",
                "Loyal User",
                "Regular User",
                "Occasional User",
                "Casual User"
            ]
        );
        assert_eq!(default_names(7)[6], "Light User");
        assert_eq!(default_names(8)[7], "Minimal User");
        assert_eq!(default_names(9)[0], "Tier 1");
        assert_eq!(default_names(9)[8], "Tier 9");
        assert_eq!(default_names(12).len(), 12);
    }

    #[test]
    fn default_names_are_distinct_and_parse_back() {
        for k in 0..=20 {
            let names = default_names(k);
            assert_eq!(names.len(), k);
            if k > 0 {
                let list = names.join(", ");
                assert_eq!(parse_names(&list, k).unwrap(), names, "k = {k}");
            }
        }
    }

    #[test]
    fn parse_trims_and_keeps_order() {
        assert_eq!(
            parse_names(" Whales ,Dolphins,  Minnows\t", 3).unwrap(),
            ["Whales", "Dolphins", "Minnows"]
        );
        assert_eq!(parse_names("Everyone", 1).unwrap(), ["Everyone"]);
        // Inner spaces are part of the name.
        assert_eq!(
            parse_names("Big  Spender,Small", 2).unwrap(),
            ["Big  Spender", "Small"]
        );
    }

    #[test]
    fn parse_rejects_wrong_count() {
        let err = parse_names("a,b", 3).unwrap_err();
        assert_eq!(err, NamingError::WrongCount { given: 2, k: 3 });
        assert_eq!(
            err.to_string(),
            "--segment-names gives 2 names but K = 3: give one name per segment, highest value first"
        );
        assert_eq!(
            parse_names("a,b,c,d", 3).unwrap_err(),
            NamingError::WrongCount { given: 4, k: 3 }
        );
        assert_eq!(
            parse_names("a", 0).unwrap_err(),
            NamingError::WrongCount { given: 1, k: 0 }
        );
    }

    #[test]
    fn parse_rejects_empty_names() {
        assert_eq!(
            parse_names("a,,b", 3).unwrap_err(),
            NamingError::Empty { position: 2 }
        );
        // A trailing comma is an empty last name, not a count error.
        assert_eq!(
            parse_names("a,b,", 2).unwrap_err(),
            NamingError::Empty { position: 3 }
        );
        assert_eq!(
            parse_names("", 1).unwrap_err(),
            NamingError::Empty { position: 1 }
        );
        assert_eq!(
            parse_names("a,  ", 2).unwrap_err().to_string(),
            "--segment-names: name 2 is empty: every segment needs a name"
        );
    }

    #[test]
    fn parse_rejects_duplicates_after_trimming() {
        let err = parse_names("Gold, Silver,Gold ", 3).unwrap_err();
        assert_eq!(
            err,
            NamingError::Duplicate {
                name: "Gold".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "--segment-names: \"Gold\" is given twice: names must be distinct"
        );
        // Case matters.
        assert!(parse_names("gold,Gold", 2).is_ok());
    }

    #[test]
    fn parse_rejects_quotes_and_line_breaks() {
        for bad in ["say \"hi\"", "two\nlines", "cr\rname"] {
            let list = format!("ok,{bad}");
            assert_eq!(
                parse_names(&list, 2).unwrap_err(),
                NamingError::BadCharacter { name: bad.into() },
                "{bad:?}"
            );
        }
        // A newline at either end is whitespace and is trimmed.
        assert_eq!(parse_names("a\n,b", 2).unwrap(), ["a", "b"]);
    }
}

//! Segments ranked and named (README, "Segments and insights"): a
//! method's clusters numbered by value ([`segment_ranks`]: segment 0 has
//! the highest mean monetary), the default tier names for K segments and
//! the checked `--segment-names` override. Writing the names anywhere is
//! not this module's job.

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

/// A list of segment names that cannot name the segments. Messages call
/// the list `segment_names`; the command line names its flag (see
/// [`NamingError::describe`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe("segment_names"))]
pub enum NamingError {
    /// The list does not give exactly one name per segment.
    WrongCount {
        /// Names given.
        given: usize,
        /// Segments to name.
        k: usize,
    },
    /// A name is empty or only whitespace (a trailing comma gives one).
    Empty {
        /// Its 1-based position in the list.
        position: usize,
    },
    /// A name is given twice (compared after trimming, case-sensitive).
    Duplicate {
        /// The name, trimmed.
        name: String,
    },
    /// A name holds a line break or a double quote, which the scores
    /// file's unquoted cells cannot hold.
    BadCharacter {
        /// The name, trimmed.
        name: String,
    },
}

impl NamingError {
    /// The message, with the list called `name` (a flag, say).
    pub fn describe(&self, name: &str) -> String {
        match self {
            NamingError::WrongCount { given, k } => format!(
                "{name} gives {given} names but K = {k}: give one name per segment, highest value first"
            ),
            NamingError::Empty { position } => {
                format!("{name}: name {position} is empty: every segment needs a name")
            }
            NamingError::Duplicate { name: twice } => {
                format!("{name}: {twice:?} is given twice: names must be distinct")
            }
            NamingError::BadCharacter { name: bad } => format!(
                "{name}: {bad:?} contains a line break or a double quote, which names cannot hold (they go into CSV cells unquoted)"
            ),
        }
    }
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

/// Reorders clusters so that segment 0 has the highest mean of `order_by`
/// (values in original units, one per point): returns `rank[cluster] =
/// segment`. Clusters whose means are equal (all amounts 0, say) are
/// ordered by their centres, feature by feature, highest first (so with
/// the default features the more frequent users rank higher), then the
/// larger first; empty clusters come last. The order never depends on how
/// k-means++ happened to number the clusters, unless two clusters share
/// their mean, centre and size.
pub fn segment_ranks(
    labels: &[u32],
    k: usize,
    order_by: &[f64],
    centres: &ndarray::Array2<f64>,
) -> Vec<u32> {
    let mut sums = vec![0.0f64; k];
    let mut counts = vec![0u64; k];
    for (&l, &v) in labels.iter().zip(order_by) {
        sums[l as usize] += v;
        counts[l as usize] += 1;
    }
    ranks_of_sums(&sums, &counts, centres)
}

/// [`segment_ranks`] from each cluster's sum of `order_by` and its users.
pub fn ranks_of_sums(sums: &[f64], counts: &[u64], centres: &ndarray::Array2<f64>) -> Vec<u32> {
    let k = counts.len();
    let means: Vec<f64> = (0..k)
        .map(|c| {
            if counts[c] == 0 {
                f64::NEG_INFINITY
            } else {
                sums[c] / counts[c] as f64
            }
        })
        .collect();
    let by_centre = |a: usize, b: usize| {
        centres
            .row(b)
            .iter()
            .zip(centres.row(a))
            .map(|(y, x)| y.total_cmp(x))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        means[b]
            .total_cmp(&means[a])
            .then_with(|| (counts[a] == 0).cmp(&(counts[b] == 0)))
            .then_with(|| by_centre(a, b))
            .then(counts[b].cmp(&counts[a]))
            .then(a.cmp(&b))
    });
    let mut rank = vec![0u32; k];
    for (segment, &cluster) in order.iter().enumerate() {
        rank[cluster] = segment as u32;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_for_each_k() {
        assert!(default_names(0).is_empty());
        assert_eq!(default_names(1), ["All Users"]);
        assert_eq!(default_names(2), ["Power User", "Casual User"]);
        // the README's "Segments and insights" fixes K = 3.
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
            "segment_names gives 2 names but K = 3: give one name per segment, highest value first"
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
            "segment_names: name 2 is empty: every segment needs a name"
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
            "segment_names: \"Gold\" is given twice: names must be distinct"
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

    #[test]
    fn ranks_segments_by_mean_highest_first() {
        let labels = [0, 1, 2, 1, 0];
        let monetary = [1.0, 10.0, 5.0, 20.0, 3.0];
        let centres = ndarray::Array2::zeros((3, 2));
        assert_eq!(
            segment_ranks(&labels, 3, &monetary, &centres),
            vec![2, 0, 1]
        );
    }

    #[test]
    fn equal_means_are_ranked_by_centre_then_size() {
        // All amounts 0: the centre decides, feature by feature, however
        // the clusters are numbered.
        let labels = [0, 1, 2, 2, 3];
        let zero = [0.0; 5];
        let centres = ndarray::array![[1.0, 5.0], [3.0, 0.0], [1.0, 7.0], [0.5, 9.0]];
        assert_eq!(segment_ranks(&labels, 4, &zero, &centres), vec![2, 0, 1, 3]);
        let swapped = [1, 0, 2, 2, 3];
        let centres = ndarray::array![[3.0, 0.0], [1.0, 5.0], [1.0, 7.0], [0.5, 9.0]];
        assert_eq!(
            segment_ranks(&swapped, 4, &zero, &centres),
            vec![0, 2, 1, 3]
        );
        // Same centre: the larger first; an empty cluster last.
        let centres = ndarray::Array2::zeros((3, 1));
        assert_eq!(
            segment_ranks(&[1, 0, 0], 3, &[0.0; 3], &centres),
            vec![0, 1, 2]
        );
        assert_eq!(
            segment_ranks(&[1, 2, 2], 3, &[0.0; 3], &centres),
            vec![2, 1, 0]
        );
    }
}

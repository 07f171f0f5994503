//! The graph of a table's users, from what users have (README,
//! "Communities"):
//!
//! - **a counterparty column** of their logs (`--peer-col`). When the
//!   peers are themselves users (most rows' peer is a user key: callees,
//!   recipients), users are linked by the transactions between them,
//!   weighted by their count or their amount, direction dropped; rows to
//!   outsiders and to oneself are counted and left out. Otherwise (merchants,
//!   products, devices) each peer links the users who share it, every
//!   pair by `1 / (d − 1)` for a peer of `d` users (Newman's weighting of
//!   a bipartite projection: a peer shared by few says more), summed over
//!   the peers they share; peers of more than `max_peer_degree` users are
//!   left out (counted), so that one popular product does not link
//!   everyone. Peers are told apart by a 128-bit hash of their text.
//! - **an edge list** (`--edges-input`): CSV with a header, `src,dst` and
//!   an optional positive `weight`, undirected, repeated edges added; a
//!   self loop, a weight that is not a positive number or an id that is
//!   not a user is an error naming the line.
//! - **the k nearest neighbours** of each user's scaled features
//!   (`--knn K`): exact, by brute force (at most [`MAX_KNN_USERS`] users),
//!   each user linked to its K nearest (ties to the lower row), weight 1
//!   per direction (2 when mutual).

use std::path::{Path, PathBuf};
use std::time::Instant;

use hashbrown::HashMap;
use rayon::prelude::*;
use serde::Serialize;

use super::Graph;
use crate::features::matrix::{FeatureMatrix, Keys};
use crate::ingest::scan::{Transaction, scan};
use crate::ingest::{IngestError, IngestOptions, Input};

/// Users at most for a kNN graph (its distances grow as their square).
pub const MAX_KNN_USERS: usize = 100_000;

/// The default of `--max-peer-degree`.
pub const DEFAULT_MAX_PEER_DEGREE: usize = 100;

/// Where a graph comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphSource {
    /// The logs' counterparty column.
    Peers(PeerOptions),
    /// An edge list file.
    Edges(PathBuf),
    /// The k nearest neighbours of each user's features.
    Knn(usize),
}

impl GraphSource {
    /// `peers`, `edges` or `knn`.
    pub fn name(&self) -> &'static str {
        match self {
            GraphSource::Peers(_) => "peers",
            GraphSource::Edges(_) => "edges",
            GraphSource::Knn(_) => "knn",
        }
    }
}

/// How a counterparty column makes edges.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerOptions {
    /// The column, as `--peer-col` names it.
    pub column: String,
    /// What weighs a user-user edge.
    pub weight: EdgeWeight,
    /// Whether peers are users, or things users share.
    pub kind: PeerKind,
    /// Peers shared by more users than this are left out of a projection.
    pub max_peer_degree: usize,
}

/// What weighs a user-user edge (`--edge-weight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeWeight {
    /// The transactions between the two users.
    #[default]
    Count,
    /// Their positive amounts, added (refunds count for nothing).
    Amount,
}

/// What the counterparties are (`--peers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    /// Users when at least half the rows with a peer name a user, else
    /// items.
    #[default]
    Auto,
    /// Users: edges between users.
    Users,
    /// Things users share: the projection onto users.
    Items,
}

/// A graph of users, in the order of their table, and how it was built.
#[derive(Debug, Clone)]
pub struct UserGraph {
    /// Node `i` is the table's user `i`.
    pub graph: Graph,
    /// Counts about the build.
    pub stats: GraphStats,
}

/// Counts about a graph's build, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GraphStats {
    /// `peers`, `edges` or `knn`.
    pub source: &'static str,
    /// Users (nodes).
    pub nodes: usize,
    /// Edges, each counted once.
    pub edges: usize,
    /// The edges' weights, added.
    pub total_weight: f64,
    /// Users without an edge.
    pub isolated: usize,
    /// How a counterparty column was read; absent for other sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers: Option<PeerStats>,
    /// Rows of an edge list; absent for other sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_rows: Option<u64>,
    /// K of a kNN graph; absent for other sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knn: Option<usize>,
    /// Seconds building it.
    pub seconds: f64,
}

/// How a counterparty column made the graph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeerStats {
    /// The column.
    pub column: String,
    /// `users` or `items`, as used.
    pub kind: &'static str,
    /// `count` or `amount` (user-user edges).
    pub edge_weight: &'static str,
    /// Rows read.
    pub rows: u64,
    /// Rows whose peer cell was empty.
    pub rows_without_peer: u64,
    /// Rows whose peer is a user.
    pub rows_to_users: u64,
    /// Users mode: rows to a peer that is not a user, left out.
    pub rows_to_outsiders: u64,
    /// Users mode: rows from a user to itself, left out.
    pub rows_to_self: u64,
    /// Amount weights: rows whose amount is not positive, left out.
    pub rows_without_positive_amount: u64,
    /// Items mode: distinct peers.
    pub distinct_peers: u64,
    /// Items mode: peers shared by more than `max_peer_degree` users,
    /// left out.
    pub capped_peers: u64,
    /// The cap.
    pub max_peer_degree: usize,
}

/// Why a graph cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The edge list cannot be read: exit 4.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A bad row or header of an edge list: exit 3.
    #[error("{}:{line}{}: {message}", path.display(), column.map_or(String::new(), |c| format!(": column {c}")))]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column, when one field is at fault.
        column: Option<usize>,
        /// What was expected.
        message: String,
    },
    /// Work past what the build takes (a kNN graph of too many users), or
    /// a K it cannot have: exit 2.
    #[error("{0}")]
    Usage(String),
    /// Reading the logs' counterparties failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl GraphError {
    /// The exit code (README, "Bad input and exit codes").
    pub fn exit_code(&self) -> i32 {
        match self {
            GraphError::Io { .. } => 4,
            GraphError::Row { .. } => 3,
            GraphError::Usage(_) => 2,
            GraphError::Ingest(e) => e.exit_code(),
        }
    }
}

type KeyMap<'a> = HashMap<&'a str, u32, foldhash::fast::FixedState>;

/// A lookup from user key to row.
fn key_map(keys: &Keys) -> KeyMap<'_> {
    let mut map = KeyMap::with_capacity_and_hasher(keys.len(), Default::default());
    for (i, k) in keys.iter().enumerate() {
        map.insert(k, i as u32);
    }
    map
}

/// The graph's counts.
fn stats(graph: &Graph, source: &'static str, started: Instant) -> GraphStats {
    GraphStats {
        source,
        nodes: graph.nodes(),
        edges: graph.edges(),
        total_weight: graph.total_weight(),
        isolated: (0..graph.nodes()).filter(|&v| graph.degree(v) == 0).count(),
        seconds: started.elapsed().as_secs_f64(),
        ..GraphStats::default()
    }
}

/// The ids and edges of an edge list.
#[derive(Debug, Clone)]
pub struct EdgeList {
    /// The users: those given, or the list's ids in order of first
    /// appearance.
    pub keys: Keys,
    /// The graph over `keys`.
    pub graph: UserGraph,
}

/// Reads an edge list (see the module's documentation) over `users`, or
/// over its own ids when `users` is `None`. A file without quotes is
/// memory-mapped and read in parallel chunks; one with quotes (or that
/// cannot be mapped) by the CSV reader, line by line; both give the same
/// graph and the same errors.
pub fn read_edges(path: &Path, users: Option<&Keys>) -> Result<EdgeList, GraphError> {
    let started = Instant::now();
    let file = std::fs::File::open(path).map_err(|source| GraphError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: the map is only read, while this function runs; a file
    // changed under it by another process gives wrong ids or an error
    // message, never undefined behaviour in safe code that reads bytes.
    let map = unsafe { memmap2::Mmap::map(&file) };
    // Quotes, or lines ended by a lone carriage return: the CSV reader.
    if let Ok(map) = map
        && memchr::memchr(b'"', &map).is_none()
        && (memchr::memchr(b'\n', &map).is_some() || memchr::memchr(b'\r', &map).is_none())
    {
        return read_edges_mapped(path, &map, users, started);
    }
    read_edges_csv(path, users, started)
}

/// One field of a line: its bytes, trimmed of a final `\r`.
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.split(|&b| b == b',')
}

/// Parsed lines of one chunk: (src, dst, weight).
type ChunkEdges<'a> = Vec<(&'a [u8], &'a [u8], f64)>;

/// Edges between numbered users.
type Edges = Vec<(u32, u32, f64)>;

/// [`read_edges`] of a mapped file without quotes.
fn read_edges_mapped(
    path: &Path,
    bytes: &[u8],
    users: Option<&Keys>,
    started: Instant,
) -> Result<EdgeList, GraphError> {
    let row_error = |line: u64, column: Option<usize>, message: String| GraphError::Row {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let header_end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    let width = fields(&bytes[..header_end]).count();
    if !(2..=3).contains(&width) {
        return Err(row_error(
            1,
            None,
            format!(
                "an edge list has a header and two or three columns (src,dst[,weight]), found {width} columns"
            ),
        ));
    }
    let body = &bytes[(header_end + 1).min(bytes.len())..];
    let given = users.map(key_map);
    // Chunks cut at line ends, a few per thread.
    let pieces = (rayon::current_num_threads() * 4).max(1);
    let target = body.len() / pieces + 1;
    let mut cuts = vec![0usize];
    while let Some(&last) = cuts.last() {
        if last >= body.len() {
            break;
        }
        let at = (last + target).min(body.len());
        let end = match memchr::memchr(b'\n', &body[at..]) {
            Some(i) => at + i + 1,
            None => body.len(),
        };
        cuts.push(end);
    }
    let chunks: Vec<&[u8]> = cuts.windows(2).map(|w| &body[w[0]..w[1]]).collect();
    // Each chunk's first line number.
    let mut first_line = Vec::with_capacity(chunks.len());
    let mut line = 2u64;
    for chunk in &chunks {
        first_line.push(line);
        line += memchr::memchr_iter(b'\n', chunk).count() as u64;
    }
    let parsed: Vec<Result<ChunkEdges<'_>, GraphError>> = chunks
        .par_iter()
        .zip(&first_line)
        .map(|(chunk, &first)| {
            let mut out = Vec::new();
            for (i, text) in chunk.split(|&b| b == b'\n').enumerate() {
                let line = first + i as u64;
                if text.is_empty() || text == b"\r" {
                    continue;
                }
                let cells: smallvec::SmallVec<[&[u8]; 3]> = fields(text).collect();
                if cells.len() != width {
                    return Err(row_error(
                        line,
                        None,
                        format!(
                            "expected {width} fields like the header, found {}",
                            cells.len()
                        ),
                    ));
                }
                // The CSV reader's checks, in its order.
                for (column, cell) in cells[..2].iter().enumerate() {
                    let Ok(id) = std::str::from_utf8(cell) else {
                        return Err(row_error(line, Some(column + 1), "not UTF-8 text".into()));
                    };
                    if cell.is_empty() {
                        return Err(row_error(
                            line,
                            Some(column + 1),
                            "an empty id: expected a user id".into(),
                        ));
                    }
                    if let Some(map) = &given
                        && !map.contains_key(id)
                    {
                        return Err(row_error(line, Some(column + 1), not_a_user(cell)));
                    }
                }
                if cells[0] == cells[1] {
                    return Err(row_error(line, None, self_loop(cells[0])));
                }
                let weight = if width == 3 {
                    parse_weight(cells[2]).ok_or_else(|| {
                        row_error(
                            line,
                            Some(3),
                            format!(
                                "weight {:?}: expected a positive number",
                                crate::ingest::error::excerpt(cells[2])
                            ),
                        )
                    })?
                } else {
                    1.0
                };
                out.push((cells[0], cells[1], weight));
            }
            Ok(out)
        })
        .collect();
    let mut chunk_edges = Vec::with_capacity(parsed.len());
    for p in parsed {
        chunk_edges.push(p?);
    }
    let rows: u64 = chunk_edges.iter().map(|c| c.len() as u64).sum();
    if rows == 0 {
        return Err(row_error(
            1,
            None,
            "the edge list has a header but no edges".into(),
        ));
    }
    fn text(b: &[u8]) -> &str {
        std::str::from_utf8(b).expect("checked UTF-8")
    }
    let (keys, edges) = match users {
        Some(users) => {
            let map = given.as_ref().expect("users given");
            let mapped: Vec<Result<Edges, GraphError>> = chunk_edges
                .par_iter()
                .zip(&chunks)
                .zip(&first_line)
                .map(|((edges, chunk), &first)| {
                    let mut out = Vec::with_capacity(edges.len());
                    for &(a, b, w) in edges {
                        let mut ends = [0u32; 2];
                        for (column, (id, end)) in [a, b].iter().zip(&mut ends).enumerate() {
                            *end = match map.get(text(id)) {
                                Some(&i) => i,
                                None => {
                                    return Err(row_error(
                                        line_of(chunk, id, first),
                                        Some(column + 1),
                                        not_a_user(id),
                                    ));
                                }
                            };
                        }
                        out.push((ends[0], ends[1], w));
                    }
                    Ok(out)
                })
                .collect();
            let mut edges = Vec::with_capacity(rows as usize);
            for m in mapped {
                edges.extend(m?);
            }
            (users.clone(), edges)
        }
        None => {
            // Ids numbered by first appearance: each chunk numbers its
            // own, then the chunks' numbers are merged in file order.
            type Local<'a> = (Vec<&'a [u8]>, Vec<(u32, u32, f64)>);
            let local: Vec<Local<'_>> = chunk_edges
                .par_iter()
                .map(|edges| {
                    let mut ids: HashMap<&[u8], u32, foldhash::fast::FixedState> =
                        HashMap::default();
                    let mut order: Vec<&[u8]> = Vec::new();
                    let mut out = Vec::with_capacity(edges.len());
                    for &(a, b, w) in edges {
                        let mut ends = [0u32; 2];
                        for (id, end) in [a, b].into_iter().zip(&mut ends) {
                            let next = order.len() as u32;
                            *end = *ids.entry(id).or_insert(next);
                            if *end == next {
                                order.push(id);
                            }
                        }
                        out.push((ends[0], ends[1], w));
                    }
                    (order, out)
                })
                .collect();
            let mut global: HashMap<&[u8], u32, foldhash::fast::FixedState> = HashMap::default();
            let mut keys = Keys::new();
            let mut tables: Vec<Vec<u32>> = Vec::with_capacity(local.len());
            for (order, _) in &local {
                let mut table = Vec::with_capacity(order.len());
                for &id in order {
                    let next = keys.len() as u32;
                    let n = *global.entry(id).or_insert_with(|| {
                        keys.push(text(id));
                        next
                    });
                    table.push(n);
                }
                tables.push(table);
            }
            if keys.len() > u32::MAX as usize {
                return Err(row_error(1, None, "more than 2^32 ids".into()));
            }
            let edges: Vec<(u32, u32, f64)> = local
                .par_iter()
                .zip(&tables)
                .flat_map_iter(|((_, edges), table)| {
                    edges
                        .iter()
                        .map(move |&(a, b, w)| (table[a as usize], table[b as usize], w))
                })
                .collect();
            (keys, edges)
        }
    };
    Ok(edge_list(keys, &edges, rows, started))
}

/// The edge list of `keys` and `edges`, read from `rows` rows.
fn edge_list(keys: Keys, edges: &[(u32, u32, f64)], rows: u64, started: Instant) -> EdgeList {
    let graph = Graph::from_edges(keys.len(), edges);
    let mut stats = stats(&graph, "edges", started);
    stats.edge_rows = Some(rows);
    EdgeList {
        keys,
        graph: UserGraph { graph, stats },
    }
}

/// The line number of the field `id` (a slice of `chunk`), `first` the
/// chunk's first line.
fn line_of(chunk: &[u8], id: &[u8], first: u64) -> u64 {
    let at = id.as_ptr() as usize - chunk.as_ptr() as usize;
    first + memchr::memchr_iter(b'\n', &chunk[..at]).count() as u64
}

/// The message of an id that is not a user's key.
fn not_a_user(id: &[u8]) -> String {
    format!(
        "{:?} is not one of the users being segmented (the ids must be their keys)",
        crate::ingest::error::excerpt(id)
    )
}

/// The message of a self loop at `id`.
fn self_loop(id: &[u8]) -> String {
    format!(
        "a self loop ({:?} to itself): an edge links two users",
        String::from_utf8_lossy(id)
    )
}

/// A weight: a positive finite number.
fn parse_weight(cell: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(cell).ok()?.trim();
    text.parse::<f64>()
        .ok()
        .filter(|w| w.is_finite() && *w > 0.0)
}

/// [`read_edges`] by the CSV reader (quoted fields).
fn read_edges_csv(
    path: &Path,
    users: Option<&Keys>,
    started: Instant,
) -> Result<EdgeList, GraphError> {
    let io = |source| GraphError::Io {
        path: path.to_path_buf(),
        source,
    };
    let row_error = |line: u64, column: Option<usize>, message: String| GraphError::Row {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let header = reader
        .byte_headers()
        .map_err(|e| csv_error(path, e))?
        .clone();
    if !(2..=3).contains(&header.len()) {
        return Err(row_error(
            1,
            None,
            format!(
                "an edge list has a header and two or three columns (src,dst[,weight]), found {} columns",
                header.len()
            ),
        ));
    }
    let weighted = header.len() == 3;
    let given = users.map(key_map);
    let mut own: HashMap<Box<str>, u32, foldhash::fast::FixedState> = HashMap::default();
    let mut keys = Keys::new();
    let mut edges = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, e))?
    {
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            return Err(row_error(
                line,
                None,
                format!(
                    "expected {} fields like the header, found {}",
                    header.len(),
                    record.len()
                ),
            ));
        }
        rows += 1;
        let mut ends = [0u32; 2];
        for (column, end) in ends.iter_mut().enumerate() {
            let text = std::str::from_utf8(&record[column])
                .map_err(|_| row_error(line, Some(column + 1), "not UTF-8 text".into()))?;
            if text.is_empty() {
                return Err(row_error(
                    line,
                    Some(column + 1),
                    "an empty id: expected a user id".into(),
                ));
            }
            *end = match &given {
                Some(map) => *map.get(text).ok_or_else(|| {
                    row_error(line, Some(column + 1), not_a_user(text.as_bytes()))
                })?,
                None => match own.get(text) {
                    Some(&i) => i,
                    None => {
                        let i = u32::try_from(keys.len()).map_err(|_| {
                            row_error(line, Some(column + 1), "more than 2^32 ids".into())
                        })?;
                        own.insert(text.into(), i);
                        keys.push(text);
                        i
                    }
                },
            };
        }
        if ends[0] == ends[1] {
            return Err(row_error(line, None, self_loop(&record[0])));
        }
        let weight = if weighted {
            parse_weight(&record[2]).ok_or_else(|| {
                row_error(
                    line,
                    Some(3),
                    format!(
                        "weight {:?}: expected a positive number",
                        crate::ingest::error::excerpt(&record[2])
                    ),
                )
            })?
        } else {
            1.0
        };
        edges.push((ends[0], ends[1], weight));
    }
    if rows == 0 {
        return Err(row_error(
            1,
            None,
            "the edge list has a header but no edges".into(),
        ));
    }
    let keys = match users {
        Some(users) => users.clone(),
        None => keys,
    };
    Ok(edge_list(keys, &edges, rows, started))
}

fn csv_error(path: &Path, e: csv::Error) -> GraphError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => GraphError::Io {
            path: path.to_path_buf(),
            source,
        },
        kind => GraphError::Row {
            path: path.to_path_buf(),
            line,
            column: None,
            message: format!("{kind:?}"),
        },
    }
}

/// What one chunk of a log gave: user-user rows, user-item rows, counts.
#[derive(Default)]
struct PeerRows {
    /// (user, peer user, weight).
    to_users: Vec<(u32, u32, f64)>,
    /// (peer hash, user).
    to_items: Vec<(u128, u32)>,
    rows: u64,
    without_peer: u64,
    to_self: u64,
    without_positive_amount: u64,
}

impl PeerRows {
    fn merge(&mut self, other: PeerRows) {
        self.to_users.extend(other.to_users);
        self.to_items.extend(other.to_items);
        self.rows += other.rows;
        self.without_peer += other.without_peer;
        self.to_self += other.to_self;
        self.without_positive_amount += other.without_positive_amount;
    }
}

/// A 128-bit hash of a peer's text (two independent 64-bit hashes).
fn peer_hash(text: &str) -> u128 {
    use std::hash::BuildHasher;
    let a = foldhash::fast::FixedState::with_seed(0x5EC_4D17).hash_one(text);
    let b = foldhash::fast::FixedState::with_seed(0xC0FF_EE11).hash_one(text);
    (u128::from(a) << 64) | u128::from(b)
}

/// The graph of the users `keys` (every user of the logs, as their table
/// holds them) from the logs' counterparty column (see the module's
/// documentation).
pub fn peer_graph(
    inputs: &[Input],
    options: &IngestOptions,
    keys: &Keys,
    peers: &PeerOptions,
) -> Result<UserGraph, GraphError> {
    let started = Instant::now();
    let map = key_map(keys);
    let amount = peers.weight == EdgeWeight::Amount;
    let rows = scan(
        inputs,
        options,
        PeerRows::default,
        |state: &mut PeerRows, t: &Transaction<'_>| {
            let Some(&user) = map.get(t.user) else {
                // Every user of the logs is in the table.
                return;
            };
            state.rows += 1;
            let Some(peer) = t.peer else {
                state.without_peer += 1;
                return;
            };
            match map.get(peer) {
                Some(&other) => {
                    let weight = if amount { t.amount.to_f64() } else { 1.0 };
                    if user == other {
                        state.to_self += 1;
                    } else if weight > 0.0 {
                        state.to_users.push((user, other, weight));
                    } else {
                        state.without_positive_amount += 1;
                    }
                }
                None => state.to_items.push((peer_hash(peer), user)),
            }
        },
        PeerRows::merge,
    )?;
    let with_peer = rows.rows - rows.without_peer;
    let to_users = rows.rows - rows.without_peer - rows.to_items.len() as u64;
    let as_users = match peers.kind {
        PeerKind::Users => true,
        PeerKind::Items => false,
        PeerKind::Auto => 2 * to_users >= with_peer,
    };
    let mut peer_stats = PeerStats {
        column: peers.column.clone(),
        kind: if as_users { "users" } else { "items" },
        edge_weight: match peers.weight {
            EdgeWeight::Count => "count",
            EdgeWeight::Amount => "amount",
        },
        rows: rows.rows,
        rows_without_peer: rows.without_peer,
        rows_to_users: to_users,
        max_peer_degree: peers.max_peer_degree,
        ..PeerStats::default()
    };
    let graph = if as_users {
        peer_stats.rows_to_outsiders = rows.to_items.len() as u64;
        peer_stats.rows_to_self = rows.to_self;
        peer_stats.rows_without_positive_amount = rows.without_positive_amount;
        drop(rows.to_items);
        Graph::from_edges(keys.len(), &rows.to_users)
    } else {
        // Users named as peers are items like any other.
        let mut pairs = rows.to_items;
        pairs.extend(
            rows.to_users
                .iter()
                .map(|&(user, other, _)| (peer_hash(&keys[other as usize]), user)),
        );
        drop(rows.to_users);
        let (edges, distinct, capped) = project(pairs, peers.max_peer_degree);
        peer_stats.distinct_peers = distinct;
        peer_stats.capped_peers = capped;
        Graph::from_edges(keys.len(), &edges)
    };
    let mut stats = stats(&graph, "peers", started);
    stats.peers = Some(peer_stats);
    Ok(UserGraph { graph, stats })
}

/// The projection of (peer, user) pairs onto users (Newman's weights);
/// returns the edges, the distinct peers and the peers left out for
/// having more than `max_degree` users.
fn project(mut pairs: Vec<(u128, u32)>, max_degree: usize) -> (Vec<(u32, u32, f64)>, u64, u64) {
    pairs.par_sort_unstable();
    pairs.dedup();
    // The start of each peer's run.
    let mut starts: Vec<usize> = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        if i == 0 || pairs[i - 1].0 != pair.0 {
            starts.push(i);
        }
    }
    starts.push(pairs.len());
    let distinct = (starts.len() - 1) as u64;
    let capped = starts
        .windows(2)
        .filter(|w| w[1] - w[0] > max_degree)
        .count() as u64;
    let edges: Vec<(u32, u32, f64)> = starts
        .par_windows(2)
        .flat_map_iter(|w| {
            let users = &pairs[w[0]..w[1]];
            let d = users.len();
            let mut out = Vec::new();
            if (2..=max_degree).contains(&d) {
                let weight = 1.0 / (d - 1) as f64;
                for (a, &(_, u)) in users.iter().enumerate() {
                    out.extend(users[a + 1..].iter().map(|&(_, v)| (u, v, weight)));
                }
            }
            out
        })
        .collect();
    (edges, distinct, capped)
}

/// The kNN graph of `points` (see the module's documentation).
pub fn knn_graph(points: &FeatureMatrix, k: usize) -> Result<UserGraph, GraphError> {
    let started = Instant::now();
    let n = points.n();
    if n > MAX_KNN_USERS {
        return Err(GraphError::Usage(format!(
            "--knn over {n} users: a kNN graph is computed exactly, over at most {MAX_KNN_USERS} users (its distances grow as their square); build the graph from the logs (--peer-col) or an edge list (--edges-input), or cluster these users with another method"
        )));
    }
    if k == 0 || k >= n {
        return Err(GraphError::Usage(format!(
            "--knn {k}: expected at least 1 and fewer than the {n} users"
        )));
    }
    let neighbours: Vec<Vec<u32>> = (0..n)
        .into_par_iter()
        .map(|i| nearest(points, i, k))
        .collect();
    let edges: Vec<(u32, u32, f64)> = neighbours
        .iter()
        .enumerate()
        .flat_map(|(i, near)| near.iter().map(move |&j| (i as u32, j, 1.0)))
        .collect();
    let graph = Graph::from_edges(n, &edges);
    let mut stats = stats(&graph, "knn", started);
    stats.knn = Some(k);
    Ok(UserGraph { graph, stats })
}

/// The `k` points nearest to point `i` (itself left out; ties to the
/// lower row).
fn nearest(points: &FeatureMatrix, i: usize, k: usize) -> Vec<u32> {
    let x = points.row(i);
    // (squared distance, row), ascending.
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for j in 0..points.n() {
        if j == i {
            continue;
        }
        let d: f32 = x
            .iter()
            .zip(points.row(j))
            .map(|(&a, &b)| (a - b) * (a - b))
            .sum();
        if best.len() == k && d >= best[k - 1].0 {
            continue;
        }
        let at = best.partition_point(|&(e, _)| e <= d);
        best.insert(at, (d, j as u32));
        best.truncate(k);
    }
    best.into_iter().map(|(_, j)| j).collect()
}

/// Places users by their edges: each user of `graph` without a segment
/// (`None` in `known`) goes to the segment its edges weigh most into
/// (ties to the lower segment); `None` for one without an edge to a user
/// with a segment.
pub fn place_by_edges(graph: &Graph, known: &[Option<u32>], k: usize) -> Vec<Option<u32>> {
    (0..graph.nodes())
        .into_par_iter()
        .map(|v| {
            if let Some(s) = known[v] {
                return Some(s);
            }
            let mut weight = vec![0.0f64; k];
            let (targets, w) = graph.neighbours(v);
            for (&u, &w) in targets.iter().zip(w) {
                if let Some(s) = known[u as usize] {
                    weight[s as usize] += w;
                }
            }
            let (best, &most) = weight
                .iter()
                .enumerate()
                .fold((0, &0.0), |b, (s, w)| if *w > *b.1 { (s, w) } else { b });
            (most > 0.0).then_some(best as u32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_weighs_shared_peers_and_leaves_hubs_out() {
        // Peer 1: users 0, 1, 2 (each pair 1/2). Peer 2: users 0, 1 (1).
        // Peer 3: four users, above a cap of 3: left out.
        let pairs = vec![
            (1, 0),
            (1, 1),
            (1, 2),
            (2, 0),
            (2, 1),
            (2, 1),
            (3, 0),
            (3, 1),
            (3, 2),
            (3, 3),
        ];
        let (edges, distinct, capped) = project(pairs, 3);
        assert_eq!((distinct, capped), (3, 1));
        let g = Graph::from_edges(4, &edges);
        assert_eq!(g.neighbours(0), (&[1u32, 2][..], &[1.5, 0.5][..]));
        assert_eq!(g.neighbours(2), (&[0u32, 1][..], &[0.5, 0.5][..]));
        assert_eq!(g.degree(3), 0);
    }

    #[test]
    fn nearest_neighbours_break_ties_to_the_lower_row() {
        let points = FeatureMatrix::from_rows(4, 1, vec![0.0, 1.0, -1.0, 5.0]);
        assert_eq!(nearest(&points, 0, 2), vec![1, 2]);
        assert_eq!(nearest(&points, 3, 1), vec![1]);
        let g = knn_graph(&points, 1).unwrap();
        // 0-1 mutual (weight 2), 2-0, 3-1.
        assert_eq!(g.graph.neighbours(0), (&[1u32, 2][..], &[2.0, 1.0][..]));
        assert!(knn_graph(&points, 4).is_err());
    }

    #[test]
    fn mapped_and_csv_readers_agree() {
        let dir = tempfile::tempdir().unwrap();
        let mut plain = String::from("src,dst,weight\r\n");
        let mut quoted = String::from("src,dst,weight\n");
        for i in 0..5000u32 {
            let (a, b) = (
                format!("n{}", (i * 7) % 911),
                format!("n{}", (i * 13 + 5) % 911),
            );
            if a == b {
                continue;
            }
            let w = 1.0 + f64::from(i % 5) / 4.0;
            plain.push_str(&format!("{a},{b},{w}\r\n"));
            if i % 100 == 0 {
                plain.push('\n');
            }
            quoted.push_str(&format!("\"{a}\",\"{b}\",{w}\n"));
        }
        let (p, q) = (dir.path().join("p.csv"), dir.path().join("q.csv"));
        std::fs::write(&p, &plain).unwrap();
        std::fs::write(&q, &quoted).unwrap();
        let (mapped, csv) = (read_edges(&p, None).unwrap(), read_edges(&q, None).unwrap());
        assert_eq!(mapped.keys, csv.keys);
        assert_eq!(mapped.graph.graph, csv.graph.graph);
        assert_eq!(mapped.graph.stats.edge_rows, csv.graph.stats.edge_rows);
        let users = mapped.keys.clone();
        let over = read_edges(&p, Some(&users)).unwrap();
        assert_eq!(over.graph.graph, mapped.graph.graph);
        // The same errors, naming the same line.
        let bad = plain
            .replacen("n7,", "n7,n7,", 1)
            .replacen("n7,n7,n7,", "n7,n7,", 1);
        let line = bad.lines().position(|l| l.starts_with("n7,n7")).unwrap() as u64 + 1;
        std::fs::write(&p, &bad).unwrap();
        match read_edges(&p, None) {
            Err(GraphError::Row { line: l, .. }) => assert_eq!(l, line),
            other => panic!("{other:?}"),
        }
        let few: Keys = users.iter().filter(|&k| k != "n5").collect();
        match read_edges(&q, Some(&few)) {
            Err(GraphError::Row { message, .. }) => assert!(message.contains("\"n5\"")),
            other => panic!("{other:?}"),
        }
        let line_csv = match read_edges(&q, Some(&few)) {
            Err(GraphError::Row { line, .. }) => line,
            _ => unreachable!(),
        };
        std::fs::write(&p, quoted.replace('"', "")).unwrap();
        match read_edges(&p, Some(&few)) {
            Err(GraphError::Row { line, column, .. }) => {
                assert_eq!(line, line_csv);
                assert!(column.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_readers_report_the_first_bad_line_first() {
        let dir = tempfile::tempdir().unwrap();
        let users: Keys = ["alice", "bob"].into_iter().collect();
        let (p, q) = (dir.path().join("p.csv"), dir.path().join("q.csv"));
        // An unknown id on line 2 comes before a self loop on line 3.
        std::fs::write(&p, "src,dst\nalice,zed\nbob,bob\n").unwrap();
        std::fs::write(&q, "src,dst\n\"alice\",zed\nbob,bob\n").unwrap();
        for path in [&p, &q] {
            match read_edges(path, Some(&users)) {
                Err(GraphError::Row {
                    line: 2,
                    column: Some(2),
                    message,
                    ..
                }) => assert!(message.contains("\"zed\""), "{message}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn users_go_where_their_edges_weigh_most() {
        let g = Graph::from_edges(4, &[(0, 2, 1.0), (1, 2, 2.0), (3, 2, 0.5)]);
        let known = [Some(0), Some(1), None, None];
        assert_eq!(
            place_by_edges(&g, &known, 2),
            vec![Some(0), Some(1), Some(1), None]
        );
    }
}

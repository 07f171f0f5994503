//! Input options (README, "Input") and the mapping of column roles onto the
//! fields of one file's header.

use std::path::Path;
use std::str::FromStr;

use super::error::IngestError;
use crate::values::time::TimeFormat;

/// Field separator of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delimiter {
    /// A single byte with RFC 4180 quoting: `,` `;` tab `|`.
    Byte(u8),
    /// Runs of spaces and tabs, leading ones ignored; no quoting.
    Whitespace,
}

impl Default for Delimiter {
    fn default() -> Self {
        Delimiter::Byte(b',')
    }
}

impl FromStr for Delimiter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "," | "comma" => Delimiter::Byte(b','),
            ";" | "semicolon" => Delimiter::Byte(b';'),
            "tab" | "\t" | "\\t" => Delimiter::Byte(b'\t'),
            "|" | "pipe" => Delimiter::Byte(b'|'),
            "whitespace" => Delimiter::Whitespace,
            _ => {
                return Err(format!(
                    "unknown delimiter {s:?}: expected , ; tab | or whitespace"
                ));
            }
        })
    }
}

impl std::fmt::Display for Delimiter {
    /// The spelling [`FromStr`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delimiter::Byte(b'\t') => f.write_str("tab"),
            Delimiter::Byte(b) => write!(f, "{}", *b as char),
            Delimiter::Whitespace => f.write_str("whitespace"),
        }
    }
}

/// The column roles of the transaction schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The user key: any string but an empty one.
    User,
    /// When the transaction happened, in the file's time format.
    Time,
    /// The transaction's amount, a decimal; negative for refunds.
    Amount,
    /// The transaction's channel (optional: off when absent).
    Channel,
    /// The transaction's status, a success or a failure (optional: off
    /// when absent).
    Status,
    /// The transaction's counterparty (callee, recipient, merchant,
    /// product, device): read only to build the user graph.
    Peer,
}

impl Role {
    /// Every role, the three required ones first.
    pub const ALL: [Role; 6] = [
        Role::User,
        Role::Time,
        Role::Amount,
        Role::Channel,
        Role::Status,
        Role::Peer,
    ];

    /// The header name looked for when the user names none.
    pub fn default_name(self) -> &'static str {
        match self {
            Role::User => "user_id",
            Role::Time => "created_at",
            Role::Amount => "total_price",
            Role::Channel => "channel",
            Role::Status => "status",
            Role::Peer => "peer_id",
        }
    }

    /// The flag that re-maps this role.
    pub fn flag(self) -> &'static str {
        match self {
            Role::User => "--user-col",
            Role::Time => "--time-col",
            Role::Amount => "--amount-col",
            Role::Channel => "--channel-col",
            Role::Status => "--status-col",
            Role::Peer => "--peer-col",
        }
    }

    /// What the column holds, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Role::User => "user key",
            Role::Time => "transaction time",
            Role::Amount => "amount",
            Role::Channel => "channel",
            Role::Status => "status",
            Role::Peer => "counterparty",
        }
    }

    /// Whether every file must have the column (user, time and amount);
    /// the others are off when absent.
    pub fn required(self) -> bool {
        matches!(self, Role::User | Role::Time | Role::Amount)
    }
}

/// Columns the user named, by header name or (with or without a header) by
/// 1-based position. `None` means the default name.
#[derive(Clone, Debug, Default)]
pub struct ColumnNames {
    /// The user key column (`--user-col`).
    pub user: Option<String>,
    /// The transaction time column (`--time-col`).
    pub time: Option<String>,
    /// The amount column (`--amount-col`).
    pub amount: Option<String>,
    /// The channel column (`--channel-col`).
    pub channel: Option<String>,
    /// The status column (`--status-col`).
    pub status: Option<String>,
    /// The counterparty column (`--peer-col`).
    pub peer: Option<String>,
}

impl ColumnNames {
    /// The column named for `role`; `None` means its default name.
    pub fn get(&self, role: Role) -> Option<&str> {
        match role {
            Role::User => self.user.as_deref(),
            Role::Time => self.time.as_deref(),
            Role::Amount => self.amount.as_deref(),
            Role::Channel => self.channel.as_deref(),
            Role::Status => self.status.as_deref(),
            Role::Peer => self.peer.as_deref(),
        }
    }
}

/// Everything that says how to read transaction logs.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Columns the user named for the roles.
    pub columns: ColumnNames,
    /// The first record of each file is a header; without one
    /// (`--no-header`), columns are given by position and the first record
    /// is data.
    pub has_header: bool,
    /// The field separator (`--delimiter`).
    pub delimiter: Delimiter,
    /// `--time-format`; `Auto` settles each file's format from its first
    /// rows.
    pub time_format: TimeFormat,
    /// Reference time (UTC ms). Rows after it are left out; `None` means the
    /// latest transaction time of the input.
    pub as_of: Option<i64>,
    /// Rows before this time (UTC ms) are left out (a period's start).
    pub since: Option<i64>,
    /// Statuses counted as successes, compared ASCII case-insensitively.
    pub success_statuses: Vec<String>,
    /// Skip bad rows, counting them and keeping the first few errors,
    /// instead of stopping at the first (`--skip-bad-rows`).
    pub skip_bad_rows: bool,
    /// Target size of the pieces a file is cut into for parallel work.
    pub chunk_bytes: usize,
    /// Memory-map regular files (else they are read like standard input).
    pub use_mmap: bool,
    /// `--input-format`: the format every input must be; `None` takes each
    /// file's own (by its bytes, checked against its extension; see
    /// [`crate::formats`]).
    pub format: Option<crate::formats::InputFormat>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            columns: ColumnNames::default(),
            has_header: true,
            delimiter: Delimiter::default(),
            time_format: TimeFormat::Auto,
            as_of: None,
            since: None,
            success_statuses: ["delivered", "read", "opened", "clicked"]
                .map(String::from)
                .to_vec(),
            skip_bad_rows: false,
            chunk_bytes: 2 << 20,
            use_mmap: true,
            format: None,
        }
    }
}

impl IngestOptions {
    /// Checks what can be checked before any file is opened; the message is
    /// a usage error.
    pub fn validate(&self) -> Result<(), String> {
        if !self.has_header {
            for role in Role::ALL {
                match self.columns.get(role) {
                    Some(v) if parse_position(v).is_none() => {
                        return Err(format!(
                            "{} {v:?}: with --no-header, columns are 1-based positions",
                            role.flag()
                        ));
                    }
                    None if role.required() => {
                        return Err(format!(
                            "with --no-header, {} must give the 1-based position of the {} column",
                            role.flag(),
                            role.default_name()
                        ));
                    }
                    _ => {}
                }
            }
        }
        if self.chunk_bytes == 0 {
            return Err("the chunk size must be positive".into());
        }
        Ok(())
    }
}

fn parse_position(v: &str) -> Option<usize> {
    v.parse::<usize>().ok().filter(|&p| p >= 1)
}

/// Role -> field index for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedColumns {
    /// 0-based index of the user key field.
    pub user: usize,
    /// 0-based index of the time field.
    pub time: usize,
    /// 0-based index of the amount field.
    pub amount: usize,
    /// 0-based index of the channel field; `None` when the file has none.
    pub channel: Option<usize>,
    /// 0-based index of the status field; `None` when the file has none.
    pub status: Option<usize>,
    /// 0-based index of the counterparty field; `None` when the file has
    /// none.
    pub peer: Option<usize>,
    /// Field count every row must have.
    pub field_count: usize,
    /// Header names (empty strings without a header), for messages.
    pub names: Vec<String>,
}

impl ResolvedColumns {
    /// Maps the roles onto `header` (the first record of the file). Without
    /// a header, the record only gives the field count.
    pub fn resolve(
        path: &Path,
        header: &[String],
        options: &IngestOptions,
    ) -> Result<ResolvedColumns, IngestError> {
        let field_count = header.len();
        let header_error = |message: String| IngestError::Header {
            path: path.to_path_buf(),
            message,
        };
        let mut found = [None; 6];
        for (slot, role) in found.iter_mut().zip(Role::ALL) {
            let given = options.columns.get(role);
            *slot = if options.has_header {
                let name = given.unwrap_or(role.default_name());
                let mut named = header.iter().enumerate().filter(|(_, h)| *h == name);
                match named.next().map(|(i, _)| i) {
                    Some(i) => {
                        if let Some((j, _)) = named.next() {
                            return Err(header_error(format!(
                                "the header names column {:?} twice (columns {} and {}): which one is the {}? Rename one, or give a position with {}",
                                super::error::excerpt(name.as_bytes()),
                                i + 1,
                                j + 1,
                                role.describe(),
                                role.flag()
                            )));
                        }
                        Some(i)
                    }
                    None => match given.and_then(parse_position) {
                        Some(p) if p <= field_count => Some(p - 1),
                        _ if given.is_some() || role.required() => {
                            let what = if given.is_some() {
                                format!("no column named {name:?} (given with {})", role.flag())
                            } else {
                                format!(
                                    "missing the required column {name:?} (name another with {})",
                                    role.flag()
                                )
                            };
                            return Err(header_error(format!(
                                "{what}; the header has {}",
                                quote_list(header)
                            )));
                        }
                        _ => None,
                    },
                }
            } else {
                match given.and_then(parse_position) {
                    Some(p) if p <= field_count => Some(p - 1),
                    Some(p) => {
                        return Err(header_error(format!(
                            "{} {p}: the first row has only {field_count} fields",
                            role.flag()
                        )));
                    }
                    None => None,
                }
            };
        }
        let names = if options.has_header {
            header.to_vec()
        } else {
            vec![String::new(); field_count]
        };
        let [user, time, amount, channel, status, peer] = found;
        match (user, time, amount) {
            (Some(user), Some(time), Some(amount)) => Ok(ResolvedColumns {
                user,
                time,
                amount,
                channel,
                status,
                peer,
                field_count,
                names,
            }),
            // validate() guarantees the required roles without a header.
            _ => Err(header_error(
                "the user, time and amount columns must be named".into(),
            )),
        }
    }

    /// The (1-based number, name) of a field, for messages.
    pub fn describe(&self, index: usize) -> (usize, String) {
        (
            index + 1,
            self.names.get(index).cloned().unwrap_or_default(),
        )
    }
}

fn quote_list(header: &[String]) -> String {
    super::error::excerpt_list(header)
}

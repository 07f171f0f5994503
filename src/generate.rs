//! `segmint generate`: deterministic synthetic logs of an omnichannel
//! messaging platform, in the default schema of the README's "Input".
//!
//! The model, in the terms of the analysis it imitates:
//! - per-user volume is heavy-tailed (Pareto quantiles by a random rank),
//!   and the top 15% of users ("power users") carry four times more again,
//!   so a few users carry most of the traffic;
//! - channel mix WhatsApp > Email > SMS > Call, varied per user;
//! - statuses depend on the channel (calls end in RNA or failed far more
//!   often, emails get opened and clicked), and prices too;
//! - hours peak in the evening with an overnight tail, with a mild Friday
//!   peak and quieter weekends;
//! - some users join late, some stop early (dormant), and a silent-churn
//!   cohort loses most of its volume in the last 7 days while its failure
//!   rate is high.
//!
//! With `--blocks`, users also fall into planted communities and every
//! row names a counterparty (`peer_id`), inside the user's block with
//! probability `--p-in`: the graph `--method leiden` finds again.
//!
//! Output is a pure function of the parameters (and of this crate's
//! version): work is cut into (day, hour) slots, each with its own seeded
//! generator, so thread count does not change a byte. Rows are in time
//! order.

use std::io::{self, Write};

use rand::distr::Distribution;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_distr::weighted::WeightedAliasIndex;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::values::time::{civil_from_days, days_from_civil};

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateParams {
    /// Users the rows are drawn among (1 to `u32::MAX`), with ids `u000`,
    /// `u001`, ...; a user with a small weight may get no row.
    pub users: u64,
    /// Transactions in the log, exactly.
    pub rows: u64,
    /// Length of the log in days from `start_day` (1 to 36,600).
    pub days: u32,
    /// Seed of every random draw: the same parameters give the same bytes.
    pub seed: u64,
    /// First day (days since 1970-01-01, UTC).
    pub start_day: i64,
    /// Planted communities: each row gets a `peer_id` column naming
    /// another user, of the row's user's block with probability `p_in`.
    pub blocks: Option<Blocks>,
}

/// Planted communities of users (`--blocks`, `--p-in`): user `i` is in
/// block [`Blocks::of`]`(i)`, drawn from the seed; each row's peer is
/// another user of the same block with probability `p_in`, else a user
/// of another block, uniformly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blocks {
    /// Blocks (1 to the users).
    pub count: u32,
    /// The probability that a row's peer is in the user's block.
    pub p_in: f64,
}

impl Blocks {
    /// The block of user `user` for `seed`.
    pub fn of(self, seed: u64, user: u32) -> u32 {
        let mut z = seed ^ 0xB10C_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(user);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % u64::from(self.count)) as u32
    }
}

impl GenerateParams {
    /// Checks the limits of each field, and that the log ends by
    /// 9999-12-31. The error is a message that names the flags.
    pub fn validate(&self) -> Result<(), String> {
        if self.users == 0 {
            return Err("--users must be at least 1".into());
        }
        if self.users > u32::MAX as u64 {
            return Err(format!(
                "--users {} is more than {} users",
                self.users,
                u32::MAX
            ));
        }
        if let Some(b) = self.blocks {
            if b.count == 0 || u64::from(b.count) > self.users {
                return Err(format!(
                    "--blocks {}: expected at least 1 and at most the {} users",
                    b.count, self.users
                ));
            }
            if !(0.0..=1.0).contains(&b.p_in) {
                return Err(format!("--p-in {}: expected a probability, 0 to 1", b.p_in));
            }
        }
        if self.days == 0 || self.days > 36_600 {
            return Err("--days must be between 1 and 36600".into());
        }
        // Times are written as four-digit years, as every reader expects.
        let last_day = days_from_civil(9999, 12, 31).expect("a valid date");
        let first_day = days_from_civil(1, 1, 1).expect("a valid date");
        if self.start_day < first_day || self.start_day + i64::from(self.days) - 1 > last_day {
            return Err(format!(
                "--start and --days: the log would run past 9999-12-31 (days {} to {}); start earlier or generate fewer days",
                self.start_day,
                self.start_day + i64::from(self.days) - 1
            ));
        }
        Ok(())
    }
}

/// The header row of every generated log, newline included (with
/// blocks, `,peer_id` before the newline).
pub const HEADER: &str = "transaction_id,user_id,created_at,channel,status,total_price\n";

const CHANNELS: [&str; 4] = ["WhatsApp", "Email", "SMS", "Call"];
const CHANNEL_MIX: [f64; 4] = [0.45, 0.30, 0.17, 0.08];
/// Base price per message in 1e-4 currency units.
const BASE_PRICE: [f64; 4] = [450.0, 25.0, 300.0, 1200.0];

/// (status, probability) per channel, in `CHANNELS` order.
const STATUSES: [&[(&str, f64)]; 4] = [
    &[
        ("read", 0.52),
        ("delivered", 0.33),
        ("sent", 0.05),
        ("failed", 0.10),
    ],
    &[
        ("delivered", 0.30),
        ("opened", 0.28),
        ("clicked", 0.12),
        ("sent", 0.22),
        ("failed", 0.08),
    ],
    &[("delivered", 0.86), ("sent", 0.05), ("failed", 0.09)],
    &[("delivered", 0.45), ("RNA", 0.35), ("failed", 0.20)],
];

/// Relative traffic per hour of day (UTC): overnight tail, evening peak.
const HOURLY: [f64; 24] = [
    0.30, 0.20, 0.14, 0.10, 0.10, 0.14, 0.30, 0.55, 0.80, 0.95, 1.00, 1.05, //
    1.10, 1.05, 1.00, 1.00, 1.05, 1.20, 1.45, 1.65, 1.70, 1.50, 1.05, 0.60,
];

/// Relative traffic per weekday, Monday first: a mild Friday peak.
const WEEKDAY: [f64; 7] = [1.0, 1.0, 1.02, 1.05, 1.18, 0.82, 0.75];

const POWER_SHARE: f64 = 0.15;
const POWER_BOOST: f64 = 4.0;
const PARETO_ALPHA: f64 = 1.16;
/// Share of users who join after the first day / stop before the end.
const LATE_JOINERS: f64 = 0.25;
const LEAVERS: f64 = 0.10;
const SILENT_CHURN: f64 = 0.08;
/// In its last 7 days the silent-churn cohort keeps this share of volume.
/// Its messages fail this often before, and then in, those days (a quality
/// problem that drives it away).
const CHURN_KEEP: f64 = 0.25;
const CHURN_FAILURE: [f64; 2] = [0.45, 0.75];
const REFUND_RATE: f64 = 0.003;

#[derive(Clone, Debug)]
struct User {
    /// Cumulative channel probabilities.
    channel_cdf: [f64; 4],
    price_factor: f64,
    join_day: u32,
    leave_day: u32,
    silent_churn: bool,
}

struct Model {
    users: Vec<User>,
    weights: Vec<f64>,
    picker: WeightedAliasIndex<f64>,
    id_width: usize,
    params: GenerateParams,
    /// With blocks: each block's users, and each user's block.
    members: Vec<Vec<u32>>,
    block_of: Vec<u32>,
}

fn rng_for(seed: u64, stream: u64) -> Xoshiro256PlusPlus {
    // Distinct, well-mixed seeds per stream (SplitMix64 finaliser).
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Xoshiro256PlusPlus::seed_from_u64(z ^ (z >> 31))
}

impl Model {
    fn new(params: &GenerateParams) -> Model {
        let n = params.users as usize;
        let days = params.days;
        let mut rng = rng_for(params.seed, u64::MAX);
        // Rank users at random; weight by Pareto quantile of the rank.
        let mut rank: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            rank.swap(i, j);
        }
        let power = ((n as f64 * POWER_SHARE).ceil() as usize).max(1);
        let mut weights = Vec::with_capacity(n);
        let mut users = Vec::with_capacity(n);
        for &r in &rank {
            let quantile = (f64::from(r) + 0.5) / n as f64;
            let mut weight = quantile.powf(-1.0 / PARETO_ALPHA);
            if (r as usize) < power {
                weight *= POWER_BOOST;
            }
            weights.push(weight);
            let mut mix = CHANNEL_MIX;
            for m in &mut mix {
                let noise: f64 = rng.sample(StandardNormal);
                *m *= (0.6 * noise).exp();
            }
            let total: f64 = mix.iter().sum();
            let mut cdf = [0.0; 4];
            let mut acc = 0.0;
            for (c, m) in cdf.iter_mut().zip(mix) {
                acc += m / total;
                *c = acc;
            }
            let noise: f64 = rng.sample(StandardNormal);
            let join_day = if days > 1 && rng.random_bool(LATE_JOINERS) {
                rng.random_range(1..days)
            } else {
                0
            };
            // Leavers stop early enough to be dormant (> 30 days) at the end.
            let leave_day = if days > 31 + join_day && rng.random_bool(LEAVERS) {
                rng.random_range(join_day..days - 31)
            } else {
                days - 1
            };
            let silent_churn = leave_day == days - 1 && rng.random_bool(SILENT_CHURN);
            users.push(User {
                channel_cdf: cdf,
                price_factor: (0.25 * noise).exp(),
                join_day,
                leave_day,
                silent_churn,
            });
        }
        let picker = WeightedAliasIndex::new(weights.clone()).expect("positive finite weights");
        let id_width = (n.saturating_sub(1)).to_string().len().max(3);
        let (members, block_of) = match params.blocks {
            Some(b) => {
                let block_of: Vec<u32> = (0..n as u32).map(|u| b.of(params.seed, u)).collect();
                let mut members = vec![Vec::new(); b.count as usize];
                for (u, &block) in block_of.iter().enumerate() {
                    members[block as usize].push(u as u32);
                }
                (members, block_of)
            }
            None => (Vec::new(), Vec::new()),
        };
        Model {
            users,
            weights,
            picker,
            id_width,
            params: params.clone(),
            members,
            block_of,
        }
    }

    /// The summed volume weight of the users active on each day.
    fn active_weight(&self) -> Vec<f64> {
        let days = self.params.days as usize;
        // Changes per day, then a running sum.
        let mut delta = vec![0.0; days + 1];
        for (user, &weight) in self.users.iter().zip(&self.weights) {
            delta[user.join_day as usize] += weight;
            delta[user.leave_day as usize + 1] -= weight;
            if user.silent_churn && days >= 7 {
                delta[days - 7] -= weight * (1.0 - CHURN_KEEP);
            }
        }
        let mut running = 0.0;
        delta[..days]
            .iter()
            .map(|d| {
                running += d;
                running.max(0.0)
            })
            .collect()
    }

    fn active(&self, user: &User, day: u32, rng: &mut Xoshiro256PlusPlus) -> bool {
        if day < user.join_day || day > user.leave_day {
            return false;
        }
        !(user.silent_churn && day + 7 >= self.params.days && !rng.random_bool(CHURN_KEEP))
    }
}

/// Rows in each (day, hour) slot: proportional to the weekday and hour
/// profiles and to the volume of the users active that day (so a client
/// joining adds traffic instead of taking it from the others), rounded by
/// largest remainder so they sum to `rows` exactly.
fn slot_rows(params: &GenerateParams, active_weight: &[f64]) -> Vec<u64> {
    let slots = params.days as usize * 24;
    let weight = |slot: usize| {
        let day = params.start_day + (slot / 24) as i64;
        // 1970-01-01 was a Thursday (index 3, Monday = 0).
        let weekday = (day + 3).rem_euclid(7) as usize;
        WEEKDAY[weekday] * HOURLY[slot % 24] * active_weight[slot / 24]
    };
    let total: f64 = (0..slots).map(weight).sum();
    let exact: Vec<f64> = (0..slots)
        .map(|s| weight(s) / total * params.rows as f64)
        .collect();
    let mut counts: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let mut left = params.rows - counts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..slots).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &slot in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[slot] += 1;
        left -= 1;
    }
    counts
}

/// Writes the log (header included) to `out`. Uses the current rayon pool.
pub fn generate(params: &GenerateParams, out: &mut dyn Write) -> io::Result<()> {
    let model = Model::new(params);
    let counts = slot_rows(params, &model.active_weight());
    let mut first_id = Vec::with_capacity(counts.len());
    let mut next = 0u64;
    for &c in &counts {
        first_id.push(next);
        next += c;
    }
    match params.blocks {
        Some(_) => {
            out.write_all(HEADER.trim_end().as_bytes())?;
            out.write_all(b",peer_id\n")?;
        }
        None => out.write_all(HEADER.as_bytes())?,
    }
    let batch = rayon::current_num_threads() * 4;
    let slots: Vec<usize> = (0..counts.len()).collect();
    for group in slots.chunks(batch) {
        let buffers: Vec<Vec<u8>> = group
            .par_iter()
            .map(|&slot| write_slot(&model, slot, counts[slot], first_id[slot]))
            .collect();
        for buffer in buffers {
            out.write_all(&buffer)?;
        }
    }
    Ok(())
}

struct Row {
    second: u16,
    user: u32,
    /// With blocks, the counterparty.
    peer: u32,
    channel: u8,
    status: &'static str,
    price: i64,
}

fn write_slot(model: &Model, slot: usize, count: u64, first_id: u64) -> Vec<u8> {
    let mut rng = rng_for(model.params.seed, slot as u64);
    let day = (slot / 24) as u32;
    let hour = slot % 24;
    let mut rows: Vec<Row> = (0..count)
        .map(|_| {
            let mut user = model.picker.sample(&mut rng) as u32;
            for _ in 0..16 {
                if model.active(&model.users[user as usize], day, &mut rng) {
                    break;
                }
                user = model.picker.sample(&mut rng) as u32;
            }
            let profile = &model.users[user as usize];
            let u: f64 = rng.random();
            let channel = profile.channel_cdf.iter().position(|&c| u < c).unwrap_or(3);
            let late = day + 7 >= model.params.days;
            let status =
                if profile.silent_churn && rng.random_bool(CHURN_FAILURE[usize::from(late)]) {
                    if channel == 3 { "RNA" } else { "failed" }
                } else {
                    pick_status(channel, rng.random())
                };
            let mut price = (BASE_PRICE[channel] * profile.price_factor).round() as i64;
            if rng.random_bool(REFUND_RATE) {
                price = -price;
            }
            let peer = model.peer(user, &mut rng);
            Row {
                second: rng.random_range(0..3600),
                user,
                peer,
                channel: channel as u8,
                status,
                price,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.second);

    let (y, m, d) = civil_from_days(model.params.start_day + i64::from(day));
    let prefix = format!("{y:04}-{m:02}-{d:02} {hour:02}:");
    let mut buf = Vec::with_capacity(rows.len() * 64);
    let mut ints = itoa::Buffer::new();
    for (i, row) in rows.iter().enumerate() {
        buf.extend_from_slice(b"t");
        buf.extend_from_slice(ints.format(first_id + i as u64).as_bytes());
        buf.push(b',');
        push_user(&mut buf, row.user, model.id_width, &mut ints);
        buf.push(b',');
        buf.extend_from_slice(prefix.as_bytes());
        let (minute, second) = (row.second / 60, row.second % 60);
        buf.extend_from_slice(&[
            b'0' + (minute / 10) as u8,
            b'0' + (minute % 10) as u8,
            b':',
            b'0' + (second / 10) as u8,
            b'0' + (second % 10) as u8,
            b',',
        ]);
        buf.extend_from_slice(CHANNELS[row.channel as usize].as_bytes());
        buf.push(b',');
        buf.extend_from_slice(row.status.as_bytes());
        buf.push(b',');
        write_price(&mut buf, row.price, &mut ints);
        if model.params.blocks.is_some() {
            buf.push(b',');
            push_user(&mut buf, row.peer, model.id_width, &mut ints);
        }
        buf.push(b'\n');
    }
    buf
}

impl Model {
    /// A peer for a row of `user` (with blocks; 0 without): another user
    /// of its block with probability `p_in`, else a user of another
    /// block (any other user when a block holds them all).
    fn peer(&self, user: u32, rng: &mut Xoshiro256PlusPlus) -> u32 {
        let Some(blocks) = self.params.blocks else {
            return 0;
        };
        let n = self.block_of.len() as u32;
        if n < 2 {
            return user;
        }
        let own = &self.members[self.block_of[user as usize] as usize];
        let inside = rng.random_bool(blocks.p_in);
        if inside && own.len() > 1 {
            loop {
                let peer = own[rng.random_range(0..own.len())];
                if peer != user {
                    return peer;
                }
            }
        }
        if own.len() as u32 == n {
            loop {
                let peer = rng.random_range(0..n);
                if peer != user {
                    return peer;
                }
            }
        }
        loop {
            let peer = rng.random_range(0..n);
            if self.block_of[peer as usize] != self.block_of[user as usize] {
                return peer;
            }
        }
    }
}

/// Writes user `user`'s id: `u` and its number, zero-padded to `width`.
fn push_user(buf: &mut Vec<u8>, user: u32, width: usize, ints: &mut itoa::Buffer) {
    buf.push(b'u');
    let id = ints.format(user);
    buf.extend(std::iter::repeat_n(b'0', width.saturating_sub(id.len())));
    buf.extend_from_slice(id.as_bytes());
}

/// Writes each user's block (`user_id,block`) for `params` with blocks.
pub fn write_truth(params: &GenerateParams, out: &mut dyn Write) -> io::Result<()> {
    let Some(blocks) = params.blocks else {
        return Ok(());
    };
    let id_width = (params.users.saturating_sub(1)).to_string().len().max(3);
    let mut buf = Vec::with_capacity(1 << 20);
    buf.extend_from_slice(b"user_id,block\n");
    let mut ints = itoa::Buffer::new();
    for user in 0..params.users as u32 {
        push_user(&mut buf, user, id_width, &mut ints);
        buf.push(b',');
        buf.extend_from_slice(ints.format(blocks.of(params.seed, user)).as_bytes());
        buf.push(b'\n');
        if buf.len() >= 1 << 20 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)
}

fn pick_status(channel: usize, u: f64) -> &'static str {
    let mut acc = 0.0;
    for &(status, p) in STATUSES[channel] {
        acc += p;
        if u < acc {
            return status;
        }
    }
    STATUSES[channel].last().map_or("sent", |s| s.0)
}

/// Writes 1e-4 units as a decimal with four places: 450 -> `0.0450`.
fn write_price(buf: &mut Vec<u8>, price: i64, ints: &mut itoa::Buffer) {
    if price < 0 {
        buf.push(b'-');
    }
    let abs = price.unsigned_abs();
    buf.extend_from_slice(ints.format(abs / 10_000).as_bytes());
    buf.push(b'.');
    let frac = abs % 10_000;
    buf.extend_from_slice(&[
        b'0' + (frac / 1000) as u8,
        b'0' + (frac / 100 % 10) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(users: u64, rows: u64) -> GenerateParams {
        GenerateParams {
            users,
            rows,
            days: 14,
            seed: 7,
            start_day: 20_000,
            blocks: None,
        }
    }

    #[test]
    fn slot_rows_sum_exactly() {
        for rows in [0, 1, 13, 1000, 12_345] {
            let params = params(5, rows);
            let model = Model::new(&params);
            assert_eq!(
                slot_rows(&params, &model.active_weight())
                    .iter()
                    .sum::<u64>(),
                rows
            );
        }
    }

    #[test]
    fn output_is_independent_of_threads() {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut out = Vec::new();
            pool.install(|| generate(&params(50, 5000), &mut out))
                .unwrap();
            out
        };
        let one = run(1);
        assert_eq!(one, run(3));
        assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), 5001);
    }

    #[test]
    fn prices_format() {
        let mut buf = Vec::new();
        let mut ints = itoa::Buffer::new();
        write_price(&mut buf, -12_345, &mut ints);
        assert_eq!(buf, b"-1.2345");
    }
}

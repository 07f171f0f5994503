//! Buy-till-you-die models (README, "Lifetime value"): BG/NBD (Fader,
//! Hardie & Lee 2005) for whether a customer is still active and how many
//! transactions to expect, Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and
//! CLV") for the spend per transaction, and customer lifetime value from
//! the two.
//!
//! The data are those the `lifetimes` package's `BetaGeoFitter` and
//! `GammaGammaFitter` take, in days: a customer's frequency `x` is the
//! number of active days after the first (`active_days - 1`), recency
//! `t_x` the days from the first active day to the last
//! (`active_span_days`), age `T` the days from the first active day to the
//! reference day (`age_days`), and the spend `m` the mean spend of the
//! active days after the first (`repeat_spend`).
//!
//! Both models are fitted by maximum likelihood in log-parameters (so the
//! parameters stay positive) with Newton's method, damped
//! (Levenberg-Marquardt) whenever a step would not lower the negative
//! log-likelihood: the gradients are exact, the Hessian is differenced
//! from them. BG/NBD's likelihood depends on a customer only through
//! `(x, t_x, T)`, whole days, so customers are grouped by those first: a
//! million customers of a year-long log make a few tens of thousands of
//! groups, and each evaluation is one pass over them.

use hashbrown::HashMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::features::matrix::NumericTable;

/// Columns the models read (see the module docs).
pub const COLUMNS: [&str; 4] = [
    "active_days",
    "active_span_days",
    "age_days",
    "repeat_spend",
];

/// Default horizon of expected transactions and CLV, in days.
pub const DEFAULT_HORIZON_DAYS: u32 = 90;

/// Days of the period a discount rate is given per (lifetimes' months).
pub const DISCOUNT_PERIOD_DAYS: f64 = 30.0;

/// BG/NBD parameters: transaction rates are Gamma(r, alpha) over
/// customers, the drop-out probability after each transaction Beta(a, b).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the rates' gamma distribution.
    pub r: f64,
    /// Rate (scale of time, in days) of the rates' gamma distribution.
    pub alpha: f64,
    /// First shape of the drop-out probabilities' beta distribution.
    pub a: f64,
    /// Second shape of the drop-out probabilities' beta distribution.
    pub b: f64,
}

/// Gamma-Gamma parameters: a transaction's spend is Gamma(p, nu), nu is
/// Gamma(q, v) over customers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of a transaction's spend.
    pub p: f64,
    /// Shape of the spend scales' gamma distribution.
    pub q: f64,
    /// Rate of the spend scales' gamma distribution.
    pub v: f64,
}

/// One customer's data, in days (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Customer {
    /// Active days after the first.
    pub x: u32,
    /// Days from the first active day to the last.
    pub t_x: u32,
    /// Days from the first active day to the reference day.
    pub t: u32,
    /// Mean spend of the active days after the first; `None` without one.
    pub spend: Option<f64>,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BtydError {
    /// The table lacks a column the models read.
    #[error("the table has no {0} column")]
    MissingColumn(&'static str),
    /// Too few customers to fit on.
    #[error("{what}: {found} with data, {needed} needed")]
    TooFew {
        /// Which model.
        what: &'static str,
        /// Customers found.
        found: u64,
        /// Customers needed.
        needed: u64,
    },
    /// The likelihood's maximum was not reached: the model's name, and
    /// what on the data makes it so, as far as it is known.
    #[error("{0}: no fit (the likelihood has no finite maximum on this data: {1})")]
    NotConverged(&'static str, &'static str),
}

/// A fitted model, with what its fit saw.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Fitted<P> {
    /// The maximum-likelihood parameters.
    pub params: P,
    /// Customers fitted on.
    pub customers: u64,
    /// Mean log-likelihood per customer at the parameters.
    pub log_likelihood: f64,
    /// Newton iterations.
    pub iterations: u32,
}

/// Reads each user's [`Customer`] from a feature table. `None` for a user
/// whose values are missing or inconsistent (not whole days, recency
/// beyond age, more repeat days than days); an error when a column is
/// missing.
pub fn customers(table: &NumericTable) -> Result<Vec<Option<Customer>>, BtydError> {
    let mut at = [0usize; 4];
    for (slot, name) in at.iter_mut().zip(COLUMNS) {
        *slot = table
            .column_index(name)
            .ok_or(BtydError::MissingColumn(name))?;
    }
    let whole =
        |v: f64| (v >= 0.0 && v.fract() == 0.0 && v < f64::from(u32::MAX)).then_some(v as u32);
    Ok((0..table.rows())
        .into_par_iter()
        .map(|i| {
            let row = table.row(i);
            let days = whole(row[at[0]])?;
            let x = days.checked_sub(1)?;
            let t_x = whole(row[at[1]])?;
            let t = whole(row[at[2]])?;
            if t_x > t || x > t_x {
                return None;
            }
            let spend = Some(row[at[3]]).filter(|m| m.is_finite() && x > 0);
            Some(Customer { x, t_x, t, spend })
        })
        .collect())
}

// ---------------------------------------------------------------- BG/NBD

/// Customers of one frequency, grouped by `(t_x, T)`: a frequency's
/// groups in one or more of these, so the work spreads over threads.
struct Frequency {
    x: f64,
    /// (t_x, T, customers).
    groups: Vec<(u32, u32, f64)>,
}

/// The customers, grouped (see the module docs).
struct BgNbdData {
    by_x: Vec<Frequency>,
    customers: f64,
    /// The largest T: the tables of [`Self::objective`] cover days
    /// `0..=longest`.
    longest: u32,
}

impl BgNbdData {
    fn new(customers: &[Customer]) -> Self {
        const CHUNK: usize = 4096;
        let mut counts: HashMap<(u32, u32, u32), u64, foldhash::fast::RandomState> =
            HashMap::default();
        for c in customers {
            *counts.entry((c.x, c.t_x, c.t)).or_insert(0) += 1;
        }
        let mut keys: Vec<((u32, u32, u32), u64)> = counts.into_iter().collect();
        keys.sort_unstable();
        let mut by_x: Vec<Frequency> = Vec::new();
        for ((x, t_x, t), n) in keys {
            let x = f64::from(x);
            if by_x
                .last()
                .is_none_or(|f| f.x != x || f.groups.len() == CHUNK)
            {
                by_x.push(Frequency {
                    x,
                    groups: Vec::new(),
                });
            }
            let last = by_x.last_mut().expect("pushed");
            last.groups.push((t_x, t, n as f64));
        }
        BgNbdData {
            by_x,
            customers: customers.len() as f64,
            longest: customers.iter().map(|c| c.t).max().unwrap_or(0),
        }
    }

    /// Mean negative log-likelihood and its gradient in log-parameters,
    /// as `lifetimes` writes the likelihood.
    fn objective(&self, theta: &[f64; 4]) -> (f64, [f64; 4]) {
        let [r, alpha, a, b] = theta.map(f64::exp);
        let (ln_alpha, lg_r, lg_b, lg_ab) = (alpha.ln(), lgamma(r), lgamma(b), lgamma(a + b));
        let (dg_r, dg_b, dg_ab) = (digamma(r), digamma(b), digamma(a + b));
        // ln(alpha + d) and 1 / (alpha + d) for every day count d: t_x and
        // T are whole days, so a group looks them up.
        let (ln_days, inv_days): (Vec<f64>, Vec<f64>) = (0..=self.longest)
            .map(|d| {
                let v = alpha + f64::from(d);
                (v.ln(), 1.0 / v)
            })
            .unzip();
        let (ll, grad) = self
            .by_x
            .par_iter()
            .map(|f| {
                let x = f.x;
                let a1 = lgamma(r + x) - lg_r + r * ln_alpha;
                let a2 = lg_ab + lgamma(b + x) - lg_b - lgamma(a + b + x);
                let d1_r = digamma(r + x) - dg_r + ln_alpha;
                let d1_alpha = r / alpha;
                let d2_a = dg_ab - digamma(a + b + x);
                let d2_b = dg_ab + digamma(b + x) - dg_b - digamma(a + b + x);
                let bx = b + x.max(1.0) - 1.0;
                let ln_a4 = a.ln() - bx.ln();
                let (d4_a, d4_b) = (1.0 / a, -1.0 / bx);
                let mut ll = 0.0;
                let mut g = [0.0; 4];
                for &(t_x, t, n) in &f.groups {
                    let (ln_t, inv_t) = (ln_days[t as usize], inv_days[t as usize]);
                    let a3 = -(r + x) * ln_t;
                    // The log of exp(a3) + exp(a4), and a4's share of it.
                    let (lse, w4, ln_tx, inv_tx) = if x > 0.0 {
                        let (ln_tx, inv_tx) = (ln_days[t_x as usize], inv_days[t_x as usize]);
                        let a4 = ln_a4 - (r + x) * ln_tx;
                        let e = (-(a3 - a4).abs()).exp();
                        let w4 = if a4 > a3 {
                            1.0 / (1.0 + e)
                        } else {
                            e / (1.0 + e)
                        };
                        (a3.max(a4) + e.ln_1p(), w4, ln_tx, inv_tx)
                    } else {
                        (a3, 0.0, 0.0, 0.0)
                    };
                    let w3 = 1.0 - w4;
                    ll += n * (a1 + a2 + lse);
                    g[0] += n * (d1_r - w3 * ln_t - w4 * ln_tx);
                    g[1] += n * (d1_alpha - (r + x) * (w3 * inv_t + w4 * inv_tx));
                    g[2] += n * (d2_a + w4 * d4_a);
                    g[3] += n * (d2_b + w4 * d4_b);
                }
                (ll, g)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .fold((0.0, [0.0; 4]), add_pairs);
        let params = [r, alpha, a, b];
        let n = self.customers;
        (-ll / n, std::array::from_fn(|k| -grad[k] * params[k] / n))
    }
}

/// Adds two (value, gradient) pairs. The groups' terms are computed in
/// parallel, then added in group order, so the sums (and the fit) do not
/// depend on the number of threads.
fn add_pairs<const D: usize>(x: (f64, [f64; D]), y: (f64, [f64; D])) -> (f64, [f64; D]) {
    (x.0 + y.0, std::array::from_fn(|k| x.1[k] + y.1[k]))
}

/// Fits BG/NBD by maximum likelihood on every customer given.
pub fn fit_bgnbd(customers: &[Customer]) -> Result<Fitted<BgNbd>, BtydError> {
    const NAME: &str = "BG/NBD";
    let repeaters = customers.iter().filter(|c| c.x > 0).count() as u64;
    if customers.len() < 2 || repeaters == 0 {
        return Err(BtydError::TooFew {
            what: "BG/NBD (customers with an active day after their first)",
            found: repeaters,
            needed: 1,
        });
    }
    let data = BgNbdData::new(customers);
    let f = |t: &[f64; 4]| data.objective(t);
    // Time in units of the longest age: alpha starts there.
    let start = [0.0, f64::from(data.longest.max(1)).ln(), 0.0, 0.0];
    let (theta, value, iterations) = minimise(f, start)
        .filter(|(theta, ..)| within_scale(theta, &start) && determined(&f, theta, data.customers))
        .ok_or(BtydError::NotConverged(
            NAME,
            "its customers buy too alike, e.g. all at one rate",
        ))?;
    let [r, alpha, a, b] = theta.map(f64::exp);
    Ok(Fitted {
        params: BgNbd { r, alpha, a, b },
        customers: customers.len() as u64,
        log_likelihood: -value,
        iterations,
    })
}

impl BgNbd {
    /// The probability that the customer is still active at the reference
    /// day (1 for a customer without a repeat day, as `lifetimes` has it).
    pub fn p_alive(&self, c: &Customer) -> f64 {
        if c.x == 0 {
            return 1.0;
        }
        let (x, t_x, t) = (f64::from(c.x), f64::from(c.t_x), f64::from(c.t));
        let log_div = (self.r + x) * ((self.alpha + t) / (self.alpha + t_x)).ln()
            + (self.a / (self.b + x - 1.0)).ln();
        1.0 / (1.0 + log_div.exp())
    }

    /// Expected transactions (active days) in the `horizon` days after the
    /// reference day.
    pub fn expected(&self, horizon: f64, c: &Customer) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let (x, t_x, t) = (f64::from(c.x), f64::from(c.t_x), f64::from(c.t));
        let (ha, hb, hc) = (r + x, b + x, a + b + x - 1.0);
        let z = horizon / (alpha + t + horizon);
        let mut ln_hyp = hyp2f1(ha, hb, hc, z).ln();
        if !ln_hyp.is_finite() {
            // Euler's transformation, for terms too large to sum.
            ln_hyp = hyp2f1(hc - ha, hc - hb, hc, z).ln() + (hc - ha - hb) * (1.0 - z).ln();
        }
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second = 1.0 - (ln_hyp + (r + x) * ((alpha + t) / (alpha + horizon + t)).ln()).exp();
        let alive = if c.x > 0 {
            (a / (b + x - 1.0)) * ((alpha + t) / (alpha + t_x)).powf(r + x)
        } else {
            0.0
        };
        first * second / (1.0 + alive)
    }
}

// ----------------------------------------------------------- Gamma-Gamma

/// Repeat customers with a positive spend, grouped by frequency (a
/// frequency's customers in one or more groups).
struct SpendData {
    /// (x, customers, sum of ln m, each customer's x m).
    by_x: Vec<(f64, f64, f64, Vec<f64>)>,
    customers: f64,
}

impl SpendData {
    fn new(customers: &[Customer]) -> Self {
        let mut by_x: Vec<(f64, f64, f64, Vec<f64>)> = Vec::new();
        let mut repeat: Vec<(u32, f64)> = customers
            .iter()
            .filter_map(|c| Some((c.x, c.spend.filter(|&m| m > 0.0 && c.x > 0)?)))
            .collect();
        repeat.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        // Groups of at most `CHUNK` customers, so that the many customers
        // of a low frequency spread over the threads.
        const CHUNK: usize = 8192;
        for (x, m) in &repeat {
            let x = f64::from(*x);
            if by_x.last().is_none_or(|g| g.0 != x || g.3.len() == CHUNK) {
                by_x.push((x, 0.0, 0.0, Vec::new()));
            }
            let g = by_x.last_mut().expect("pushed");
            g.1 += 1.0;
            g.2 += m.ln();
            g.3.push(x * m);
        }
        SpendData {
            by_x,
            customers: repeat.len() as f64,
        }
    }

    /// The mean spend of the customers (positive).
    fn mean_spend(&self) -> f64 {
        let total: f64 = self.by_x.iter().flat_map(|g| &g.3).sum();
        let repeats: f64 = self.by_x.iter().map(|g| g.0 * g.1).sum();
        total / repeats
    }

    /// Mean negative log-likelihood and its gradient in log-parameters,
    /// as `lifetimes` writes the likelihood.
    fn objective(&self, theta: &[f64; 3]) -> (f64, [f64; 3]) {
        let [p, q, v] = theta.map(f64::exp);
        let (lg_q, dg_q, ln_v) = (lgamma(q), digamma(q), v.ln());
        let (ll, grad) = self
            .by_x
            .par_iter()
            .map(|(x, n, sum_ln_m, xm)| {
                let (x, n, px) = (*x, *n, p * x);
                let (sum_ln, sum_inv) = xm.iter().fold((0.0, 0.0), |(l, i), &xm| {
                    ((xm + v).ln() + l, 1.0 / (xm + v) + i)
                });
                let ln_x = x.ln();
                let ll = n * (lgamma(px + q) - lgamma(px) - lg_q + q * ln_v + px * ln_x)
                    + (px - 1.0) * sum_ln_m
                    - (px + q) * sum_ln;
                let (dg_pxq, dg_px) = (digamma(px + q), digamma(px));
                let d_p = n * x * (dg_pxq - dg_px + ln_x) + x * sum_ln_m - x * sum_ln;
                let d_q = n * (dg_pxq - dg_q + ln_v) - sum_ln;
                let d_v = n * q / v - (px + q) * sum_inv;
                (ll, [d_p, d_q, d_v])
            })
            .collect::<Vec<_>>()
            .into_iter()
            .fold((0.0, [0.0; 3]), add_pairs);
        let params = [p, q, v];
        let n = self.customers;
        (-ll / n, std::array::from_fn(|k| -grad[k] * params[k] / n))
    }
}

/// Why Gamma-Gamma has no maximum, as far as it is known.
const SPEND_ALIKE: &str = "its repeat customers' spends are too alike";

/// Fits Gamma-Gamma by maximum likelihood on the customers with a repeat
/// day and a positive `spend`.
pub fn fit_gamma_gamma(customers: &[Customer]) -> Result<Fitted<GammaGamma>, BtydError> {
    const NAME: &str = "Gamma-Gamma";
    let data = SpendData::new(customers);
    if data.customers < 2.0 {
        return Err(BtydError::TooFew {
            what: "Gamma-Gamma (repeat customers with a positive spend)",
            found: data.customers as u64,
            needed: 2,
        });
    }
    let f = |t: &[f64; 3]| data.objective(t);
    // Spend in units of the mean spend: v starts there.
    let start = [0.0, 0.0, data.mean_spend().ln()];
    let (theta, value, iterations) = minimise(f, start)
        .filter(|(theta, ..)| within_scale(theta, &start) && determined(&f, theta, data.customers))
        .ok_or(BtydError::NotConverged(NAME, SPEND_ALIKE))?;
    let [p, q, v] = theta.map(f64::exp);
    if q <= 1.0 {
        // The population mean spend, v p / (q - 1), does not exist.
        return Err(BtydError::NotConverged(NAME, SPEND_ALIKE));
    }
    Ok(Fitted {
        params: GammaGamma { p, q, v },
        customers: data.customers as u64,
        log_likelihood: -value,
        iterations,
    })
}

impl GammaGamma {
    /// The mean spend per transaction over customers, `v p / (q - 1)`.
    pub fn population_mean(&self) -> f64 {
        self.v * self.p / (self.q - 1.0)
    }

    /// A customer's expected spend per transaction: the population mean
    /// for a customer without a repeat day, shrunk towards the customer's
    /// own `spend` with more of them (`lifetimes`'
    /// `conditional_expected_average_profit`).
    pub fn expected_spend(&self, c: &Customer) -> f64 {
        let x = f64::from(c.x);
        let m = c.spend.unwrap_or(0.0);
        let weight = if c.x > 0 {
            self.p * x / (self.p * x + self.q - 1.0)
        } else {
            0.0
        };
        (1.0 - weight) * self.population_mean() + weight * m
    }
}

/// Customer lifetime value over `horizon` days: expected transactions
/// times expected spend, each period of [`DISCOUNT_PERIOD_DAYS`] days
/// discounted by `(1 + discount_rate)^(days / 30)` at its end (the last,
/// shorter period at the horizon), as `lifetimes`'
/// `customer_lifetime_value` does for whole months.
pub fn clv(bg: &BgNbd, spend: f64, horizon: f64, discount_rate: f64, c: &Customer) -> f64 {
    if discount_rate == 0.0 {
        return spend * bg.expected(horizon, c);
    }
    let mut value = 0.0;
    let mut before = 0.0;
    let mut end = 0.0;
    while end < horizon {
        end = (end + DISCOUNT_PERIOD_DAYS).min(horizon);
        let expected = bg.expected(end, c);
        value +=
            spend * (expected - before) / (1.0 + discount_rate).powf(end / DISCOUNT_PERIOD_DAYS);
        before = expected;
    }
    value
}

// ------------------------------------------------- per-user lifetime value

/// The horizon and discount of the per-user predictions; flags of `fit`
/// and `report`, kept in the model for `score`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifetimeOptions {
    /// Days ahead the expected transactions and CLV cover (`--horizon`).
    pub horizon_days: u32,
    /// Discount rate per 30 days (`--discount-rate`); 0 is undiscounted.
    pub discount_rate: f64,
}

impl Default for LifetimeOptions {
    fn default() -> Self {
        LifetimeOptions {
            horizon_days: DEFAULT_HORIZON_DAYS,
            discount_rate: 0.0,
        }
    }
}

impl LifetimeOptions {
    /// Checks the horizon (at least a day) and the discount rate (finite,
    /// >= 0); errors name the flag's field.
    pub fn validate(&self) -> Result<(), String> {
        if self.horizon_days == 0 {
            return Err("horizon must be at least 1 day, got 0".into());
        }
        if !(self.discount_rate >= 0.0 && self.discount_rate.is_finite()) {
            return Err(format!(
                "discount_rate must be a finite rate >= 0 per 30 days (0.01 is 1%), got {}",
                self.discount_rate
            ));
        }
        Ok(())
    }

    /// The suffix of the per-user columns: `90d`.
    pub fn suffix(&self) -> String {
        format!("{}d", self.horizon_days)
    }
}

/// The fitted models a segmentation model keeps, so `score` predicts new
/// users with the parameters the fitted users gave.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lifetime {
    /// Horizon and discount.
    #[serde(flatten)]
    pub options: LifetimeOptions,
    /// BG/NBD's parameters; `None` when it could not be fitted.
    pub bgnbd: Option<BgNbd>,
    /// Gamma-Gamma's parameters; `None` when it could not be fitted.
    pub gamma_gamma: Option<GammaGamma>,
}

/// What fitting both models on a table gave.
#[derive(Clone, Debug)]
pub struct LifetimeFit {
    /// The parameters, for the model.
    pub model: Lifetime,
    /// BG/NBD's fit, or why there is none.
    pub bgnbd: Result<Fitted<BgNbd>, BtydError>,
    /// Gamma-Gamma's fit, or why there is none.
    pub gamma_gamma: Result<Fitted<GammaGamma>, BtydError>,
}

/// Fits BG/NBD and Gamma-Gamma on the users of `table` (those with valid
/// data; see [`customers`]).
pub fn fit_lifetime(table: &NumericTable, options: LifetimeOptions) -> LifetimeFit {
    let (bgnbd, gamma_gamma) = match customers(table) {
        Ok(all) => {
            let valid: Vec<Customer> = all.into_iter().flatten().collect();
            rayon::join(|| fit_bgnbd(&valid), || fit_gamma_gamma(&valid))
        }
        Err(e) => (Err(e.clone()), Err(e)),
    };
    LifetimeFit {
        model: Lifetime {
            options,
            bgnbd: bgnbd.as_ref().ok().map(|f| f.params),
            gamma_gamma: gamma_gamma.as_ref().ok().map(|f| f.params),
        },
        bgnbd,
        gamma_gamma,
    }
}

/// Per-user predictions, in table row order; NaN where a user's data are
/// missing.
#[derive(Clone, Debug, PartialEq)]
pub struct LifetimeScores {
    /// The horizon of `expected` and `clv`, in days.
    pub horizon_days: u32,
    /// P(alive) at the reference day.
    pub p_alive: Vec<f64>,
    /// Expected transactions (active days) over the horizon.
    pub expected: Vec<f64>,
    /// Expected spend per transaction; `None` without Gamma-Gamma.
    pub spend: Option<Vec<f64>>,
    /// CLV over the horizon; `None` without Gamma-Gamma.
    pub clv: Option<Vec<f64>>,
}

impl Lifetime {
    /// Predictions for the users of `table`; `None` without a BG/NBD fit
    /// or the columns it needs.
    pub fn score(&self, table: &NumericTable) -> Option<LifetimeScores> {
        let bg = self.bgnbd?;
        let customers = customers(table).ok()?;
        let horizon = f64::from(self.options.horizon_days);
        let per_user: Vec<(f64, f64, f64, f64)> = customers
            .par_iter()
            .map(|c| {
                let Some(c) = c else {
                    return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
                };
                let spend = self.gamma_gamma.map_or(f64::NAN, |gg| gg.expected_spend(c));
                let clv = if spend.is_nan() {
                    f64::NAN
                } else {
                    clv(&bg, spend, horizon, self.options.discount_rate, c)
                };
                (bg.p_alive(c), bg.expected(horizon, c), spend, clv)
            })
            .collect();
        let column = |f: fn(&(f64, f64, f64, f64)) -> f64| per_user.iter().map(f).collect();
        let with_spend = self.gamma_gamma.is_some();
        Some(LifetimeScores {
            horizon_days: self.options.horizon_days,
            p_alive: column(|u| u.0),
            expected: column(|u| u.1),
            spend: with_spend.then(|| column(|u| u.2)),
            clv: with_spend.then(|| column(|u| u.3)),
        })
    }
}

// ------------------------------------------------------------ optimiser

/// Minimises `f` (value and gradient) from `start` by damped Newton
/// steps. The Hessian is differenced from the gradients at the start, and
/// again after any step that had to be damped further; in between, each
/// step's change of gradient updates it (BFGS), which costs no evaluation.
/// Returns the minimum, the value there and the iterations, or `None` when
/// no finite minimum is reached.
fn minimise<const D: usize>(
    f: impl Fn(&[f64; D]) -> (f64, [f64; D]),
    start: [f64; D],
) -> Option<([f64; D], f64, u32)> {
    const MAX_ITERATIONS: u32 = 500;
    const GRADIENT: f64 = 1e-11;
    const LARGEST_STEP: f64 = 2.0;
    let mut theta = start;
    let (mut value, mut grad) = f(&theta);
    if !value.is_finite() {
        return None;
    }
    let mut damping = 1e-3;
    let mut hess = hessian(&f, &theta, &grad);
    for iteration in 0..MAX_ITERATIONS {
        let worst = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        if worst < GRADIENT {
            return Some((theta, value, iteration));
        }
        let mut tries = 0;
        loop {
            let mut damped = hess;
            for (i, row) in damped.iter_mut().enumerate() {
                row[i] += damping * (1.0 + hess[i][i].abs());
            }
            if let Some(mut step) = solve_positive(damped, grad.map(|g| -g)) {
                let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
                if largest > LARGEST_STEP {
                    step = step.map(|s| s * LARGEST_STEP / largest);
                }
                let next: [f64; D] = std::array::from_fn(|k| theta[k] + step[k]);
                let (next_value, next_grad) = f(&next);
                if next_value.is_finite() && next_value <= value {
                    let moved = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
                    let change: [f64; D] = std::array::from_fn(|k| next_grad[k] - grad[k]);
                    theta = next;
                    value = next_value;
                    grad = next_grad;
                    damping = (damping / 10.0).max(1e-15);
                    if moved < 1e-13 {
                        return Some((theta, value, iteration + 1));
                    }
                    if tries > 0 || !bfgs_update(&mut hess, &step, &change) {
                        hess = hessian(&f, &theta, &grad);
                    }
                    break;
                }
            }
            tries += 1;
            damping *= 10.0;
            if damping > 1e12 {
                // No step lowers the value: a minimum to rounding, if the
                // gradient is small there.
                let worst = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
                return (worst < 1e-7).then_some((theta, value, iteration));
            }
        }
        if theta.iter().any(|t| t.abs() > 40.0) {
            // A parameter runs off to 0 or infinity: no finite maximum.
            return None;
        }
    }
    None
}

/// The BFGS update of a Hessian estimate `h` by a step `s` that changed
/// the gradient by `y`; `false` (and `h` unchanged) when the change does
/// not curve upwards, so the update would not stay positive definite.
fn bfgs_update<const D: usize>(h: &mut [[f64; D]; D], s: &[f64; D], y: &[f64; D]) -> bool {
    let ys: f64 = (0..D).map(|k| y[k] * s[k]).sum();
    let hs: [f64; D] = std::array::from_fn(|i| (0..D).map(|j| h[i][j] * s[j]).sum());
    let shs: f64 = (0..D).map(|k| s[k] * hs[k]).sum();
    let norm = |v: &[f64; D]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let curved = ys > 1e-12 * norm(y) * norm(s) && shs > 0.0;
    if !curved {
        return false;
    }
    for i in 0..D {
        for j in 0..D {
            h[i][j] += y[i] * y[j] / ys - hs[i] * hs[j] / shs;
        }
    }
    true
}

/// The Hessian of `f` at `theta` (where its gradient is `grad`), by
/// forward differences of the gradient, made symmetric.
fn hessian<const D: usize>(
    f: &impl Fn(&[f64; D]) -> (f64, [f64; D]),
    theta: &[f64; D],
    grad: &[f64; D],
) -> [[f64; D]; D] {
    const STEP: f64 = 1e-6;
    let mut hessian = [[0.0; D]; D];
    for j in 0..D {
        let mut moved = *theta;
        moved[j] += STEP;
        let (_, g) = f(&moved);
        for i in 0..D {
            hessian[i][j] = (g[i] - grad[i]) / STEP;
        }
    }
    let mut symmetric = hessian;
    for (i, row) in symmetric.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (hessian[i][j] + hessian[j][i]) / 2.0;
        }
    }
    symmetric
}

/// The furthest a log-parameter may end from its natural scale (its
/// start: 1, or the longest age for alpha, or the mean spend for v): a
/// parameter e^12 (160,000) times larger or smaller is running off to a
/// limit, where the likelihood has no maximum.
const LARGEST_LOG_OFFSET: f64 = 12.0;

fn within_scale<const D: usize>(theta: &[f64; D], start: &[f64; D]) -> bool {
    theta
        .iter()
        .zip(start)
        .all(|(t, s)| (t - s).abs() <= LARGEST_LOG_OFFSET)
}

/// Largest standard error of a log-parameter a fit accepts: beyond it the
/// data cannot tell the parameter within a factor of e^5 (about 150), and
/// the likelihood is flat towards a limit (a BG/NBD fit to customers who
/// all buy at one rate runs r and alpha off to infinity together).
const LARGEST_LOG_ERROR: f64 = 5.0;

/// Whether the minimum of a mean negative log-likelihood `f` over
/// `customers` at `theta` is a proper one: the Hessian positive definite
/// and every log-parameter's standard error at most
/// [`LARGEST_LOG_ERROR`].
fn determined<const D: usize>(
    f: &impl Fn(&[f64; D]) -> (f64, [f64; D]),
    theta: &[f64; D],
    customers: f64,
) -> bool {
    let (_, grad) = f(theta);
    let h = hessian(f, theta, &grad);
    (0..D).all(|k| {
        let unit: [f64; D] = std::array::from_fn(|i| f64::from(u8::from(i == k)));
        solve_positive(h, unit)
            .is_some_and(|column| column[k] / customers <= LARGEST_LOG_ERROR * LARGEST_LOG_ERROR)
    })
}

/// Solves `m x = rhs` for a symmetric `m` by Cholesky; `None` unless `m`
/// is positive definite.
fn solve_positive<const D: usize>(m: [[f64; D]; D], rhs: [f64; D]) -> Option<[f64; D]> {
    let mut l = [[0.0; D]; D];
    for i in 0..D {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = m[i][i] - sum;
                if d.is_nan() || d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - sum) / l[j][j];
            }
        }
    }
    let mut y = [0.0; D];
    for i in 0..D {
        y[i] = (rhs[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; D];
    for i in (0..D).rev() {
        x[i] = (y[i] - (i + 1..D).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

// ---------------------------------------------------- special functions

/// ln Γ(x) for x > 0.
pub fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// The digamma function ψ(x) = d/dx ln Γ(x), for x > 0: the recurrence
/// ψ(x) = ψ(x + 1) - 1/x up to x >= 10, then the asymptotic series to
/// its x^-12 term (the next is below 1e-15 there).
pub fn digamma(mut x: f64) -> f64 {
    let mut result = 0.0;
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0 - inv2 * (1.0 / 132.0 - inv2 * 691.0 / 32760.0)))));
    result + x.ln() - 0.5 / x - series
}

/// The Gauss hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1, by
/// its power series; infinite when the sum overflows, NaN when it does not
/// converge.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..1_000_000u32 {
        let n = f64::from(n);
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if !sum.is_finite() {
            return sum;
        }
        if term.abs() <= 1e-17 * sum.abs() && n > 1.0 {
            return sum;
        }
    }
    f64::NAN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digamma_against_known_values() {
        // ψ(1) = -γ, ψ(1/2) = -γ - 2 ln 2, ψ(10) = H_9 - γ.
        let gamma = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + gamma).abs() < 1e-14);
        assert!((digamma(0.5) + gamma + 2.0 * 2f64.ln()).abs() < 1e-14);
        let h9: f64 = (1..=9).map(|k| 1.0 / f64::from(k)).sum();
        assert!((digamma(10.0) - (h9 - gamma)).abs() < 1e-14);
        // The derivative of lgamma, by central differences.
        for x in [0.05, 0.7, 3.3, 17.0, 250.0] {
            let h = 1e-5 * x;
            let diff = (lgamma(x + h) - lgamma(x - h)) / (2.0 * h);
            assert!((digamma(x) - diff).abs() < 1e-7 * (1.0 + diff.abs()), "{x}");
        }
    }

    #[test]
    fn hyp2f1_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z; 2F1(a, b; b; z) = (1 - z)^-a.
        for z in [0.1, 0.5, 0.9] {
            let want = -(1.0f64 - z).ln() / z;
            assert!((hyp2f1(1.0, 1.0, 2.0, z) - want).abs() < 1e-13 * want);
            let want = (1.0f64 - z).powf(-2.5);
            assert!((hyp2f1(2.5, 3.0, 3.0, z) - want).abs() < 1e-12 * want);
        }
        assert_eq!(hyp2f1(1.0, 1.0, 1.0, 0.0), 1.0);
    }

    #[test]
    fn gradients_match_differences() {
        let customers: Vec<Customer> = (0..60u32)
            .map(|i| {
                let x = i % 7;
                let t = 30 + i * 3;
                let t_x = if x == 0 { 0 } else { (x * 4 + i % 5).min(t) };
                Customer {
                    x,
                    t_x,
                    t,
                    spend: (x > 0).then(|| 5.0 + f64::from(i % 11)),
                }
            })
            .collect();
        let bg = BgNbdData::new(&customers);
        let theta = [-0.3, 1.2, -0.1, 0.8];
        let (_, grad) = bg.objective(&theta);
        for k in 0..4 {
            let h = 1e-6;
            let (mut up, mut down) = (theta, theta);
            up[k] += h;
            down[k] -= h;
            let diff = (bg.objective(&up).0 - bg.objective(&down).0) / (2.0 * h);
            assert!(
                (grad[k] - diff).abs() < 1e-7,
                "BG/NBD {k}: {} {diff}",
                grad[k]
            );
        }
        let gg = SpendData::new(&customers);
        let theta = [1.5, 1.0, 2.0];
        let (_, grad) = gg.objective(&theta);
        for k in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (theta, theta);
            up[k] += h;
            down[k] -= h;
            let diff = (gg.objective(&up).0 - gg.objective(&down).0) / (2.0 * h);
            assert!(
                (grad[k] - diff).abs() < 1e-7,
                "Gamma-Gamma {k}: {} {diff}",
                grad[k]
            );
        }
    }

    #[test]
    fn no_repeat_customer_no_fit() {
        let once = Customer {
            x: 0,
            t_x: 0,
            t: 10,
            spend: None,
        };
        assert!(matches!(
            fit_bgnbd(&[once, once]),
            Err(BtydError::TooFew { .. })
        ));
        assert!(matches!(
            fit_gamma_gamma(&[once, once]),
            Err(BtydError::TooFew { .. })
        ));
    }

    #[test]
    fn undiscounted_clv_is_expectation_times_spend() {
        let bg = BgNbd {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let c = Customer {
            x: 3,
            t_x: 40,
            t: 60,
            spend: Some(20.0),
        };
        let plain = clv(&bg, 20.0, 90.0, 0.0, &c);
        assert!((plain - 20.0 * bg.expected(90.0, &c)).abs() < 1e-12);
        // A tiny discount telescopes to nearly the same value, and less.
        let discounted = clv(&bg, 20.0, 90.0, 1e-9, &c);
        assert!(discounted < plain && (plain - discounted) < 1e-6 * plain);
        assert!(clv(&bg, 20.0, 90.0, 0.05, &c) < discounted);
    }
}

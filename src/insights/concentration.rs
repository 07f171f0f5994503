//! Revenue concentration (README, "Segments and insights"): how much of the revenue the top
//! users carry (top-N and top-percent shares), the Pareto curve, the Gini
//! coefficient and the users behind 80% of revenue. It takes one revenue
//! per user; summing transactions into users is the feature table's job.
//!
//! Net refunds make some per-user revenues negative; they are clipped at 0
//! (a user who refunded more than they paid carries no revenue), so shares
//! stay in [0, 1] and the curve never falls. NaN counts as 0; values are
//! expected finite. Sums run over the values sorted from largest to
//! smallest, so the result does not depend on the order of the input.

use rayon::prelude::*;
use serde::Serialize;

/// The share of revenue carried by the top `users` users.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopShare {
    /// `top 3`, `top 10%`.
    pub label: String,
    /// How many top users: `n` for `top n`, the largest `ceil(p * users)`
    /// for `top p%` (0 when there are no users).
    pub users: usize,
    /// In [0, 1]; 0 when the total is 0.
    pub share: f64,
}

/// One point of the Pareto curve: the top `user_share` of users carry
/// `revenue_share` of the revenue.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ParetoPoint {
    /// Share of the users, largest revenue first, in [0, 1].
    pub user_share: f64,
    /// Share of the revenue (refunds clipped at 0) those users carry, in
    /// [0, 1]; 0 when the total is 0.
    pub revenue_share: f64,
}

/// Revenue concentration over all users.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Concentration {
    /// Users counted: one per value given, those without revenue
    /// included.
    pub users: usize,
    /// Total revenue after clipping refunds at 0.
    pub total: f64,
    /// One entry per asked top N (in the order asked), then top 10% and
    /// top 20%.
    pub top: Vec<TopShare>,
    /// Users sorted by revenue, largest first; empty when there are no users.
    pub pareto: Vec<ParetoPoint>,
    /// None when there are no users or no revenue.
    pub gini: Option<f64>,
    /// The fewest top users carrying at least 80% of revenue; None when
    /// there is no revenue.
    pub users_for_80_percent: Option<usize>,
}

/// The top percentages always reported, after the asked top N.
const TOP_PERCENTS: [usize; 2] = [10, 20];

/// Concentration of per-user revenues `values` (refunds clipped at 0).
///
/// - `top`: for each `n` of `top_n` with `1 <= n <= users`, the share of
///   the `n` largest users (`top n`); then `top 10%` and `top 20%`, the
///   largest `ceil(p * users)` users.
/// - `pareto`: `points + 1` evenly spaced user shares from 0 to 1 inclusive
///   (`points = 0` is taken as 1), users sorted by revenue descending; the
///   revenue share at a fractional number of users interpolates linearly
///   within the next user. Starts at (0, 0) and ends at (1, 1) when the
///   total is positive; all revenue shares are 0 when it is 0.
/// - `gini`: see [`gini`].
/// - `users_for_80_percent`: the smallest k whose top k users carry at
///   least 80% of revenue.
pub fn concentration(values: &[f64], top_n: &[usize], points: usize) -> Concentration {
    let descending = clipped_descending(values);
    let users = descending.len();
    // prefix[k] is the revenue of the top k users.
    let mut prefix = Vec::with_capacity(users + 1);
    let mut running = 0.0;
    prefix.push(running);
    for &x in &descending {
        running += x;
        prefix.push(running);
    }
    let total = running;
    let share = |revenue: f64| if total > 0.0 { revenue / total } else { 0.0 };

    let mut top: Vec<TopShare> = top_n
        .iter()
        .filter(|&&n| (1..=users).contains(&n))
        .map(|&n| TopShare {
            label: format!("top {n}"),
            users: n,
            share: share(prefix[n]),
        })
        .collect();
    for percent in TOP_PERCENTS {
        // Integer ceiling: 0.1 * 30 is 3.0000000000000004 in f64.
        let n = (users * percent).div_ceil(100);
        top.push(TopShare {
            label: format!("top {percent}%"),
            users: n,
            share: share(prefix[n]),
        });
    }

    let pareto = if users == 0 {
        Vec::new()
    } else {
        let points = points.max(1);
        (0..=points)
            .map(|j| {
                // Exact at both ends: j = points gives u = users.
                let u = j as f64 * users as f64 / points as f64;
                let whole = (u.floor() as usize).min(users);
                let within = if whole < users {
                    (u - whole as f64) * descending[whole]
                } else {
                    0.0
                };
                ParetoPoint {
                    user_share: j as f64 / points as f64,
                    revenue_share: share(prefix[whole] + within),
                }
            })
            .collect()
    };

    let users_for_80_percent =
        (total > 0.0).then(|| prefix.partition_point(|&revenue| revenue < 0.8 * total));

    Concentration {
        users,
        total,
        top,
        pareto,
        gini: gini_of_descending(&descending, total),
        users_for_80_percent,
    }
}

/// The Gini coefficient of per-user revenues (refunds clipped at 0, as in
/// [`concentration`]): with `x` sorted ascending and `i` from 1,
/// `G = 2 sum(i x_i) / (n sum(x)) - (n + 1) / n`; 0 when all users spend
/// the same, `1 - 1/n` when one user carries everything. None when there
/// are no users or no revenue.
pub fn gini(values: &[f64]) -> Option<f64> {
    let descending = clipped_descending(values);
    let total = descending.iter().sum();
    gini_of_descending(&descending, total)
}

/// Gini of values sorted descending, `total` their sum in that order.
fn gini_of_descending(descending: &[f64], total: f64) -> Option<f64> {
    let n = descending.len();
    if n == 0 || total <= 0.0 {
        return None;
    }
    // The j-th largest (0-based) is the (n - j)-th smallest (1-based).
    let weighted: f64 = descending
        .iter()
        .enumerate()
        .map(|(j, &x)| (n - j) as f64 * x)
        .sum();
    let n = n as f64;
    let g = (2.0 * weighted / total - (n + 1.0)) / n;
    // Rounding can push equal values a hair below 0.
    Some(g.clamp(0.0, 1.0))
}

/// Values clipped at 0 (NaN to 0, -0.0 to 0.0), sorted descending.
fn clipped_descending(values: &[f64]) -> Vec<f64> {
    let mut clipped: Vec<f64> = values.par_iter().map(|&v| v.max(0.0) + 0.0).collect();
    // Equal values are indistinguishable, so an unstable sort is
    // deterministic.
    clipped.par_sort_unstable_by(|a, b| b.total_cmp(a));
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn gini_of_small_inputs() {
        // Ascending [0,0,0,10]: sum(i x) = 4 * 10 = 40;
        // 2 * 40 / (4 * 10) - 5/4 = 2 - 1.25 = 0.75 (= 1 - 1/n).
        assert_eq!(gini(&[0.0, 10.0, 0.0, 0.0]), Some(0.75));
        // sum(i x) = 1 + 4 + 9 + 16 = 30; 60 / 40 - 1.25 = 0.25.
        assert_eq!(gini(&[4.0, 2.0, 3.0, 1.0]), Some(0.25));
        assert_eq!(gini(&[3.5; 7]), Some(0.0));
        assert_eq!(gini(&[5.0]), Some(0.0));
        assert_eq!(gini(&[]), None);
        assert_eq!(gini(&[0.0, 0.0]), None);
        // Refunds clipped: [-5, 10] is [0, 10]: 2 * 20 / 20 - 1.5 = 0.5.
        assert_eq!(gini(&[-5.0, 10.0]), Some(0.5));
        assert_eq!(gini(&[-5.0, -1.0]), None);
    }

    #[test]
    fn concentration_hand_computed() {
        // Clipped [5,0,1,4,0,10] sorted descending: [10,5,4,1,0,0],
        // total 20, prefix sums [0,10,15,19,20,20,20].
        let values = [5.0, -3.0, 1.0, 4.0, f64::NAN, 10.0];
        let c = concentration(&values, &[1, 3, 0, 10], 4);
        assert_eq!(c.users, 6);
        assert_eq!(c.total, 20.0);
        let top: Vec<(&str, usize, f64)> = c
            .top
            .iter()
            .map(|t| (t.label.as_str(), t.users, t.share))
            .collect();
        assert_eq!(
            top,
            [
                ("top 1", 1, 0.5),    // 10 / 20
                ("top 3", 3, 0.95),   // 19 / 20
                ("top 10%", 1, 0.5),  // ceil(0.6) = 1 user
                ("top 20%", 2, 0.75)  // ceil(1.2) = 2 users: 15 / 20
            ]
        );
        // Points 4: users u = 6 j / 4 = 0, 1.5, 3, 4.5, 6.
        // u = 1.5: (10 + 0.5 * 5) / 20 = 0.625; u = 3: 19 / 20;
        // u = 4.5: (20 + 0.5 * 0) / 20 = 1.
        let pareto: Vec<(f64, f64)> = c
            .pareto
            .iter()
            .map(|p| (p.user_share, p.revenue_share))
            .collect();
        assert_eq!(
            pareto,
            [
                (0.0, 0.0),
                (0.25, 0.625),
                (0.5, 0.95),
                (0.75, 1.0),
                (1.0, 1.0)
            ]
        );
        // Ascending [0,0,1,4,5,10]: sum(i x) = 3 + 16 + 25 + 60 = 104;
        // 2 * 104 / (6 * 20) - 7/6 = 208/120 - 140/120 = 68/120.
        assert!(close(c.gini.unwrap(), 68.0 / 120.0));
        // 80% of 20 is 16: top 2 carry 15, top 3 carry 19.
        assert_eq!(c.users_for_80_percent, Some(3));
    }

    #[test]
    fn pareto_interpolates_within_a_user() {
        // Descending [10,0,0,0]; 8 points: u = j / 2.
        let c = concentration(&[0.0, 0.0, 10.0, 0.0], &[], 8);
        assert_eq!(c.pareto.len(), 9);
        assert_eq!(
            c.pareto[0],
            ParetoPoint {
                user_share: 0.0,
                revenue_share: 0.0
            }
        );
        // u = 0.5: half of the first user's 10 -> 5 / 10.
        assert_eq!(
            c.pareto[1],
            ParetoPoint {
                user_share: 0.125,
                revenue_share: 0.5
            }
        );
        assert_eq!(c.pareto[2].revenue_share, 1.0);
        assert_eq!(
            c.pareto[8],
            ParetoPoint {
                user_share: 1.0,
                revenue_share: 1.0
            }
        );
        assert_eq!(c.users_for_80_percent, Some(1));
        // Zero points still give both ends.
        let c = concentration(&[1.0, 3.0], &[], 0);
        assert_eq!(
            c.pareto,
            [
                ParetoPoint {
                    user_share: 0.0,
                    revenue_share: 0.0
                },
                ParetoPoint {
                    user_share: 1.0,
                    revenue_share: 1.0
                }
            ]
        );
    }

    #[test]
    fn pareto_is_monotone_and_ends_at_one() {
        let values: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 * 0.37).collect();
        let c = concentration(&values, &[10], 100);
        assert_eq!(c.pareto.len(), 101);
        assert_eq!(c.pareto[100].revenue_share, 1.0);
        assert!(c.pareto.windows(2).all(|w| {
            w[0].user_share < w[1].user_share && w[0].revenue_share <= w[1].revenue_share
        }));
        // Sorted descending, the curve lies on or above the diagonal.
        assert!(
            c.pareto
                .iter()
                .all(|p| p.revenue_share >= p.user_share - 1e-12)
        );
    }

    #[test]
    fn top_percent_uses_an_exact_ceiling() {
        // 30 users: 10% is exactly 3 (0.1 * 30 is 3.0000000000000004 in f64).
        let c = concentration(&[1.0; 30], &[], 10);
        assert_eq!(c.top[0].users, 3);
        assert!(close(c.top[0].share, 0.1));
        assert_eq!(c.top[1].users, 6);
        assert_eq!(c.users_for_80_percent, Some(24));
        assert_eq!(c.gini, Some(0.0));
        // 11 users: ceil(1.1) = 2, ceil(2.2) = 3.
        let c = concentration(&[1.0; 11], &[11, 12], 10);
        let users: Vec<usize> = c.top.iter().map(|t| t.users).collect();
        assert_eq!(users, [11, 2, 3]);
        assert_eq!(c.top[0].share, 1.0);
    }

    #[test]
    fn empty_and_zero_revenue() {
        let c = concentration(&[], &[1, 3], 10);
        assert_eq!(c.users, 0);
        assert_eq!(c.total, 0.0);
        assert!(c.pareto.is_empty());
        assert_eq!(c.gini, None);
        assert_eq!(c.users_for_80_percent, None);
        let top: Vec<(&str, usize, f64)> = c
            .top
            .iter()
            .map(|t| (t.label.as_str(), t.users, t.share))
            .collect();
        assert_eq!(top, [("top 10%", 0, 0.0), ("top 20%", 0, 0.0)]);

        // Only refunds: three users, no revenue.
        let c = concentration(&[-1.0, -2.0, 0.0], &[1], 2);
        assert_eq!((c.users, c.total), (3, 0.0));
        assert_eq!(c.top[0].share, 0.0);
        assert!(c.pareto.iter().all(|p| p.revenue_share == 0.0));
        assert_eq!(c.pareto.last().unwrap().user_share, 1.0);
        assert_eq!(c.gini, None);
        assert_eq!(c.users_for_80_percent, None);
    }

    #[test]
    fn input_order_does_not_change_a_bit() {
        let values: Vec<f64> = (0..500)
            .map(|i| (i as f64 * 0.731).sin().abs() * 99.9)
            .collect();
        let mut reversed = values.clone();
        reversed.reverse();
        let (a, b) = (
            concentration(&values, &[5], 50),
            concentration(&reversed, &[5], 50),
        );
        assert_eq!(a, b);
        assert_eq!(a.total.to_bits(), b.total.to_bits());
        assert_eq!(gini(&values), a.gini);
    }
}

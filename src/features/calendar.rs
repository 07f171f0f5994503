//! The log over time (README, "Report"): transactions and active users
//! per week or month, and monthly acquisition cohorts' retention, counted
//! from every user's active days while the feature table is finished.
//!
//! Logs spanning up to [`WEEKLY_UP_TO_DAYS`] days are counted by ISO week
//! (Monday to Sunday), longer ones by calendar month. A period the window
//! covers only in part (the first and the last, usually) is marked, so a
//! chart does not read a partial week as a drop.

use serde::Serialize;

use super::accumulator::DayEntry;
use crate::values::time::{civil_from_days, days_from_civil};

/// The longest window counted by week.
pub const WEEKLY_UP_TO_DAYS: i64 = 182;

/// Most acquisition cohorts kept: the latest ones.
pub const MAX_COHORTS: usize = 24;

/// The length of the periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// ISO weeks, Monday first.
    Week,
    /// Calendar months.
    Month,
}

/// One period's activity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodCount {
    /// Its first day, `YYYY-MM-DD`.
    pub start: String,
    /// Days of the period inside the observation window.
    pub days_observed: u32,
    /// Whether the window covers only part of the period.
    pub partial: bool,
    /// Transactions in the period.
    pub transactions: u64,
    /// Users with a transaction in the period.
    pub active_users: u64,
}

/// One monthly acquisition cohort.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cohort {
    /// The month of the users' first transaction, `YYYY-MM`.
    pub month: String,
    /// Users acquired that month.
    pub users: u64,
    /// Users of the cohort active in each month from the first (where
    /// all of them are) to the window's last.
    pub active: Vec<u64>,
}

/// Activity per period and cohorts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calendar {
    /// Weeks or months.
    pub period: PeriodKind,
    /// Every period of the window, in order.
    pub periods: Vec<PeriodCount>,
    /// Monthly acquisition cohorts, oldest first (at most
    /// [`MAX_COHORTS`], the latest).
    pub cohorts: Vec<Cohort>,
    /// The first period's start: a day (weeks) or a month index.
    #[serde(skip)]
    first_period: i64,
}

impl Calendar {
    /// The index in `periods` of the period holding `day`.
    pub fn period_of(&self, day: i64) -> usize {
        period_index(self.period, self.first_period, day)
    }
}

fn period_index(kind: PeriodKind, first_period: i64, day: i64) -> usize {
    match kind {
        PeriodKind::Week => ((week_start(day) - first_period) / 7) as usize,
        PeriodKind::Month => (month_index(day) - first_period) as usize,
    }
}

/// Months since year 0 of a day.
fn month_index(day: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    y * 12 + (m - 1)
}

fn month_start(index: i64) -> i64 {
    days_from_civil(index.div_euclid(12), index.rem_euclid(12) + 1, 1).expect("a valid date")
}

/// The Monday of a day's ISO week (1970-01-01 was a Thursday).
fn week_start(day: i64) -> i64 {
    day - (day + 3).rem_euclid(7)
}

fn date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Counts per period and cohort over users' active days.
pub struct CalendarCounter {
    kind: PeriodKind,
    first_day: i64,
    last_day: i64,
    /// The first period's start (a day, or a month index).
    first_period: i64,
    /// The month of the first cohort kept (the latest [`MAX_COHORTS`]).
    first_cohort: i64,
    /// Per period: transactions and active users.
    transactions: Vec<u64>,
    active: Vec<u64>,
    /// `cohort_active[c][m]`: users of cohort `c` (months from the first)
    /// active in month `c + m`.
    cohort_active: Vec<Vec<u64>>,
}

impl CalendarCounter {
    /// A counter for the window `first_day..=last_day`.
    pub fn new(first_day: i64, last_day: i64) -> Self {
        let kind = if last_day - first_day < WEEKLY_UP_TO_DAYS {
            PeriodKind::Week
        } else {
            PeriodKind::Month
        };
        let first_month = month_index(first_day);
        let months = (month_index(last_day) - first_month + 1) as usize;
        // Only the latest cohorts are kept: a triangle of all of them
        // would grow with the square of the span.
        let cohorts = months.min(MAX_COHORTS);
        let first_cohort = first_month + (months - cohorts) as i64;
        let (first_period, periods) = match kind {
            PeriodKind::Week => {
                let first = week_start(first_day);
                (first, ((week_start(last_day) - first) / 7 + 1) as usize)
            }
            PeriodKind::Month => (first_month, months),
        };
        CalendarCounter {
            kind,
            first_day,
            last_day,
            first_period,
            transactions: vec![0; periods],
            active: vec![0; periods],
            first_cohort,
            cohort_active: (0..cohorts).map(|c| vec![0; cohorts - c]).collect(),
        }
    }

    fn period(&self, day: i64) -> usize {
        period_index(self.kind, self.first_period, day)
    }

    /// Adds one user's active days (in day order, inside the window).
    pub fn add(&mut self, days: &[DayEntry]) {
        let Some(first) = days.first() else {
            return;
        };
        // A cohort before the kept ones counts in the periods only.
        let cohort = usize::try_from(month_index(i64::from(first.day)) - self.first_cohort).ok();
        let (mut last_period, mut last_month) = (usize::MAX, usize::MAX);
        for d in days {
            let day = i64::from(d.day);
            let period = self.period(day);
            self.transactions[period] += u64::from(d.count);
            if period != last_period {
                self.active[period] += 1;
                last_period = period;
            }
            let Some(cohort) = cohort else {
                continue;
            };
            let month = (month_index(day) - self.first_cohort) as usize;
            if month != last_month {
                self.cohort_active[cohort][month - cohort] += 1;
                last_month = month;
            }
        }
    }

    /// Adds the counts of another counter of the same window.
    pub fn merge(&mut self, other: &CalendarCounter) {
        let add = |a: &mut [u64], b: &[u64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.transactions, &other.transactions);
        add(&mut self.active, &other.active);
        for (a, b) in self.cohort_active.iter_mut().zip(&other.cohort_active) {
            add(a, b);
        }
    }

    /// The counts, as periods and cohorts.
    pub fn finish(self) -> Calendar {
        let periods = (0..self.transactions.len())
            .map(|p| {
                let (start, end) = match self.kind {
                    PeriodKind::Week => {
                        let start = self.first_period + 7 * p as i64;
                        (start, start + 6)
                    }
                    PeriodKind::Month => {
                        let index = self.first_period + p as i64;
                        (month_start(index), month_start(index + 1) - 1)
                    }
                };
                let observed = end.min(self.last_day) - start.max(self.first_day) + 1;
                PeriodCount {
                    start: date(start),
                    days_observed: observed as u32,
                    partial: observed < end - start + 1,
                    transactions: self.transactions[p],
                    active_users: self.active[p],
                }
            })
            .collect();
        let cohorts = self
            .cohort_active
            .into_iter()
            .enumerate()
            .map(|(c, active)| Cohort {
                month: date(month_start(self.first_cohort + c as i64))[..7].to_string(),
                users: active[0],
                active,
            })
            .collect();
        Calendar {
            period: self.kind,
            periods,
            cohorts,
            first_period: self.first_period,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(list: &[(&str, u32)]) -> Vec<DayEntry> {
        list.iter()
            .map(|&(d, count)| {
                let y = d[..4].parse().unwrap();
                let m = d[5..7].parse().unwrap();
                let dd = d[8..].parse().unwrap();
                DayEntry {
                    day: days_from_civil(y, m, dd).unwrap() as i32,
                    mask: 1,
                    count,
                }
            })
            .collect()
    }

    #[test]
    fn weeks_of_a_short_log() {
        // 2025-04-02 (Wednesday) to 2025-04-20 (Sunday): weeks of March 31,
        // April 7 and April 14.
        let (first, last) = (
            days(&[("2025-04-02", 1)])[0].day,
            days(&[("2025-04-20", 1)])[0].day,
        );
        let mut c = CalendarCounter::new(i64::from(first), i64::from(last));
        c.add(&days(&[
            ("2025-04-02", 3),
            ("2025-04-03", 1),
            ("2025-04-15", 2),
        ]));
        c.add(&days(&[("2025-04-08", 1), ("2025-04-20", 4)]));
        let cal = c.finish();
        assert_eq!(cal.period, PeriodKind::Week);
        let got: Vec<(&str, u32, bool, u64, u64)> = cal
            .periods
            .iter()
            .map(|p| {
                (
                    p.start.as_str(),
                    p.days_observed,
                    p.partial,
                    p.transactions,
                    p.active_users,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("2025-03-31", 5, true, 4, 1),
                ("2025-04-07", 7, false, 1, 1),
                ("2025-04-14", 7, false, 6, 2),
            ]
        );
        assert_eq!(cal.cohorts.len(), 1);
        assert_eq!(
            (cal.cohorts[0].month.as_str(), cal.cohorts[0].users),
            ("2025-04", 2)
        );
        assert_eq!(cal.cohorts[0].active, [2]);
    }

    #[test]
    fn months_and_cohorts_of_a_long_log() {
        let first = i64::from(days(&[("2024-11-15", 1)])[0].day);
        let last = i64::from(days(&[("2025-06-30", 1)])[0].day);
        let mut c = CalendarCounter::new(first, last);
        // Acquired in November, back in January and June.
        c.add(&days(&[
            ("2024-11-15", 1),
            ("2024-11-20", 1),
            ("2025-01-02", 2),
            ("2025-06-30", 1),
        ]));
        // Acquired in January, never back.
        c.add(&days(&[("2025-01-31", 1)]));
        // Acquired in November, back in December.
        c.add(&days(&[("2024-11-30", 1), ("2024-12-01", 1)]));
        let cal = c.finish();
        assert_eq!(cal.period, PeriodKind::Month);
        assert_eq!(cal.periods.len(), 8);
        assert_eq!(cal.periods[0].start, "2024-11-01");
        assert!(cal.periods[0].partial && !cal.periods[7].partial);
        let active: Vec<u64> = cal.periods.iter().map(|p| p.active_users).collect();
        assert_eq!(active, [2, 1, 2, 0, 0, 0, 0, 1]);
        let tx: u64 = cal.periods.iter().map(|p| p.transactions).sum();
        assert_eq!(tx, 8);
        let nov = &cal.cohorts[0];
        assert_eq!((nov.month.as_str(), nov.users), ("2024-11", 2));
        assert_eq!(nov.active, [2, 1, 1, 0, 0, 0, 0, 1]);
        let jan = &cal.cohorts[2];
        assert_eq!((jan.month.as_str(), jan.users), ("2025-01", 1));
        assert_eq!(jan.active, [1, 0, 0, 0, 0, 0]);
    }
}

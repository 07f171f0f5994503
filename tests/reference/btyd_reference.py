#!/usr/bin/env python3
"""Independent `lifetimes` reference for segmint's BG/NBD + Gamma-Gamma model.

What it is
    Reference fixtures for a "buy till you die" model (BG/NBD for the number
    of purchases, Gamma-Gamma for spend), computed by the Python package
    `lifetimes` 0.11.3 (Davidson-Pilon et al.), not by segmint. For every case
    it writes into tests/fixtures/btyd/:

    * <case>.csv           -- generated cases only: the transaction log,
                              header `user_id,created_at,total_price`, rows in
                              time order. `sample` reads the bundled
                              datasets/messaging_sample.csv instead (not copied).
    * <case>.expected.csv  -- one row per user, sorted by user_id byte order:
          user_id,frequency,recency,T,monetary_value,
          p_alive,expected_tx_90,expected_spend,clv_90,clv_90_discounted
        (see tests/fixtures/btyd/README.md for the definitions). Every number
        is Python's repr of a float64 (shortest string that reads back to the
        same float64).
    * <case>.params.json   -- fitted BG/NBD (r, alpha, a, b) and Gamma-Gamma
        (p, q, v) parameters, the generating ("true") parameters, counts, fit
        settings and mean log-likelihoods, the parameters the prediction
        columns were computed with, and the self-checks' results.

    Steps per case
    1. Generated cases draw customers from KNOWN parameters (numpy
       default_rng with a fixed seed): a first purchase at a uniform random
       time in the first `arrival_days` of the period; then, while alive,
       purchases on a Poisson process with rate lambda ~ Gamma(shape r,
       rate alpha) per day; after each REPEAT purchase the customer dies with
       probability p ~ Beta(a, b) (as in the BG/NBD likelihood and in
       lifetimes.generate_data.beta_geometric_nbd_model). Each purchase's
       amount is Gamma(shape p, rate nu) with nu ~ Gamma(shape q, rate v) per
       customer, rounded to cents (at least 0.01). Times are fractional days,
       written as a date (`gen_dates`) or a timestamp to the second
       (`gen_times`).
    2. The log is read back with pandas (user_id as string, total_price with
       float_precision="round_trip", created_at parsed as naive UTC) and
       summarised by lifetimes.utils.summary_data_from_transaction_data(df,
       "user_id", "created_at", monetary_value_col="total_price", freq="D"),
       observation_period_end left at its default (the day of the latest
       transaction).
    3. BetaGeoFitter(penalizer_coef=0.0).fit(frequency, recency, T, tol=TOL)
       with the tightest tol of TOL_LADDER that lifetimes reports converged,
       then refit from RESTART_BG (another start) and require the parameters
       to agree to RESTART_RTOL; also one Newton step with autograd's exact
       Hessian from the optimum (its size is the distance to the MLE).
    4. GammaGammaFitter(penalizer_coef=0.0).fit on the users with
       frequency > 0 and monetary_value > 0, same tol ladder and checks.
    5. The prediction columns from lifetimes' own methods (README).

Checks made before anything is written (the script stops on failure)
    * a plain-Python summary of the CSV (csv module, float(), math.fsum,
      datetime) gives the same frequency/recency/T exactly and the same
      monetary_value to 1e-12;
    * the fits converged (generated cases), the restart agrees to 1e-7
      relative, the Newton step is below 1e-7 in every log-parameter;
    * generated cases: lifetimes' BG/NBD fitted to the exact continuous-time
      histories (not calendar days) lands within 3 standard errors of the
      true parameters (validates the simulator);
    * at least 40% repeaters; the fitted `a` is not within 0.05 of 1 (the
      expected-purchases formula divides by a - 1);
    * every written number is finite; an mpmath (30 digits) evaluation of the
      README formulas from the same parameters agrees with lifetimes'
      prediction columns (the largest relative differences are recorded in
      params.json under checks).

The bundled sample (`sample`)
    Its 20 users are active almost every day: neither model has a maximum
    likelihood estimate there (the likelihood keeps rising as r, alpha, a, b
    -> infinity, and as p -> infinity, v -> 0), and lifetimes raises
    ConvergenceError at every tol. Its params.json records that
    ("bgnbd": null, "gamma_gamma": null, and what scipy's BFGS stopped at);
    its expected.csv still has lifetimes' summary columns and the prediction
    columns computed by lifetimes from fixed parameters (gen_dates' true
    ones, see "prediction_params").

Versions
    CPython 3.11.7 and the exact pins of tests/reference/requirements-btyd.txt:
    Lifetimes 0.11.3, numpy 1.26.4, scipy 1.11.4, pandas 1.5.3, autograd 1.6.2
    (lifetimes 0.11.3 dates from 2020; these are the newest releases of its
    era's major versions that install on 3.11). mpmath 1.3.0 is only for the
    self-check.

Determinism
    Fixed seeds; reruns with the pinned versions give byte-identical files.

How to run (from the repository root)
    python3 -m venv tests/reference/.venv-btyd
    tests/reference/.venv-btyd/bin/pip install -r tests/reference/requirements-btyd.txt
    tests/reference/.venv-btyd/bin/python tests/reference/btyd_reference.py

    Check that the committed fixtures are current (exit status 1 if not):
    tests/reference/.venv-btyd/bin/python tests/reference/btyd_reference.py --check

    Only some cases, or into another folder (e.g. to compare environments):
    tests/reference/.venv-btyd/bin/python tests/reference/btyd_reference.py gen_times
    tests/reference/.venv-btyd/bin/python tests/reference/btyd_reference.py --out /tmp/btyd
"""

import argparse
import contextlib
import csv
import datetime as dt
import filecmp
import io
import json
import math
import os
import platform
import sys
import tempfile
import warnings
from importlib import metadata

import numpy as np
import pandas as pd
import scipy
from scipy.optimize import minimize

from autograd import grad, hessian, value_and_grad

from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import ConvergenceError, summary_data_from_transaction_data

import mpmath

GENERATOR = "tests/reference/btyd_reference.py"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "btyd")
SAMPLE = os.path.join(ROOT, "datasets", "messaging_sample.csv")

# Tightest first: lifetimes passes tol to scipy.optimize.minimize (BFGS, so it
# is `gtol`, the largest |gradient| component of the mean negative
# log-likelihood in log-parameters). The first one lifetimes reports as
# converged is used.
TOL_LADDER = [1e-10, 3e-10, 1e-9, 3e-9, 1e-8]
# Second start, in lifetimes' optimiser space (log-parameters; BG/NBD's alpha
# there is alpha / max(T)). lifetimes' own start is 0.1 for every entry.
RESTART_BG = np.array([0.0, 0.0, 0.0, 0.0])
RESTART_GG = np.array([1.0, 0.5, 2.0])
RESTART_RTOL = 1e-7
NEWTON_MAX = 1e-7
HORIZON_DAYS = 90
CLV_MONTHS = 3
DISCOUNT = 0.01
COLUMNS = [
    "user_id", "frequency", "recency", "T", "monetary_value",
    "p_alive", "expected_tx_90", "expected_spend", "clv_90", "clv_90_discounted",
]

CASES = {
    # ~18 months (548 days), dates only, first purchases over the first year.
    "gen_dates": {
        "seed": 20240305,
        "customers": 4000,
        "id_format": "c{:04d}",
        "id_start": 0,
        "start": "2024-01-01",
        "days": 548,
        "arrival_days": 365,
        "time_format": "%Y-%m-%d",
        "true": {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "v": 15.0},
    },
    # ~6 months (182 days), timestamps to the second, first purchases over the
    # first 120 days. Ids are not zero-padded (u1, u10, u100, ... in byte
    # order), so byte order differs from numeric order.
    "gen_times": {
        "seed": 20240701,
        "customers": 3000,
        "id_format": "u{}",
        "id_start": 1,
        "start": "2024-07-01",
        "days": 182,
        "arrival_days": 120,
        "time_format": "%Y-%m-%d %H:%M:%S",
        "true": {"r": 0.6, "alpha": 10.0, "a": 1.2, "b": 3.0, "p": 4.0, "q": 3.0, "v": 8.0},
    },
    # The bundled log; no MLE exists (see the docstring).
    "sample": {
        "path": SAMPLE,
        "time_format": "%Y-%m-%d %H:%M:%S",
        "prediction_params_from": "gen_dates",
    },
}


def versions():
    return {
        "python": platform.python_version(),
        "lifetimes": metadata.version("lifetimes"),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "autograd": metadata.version("autograd"),
        "mpmath (check only)": mpmath.__version__,
    }


# --------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------


def simulate(spec):
    """Rows (created_at string, user_id, total_price string), time order, and
    each customer's exact (continuous-time) frequency, recency and T."""
    rng = np.random.default_rng(spec["seed"])
    tr = spec["true"]
    n = spec["customers"]
    start = dt.datetime.fromisoformat(spec["start"])
    days = float(spec["days"])
    arrival = rng.uniform(0.0, spec["arrival_days"], n)
    lam = rng.gamma(tr["r"], 1.0 / tr["alpha"], n)
    pdie = rng.beta(tr["a"], tr["b"], n)
    nu = rng.gamma(tr["q"], 1.0 / tr["v"], n)
    rows = []
    exact = {"frequency": [], "recency": [], "T": []}
    for i in range(n):
        times = [float(arrival[i])]
        t = float(arrival[i])
        if lam[i] > 0.0:
            scale = 1.0 / float(lam[i])
            while True:
                t += rng.exponential(scale)
                if t >= days:
                    break
                times.append(t)  # a repeat purchase ...
                if rng.random() < pdie[i]:  # ... after which it may die
                    break
        amounts = rng.gamma(tr["p"], 1.0 / nu[i], len(times))
        exact["frequency"].append(len(times) - 1)
        exact["recency"].append(times[-1] - times[0])
        exact["T"].append(days - times[0])
        uid = spec["id_format"].format(i + spec["id_start"])
        for t, amount in zip(times, amounts):
            stamp = start + dt.timedelta(seconds=math.floor(t * 86400.0))
            text = "%.2f" % amount
            if float(text) < 0.01:
                text = "0.01"
            rows.append((stamp.strftime(spec["time_format"]), uid, text))
    rows.sort(key=lambda row: (row[0], row[1].encode()))
    return rows, {k: np.array(v) for k, v in exact.items()}


def continuous_check(exact, true):
    """BG/NBD fitted by lifetimes on the exact histories (no calendar days):
    it should find the generating parameters within sampling error."""
    bgf, tol = fit_ladder(BetaGeoFitter, (exact["frequency"], exact["recency"], exact["T"]),
                          ladder=TOL_LADDER + [1e-7])
    if bgf is None:
        raise SystemExit("continuous-time BG/NBD fit did not converge")
    z = {k: float((bgf.params_[k] - true[k]) / bgf.standard_errors_[k]) for k in ["r", "alpha", "a", "b"]}
    if max(abs(v) for v in z.values()) > 3.0:
        raise SystemExit("continuous-time fit misses the true parameters: %s" % z)
    return {
        "note": "lifetimes' BG/NBD on the exact simulated histories (x = repeat purchases, "
                "t_x and T in fractional days, T to the end of the simulated period), "
                "not on calendar days: it recovers the true parameters; the day-level "
                "fit's shift (mostly alpha) comes from counting calendar days",
        "tol": tol,
        "params": {k: float(v) for k, v in bgf.params_.items()},
        "z_vs_true": z,
    }


def write_log(path, rows):
    with open(path, "w", newline="") as fh:
        fh.write("user_id,created_at,total_price\n")
        for stamp, uid, amount in rows:
            fh.write("%s,%s,%s\n" % (uid, stamp, amount))


def read_log(path, time_format):
    df = pd.read_csv(
        path,
        usecols=["user_id", "created_at", "total_price"],
        dtype={"user_id": str, "created_at": str},
        keep_default_na=False,
        float_precision="round_trip",
    )
    df["created_at"] = pd.to_datetime(df["created_at"], format=time_format)
    return df


def plain_summary(path, time_format):
    """frequency/recency/T/monetary_value from the definitions, no pandas."""
    per_user = {}
    end = None
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            day = dt.datetime.strptime(row["created_at"], time_format).date()
            end = day if end is None or day > end else end
            per_user.setdefault(row["user_id"], {}).setdefault(day, []).append(
                float(row["total_price"])
            )
    out = {}
    for uid, days in per_user.items():
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        repeat = [math.fsum(days[d]) for d in ordered[1:]]
        out[uid] = (
            len(ordered) - 1,
            (last - first).days,
            (end - first).days,
            math.fsum(repeat) / len(repeat) if repeat else 0.0,
            max((abs(x) for d in ordered for x in days[d]), default=0.0),
        )
    return out, end


def check_summary(summ, plain):
    if sorted(summ.index) != sorted(plain):
        raise SystemExit("summary users differ from the plain summary")
    worst = 0.0
    for uid, (f, r, t, m, scale) in plain.items():
        row = summ.loc[uid]
        if (row["frequency"], row["recency"], row["T"]) != (float(f), float(r), float(t)):
            raise SystemExit("summary of %s differs: %r vs %r" % (uid, tuple(row), (f, r, t, m)))
        err = abs(row["monetary_value"] - m) / max(abs(m), scale, 1e-300)
        worst = max(worst, err)
    if worst > 1e-12:
        raise SystemExit("monetary_value differs from the plain summary by %g" % worst)
    return float(worst)


# --------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------


def fit_ladder(make, args, initial=None, ladder=TOL_LADDER):
    for tol in ladder:
        model = make()
        try:
            # lifetimes prints scipy's OptimizeResult before raising
            with contextlib.redirect_stdout(io.StringIO()):
                model.fit(*args, tol=tol, initial_params=initial)
            return model, tol
        except ConvergenceError:
            continue
    return None, None


def bg_args(summ):
    f = summ["frequency"].values.astype(int)
    r = summ["recency"].values
    t = summ["T"].values
    w = np.ones_like(r, dtype=int)
    scale = 1.0 / t.max()
    return f, r, t, w, scale


def newton_step(nll, x, args):
    g = grad(nll)(x, *args)
    h = hessian(nll)(x, *args)
    step = np.linalg.solve(h, -g)
    return float(np.max(np.abs(step))), float(np.max(np.abs(g)))


def newton_polish(nll, x, args, steps=6):
    """Newton's method on lifetimes' own objective (autograd's exact gradient
    and Hessian) from lifetimes' optimum: the MLE to rounding."""
    for _ in range(steps):
        x = x - np.linalg.solve(hessian(nll)(x, *args), grad(nll)(x, *args))
    return x


def restart_ladder(tol):
    return [x for x in TOL_LADDER + [1e-7] if x >= tol]


def fit_bgnbd(summ):
    f, r, t, w, scale = bg_args(summ)
    data = (summ["frequency"], summ["recency"], summ["T"])
    bgf, tol = fit_ladder(BetaGeoFitter, data)
    if bgf is None:
        return None, unconverged(BetaGeoFitter._negative_log_likelihood, 4,
                                 (f, r * scale, t * scale, w, 0.0),
                                 ["r", "alpha", "a", "b"], scale)
    again, tol2 = fit_ladder(BetaGeoFitter, data, RESTART_BG, restart_ladder(tol))
    if again is None:
        raise SystemExit("BG/NBD restart did not converge")
    rel = float(np.max(np.abs(again.params_.values / bgf.params_.values - 1.0)))
    if rel > RESTART_RTOL:
        raise SystemExit("BG/NBD restart disagrees: %g\n%s\n%s" % (rel, bgf.params_, again.params_))
    p = bgf.params_
    x = np.log(np.array([p["r"], p["alpha"] * scale, p["a"], p["b"]]))
    nll_args = (f, r * scale, t * scale, w, 0.0)
    step, gmax = newton_step(BetaGeoFitter._negative_log_likelihood, x, nll_args)
    mle = np.exp(newton_polish(BetaGeoFitter._negative_log_likelihood, x, nll_args))
    mle[1] /= scale
    from_mle = float(np.max(np.abs(p.values / mle - 1.0)))
    if step > NEWTON_MAX or from_mle > NEWTON_MAX:
        raise SystemExit("BG/NBD optimum is %g (Newton step) from the MLE" % step)
    ll_scaled = -float(bgf._negative_log_likelihood_)
    ll_days = -float(BetaGeoFitter._negative_log_likelihood(
        np.log(p.values.astype(float)), f, r, t, w, 0.0))
    if abs(ll_days - (ll_scaled + f.mean() * math.log(scale))) > 1e-9:
        raise SystemExit("log-likelihood in days is not the scaled one shifted")
    info = {
        "tol": tol,
        "time_scale": scale,
        "log_likelihood": ll_scaled,
        "log_likelihood_days": ll_days,
        "restart": {
            "initial_params": RESTART_BG.tolist(),
            "tol": tol2,
            "params": {k: float(v) for k, v in again.params_.items()},
            "max_rel_diff": rel,
        },
        "newton_step_max_abs_log_param": step,
        "gradient_max_abs": gmax,
        "mle_newton_polished": dict(zip(["r", "alpha", "a", "b"], map(float, mle))),
        "max_rel_diff_from_polished": from_mle,
        "restart_max_rel_diff_from_polished": float(np.max(np.abs(again.params_.values / mle - 1.0))),
        "standard_errors": {k: float(v) for k, v in bgf.standard_errors_.items()},
    }
    return bgf, info


def fit_gg(summ):
    rep = summ[(summ["frequency"] > 0) & (summ["monetary_value"] > 0)]
    data = (rep["frequency"], rep["monetary_value"])
    args = (rep["frequency"].values.astype(float), rep["monetary_value"].values,
            np.ones(len(rep), dtype=int), 0.0)
    ggf, tol = fit_ladder(GammaGammaFitter, data)
    if ggf is None:
        return None, unconverged(GammaGammaFitter._negative_log_likelihood, 3, args,
                                 ["p", "q", "v"], None), len(rep)
    again, tol2 = fit_ladder(GammaGammaFitter, data, RESTART_GG, restart_ladder(tol))
    if again is None:
        raise SystemExit("Gamma-Gamma restart did not converge")
    rel = float(np.max(np.abs(again.params_.values / ggf.params_.values - 1.0)))
    if rel > RESTART_RTOL:
        raise SystemExit("Gamma-Gamma restart disagrees: %g" % rel)
    x = np.log(ggf.params_.values.astype(float))
    step, gmax = newton_step(GammaGammaFitter._negative_log_likelihood, x, args)
    mle = np.exp(newton_polish(GammaGammaFitter._negative_log_likelihood, x, args))
    from_mle = float(np.max(np.abs(ggf.params_.values / mle - 1.0)))
    if step > NEWTON_MAX or from_mle > NEWTON_MAX:
        raise SystemExit("Gamma-Gamma optimum is %g (Newton step) from the MLE" % step)
    info = {
        "tol": tol,
        "log_likelihood": -float(ggf._negative_log_likelihood_),
        "restart": {
            "initial_params": RESTART_GG.tolist(),
            "tol": tol2,
            "params": {k: float(v) for k, v in again.params_.items()},
            "max_rel_diff": rel,
        },
        "newton_step_max_abs_log_param": step,
        "gradient_max_abs": gmax,
        "mle_newton_polished": dict(zip(["p", "q", "v"], map(float, mle))),
        "max_rel_diff_from_polished": from_mle,
        "restart_max_rel_diff_from_polished": float(np.max(np.abs(again.params_.values / mle - 1.0))),
        "standard_errors": {k: float(v) for k, v in ggf.standard_errors_.items()},
    }
    return ggf, info, len(rep)


def unconverged(nll, size, args, names, scale):
    """What lifetimes' own minimize call stops at when it raises."""
    out = minimize(value_and_grad(nll), jac=True, method=None, tol=1e-7,
                   x0=0.1 * np.ones(size), args=args)
    params = np.exp(out.x)
    if scale is not None:
        params[1] /= scale
    return {
        "converged": False,
        "note": "lifetimes raises ConvergenceError for every tol in the ladder and "
                "for its default 1e-7; the mean log-likelihood keeps rising as the "
                "parameters run off (no MLE). Below: where scipy's BFGS stops from "
                "lifetimes' start with tol=1e-7.",
        "tols_tried": TOL_LADDER + [1e-7],
        "scipy_message": str(out.message),
        "stopped_at": {k: float(v) for k, v in zip(names, params)},
        "log_likelihood_there": -float(out.fun),
    }


# --------------------------------------------------------------------------
# Predictions and their mpmath check
# --------------------------------------------------------------------------


def fixed_fitters(params):
    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series([params["r"], params["alpha"], params["a"], params["b"]],
                            index=["r", "alpha", "a", "b"], dtype=float)
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time
    ggf = GammaGammaFitter()
    ggf.params_ = pd.Series([params["p"], params["q"], params["v"]],
                            index=["p", "q", "v"], dtype=float)
    return bgf, ggf


def predict(bgf, ggf, summ):
    f, r, t, m = (summ[c] for c in ["frequency", "recency", "T", "monetary_value"])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        cols = {
            "p_alive": np.asarray(bgf.conditional_probability_alive(f.values, r.values, t.values)),
            "expected_tx_90": np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(
                HORIZON_DAYS, f.values, r.values, t.values)),
            "expected_spend": np.asarray(ggf.conditional_expected_average_profit(f.values, m.values)),
            "clv_90": ggf.customer_lifetime_value(bgf, f, r, t, m, time=CLV_MONTHS,
                                                  discount_rate=0.0, freq="D").values,
            "clv_90_discounted": ggf.customer_lifetime_value(bgf, f, r, t, m, time=CLV_MONTHS,
                                                             discount_rate=DISCOUNT, freq="D").values,
        }
    # how many users took lifetimes' Euler-transform branch (2F1 overflowed)
    par = bgf.params_
    x = f.values
    z = HORIZON_DAYS / (par["alpha"] + t.values + HORIZON_DAYS)
    with np.errstate(all="ignore"):
        direct = scipy.special.hyp2f1(par["r"] + x, par["b"] + x, par["a"] + par["b"] + x - 1, z)
    alt = int(np.sum(np.isinf(np.log(direct))))
    for name, col in cols.items():
        if col.shape != (len(summ),) or not np.all(np.isfinite(col)):
            raise SystemExit("%s is not finite for every user" % name)
    return cols, alt


def mp_check(summ, params, cols):
    """The README formulas in 30-digit mpmath; largest relative differences."""
    mpmath.mp.dps = 30
    r, alpha, a, b = (mpmath.mpf(params[k]) for k in ["r", "alpha", "a", "b"])
    p, q, v = (mpmath.mpf(params[k]) for k in ["p", "q", "v"])
    worst = {k: 0.0 for k in cols}
    one = mpmath.mpf(1)
    for i, (x, tx, T, m) in enumerate(summ[["frequency", "recency", "T", "monetary_value"]].itertuples(index=False)):
        x, tx, T, m = (mpmath.mpf(float(u)) for u in (x, tx, T, m))
        odds = a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x) if x > 0 else mpmath.mpf(0)
        palive = one / (one + odds)

        def expected(tt):
            if tt == 0:
                return mpmath.mpf(0)
            z = tt / (alpha + T + tt)
            hyp = mpmath.hyp2f1(r + x, b + x, a + b + x - 1, z)
            num = (a + b + x - 1) / (a - 1) * (one - hyp * ((alpha + T) / (alpha + T + tt)) ** (r + x))
            return num / (one + odds)

        w = p * x / (p * x + q - 1)
        spend = (one - w) * v * p / (q - 1) + w * m
        e = [expected(mpmath.mpf(30 * k)) for k in range(CLV_MONTHS + 1)]
        clv = mpmath.fsum(spend * (e[k] - e[k - 1]) for k in range(1, CLV_MONTHS + 1))
        clvd = mpmath.fsum(spend * (e[k] - e[k - 1]) / (1 + mpmath.mpf(DISCOUNT)) ** k
                           for k in range(1, CLV_MONTHS + 1))
        exact = {"p_alive": palive, "expected_tx_90": e[3], "expected_spend": spend,
                 "clv_90": clv, "clv_90_discounted": clvd}
        for k, val in exact.items():
            got = cols[k][i]
            den = abs(val) if val != 0 else mpmath.mpf(1)
            worst[k] = max(worst[k], float(abs(mpmath.mpf(float(got)) - val) / den))
    return worst


# --------------------------------------------------------------------------
# One case
# --------------------------------------------------------------------------


def fmt(x):
    return repr(float(x))


def run_case(name, out_dir):
    spec = CASES[name]
    files = []
    simulation = None
    if "path" in spec:
        log_path = spec["path"]
        true = None
        continuous = None
    else:
        rows, exact = simulate(spec)
        log_path = os.path.join(out_dir, name + ".csv")
        write_log(log_path, rows)
        files.append(log_path)
        true = dict(spec["true"])
        continuous = continuous_check(exact, true)
    df = read_log(log_path, spec["time_format"])
    summ = summary_data_from_transaction_data(
        df, "user_id", "created_at", monetary_value_col="total_price", freq="D"
    )
    order = sorted(summ.index, key=lambda s: s.encode("utf-8"))
    summ = summ.loc[order]
    plain, end = plain_summary(log_path, spec["time_format"])
    summary_err = check_summary(summ, plain)
    n = len(summ)
    repeaters = int((summ["frequency"] > 0).sum())

    # same-day purchases (lifetimes merges them into one period)
    day = df["created_at"].dt.floor("D")
    multi = int((df.assign(day=day).groupby(["user_id", "day"]).size() > 1).sum())

    bgf, bg_info = fit_bgnbd(summ)
    ggf, gg_info, gg_users = fit_gg(summ)

    if bgf is not None and ggf is not None:
        if repeaters < 0.4 * n:
            raise SystemExit("%s: only %d of %d users repeat" % (name, repeaters, n))
        if abs(bgf.params_["a"] - 1.0) < 0.05:
            raise SystemExit("%s: fitted a is too close to 1" % name)
        params = {**{k: float(v) for k, v in bgf.params_.items()},
                  **{k: float(v) for k, v in ggf.params_.items()}}
        source = "fitted (the bgnbd and gamma_gamma entries)"
        pred_bgf, pred_ggf = bgf, ggf
    elif bgf is None and ggf is None and "prediction_params_from" in spec:
        params = dict(CASES[spec["prediction_params_from"]]["true"])
        source = ("fixed, not fitted (no MLE here): the true parameters of %s, set as "
                  "params_ of an unfitted BetaGeoFitter / GammaGammaFitter (and "
                  "bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time)"
                  % spec["prediction_params_from"])
        pred_bgf, pred_ggf = fixed_fitters(params)
    else:
        raise SystemExit("%s: a fit did not converge: %s %s" % (name, bg_info, gg_info))

    cols, alt_branch = predict(pred_bgf, pred_ggf, summ)
    worst = mp_check(summ, params, cols)
    limits = {"p_alive": 1e-12, "expected_tx_90": 1e-9, "expected_spend": 1e-12,
              "clv_90": 1e-9, "clv_90_discounted": 1e-9}
    for k, lim in limits.items():
        if worst[k] > lim:
            raise SystemExit("%s: lifetimes' %s is %g from the mpmath value" % (name, k, worst[k]))

    exp_path = os.path.join(out_dir, name + ".expected.csv")
    with open(exp_path, "w", newline="") as fh:
        fh.write(",".join(COLUMNS) + "\n")
        for i, uid in enumerate(summ.index):
            row = summ.iloc[i]
            vals = [row["frequency"], row["recency"], row["T"], row["monetary_value"]]
            vals += [cols[k][i] for k in COLUMNS[5:]]
            fh.write(uid + "," + ",".join(fmt(v) for v in vals) + "\n")
    files.append(exp_path)

    if "path" not in spec:
        simulation = {
            "seed": spec["seed"],
            "customers": spec["customers"],
            "start": spec["start"],
            "days": spec["days"],
            "arrival_days": spec["arrival_days"],
            "time_format": spec["time_format"],
            "user_id_format": spec["id_format"],
            "transactions": len(df),
        }
    out = {
        "generator": GENERATOR,
        "case": name,
        "log": os.path.relpath(log_path, ROOT) if "path" in spec else "tests/fixtures/btyd/%s.csv" % name,
        "versions": versions(),
        "bgnbd": None if bgf is None else {k: float(bgf.params_[k]) for k in ["r", "alpha", "a", "b"]},
        "gamma_gamma": None if ggf is None else {k: float(ggf.params_[k]) for k in ["p", "q", "v"]},
        "true": true,
        "prediction_params": {
            "bgnbd": {k: params[k] for k in ["r", "alpha", "a", "b"]},
            "gamma_gamma": {k: params[k] for k in ["p", "q", "v"]},
            "source": source,
        },
        "users": n,
        "repeaters": repeaters,
        "gamma_gamma_users": gg_users,
        "transactions": len(df),
        "same_day_multi_purchase_user_days": multi,
        "fit": {
            "penalizer_coef": 0.0,
            "tol": None if bgf is None else max(bg_info["tol"], gg_info["tol"]),
            "tol_bgnbd": None if bgf is None else bg_info["tol"],
            "tol_gamma_gamma": None if ggf is None else gg_info["tol"],
            "tol_ladder": TOL_LADDER,
            "log_likelihood_bgnbd": None if bgf is None else bg_info["log_likelihood"],
            "log_likelihood_bgnbd_days": None if bgf is None else bg_info["log_likelihood_days"],
            "log_likelihood_gamma_gamma": None if ggf is None else gg_info["log_likelihood"],
            "bgnbd_time_scale": bg_args(summ)[4],
            "bgnbd": bg_info,
            "gamma_gamma": gg_info,
        },
        "as_of": end.isoformat(),
        "last_transaction": df["created_at"].max().strftime("%Y-%m-%d %H:%M:%S"),
        "simulation": simulation,
        "checks": {
            "plain_summary_monetary_max_rel_diff": summary_err,
            "hyp2f1_euler_branch_users_t90": alt_branch,
            "mpmath_max_rel_diff": worst,
            "continuous_time_bgnbd": continuous,
        },
    }
    par_path = os.path.join(out_dir, name + ".params.json")
    with open(par_path, "w") as fh:
        json.dump(out, fh, indent=2)
        fh.write("\n")
    files.append(par_path)
    return files, out


def summarize(name, out):
    print("== %s: %d users, %d repeaters, %d transactions, as_of %s"
          % (name, out["users"], out["repeaters"], out["transactions"], out["as_of"]))
    for model in ["bgnbd", "gamma_gamma"]:
        fitted = out[model]
        true = out["true"]
        if fitted is None:
            print("   %s: no MLE (%s)" % (model, out["fit"][model]["scipy_message"]))
            continue
        print("   %s: " % model + ", ".join(
            "%s=%.6g%s" % (k, v, "" if true is None else " (true %g)" % true[k])
            for k, v in fitted.items()))
    print("   fit: %s" % {k: out["fit"][k] for k in ["tol_bgnbd", "tol_gamma_gamma"]})
    print("   checks: %s" % out["checks"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help="subset of %s" % ", ".join(CASES))
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temporary folder; exit 1 if the committed files differ")
    ap.add_argument("--out", default=OUT_DIR,
                    help="write here instead of tests/fixtures/btyd (e.g. to compare environments)")
    args = ap.parse_args()
    names = args.cases or list(CASES)
    for n in names:
        if n not in CASES:
            ap.error("unknown case %s" % n)
    if args.check:
        bad = []
        with tempfile.TemporaryDirectory() as tmp:
            for n in names:
                files, _ = run_case(n, tmp)
                for path in files:
                    base = os.path.basename(path)
                    committed = os.path.join(OUT_DIR, base)
                    if not os.path.exists(committed) or not filecmp.cmp(path, committed, shallow=False):
                        bad.append(base)
        if bad:
            print("out of date: " + ", ".join(bad))
            return 1
        print("fixtures are up to date (%s)" % ", ".join(names))
        return 0
    os.makedirs(args.out, exist_ok=True)
    for n in names:
        _, out = run_case(n, args.out)
        summarize(n, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

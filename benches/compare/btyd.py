#!/usr/bin/env python3
"""Time lifetimes' BG/NBD and Gamma-Gamma fits, the peer for segmint's BTYD model.

Given per-user summaries (frequency, recency, T, monetary_value, in days, as
lifetimes.utils.summary_data_from_transaction_data makes them), this times

    BetaGeoFitter(penalizer_coef=0.0).fit(frequency, recency, T, tol=TOL)
    GammaGammaFitter(penalizer_coef=0.0).fit(frequency, monetary_value, tol=TOL)
        (on the users with frequency > 0 and monetary_value > 0)

each call whole (lifetimes' fit also computes the Hessian and standard errors
at the optimum). Each fit runs --repeat times (default 3) and the median is
reported; when the first run takes a minute or more it runs once.

Input: --csv FILE with (at least) the columns frequency,recency,T,monetary_value
(e.g. tests/fixtures/btyd/gen_dates.expected.csv), or, without --csv,
--users N summaries (default 1,000,000) generated in memory from the
parameters of the gen_dates reference case (tests/reference/btyd_reference.py):
first purchases uniform over the first 365 days of a 548-day period;
lambda ~ Gamma(r=0.25, rate alpha=4) per day; after each repeat purchase death
with p ~ Beta(a=0.8, b=2.5); amounts Gamma(shape 6, rate nu), nu ~ Gamma(4,
rate 15), rounded to cents; purchases counted per calendar day as lifetimes
does (frequency = repeat days, recency/T in whole days from the first
purchase day, monetary_value = mean spend of the repeat days). The generator
is vectorised (numpy), so it is not the fixture generator's draw sequence;
--write-csv saves what it made.

Usage (from the repository root; the environment of the reference fixtures):
    python3 -m venv tests/reference/.venv-btyd
    tests/reference/.venv-btyd/bin/pip install -r tests/reference/requirements-btyd.txt
    tests/reference/.venv-btyd/bin/python benches/compare/btyd.py
    tests/reference/.venv-btyd/bin/python benches/compare/btyd.py --users 100000 --repeat 3
    tests/reference/.venv-btyd/bin/python benches/compare/btyd.py --csv benches/compare/data/btyd_1m.csv
"""

import argparse
import contextlib
import io
import os
import platform
import statistics
import sys
import time
from importlib import metadata

import numpy as np
import pandas as pd

from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import ConvergenceError

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "v": 15.0}
DAYS = 548
ARRIVAL_DAYS = 365


def generate(n, seed):
    rng = np.random.default_rng(seed)
    arrival = rng.uniform(0.0, ARRIVAL_DAYS, n)
    lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], n)
    pdie = rng.beta(TRUE["a"], TRUE["b"], n)
    nu = rng.gamma(TRUE["q"], 1.0 / TRUE["v"], n)
    day0 = np.floor(arrival).astype(np.int64)

    # repeat purchases, one round per purchase number, for the users still in
    idx = np.flatnonzero(lam > 0.0)
    t = arrival[idx]
    users, times = [], []
    while idx.size:
        t = t + rng.exponential(1.0, idx.size) / lam[idx]
        inside = t < DAYS
        idx, t = idx[inside], t[inside]
        users.append(idx)
        times.append(t)
        alive = rng.random(idx.size) >= pdie[idx]
        idx, t = idx[alive], t[alive]
    c = np.concatenate(users)
    day = np.floor(np.concatenate(times)).astype(np.int64)
    amount = np.maximum(np.round(rng.gamma(TRUE["p"], 1.0, c.size) / nu[c], 2), 0.01)
    end_day = max(int(day.max()) if day.size else 0, int(day0.max()))

    # calendar days: purchases on the first purchase's day are part of it
    keep = day != day0[c]
    c, day, amount = c[keep], day[keep], amount[keep]
    order = np.lexsort((day, c))
    c, day, amount = c[order], day[order], amount[order]
    first = np.ones(c.size, dtype=bool)
    first[1:] = (c[1:] != c[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(first)
    day_sum = np.add.reduceat(amount, starts) if starts.size else np.zeros(0)
    dc, dd = c[starts], day[starts]
    frequency = np.bincount(dc, minlength=n)
    total = np.bincount(dc, weights=day_sum, minlength=n)
    last = day0.copy()
    last_of = np.ones(dc.size, dtype=bool)
    last_of[:-1] = dc[1:] != dc[:-1]
    last[dc[last_of]] = dd[last_of]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, total / np.maximum(frequency, 1), 0.0)
    return pd.DataFrame({
        "frequency": frequency.astype(float),
        "recency": (last - day0).astype(float),
        "T": (end_day - day0).astype(float),
        "monetary_value": monetary,
    })


def timed(fn, repeat):
    times = []
    result = None
    for i in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if i == 0 and times[0] >= 60.0:
            break
    return times, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", help="per-user CSV with frequency,recency,T,monetary_value")
    ap.add_argument("--users", type=int, default=1_000_000, help="users to generate (no --csv)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--write-csv", help="save the generated summaries here")
    ap.add_argument("--repeat", type=int, default=3, help="runs per fit (median; 1 if a run takes >= 60 s)")
    ap.add_argument("--tol", type=float, default=1e-7,
                    help="tol passed to both fits (default: lifetimes' own default, 1e-7)")
    args = ap.parse_args()

    if args.csv:
        data = pd.read_csv(args.csv, usecols=["frequency", "recency", "T", "monetary_value"],
                           float_precision="round_trip")
        source = args.csv
        gen_s = None
    else:
        start = time.perf_counter()
        data = generate(args.users, args.seed)
        gen_s = time.perf_counter() - start
        source = "generated: %d users, gen_dates parameters, seed %d" % (args.users, args.seed)
        if args.write_csv:
            os.makedirs(os.path.dirname(os.path.abspath(args.write_csv)), exist_ok=True)
            data.to_csv(args.write_csv, index=False, float_format="%.17g")
    rep = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]

    # lifetimes prints scipy's result and raises ConvergenceError when scipy
    # reports no success (at a tight tol: "precision loss"); timed anyway.
    def fit_bg():
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return BetaGeoFitter(penalizer_coef=0.0).fit(
                    data["frequency"], data["recency"], data["T"], tol=args.tol)
        except ConvergenceError:
            return None

    def fit_gg():
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return GammaGammaFitter(penalizer_coef=0.0).fit(
                    rep["frequency"], rep["monetary_value"], tol=args.tol)
        except ConvergenceError:
            return None

    bg_times, bgf = timed(fit_bg, args.repeat)
    gg_times, ggf = timed(fit_gg, args.repeat)

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(l.split(":", 1)[1].strip() for l in fh if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print("# lifetimes fit times")
    print("input: %s" % source)
    if gen_s is not None:
        print("generation: %.1f s" % gen_s)
    print("users: %d, repeaters used by Gamma-Gamma: %d, tol: %g" % (len(data), len(rep), args.tol))
    print("machine: %s, %d CPUs; Python %s, lifetimes %s, numpy %s, scipy %s, pandas %s, autograd %s"
          % (cpu, os.cpu_count(), platform.python_version(), metadata.version("lifetimes"),
             np.__version__, metadata.version("scipy"), pd.__version__, metadata.version("autograd")))
    print()
    print("| fit | median s | runs (s) | parameters |")
    print("| --- | ---: | --- | --- |")
    for name, times, model in [("BetaGeoFitter.fit", bg_times, bgf), ("GammaGammaFitter.fit", gg_times, ggf)]:
        if model is None:
            params = "ConvergenceError (scipy: no success at this tol)"
        else:
            params = ", ".join("%s=%.6g" % kv for kv in model.params_.items())
        print("| %s | %.2f | %s | %s |" % (name, statistics.median(times),
                                           " ".join("%.2f" % x for x in times), params))
    return 0


if __name__ == "__main__":
    sys.exit(main())

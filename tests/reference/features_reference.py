#!/usr/bin/env python3
"""Independent reference implementation of `segmint features`.

What it is
    A small, deliberately plain re-implementation of the per-user feature
    table that `segmint features` writes, written from the written contract
    (not from segmint's Rust code). It is used to produce the expected
    outputs under tests/fixtures/features/, which the Rust integration test
    tests/reference_features.rs compares against the real binary.

    It supports the options the fixtures use: --user-col/--time-col/
    --amount-col/--channel-col/--status-col (header name, or 1-based position
    with --no-header), --no-header, --delimiter (, ; tab | whitespace),
    --time-format (auto = ISO only here, iso, ymd, unix, unix-ms), --as-of,
    --success-status, --dormant-days, --trend-days. Money is summed with
    decimal.Decimal and times are exact integer milliseconds since
    1970-01-01T00:00:00Z; medians of day gaps are exact fractions.

Python version
    Written and run with CPython 3.11.7; uses only the standard library
    (argparse, csv, datetime, decimal, fractions, io, math, re, sys, os).

How to run
    Regenerate every expected file listed in tests/fixtures/features/cases.txt
    (run from the repository root):

        python3 tests/reference/features_reference.py --cases tests/fixtures/features/cases.txt

    Check that the committed expected files are up to date (exit status 1 if not):

        python3 tests/reference/features_reference.py --cases tests/fixtures/features/cases.txt --check

    One ad-hoc run, with segmint-like arguments:

        python3 tests/reference/features_reference.py log.csv --as-of 2025-03-31 -o out.csv
"""

import argparse
import csv
import datetime
import io
import math
import os
import re
import sys
from decimal import Decimal, InvalidOperation
from fractions import Fraction

MS_PER_SECOND = 1000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()

DEFAULT_COLUMNS = {
    "user": "user_id",
    "time": "created_at",
    "amount": "total_price",
    "channel": "channel",
    "status": "status",
}
OPTIONAL_ROLES = ("channel", "status")


class ReferenceError(Exception):
    pass


# --------------------------------------------------------------------------
# Times: everything becomes integer milliseconds since the Unix epoch (UTC).
# --------------------------------------------------------------------------

ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?)?$"
)


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (validates it)."""
    try:
        return datetime.date(year, month, day).toordinal() - EPOCH_ORDINAL
    except ValueError as e:
        raise ReferenceError(f"bad date {year:04}-{month:02}-{day:02}: {e}")


def parse_iso(text):
    m = ISO_RE.match(text)
    if not m:
        raise ReferenceError(f"not an ISO time: {text!r}")
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    ms = days_from_civil(year, month, day) * MS_PER_DAY
    if m.group(4) is None:
        return ms  # bare date: midnight UTC
    hour, minute, second = int(m.group(4)), int(m.group(5)), int(m.group(6))
    if hour > 23 or minute > 59 or second > 59:
        raise ReferenceError(f"bad clock time: {text!r}")
    ms += hour * MS_PER_HOUR + minute * 60_000 + second * MS_PER_SECOND
    fraction = m.group(7)
    if fraction is not None:
        # millisecond resolution; further digits are truncated
        ms += int((fraction + "00")[:3])
    zone = m.group(8)
    if zone is not None and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset_minutes = int(digits[:2]) * 60 + int(digits[2:])
        # local = UTC + offset  =>  UTC = local - offset
        ms -= sign * offset_minutes * 60_000
    return ms


def parse_time(text, fmt):
    text = text.strip()
    if fmt in ("auto", "iso"):
        # The fixtures only use ISO text with the default `auto`.
        return parse_iso(text)
    if fmt == "ymd":
        if not re.fullmatch(r"\d{8}", text):
            raise ReferenceError(f"not YYYYMMDD: {text!r}")
        return days_from_civil(int(text[:4]), int(text[4:6]), int(text[6:])) * MS_PER_DAY
    if fmt == "unix":
        if not re.fullmatch(r"-?\d+", text):
            raise ReferenceError(f"not unix seconds: {text!r}")
        return int(text) * MS_PER_SECOND
    if fmt == "unix-ms":
        if not re.fullmatch(r"-?\d+", text):
            raise ReferenceError(f"not unix milliseconds: {text!r}")
        return int(text)
    raise ReferenceError(f"unknown time format {fmt!r}")


def day_of(ms):
    return ms // MS_PER_DAY  # floor division: right for times before 1970 too


def hour_of(ms):
    return ms // MS_PER_HOUR


def format_time(ms):
    """UTC ISO 8601, `.mmm` only when the milliseconds are non-zero."""
    day, rest = divmod(ms, MS_PER_DAY)
    date = datetime.date.fromordinal(day + EPOCH_ORDINAL)
    hour, rest = divmod(rest, MS_PER_HOUR)
    minute, rest = divmod(rest, 60_000)
    second, milli = divmod(rest, MS_PER_SECOND)
    text = f"{date.year:04}-{date.month:02}-{date.day:02}T{hour:02}:{minute:02}:{second:02}"
    if milli:
        text += f".{milli:03}"
    return text + "Z"


# --------------------------------------------------------------------------
# Amounts and numbers in the output.
# --------------------------------------------------------------------------

AMOUNT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def parse_amount(text):
    text = text.strip()
    if not AMOUNT_RE.match(text):
        raise ReferenceError(f"not a decimal amount: {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ReferenceError(f"not a decimal amount: {text!r}")


def format_decimal(value):
    """Exact decimal, trailing zeros trimmed, never exponent notation."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_float(value):
    return repr(float(value))  # shortest round-trip form


# --------------------------------------------------------------------------
# Reading logs.
# --------------------------------------------------------------------------

DELIMITERS = {",": ",", "comma": ",", ";": ";", "semicolon": ";", "tab": "\t",
              "\t": "\t", "|": "|", "pipe": "|", "whitespace": None}


def read_rows(path, delimiter):
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    if delimiter is None:
        rows = []
        for line in text.split("\n"):
            fields = line.split()  # runs of blanks separate fields
            if fields:
                rows.append(fields)
        return rows
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        quotechar='"', doublequote=True, strict=True)
    return [row for row in reader if row]


def resolve_columns(header, args, path):
    """Map role -> 0-based field index (or None for an absent optional role)."""
    chosen = {
        "user": args.user_col, "time": args.time_col, "amount": args.amount_col,
        "channel": args.channel_col, "status": args.status_col,
    }
    columns = {}
    for role, given in chosen.items():
        if args.no_header:
            if given is None:
                if role in OPTIONAL_ROLES:
                    columns[role] = None
                    continue
                raise ReferenceError(f"{path}: --no-header needs a position for {role}")
            columns[role] = int(given) - 1
            continue
        name = given if given is not None else DEFAULT_COLUMNS[role]
        if name in header:
            columns[role] = header.index(name)
        elif given is None and role in OPTIONAL_ROLES:
            columns[role] = None
        else:
            raise ReferenceError(f"{path}: no column {name!r} in header {header!r}")
    return columns


def load(args):
    delimiter = DELIMITERS[args.delimiter]
    as_of = parse_time(args.as_of, args.time_format) if args.as_of is not None else None
    transactions = []  # (user, ms, amount, channel, status)
    has_channel = has_status = False
    for path in args.inputs:
        rows = read_rows(path, delimiter)
        if args.no_header:
            header = None
        else:
            header, rows = rows[0], rows[1:]
        columns = resolve_columns(header, args, path)
        has_channel |= columns["channel"] is not None
        has_status |= columns["status"] is not None
        for row in rows:
            def cell(role):
                index = columns[role]
                if index is None:
                    return ""
                if index >= len(row):
                    raise ReferenceError(f"{path}: short row {row!r}")
                return row[index]
            ms = parse_time(cell("time"), args.time_format)
            transactions.append((cell("user"), ms, parse_amount(cell("amount")),
                                 cell("channel"), cell("status").strip()))
    if not transactions:
        raise ReferenceError("no transactions")
    if as_of is None:
        as_of = max(t[1] for t in transactions)
    # Rows later than as_of are left out entirely (also for channels/window).
    transactions = [t for t in transactions if t[1] <= as_of]
    return transactions, as_of, has_channel, has_status


# --------------------------------------------------------------------------
# Cadence: gaps between active days and the trend window W.
# --------------------------------------------------------------------------

def median(values):
    """Exact median (a Fraction) of integers or Fractions; the median of an
    even count is the mean of the two middle values."""
    ordered = sorted(Fraction(v) for v in values)
    n = len(ordered)
    if n == 0:
        raise ReferenceError("median of nothing")
    middle = n // 2
    if n % 2 == 1:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def gap_median(days):
    """Median gap between consecutive distinct active days (sorted ints), or
    None for a single active day."""
    if len(days) < 2:
        return None
    return median(b - a for a, b in zip(days, days[1:]))


def trend_days(args, gap_medians, window_days):
    """The trend window W of cadence_trend.

    --trend-days N when given (no further adjustment). Otherwise from the
    log's cadence: g = median of the users' gap_days (users with at least two
    active days); none: W = 7; else W = max(7, 7 * ceil(3g / 7)), then at most
    half the window: if W > window_days // 2, W = max(7, window_days // 2).
    """
    if args.trend_days is not None:
        return args.trend_days
    if not gap_medians:
        return 7
    g = median(gap_medians)
    w = max(7, 7 * math.ceil(3 * g / 7))  # exact: g is a Fraction
    if w > window_days // 2:
        w = max(7, window_days // 2)
    return w


def trend(count_last, frequency, days_last, prev_days):
    """(count_last / days_last) / avg_prev - 1, with avg_prev = the user's
    daily transactions before the last `days_last` days; None when there are
    no previous days or avg_prev is 0. The same arithmetic, in the same
    order, as usage_trend (days_last = 7)."""
    if prev_days <= 0:
        return None
    prev = (frequency - count_last) / prev_days
    if prev == 0:
        return None
    return (count_last / days_last) / prev - 1


# --------------------------------------------------------------------------
# Features.
# --------------------------------------------------------------------------

def compute(args):
    """The feature table (header first) and the trend window W it used."""
    transactions, as_of, has_channel, has_status = load(args)
    successes = {s.strip().lower() for s in args.success_status.split(",") if s.strip()}
    channels = sorted({t[3] for t in transactions if t[3] != ""},
                      key=lambda c: c.encode("utf-8"))
    as_of_day = day_of(as_of)
    window_start = min(day_of(t[1]) for t in transactions)
    window_days = as_of_day - window_start + 1
    last7_first_day = as_of_day - 6
    prev_days = window_days - 7  # days from window_start to as_of_day - 7

    by_user = {}
    for t in transactions:
        by_user.setdefault(t[0], []).append(t)

    # Active days (distinct UTC dates) per user, sorted, and their gap medians;
    # W needs every user's gap_days before any row is written.
    active = {u: sorted({day_of(t[1]) for t in txs}) for u, txs in by_user.items()}
    gaps = {u: gap_median(days) for u, days in active.items()}
    w = trend_days(args, [g for g in gaps.values() if g is not None], window_days)
    w_first_day = as_of_day - w + 1  # first of the last W days
    w_prev_days = w_first_day - window_start  # days from window_start to as_of_day - W

    header = ["user_id", "frequency", "monetary", "first_seen", "last_seen",
              "recency_days", "tenure_days", "active_days", "active_hours",
              "active_span_days", "age_days", "gap_days", "repeat_spend",
              "channel_diversity"]
    header += ["share_" + c for c in channels]
    header += ["success_rate", "failure_rate", "avg_daily_volume", "avg_daily_last_7d",
               "avg_daily_prev", "usage_trend", "cadence_trend", "is_dormant"]

    out = [header]
    for user in sorted(by_user, key=lambda u: u.encode("utf-8")):
        txs = by_user[user]
        frequency = len(txs)
        monetary = sum((t[2] for t in txs), Decimal(0))
        first = min(t[1] for t in txs)
        last = max(t[1] for t in txs)
        recency = (as_of - last) / MS_PER_DAY
        tenure = (as_of - first) / MS_PER_DAY
        days = active[user]
        active_days = len(days)
        active_hours = len({hour_of(t[1]) for t in txs})  # hour index = (date, hour)
        row = [user, str(frequency), format_decimal(monetary), format_time(first),
               format_time(last), format_float(recency), format_float(tenure),
               str(active_days), str(active_hours)]
        # BG/NBD-style cadence: span and age in whole days, median gap, and
        # the mean spend per repeat day (everything after the first day).
        row.append(str(days[-1] - days[0]))
        row.append(str(as_of_day - days[0]))
        row.append(format_float(gaps[user]) if gaps[user] is not None else "")
        if active_days > 1:
            first_day_spend = sum((t[2] for t in txs if day_of(t[1]) == days[0]), Decimal(0))
            row.append(format_float(float(monetary - first_day_spend) / (active_days - 1)))
        else:
            row.append("")
        user_channels = [t[3] for t in txs]
        row.append(str(len({c for c in user_channels if c != ""})) if has_channel else "")
        for c in channels:
            row.append(format_float(user_channels.count(c) / frequency))
        statuses = [t[4] for t in txs if t[4] != ""]
        if has_status and statuses:
            rate = sum(1 for s in statuses if s.lower() in successes) / len(statuses)
            row += [format_float(rate), format_float(1.0 - rate)]
        else:
            row += ["", ""]
        row.append(format_float(frequency / window_days))
        last7 = sum(1 for t in txs if day_of(t[1]) >= last7_first_day) / 7
        row.append(format_float(last7))
        if prev_days > 0:
            prev = sum(1 for t in txs if day_of(t[1]) < last7_first_day) / prev_days
            row.append(format_float(prev))
            usage_trend = format_float(last7 / prev - 1) if prev != 0 else ""
        else:
            row.append("")
            usage_trend = ""
        row.append(usage_trend)
        count_last_w = sum(1 for t in txs if day_of(t[1]) >= w_first_day)
        cadence = trend(count_last_w, frequency, w, w_prev_days)
        cadence_trend = format_float(cadence) if cadence is not None else ""
        # cadence_trend over 7 days is usage_trend, to the last bit.
        count_last7 = sum(1 for t in txs if day_of(t[1]) >= last7_first_day)
        trend7 = trend(count_last7, frequency, 7, prev_days)
        assert (format_float(trend7) if trend7 is not None else "") == usage_trend, user
        assert w != 7 or cadence_trend == usage_trend, (user, cadence_trend, usage_trend)
        row.append(cadence_trend)
        row.append("true" if recency > args.dormant_days else "false")
        out.append(row)
    return out, w


def to_csv(table):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(table)
    return buffer.getvalue()


def trend_days_arg(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--trend-days needs an integer >= 1, not {text!r}")
    return value


def parser():
    p = argparse.ArgumentParser(description="Reference `segmint features`.")
    p.add_argument("inputs", nargs="*")
    p.add_argument("-o", "--output")
    p.add_argument("--user-col")
    p.add_argument("--time-col")
    p.add_argument("--amount-col")
    p.add_argument("--channel-col")
    p.add_argument("--status-col")
    p.add_argument("--no-header", action="store_true")
    p.add_argument("--delimiter", default=",", choices=sorted(DELIMITERS))
    p.add_argument("--time-format", default="auto",
                   choices=["auto", "iso", "ymd", "unix", "unix-ms"])
    p.add_argument("--as-of")
    p.add_argument("--success-status", default="delivered,read,opened,clicked")
    p.add_argument("--dormant-days", type=float, default=30.0)
    p.add_argument("--trend-days", type=trend_days_arg,
                   help="cadence_trend's window W in days (default: from the log's cadence)")
    p.add_argument("--print-trend-days", action="store_true",
                   help="print the trend window W on stderr (not a segmint option)")
    p.add_argument("--chunk-bytes", type=int,
                   help="segmint's parallel chunk size: accepted, no effect on features")
    p.add_argument("--cases", help="cases file: regenerate (or --check) every expected file")
    p.add_argument("--check", action="store_true",
                   help="with --cases: compare instead of writing; exit 1 on differences")
    return p


# --------------------------------------------------------------------------
# cases.txt: blocks of `[name]` followed by `inputs = ...`, `args = ...`,
# `expected = ...` (paths relative to the cases file's folder; args split on
# whitespace, no quoting). Shared with tests/reference_features.rs.
# --------------------------------------------------------------------------

def read_cases(path):
    cases = []
    current = None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = {"name": line[1:-1], "inputs": [], "args": [], "expected": None}
                cases.append(current)
                continue
            key, sep, value = line.partition("=")
            if not sep or current is None:
                raise ReferenceError(f"{path}:{number}: expected `key = value` in a case")
            key, value = key.strip(), value.strip()
            if key in ("inputs", "args"):
                current[key] = value.split()
            elif key == "expected":
                current["expected"] = value
            else:
                raise ReferenceError(f"{path}:{number}: unknown key {key!r}")
    for case in cases:
        if not case["inputs"] or not case["expected"]:
            raise ReferenceError(f"case {case['name']}: needs inputs and expected")
    return cases


def run_cases(cases_path, check):
    folder = os.path.dirname(os.path.abspath(cases_path))
    produced = {}  # expected file -> (case name, text)
    for case in read_cases(cases_path):
        args = parser().parse_args(case["args"])
        args.inputs = [os.path.join(folder, i) for i in case["inputs"]]
        table, w = compute(args)
        text = to_csv(table)
        print(f"{case['name']}: W = {w}", file=sys.stderr)
        expected = case["expected"]
        if expected in produced and produced[expected][1] != text:
            raise ReferenceError(
                f"cases {produced[expected][0]} and {case['name']} share {expected} "
                f"but give different features")
        produced.setdefault(expected, (case["name"], text))
    stale = []
    for expected, (_, text) in sorted(produced.items()):
        target = os.path.join(folder, expected)
        if check:
            try:
                with open(target, encoding="utf-8", newline="") as f:
                    if f.read() != text:
                        stale.append(expected)
            except FileNotFoundError:
                stale.append(expected)
        else:
            with open(target, "w", encoding="utf-8", newline="") as f:
                f.write(text)
    if check and stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    print(f"{'checked' if check else 'wrote'} {len(produced)} expected files "
          f"for {sum(1 for _ in read_cases(cases_path))} cases", file=sys.stderr)
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if args.cases:
            return run_cases(args.cases, args.check)
        if not args.inputs or not args.output:
            parser().error("give INPUT... and -o OUTPUT, or --cases FILE")
        table, w = compute(args)
        if args.print_trend_days:
            print(f"trend window W = {w} days", file=sys.stderr)
        text = to_csv(table)
        if args.output == "-":
            sys.stdout.write(text)
        else:
            with open(args.output, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        return 0
    except ReferenceError as e:
        print(f"features_reference: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

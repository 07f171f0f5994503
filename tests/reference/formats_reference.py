#!/usr/bin/env python3
"""Input-format fixtures for segmint: the same logs and feature tables as CSV,
compressed CSV, Parquet and Arrow IPC, written by PyArrow (not by segmint).

What it is
    segmint reads transaction logs and feature tables as CSV (plain, gzip or
    zstd, told apart by their first bytes), Parquet and Arrow IPC (file and
    stream). This script writes, into tests/fixtures/formats/, one small
    generated log and one feature table in each of those formats, plus broken
    files, so that tests can check that every format of the same data gives
    segmint the same result as its CSV "twin", and that broken inputs are
    refused. Everything but the CSV text comes from an independent writer:
    PyArrow (Parquet, Arrow IPC), Python's gzip module and the `zstandard`
    package. tests/fixtures/formats/README.md (written by this script too)
    says what each file is, which CSV it is a twin of, and where its nulls are.

    The data comes from Python's `random.Random(SEED)` (fixed seeds, no
    numpy), so it does not depend on any package version. The binary files
    depend on the pinned PyArrow and zstandard versions (and gzip's bytes on
    the zlib that CPython links); their CONTENT does not.

Checks made before anything is written (the script stops on failure)
    * every Parquet / Arrow file read back with PyArrow gives, row by row,
      the same (user, instant in ms, amount, channel, status) as its CSV twin
      parsed by a plain-Python ISO parser here (nulls where the CSV is empty,
      amounts equal as float64, instants exact, the sub-millisecond file
      truncated to ms), or the same feature values as features.csv;
    * the Parquet files have the row groups, codecs and dictionary pages
      claimed in the README, the Arrow files the number of batches claimed;
    * the two-member .csv.gz and two-frame .csv.zst decompress (as a whole)
      to log.csv's bytes, and have 2 members / frames;
    * the truncated and corrupt files fail to read in PyArrow / gzip /
      zstandard, and not_parquet.parquet is not Parquet.

Python version
    CPython 3.11.7 with tests/reference/requirements-formats.txt (pyarrow
    26.0.1, zstandard 0.25.0).

How to run (from the repository root)
    python3 -m venv tests/reference/.venv-formats
    tests/reference/.venv-formats/bin/pip install -r tests/reference/requirements-formats.txt
    tests/reference/.venv-formats/bin/python tests/reference/formats_reference.py
    # check that the committed files are what the script writes (exit 1 if not):
    tests/reference/.venv-formats/bin/python tests/reference/formats_reference.py --check
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import filecmp
import gzip
import io
import math
import os
import random
import re
import sys
import tempfile
import zlib
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import zstandard

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "formats"

SEED = 20250301
FEATURE_SEED = 20250302
USERS = 150
ROWS = 2000
FEATURE_USERS = 500
START = dt.datetime(2025, 1, 6, tzinfo=dt.timezone.utc)  # a Monday
SPAN_DAYS = 90  # to 2025-04-06: Paris changes to summer time on 2025-03-30
CHANNELS = ("SMS", "Email", "WhatsApp", "Call")
STATUSES = ("delivered", "read", "opened", "clicked", "failed", "bounced")
ROW_GROUP = 300
DATA_PAGE = 2048  # bytes: several data pages per column chunk
# 0-based indices (in the file's row order) of the null cells of the null
# fixtures; segmint counts data rows from 1, so these are rows 1237 and 778.
NULL_USER_INDEX = 1236
NULL_AMOUNT_INDEX = 777

MS_PER_DAY = 86_400_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
LOG_HEADER = ["user_id", "created_at", "total_price", "channel", "status"]


class FixtureError(Exception):
    pass


def check(cond, message):
    if not cond:
        raise FixtureError(message)


# --------------------------------------------------------------------------
# The generated data
# --------------------------------------------------------------------------


def user_ids(n):
    """String ids: `u1`..`u148` (not zero-padded) plus one with a comma (the
    CSV quotes it) and one with a non-ASCII letter."""
    ids = [f"u{i}" for i in range(1, n - 1)]
    ids.insert(40, "a,b")
    ids.insert(90, "Zoë")
    return ids


def int_user_ids(n):
    """Integer ids for log_int_users: small ones, 0, and 2^53 + 1 (which a
    float64 cannot hold: it must stay an integer all the way)."""
    ids = [1000 + 7 * i for i in range(n)]
    ids[3] = 0
    ids[17] = 9_007_199_254_740_993
    return ids


def amount_text(cents, rng):
    """Up to 2 decimals: `12.34`, sometimes `12.5` or `12` when exact."""
    d = Decimal(cents).scaleb(-2)  # exactly 2 decimals
    text = f"{d:.2f}"
    if rng.random() < 0.3 and "." in text:
        text = text.rstrip("0").rstrip(".")
        if text in ("", "-"):
            text = "0"
    return text


def make_log():
    """ROWS rows over USERS users, in time order. Each row is a dict with the
    instant (integer ms since the epoch), the CSV's time text, the amount's
    text, and channel/status (None where the CSV cell is empty)."""
    rng = random.Random(SEED)
    ids = user_ids(USERS)
    weights = [rng.paretovariate(1.3) for _ in ids]
    prefs = [rng.choices(range(len(CHANNELS)), k=3) for _ in ids]
    owners = list(range(USERS)) + rng.choices(range(USERS), weights=weights, k=ROWS - USERS)
    span_ms = SPAN_DAYS * MS_PER_DAY
    start_ms = int((START - EPOCH).total_seconds()) * 1000
    rows = []
    for u in owners:
        ms = start_ms + rng.randrange(span_ms)
        if rng.random() < 0.5:
            ms -= ms % 1000  # whole seconds
        cents = max(1, int(round(math.exp(rng.gauss(6.5, 1.2)))))
        if rng.random() < 0.06:
            cents = -cents  # a refund
        channel = CHANNELS[rng.choice(prefs[u])] if rng.random() >= 0.05 else None
        status = rng.choice(STATUSES) if rng.random() >= 0.05 else None
        rows.append({
            "user": u,
            "ms": ms,
            "iso_style": rng.random(),
            "cents": cents,
            "amount": amount_text(cents, rng),
            "channel": channel,
            "status": status,
        })
    rows.sort(key=lambda r: (r["ms"], r["user"]))
    for r in rows:
        r["time"] = time_text(r["ms"], r["iso_style"])
        r["seconds_time"] = time_text(r["ms"] - r["ms"] % 1000, 0.0)
        r["date"] = day_text(r["ms"])
    return ids, rows


def time_text(ms, style):
    """`2025-03-01 10:00:00` for whole seconds (mostly), else
    `2025-03-01T10:00:00.123Z`."""
    t = EPOCH + dt.timedelta(milliseconds=ms)
    if ms % 1000 == 0 and style < 0.7:
        return t.strftime("%Y-%m-%d %H:%M:%S")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def day_text(ms):
    return (EPOCH + dt.timedelta(milliseconds=ms)).strftime("%Y-%m-%d")


def make_features():
    """FEATURE_USERS users: frequency (int), monetary (2 decimals), active_days
    (int), recency_days (float), channel_diversity (int). The three columns
    segmint clusters by default (log1p:frequency, log1p:monetary,
    active_days) are complete, so the table can be fitted and scored as it
    is; recency_days and channel_diversity have some empty cells."""
    rng = random.Random(FEATURE_SEED)
    out = []
    for i in range(FEATURE_USERS):
        frequency = max(1, int(rng.paretovariate(1.1) * 3))
        monetary = round(frequency * math.exp(rng.gauss(3.0, 0.8)), 2)
        active_days = min(frequency, 1 + int(rng.random() * 90))
        recency = rng.random() * 120.0
        diversity = 1 + int(rng.random() * 4)
        out.append({
            "user_id": f"c{i:04d}",
            "frequency": frequency,
            "monetary": monetary,
            "active_days": active_days,
            "recency_days": None if rng.random() < 0.04 else recency,
            "channel_diversity": None if rng.random() < 0.03 else diversity,
        })
    return out


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


def log_csv_rows(ids, rows, time_key="time", user_of=None):
    user_of = user_of or (lambda u: ids[u])
    return [[user_of(r["user"]), r[time_key], r["amount"], r["channel"], r["status"]] for r in rows]


def dict_strings(values):
    return pa.array(values, type=pa.string()).dictionary_encode()


def ts_array(ms_values, unit, tz=None, extra_ns=None):
    """Timestamps of `unit` from integer ms (exact: ms is a multiple of every
    coarser unit the data uses); `extra_ns` adds sub-millisecond digits."""
    factor = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}[unit]
    if unit == "s":
        check(all(m % 1000 == 0 for m in ms_values), "timestamp[s] needs whole seconds")
        ints = [m // 1000 for m in ms_values]
    else:
        ints = [m * factor for m in ms_values]
    if extra_ns is not None:
        check(unit == "ns", "sub-millisecond digits need ns")
        ints = [v + e for v, e in zip(ints, extra_ns)]
    return pa.array(ints, type=pa.int64()).cast(pa.timestamp(unit, tz=tz))


def log_table(ids, rows, *, unit="ms", tz=None, seconds=False, dates=False, amounts="float",
              users="string", extra_ns=None, null_user=None, null_amount=None):
    user_vals = [ids[r["user"]] for r in rows]
    if null_user is not None:
        user_vals[null_user] = None
    user_arr = pa.array(user_vals, type=pa.string() if users == "string" else pa.int64())
    if dates:
        days = [r["ms"] // MS_PER_DAY for r in rows]
        time_arr = pa.array(days, type=pa.int32()).cast(pa.date32())
    else:
        ms = [r["ms"] - r["ms"] % 1000 if seconds else r["ms"] for r in rows]
        time_arr = ts_array(ms, unit, tz, extra_ns)
    if amounts == "float":
        amt = [float(r["amount"]) for r in rows]
        if null_amount is not None:
            amt[null_amount] = None
        amt_arr = pa.array(amt, type=pa.float64())
    else:
        amt = [Decimal(r["amount"]).quantize(Decimal("0.01")) for r in rows]
        amt_arr = pa.array(amt, type=pa.decimal128(12, 2))
    return pa.table({
        "user_id": user_arr,
        "created_at": time_arr,
        "total_price": amt_arr,
        "channel": dict_strings([r["channel"] for r in rows]),
        "status": dict_strings([r["status"] for r in rows]),
    })


def strings_table(ids, rows):
    """Every column a string, as the CSV text; user_id large_string, channel
    string_view; nulls where the CSV is empty."""
    return pa.table({
        "user_id": pa.array([ids[r["user"]] for r in rows], type=pa.large_string()),
        "created_at": pa.array([r["time"] for r in rows], type=pa.string()),
        "total_price": pa.array([r["amount"] for r in rows], type=pa.string()),
        "channel": pa.array([r["channel"] for r in rows], type=pa.string()).cast(pa.string_view()),
        "status": pa.array([r["status"] for r in rows], type=pa.string()),
    })


def features_table(feats):
    return pa.table({
        "user_id": pa.array([f["user_id"] for f in feats], type=pa.string()),
        "frequency": pa.array([f["frequency"] for f in feats], type=pa.int64()),
        "monetary": pa.array([f["monetary"] for f in feats], type=pa.float64()),
        "active_days": pa.array([f["active_days"] for f in feats], type=pa.int32()),
        "recency_days": pa.array([f["recency_days"] for f in feats], type=pa.float64()),
        "channel_diversity": pa.array([f["channel_diversity"] for f in feats], type=pa.int64()),
    })


def write_parquet(table, path, compression, **kw):
    opts = dict(row_group_size=ROW_GROUP, data_page_size=DATA_PAGE, use_dictionary=True,
                compression=compression, write_statistics=True)
    opts.update(kw)
    pq.write_table(table, path, **opts)


def write_ipc_file(table, path, max_chunk, compression=None):
    opts = ipc.IpcWriteOptions(compression=compression)
    with ipc.new_file(path, table.schema, options=opts) as w:
        for b in table.to_batches(max_chunksize=max_chunk):
            w.write_batch(b)


def write_ipc_stream(table, path, max_chunk, compression=None):
    opts = ipc.IpcWriteOptions(compression=compression)
    with ipc.new_stream(path, table.schema, options=opts) as w:
        for b in table.to_batches(max_chunksize=max_chunk):
            w.write_batch(b)


def split_at_line(data: bytes, fraction: float) -> int:
    """Offset just after the newline at or after `fraction` of the data."""
    at = data.index(b"\n", int(len(data) * fraction)) + 1
    return at


# --------------------------------------------------------------------------
# Self-checks: independent reading of what was written
# --------------------------------------------------------------------------

ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?(Z)?)?$")


def parse_ms(text):
    m = ISO_RE.match(text)
    check(m is not None, f"not an ISO time: {text!r}")
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    days = dt.date(y, mo, d).toordinal() - dt.date(1970, 1, 1).toordinal()
    ms = days * MS_PER_DAY
    if m.group(4):
        ms += (int(m.group(4)) * 3600 + int(m.group(5)) * 60 + int(m.group(6))) * 1000
        ms += int(m.group(7) or 0)
    return ms


def csv_log_records(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        check(next(r) == LOG_HEADER, f"{path.name}: header")
        return [(u, parse_ms(t), float(Decimal(a)), c or None, s or None) for u, t, a, c, s in r]


def arrow_log_records(table):
    """(user as text, instant in ms, amount as float, channel, status)."""
    cols = {}
    for name in LOG_HEADER:
        col = table.column(name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        cols[name] = col
    t = cols["created_at"]
    if pa.types.is_timestamp(t.type):
        per_ms = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}[t.type.unit]
        raw = t.cast(pa.int64()).to_pylist()
        times = [v * 1000 if per_ms is None else v // per_ms for v in raw]
    elif pa.types.is_date32(t.type):
        times = [v * MS_PER_DAY for v in t.cast(pa.int32()).to_pylist()]
    else:
        times = [parse_ms(v) for v in t.cast(pa.string()).to_pylist()]
    a = cols["total_price"]
    if pa.types.is_floating(a.type):
        amounts = a.to_pylist()
    else:
        amounts = [None if v is None else float(Decimal(str(v))) for v in a.to_pylist()]
    users = [None if v is None else str(v) for v in cols["user_id"].to_pylist()]
    chan = cols["channel"].cast(pa.string()).to_pylist()
    stat = cols["status"].cast(pa.string()).to_pylist()
    return list(zip(users, times, amounts, chan, stat))


def compare_records(name, got, want):
    check(len(got) == len(want), f"{name}: {len(got)} rows, twin has {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        check(g == w, f"{name}: row {i + 1} is {g}, twin says {w}")


def csv_feature_records(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        out = []
        for row in r:
            out.append(tuple([row[0]] + [None if v == "" else float(v) for v in row[1:]]))
        return header, out


def arrow_feature_records(table):
    cols = [table.column(n).to_pylist() for n in table.column_names]
    return [tuple([c[0]] + [None if v is None else float(v) for v in c[1:]]) for c in zip(*cols)]


def read_ipc_any(path):
    data = path.read_bytes()
    if data.startswith(b"ARROW1"):
        reader = ipc.open_file(pa.BufferReader(data))
        batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        return pa.Table.from_batches(batches, schema=reader.schema), len(batches), "file"
    reader = ipc.open_stream(pa.BufferReader(data))
    batches = list(reader)
    return pa.Table.from_batches(batches, schema=reader.schema), len(batches), "stream"


def parquet_facts(path):
    md = pq.ParquetFile(path).metadata
    codecs, encodings, pages_v2 = set(), set(), False
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        for c in range(rg.num_columns):
            cc = rg.column(c)
            codecs.add(cc.compression)
            encodings.update(cc.encodings)
    dict_pages = any(md.row_group(g).column(c).has_dictionary_page
                     for g in range(md.num_row_groups) for c in range(md.num_columns))
    return {
        "rows": md.num_rows,
        "row_groups": md.num_row_groups,
        "group_sizes": [md.row_group(g).num_rows for g in range(md.num_row_groups)],
        "codecs": sorted(codecs),
        "encodings": sorted(encodings),
        "dictionary_pages": dict_pages,
        "created_by": md.created_by,
        "format_version": md.format_version,
    }


def gzip_members(data):
    n, rest = 0, data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        d.decompress(rest)
        check(d.eof, "gzip member not complete")
        rest = d.unused_data
        n += 1
    return n


def zstd_frames(data):
    n, at = 0, 0
    while at < len(data):
        zstandard.get_frame_parameters(data[at:])  # raises unless a frame header starts here
        d = zstandard.ZstdDecompressor().decompressobj()
        d.decompress(data[at:])
        check(d.eof, "zstd frame not complete")
        at = len(data) - len(d.unused_data)
        n += 1
    return n


def must_fail(label, fn, folder=None):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any error is what we want
        text = str(e).splitlines()[0]
        if folder is not None:  # the README must not depend on where it was written
            text = text.replace(str(folder) + os.sep, "")
        return f"{type(e).__name__}: {text[:200]}"
    raise FixtureError(f"{label} was read without an error")


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def generate(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file():
            old.unlink()
    ids, rows = make_log()
    iids = int_user_ids(USERS)
    facts = {}  # file -> README line data
    twins = {}

    def note(name, twin, what):
        facts[name] = what
        twins[name] = twin

    # --- CSV logs -----------------------------------------------------------
    write_csv(out / "log.csv", LOG_HEADER, log_csv_rows(ids, rows))
    write_csv(out / "log_seconds.csv", LOG_HEADER, log_csv_rows(ids, rows, "seconds_time"))
    write_csv(out / "log_int_users.csv", LOG_HEADER, log_csv_rows(ids, rows, user_of=lambda u: iids[u]))
    write_csv(out / "log_dates.csv", LOG_HEADER, log_csv_rows(ids, rows, "date"))
    note("log.csv", None, "The main log: ISO times, either `2025-01-06 10:00:00` (whole seconds) or "
         "`2025-01-06T10:00:00.123Z` (milliseconds; also `.000Z`), amounts with 0 to 2 decimals "
         "(some negative refunds), some empty `channel` / `status` cells. Ids `u1`..`u148`, `a,b` "
         "(quoted in the CSV) and `Zoë`. Rows in time order.")
    note("log_seconds.csv", None, "`log.csv` with every time truncated to the whole second, all "
         "written `YYYY-MM-DD HH:MM:SS`.")
    note("log_int_users.csv", None, "`log.csv` with integer user ids (1000 + 7 i; one is `0`, one is "
         "`9007199254740993` = 2^53 + 1, which a float64 cannot hold).")
    note("log_dates.csv", None, "`log.csv` with each time replaced by its UTC day `YYYY-MM-DD`.")

    # --- Parquet logs -------------------------------------------------------
    rng = random.Random(SEED + 1)
    sub_ms = [rng.randrange(1_000_000) for _ in rows]
    parquet = [
        ("log_ts_s.parquet", "log_seconds.csv", log_table(ids, rows, unit="s", seconds=True), "snappy", {},
         "`created_at` timestamp[s] (no time zone). Parquet has no seconds unit: PyArrow stores "
         "milliseconds (TIMESTAMP(MILLIS), isAdjustedToUTC=false) and keeps `timestamp[s]` in the "
         "`ARROW:schema` metadata (PyArrow itself reads it back as timestamp[ms]). Every instant "
         "is a whole second."),
        ("log_ts_ms.parquet", "log.csv", log_table(ids, rows, unit="ms"), "zstd", {},
         "`created_at` timestamp[ms] (no time zone)."),
        ("log_ts_us.parquet", "log.csv", log_table(ids, rows, unit="us", tz="UTC"), "gzip",
         {"data_page_version": "2.0"},
         "`created_at` timestamp[us, tz=UTC]; data pages v2."),
        ("log_ts_ns.parquet", "log.csv", log_table(ids, rows, unit="ns", tz="Europe/Paris"), "lz4", {},
         "`created_at` timestamp[ns, tz=Europe/Paris] (the same instants; the log spans the "
         "2025-03-30 change to summer time). PyArrow's `lz4` is Parquet's LZ4_RAW."),
        ("log_ts_ms_utc.parquet", "log.csv", log_table(ids, rows, unit="ms", tz="UTC"), "none", {},
         "`created_at` timestamp[ms, tz=UTC], uncompressed."),
        ("log_ts_ns_subms.parquet", "log.csv", log_table(ids, rows, unit="ns", extra_ns=sub_ms), "zstd", {},
         "`created_at` timestamp[ns] (no time zone) with random sub-millisecond digits "
         "(0..999,999 ns added to each instant): truncated to the millisecond, they are log.csv's times."),
        ("log_decimal.parquet", "log.csv", log_table(ids, rows, unit="ms", tz="UTC", amounts="decimal"),
         "snappy", {}, "`total_price` decimal128(12, 2); `created_at` timestamp[ms, tz=UTC]."),
        ("log_int_users.parquet", "log_int_users.csv",
         log_table(iids, rows, unit="ms", users="int"), "zstd", {},
         "`user_id` int64; `created_at` timestamp[ms]."),
        ("log_dates.parquet", "log_dates.csv", log_table(ids, rows, dates=True), "snappy", {},
         "`created_at` date32."),
        ("log_strings.parquet", "log.csv", strings_table(ids, rows), "zstd", {"use_dictionary": False},
         "Every column a string holding log.csv's text (times and amounts as written there): "
         "`user_id` large_string, `channel` string_view, the others string; nulls where the CSV "
         "is empty; no dictionary encoding (plain pages)."),
        ("log_null_user.parquet", None, log_table(ids, rows, unit="ms", null_user=NULL_USER_INDEX),
         "snappy", {},
         f"As log_ts_ms.parquet but `user_id` is null in data row {NULL_USER_INDEX + 1} (1-based, "
         f"index {NULL_USER_INDEX}; row group {NULL_USER_INDEX // ROW_GROUP}, its row "
         f"{NULL_USER_INDEX % ROW_GROUP + 1}). Otherwise log.csv's rows."),
        ("log_null_amount.parquet", None, log_table(ids, rows, unit="ms", null_amount=NULL_AMOUNT_INDEX),
         "snappy", {},
         f"As log_ts_ms.parquet but `total_price` is null in data row {NULL_AMOUNT_INDEX + 1} "
         f"(1-based, index {NULL_AMOUNT_INDEX}; row group {NULL_AMOUNT_INDEX // ROW_GROUP}, its row "
         f"{NULL_AMOUNT_INDEX % ROW_GROUP + 1}). Otherwise log.csv's rows."),
    ]
    for name, twin, table, codec, kw, what in parquet:
        write_parquet(table, out / name, codec, **kw)
        note(name, twin, what)

    # --- Arrow IPC logs -----------------------------------------------------
    main = log_table(ids, rows, unit="ms", tz="UTC")
    write_ipc_file(main, out / "log.arrow", 512)
    note("log.arrow", "log.csv", "Arrow IPC **file** (`ARROW1`), record batches of 512 rows, "
         "uncompressed; `created_at` timestamp[ms, tz=UTC], channel/status dictionary<int32, string>.")
    write_ipc_stream(log_table(ids, rows, unit="us"), out / "log.arrows", 300, compression="zstd")
    note("log.arrows", "log.csv", "Arrow IPC **stream** (starts `ff ff ff ff`), record batches of "
         "300 rows, buffers zstd-compressed; `created_at` timestamp[us] (no time zone), "
         "channel/status dictionary<int32, string>.")

    # --- compressed CSV -----------------------------------------------------
    text = (out / "log.csv").read_bytes()
    cut = split_at_line(text, 0.4)
    gz = gzip.compress(text[:cut], compresslevel=6, mtime=0) + gzip.compress(text[cut:], compresslevel=9, mtime=0)
    (out / "log.csv.gz").write_bytes(gz)
    note("log.csv.gz", "log.csv", f"log.csv as **two gzip members** concatenated: bytes "
         f"0..{cut} (the header and the first lines) and the rest, split at a line boundary.")
    zc = zstandard.ZstdCompressor(level=3, write_content_size=True, write_checksum=True)
    zs = zc.compress(text[:cut])
    zc2 = zstandard.ZstdCompressor(level=19, write_content_size=False, write_checksum=False)
    zs += zc2.compress(text[cut:])
    (out / "log.csv.zst").write_bytes(zs)
    note("log.csv.zst", "log.csv", f"log.csv as **two zstd frames**: bytes 0..{cut} (with content "
         "size and checksum) and the rest (level 19, neither).")
    (out / "truncated.csv.gz").write_bytes(gz[: len(gz) // 3])
    note("truncated.csv.gz", None, f"The first {len(gz) // 3} of log.csv.gz's {len(gz)} bytes: "
         "cut inside the first member (no trailer). Must be an error, not a short log.")
    (out / "truncated.csv.zst").write_bytes(zs[: len(zs) // 3])
    note("truncated.csv.zst", None, f"The first {len(zs) // 3} of log.csv.zst's {len(zs)} bytes: "
         "cut inside the first frame. Must be an error.")

    # --- broken Parquet -----------------------------------------------------
    small = log_table(ids, rows[:900], unit="ms")
    buf = io.BytesIO()
    write_parquet(small, buf, "zstd")
    good = bytearray(buf.getvalue())
    md = pq.ParquetFile(io.BytesIO(bytes(good))).metadata
    col = md.row_group(1).column(2)  # total_price, second row group
    start = col.data_page_offset
    length = col.total_compressed_size - (col.data_page_offset - (col.dictionary_page_offset or col.data_page_offset))
    lo, hi = start + length // 4, start + 3 * length // 4
    corrupt = bytes(good[:lo]) + b"\xff" * (hi - lo) + bytes(good[hi:])
    (out / "corrupt.parquet").write_bytes(corrupt)
    note("corrupt.parquet", None, f"A valid 900-row zstd Parquet file (log.csv's first 900 rows, row "
         f"groups of {ROW_GROUP}) whose bytes {lo}..{hi} (the middle of the `total_price` data "
         "pages of row group 1) are overwritten with 0xFF. Header and footer intact. Must be an error.")
    (out / "truncated.parquet").write_bytes(bytes(good[: len(good) // 2]))
    note("truncated.parquet", None, f"The first {len(good) // 2} of that file's {len(good)} bytes: "
         "starts with `PAR1` but has no footer. Must be an error.")
    (out / "not_parquet.parquet").write_bytes(text[: split_at_line(text, 0.01)])
    note("not_parquet.parquet", None, "The first lines of log.csv (CSV text) under a .parquet name. "
         "The bytes say CSV, the name Parquet: an error.")

    # --- feature tables -----------------------------------------------------
    feats = make_features()
    fheader = ["user_id", "frequency", "monetary", "active_days", "recency_days", "channel_diversity"]
    write_csv(out / "features.csv", fheader,
              [[f["user_id"], f["frequency"], repr(f["monetary"]), f["active_days"],
                None if f["recency_days"] is None else repr(f["recency_days"]), f["channel_diversity"]]
               for f in feats])
    note("features.csv", None, f"Feature table, {FEATURE_USERS} users `c0000`..`c0499`: `frequency`, "
         "`active_days` and `channel_diversity` integers, `monetary` (2 decimals) and `recency_days` "
         "floats (Python repr: the shortest text of the float64). `frequency`, `monetary` and "
         "`active_days` (segmint's default features) are complete, so the table fits and scores "
         f"as it is; `recency_days` has {sum(f['recency_days'] is None for f in feats)} empty cells "
         f"(first: user `{next(f['user_id'] for f in feats if f['recency_days'] is None)}`), "
         f"`channel_diversity` {sum(f['channel_diversity'] is None for f in feats)} "
         f"(first: `{next(f['user_id'] for f in feats if f['channel_diversity'] is None)}`).")
    ftable = features_table(feats)
    write_parquet(ftable, out / "features.parquet", "snappy", row_group_size=200)
    note("features.parquet", "features.csv", "`frequency` and `channel_diversity` int64, `active_days` "
         "**int32**, `monetary` and `recency_days` float64, nulls where the CSV is empty; row groups of 200.")
    write_ipc_file(ftable, out / "features.arrow", 128)
    note("features.arrow", "features.csv", "Arrow IPC file of the same table, batches of 128 rows.")

    # ------------------------------------------------------------------------
    details = self_check(out, twins)
    write_readme(out, facts, twins, details, ids, rows)
    return details


def self_check(out: Path, twins):
    """Reads everything back; returns per-file details for the README."""
    details = {}
    csv_cache = {}

    def twin_records(name):
        if name not in csv_cache:
            csv_cache[name] = csv_log_records(out / name)
        return csv_cache[name]

    base = twin_records("log.csv")
    check(len(base) == ROWS, "log.csv rows")
    check(len({r[0] for r in base}) == USERS, "log.csv users")
    check(sum(1 for r in base if r[3] is None) > 0 and sum(1 for r in base if r[4] is None) > 0,
          "log.csv has empty channel and status cells")
    check(any(r[2] < 0 for r in base), "log.csv has refunds")
    for csvname in ("log_seconds.csv", "log_int_users.csv", "log_dates.csv"):
        recs = twin_records(csvname)
        check(len(recs) == ROWS, f"{csvname} rows")
        details[csvname] = {"rows": len(recs)}
    details["log.csv"] = {"rows": ROWS}

    for name in sorted(os.listdir(out)):
        path = out / name
        if name.endswith(".parquet") and name not in ("corrupt.parquet", "truncated.parquet",
                                                       "not_parquet.parquet"):
            table = pq.read_table(path)
            f = parquet_facts(path)
            check(f["row_groups"] > 1, f"{name}: one row group only")
            if name.startswith("log_") and name != "log_strings.parquet":
                check(f["dictionary_pages"], f"{name}: no dictionary pages")
            if name == "log_strings.parquet":
                check(not f["dictionary_pages"], f"{name}: dictionary pages")
            f["schema"] = [f"{fl.name}: {fl.type}" for fl in table.schema]
            details[name] = f
        elif name.endswith((".arrow", ".arrows")):
            table, nb, kind = read_ipc_any(path)
            check(nb > 1, f"{name}: one batch only")
            check(kind == ("file" if name.endswith(".arrow") else "stream"), f"{name}: {kind}")
            details[name] = {"rows": table.num_rows, "batches": nb, "kind": kind,
                             "schema": [f"{fl.name}: {fl.type}" for fl in table.schema]}
        else:
            continue
        twin = twins.get(name)
        if name.startswith("features"):
            _, want = csv_feature_records(out / "features.csv")
            compare_records(name, arrow_feature_records(table), want)
        elif twin is not None:
            compare_records(name, arrow_log_records(table), twin_records(twin))
        elif name in ("log_null_user.parquet", "log_null_amount.parquet"):
            got = arrow_log_records(table)
            want = list(base)
            i = NULL_USER_INDEX if "user" in name else NULL_AMOUNT_INDEX
            r = list(want[i])
            r[0 if "user" in name else 2] = None
            want[i] = tuple(r)
            compare_records(name, got, want)
            col = table.column("user_id" if "user" in name else "total_price")
            check(col.null_count == 1, f"{name}: one null")

    # compressed CSV
    text = (out / "log.csv").read_bytes()
    gz = (out / "log.csv.gz").read_bytes()
    check(gzip.decompress(gz) == text, "log.csv.gz is not log.csv")
    check(gzip_members(gz) == 2, "log.csv.gz: not two members")
    details["log.csv.gz"] = {"members": 2}
    zs = (out / "log.csv.zst").read_bytes()
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(zs), read_across_frames=True)
    whole = reader.read()
    check(whole == text, "log.csv.zst is not log.csv")
    check(zstd_frames(zs) == 2, "log.csv.zst: not two frames")
    details["log.csv.zst"] = {"frames": 2}

    # broken files
    details["truncated.csv.gz"] = {"error": must_fail("truncated.csv.gz", lambda: gzip.decompress((out / "truncated.csv.gz").read_bytes()))}

    def read_trunc_zst():
        # zstandard's readers stop quietly at the end of the input: an
        # unfinished frame is made an error here
        d = zstandard.ZstdDecompressor().decompressobj()
        d.decompress((out / "truncated.csv.zst").read_bytes())
        if not d.eof:
            raise EOFError("zstd frame ends early")

    details["truncated.csv.zst"] = {"error": must_fail("truncated.csv.zst", read_trunc_zst)}
    details["corrupt.parquet"] = {"error": must_fail("corrupt.parquet", lambda: pq.read_table(out / "corrupt.parquet"), out)}
    details["truncated.parquet"] = {"error": must_fail("truncated.parquet", lambda: pq.read_table(out / "truncated.parquet"), out)}
    check((out / "corrupt.parquet").read_bytes()[:4] == b"PAR1" and (out / "corrupt.parquet").read_bytes()[-4:] == b"PAR1",
          "corrupt.parquet keeps its magic bytes")
    check((out / "truncated.parquet").read_bytes()[:4] == b"PAR1", "truncated.parquet starts PAR1")
    details["not_parquet.parquet"] = {"error": must_fail("not_parquet.parquet", lambda: pq.read_table(out / "not_parquet.parquet"), out)}
    return details


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------


def write_readme(out: Path, facts, twins, details, ids, rows):
    sizes = {n: (out / n).stat().st_size for n in facts}
    total = sum(sizes.values())
    lines = [
        "# Input-format fixtures",
        "",
        "Written by `tests/reference/formats_reference.py` with PyArrow "
        f"{pa.__version__} and zstandard {zstandard.__version__} "
        "(pinned in `tests/reference/requirements-formats.txt`), not by segmint. "
        "Do not edit by hand: change the script and run it (see its docstring); "
        "`--check` verifies that these files are what it writes.",
        "",
        f"The log: {ROWS} rows, {USERS} users, {START:%Y-%m-%d} .. "
        f"{(START + dt.timedelta(days=SPAN_DAYS)):%Y-%m-%d} (UTC), random seed {SEED}. "
        f"{sum(1 for r in rows if r['channel'] is None)} rows have no channel, "
        f"{sum(1 for r in rows if r['status'] is None)} no status, "
        f"{sum(1 for r in rows if r['cents'] < 0)} are refunds (negative amounts), "
        f"{sum(1 for r in rows if r['ms'] % 1000)} have a non-zero millisecond. "
        "Every binary file holds the same rows in the same order as its CSV twin: "
        "`segmint features FILE` should equal `segmint features TWIN` (a null where the CSV "
        "cell is empty; an instant where the CSV has its ISO text; the float64 that the CSV "
        "text parses to). Time zones change how an instant is labelled, never the instant.",
        "",
        "The script's self-checks (its docstring) read every file back with PyArrow and "
        "compare it with its twin, row by row, before anything is kept.",
        "",
        "## Null rows",
        "",
        f"- `log_null_user.parquet`: `user_id` is null in **row {NULL_USER_INDEX + 1}** "
        f"(1-based data row, counted across row groups; 0-based index {NULL_USER_INDEX}; "
        f"row group {NULL_USER_INDEX // ROW_GROUP} (0-based), row {NULL_USER_INDEX % ROW_GROUP + 1} in it). "
        f"That row's user in log.csv is `{ids[rows[NULL_USER_INDEX]['user']]}` (line "
        f"{NULL_USER_INDEX + 2} of log.csv, counting the header).",
        f"- `log_null_amount.parquet`: `total_price` is null in **row {NULL_AMOUNT_INDEX + 1}** "
        f"(0-based index {NULL_AMOUNT_INDEX}; row group {NULL_AMOUNT_INDEX // ROW_GROUP}, row "
        f"{NULL_AMOUNT_INDEX % ROW_GROUP + 1} in it; line {NULL_AMOUNT_INDEX + 2} of log.csv, "
        f"amount `{rows[NULL_AMOUNT_INDEX]['amount']}` there).",
        "",
        "## Files",
        "",
        "| file | twin | bytes | what it is |",
        "| --- | --- | ---: | --- |",
    ]
    for name in sorted(facts, key=order_key):
        twin = twins.get(name)
        lines.append(f"| `{name}` | {f'`{twin}`' if twin else '–'} | {sizes[name]:,} | {facts[name]} |")
    lines += ["", f"Total: {total:,} bytes.", "", "## Layout of the binary files", ""]
    for name in sorted(details, key=order_key):
        d = details[name]
        if "schema" not in d:
            continue
        lines.append(f"### `{name}`")
        lines.append("")
        if "row_groups" in d:
            lines.append(f"- Parquet, {d['rows']} rows in {d['row_groups']} row groups "
                         f"({', '.join(map(str, d['group_sizes']))}); codec {', '.join(d['codecs'])}; "
                         f"encodings {', '.join(d['encodings'])}; dictionary pages: "
                         f"{'yes' if d['dictionary_pages'] else 'no'}; format version {d['format_version']}; "
                         f"created_by `{d['created_by']}`")
        else:
            lines.append(f"- Arrow IPC {d['kind']}, {d['rows']} rows in {d['batches']} record batches")
        lines.append(f"- Schema as PyArrow reads it: " + "; ".join(f"`{s}`" for s in d["schema"]))
        lines.append("")
    lines += ["## Broken files: what PyArrow / Python says", ""]
    for name in ("truncated.csv.gz", "truncated.csv.zst", "corrupt.parquet", "truncated.parquet",
                 "not_parquet.parquet"):
        lines.append(f"- `{name}`: {details[name]['error']}")
    lines.append("")
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def order_key(name):
    groups = ["log.csv", "log_seconds.csv", "log_int_users.csv", "log_dates.csv"]
    if name in groups:
        return (0, groups.index(name), name)
    if name.startswith("log") and name.endswith(".parquet"):
        return (1, 0, name)
    if name.startswith("log."):
        return (2, 0, name)
    if name.startswith("features"):
        return (4, 0, name)
    return (3, 0, name)


# --------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="write into a temporary folder and compare with --out byte for byte")
    args = ap.parse_args(argv)
    try:
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                generate(Path(tmp))
                want = sorted(os.listdir(tmp))
                have = sorted(os.listdir(args.out)) if args.out.is_dir() else []
                bad = [n for n in want if n not in have or not filecmp.cmp(Path(tmp) / n, args.out / n, shallow=False)]
                extra = [n for n in have if n not in want]
                if bad or extra:
                    for n in bad:
                        print(f"differs or missing: {n}", file=sys.stderr)
                    for n in extra:
                        print(f"not written by the script: {n}", file=sys.stderr)
                    return 1
                print(f"{len(want)} files up to date in {args.out}")
                return 0
        generate(args.out)
        total = sum(p.stat().st_size for p in args.out.iterdir())
        print(f"wrote {len(os.listdir(args.out))} files, {total:,} bytes, into {args.out}")
        return 0
    except FixtureError as e:
        print(f"formats_reference: check failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Print what PyArrow sees in a Parquet or Arrow IPC file, as one JSON object.

    python read_table.py FILE [--rows N]
    segmint features log.csv -o - --output-format arrow | python read_table.py -

FILE is a Parquet file (.parquet), an Arrow IPC file (.arrow, .feather) or an
Arrow IPC stream (.arrows), or `-` for standard input (an Arrow IPC stream;
Parquet and IPC-file bytes on standard input are read too). The format is
told by the first bytes (`PAR1`, `ARROW1`, else a stream), not the name, so a
file whose extension lies is still read as what it is; "format" in the output
says which.

Output (standard output, one line):

    {"format": "parquet" | "arrow-file" | "arrow-stream",
     "schema": [{"name": ..., "type": str(field.type), "nullable": bool}, ...],
     "num_rows": n,
     "rows": [[v, ...], ...]}          # the first N rows (default 50)

Values in "rows":
    null                      for a null (any type)
    JSON numbers              for integers and finite floats; NaN and the
                              infinities as the strings "NaN", "Infinity",
                              "-Infinity" (JSON has no such numbers)
    true / false              for booleans
    strings                   for every string type (string, large_string,
                              string_view) and dictionary-encoded strings
                              (the decoded value)
    "YYYY-MM-DDTHH:MM:SS[.f]" timestamps, with as many fraction digits as the
                              unit holds (none for s, 3 for ms, 6 for us, 9
                              for ns); a time zone appends "Z" and the text is
                              the UTC instant (the zone is in "type")
    "YYYY-MM-DD"              date32 / date64
    "HH:MM:SS[.f]"            time32 / time64, digits by unit as above
    strings                   decimals, exactly (str of Python's Decimal:
                              "12.30", "-0.05")
    integers                  durations, in the type's unit
    hex strings               binary values
    lists / objects           list and struct values, element by element

Exit status 0 on success; 1 with a message on standard error when the input
cannot be read as either format.

Needs only PyArrow (tests/reference/requirements-formats.txt).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
EPOCH_DAY = dt.date(1970, 1, 1)


def iso_seconds(seconds: int) -> str:
    # floor division keeps instants before 1970 right
    days, rest = divmod(seconds, 86_400)
    day = EPOCH_DAY + dt.timedelta(days=days)
    return f"{day.isoformat()}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"


def with_fraction(whole: str, fraction: int, digits: int) -> str:
    return whole if digits == 0 else f"{whole}.{fraction:0{digits}d}"


def timestamp_text(value: int, unit: str, tz) -> str:
    digits = DIGITS[unit]
    seconds, fraction = divmod(value, 10 ** digits)
    text = with_fraction(iso_seconds(seconds), fraction, digits)
    return text + ("Z" if tz else "")


def time_text(value: int, unit: str) -> str:
    digits = DIGITS[unit]
    seconds, fraction = divmod(value, 10 ** digits)
    whole = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return with_fraction(whole, fraction, digits)


def float_value(v):
    if v is None or math.isfinite(v):
        return v
    if math.isnan(v):
        return "NaN"
    return "Infinity" if v > 0 else "-Infinity"


def column_values(arr: pa.Array) -> list:
    """The values of one column (an Array) as JSON-ready Python values."""
    t = arr.type
    if pa.types.is_dictionary(t):
        return column_values(arr.dictionary_decode())
    if isinstance(t, pa.ExtensionType):
        return column_values(arr.storage)
    if pa.types.is_timestamp(t):
        ints = arr.cast(pa.int64()).to_pylist()
        return [None if v is None else timestamp_text(v, t.unit, t.tz) for v in ints]
    if pa.types.is_date32(t):
        return [None if v is None else (EPOCH_DAY + dt.timedelta(days=v)).isoformat()
                for v in arr.cast(pa.int32()).to_pylist()]
    if pa.types.is_date64(t):
        return [None if v is None else (EPOCH_DAY + dt.timedelta(days=v // 86_400_000)).isoformat()
                for v in arr.cast(pa.int64()).to_pylist()]
    if pa.types.is_time(t):
        width = pa.int32() if pa.types.is_time32(t) else pa.int64()
        return [None if v is None else time_text(v, t.unit) for v in arr.cast(width).to_pylist()]
    if pa.types.is_duration(t):
        return arr.cast(pa.int64()).to_pylist()
    if pa.types.is_decimal(t):
        return [None if v is None else str(v) for v in arr.to_pylist()]
    if pa.types.is_floating(t):
        if pa.types.is_float16(t):
            arr = arr.cast(pa.float32())
        return [float_value(v) for v in arr.to_pylist()]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) \
            or getattr(pa.types, "is_binary_view", lambda _: False)(t):
        return [None if v is None else v.hex() for v in arr.to_pylist()]
    if getattr(pa.types, "is_list_view", lambda _: False)(t) \
            or getattr(pa.types, "is_large_list_view", lambda _: False)(t):
        return column_values(arr.cast(pa.large_list(t.value_field)))
    if pa.types.is_fixed_size_list(t):
        flat = column_values(arr.flatten())
        size, out, at = t.list_size, [], 0
        for valid in arr.is_valid().to_pylist():
            out.append(flat[at:at + size] if valid else None)
            at += size if valid else 0
        return out
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        # flatten() leaves out what null lists cover; value_lengths() is null for them
        flat = column_values(arr.flatten())
        out, at = [], 0
        for n in arr.value_lengths().to_pylist():
            if n is None:
                out.append(None)
            else:
                out.append(flat[at:at + n])
                at += n
        return out
    if pa.types.is_struct(t):
        fields = {t.field(i).name: column_values(arr.field(i)) for i in range(t.num_fields)}
        return [None if not arr[i].is_valid else {k: v[i] for k, v in fields.items()}
                for i in range(len(arr))]
    if pa.types.is_map(t):
        return [None if v is None else [[k, val] for k, val in v] for v in arr.to_pylist()]
    return arr.to_pylist()


def table_rows(table: pa.Table, limit: int) -> list:
    head = table.slice(0, limit)
    columns = [column_values(head.column(i).combine_chunks()) for i in range(head.num_columns)]
    return [list(row) for row in zip(*columns)] if columns else [[] for _ in range(head.num_rows)]


def read_any(data: bytes):
    buf = pa.BufferReader(data)
    if data[:4] == b"PAR1":
        return "parquet", pq.read_table(buf)
    if data[:6] == b"ARROW1":
        reader = ipc.open_file(buf)
        return "arrow-file", reader.read_all()
    try:
        reader = ipc.open_stream(buf)
        return "arrow-stream", reader.read_all()
    except pa.ArrowException as e:
        if data[:4] == b"\xff\xff\xff\xff":
            raise
        raise pa.ArrowInvalid(f"neither Parquet (PAR1) nor Arrow IPC (ARROW1, or a stream): {e}") from e


def describe(table: pa.Table, fmt: str, limit: int) -> dict:
    return {
        "format": fmt,
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in table.schema],
        "num_rows": table.num_rows,
        "rows": table_rows(table, limit),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="a .parquet, .arrow or .arrows file, or - for standard input")
    ap.add_argument("--rows", type=int, default=50, help="rows to print (default %(default)s)")
    args = ap.parse_args(argv)
    try:
        if args.file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as f:
                data = f.read()
        fmt, table = read_any(data)
    except (OSError, pa.ArrowException) as e:
        print(f"read_table: {args.file}: {e}", file=sys.stderr)
        return 1
    json.dump(describe(table, fmt, max(args.rows, 0)), sys.stdout, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

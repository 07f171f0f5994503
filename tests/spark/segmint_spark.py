"""segmint as a stage of Apache Spark jobs (PySpark 4.0 or later).

Each partition's rows go to the segmint binary as an Arrow IPC stream on
its standard input (``mapInArrow``), and its Arrow output comes back as
the partition's rows: the same binary users run on their workstation, and
no text parsed in between.

- ``features``: a log partitioned by user into one row of features per
  user; the union is the single-machine ``segmint features`` output.
- ``population``: what ranks users against each other in one run (RFM
  quintile boundaries, typical gap, base trend), in one task.
- ``score``: users placed in a model's segments, partition by partition,
  ranked against one population: the single-machine ``segmint score``.
- ``fit_kmeans``: distributed K-Means, ``lloyd-step`` on every partition
  and ``lloyd-merge`` on the driver, until it converges.

The binary, the model and the population must be readable on every
executor: a path on shared storage, or a file shipped with
``SparkContext.addFile`` (looked up by name with ``SparkFiles.get``).
"""

import json
import os
import subprocess
import tempfile
import threading

import pyarrow as pa


def _local(path):
    """A file shipped with ``addFile`` under this name, else the path."""
    try:
        from pyspark import SparkFiles

        shipped = SparkFiles.get(os.path.basename(path))
        if os.path.exists(shipped):
            return shipped
    except Exception:  # no SparkContext: the path as given
        pass
    return path


def _run(args, batches):
    """Runs ``segmint ARGS`` with ``batches`` as an Arrow stream on its
    standard input; yields chunks of its standard output. A partition
    without rows runs nothing."""
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return
    shipped = _shipped(args)
    args = [_local(a) if i in shipped else a for i, a in enumerate(args)]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)

        def feed():
            try:
                with pa.ipc.new_stream(proc.stdin, first.schema) as writer:
                    writer.write_batch(first)
                    for batch in batches:
                        writer.write_batch(batch)
            except BrokenPipeError:
                pass  # segmint stopped reading: its exit status says why
            finally:
                proc.stdin.close()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        while chunk := proc.stdout.read(1 << 20):
            yield chunk
        feeder.join()
        if proc.wait() != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise RuntimeError(f"{' '.join(args)} (exit {proc.returncode}): {message}")


def _shipped(args):
    """Positions of ``args`` that name files: the binary, and the values of
    --model and --population."""
    return {0} | {i + 1 for i, a in enumerate(args) if a in ("--model", "--population")}


class _Chunks:
    """A file-like view of chunks of bytes, for ``pa.ipc.open_stream``."""

    def __init__(self, chunks):
        self.chunks, self.buffer, self.closed = chunks, b"", False

    def read(self, n=-1):
        parts, have = [self.buffer], len(self.buffer)
        while n < 0 or have < n:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)  # once per read: a large message is not copied chunk by chunk
        n = len(data) if n < 0 else n
        out, self.buffer = data[:n], data[n:]
        return out


def _batches(args, batches):
    """The record batches ``segmint ARGS`` writes (Arrow on standard output)."""
    chunks = _run(args, batches)
    first = next(chunks, None)
    if first is not None:
        yield from pa.ipc.open_stream(_Chunks(_chain(first, chunks)))


def _chain(first, rest):
    yield first
    yield from rest


def _for_spark(field):
    """An Arrow field as Spark takes it back: no dictionaries, no unsigned
    integers, timestamps in microseconds."""
    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_uint8(t):
        t = pa.int16()
    elif pa.types.is_uint32(t):
        t = pa.int64()
    elif pa.types.is_timestamp(t):
        t = pa.timestamp("us", tz="UTC")
    return pa.field(field.name, t, field.nullable)


_shipped_to = set()


def _ship_module(df):
    """Executors unpickle this module's functions: send it once per context."""
    sc = df.sparkSession.sparkContext
    if id(sc) not in _shipped_to:
        sc.addPyFile(os.path.abspath(__file__))
        _shipped_to.add(id(sc))


def _stage(df, args, probe_rows=1000):
    """``df.mapInArrow`` through ``segmint ARGS``; the output schema is that
    of the same command run on the driver over a few rows."""
    from pyspark.sql.pandas.types import from_arrow_schema

    _ship_module(df)
    sample = df.limit(probe_rows).toArrow()
    probe = next(_batches(args, sample.to_batches()), None)
    if probe is None:
        raise ValueError(f"{' '.join(args)}: no rows to take the output schema from")
    schema = pa.schema([_for_spark(f) for f in probe.schema])

    def run(batches):
        for batch in _batches(args, batches):
            yield batch.cast(schema)

    return df.mapInArrow(run, from_arrow_schema(schema))


def _json_results(df, args):
    """What ``segmint ARGS -o -`` prints (one JSON document) for each
    non-empty partition of ``df``."""
    _ship_module(df)

    def run(batches):
        text = b"".join(_run(args, batches)).decode()
        if text:
            yield pa.RecordBatch.from_pydict({"json": [text]})

    return [json.loads(row.json) for row in df.mapInArrow(run, "json string").collect()]


def features(logs, segmint, as_of, window_start, trend_days, channels, options=()):
    """Per-user features of a log partitioned by user (``repartition(n,
    "user_id")``). Every option is fixed for the whole job: the log's last
    time as ``as_of``, its first date as ``window_start``, one trend
    window, all its channels."""
    args = [segmint, "features", "-", "-o", "-", "--output-format", "arrow", "-q"]
    args += ["--as-of", as_of, "--window-start", window_start]
    args += ["--trend-days", str(trend_days), "--channels", ",".join(channels)]
    return _stage(logs, args + list(options))


def split_users(features_df):
    """Users whose rows were in more than one partition (each then got one
    feature row per partition, none of them right): must be empty."""
    return features_df.groupBy("user_id").count().where("count > 1").select("user_id")


# The columns of a features table that ``population`` and ``lloyd-step``
# read (the insights' and the model's).
_POPULATION_COLUMNS = [
    "user_id", "recency_days", "frequency", "monetary", "gap_days", "avg_daily_volume",
    "failure_rate", "cadence_trend", "usage_trend", "active_days", "active_span_days",
    "age_days", "repeat_spend",
]


def _model_columns(model):
    with open(model) as f:
        m = json.load(f)
    columns = ["user_id"] + [spec.split(":")[-1] for spec in m["features"]]
    return list(dict.fromkeys(columns + [m["segment_order_by"]]))


def population(features_df, segmint, model, out):
    """Writes to ``out`` the population of all users of ``features_df``,
    for ``score --population``. One task reads the narrow columns it needs:
    about 100 bytes per user."""
    columns = list(dict.fromkeys(_POPULATION_COLUMNS + _model_columns(model)))
    narrow = features_df.select(*columns).coalesce(1)
    args = [segmint, "population", "--features-input", "-", "--model", model, "-o", "-", "-q"]
    (result,) = _json_results(narrow, args)
    with open(out, "w") as f:
        json.dump(result, f)
    return out


def score(logs, segmint, model, population_file, as_of, window_start, options=()):
    """Scores of a log partitioned by user, ranked against one population."""
    args = [segmint, "score", "-", "--model", model, "--population", population_file]
    args += ["--as-of", as_of, "--window-start", window_start]
    args += ["-o", "-", "--output-format", "arrow", "-q"]
    return _stage(logs, args + list(options))


def lloyd_steps(points, segmint, model, cache=None, drop=False):
    """``segmint lloyd-step`` on every partition of ``points``: one result
    each. With ``cache`` (a name unique to the fit), each partition keeps
    its features in a file of the executor's local directory, and the next
    steps read that file instead of the partition's rows (Spark sends a
    cached partition's tasks to the executor holding it; a task that finds
    no file reads the rows again). ``drop`` removes the files afterwards."""
    _ship_module(points)
    args = [segmint, "lloyd-step", "--features-input", "-", "--model", model, "-o", "-", "-q"]

    def run(batches):
        from pyspark import TaskContext

        extra = []
        if cache:
            local = os.environ.get("SPARK_LOCAL_DIRS", tempfile.gettempdir()).split(",")[0]
            path = os.path.join(local, f"segmint-{cache}-{TaskContext.get().partitionId()}.points")
            extra = ["--cache", path]
        if cache and os.path.exists(path):
            shipped = _shipped(args)
            command = [_local(a) if i in shipped else a for i, a in enumerate(args)] + extra
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)}: {done.stderr.decode(errors='replace')}")
            text = done.stdout.decode()
        else:
            text = b"".join(_run(args + extra, batches)).decode()
        if cache and drop and os.path.exists(path):
            os.remove(path)
        if text:
            yield pa.RecordBatch.from_pydict({"json": [text]})

    return [json.loads(row.json) for row in points.mapInArrow(run, "json string").collect()]


def fit_kmeans(features_df, segmint, model, workdir, init=None, max_iter=300):
    """Distributed K-Means from ``model`` (a K-Means model, e.g. ``segmint
    fit`` on a sample: its features, K and names). The first pass sets the
    whole data's scaler and starts from ``init`` (a CSV of centres in the
    new scale) or from the model's centres; then Lloyd steps until the
    centres move by no more than the model's tolerance, and one more pass
    numbers the segments. The partitions' features stay on the executors
    between steps (see ``lloyd_steps``). Returns the final model's path
    and the number of Lloyd iterations."""
    import uuid

    sc = features_df.sparkSession.sparkContext
    sc.addFile(model)
    points = features_df.select(*_model_columns(model)).cache()
    cache = uuid.uuid4().hex

    def merge(current, name, extra, drop=False):
        steps = []
        for i, step in enumerate(lloyd_steps(points, segmint, current, cache, drop)):
            path = os.path.join(workdir, f"{name}-part{i:05}.json")
            with open(path, "w") as f:
                json.dump(step, f)
            steps.append(path)
        out = os.path.join(workdir, f"{name}.json")
        summary = subprocess.run(
            [_local(segmint), "lloyd-merge", *steps, "--model", current, "-o", out, "--format", "json",
             *extra],
            check=True, capture_output=True, text=True,
        )
        sc.addFile(out)
        return out, json.loads(summary.stdout)

    current, _ = merge(model, "model-rescaled", ["--rescale"] + (["--init", init] if init else []))
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        current, summary = merge(current, f"model-{iterations:04}", [])
        if summary["converged"]:
            break
    final, _ = merge(current, "model-final", ["--finish"], drop=True)
    points.unpersist()
    return final, iterations

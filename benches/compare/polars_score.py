#!/usr/bin/env python3
"""Place users in a segmint K-Means model's segments with Polars + NumPy.

    python polars_score.py MODEL_JSON FEATURES_FILE OUT_CSV

The script a user would write instead of `segmint score --features-input`:
read the model's features, scaler and centres (model.json from `segmint fit`),
read those columns of a feature table (CSV, or Parquet by its extension) with
Polars, apply `log1p:` (ln(1 + max(x, 0))) and the z-score with the stored
mean and population std (a zero std gives 0, as in segmint), take the nearest
centre with NumPy (float64, one centre at a time), and write
user_id,segment,distance. The model's centres are in the scaled space, so
segmint's internal working frame (a shift and power-of-two unit it uses for
float32 precision) plays no part here. Only K-Means models (method.name =
kmeans, or version-2 files with top-level centres).
"""
import json
import sys

import numpy as np
import polars as pl

model_path, table, out = sys.argv[1:4]
model = json.load(open(model_path))
features = model["features"]
columns = [f.removeprefix("log1p:") for f in features]
method = model.get("method", {"name": "kmeans", "centres": model.get("centres")})
if method["name"] != "kmeans":
    sys.exit(f"polars_score.py: a {method['name']} model; only kmeans models are supported")
centres = np.asarray(method["centres"], dtype=np.float64)
parquet = table.endswith((".parquet", ".pq"))
read = pl.read_parquet if parquet else pl.read_csv
header = list(pl.read_parquet_schema(table) if parquet else pl.read_csv(table, n_rows=0).columns)
key = (model.get("input") or {}).get("key_col") or ("user_id" if "user_id" in header else header[0])
df = read(table, columns=[key, *dict.fromkeys(columns)])
x = np.column_stack([df[c].cast(pl.Float64).to_numpy() for c in columns])
for j, f in enumerate(features):
    if f.startswith("log1p:"):
        x[:, j] = np.log1p(np.maximum(x[:, j], 0.0))
if model.get("scaling", "zscore") == "zscore":
    mean, std = (np.asarray(model["scaler"][k], dtype=np.float64) for k in ("mean", "std"))
    x = np.where(std > 0, (x - mean) / np.where(std > 0, std, 1.0), 0.0)
d2 = np.empty((x.shape[0], len(centres)))
for c, centre in enumerate(centres):
    d2[:, c] = ((x - centre) ** 2).sum(axis=1)
segment = d2.argmin(axis=1)
distance = np.sqrt(d2[np.arange(len(segment)), segment])
pl.DataFrame({"user_id": df[key], "segment": segment.astype(np.uint32), "distance": distance}).write_csv(out)

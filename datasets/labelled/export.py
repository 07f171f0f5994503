"""Exports the labelled tables scikit-learn ships (iris, wine, breast
cancer) as segmint feature tables, for the method comparison
(benches/compare/methods.sh).

For each NAME, two files:
  NAME.csv         user_id, then the features (the columns segmint clusters)
  NAME.labels.csv  user_id,label: the known class of each row

Run with the comparison's venv (benches/compare/requirements-cluster.txt,
scikit-learn 1.9.1):
  benches/compare/.venv-cluster/bin/python datasets/labelled/export.py
"""

import csv
import os
import re

from sklearn import datasets

HERE = os.path.dirname(os.path.abspath(__file__))


def column(name):
    """A feature name as a header cell segmint's --features can name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def export(name, bunch):
    names = [column(n) for n in bunch.feature_names]
    assert len(set(names)) == len(names), names
    with open(os.path.join(HERE, f"{name}.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id"] + names)
        for i, row in enumerate(bunch.data):
            w.writerow([f"{name}{i:03d}"] + [repr(float(v)) for v in row])
    with open(os.path.join(HERE, f"{name}.labels.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["user_id", "label"])
        for i, label in enumerate(bunch.target):
            w.writerow([f"{name}{i:03d}", int(label)])


if __name__ == "__main__":
    export("iris", datasets.load_iris())
    export("wine", datasets.load_wine())
    export("breast_cancer", datasets.load_breast_cancer())

"""Datapoints: the test rows of a dataset, split from its training rows by a fixed seed.

The default dataset ships with scikit-learn (nothing is downloaded). Each ``Item`` is one test
row and carries its split (dataset, seed, test fraction, and a digest of the training rows),
so the split is recorded on every result row, and another split or changed training data is
another computation, never a cache hit.
"""

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split

from .harness.errors import DataError
from .harness.identity import Record

DATASET = "wine"  # 178 wines, 13 chemical measurements, 3 cultivars (class_0, 1, 2)
SPLIT_SEED = 0
TEST_FRACTION = 0.3
BUNDLED = {"wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}


@dataclass(frozen=True, slots=True)
class Item(Record):  # Record: fields checked when an item is made
    input_id: str  # the dataset and the row's position in it, e.g. "wine-0042"
    features: tuple[float, ...]
    label: str  # the true class
    dataset: str  # a name in BUNDLED, or the path of a CSV file
    split_seed: int
    test_fraction: float
    train_digest: str  # SHA-256 of the training rows the model is fit on


@dataclass(frozen=True)
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    test_rows: np.ndarray  # position of each test row in the dataset
    digest: str  # SHA-256 of the training rows


def read_dataset(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of a bundled dataset, or of a CSV file: a header, numeric features,
    the label in the last column."""
    if dataset in BUNDLED:
        bunch = BUNDLED[dataset]()
        return bunch.data, bunch.target_names[bunch.target].astype(str)
    table = read_csv(Path(dataset))
    return table.iloc[:, :-1].to_numpy(dtype=float), table.iloc[:, -1].astype(str).to_numpy()


def read_csv(path: Path) -> pd.DataFrame:
    """A UTF-8 CSV file (a byte order mark is skipped); DataError naming the file, the line
    and the fix when it is not UTF-8 text or has no rows."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: not UTF-8 text (byte {raw[error.start]:#04x}): save the file "
            "as UTF-8"
        ) from None
    try:
        table = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    if table.empty:
        raise DataError(f"{path}: no rows (the dataset is empty): a header, then one row per item")
    return table


@functools.cache  # once per process: predict asks for the split of every item
def split(dataset: str, seed: int, test_fraction: float) -> Split:
    """The train/test split: stratified by label, fixed by ``seed``."""
    X, y = read_dataset(dataset)
    train, test = train_test_split(
        np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=y
    )
    digest = hashlib.sha256(X[train].tobytes() + "\n".join(y[train]).encode()).hexdigest()
    return Split(X[train], y[train], X[test], y[test], test, digest)


def load_items(path: Path | None = None, limit: int | None = None) -> list[Item]:
    """The test rows of the split, as items (default: the bundled DATASET).

    ``path``: a CSV file to use instead (a header, numeric features, the label last).
    """
    dataset = str(path) if path is not None else DATASET
    data = split(dataset, SPLIT_SEED, TEST_FRACTION)
    name = dataset if dataset in BUNDLED else "row"
    items = [
        Item(
            input_id=f"{name}-{row:04d}",
            features=tuple(float(value) for value in features),
            label=str(label),
            dataset=dataset,
            split_seed=SPLIT_SEED,
            test_fraction=TEST_FRACTION,
            train_digest=data.digest,
        )
        for row, features, label in zip(data.test_rows, data.X_test, data.y_test, strict=True)
    ]
    return items[:limit]

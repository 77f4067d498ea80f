"""Fitted models: each configuration is fit once, kept as a file, and reused.

A model file is named by the content key of its fit: FIT_VERSION, scikit-learn's version, the
params and the digest of the training rows. The first predict that needs a model fits it and
writes the file; every later call, in this process or in any other, loads the file instead
(once per process). Writes are atomic (a temporary file, then os.replace) and happen under a
file lock, so parallel workers never fit the same model twice and never read half a file.
Result rows keep the model's key and file, never the model itself.

Delete MODELS_DIR (.cache/models) to fit everything again; bump FIT_VERSION when ``build``
changes.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import sklearn
from filelock import FileLock
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .harness.identity import content_hash
from .params import Params

FIT_VERSION = "1"
# Relative to the working directory, like the db; BENCHMARK_MODELS_DIR puts them elsewhere.
MODELS_DIR = Path(os.environ.get("BENCHMARK_MODELS_DIR", Path(".cache") / "models"))


@dataclass(frozen=True)
class FittedModel:
    key: str  # content key of the fit
    path: Path  # the model file
    estimator: object  # the fitted scikit-learn estimator
    fit_seconds: float  # how long the fit took (when it happened, in whichever process)


_loaded: dict[str, FittedModel] = {}  # this process's models, by key


def build(params: Params):
    """The unfitted estimator of a configuration."""
    if params.model == "logistic_regression":
        return make_pipeline(StandardScaler(), LogisticRegression(C=params.C, max_iter=1000))
    if params.model == "random_forest":
        return RandomForestClassifier(n_estimators=params.n_estimators, random_state=params.seed)
    if params.model == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(params.n_neighbors))
    raise ValueError(f"unknown model {params.model!r}: use logistic_regression, random_forest, knn")


def fit_key(params: Params, train_digest: str) -> str:
    return content_hash(("fit", FIT_VERSION, sklearn.__version__, params, train_digest))


def fitted_model(params: Params, X: np.ndarray, y: np.ndarray, train_digest: str) -> FittedModel:
    """The model of ``params`` fit on (X, y): from memory, else from its file, else fit now."""
    key = fit_key(params, train_digest)
    if key not in _loaded:
        path = MODELS_DIR / f"{key[:16]}.joblib"
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.lock"):  # one worker fits; the others wait, then load the file
            if not path.exists():
                start = time.perf_counter()
                estimator = build(params).fit(X, y)
                fit_seconds = time.perf_counter() - start
                temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                joblib.dump({"estimator": estimator, "fit_seconds": fit_seconds}, temporary)
                os.replace(temporary, path)
            saved = joblib.load(path)
        _loaded[key] = FittedModel(key, path, saved["estimator"], saved["fit_seconds"])
    return _loaded[key]

"""The single-execution function: one test row, one configuration, one result row.

This is the file you edit. Keep ``predict`` stateless and deterministic, return everything
cheap to collect (parse later, at analysis time), and bump PREDICT_VERSION whenever its logic
changes: cached results of other versions are then not reused. The model of a configuration
is fit once and reused from its file (models.py): rows keep its key and file, not the model.
"""

import json
import time

import numpy as np

from .data import Item, split
from .models import fitted_model
from .params import Params

PREDICT_VERSION = "1"


def predict(item: Item, params: Params) -> dict:
    """Class probabilities of one test row. Never raises for a bad datapoint: the error is
    part of the row. ``latency`` times the prediction only; the fit is ``fit_seconds``."""
    start = time.perf_counter()
    row = {
        "input_id": item.input_id,
        "ground_truth": item.label,
        "prediction": None,
        "raw_response": None,  # {class: probability} as JSON
        "model_key": None,
        "model_file": None,
        "fit_seconds": None,
        "error": "",
        "error_type": "",
    }
    try:
        data = split(item.dataset, item.split_seed, item.test_fraction)
        if data.digest != item.train_digest:
            raise ValueError(f"the training rows of {item.dataset!r} changed: reload the items")
        model = fitted_model(params, data.X_train, data.y_train, data.digest)
        row.update(model_key=model.key, model_file=str(model.path), fit_seconds=model.fit_seconds)
        start = time.perf_counter()
        probabilities = model.estimator.predict_proba(np.array([item.features]))[0]
        classes = [str(label) for label in model.estimator.classes_]
        row["raw_response"] = json.dumps(dict(zip(classes, map(float, probabilities), strict=True)))
        row["prediction"] = classes[int(np.argmax(probabilities))]
    except Exception as error:  # a bad datapoint is data, not a crash
        row["error"] = str(error) or repr(error)
        row["error_type"] = type(error).__name__
    row["latency"] = time.perf_counter() - start
    return row

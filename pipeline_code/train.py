"""Train step: XGBoost exactly as SageMaker's built-in container runs it in algorithm mode.

``python3 -m pipeline_code.train --spec S --train DIR --validation DIR --model-dir DIR``

Reads the headerless CSVs (label first), takes the hyperparameters from the spec (strings, as SageMaker passes
them; ``num_round`` is the number of boosting rounds, the rest go to ``xgboost.train``), trains with the
spec's seed and a fixed thread count, and writes ``MODEL_DIR/xgboost-model``. Works with xgboost 1.7 and 3.x.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from pipeline_code.common import DataError, csv_files, load_spec, run_cli

MODEL_FILE = "xgboost-model"
DEFAULT_NTHREAD = 2  # fixed, so two runs on one machine build identical trees; override with hyperparameter


def _number(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def booster_params(hyperparameters: dict, seed: int) -> tuple[dict, int]:
    """``xgboost.train`` params and the number of rounds from algorithm-mode hyperparameters."""
    params = {name: _number(str(value)) for name, value in hyperparameters.items()}
    if "num_round" not in params:
        raise DataError("hyperparameters: 'num_round' is required (SageMaker's built-in XGBoost requires it)")
    rounds = int(params.pop("num_round"))
    params.pop("early_stopping_rounds", None)  # handled by xgboost.train's argument, below
    if isinstance(params.get("eval_metric"), str) and "," in params["eval_metric"]:
        params["eval_metric"] = params["eval_metric"].split(",")
    params["seed"] = int(params.get("seed", seed))
    params.setdefault("nthread", DEFAULT_NTHREAD)
    return params, rounds


def read_matrix(directory) -> xgb.DMatrix:
    """A DMatrix from every headerless CSV under a directory (label in the first column)."""
    frames = [pd.read_csv(p, header=None, dtype=np.float64) for p in csv_files(directory)]
    table = pd.concat(frames, ignore_index=True).to_numpy()
    if table.shape[0] == 0 or table.shape[1] < 2:
        raise DataError(f"{directory}: needs rows with a label and at least one feature")
    return xgb.DMatrix(table[:, 1:], label=table[:, 0], missing=np.nan)


def train(spec: dict, train_dir, validation_dir, model_dir) -> Path:
    """Train and save the model; returns the model file."""
    params, rounds = booster_params(spec["hyperparameters"], spec["seed"])
    dtrain, dvalidation = read_matrix(train_dir), read_matrix(validation_dir)
    stopping = spec["hyperparameters"].get("early_stopping_rounds")
    # Validation metrics each round only when they steer early stopping; the trees do not depend on them, and
    # per-round AUC over the training rows would cost more than the boosting itself.
    booster = xgb.train(params, dtrain, num_boost_round=rounds,
                        evals=[(dvalidation, "validation")] if stopping else (),
                        early_stopping_rounds=int(stopping) if stopping else None, verbose_eval=False)
    print(f"train: {rounds} rounds; {booster.eval(dvalidation, 'validation').split(chr(9), 1)[-1]}")
    path = Path(model_dir) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # xgboost >= 2 warns that a name without extension means UBJSON: intended
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(path))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline_code.train", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    args = parser.parse_args(argv)
    if not (args.train and args.validation and args.model_dir):
        raise DataError("--train, --validation and --model-dir are required")
    path = train(load_spec(args.spec), args.train, args.validation, args.model_dir)
    print(f"train: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

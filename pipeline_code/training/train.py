"""Train step: XGBoost exactly as SageMaker's built-in container runs it in algorithm mode.

``python3 -m pipeline_code.training.train --spec S --train DIR --validation DIR --model-dir DIR``

Follows the container's single-instance CSV path (aws/sagemaker-xgboost-container,
``algorithm_mode/train.py``, ``data_utils.py``, ``callback.py``): every file of a channel is linked into one
directory that XGBoost's own CSV parser reads (``?format=csv&label_column=0&delimiter=<sniffed>``); the
hyperparameters are the spec's strings (``num_round`` rounds, the rest to ``xgboost.train``); early stopping,
when set with an ``eval_metric``, watches the last metric on ``validation`` and keeps the best iteration; the
model is saved as ``MODEL_DIR/xgboost-model``. Works with xgboost 1.7 and 3.x. ``make parity`` checks the model
bytes against a transcription of the container's code in the image's own versions.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import warnings
from pathlib import Path

import xgboost as xgb

from pipeline_code.common import DataError, csv_files, load_spec, run_cli

MODEL_FILE = "xgboost-model"
# The container's XGB_MAXIMIZE_METRICS (constants/xgb_constants.py): early stopping maximizes these.
MAXIMIZE_METRICS = ("accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
                    "precision", "r2", "recall")


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
    params.pop("early_stopping_rounds", None)  # the EarlyStopping callback takes it (_early_stopping)
    if isinstance(params.get("eval_metric"), str) and "," in params["eval_metric"]:
        params["eval_metric"] = params["eval_metric"].split(",")
    params["seed"] = int(params.get("seed", seed))
    return params, rounds


def read_matrix(directory) -> xgb.DMatrix:
    """A DMatrix from every headerless CSV under a directory (label in the first column), parsed by XGBoost's
    own CSV reader from one directory of links, as the container does (so floats parse identically)."""
    files = csv_files(directory)
    with tempfile.TemporaryDirectory(prefix="mlops-train-") as linked:
        for number, path in enumerate(files):
            os.symlink(path.resolve(), Path(linked) / f"{number:05d}-{path.name}")
        with open(files[0]) as first:
            sample = first.readline()
        try:
            delimiter = csv.Sniffer().sniff(sample).delimiter
        except csv.Error:
            raise DataError(f"{files[0]}: could not determine the CSV delimiter of {sample[:50]!r}") from None
        with warnings.catch_warnings():  # xgboost >= 2 deprecates text input; the built-in container uses it
            warnings.simplefilter("ignore")
            matrix = xgb.DMatrix(f"{linked}?format=csv&label_column=0&delimiter={delimiter}")
    if matrix.num_row() == 0 or matrix.num_col() < 1:
        raise DataError(f"{directory}: needs rows with a label and at least one feature")
    return matrix


def _early_stopping(hyperparameters: dict) -> list:
    """The container's EarlyStopping callback: only with ``early_stopping_rounds`` and an ``eval_metric``, on
    the last metric over ``validation``, keeping the best iteration (``save_best``)."""
    rounds, metrics = hyperparameters.get("early_stopping_rounds"), hyperparameters.get("eval_metric")
    if not (rounds and metrics):
        return []
    metric = str(metrics).split(",")[-1]
    return [xgb.callback.EarlyStopping(rounds=int(rounds), data_name="validation", metric_name=metric,
                                       maximize=metric in MAXIMIZE_METRICS, save_best=True)]


def train(spec: dict, train_dir, validation_dir, model_dir) -> Path:
    """Train and save the model; returns the model file."""
    params, rounds = booster_params(spec["hyperparameters"], spec["seed"])
    dtrain, dvalidation = read_matrix(train_dir), read_matrix(validation_dir)
    callbacks = _early_stopping(spec["hyperparameters"])
    # The container also evaluates train and validation every round and logs them; the trees do not depend on
    # it (``make parity`` compares the bytes), and per-round AUC over the training rows would cost more than the
    # boosting itself, so only early stopping's validation is evaluated here.
    booster = xgb.train(params, dtrain, num_boost_round=rounds,
                        evals=[(dtrain, "train"), (dvalidation, "validation")] if callbacks else (),
                        callbacks=callbacks, verbose_eval=False)
    print(f"train: {booster.num_boosted_rounds()} of {rounds} rounds; {booster.eval(dvalidation, 'validation').split(chr(9), 1)[-1]}")
    path = Path(model_dir) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # xgboost >= 2 warns that a name without extension means UBJSON: intended
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(path))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline_code.training.train", description=__doc__.splitlines()[0])
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

"""SageMaker's built-in XGBoost in algorithm mode, single instance, CSV in File mode: the reference for parity.

A line-by-line transcription of aws/sagemaker-xgboost-container (Apache-2.0) at the commits step_images.json
records, kept apart from ``pipeline_code/training/train.py`` on purpose: ``make parity`` trains with both and compares
the bytes. Runs in the image's step environment (Python 3.9 or 3.10, no project imports).

    python algorithm_mode.py --hyperparameters HP.json --input-data-config IDC.json --channels DIR --model-dir DIR

``HP.json`` is the training job's ``HyperParameters`` (strings) and ``IDC.json`` its channels
(``{"train": {"ContentType": "text/csv"}, ...}``), as SageMaker writes them under ``/opt/ml/input/config``.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil

import xgboost as xgb

# algorithm_mode/hyperparameter_validation.py: how each hyperparameter string is parsed (int, float, list, str).
INTEGER = {"_kfold", "_num_cv_round", "csv_weights", "early_stopping_rounds", "max_bin", "max_depth", "max_leaves",
           "nthread", "num_class", "num_parallel_tree", "num_round", "one_drop", "prob_buffer_row", "refresh_leaf",
           "seed", "verbosity"}
CONTINUOUS = {"aft_loss_distribution_scale", "alpha", "base_score", "colsample_bylevel", "colsample_bynode",
              "colsample_bytree", "eta", "gamma", "lambda", "lambda_bias", "max_delta_step", "min_child_weight",
              "rate_drop", "scale_pos_weight", "sketch_eps", "skip_drop", "subsample", "tweedie_variance_power"}
CATEGORICAL = {"_tuning_objective_metric", "aft_loss_distribution", "booster", "deterministic_histogram", "dsplit",
               "grow_policy", "normalize_type", "objective", "predictor", "process_type", "sample_type",
               "sampling_method", "save_model_on_termination", "tree_method", "use_dask_gpu_training"}
COMMA_SEPARATED = {"eval_metric", "updater"}
# constants/xgb_constants.py
XGB_MAXIMIZE_METRICS = ["accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
                        "precision", "r2", "recall"]
MODEL_NAME = "xgboost-model"
INPUT_DATA_PATH = "/tmp/sagemaker_xgboost_input_data"  # data_utils._get_file_mode_files_path


def validate_hyperparameters(config: dict) -> dict:
    """hyperparameters.validate(train_config): each string parsed by its declared type; unknown names rejected."""
    parsed = {}
    for name, value in config.items():
        if name in INTEGER:
            parsed[name] = int(value)
        elif name in CONTINUOUS:
            parsed[name] = float(value)
        elif name in COMMA_SEPARATED:
            parsed[name] = value.split(",")
        elif name in CATEGORICAL:
            parsed[name] = value
        else:
            raise SystemExit(f"Extraneous hyperparameter found: {name}")  # the toolkit's UserError
    if "num_round" not in parsed:
        raise SystemExit("Missing required hyperparameter: num_round")
    return parsed


def get_dmatrix(data_path: str, files_path: str) -> xgb.DMatrix:
    """data_utils.get_dmatrix for CSV in File mode: symlink every file (depth <= 3) into one directory, sniff
    the delimiter from the first line of its first file, and let XGBoost's CSV parser read the directory."""
    shutil.rmtree(files_path, ignore_errors=True)
    os.mkdir(files_path)

    def link(folder: str, depth: int) -> None:  # _make_symlinks_from_a_folder
        if depth > 3:
            return
        for item in os.scandir(folder):
            if item.is_file():
                os.symlink(item.path, os.path.join(files_path, item.name))
            elif item.is_dir():
                link(item.path, depth + 1)

    link(data_path, 1)
    csv_file = [f for f in os.listdir(files_path) if os.path.isfile(os.path.join(files_path, f))][0]  # noqa: RUF015 (as written there)
    with open(os.path.join(files_path, csv_file)) as read_file:
        sample_csv_line = read_file.readline()
    delimiter = csv.Sniffer().sniff(sample_csv_line).delimiter
    return xgb.DMatrix("{}?format=csv&label_column=0&delimiter={}".format(files_path, delimiter))  # noqa: UP032


def train_job(train_cfg: dict, train_dmatrix, val_dmatrix, model_dir: str) -> None:
    """algorithm_mode/train.py train_job, single host, no checkpoints, no k-fold, with callback.get_callbacks."""
    num_round = train_cfg.pop("num_round")
    train_cfg.pop("save_model_on_termination", "false")
    train_cfg.pop("_tuning_objective_metric", None)
    eval_metric = train_cfg.get("eval_metric")  # train_utils.get_eval_metrics_and_feval: built-in metrics only
    if eval_metric:
        train_cfg["eval_metric"] = eval_metric
    else:
        train_cfg.pop("eval_metric", None)
    early_stopping_rounds = train_cfg.pop("early_stopping_rounds", None)
    early_stopping_data_name = "validation" if val_dmatrix else None
    early_stopping_metric = eval_metric[-1] if early_stopping_rounds and eval_metric else None

    watchlist = [(train_dmatrix, "train")]
    if val_dmatrix is not None:
        watchlist.append((val_dmatrix, "validation"))
    callbacks = [xgb.callback.EvaluationMonitor()]
    if early_stopping_data_name and early_stopping_metric and early_stopping_rounds:
        callbacks.append(xgb.callback.EarlyStopping(
            rounds=early_stopping_rounds, data_name=early_stopping_data_name, metric_name=early_stopping_metric,
            maximize=early_stopping_metric in XGB_MAXIMIZE_METRICS, save_best=True))
    bst = xgb.train(train_cfg, train_dmatrix, num_boost_round=num_round, evals=watchlist, callbacks=callbacks,
                    xgb_model=None, verbose_eval=False)
    os.makedirs(model_dir, exist_ok=True)
    bst.save_model(os.path.join(model_dir, MODEL_NAME))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hyperparameters", required=True)
    parser.add_argument("--input-data-config", required=True)
    parser.add_argument("--channels", required=True, help="directory holding one folder per channel")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--scratch", default=INPUT_DATA_PATH, help=f"the container's {INPUT_DATA_PATH}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with open(args.hyperparameters) as f:
        train_cfg = validate_hyperparameters(json.load(f))
    with open(args.input_data_config) as f:
        channels = json.load(f)
    if channels["train"].get("ContentType", "text/csv").split(";")[0] not in ("text/csv", "csv"):
        raise SystemExit("this reference covers CSV input only")
    train_dmatrix = get_dmatrix(os.path.join(args.channels, "train"), args.scratch + "-train")
    val_dmatrix = (get_dmatrix(os.path.join(args.channels, "validation"), args.scratch + "-validation")
                   if "validation" in channels else None)
    train_job(train_cfg, train_dmatrix, val_dmatrix, args.model_dir)


if __name__ == "__main__":
    main()

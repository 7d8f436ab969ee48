"""A small real booster for the training and evaluate tests: ``x`` and label ``y`` written as the training job's
train and validation channels (label first, no header), then trained with ``pipeline_code.training.train``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline_code.training import train


def labelled_sample(rng: np.random.Generator, rows: int, *, noise: float, cut: float) -> tuple[np.ndarray, np.ndarray]:
    """Two standard-normal features and a label that the first one predicts: ``x0 + noise * N(0, 1) > cut``."""
    x = rng.normal(size=(rows, 2))
    return x, (x[:, 0] + noise * rng.normal(size=rows) > cut).astype(int)


def train_booster(root: Path, spec: dict, x: np.ndarray, y: np.ndarray, *, output: str = "model") -> Path:
    """Writes ``root/train/train.csv`` and ``root/validation/validation.csv`` from ``x`` and ``y``, trains with
    ``spec`` (its seed and hyperparameters) into ``root/<output>`` and returns the model file."""
    for name in ("train", "validation"):
        (root / name).mkdir()
        np.savetxt(root / name / f"{name}.csv", np.column_stack([y, x]), delimiter=",", fmt="%.6f")
    return train.train(spec, root / "train", root / "validation", root / output)

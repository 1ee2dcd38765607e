"""The learned difficulty predictor: logistic regression from probe and text features to a
problem's pass@1, fitted on calibration traces, saved as a versioned JSON file.

p_solve = sigmoid(w . z + b), z = (x - mean) / std, fitted by full-batch gradient descent on
the cross-entropy with the measured pass@1 as a soft target (a binomial model of the K
samples), with an L2 penalty on w. numpy only (scikit-learn is not a dependency: this is a
handful of features and at most a few thousand problems). The predicted p_solve is binned
with the calibration's own quantile cuts (agent.control.difficulty.bin_of).

File format (`FORMAT`, `VERSION`): {"format", "version", "features", "mean", "std",
"weights", "bias", "l2", "cuts", "metadata"}, read and written by agent.control.versioned.
`load_predictor` refuses other formats and versions with a `PredictorError` that names the
file; a predictor that loads has finite numbers and positive std. Not handled: ordinal
regression, feature selection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from worldplan.agent.control.versioned import (
    VersionedFormat,
    check_versioned,
    read_versioned,
    stamped,
    write_versioned,
)

FORMAT = "worldplan-difficulty-predictor"
VERSION = 1


class PredictorError(ValueError):
    """A predictor file is missing, corrupt, or of another format or version."""


PREDICTOR_FILE = VersionedFormat(FORMAT, VERSION, "predictor", "difficulty predictor",
                                 PredictorError, "Refit it with `worldplan fit-policy`.")


@dataclass
class DifficultyModel:
    features: list[str]
    mean: list[float]
    std: list[float]
    weights: list[float]
    bias: float
    cuts: list[float]
    l2: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    def predict(self, x: Mapping[str, float]) -> float:
        """Estimated pass@1 in (0, 1); a missing feature counts as its training mean."""
        z = [(float(x.get(f, m)) - m) / s
             for f, m, s in zip(self.features, self.mean, self.std, strict=True)]
        logit = float(np.dot(self.weights, z)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))

    def _body(self) -> dict[str, Any]:
        return {"features": self.features, "mean": self.mean, "std": self.std,
                "weights": self.weights, "bias": self.bias, "l2": self.l2, "cuts": self.cuts,
                "metadata": self.metadata}

    def to_dict(self) -> dict[str, Any]:
        return stamped(PREDICTOR_FILE, self._body(), self.version)

    def save(self, path: str | Path) -> Path:
        return write_versioned(path, PREDICTOR_FILE, self._body(), version=self.version)


def fit_predictor(rows: Sequence[Mapping[str, float]], targets: Sequence[float],
                  cuts: Sequence[float], *, l2: float = 0.1, steps: int = 2000,
                  lr: float = 0.5, metadata: dict[str, Any] | None = None) -> DifficultyModel:
    """Fit on feature dicts (same keys in every row) and pass@1 targets in [0, 1]."""
    if len(rows) != len(targets) or len(rows) < 2:
        raise ValueError(f"need at least 2 rows with one target each, got {len(rows)} rows "
                         f"and {len(targets)} targets")
    names = sorted(rows[0])
    x = np.array([[float(r[f]) for f in names] for r in rows])  # (n, d)
    y = np.clip(np.asarray(targets, dtype=float), 0.0, 1.0)  # (n,)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std < 1e-9] = 1.0
    z = (x - mean) / std
    w, b = np.zeros(z.shape[1]), 0.0
    n = len(y)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        grad = p - y  # d(cross-entropy)/d(logit), per row
        w -= lr * (z.T @ grad / n + l2 * w / n)
        b -= lr * float(grad.mean())
    p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
    meta = {"rows": n, "train_mae": float(np.abs(p - y).mean()), **(metadata or {})}
    return DifficultyModel(names, mean.tolist(), std.tolist(), w.tolist(), float(b),
                           [float(c) for c in cuts], l2, meta)


def model_from_dict(d: Any, *, where: str = "predictor") -> DifficultyModel:
    """Validate and build a predictor from its JSON object (raises PredictorError)."""
    return _model(check_versioned(d, PREDICTOR_FILE, where=where), where)


def _model(d: dict[str, Any], where: str) -> DifficultyModel:
    """Build a predictor from a JSON object of the right format and version."""
    try:
        feats = [str(f) for f in d["features"]]
        model = DifficultyModel(
            feats, [float(v) for v in d["mean"]], [float(v) for v in d["std"]],
            [float(v) for v in d["weights"]], float(d["bias"]), [float(c) for c in d["cuts"]],
            float(d.get("l2", 1.0)), dict(d.get("metadata") or {}), VERSION)
    except (KeyError, TypeError, ValueError, OverflowError) as e:  # float(10**400)
        raise PredictorError(f"{where}: bad or missing field ({type(e).__name__}: {e})") from e
    numbers = [*model.mean, *model.std, *model.weights, *model.cuts, model.bias, model.l2]
    if not all(math.isfinite(v) for v in numbers):
        raise PredictorError(f"{where}: every number must be finite (no NaN or Infinity)")
    if not (len(feats) == len(model.mean) == len(model.std) == len(model.weights)):
        raise PredictorError(f"{where}: features, mean, std and weights differ in length")
    if any(s <= 0 for s in model.std):
        raise PredictorError(f"{where}: std must be positive")
    return model


def load_predictor(path: str | Path) -> DifficultyModel:
    return _model(read_versioned(path, PREDICTOR_FILE), str(path))

"""The learned difficulty predictor: logistic regression from probe and text features to a
problem's pass@1, fitted on calibration traces, saved as a versioned JSON file.

p_solve = sigmoid(w . z + b), z = (x - mean) / std, fitted by full-batch gradient descent on
the cross-entropy with the measured pass@1 as a soft target (a binomial model of the K
samples), with an L2 penalty on w. numpy only (scikit-learn is not a dependency: this is a
handful of features and at most a few thousand problems). The predicted p_solve is binned
with the calibration's own quantile cuts (agent.control.difficulty.bin_of).

File format (`FORMAT`, `VERSION`): {"format", "version", "features", "mean", "std",
"weights", "bias", "l2", "cuts", "metadata"}. `load` refuses other formats and versions with
a `PredictorError` that names the file. Not handled: ordinal regression, feature selection.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "worldplan-difficulty-predictor"
VERSION = 1


class PredictorError(ValueError):
    """A predictor file is missing, corrupt, or of another format or version."""


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

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": self.version, "features": self.features,
                "mean": self.mean, "std": self.std, "weights": self.weights,
                "bias": self.bias, "l2": self.l2, "cuts": self.cuts, "metadata": self.metadata}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


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
    if not isinstance(d, dict):
        raise PredictorError(f"{where}: expected a JSON object, got {type(d).__name__}")
    if d.get("format") != FORMAT:
        raise PredictorError(f"{where}: not a difficulty predictor (format {d.get('format')!r},"
                             f" expected {FORMAT!r})")
    if d.get("version") != VERSION:
        raise PredictorError(f"{where}: predictor version {d.get('version')!r}; this worldplan "
                             f"reads version {VERSION}. Refit it with `worldplan fit-policy`.")
    try:
        feats = [str(f) for f in d["features"]]
        model = DifficultyModel(
            feats, [float(v) for v in d["mean"]], [float(v) for v in d["std"]],
            [float(v) for v in d["weights"]], float(d["bias"]), [float(c) for c in d["cuts"]],
            float(d.get("l2", 1.0)), dict(d.get("metadata") or {}), VERSION)
    except (KeyError, TypeError, ValueError) as e:
        raise PredictorError(f"{where}: bad or missing field ({type(e).__name__}: {e})") from e
    if not (len(feats) == len(model.mean) == len(model.std) == len(model.weights)):
        raise PredictorError(f"{where}: features, mean, std and weights differ in length")
    if any(s <= 0 for s in model.std):
        raise PredictorError(f"{where}: std must be positive")
    return model


def load_predictor(path: str | Path) -> DifficultyModel:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise PredictorError(f"no predictor file at {path}") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PredictorError(f"{path}: not a readable JSON file ({e})") from e
    return model_from_dict(data, where=str(path))

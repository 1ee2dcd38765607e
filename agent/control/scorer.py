"""A verifier learned from a bank's labels: a logistic regression from features of one sample
to P(the sample is right), saved as a versioned JSON file; and the features themselves
(`logprob_stats` of a sample's tokens, `sample_features`), the same in a bank and live.

Features (`FEATURES`; the default set "live" leaves out the per-step ones, which a strategy
judging a finished sample does not have), all from the sample itself and what sampling and
judging it gave (no other sample, so its score can be used in any selection at any n): the
generative
verifier's P(yes) after the last step, the minimum and mean over steps, the number of steps,
token log-probability statistics (mean, minimum, 10th percentile, mean entropy, and mean
logprob and entropy of the final answer's tokens), log completion tokens, whether it was
truncated, whether it has an answer. A missing value (no logprobs, no verdict) is the
training mean. Votes are not features: weighted selection sums the scores of an answer's
samples, which is where agreement enters.

`fit_scorer(rows, labels, groups)` standardises, fits scikit-learn's LogisticRegression, and
reports grouped cross-validation (GroupKFold by problem: no problem in both train and test)
in the metadata: AUROC over all samples and within problems, and a reliability table.
`Scorer.predict(rows)` gives scores in (0, 1). The file records the model it was trained on;
`check_model` refuses a scorer for another model (`ScorerError`).
With an embedding of (problem, solution) in the sample ("embedding": agent.banks.embeddings,
the hidden state the verifier's P(yes) is read from), its components are features
"emb_0".."emb_<dim-1>" (`feature_names("embedding", dim)`: the live set plus them;
"embedding-only": them alone); a scorer that reads them says so (`needs_embedding`), and
`select_c` picks the L2 strength by grouped cross-validation (hundreds of features on a few
hundred samples need far more than the default).
Not handled: gradient boosting (a JSON file of a linear model is portable and safe to load).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from worldplan.agent.control.difficulty import token_entropy
from worldplan.agent.control.versioned import (
    VersionedFormat,
    check_versioned,
    read_versioned,
    write_versioned,
)
from worldplan.worldmodel.llm.generation import TokenLogprob

FEATURES = ("p_yes", "p_yes_min", "p_yes_mean", "log_steps", "lp_mean", "lp_min", "lp_p10",
            "entropy", "answer_lp", "answer_entropy", "log_tokens", "truncated", "answered")
# "live": what a strategy has when it judges a finished sample (one P(yes), not one per step)
FEATURE_SETS = {"all": FEATURES,
                "live": tuple(f for f in FEATURES if f not in ("p_yes_min", "p_yes_mean"))}
EMBEDDING = "emb_"  # feature i of a sample's embedding is "emb_<i>" (agent.banks.embeddings)
# with an embedding of `dim` components: "embedding" = live + the embedding, "embedding-only"
EMBEDDING_SETS = ("embedding", "embedding-only")


def feature_names(feature_set: str, dim: int = 0) -> tuple[str, ...]:
    """The features of a named set; the embedding sets need the embedding's `dim`."""
    if feature_set in FEATURE_SETS:
        return FEATURE_SETS[feature_set]
    if feature_set not in EMBEDDING_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}: "
                         f"{', '.join([*FEATURE_SETS, *EMBEDDING_SETS])}")
    if dim < 1:
        raise ValueError(f"feature set {feature_set!r} reads embeddings, and the samples have "
                         "none: embed the bank (`worldplan bank embed`) and pass the file")
    emb = tuple(f"{EMBEDDING}{i}" for i in range(dim))
    return emb if feature_set == "embedding-only" else (*FEATURE_SETS["live"], *emb)


class ScorerError(ValueError):
    """A scorer file that is missing, corrupt, of another version, or for another model."""


SCORER_FILE = VersionedFormat("worldplan-learned-verifier", 1, "learned verifier",
                              "worldplan learned verifier", ScorerError,
                              "Refit it with `worldplan verifier fit`.")


def logprob_stats(tokens: Sequence[TokenLogprob] | None, text: str) -> dict[str, float]:
    """Statistics of a sample's token log-probabilities (nats): mean, minimum, 10th
    percentile, mean token entropy (from the top logprobs), and the mean logprob and
    entropy of the final answer's tokens (those from the last "\\boxed" on; the whole
    sample's if there is none). Empty when the server gave no logprobs."""
    if not tokens:
        return {}
    lps = np.array([t.logprob if math.isfinite(t.logprob) else -100.0 for t in tokens])
    ents = np.array([token_entropy(t.top) for t in tokens])
    start, ans = text.rfind("\\boxed"), []
    if start >= 0:
        pos = 0
        for i, t in enumerate(tokens):
            if pos + len(t.token) > start:
                ans.append(i)
            pos += len(t.token)
    idx = ans or list(range(len(tokens)))
    return {"mean": float(lps.mean()), "min": float(lps.min()),
            "p10": float(np.quantile(lps, 0.1)), "entropy": float(ents.mean()),
            "answer_mean": float(lps[idx].mean()), "answer_entropy": float(ents[idx].mean()),
            "n": float(len(tokens))}


def sample_features(sample: Mapping[str, Any]) -> dict[str, float]:
    """A bank sample's features (NaN where it has none)."""
    steps = [s for s in sample.get("scores") or [] if s is not None]
    lp = sample.get("lp") or {}
    score = sample.get("score")
    nan = math.nan
    return {
        "p_yes": nan if score is None else float(score),
        "p_yes_min": float(min(steps)) if steps else nan,
        "p_yes_mean": float(np.mean(steps)) if steps else nan,
        "log_steps": math.log1p(float(sample.get("steps", len(sample.get("scores") or [])))),
        "lp_mean": float(lp.get("mean", nan)), "lp_min": float(lp.get("min", nan)),
        "lp_p10": float(lp.get("p10", nan)), "entropy": float(lp.get("entropy", nan)),
        "answer_lp": float(lp.get("answer_mean", nan)),
        "answer_entropy": float(lp.get("answer_entropy", nan)),
        "log_tokens": math.log1p(float(sample.get("tokens") or 0)),
        "truncated": float(sample.get("finish") == "length"),
        "answered": float(bool(sample.get("answer"))),
        **{f"{EMBEDDING}{i}": float(v) for i, v in enumerate(sample.get("embedding") or [])},
    }


@dataclass
class Scorer:
    features: list[str]
    mean: list[float]
    std: list[float]
    weights: list[float]
    bias: float
    model: str  # the served model whose samples it was trained on
    metadata: dict[str, Any] = field(default_factory=dict)

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        x = np.array([[float(r.get(f, math.nan)) for f in self.features] for r in rows],
                     dtype=float).reshape(len(rows), len(self.features))
        x = np.where(np.isnan(x), np.asarray(self.mean), x)
        return (x - np.asarray(self.mean)) / np.asarray(self.std)

    def predict(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        z = self.matrix(rows) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    @property
    def needs_embedding(self) -> bool:
        """It reads an embedding of (problem, solution): live use needs a pooling server."""
        return any(f.startswith(EMBEDDING) for f in self.features)

    def check_model(self, model: str) -> None:
        if model != self.model:
            raise ScorerError(f"this learned verifier was trained on {self.model!r} samples; "
                              f"refusing to score {model!r} samples with it")

    def save(self, path: str | Path) -> Path:
        return write_versioned(path, SCORER_FILE, {
            "features": self.features, "mean": self.mean, "std": self.std,
            "weights": self.weights, "bias": self.bias, "model": self.model,
            "metadata": self.metadata})


def load_scorer(path: str | Path) -> Scorer:
    d = check_versioned(read_versioned(path, SCORER_FILE), SCORER_FILE, where=str(path))
    try:
        s = Scorer([str(f) for f in d["features"]], [float(v) for v in d["mean"]],
                   [float(v) for v in d["std"]], [float(v) for v in d["weights"]],
                   float(d["bias"]), str(d["model"]), dict(d.get("metadata") or {}))
    except (KeyError, TypeError, ValueError) as e:
        raise ScorerError(f"{path}: bad or missing field ({type(e).__name__}: {e})") from e
    numbers = [*s.mean, *s.std, *s.weights, s.bias]
    if not (len(s.features) == len(s.mean) == len(s.std) == len(s.weights)) or not all(
            math.isfinite(v) for v in numbers) or any(v <= 0 for v in s.std):
        raise ScorerError(f"{path}: inconsistent or non-finite coefficients")
    return s


def _fit(x: np.ndarray, y: np.ndarray, names: list[str], model: str, c: float) -> Scorer:
    mean = np.nanmean(x, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    x = np.where(np.isnan(x), mean, x)
    std = x.std(axis=0)
    std[std < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / std, y)
    return Scorer(names, mean.tolist(), std.tolist(), lr.coef_[0].tolist(),
                  float(lr.intercept_[0]), model)


def fit_scorer(rows: Sequence[Mapping[str, float]], labels: Sequence[bool],
               groups: Sequence[str], *, model: str, folds: int = 5, c: float = 1.0,
               features: Sequence[str] = FEATURE_SETS["live"],
               metadata: dict[str, Any] | None = None) -> Scorer:
    """Fit on all rows; grouped cross-validation (by problem) goes into the metadata."""
    names = list(features)
    x = np.array([[float(r.get(f, math.nan)) for f in names] for r in rows], dtype=float)
    y, g = np.asarray(labels, dtype=int), np.asarray(groups)
    if len(set(y.tolist())) < 2:
        raise ValueError("the bank's samples are all right or all wrong: nothing to learn")
    held = np.full(len(y), np.nan)
    k = max(2, min(folds, len(set(g.tolist()))))
    for tr, te in GroupKFold(n_splits=k).split(x, y, g):
        if len(set(y[tr].tolist())) < 2:
            continue
        part = _fit(x[tr], y[tr], names, model, c)
        held[te] = part.predict([dict(zip(names, row, strict=True)) for row in x[te]])
    scorer = _fit(x, y, names, model, c)
    scorer.metadata = {**(metadata or {}), "samples": int(len(y)), "right": int(y.sum()),
                       "problems": len(set(g.tolist())), "cv_folds": k, "C": c,
                       "cv": calibration_report(held, y, g)}
    return scorer


def select_c(rows: Sequence[Mapping[str, float]], labels: Sequence[bool],
             groups: Sequence[str], grid: Sequence[float], *, features: Sequence[str],
             folds: int = 5) -> tuple[float, dict[float, float | None]]:
    """The L2 strength C of `grid` whose grouped cross-validation ranks samples best within
    problems (mean within-problem AUROC; ties: the smaller C), and every C's figure."""
    if not grid:
        raise ValueError("an empty grid of C")
    got: dict[float, float | None] = {}
    for c in grid:
        cv = fit_scorer(rows, labels, groups, model="", folds=folds, c=c,
                        features=features).metadata["cv"]
        got[float(c)] = cv["auroc_within_problems"]
    best = max(sorted(got), key=lambda c: (got[c] if got[c] is not None else -1.0, -c))
    return best, got


def fit_choosing_c(rows: Sequence[Mapping[str, float]], labels: Sequence[bool],
                   groups: Sequence[str], *, model: str, features: Sequence[str],
                   c: float = 1.0, c_grid: Sequence[float] = (), folds: int = 5,
                   metadata: dict[str, Any] | None = None) -> Scorer:
    """`fit_scorer` with C chosen from `c_grid` by `select_c` on these rows (else `c`); the
    grid's figures go into the metadata ("c_grid")."""
    chosen: dict[float, float | None] = {}
    if c_grid:
        c, chosen = select_c(rows, labels, groups, c_grid, features=features, folds=folds)
    return fit_scorer(rows, labels, groups, model=model, folds=folds, c=c, features=features,
                      metadata={**(metadata or {}),
                                "c_grid": {str(k): v for k, v in chosen.items()}})


def calibration_report(scores: np.ndarray, y: np.ndarray, groups: np.ndarray
                       ) -> dict[str, Any]:
    """AUROC over all samples and averaged within problems (those with both labels), and a
    reliability table (10 bins of predicted score: mean prediction, share right, count)."""
    keep = ~np.isnan(scores)
    s, yy, gg = scores[keep], y[keep], groups[keep]
    out: dict[str, Any] = {"auroc": float(roc_auc_score(yy, s)) if len(set(yy)) > 1 else None}
    within = [roc_auc_score(yy[gg == u], s[gg == u]) for u in set(gg.tolist())
              if len(set(yy[gg == u].tolist())) > 1]
    out["auroc_within_problems"] = float(np.mean(within)) if within else None
    out["problems_with_both"] = len(within)
    edges = np.linspace(0, 1, 11)
    out["reliability"] = [
        {"low": float(lo), "high": float(hi), "mean_score": float(s[m].mean()),
         "right": float(yy[m].mean()), "n": int(m.sum())}
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        if (m := (s >= lo) & ((s < hi) | (hi == 1.0))).any()]
    return out

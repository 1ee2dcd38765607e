"""A fitted ranker of a step's candidate actions: a logistic model over their features.

`ActionRanker` holds a standardised logistic regression over some of
`worldmodel.web.action_features.FEATURES` (the page's facts about each candidate, the
proposer's votes and, when the ranker uses them, the choice judge's probability and rank)
and of `worldmodel.web.imagined_features.IMAGINED_FEATURES` (what the world model's
predicted change of the candidate says; `uses_world_model`). Rows are aligned with
`COLUMNS` (FEATURES, then IMAGINED_FEATURES); a row of FEATURES alone serves a ranker that
uses no imagined feature.
`probabilities(goal, obs, history, actions, facts, judge_scores)` scores a step's
candidates and normalises the scores over them (a softmax of the logits), so the best is the
one the model finds likeliest to be the right next action. `fit_ranker` fits one with
scikit-learn (benchmarks/action_ranker_fit.py: on the candidates of oracle pages, each
labelled 1 when it is the oracle's action, with leave-task-out cross-validation); `write_ranker`
and `read_ranker` store it as JSON (agent/policies/web_ranker*.json), with what it was fitted
on. A file that is missing, not JSON, names an unknown feature or whose lists disagree in
length raises `RankerError` naming the file.
Limits: a linear model over hand-named features; it learns which facts matter, not new
facts, and what it learned from the development tasks' oracle pages may not transfer (the
benchmark reports tasks held out; the web benchmark reports tasks outside them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from worldplan.envs.web.axtree import parse_tree
from worldplan.worldmodel.web.action_features import (
    FEATURES,
    JUDGE_FEATURES,
    OptionFacts,
    action_features,
)
from worldplan.worldmodel.web.imagined_features import IMAGINED_FEATURES

COLUMNS = (*FEATURES, *IMAGINED_FEATURES)
_COLUMN = {name: i for i, name in enumerate(COLUMNS)}  # a feature's place in a full row


class RankerError(ValueError):
    """A ranker file that cannot be used."""


@dataclass(frozen=True)
class ActionRanker:
    features: tuple[str, ...]  # the columns used, names from FEATURES
    mean: tuple[float, ...]  # standardisation, aligned with features
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)  # what it was fitted on, its CV score

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in COLUMNS]
        if unknown:
            raise RankerError(f"unknown features {unknown}: known are {', '.join(COLUMNS)}")
        k = len(self.features)
        if not k or any(len(v) != k for v in (self.mean, self.scale, self.coef)):
            raise RankerError(f"{k} features but {len(self.mean)} means, {len(self.scale)} "
                              f"scales and {len(self.coef)} coefficients")

    @property
    def uses_judge(self) -> bool:
        return any(f in JUDGE_FEATURES for f in self.features)

    @property
    def uses_world_model(self) -> bool:
        return any(f in IMAGINED_FEATURES for f in self.features)

    def logit(self, row: Sequence[float]) -> float:
        """The log-odds of one candidate from its feature row (aligned with COLUMNS; with
        FEATURES alone when the ranker uses no imagined feature)."""
        return self.intercept + sum(
            c * (row[_COLUMN[f]] - m) / (s or 1.0)
            for f, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True))

    def probabilities(self, goal: str, obs: str, history: Sequence[str],
                      actions: Sequence[str], facts: Sequence[OptionFacts],
                      judge_scores: Sequence[float] | None = None,
                      imagined: Sequence[dict[str, float] | None] | None = None
                      ) -> list[float]:
        """Each candidate's share of the softmax of their logits (aligned with `actions`);
        `judge_scores`: the choice judge's probabilities, required when `uses_judge`;
        `imagined`: each candidate's imagined features (worldmodel.web.imagined_features),
        required when `uses_world_model`; None for a candidate the world model did not
        imagine (beyond the plan's width, or the budget stopped it): its imagined features
        are taken at their fitted means, so they add nothing and the page's facts rank it."""
        if len(facts) != len(actions) or any(
                v is not None and len(v) != len(actions) for v in (judge_scores, imagined)):
            raise ValueError("actions, facts, judge scores and imagined features must be "
                             "aligned")
        if self.uses_judge and judge_scores is None:
            raise ValueError("this ranker weighs the choice judge's scores: pass them")
        if self.uses_world_model and imagined is None:
            raise ValueError("this ranker weighs the world model's predicted changes: pass "
                             "their imagined features")
        if not actions:
            return []
        ranks = judge_ranks(judge_scores) if judge_scores is not None else [None] * len(actions)
        nodes = parse_tree(obs)
        neutral = dict.fromkeys(IMAGINED_FEATURES, 0.0)
        neutral.update((f, m) for f, m in zip(self.features, self.mean, strict=True)
                       if f in neutral)
        logits = [self.logit(action_features(
            goal, obs, history, a, f, None if judge_scores is None else judge_scores[i],
            ranks[i], nodes=nodes) + ([(imagined[i] or neutral)[k] for k in IMAGINED_FEATURES]
                                      if imagined is not None else []))
            for i, (a, f) in enumerate(zip(actions, facts, strict=True))]
        top = max(logits)
        exp = [math.exp(v - top) for v in logits]
        return [e / sum(exp) for e in exp]


def judge_ranks(scores: Sequence[float]) -> list[int]:
    """Each score's rank, 0 for the best (the first of equals ranks first): the judge
    feature's rank."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    out = [0] * len(scores)
    for r, i in enumerate(order):
        out[i] = r
    return out


def fit_ranker(rows: Sequence[Sequence[float]], labels: Sequence[float],
               features: Sequence[str] = FEATURES, *, c: float = 0.1,
               meta: dict[str, Any] | None = None) -> ActionRanker:
    """A standardised L2 logistic regression (inverse strength `c`) of `labels` on the
    named columns of `rows` (aligned with COLUMNS, as `logit` reads them)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    cols = [_COLUMN[f] for f in features]
    x = np.asarray(rows, dtype=float)[:, cols]
    y = np.asarray(labels, dtype=float)
    if len(set(y.tolist())) < 2:
        raise ValueError("fitting a ranker needs right and wrong candidates")
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(x), y)
    return ActionRanker(tuple(features), tuple(scaler.mean_.tolist()),
                        tuple(scaler.scale_.tolist()), tuple(model.coef_[0].tolist()),
                        float(model.intercept_[0]), dict(meta or {}))


def write_ranker(ranker: ActionRanker, path: Path) -> None:
    path.write_text(json.dumps(asdict(ranker), indent=1) + "\n")


def read_ranker(path: Path) -> ActionRanker:
    try:
        d = json.loads(Path(path).read_text())
        return ActionRanker(tuple(d["features"]), tuple(map(float, d["mean"])),
                            tuple(map(float, d["scale"])), tuple(map(float, d["coef"])),
                            float(d["intercept"]), dict(d.get("meta") or {}))
    except FileNotFoundError as e:
        raise RankerError(f"no ranker file at {path}") from e
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise RankerError(f"{path} is not a ranker file: {e}") from e

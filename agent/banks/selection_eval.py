"""Selection with a learned verifier against majority voting and P(yes) weighting, at every
k <= K, from banks alone.

`training_rows(bank)` gives every sample's features (agent.banks.scorer), its label (graded
right) and its problem (the group). `compare_selection(bank, scores_of)` evaluates, per
problem and k = 1..K (averaged over all k-subsets, agent.banks.estimators): pass@k,
majority@k, weighted@k with the generative verifier's P(yes), and weighted@k and naive@k
with the learned scores `scores_of(uid) -> (K,)`; each is a mean with a bootstrap interval
over problems, and learned-weighted minus majority a paired interval.
`scored(bank, scorer)` gives a fitted scorer's scores per problem; `cross_fitted(banks,
folds)` gives held-out learned scores for every sample of the pooled
banks: the scorer of each problem is fitted on the other folds (GroupKFold by problem), so no
problem scores its own samples.
`headroom(problems, scores_of)` lists, at k = K, the problems a selection could win over
majority voting (a right sample whose answer does not lead the vote) and whether any score
ranks the right answer first: the ceiling of selection with these samples and scores.
Not handled: scores that depend on the other samples of a subset (vote shares).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from worldplan.agent.banks.bank_file import Bank
from worldplan.agent.banks.estimators import best_of_n, pass_at_k
from worldplan.agent.banks.problems import ProblemData, problem_data
from worldplan.agent.banks.units import SAMPLES
from worldplan.agent.control.scorer import (
    FEATURE_SETS,
    Scorer,
    calibration_report,
    fit_choosing_c,
    sample_features,
)
from worldplan.traces.intervals import difference_ci, mean_ci

Scores = Callable[[str], np.ndarray]


def training_rows(*banks: Bank) -> tuple[list[dict[str, float]], list[bool], list[str]]:
    """Every sample of the banks: features, label (graded right), group (problem uid)."""
    rows, labels, groups = [], [], []
    for bank in banks:
        for uid in bank.uids():
            unit = bank.unit(uid, SAMPLES)
            for s in (unit or {}).get("samples", []):
                rows.append(sample_features(s))
                labels.append(bool(s.get("correct")))
                groups.append(uid)
    return rows, labels, groups


def cross_fitted(banks: Sequence[Bank], *, folds: int = 5, model: str = "",
                 features: Sequence[str] = FEATURE_SETS["live"], c: float = 1.0,
                 c_grid: Sequence[float] = ()) -> dict[str, np.ndarray]:
    """uid -> held-out learned scores of its K samples (fitted on other problems only).
    With `c_grid`, each fold's C is chosen from it by grouped cross-validation on that
    fold's training problems alone (nested: the scored problems never choose it)."""
    rows, labels, groups = training_rows(*banks)
    g = np.asarray(groups)
    out = np.full(len(rows), np.nan)
    k = max(2, min(folds, len(set(groups))))
    for tr, te in GroupKFold(n_splits=k).split(rows, labels, g):
        scorer = fit_choosing_c([rows[i] for i in tr], [labels[i] for i in tr],
                                [groups[i] for i in tr], model=model, features=features,
                                c=c, c_grid=c_grid, folds=folds)
        out[te] = scorer.predict([rows[i] for i in te])
    return by_problem(out, groups)


def by_problem(values: np.ndarray, groups: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-sample values split by problem (uid -> that problem's values, in order)."""
    g = np.asarray(groups)
    return {u: values[g == u] for u in dict.fromkeys(groups)}


def scored(bank: Bank, scorer: Scorer) -> dict[str, np.ndarray]:
    """uid -> the scorer's scores of the problem's K samples."""
    rows, _, groups = training_rows(bank)
    return by_problem(scorer.predict(rows), groups)


def compare_selection(bank: Bank, scores_of: Scores, *, confidence: float = 0.9,
                      seed: int = 0, max_subsets: int = 2000) -> dict[str, Any]:
    problems = problem_data(bank)
    k = min(p.k for p in problems)
    per: dict[str, list[list[float]]] = {m: [] for m in (
        "pass", "majority", "weighted_p_yes", "weighted_learned", "naive_learned")}
    for p in problems:
        learned = np.asarray(scores_of(p.uid), dtype=float)[:p.k]
        per["pass"].append([pass_at_k(p.k, int(p.correct[:p.k].sum()), n)
                            for n in range(1, k + 1)])
        per["majority"].append(_curve(p, p.scores[:p.k], "majority", k, max_subsets))
        per["weighted_p_yes"].append(_curve(p, p.scores[:p.k], "weighted", k, max_subsets))
        per["weighted_learned"].append(_curve(p, learned, "weighted", k, max_subsets))
        per["naive_learned"].append(_curve(p, learned, "naive", k, max_subsets))
    arr = {m: np.array(v) for m, v in per.items()}  # (P, k)
    table: dict[str, Any] = {}
    for n in range(1, k + 1):
        row = {m: mean_ci(a[:, n - 1], seed=seed, confidence=confidence).to_dict()
               for m, a in arr.items()}
        row["learned_minus_majority"] = difference_ci(
            arr["weighted_learned"][:, n - 1], arr["majority"][:, n - 1], seed=seed,
            confidence=confidence).to_dict()
        row["learned_minus_p_yes"] = difference_ci(
            arr["weighted_learned"][:, n - 1], arr["weighted_p_yes"][:, n - 1], seed=seed,
            confidence=confidence).to_dict()
        table[str(n)] = row
    return {"problems": len(problems), "k": k, "model": bank.model,
            "dataset": bank.header.get("dataset"), "bank": str(bank.path), "per_k": table,
            "headroom": headroom(problems, scores_of), "auroc": scores_auroc(problems, scores_of)}


def scores_auroc(problems: Sequence[ProblemData], scores_of: Scores) -> dict[str, Any]:
    """How well the learned scores separate right from wrong samples: AUROC over all
    samples, and the mean within problems (those with both labels), as
    agent.control.scorer.calibration_report computes them."""
    scores = np.concatenate([np.asarray(scores_of(p.uid), dtype=float)[:p.k] for p in problems])
    labels = np.concatenate([p.correct[:p.k] for p in problems]).astype(int)
    groups = np.concatenate([[p.uid] * p.k for p in problems])
    report = calibration_report(scores, labels, groups)
    return {k: report[k] for k in ("auroc", "auroc_within_problems", "problems_with_both")}


def headroom(problems: Sequence[ProblemData], scores_of: Scores) -> dict[str, Any]:
    """Where selection could gain over majority voting, at k = K: the problems with a right
    sample whose right answer does not have the most votes. For each, the right answer's
    votes, the leader's, and the right answer's rank among the problem's answers by mean
    P(yes) and by mean learned score (1: a selection by that score would pick it). A right
    answer with one vote that ranks below the leader by every score is out of reach of any
    weighting of these samples."""
    cases = []
    for p in problems:
        cls, ok = p.classes[:p.k], p.correct[:p.k]
        if not ok.any():
            continue
        votes = {int(c): int((cls == c).sum()) for c in set(cls.tolist()) if c >= 0}
        right = int(cls[ok][0])
        others = [v for c, v in votes.items() if c != right]
        if not others or votes[right] > max(others):
            continue  # the right answer leads the vote: majority already picks it
        learned = np.asarray(scores_of(p.uid), dtype=float)[:p.k]
        cases.append({"uid": p.uid, "right_votes": votes[right],
                      "leader_votes": max(votes.values()), "answers": len(votes),
                      "rank_p_yes": _rank(cls, p.scores[:p.k], right),
                      "rank_learned": _rank(cls, learned, right)})
    return {"problems": len(cases),
            "right_answer_once": sum(c["right_votes"] == 1 for c in cases),
            "ranked_first_p_yes": sum(c["rank_p_yes"] == 1 for c in cases),
            "ranked_first_learned": sum(c["rank_learned"] == 1 for c in cases),
            "cases": cases}


def _rank(classes: np.ndarray, scores: np.ndarray, right: int) -> int:
    """The right answer's rank (1 = first) among the answers by mean score (NaN as 0)."""
    sc = np.nan_to_num(scores, nan=0.0)
    means = {int(c): float(sc[classes == c].mean()) for c in set(classes.tolist()) if c >= 0}
    return 1 + sum(m > means[right] for c, m in means.items() if c != right)


def _curve(p: ProblemData, scores: np.ndarray, how: str, k: int, max_subsets: int
           ) -> list[float]:
    classes, correct = p.classes[:p.k], p.correct[:p.k]
    return [best_of_n(classes, scores, correct, n, how, max_subsets=max_subsets)
            for n in range(1, k + 1)]


def render_selection(r: dict[str, Any]) -> str:
    lines = [f"{r['bank']}: {r['problems']} problems of {r['dataset']}, model {r['model']} "
             "(mean [90% interval] over problems)",
             f"{'k':>3s} {'pass@k':>8s} {'maj@k':>8s} {'P(yes)-w':>8s} {'learned-w':>9s} "
             f"{'learned-n':>9s}  learned-w minus maj@k"]
    for n, row in r["per_k"].items():
        d = row["learned_minus_majority"]
        lines.append(f"{n:>3s} {row['pass']['point']:8.3f} {row['majority']['point']:8.3f} "
                     f"{row['weighted_p_yes']['point']:8.3f} "
                     f"{row['weighted_learned']['point']:9.3f} "
                     f"{row['naive_learned']['point']:9.3f}  {d['point']:+.3f} "
                     f"[{d['low']:+.3f}, {d['high']:+.3f}]")
    a = r.get("auroc")
    if a and a.get("auroc") is not None:
        within = a["auroc_within_problems"]
        lines.append(f"learned scores: AUROC {a['auroc']:.3f} over all samples, "
                     + (f"{within:.3f}" if within is not None else "-")
                     + f" within the {a['problems_with_both']} problems with right and wrong")
    h = r.get("headroom")
    if h:
        lines.append(f"headroom at k={r['k']}: {h['problems']} problems have a right sample "
                     f"that does not lead the vote; its answer has one vote in "
                     f"{h['right_answer_once']}, ranks first by mean P(yes) in "
                     f"{h['ranked_first_p_yes']} and by the learned score in "
                     f"{h['ranked_first_learned']}")
    return "\n".join(lines)

"""The learned verifier: on a synthetic bank where one feature (the answer tokens' mean
logprob) separates right from wrong samples and P(yes) says nothing, the fitted scorer finds
that feature and its weighted selection beats majority voting; grouped splits never put a
problem in both train and test; a scorer for another model, or a broken file, is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import worldplan.agent.banks.selection_eval as selection_eval
from worldplan.agent.banks.bank_file import BankWriter, new_header, read_bank
from worldplan.agent.banks.evaluate import EvalSettings
from worldplan.agent.banks.report import evaluate_bank
from worldplan.agent.banks.selection_eval import (
    compare_selection,
    cross_fitted,
    training_rows,
)
from worldplan.agent.control.scorer import ScorerError, fit_scorer, load_scorer


def write_bank(path: Path, problems: int = 60, k: int = 8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    w = BankWriter(path, new_header(model="m", dataset="synthetic", config={"k": k}))
    for i in range(problems):
        p = rng.uniform(0.1, 0.5)
        samples = []
        for _ in range(k):
            right = bool(rng.random() < p)
            wrong_answer = f"w{rng.integers(0, 3)}"  # wrong answers often agree
            samples.append({
                "text": "", "answer": "R" if right else wrong_answer, "correct": right,
                "score": 0.5, "scores": [0.5], "tokens": 100, "finish": "stop",
                "lp": {"mean": -0.3, "min": -3.0, "p10": -1.0, "entropy": 0.3,
                       "answer_mean": (-0.1 if right else -1.5) + rng.normal(0, 0.3),
                       "answer_entropy": 0.2, "n": 100.0}})
        w.append({"uid": f"s/{i}", "unit": "samples", "index": i, "samples": samples})
    return path


def test_the_scorer_finds_the_separating_feature(tmp_path: Path) -> None:
    bank = read_bank(write_bank(tmp_path / "b.jsonl"))
    rows, labels, groups = training_rows(bank)
    scorer = fit_scorer(rows, labels, groups, model="m")
    weights = dict(zip(scorer.features, scorer.weights, strict=True))
    assert max(weights, key=lambda f: abs(weights[f])) == "answer_lp"
    assert weights["answer_lp"] > 0
    cv = scorer.metadata["cv"]
    assert cv["auroc"] > 0.9 and cv["auroc_within_problems"] > 0.9
    path = scorer.save(tmp_path / "scorer.json")
    again = load_scorer(path)
    assert np.allclose(again.predict(rows[:5]), scorer.predict(rows[:5]))
    with pytest.raises(ScorerError, match="trained on 'm'"):
        again.check_model("other")


def test_learned_weighting_beats_majority_on_held_out_problems(tmp_path: Path) -> None:
    bank = read_bank(write_bank(tmp_path / "b.jsonl"))
    held = cross_fitted([bank], folds=4, model="m")
    r = compare_selection(bank, lambda uid: held[uid], max_subsets=200)
    at8 = r["per_k"]["8"]
    assert at8["learned_minus_majority"]["low"] > 0.05
    assert at8["weighted_learned"]["point"] <= at8["pass"]["point"] + 1e-9


def test_grouped_splits_never_share_a_problem(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    bank = read_bank(write_bank(tmp_path / "b.jsonl", problems=20))
    trained_on: list[set[str]] = []
    real = selection_eval.fit_choosing_c

    def spy(rows: Any, labels: Any, groups: Any, **kw: Any) -> Any:
        trained_on.append(set(groups))  # what the fold fits on, and chooses its C on
        return real(rows, labels, groups, **kw)

    monkeypatch.setattr(selection_eval, "fit_choosing_c", spy)
    for grid in ((), (0.1, 1.0)):  # with a grid, C is chosen on the fold's problems alone
        trained_on.clear()
        held = cross_fitted([bank], folds=4, model="m", c_grid=grid)
        assert len(trained_on) == 4
        for uid in held:  # every problem is scored by exactly the folds that never saw it
            assert sum(uid not in seen for seen in trained_on) == 1


@pytest.mark.parametrize("text", ["{}", '{"format": "worldplan-learned-verifier", '
                                  '"version": 1, "features": ["a"], "mean": [0], "std": [0], '
                                  '"weights": [1], "bias": 0, "model": "m"}'])
def test_a_broken_scorer_file_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "s.json").write_text(text)
    with pytest.raises(ScorerError):
        load_scorer(tmp_path / "s.json")


def test_compute_optimal_can_be_recomputed_with_learned_scores(tmp_path: Path) -> None:
    bank = read_bank(write_bank(tmp_path / "b.jsonl"))
    held = cross_fitted([bank], folds=4, model="m")
    settings = EvalSettings(budgets=(1, 4, 8), folds=3, max_subsets=100)
    plain = evaluate_bank(bank, settings)
    learned = evaluate_bank(bank, settings, scores_of=lambda uid: held[uid])
    assert (plain["slice"]["verifier"], learned["slice"]["verifier"]) == ("P(yes)", "learned")
    key = "best_of_n:selection=weighted"
    assert learned["configs"][key]["8"]["point"] > plain["configs"][key]["8"]["point"] + 0.05


def test_headroom_lists_the_problems_a_selection_could_win(tmp_path: Path) -> None:
    from worldplan.agent.banks.problems import problem_data
    from worldplan.agent.banks.selection_eval import headroom

    w = BankWriter(tmp_path / "h.jsonl", new_header(model="m", dataset="synthetic",
                                                    config={"k": 4}))
    def sample(answer: str, correct: bool, p_yes: float) -> dict[str, Any]:
        return {"text": answer, "answer": answer, "correct": correct, "finish": "stop",
                "tokens": 10, "scores": [p_yes], "score": p_yes, "lp": {}}
    # p1: the right answer once, the leader three times, P(yes) ranks the right one first
    w.append({"uid": "p1", "unit": "samples", "samples": [
        sample("1", True, 0.9), *[sample("2", False, 0.5) for _ in range(3)]]})
    # p2: the right answer leads the vote: nothing to win
    w.append({"uid": "p2", "unit": "samples", "samples": [
        *[sample("5", True, 0.5) for _ in range(3)], sample("6", False, 0.9)]})
    # p3: never right
    w.append({"uid": "p3", "unit": "samples", "samples": [sample("7", False, 0.5)] * 4})
    problems = problem_data(read_bank(tmp_path / "h.jsonl"))
    h = headroom(problems, lambda uid: np.array([0.1, 0.9, 0.9, 0.9]))
    assert h["problems"] == 1 and h["cases"][0]["uid"] == "p1"
    assert h["right_answer_once"] == 1
    assert h["ranked_first_p_yes"] == 1 and h["ranked_first_learned"] == 0
    assert h["cases"][0]["rank_learned"] == 2

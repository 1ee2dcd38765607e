"""Answer extraction, canonical forms and dataset loading (local MATH-500, mapped JSONL)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from worldplan.envs.math.answer import extract_answer, extract_boxed, gsm8k_answer, normalize_answer
from worldplan.envs.math.data import GSM8K, DatasetUnavailable, load_problems, parse_field_map


@pytest.mark.parametrize("text, expected", [
    ("so \\boxed{5}.", "5"),
    ("\\boxed{\\frac{1}{2}} then \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}",
     "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("nested \\boxed{\\sqrt{x^{2}}} end", "\\sqrt{x^{2}}"),
    ("\\boxed{6} and later \\fbox{7}", "7"),
    ("$\\boxed 9$", "9"),
    ("unfinished \\boxed{\\frac{1}{", None),
    ("no box here", None),
])
def test_extract_boxed(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


def test_extract_answer_fallbacks() -> None:
    assert extract_answer("Thus the final answer is $12$.") == "12"
    assert extract_answer("  42 ") == "42"
    assert extract_answer("  42 ", bare=False) is None
    assert extract_answer("a long line of reasoning that never states any answer at all") is None
    assert gsm8k_answer("She pays 3 + 4 = 7.\n#### 1,234") == "1234"


def test_normalize_groups_spelling_variants_only() -> None:
    assert normalize_answer("\\dfrac{1}{2}") == normalize_answer("\\frac{1}{2}.")
    assert normalize_answer("\\left( 3, \\pi \\right)") == normalize_answer("(3,\\pi)")
    assert normalize_answer("90^\\circ") == "90"
    assert normalize_answer("\\text{Evelyn}") == "Evelyn"
    assert normalize_answer("0.5") != normalize_answer("\\frac12")


def test_math500_local(math500_path: Path) -> None:
    probs = load_problems("math500", offset=10, limit=5)
    assert len(probs) == 5
    rows = [json.loads(line) for line in math500_path.read_text().splitlines()[10:15]]
    assert [p.uid for p in probs] == [r["unique_id"] for r in rows]
    assert all(p.level in range(1, 6) and p.answer and p.subject for p in probs)
    assert len(load_problems(str(math500_path))) == 500


def test_bad_rows_skipped_with_warning(tmp_path: Path) -> None:
    good = {"problem": "1+1?", "answer": "2", "level": "Level 1", "subject": "Algebra",
            "unique_id": "a"}
    lines = [json.dumps(good), "{not json", json.dumps({**good, "answer": ""}),
             json.dumps({**good, "unique_id": "n", "level": None}),
             json.dumps({**good, "unique_id": "h", "level": "hard"}),
             json.dumps({**good, "unique_id": "b", "level": 3})]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="skipped 3 bad row.*invalid level 'hard'"):
        probs = load_problems(str(path))
    assert [(p.uid, p.level) for p in probs] == [("a", 1), ("n", None), ("b", 3)]


def test_level_is_optional(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    rows = [{"problem": "1+1?", "answer": "2"}, {"problem": "2+2?", "answer": "4", "level": ""},
            {"problem": "3+3?", "answer": "6", "level": "Level ?"},
            {"problem": "4+4?", "answer": "8", "level": "Level 4"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no row is bad
        probs = load_problems(str(path))
    assert [(p.uid, p.level) for p in probs] == [("mine:1", None), ("mine:2", None),
                                                 ("mine:3", None), ("mine:4", 4)]
    assert parse_field_map("problem=q,answer=a,level=lvl").require_level is False


def test_gsm8k_mapping(tmp_path: Path) -> None:
    path = tmp_path / "gsm.jsonl"
    path.write_text(json.dumps({"question": "How many?", "answer": "2+2=4\n#### 4"}) + "\n" +
                    json.dumps({"question": "No delimiter", "answer": "4"}) + "\n")
    with pytest.warns(UserWarning, match="skipped 1"):
        probs = load_problems(str(path), fields=GSM8K)
    assert len(probs) == 1 and probs[0].answer == "4" and probs[0].level is None
    assert parse_field_map("gsm8k") == GSM8K
    custom = parse_field_map("problem=q,answer=a")
    assert (custom.problem, custom.answer, custom.level) == ("q", "a", None)
    with pytest.raises(ValueError, match="bad field mapping"):
        parse_field_map("question")


def test_unavailable_sources_have_clear_errors() -> None:
    with pytest.raises(DatasetUnavailable, match="no dataset file"):
        load_problems("/nonexistent/x.jsonl")
    with pytest.raises(DatasetUnavailable, match="unknown dataset"):
        load_problems("not a dataset")
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(DatasetUnavailable, match="pip install datasets"):
            load_problems("HuggingFaceH4/MATH-500")

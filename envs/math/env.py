"""`worldplan/Math-v0`: a math problem as a single-step Gymnasium environment.

`reset(seed=None, options=None) -> (obs, info)` picks a problem: `options={"index": i}` or
`{"uid": "test/algebra/1.json"}` choose one, otherwise one is drawn with the env's seeded
`np_random`. The observation is a dict {"problem": str, "level": int (0 when unknown),
"subject": str}. `step(solution) -> (obs, reward, terminated=True, truncated=False, info)`:
the final answer is extracted from the solution text (envs.math.answer.extract_answer) and
graded against the reference (envs.math.grader.Grader); reward 1.0 if equivalent, else 0.0.
info carries answer, reference, correct, grade_status, grade_detail, uid, level, subject.

Problems come from `problems=[MathProblem, ...]` or are loaded from `dataset` (an alias,
a JSONL path or a HF name; see envs.math.data). The grader is injected or created lazily
(its worker process starts on the first non-trivial grading) and stopped by `close()`.
Not handled: multi-turn dialogue (one solution per episode), partial credit.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from worldplan.envs.math.answer import extract_answer
from worldplan.envs.math.data import FieldMap, MathProblem, load_problems
from worldplan.envs.math.grader import Grader

MAX_TEXT = 20_000  # characters, for the Text spaces


class MathEnv(gym.Env[dict[str, Any], str]):
    """One problem per episode; the action is a solution text with a boxed final answer."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, dataset: str = "math500", *, problems: Sequence[MathProblem] | None = None,
                 fields: FieldMap | None = None, offset: int = 0, limit: int | None = None,
                 grader: Grader | None = None) -> None:
        self.problems = list(problems) if problems is not None else load_problems(
            dataset, fields=fields, offset=offset, limit=limit)
        if not self.problems:
            raise ValueError(f"no problems in {dataset!r} (offset={offset}, limit={limit})")
        self._by_uid = {p.uid: i for i, p in enumerate(self.problems)}
        self._grader = grader
        self._own_grader = grader is None
        chars = set(string.printable)
        for p in self.problems:
            chars.update(p.problem, p.subject)
        charset = "".join(sorted(chars))
        self.observation_space = spaces.Dict({
            "problem": spaces.Text(max_length=MAX_TEXT, min_length=0, charset=charset),
            "level": spaces.Discrete(6),
            "subject": spaces.Text(max_length=200, min_length=0, charset=charset),
        })
        self.action_space = spaces.Text(max_length=MAX_TEXT, min_length=0, charset=charset)
        self._current: MathProblem | None = None
        self._done = True

    @property
    def grader(self) -> Grader:
        if self._grader is None:
            self._grader = Grader()
        return self._grader

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "uid" in options:
            if options["uid"] not in self._by_uid:
                raise KeyError(f"no problem with uid {options['uid']!r}")
            index = self._by_uid[options["uid"]]
        elif "index" in options:
            index = int(options["index"])
            if not 0 <= index < len(self.problems):
                raise IndexError(f"index {index} outside 0..{len(self.problems) - 1}")
        else:
            index = int(self.np_random.integers(len(self.problems)))
        self._current = self.problems[index]
        self._done = False
        return self._obs(), {"uid": self._current.uid, "index": index}

    def step(self, action: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._current is None or self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        if not isinstance(action, str):
            raise TypeError(f"the action is a solution text (str), got {type(action).__name__}")
        p = self._current
        answer = extract_answer(action)
        grade = self.grader.grade(answer, p.answer)
        self._done = True
        info = {"answer": answer or "", "reference": p.answer, "correct": grade.correct,
                "grade_status": grade.status, "grade_detail": grade.detail, "uid": p.uid,
                "level": p.level, "subject": p.subject}
        return self._obs(), float(grade.correct), True, False, info

    def _obs(self) -> dict[str, Any]:
        assert self._current is not None
        return {"problem": self._current.problem, "level": self._current.level or 0,
                "subject": self._current.subject}

    def close(self) -> None:
        if self._own_grader and self._grader is not None:
            self._grader.close()
            self._grader = None
        super().close()

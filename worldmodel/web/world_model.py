"""The LLM as a world model of web pages, the progress verifier, and world-model accuracy.

- `WorldModel.predict(obs, action, imagined=...)`: the served model predicts what changes
  on the page after `action` (n samples in one request), optionally after earlier imagined
  steps (the caller chains predictions to look several steps ahead).
- `ProgressVerifier.score(goal, obs, steps_list)`: scores imagined states for progress
  toward the goal, averaged over the imagined samples (WebDreamer, Gu et al. 2024). Mode
  "p_yes": P("Yes") of a yes/no question (worldmodel.llm.yesno.p_yes, one 1-token generation
  per sample); mode "label": a short verdict success / on track / failure (1 / 0.5 / 0).
- `prediction_accuracy(prediction, before, after)`: how well a prediction matches the real
  next observation: the real change is the set of page lines that appeared or disappeared;
  the score is the word-overlap F1 between the prediction and that change, and whether the
  prediction said "something changes" when something did. Pure and free, so it is computed
  for every executed action that was imagined, and stored in the trace.

Every call draws from the `Budget` given (and raises `BudgetExceeded` before sending when
it does not fit); roles are "world_model" and "verifier" so the trace tells them apart.
Not handled: screenshots, learned (fine-tuned) world models, semantic-similarity accuracy.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.yesno import p_yes
from worldplan.worldmodel.web.prompts import parse_label, progress_messages, world_model_messages

Step = tuple[str, str]  # (action, predicted change)


@dataclass(frozen=True)
class Prediction:
    text: str  # the predicted change
    tokens: int  # completion tokens of this sample (the request's share)
    finish_reason: str | None
    page: str = ""  # the imagined page's prompt text after the change ("": not imagined)
    error: str = ""  # why the change could not be read or applied ("": it could)


@dataclass(frozen=True)
class ProgressJudgement:
    score: float  # mean over samples, in [0, 1]
    samples: list[float]  # one per imagined state judged
    generations: int
    completion_tokens: int


@dataclass
class WorldModel:
    client: LLMClient
    max_tokens: int = 48  # per predicted change (tokens)
    temperature: float = 0.7
    seed: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)

    async def predict(self, obs: str, action: str, *, imagined: Sequence[Step] = (),
                      n: int = 1, budget: Budget | None = None) -> list[Prediction]:
        """n predicted changes after `action` (after the imagined steps, if any)."""
        gen = await self.client.chat(
            world_model_messages(obs, action, imagined), role="world_model", n=n,
            max_tokens=self.max_tokens, temperature=self.temperature if n > 1 else 0.0,
            seed=self.seed, budget=budget, tags={**self.tags, "action": action[:200]})
        share = gen.usage.completion_tokens // max(1, len(gen.choices))
        return [Prediction(c.text.strip(), share, c.finish_reason) for c in gen.choices]


@dataclass
class ProgressVerifier:
    client: LLMClient
    mode: str = "p_yes"  # "p_yes" | "label"
    label_tokens: int = 4  # max tokens of a label verdict
    tags: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("p_yes", "label"):
            raise ValueError(f"unknown progress-verifier mode {self.mode!r}: p_yes or label")

    @property
    def tokens_per_sample(self) -> int:
        return 1 if self.mode == "p_yes" else self.label_tokens

    async def score(self, goal: str, obs: str, samples: Sequence[Sequence[Step]], *,
                    budget: Budget | None = None) -> ProgressJudgement:
        """Mean progress over imagined trajectories (each a list of imagined steps)."""
        outs = await asyncio.gather(*[self._one(goal, obs, s, budget) for s in samples])
        scores = [s for s, _ in outs]
        return ProgressJudgement(sum(scores) / len(scores) if scores else 0.0, scores, len(outs),
                        sum(t for _, t in outs))

    async def _one(self, goal: str, obs: str, steps: Sequence[Step],
                   budget: Budget | None) -> tuple[float, int]:
        tags = {**self.tags, "judged": steps[-1][0][:200] if steps else ""}
        if self.mode == "p_yes":
            yn = await p_yes(self.client, progress_messages(goal, obs, steps), budget=budget,
                             tags=tags)
            return yn.p_yes, yn.generation.usage.completion_tokens
        gen = await self.client.chat(progress_messages(goal, obs, steps, labels=True),
                                     role="verifier", max_tokens=self.label_tokens,
                                     temperature=0.0, budget=budget, tags=tags)
        label = parse_label(gen.text)
        return (0.0 if label is None else label), gen.usage.completion_tokens


# ---- world-model accuracy -------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_REF = re.compile(r"\[ref=[^\]]*\]|\[active\]|\[cursor=[^\]]*\]")
_SPACES = re.compile(r"\s{2,}")
_SPACE_COLON = re.compile(r"\s+:")
_NO_CHANGE = re.compile(r"\b(nothing|no change|unchanged|does not change|stays the same)\b")
_STOP = frozenset("the a an and or of to on in is be will page after action changes "
                  "change it this that with".split())


@dataclass(frozen=True)
class Accuracy:
    f1: float  # word-overlap F1 of the prediction against the real change, in [0, 1]
    changed_predicted: bool  # the prediction says the page changes
    changed_real: bool  # lines of the page appeared or disappeared
    change_agrees: bool
    real_change: str  # the real change, as +/- lines (cut)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def page_change(before: str, after: str) -> list[str]:
    """Lines that appeared (+) or disappeared (-), references and focus marks ignored."""
    def lines(t: str) -> list[str]:
        out = [_REF.sub("", ln).strip(" -") for ln in t.splitlines() if ln.strip()]
        return [_SPACE_COLON.sub(":", _SPACES.sub(" ", ln)) for ln in out]
    b, a = lines(before), lines(after)
    bs, as_ = set(b), set(a)
    return [f"+ {ln}" for ln in a if ln not in bs] + [f"- {ln}" for ln in b if ln not in as_]


def prediction_accuracy(prediction: str, before: str, after: str) -> Accuracy:
    """Score a predicted change against the real one (before/after page texts)."""
    change = page_change(before, after)
    changed_real = bool(change)
    changed_pred = bool(prediction.strip()) and not _NO_CHANGE.search(prediction.lower())
    real = _words(" ".join(change))
    pred = _words(prediction)
    if not real and not pred:
        f1 = 1.0
    elif not real or not pred:
        f1 = 0.0
    else:
        common = len(real & pred)
        p, r = common / len(pred), common / len(real)
        f1 = 0.0 if common == 0 else 2 * p * r / (p + r)
    return Accuracy(round(f1, 4), changed_pred, changed_real, changed_pred == changed_real,
                    "\n".join(change)[:1000])

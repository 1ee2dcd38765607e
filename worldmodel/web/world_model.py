"""The LLM as a world model of web pages, the progress verifier, and world-model accuracy.

- `WorldModel.predict(obs, action)`: the served model predicts the page after `action` as
  changed tree lines (n samples in one request; worldmodel.web.page_diff reads and applies
  them): each `Prediction` has the imagined page's prompt text (`page`, what the next
  imagined step proposes against), or `error` saying why the change could not be read or
  applied (then the caller scores that state as wrong). With `constrained` (the default)
  the request carries vLLM's structured outputs (worldmodel.web.change_grammar): removed
  and changed lines can only be lines of the page, so a prediction always applies. With
  `imagined` steps instead of an imagined page, the model reads them as text and no page is
  built. With `examples` (an ExampleBank of recorded transitions) the prompt shows a few
  real changes of other pages for the same kind of action first. `NoWorldModel` predicts
  nothing (the verifier then judges actions alone: the control for what predictions add).
- `ProgressVerifier.score(goal, obs, steps_list)`: scores imagined states for progress
  toward the goal, averaged over the imagined samples (WebDreamer, Gu et al. 2024). Mode
  "p_yes": P("Yes") of a yes/no question (worldmodel.llm.yesno.p_yes, one 1-token generation
  per sample); mode "label": a reasoned verdict ending success / on track / failure
  (1 / 0.5 / 0), `votes` of them sampled and averaged (Koh et al. 2024); a verdict with no
  label is not a vote, and a state with none scores 0.
- `prediction_accuracy(prediction, before, after)`: the prediction against the real next
  page: line precision / recall / F1 / exact match of the structured change (page_diff;
  unreadable or unappliable scores 0), plus the older word-overlap F1 and whether it said
  "something changes" when something did. Pure and free, so it is computed for every
  executed action that was imagined, and stored in the trace.

Every call draws from the `Budget` given (and raises `BudgetExceeded` before sending when
it does not fit); roles are "world_model" and "verifier" so the trace tells them apart.
Not handled: screenshots, fine-tuned world models, paraphrase matching.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.yesno import p_yes
from worldplan.worldmodel.web.action_grammar import page_tree
from worldplan.worldmodel.web.change_grammar import structured_change
from worldplan.worldmodel.web.change_reading import imagine, read_change
from worldplan.worldmodel.web.page_diff import (
    ChangeFormatError,
    PageChange,
    format_change,
    normalise_line,
    real_change,
    score_change,
)
from worldplan.worldmodel.web.prompts import (
    CHANGE_CHARS,
    parse_label,
    progress_messages,
    world_model_messages,
)
from worldplan.worldmodel.web.transition_examples import ExampleBank

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


class PagePredictor(Protocol):
    """What the planners need of a world model: `WorldModel`, or a diagnostic one that
    reads the real page (agent.web.peek_world_model)."""

    max_tokens: int  # completion tokens per prediction (the planners' cost estimate)

    async def predict(self, obs: str, action: str, *, imagined: Sequence[Step] = (),
                      history: Sequence[str] = (), n: int = 1,
                      budget: Budget | None = None) -> list[Prediction]: ...


class ProgressJudge(Protocol):
    """What the planners need of a verifier: `ProgressVerifier`, or a diagnostic one that
    reads the task's oracle (agent.web.oracle_judge)."""

    @property
    def tokens_per_sample(self) -> int:  # completion tokens per judged state (an estimate)
        ...

    async def score(self, goal: str, obs: str, samples: Sequence[Sequence[Step]], *,
                    budget: Budget | None = None,
                    history: Sequence[str] = ()) -> ProgressJudgement: ...


@dataclass
class WorldModel:
    client: LLMClient
    max_tokens: int = 96  # per predicted change (tokens)
    temperature: float = 0.7
    seed: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    constrained: bool = True  # vLLM structured outputs: only changes that apply to the page
    examples: ExampleBank | None = None  # recorded transitions shown as worked examples

    async def predict(self, obs: str, action: str, *, imagined: Sequence[Step] = (),
                      history: Sequence[str] = (), n: int = 1,
                      budget: Budget | None = None) -> list[Prediction]:
        """n predicted changes after `action` (after the imagined steps, if any), each read
        as tree lines and applied to the page: `page` is the imagined page's prompt text,
        `error` why the change could not be read or applied (then `page` is "")."""
        extra = structured_change(obs) if self.constrained and not imagined else None
        shots = self.examples.render(obs, action) if self.examples is not None else ""
        gen = await self.client.chat(
            world_model_messages(obs, action, imagined, history, shots), role="world_model", n=n,
            max_tokens=self.max_tokens, temperature=self.temperature if n > 1 else 0.0,
            seed=self.seed, budget=budget, extra=extra,
            tags={**self.tags, "action": action[:200]})
        share = gen.usage.completion_tokens // max(1, len(gen.choices))
        out = []
        for c in gen.choices:
            page, error = "", ""
            if not imagined:  # a change relative to a page we hold
                tree = page_tree(obs)
                try:
                    change, after = imagine(c.text, tree,
                                            finished=c.finish_reason != "length")
                    page = imagined_observation(obs, action, after, format_change(change))
                except ChangeFormatError as e:
                    error = str(e)
            out.append(Prediction(c.text.strip(), share, c.finish_reason, page, error))
        return out


@dataclass
class NoWorldModel:
    """No world model: every prediction is empty, so the verifier judges the action alone
    (its prompt shows "Imagined: <action> -> " and nothing after). The control for what a
    world model's predictions add to the judge (benchmarks/judge_accuracy.py measures the
    same on recorded transitions). 0 tokens; no page is imagined."""

    max_tokens: int = 0

    async def predict(self, obs: str, action: str, *, imagined: Sequence[Step] = (),
                      history: Sequence[str] = (), n: int = 1,
                      budget: Budget | None = None) -> list[Prediction]:
        return [Prediction("", 0, "stop")] * max(1, n)


def imagined_observation(obs: str, action: str, tree: str, change: str = "") -> str:
    """The observation's prompt text with `tree` as its page, then a line saying it is
    imagined after `action`, with the predicted change (`change`, cut at CHANGE_CHARS): the
    head before the page stays the real page's, so the server's prefix cache serves it up
    to the first changed line, and lines the change added are seen even where the page text
    is cut."""
    start, end = obs.find("<<<"), obs.rfind(">>>")
    if not 0 <= start < end:
        return tree
    shown = f" Changed lines:\n{change.strip()[:CHANGE_CHARS]}" if change.strip() else ""
    return (obs[:start] + "<<<\n" + tree.strip("\n") + "\n>>>\n"
            + f"IMAGINED: the page above is predicted after {action}.{shown}")


@dataclass
class ProgressVerifier:
    client: LLMClient
    mode: str = "p_yes"  # "p_yes" | "next" (P(yes) that it is the right next action) | "label"
    label_tokens: int = 48  # max tokens of a reasoned verdict
    votes: int = 1  # label mode: verdicts sampled per imagined state, averaged
    temperature: float = 0.7  # label mode with votes > 1
    tags: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("p_yes", "next", "label"):
            raise ValueError(f"unknown progress-verifier mode {self.mode!r}: p_yes, next or "
                             "label")

    @property
    def tokens_per_sample(self) -> int:
        return self.label_tokens * self.votes if self.mode == "label" else 1

    async def score(self, goal: str, obs: str, samples: Sequence[Sequence[Step]], *,
                    budget: Budget | None = None,
                    history: Sequence[str] = ()) -> ProgressJudgement:
        """Mean progress over imagined trajectories (each a list of imagined steps)."""
        outs = await asyncio.gather(*[self._one(goal, obs, s, budget, history)
                                      for s in samples])
        scores = [s for s, _ in outs]
        return ProgressJudgement(sum(scores) / len(scores) if scores else 0.0, scores, len(outs),
                        sum(t for _, t in outs))

    async def _one(self, goal: str, obs: str, steps: Sequence[Step], budget: Budget | None,
                   history: Sequence[str]) -> tuple[float, int]:
        tags = {**self.tags, "judged": steps[-1][0][:200] if steps else ""}
        if self.mode != "label":
            messages = progress_messages(goal, obs, steps, history=history,
                                         next_action=self.mode == "next")
            yn = await p_yes(self.client, messages, budget=budget, tags=tags)
            return yn.p_yes, yn.generation.usage.completion_tokens
        gen = await self.client.chat(
            progress_messages(goal, obs, steps, labels=True, history=history), role="verifier",
            n=self.votes, max_tokens=self.label_tokens,
            temperature=self.temperature if self.votes > 1 else 0.0, budget=budget, tags=tags)
        labels = [parse_label(c.text) for c in gen.choices]
        read = [x for x in labels if x is not None]  # a verdict without a label is not a vote
        return (sum(read) / len(read) if read else 0.0), gen.usage.completion_tokens


# ---- world-model accuracy -------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
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
    # the prediction read as changed tree lines (page_diff), against the real line change:
    precision: float = 0.0
    recall: float = 0.0
    line_f1: float = 0.0
    exact: bool = False
    applied: bool = False  # it could be read and applied to the page before the action


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def page_change(before: str, after: str) -> list[str]:
    """Lines that appeared (+) or disappeared (-), references and focus marks ignored
    (lines compared as `page_diff.normalise_line` reads them)."""
    def lines(t: str) -> list[str]:
        return [normalise_line(ln) for ln in t.splitlines() if ln.strip()]
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
    predicted: PageChange | None = None
    try:
        predicted = read_change(prediction, before)
    except ChangeFormatError:
        predicted = None  # unreadable or unappliable: scored as wrong, not dropped
    lines = score_change(predicted, real_change(before, after))
    return Accuracy(round(f1, 4), changed_pred, changed_real, changed_pred == changed_real,
                    "\n".join(change)[:1000], round(lines.precision, 4),
                    round(lines.recall, 4), round(lines.f1, 4), lines.exact,
                    predicted is not None)

"""The choice judge: one question over all of a step's candidates, read as a distribution.

A yes/no judge scores each candidate alone, and a small model says "yes" to nearly any
plausible action (P(yes) 0.53-0.62 for every candidate of a click-checkboxes step), so its
ranking is mostly noise. `choose(client, goal, obs, options)` shows the candidates together,
lettered A, B, ... (each with its predicted change when a world model imagined one:
prompts.choice_messages) and asks which should be done next; one generated token with
`top_logprobs` gives each letter's probability, normalised over the options' letters:
`Choice.scores`, aligned with `options`, summing to 1. `mass` is the letters' share of the
top tokens; below `min_mass` the model did not answer with a letter and `NoVerdict` is
raised (holding the paid-for generation), as for yes/no. Costs one generation of one token
and, with the page cached, the options' prompt tokens.
Position bias: the 1.5B default answers A for most questions (77 of 110 judged pages against
52 whose oracle action was first). `orders=m` asks the same question with the options in up
to m different orders (`orderings`: as given, reversed, then rotations and their reverses),
concurrently, and averages each option's probability over them (Zheng et al. 2023, "Large
language models are not robust multiple choice selectors", permutation debiasing); each
order costs one more call, the options' tokens again. An order answered with no letter is
left out of the average (its call still counts); all of them: `NoVerdict`.
Targets: an action names its element by ref only (`click('e12')`), and a small judge must
find the ref in the page to know what it does; `targets=True` writes each element's page
line beside its action (`click('e12') on button "Submit"`: `with_targets`).
`ChoiceJudge` holds the client, the number of orders and `targets` for the web agent
(agent.web.choice_search uses it). With a fitted `ranker` (worldmodel.web.action_ranker) its
scores are the ranker's over the judge's probabilities, the page's facts and the proposer's
votes (`facts`), and `Choice.judged` keeps the judge's own; with `ask=False` no model is
asked and the ranker alone scores (a ranker that weighs the judge cannot: ValueError). A
ranker that weighs imagined pages (`uses_world_model`) reads each option's predicted change
(worldmodel.web.imagined_features), so the options must carry the world model's changes.
Not handled: more than len(CHOICE_LETTERS) options (the caller keeps the first ones).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from worldplan.envs.web.actions import ActionError, parse_action
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.generation import Generation, TokenLogprob
from worldplan.worldmodel.llm.yesno import NoVerdict
from worldplan.worldmodel.web.action_features import OptionFacts
from worldplan.worldmodel.web.action_grammar import page_tree
from worldplan.worldmodel.web.action_ranker import ActionRanker
from worldplan.worldmodel.web.imagined_features import imagined_features
from worldplan.worldmodel.web.page_diff import normalise_line
from worldplan.worldmodel.web.prompts import CHOICE_LETTERS, choice_messages
from worldplan.worldmodel.web.transition_examples import element_line
from worldplan.worldmodel.web.world_model import ProgressJudgement


@dataclass(frozen=True)
class Choice:
    scores: list[float]  # P(option) normalised over the options, aligned with them
    mass: float  # the options' letters' probability among the top tokens, in [0, 1]
    generation: Generation | None  # None: no model was asked (a ranker alone)
    # each answered order's scores, aligned with the options as given (scores: their mean)
    per_order: tuple[tuple[float, ...], ...] = ()
    judged: tuple[float, ...] = ()  # with a ranker: the judge's own scores (scores: ranker's)


def orderings(k: int, m: int) -> list[list[int]]:
    """Up to m distinct orders of k options, as index lists: as given, reversed, then each
    rotation by a fraction of k and its reverse (fewer when k has fewer distinct orders)."""
    if k < 1 or m < 1:
        raise ValueError(f"orderings needs k >= 1 and m >= 1, not k={k}, m={m}")
    step = max(1, k // ((m + 1) // 2))  # ceil(m / 2) rotations spread over the k places
    out: list[list[int]] = []
    for r in range(k):
        rot = [(i + r * step) % k for i in range(k)]
        for order in (rot, rot[::-1]):
            if order not in out:
                out.append(order)
            if len(out) == m:
                return out
    return out


def letter_probabilities(token: TokenLogprob, k: int) -> tuple[list[float], float]:
    """(normalised probability of each of the first k letters, their mass) from one token's
    top logprobs; a uniform split when the mass is 0 (pure function)."""
    p = [0.0] * k
    for t, prob in token.probabilities().items():
        s = t.strip().strip(".,:;)(\"'*")
        if len(s) == 1 and s in CHOICE_LETTERS[:k]:
            p[CHOICE_LETTERS.index(s)] += prob
    mass = sum(p)
    return ([x / mass for x in p] if mass > 0 else [1.0 / k] * k), min(mass, 1.0)


TARGET_CHARS = 80  # of an element's line shown beside its action


def with_targets(obs: str, options: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The options with each action's element (its page line, without the ref) written
    beside it; an action without a ref, or whose ref is not on the page, is left as is."""
    out = []
    for action, change in options:
        try:
            ref = str(parse_action(action).args.get("ref", ""))
        except ActionError:
            ref = ""
        line = normalise_line(element_line(obs, ref)) if ref else ""
        out.append((f"{action} on {line[:TARGET_CHARS]}" if line else action, change))
    return out


async def choose(client: LLMClient, goal: str, obs: str, options: Sequence[tuple[str, str]],
                 *, history: Sequence[str] = (), budget: Budget | None = None,
                 tags: dict[str, Any] | None = None, top_logprobs: int = 20,
                 min_mass: float = 0.01, orders: int = 1, targets: bool = False) -> Choice:
    """The options' probabilities of being chosen next, averaged over `orders` orders of
    them, each action shown with its element when `targets` (see the module docstring)."""
    if targets:
        options = with_targets(obs, options)
    perms = orderings(len(options), orders) if options else [[]]
    got = await asyncio.gather(*[
        _choose_once(client, goal, obs, [options[i] for i in perm], history=history,
                     budget=budget, tags=tags, top_logprobs=top_logprobs, min_mass=min_mass)
        for perm in perms], return_exceptions=True)
    for g in got:  # a budget stop or a transport error is not a verdict: raise it
        if isinstance(g, BaseException) and not isinstance(g, NoVerdict):
            raise g
    answered = [(perm, g) for perm, g in zip(perms, got, strict=True) if isinstance(g, Choice)]
    if not answered:
        first = got[0]
        assert isinstance(first, NoVerdict)
        raise first
    per_order: list[tuple[float, ...]] = []
    for perm, c in answered:
        back = [0.0] * len(options)
        for shown, i in enumerate(perm):
            back[i] = c.scores[shown]
        per_order.append(tuple(back))
    mean = [sum(o[i] for o in per_order) / len(per_order) for i in range(len(options))]
    return Choice(mean, min(c.mass for _, c in answered), answered[0][1].generation,
                  tuple(per_order))


async def _choose_once(client: LLMClient, goal: str, obs: str,
                       options: Sequence[tuple[str, str]], *, history: Sequence[str],
                       budget: Budget | None, tags: dict[str, Any] | None, top_logprobs: int,
                       min_mass: float) -> Choice:
    gen = await client.chat(choice_messages(goal, obs, options, history), role="verifier",
                            n=1, max_tokens=1, temperature=0.0, logprobs=True,
                            top_logprobs=top_logprobs, budget=budget, tags=tags)
    tokens = gen.choices[0].logprobs
    if not tokens:
        raise NoVerdict("the server sent no logprobs for the choice token", mass=0.0,
                        generation=gen)
    scores, mass = letter_probabilities(tokens[0], len(options))
    if mass < min_mass:
        top = ", ".join(f"{t!r}" for t in list(tokens[0].top)[:5]) or repr(tokens[0].token)
        raise NoVerdict(f"letter mass {mass:.4f} < {min_mass:g}: the model answered {top}",
                        mass=mass, generation=gen)
    return Choice(scores, mass, gen, (tuple(scores),))


@dataclass
class ChoiceJudge:
    """The choice judge as the web agent's verifier: `choose` over a step's candidates.
    It ranks candidates together, so it serves WebDreamer's one-level selection
    (agent.web.choice_search); a search that scores one imagined state at a time (deeper
    beam search, MCTS, revise) cannot use it, and `score` says so."""

    client: LLMClient
    tags: dict[str, Any] = field(default_factory=dict)
    orders: int = 1  # orders of the options averaged over (position debiasing)
    targets: bool = False  # each action shown with its element's page line
    ranker: ActionRanker | None = None  # rescores the judge's choice with the page's facts
    ask: bool = True  # False: the ranker alone (no model call)

    def __post_init__(self) -> None:
        if not self.ask and (self.ranker is None or self.ranker.uses_judge):
            raise ValueError("a choice judge that asks no model needs a ranker that does "
                             "not weigh the judge's scores")

    @property
    def tokens_per_sample(self) -> int:
        return 1 if self.ask else 0  # one letter per step (an upper bound for the planners)

    async def choose(self, goal: str, obs: str, options: Sequence[tuple[str, str | None]], *,
                     history: Sequence[str] = (), budget: Budget | None = None,
                     facts: Sequence[OptionFacts] | None = None) -> Choice:
        """The options' scores (see the module docstring); `facts`: the proposer's votes of
        each option, for the ranker (none given: no votes). An option's change is None when
        the world model did not imagine it: the judge is shown the action alone, the ranker
        takes its imagined features at their means (worldmodel.web.action_ranker)."""
        judged = None
        if self.ask:
            shown = [(a, c or "") for a, c in options]
            judged = await choose(self.client, goal, obs, shown, history=history,
                                  budget=budget, tags=self.tags, orders=self.orders,
                                  targets=self.targets)
        if self.ranker is None:
            assert judged is not None
            return judged
        facts = list(facts) if facts is not None else [OptionFacts()] * len(options)
        imagined: list[dict[str, float] | None] | None = None
        if self.ranker.uses_world_model:
            tree = page_tree(obs)
            imagined = [None if change is None else imagined_features(goal, tree, change)
                        for _, change in options]
        scores = self.ranker.probabilities(goal, obs, history, [a for a, _ in options], facts,
                                           None if judged is None else judged.scores,
                                           imagined)
        if judged is None:
            return Choice(scores, 1.0, None)
        return replace(judged, scores=scores, judged=tuple(judged.scores))

    async def score(self, goal: str, obs: str, samples: Sequence[Sequence[tuple[str, str]]],
                    *, budget: Budget | None = None,
                    history: Sequence[str] = ()) -> ProgressJudgement:
        raise ValueError("the choice judge ranks a step's candidates together and cannot "
                         "score one imagined state: use it with best-of-n")

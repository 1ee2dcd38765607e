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
`ChoiceJudge` holds the client for the web agent (agent.web.choice_search uses it).
Not handled: more than len(CHOICE_LETTERS) options (the caller keeps the first ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.client import LLMClient
from worldplan.worldmodel.llm.generation import Generation, TokenLogprob
from worldplan.worldmodel.llm.yesno import NoVerdict, probability
from worldplan.worldmodel.web.prompts import CHOICE_LETTERS, choice_messages
from worldplan.worldmodel.web.world_model import ProgressJudgement


@dataclass(frozen=True)
class Choice:
    scores: list[float]  # P(option) normalised over the options, aligned with them
    mass: float  # the options' letters' probability among the top tokens, in [0, 1]
    generation: Generation


def letter_probabilities(token: TokenLogprob, k: int) -> tuple[list[float], float]:
    """(normalised probability of each of the first k letters, their mass) from one token's
    top logprobs; a uniform split when the mass is 0 (pure function)."""
    top = dict(token.top) or {token.token: token.logprob}
    top.setdefault(token.token, token.logprob)
    p = [0.0] * k
    for t, lp in top.items():
        s = t.strip().strip(".,:;)(\"'*")
        if len(s) == 1 and s in CHOICE_LETTERS[:k]:
            p[CHOICE_LETTERS.index(s)] += probability(lp)
    mass = sum(p)
    return ([x / mass for x in p] if mass > 0 else [1.0 / k] * k), min(mass, 1.0)


async def choose(client: LLMClient, goal: str, obs: str, options: Sequence[tuple[str, str]],
                 *, history: Sequence[str] = (), budget: Budget | None = None,
                 tags: dict[str, Any] | None = None, top_logprobs: int = 20,
                 min_mass: float = 0.01) -> Choice:
    """The options' probabilities of being chosen next (see the module docstring)."""
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
    return Choice(scores, mass, gen)


@dataclass
class ChoiceJudge:
    """The choice judge as the web agent's verifier: `choose` over a step's candidates.
    It ranks candidates together, so it serves WebDreamer's one-level selection
    (agent.web.choice_search); a search that scores one imagined state at a time (deeper
    beam search, MCTS, revise) cannot use it, and `score` says so."""

    client: LLMClient
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_sample(self) -> int:
        return 1  # one letter per step (the planners' per-state estimate is an upper bound)

    async def choose(self, goal: str, obs: str, options: Sequence[tuple[str, str]], *,
                     history: Sequence[str] = (), budget: Budget | None = None) -> Choice:
        return await choose(self.client, goal, obs, options, history=history, budget=budget,
                            tags=self.tags)

    async def score(self, goal: str, obs: str, samples: Sequence[Sequence[tuple[str, str]]],
                    *, budget: Budget | None = None,
                    history: Sequence[str] = ()) -> ProgressJudgement:
        raise ValueError("the choice judge ranks a step's candidates together and cannot "
                         "score one imagined state: use it with best-of-n")

"""Step budgets of the agent graph: what a step may spend, and what its search parts cost.

- `StepCosts`: the worst-case generated tokens of one proposal, one world-model prediction
  and one judgement; a plan's worst case is computed from them before it runs (root
  candidates whose change the world model computes without a call cost no prediction).
- `step_allowance`: the tokens left shared over the next few steps (early steps may think
  more).
- `spent_of` / `budget_from_state`: a budget's spending as a JSON-serialisable dict for the
  graph state, and a budget rebuilt from it after a resume.
Units: a budget's tokens are uncached prompt + completion, or completion alone when it has
`count_prompts=False`; a budget rebuilt from a state keeps the unit it was made with (a
state saved before anything was spent takes the caller's). Domain-neutral.
"""

from __future__ import annotations

from dataclasses import dataclass

from worldplan.agent.graph.state import AgentState
from worldplan.worldmodel.llm.accounting import Budget


@dataclass(frozen=True)
class StepCosts:
    """Worst-case generated tokens of the search's parts."""

    proposal: int  # one proposed action (the proposer's max_tokens)
    predict: int  # one predicted change (the world model's max_tokens)
    judge: int  # one progress judgement (1 for P("Yes"))

    def imagined(self, samples: int) -> int:
        return samples * (self.predict + self.judge)

    def roots(self, width: int, samples: int, free: int = 0) -> int:
        """The `width` root candidates imagined and judged, `free` of them predicted without
        a model call (worldmodel.web.local_first computes a fill's or a tick's change from
        the page): those cost their judgements only."""
        priced = max(0, width - max(0, free))
        return samples * (width * self.judge + priced * self.predict)

    def branch(self, width: int, depth: int, beam: int, samples: int, free: int = 0) -> int:
        deeper = (depth - 1) * beam * (width * self.proposal + width * self.imagined(samples))
        return self.roots(width, samples, free) + deeper

    def mcts(self, width: int, simulations: int, samples: int, free: int = 0) -> int:
        """The `width` root candidates imagined, then per simulation at most one proposal
        request of `width` samples and one imagined state (agent.web.mcts); the depth does
        not change the worst case."""
        per = width * self.proposal + self.imagined(samples)
        return self.roots(width, samples, free) + simulations * per

    def revise(self, rounds: int, samples: int) -> int:
        return self.imagined(samples) + rounds * (self.proposal + self.imagined(samples))


def step_allowance(tokens_left: int | None, steps_left: int, horizon: int = 3) -> int | None:
    """Generated tokens this step may spend: what is left, shared by the next steps (at most
    `horizon` of them, so early steps may think more). None when the budget is unlimited."""
    if tokens_left is None:
        return None
    return max(0, tokens_left // max(1, min(steps_left, horizon)))


def spent_of(budget: Budget) -> dict[str, int]:
    return {"generations": budget.spent_generations, "tokens": budget.spent_tokens,
            "prompt_tokens": budget.spent_prompt_tokens, "calls": budget.calls,
            "count_prompts": int(budget.count_prompts)}


def budget_from_state(state: AgentState, max_generations: int | None,
                      max_tokens: int | None, *, count_prompts: bool = True) -> Budget:
    """A budget with the limits given, already charged with what the state says was spent."""
    s = state.get("spent") or {}
    return Budget(max_generations, max_tokens, spent_generations=s.get("generations", 0),
                  spent_tokens=s.get("tokens", 0), spent_prompt_tokens=s.get("prompt_tokens", 0),
                  calls=s.get("calls", 0),
                  count_prompts=bool(s.get("count_prompts", count_prompts)))

"""A world model that computes the effects it can and asks the LLM only for the rest.

`LocalFirstWorldModel(inner)` predicts an action's next page with
`worldmodel.web.local_effects.local_change` when the effect is local and certain (a fill,
a tick, a selection, a click on an inert element): 0 tokens, no model call, the change
applied to the page as `WorldModel` applies the LLM's. Any other action (a button, a link, a
tab, a generic element), and any prediction after imagined steps given as text, goes to
`inner` (the LLM `WorldModel`, or any `PagePredictor`). `local` counts the predictions made
without the model, `asked` those sent to it. `computes(obs, action)` says beforehand whether
an action's prediction is computed (0 tokens): the planners charge only the others a call.
Limits: those of local_effects (page handlers, the end of an episode are not known); the
local part is deterministic, so n samples of it are n copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.web.action_grammar import page_tree
from worldplan.worldmodel.web.local_effects import local_change
from worldplan.worldmodel.web.page_diff import (
    ChangeFormatError,
    PageChange,
    apply_change,
    format_change,
)
from worldplan.worldmodel.web.world_model import (
    PagePredictor,
    Prediction,
    Step,
    imagined_observation,
)


@dataclass
class LocalFirstWorldModel:
    inner: PagePredictor
    local: int = 0  # predictions computed from the page
    asked: int = 0  # predictions sent to `inner`
    # the planners' cost estimate per prediction: any may be asked (the inner model's)
    max_tokens: int = field(init=False)

    def __post_init__(self) -> None:
        self.max_tokens = self.inner.max_tokens

    def computes(self, obs: str, action: str) -> bool:
        """Whether `action`'s prediction on the real page `obs` is computed, not asked."""
        return _local(obs, action) is not None

    async def predict(self, obs: str, action: str, *, imagined: Sequence[Step] = (),
                      history: Sequence[str] = (), n: int = 1,
                      budget: Budget | None = None) -> list[Prediction]:
        """n predicted changes after `action`: the local change when there is one, else
        `inner`'s (see the module docstring)."""
        local = None if imagined else _local(obs, action)
        if local is None:
            self.asked += 1
            return await self.inner.predict(obs, action, imagined=imagined, history=history,
                                            n=n, budget=budget)
        self.local += 1
        change, after = local
        text = format_change(change)
        page = imagined_observation(obs, action, after, text)
        return [Prediction(text, 0, "stop", page, "")] * max(1, n)


def _local(obs: str, action: str) -> tuple[PageChange, str] | None:
    """The local change of `action` on the page `obs` and the page it gives, or None."""
    tree = page_tree(obs)
    change = local_change(tree, action) if tree else None
    if change is None:
        return None
    try:
        return change, apply_change(tree, change)
    except ChangeFormatError:
        return None

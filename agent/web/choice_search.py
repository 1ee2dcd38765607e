"""WebDreamer's one-level selection with the choice judge: imagine the roots, ask once.

`choice_select(im, judge, roots, keys, budget, samples)`: each root candidate (proposal node
key, action) is imagined by the world model (`samples` predictions; none with no world
model), then the choice judge (worldmodel.web.choice_judge) is shown all of them together,
each with its first applicable predicted change, and its letter probabilities are the
roots' scores; the best is chosen (the first of equals). A root whose predictions could not
be applied to the page is not shown and scores 0.0 (a wrong prediction, not a dropped
one). Nodes: one `imagined_state` per root (score, predictions, its letter), as the beam
search records them. When the budget stops the world model or the judge, or the judge
answers no letter, nothing is chosen (`action` None: the step acts on the proposals'
majority) and the paid-for predictions stay in the trace as `unjudged` nodes. With a ranker
in the judge (worldmodel.web.choice_judge), `facts` gives it each root's votes; the roots'
scores are the ranker's and each node keeps the judge's own probability (`judge_p`).
A judge that asks no model (a ranker alone) needs no prediction to rank a root: `imagine`
(default: every root) names the actions the world model imagines (the plan's width), and a
root it did not imagine, or whose prediction the budget stopped, is ranked on its page
facts (its node says `not_imagined`), instead of the step falling back to the majority.
Not handled: deeper searches (the judge compares one level's candidates).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Any

from worldplan.agent.graph.tree import Keys, SearchOutcome, node
from worldplan.agent.web.imagination import Imagination
from worldplan.agent.web.proposer import STOPPED
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.llm.yesno import NoVerdict
from worldplan.worldmodel.web.action_features import OptionFacts
from worldplan.worldmodel.web.choice_judge import ChoiceJudge
from worldplan.worldmodel.web.prompts import CHOICE_LETTERS
from worldplan.worldmodel.web.world_model import NoWorldModel, Prediction


async def _imagine(im: Imagination, action: str, samples: int, budget: Budget, wanted: bool
                   ) -> list[Prediction] | None:
    if not wanted:
        return None
    try:
        return await im.world_model.predict(im.obs, action, n=samples, budget=budget,
                                            history=im.history)
    except STOPPED:
        return None


def _shown(preds: list[Prediction]) -> tuple[str, str] | None:
    """(the change shown to the judge, why none could be applied) of a root's predictions;
    None when the world model made none (no world model: the action alone is shown)."""
    ok = [p for p in preds if not p.error]
    if ok:
        return ok[0].text, ""
    return ("", preds[0].error) if preds else None


async def choice_select(im: Imagination, judge: ChoiceJudge, roots: Sequence[tuple[str, str]],
                        keys: Keys, budget: Budget, *, samples: int = 1,
                        facts: Sequence[OptionFacts] | None = None,
                        imagine: Collection[str] | None = None) -> SearchOutcome:
    """Imagine each root, then one choice among them (see the module docstring); `facts`:
    each root's votes, for a judge with a ranker; `imagine`: the actions to imagine, for a
    judge that asks no model (default: all)."""
    roots = list(roots)[: len(CHOICE_LETTERS)]
    root_facts = list(facts or [OptionFacts()] * len(roots))[: len(roots)]
    optional = not judge.ask  # a ranker alone ranks a root that was not imagined
    made = await asyncio.gather(*[_imagine(im, a, samples, budget, not optional
                                           or imagine is None or a in imagine)
                                  for _, a in roots])
    nodes: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    options: list[tuple[str, str | None]] = []
    shown_at: list[int | None] = []  # each root's option index (None: not shown)
    for (_, action), preds in zip(roots, made, strict=True):
        info: dict[str, Any] = {"action": action, "predictions": [p.text for p in preds or []],
                                "tokens": sum(p.tokens for p in preds or [])}
        if preds is None and optional and not isinstance(im.world_model, NoWorldModel):
            info["not_imagined"] = True
            shown_at.append(len(options))
            options.append((action, None))
            infos.append(info)
            continue
        seen = _shown(preds or [])
        if seen is not None and seen[1]:
            info["error"] = seen[1]
            shown_at.append(None)
        else:
            shown_at.append(len(options))
            options.append((action, seen[0] if seen else ""))
        infos.append(info)
    stop, scores, why = "done", [0.0] * len(roots), ""
    judged: list[float | None] = [None] * len(roots)
    if not optional and any(m is None for m in made):
        stop = "budget"
    elif options:
        try:
            choice = await judge.choose(
                im.goal, im.obs, options, history=im.history, budget=budget,
                facts=[f for f, i in zip(root_facts, shown_at, strict=True) if i is not None])
            scores = [0.0 if i is None else choice.scores[i] for i in shown_at]
            if choice.judged:
                judged = [None if i is None else choice.judged[i] for i in shown_at]
        except STOPPED:
            stop = "budget"
        except NoVerdict as e:
            stop, why = "no_verdict", str(e)
    done = stop == "done" and bool(options)
    for (parent, action), info, i, score, own in zip(roots, infos, shown_at, scores, judged,
                                                      strict=True):
        preds = info.pop("predictions")
        text = preds[0] if preds else ""
        letter: dict[str, Any] = ({"letter": CHOICE_LETTERS[i]} if i is not None and done
                                  else {})
        if own is not None:
            letter["judge_p"] = own
        nodes.append(node(keys("w" if done else "u"), parent,
                          "imagined_state" if done else "unjudged", text, step=keys.step,
                          depth=1, score=score if done else None, tokens=info.pop("tokens"),
                          answer=action, info={**info, "predictions": preds, **letter,
                                               **({"stopped": stop, "why": why}
                                                  if not done else {})}))
    if not done:
        return SearchOutcome(None, None, None, "", nodes, stop)
    best = max(range(len(roots)), key=lambda j: (scores[j], -j))
    first = nodes[best]
    return SearchOutcome(roots[best][1], first["key"], scores[best], first["text"] or "",
                         nodes, stop)

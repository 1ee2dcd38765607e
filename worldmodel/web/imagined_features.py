"""What a world model's predicted change says about a candidate, as numbers for the ranker.

`action_features` reads the page as it is; these read the page the world model imagines
after the candidate (worldmodel.web.world_model.Prediction: its change text, or the error
that kept it from applying). `imagined_features(goal, tree, prediction)` gives:
- `wm_nothing`: the predicted change is empty (the action is predicted to do nothing);
- `wm_items`: log(1 + the number of changed, added and removed lines) (a big change: a new
  page, a dialog, the end of the episode);
- `wm_goal_quote`: a text the goal quotes appears in the predicted new lines and was not on
  the page (the action reveals or sets what the goal asks for: a tab showing the link, a
  field holding the text);
- `wm_goal_words`: the share of the goal's words that appear in the new lines and were not
  on the page;
- `wm_goal_progress`: how much nearer the goal the imagined page is than the page
  (worldmodel.web.goal_state: named items ticked, quoted texts filled, less wrong ticks and
  closed sections), clipped to [-2, 2]; 0 when the change cannot be applied to the page;
- `wm_error`: the prediction could not be read or applied (scored as its own feature, not
  dropped).
Scope: tree lines as worldmodel.web.page_diff reads them; words are lowercase letters and
digits. Pure; no model calls.
"""

from __future__ import annotations

import math

from worldplan.envs.web.axtree import parse_tree
from worldplan.worldmodel.web.action_features import words
from worldplan.worldmodel.web.goal_state import goal_quotes, goal_state
from worldplan.worldmodel.web.page_diff import (
    ChangeFormatError,
    PageChange,
    apply_change,
    normalise_line,
    parse_change,
)

IMAGINED_FEATURES = ("wm_nothing", "wm_items", "wm_goal_quote", "wm_goal_words",
                     "wm_goal_progress", "wm_error")
_STOP = frozenset({"the", "a", "an", "and", "or", "to", "of", "on", "in", "into", "for",
                   "click", "select", "enter", "then", "press", "button", "field", "box",
                   "text", "from", "with", "is", "it", "that", "this", "submit", "below"})


def imagined_features(goal: str, tree: str, change_text: str, error: str = ""
                      ) -> dict[str, float]:
    """The features of one predicted change (`change_text` in page_diff's format) of the
    page `tree` (see the module docstring)."""
    out = dict.fromkeys(IMAGINED_FEATURES, 0.0)
    if error:
        out["wm_error"] = 1.0
        return out
    try:
        change = parse_change(change_text) if change_text.strip() else None
    except ChangeFormatError:
        out["wm_error"] = 1.0
        return out
    if change is None or change.empty:
        out["wm_nothing"] = 1.0
        return out
    new = [*change.added, *(b for _, b in change.changed)]
    out["wm_items"] = math.log1p(len(new) + len(change.removed))
    before = "\n".join(normalise_line(ln) for ln in tree.splitlines()).lower()
    shown = "\n".join(normalise_line(ln) for ln in new).lower()
    quotes = [q.lower() for q in goal_quotes(goal) if q.strip()]
    out["wm_goal_quote"] = float(any(q in shown and q not in before for q in quotes))
    goal_words = words(goal) - _STOP
    if goal_words:
        fresh = (words(shown) - words(before)) & goal_words
        out["wm_goal_words"] = len(fresh) / len(goal_words)
    out["wm_goal_progress"] = _progress(goal, tree, change)
    return out


def _progress(goal: str, tree: str, change: PageChange) -> float:
    """The goal progress of the imagined page less the page's, clipped to [-2, 2]."""
    try:
        after = apply_change(tree, change)
    except ChangeFormatError:
        return 0.0
    gain = (goal_state(goal, parse_tree(after)).progress
            - goal_state(goal, parse_tree(tree)).progress)
    return float(max(-2, min(2, gain)))

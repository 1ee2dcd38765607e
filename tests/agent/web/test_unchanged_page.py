"""An action that changed nothing on the real page is marked in every later prompt, and the
proposer's grammar withholds it at the next step (control flow with a scripted model; the
grammar itself is checked against real regex matching)."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from tests.agent.web.test_graph_web import run_episode
from tests.fakes.web import FakeWebEnv, ScriptedWebLLM
from worldplan.agent.web.router import make_router
from worldplan.traces.schema import Step
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.web.action_grammar import action_regex
from worldplan.worldmodel.web.prompts import UNCHANGED

TREE = ('- textbox "Name" [ref=e2]\n- button "Submit" [ref=e3]\n'
        '- checkbox "Agree" [ref=e4]')


def test_avoided_actions_lose_their_verb_on_their_ref_only() -> None:
    rx = action_regex(TREE, avoid=["fill('e2', 'Bob')", "check('e4')"])
    assert not re.fullmatch(rx, 'fill("e2", "Bob")')
    assert not re.fullmatch(rx, 'fill("e2", "Alice")')  # any text: the verb is withheld
    assert not re.fullmatch(rx, 'press("e2", "Enter")')  # press shares fill's refs
    assert not re.fullmatch(rx, 'check("e4")')
    for ok in ('click("e2")', 'click("e3")', 'click("e4")', "noop()"):
        assert re.fullmatch(rx, ok), ok
    # nothing to withhold: the page's full grammar
    assert action_regex(TREE, avoid=["scroll(0, 200)", "stop('x')", "junk"]) == action_regex(TREE)
    # the page's last fill ref withheld: fill and press drop out of the grammar entirely
    assert "fill" not in action_regex(TREE, avoid=['fill("e2", "x")'])


def test_a_repeated_action_that_did_nothing_is_marked_and_withheld(store: TraceStore) -> None:
    stuck = ScriptedWebLLM(propose=lambda done, prompt, n: ["fill('e2', 'Bob')"] * n)
    out, _ = run_episode(stuck, FakeWebEnv(), make_router("reactive"), store, max_steps=3)
    proposals = [body for role, body in stuck.requests if role == "proposer"]
    assert len(proposals) == 3
    rxs = [body["structured_outputs"]["regex"] for body in proposals]
    prompts = ["\n".join(m["content"] for m in body["messages"]) for body in proposals]
    # step 1 filled the name (the page changed); step 2 filled it again (no change)
    assert re.fullmatch(rxs[1], 'fill("e2", "Bob")') and UNCHANGED not in prompts[1]
    assert not re.fullmatch(rxs[2], 'fill("e2", "Bob")')
    assert re.fullmatch(rxs[2], 'click("e3")')
    assert f"fill('e2', 'Bob'){UNCHANGED}" in prompts[2]
    assert prompts[2].count(UNCHANGED) == 1  # the first fill did change the page
    with Session(store.engine) as s:
        steps = list(s.exec(select(Step).where(Step.episode_id == out.episode_id)
                            .order_by(Step.id)))
    assert [st.info["page_changed"] for st in steps] == [True, False, False]


def test_every_trailing_action_that_did_nothing_is_withheld(store: TraceStore) -> None:
    plan = iter(["fill('e2', 'Bob')", "fill('e2', 'Bob')", "click('e1')", "click('e1')"])
    llm = ScriptedWebLLM(propose=lambda done, prompt, n: [next(plan)] * n)
    run_episode(llm, FakeWebEnv(), make_router("reactive"), store, max_steps=4)
    rxs = [body["structured_outputs"]["regex"] for role, body in llm.requests
           if role == "proposer"]
    # step 4: the refill and the heading click both did nothing on this very page
    assert not re.fullmatch(rxs[3], 'fill("e2", "Bob")')
    assert not re.fullmatch(rxs[3], 'click("e1")')
    assert re.fullmatch(rxs[3], 'click("e3")') and re.fullmatch(rxs[3], 'check("e4")')
    # step 3 withheld only the refill (the heading had not been clicked yet)
    assert re.fullmatch(rxs[2], 'click("e1")') and not re.fullmatch(rxs[2], 'fill("e2", "B")')


def test_a_moved_focus_alone_is_no_change() -> None:
    from worldplan.worldmodel.web.page_diff import real_change

    before = '- textbox [active] [ref=e3]: karrie\n- textbox [ref=e5]: AU'
    after = '- textbox [ref=e3]: karrie\n- textbox [active] [ref=e5]: AU'
    assert real_change(before, after).empty
    assert not real_change(before, before.replace("AU", "AUX")).empty

"""Date and time fields take text as typing it would (envs.web.typed_inputs), and a typed
field that rejects the text says so instead of staying silently empty."""

from __future__ import annotations

import pytest

from worldplan.envs.web.core import AsyncWebEnv
from worldplan.envs.web.host import WebHost
from worldplan.envs.web.tasks.registry import make_task
from worldplan.envs.web.typed_inputs import widget_value


@pytest.mark.parametrize("kind, text, value", [
    ("date", "05/20/2010", "2010-05-20"),
    ("date", "5/2/2010", "2010-05-02"),
    ("date", " 2013-08-27 ", "2013-08-27"),
    ("date", "02/30/2010", "02/30/2010"),  # no such day: left for the field to refuse
    ("date", "May 20, 2010", "May 20, 2010"),
    ("time", "14:05", "14:05"),
    ("time", "2:05 PM", "14:05"),
    ("time", "12:00 am", "00:00"),
    ("time", "9:07:30", "09:07:30"),
    ("time", "13:00 PM", "13:00 PM"),
    ("text", "05/20/2010", "05/20/2010"),  # an ordinary field takes the text as it is
])
def test_widget_value(kind: str, text: str, value: str) -> None:
    assert widget_value(kind, text) == value


@pytest.mark.browser
def test_a_date_field_takes_the_displayed_form_and_refuses_nonsense(web_host: WebHost) -> None:
    async def scenario() -> list[tuple[str, str, float]]:
        env = AsyncWebEnv(make_task("enter-date", web_host.base_url), web_host.browser)
        obs, _ = await env.reset(0)
        wanted = obs.goal.split("Enter ")[1].split(" ")[0]  # MM/DD/YYYY
        out = []
        for action in ("fill('e2', '13/40/2010')", f"fill('e2', '{wanted}')", "click('e3')"):
            obs, reward, *_ = await env.step(action)
            out.append((obs.axtree, obs.last_action_error, reward))
        await env.close()
        return out

    (tree0, err0, _), (tree1, err1, _), (_, _, reward) = web_host.run(scenario(), timeout=120)
    assert "did not take '13/40/2010'" in err0 and "MM/DD/YYYY" in err0
    assert err1 == "" and "textbox [active] [ref=e2]: 2" in tree1
    assert reward == 1.0

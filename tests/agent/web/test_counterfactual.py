"""Counterfactual collection (agent.runs.web_counterfactual) on the scripted form page with
the scripted web model (control flow only): sampled states are restored by reset and replay,
each arm runs from the same page, and a rerun skips what the file holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from tests.fakes.web import PLAN, FakeWebEnv, ScriptedWebLLM
from worldplan.agent.runs.web_counterfactual import (
    Collection,
    CounterfactualConfig,
    collect_counterfactuals,
)
from worldplan.agent.web.config import AgentClients, WebAgentConfig
from worldplan.agent.web.counterfactual_rows import CounterfactualFile, page_hash
from worldplan.agent.web.domain import WebEnvLike
from worldplan.envs.web.observation import WebObservation
from worldplan.traces.schema import Episode, LLMCall
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.client import LLMClient

ARMS2 = "act;revise:rounds=1"
ARMS3 = "act;revise:rounds=1;branch:depth=1,width=2"


class LeakyEnv(FakeWebEnv):
    """A page whose reset keeps the name typed before (not seeded-deterministic)."""

    async def reset(self, seed: int) -> tuple[WebObservation, dict[str, Any]]:
        name = self.state.get("name", "")
        obs, info = await super().reset(seed)
        if self.resets > 1:
            self.state["name"] = name
            obs = self._obs()
        return obs, info


@dataclass
class Envs:
    """agent.runs.web_envs.WebEnvs over the scripted page; keeps every page it gave."""

    leaky: bool = False
    made: list[FakeWebEnv] = field(default_factory=list)
    restarts: int = 0

    async def __aenter__(self) -> Envs:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @asynccontextmanager
    async def episode(self, task: str) -> AsyncIterator[WebEnvLike]:
        env = LeakyEnv() if self.leaky else FakeWebEnv()
        self.made.append(env)
        yield env


def collect(llm: ScriptedWebLLM, path: Path, arms: str, *, envs: Envs | None = None,
            states: int = 3, store: TraceStore | None = None,
            tasks: tuple[str, ...] = ("form",), parallel: int = 1) -> Collection:
    client = LLMClient("http://scripted", transport=llm.transport(), retries=0,
                       model="scripted")
    config = CounterfactualConfig(arms=arms, states=states, n=3, agent=WebAgentConfig(
        strategy="reactive", budget_tokens=600, max_steps=5))
    return asyncio.run(collect_counterfactuals(
        str(path), tasks=list(tasks), seeds=[0], clients=AgentClients(client, client, client),
        config=config, envs=envs or Envs(), store=store, parallel=parallel))


def test_each_sampled_state_is_restored_and_every_arm_starts_from_it(tmp_path: Path) -> None:
    llm, envs = ScriptedWebLLM(), Envs()
    out = collect(llm, tmp_path / "cf.jsonl", ARMS3, envs=envs)
    got = CounterfactualFile(tmp_path / "cf.jsonl").read()
    base = got.bases[("form", 0)]
    assert base.actions == PLAN and base.success and len(base.pages) == 3
    assert sorted(got.states) == [("form", 0, k) for k in range(3)]
    assert len(got.arms) == 9 and out.written == {"base": 1, "state": 3, "arm": 9}
    for (_, _, k), st in got.states.items():
        assert st.restored and st.page == base.pages[k]
        assert st.features["step"] == k and st.features["agreement"] == 1.0
    for r in got.arms.values():
        assert r.restored and r.success and r.base_action == PLAN[r.step]
        assert r.action == PLAN[r.step]  # every arm finds the plan's next action here
        assert r.continuation_steps == 2 - r.step
        assert (r.arm_completion_tokens == 0) == (r.route == "act")
    # the page the proposals of state k saw is the base episode's page at step k: the
    # proposer's request (greedy, then sampled) holds the restored page's text
    env = envs.made[0]
    page1 = WebObservation(env.goal, "http://fake/form",
                           '- heading "Form" [ref=e1]\n- textbox "Name" [ref=e2]: Bob\n'
                           '- checkbox "Agree" [ref=e4]\n- button "Submit" [ref=e3]', "",
                           PLAN[0], "")
    assert page_hash(page1.to_prompt()) == base.pages[1] == got.states[("form", 0, 1)].page
    # one reset for the base episode, then one per arm (the first arm of a state reuses the
    # page its proposals were measured on), each followed by the replayed prefix
    assert env.resets == 1 + 9
    assert out.unrestored == 0


def test_episodes_in_parallel_give_the_records_of_one_at_a_time(tmp_path: Path) -> None:
    tasks = ("form", "form-b", "form-c")
    one = collect(ScriptedWebLLM(), tmp_path / "one.jsonl", ARMS2, tasks=tasks)
    envs = Envs()
    many = collect(ScriptedWebLLM(), tmp_path / "many.jsonl", ARMS2, tasks=tasks,
                   envs=envs, parallel=3)
    assert many.written == one.written and len(envs.made) == 3  # one page per episode
    a, b = (CounterfactualFile(tmp_path / f).read() for f in ("one.jsonl", "many.jsonl"))
    def view(c: Any) -> list[tuple[Any, ...]]:
        return sorted((k, r.success, r.action, r.restored) for k, r in c.arms.items())
    assert view(a) == view(b) and len(view(b)) == 3 * 3 * 2
    assert many.unrestored == 0


def test_a_page_that_does_not_restore_is_flagged_not_hidden(tmp_path: Path) -> None:
    out = collect(ScriptedWebLLM(), tmp_path / "cf.jsonl", ARMS2, envs=Envs(leaky=True))
    got = CounterfactualFile(tmp_path / "cf.jsonl").read()
    assert not got.states[("form", 0, 0)].restored  # the name leaked through the reset
    assert out.unrestored > 0
    assert not all(r.restored for r in got.arms.values())


def test_a_rerun_skips_finished_records_and_repeats_no_call(tmp_path: Path,
                                                            store: TraceStore) -> None:
    path = tmp_path / "cf.jsonl"
    llm = ScriptedWebLLM()
    first = collect(llm, path, ARMS2, store=store)
    assert first.written == {"base": 1, "state": 3, "arm": 6}
    asked = len(llm.requests)
    again = collect(llm, path, ARMS2)
    assert again.written == {} and again.kept == 6
    assert len(llm.requests) == asked  # nothing asked again: base, states and arms are done
    more = collect(llm, path, ARMS3)
    assert more.written == {"arm": 3} and more.kept == 6
    new = llm.roles()[asked:]
    got = CounterfactualFile(path).read()
    branch = [r for r in got.arms.values() if r.route == "branch"]
    # only the branch arms' searches and their reactive continuations (one greedy proposal
    # a step) were asked: no base episode, no state's proposals again
    assert new.count("proposer") == sum(r.continuation_steps for r in branch)
    assert new.count("world_model") == len(branch)  # one distinct proposal: one root
    with Session(store.engine) as s:  # the first collection's calls are in the trace
        eps = s.exec(select(Episode)).all()
        calls = s.exec(select(LLMCall)).all()
    assert len(eps) == 1 + 3 + 6 and all(e.status == "completed" for e in eps)
    assert len(calls) == asked and all(c.episode_id is not None for c in calls)


def test_a_truncated_last_line_is_reported_kept_and_redone(tmp_path: Path) -> None:
    path = tmp_path / "cf.jsonl"
    llm = ScriptedWebLLM()
    collect(llm, path, ARMS2, states=1)
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 1 + 2
    cut = lines[-1][: len(lines[-1]) // 2]
    path.write_text("\n".join(lines[:-1]) + "\n" + cut)  # a killed writer
    got = CounterfactualFile(path).read()
    assert got.truncated and got.bad_lines == [4] and len(got.arms) == 1
    out = collect(llm, path, ARMS2, states=1)
    assert "cut short" in out.unread and out.written == {"arm": 1}
    text = path.read_text()
    assert cut + "\n" in text  # the fragment stays, alone on its line
    again = CounterfactualFile(path).read()
    assert len(again.arms) == 2 and again.bad_lines == [4] and not again.truncated

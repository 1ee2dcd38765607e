"""Scripted stand-ins for control-flow tests of the agent graph (never for capability).

`ScriptedWebLLM` answers through the one scripted server (tests.fakes.openai_server) as an
httpx transport; it tells the three roles apart by their TASK paragraph
(worldmodel.web.prompts.role_of_messages) and answers:
- proposer: `propose(done, prompt, n)` -> n texts (done: plan steps the page shows done);
- world model: the action's change as tree lines (`imagined_change`: the true one for PLAN
  actions on FakeWebEnv's page, else a status line naming the action);
- verifier (1 token, logprobs): P(Yes) = `judge(prompt)`.
Completion tokens are the words of the text plus one end token, cut at max_tokens; prompts
cost their words; every answered request is recorded with its role and completion tokens.
`FakeWebEnv` is a three-widget page whose goal needs `fill(e2, "Bob")`, `check(e4)`,
`click(e3)` in that order; it can raise on a chosen step (a killed process) or report a
browser crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fakes.openai_server import Answer, OpenAIServer, Reply, Sample, letters, yes_no
from worldplan.envs.web.actions import ActionError, parse_action
from worldplan.envs.web.observation import WebObservation
from worldplan.worldmodel.web.prompts import JUDGE_CHOICE_TASK, SYSTEM, role_of_messages

PLAN = ["fill('e2', 'Bob')", "check('e4')", "click('e3')"]


def page_progress(prompt: str) -> int:
    """How much of PLAN the (real) page in the prompt shows done, plus imagined actions."""
    done = 0
    prompt = prompt.replace(SYSTEM, "")  # the shared system prompt is not the page
    if 'textbox "Name" [ref=e2]: Bob' in prompt:
        done = 2 if "[checked]" in prompt else 1
    return done + prompt.count("(imagined:")


def judged_actions(prompt: str) -> list[str]:
    return re.findall(r"Imagined: (\S+\(.*?\)) ->", prompt)


def good_judge(prompt: str) -> float:
    """High when the first imagined action is the plan's next one on the real page."""
    want = PLAN[min(page_progress(prompt), 2)]
    acts = judged_actions(prompt)
    return 0.9 if acts and acts[0] == want else 0.2


def planner(done: int, prompt: str, n: int) -> list[str]:
    return [PLAN[min(done, 2)]] * n


def role_of(body: dict[str, Any]) -> str:
    """Which of the agent's roles sent the request, from its TASK paragraph."""
    return role_of_messages(body["messages"])


CHANGES = {  # what each PLAN action does to FakeWebEnv's page, as changed tree lines
    PLAN[0]: '~ textbox "Name" [ref=e2] => textbox "Name" [ref=e2]: Bob',
    PLAN[1]: '~ checkbox "Agree" [ref=e4] => checkbox "Agree" [checked] [ref=e4]',
    PLAN[2]: '+ status "Submitted"',
}


def imagined_change(action: str) -> str:
    """The world model's answer: the true change of a PLAN action, else a status line
    naming the action (a change that applies to any page)."""
    try:
        key = str(parse_action(action))
    except ActionError:
        key = action
    known = {str(parse_action(a)): c for a, c in CHANGES.items()}
    return known.get(key, f'+ status "did {re.sub(r"[^A-Za-z0-9]+", " ", key).strip()}"')


def prompt_words(body: dict[str, Any]) -> int:
    """A prompt's tokens by this model's rule: its messages' words."""
    return len("\n".join(m["content"] for m in body["messages"]).split())


def words_sample(text: str, max_tokens: int) -> Sample:
    """The words of `text` (at most max_tokens), costing one token more for the end."""
    words = text.split(" ")
    cut = words[:max_tokens]
    finish = "stop" if len(cut) == len(words) else "length"
    return Sample(" ".join(cut), finish, min(len(words) + 1, max_tokens))


@dataclass
class ScriptedWebLLM:
    propose: Callable[[int, str, int], list[str]] = planner
    judge: Callable[[str], float] = good_judge
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (role, body)
    served: list[tuple[str, int]] = field(default_factory=list)  # (role, completion tokens)
    server: OpenAIServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = OpenAIServer(self.answer, tokenize=prompt_words)

    def transport(self) -> httpx.MockTransport:
        return self.server.transport()

    def answer(self, body: dict[str, Any]) -> Answer:
        role = role_of(body)
        prompt = "\n".join(m["content"] for m in body["messages"])
        n, max_tokens = int(body.get("n", 1)), int(body["max_tokens"])
        prompt_tokens = prompt_words(body)
        if role == "verifier" and JUDGE_CHOICE_TASK in prompt:
            reply = letters(self.option_scores(prompt), prompt_tokens)
        elif role == "verifier":
            reply = yes_no(min(max(self.judge(prompt), 1e-6), 1 - 1e-6), prompt_tokens)
        else:
            if role == "proposer":
                texts = self.propose(page_progress(prompt), prompt, n)
                if "Give a better next action" in prompt:
                    texts = [PLAN[min(page_progress(prompt), 2)]] * n
            elif role == "world_model":
                action = re.findall(r"predict the page after the action (.*?)\. Write", prompt)[-1]
                texts = [imagined_change(action)] * n
            else:
                texts = ["?"] * n
            reply = Reply([words_sample(t, max_tokens) for t in texts], prompt_tokens)
        self.requests.append((role, body))
        self.served.append((role, reply.completion_tokens))
        return reply

    def option_scores(self, prompt: str) -> list[float]:
        """The choice judge's options, each scored by `judge` as its action alone would be
        (the predicted changes shown with them are ignored)."""
        head = prompt[: prompt.find("Options:\n")]
        options = re.findall(r"^[A-P]\. (.*?)(?: -> .*)?$", prompt.split("Options:\n")[-1],
                             re.M)
        return [self.judge(f"{head}Imagined: {a} -> \n") for a in options]

    def roles(self) -> list[str]:
        return [r for r, _ in self.requests]


class Killed(RuntimeError):
    """The process 'dies' in the middle of a step."""


@dataclass
class FakeWebEnv:
    kill_at_step: int | None = None  # raise Killed on this real step (1-based count)
    crash_at_step: int | None = None  # report a browser crash once on this step
    resets: int = 0
    steps: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    goal: str = "Enter Bob, tick the box, then press Submit."

    def _obs(self, action: str = "", error: str = "") -> WebObservation:
        name = f": {self.state['name']}" if self.state["name"] else ""
        box = " [checked]" if self.state["checked"] else ""
        tree = (f'- heading "Form" [ref=e1]\n- textbox "Name" [ref=e2]{name}\n'
                f'- checkbox "Agree"{box} [ref=e4]\n- button "Submit" [ref=e3]')
        return WebObservation(self.goal, "http://fake/form", tree, "", action, error)

    async def reset(self, seed: int) -> tuple[WebObservation, dict[str, Any]]:
        self.resets += 1
        self.state = {"name": "", "checked": False, "n": 0}
        return self._obs(), {"seed": seed}

    async def step(self, text: str) -> tuple[WebObservation, float, bool, bool, dict[str, Any]]:
        self.state["n"] += 1
        self.steps.append(text)
        if self.kill_at_step is not None and len(self.steps) == self.kill_at_step:
            raise Killed(f"killed at step {len(self.steps)}")
        if self.crash_at_step is not None and len(self.steps) == self.crash_at_step:
            self.crash_at_step = None
            return self._obs(text, "browser crashed"), 0.0, False, True, {
                "browser_crashed": True, "crash": "scripted crash"}
        try:
            a = parse_action(text)
        except ActionError as e:
            return self._obs(text, str(e)), 0.0, False, False, {"action_ok": False}
        reward, done = 0.0, False
        if a.name == "fill" and a.args["ref"] == "e2":
            self.state["name"] = a.args["text"]
        elif a.name == "check" and a.args["ref"] == "e4":
            self.state["checked"] = True
        elif a.name == "click" and a.args["ref"] == "e3":
            ok = self.state["name"] == "Bob" and self.state["checked"]
            reward, done = (1.0 if ok else -1.0), True
        return self._obs(str(a)), reward, done, False, {"action_ok": True}

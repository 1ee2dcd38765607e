"""The web domain of the agent graph: a web task's environment and the models that know it.

`WebDomain` is the graph's view of a web task: the environment (an `envs.web.core.
AsyncWebEnv`, or anything with its `reset(seed)` / `step(text)`), the proposer, the world
model and the progress verifier. `act` executes the proposals' majority action; `revise`
and `branch` search over imagined states (agent.web.imagination, agent.web.mcts). After
every executed action that was imagined, the prediction is scored against the real next
page (worldmodel.web.world_model.prediction_accuracy) and stored in the step's info.
With `expand`, the page's one-gesture actions the proposer did not offer are added to the
proposals as candidates of count 0 (agent.web.expansion): no votes, only search roots. With
the choice judge (worldmodel.web.choice_judge), a one-level branch asks it once over all
roots (agent.web.choice_search); deeper searches refuse it. With a ranker alone as the
judge and the local-first world model, the candidates it computes are marked free (they
cost the plan no call and are imagined first); a ranker ranks every root, so none is lost,
while another judge keeps the roots in their order (the majority first).
`estimate` bins the step's features (agent.web.difficulty: proposals, page, step) on the
cuts, and with the learned predictor, of the web policy it was given (`difficulty`).

Crashes and resumes: the domain remembers the actions it executed; before each real step it
checks them against the state's `actions` and, if they differ (a new process resuming from
a checkpoint, or a browser that crashed), resets the page with the episode's seed and
replays them (pages are seeded and deterministic). A crashed step, or a crash during the
replay itself, is retried this way up to `max_attempts` times; `retries` lists why (and
where: the step, or the replay before it), and the episode's info keeps it. A `stop(...)`
answer is read by the action parser, quotes and escapes intact. Each executed step's info
says whether the real page changed (`page_changed`: worldmodel.web.page_diff.real_change is
not empty, so a moved focus alone is no change); the prompts mark the actions that changed
nothing, and the proposer may not repeat any of the trailing ones (`history_of`).
Not handled: running episodes and storing them (agent.runs.web_agent), screenshots in
prompts, parallel candidates in several real browser tabs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from worldplan.agent.control.difficulty import Estimate
from worldplan.agent.graph.budgets import StepCosts
from worldplan.agent.graph.nodes import StepResult
from worldplan.agent.graph.state import AgentState, StepDecision
from worldplan.agent.graph.tree import Keys, SearchOutcome, node
from worldplan.agent.web.choice_search import choice_select
from worldplan.agent.web.difficulty import WebDifficulty, step_features
from worldplan.agent.web.expansion import expanded
from worldplan.agent.web.imagination import Imagination, imagined_beam_search, revise_plan
from worldplan.agent.web.mcts import mcts_search, root_priors
from worldplan.agent.web.plans import BranchPlan, RevisePlan, kept_roots, plan_of
from worldplan.agent.web.proposer import STOPPED, Proposer
from worldplan.envs.web.actions import stop_answer
from worldplan.envs.web.observation import WebObservation
from worldplan.worldmodel.llm.accounting import Budget
from worldplan.worldmodel.web.action_features import OptionFacts
from worldplan.worldmodel.web.choice_judge import ChoiceJudge
from worldplan.worldmodel.web.local_first import LocalFirstWorldModel
from worldplan.worldmodel.web.page_diff import real_change
from worldplan.worldmodel.web.prompts import annotated
from worldplan.worldmodel.web.world_model import (
    PagePredictor,
    ProgressJudge,
    prediction_accuracy,
)

StepReturn = tuple[WebObservation, float, bool, bool, dict[str, Any]]
CALL_OVERHEAD = 80  # uncached prompt tokens of a search call: its TASK paragraph and steps


class WebEnvLike(Protocol):
    async def reset(self, seed: int) -> tuple[WebObservation, dict[str, Any]]: ...

    async def step(self, text: str
                   ) -> tuple[WebObservation, float, bool, bool, dict[str, Any]]: ...


@dataclass
class WebModels:
    proposer: Proposer
    world_model: PagePredictor
    verifier: ProgressJudge


def _obs_dict(obs: WebObservation) -> dict[str, Any]:
    return {k: v for k, v in obs.as_dict().items() if k != "screenshot"}


class WebDomain:
    kind = "web"
    needs_candidates = True

    def __init__(self, env: WebEnvLike, models: WebModels, *, seed: int,
                 max_attempts: int = 3, difficulty: WebDifficulty | None = None,
                 call_overhead: int = 0, expand: int = 0) -> None:
        self.env, self.models, self.seed = env, models, seed
        self.expand = expand  # one-gesture actions added to the proposals (agent.web.expansion)
        self.difficulty = difficulty or WebDifficulty()  # a web policy's cuts and predictor
        self.max_attempts = max_attempts
        # a plan's cost per call: its completion, plus `call_overhead` uncached prompt tokens
        # when the budget counts prompts (the page is cached by the step's first proposal);
        # a role that makes no call (no world model, the oracle judge) costs nothing
        def per_call(tokens: int) -> int:
            return tokens + call_overhead if tokens else 0
        self.costs = StepCosts(per_call(models.proposer.max_tokens),
                               per_call(models.world_model.max_tokens),
                               per_call(models.verifier.tokens_per_sample))
        self.executed: list[str] | None = None  # actions done on the live page since reset
        self.retries: list[dict[str, Any]] = []

    async def start(self, state: AgentState) -> dict[str, Any]:
        obs, info = await self.env.reset(self.seed)
        self.executed = []
        return {"observation": _obs_dict(obs), "goal": obs.goal,
                "info": {"reset": {k: v for k, v in info.items() if k != "blocked"}}}

    def observation_text(self, observation: dict[str, Any]) -> str:
        return WebObservation.from_dict(observation).to_prompt()

    async def propose(self, state: AgentState, n: int, budget: Budget,
                      keys: Keys) -> list[dict[str, Any]]:
        obs = self.observation_text(state["observation"])
        shown, avoid = history_of(state)
        try:
            props = await self.models.proposer.propose(obs, shown, n, budget=budget,
                                                       avoid=avoid)
        except STOPPED:
            return []
        nodes = [node(keys("c"), None, "proposal", p.raw, step=keys.step, tokens=p.tokens,
                      answer=p.action or "", info={"error": p.error, "count": p.count,
                                                   "logprob": p.logprob, "entropy": p.entropy,
                                                   "greedy": p.greedy}) for p in props]
        extra = expanded(obs, [p.action for p in props if p.action], avoid, self.expand)
        nodes += [node(keys("c"), None, "proposal", "", step=keys.step, tokens=0, answer=a,
                       info={"count": 0, "enumerated": True}) for a in extra]
        wm, judge = self.models.world_model, self.models.verifier  # free roots (router.fit)
        alone = isinstance(judge, ChoiceJudge) and not judge.ask  # a ranker: ranks them all
        if isinstance(wm, LocalFirstWorldModel) and alone:
            for c in nodes:
                c["info"]["free"] = bool(c["answer"]) and wm.computes(obs, c["answer"])
        return nodes

    def estimate(self, goal: str, candidates: list[dict[str, Any]],
                 state: AgentState | None = None) -> Estimate:
        """This step's difficulty from its proposals and page (agent.web.difficulty), on the
        cuts and with the predictor of the policy the domain was given."""
        if not candidates:
            return Estimate(None, None, self.difficulty.source, "no proposals")
        s = state or {}
        return self.difficulty.estimate(step_features(candidates, s.get("observation") or {},
                                                      int(s.get("step", 0))))

    async def search(self, route: str, state: AgentState, decision: StepDecision,
                     budget: Budget, keys: Keys) -> SearchOutcome:
        cands = state["candidates"]
        best = majority_action(cands)
        if route == "act" or best is None:
            return self._act(cands, best)
        plan = plan_of(route, decision.get("params"))
        im = Imagination(self.models.world_model, self.models.verifier,
                         self.models.proposer, state.get("goal", ""),
                         self.observation_text(state["observation"]), history_of(state)[0])
        root_key = next(c["key"] for c in cands if c["answer"] == best)
        if isinstance(plan, RevisePlan):
            out = await revise_plan(im, (root_key, best), keys, budget,
                                    rounds=plan.rounds, samples=plan.samples)
        else:
            assert isinstance(plan, BranchPlan), f"route {route!r} has no search plan"
            roots, seen = [], set()
            for c in cands:  # distinct readable actions, the majority first, then by rank
                if c["answer"] and c["answer"] not in seen:
                    seen.add(c["answer"])
                    roots.append((c["key"], c["answer"]))
            roots.sort(key=lambda r: r[1] != best)
            kept = kept_roots(roots, plan.width, {c["answer"] for c in cands
                                                  if c["info"].get("free")})
            if isinstance(self.models.verifier, ChoiceJudge):
                if plan.mcts or plan.depth != 1:
                    raise ValueError("the choice judge ranks one level of candidates: "
                                     "use it with best-of-n (depth 1, no MCTS)")
                ranked = kept if self.models.verifier.ask else roots  # a ranker alone: all
                out = await choice_select(im, self.models.verifier, ranked, keys, budget,
                                          samples=plan.samples, imagine={a for _, a in kept},
                                          facts=option_facts(cands, ranked))
            elif plan.mcts:
                out = await mcts_search(im, kept, keys, budget,
                                        simulations=plan.simulations,
                                        depth=plan.mcts_depth, width=plan.width,
                                        samples=plan.samples,
                                        prior=root_priors(cands, kept))
            else:
                out = await imagined_beam_search(im, kept, keys, budget,
                                                 depth=plan.depth, beam=plan.beam,
                                                 width=plan.width, samples=plan.samples)
        if out.action is None:  # nothing imagined (budget): act on the proposals
            fallback = self._act(cands, best)
            fallback.nodes, fallback.stop_reason = out.nodes, out.stop_reason
            return fallback
        return out

    @staticmethod
    def _act(cands: list[dict[str, Any]], best: str | None) -> SearchOutcome:
        if best is not None:
            key = next(c["key"] for c in cands if c["answer"] == best)
            return SearchOutcome(best, key, None, "", [])
        if cands:  # nothing readable: send the first line, the env explains the error
            raw = (cands[0]["text"].strip().splitlines() or [""])[0][:200]
            return SearchOutcome(raw, cands[0]["key"], None, "", [])
        return SearchOutcome("noop()", None, None, "", [])

    async def _sync(self, actions: Sequence[str]) -> StepReturn | None:
        """Bring the live page to the state after `actions` (reset + replay if needed).
        Returns the replayed step that crashed the browser, if one did (None: in sync)."""
        if self.executed is not None and self.executed == list(actions):
            return None
        self.executed = None
        await self.env.reset(self.seed)
        done: list[str] = []
        for a in actions:
            res = await self.env.step(a)
            if res[4].get("browser_crashed"):
                return res
            done.append(a)
        self.executed = done
        return None

    async def execute(self, state: AgentState, action: str, prediction: str) -> StepResult:
        before = str(state["observation"].get("axtree", ""))
        for attempt in range(1, self.max_attempts + 1):
            crashed = await self._sync(state["actions"])
            at = f"replay before step {state['step']}"
            if crashed is None:
                obs, reward, term, trunc, info = crashed = await self.env.step(action)
                at = f"step {state['step']}"
            if not crashed[4].get("browser_crashed"):
                break
            obs, reward, term, trunc, info = crashed
            self.executed = None
            self.retries.append({"attempt": attempt, "at": at,
                                 "reason": info.get("crash", "")})
        else:
            info = {**info, "retries_exhausted": True}
        if self.executed is not None:
            self.executed.append(action)
        info = {**info, "page_changed": not real_change(before, obs.axtree).empty}
        if prediction:
            info = {**info, "world_model": asdict(prediction_accuracy(prediction, before,
                                                                      obs.axtree))}
        answer = stop_answer(action) or ""
        return StepResult(_obs_dict(obs), float(reward), bool(term), bool(trunc),
                          obs.last_action_error, answer,
                          {k: v for k, v in info.items() if k != "blocked"})


def history_of(state: AgentState) -> tuple[list[str], list[str]]:
    """The actions so far as prompts show them (each one that left the real page unchanged
    marked: prompts.annotated) and the actions the proposer's grammar must withhold: the
    trailing run of actions that changed nothing. Each of them was executed on the page as
    it is now (nothing changed since), and pages are deterministic, so each would do
    nothing again. Which actions changed the page is read from the step records
    (`history`, `changed`); where they do not line up with `actions` (a state built without
    them), the actions are shown plain and nothing is withheld."""
    actions = list(state.get("actions", []))
    records = list(state.get("history", []))
    if [r.get("action") for r in records] != actions:
        return actions, []
    changed = [r.get("changed") for r in records]
    avoid: list[str] = []
    for action, did in zip(reversed(actions), reversed(changed), strict=True):
        if did is not False:
            break
        avoid.append(action)
    return annotated(actions, changed), avoid


def option_facts(cands: Sequence[dict[str, Any]], roots: Sequence[tuple[str, str]]
                 ) -> list[OptionFacts]:
    """Each root's votes among the step's proposals, and whether the greedy reply is it."""
    total = sum(proposal_votes(c) for c in cands)
    out = []
    for _, action in roots:
        mine = [c for c in cands if c.get("answer") == action]
        out.append(OptionFacts(sum(proposal_votes(c) for c in mine), total,
                               any((c.get("info") or {}).get("greedy") for c in mine)))
    return out


def proposal_votes(c: dict[str, Any]) -> int:
    """A candidate's votes: its merged count (1 when not merged), none when unreadable (an
    added one-gesture action has count 0)."""
    return int((c.get("info") or {}).get("count", 1)) if c.get("answer") else 0


def majority_action(cands: list[dict[str, Any]]) -> str | None:
    """The readable action most proposals gave (merged candidates carry their count in
    info; the first, i.e. the best ranked, on ties)."""
    counts: dict[str, int] = {}
    for c in cands:
        n = proposal_votes(c)
        if n > 0:  # an added one-gesture action (count 0) is no vote
            counts[c["answer"]] = counts.get(c["answer"], 0) + n
    return max(counts, key=lambda a: counts[a]) if counts else None

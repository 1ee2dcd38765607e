"""Step-level search guided by the verifier: the engine of beam search, diverse verifier
tree search (DVTS) and lookahead search (Snell et al. 2024, section 5; search-and-learn).

A step ends at a blank line (the stop string "\\n\\n"). The search is a set of `Group`s
(beam search: one; DVTS: N / M independent subtrees). Every round, each live group samples
`per_round` candidate next steps from its active beams (round 0: from the empty solution),
shared as evenly as possible: when beams finish, the others get more children, so every
round has N candidates in all ("finished beams are replaced"). The children of one beam are
ONE n-sample request. Each candidate is judged as a (partial) solution in the conversation
it was sampled from (a PRM scores every step; a generative verifier the last, appended to
the beam's earlier scores), and aggregated with ctx.aggregation. A candidate is finished
when its step holds a \\boxed{} answer, the model ended it (end of sequence: finish "stop"
with no stop string matched), or it is empty. A group keeps its `keep` best unfinished
candidates (beam: N / M; DVTS: the best one, and the subtree ends when its best candidate
is finished). The search ends when every group has `per_round` finished candidates (beam
search) or no active beam, or at round `max_rounds`, which samples without the stop string
so every beam is completed.

`lookahead` > 0 scores each unfinished candidate at the end of a greedy rollout of that
many more steps (agent.strategies.lookahead) instead of at the candidate itself.

Compute, by construction (worldmodel.llm.accounting): round 0 is charged one
generation-equivalent per candidate and `lookahead` per candidate's rollout, later rounds
nothing, so N beams cost N and lookahead k costs N(k + 1) (a charged verifier adds one per
round-0 judgement). Tokens and FLOPs are what the server reports; under such a limit, a
round whose worst case (every prompt uncached, step_max_tokens per candidate, rollouts and
charged judgements) does not fit becomes the final round, completing as many beams as fit,
best first. Selection: among finished candidates (beam search: the N best), by weighted
vote (`selection`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from worldplan.agent.strategies.base import SearchContext
from worldplan.agent.strategies.records import Node, Sample, StrategyResult
from worldplan.envs.math.answer import extract_answer, extract_boxed
from worldplan.worldmodel.math.prompts import STEP_SEP, continuation, join_steps, solver_messages

MAX_ROUNDS = 40

# (problem, ctx, steps, parent key, k steps, max_tokens, equivalents per step)
#   -> (steps rolled out, their nodes)
Rollout = Callable[[str, SearchContext, list[str], str, int, int, int],
                   Awaitable[tuple[list[str], list[Node]]]]


@dataclass
class Beam:
    steps: list[str]
    scores: list[float]
    key: str | None  # the node of its last step (None for the empty root)
    score: float | None = None  # aggregated


@dataclass
class Group:
    """One subtree: its active beams, and the candidates it finished."""

    per_round: int  # candidates sampled per round
    keep: int  # unfinished candidates kept per round
    ends_on_best: bool = False  # DVTS: the subtree ends when its best candidate finished
    active: list[Beam] = field(default_factory=lambda: [Beam([], [], None)])
    finished: list[Node] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return bool(self.active) and len(self.finished) < self.per_round


@dataclass(frozen=True)
class _Request:
    group: Group
    beam: Beam
    n: int
    prompt: int  # tokens, if the budget counts them


@dataclass
class SearchSpec:
    name: str
    groups: list[Group]
    max_rounds: int = MAX_ROUNDS
    lookahead: int = 0
    rollout: Rollout | None = None
    selection: str = "weighted"
    best_of: int | None = None  # candidates kept for selection (beam: N)
    params: dict[str, Any] = field(default_factory=dict)


async def step_search(problem: str, ctx: SearchContext, spec: SearchSpec) -> StrategyResult:
    """Run the search described by `spec`."""
    if spec.lookahead and spec.rollout is None:
        raise ValueError("lookahead > 0 needs a rollout function (agent.strategies.lookahead)")
    nodes: list[Node] = []
    stop = "max_rounds"
    for rnd in range(spec.max_rounds):
        live = [g for g in spec.groups if g.live]
        if not live:
            stop = "done"
            break
        final = rnd == spec.max_rounds - 1
        requests = await _requests(problem, ctx, live)
        if not final and not _fits(ctx, requests, ctx.step_max_tokens, spec.lookahead, rnd):
            final = True
        max_tokens = ctx.max_tokens
        if final:
            requests, max_tokens = _final_fit(ctx, requests, rnd)
            if not requests:
                stop = "budget"
                break
        made = await asyncio.gather(*[
            _expand(problem, ctx, r, rnd, final, max_tokens if final else ctx.step_max_tokens,
                    spec) for r in requests])
        done_now: dict[int, list[Node]] = {id(g): [] for g in live}
        for group in live:
            group.active = []
        for r, children in zip(requests, made, strict=True):
            if children is None:
                stop = "budget"
                continue
            for beam, node, done, extra in children:
                nodes.append(node)
                nodes.extend(extra)
                (done_now[id(r.group)].append(node) if done else r.group.active.append(beam))
        for group in live:
            _advance(group, done_now[id(group)], nodes)
        if final:
            stop = "done" if stop != "budget" else stop
            break
    finished = [n for g in spec.groups for n in g.finished]
    if spec.best_of is not None:
        finished = sorted(finished, key=lambda n: -_rank(n))[:spec.best_of]
    candidates = finished or [n for n in nodes if n.info.get("kept")][-1:]
    idx = await ctx.choose(candidates, spec.selection)
    params = {**spec.params, "max_rounds": spec.max_rounds, "lookahead": spec.lookahead,
              "selection": spec.selection, "aggregation": ctx.aggregation,
              "rounds": 1 + max((n.depth for n in nodes), default=-1)}
    return ctx.result(spec.name, candidates[idx] if idx is not None else None, candidates,
                      nodes, stop, params)


def _rank(x: Beam | Node) -> float:
    return x.score if x.score is not None else -1.0


def _advance(group: Group, done: list[Node], nodes: list[Node]) -> None:
    """After a round: the group's finished candidates and the beams it keeps (beam search:
    its `keep` best unfinished; DVTS: its best candidate, and the subtree ends if that one
    is finished)."""
    group.active.sort(key=lambda b: -_rank(b))
    if group.ends_on_best:
        best = max(done, key=_rank, default=None)
        if best is not None and (not group.active or _rank(best) >= _rank(group.active[0])):
            group.finished.append(best)
            group.active = []
            return
    else:
        group.finished.extend(done)
    group.active = group.active[:group.keep]
    kept = {b.key for b in group.active}
    for n in nodes:
        if n.key in kept:
            n.info["kept"] = True


async def _requests(problem: str, ctx: SearchContext, live: list[Group]) -> list[_Request]:
    """Each live group's per_round samples shared over its active beams."""
    out: list[_Request] = []
    for g in live:
        k = len(g.active)
        for i, beam in enumerate(g.active):
            n = g.per_round // k + (1 if i < g.per_round % k else 0)
            if n:
                messages, extra = continuation(problem, beam.steps)
                out.append(_Request(g, beam, n, await ctx.prompt_tokens(messages, extra)))
    return out


def _fits(ctx: SearchContext, requests: list[_Request], tokens_each: int, lookahead: int,
          rnd: int) -> bool:
    samples = sum(r.n for r in requests)
    prompt = sum(r.prompt for r in requests)
    per_path = 1 + lookahead if rnd == 0 else 0
    # a rollout step's worst case: its prompt (the candidate's) and tokens_each
    rollout = lookahead * sum(r.n * (r.prompt + 2 * tokens_each) for r in requests)
    return ctx.fits(samples, prompt=prompt + rollout, tokens_each=tokens_each, judged=True,
                    equivalents=samples * per_path,
                    judge_prompt=sum(r.n * r.prompt for r in requests))


def _final_fit(ctx: SearchContext, requests: list[_Request],
               rnd: int) -> tuple[list[_Request], int]:
    """The final round's completions with the largest max_tokens that fits: as planned,
    else one per beam, else fewer beams (best first); ([], 0) if none fits."""
    def room(reqs: list[_Request]) -> int:
        lo, hi = 0, ctx.max_tokens
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if _fits(ctx, reqs, mid, 0, rnd) else (lo, mid - 1)
        return lo

    enough = min(ctx.max_tokens, 16)
    if (t := room(requests)) >= enough:
        return requests, t
    beams = sorted({id(r.beam): r for r in requests}.values(), key=lambda r: -_rank(r.beam))
    one = [_Request(r.group, r.beam, 1, r.prompt) for r in beams]
    while one:
        if (t := room(one)) >= enough:
            return one, t
        one = one[:-1]
    return [], 0


async def _expand(problem: str, ctx: SearchContext, r: _Request, rnd: int, final: bool,
                  max_tokens: int, spec: SearchSpec
                  ) -> list[tuple[Beam, Node, bool, list[Node]]] | None:
    """Sample r.n next steps of r.beam in one request (the rest of the solution in a final
    round) and judge each; None if the request did not fit."""
    messages, extra = continuation(problem, r.beam.steps)
    samples = await ctx.sample(messages, n=r.n, max_tokens=max_tokens,
                               stop=None if final else [STEP_SEP], extra=extra,
                               equivalents=r.n if rnd == 0 else 0)
    if samples is None:
        return None
    return list(await asyncio.gather(*[
        _child(problem, ctx, r.beam, s, rnd, final, max_tokens, spec) for s in samples]))


async def _child(problem: str, ctx: SearchContext, beam: Beam, s: Sample, rnd: int,
                 final: bool, max_tokens: int, spec: SearchSpec
                 ) -> tuple[Beam, Node, bool, list[Node]]:
    text = s.text.strip("\n")
    steps = beam.steps + [text] if text else list(beam.steps)
    done = final or not text or s.ended or extract_boxed(text) is not None
    full = join_steps(steps)
    node = Node(ctx.key("b"), beam.key, "final" if done else "step", text,
                extract_answer(full, bare=False) if done else None, depth=rnd, tokens=s.tokens,
                info={"full_text": full, "finish_reason": s.finish_reason, "round": rnd,
                      "ended": s.ended})
    judged, extra = steps, list[Node]()
    if spec.lookahead and spec.rollout is not None and not done:
        judged, extra = await spec.rollout(problem, ctx, steps, node.key, spec.lookahead,
                                           max_tokens, 1 if rnd == 0 else 0)
    if judged:
        complete = done or extract_boxed(judged[-1]) is not None
        await ctx.score(node, problem, judged, complete=complete,
                        asked=solver_messages(problem), path=rnd == 0, earlier=beam.scores)
    return Beam(steps, node.scores, node.key, node.score), node, done, extra

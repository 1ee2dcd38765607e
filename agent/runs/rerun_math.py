"""The `math` kind's rerun function: `worldplan math` again, from the stored config.

Rebuilds `MathRunConfig` from `Run.config`, the verifier the original run used (the
generative verifier when the run made `verifier` calls through the client, none otherwise;
`Run.config["verifier"]` wins when the runner stores it), a grader, and calls
`agent.runs.math.run_math` with the cached client into a new run.
Not handled: runs verified by a PRM (its /pooling calls bypass the LLM client, so the cache
cannot answer them): a clear error says so.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from worldplan.agent.runs.math import MathRunConfig, run_math
from worldplan.agent.runs.rerun import NoRerunner, RerunContext
from worldplan.envs.math.grader import Grader
from worldplan.traces.schema import LLMCall
from worldplan.worldmodel.math.verifier import GenerativeVerifier


def _verifier_kind(ctx: RerunContext) -> str:
    stored = ctx.run["config"].get("verifier")
    if isinstance(stored, str) and stored:
        return stored
    t = LLMCall.__table__  # type: ignore[attr-defined]
    with ctx.store.engine.connect() as c:
        rows = c.execute(select(t.c.role, t.c.endpoint).where(t.c.run_id == ctx.run["id"])
                         .distinct()).all()
    if any(endpoint not in ("chat", "completions") for _, endpoint in rows):
        return "prm"
    return "generative" if any(role == "verifier" for role, _ in rows) else "none"


def rerun(ctx: RerunContext) -> int:

    names = {f.name for f in dataclasses.fields(MathRunConfig)}
    config = MathRunConfig(**{k: v for k, v in ctx.run["config"].items() if k in names})
    kind = _verifier_kind(ctx)
    if kind == "prm":
        raise NoRerunner(f"run {ctx.run['id']} was verified by a PRM, whose calls do not go "
                         "through the LLM client: it cannot be re-executed from the cache")
    verifier = GenerativeVerifier(ctx.client) if kind == "generative" else None
    with Grader() as grader:
        summary = run_math(config, client=ctx.client, verifier=verifier, store=ctx.store,
                           grader=grader)
    return summary.run_id

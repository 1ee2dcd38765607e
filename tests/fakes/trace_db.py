"""Synthetic trace databases written through the real TraceStore (for read-side unit tests).

The contents are chosen by hand so that tests can derive expected summaries by hand: see
`build_demo`. Model-written strings can be replaced (e.g. by an XSS payload).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
from worldplan.worldmodel.llm.generation import CallRecord, Choice, Generation
from worldplan.worldmodel.llm.usage import Usage

XSS = ('<script>window.__xss = 1; document.title = "pwned"</script>'
       '<img src=x onerror="window.__xss=2">')


def call(store: TraceStore, run_id: int, ep_id: int | None, prompt: str, texts: list[str],
         pt: int, ct: int, *, role: str = "proposer", step: int = 0,
         error: str | None = None) -> None:
    gen = None if error else Generation(
        [Choice(t, "stop") for t in texts], Usage(pt, ct), 0.01, 2.0 * 1000 * (pt + ct),
        "demo-model", "http://x", 64)
    store.record_call(CallRecord(role, "chat", "http://x", "demo-model", prompt,
                                 {"n": len(texts), "max_tokens": 64, "temperature": 0.0,
                                  "top_p": 1.0}, gen, error, 0.01, time.time(),
                                 {"step": step}), run_id=run_id, episode_id=ep_id)


@dataclass
class Demo:
    engine: Engine
    path: Path
    runs: list[int] = field(default_factory=list)
    episodes: dict[int, list[int]] = field(default_factory=dict)


def add_run(store: TraceStore, *, strategy: str, budget: int, outcomes: list[bool],
            answer_text: str = "42", completion: str = "The answer is 42."
            ) -> tuple[int, list[int]]:
    """A run of len(outcomes) MATH-like episodes; episode k: level k%3+1, difficulty k%5+1,
    task "p{k}", seed 0, one LLM call of 10 prompt + 5*(k+1) completion tokens."""
    run_id = store.start_run(name=f"{strategy}-{budget}", kind="demo", env="math",
                             strategy=strategy, model="demo-model",
                             config={"budget": budget, "strategy": strategy})
    eps = []
    for k, ok in enumerate(outcomes):
        ep = store.start_episode(run_id, env="math", task_id=f"p{k}", seed=0,
                                 reference="42", strategy=strategy,
                                 info={"level": k % 3 + 1, "subject": "Algebra"})
        call(store, run_id, ep, f"problem {k}", [completion], 10, 5 * (k + 1))
        store.add_step(ep, index=0, observation=f"Problem {k}: what is 6*7?",
                       action=answer_text if ok else "41", reward=1.0 if ok else 0.0,
                       terminated=True,
                       decision={"difficulty": k % 5 + 1, "budget_left": budget - 1,
                                 "strategy": strategy, "why": "bin says so"},
                       info={"world_model": {"score": 1.0 if ok else 0.0}})
        store.add_nodes(ep, [
            {"key": "r", "kind": "proposal", "text": completion, "answer": answer_text,
             "score": 0.9, "chosen": ok, "tokens": 5},
            {"key": "r.1", "parent_key": "r", "kind": "imagined_state",
             "text": "imagined: [bold]done[/bold]", "score": 0.4, "depth": 1, "tokens": 3,
             "info": {"wm_score": 0.5}},
            {"key": "b", "kind": "proposal", "text": "41", "answer": "41", "score": 0.1,
             "chosen": not ok, "tokens": 2}])
        store.finish_episode(ep, reward=1.0 if ok else 0.0, success=ok,
                             answer=answer_text if ok else "41", difficulty=float(k % 5 + 1),
                             difficulty_source="oracle")
        eps.append(ep)
    store.finish_run(run_id)
    return run_id, eps


def build_demo(path: Path, completion: str = "The answer is 42.") -> Demo:
    """Two runs on the same 6 problems: A succeeds on p0,p1,p2; B on p0,p3."""
    engine = make_engine(str(path))
    store = TraceStore(engine)
    demo = Demo(engine, path)
    for strategy, budget, outcomes in (
            ("best-of-n", 4, [True, True, True, False, False, False]),
            ("beam", 8, [True, False, False, True, False, False])):
        run_id, eps = add_run(store, strategy=strategy, budget=budget, outcomes=outcomes,
                              completion=completion)
        demo.runs.append(run_id)
        demo.episodes[run_id] = eps
    return demo


KILLED_SCRIPT = """
import os, signal, sys
from tests.fakes.trace_db import call
from worldplan.traces.engine import make_engine
from worldplan.traces.store import TraceStore
store = TraceStore(make_engine(sys.argv[1]))
run = store.start_run(name="killed", kind="demo", strategy="beam", model="demo-model",
                      config={"budget": 4})
ep = store.start_episode(run, task_id="done-task", seed=1, reference="1")
call(store, run, ep, "q1", ["1"], 7, 3)
store.add_step(ep, index=0, observation="first", action="1", decision={"why": "easy"})
store.finish_episode(ep, success=True, reward=1.0, answer="1")
ep = store.start_episode(run, task_id="cut-task", seed=1, reference="2")
call(store, run, ep, "q2", ["<script>window.__xss=3</script>"], 9, 4)
store.add_nodes(ep, [{"key": "n0", "kind": "proposal", "text": "half-done thought"},
                     {"key": "n1", "parent_key": "n0", "kind": "partial", "text": "deeper"}])
os.kill(os.getpid(), signal.SIGKILL)
"""


def make_killed_db(path: Path) -> Path:
    """A database whose writer was SIGKILLed mid-episode (run and episode left `running`)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", KILLED_SCRIPT, str(path)], cwd=repo,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    return path

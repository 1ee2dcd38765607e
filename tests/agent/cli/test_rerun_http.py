"""`worldplan rerun RUN --from-cache` of a beam-search run recorded against a server over
real HTTP asks the cache for exactly the recorded calls and ends with the same steps (found
by the fault harness, tests/faults): the trace cache used to answer at once, so beam
search's first sample ran to its end before the second was sent, the second took another
seed, and the rerun failed on a request the cache did not hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from tests.fakes.openai_server import OpenAIServer
from tests.faults.models import math_respond, write_problems
from worldplan.agent.cli.app import app


def test_rerun_from_cache_of_a_beam_run_served_over_http(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "p.jsonl", 2)
    db = str(tmp_path / "t.db")
    with OpenAIServer(math_respond).serve(delay_s=0.005) as url:
        res = CliRunner().invoke(app, [
            "math", "--dataset", str(data), "--limit", "2", "--strategy", "beam",
            "--budget", "8", "-p", "n_beams=2", "-p", "width=1", "--max-tokens", "24",
            "--step-max-tokens", "10", "--seed", "3", "--llm-url", url, "--db", db])
    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as c:
        stored = c.execute("select count(*) from llmcall where run_id = 1").fetchone()[0]
    res = CliRunner().invoke(app, ["rerun", "1", "--from-cache", "--db", db])
    # every stored call asked for, in the recorded order; the same steps, answers and calls
    # (the search nodes' own labels follow the order answers arrived, which varies)
    assert f"{stored} calls served, 0 unused" in res.output, res.output
    for differs in ("failed", "steps differ", "LLM calls differ", "reward/status"):
        assert differs not in res.output, res.output

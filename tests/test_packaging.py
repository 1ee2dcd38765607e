"""worldplan installs beside PyPI's `envs` and `traces` distributions, and both sides import.

worldplan's packages live under the one import name `worldplan` (worldplan.envs,
worldplan.traces, ...), so the PyPI projects that own the bare names `envs` and `traces`
install next to it without either shadowing the other. The test builds a real wheel of this
repository (not the editable install) into a new virtual environment with PyPI's `envs` and
`traces`; worldplan's own dependencies come from the project's environment, put on the path
after the new environment's own packages. Needs PyPI (marked `network`).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import envs, traces
import worldplan.envs.math.answer, worldplan.traces.schema, worldplan.agent.cli.main
from envs import env  # PyPI's envs: environment variables
assert hasattr(traces, "TimeSeries"), traces.__file__  # PyPI's traces: time series
print(envs.__file__)
print(traces.__file__)
print(worldplan.traces.schema.__file__)
print(worldplan.envs.math.answer.extract_boxed("so \\\\boxed{42}"))
"""


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`args` run outside the repository: `python -c` puts its working directory first on
    the path, and the repository's top-level folder envs/ would shadow PyPI's `envs`."""
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600,
                         cwd=cwd)
    assert res.returncode == 0, f"{args}: {res.stdout}\n{res.stderr}"
    return res


@pytest.mark.network
@pytest.mark.slow
def test_installs_and_imports_beside_pypi_envs_and_traces(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    py = venv / "bin" / "python"
    pip = (py, "-m", "pip", "install", "-q", "--disable-pip-version-check")
    run(*pip, "envs", "traces", cwd=tmp_path)
    run(*pip, "--no-deps", REPO, cwd=tmp_path)
    site = Path(run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=tmp_path).stdout.strip())
    # a plain path line: appended after `site`, and its own .pth files are not processed, so
    # the project's editable install of worldplan stays out of this environment
    (site / "worldplan-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    lines = run(py, "-c", CHECK, cwd=tmp_path).stdout.split()
    assert lines[0].startswith(str(site / "envs")) and lines[1].startswith(str(site / "traces"))
    assert lines[2].startswith(str(site / "worldplan" / "traces"))  # the wheel, not the repo
    assert lines[3] == "42"
    cli = run(venv / "bin" / "worldplan", "--help", cwd=tmp_path).stdout
    assert "math" in cli and "web" in cli and "calibrate" in cli

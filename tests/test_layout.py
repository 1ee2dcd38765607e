"""The repository's layout holds: imports run one way, one concept per file, one import name.

- The import-linter contracts of pyproject.toml hold on the code as it is, and fail on a copy
  of it with an upward import planted (at module level, and hidden inside a function).
- No module of the four packages is over 300 lines.
- The distribution lists every package folder (setuptools maps `worldplan.X` to the folder
  X/, and a folder missing from the list would be missing from a wheel).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "worldmodel", "envs", "traces")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 300


def lint_imports(root: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), str(config), "--no-cache"],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


def test_import_contracts_hold() -> None:
    res = lint_imports(REPO, REPO / "pyproject.toml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


@pytest.mark.parametrize("plant", [
    "import worldplan.agent.cli.main  # planted\n",
    "def _planted() -> None:\n    from worldplan.traces import store  # noqa: F401\n",
])
def test_a_planted_upward_import_breaks_the_contracts(tmp_path: Path, plant: str) -> None:
    """A copy of the packages under a `worldplan` namespace folder on PYTHONPATH (found
    before the editable install), with envs importing from a layer above it."""
    pkg = tmp_path / "worldplan"
    pkg.mkdir()
    for name in PACKAGES:
        shutil.copytree(REPO / name, pkg / name, ignore=shutil.ignore_patterns("__pycache__"))
    text = (REPO / "pyproject.toml").read_text()
    config = tmp_path / "pyproject.toml"
    config.write_text(text[text.index("[tool.importlinter]"):])  # the same contracts
    assert lint_imports(tmp_path, config).returncode == 0  # the copy is clean
    target = pkg / "envs" / "math" / "answer.py"
    target.write_text(target.read_text() + "\n" + plant)
    res = lint_imports(tmp_path, config)
    assert res.returncode != 0
    assert "worldplan.envs is not allowed to import worldplan." in res.stdout
    assert "worldplan.envs.math.answer ->" in res.stdout


def test_no_module_is_over_300_lines() -> None:
    long = {str(p.relative_to(REPO)): n for name in PACKAGES
            for p in (REPO / name).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these into one concept per file: {long}"


def test_the_distribution_lists_every_package_folder() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"worldplan." + ".".join(p.parent.relative_to(REPO).parts)
               for name in PACKAGES for p in (REPO / name).rglob("__init__.py")}
    assert set(setuptools["packages"]) == folders
    assert setuptools["package-dir"] == {f"worldplan.{n}": n for n in PACKAGES}

